//! Self-heal for GlusterFS replicate volumes: what glustershd does, in gluster-rs.
//!
//! After a brick was down, slow or replaced, its copies lag behind; AFR recorded that in the
//! `trusted.afr.*` markers of the other copies, and the bricks' index translator listed those
//! inodes in its xattrop index. This crate brings every copy back to the good one, talking to each
//! brick of a replica set directly through the protocol (no access to brick directories), and
//! agrees with GlusterFS's own markers, locks and tools:
//!
//! - **finding work** ([`sweep`]): the index translator's virtual directories (`xattrop`, `dirty`,
//!   `entry-changes`) as glustershd reads them (xlators/cluster/afr/src/afr-self-heald.c), or a
//!   full crawl of the tree on request (a replaced, empty brick);
//! - **healing one inode** ([`heal_inode`]): the same locks AFR takes (inodelk in the replicate
//!   translator's domain and in its `:self-heal` domain, entrylk for directories), sources and
//!   sinks from the markers exactly as `afr_selfheal_find_direction` decides them ([`markers`],
//!   [`policy`]), then data (only differing blocks: [`plan`]), metadata (mode, owner, times,
//!   xattrs) and entries (create, delete, fix GFIDs: [`entries`]), then the markers are cleared
//!   with the same xattrops, so the index entries vanish and `gluster volume heal VOL info` reports
//!   nothing;
//! - **split-brain** ([`splitbrain`]): reported, and resolved on request by the policies of
//!   `gluster volume heal VOL split-brain` (bigger-file, latest-mtime, source-brick);
//! - **reporting** ([`info`]): `heal info`, `info split-brain`, statistics, in GlusterFS's format;
//! - **running** ([`daemon`], [`cli`]): a long-lived worker that wakes when a brick comes back and
//!   periodically, and one-shot CLI commands.
//!
//! The pure decisions ([`markers`], [`policy`], [`plan`], [`entries`]) are separate from the I/O
//! and tested on their own.
//!
//! # Client-side heal
//! A client heals what its lookups find in need (AFR's `afr_lookup_entry_heal`,
//! `afr_lookup_metadata_heal_check`, `afr_throttled_selfheal`): the replicate translator reports
//! it through [`afr::HealTrigger`], and [`ClientHealer`] — one per replica set, over the client's
//! own brick connections — runs [`heal_inode`] in the background: at most
//! `background-self-heal-count` at once, `heal-wait-queue-length` waiting, one per GFID, never
//! blocking the lookup ([`ClientHealOptions`]). The graph crate installs it on every replicate
//! translator it builds:
//!
//! ```ignore
//! let opts = heal::ClientHealOptions::from_spec(&replicate_node)?;
//! let rs = heal::ReplicaSet {
//!     name: replicate_node.name.clone(),
//!     bricks: brick_clients.into_iter().map(heal::Brick::from_client).collect(),
//!     pending_keys: pending_keys.clone(),
//!     opts: heal::HealOptions::from_spec(&replicate_node),
//! };
//! afr_options.heal_trigger = Some(Arc::new(heal::ClientHealer::new(rs, opts)));
//! ```
//!
//! [`heal_inode`] takes AFR's locks itself, so it is safe next to the replicate translator's own
//! transactions and next to any self-heal daemon (a heal already running elsewhere makes it
//! return [`HealError::InProgress`]); a split-brain comes back as [`HealStatus::SplitBrain`], and
//! reads of such a file fail with EIO as they do without it.

pub mod cli;
mod client_heal;
pub mod daemon;
mod data;
pub mod entries;
mod entry;
mod heal;
pub mod index;
pub mod info;
mod inspect;
mod locks;
pub mod markers;
mod metadata;
pub mod plan;
pub mod policy;
mod replica;
pub mod splitbrain;
pub mod stats;
pub mod sweep;
pub mod volume;

use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use fop::{Caller, FopError, Gfid};

pub use cli::{run_daemon, run_heal, HealArgs, HealDaemonArgs};
pub use client_heal::{ClientHealOptions, ClientHealStats, ClientHealer};
pub use heal::{heal_inode, heal_inode_with, HealOutcome, HealRequest, HealStatus};
pub use markers::HealType;
pub use policy::{FavoriteChild, SplitBrainChoice, SplitBrainRefusal};
pub use replica::{Brick, HealOptions, ReplicaSet};
pub use volume::HealVolume;

/// `GF_CLIENT_PID_SELF_HEALD` (libglusterfs/src/glusterfs/common-utils.h): bricks treat calls from
/// this pid as the self-heal daemon's (internal xattrs such as `trusted.glusterfs.mdata` are
/// visible and settable).
pub const SELF_HEAL_PID: i32 = -6;

/// Errors of healing.
#[derive(Debug, thiserror::Error)]
pub enum HealError {
    #[error(transparent)]
    Fop(#[from] FopError),
    #[error(transparent)]
    Client(#[from] client::ClientError),
    #[error("volfile: {0}")]
    Volfile(#[from] volfile::VolfileError),
    /// AFR heals only with every brick of the replica set locked (afr-self-heal-data.c: "Skipping
    /// self-heal as only %d number of subvolumes could be locked").
    #[error("{replica}: {gfid}: only {locked} of {total} bricks could be locked or answered (a brick is down, or the inode is busy); healing needs every brick of the replica set")]
    NotAllUp {
        replica: String,
        gfid: Gfid,
        locked: usize,
        total: usize,
    },
    /// Another self-heal (this process, another gluster-rs worker, or glustershd) holds the
    /// inode's self-heal lock.
    #[error("{replica}: {gfid}: another self-heal of it is in progress")]
    InProgress { replica: String, gfid: Gfid },
    #[error("{gfid}: {ty} split-brain: {refusal}")]
    SplitBrain {
        gfid: Gfid,
        ty: HealType,
        refusal: SplitBrainRefusal,
    },
    #[error("{0}")]
    Usage(String),
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("volume {0} has no replicated subvolume: nothing to heal")]
    NotReplicated(String),
    #[error("{0}")]
    Json(#[from] serde_json::Error),
}

impl HealError {
    /// The errno this error stands for (AFR's return values: EIO for split-brain, ENOTCONN when
    /// bricks are missing).
    pub fn errno(&self) -> i32 {
        match self {
            HealError::Fop(e) => e.errno(),
            HealError::NotAllUp { .. } => libc::ENOTCONN,
            HealError::InProgress { .. } => libc::EAGAIN,
            HealError::SplitBrain { .. } => libc::EIO,
            HealError::Usage(_) => libc::EINVAL,
            HealError::Io { source, .. } => source.raw_os_error().unwrap_or(libc::EIO),
            _ => libc::EIO,
        }
    }
}

pub type Result<T> = std::result::Result<T, HealError>;

/// `strerror(3)` text of an errno (without Rust's " (os error N)" suffix), as GlusterFS prints it.
pub fn strerror(errno: i32) -> String {
    let t = fop::errno_text(errno);
    match t.find(" (os error ") {
        Some(i) => t[..i].to_string(),
        None => t,
    }
}

static OWNER_SEQ: AtomicU64 = AtomicU64::new(1);

/// A caller for one heal: root, the self-heal pid, and a lock owner of its own (AFR sets one per
/// heal frame, `afr_set_lk_owner`), so two heals of this process never share locks.
pub fn heal_caller() -> Caller {
    static PREFIX: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    let prefix = *PREFIX.get_or_init(|| {
        let u = uuid::Uuid::new_v4();
        let b = u.as_bytes();
        u32::from_le_bytes([b[0], b[1], b[2], b[3]])
    });
    let seq = OWNER_SEQ.fetch_add(1, Ordering::Relaxed);
    let mut owner = Vec::with_capacity(12);
    owner.extend_from_slice(&prefix.to_le_bytes());
    owner.extend_from_slice(&seq.to_le_bytes());
    Caller {
        uid: 0,
        gid: 0,
        pid: SELF_HEAL_PID,
        groups: Vec::new(),
        lk_owner: Bytes::from(owner),
        time: None,
    }
}
