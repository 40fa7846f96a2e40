//! Directories across subvolumes: merged lookups, layout self-heal, mkdir/rmdir/rename everywhere, and
//! readdirp over all subvolumes (xlators/cluster/dht/src/dht-common.c, dht-selfheal.c).

use std::future::Future;
use std::sync::Arc;

use fop::{
    err, Caller, Dict, DirEntry, Entry, Fd, Flock, FopError, Iatt, Loc, LockCmd, Lookup, Result,
    Statfs, Subvolume,
};
use futures::future::join_all;
use hashing::{Layout, NewDirParams, NewDirSubvol, SubvolLookup, SubvolState, COMMIT_HASH_INVALID};

use crate::{
    ensure_gfid_req, is_linkto, lookup_xdata, Dht, DHT_LAYOUT_XATTR, GFID_REQ, LAYOUT_HEAL_DOMAIN,
};

/// Per-fd state of an open directory: its fd on every subvolume where opendir worked.
pub(crate) struct DirFd {
    fds: Vec<Option<Fd>>,
}

/// Whether a miss on the hashed subvolume is authoritative (lookup-optimize): the layout carries a
/// real commit hash that all subvolumes agree on.
pub(crate) fn layout_committed(layout: &Layout) -> bool {
    let h = layout.commit_hash();
    h != 0 && h != COMMIT_HASH_INVALID && !layout.needs_heal()
}

pub(crate) fn add_statfs(mut t: Statfs, s: &Statfs) -> Statfs {
    // Bricks may have different block sizes: sum in units of the first.
    let scale = |v: u64| -> u64 {
        if t.bsize == 0 || s.bsize == t.bsize {
            v
        } else {
            ((v as u128 * s.bsize as u128) / t.bsize as u128) as u64
        }
    };
    t.blocks = t.blocks.saturating_add(scale(s.blocks));
    t.bfree = t.bfree.saturating_add(scale(s.bfree));
    t.bavail = t.bavail.saturating_add(scale(s.bavail));
    t.files = t.files.saturating_add(s.files);
    t.ffree = t.ffree.saturating_add(s.ffree);
    t.favail = t.favail.saturating_add(s.favail);
    t
}

/// A lock owner unique to one layout heal, so two heals in this process exclude each other too.
fn heal_caller() -> Caller {
    Caller {
        lk_owner: bytes::Bytes::copy_from_slice(&uuid::Uuid::new_v4().as_bytes()[..8]),
        ..Caller::root()
    }
}

fn whole_write_lock(owner: &Caller) -> Flock {
    Flock {
        l_type: libc::F_WRLCK as u32,
        whence: libc::SEEK_SET as u32,
        start: 0,
        len: 0,
        pid: owner.pid as u32,
        owner: owner.lk_owner.clone(),
    }
}

impl Dht {
    /// Run `f` on every subvolume's copy of a directory; succeed if any did (errors of down subvolumes
    /// are logged), return the first subvolume's result.
    pub(crate) async fn on_all_dirs<'a, T, F, Fut>(&'a self, f: F) -> Result<T>
    where
        F: Fn(&'a Arc<dyn Subvolume>) -> Fut,
        Fut: Future<Output = Result<T>> + 'a,
    {
        on_all(self, f).await
    }

    /// Look a directory up on every subvolume, merge the answers, heal its layout when it has holes
    /// or is missing somewhere, and cache the layout.
    pub(crate) async fn lookup_dir(
        &self,
        c: &Caller,
        loc: &Loc,
        xdata: &Dict,
    ) -> Result<(Lookup, Arc<Layout>)> {
        let mut req = xdata.clone();
        for (k, v) in lookup_xdata().iter() {
            req.insert(k, v.clone());
        }
        let results = join_all(self.subvols.iter().map(|s| s.lookup(c, loc, &req))).await;
        let (merged, layout) = self.merge_dir(loc, &results)?;
        let gfid = merged.iatt.gfid;
        let layout =
            if self.subvols.len() > 1 && layout.needs_heal() && layout.anomalies().down == 0 {
                match self.heal_layout(loc, &merged.iatt).await {
                    Ok(l) => l,
                    Err(e) => {
                        tracing::warn!(?loc, error = %e, "directory layout heal failed");
                        layout
                    }
                }
            } else {
                layout
            };
        let layout = Arc::new(layout);
        self.remember_layout(gfid, layout.clone());
        Ok((merged, layout))
    }

    /// Merge per-subvolume lookups of one directory.
    fn merge_dir(&self, loc: &Loc, results: &[Result<Lookup>]) -> Result<(Lookup, Layout)> {
        let mut merged: Option<Lookup> = None;
        let mut first_err: Option<FopError> = None;
        let mut lookups = Vec::with_capacity(results.len());
        for r in results {
            match r {
                Ok(l) if l.iatt.is_dir() => {
                    lookups.push(SubvolLookup::Found {
                        xattr: l.xdata.get_bytes(DHT_LAYOUT_XATTR).map(|b| &b[..]),
                    });
                    match &mut merged {
                        None => merged = Some(l.clone()),
                        Some(m) => {
                            if m.iatt.gfid != l.iatt.gfid {
                                tracing::error!(?loc, a = %m.iatt.gfid, b = %l.iatt.gfid, "directory GFID differs between subvolumes");
                            }
                            merge_dir_iatt(&mut m.iatt, &l.iatt);
                        }
                    }
                }
                Ok(_) => lookups.push(SubvolLookup::Failed {
                    errno: libc::ENOTDIR,
                }),
                Err(e) => {
                    lookups.push(SubvolLookup::Failed { errno: e.errno() });
                    if first_err.is_none() || first_err.as_ref().is_some_and(|f| f.is(libc::ENOENT))
                    {
                        first_err = Some(e.clone());
                    }
                }
            }
        }
        let merged = match merged {
            Some(m) => m,
            None => return Err(first_err.unwrap_or(FopError::Errno(libc::ENOENT))),
        };
        let mut layout = Layout::from_lookups(lookups);
        if self.subvols.len() == 1 {
            // A single subvolume owns the whole hash space whatever its xattr says.
            layout = Layout::from_entries(vec![hashing::LayoutEntry {
                state: SubvolState::Ok,
                start: 0,
                stop: u32::MAX,
                commit_hash: layout.commit_hash(),
            }]);
        }
        Ok((merged, layout))
    }

    /// DHT's directory self-heal: under the `dht.layout.heal` lock on every subvolume, create the
    /// directory where it is missing (when we know its parent and name), and write a fresh layout if
    /// it still has holes.
    async fn heal_layout(&self, loc: &Loc, iatt: &Iatt) -> Result<Layout> {
        let owner = heal_caller();
        let gfid = iatt.gfid;
        let dir = Loc::gfid(gfid);
        let lock = whole_write_lock(&owner);
        let mut locked = Vec::new();
        for (i, s) in self.subvols.iter().enumerate() {
            match s
                .inodelk(&owner, LAYOUT_HEAL_DOMAIN, &dir, LockCmd::SetLkW, &lock)
                .await
            {
                Ok(()) => locked.push(i),
                Err(e) if e.is(libc::ENOENT) || e.is(libc::ESTALE) => {}
                Err(e) => {
                    self.unlock_all(&owner, &dir, &locked).await;
                    return Err(e);
                }
            }
        }
        let r = self.heal_layout_locked(&owner, loc, iatt).await;
        self.unlock_all(&owner, &dir, &locked).await;
        r
    }

    async fn unlock_all(&self, owner: &Caller, dir: &Loc, locked: &[usize]) {
        let mut unlock = whole_write_lock(owner);
        unlock.l_type = libc::F_UNLCK as u32;
        for &i in locked {
            if let Some(s) = self.subvols.get(i) {
                if let Err(e) = s
                    .inodelk(owner, LAYOUT_HEAL_DOMAIN, dir, LockCmd::SetLk, &unlock)
                    .await
                {
                    tracing::warn!(subvol = s.name(), error = %e, "layout heal unlock failed");
                }
            }
        }
    }

    async fn heal_layout_locked(&self, owner: &Caller, loc: &Loc, iatt: &Iatt) -> Result<Layout> {
        let gfid = iatt.gfid;
        let dir = Loc::gfid(gfid);
        // Re-read under the lock: another client may have healed it meanwhile.
        let req = lookup_xdata();
        let results = join_all(self.subvols.iter().map(|s| s.lookup(owner, &dir, &req))).await;
        let (_, layout) = self.merge_dir(loc, &results)?;
        if !layout.needs_heal() {
            return Ok(layout);
        }
        // Create the directory where it is missing, with the same GFID.
        let named = !loc.name.is_empty() && !loc.parent.is_null();
        let mut states = Vec::with_capacity(self.subvols.len());
        for (i, r) in results.iter().enumerate() {
            let state = match r {
                Ok(l) if l.iatt.is_dir() => SubvolState::Ok,
                Err(e) if (e.is(libc::ENOENT) || e.is(libc::ESTALE)) && named => {
                    let mut x = Dict::new();
                    x.set_gfuuid(GFID_REQ, gfid);
                    let entry = Loc::entry(loc.parent, loc.name.clone());
                    match self
                        .sv(i)?
                        .mkdir(owner, &entry, iatt.mode & 0o7777, 0, &x)
                        .await
                    {
                        Ok(_) => SubvolState::Ok,
                        Err(e) if e.is(libc::EEXIST) => SubvolState::Ok,
                        Err(e) => SubvolState::from_errno(e.errno()),
                    }
                }
                Err(e) => SubvolState::from_errno(e.errno()),
                Ok(_) => SubvolState::Failed(libc::ENOTDIR),
            };
            states.push(state);
        }
        let fresh = self.new_layout(gfid, &states);
        for (i, s) in self.subvols.iter().enumerate() {
            if let Some(d) = fresh.disk_layout(i) {
                let mut x = Dict::new();
                x.set_bin(DHT_LAYOUT_XATTR, d.to_bytes().to_vec());
                if let Err(e) = s.setxattr(owner, &dir, &x, 0).await {
                    tracing::warn!(subvol = s.name(), error = %e, "could not write a directory layout");
                }
            }
        }
        tracing::info!(dir = %gfid, "directory layout healed");
        Ok(fresh)
    }

    /// A fresh layout for a directory over subvolumes in `states`.
    fn new_layout(&self, gfid: fop::Gfid, states: &[SubvolState]) -> Layout {
        let names: Vec<&str> = self.subvols.iter().map(|s| s.name()).collect();
        let subvols: Vec<NewDirSubvol<'_>> = names
            .iter()
            .zip(states)
            .map(|(n, s)| NewDirSubvol {
                name: n,
                state: *s,
                chunks: 0,
            })
            .collect();
        // The C client keys the start subvolume by path ("/" for the root), or by GFID when
        // randomize-hash-range-by-gfid is on; the root is the one directory both clients may race to
        // heal, so it uses the same key.
        let key = if gfid.is_root() {
            "/".to_string()
        } else {
            gfid.to_string()
        };
        let params = NewDirParams::new(key.as_bytes(), 0);
        Layout::new_directory(&subvols, &params, &self.opts.hash)
    }

    /// mkdir on the hashed subvolume first, then on the others with the same GFID, each carrying its
    /// range of the new layout in the mkdir's xattrs.
    pub(crate) async fn mkdir_everywhere(
        &self,
        c: &Caller,
        loc: &Loc,
        mode: u32,
        umask: u32,
        xdata: &Dict,
    ) -> Result<Entry> {
        let (x, gfid) = ensure_gfid_req(xdata);
        let hashed = self.hashed_subvol(c, loc.parent, &loc.name).await?;
        let states = vec![SubvolState::Ok; self.subvols.len()];
        let layout = self.new_layout(gfid, &states);
        let with_layout = |i: usize| {
            let mut x = x.clone();
            if self.subvols.len() > 1 {
                if let Some(d) = layout.disk_layout(i) {
                    x.set_bin(DHT_LAYOUT_XATTR, d.to_bytes().to_vec());
                }
            }
            x
        };
        let entry = self
            .sv(hashed)?
            .mkdir(c, loc, mode, umask, &with_layout(hashed))
            .await?;
        let others = join_all(
            self.subvols
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != hashed)
                .map(|(i, s)| {
                    let x = with_layout(i);
                    async move { (i, s.mkdir(c, loc, mode, umask, &x).await) }
                }),
        )
        .await;
        for (i, r) in others {
            if let Err(e) = r {
                tracing::warn!(subvol = i, ?loc, error = %e, "mkdir failed on a subvolume; lookup will heal it");
            }
        }
        self.remember_layout(gfid, Arc::new(layout));
        Ok(entry)
    }

    /// rmdir everywhere: the non-hashed subvolumes first, the hashed one last (it decides existence).
    pub(crate) async fn rmdir_everywhere(
        &self,
        c: &Caller,
        loc: &Loc,
        flags: i32,
        xdata: &Dict,
    ) -> Result<Option<Iatt>> {
        let l = self.lookup(c, loc, &Dict::new()).await?;
        if !l.iatt.is_dir() {
            return err(libc::ENOTDIR);
        }
        let hashed = self.hashed_subvol(c, loc.parent, &loc.name).await?;
        let at = loc.clone().with_gfid(l.iatt.gfid);
        // Refuse early if any copy has entries, so nothing is removed from the others.
        self.check_empty(c, &at).await?;
        let results = join_all(
            self.subvols
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != hashed)
                .map(|(_, s)| s.rmdir(c, &at, flags, xdata)),
        )
        .await;
        for r in results {
            match r {
                Ok(_) => {}
                Err(e) if e.is(libc::ENOENT) => {}
                Err(e) => return Err(e),
            }
        }
        let postparent = self.sv(hashed)?.rmdir(c, &at, flags, xdata).await?;
        self.forget_layout(&l.iatt.gfid);
        Ok(self.parent_attrs(postparent))
    }

    /// ENOTEMPTY if the directory holds anything but linkto files on any subvolume.
    async fn check_empty(&self, c: &Caller, dir: &Loc) -> Result<()> {
        let fd = self.opendir(c, dir).await?;
        let entries = self.readdirp(c, &fd, 0, 4096, &Dict::new()).await;
        self.releasedir(&fd).await;
        let entries = entries?;
        if entries
            .iter()
            .any(|e| &e.name[..] != b"." && &e.name[..] != b"..")
        {
            return err(libc::ENOTEMPTY);
        }
        Ok(())
    }

    /// A directory rename is applied on every subvolume, the hashed one of the new name first.
    pub(crate) async fn rename_dir(
        &self,
        c: &Caller,
        old: &Loc,
        new: &Loc,
        src: &Iatt,
        xdata: &Dict,
    ) -> Result<Iatt> {
        let first = self.hashed_subvol(c, new.parent, &new.name).await?;
        let old_at = old.clone().with_gfid(src.gfid);
        let iatt = self.sv(first)?.rename(c, &old_at, new, xdata).await?;
        let rest = join_all(
            self.subvols
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != first)
                .map(|(i, s)| {
                    let old_at = &old_at;
                    async move { (i, s.rename(c, old_at, new, xdata).await) }
                }),
        )
        .await;
        for (i, r) in rest {
            if let Err(e) = r {
                tracing::warn!(subvol = i, error = %e, "directory rename failed on a subvolume");
            }
        }
        Ok(iatt)
    }
}

async fn on_all<'a, T, F, Fut>(dht: &'a Dht, f: F) -> Result<T>
where
    F: Fn(&'a Arc<dyn Subvolume>) -> Fut,
    Fut: Future<Output = Result<T>> + 'a,
{
    let results = join_all(dht.subvols.iter().map(f)).await;
    let mut first_ok = None;
    let mut first_err = None;
    for r in results {
        match r {
            Ok(p) => {
                if first_ok.is_none() {
                    first_ok = Some(p);
                }
            }
            Err(e) => {
                tracing::debug!(error = %e, "directory operation failed on a subvolume");
                if first_err.is_none() {
                    first_err = Some(e);
                }
            }
        }
    }
    match (first_ok, first_err) {
        // A real error (permission, ...) is the same everywhere; a down subvolume is not fatal.
        (_, Some(e)) if !e.is(libc::ENOTCONN) => Err(e),
        (Some(p), _) => Ok(p),
        (None, e) => Err(e.unwrap_or(FopError::Errno(libc::EIO))),
    }
}

/// Merge the attributes of one directory's copies as DHT does (`dht_iatt_merge`): sizes and blocks
/// add up, times are the latest.
fn merge_dir_iatt(to: &mut Iatt, from: &Iatt) {
    to.size = to.size.saturating_add(from.size);
    to.blocks = to.blocks.saturating_add(from.blocks);
    if (from.mtime, from.mtime_nsec) > (to.mtime, to.mtime_nsec) {
        to.mtime = from.mtime;
        to.mtime_nsec = from.mtime_nsec;
    }
    if (from.ctime, from.ctime_nsec) > (to.ctime, to.ctime_nsec) {
        to.ctime = from.ctime;
        to.ctime_nsec = from.ctime_nsec;
    }
    if (from.atime, from.atime_nsec) > (to.atime, to.atime_nsec) {
        to.atime = from.atime;
        to.atime_nsec = from.atime_nsec;
    }
}

pub(crate) async fn opendir(dht: &Dht, c: &Caller, loc: &Loc) -> Result<Fd> {
    let results = join_all(dht.subvols.iter().map(|s| s.opendir(c, loc))).await;
    let mut fds = Vec::with_capacity(results.len());
    let mut first_err = None;
    for r in results {
        match r {
            Ok(fd) => fds.push(Some(fd)),
            Err(e) => {
                if first_err.is_none() {
                    first_err = Some(e);
                }
                fds.push(None);
            }
        }
    }
    // The first subvolume lists the directories and "." / "..": it must be there.
    match fds.first() {
        Some(Some(_)) => Ok(Fd::new(loc.gfid, libc::O_RDONLY, DirFd { fds })),
        _ => Err(first_err.unwrap_or(FopError::Errno(libc::EIO))),
    }
}

pub(crate) async fn releasedir(dht: &Dht, fd: &Fd) {
    if let Ok(d) = fd.ctx::<DirFd>() {
        for (s, f) in dht.subvols.iter().zip(&d.fds) {
            if let Some(f) = f {
                s.releasedir(f).await;
            }
        }
    }
}

pub(crate) async fn fsync_dir(dht: &Dht, c: &Caller, fd: &Fd, datasync: bool) -> Result<()> {
    let d = fd.ctx::<DirFd>()?;
    for (s, f) in dht.subvols.iter().zip(&d.fds) {
        if let Some(f) = f {
            s.fsync(c, f, datasync).await?;
        }
    }
    Ok(())
}

/// Offsets we hand out encode the subvolume: `brick_offset * n + index` (DHT's itransform).
fn encode_off(brick_off: u64, idx: usize, n: usize) -> Option<u64> {
    brick_off.checked_mul(n as u64)?.checked_add(idx as u64)
}

fn decode_off(off: u64, n: usize) -> (usize, u64) {
    let n = n.max(1) as u64;
    ((off % n) as usize, off / n)
}

/// readdirp over every subvolume in turn: directories (and "." / "..") only from the first
/// subvolume, linkto files never.
pub(crate) async fn readdirp(
    dht: &Dht,
    c: &Caller,
    fd: &Fd,
    offset: u64,
    size: u32,
    xdata: &Dict,
) -> Result<(Vec<DirEntry>, bool)> {
    let d = fd.ctx::<DirFd>()?;
    let n = dht.subvols.len();
    let (mut idx, mut brick_off) = if offset == 0 {
        (0, 0)
    } else {
        decode_off(offset, n)
    };
    let mut req = xdata.clone();
    for (k, v) in lookup_xdata().iter() {
        req.insert(k, v.clone());
    }
    while idx < n {
        let (Some(s), Some(Some(sfd))) = (dht.subvols.get(idx), d.fds.get(idx)) else {
            idx += 1;
            brick_off = 0;
            continue;
        };
        let (entries, sub_eof) = match s.readdirp_eof(c, sfd, brick_off, size, &req).await {
            Ok(e) => e,
            Err(e) if idx > 0 && e.is(libc::ENOTCONN) => {
                tracing::warn!(
                    subvol = s.name(),
                    "subvolume down: its entries are missing from this listing"
                );
                (Vec::new(), true)
            }
            Err(e) => return Err(e),
        };
        if entries.is_empty() {
            idx += 1;
            brick_off = 0;
            continue;
        }
        // The listing ends with this batch when it ends the last subvolume's directory.
        let eof = sub_eof && idx + 1 == n;
        let mut out = Vec::with_capacity(entries.len());
        for mut e in entries {
            let Some(off) = encode_off(e.offset, idx, n) else {
                return err(libc::EOVERFLOW);
            };
            brick_off = e.offset;
            let is_dot = &e.name[..] == b"." || &e.name[..] == b"..";
            let is_dir =
                e.iatt.as_ref().is_some_and(|i| i.is_dir()) || e.d_type == libc::DT_DIR as u32;
            if idx > 0 && (is_dot || is_dir) {
                continue;
            }
            if let Some(i) = &e.iatt {
                if is_linkto(i, &e.xdata) {
                    continue;
                }
                if !i.is_dir() && !is_dot {
                    dht.remember_file(i.gfid, idx);
                }
            }
            e.offset = off;
            out.push(e);
        }
        if !out.is_empty() {
            return Ok((out, eof));
        }
        // Everything in this batch was filtered: continue after it (or with the next subvolume).
        if sub_eof {
            idx += 1;
            brick_off = 0;
        }
    }
    Ok((Vec::new(), true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_roundtrip() {
        for n in 1..5 {
            for idx in 0..n {
                for off in [0u64, 1, 77, 1 << 40] {
                    let e = encode_off(off, idx, n).unwrap();
                    assert_eq!(decode_off(e, n), (idx, off));
                }
            }
        }
        assert_eq!(encode_off(u64::MAX, 1, 2), None);
    }
}
