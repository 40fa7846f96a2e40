//! cluster/replicate for gluster-rs: GlusterFS AFR-compatible replication over a replica set, with
//! writes acknowledged on the **first** brick's success.
//!
//! # What it does on the wire (interoperable with the C AFR translator and glustershd)
//!
//! Every modification is a *transaction* as xlators/cluster/afr/src/afr-transaction.c runs it:
//!
//! 1. **lock** — data and metadata: `inodelk` in the domain named after this translator
//!    (`VOL-replicate-N`, afr-transaction.c `afr_lock`: `int_lock->domain = this->name`); data
//!    locks cover the whole file (eager locking, `afr_set_transaction_flock`), metadata locks the
//!    range `[LLONG_MAX-1, ∞)` (afr-inode-write.c). Entry operations: `entrylk` on the parent
//!    directory and the entry name in the same domain (rename: both parents, sorted). Locks are
//!    tried non-blocking on all bricks in parallel, then blocking one brick after another in brick
//!    order (afr-lk-common.c), so two clients never deadlock.
//! 2. **pre-op** — xattrop `ADD_ARRAY` of `trusted.afr.dirty` += 1 on the transaction's counter
//!    (data 0, metadata 1, entry 2), on the locked bricks. With every brick locked, entry and
//!    metadata transactions skip it (`optimistic-change-log`, as AFR does).
//! 3. **the operation** on every locked brick, with the same `gfid-req` for new entries.
//! 4. **post-op** — on the bricks where it succeeded: dirty −1 and, for each brick that failed (or
//!    was down), `trusted.afr.VOL-client-N` += 1 on the counter (afr_changelog_post_op_do).
//!    New entries created on some bricks only get the new-entry markers of
//!    `afr_mark_new_entry_changelog`. Without granular-entry-heal xdata (the fop interface has no
//!    xdata on xattrop), a directory whose entry operation failed somewhere is also marked with the
//!    full-heal indicator (its data counter), so glustershd crawls it fully.
//! 5. **unlock**.
//!
//! Quorum (`cluster.quorum-type` auto/fixed, `quorum-count`) is checked before a transaction
//! starts, on the locks, and on the replies, as `afr_has_quorum` / `afr_handle_quorum` do: without
//! it modifications fail with `ENOTCONN` and leave only dirty markers, never one-sided blame.
//!
//! # Eager locking and delayed post-op
//!
//! Data transactions of one inode share one *epoch*: the first write takes the inodelk (owner:
//! one per inode, like AFR's `afr_set_lk_owner(frame, this, inode)`) and the pre-op; following
//! writes, fsyncs and truncates join it without any lock or changelog round trip. The epoch ends —
//! post-op, unlock — when it has been idle for `post-op-delay-secs` (default 1 s), when another
//! client asks for the lock (an `INODELK_CONTENTION` callback, see [`Afr::handle_callback`]),
//! when a brick fails a write, on `flush` (close) and on `release`. Before clearing dirty after
//! unsynced writes it fsyncs the bricks (`ensure-durability`, afr_changelog_post_op_safe).
//!
//! # First ack — the trade
//!
//! With [`AfrOptions::first_ack`] (the default; `VolumeOptions::first_ack` / mount option), a
//! `write` returns as soon as **one** brick has written the data. The other bricks' writes go on in
//! the background, tracked per inode (bounded by [`AfrOptions::max_background`] writes; beyond that
//! a write waits for room):
//!
//! * the epoch's post-op waits for all of them, and blames every brick that failed or timed out
//!   exactly as if the write had waited — glustershd then heals it;
//! * `fsync` and `flush` wait for every background write of the inode on every reachable brick,
//!   then report an error if an acknowledged write did not reach quorum (it is kept per fd until
//!   reported), so an application that syncs never loses an acknowledged write silently;
//! * writes that overlap a still-running write are sent to each brick only after the earlier one
//!   finished there (bricks run requests on several threads, so overlapping writes in flight at
//!   once could be applied in either order);
//! * a read covering data still being written is served by a brick that has applied it, or waits.
//!
//! What the application gives up: a `write` that returned successfully may, if every other brick
//! then fails and quorum is lost, turn out not to be replicated; the error then comes from the next
//! `fsync`/`close` instead of from the `write` (as with any write-back cache). Until `fsync`, a
//! crash of the one brick that has the data loses it — the same as for a page-cache write that was
//! never synced. With `first_ack = false` every write waits for all bricks, as the C client does.
//!
//! # Reads
//!
//! Reads go to one brick that no marker shows stale (afr_readables_fill), the GFID hash choosing
//! among them (read-hash-mode 1), failing over on error; no readable brick (split-brain) gives
//! `EIO`; no quorum of reachable bricks gives `ENOTCONN`.

pub mod changelog;
mod changelog_io;
mod dirlock;
mod entry;
mod inode;
mod lock;
pub mod policy;
mod read;
pub mod selfheal;
mod subvol;
#[cfg(test)]
mod testutil;
mod write;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use fop::{Caller, FopError, Gfid, Subvolume};
use tokio::sync::watch;
use transport::ConnState;

pub use changelog::{Counters, TxnType, AFR_DIRTY};
pub use policy::QuorumPolicy;
pub use selfheal::{HealKinds, HealTrigger};

use inode::InodeCtx;

/// Errors building a replicate translator.
#[derive(Debug, thiserror::Error)]
pub enum AfrError {
    #[error("{0}: a replica set needs at least one child")]
    NoChildren(String),
    #[error("{name}: {keys} pending xattr names for {children} children")]
    PendingKeys {
        name: String,
        keys: usize,
        children: usize,
    },
}

/// One brick (or other subvolume) of the replica set.
#[derive(Clone)]
pub struct Child {
    pub subvol: Arc<dyn Subvolume>,
    /// Connection state, when the child can report it (a brick client does); without it the child
    /// is taken as up and its errors tell otherwise.
    pub state: Option<watch::Receiver<ConnState>>,
    /// Whether the child's brick runs on this machine (for `choose-local`), when it can tell.
    pub local: Option<Arc<client::Locality>>,
}

impl Child {
    pub fn new(subvol: Arc<dyn Subvolume>, state: Option<watch::Receiver<ConnState>>) -> Self {
        Self {
            subvol,
            state,
            local: None,
        }
    }

    /// A brick client child, with its connection state and locality.
    pub fn brick(b: Arc<client::BrickClient>) -> Self {
        let state = Some(b.state());
        let local = Some(b.locality());
        Self {
            subvol: b,
            state,
            local,
        }
    }
}

/// Behaviour of the translator; [`AfrOptions::new`] gives AFR's defaults.
#[derive(Debug, Clone)]
pub struct AfrOptions {
    /// `trusted.afr.VOL-client-N` names, one per child, in child order.
    pub pending_keys: Vec<String>,
    pub quorum: QuorumPolicy,
    /// Acknowledge writes on the first brick's success (see the crate docs for the trade).
    pub first_ack: bool,
    /// `eager-lock` (default on).
    pub eager_lock: bool,
    /// `post-op-delay-secs` (default 1 s): how long an idle eager lock is kept.
    pub post_op_delay: Duration,
    /// `optimistic-change-log` (default on): skip the entry/metadata pre-op when all bricks are
    /// locked.
    pub optimistic_change_log: bool,
    /// `ensure-durability` (default on): fsync the bricks before clearing dirty after unsynced
    /// writes.
    pub ensure_durability: bool,
    /// `granular-entry-heal` (glusterd turns it on for new volumes): mark directories with the
    /// full-heal indicator when an entry operation failed somewhere.
    pub granular_entry_heal: bool,
    /// Upper bound of any wait of this layer (locks, background writes, settling an epoch).
    pub wait_timeout: Duration,
    /// Most background (not yet acknowledged by every brick) writes per inode.
    pub max_background: usize,
    /// `quorum-lookups` (ours, default on): with quorum on and every brick up, look up on all
    /// bricks but one and ask the last only when the answers disagree or carry markers.
    pub quorum_lookups: bool,
    /// `eager-entry-lock` (ours, default on): a directory with one entry operation after the
    /// other keeps a whole-directory entry lock across them ([`dirlock`]).
    pub eager_entry_lock: bool,
    /// `choose-local` (default on): read from a brick on this machine when it has a good copy
    /// (afr-common.c `afr_local_discovery_cbk` makes it the read child).
    pub choose_local: bool,
    /// `read-subvolume-index`: read from this child when it has a good copy (takes precedence
    /// over `choose-local`).
    pub read_subvolume: Option<usize>,
    /// Client-side self-heal: told after each lookup which inode needs which heal (see
    /// [`selfheal`]); `None` heals nothing from the client.
    pub heal_trigger: Option<Arc<dyn HealTrigger>>,
}

impl AfrOptions {
    pub fn new(pending_keys: Vec<String>) -> Self {
        let quorum = if pending_keys.len() > 2 {
            QuorumPolicy::Auto
        } else {
            QuorumPolicy::None
        };
        Self {
            pending_keys,
            quorum,
            first_ack: true,
            eager_lock: true,
            post_op_delay: Duration::from_secs(1),
            optimistic_change_log: true,
            ensure_durability: true,
            granular_entry_heal: true,
            wait_timeout: Duration::from_secs(300),
            max_background: 1024,
            quorum_lookups: true,
            eager_entry_lock: true,
            choose_local: true,
            read_subvolume: None,
            heal_trigger: None,
        }
    }
}

/// The replicate translator. Cheap to clone (shared state).
#[derive(Clone)]
pub struct Afr {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub name: String,
    pub children: Vec<Arc<dyn Subvolume>>,
    pub states: Vec<Option<watch::Receiver<ConnState>>>,
    pub local: Vec<Option<Arc<client::Locality>>>,
    /// Per child: bumped on every connection state change (locks and fds die with a connection).
    pub conn_gen: Vec<AtomicU64>,
    /// Bumped whenever any child changes state (AFR's event_generation): cached readable sets of
    /// an older generation are refreshed.
    pub event_gen: AtomicU64,
    /// Which brick the next quorum lookup skips (read.rs `lookup_quorum`).
    pub lookup_rotor: AtomicU64,
    pub opts: AfrOptions,
    pub inodes: Mutex<HashMap<Gfid, Arc<InodeCtx>>>,
    pub owner_seq: AtomicU64,
    pub dir_locks: dirlock::DirLocks,
}

/// Most inode contexts kept without open fds or locks before idle ones are dropped.
const INODE_CACHE: usize = 8192;

impl Afr {
    /// Build the translator named `name` (e.g. `VOL-replicate-0`; also the lock domain) over
    /// `children`. Connection watchers are spawned when called inside a Tokio runtime.
    pub fn new(
        name: impl Into<String>,
        children: Vec<Child>,
        opts: AfrOptions,
    ) -> Result<Afr, AfrError> {
        let name = name.into();
        if children.is_empty() {
            return Err(AfrError::NoChildren(name));
        }
        if opts.pending_keys.len() != children.len() {
            return Err(AfrError::PendingKeys {
                name,
                keys: opts.pending_keys.len(),
                children: children.len(),
            });
        }
        let inner = Arc::new(Inner {
            name,
            conn_gen: children.iter().map(|_| AtomicU64::new(0)).collect(),
            states: children.iter().map(|c| c.state.clone()).collect(),
            local: children.iter().map(|c| c.local.clone()).collect(),
            children: children.into_iter().map(|c| c.subvol).collect(),
            event_gen: AtomicU64::new(1),
            lookup_rotor: AtomicU64::new(0),
            opts,
            inodes: Mutex::new(HashMap::new()),
            owner_seq: AtomicU64::new(1),
            dir_locks: dirlock::DirLocks::default(),
        });
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            for (i, st) in inner.states.iter().enumerate() {
                if let Some(mut rx) = st.clone() {
                    let weak = Arc::downgrade(&inner);
                    handle.spawn(async move {
                        while rx.changed().await.is_ok() {
                            let Some(inner) = weak.upgrade() else { break };
                            let s = *rx.borrow();
                            if let Some(g) = inner.conn_gen.get(i) {
                                g.fetch_add(1, Ordering::SeqCst);
                            }
                            inner.event_gen.fetch_add(1, Ordering::SeqCst);
                            tracing::info!(afr = %inner.name, child = i, state = ?s, "child state changed");
                        }
                    });
                }
            }
        }
        Ok(Afr { inner })
    }

    pub fn options(&self) -> &AfrOptions {
        &self.inner.opts
    }

    pub fn child_count(&self) -> usize {
        self.inner.children.len()
    }

    /// Which children are connected now.
    pub fn up(&self) -> Vec<bool> {
        self.inner.up()
    }

    /// Handle a callback a brick sent on child `child`'s connection (decoded with
    /// `proto::callback::Callback::decode`). An `INODELK_CONTENTION` in this translator's domain
    /// ends the eager lock of that inode as soon as its running writes are done, so the other
    /// client gets the lock; an `ENTRYLK_CONTENTION` on a directory lock of ours gives it back
    /// after the running entry operation ([`dirlock`]). Other callbacks are ignored here.
    pub fn handle_callback(&self, child: usize, cb: &proto::callback::Callback) {
        if let proto::callback::Callback::EntrylkContention(req) = cb {
            if req.domain == self.inner.name {
                tracing::debug!(afr = %self.inner.name, child, dir = %req.gfid, "entry lock contention");
                dirlock::contended(&self.inner, &req.gfid, &req.name);
            }
        }
        if let proto::callback::Callback::InodelkContention(req) = cb {
            if req.domain == self.inner.name {
                tracing::debug!(afr = %self.inner.name, child, gfid = %req.gfid, "lock contention");
                let ctx = self
                    .inner
                    .inodes
                    .lock()
                    .ok()
                    .and_then(|m| m.get(&req.gfid).cloned());
                if let Some(ctx) = ctx {
                    inode::request_release(&self.inner, &ctx);
                }
            }
        }
    }

    /// Feed the server-initiated calls of child `child` (from `BrickClient::take_incoming`) into
    /// [`Afr::handle_callback`] until the channel closes.
    pub fn spawn_callback_pump(
        &self,
        child: usize,
        mut rx: tokio::sync::mpsc::Receiver<transport::IncomingCall>,
    ) {
        let weak = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            while let Some(call) = rx.recv().await {
                let Some(inner) = weak.upgrade() else { break };
                if call.header.prog != proto::procs::CBK_PROGRAM {
                    continue;
                }
                match proto::callback::Callback::decode(call.header.proc_num, call.args) {
                    Ok(cb) => {
                        tracing::trace!(child, ?cb, "callback");
                        Afr { inner }.handle_callback(child, &cb)
                    }
                    Err(e) => tracing::debug!(child, error = %e, "undecodable callback"),
                }
            }
        });
    }

    /// Number of writes of the inode `gfid` still running on some brick (for tests and metrics).
    pub fn background_writes(&self, gfid: &Gfid) -> usize {
        self.inner
            .inodes
            .lock()
            .ok()
            .and_then(|m| m.get(gfid).cloned())
            .map(|c| c.inflight_count())
            .unwrap_or(0)
    }
}

impl Inner {
    pub fn n(&self) -> usize {
        self.children.len()
    }

    pub fn is_up(&self, i: usize) -> bool {
        match self.states.get(i) {
            Some(Some(rx)) => *rx.borrow() == ConnState::Ready,
            Some(None) => true,
            None => false,
        }
    }

    pub fn up(&self) -> Vec<bool> {
        (0..self.n()).map(|i| self.is_up(i)).collect()
    }

    /// The child reads go to first when it has a good copy: `read-subvolume-index`, else with
    /// `choose-local` the first connected child whose brick is on this machine.
    pub fn preferred_reader(&self) -> Option<usize> {
        if self.opts.read_subvolume.is_some() {
            return self.opts.read_subvolume;
        }
        if !self.opts.choose_local {
            return None;
        }
        (0..self.n()).find(|&i| {
            self.is_up(i)
                && self
                    .local
                    .get(i)
                    .and_then(Option::as_ref)
                    .is_some_and(|l| l.is_local())
        })
    }

    pub fn conn_gens(&self) -> Vec<u64> {
        self.conn_gen
            .iter()
            .map(|g| g.load(Ordering::SeqCst))
            .collect()
    }

    pub fn event_gen(&self) -> u64 {
        self.event_gen.load(Ordering::SeqCst)
    }

    /// Fail with ENOTCONN unless the connected bricks make a quorum (afr_transaction,
    /// afr_read_txn: `afr_quorum_errno` is ENOTCONN).
    pub fn check_quorum_up(&self) -> fop::Result<Vec<bool>> {
        let up = self.up();
        if !up.iter().any(|&u| u) {
            return Err(FopError::NotConnected(format!(
                "{}: no child is up",
                self.name
            )));
        }
        if self.opts.quorum.enabled() && !self.opts.quorum.met(&up) {
            return Err(FopError::NotConnected(format!(
                "{}: client quorum not met ({} of {} children up)",
                self.name,
                up.iter().filter(|&&u| u).count(),
                self.n()
            )));
        }
        Ok(up)
    }

    /// Whether `set` satisfies quorum (with quorum off: at least one).
    pub fn quorum_met(&self, set: &[bool]) -> bool {
        self.opts.quorum.met(set)
    }

    /// A fresh lock owner (8 bytes, like `set_lk_owner_from_ptr`).
    pub fn new_owner(&self) -> Bytes {
        let seq = self.owner_seq.fetch_add(1, Ordering::Relaxed);
        let salt = uuid::Uuid::new_v4();
        let mut b = [0u8; 8];
        let s = salt.as_bytes();
        for (i, v) in b.iter_mut().enumerate() {
            *v = s.get(i).copied().unwrap_or(0) ^ ((seq >> (i * 8)) as u8);
        }
        Bytes::copy_from_slice(&b)
    }

    /// The inode context for `gfid`, created if needed.
    pub fn inode(self: &Arc<Self>, gfid: Gfid) -> Arc<InodeCtx> {
        let mut m = match self.inodes.lock() {
            Ok(m) => m,
            Err(p) => p.into_inner(),
        };
        if let Some(c) = m.get(&gfid) {
            return c.clone();
        }
        if m.len() >= INODE_CACHE {
            m.retain(|_, c| Arc::strong_count(c) > 1 || !c.is_idle());
        }
        let c = Arc::new(InodeCtx::new(
            gfid,
            self.new_owner(),
            self.opts.max_background,
        ));
        m.insert(gfid, c.clone());
        c
    }

    pub fn inode_if_known(&self, gfid: &Gfid) -> Option<Arc<InodeCtx>> {
        self.inodes.lock().ok().and_then(|m| m.get(gfid).cloned())
    }

    /// A caller with `owner` as lock owner.
    pub fn lock_caller(&self, c: &Caller, owner: &Bytes) -> Caller {
        Caller {
            lk_owner: owner.clone(),
            ..c.clone()
        }
    }
}

/// AFR's error choice among replies (afr-common.c `afr_higher_errno`/`afr_final_errno`): ENODATA >
/// ENOENT > ESTALE > ENOSPC > the last one seen.
pub(crate) fn final_error<'a>(errs: impl IntoIterator<Item = &'a FopError>) -> Option<FopError> {
    let rank = |e: &FopError| match e.errno() {
        libc::ENODATA => 4,
        libc::ENOENT => 3,
        libc::ESTALE => 2,
        libc::ENOSPC => 1,
        _ => 0,
    };
    let mut best: Option<&FopError> = None;
    for e in errs {
        best = match best {
            None => Some(e),
            Some(b) if rank(e) >= rank(b) => Some(e),
            Some(b) => Some(b),
        };
    }
    best.cloned()
}

/// Whether every reply failed with the same errno (afr_is_symmetric_error): then nobody is blamed.
pub(crate) fn symmetric_failure(results: &[Option<fop::Result<()>>]) -> bool {
    let mut errno = None;
    let mut any = false;
    for r in results.iter().flatten() {
        match r {
            Ok(()) => return false,
            Err(e) => {
                any = true;
                match errno {
                    None => errno = Some(e.errno()),
                    Some(x) if x == e.errno() => {}
                    Some(_) => return false,
                }
            }
        }
    }
    any
}

/// How long an operation may wait, as an error message helper.
pub(crate) fn timeout_err(what: &str, d: Duration) -> FopError {
    FopError::Timeout(format!("{what} did not finish within {d:?}"))
}
