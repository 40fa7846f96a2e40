//! Per-inode state: the cached readable set, the eager-lock *epoch* of data transactions, and the
//! writes still running on some brick (first ack).
//!
//! An epoch is AFR's eager lock with delayed post-op (afr-transaction.c `__afr_eager_lock_handle`,
//! `afr_changelog_post_op`, `afr_delayed_changelog_wake_up_cbk`): taken by the first data
//! operation (inodelk + pre-op), joined by the following ones, and released (post-op + unlock) when
//! idle for `post_op_delay`, on contention, after a brick failed, or on flush/release.
//!
//! Contention (another client waits for the inodelk: an `INODELK_CONTENTION` callback, or a write
//! reply counting more than our lock in the domain) *closes* the epoch, as AFR's `lock->release`
//! does: no further operation joins it; operations arriving meanwhile wait; the epoch finishes
//! the ones it has, does its post-op and unlocks; the waiting ones then take a new lock, which the
//! brick queues behind the other client's. A contention that arrives while the lock is still being
//! taken (the other client asked while we were queued or locking brick after brick) is kept: the
//! new epoch then admits only the operations already waiting for it (AFR's `lock->waiting` list
//! woken at once by `__afr_transaction_wake_shared`) and closes after them, so both clients make
//! progress instead of the one streaming writes keeping the lock.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use bytes::Bytes;
use fop::{Caller, Fd, FopError, Gfid};
use tokio::sync::{watch, Notify, Semaphore};

use crate::changelog::{post_op_blame, Counters, Readable, TxnType};
use crate::changelog_io::{succeeded, xattrop_via};
use crate::lock::{self, Lockee};
use crate::{timeout_err, Inner};

/// The state of one brick's part of a background write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BrickOp {
    NotSent,
    Pending,
    Ok,
    Failed,
}

/// A write (or other data modification) that some brick has not answered yet.
pub struct Inflight {
    pub id: u64,
    pub epoch: u64,
    pub start: u64,
    /// Exclusive end; `u64::MAX` for "everything".
    pub end: u64,
    pub bricks: Vec<watch::Sender<BrickOp>>,
}

impl Inflight {
    pub fn overlaps(&self, start: u64, end: u64) -> bool {
        self.start < end && start < self.end
    }

    pub fn state(&self, i: usize) -> BrickOp {
        self.bricks
            .get(i)
            .map(|s| *s.borrow())
            .unwrap_or(BrickOp::NotSent)
    }
}

/// A cached readable set and the event generation it was computed in.
#[derive(Debug, Clone)]
pub struct Cached {
    pub readable: Readable,
    pub gen: u64,
}

pub struct Epoch {
    pub id: u64,
    pub locked: Vec<bool>,
    /// Bricks where the pre-op (dirty +1) succeeded: the ones operations go to.
    pub participating: Vec<bool>,
    /// Bricks to blame at the post-op: not participating, or failed an operation.
    pub failed: Vec<bool>,
    pub conn_gens: Vec<u64>,
    pub event_gen: u64,
    pub users: usize,
    /// Closed: no operation joins any more; post-op and unlock once `users` is 0.
    pub release: bool,
    /// Contended while being taken: how many more operations may still join (those that were
    /// waiting when it was installed); the epoch closes when this reaches 0.
    pub admit: Option<usize>,
    pub last_activity: Instant,
    pub timer_armed: bool,
    /// Writes since the last successful fsync (ensure-durability).
    pub unstable: bool,
    /// An operation of this epoch did not reach quorum: no post-op, dirty stays.
    pub quorum_lost: bool,
    /// An open fd of the inode, for the durability fsync before the post-op.
    pub sync_fd: Option<Fd>,
    pub caller: Caller,
}

impl Epoch {
    /// Bricks operations of this epoch go to now.
    pub fn targets(&self) -> Vec<bool> {
        self.participating
            .iter()
            .zip(&self.failed)
            .map(|(&p, &f)| p && !f)
            .collect()
    }
}

pub enum EpochState {
    None,
    Acquiring,
    Held(Epoch),
    Releasing(Epoch),
}

pub struct State {
    pub readable: Option<Cached>,
    pub epoch: EpochState,
    pub inflight: Vec<Arc<Inflight>>,
    /// When the last write of the inode finished on every brick (lookups that started before
    /// may have read a brick that did not have it yet).
    pub last_write_done: Option<tokio::time::Instant>,
    next_id: u64,
    /// Operations inside [`begin`] that have not joined an epoch yet.
    waiting: usize,
    /// Another client asked for the lock while ours was being acquired.
    contended: bool,
    /// Bricks where we created this file already marked dirty for data (the first write's
    /// pre-op, done by the create: `Afr::born_dirty` in subvol.rs); taken by the first epoch (and
    /// put back if it fails), or cleared at release when no write came.
    pub born_dirty: Option<Vec<bool>>,
}

impl State {
    /// Join the held epoch if it admits operations; Some(epoch id) when joined.
    fn try_join(&mut self, gen: u64, eager_lock: bool) -> Option<u64> {
        let EpochState::Held(e) = &mut self.epoch else {
            return None;
        };
        if !e.release && e.event_gen != gen {
            // A brick went or came back: finish this epoch so the next one includes exactly
            // the bricks up now (afr __need_previous_lock_unlocked).
            e.release = true;
        }
        if e.release {
            return None;
        }
        e.users += 1;
        e.last_activity = Instant::now();
        if let Some(k) = &mut e.admit {
            *k = k.saturating_sub(1);
            if *k == 0 {
                e.release = true;
            }
        }
        if !eager_lock {
            e.release = true;
        }
        Some(e.id)
    }

    /// No epoch: one is being taken now (lock + pre-op); its id.
    fn start_acquiring(&mut self) -> u64 {
        self.epoch = EpochState::Acquiring;
        self.contended = false;
        InodeCtx::next_id(self)
    }

    /// Install a newly acquired epoch. A contention seen while acquiring it limits it to the
    /// operations waiting now. Returns whether it must be released at once (nobody to admit).
    fn install(&mut self, mut e: Epoch) -> bool {
        if std::mem::take(&mut self.contended) {
            if self.waiting == 0 {
                e.release = true;
            } else {
                e.admit = Some(self.waiting);
            }
        }
        let release = e.release && e.users == 0;
        self.epoch = EpochState::Held(e);
        release
    }

    /// Contention or flush: close the held epoch (true when it is idle and can be released now);
    /// while a lock is being acquired, remember it for the new epoch.
    fn close(&mut self) -> bool {
        match &mut self.epoch {
            EpochState::Held(e) => {
                e.release = true;
                e.users == 0
            }
            EpochState::Acquiring => {
                self.contended = true;
                false
            }
            EpochState::None | EpochState::Releasing(_) => false,
        }
    }
}

pub struct InodeCtx {
    pub gfid: Gfid,
    /// Lock owner of this inode's data and metadata transactions (AFR: the inode pointer).
    pub owner: Bytes,
    st: Mutex<State>,
    pub changed: Notify,
    /// Room for background writes.
    pub bg: Arc<Semaphore>,
    /// This client's open fds of the inode: data changelogs go through them (fxattrop, as AFR
    /// does with `local->fd`), so a file whose last name is gone can still be written.
    fds: Mutex<Vec<std::sync::Weak<crate::write::FdShared>>>,
}

impl InodeCtx {
    pub fn new(gfid: Gfid, owner: Bytes, max_background: usize) -> Self {
        Self {
            gfid,
            owner,
            st: Mutex::new(State {
                readable: None,
                epoch: EpochState::None,
                inflight: Vec::new(),
                last_write_done: None,
                next_id: 1,
                waiting: 0,
                contended: false,
                born_dirty: None,
            }),
            changed: Notify::new(),
            bg: Arc::new(Semaphore::new(max_background.max(1))),
            fds: Mutex::new(Vec::new()),
        }
    }

    /// Note an fd opened on this inode.
    pub fn add_fd(&self, fd: &Arc<crate::write::FdShared>) {
        let mut v = self.fds.lock().unwrap_or_else(|p| p.into_inner());
        v.retain(|w| w.strong_count() > 0);
        v.push(Arc::downgrade(fd));
    }

    /// Per child, an open fd of this inode on it, if any.
    pub fn child_fds(&self, n: usize) -> Vec<Option<Fd>> {
        let v = self.fds.lock().unwrap_or_else(|p| p.into_inner());
        let live: Vec<Arc<crate::write::FdShared>> = v.iter().filter_map(|w| w.upgrade()).collect();
        (0..n)
            .map(|i| live.iter().find_map(|s| s.child(i)))
            .collect()
    }

    pub fn lock(&self) -> MutexGuard<'_, State> {
        match self.st.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    pub fn is_idle(&self) -> bool {
        let st = self.lock();
        matches!(st.epoch, EpochState::None) && st.inflight.is_empty()
    }

    pub fn inflight_count(&self) -> usize {
        self.lock().inflight.len()
    }

    pub fn next_id(st: &mut State) -> u64 {
        st.next_id += 1;
        st.next_id
    }

    /// Bricks that have applied every running write overlapping `[start, end)`, and whether some
    /// overlapping write is still pending on a brick.
    pub fn fresh(&self, n: usize, start: u64, end: u64) -> (Vec<bool>, bool) {
        let st = self.lock();
        let mut fresh = vec![true; n];
        let mut pending = false;
        for op in st.inflight.iter().filter(|o| o.overlaps(start, end)) {
            for (i, f) in fresh.iter_mut().enumerate() {
                match op.state(i) {
                    BrickOp::Ok => {}
                    BrickOp::Pending => {
                        *f = false;
                        pending = true;
                    }
                    BrickOp::NotSent | BrickOp::Failed => *f = false,
                }
            }
        }
        (fresh, pending)
    }

    /// Bricks blamed in the current epoch (their copy is behind).
    pub fn epoch_failed(&self, n: usize) -> Vec<bool> {
        let st = self.lock();
        match &st.epoch {
            EpochState::Held(e) | EpochState::Releasing(e) => e.failed.clone(),
            _ => vec![false; n],
        }
    }

    pub fn notify(&self) {
        self.changed.notify_waiters();
    }
}

/// Wait until `cond` holds on the inode state, re-checking on every change, until `deadline`.
pub async fn wait_until(
    ctx: &InodeCtx,
    deadline: tokio::time::Instant,
    what: &str,
    mut cond: impl FnMut(&State) -> bool,
) -> fop::Result<()> {
    loop {
        let notified = ctx.changed.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if cond(&ctx.lock()) {
            return Ok(());
        }
        if tokio::time::timeout_at(deadline, notified).await.is_err() {
            return Err(FopError::Timeout(format!("{what}: gave up waiting")));
        }
    }
}

/// Holding a place in an epoch; leaving it may start the idle timer or the release.
pub struct EpochGuard {
    inner: Arc<Inner>,
    pub ctx: Arc<InodeCtx>,
    pub id: u64,
}

impl EpochGuard {
    /// Bricks operations go to now (participating, not failed, connection unchanged since the
    /// lock); bricks whose connection changed are marked failed.
    pub fn targets(&self) -> Vec<bool> {
        let gens = self.inner.conn_gens();
        let mut st = self.ctx.lock();
        match &mut st.epoch {
            EpochState::Held(e) | EpochState::Releasing(e) if e.id == self.id => {
                for i in 0..e.failed.len() {
                    if e.participating[i] && !e.failed[i] && e.conn_gens.get(i) != gens.get(i) {
                        tracing::info!(afr = %self.inner.name, child = i, "connection changed under the eager lock");
                        e.failed[i] = true;
                        e.release = true;
                    }
                }
                e.targets()
            }
            _ => vec![false; self.inner.n()],
        }
    }

    /// Record the outcome of an operation on the bricks (`results[i]` None = not sent).
    pub fn record(&self, failed: &[bool], unstable: bool, sync_fd: Option<&Fd>) {
        record(
            &self.inner,
            &self.ctx,
            self.id,
            failed,
            false,
            unstable,
            sync_fd,
        );
    }

    pub fn mark_quorum_lost(&self) {
        record(&self.inner, &self.ctx, self.id, &[], true, false, None);
    }
}

impl Drop for EpochGuard {
    fn drop(&mut self) {
        let mut st = self.ctx.lock();
        let mut arm = false;
        let mut release = false;
        if let EpochState::Held(e) = &mut st.epoch {
            if e.id == self.id {
                e.users = e.users.saturating_sub(1);
                e.last_activity = Instant::now();
                if e.users == 0 {
                    if e.release {
                        release = true;
                    } else if !e.timer_armed {
                        e.timer_armed = true;
                        arm = true;
                    }
                }
            }
        }
        if release {
            start_release(&self.inner, &self.ctx, &mut st);
        }
        drop(st);
        if arm {
            if let Ok(h) = tokio::runtime::Handle::try_current() {
                h.spawn(idle_timer(self.inner.clone(), self.ctx.clone(), self.id));
            }
        }
        self.ctx.notify();
    }
}

/// Record results into epoch `id` (held or releasing).
pub fn record(
    inner: &Arc<Inner>,
    ctx: &Arc<InodeCtx>,
    id: u64,
    failed: &[bool],
    quorum_lost: bool,
    unstable: bool,
    sync_fd: Option<&Fd>,
) {
    let mut st = ctx.lock();
    let mut release = false;
    if let EpochState::Held(e) | EpochState::Releasing(e) = &mut st.epoch {
        if e.id == id {
            for (i, &f) in failed.iter().enumerate() {
                if f && e.participating.get(i).copied().unwrap_or(false) && !e.failed[i] {
                    e.failed[i] = true;
                    e.release = true;
                }
            }
            if quorum_lost {
                e.quorum_lost = true;
                e.release = true;
            }
            if unstable {
                e.unstable = true;
            }
            if let Some(fd) = sync_fd {
                e.sync_fd = Some(fd.clone());
            }
            e.last_activity = Instant::now();
            release = e.release && e.users == 0;
        }
    }
    if release {
        start_release(inner, ctx, &mut st);
    }
    drop(st);
    ctx.notify();
}

/// Close epoch `id` (if still held) because another client waits for the lock: a write reply
/// counted more inodelks in our domain than ours (afr-transaction.c
/// `afr_are_conflicting_ops_waiting`: `lock->num_inodelks > 1`).
pub fn close_contended(ctx: &InodeCtx, id: u64) {
    let mut st = ctx.lock();
    if let EpochState::Held(e) = &mut st.epoch {
        if e.id == id && !e.release {
            e.release = true;
            tracing::debug!(gfid = %ctx.gfid, "inodelk waiters counted by a brick; closing the eager lock");
        }
    }
}

/// Mark the data fsync done: no unstable writes left.
pub fn mark_synced(ctx: &InodeCtx, id: u64) {
    let mut st = ctx.lock();
    if let EpochState::Held(e) = &mut st.epoch {
        if e.id == id {
            e.unstable = false;
        }
    }
}

/// Ask for the eager lock of `ctx` to be released as soon as its running operations are done
/// (contention, flush); see the module docs for a lock still being acquired.
pub fn request_release(inner: &Arc<Inner>, ctx: &Arc<InodeCtx>) {
    let mut st = ctx.lock();
    if st.close() {
        start_release(inner, ctx, &mut st);
    }
    drop(st);
    ctx.notify();
}

fn start_release(inner: &Arc<Inner>, ctx: &Arc<InodeCtx>, st: &mut State) {
    let prev = std::mem::replace(&mut st.epoch, EpochState::None);
    match prev {
        EpochState::Held(e) => {
            let id = e.id;
            st.epoch = EpochState::Releasing(e);
            match tokio::runtime::Handle::try_current() {
                Ok(h) => {
                    h.spawn(release_epoch(inner.clone(), ctx.clone(), id));
                }
                Err(_) => tracing::error!(afr = %inner.name, "no runtime to release an eager lock"),
            }
        }
        other => st.epoch = other,
    }
}

async fn idle_timer(inner: Arc<Inner>, ctx: Arc<InodeCtx>, id: u64) {
    let delay = inner.opts.post_op_delay;
    loop {
        tokio::time::sleep(delay).await;
        let mut st = ctx.lock();
        let busy = st.inflight.iter().any(|o| o.epoch == id);
        let EpochState::Held(e) = &mut st.epoch else {
            return;
        };
        if e.id != id {
            return;
        }
        if e.users > 0 {
            // The last user to leave re-arms the timer.
            e.timer_armed = false;
            return;
        }
        if busy {
            continue;
        }
        if e.release || e.last_activity.elapsed() >= delay {
            e.release = true;
            start_release(&inner, &ctx, &mut st);
            drop(st);
            ctx.notify();
            return;
        }
    }
}

/// Counts a [`begin`] caller in [`State::waiting`] until it joins or gives up (also when its
/// future is dropped).
struct WaitMark<'a> {
    ctx: &'a InodeCtx,
    active: bool,
}

impl Drop for WaitMark<'_> {
    fn drop(&mut self) {
        if self.active {
            let mut st = self.ctx.lock();
            st.waiting = st.waiting.saturating_sub(1);
        }
    }
}

/// Join the inode's epoch, taking the lock and doing the pre-op if there is none.
pub async fn begin(inner: &Arc<Inner>, ctx: &Arc<InodeCtx>, c: &Caller) -> fop::Result<EpochGuard> {
    let deadline = tokio::time::Instant::now() + inner.opts.wait_timeout;
    let mut mark = WaitMark { ctx, active: false };
    loop {
        let notified = ctx.changed.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let mut spawn_acquire = None;
        {
            let mut st = ctx.lock();
            if !mark.active {
                st.waiting += 1;
                mark.active = true;
            }
            if let Some(id) = st.try_join(inner.event_gen(), inner.opts.eager_lock) {
                st.waiting = st.waiting.saturating_sub(1);
                mark.active = false;
                return Ok(EpochGuard {
                    inner: inner.clone(),
                    ctx: ctx.clone(),
                    id,
                });
            }
            let mut release_now = false;
            match &st.epoch {
                EpochState::Held(e) => release_now = e.users == 0,
                EpochState::Acquiring | EpochState::Releasing(_) => {}
                EpochState::None => spawn_acquire = Some(st.start_acquiring()),
            }
            if release_now {
                start_release(inner, ctx, &mut st);
            }
        }
        if let Some(id) = spawn_acquire {
            // In its own task, so a cancelled caller cannot leave the state stuck in Acquiring.
            let (inner2, ctx2, c2) = (inner.clone(), ctx.clone(), c.clone());
            let h = tokio::spawn(async move { acquire(&inner2, &ctx2, &c2, id).await });
            match h.await {
                Ok(Ok(())) => continue,
                Ok(Err(e)) => return Err(e),
                Err(e) => return Err(FopError::Protocol(format!("lock task failed: {e}"))),
            }
        }
        if tokio::time::timeout_at(deadline, notified).await.is_err() {
            return Err(timeout_err(
                "waiting for the eager lock",
                inner.opts.wait_timeout,
            ));
        }
    }
}

/// Start taking the inode's eager lock and pre-op in the background when no epoch exists, for
/// writes expected soon ([`fop::Subvolume::prepare_write`]): the first write then finds it held or
/// on its way. Nobody joining, it is released after `post-op-delay` like any idle epoch; a flush
/// meanwhile releases it as soon as it is installed.
pub fn prepare(inner: &Arc<Inner>, ctx: &Arc<InodeCtx>, c: &Caller) {
    if !inner.opts.eager_lock || inner.check_quorum_up().is_err() {
        return;
    }
    let id = {
        let mut st = ctx.lock();
        if !matches!(st.epoch, EpochState::None) {
            return;
        }
        st.start_acquiring()
    };
    let (inner2, ctx2, c2) = (inner.clone(), ctx.clone(), c.clone());
    let spawned = tokio::runtime::Handle::try_current().map(|h| {
        h.spawn(async move {
            if let Err(e) = acquire(&inner2, &ctx2, &c2, id).await {
                tracing::debug!(afr = %inner2.name, gfid = %ctx2.gfid, error = %e, "eager lock ahead of writes failed");
            }
        })
    });
    if spawned.is_err() {
        ctx.lock().epoch = EpochState::None;
    }
}

/// Lock + pre-op for a new epoch; installs it (with no users) or resets the state on failure.
async fn acquire(inner: &Arc<Inner>, ctx: &Arc<InodeCtx>, c: &Caller, id: u64) -> fop::Result<()> {
    let r = acquire_inner(inner, ctx, c, id).await;
    let mut st = ctx.lock();
    let out = match r {
        Ok(mut e) => {
            // The idle timer covers an epoch nobody joins (its waiters were cancelled).
            e.timer_armed = true;
            if st.install(e) {
                tracing::debug!(afr = %inner.name, gfid = %ctx.gfid, "contended while locking, nobody waiting: releasing");
                start_release(inner, ctx, &mut st);
            }
            Ok(())
        }
        Err(e) => {
            st.epoch = EpochState::None;
            st.contended = false;
            Err(e)
        }
    };
    drop(st);
    if out.is_ok() {
        tokio::spawn(idle_timer(inner.clone(), ctx.clone(), id));
    }
    ctx.notify();
    out
}

async fn acquire_inner(
    inner: &Arc<Inner>,
    ctx: &Arc<InodeCtx>,
    c: &Caller,
    id: u64,
) -> fop::Result<Epoch> {
    let gen = inner.event_gen();
    let conn_gens = inner.conn_gens();
    let up = inner.check_quorum_up()?;
    let lc = inner.lock_caller(c, &ctx.owner);
    let n = inner.n();
    // Created dirty on `born`: that is this epoch's pre-op there. One brick still gets a zero
    // xattrop, whose non-zero result makes its index translator list the file (index.c
    // xattrop_index_action), so that heal info and glustershd find it if we die before the
    // post-op, as they would after a pre-op. It changes no counter, so it need not wait for the
    // lock: sent alongside the INODELK, the first write waits one round trip less.
    let born = ctx.lock().born_dirty.take();
    let index_on: Vec<bool> = match &born {
        Some(b) => {
            let first = b.iter().zip(&up).position(|(&b, &u)| b && u);
            (0..n).map(|i| Some(i) == first).collect()
        }
        None => vec![false; n],
    };
    let index = async {
        if !index_on.iter().any(|&x| x) {
            return Vec::new();
        }
        xattrop_via(
            inner,
            &lc,
            ctx.gfid,
            &ctx.child_fds(n),
            &index_on,
            &vec![Counters::ZERO; n],
            Some(Counters::ZERO),
        )
        .await
    };
    let lock = lock::lock(
        inner,
        &lc,
        vec![Lockee::Inode {
            gfid: ctx.gfid,
            start: 0,
            len: 0,
        }],
        &up,
    );
    let (held, indexed) = tokio::join!(lock, index);
    // A failed epoch leaves the marker for the next one, or for release to take off.
    let put_back = |born: &Option<Vec<bool>>| {
        if born.is_some() {
            ctx.lock().born_dirty.clone_from(born);
        }
    };
    let held = match held {
        Ok(h) => h,
        Err(e) => {
            put_back(&born);
            return Err(e);
        }
    };
    let no_quorum = !held.locked.iter().any(|&l| l)
        || (inner.opts.quorum.enabled() && !inner.quorum_met(&held.locked));
    if no_quorum {
        put_back(&born);
        held.unlock(inner).await;
        return Err(held.error.clone().unwrap_or_else(|| {
            FopError::NotConnected(format!("{}: could not lock a quorum of bricks", inner.name))
        }));
    }
    let (pre, participating) = match &born {
        Some(born) => {
            let ok = succeeded(&indexed);
            let participating = (0..n)
                .map(|i| {
                    let indexed_ok = !index_on[i] || ok.get(i).copied().unwrap_or(false);
                    held.locked[i] && born[i] && indexed_ok
                })
                .collect::<Vec<bool>>();
            (indexed, participating)
        }
        None => {
            let pre = xattrop_via(
                inner,
                &lc,
                ctx.gfid,
                &ctx.child_fds(n),
                &held.locked,
                &vec![Counters::ZERO; n],
                Some(Counters::one(TxnType::Data, 1)),
            )
            .await;
            let participating = succeeded(&pre);
            (pre, participating)
        }
    };
    if !participating.iter().any(|&p| p)
        || (inner.opts.quorum.enabled() && !inner.quorum_met(&participating))
    {
        put_back(&born);
        held.unlock(inner).await;
        let err = crate::changelog_io::first_error(&pre);
        return Err(
            err.unwrap_or_else(|| FopError::NotConnected(format!("{}: pre-op failed", inner.name)))
        );
    }
    let failed = participating.iter().map(|&p| !p).collect();
    Ok(Epoch {
        id,
        locked: held.locked,
        participating,
        failed,
        conn_gens,
        event_gen: gen,
        users: 0,
        release: false,
        admit: None,
        last_activity: Instant::now(),
        timer_armed: false,
        unstable: false,
        quorum_lost: false,
        sync_fd: None,
        caller: lc,
    })
}

/// The file was created dirty for a write that never came: take the marker off again (no lock
/// needed: counters only add up, and this undoes our own +1).
pub async fn clear_born_dirty(inner: &Arc<Inner>, ctx: &Arc<InodeCtx>) {
    let Some(born) = ctx.lock().born_dirty.take() else {
        return;
    };
    let n = inner.n();
    let c = Caller::root();
    let r = xattrop_via(
        inner,
        &c,
        ctx.gfid,
        &ctx.child_fds(n),
        &born,
        &vec![Counters::ZERO; n],
        Some(Counters::one(TxnType::Data, -1)),
    )
    .await;
    if succeeded(&r) != born {
        tracing::warn!(afr = %inner.name, gfid = %ctx.gfid, "could not clear the dirty marker of an unwritten new file");
    }
}

/// Post-op and unlock of epoch `id` (state Releasing): after its background writes finished.
async fn release_epoch(inner: Arc<Inner>, ctx: Arc<InodeCtx>, id: u64) {
    let started = Instant::now();
    let mut synced = None;
    let deadline = tokio::time::Instant::now() + inner.opts.wait_timeout;
    let drained = wait_until(&ctx, deadline, "settling background writes", |st| {
        !st.inflight.iter().any(|o| o.epoch == id)
    })
    .await;
    if drained.is_err() {
        // Blame every brick still owing an answer; its write may land later, which is harmless
        // for a brick that is then healed from the others.
        let mut st = ctx.lock();
        let mut late = vec![false; inner.n()];
        for op in st.inflight.iter().filter(|o| o.epoch == id) {
            for (i, l) in late.iter_mut().enumerate() {
                if op.state(i) == BrickOp::Pending {
                    *l = true;
                }
            }
        }
        if let EpochState::Releasing(e) = &mut st.epoch {
            for (i, l) in late.iter().enumerate() {
                if *l {
                    e.failed[i] = true;
                }
            }
        }
        tracing::warn!(afr = %inner.name, gfid = %ctx.gfid, ?late, "background writes timed out; blaming those bricks");
    }
    let snapshot = {
        let st = ctx.lock();
        match &st.epoch {
            EpochState::Releasing(e) if e.id == id => Some((
                e.unstable,
                e.sync_fd.clone(),
                e.caller.clone(),
                e.locked.clone(),
            )),
            _ => None,
        }
    };
    let Some((unstable, sync_fd, caller, locked)) = snapshot else {
        return;
    };
    if inner.opts.ensure_durability && unstable {
        if let Some(fd) = &sync_fd {
            let targets = {
                let st = ctx.lock();
                match &st.epoch {
                    EpochState::Releasing(e) => e.targets(),
                    _ => vec![false; inner.n()],
                }
            };
            let t = Instant::now();
            let res = crate::write::fsync_children(&inner, &caller, fd, &targets, true).await;
            synced = Some(t.elapsed());
            let failed: Vec<bool> = res.iter().map(|r| matches!(r, Some(Err(_)))).collect();
            let mut st = ctx.lock();
            if let EpochState::Releasing(e) = &mut st.epoch {
                for (i, f) in failed.iter().enumerate() {
                    if *f {
                        e.failed[i] = true;
                    }
                }
            }
        }
    }
    let (good, failed, quorum_lost) = {
        let st = ctx.lock();
        match &st.epoch {
            EpochState::Releasing(e) => (e.targets(), e.failed.clone(), e.quorum_lost),
            _ => return,
        }
    };
    let quorum_ok = !inner.opts.quorum.enabled() || inner.quorum_met(&good);
    if quorum_lost || !quorum_ok {
        tracing::warn!(afr = %inner.name, gfid = %ctx.gfid, "no quorum for the post-op; leaving dirty markers");
    } else if good.iter().any(|&g| g) {
        let r = xattrop_via(
            &inner,
            &caller,
            ctx.gfid,
            &ctx.child_fds(inner.n()),
            &good,
            &post_op_blame(&failed, TxnType::Data),
            Some(Counters::one(TxnType::Data, -1)),
        )
        .await;
        if failed.iter().any(|&f| f) {
            tracing::info!(afr = %inner.name, gfid = %ctx.gfid, ?failed, "post-op blamed bricks");
        }
        let ok = succeeded(&r);
        if ok != good {
            tracing::warn!(afr = %inner.name, gfid = %ctx.gfid, "post-op failed on some bricks");
        }
    }
    let held = lock::Held {
        lockees: vec![Lockee::Inode {
            gfid: ctx.gfid,
            start: 0,
            len: 0,
        }],
        caller,
        locked,
        error: None,
        waited: false,
    };
    // The markers are final: whoever waits for this epoch (flush, close, the next writer) goes on
    // now and the unlock finishes in the background, one round trip less on every close.
    held.unlock_behind(&inner);
    tracing::debug!(afr = %inner.name, gfid = %ctx.gfid, took = ?started.elapsed(), fsync = ?synced, "eager lock released");
    {
        let mut st = ctx.lock();
        if matches!(&st.epoch, EpochState::Releasing(e) if e.id == id) {
            st.epoch = EpochState::None;
        }
        // Our view of the copies changed: refresh before the next read.
        if failed.iter().any(|&f| f) {
            st.readable = None;
        }
    }
    ctx.notify();
}

/// Wait until no data epoch is held or releasing and nothing is in flight (flush, release).
pub async fn settle(inner: &Arc<Inner>, ctx: &Arc<InodeCtx>) -> fop::Result<()> {
    let deadline = tokio::time::Instant::now() + inner.opts.wait_timeout;
    loop {
        request_release(inner, ctx);
        wait_until(ctx, deadline, "releasing the eager lock", |st| {
            st.inflight.is_empty()
                && match &st.epoch {
                    EpochState::None => true,
                    // Taken again after our request (it was being acquired): ask again,
                    // unless it already closes by itself after the operations it admits.
                    EpochState::Held(e) => !e.release && e.admit.is_none(),
                    _ => false,
                }
        })
        .await?;
        let st = ctx.lock();
        if st.inflight.is_empty() && matches!(st.epoch, EpochState::None) {
            return Ok(());
        }
    }
}

/// Close the inode's epoch and wait until every write of it has been answered by every brick it
/// went to, but not for the post-op and unlock that follow in the background (flush: the data is
/// on the bricks; AFR's flush, behind write-behind's flush-behind, does not wait for them either).
/// The next epoch of the inode waits for this one's release in [`begin`], and release waits for it
/// in [`settle`].
pub async fn settle_writes(inner: &Arc<Inner>, ctx: &Arc<InodeCtx>) -> fop::Result<()> {
    request_release(inner, ctx);
    drain(inner, ctx).await
}

/// Wait until no write of the inode is in flight.
pub async fn drain(inner: &Inner, ctx: &InodeCtx) -> fop::Result<()> {
    let deadline = tokio::time::Instant::now() + inner.opts.wait_timeout;
    wait_until(ctx, deadline, "waiting for background writes", |st| {
        st.inflight.is_empty()
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> State {
        State {
            readable: None,
            epoch: EpochState::None,
            inflight: Vec::new(),
            last_write_done: None,
            next_id: 1,
            waiting: 0,
            contended: false,
            born_dirty: None,
        }
    }

    fn epoch(id: u64) -> Epoch {
        Epoch {
            id,
            locked: vec![true; 3],
            participating: vec![true; 3],
            failed: vec![false; 3],
            conn_gens: vec![0; 3],
            event_gen: 1,
            users: 0,
            release: false,
            admit: None,
            last_activity: Instant::now(),
            timer_armed: false,
            unstable: false,
            quorum_lost: false,
            sync_fd: None,
            caller: Caller::root(),
        }
    }

    fn held(st: &State) -> &Epoch {
        match &st.epoch {
            EpochState::Held(e) => e,
            _ => panic!("no held epoch"),
        }
    }

    /// Uncontended: everybody joins; the epoch stays open.
    #[test]
    fn open_epoch_admits_everyone() {
        let mut st = state();
        assert!(!st.install(epoch(7)));
        for _ in 0..100 {
            assert_eq!(st.try_join(1, true), Some(7));
        }
        assert_eq!(held(&st).users, 100);
        assert!(!held(&st).release);
    }

    /// Contention on a held epoch closes it: nobody joins any more, and it is released when
    /// the last user leaves (at once when idle).
    #[test]
    fn contention_closes_a_held_epoch() {
        let mut st = state();
        st.install(epoch(3));
        assert_eq!(st.try_join(1, true), Some(3));
        assert!(!st.close(), "a user is still inside");
        assert_eq!(st.try_join(1, true), None);
        assert!(held(&st).release);
        let mut idle = state();
        idle.install(epoch(4));
        assert!(idle.close(), "idle: release now");
    }

    /// Contention while acquiring: the new epoch admits exactly those already waiting, then
    /// closes; later arrivals wait for the next epoch.
    #[test]
    fn contention_while_acquiring_admits_only_the_waiting() {
        let mut st = state();
        st.epoch = EpochState::Acquiring;
        st.waiting = 2;
        assert!(!st.close());
        assert!(st.contended);
        assert!(!st.install(epoch(9)));
        assert!(!st.contended);
        assert_eq!(held(&st).admit, Some(2));
        assert_eq!(st.try_join(1, true), Some(9));
        assert!(!held(&st).release);
        assert_eq!(st.try_join(1, true), Some(9));
        assert!(held(&st).release);
        assert_eq!(st.try_join(1, true), None);
        assert_eq!(held(&st).users, 2);
    }

    /// Contention while acquiring with nobody left waiting: release at once.
    #[test]
    fn contention_while_acquiring_without_waiters_releases() {
        let mut st = state();
        st.epoch = EpochState::Acquiring;
        st.close();
        assert!(st.install(epoch(2)));
        assert!(held(&st).release);
    }

    /// A brick state change closes the epoch too; eager-lock off admits one operation.
    #[test]
    fn generation_change_and_no_eager_lock() {
        let mut st = state();
        st.install(epoch(5));
        assert_eq!(st.try_join(2, true), None);
        let mut st = state();
        st.install(epoch(6));
        assert_eq!(st.try_join(1, false), Some(6));
        assert_eq!(st.try_join(1, false), None);
    }

    /// A contention that reaches neither a held nor an acquiring lock is stale.
    #[test]
    fn stale_contention_is_ignored() {
        let mut st = state();
        assert!(!st.close());
        assert!(!st.contended);
        st.epoch = EpochState::Releasing(epoch(1));
        assert!(!st.close());
        assert!(!st.contended);
    }
}
