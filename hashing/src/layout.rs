//! DHT directory layouts: the on-disk `trusted.glusterfs.dht` xattr, the
//! per-directory layout across subvolumes, lookup by hash, anomaly
//! detection and fresh-layout construction.
//!
//! Sources (GlusterFS, `xlators/cluster/dht/src/`): `dht-common.h`
//! (`dht_layout_t`, `dht_layout_entry_t`, `DHT_HASH_TYPE_*`,
//! `DHT_LAYOUT_HASH_INVALID`), `dht-layout.c` (`dht_disk_layout_extract`,
//! `dht_disk_layout_merge`, `dht_layout_merge`, `dht_layout_search`,
//! `dht_layout_sort`, `dht_layout_anomalies`, `dht_layout_missing_dirs`,
//! `dht_layout_normalize`), `dht-selfheal.c` (`dht_get_layout_count`,
//! `dht_selfheal_layout_alloc_start`, `dht_selfheal_layout_new_directory`,
//! `dht_selfheal_dir_xattr`) and `dht-diskusage.c` (brick size chunks).

use crate::name::{name_hash, HashOptions};
use crate::Error;

/// Name of the xattr that holds a directory's hash range on each brick
/// (the default of the DHT option `xattr-name`).
pub const DHT_LAYOUT_XATTR: &str = "trusted.glusterfs.dht";

/// Commit hash value meaning "not known to be in balance"
/// (`DHT_LAYOUT_HASH_INVALID`); written when `lookup-optimize` is off and
/// when self-heal rewrites a layout that had holes or overlaps.
pub const COMMIT_HASH_INVALID: u32 = 1;

// Linux errno values as they appear in `dht_layout_entry_t.err`.
const ENOENT: i32 = 2;
const EINVAL: i32 = 22;
const ENOSPC: i32 = 28;
const ENOTCONN: i32 = 107;
const ESTALE: i32 = 116;

/// Hash type field of a layout (`dht_hashfn_type_t`). Both use
/// [`crate::dm_hash`]; `DmUser` marks a layout set by the user, which
/// fix-layout leaves alone.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum HashType {
    /// `DHT_HASH_TYPE_DM` (0).
    #[default]
    Dm,
    /// `DHT_HASH_TYPE_DM_USER` (1).
    DmUser,
}

impl HashType {
    /// The on-disk value.
    pub fn as_u32(self) -> u32 {
        match self {
            HashType::Dm => 0,
            HashType::DmUser => 1,
        }
    }

    /// Decode an on-disk value.
    pub fn from_u32(v: u32) -> Result<Self, Error> {
        match v {
            0 => Ok(HashType::Dm),
            1 => Ok(HashType::DmUser),
            other => Err(Error::UnknownHashType(other)),
        }
    }
}

/// The value of one brick's `trusted.glusterfs.dht` xattr on a directory.
///
/// On disk it is 16 bytes: four big-endian 32-bit words `commit_hash`,
/// `hash_type`, `start`, `stop` (`dht_disk_layout_extract` writes them
/// with `htobe32`, `dht_disk_layout_merge` reads them with `be32toh`;
/// `dht_selfheal_dir_xattr_persubvol` stores `4 * 4` bytes). The range
/// `start..=stop` is inclusive.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct DiskLayout {
    /// Volume commit hash the directory was last balanced for.
    pub commit_hash: u32,
    /// Hash type.
    pub hash_type: HashType,
    /// First hash of the range.
    pub start: u32,
    /// Last hash of the range (inclusive).
    pub stop: u32,
}

impl DiskLayout {
    /// Size of the xattr value.
    pub const LEN: usize = 16;

    /// Parse an xattr value. Fails on a length other than 16 bytes or an
    /// unknown hash type (where the C client logs and treats the brick's
    /// layout as absent).
    pub fn parse(raw: &[u8]) -> Result<Self, Error> {
        let raw: &[u8; Self::LEN] = raw.try_into().map_err(|_| Error::BadLength(raw.len()))?;
        let word = |i: usize| u32::from_be_bytes([raw[i], raw[i + 1], raw[i + 2], raw[i + 3]]);
        Ok(DiskLayout {
            commit_hash: word(0),
            hash_type: HashType::from_u32(word(4))?,
            start: word(8),
            stop: word(12),
        })
    }

    /// Serialize to the 16-byte xattr value.
    pub fn to_bytes(&self) -> [u8; Self::LEN] {
        let mut out = [0u8; Self::LEN];
        let words = [
            self.commit_hash,
            self.hash_type.as_u32(),
            self.start,
            self.stop,
        ];
        for (dst, w) in out.chunks_exact_mut(4).zip(words) {
            dst.copy_from_slice(&w.to_be_bytes());
        }
        out
    }
}

/// State of a directory on one subvolume (`dht_layout_entry_t.err`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum SubvolState {
    /// The directory exists (err 0). Its range may be empty (0..=0) if it
    /// carries no layout xattr: such a subvolume does not take part.
    #[default]
    Ok,
    /// The directory exists but needs a range (err -1): its layout xattr
    /// could not be parsed, or a new range is to be assigned.
    NeedsLayout,
    /// The directory does not exist there (ENOENT).
    Missing,
    /// Stale handle (ESTALE); counted as missing.
    Stale,
    /// The subvolume is not connected (ENOTCONN).
    Down,
    /// The subvolume is out of space (ENOSPC).
    NoSpace,
    /// The subvolume is being removed (remove-brick in progress); DHT marks
    /// it with EINVAL and gives it no range.
    Decommissioned,
    /// Any other lookup error, by errno.
    Failed(i32),
}

impl SubvolState {
    /// State for a lookup that failed with `errno` (0 = no error,
    /// -1 = needs a layout), mirroring how `dht_layout_merge` records it.
    pub fn from_errno(errno: i32) -> Self {
        match errno {
            0 => SubvolState::Ok,
            -1 => SubvolState::NeedsLayout,
            ENOENT => SubvolState::Missing,
            ESTALE => SubvolState::Stale,
            ENOTCONN => SubvolState::Down,
            ENOSPC => SubvolState::NoSpace,
            other => SubvolState::Failed(other),
        }
    }

    /// The C `err` value.
    fn errno(self) -> i32 {
        match self {
            SubvolState::Ok => 0,
            SubvolState::NeedsLayout => -1,
            SubvolState::Missing => ENOENT,
            SubvolState::Stale => ESTALE,
            SubvolState::Down => ENOTCONN,
            SubvolState::NoSpace => ENOSPC,
            SubvolState::Decommissioned => EINVAL,
            SubvolState::Failed(e) => e,
        }
    }
}

/// Result of looking a directory up on one subvolume.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SubvolLookup<'a> {
    /// The lookup succeeded; `xattr` is the `trusted.glusterfs.dht` value
    /// if the directory had one.
    Found {
        /// Raw xattr value.
        xattr: Option<&'a [u8]>,
    },
    /// The lookup failed with this errno.
    Failed {
        /// Linux errno (ENOENT, ENOTCONN, ...).
        errno: i32,
    },
}

/// One subvolume's part of a directory layout.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct LayoutEntry {
    /// Directory state on the subvolume.
    pub state: SubvolState,
    /// First hash of the range.
    pub start: u32,
    /// Last hash of the range (inclusive).
    pub stop: u32,
    /// Commit hash stored with the range.
    pub commit_hash: u32,
}

impl LayoutEntry {
    /// Whether this entry takes part in the hash space (`err == 0` and a
    /// non-degenerate range, as `dht_layout_anomalies` decides).
    pub fn participates(&self) -> bool {
        self.state == SubvolState::Ok && self.start != self.stop
    }
}

/// Counts from [`Layout::anomalies`] (`dht_layout_anomalies`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Anomalies {
    /// Gaps in the hash space.
    pub holes: u32,
    /// Ranges that overlap the previous one.
    pub overlaps: u32,
    /// Subvolumes where the directory is missing or has no valid layout.
    pub missing: u32,
    /// Subvolumes that are down.
    pub down: u32,
    /// Subvolumes with other errors.
    pub misc: u32,
    /// Subvolumes out of space.
    pub no_space: u32,
}

/// A directory's layout over the subvolumes of a distribute volume.
///
/// Entry `i` belongs to subvolume `i` in the caller's order (normally the
/// order of the DHT xlator's children in the volfile).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    hash_type: HashType,
    commit_hash: u32,
    entries: Vec<LayoutEntry>,
    /// Entry indices in the order `dht_layout_sort` leaves them.
    sorted: Vec<usize>,
}

impl Layout {
    /// Build a layout from entries, indexed by subvolume. The hash type is
    /// [`HashType::Dm`] and the layout commit hash is derived from the
    /// entries as in [`Layout::from_lookups`].
    pub fn from_entries(entries: Vec<LayoutEntry>) -> Self {
        let mut commit_hash = 0;
        for e in entries.iter().filter(|e| e.state == SubvolState::Ok) {
            merge_commit_hash(&mut commit_hash, e.commit_hash);
        }
        Self::with_parts(HashType::Dm, commit_hash, entries)
    }

    /// Build a layout from per-subvolume lookup results, as
    /// `dht_layout_merge` does: a failed lookup records its errno; a
    /// directory without the xattr gets an empty range; an unparseable
    /// xattr marks the entry [`SubvolState::NeedsLayout`]. The layout
    /// commit hash is the common one of the parsed entries, or
    /// [`COMMIT_HASH_INVALID`] if they disagree. A `DmUser` entry makes
    /// the layout `DmUser`.
    pub fn from_lookups<'a, I>(lookups: I) -> Self
    where
        I: IntoIterator<Item = SubvolLookup<'a>>,
    {
        let mut hash_type = HashType::Dm;
        let mut commit_hash = 0;
        let entries = lookups
            .into_iter()
            .map(|l| match l {
                SubvolLookup::Failed { errno } => LayoutEntry {
                    state: SubvolState::from_errno(errno),
                    ..LayoutEntry::default()
                },
                SubvolLookup::Found { xattr: None } => LayoutEntry::default(),
                SubvolLookup::Found { xattr: Some(raw) } => match DiskLayout::parse(raw) {
                    Ok(d) => {
                        if d.hash_type == HashType::DmUser {
                            hash_type = HashType::DmUser;
                        }
                        merge_commit_hash(&mut commit_hash, d.commit_hash);
                        LayoutEntry {
                            state: SubvolState::Ok,
                            start: d.start,
                            stop: d.stop,
                            commit_hash: d.commit_hash,
                        }
                    }
                    Err(_) => LayoutEntry {
                        state: SubvolState::NeedsLayout,
                        ..LayoutEntry::default()
                    },
                },
            })
            .collect();
        Self::with_parts(hash_type, commit_hash, entries)
    }

    fn with_parts(hash_type: HashType, commit_hash: u32, entries: Vec<LayoutEntry>) -> Self {
        let mut sorted: Vec<usize> = (0..entries.len()).collect();
        // `dht_layout_sort`: ascending start; its comparator puts empty
        // (0..=0) entries first, which ordering by (start, stop) matches.
        sorted.sort_by_key(|&i| (entries[i].start, entries[i].stop, i));
        Layout {
            hash_type,
            commit_hash,
            entries,
            sorted,
        }
    }

    /// Per-subvolume entries.
    pub fn entries(&self) -> &[LayoutEntry] {
        &self.entries
    }

    /// Layout hash type.
    pub fn hash_type(&self) -> HashType {
        self.hash_type
    }

    /// Layout commit hash (0 if no entry had one).
    pub fn commit_hash(&self) -> u32 {
        self.commit_hash
    }

    /// The subvolume whose range holds `hash` (`dht_layout_search`): the
    /// first entry, in ascending range order, with `start <= hash <=
    /// stop`. As in the C client, entries are not filtered by state, so
    /// hash 0 can fall on an empty 0..=0 entry of a subvolume without a
    /// range when one exists.
    pub fn search(&self, hash: u32) -> Option<usize> {
        self.sorted.iter().copied().find(|&i| {
            self.entries
                .get(i)
                .is_some_and(|e| e.start <= hash && hash <= e.stop)
        })
    }

    /// The subvolume a file `name` in this directory hashes to.
    pub fn subvol_for_name(&self, name: &[u8], opts: &HashOptions) -> Option<usize> {
        self.search(name_hash(name, opts))
    }

    /// Holes, overlaps and per-state counts (`dht_layout_anomalies`, run
    /// on the layout sorted as by `dht_layout_normalize`).
    pub fn anomalies(&self) -> Anomalies {
        let mut a = Anomalies::default();
        let first_start = self
            .sorted
            .first()
            .and_then(|&i| self.entries.get(i))
            .map_or(0, |e| e.start);
        let last_stop = first_start.wrapping_sub(1);
        let mut prev_stop = last_stop;
        let mut virgin = true;
        for e in self.sorted.iter().filter_map(|&i| self.entries.get(i)) {
            // The switch of dht_layout_anomalies, on the C `err` value.
            match e.state.errno() {
                -1 | ENOENT | ESTALE => {
                    a.missing += 1;
                    continue;
                }
                ENOTCONN => {
                    a.down += 1;
                    continue;
                }
                ENOSPC => {
                    a.no_space += 1;
                    continue;
                }
                0 => {
                    // err 0 with an empty range: a non-participating
                    // subvolume (subvols-per-directory); not checked.
                    if e.start == e.stop {
                        continue;
                    }
                }
                _ => {
                    a.misc += 1;
                    continue;
                }
            }
            virgin = false;
            count_gap(&mut a, &mut prev_stop, e);
        }
        if last_stop != prev_stop || virgin {
            a.holes += 1;
        }
        a
    }

    /// Number of subvolumes where the directory itself is missing
    /// (`dht_layout_missing_dirs`).
    pub fn missing_dirs(&self) -> u32 {
        let n = self
            .entries
            .iter()
            .filter(|e| {
                let err = e.state.errno();
                err == ENOENT || (err == -1 && e.start == 0 && e.stop == 0)
            })
            .count();
        u32::try_from(n).unwrap_or(u32::MAX)
    }

    /// Whether the layout must be healed: `dht_layout_normalize` returns
    /// non-zero (holes or overlaps, or the directory missing somewhere).
    pub fn needs_heal(&self) -> bool {
        let a = self.anomalies();
        a.holes > 0 || a.overlaps > 0 || self.missing_dirs() > 0
    }

    /// The xattr value self-heal writes for subvolume `subvol`: its range
    /// for an [`SubvolState::Ok`] entry (all zeros for a subvolume without
    /// a range), `None` when the subvolume cannot be written.
    pub fn disk_layout(&self, subvol: usize) -> Option<DiskLayout> {
        let e = self.entries.get(subvol)?;
        (e.state == SubvolState::Ok).then_some(DiskLayout {
            commit_hash: e.commit_hash,
            hash_type: if e.start == e.stop {
                HashType::Dm
            } else {
                self.hash_type
            },
            start: e.start,
            stop: e.stop,
        })
    }

    /// A fresh layout for a directory, the way DHT's directory self-heal
    /// assigns one to a new directory (`dht_selfheal_new_directory` →
    /// `dht_layout_sort_volname` + `dht_selfheal_layout_new_directory`).
    ///
    /// * Subvolumes take part if their state is `Ok`, `NeedsLayout` or
    ///   `Missing` (out-of-space ones only if no other one can), at most
    ///   `spread_count` of them (`dht_get_layout_count`).
    /// * Subvolumes are ordered by name (`strcmp`, so `x-client-10` comes
    ///   before `x-client-2`), and ranges are handed out in that order
    ///   starting at position `name_hash(start_key) % subvols.len()`
    ///   (`dht_selfheal_layout_alloc_start`), wrapping around.
    /// * The 32-bit space is split in `0xffffffff / n` chunks (as a C
    ///   double, truncated per range); with weighting every range is
    ///   `0xffffffff / total_chunks * chunks` instead. The last range
    ///   assigned always ends at `0xffffffff`.
    ///
    /// Assigned entries get state `Ok` and `params.commit_hash`;
    /// participating-capable entries left out by the spread count get
    /// `Ok` with an empty range and commit hash 0 (the zeroed xattr
    /// `dht_selfheal_dir_xattr` writes); other entries keep their state.
    pub fn new_directory(
        subvols: &[NewDirSubvol<'_>],
        params: &NewDirParams<'_>,
        opts: &HashOptions,
    ) -> Self {
        let cnt = subvols.len();
        let mut err: Vec<i32> = subvols.iter().map(|s| s.state.errno()).collect();

        // dht_get_layout_count (new_layout = 1).
        let mut count: u32 = 0;
        for e in err.iter_mut() {
            if *e == -1 || *e == 0 || *e == ENOENT {
                count += 1;
                if *e == 0 {
                    *e = -1;
                }
            }
        }
        if count == 0 {
            for e in err.iter_mut().filter(|e| **e == ENOSPC) {
                *e = -1;
                count += 1;
            }
        }
        let bricks_to_use = if params.spread_count != 0 && params.spread_count <= count {
            params.spread_count
        } else {
            count.max(1)
        };
        let eligible = |i: usize| matches!(err.get(i), Some(&e) if e == -1 || e == ENOENT);

        // dht_layout_sort_volname.
        let mut by_name: Vec<usize> = (0..cnt).collect();
        by_name.sort_by(|&a, &b| subvols[a].name.as_bytes().cmp(subvols[b].name.as_bytes()));

        let chunks_of = |i: usize| subvols.get(i).map_or(0, |s| s.chunks);
        let mut weighted = params.weighted;
        let mut total: u64 = 0;
        let mut used = 0u32;
        for &i in by_name.iter().filter(|&&i| eligible(i)) {
            let c = chunks_of(i);
            if c == 0 {
                weighted = false;
                break;
            }
            total += u64::from(c);
            used += 1;
            if used >= bricks_to_use {
                break;
            }
        }
        let chunk = if weighted && total != 0 {
            f64::from(u32::MAX) / total as f64
        } else {
            weighted = false;
            f64::from(u32::MAX) / f64::from(bricks_to_use)
        };

        let start_pos = if cnt == 0 {
            0
        } else {
            (name_hash(params.start_key, opts) as usize) % cnt
        };

        let mut entries: Vec<LayoutEntry> = subvols
            .iter()
            .zip(&err)
            .map(|(s, &e)| LayoutEntry {
                state: if e == -1 || e == ENOENT {
                    SubvolState::Ok
                } else {
                    s.state
                },
                ..LayoutEntry::default()
            })
            .collect();

        let mut start: u32 = 0;
        let mut used = 0u32;
        for real in 0..cnt {
            let Some(&i) = by_name.get((real + start_pos) % cnt) else {
                continue;
            };
            if !eligible(i) {
                continue;
            }
            let size = if weighted {
                let c = chunks_of(i);
                if c == 0 {
                    continue;
                }
                c
            } else {
                1
            };
            // C: `range_size = chunk * curr_size;` double -> uint32_t.
            let range = (chunk * f64::from(size)) as u32;
            let Some(e) = entries.get_mut(i) else {
                continue;
            };
            e.start = start;
            e.stop = start.wrapping_add(range).wrapping_sub(1);
            e.commit_hash = params.commit_hash;
            used += 1;
            if used >= bricks_to_use {
                e.stop = u32::MAX;
                break;
            }
            start = start.wrapping_add(range);
        }

        Self::with_parts(HashType::Dm, params.commit_hash, entries)
    }
}

fn merge_commit_hash(layout: &mut u32, entry: u32) {
    if *layout == 0 {
        *layout = entry;
    } else if *layout != entry {
        *layout = COMMIT_HASH_INVALID;
    }
}

fn count_gap(a: &mut Anomalies, prev_stop: &mut u32, e: &LayoutEntry) {
    let next = prev_stop.wrapping_add(1);
    if next < e.start {
        a.holes += 1;
    }
    if next > e.start {
        a.overlaps += 1;
    }
    *prev_stop = e.stop;
}

/// One subvolume as input to [`Layout::new_directory`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NewDirSubvol<'a> {
    /// The subvolume's xlator name (e.g. `vol-client-0`,
    /// `vol-replicate-1`); decides the order ranges are given out in.
    pub name: &'a str,
    /// Directory state there (normally `Ok` or `Missing` for a directory
    /// being created).
    pub state: SubvolState,
    /// Brick size in 1 MiB chunks for weighting (see [`brick_chunks`]);
    /// 0 = unknown, which disables weighting as in the C client.
    pub chunks: u32,
}

/// Parameters of [`Layout::new_directory`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NewDirParams<'a> {
    /// What picks the first subvolume: the directory's path (e.g. `/` or
    /// `/a/b`), or its GFID in canonical text form when
    /// `randomize-hash-range-by-gfid` is on. Hashed with [`name_hash`].
    pub start_key: &'a [u8],
    /// Commit hash to store: the volume commit hash when `lookup-optimize`
    /// is on (the default) for mkdir, else [`COMMIT_HASH_INVALID`].
    pub commit_hash: u32,
    /// `subvols-per-directory`; 0 = all subvolumes.
    pub spread_count: u32,
    /// `weighted-rebalance` (on by default): weight ranges by
    /// [`NewDirSubvol::chunks`].
    pub weighted: bool,
}

impl<'a> NewDirParams<'a> {
    /// Defaults for a directory at `path` with the given commit hash: all
    /// subvolumes, weighting on.
    pub fn new(path: &'a [u8], commit_hash: u32) -> Self {
        NewDirParams {
            start_key: path,
            commit_hash,
            spread_count: 0,
            weighted: true,
        }
    }
}

/// Brick size in 1 MiB chunks as DHT computes it from a brick's statfs
/// (`dht_du_info_cbk` in `dht-diskusage.c`): `ceil(f_blocks / (1 MiB /
/// f_bsize))`, truncated to 32 bits. 0 when it cannot be computed.
pub fn brick_chunks(f_blocks: u64, f_bsize: u64) -> u32 {
    if f_blocks == 0 || f_bsize == 0 {
        return 0;
    }
    // `uint32_t bpc = (1 << 20) / statvfs->f_bsize;`
    let bpc = (1u64 << 20) / f_bsize;
    if bpc == 0 {
        return 0;
    }
    (f_blocks.saturating_add(bpc - 1) / bpc) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(start: u32, stop: u32) -> LayoutEntry {
        LayoutEntry {
            state: SubvolState::Ok,
            start,
            stop,
            commit_hash: 0,
        }
    }

    #[test]
    fn disk_layout_bytes() {
        let raw = [
            0, 0, 0, 1, 0, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        ];
        let d = DiskLayout::parse(&raw).unwrap();
        assert_eq!(
            d,
            DiskLayout {
                commit_hash: 1,
                hash_type: HashType::Dm,
                start: 0x7fff_ffff,
                stop: 0xffff_ffff
            }
        );
        assert_eq!(d.to_bytes(), raw);
        assert_eq!(DiskLayout::parse(&raw[..15]), Err(Error::BadLength(15)));
        let mut bad = raw;
        bad[7] = 2;
        assert_eq!(DiskLayout::parse(&bad), Err(Error::UnknownHashType(2)));
    }

    #[test]
    fn anomalies_of_simple_layouts() {
        let good = Layout::from_entries(vec![ok(0x8000_0000, u32::MAX), ok(0, 0x7fff_ffff)]);
        assert_eq!(good.anomalies(), Anomalies::default());
        assert!(!good.needs_heal());
        assert_eq!(good.search(0), Some(1));
        assert_eq!(good.search(0x8000_0000), Some(0));

        let hole = Layout::from_entries(vec![ok(0x8000_0001, u32::MAX), ok(0, 0x7fff_ffff)]);
        assert_eq!(hole.anomalies().holes, 1);
        assert_eq!(hole.search(0x8000_0000), None);

        let overlap = Layout::from_entries(vec![ok(0x7000_0000, u32::MAX), ok(0, 0x7fff_ffff)]);
        assert_eq!(overlap.anomalies().overlaps, 1);

        let end_hole = Layout::from_entries(vec![ok(0, 0x7fff_ffff), ok(0x8000_0000, 0xffff_fff0)]);
        assert_eq!(end_hole.anomalies().holes, 1);

        let virgin = Layout::from_entries(vec![LayoutEntry::default(), LayoutEntry::default()]);
        assert_eq!(virgin.anomalies().holes, 1);
        assert!(virgin.needs_heal());

        let missing = Layout::from_lookups([
            SubvolLookup::Failed { errno: ENOENT },
            SubvolLookup::Found {
                xattr: Some(
                    &DiskLayout {
                        start: 0,
                        stop: u32::MAX,
                        ..Default::default()
                    }
                    .to_bytes(),
                ),
            },
        ]);
        let a = missing.anomalies();
        assert_eq!((a.holes, a.overlaps, a.missing), (0, 0, 1));
        assert_eq!(missing.missing_dirs(), 1);
        assert!(missing.needs_heal());
    }

    #[test]
    fn merge_commit_hashes() {
        let x = |c: u32, s: u32, e: u32| {
            DiskLayout {
                commit_hash: c,
                hash_type: HashType::Dm,
                start: s,
                stop: e,
            }
            .to_bytes()
        };
        let (a, b) = (x(7, 0, 9), x(7, 10, u32::MAX));
        let l = Layout::from_lookups([
            SubvolLookup::Found { xattr: Some(&a) },
            SubvolLookup::Found { xattr: Some(&b) },
        ]);
        assert_eq!(l.commit_hash(), 7);
        let c = x(8, 10, u32::MAX);
        let l = Layout::from_lookups([
            SubvolLookup::Found { xattr: Some(&a) },
            SubvolLookup::Found { xattr: Some(&c) },
        ]);
        assert_eq!(l.commit_hash(), COMMIT_HASH_INVALID);
        let l = Layout::from_lookups([SubvolLookup::Found {
            xattr: Some(&[1, 2, 3]),
        }]);
        assert_eq!(l.entries()[0].state, SubvolState::NeedsLayout);
        assert_eq!(l.anomalies().missing, 1);
    }

    fn subvols<'a>(names: &[&'a str], chunks: &[u32]) -> Vec<NewDirSubvol<'a>> {
        names
            .iter()
            .zip(chunks)
            .map(|(n, c)| NewDirSubvol {
                name: n,
                state: SubvolState::Missing,
                chunks: *c,
            })
            .collect()
    }

    #[test]
    fn new_directory_equal_split() {
        let opts = HashOptions::default();
        let names = ["v-client-0", "v-client-1", "v-client-2"];
        let sv = subvols(&names, &[0, 0, 0]);
        let l = Layout::new_directory(&sv, &NewDirParams::new(b"/d", 1), &opts);
        let start_pos = (name_hash(b"/d", &opts) % 3) as usize;
        // 0xffffffff / 3.0 = 0x55555555 exactly.
        let first = &l.entries()[start_pos];
        assert_eq!((first.start, first.stop), (0, 0x5555_5554));
        let last = &l.entries()[(start_pos + 2) % 3];
        assert_eq!((last.start, last.stop), (0xaaaa_aaaa, u32::MAX));
        assert!(!l.needs_heal());
        assert!(l.entries().iter().all(|e| e.commit_hash == 1));
    }

    #[test]
    fn new_directory_sorts_by_name_and_weights() {
        let opts = HashOptions::default();
        // Names sort as client-1, client-10, client-2.
        let names = ["v-client-2", "v-client-10", "v-client-1"];
        let sv = subvols(&names, &[100, 300, 100]);
        let mut p = NewDirParams::new(b"/", 5);
        p.weighted = true;
        let l = Layout::new_directory(&sv, &p, &opts);
        let sorted = [2usize, 1, 0];
        let start_pos = (name_hash(b"/", &opts) % 3) as usize;
        let chunk = f64::from(u32::MAX) / 500.0;
        let mut start = 0u32;
        for k in 0..3 {
            let i = sorted[(start_pos + k) % 3];
            let size = (chunk * f64::from(sv[i].chunks)) as u32;
            let e = l.entries()[i];
            assert_eq!(e.start, start);
            let stop = if k == 2 { u32::MAX } else { start + size - 1 };
            assert_eq!(e.stop, stop);
            start += size;
        }
        assert!(!l.needs_heal());

        // A zero (unknown) size disables weighting.
        let sv = subvols(&names, &[100, 0, 100]);
        let l2 = Layout::new_directory(&sv, &p, &opts);
        let eq = Layout::new_directory(&subvols(&names, &[0, 0, 0]), &p, &opts);
        assert_eq!(l2, eq);
    }

    #[test]
    fn new_directory_skips_down_and_honours_spread() {
        let opts = HashOptions::default();
        let mut sv = subvols(&["a", "b", "c", "d"], &[0; 4]);
        sv[1].state = SubvolState::Down;
        let l = Layout::new_directory(&sv, &NewDirParams::new(b"/x", 1), &opts);
        assert_eq!(l.entries()[1].state, SubvolState::Down);
        assert_eq!((l.entries()[1].start, l.entries()[1].stop), (0, 0));
        let a = l.anomalies();
        assert_eq!((a.holes, a.overlaps, a.down), (0, 0, 1));
        assert_eq!(l.disk_layout(1), None);

        let sv = subvols(&["a", "b", "c", "d"], &[0; 4]);
        let mut p = NewDirParams::new(b"/x", 1);
        p.spread_count = 2;
        let l = Layout::new_directory(&sv, &p, &opts);
        assert_eq!(l.entries().iter().filter(|e| e.participates()).count(), 2);
        let a = l.anomalies();
        assert_eq!((a.holes, a.overlaps), (0, 0));
        let zero = l.entries().iter().position(|e| !e.participates()).unwrap();
        assert_eq!(l.disk_layout(zero).unwrap().to_bytes(), [0u8; 16]);
    }

    #[test]
    fn chunks_from_statfs() {
        assert_eq!(brick_chunks(0, 4096), 0);
        assert_eq!(brick_chunks(256, 4096), 1);
        assert_eq!(brick_chunks(257, 4096), 2);
        assert_eq!(brick_chunks(1 << 30, 4096), 1 << 22);
        assert_eq!(brick_chunks(5, 2 << 20), 0);
    }
}
