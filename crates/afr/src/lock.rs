//! Internal locks of transactions (xlators/cluster/afr/src/afr-lk-common.c): non-blocking on all
//! bricks in parallel first; if any brick refuses, release what was taken and lock blocking, one
//! brick after the other in brick order (so two clients cannot deadlock).

use std::sync::Arc;

use bytes::Bytes;
use fop::{Caller, EntryLockCmd, EntryLockType, Flock, FopError, Gfid, Loc, LockCmd};
use futures::future::join_all;

use crate::{timeout_err, Inner};

/// What to lock.
#[derive(Debug, Clone)]
pub enum Lockee {
    /// inodelk on an inode over `[start, start+len)` (len 0 = to the end).
    Inode { gfid: Gfid, start: u64, len: u64 },
    /// entrylk on `name` (None = the whole directory) in directory `dir`.
    Entry { dir: Gfid, name: Option<Bytes> },
}

/// Metadata transactions lock `[LLONG_MAX-1, ∞)` (afr-inode-write.c: `transaction.start =
/// LLONG_MAX - 1; transaction.len = 0`).
pub const METADATA_LOCK_START: u64 = (i64::MAX - 1) as u64;

fn flock(l_type: i16, start: u64, len: u64, owner: &Bytes, pid: i32) -> Flock {
    Flock {
        l_type: l_type as u32,
        whence: libc::SEEK_SET as u32,
        start,
        len,
        pid: pid as u32,
        owner: owner.clone(),
    }
}

impl Lockee {
    async fn call(&self, inner: &Inner, child: usize, c: &Caller, mode: Mode) -> fop::Result<()> {
        let sub = inner
            .children
            .get(child)
            .ok_or(FopError::Errno(libc::EINVAL))?;
        let domain = inner.name.as_str();
        match self {
            Lockee::Inode { gfid, start, len } => {
                let (cmd, ty) = match mode {
                    Mode::TryLock => (LockCmd::SetLk, libc::F_WRLCK),
                    Mode::Lock => (LockCmd::SetLkW, libc::F_WRLCK),
                    Mode::Unlock => (LockCmd::SetLk, libc::F_UNLCK),
                };
                let fl = flock(ty as i16, *start, *len, &c.lk_owner, c.pid);
                sub.inodelk(c, domain, &Loc::gfid(*gfid), cmd, &fl).await
            }
            Lockee::Entry { dir, name } => {
                let cmd = match mode {
                    Mode::TryLock => EntryLockCmd::LockNb,
                    Mode::Lock => EntryLockCmd::Lock,
                    Mode::Unlock => EntryLockCmd::Unlock,
                };
                sub.entrylk(
                    c,
                    domain,
                    &Loc::gfid(*dir),
                    name.as_deref(),
                    cmd,
                    EntryLockType::Write,
                )
                .await
            }
        }
    }

    fn sort_key(&self) -> (Gfid, Bytes) {
        match self {
            Lockee::Inode { gfid, .. } => (*gfid, Bytes::new()),
            Lockee::Entry { dir, name } => (*dir, name.clone().unwrap_or_default()),
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Mode {
    TryLock,
    Lock,
    Unlock,
}

/// Locks held on a set of bricks; release with [`Held::unlock`].
pub struct Held {
    pub lockees: Vec<Lockee>,
    pub caller: Caller,
    /// Bricks on which every lockee is locked.
    pub locked: Vec<bool>,
    /// The errno of a refusal, when some brick refused.
    pub error: Option<FopError>,
    /// Another lock was in the way: taken in the blocking phase, after waiting for it.
    pub waited: bool,
}

impl Held {
    pub async fn unlock(&self, inner: &Inner) {
        unlock_on(inner, &self.lockees, &self.caller, &self.locked).await;
    }

    /// Unlock in the background, for a transaction whose outcome no longer depends on it: a later
    /// lock on the same lockee, ours or another client's, queues behind it at the bricks, and a
    /// lost connection drops it anyway.
    pub fn unlock_behind(self, inner: &Arc<Inner>) {
        let inner = inner.clone();
        tokio::spawn(async move { self.unlock(&inner).await });
    }
}

async fn unlock_on(inner: &Inner, lockees: &[Lockee], c: &Caller, on: &[bool]) {
    let futs = on
        .iter()
        .enumerate()
        .filter(|(_, &l)| l)
        .flat_map(|(i, _)| lockees.iter().map(move |lk| (i, lk)))
        .map(|(i, lk)| async move {
            let r =
                tokio::time::timeout(inner.opts.wait_timeout, lk.call(inner, i, c, Mode::Unlock))
                    .await;
            match r {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    tracing::debug!(afr = %inner.name, child = i, error = %e, "unlock failed")
                }
                Err(_) => tracing::warn!(afr = %inner.name, child = i, "unlock timed out"),
            }
        });
    join_all(futs).await;
}

/// Lock `lockees` (sorted as AFR sorts entry lockees) on the bricks in `on` with lock owner
/// `c.lk_owner`. Returns where they are held; never fails outright (the caller checks quorum).
#[allow(clippy::needless_range_loop)]
pub async fn lock(
    inner: &Arc<Inner>,
    c: &Caller,
    mut lockees: Vec<Lockee>,
    on: &[bool],
) -> fop::Result<Held> {
    lockees.sort_by_key(Lockee::sort_key);
    lockees.dedup_by(|a, b| a.sort_key() == b.sort_key());
    let n = inner.n();
    let wait = inner.opts.wait_timeout;
    // Phase 1: non-blocking, everywhere at once; each brick takes the lockees in order.
    let tries = (0..n).map(|i| {
        let lockees = &lockees;
        async move {
            if !on.get(i).copied().unwrap_or(false) {
                return (0usize, None);
            }
            let mut got = 0;
            for lk in lockees {
                match tokio::time::timeout(wait, lk.call(inner, i, c, Mode::TryLock)).await {
                    Ok(Ok(())) => got += 1,
                    Ok(Err(e)) => return (got, Some(e)),
                    Err(_) => return (got, Some(timeout_err("inodelk", wait))),
                }
            }
            (got, None)
        }
    });
    let results = join_all(tries).await;
    let all_ok = results.iter().enumerate().all(|(i, (got, e))| {
        !on.get(i).copied().unwrap_or(false) || (e.is_none() && *got == lockees.len())
    });
    if all_ok {
        return Ok(Held {
            locked: on.to_vec(),
            lockees,
            caller: c.clone(),
            error: None,
            waited: false,
        });
    }
    let contended = results
        .iter()
        .any(|(_, e)| matches!(e, Some(e) if e.is(libc::EAGAIN) || e.is(libc::EWOULDBLOCK)));
    let first_err = results.iter().find_map(|(_, e)| e.clone());
    let complete: Vec<bool> = results
        .iter()
        .enumerate()
        .map(|(i, (got, e))| {
            on.get(i).copied().unwrap_or(false) && e.is_none() && *got == lockees.len()
        })
        .collect();
    // Release partial locks: on bricks that did not take every lockee, or on all bricks when
    // another client holds a lock somewhere (then everything is retaken blocking, in order).
    let partial = results.iter().enumerate().map(|(i, (got, _))| {
        let lockees = &lockees;
        let release = contended || !complete[i];
        async move {
            if release {
                for lk in lockees.iter().take(*got) {
                    let _ = tokio::time::timeout(wait, lk.call(inner, i, c, Mode::Unlock)).await;
                }
            }
        }
    });
    join_all(partial).await;
    if !contended {
        // Bricks failed (down, error) rather than refused: the transaction goes on with the
        // bricks that granted the locks; quorum is the caller's check.
        return Ok(Held {
            locked: complete,
            lockees,
            caller: c.clone(),
            error: first_err,
            waited: false,
        });
    }
    // Phase 2: blocking, brick after brick in order.
    let mut locked = vec![false; n];
    let mut error = first_err;
    for i in 0..n {
        if !on.get(i).copied().unwrap_or(false) || !inner.is_up(i) {
            continue;
        }
        let mut ok = true;
        let mut took = 0;
        for lk in &lockees {
            match tokio::time::timeout(wait, lk.call(inner, i, c, Mode::Lock)).await {
                Ok(Ok(())) => took += 1,
                Ok(Err(e)) => {
                    error = Some(e);
                    ok = false;
                    break;
                }
                Err(_) => {
                    error = Some(timeout_err("blocking lock", wait));
                    ok = false;
                    break;
                }
            }
        }
        if ok {
            locked[i] = true;
        } else {
            for lk in lockees.iter().take(took) {
                let _ = tokio::time::timeout(wait, lk.call(inner, i, c, Mode::Unlock)).await;
            }
        }
    }
    Ok(Held {
        locked,
        lockees,
        caller: c.clone(),
        error,
        waited: true,
    })
}
