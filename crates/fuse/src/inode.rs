//! The inode table: FUSE node ids <-> GFIDs, kernel lookup counts, a name hint per inode, and a
//! bounded LRU of inodes the kernel has forgotten.
//!
//! Node ids are the inode numbers GlusterFS reports: `gfid_to_ino` (libglusterfs/src/common-utils.c)
//! reads the GFID's last 8 bytes big-endian, and the root (GFID ...0001) comes out as 1, which is
//! also FUSE's root node id. fuser sends the same number as node id and `st_ino`, so a file keeps
//! its inode number across remounts and matches what a GlusterFS C-client mount shows.
//!
//! Lifetime follows the kernel: every entry reply (lookup, create, mknod, mkdir, symlink, link,
//! readdirplus entry) adds one lookup; FORGET/BATCH_FORGET take them away. An inode whose count
//! reaches zero is no longer known to the kernel; it stays in an LRU (its GFID and names serve as
//! hints for later entry operations) of at most `lru_limit` inodes, the oldest evicted first. So the
//! table holds the inodes the kernel holds plus at most `lru_limit` more, however long the mount runs.

use std::collections::{BTreeMap, HashMap};

use bytes::Bytes;
use fop::Gfid;

/// FUSE's root node id.
pub const ROOT_INO: u64 = 1;

/// How many (parent, name) hints an inode keeps (hard links beyond that are forgotten, the
/// hint is only a cache).
pub const MAX_NAMES: usize = 4;

/// GlusterFS's `gfid_to_ino`: the last 8 bytes of the GFID, big-endian.
pub fn gfid_to_ino(gfid: &Gfid) -> u64 {
    let b = gfid.as_bytes();
    let mut last = [0u8; 8];
    last.copy_from_slice(&b[8..16]);
    u64::from_be_bytes(last)
}

/// A GFID whose inode number is already taken by another live GFID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collision {
    pub ino: u64,
    pub existing: Gfid,
    pub new: Gfid,
}

#[derive(Debug)]
struct Inode {
    gfid: Gfid,
    /// Lookups the kernel holds on this node id.
    nlookup: u64,
    /// Known names, most recent last.
    names: Vec<(u64, Bytes)>,
    /// Position in the LRU when `nlookup == 0`.
    lru_seq: Option<u64>,
    /// Position in the use order when the kernel holds it (`nlookup > 0`, not the root).
    use_seq: Option<u64>,
}

/// See the module documentation.
#[derive(Debug)]
pub struct InodeTable {
    inodes: HashMap<u64, Inode>,
    dentries: HashMap<(u64, Bytes), u64>,
    lru: BTreeMap<u64, u64>,
    /// Inodes the kernel holds, least recently used first.
    active: BTreeMap<u64, u64>,
    next_seq: u64,
    lru_limit: usize,
}

impl InodeTable {
    pub fn new(lru_limit: usize) -> Self {
        let mut inodes = HashMap::new();
        inodes.insert(
            ROOT_INO,
            Inode {
                gfid: Gfid::ROOT,
                nlookup: 1,
                names: Vec::new(),
                lru_seq: None,
                use_seq: None,
            },
        );
        Self {
            inodes,
            dentries: HashMap::new(),
            lru: BTreeMap::new(),
            active: BTreeMap::new(),
            next_seq: 0,
            lru_limit,
        }
    }

    /// The GFID of a node id the kernel may use (the root always; others while looked up or in
    /// the LRU).
    pub fn gfid(&self, ino: u64) -> Option<Gfid> {
        self.inodes.get(&ino).map(|i| i.gfid)
    }

    /// The kernel's lookup count of `ino` (0 when unknown or forgotten).
    #[cfg(test)]
    pub fn nlookup(&self, ino: u64) -> u64 {
        self.inodes.get(&ino).map_or(0, |i| i.nlookup)
    }

    /// Number of inodes in the table, root included.
    pub fn len(&self) -> usize {
        self.inodes.len()
    }

    /// Number of forgotten inodes kept in the LRU.
    pub fn lru_len(&self) -> usize {
        self.lru.len()
    }

    /// Number of (parent, name) hints held.
    #[cfg(test)]
    pub fn dentry_count(&self) -> usize {
        self.dentries.len()
    }

    /// The node id and GFID last seen under `name` in `parent`.
    pub fn dentry(&self, parent: u64, name: &[u8]) -> Option<(u64, Gfid)> {
        let key = (parent, Bytes::copy_from_slice(name));
        let ino = *self.dentries.get(&key)?;
        self.inodes.get(&ino).map(|i| (ino, i.gfid))
    }

    /// Some (parent, name) under which `ino` was last seen.
    pub fn name_hint(&self, ino: u64) -> Option<(u64, Bytes)> {
        self.inodes.get(&ino)?.names.last().cloned()
    }

    /// All (parent, name) hints of `ino`.
    #[cfg(test)]
    pub fn names(&self, ino: u64) -> Vec<(u64, Bytes)> {
        self.inodes
            .get(&ino)
            .map(|i| i.names.clone())
            .unwrap_or_default()
    }

    /// Record a reply that hands `gfid` (found as `name` in `parent`, when given) to the kernel:
    /// one more lookup on its node id, which is returned.
    pub fn link(&mut self, parent: Option<(u64, &[u8])>, gfid: Gfid) -> Result<u64, Collision> {
        let ino = self.insert(parent, gfid)?;
        if let Some(inode) = self.inodes.get_mut(&ino) {
            if ino != ROOT_INO {
                inode.nlookup = inode.nlookup.saturating_add(1);
            }
            if let Some(seq) = inode.lru_seq.take() {
                self.lru.remove(&seq);
            }
        }
        self.touch(ino);
        Ok(ino)
    }

    /// Record `gfid` (and its name) without handing a lookup to the kernel: the inode goes to the
    /// LRU unless the kernel already holds it.
    pub fn remember(&mut self, parent: Option<(u64, &[u8])>, gfid: Gfid) -> Result<u64, Collision> {
        let ino = self.insert(parent, gfid)?;
        let forgotten = self
            .inodes
            .get(&ino)
            .is_some_and(|i| i.nlookup == 0 && i.lru_seq.is_none());
        if forgotten {
            self.push_lru(ino);
            self.trim_lru();
        }
        Ok(ino)
    }

    /// The inode of `gfid`, created if new (with no lookups and outside the LRU), with `name`
    /// recorded.
    fn insert(&mut self, parent: Option<(u64, &[u8])>, gfid: Gfid) -> Result<u64, Collision> {
        let ino = if gfid.is_root() {
            ROOT_INO
        } else {
            gfid_to_ino(&gfid)
        };
        match self.inodes.get(&ino) {
            Some(existing) if existing.gfid != gfid => {
                if existing.nlookup > 0 || ino == ROOT_INO {
                    return Err(Collision {
                        ino,
                        existing: existing.gfid,
                        new: gfid,
                    });
                }
                // A forgotten inode with the same number: the new GFID replaces it.
                self.evict(ino);
            }
            _ => {}
        }
        if ino == 0 {
            return Err(Collision {
                ino,
                existing: Gfid::NULL,
                new: gfid,
            });
        }
        self.inodes.entry(ino).or_insert(Inode {
            gfid,
            nlookup: 0,
            names: Vec::new(),
            lru_seq: None,
            use_seq: None,
        });
        if let Some((p, name)) = parent {
            self.add_name(ino, p, name);
        }
        Ok(ino)
    }

    /// The kernel dropped `n` lookups of `ino`.
    /// Take `n` lookups away; true when the kernel no longer holds `ino`.
    pub fn forget(&mut self, ino: u64, n: u64) -> bool {
        if ino == ROOT_INO {
            return false;
        }
        let now_zero = match self.inodes.get_mut(&ino) {
            Some(inode) if inode.nlookup > 0 => {
                inode.nlookup = inode.nlookup.saturating_sub(n);
                if inode.nlookup == 0 {
                    if let Some(seq) = inode.use_seq.take() {
                        self.active.remove(&seq);
                    }
                    true
                } else {
                    false
                }
            }
            _ => false,
        };
        if now_zero {
            self.push_lru(ino);
            self.trim_lru();
        }
        now_zero
    }

    /// Note a use of `ino` (a request on it), for choosing what to ask the kernel to drop.
    pub fn touch(&mut self, ino: u64) {
        if ino == ROOT_INO {
            return;
        }
        let seq = self.next_seq;
        let Some(inode) = self.inodes.get_mut(&ino) else {
            return;
        };
        if inode.nlookup == 0 {
            return;
        }
        self.next_seq += 1;
        if let Some(old) = inode.use_seq.replace(seq) {
            self.active.remove(&old);
        }
        self.active.insert(seq, ino);
    }

    /// Number of inodes the kernel holds (root excluded).
    pub fn active_len(&self) -> usize {
        self.active.len()
    }

    /// Up to `max` of the least recently used inodes the kernel holds, with their known names, to
    /// ask the kernel to drop (FUSE_NOTIFY_INVAL_ENTRY). They count as used now, so a kernel that
    /// keeps them (in use) does not make the next round pick the same ones.
    pub fn invalidation_candidates(&mut self, max: usize) -> Vec<(u64, Vec<(u64, Bytes)>)> {
        let picked: Vec<u64> = self.active.values().take(max).copied().collect();
        let mut out = Vec::with_capacity(picked.len());
        for ino in picked {
            let names = self
                .inodes
                .get(&ino)
                .map(|i| i.names.clone())
                .unwrap_or_default();
            self.touch(ino);
            if !names.is_empty() {
                out.push((ino, names));
            }
        }
        out
    }

    /// `name` in `parent` is gone (unlink, rmdir, a failed lookup).
    pub fn unlink(&mut self, parent: u64, name: &[u8]) {
        let key = (parent, Bytes::copy_from_slice(name));
        if let Some(ino) = self.dentries.remove(&key) {
            if let Some(inode) = self.inodes.get_mut(&ino) {
                inode.names.retain(|(p, n)| !(*p == parent && n == &key.1));
            }
        }
    }

    /// `old_name` in `old_parent` was renamed to `new_name` in `new_parent` (replacing whatever
    /// was there).
    pub fn rename(&mut self, old_parent: u64, old_name: &[u8], new_parent: u64, new_name: &[u8]) {
        let moved = self
            .dentries
            .get(&(old_parent, Bytes::copy_from_slice(old_name)))
            .copied();
        self.unlink(old_parent, old_name);
        self.unlink(new_parent, new_name);
        if let Some(ino) = moved {
            self.add_name(ino, new_parent, new_name);
        }
    }

    fn add_name(&mut self, ino: u64, parent: u64, name: &[u8]) {
        let key = (parent, Bytes::copy_from_slice(name));
        if let Some(prev) = self.dentries.insert(key.clone(), ino) {
            if prev != ino {
                if let Some(other) = self.inodes.get_mut(&prev) {
                    other.names.retain(|(p, n)| !(*p == parent && n == &key.1));
                }
            }
        }
        let Some(inode) = self.inodes.get_mut(&ino) else {
            return;
        };
        inode.names.retain(|(p, n)| !(*p == parent && n == &key.1));
        inode.names.push(key);
        if inode.names.len() > MAX_NAMES {
            let dropped = inode.names.remove(0);
            if self.dentries.get(&dropped) == Some(&ino) {
                self.dentries.remove(&dropped);
            }
        }
    }

    fn push_lru(&mut self, ino: u64) {
        let seq = self.next_seq;
        self.next_seq += 1;
        if let Some(inode) = self.inodes.get_mut(&ino) {
            if let Some(old) = inode.lru_seq.replace(seq) {
                self.lru.remove(&old);
            }
            self.lru.insert(seq, ino);
        }
    }

    fn trim_lru(&mut self) {
        while self.lru.len() > self.lru_limit {
            let Some((_, ino)) = self.lru.pop_first() else {
                break;
            };
            if let Some(inode) = self.inodes.get_mut(&ino) {
                inode.lru_seq = None;
            }
            self.evict(ino);
        }
    }

    fn evict(&mut self, ino: u64) {
        if ino == ROOT_INO {
            return;
        }
        if let Some(inode) = self.inodes.remove(&ino) {
            if let Some(seq) = inode.lru_seq {
                self.lru.remove(&seq);
            }
            if let Some(seq) = inode.use_seq {
                self.active.remove(&seq);
            }
            for key in inode.names {
                if self.dentries.get(&key) == Some(&ino) {
                    self.dentries.remove(&key);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(last: u8) -> Gfid {
        let mut b = [0x11u8; 16];
        b[15] = last;
        Gfid(b)
    }

    #[test]
    fn ino_from_gfid_matches_glusterfs() {
        // gfid_to_ino: bytes 8..16 big-endian.
        let gfid: Gfid = "59a4176b-bff4-4687-b281-e29c5a0f5151".parse().unwrap();
        assert_eq!(gfid_to_ino(&gfid), 0xb281_e29c_5a0f_5151);
        assert_eq!(gfid_to_ino(&Gfid::ROOT), 1);
    }

    #[test]
    fn lookup_counts_and_forget() {
        let mut t = InodeTable::new(10);
        let a = g(1);
        let ino = t.link(Some((ROOT_INO, b"a")), a).unwrap();
        assert_eq!(ino, gfid_to_ino(&a));
        t.link(Some((ROOT_INO, b"a")), a).unwrap();
        assert_eq!(t.nlookup(ino), 2);
        assert_eq!(t.dentry(ROOT_INO, b"a"), Some((ino, a)));
        t.forget(ino, 1);
        assert_eq!(t.nlookup(ino), 1);
        assert_eq!(t.lru_len(), 0);
        t.forget(ino, 1);
        assert_eq!(t.nlookup(ino), 0);
        assert_eq!(t.lru_len(), 1);
        // Still usable as a hint while in the LRU.
        assert_eq!(t.gfid(ino), Some(a));
        // A new lookup takes it back out of the LRU.
        t.link(Some((ROOT_INO, b"a")), a).unwrap();
        assert_eq!(t.lru_len(), 0);
        assert_eq!(t.nlookup(ino), 1);
    }

    #[test]
    fn root_is_pinned() {
        let mut t = InodeTable::new(0);
        t.forget(ROOT_INO, 100);
        assert_eq!(t.gfid(ROOT_INO), Some(Gfid::ROOT));
        assert_eq!(t.link(None, Gfid::ROOT).unwrap(), ROOT_INO);
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn lru_evicts_oldest_forgotten() {
        let mut t = InodeTable::new(2);
        let inos: Vec<u64> = (1..=4u8)
            .map(|i| t.link(Some((ROOT_INO, &[b'f', i])), g(i)).unwrap())
            .collect();
        assert_eq!(t.len(), 5);
        for &ino in &inos {
            t.forget(ino, 1);
        }
        // Only the two most recently forgotten remain, with their names.
        assert_eq!(t.lru_len(), 2);
        assert_eq!(t.len(), 3);
        assert_eq!(t.gfid(inos[0]), None);
        assert_eq!(t.gfid(inos[1]), None);
        assert_eq!(t.gfid(inos[3]), Some(g(4)));
        assert_eq!(t.dentry(ROOT_INO, b"f\x01"), None);
        assert_eq!(t.dentry(ROOT_INO, b"f\x04"), Some((inos[3], g(4))));
        assert_eq!(t.dentry_count(), 2);
    }

    #[test]
    fn lru_limit_zero_drops_forgotten_immediately() {
        let mut t = InodeTable::new(0);
        let ino = t.link(Some((ROOT_INO, b"x")), g(9)).unwrap();
        t.forget(ino, 1);
        assert_eq!(t.len(), 1);
        assert_eq!(t.dentry_count(), 0);
    }

    #[test]
    fn remember_does_not_count_a_lookup() {
        let mut t = InodeTable::new(1);
        let ino = t.remember(Some((ROOT_INO, b"r")), g(5)).unwrap();
        assert_eq!(t.nlookup(ino), 0);
        assert_eq!(t.lru_len(), 1);
        t.remember(Some((ROOT_INO, b"s")), g(6)).unwrap();
        assert_eq!(
            t.gfid(ino),
            None,
            "LRU bound applies to remembered inodes too"
        );
    }

    #[test]
    fn collision_with_live_inode_is_refused_and_with_forgotten_replaced() {
        let mut t = InodeTable::new(4);
        let a = g(7);
        let mut b = a;
        b.0[0] = 0x22; // same last 8 bytes, different GFID
        let ino = t.link(Some((ROOT_INO, b"a")), a).unwrap();
        let err = t.link(Some((ROOT_INO, b"b")), b).unwrap_err();
        assert_eq!(err.ino, ino);
        t.forget(ino, 1);
        assert_eq!(t.link(Some((ROOT_INO, b"b")), b).unwrap(), ino);
        assert_eq!(t.gfid(ino), Some(b));
        assert_eq!(t.dentry(ROOT_INO, b"a"), None);
    }

    #[test]
    fn zero_ino_refused() {
        let mut t = InodeTable::new(4);
        let mut b = [0u8; 16];
        b[0] = 1;
        assert!(t.link(None, Gfid(b)).is_err());
    }

    #[test]
    fn rename_and_unlink_move_hints() {
        let mut t = InodeTable::new(4);
        let d = t.link(Some((ROOT_INO, b"d")), g(1)).unwrap();
        let f = t.link(Some((ROOT_INO, b"f")), g(2)).unwrap();
        let victim = t.link(Some((d, b"v")), g(3)).unwrap();
        t.rename(ROOT_INO, b"f", d, b"v");
        assert_eq!(t.dentry(ROOT_INO, b"f"), None);
        assert_eq!(t.dentry(d, b"v"), Some((f, g(2))));
        assert_eq!(t.names(victim), vec![]);
        assert_eq!(t.name_hint(f), Some((d, Bytes::from_static(b"v"))));
        t.unlink(d, b"v");
        assert_eq!(t.dentry(d, b"v"), None);
        assert_eq!(t.name_hint(f), None);
    }

    #[test]
    fn names_are_capped() {
        let mut t = InodeTable::new(4);
        let gf = g(1);
        for i in 0..10u8 {
            t.link(Some((ROOT_INO, &[b'l', i])), gf).unwrap();
        }
        let ino = gfid_to_ino(&gf);
        assert_eq!(t.names(ino).len(), MAX_NAMES);
        assert_eq!(t.dentry_count(), MAX_NAMES);
        assert_eq!(t.dentry(ROOT_INO, &[b'l', 9]), Some((ino, gf)));
        assert_eq!(t.dentry(ROOT_INO, &[b'l', 0]), None);
    }

    #[test]
    fn relinking_a_name_to_another_inode_moves_the_hint() {
        let mut t = InodeTable::new(4);
        let a = t.link(Some((ROOT_INO, b"n")), g(1)).unwrap();
        let b = t.link(Some((ROOT_INO, b"n")), g(2)).unwrap();
        assert_eq!(t.dentry(ROOT_INO, b"n"), Some((b, g(2))));
        assert!(t.names(a).is_empty());
    }

    #[test]
    fn use_order_picks_least_recently_used_kernel_inodes() {
        let mut t = InodeTable::new(10);
        let a = t.link(Some((ROOT_INO, b"a")), g(1)).unwrap();
        let b = t.link(Some((ROOT_INO, b"b")), g(2)).unwrap();
        let c = t.link(Some((ROOT_INO, b"c")), g(3)).unwrap();
        assert_eq!(t.active_len(), 3);
        t.touch(a);
        let picked = t.invalidation_candidates(2);
        assert_eq!(
            picked,
            vec![
                (b, vec![(ROOT_INO, Bytes::from_static(b"b"))]),
                (c, vec![(ROOT_INO, Bytes::from_static(b"c"))])
            ]
        );
        // Picked ones moved to the back: next round starts with `a`.
        assert_eq!(t.invalidation_candidates(1)[0].0, a);
        t.forget(b, 1);
        assert_eq!(t.active_len(), 2);
        t.touch(b); // forgotten: not tracked
        assert_eq!(t.active_len(), 2);
        t.touch(ROOT_INO);
        assert_eq!(t.active_len(), 2);
    }

    #[test]
    fn table_stays_bounded_under_churn() {
        let mut t = InodeTable::new(100);
        for i in 0..10_000u32 {
            let mut b = [0x33u8; 16];
            b[12..16].copy_from_slice(&i.to_be_bytes());
            let ino = t.link(Some((ROOT_INO, &i.to_be_bytes())), Gfid(b)).unwrap();
            t.forget(ino, 1);
        }
        assert_eq!(t.len(), 101);
        assert_eq!(t.lru_len(), 100);
        assert_eq!(t.dentry_count(), 100);
    }
}
