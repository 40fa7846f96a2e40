//! The fop interface of the replicate translator.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use fop::{
    Caller, Dict, DirEntry, Entry, EntryLockCmd, EntryLockType, Fd, Flock, FopError, Gfid, Iatt,
    Loc, LockCmd, Lookup, PrePost, Statfs, Subvolume, XattropOp,
};
use futures::future::join_all;

use crate::changelog::{Counters, TxnType};
use crate::entry::{self, pick, TxnSpec};
use crate::inode::{self, Cached};
use crate::lock::Lockee;
use crate::read::{self, read_candidates, try_in_order};
use crate::write::{self, afr_fd, with_child_fd, AfrFd, FdShared};
use crate::{final_error, timeout_err, Afr, Inner};

/// The key under which new entries carry their GFID (xlators/protocol/client: `gfid-req`).
pub const GFID_REQ: &str = "gfid-req";

/// The same `gfid-req` for every brick: the caller's, or a fresh one.
fn ensure_gfid_req(xdata: &Dict) -> Dict {
    let mut x = xdata.clone();
    let have = xdata.get_gfid(GFID_REQ).is_some()
        || xdata
            .get_bytes(GFID_REQ)
            .and_then(|b| Gfid::from_slice(b))
            .is_some();
    if !have {
        x.set_gfuuid(GFID_REQ, Gfid(*uuid::Uuid::new_v4().as_bytes()));
    }
    x
}

fn entry_of(e: &Entry) -> Entry {
    e.clone()
}

impl Afr {
    fn inner(&self) -> &Arc<Inner> {
        &self.inner
    }

    /// Build an fd over the children's fds (None where not open) and cache the readable set of a
    /// new inode.
    fn make_fd(&self, gfid: Gfid, flags: i32, children: Vec<Option<Fd>>, is_dir: bool) -> Fd {
        let ctx = self.inner.inode(gfid);
        let shared = FdShared::new(flags, children, is_dir);
        if !is_dir {
            ctx.add_fd(&shared);
        }
        Fd::new(gfid, flags, AfrFd { ctx, shared })
    }

    async fn metadata_txn<T, F, Fut>(&self, c: &Caller, gfid: Gfid, op: F) -> fop::Result<T>
    where
        T: entry::HasIatt + Send,
        F: Fn(usize) -> Fut,
        Fut: std::future::Future<Output = fop::Result<T>>,
    {
        let inner = self.inner();
        let ctx = inner.inode(gfid);
        let spec = TxnSpec::metadata(gfid, ctx.owner.clone());
        let out = entry::run(inner, c, spec, op).await;
        ctx.lock().readable = None;
        pick(out?)
    }

    async fn entry_txn<T, F, Fut>(
        &self,
        c: &Caller,
        mut spec: TxnSpec,
        new_entry: bool,
        op: F,
    ) -> fop::Result<(usize, Vec<Option<fop::Result<T>>>)>
    where
        T: entry::HasIatt + Send,
        F: Fn(usize) -> Fut,
        Fut: std::future::Future<Output = fop::Result<T>>,
    {
        spec.new_entry = new_entry;
        entry::run(self.inner(), c, spec, op).await
    }

    /// Cache "readable = where it was created" for a new inode, and where it was created dirty.
    fn note_new_inode<T>(&self, gfid: Gfid, results: &[Option<fop::Result<T>>], dirty: bool) {
        let created: Vec<bool> = results.iter().map(|r| matches!(r, Some(Ok(_)))).collect();
        let ctx = self.inner.inode(gfid);
        let mut st = ctx.lock();
        if dirty {
            st.born_dirty = Some(created.clone());
        }
        st.readable = Some(Cached {
            readable: crate::changelog::Readable {
                data: created.clone(),
                metadata: created,
            },
            gen: self.inner.event_gen(),
        });
    }

    /// Take the write-expected hint out of a new entry's xdata; for a regular file with the
    /// eager lock on, create it marked dirty for data (as the first write's pre-op would): true.
    fn born_dirty(&self, x: &mut Dict, mode: u32) -> bool {
        let hinted = x.remove(fop::WRITE_EXPECTED_KEY).is_some();
        let yes = hinted && self.inner.opts.eager_lock && mode & libc::S_IFMT == libc::S_IFREG;
        if yes {
            x.set_bin(
                crate::changelog::AFR_DIRTY,
                Bytes::copy_from_slice(&Counters::one(TxnType::Data, 1).encode()),
            );
        }
        yes
    }

    /// Apply a lock request of the layer above on every brick: non-blocking in parallel (all or
    /// nothing), blocking in brick order, unlock everywhere (afr-common.c `afr_inodelk`,
    /// `afr_entrylk`).
    async fn upper_lock<F, Fut>(&self, cmd_kind: UpperLock, f: F) -> fop::Result<()>
    where
        F: Fn(usize, UpperLock) -> Fut,
        Fut: std::future::Future<Output = fop::Result<()>>,
    {
        let inner = self.inner();
        let n = inner.n();
        let wait = inner.opts.wait_timeout;
        let up = inner.up();
        let call = |i: usize, k: UpperLock| {
            let fut = f(i, k);
            async move {
                tokio::time::timeout(wait, fut)
                    .await
                    .unwrap_or_else(|_| Err(timeout_err("lock", wait)))
            }
        };
        match cmd_kind {
            UpperLock::Unlock => {
                let r = join_all(
                    (0..n)
                        .filter(|&i| up[i])
                        .map(|i| call(i, UpperLock::Unlock)),
                )
                .await;
                if r.iter().any(Result::is_ok) || r.is_empty() {
                    Ok(())
                } else {
                    Err(final_error(r.iter().filter_map(|x| x.as_ref().err()))
                        .unwrap_or(FopError::Errno(libc::EIO)))
                }
            }
            UpperLock::Try | UpperLock::Wait => {
                inner.check_quorum_up()?;
                let mut got = vec![false; n];
                let mut err = None;
                if cmd_kind == UpperLock::Try {
                    let r = join_all((0..n).map(|i| {
                        let go = up[i];
                        let fut = call(i, UpperLock::Try);
                        async move {
                            if go {
                                Some(fut.await)
                            } else {
                                None
                            }
                        }
                    }))
                    .await;
                    for (i, x) in r.iter().enumerate() {
                        match x {
                            Some(Ok(())) => got[i] = true,
                            Some(Err(e)) if err.is_none() || e.is(libc::EAGAIN) => {
                                err = Some(e.clone());
                            }
                            _ => {}
                        }
                    }
                    if matches!(&err, Some(e) if e.is(libc::EAGAIN)) {
                        for i in (0..n).filter(|&i| got[i]) {
                            let _ = call(i, UpperLock::Unlock).await;
                        }
                        return Err(FopError::Errno(libc::EAGAIN));
                    }
                } else {
                    for i in (0..n).filter(|&i| up[i]) {
                        match call(i, UpperLock::Wait).await {
                            Ok(()) => got[i] = true,
                            Err(e) => err = Some(e),
                        }
                    }
                }
                if got.iter().any(|&g| g)
                    && (!inner.opts.quorum.enabled() || inner.quorum_met(&got))
                {
                    Ok(())
                } else {
                    for i in (0..n).filter(|&i| got[i]) {
                        let _ = call(i, UpperLock::Unlock).await;
                    }
                    Err(err.unwrap_or_else(|| {
                        FopError::NotConnected(format!("{}: lock below quorum", inner.name))
                    }))
                }
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum UpperLock {
    Try,
    Wait,
    Unlock,
}

fn upper_of_inode(cmd: LockCmd, lock: &Flock) -> Option<UpperLock> {
    if lock.l_type == libc::F_UNLCK as u32 {
        return Some(UpperLock::Unlock);
    }
    match cmd {
        LockCmd::SetLk => Some(UpperLock::Try),
        LockCmd::SetLkW => Some(UpperLock::Wait),
        LockCmd::GetLk => None,
    }
}

#[async_trait]
impl Subvolume for Afr {
    fn name(&self) -> &str {
        &self.inner.name
    }

    async fn lookup(&self, c: &Caller, loc: &Loc, xdata: &Dict) -> fop::Result<Lookup> {
        read::lookup(self.inner(), c, loc, xdata).await
    }

    async fn stat(&self, c: &Caller, loc: &Loc) -> fop::Result<Iatt> {
        read::stat_gfid(self.inner(), c, loc.gfid).await
    }

    async fn fstat(&self, c: &Caller, fd: &Fd) -> fop::Result<Iatt> {
        let afd = afr_fd(fd)?;
        let inner = self.inner();
        if !afd.ctx.lock().inflight.is_empty() {
            // The size after every acknowledged write.
            inode::drain(inner, &afd.ctx).await?;
        }
        let order = read_candidates(inner, c, &afd.ctx, None, false).await?;
        try_in_order(&order, |i| {
            let shared = afd.shared.clone();
            async move {
                with_child_fd(inner, c, fd.gfid, &shared, i, |sub, cfd| async move {
                    sub.fstat(c, &cfd).await
                })
                .await
            }
        })
        .await
    }

    async fn setattr(
        &self,
        c: &Caller,
        loc: &Loc,
        attr: &Iatt,
        valid: u32,
    ) -> fop::Result<PrePost> {
        let inner = self.inner().clone();
        self.metadata_txn(c, loc.gfid, |i| {
            let sub = inner.children[i].clone();
            async move { sub.setattr(c, loc, attr, valid).await }
        })
        .await
    }

    async fn fsetattr(&self, c: &Caller, fd: &Fd, attr: &Iatt, valid: u32) -> fop::Result<PrePost> {
        let afd = afr_fd(fd)?;
        let inner = self.inner().clone();
        self.metadata_txn(c, fd.gfid, |i| {
            let shared = afd.shared.clone();
            let inner = inner.clone();
            async move {
                with_child_fd(&inner, c, fd.gfid, &shared, i, |sub, cfd| async move {
                    sub.fsetattr(c, &cfd, attr, valid).await
                })
                .await
            }
        })
        .await
    }

    async fn truncate(&self, c: &Caller, loc: &Loc, size: u64) -> fop::Result<PrePost> {
        let inner = self.inner();
        let ctx = inner.inode(loc.gfid);
        write::data_op(inner, c, &ctx, |i| {
            let sub = inner.children[i].clone();
            async move { sub.truncate(c, loc, size).await }
        })
        .await
    }

    async fn ftruncate(&self, c: &Caller, fd: &Fd, size: u64) -> fop::Result<PrePost> {
        let afd = afr_fd(fd)?;
        let inner = self.inner();
        write::data_op(inner, c, &afd.ctx, |i| {
            let shared = afd.shared.clone();
            async move {
                with_child_fd(inner, c, fd.gfid, &shared, i, |sub, cfd| async move {
                    sub.ftruncate(c, &cfd, size).await
                })
                .await
            }
        })
        .await
    }

    async fn access(&self, c: &Caller, loc: &Loc, mask: u32) -> fop::Result<()> {
        let inner = self.inner();
        let ctx = inner.inode(loc.gfid);
        let order = read_candidates(inner, c, &ctx, None, true).await?;
        try_in_order(&order, |i| {
            let sub = inner.children[i].clone();
            async move { sub.access(c, loc, mask).await }
        })
        .await
    }

    async fn readlink(&self, c: &Caller, loc: &Loc) -> fop::Result<Bytes> {
        let inner = self.inner();
        let ctx = inner.inode(loc.gfid);
        let order = read_candidates(inner, c, &ctx, None, false).await?;
        try_in_order(&order, |i| {
            let sub = inner.children[i].clone();
            async move { sub.readlink(c, loc).await }
        })
        .await
    }

    async fn mknod(
        &self,
        c: &Caller,
        loc: &Loc,
        mode: u32,
        rdev: u64,
        umask: u32,
        xdata: &Dict,
    ) -> fop::Result<Entry> {
        let mut x = ensure_gfid_req(xdata);
        let dirty = self.born_dirty(&mut x, mode);
        let inner = self.inner().clone();
        let spec = TxnSpec::entry(&inner, &[(loc.parent, loc.name.clone())]);
        let out = self
            .entry_txn(c, spec, true, |i| {
                let sub = inner.children[i].clone();
                let x = &x;
                async move { sub.mknod(c, loc, mode, rdev, umask, x).await }
            })
            .await?;
        let e = pick((out.0, out.1.clone()))?;
        self.note_new_inode(e.iatt.gfid, &out.1, dirty);
        Ok(e)
    }

    async fn mkdir(
        &self,
        c: &Caller,
        loc: &Loc,
        mode: u32,
        umask: u32,
        xdata: &Dict,
    ) -> fop::Result<Entry> {
        let x = ensure_gfid_req(xdata);
        let inner = self.inner().clone();
        let spec = TxnSpec::entry(&inner, &[(loc.parent, loc.name.clone())]);
        let out = self
            .entry_txn(c, spec, true, |i| {
                let sub = inner.children[i].clone();
                let x = &x;
                async move { sub.mkdir(c, loc, mode, umask, x).await }
            })
            .await?;
        let e = pick((out.0, out.1.clone()))?;
        self.note_new_inode(e.iatt.gfid, &out.1, false);
        Ok(entry_of(&e))
    }

    async fn unlink(&self, c: &Caller, loc: &Loc, xdata: &Dict) -> fop::Result<Option<Iatt>> {
        let inner = self.inner().clone();
        let spec = TxnSpec::entry(&inner, &[(loc.parent, loc.name.clone())]);
        let out = self
            .entry_txn(c, spec, false, |i| {
                let sub = inner.children[i].clone();
                async move { sub.unlink(c, loc, xdata).await }
            })
            .await?;
        pick(out)
    }

    async fn rmdir(
        &self,
        c: &Caller,
        loc: &Loc,
        flags: i32,
        xdata: &Dict,
    ) -> fop::Result<Option<Iatt>> {
        let inner = self.inner().clone();
        let mut spec = TxnSpec::entry(&inner, &[(loc.parent, loc.name.clone())]);
        if !loc.gfid.is_null() {
            spec.lockees.push(Lockee::Entry {
                dir: loc.gfid,
                name: None,
            });
        }
        spec.ignore_enotempty = true;
        let out = self
            .entry_txn(c, spec, false, |i| {
                let sub = inner.children[i].clone();
                async move { sub.rmdir(c, loc, flags, xdata).await }
            })
            .await?;
        pick(out)
    }

    async fn symlink(
        &self,
        c: &Caller,
        target: &[u8],
        loc: &Loc,
        umask: u32,
        xdata: &Dict,
    ) -> fop::Result<Entry> {
        let x = ensure_gfid_req(xdata);
        let inner = self.inner().clone();
        let spec = TxnSpec::entry(&inner, &[(loc.parent, loc.name.clone())]);
        let out = self
            .entry_txn(c, spec, false, |i| {
                let sub = inner.children[i].clone();
                let x = &x;
                async move { sub.symlink(c, target, loc, umask, x).await }
            })
            .await?;
        let e = pick((out.0, out.1.clone()))?;
        self.note_new_inode(e.iatt.gfid, &out.1, false);
        Ok(e)
    }

    async fn rename(&self, c: &Caller, old: &Loc, new: &Loc, xdata: &Dict) -> fop::Result<Iatt> {
        let inner = self.inner().clone();
        let spec = TxnSpec::entry(
            &inner,
            &[
                (old.parent, old.name.clone()),
                (new.parent, new.name.clone()),
            ],
        );
        let out = self
            .entry_txn(c, spec, false, |i| {
                let sub = inner.children[i].clone();
                async move { sub.rename(c, old, new, xdata).await }
            })
            .await?;
        pick(out)
    }

    async fn link(&self, c: &Caller, old: &Loc, new: &Loc, xdata: &Dict) -> fop::Result<Entry> {
        let inner = self.inner().clone();
        let spec = TxnSpec::entry(&inner, &[(new.parent, new.name.clone())]);
        let out = self
            .entry_txn(c, spec, false, |i| {
                let sub = inner.children[i].clone();
                async move { sub.link(c, old, new, xdata).await }
            })
            .await?;
        pick(out)
    }

    async fn create(
        &self,
        c: &Caller,
        loc: &Loc,
        flags: i32,
        mode: u32,
        umask: u32,
        xdata: &Dict,
    ) -> fop::Result<(Fd, Entry)> {
        let mut x = ensure_gfid_req(xdata);
        let dirty = self.born_dirty(&mut x, libc::S_IFREG | mode);
        let inner = self.inner().clone();
        let spec = TxnSpec::entry(&inner, &[(loc.parent, loc.name.clone())]);
        let (idx, results) = self
            .entry_txn(c, spec, true, |i| {
                let sub = inner.children[i].clone();
                let x = &x;
                async move { sub.create(c, loc, flags, mode, umask, x).await }
            })
            .await?;
        let Some(Some(Ok((_, entry)))) = results.get(idx) else {
            return Err(FopError::Errno(libc::EIO));
        };
        let entry = entry.clone();
        let gfid = entry.iatt.gfid;
        self.note_new_inode(gfid, &results, dirty);
        let children: Vec<Option<Fd>> = results
            .iter()
            .map(|r| match r {
                Some(Ok((fd, e))) if e.iatt.gfid == gfid => Some(fd.clone()),
                _ => None,
            })
            .collect();
        Ok((self.make_fd(gfid, flags, children, false), entry))
    }

    fn open_anonymous(&self, gfid: Gfid, flags: i32) -> fop::Result<Fd> {
        let children: Vec<Option<Fd>> = self
            .inner()
            .children
            .iter()
            .map(|s| s.open_anonymous(gfid, flags).ok())
            .collect();
        if children.iter().any(Option::is_none) {
            return Err(FopError::Errno(libc::ENOTSUP));
        }
        Ok(self.make_fd(gfid, flags, children, false))
    }

    fn prepare_write(&self, c: &Caller, fd: &Fd) {
        if let Ok(afd) = afr_fd(fd) {
            if !afd.shared.is_dir {
                inode::prepare(self.inner(), &afd.ctx, c);
            }
        }
    }

    async fn open(&self, c: &Caller, loc: &Loc, flags: i32) -> fop::Result<Fd> {
        let inner = self.inner();
        let trunc = flags & libc::O_TRUNC != 0;
        let oflags = flags & !libc::O_TRUNC;
        let wait = inner.opts.wait_timeout;
        let up = inner.up();
        let res = join_all(inner.children.iter().enumerate().map(|(i, sub)| {
            let go = up[i];
            async move {
                if !go {
                    return None;
                }
                Some(
                    tokio::time::timeout(wait, sub.open(c, loc, oflags))
                        .await
                        .unwrap_or_else(|_| Err(timeout_err("open", wait))),
                )
            }
        }))
        .await;
        if !res.iter().any(|r| matches!(r, Some(Ok(_)))) {
            return Err(
                final_error(res.iter().flatten().filter_map(|r| r.as_ref().err())).unwrap_or_else(
                    || FopError::NotConnected(format!("{}: no child is up", inner.name)),
                ),
            );
        }
        let children = res.into_iter().map(|r| r.and_then(Result::ok)).collect();
        let fd = self.make_fd(loc.gfid, flags, children, false);
        if trunc {
            // afr-open.c: O_TRUNC becomes an ftruncate transaction after the open.
            self.ftruncate(c, &fd, 0).await?;
        }
        Ok(fd)
    }

    async fn read(&self, c: &Caller, fd: &Fd, offset: u64, size: u32) -> fop::Result<Bytes> {
        let afd = afr_fd(fd)?;
        let inner = self.inner();
        let end = offset.saturating_add(u64::from(size));
        let order = read_candidates(inner, c, &afd.ctx, Some((offset, end)), false).await?;
        let wait = inner.opts.wait_timeout;
        try_in_order(&order, |i| {
            let shared = afd.shared.clone();
            async move {
                tokio::time::timeout(
                    wait,
                    with_child_fd(inner, c, fd.gfid, &shared, i, |sub, cfd| async move {
                        sub.read(c, &cfd, offset, size).await
                    }),
                )
                .await
                .unwrap_or_else(|_| Err(timeout_err("read", wait)))
            }
        })
        .await
    }

    async fn write(&self, c: &Caller, fd: &Fd, offset: u64, data: Bytes) -> fop::Result<PrePost> {
        write::write(self.inner(), c, fd, offset, data).await
    }

    async fn flush(&self, c: &Caller, fd: &Fd) -> fop::Result<()> {
        write::flush(self.inner(), c, fd).await
    }

    async fn fsync(&self, c: &Caller, fd: &Fd, datasync: bool) -> fop::Result<()> {
        write::fsync(self.inner(), c, fd, datasync).await
    }

    async fn release(&self, fd: &Fd) {
        let Ok(afd) = afr_fd(fd) else { return };
        let inner = self.inner();
        if !afd.shared.is_dir {
            if let Err(e) = inode::settle(inner, &afd.ctx).await {
                tracing::warn!(afr = %inner.name, gfid = %fd.gfid, error = %e, "release: eager lock not settled");
            }
            inode::clear_born_dirty(inner, &afd.ctx).await;
        }
        let children: Vec<Option<Fd>> = afd
            .shared
            .children
            .lock()
            .map(|v| v.clone())
            .unwrap_or_default();
        join_all(children.iter().enumerate().filter_map(|(i, f)| {
            let f = f.clone()?;
            let sub = inner.children.get(i)?.clone();
            Some(async move {
                if afd.shared.is_dir {
                    sub.releasedir(&f).await
                } else {
                    sub.release(&f).await
                }
            })
        }))
        .await;
    }

    async fn opendir(&self, c: &Caller, loc: &Loc) -> fop::Result<Fd> {
        let inner = self.inner();
        let wait = inner.opts.wait_timeout;
        let up = inner.up();
        let res = join_all(inner.children.iter().enumerate().map(|(i, sub)| {
            let go = up[i];
            async move {
                if !go {
                    return None;
                }
                Some(
                    tokio::time::timeout(wait, sub.opendir(c, loc))
                        .await
                        .unwrap_or_else(|_| Err(timeout_err("opendir", wait))),
                )
            }
        }))
        .await;
        if !res.iter().any(|r| matches!(r, Some(Ok(_)))) {
            return Err(
                final_error(res.iter().flatten().filter_map(|r| r.as_ref().err())).unwrap_or_else(
                    || FopError::NotConnected(format!("{}: no child is up", inner.name)),
                ),
            );
        }
        let children = res.into_iter().map(|r| r.and_then(Result::ok)).collect();
        Ok(self.make_fd(loc.gfid, libc::O_RDONLY, children, true))
    }

    async fn readdirp_eof(
        &self,
        c: &Caller,
        fd: &Fd,
        offset: u64,
        size: u32,
        xdata: &Dict,
    ) -> fop::Result<(Vec<DirEntry>, bool)> {
        let afd = afr_fd(fd)?;
        let inner = self.inner();
        let fixed = afd.shared.readdir_child.lock().ok().and_then(|g| *g);
        let order = match fixed {
            // Offsets belong to one brick's directory stream: stay on it after the first call.
            Some(i) if offset != 0 => vec![i],
            _ => read_candidates(inner, c, &afd.ctx, None, false).await?,
        };
        let wait = inner.opts.wait_timeout;
        let mut last = None;
        for i in order {
            let r = tokio::time::timeout(
                wait,
                with_child_fd(inner, c, fd.gfid, &afd.shared, i, |sub, cfd| async move {
                    sub.readdirp_eof(c, &cfd, offset, size, xdata).await
                }),
            )
            .await
            .unwrap_or_else(|_| Err(timeout_err("readdirp", wait)));
            match r {
                Ok(v) => {
                    if let Ok(mut g) = afd.shared.readdir_child.lock() {
                        *g = Some(i);
                    }
                    return Ok(v);
                }
                Err(e) if offset == 0 => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or(FopError::Errno(libc::EIO)))
    }

    async fn releasedir(&self, fd: &Fd) {
        self.release(fd).await
    }

    async fn statfs(&self, c: &Caller, loc: &Loc) -> fop::Result<Statfs> {
        let inner = self.inner();
        let wait = inner.opts.wait_timeout;
        let up = inner.up();
        let res = join_all(inner.children.iter().enumerate().map(|(i, sub)| {
            let go = up[i];
            async move {
                if !go {
                    return None;
                }
                Some(
                    tokio::time::timeout(wait, sub.statfs(c, loc))
                        .await
                        .unwrap_or_else(|_| Err(timeout_err("statfs", wait))),
                )
            }
        }))
        .await;
        // afr_statfs_cbk: report the brick with the least space available.
        let best = res
            .iter()
            .flatten()
            .filter_map(|r| r.as_ref().ok())
            .min_by_key(|s| s.bavail)
            .cloned();
        best.ok_or_else(|| {
            final_error(res.iter().flatten().filter_map(|r| r.as_ref().err())).unwrap_or_else(
                || FopError::NotConnected(format!("{}: no child is up", inner.name)),
            )
        })
    }

    async fn setxattr(&self, c: &Caller, loc: &Loc, xattrs: &Dict, flags: i32) -> fop::Result<()> {
        let inner = self.inner().clone();
        self.metadata_txn(c, loc.gfid, |i| {
            let sub = inner.children[i].clone();
            async move { sub.setxattr(c, loc, xattrs, flags).await }
        })
        .await
    }

    async fn getxattr(&self, c: &Caller, loc: &Loc, name: Option<&str>) -> fop::Result<Dict> {
        let inner = self.inner();
        let ctx = inner.inode(loc.gfid);
        let order = read_candidates(inner, c, &ctx, None, true).await?;
        try_in_order(&order, |i| {
            let sub = inner.children[i].clone();
            async move { sub.getxattr(c, loc, name).await }
        })
        .await
    }

    async fn removexattr(&self, c: &Caller, loc: &Loc, name: &str) -> fop::Result<()> {
        let inner = self.inner().clone();
        self.metadata_txn(c, loc.gfid, |i| {
            let sub = inner.children[i].clone();
            async move { sub.removexattr(c, loc, name).await }
        })
        .await
    }

    async fn fsetxattr(&self, c: &Caller, fd: &Fd, xattrs: &Dict, flags: i32) -> fop::Result<()> {
        let afd = afr_fd(fd)?;
        let inner = self.inner().clone();
        self.metadata_txn(c, fd.gfid, |i| {
            let shared = afd.shared.clone();
            let inner = inner.clone();
            async move {
                with_child_fd(&inner, c, fd.gfid, &shared, i, |sub, cfd| async move {
                    sub.fsetxattr(c, &cfd, xattrs, flags).await
                })
                .await
            }
        })
        .await
    }

    async fn fgetxattr(&self, c: &Caller, fd: &Fd, name: Option<&str>) -> fop::Result<Dict> {
        let afd = afr_fd(fd)?;
        let inner = self.inner();
        let order = read_candidates(inner, c, &afd.ctx, None, true).await?;
        try_in_order(&order, |i| {
            let shared = afd.shared.clone();
            async move {
                with_child_fd(inner, c, fd.gfid, &shared, i, |sub, cfd| async move {
                    sub.fgetxattr(c, &cfd, name).await
                })
                .await
            }
        })
        .await
    }

    async fn fremovexattr(&self, c: &Caller, fd: &Fd, name: &str) -> fop::Result<()> {
        let afd = afr_fd(fd)?;
        let inner = self.inner().clone();
        self.metadata_txn(c, fd.gfid, |i| {
            let shared = afd.shared.clone();
            let inner = inner.clone();
            async move {
                with_child_fd(&inner, c, fd.gfid, &shared, i, |sub, cfd| async move {
                    sub.fremovexattr(c, &cfd, name).await
                })
                .await
            }
        })
        .await
    }

    async fn fallocate(
        &self,
        c: &Caller,
        fd: &Fd,
        mode: i32,
        offset: u64,
        len: u64,
    ) -> fop::Result<PrePost> {
        let afd = afr_fd(fd)?;
        let inner = self.inner();
        write::data_op(inner, c, &afd.ctx, |i| {
            let shared = afd.shared.clone();
            async move {
                with_child_fd(inner, c, fd.gfid, &shared, i, |sub, cfd| async move {
                    sub.fallocate(c, &cfd, mode, offset, len).await
                })
                .await
            }
        })
        .await
    }

    async fn discard(&self, c: &Caller, fd: &Fd, offset: u64, len: u64) -> fop::Result<PrePost> {
        let afd = afr_fd(fd)?;
        let inner = self.inner();
        write::data_op(inner, c, &afd.ctx, |i| {
            let shared = afd.shared.clone();
            async move {
                with_child_fd(inner, c, fd.gfid, &shared, i, |sub, cfd| async move {
                    sub.discard(c, &cfd, offset, len).await
                })
                .await
            }
        })
        .await
    }

    async fn zerofill(&self, c: &Caller, fd: &Fd, offset: u64, len: u64) -> fop::Result<PrePost> {
        let afd = afr_fd(fd)?;
        let inner = self.inner();
        write::data_op(inner, c, &afd.ctx, |i| {
            let shared = afd.shared.clone();
            async move {
                with_child_fd(inner, c, fd.gfid, &shared, i, |sub, cfd| async move {
                    sub.zerofill(c, &cfd, offset, len).await
                })
                .await
            }
        })
        .await
    }

    async fn lk(&self, c: &Caller, fd: &Fd, cmd: LockCmd, lock: &Flock) -> fop::Result<Flock> {
        let afd = afr_fd(fd)?;
        let inner = self.inner();
        let n = inner.n();
        if cmd == LockCmd::GetLk {
            let order: Vec<usize> = (0..n).filter(|&i| inner.is_up(i)).collect();
            return try_in_order(&order, |i| {
                let shared = afd.shared.clone();
                async move {
                    with_child_fd(inner, c, fd.gfid, &shared, i, |sub, cfd| async move {
                        sub.lk(c, &cfd, cmd, lock).await
                    })
                    .await
                }
            })
            .await;
        }
        inner.check_quorum_up()?;
        // afr_lk: brick after brick; on failure, undo where it was granted.
        let mut granted: Vec<usize> = Vec::new();
        let mut result = None;
        let mut err = None;
        for i in (0..n).filter(|&i| inner.is_up(i)) {
            let r = with_child_fd(inner, c, fd.gfid, &afd.shared, i, |sub, cfd| async move {
                sub.lk(c, &cfd, cmd, lock).await
            })
            .await;
            match r {
                Ok(f) => {
                    granted.push(i);
                    result.get_or_insert(f);
                }
                Err(e) if e.is(libc::ENOTCONN) || matches!(e, FopError::NotConnected(_)) => {}
                Err(e) => {
                    err = Some(e);
                    break;
                }
            }
        }
        if let Some(e) = err {
            if lock.l_type != libc::F_UNLCK as u32 {
                let mut un = lock.clone();
                un.l_type = libc::F_UNLCK as u32;
                for i in granted {
                    let _ = with_child_fd(inner, c, fd.gfid, &afd.shared, i, |sub, cfd| {
                        let un = un.clone();
                        async move { sub.lk(c, &cfd, LockCmd::SetLk, &un).await }
                    })
                    .await;
                }
            }
            return Err(e);
        }
        result.ok_or_else(|| FopError::NotConnected(format!("{}: no child is up", inner.name)))
    }

    async fn inodelk(
        &self,
        c: &Caller,
        domain: &str,
        loc: &Loc,
        cmd: LockCmd,
        lock: &Flock,
    ) -> fop::Result<()> {
        let inner = self.inner();
        let Some(kind) = upper_of_inode(cmd, lock) else {
            let order: Vec<usize> = (0..inner.n()).filter(|&i| inner.is_up(i)).collect();
            return try_in_order(&order, |i| {
                let sub = inner.children[i].clone();
                async move { sub.inodelk(c, domain, loc, cmd, lock).await }
            })
            .await;
        };
        self.upper_lock(kind, |i, k| {
            let sub = inner.children[i].clone();
            async move {
                match k {
                    UpperLock::Try => sub.inodelk(c, domain, loc, LockCmd::SetLk, lock).await,
                    UpperLock::Wait => sub.inodelk(c, domain, loc, LockCmd::SetLkW, lock).await,
                    UpperLock::Unlock => {
                        let mut un = lock.clone();
                        un.l_type = libc::F_UNLCK as u32;
                        sub.inodelk(c, domain, loc, LockCmd::SetLk, &un).await
                    }
                }
            }
        })
        .await
    }

    async fn finodelk(
        &self,
        c: &Caller,
        domain: &str,
        fd: &Fd,
        cmd: LockCmd,
        lock: &Flock,
    ) -> fop::Result<()> {
        // By GFID: the lock belongs to the inode, and bricks resolve it without our fds.
        self.inodelk(c, domain, &Loc::gfid(fd.gfid), cmd, lock)
            .await
    }

    async fn entrylk(
        &self,
        c: &Caller,
        domain: &str,
        loc: &Loc,
        basename: Option<&[u8]>,
        cmd: EntryLockCmd,
        ty: EntryLockType,
    ) -> fop::Result<()> {
        let inner = self.inner();
        let kind = match cmd {
            EntryLockCmd::LockNb => UpperLock::Try,
            EntryLockCmd::Lock => UpperLock::Wait,
            EntryLockCmd::Unlock => UpperLock::Unlock,
        };
        self.upper_lock(kind, |i, k| {
            let sub = inner.children[i].clone();
            async move {
                let cmd = match k {
                    UpperLock::Try => EntryLockCmd::LockNb,
                    UpperLock::Wait => EntryLockCmd::Lock,
                    UpperLock::Unlock => EntryLockCmd::Unlock,
                };
                sub.entrylk(c, domain, loc, basename, cmd, ty).await
            }
        })
        .await
    }

    async fn xattrop(
        &self,
        c: &Caller,
        loc: &Loc,
        op: XattropOp,
        xattrs: &Dict,
    ) -> fop::Result<Dict> {
        let inner = self.inner().clone();
        let r = self
            .metadata_txn(c, loc.gfid, |i| {
                let sub = inner.children[i].clone();
                async move { sub.xattrop(c, loc, op, xattrs).await.map(DictIatt) }
            })
            .await?;
        Ok(r.0)
    }

    async fn fxattrop(
        &self,
        c: &Caller,
        fd: &Fd,
        op: XattropOp,
        xattrs: &Dict,
    ) -> fop::Result<Dict> {
        self.xattrop(c, &Loc::gfid(fd.gfid), op, xattrs).await
    }
}

/// A dict result inside a transaction (no attributes).
struct DictIatt(Dict);

impl entry::HasIatt for DictIatt {
    fn iatt(&self) -> Option<&Iatt> {
        None
    }
}
