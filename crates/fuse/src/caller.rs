//! Who is calling: uid, gid and pid from the FUSE request header, supplementary groups read from
//! `/proc/PID/status` as GlusterFS's fuse-helpers.c `frame_fill_groups` does (with its gid cache,
//! `gid-timeout`), lock owner from the request.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use fop::Caller;

use crate::flags::lk_owner_bytes;

/// `GF_MAX_AUX_GROUPS` (libglusterfs/src/glusterfs/stack.h): groups beyond this are ignored.
pub const MAX_AUX_GROUPS: usize = 65535;

/// Entries the group cache holds at most; when full, expired entries go, then the oldest.
const GROUP_CACHE_CAPACITY: usize = 4096;

/// The identity part of a request, taken in the FUSE thread (cheap) and completed in the task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReqId {
    pub uid: u32,
    pub gid: u32,
    pub pid: u32,
}

/// Parse the `Groups:` line of a /proc/PID/status text.
pub fn parse_status_groups(status: &str) -> Option<Vec<u32>> {
    let line = status.lines().find(|l| l.starts_with("Groups:"))?;
    let mut out = Vec::new();
    for tok in line["Groups:".len()..].split_whitespace() {
        let id: u32 = tok.parse().ok()?;
        out.push(id);
        if out.len() == MAX_AUX_GROUPS {
            break;
        }
    }
    Some(out)
}

/// (pid, uid, gid).
type GroupKey = (u32, u32, u32);

/// Supplementary groups per (pid, uid, gid), cached for `timeout` (0 = read every time).
#[derive(Debug)]
pub struct GroupCache {
    enabled: bool,
    timeout: Duration,
    map: Mutex<HashMap<GroupKey, (Instant, Vec<u32>)>>,
}

impl GroupCache {
    pub fn new(enabled: bool, timeout: Duration) -> Self {
        Self {
            enabled,
            timeout,
            map: Mutex::new(HashMap::new()),
        }
    }

    /// The groups of the calling process. pid 0 (requests the kernel makes on its own, e.g.
    /// writeback) gets group 0, as GlusterFS does; so does a process whose /proc entry cannot be
    /// read (it has exited).
    pub fn groups(&self, id: &ReqId) -> Vec<u32> {
        if !self.enabled {
            return Vec::new();
        }
        if id.pid == 0 {
            return vec![0];
        }
        let key = (id.pid, id.uid, id.gid);
        if !self.timeout.is_zero() {
            if let Ok(map) = self.map.lock() {
                if let Some((at, groups)) = map.get(&key) {
                    if at.elapsed() < self.timeout {
                        return groups.clone();
                    }
                }
            }
        }
        let groups = match std::fs::read_to_string(format!("/proc/{}/status", id.pid)) {
            Ok(text) => parse_status_groups(&text).unwrap_or_default(),
            Err(e) => {
                tracing::debug!(pid = id.pid, error = %e, "cannot read groups; using group 0");
                vec![0]
            }
        };
        if !self.timeout.is_zero() {
            if let Ok(mut map) = self.map.lock() {
                if map.len() >= GROUP_CACHE_CAPACITY {
                    let timeout = self.timeout;
                    map.retain(|_, (at, _)| at.elapsed() < timeout);
                    if map.len() >= GROUP_CACHE_CAPACITY {
                        if let Some(oldest) =
                            map.iter().min_by_key(|(_, (at, _))| *at).map(|(k, _)| *k)
                        {
                            map.remove(&oldest);
                        }
                    }
                }
                map.insert(key, (Instant::now(), groups.clone()));
            }
        }
        groups
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.map.lock().map(|m| m.len()).unwrap_or(0)
    }

    /// The fop caller for a request; `lock_owner` when the request carries one (read, write, flush,
    /// locks), sent as GlusterFS sends it.
    pub fn caller(&self, id: &ReqId, lock_owner: Option<u64>) -> Caller {
        Caller {
            uid: id.uid,
            gid: id.gid,
            pid: id.pid as i32,
            groups: self.groups(id),
            lk_owner: lock_owner.map(lk_owner_bytes).unwrap_or_default(),
            time: Some(fop::time_now()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_groups_line() {
        let status =
            "Name:\tbash\nUid:\t1000\t1000\t1000\t1000\nGroups:\t4 24 27 1000 \nNgid:\t0\n";
        assert_eq!(parse_status_groups(status), Some(vec![4, 24, 27, 1000]));
        assert_eq!(parse_status_groups("Groups:\n"), Some(vec![]));
        assert_eq!(parse_status_groups("Name: x\n"), None);
        assert_eq!(parse_status_groups("Groups:\t1 x 3\n"), None);
    }

    #[test]
    fn reads_own_groups_and_caches() {
        let cache = GroupCache::new(true, Duration::from_secs(60));
        let me = ReqId {
            uid: nix::unistd::getuid().as_raw(),
            gid: nix::unistd::getgid().as_raw(),
            pid: std::process::id(),
        };
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let expected = parse_status_groups(&status).unwrap();
        assert_eq!(cache.groups(&me), expected);
        assert_eq!(cache.len(), 1);
        assert_eq!(cache.groups(&me), expected);
        assert_eq!(cache.len(), 1);
        let c = cache.caller(&me, Some(0x0102));
        assert_eq!(c.uid, me.uid);
        assert_eq!(c.pid, me.pid as i32);
        assert_eq!(&c.lk_owner[..], &[2, 1, 0, 0, 0, 0, 0, 0]);
        assert!(cache.caller(&me, None).lk_owner.is_empty());
    }

    #[test]
    fn pid_zero_and_disabled() {
        let cache = GroupCache::new(true, Duration::from_secs(1));
        let k = ReqId {
            uid: 0,
            gid: 0,
            pid: 0,
        };
        assert_eq!(cache.groups(&k), vec![0]);
        let off = GroupCache::new(false, Duration::from_secs(1));
        assert!(off.groups(&k).is_empty());
    }

    #[test]
    fn cache_is_bounded() {
        let cache = GroupCache::new(true, Duration::from_secs(600));
        // Nonexistent pids read as [0] and are cached.
        for pid in 0..(GROUP_CACHE_CAPACITY as u32 + 50) {
            cache.groups(&ReqId {
                uid: 1,
                gid: 1,
                pid: 4_000_000 + pid,
            });
        }
        assert!(cache.len() <= GROUP_CACHE_CAPACITY);
    }
}
