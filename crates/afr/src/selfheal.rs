//! Client-side self-heal hook: after a lookup, tell a [`HealTrigger`] which inode needs which
//! kind of heal, as AFR's lookup path does before starting its own background heals
//! (afr-common.c `afr_lookup_entry_heal` for a name missing or with another GFID on some bricks,
//! `afr_can_start_metadata_self_heal` for owner/group/mode differing between copies;
//! afr-self-heal-common.c `afr_selfheal` via `afr_throttled_selfheal` for pending markers).
//!
//! This crate only detects; healing lives above it (the `heal` crate implements the trigger and
//! runs the heals in the background, bounded), so the replicate translator never depends on the
//! healer and a lookup never waits for a heal.

use std::sync::Arc;

use fop::{Gfid, Loc, Lookup};

use crate::changelog::{BrickMarkers, TxnType};
use crate::read::Replies;
use crate::Inner;

/// Which kinds of heal an inode needs (AFR's three self-heals; each has its own volume option,
/// `cluster.data-self-heal`, `cluster.metadata-self-heal`, `cluster.entry-self-heal`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct HealKinds {
    pub data: bool,
    pub metadata: bool,
    pub entry: bool,
}

impl HealKinds {
    pub const NONE: HealKinds = HealKinds {
        data: false,
        metadata: false,
        entry: false,
    };
    pub const ALL: HealKinds = HealKinds {
        data: true,
        metadata: true,
        entry: true,
    };
    pub const ENTRY: HealKinds = HealKinds {
        data: false,
        metadata: false,
        entry: true,
    };

    pub fn any(&self) -> bool {
        self.data || self.metadata || self.entry
    }

    pub fn union(self, o: HealKinds) -> HealKinds {
        HealKinds {
            data: self.data || o.data,
            metadata: self.metadata || o.metadata,
            entry: self.entry || o.entry,
        }
    }

    pub fn intersect(self, o: HealKinds) -> HealKinds {
        HealKinds {
            data: self.data && o.data,
            metadata: self.metadata && o.metadata,
            entry: self.entry && o.entry,
        }
    }

    fn set(&mut self, ty: TxnType) {
        match ty {
            TxnType::Data => self.data = true,
            TxnType::Metadata => self.metadata = true,
            TxnType::Entry => self.entry = true,
        }
    }
}

/// Receives the inodes a lookup found in need of healing. Called on the lookup path: it must
/// return at once (queue the work, never wait for it).
pub trait HealTrigger: Send + Sync + std::fmt::Debug {
    fn needs_heal(&self, gfid: Gfid, what: HealKinds);
}

/// What the replies of one lookup of `loc` ask to heal: `(gfid, kinds)` pairs, at most one per
/// GFID. Empty unless every child answered (a heal locks every brick of the replica set, so it
/// could not run anyway — and a brick being down is no reason to heal).
pub fn heals_needed(
    loc: &Loc,
    replies: &[Option<fop::Result<Lookup>>],
    pending_keys: &[String],
    busy: impl Fn(&Gfid) -> bool,
) -> Vec<(Gfid, HealKinds)> {
    let mut out: Vec<(Gfid, HealKinds)> = Vec::new();
    let mut add = |gfid: Gfid, k: HealKinds| {
        if gfid.is_null() || !k.any() {
            return;
        }
        match out.iter_mut().find(|(g, _)| *g == gfid) {
            Some((_, have)) => *have = have.union(k),
            None => out.push((gfid, k)),
        }
    };
    // Every child must have answered, with the entry or with "no such entry".
    let mut ok: Vec<&Lookup> = Vec::new();
    let mut missing = false;
    for r in replies {
        match r {
            Some(Ok(l)) => ok.push(l),
            Some(Err(e)) if e.is(libc::ENOENT) || e.is(libc::ESTALE) || e.is(libc::ENODATA) => {
                missing = true
            }
            _ => return Vec::new(),
        }
    }
    let Some(first) = ok.first() else {
        return Vec::new();
    };
    let gfid = first.iatt.gfid;
    let named = !loc.parent.is_null() && !loc.name.is_empty();
    // The name exists on some bricks only, or with different GFIDs: entry heal of the parent
    // (afr_lookup_entry_heal → afr_selfheal_name).
    let gfid_mismatch = ok.iter().any(|l| l.iatt.gfid != gfid);
    if named && (missing || gfid_mismatch) {
        add(loc.parent, HealKinds::ENTRY);
    }
    if missing || gfid_mismatch {
        // The inode itself cannot be healed before the name is: a heal locks it on every brick.
        // Which copy is right (on a GFID mismatch) is for the entry heal to decide.
        return out;
    }
    if ok.iter().any(|l| l.iatt.ia_type() != first.iatt.ia_type()) {
        // Different types: a split-brain no heal can fix.
        return out;
    }
    if busy(&gfid) {
        // Our own transaction on it is running: its markers are expected.
        return out;
    }
    let mut k = HealKinds::NONE;
    let is_dir = first.iatt.is_dir();
    let is_reg = first.iatt.is_reg();
    for l in &ok {
        let m = BrickMarkers::from_dict(&l.xdata, pending_keys);
        for ty in [TxnType::Data, TxnType::Metadata, TxnType::Entry] {
            let applies = match ty {
                TxnType::Data => !is_dir,
                TxnType::Metadata => true,
                // Entry markers of a directory; a file's entry counter is only ever the
                // new-entry mark, whose heal is the data/metadata one.
                TxnType::Entry => is_dir,
            };
            if applies && m.any(ty) {
                k.set(ty);
            }
        }
        // afr_can_start_metadata_self_heal: owner, group or permissions differ.
        let a = &first.iatt;
        let b = &l.iatt;
        if a.uid != b.uid || a.gid != b.gid || a.perm() != b.perm() {
            k.metadata = true;
        }
        if is_reg && a.size != b.size {
            // Sizes differ (another client's write in flight carries dirty markers anyway): the
            // heal's own inspection decides, under its locks.
            k.data = true;
        }
    }
    add(gfid, k);
    out
}

/// Called by the replicate lookup with its replies: hand what needs healing to the trigger.
pub(crate) fn after_lookup(inner: &Arc<Inner>, loc: &Loc, replies: &Replies) {
    let Some(t) = inner.opts.heal_trigger.as_ref() else {
        return;
    };
    let busy = |g: &Gfid| inner.inode_if_known(g).is_some_and(|c| !c.is_idle());
    for (gfid, kinds) in heals_needed(loc, &replies.replies, &inner.opts.pending_keys, busy) {
        tracing::debug!(afr = %inner.name, %gfid, ?kinds, "lookup: heal needed");
        t.needs_heal(gfid, kinds);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::changelog::{xattrop_dict, Counters};
    use bytes::Bytes;
    use fop::{Dict, FopError};

    use crate::testutil::{keys, reply};

    fn gfid(b: u8) -> Gfid {
        Gfid([b; 16])
    }

    fn blame(j: usize, ty: TxnType) -> Dict {
        let mut d = vec![Counters::ZERO; 3];
        d[j] = Counters::one(ty, 2);
        xattrop_dict(&keys(), &d, None)
    }

    fn named() -> Loc {
        Loc::entry(gfid(9), Bytes::from_static(b"f"))
    }

    const FILE: u32 = 0o100644;
    const DIR: u32 = 0o040755;

    #[test]
    fn clean_lookup_needs_nothing() {
        let r = vec![
            reply(gfid(1), FILE, 5, Dict::new()),
            reply(gfid(1), FILE, 5, Dict::new()),
            reply(gfid(1), FILE, 5, Dict::new()),
        ];
        assert!(heals_needed(&named(), &r, &keys(), |_| false).is_empty());
    }

    #[test]
    fn pending_data_on_a_file() {
        let r = vec![
            reply(gfid(1), FILE, 5, blame(2, TxnType::Data)),
            reply(gfid(1), FILE, 5, blame(2, TxnType::Data)),
            reply(gfid(1), FILE, 5, Dict::new()),
        ];
        let h = heals_needed(&named(), &r, &keys(), |_| false);
        assert_eq!(
            h,
            vec![(
                gfid(1),
                HealKinds {
                    data: true,
                    ..HealKinds::NONE
                }
            )]
        );
        // Our own transaction on the inode: nothing.
        assert!(heals_needed(&named(), &r, &keys(), |_| true).is_empty());
    }

    #[test]
    fn entry_markers_count_on_directories_only() {
        let d = vec![
            reply(gfid(1), DIR, 0, blame(0, TxnType::Entry)),
            reply(gfid(1), DIR, 0, Dict::new()),
            reply(gfid(1), DIR, 0, Dict::new()),
        ];
        assert_eq!(
            heals_needed(&Loc::gfid(gfid(1)), &d, &keys(), |_| false),
            vec![(gfid(1), HealKinds::ENTRY)]
        );
        let f = vec![
            reply(gfid(1), FILE, 0, blame(0, TxnType::Entry)),
            reply(gfid(1), FILE, 0, Dict::new()),
            reply(gfid(1), FILE, 0, Dict::new()),
        ];
        assert!(heals_needed(&named(), &f, &keys(), |_| false).is_empty());
    }

    #[test]
    fn dirty_and_attribute_differences() {
        let mut dirty = Dict::new();
        dirty.set_bin(
            crate::AFR_DIRTY,
            Bytes::copy_from_slice(&Counters::one(TxnType::Metadata, 1).encode()),
        );
        let r = vec![
            reply(gfid(1), FILE, 5, dirty),
            reply(gfid(1), FILE, 5, Dict::new()),
            reply(gfid(1), 0o100600, 7, Dict::new()),
        ];
        assert_eq!(
            heals_needed(&named(), &r, &keys(), |_| false),
            vec![(
                gfid(1),
                HealKinds {
                    data: true,
                    metadata: true,
                    entry: false
                }
            )]
        );
    }

    #[test]
    fn missing_name_heals_the_parent() {
        let r = vec![
            Some(Err(FopError::Errno(libc::ENOENT))),
            reply(gfid(1), FILE, 5, blame(0, TxnType::Data)),
            reply(gfid(1), FILE, 5, blame(0, TxnType::Data)),
        ];
        // The name first; the file's own heal once it exists everywhere.
        assert_eq!(
            heals_needed(&named(), &r, &keys(), |_| false),
            vec![(gfid(9), HealKinds::ENTRY)]
        );
        // A nameless lookup has no parent to heal.
        assert!(heals_needed(&Loc::gfid(gfid(1)), &r, &keys(), |_| false).is_empty());
    }

    #[test]
    fn gfid_mismatch_heals_only_the_name() {
        let r = vec![
            reply(gfid(1), FILE, 5, Dict::new()),
            reply(gfid(2), FILE, 5, Dict::new()),
            reply(gfid(1), FILE, 5, Dict::new()),
        ];
        assert_eq!(
            heals_needed(&named(), &r, &keys(), |_| false),
            vec![(gfid(9), HealKinds::ENTRY)]
        );
    }

    #[test]
    fn nothing_without_every_brick_or_with_a_type_mismatch() {
        let down = vec![
            None,
            reply(gfid(1), FILE, 5, blame(0, TxnType::Data)),
            reply(gfid(1), FILE, 5, blame(0, TxnType::Data)),
        ];
        assert!(heals_needed(&named(), &down, &keys(), |_| false).is_empty());
        let failed = vec![
            Some(Err(FopError::NotConnected("x".into()))),
            reply(gfid(1), FILE, 5, blame(0, TxnType::Data)),
            reply(gfid(1), FILE, 5, blame(0, TxnType::Data)),
        ];
        assert!(heals_needed(&named(), &failed, &keys(), |_| false).is_empty());
        let types = vec![
            reply(gfid(1), FILE, 5, blame(0, TxnType::Data)),
            reply(gfid(1), DIR, 0, Dict::new()),
            reply(gfid(1), FILE, 5, Dict::new()),
        ];
        assert!(heals_needed(&named(), &types, &keys(), |_| false).is_empty());
    }
}
