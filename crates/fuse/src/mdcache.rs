//! The metadata cache of the FUSE client, as GlusterFS's performance/md-cache and quick-read
//! keep them in the C client's graph: attributes every reply brings along (lookups, new entries,
//! the parent directory's attributes after an entry operation, setattr results) are kept for the
//! attribute timeout and answer the kernel's GETATTR without a round trip to the bricks; small
//! files' contents returned inside LOOKUP (quick-read's `glusterfs.content`) answer reads.
//!
//! Staleness is bounded exactly as in the C client with its defaults (md-cache-timeout 1 s,
//! quick-read-cache-timeout 1 s): another client's change shows within the timeout, and this
//! client's own changes invalidate or replace what is cached at once. A zero attribute timeout
//! turns the cache off. The map is bounded: past `capacity` entries the expired ones go, and if
//! that is not enough, everything.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::Bytes;
use fop::{Gfid, Iatt};

/// What is cached for one GFID.
struct Slot {
    iatt: Iatt,
    at: Instant,
    /// The whole file, as the LOOKUP that produced `iatt` returned it.
    content: Option<Bytes>,
}

pub(crate) struct MdCache {
    ttl: Duration,
    capacity: usize,
    /// Largest file whose content is kept (0: no content caching).
    pub(crate) content_max: u64,
    map: Mutex<HashMap<Gfid, Slot>>,
}

impl MdCache {
    pub(crate) fn new(ttl: Duration, capacity: usize, content_max: u64) -> Self {
        Self {
            ttl,
            capacity: capacity.max(16),
            content_max,
            map: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) fn enabled(&self) -> bool {
        !self.ttl.is_zero()
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<Gfid, Slot>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn insert(&self, iatt: &Iatt, content: Option<Bytes>) {
        if !self.enabled() || iatt.gfid.is_null() {
            return;
        }
        let now = Instant::now();
        let mut m = self.map();
        if m.len() >= self.capacity && !m.contains_key(&iatt.gfid) {
            let ttl = self.ttl;
            m.retain(|_, s| now.duration_since(s.at) < ttl);
            if m.len() >= self.capacity {
                m.clear();
            }
        }
        // A cached content stays valid only while the attributes it came with are current.
        let content = content.or_else(|| {
            m.get(&iatt.gfid)
                .filter(|s| same_data(&s.iatt, iatt))
                .and_then(|s| s.content.clone())
        });
        m.insert(
            iatt.gfid,
            Slot {
                iatt: *iatt,
                at: now,
                content,
            },
        );
    }

    /// Remember attributes a reply carried.
    pub(crate) fn put(&self, iatt: &Iatt) {
        self.insert(iatt, None);
    }

    /// Remember attributes that may be absent (a parent's, when the layer below knew them).
    pub(crate) fn put_opt(&self, iatt: Option<&Iatt>) {
        if let Some(i) = iatt {
            self.put(i);
        }
    }

    /// Remember attributes and the whole content of a regular file (quick-read).
    pub(crate) fn put_content(&self, iatt: &Iatt, content: Bytes) {
        if iatt.is_reg() && content.len() as u64 == iatt.size && iatt.size <= self.content_max {
            self.insert(iatt, Some(content));
        } else {
            self.put(iatt);
        }
    }

    /// Fresh attributes of `gfid`, if any.
    pub(crate) fn get(&self, gfid: &Gfid) -> Option<Iatt> {
        let m = self.map();
        let s = m.get(gfid)?;
        (s.at.elapsed() < self.ttl).then_some(s.iatt)
    }

    /// Fresh content of `gfid`, if any.
    pub(crate) fn content(&self, gfid: &Gfid) -> Option<Bytes> {
        let m = self.map();
        let s = m.get(gfid)?;
        if s.at.elapsed() < self.ttl {
            s.content.clone()
        } else {
            None
        }
    }

    /// Drop what is known of `gfid` (this client changed it in a way no reply described).
    pub(crate) fn invalidate(&self, gfid: &Gfid) {
        if self.enabled() {
            self.map().remove(gfid);
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.map().len()
    }
}

/// Two attribute sets describe the same file content.
fn same_data(a: &Iatt, b: &Iatt) -> bool {
    a.size == b.size
        && a.mtime == b.mtime
        && a.mtime_nsec == b.mtime_nsec
        && a.ctime == b.ctime
        && a.ctime_nsec == b.ctime_nsec
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(n: u8, size: u64, mtime: i64) -> Iatt {
        let mut g = [0u8; 16];
        g[15] = n;
        Iatt {
            gfid: Gfid(g),
            mode: libc::S_IFREG | 0o644,
            size,
            mtime,
            ..Iatt::default()
        }
    }

    #[test]
    fn attributes_expire_and_invalidate() {
        let c = MdCache::new(Duration::from_millis(50), 100, 1024);
        let a = file(1, 3, 10);
        c.put(&a);
        assert_eq!(c.get(&a.gfid).map(|x| x.size), Some(3));
        c.invalidate(&a.gfid);
        assert!(c.get(&a.gfid).is_none());
        c.put(&a);
        std::thread::sleep(Duration::from_millis(60));
        assert!(c.get(&a.gfid).is_none());
    }

    #[test]
    fn zero_ttl_caches_nothing() {
        let c = MdCache::new(Duration::ZERO, 100, 1024);
        let a = file(1, 3, 10);
        c.put_content(&a, Bytes::from_static(b"abc"));
        assert!(c.get(&a.gfid).is_none());
        assert!(c.content(&a.gfid).is_none());
    }

    #[test]
    fn content_only_when_whole_and_small() {
        let c = MdCache::new(Duration::from_secs(5), 100, 4);
        let a = file(1, 3, 10);
        c.put_content(&a, Bytes::from_static(b"abc"));
        assert_eq!(c.content(&a.gfid).as_deref(), Some(&b"abc"[..]));
        // Truncated content (size differs) is not kept.
        let b = file(2, 5, 10);
        c.put_content(&b, Bytes::from_static(b"abc"));
        assert!(c.content(&b.gfid).is_none());
        // Too big.
        let d = file(3, 5, 10);
        c.put_content(&d, Bytes::from_static(b"abcde"));
        assert!(c.content(&d.gfid).is_none());
    }

    #[test]
    fn content_survives_same_attributes_but_not_a_change() {
        let c = MdCache::new(Duration::from_secs(5), 100, 1024);
        let a = file(1, 3, 10);
        c.put_content(&a, Bytes::from_static(b"abc"));
        c.put(&a);
        assert!(c.content(&a.gfid).is_some());
        let changed = file(1, 3, 11);
        c.put(&changed);
        assert!(c.content(&a.gfid).is_none());
    }

    #[test]
    fn bounded() {
        let c = MdCache::new(Duration::from_secs(5), 16, 0);
        for n in 0..100u8 {
            c.put(&file(n, 1, 1));
        }
        assert!(c.len() <= 16);
    }
}
