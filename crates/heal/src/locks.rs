//! Self-heal's internal locks, taken as AFR takes them (afr-self-heal-common.c
//! `afr_selfheal_inodelk`, `afr_selfheal_tie_breaker_inodelk`, `afr_selfheal_entrylk`,
//! `afr_selfheal_tie_breaker_entrylk`): try every brick at once without blocking; if a brick
//! answers EAGAIN, release what was taken and lock blocking one brick after the other in brick
//! order, so two healers (or a healer and a client) never deadlock. The tie-breaker variants go
//! blocking only when a majority was locked (so of two self-heal daemons racing, the one that lost
//! backs off). Blocking locks are bounded by the brick connection's call timeout (the volume's
//! `network.frame-timeout`).

use bytes::Bytes;
use fop::{Caller, EntryLockCmd, EntryLockType, Flock, Gfid, Loc, LockCmd, Subvolume};
use futures::future::join_all;

use crate::replica::ReplicaSet;

/// Metadata heals lock `[LLONG_MAX-1, ∞)` (afr-self-heal-metadata.c: `LLONG_MAX - 1, 0`).
pub const METADATA_LOCK_START: u64 = (i64::MAX - 1) as u64;

/// What is locked.
#[derive(Debug, Clone)]
pub enum Target {
    /// inodelk on `[start, start+len)`, `len` 0 meaning to the end.
    Inode { gfid: Gfid, start: u64, len: u64 },
    /// entrylk on `name` in directory `dir` (None: the whole directory).
    Entry { dir: Gfid, name: Option<Bytes> },
}

impl Target {
    pub fn whole_inode(gfid: Gfid) -> Self {
        Target::Inode {
            gfid,
            start: 0,
            len: 0,
        }
    }

    pub fn metadata(gfid: Gfid) -> Self {
        Target::Inode {
            gfid,
            start: METADATA_LOCK_START,
            len: 0,
        }
    }

    pub fn dir(dir: Gfid) -> Self {
        Target::Entry { dir, name: None }
    }
}

#[derive(Debug, Clone, Copy)]
enum Mode {
    Try,
    Block,
    Unlock,
}

async fn call(
    sub: &dyn Subvolume,
    c: &Caller,
    domain: &str,
    t: &Target,
    mode: Mode,
) -> fop::Result<()> {
    match t {
        Target::Inode { gfid, start, len } => {
            let (cmd, ty) = match mode {
                Mode::Try => (LockCmd::SetLk, libc::F_WRLCK),
                Mode::Block => (LockCmd::SetLkW, libc::F_WRLCK),
                Mode::Unlock => (LockCmd::SetLk, libc::F_UNLCK),
            };
            let fl = Flock {
                l_type: ty as u32,
                whence: libc::SEEK_SET as u32,
                start: *start,
                len: *len,
                pid: c.pid as u32,
                owner: c.lk_owner.clone(),
            };
            sub.inodelk(c, domain, &Loc::gfid(*gfid), cmd, &fl).await
        }
        Target::Entry { dir, name } => {
            let cmd = match mode {
                Mode::Try => EntryLockCmd::LockNb,
                Mode::Block => EntryLockCmd::Lock,
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

/// Locks held on some bricks of a replica set.
#[derive(Debug, Clone)]
pub struct Held {
    pub domain: String,
    pub target: Target,
    pub locked_on: Vec<bool>,
    /// Another owner holds it and this (tie-breaker) attempt did not wait: another heal of the
    /// same inode is in progress.
    pub busy: bool,
}

impl Held {
    pub fn count(&self) -> usize {
        self.locked_on.iter().filter(|&&l| l).count()
    }

    pub fn all(&self) -> bool {
        self.locked_on.iter().all(|&l| l)
    }

    /// Release on every brick where it is held (errors are logged: a brick that went away has
    /// dropped the lock with the connection).
    pub async fn release(self, rs: &ReplicaSet, c: &Caller) {
        unlock_on(rs, c, &self.domain, &self.target, &self.locked_on).await;
    }
}

async fn unlock_on(rs: &ReplicaSet, c: &Caller, domain: &str, t: &Target, on: &[bool]) {
    let futs = rs
        .bricks
        .iter()
        .enumerate()
        .filter(|(i, _)| on.get(*i).copied().unwrap_or(false))
        .map(|(i, b)| async move {
            if let Err(e) = call(b.subvol.as_ref(), c, domain, t, Mode::Unlock).await {
                tracing::debug!(replica = %rs.name, brick = i, error = %e, "heal unlock failed");
            }
        });
    join_all(futs).await;
}

/// Lock `target` in `domain` on every brick as AFR's self-heal does. With `tie_breaker`, go
/// blocking only if more than half the bricks were locked and some refused.
pub async fn acquire(
    rs: &ReplicaSet,
    c: &Caller,
    domain: &str,
    target: Target,
    tie_breaker: bool,
) -> Held {
    let n = rs.n();
    let tries = join_all(
        rs.bricks
            .iter()
            .map(|b| call(b.subvol.as_ref(), c, domain, &target, Mode::Try)),
    )
    .await;
    let mut locked: Vec<bool> = tries.iter().map(Result::is_ok).collect();
    let eagain = tries
        .iter()
        .any(|r| matches!(r, Err(e) if e.is(libc::EAGAIN)));
    let count = locked.iter().filter(|&&l| l).count();
    let go_blocking = eagain && (!tie_breaker || count > n / 2);
    if go_blocking {
        unlock_on(rs, c, domain, &target, &locked).await;
        for (i, b) in rs.bricks.iter().enumerate() {
            let r = call(b.subvol.as_ref(), c, domain, &target, Mode::Block).await;
            if let Err(e) = &r {
                tracing::debug!(replica = %rs.name, brick = i, error = %e, "heal lock failed");
            }
            locked[i] = r.is_ok();
        }
    }
    Held {
        domain: domain.to_string(),
        target,
        locked_on: locked,
        busy: eagain && !go_blocking,
    }
}
