//! GlusterFS elastic hashing, bit-compatible with the C client's DHT
//! (distribute) translator, so that files land where GlusterFS puts them.
//!
//! # The hash
//!
//! [`dm_hash`] is GlusterFS's Davies-Meyer hash (`gf_dm_hashfn`,
//! `libglusterfs/src/hashfn.c`): a TEA-like round function in a
//! Davies-Meyer construction over 16-byte blocks of little-endian words,
//! the tail folded into a length-derived padding word. DHT does not hash a
//! name as is: [`name_hash`] (`dht_hash_compute`,
//! `xlators/cluster/dht/src/dht-hashfn.c`) first strips rsync temp-file
//! decoration with `cluster.rsync-hash-regex`, by default
//! `^\.(.+)\.[^.]+$` (so `.name.XXXXXX` hashes like `name`), after an
//! optional `cluster.extra-hash-regex`. The default regex is implemented
//! by hand, including glibc's locale behaviour; custom regexes are not
//! interpreted (plug them in through [`NameMunger`]).
//!
//! # Layouts
//!
//! Each directory carries, on every brick (subvolume), the xattr
//! [`DHT_LAYOUT_XATTR`] = `trusted.glusterfs.dht`: 16 bytes, four
//! big-endian u32 words `commit_hash, hash_type, start, stop`
//! ([`DiskLayout`]; `dht_disk_layout_extract` / `dht_disk_layout_merge`
//! in `dht-layout.c`). A file belongs to the subvolume whose inclusive
//! range `start..=stop` holds the name's hash ([`Layout::search`]). The
//! ranges of a healthy directory tile `0..=u32::MAX`;
//! [`Layout::anomalies`] and [`Layout::needs_heal`] detect holes,
//! overlaps and missing directories as `dht_layout_anomalies` /
//! `dht_layout_normalize` do, and [`Layout::new_directory`] computes the
//! layout DHT's self-heal gives a new directory
//! (`dht_selfheal_layout_new_directory` in `dht-selfheal.c`): subvolumes
//! sorted by name, the 32-bit space cut in equal (or brick-size weighted)
//! pieces, handed out starting at the subvolume picked by the hash of the
//! directory's path.
//!
//! # Limits
//!
//! * Custom `rsync-hash-regex`/`extra-hash-regex` patterns are not
//!   compiled ([`HashOptions::from_volume_options`] rejects them); supply
//!   an equivalent [`NameMunger`].
//! * The default regex's result depends on the C client's locale for
//!   names that are not valid UTF-8 ([`RegexLocale`]).
//! * [`dm_hash`] matches C clients built where `char` is signed (x86_64).
//! * Rebalance's fix-layout (`dht_fix_layout_of_directory`, with its
//!   overlap maximisation) is not implemented, only new-directory layouts.
//!
//! Checked against GlusterFS 10.3: hash vectors from `libglusterfs.so.0`
//! (`tests/data/`), and placement of real files by the C FUSE client
//! (`tests/real_volume.rs`).

mod dm;
mod layout;
mod name;

pub use dm::dm_hash;
pub use layout::{
    brick_chunks, Anomalies, DiskLayout, HashType, Layout, LayoutEntry, NewDirParams, NewDirSubvol,
    SubvolLookup, SubvolState, COMMIT_HASH_INVALID, DHT_LAYOUT_XATTR,
};
pub use name::{
    munge_name, name_hash, HashOptions, Munger, NameMunger, RegexLocale, DEFAULT_RSYNC_HASH_REGEX,
};

/// Errors of this crate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A layout xattr value that is not 16 bytes long.
    #[error("DHT layout xattr must be 16 bytes, got {0}")]
    BadLength(usize),
    /// A layout xattr with a hash type other than 0 (DM) or 1 (DM user).
    #[error("unknown DHT layout hash type {0}")]
    UnknownHashType(u32),
    /// A hash regex this crate cannot interpret.
    #[error(
        "unsupported hash regex {0:?}: only the default rsync pattern and \"none\" are built in"
    )]
    UnsupportedRegex(String),
}
