//! When the kernel's cached pages of a file must go (with `fopen-keep-cache`, pages survive
//! opens). The kernel's own rule (FUSE_AUTO_INVAL_DATA) drops them whenever a file's mtime in a
//! reply differs from the one it had, which includes every write made through this mount: the
//! bricks set a new mtime, so the pages the application just wrote, which the kernel keeps
//! (write-through), were dropped at the next attribute refresh and read back through FUSE.
//!
//! Here the daemon decides instead. It remembers the mtime each regular file had in the last
//! attributes given to the kernel, and whether this mount wrote the file since: a new mtime with
//! no write of ours explains it means another client changed the data, and the file's pages are
//! invalidated (FUSE_NOTIFY_INVAL_INODE); one our writes explain keeps them. A size change is
//! still the kernel's to handle (it truncates or drops pages itself on any size change).
//!
//! The GlusterFS 10 C client keeps pages across opens and never drops them for an mtime change
//! (glusterfsd passes `auto-invalidation=0` to fuse-bridge unless the mount option is given, so
//! it never asks for FUSE_AUTO_INVAL_DATA): this notices other clients' writes as the kernel's
//! rule would, except a write of another client that lands between one of ours and the next
//! attribute refresh with the file's size unchanged.

use std::collections::HashMap;
use std::sync::Mutex;

/// What the kernel was last told about one file.
#[derive(Debug, Clone, Copy)]
struct Told {
    mtime: (i64, u32),
    /// This mount wrote the file since: the next mtime change is its own.
    ours: bool,
}

/// Per FUSE node id; entries go when the kernel forgets the node (its pages go with it).
#[derive(Default)]
pub(crate) struct DataVersions {
    map: Mutex<HashMap<u64, Told>>,
}

impl DataVersions {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Told>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// This mount writes to `ino`.
    pub(crate) fn wrote(&self, ino: u64) {
        if let Some(t) = self.map().get_mut(&ino) {
            t.ours = true;
        }
    }

    /// Attributes of regular file `ino` with `mtime` go to the kernel; `writing`: writes of this
    /// mount to it are still on their way to the bricks. True when the kernel's cached pages of
    /// it must be dropped.
    pub(crate) fn told(&self, ino: u64, mtime: (i64, u32), writing: bool) -> bool {
        let mut m = self.map();
        match m.get_mut(&ino) {
            None => {
                m.insert(
                    ino,
                    Told {
                        mtime,
                        ours: writing,
                    },
                );
                false
            }
            Some(t) if t.mtime == mtime => false,
            Some(t) => {
                let stale = !t.ours;
                t.mtime = mtime;
                // Writes still in flight will move the mtime again.
                t.ours = writing;
                stale
            }
        }
    }

    /// The kernel forgot `ino` (and its pages).
    pub(crate) fn forget(&self, ino: u64) {
        self.map().remove(&ino);
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.map().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn another_clients_change_drops_pages() {
        let v = DataVersions::default();
        assert!(!v.told(7, (10, 0), false));
        assert!(!v.told(7, (10, 0), false));
        // The mtime moved and we did not write: someone else did.
        assert!(v.told(7, (11, 5), false));
        assert!(!v.told(7, (11, 5), false));
    }

    #[test]
    fn our_own_writes_keep_pages() {
        let v = DataVersions::default();
        assert!(!v.told(7, (10, 0), false));
        v.wrote(7);
        assert!(!v.told(7, (12, 0), false));
        // Only the one change is explained; the next one is someone else's.
        assert!(v.told(7, (13, 0), false));
    }

    #[test]
    fn writes_in_flight_explain_the_next_change_too() {
        let v = DataVersions::default();
        assert!(!v.told(7, (10, 0), false));
        v.wrote(7);
        // Attributes read while our write is still on its way: old mtime, nothing to drop.
        assert!(!v.told(7, (10, 0), true));
        // The write lands.
        assert!(!v.told(7, (12, 0), true));
        assert!(!v.told(7, (13, 0), false));
        assert!(v.told(7, (14, 0), false));
    }

    #[test]
    fn forgotten_nodes_leave() {
        let v = DataVersions::default();
        v.told(1, (1, 0), false);
        v.told(2, (1, 0), false);
        v.wrote(3);
        assert_eq!(v.len(), 2);
        v.forget(1);
        assert_eq!(v.len(), 1);
        // A node seen anew starts from what it is told.
        assert!(!v.told(1, (5, 0), false));
    }
}
