//! Looking at one inode on every brick of a replica set (afr-self-heal-common.c
//! `afr_selfheal_unlocked_discover_on`, `afr_selfheal_unlocked_inspect`).

use std::collections::BTreeMap;

use bytes::Bytes;
use fop::{Caller, Dict, FopError, Gfid, Iatt, Loc, Lookup};
use futures::future::join_all;

use crate::markers::{request_markers, Changelog, HealType, Markers};
use crate::replica::ReplicaSet;

/// `GLUSTERFS_MULTIPLE_DOM_LK_CNT_REQUESTS` (libglusterfs/src/glusterfs/glusterfs.h).
pub const MULTI_DOM_LK_CNT: &str = "glusterfs.multi-dom-lk-cnt-req";
/// `GLUSTERFS_INODELK_DOM_PREFIX`.
pub const INODELK_DOM_PREFIX: &str = "glusterfs.inodelk-dom-prefix";
/// `GF_GFIDLESS_LOOKUP`.
pub const GFIDLESS_LOOKUP: &str = "gfidless-lookup";
/// `GLUSTERFS_INTERNAL_FOP_KEY`.
pub const INTERNAL_FOP_KEY: &str = "glusterfs-internal-fop";
/// The GFID a new entry must get (`gfid-req`).
pub const GFID_REQ: &str = "gfid-req";

/// The xattrs AFR never heals nor compares (afr-common.c `afr_is_xattr_ignorable`): its own
/// markers, SELinux labels and quota accounting.
pub fn is_ignorable_xattr(key: &str) -> bool {
    key.starts_with("trusted.afr")
        || matches!(
            key,
            "security.selinux"
                | "trusted.glusterfs.quota.size"
                | "trusted.gfs.squota.size"
                | "trusted.gfs.squota.limit"
        )
}

/// On-disk xattrs AFR compares between copies (`afr_xattr_match_needed`): real namespaces only,
/// minus the ignorable ones (and the ctime metadata on an arbiter).
pub fn is_healable_xattr(key: &str, arbiter: bool) -> bool {
    let ns = ["trusted.", "system.", "user.", "security."]
        .iter()
        .any(|p| key.starts_with(p));
    ns && !is_ignorable_xattr(key) && !(arbiter && key == "trusted.glusterfs.mdata")
}

/// The healable xattrs of a dict (lookup xdata with `list-xattr`, or a getxattr of all).
pub fn healable(d: &Dict, arbiter: bool) -> BTreeMap<String, Bytes> {
    d.iter()
        .filter(|(k, _)| is_healable_xattr(k, arbiter))
        .filter_map(|(k, v)| v.as_bytes().map(|b| (k.to_string(), b.clone())))
        .collect()
}

/// The lookup request AFR's self-heal sends: the markers, every xattr (`list-xattr`), and the
/// number of locks held in the replicate and self-heal domains.
pub fn discover_xdata(rs: &ReplicaSet) -> Dict {
    let mut d = Dict::new();
    request_markers(&mut d, &rs.pending_keys);
    d.set_i64("list-xattr", 1);
    d.set_u64(MULTI_DOM_LK_CNT, 1);
    d.set_u64(format!("{INODELK_DOM_PREFIX}:{}", rs.name), 1);
    d.set_u64(format!("{INODELK_DOM_PREFIX}:{}", rs.sh_domain()), 1);
    d
}

/// The answers of the bricks about one inode.
#[derive(Debug, Clone)]
pub struct Discovery {
    /// Per brick: `None` if not asked.
    pub replies: Vec<Option<fop::Result<Lookup>>>,
    pending_keys: Vec<String>,
    arbiter: Option<usize>,
}

impl Discovery {
    pub fn ok(&self, i: usize) -> Option<&Lookup> {
        self.replies
            .get(i)
            .and_then(|r| r.as_ref())
            .and_then(|r| r.as_ref().ok())
    }

    pub fn err(&self, i: usize) -> Option<&FopError> {
        self.replies
            .get(i)
            .and_then(|r| r.as_ref())
            .and_then(|r| r.as_ref().err())
    }

    pub fn ok_count(&self) -> usize {
        (0..self.replies.len())
            .filter(|&i| self.ok(i).is_some())
            .count()
    }

    pub fn answered(&self) -> Vec<bool> {
        (0..self.replies.len())
            .map(|i| self.ok(i).is_some())
            .collect()
    }

    pub fn stats(&self) -> Vec<Option<Iatt>> {
        (0..self.replies.len())
            .map(|i| self.ok(i).map(|l| l.iatt))
            .collect()
    }

    pub fn changelog(&self) -> Changelog {
        Changelog::new(
            (0..self.replies.len())
                .map(|i| {
                    self.ok(i)
                        .map(|l| Markers::from_dict(&l.xdata, &self.pending_keys))
                })
                .collect(),
        )
    }

    pub fn xattrs(&self) -> Vec<Option<BTreeMap<String, Bytes>>> {
        (0..self.replies.len())
            .map(|i| {
                self.ok(i)
                    .map(|l| healable(&l.xdata, self.arbiter == Some(i)))
            })
            .collect()
    }

    /// The most locks any brick reports in `domain` (from the lock-count request).
    pub fn lock_count(&self, domain: &str) -> i64 {
        let key = format!("{INODELK_DOM_PREFIX}:{domain}");
        (0..self.replies.len())
            .filter_map(|i| self.ok(i))
            .filter_map(|l| {
                l.xdata
                    .get_i64(&key)
                    .or_else(|| l.xdata.get_u64(&key).map(|v| v as i64))
            })
            .max()
            .unwrap_or(0)
    }

    /// All failures are ENOENT/ESTALE: the inode is gone (`afr_check_stale_error`).
    pub fn all_stale(&self) -> bool {
        self.replies.iter().all(|r| match r {
            Some(Err(e)) => e.is(libc::ENOENT) || e.is(libc::ESTALE),
            _ => false,
        })
    }
}

/// Nameless lookup of `gfid` with the discover xdata on the bricks in `on`.
pub async fn discover(rs: &ReplicaSet, c: &Caller, gfid: Gfid, on: &[bool]) -> Discovery {
    let xdata = discover_xdata(rs);
    let loc = Loc::gfid(gfid);
    let replies = join_all(rs.bricks.iter().enumerate().map(|(i, b)| {
        let xdata = &xdata;
        let loc = &loc;
        async move {
            if !on.get(i).copied().unwrap_or(false) {
                return None;
            }
            Some(b.subvol.lookup(c, loc, xdata).await)
        }
    }))
    .await;
    Discovery {
        replies,
        pending_keys: rs.pending_keys.clone(),
        arbiter: rs.opts.arbiter,
    }
}

/// Named lookup of `name` in `dir` on the bricks in `on`, asking for the markers too (the source
/// copies' pending marks decide whether a recreated entry needs new-entry marks).
pub async fn lookup_name(
    rs: &ReplicaSet,
    c: &Caller,
    dir: Gfid,
    name: &Bytes,
    on: &[bool],
) -> Discovery {
    let mut xdata = Dict::new();
    request_markers(&mut xdata, &rs.pending_keys);
    xdata.set_i64(GFIDLESS_LOOKUP, 1);
    let loc = Loc::entry(dir, name.clone());
    let replies = join_all(rs.bricks.iter().enumerate().map(|(i, b)| {
        let xdata = &xdata;
        let loc = &loc;
        async move {
            if !on.get(i).copied().unwrap_or(false) {
                return None;
            }
            Some(b.subvol.lookup(c, loc, xdata).await)
        }
    }))
    .await;
    Discovery {
        replies,
        pending_keys: rs.pending_keys.clone(),
        arbiter: rs.opts.arbiter,
    }
}

/// What the unlocked look said is needed (`afr_selfheal_unlocked_inspect`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Needs {
    pub data: bool,
    pub metadata: bool,
    pub entry: bool,
}

impl Needs {
    pub fn any(&self) -> bool {
        self.data || self.metadata || self.entry
    }

    pub fn get(&self, ty: HealType) -> bool {
        match ty {
            HealType::Data => self.data,
            HealType::Metadata => self.metadata,
            HealType::Entry => self.entry,
        }
    }
}

/// The outcome of the unlocked inspection.
#[derive(Debug, Clone)]
pub enum Inspection {
    /// The copies differ in type: a split-brain no heal can fix.
    TypeMismatch,
    /// Fewer than two copies answered: stale (all ENOENT/ESTALE) or not enough bricks.
    Unavailable {
        stale: bool,
    },
    Needs(Needs, Iatt),
}

/// Decide from one discovery what kinds of heal are indicated: markers set for a type, or
/// owner/group/mode (metadata) or size (data, regular files) differing between copies.
pub fn inspect(d: &Discovery) -> Inspection {
    let log = d.changelog();
    let mut needs = Needs::default();
    let mut first: Option<Iatt> = None;
    for i in 0..d.replies.len() {
        let Some(l) = d.ok(i) else { continue };
        let ia = l.iatt;
        let row = log.rows.get(i).and_then(Option::as_ref);
        if let Some(m) = row {
            if !ia.is_dir() && m.any(HealType::Data) {
                needs.data = true;
            }
            if m.any(HealType::Metadata) {
                needs.metadata = true;
            }
            if m.any(HealType::Entry) {
                needs.entry = true;
            }
        }
        match &first {
            None => first = Some(ia),
            Some(f) => {
                if f.ia_type() != ia.ia_type() {
                    return Inspection::TypeMismatch;
                }
                if f.uid != ia.uid || f.gid != ia.gid || f.perm() != ia.perm() {
                    needs.metadata = true;
                }
                if f.is_reg() && f.size != ia.size {
                    needs.data = true;
                }
            }
        }
    }
    match first {
        Some(f) if d.ok_count() >= 2 || (d.ok_count() == 1 && d.replies.len() == 1) => {
            Inspection::Needs(needs, f)
        }
        _ => Inspection::Unavailable {
            stale: d.all_stale(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xattr_filters() {
        assert!(is_healable_xattr("user.foo", false));
        assert!(is_healable_xattr("trusted.glusterfs.mdata", false));
        assert!(!is_healable_xattr("trusted.glusterfs.mdata", true));
        assert!(!is_healable_xattr("trusted.afr.v-client-0", false));
        assert!(!is_healable_xattr("trusted.afr.dirty", false));
        assert!(!is_healable_xattr("security.selinux", false));
        assert!(!is_healable_xattr("glusterfs.inodelk-count", false));
        assert!(is_healable_xattr("system.posix_acl_access", false));
    }
}
