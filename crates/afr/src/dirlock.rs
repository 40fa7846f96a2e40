//! Eager entry locks: a directory in which entries are being created or removed one after the
//! other (a loop of creates, `tar x`, `rm -r`) gets an `entrylk` on the whole directory (basename
//! NULL, the same domain as every entry transaction), kept across transactions. While it is held,
//! a create, mknod, mkdir, symlink, link, unlink or rename inside that directory goes straight to
//! the operation: no ENTRYLK before it and no unlock after it, six brick operations and one round
//! trip fewer per entry on a replica 3.
//!
//! Why it is safe: a whole-directory entrylk conflicts with every name lock in the directory, so
//! while we hold it on every brick no other client (C AFR, glustershd, another gluster-rs) can run
//! an entry transaction there, which is exactly what each name lock would have guaranteed for our
//! transactions. Our own transactions under it are serialized here (the kernel does so too for
//! one mount's directory operations), so two of ours never race on one name either.
//!
//! It is given back, so that a client waiting for the directory waits a fraction of a second:
//! - after [`IDLE`] without an entry operation in the directory, and at the latest [`MAX_HOLD`]
//!   after it was taken (the next operation takes it again, queued behind any waiting client);
//! - when taking it meant waiting for someone else's lock (the brick refused the non-blocking
//!   attempt): another client works in that directory, so it then uses name locks for
//!   [`BACKOFF`] and clients sharing a directory do not pass a directory lock back and forth;
//! - on an `ENTRYLK_CONTENTION` callback for it (GlusterFS 10.3's locks translator never sends
//!   one for entry locks, `new_entrylk_lock` leaves the lock's `contend` list uninitialised, so
//!   the bounded hold above is what hands the directory over; newer bricks may send it);
//! - when a brick goes or comes back, when a transaction fails somewhere, and before a
//!   transaction that needs locks in another directory too (rename across directories, rmdir),
//!   which then locks everything the usual way, in AFR's order.
//!
//! While it is held the directory's names can be known too: at the first lookup under it that
//! the bricks answer ENOENT ([`negative_seen`]; a loop of creates looks up each new name first,
//! a loop of unlinks never does), each locked brick lists the directory (READDIR, names only,
//! from an anonymous fd), and every name one of our transactions under the lock touches is
//! added. No other client can add a name while we hold it, so a lookup of a name on none of
//! those lists is answered ENOENT here ([`known_absent`]): the negative lookup before each create
//! costs no brick operation and no round trip. Directories of more than [`MAX_NAMES`] entries,
//! or one a brick could not list, are left to the bricks.
//!
//! `xlator-option=replicate.eager-entry-lock=off` turns it off.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use fop::{Caller, Gfid};
use futures::future::join_all;
use tokio::sync::{Notify, OwnedMutexGuard};

use crate::lock::{self, Held, Lockee};
use crate::Inner;

/// Entry operations in a directory, each within [`HOT_GAP`] of the previous one, before the
/// next takes the directory lock.
const HOT_OPS: u32 = 2;
const HOT_GAP: Duration = Duration::from_secs(1);
/// A held directory lock no operation used for this long is released.
pub const IDLE: Duration = Duration::from_millis(100);
/// A directory lock is released this long after it was taken, however busy.
pub const MAX_HOLD: Duration = Duration::from_millis(250);
/// How often a held lock is checked against [`IDLE`] and [`MAX_HOLD`].
const TICK: Duration = Duration::from_millis(50);
/// After another client asked for a directory we held: name locks only, for this long.
pub const BACKOFF: Duration = Duration::from_secs(10);
/// Directories remembered; idle ones are forgotten beyond that.
const MAX_DIRS: usize = 4096;
/// Larger directories are not listed when their lock is taken (see [`Names`]).
pub const MAX_NAMES: usize = 10_000;
/// READDIR reply size asked for when listing a directory.
const LIST_BYTES: u32 = 128 * 1024;

/// The names in a directory while we hold its lock: what the locked bricks listed when it was
/// taken, plus every name our transactions under it touched since (created, removed or renamed:
/// a removed name is kept, which only sends its lookups to the bricks).
enum Names {
    /// Not listed (no negative lookup under this lock yet); names touched so far.
    Unlisted(HashSet<Bytes>),
    /// Being listed; names touched before and meanwhile.
    Listing(HashSet<Bytes>),
    Known(HashSet<Bytes>),
    /// Too many, or a brick could not list them.
    Unknown,
}

impl Names {
    fn touch(&mut self, name: &Bytes) {
        match self {
            Names::Unlisted(s) | Names::Listing(s) | Names::Known(s) => {
                s.insert(name.clone());
            }
            Names::Unknown => {}
        }
    }

    /// Start listing, unless it was started before: true when the caller is to list.
    fn start(&mut self) -> bool {
        match self {
            Names::Unlisted(touched) => {
                *self = Names::Listing(std::mem::take(touched));
                true
            }
            _ => false,
        }
    }

    /// The listing arrived: known from now on, with what was touched meanwhile.
    fn listed(&mut self, listed: Option<HashSet<Bytes>>) {
        if let Names::Listing(touched) = self {
            *self = match listed {
                Some(mut all) => {
                    all.extend(touched.drain());
                    Names::Known(all)
                }
                None => Names::Unknown,
            };
        }
    }

    fn absent(&self, name: &[u8]) -> bool {
        matches!(self, Names::Known(s) if !s.contains(name))
    }
}

enum LockState {
    None,
    Acquiring,
    Held(Box<HeldDir>),
    Releasing,
}

struct HeldDir {
    id: u64,
    held: Held,
    event_gen: u64,
    users: usize,
    /// Closed: nobody joins; unlocked once `users` is 0.
    release: bool,
    taken: Instant,
    last_activity: Instant,
    names: Names,
}

impl HeldDir {
    /// Time to give it back (idle, or held long enough) once nobody uses it.
    fn expired(&self) -> bool {
        self.release || self.last_activity.elapsed() >= IDLE || self.taken.elapsed() >= MAX_HOLD
    }

    /// A transaction may join it: not closed, taken in this connection generation, covering
    /// every brick in `up`, and not held for [`MAX_HOLD`] yet.
    fn usable(&self, event_gen: u64, up: &[bool]) -> bool {
        let covers = self.held.locked.iter().zip(up).all(|(&l, &u)| l || !u);
        !self.release && self.event_gen == event_gen && covers && self.taken.elapsed() < MAX_HOLD
    }
}

struct DirState {
    lock: LockState,
    /// Entry operations in a row, each within [`HOT_GAP`] of the previous one.
    hits: u32,
    last_op: Option<Instant>,
    backoff_until: Option<Instant>,
    next_id: u64,
}

impl DirState {
    /// Count an entry operation; true when the directory is busy enough for a directory lock.
    fn note_op(&mut self, now: Instant) -> bool {
        self.hits = match self.last_op {
            Some(t) if now.saturating_duration_since(t) <= HOT_GAP => self.hits.saturating_add(1),
            _ => 1,
        };
        self.last_op = Some(now);
        let backed_off = self.backoff_until.is_some_and(|t| now < t);
        self.hits > HOT_OPS && !backed_off
    }
}

pub struct DirCtx {
    st: Mutex<DirState>,
    changed: Notify,
    /// Transactions under the directory lock, one at a time.
    serial: Arc<tokio::sync::Mutex<()>>,
}

impl DirCtx {
    fn new() -> Self {
        Self {
            st: Mutex::new(DirState {
                lock: LockState::None,
                hits: 0,
                last_op: None,
                backoff_until: None,
                next_id: 1,
            }),
            changed: Notify::new(),
            serial: Arc::new(tokio::sync::Mutex::new(())),
        }
    }

    fn lock(&self) -> MutexGuard<'_, DirState> {
        self.st.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The directory locks of one replica set.
#[derive(Default)]
pub struct DirLocks {
    dirs: Mutex<HashMap<Gfid, Arc<DirCtx>>>,
}

impl DirLocks {
    fn map(&self) -> MutexGuard<'_, HashMap<Gfid, Arc<DirCtx>>> {
        self.dirs.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn get(&self, dir: &Gfid) -> Option<Arc<DirCtx>> {
        self.map().get(dir).cloned()
    }

    fn get_or_insert(&self, dir: Gfid) -> Arc<DirCtx> {
        let mut m = self.map();
        if m.len() >= MAX_DIRS && !m.contains_key(&dir) {
            m.retain(|_, c| matches!(c.lock().lock, LockState::None) && Arc::strong_count(c) == 1);
        }
        m.entry(dir)
            .or_insert_with(|| Arc::new(DirCtx::new()))
            .clone()
    }
}

/// A transaction running under a held directory lock.
pub struct Guard {
    inner: Arc<Inner>,
    ctx: Arc<DirCtx>,
    id: u64,
    /// Bricks the directory is locked on.
    pub locked: Vec<bool>,
    /// Held while the transaction runs.
    serial: Option<OwnedMutexGuard<()>>,
}

impl Guard {
    /// The transaction is about to change the names its `lockees` lock: no longer answer
    /// lookups of them from the directory's listing.
    pub fn touch(&self, lockees: &[Lockee]) {
        if let LockState::Held(h) = &mut self.ctx.lock().lock {
            if h.id == self.id {
                for l in lockees {
                    if let Lockee::Entry {
                        name: Some(name), ..
                    } = l
                    {
                        h.names.touch(name);
                    }
                }
            }
        }
    }

    /// The transaction did not go cleanly everywhere: give the directory lock back after it.
    pub fn spoil(&self) {
        if let LockState::Held(h) = &mut self.ctx.lock().lock {
            if h.id == self.id {
                h.release = true;
            }
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        let mut st = self.ctx.lock();
        if let LockState::Held(h) = &mut st.lock {
            if h.id == self.id {
                h.users = h.users.saturating_sub(1);
                h.last_activity = Instant::now();
                if h.users == 0 && (h.release || h.taken.elapsed() >= MAX_HOLD) {
                    start_release(&self.inner, &self.ctx, &mut st);
                }
            }
        }
        drop(st);
        self.ctx.changed.notify_waiters();
    }
}

/// What [`enter`] does next.
enum Step {
    /// Lock the usual way.
    Own,
    /// Join the held lock (id, bricks locked).
    Join(u64, Vec<bool>),
    /// Take the directory lock.
    Acquire(u64),
    /// Wait for the lock being taken or given back.
    Wait,
}

/// The directory all of `lockees` are in, if they are all entry locks of one directory.
fn single_dir(lockees: &[Lockee]) -> Option<Gfid> {
    let mut dir = None;
    for l in lockees {
        match l {
            Lockee::Entry { dir: d, .. } if dir.is_none() || dir == Some(*d) => dir = Some(*d),
            _ => return None,
        }
    }
    dir
}

/// An entry transaction on `lockees` is starting, with bricks `up` connected. Returns a guard when
/// a held directory lock covers it (taking that lock first if the directory is busy); `None`: lock
/// `lockees` the usual way (any directory lock in the way has been given back by then).
pub async fn enter(
    inner: &Arc<Inner>,
    c: &Caller,
    lockees: &[Lockee],
    up: &[bool],
) -> Option<Guard> {
    if !inner.opts.eager_entry_lock {
        return None;
    }
    let Some(dir) = single_dir(lockees) else {
        // Locks in several directories (or not entry locks): release ours in the way.
        for l in lockees {
            if let Lockee::Entry { dir, .. } = l {
                if let Some(ctx) = inner.dir_locks.get(dir) {
                    give_back(inner, &ctx).await;
                }
            }
        }
        return None;
    };
    let ctx = inner.dir_locks.get_or_insert(dir);
    let hot = ctx.lock().note_op(Instant::now());
    let deadline = tokio::time::Instant::now() + inner.opts.wait_timeout;
    loop {
        let notified = ctx.changed.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let step = {
            let mut st = ctx.lock();
            let gen = inner.event_gen();
            match &mut st.lock {
                LockState::Held(h) if h.usable(gen, up) => {
                    h.users += 1;
                    h.last_activity = Instant::now();
                    Step::Join(h.id, h.held.locked.clone())
                }
                LockState::Held(_) => {
                    close_held(inner, &ctx, &mut st);
                    Step::Wait
                }
                LockState::Acquiring | LockState::Releasing => Step::Wait,
                LockState::None if !hot || !up.iter().all(|&u| u) => Step::Own,
                LockState::None => {
                    st.lock = LockState::Acquiring;
                    let id = st.next_id;
                    st.next_id += 1;
                    Step::Acquire(id)
                }
            }
        };
        let acquire = match step {
            Step::Own => return None,
            Step::Join(id, locked) => {
                // Counted as a user from here: dropped while waiting, the guard uncounts it.
                let mut guard = Guard {
                    inner: inner.clone(),
                    ctx: ctx.clone(),
                    id,
                    locked,
                    serial: None,
                };
                guard.serial = Some(ctx.serial.clone().lock_owned().await);
                return Some(guard);
            }
            Step::Acquire(id) => Some(id),
            Step::Wait => None,
        };
        if let Some(id) = acquire {
            // In its own task: a cancelled caller cannot leave the state in Acquiring.
            let (i2, ctx2, c2, up2) = (inner.clone(), ctx.clone(), c.clone(), up.to_vec());
            let ok = tokio::spawn(async move { acquire_dir(&i2, &ctx2, &c2, dir, &up2, id).await })
                .await
                .unwrap_or(false);
            if !ok {
                return None;
            }
            continue;
        }
        if tokio::time::timeout_at(deadline, notified).await.is_err() {
            return None;
        }
    }
}

/// Lock the whole directory on the bricks in `up`; installs it on success.
async fn acquire_dir(
    inner: &Arc<Inner>,
    ctx: &Arc<DirCtx>,
    c: &Caller,
    dir: Gfid,
    up: &[bool],
    id: u64,
) -> bool {
    let gen = inner.event_gen();
    let lc = inner.lock_caller(c, &inner.new_owner());
    let r = lock::lock(inner, &lc, vec![Lockee::Entry { dir, name: None }], up).await;
    let waited = matches!(&r, Ok(h) if h.waited);
    let held = match r {
        Ok(h) if h.locked.iter().zip(up).all(|(&l, &u)| l == u) => Some(h),
        Ok(h) => {
            h.unlock(inner).await;
            None
        }
        Err(_) => None,
    };
    let ok = held.is_some();
    {
        let mut st = ctx.lock();
        if waited {
            // Someone else holds or waits for locks here: after this one, name locks only.
            st.backoff_until = Some(Instant::now() + BACKOFF);
            tracing::debug!(afr = %inner.name, %dir, "directory shared with another client; name locks for a while");
        }
        st.lock = match held {
            Some(held) => {
                tracing::debug!(afr = %inner.name, %dir, "directory entry lock taken");
                LockState::Held(Box::new(HeldDir {
                    id,
                    held,
                    event_gen: gen,
                    users: 0,
                    release: false,
                    taken: Instant::now(),
                    last_activity: Instant::now(),
                    names: Names::Unlisted(HashSet::new()),
                }))
            }
            None => LockState::None,
        };
    }
    ctx.changed.notify_waiters();
    if ok {
        tokio::spawn(idle_timer(inner.clone(), ctx.clone(), id));
    }
    ok
}

/// A lookup of a name in `dir` found nothing on the bricks: if we hold the directory's lock and
/// have not listed it yet, list it now (in the background), so that the next negative lookups
/// there are answered without the bricks ([`known_absent`]).
pub fn negative_seen(inner: &Arc<Inner>, c: &Caller, dir: &Gfid) {
    if !inner.opts.eager_entry_lock {
        return;
    }
    let Some(ctx) = inner.dir_locks.get(dir) else {
        return;
    };
    let (id, locked) = {
        let mut st = ctx.lock();
        let LockState::Held(h) = &mut st.lock else {
            return;
        };
        if h.release || !h.names.start() {
            return;
        }
        (h.id, h.held.locked.clone())
    };
    let (inner, c, dir) = (inner.clone(), c.clone(), *dir);
    tokio::spawn(async move {
        let listed = list_names(&inner, &c, dir, &locked).await;
        tracing::trace!(afr = %inner.name, %dir, names = ?listed.as_ref().map(HashSet::len), "directory listed under its lock");
        if let LockState::Held(h) = &mut ctx.lock().lock {
            if h.id == id {
                h.names.listed(listed);
            }
        }
    });
}

/// Every name in `dir` on the bricks in `locked` (the union of their lists), or `None` if one
/// could not list it or it has more than [`MAX_NAMES`] entries.
async fn list_names(
    inner: &Arc<Inner>,
    c: &Caller,
    dir: Gfid,
    locked: &[bool],
) -> Option<HashSet<Bytes>> {
    let wait = inner.opts.wait_timeout;
    let lists = join_all(inner.children.iter().zip(locked).filter(|(_, &l)| l).map(
        |(sub, _)| async move {
            let fd = sub.open_anonymous(dir, libc::O_RDONLY).ok()?;
            let mut names = Vec::new();
            let mut offset = 0;
            loop {
                let call = sub.readdir_eof(c, &fd, offset, LIST_BYTES);
                let r = tokio::time::timeout(wait, call).await.ok()?;
                if let Err(e) = &r {
                    tracing::debug!(%dir, error = %e, "directory not listed under its lock");
                }
                let (batch, eof) = r.ok()?;
                let Some(last) = batch.last() else {
                    break;
                };
                offset = last.offset;
                names.extend(
                    batch
                        .into_iter()
                        .map(|e| e.name)
                        .filter(|n| n.as_ref() != b"." && n.as_ref() != b".."),
                );
                if names.len() > MAX_NAMES {
                    return None;
                }
                if eof {
                    break;
                }
            }
            Some(names)
        },
    ))
    .await;
    let mut all = HashSet::new();
    for list in lists {
        all.extend(list?);
        if all.len() > MAX_NAMES {
            return None;
        }
    }
    Some(all)
}

/// Whether `name` is known not to exist in `dir`: we hold the directory lock on every connected
/// brick since before the bricks listed the directory, and neither their lists nor our
/// transactions since have that name. (No other client can create a name there meanwhile.)
pub fn known_absent(inner: &Inner, dir: &Gfid, name: &[u8]) -> bool {
    if !inner.opts.eager_entry_lock || name.is_empty() {
        return false;
    }
    let Some(ctx) = inner.dir_locks.get(dir) else {
        return false;
    };
    let gen = inner.event_gen();
    let up = inner.up();
    let st = ctx.lock();
    match &st.lock {
        LockState::Held(h) => {
            let covers = h.held.locked.iter().zip(&up).all(|(&l, &u)| l || !u);
            h.event_gen == gen && covers && h.names.absent(name)
        }
        _ => false,
    }
}

/// Close a held lock: nobody joins it any more; unlocked now if nobody uses it, else when its
/// last user leaves.
fn close_held(inner: &Arc<Inner>, ctx: &Arc<DirCtx>, st: &mut DirState) {
    if let LockState::Held(h) = &mut st.lock {
        h.release = true;
        if h.users == 0 {
            start_release(inner, ctx, st);
        }
    }
}

fn start_release(inner: &Arc<Inner>, ctx: &Arc<DirCtx>, st: &mut DirState) {
    let LockState::Held(h) = std::mem::replace(&mut st.lock, LockState::Releasing) else {
        return;
    };
    let (inner, ctx) = (inner.clone(), ctx.clone());
    let spawned = tokio::runtime::Handle::try_current().map(|rt| {
        rt.spawn(async move {
            h.held.unlock(&inner).await;
            ctx.lock().lock = LockState::None;
            ctx.changed.notify_waiters();
        })
    });
    if spawned.is_err() {
        // No runtime (shutting down): the connections, and the locks with them, are going away.
        st.lock = LockState::None;
    }
}

async fn idle_timer(inner: Arc<Inner>, ctx: Arc<DirCtx>, id: u64) {
    loop {
        tokio::time::sleep(TICK).await;
        let mut st = ctx.lock();
        let LockState::Held(h) = &mut st.lock else {
            return;
        };
        if h.id != id {
            return;
        }
        if h.users == 0 && h.expired() {
            start_release(&inner, &ctx, &mut st);
            drop(st);
            ctx.changed.notify_waiters();
            return;
        }
    }
}

/// Give the directory lock of `ctx` back and wait until it is unlocked (or was never held).
async fn give_back(inner: &Arc<Inner>, ctx: &Arc<DirCtx>) {
    let deadline = tokio::time::Instant::now() + inner.opts.wait_timeout;
    loop {
        let notified = ctx.changed.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        {
            let mut st = ctx.lock();
            if matches!(st.lock, LockState::None) {
                return;
            }
            close_held(inner, ctx, &mut st);
        }
        if tokio::time::timeout_at(deadline, notified).await.is_err() {
            return;
        }
    }
}

/// A brick says another client waits for an entry lock we hold on `dir` with basename `name`.
/// For our directory lock: give it back after the running transaction, and use name locks in
/// that directory for [`BACKOFF`]. Name locks of ours are released right after their operation
/// anyway.
pub fn contended(inner: &Arc<Inner>, dir: &Gfid, name: &[u8]) {
    if !name.is_empty() {
        return;
    }
    let Some(ctx) = inner.dir_locks.get(dir) else {
        return;
    };
    {
        let mut st = ctx.lock();
        st.backoff_until = Some(Instant::now() + BACKOFF);
        close_held(inner, &ctx, &mut st);
    }
    tracing::debug!(afr = %inner.name, %dir, "directory entry lock contended; giving it back");
    ctx.changed.notify_waiters();
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn g(b: u8) -> Gfid {
        Gfid([b; 16])
    }

    fn state() -> DirState {
        DirState {
            lock: LockState::None,
            hits: 0,
            last_op: None,
            backoff_until: None,
            next_id: 1,
        }
    }

    #[test]
    fn a_directory_gets_hot_after_close_operations() {
        let mut s = state();
        let t = Instant::now();
        assert!(!s.note_op(t));
        assert!(!s.note_op(t + Duration::from_millis(10)));
        assert!(s.note_op(t + Duration::from_millis(20)));
        assert!(s.note_op(t + Duration::from_millis(900)));
        // A pause longer than the gap starts over.
        assert!(!s.note_op(t + Duration::from_millis(2000)));
    }

    #[test]
    fn backoff_keeps_a_directory_cold() {
        let mut s = state();
        let t = Instant::now();
        s.backoff_until = Some(t + BACKOFF);
        for k in 0..10 {
            assert!(!s.note_op(t + Duration::from_millis(k)));
        }
        // After it, a busy directory is hot again.
        let later = t + BACKOFF;
        assert!(!s.note_op(later));
        assert!(!s.note_op(later + Duration::from_millis(1)));
        assert!(s.note_op(later + Duration::from_millis(2)));
    }

    fn set(names: &[&str]) -> HashSet<Bytes> {
        names
            .iter()
            .map(|n| Bytes::copy_from_slice(n.as_bytes()))
            .collect()
    }

    #[test]
    fn names_answer_only_once_listed() {
        let mut n = Names::Unlisted(HashSet::new());
        assert!(!n.absent(b"x"));
        // Names touched before the listing starts count too.
        n.touch(&Bytes::from_static(b"early"));
        // No listing before a negative lookup, and only one.
        n.listed(Some(set(&[])));
        assert!(!n.absent(b"x"));
        assert!(n.start());
        assert!(!n.start());
        // Nothing is known absent while the bricks are still listing.
        assert!(!n.absent(b"x"));
        // A name our transaction creates meanwhile counts, whatever the listing says.
        n.touch(&Bytes::from_static(b"new"));
        n.listed(Some(set(&["a", "b"])));
        assert!(!n.absent(b"a"));
        assert!(!n.absent(b"new"));
        assert!(!n.absent(b"early"));
        assert!(n.absent(b"x"));
        assert!(!n.start());
        n.touch(&Bytes::from_static(b"x"));
        assert!(!n.absent(b"x"));
        // A second listing result (a stale task) changes nothing.
        n.listed(None);
        assert!(n.absent(b"y"));
    }

    #[test]
    fn an_unlistable_directory_knows_nothing() {
        let mut n = Names::Unlisted(HashSet::new());
        assert!(n.start());
        n.listed(None);
        assert!(!n.absent(b"x"));
        n.touch(&Bytes::from_static(b"x"));
        assert!(!n.absent(b"y"));
    }

    #[test]
    fn only_single_directory_entry_locks_qualify() {
        let e = |d: u8, n: Option<&str>| Lockee::Entry {
            dir: g(d),
            name: n.map(|n| Bytes::copy_from_slice(n.as_bytes())),
        };
        assert_eq!(single_dir(&[e(1, Some("a"))]), Some(g(1)));
        assert_eq!(single_dir(&[e(1, Some("a")), e(1, Some("b"))]), Some(g(1)));
        assert_eq!(single_dir(&[e(1, Some("a")), e(2, Some("b"))]), None);
        assert_eq!(single_dir(&[e(1, Some("a")), e(2, None)]), None);
        let inode = Lockee::Inode {
            gfid: g(1),
            start: 0,
            len: 0,
        };
        assert_eq!(single_dir(&[inode]), None);
        assert_eq!(single_dir(&[]), None);
    }
}
