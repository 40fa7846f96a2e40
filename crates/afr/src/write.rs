//! Data transactions: write (first ack), fsync, flush, and the size-changing operations, all inside
//! the inode's eager-lock epoch (afr-inode-write.c).

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use fop::{Caller, Dict, DictValue, Fd, FopError, Loc, PrePost};
use futures::future::join_all;
use tokio::sync::watch;

use crate::inode::{self, BrickOp, EpochGuard, Inflight, InodeCtx};
use crate::{final_error, symmetric_failure, timeout_err, Inner};

/// replicate's fd context: the children's fds and what the application has yet to hear.
pub struct AfrFd {
    pub ctx: Arc<InodeCtx>,
    pub shared: Arc<FdShared>,
}

pub struct FdShared {
    pub flags: i32,
    pub children: Mutex<Vec<Option<Fd>>>,
    /// An acknowledged write that turned out not to be replicated to quorum: reported by the next
    /// fsync or flush.
    pub deferred: Mutex<Option<FopError>>,
    /// The child readdirp reads from (directories).
    pub readdir_child: Mutex<Option<usize>>,
    pub is_dir: bool,
}

impl FdShared {
    pub fn new(flags: i32, children: Vec<Option<Fd>>, is_dir: bool) -> Arc<Self> {
        Arc::new(Self {
            flags,
            children: Mutex::new(children),
            deferred: Mutex::new(None),
            readdir_child: Mutex::new(None),
            is_dir,
        })
    }

    pub fn child(&self, i: usize) -> Option<Fd> {
        self.children
            .lock()
            .ok()
            .and_then(|v| v.get(i).cloned().flatten())
    }

    pub fn set_child(&self, i: usize, fd: Option<Fd>) {
        if let Ok(mut v) = self.children.lock() {
            if let Some(slot) = v.get_mut(i) {
                *slot = fd;
            }
        }
    }

    pub fn opened(&self) -> Vec<bool> {
        self.children
            .lock()
            .map(|v| v.iter().map(Option::is_some).collect())
            .unwrap_or_default()
    }

    pub fn take_deferred(&self) -> Option<FopError> {
        self.deferred.lock().ok().and_then(|mut d| d.take())
    }

    pub fn defer(&self, e: FopError) {
        if let Ok(mut d) = self.deferred.lock() {
            if d.is_none() {
                *d = Some(e);
            }
        }
    }
}

pub fn afr_fd(fd: &Fd) -> fop::Result<&AfrFd> {
    fd.ctx::<AfrFd>()
}

/// Flags for reopening a child fd: no creation or truncation.
fn reopen_flags(flags: i32) -> i32 {
    flags & !(libc::O_CREAT | libc::O_EXCL | libc::O_TRUNC)
}

/// Run `f` on child `i`'s fd; if the fd is missing or stale (EBADF: the brick reconnected), reopen
/// it by GFID once and retry (afr-open.c `afr_fix_open`).
pub async fn with_child_fd<T, F, Fut>(
    inner: &Inner,
    c: &Caller,
    gfid: fop::Gfid,
    shared: &FdShared,
    i: usize,
    f: F,
) -> fop::Result<T>
where
    F: Fn(Arc<dyn fop::Subvolume>, Fd) -> Fut,
    Fut: std::future::Future<Output = fop::Result<T>>,
{
    let sub = inner
        .children
        .get(i)
        .cloned()
        .ok_or(FopError::Errno(libc::EINVAL))?;
    if let Some(fd) = shared.child(i) {
        match f(sub.clone(), fd).await {
            Err(e) if e.is(libc::EBADF) => {}
            other => return other,
        }
    }
    if !inner.is_up(i) {
        return Err(FopError::NotConnected(format!(
            "{}: child {i} is down",
            inner.name
        )));
    }
    let fd = if shared.is_dir {
        sub.opendir(c, &Loc::gfid(gfid)).await?
    } else {
        sub.open(c, &Loc::gfid(gfid), reopen_flags(shared.flags))
            .await?
    };
    shared.set_child(i, Some(fd.clone()));
    f(sub, fd).await
}

/// fsync the children in `on` through `fd`; per child the result (None = not sent).
pub async fn fsync_children(
    inner: &Inner,
    c: &Caller,
    fd: &Fd,
    on: &[bool],
    datasync: bool,
) -> Vec<Option<fop::Result<()>>> {
    let Ok(afd) = afr_fd(fd) else {
        return vec![None; inner.n()];
    };
    let wait = inner.opts.wait_timeout;
    let futs = (0..inner.n()).map(|i| {
        let shared = afd.shared.clone();
        let gfid = fd.gfid;
        async move {
            if !on.get(i).copied().unwrap_or(false) {
                return None;
            }
            let r = tokio::time::timeout(
                wait,
                with_child_fd(inner, c, gfid, &shared, i, |sub, cfd| async move {
                    sub.fsync(c, &cfd, datasync).await
                }),
            )
            .await
            .unwrap_or_else(|_| Err(timeout_err("fsync", wait)));
            Some(r)
        }
    });
    join_all(futs).await
}

/// Which bricks failed in `results` (not counting symmetric failures, which blame nobody).
fn blamed<T>(results: &[Option<fop::Result<T>>]) -> Vec<bool> {
    let units: Vec<Option<fop::Result<()>>> = results
        .iter()
        .map(|r| {
            r.as_ref()
                .map(|x| x.as_ref().map(|_| ()).map_err(Clone::clone))
        })
        .collect();
    if symmetric_failure(&units) {
        return vec![false; results.len()];
    }
    results.iter().map(|r| matches!(r, Some(Err(_)))).collect()
}

/// xdata keys of a WRITE (libglusterfs/src/glusterfs/glusterfs.h).
/// Asked for: whether the brick wrote at its end of file (posix-inode-fd-ops.c `posix_writev`
/// decides it under its write lock: `preop.ia_size == offset || O_APPEND`).
pub const WRITE_IS_APPEND: &str = "glusterfs.write-is-append";
/// Asked for with the lock domain as value: features/locks answers [`INODELK_COUNT`], the granted
/// and blocked inodelks of that domain on the inode (posix.c `pl_set_xdata_response`).
pub const INODELK_DOM_COUNT: &str = "glusterfs.inodelk-dom-count";
pub const INODELK_COUNT: &str = "glusterfs.inodelk-count";
/// Asked for by AFR too; posix answers the inode's active fd count (not used here).
pub const ACTIVE_FD_COUNT: &str = "glusterfs.open-active-fd-count";

/// The request xdata of a replicated write, as afr-inode-write.c `afr_writev` builds it (same
/// keys, types and values: `dict_set_uint32(.., 4)` and the domain string; on the wire
/// newest-first, which is the order here).
pub fn write_request_xdata(domain: &str) -> Dict {
    Dict::new()
        .with(WRITE_IS_APPEND, DictValue::Uint(4))
        .with(INODELK_DOM_COUNT, DictValue::str(domain))
        .with(ACTIVE_FD_COUNT, DictValue::Uint(4))
}

/// What one brick's WRITE reply xdata says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WriteReplyInfo {
    /// The write was at the brick's end of file (or through an O_APPEND fd).
    pub append: bool,
    /// Inodelks granted or blocked in our domain on the inode, when reported.
    pub inodelks: Option<i64>,
}

impl WriteReplyInfo {
    pub fn from_xdata(d: &Dict) -> Self {
        WriteReplyInfo {
            append: d.get_u64(WRITE_IS_APPEND).is_some_and(|v| v != 0),
            inodelks: d.get_i64(INODELK_COUNT),
        }
    }

    /// Another lock than our eager lock is held or waited for (`lock->num_inodelks > 1`).
    pub fn contended(&self) -> bool {
        self.inodelks.is_some_and(|n| n > 1)
    }
}

/// Whether a write leaves no unsynced data behind as far as AFR's durability goes
/// (afr-inode-write.c `afr_process_post_writev`): through an O_SYNC/O_DSYNC fd, or every brick
/// that wrote it says it appended (then self-heal can tell a short copy by its size, so the
/// post-op needs no fsync first).
pub fn write_is_stable(fd_flags: i32, ok_replies: &[WriteReplyInfo]) -> bool {
    fd_flags & (libc::O_SYNC | libc::O_DSYNC) != 0
        || (!ok_replies.is_empty() && ok_replies.iter().all(|r| r.append))
}

/// A replicated write.
pub async fn write(
    inner: &Arc<Inner>,
    c: &Caller,
    fd: &Fd,
    offset: u64,
    data: Bytes,
) -> fop::Result<PrePost> {
    let afd = afr_fd(fd)?;
    inner.check_quorum_up()?;
    let ctx = afd.ctx.clone();
    let wait = inner.opts.wait_timeout;
    let permit = tokio::time::timeout(wait, ctx.bg.clone().acquire_owned())
        .await
        .map_err(|_| timeout_err("waiting for room for background writes", wait))?
        .map_err(|_| FopError::Errno(libc::EIO))?;
    let guard = inode::begin(inner, &ctx, c).await?;
    let targets = guard.targets();
    if !targets.iter().any(|&t| t) {
        return Err(FopError::NotConnected(format!(
            "{}: no brick to write to",
            inner.name
        )));
    }
    let n = inner.n();
    // With O_APPEND each brick writes at its own end of file, whatever the offset says: every
    // append depends on all earlier writes, so it covers the whole file for ordering.
    let (offset_key, end) = if fd.flags & libc::O_APPEND != 0 {
        (0, u64::MAX)
    } else {
        (offset, offset.saturating_add(data.len() as u64))
    };
    // Register the write and collect, per brick, the earlier overlapping writes it must follow.
    let (op, deps) = {
        let mut st = ctx.lock();
        let id = InodeCtx::next_id(&mut st);
        let bricks: Vec<watch::Sender<BrickOp>> = (0..n)
            .map(|i| {
                watch::channel(if targets[i] {
                    BrickOp::Pending
                } else {
                    BrickOp::NotSent
                })
                .0
            })
            .collect();
        let mut deps: Vec<Vec<watch::Receiver<BrickOp>>> = vec![Vec::new(); n];
        for prev in st.inflight.iter().filter(|o| o.overlaps(offset_key, end)) {
            for (i, d) in deps.iter_mut().enumerate() {
                if targets[i] && prev.state(i) == BrickOp::Pending {
                    if let Some(s) = prev.bricks.get(i) {
                        d.push(s.subscribe());
                    }
                }
            }
        }
        let op = Arc::new(Inflight {
            id,
            epoch: guard.id,
            start: offset_key,
            end,
            bricks,
        });
        st.inflight.push(op.clone());
        (op, deps)
    };
    // One task per brick, independent of this caller (which may return at the first ack).
    let (res_tx, mut res_rx) =
        tokio::sync::mpsc::channel::<(usize, fop::Result<(PrePost, Dict)>)>(n.max(1));
    let xreq = Arc::new(write_request_xdata(&inner.name));
    for (i, deps) in deps.into_iter().enumerate() {
        if !targets[i] {
            continue;
        }
        let (inner2, c2, shared, data2, tx, op2, xreq) = (
            inner.clone(),
            c.clone(),
            afd.shared.clone(),
            data.clone(),
            res_tx.clone(),
            op.clone(),
            xreq.clone(),
        );
        let gfid = fd.gfid;
        tokio::spawn(async move {
            for mut d in deps {
                let _ = tokio::time::timeout(wait, d.wait_for(|s| *s != BrickOp::Pending)).await;
            }
            let r = tokio::time::timeout(
                wait,
                with_child_fd(&inner2, &c2, gfid, &shared, i, |sub, cfd| {
                    let data = data2.clone();
                    let (c, xreq) = (&c2, &xreq);
                    async move { sub.write_xdata(c, &cfd, offset, data, xreq).await }
                }),
            )
            .await
            .unwrap_or_else(|_| Err(timeout_err("write", wait)));
            if let Err(e) = &r {
                tracing::warn!(afr = %inner2.name, child = i, %gfid, error = %e, "write failed on a brick");
            }
            if let Some(s) = op2.bricks.get(i) {
                s.send_replace(if r.is_ok() {
                    BrickOp::Ok
                } else {
                    BrickOp::Failed
                });
            }
            let _ = tx.send((i, r)).await;
        });
    }
    drop(res_tx);
    // Completion: collect every brick's answer, then record it in the epoch.
    let (ack_tx, ack_rx) = tokio::sync::oneshot::channel::<fop::Result<PrePost>>();
    let first_ack = inner.opts.first_ack;
    let inner2 = inner.clone();
    let shared = afd.shared.clone();
    let fd2 = fd.clone();
    tokio::spawn(async move {
        let mut results: Vec<Option<fop::Result<PrePost>>> = vec![None; n];
        let mut infos: Vec<WriteReplyInfo> = Vec::with_capacity(n);
        let mut ack_tx = Some(ack_tx);
        while let Some((i, r)) = res_rx.recv().await {
            let r = r.map(|(pp, x)| {
                infos.push(WriteReplyInfo::from_xdata(&x));
                pp
            });
            if first_ack && r.is_ok() {
                if let (Some(tx), Ok(pp)) = (ack_tx.take(), &r) {
                    let _ = tx.send(Ok(pp.clone()));
                }
            }
            if let Some(slot) = results.get_mut(i) {
                *slot = Some(r);
            }
        }
        let unstable = !write_is_stable(fd2.flags, &infos);
        if infos.iter().any(WriteReplyInfo::contended) {
            inode::close_contended(&guard.ctx, guard.id);
        }
        let ok: Vec<bool> = results.iter().map(|r| matches!(r, Some(Ok(_)))).collect();
        let failed = blamed(&results);
        let quorum_ok = !inner2.opts.quorum.enabled() || inner2.quorum_met(&ok);
        let any_ok = ok.iter().any(|&o| o);
        let outcome: fop::Result<PrePost> = if any_ok && quorum_ok {
            let first = results.iter().find_map(|r| match r {
                Some(Ok(pp)) => Some(pp.clone()),
                _ => None,
            });
            first.ok_or(FopError::Errno(libc::EIO))
        } else if any_ok {
            // afr_handle_quorum: the bricks' own error first (ENOSPC on full bricks), ENOTCONN
            // when they only went away.
            Err(brick_error(&results).unwrap_or_else(|| {
                FopError::NotConnected(format!(
                    "{}: write reached {} of {} bricks, below quorum",
                    inner2.name,
                    ok.iter().filter(|&&o| o).count(),
                    n
                ))
            }))
        } else {
            Err(final_error(
                results
                    .iter()
                    .filter_map(|r| r.as_ref().and_then(|x| x.as_ref().err())),
            )
            .unwrap_or(FopError::Errno(libc::EIO)))
        };
        if !quorum_ok && any_ok {
            // AFR fails such a write and leaves only dirty markers (afr_handle_quorum).
            inode::record(
                &inner2,
                &guard.ctx,
                guard.id,
                &[],
                true,
                unstable,
                Some(&fd2),
            );
            if ack_tx.is_none() {
                // Already acknowledged: the application hears it at fsync/close.
                if let Err(e) = &outcome {
                    shared.defer(e.clone());
                }
            }
        } else {
            guard.record(&failed, unstable, Some(&fd2));
        }
        if let Some(tx) = ack_tx.take() {
            let _ = tx.send(outcome);
        }
        {
            let mut st = guard.ctx.lock();
            st.inflight.retain(|o| o.id != op.id);
            st.last_write_done = Some(tokio::time::Instant::now());
        }
        guard.ctx.notify();
        drop(permit);
        drop(guard);
    });
    match tokio::time::timeout(wait, ack_rx).await {
        Ok(Ok(r)) => r,
        Ok(Err(_)) => Err(FopError::Errno(libc::EIO)),
        Err(_) => Err(timeout_err("write", wait)),
    }
}

/// fsync: every background write of the inode done on every reachable brick, then fsync all.
pub async fn fsync(inner: &Arc<Inner>, c: &Caller, fd: &Fd, datasync: bool) -> fop::Result<()> {
    let afd = afr_fd(fd)?;
    let ctx = afd.ctx.clone();
    inode::drain(inner, &ctx).await?;
    if let Some(e) = afd.shared.take_deferred() {
        return Err(e);
    }
    inner.check_quorum_up()?;
    let guard = inode::begin(inner, &ctx, c).await?;
    let targets = guard.targets();
    let res = fsync_children(inner, c, fd, &targets, datasync).await;
    let ok: Vec<bool> = res.iter().map(|r| matches!(r, Some(Ok(())))).collect();
    guard.record(&blamed(&res), false, Some(fd));
    if let Some(e) = afd.shared.take_deferred() {
        return Err(e);
    }
    if !ok.iter().any(|&o| o) {
        return Err(final_error(
            res.iter()
                .filter_map(|r| r.as_ref().and_then(|x| x.as_ref().err())),
        )
        .unwrap_or_else(|| {
            FopError::NotConnected(format!("{}: fsync reached no brick", inner.name))
        }));
    }
    if inner.opts.quorum.enabled() && !inner.quorum_met(&ok) {
        guard.mark_quorum_lost();
        return Err(FopError::NotConnected(format!(
            "{}: fsync below quorum",
            inner.name
        )));
    }
    if ok == targets {
        inode::mark_synced(&ctx, guard.id);
    }
    Ok(())
}

/// flush (close): every background write answered by every brick, then flush on every brick.
/// The eager lock is closed and its post-op and unlock run behind (release waits for them): what
/// close promises is the data on all reachable bricks, which the markers do not change. GlusterFS
/// also returns close before the post-op (write-behind's flush-behind sends AFR's flush, which
/// wakes the delayed post-op, in the background).
pub async fn flush(inner: &Arc<Inner>, c: &Caller, fd: &Fd) -> fop::Result<()> {
    let afd = afr_fd(fd)?;
    let ctx = afd.ctx.clone();
    let settled = inode::settle_writes(inner, &ctx).await;
    let opened = afd.shared.opened();
    let wait = inner.opts.wait_timeout;
    let futs = (0..inner.n()).map(|i| {
        let shared = afd.shared.clone();
        let go = opened.get(i).copied().unwrap_or(false);
        async move {
            if !go || !inner.is_up(i) {
                return None;
            }
            let cfd = shared.child(i)?;
            let sub = inner.children.get(i)?.clone();
            Some(
                tokio::time::timeout(wait, sub.flush(c, &cfd))
                    .await
                    .unwrap_or_else(|_| Err(timeout_err("flush", wait))),
            )
        }
    });
    let res = join_all(futs).await;
    if let Some(e) = afd.shared.take_deferred() {
        return Err(e);
    }
    settled?;
    if res.iter().flatten().any(Result::is_ok) || res.iter().all(Option::is_none) {
        Ok(())
    } else {
        Err(
            final_error(res.iter().flatten().filter_map(|r| r.as_ref().err()))
                .unwrap_or(FopError::Errno(libc::EIO)),
        )
    }
}

/// A size-changing data operation (truncate, fallocate, discard, zerofill): inside the epoch,
/// after all background writes, on every brick, waiting for all.
pub async fn data_op<F, Fut>(
    inner: &Arc<Inner>,
    c: &Caller,
    ctx: &Arc<InodeCtx>,
    op: F,
) -> fop::Result<PrePost>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = fop::Result<PrePost>>,
{
    inner.check_quorum_up()?;
    let guard: EpochGuard = inode::begin(inner, ctx, c).await?;
    inode::drain(inner, ctx).await?;
    let targets = guard.targets();
    let wait = inner.opts.wait_timeout;
    let futs = (0..inner.n()).map(|i| {
        let t = targets.get(i).copied().unwrap_or(false);
        let f = &op;
        async move {
            if !t {
                return None;
            }
            Some(
                tokio::time::timeout(wait, f(i))
                    .await
                    .unwrap_or_else(|_| Err(timeout_err("data operation", wait))),
            )
        }
    });
    let res: Vec<Option<fop::Result<PrePost>>> = join_all(futs).await;
    let ok: Vec<bool> = res.iter().map(|r| matches!(r, Some(Ok(_)))).collect();
    let failed = blamed(&res);
    if inner.opts.quorum.enabled() && ok.iter().any(|&o| o) && !inner.quorum_met(&ok) {
        guard.mark_quorum_lost();
        return Err(brick_error(&res).unwrap_or_else(|| {
            FopError::NotConnected(format!("{}: operation below quorum", inner.name))
        }));
    }
    guard.record(&failed, true, None);
    {
        let mut st = ctx.lock();
        st.readable = None;
    }
    let first = res.iter().find_map(|r| match r {
        Some(Ok(pp)) => Some(pp.clone()),
        _ => None,
    });
    match first {
        Some(pp) => Ok(pp),
        None => Err(final_error(
            res.iter()
                .filter_map(|r| r.as_ref().and_then(|x| x.as_ref().err())),
        )
        .unwrap_or(FopError::Errno(libc::EIO))),
    }
}

/// The errno the bricks that failed gave, unless they only failed by not being reachable.
fn brick_error<T>(results: &[Option<fop::Result<T>>]) -> Option<FopError> {
    final_error(
        results
            .iter()
            .filter_map(|r| r.as_ref().and_then(|x| x.as_ref().err())),
    )
    .filter(|e| {
        !matches!(e, FopError::NotConnected(_))
            && !e.is(libc::ENOTCONN)
            && !e.is(libc::ETIMEDOUT)
            && !e.is(libc::EBADF)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proto::fops::{TwoIattRsp, WriteReq};
    use proto::Body;

    /// Bytes of a hex fixture (lines starting with `#` are comments).
    fn hex(text: &str) -> Bytes {
        let digits: String = text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .flat_map(|l| l.chars().filter(|c| c.is_ascii_hexdigit()))
            .collect();
        let bytes: Vec<u8> = (0..digits.len() / 2)
            .map(|i| u8::from_str_radix(&digits[2 * i..2 * i + 2], 16).unwrap())
            .collect();
        Bytes::from(bytes)
    }

    /// Our WRITE request xdata is byte for byte what the C AFR sends.
    #[test]
    fn request_xdata_matches_the_c_client() {
        let want = hex(include_str!("../tests/data/c-write-call.hex"));
        let req = WriteReq {
            gfid: fop::Gfid::from_slice(&want[..16]).unwrap(),
            fd: 0,
            offset: 0,
            flag: 0o100001,
            xdata: Some(write_request_xdata("ref-replicate-0")),
            data: Bytes::from_static(b"hello\n"),
        };
        assert_eq!(req.xdr_bytes(), want);
    }

    /// A real brick reply: appended, one inodelk (the writer's own) in the domain.
    #[test]
    fn brick_reply_xdata() {
        let body = hex(include_str!("../tests/data/c-write-reply.hex"));
        let r = TwoIattRsp::decode_body(body).unwrap();
        assert_eq!(r.op_ret, 6);
        let info = WriteReplyInfo::from_xdata(&r.xdata.unwrap());
        assert_eq!(
            info,
            WriteReplyInfo {
                append: true,
                inodelks: Some(1)
            }
        );
        assert!(!info.contended());
        assert!(write_is_stable(0, &[info, info, info]));
    }

    #[test]
    fn stability_and_contention() {
        let app = WriteReplyInfo {
            append: true,
            inodelks: Some(1),
        };
        let over = WriteReplyInfo {
            append: false,
            inodelks: Some(2),
        };
        let silent = WriteReplyInfo::from_xdata(&Dict::new());
        assert_eq!(silent, WriteReplyInfo::default());
        assert!(!silent.contended());
        assert!(over.contended());
        assert!(!write_is_stable(libc::O_WRONLY, &[app, over]));
        assert!(!write_is_stable(libc::O_WRONLY, &[app, silent]));
        assert!(!write_is_stable(libc::O_WRONLY, &[]));
        assert!(write_is_stable(libc::O_WRONLY | libc::O_DSYNC, &[over]));
        assert!(write_is_stable(libc::O_RDWR | libc::O_SYNC, &[silent]));
        // Text values (an old-style dict) count as well.
        let mut d = Dict::new();
        d.set_str(WRITE_IS_APPEND, "1");
        d.set_str(INODELK_COUNT, "3");
        assert_eq!(
            WriteReplyInfo::from_xdata(&d),
            WriteReplyInfo {
                append: true,
                inodelks: Some(3)
            }
        );
    }
}
