//! Client-side self-heal: the replicate translator's lookups report inodes that need healing
//! ([`afr::HealTrigger`]); [`ClientHealer`] heals them in the background with [`heal_inode_with`],
//! as AFR's client does (afr-self-heal-common.c `afr_throttled_selfheal`, `afr_heal_synctask`):
//!
//! - at most `cluster.background-self-heal-count` heals at a time (default 8; 0 turns client-side
//!   heals off, as in AFR where no heal is then ever started from the client);
//! - beyond that, up to `cluster.heal-wait-queue-length` waiting (default 128); more are dropped
//!   (the next lookup, or the self-heal daemon, finds them again);
//! - one heal per GFID at a time, and an inode whose heal could not be completed (another healer
//!   holds it, a brick went away, only an operation in flight) is left alone for a few seconds,
//!   so a busy file does not start a heal on every lookup;
//! - an inode another client is writing (an inodelk held in the replicate domain: its
//!   transaction is in flight, and its markers say nothing yet) is not healed from here, so a
//!   reader's lookups never make a writer give up its eager lock;
//! - the lookup never waits: reporting is a lock of a small map and at most one task spawn.
//!
//! Which kinds are healed follows `cluster.data-self-heal`, `cluster.metadata-self-heal` and
//! `cluster.entry-self-heal`. **Defaults differ from GlusterFS 10**: its afr.c defaults all three
//! to `off` (glustershd heals, clients don't); gluster-rs heals from the client unless the volfile
//! (or an `xlator-option`) says `off`. `data-self-heal=open` (heal only on open in AFR) counts
//! as off, since gluster-rs does not heal on open.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use afr::{HealKinds, HealTrigger};
use fop::Gfid;
use serde::Serialize;

use crate::heal::{heal_inode_with, HealRequest, HealStatus};
use crate::replica::ReplicaSet;
use crate::{HealError, Result};

/// Most GFIDs remembered as recently tried.
const RECENT_MAX: usize = 4096;
/// How long a GFID found in split-brain is left alone.
const SPLIT_BRAIN_RETRY: Duration = Duration::from_secs(60);

/// How the client heals (AFR's client options).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientHealOptions {
    /// Kinds healed: `data-self-heal`, `metadata-self-heal`, `entry-self-heal`.
    pub kinds: HealKinds,
    /// `background-self-heal-count`: heals running at once; 0 starts none.
    pub background: usize,
    /// `heal-wait-queue-length`: heals waiting for a free slot; beyond, dropped.
    pub wait_queue: usize,
    /// After a heal that did not complete (or found nothing to do), lookups of that GFID start
    /// no new heal for this long.
    pub retry_after: Duration,
}

impl Default for ClientHealOptions {
    fn default() -> Self {
        ClientHealOptions {
            kinds: HealKinds::ALL,
            background: 8,
            wait_queue: 128,
            retry_after: Duration::from_secs(3),
        }
    }
}

impl ClientHealOptions {
    /// Options from a volfile's replicate node (absent: gluster-rs's defaults, see the module
    /// docs); an unparsable value is an error, as it fails AFR's init.
    pub fn from_spec(r: &volfile::Replicate) -> Result<Self> {
        let mut o = ClientHealOptions::default();
        let bad = |k: &str, v: &str| HealError::Usage(format!("{}: {k} {v}: invalid", r.name));
        o.kinds.data = match r.options.get("data-self-heal") {
            None => true,
            Some(v) if v.eq_ignore_ascii_case("open") => false,
            Some(v) => volfile::parse_bool(v).ok_or_else(|| bad("data-self-heal", v))?,
        };
        o.kinds.metadata = r.bool_option_or("metadata-self-heal", true)?;
        o.kinds.entry = r.bool_option_or("entry-self-heal", true)?;
        // afr.c: background-self-heal-count 0..256, heal-wait-queue-length 0..10000.
        if let Some(v) = r.options.get("background-self-heal-count") {
            let n = volfile::parse_uint(v).ok_or_else(|| bad("background-self-heal-count", v))?;
            o.background = n.min(256) as usize;
        }
        if let Some(v) = r.options.get("heal-wait-queue-length") {
            let n = volfile::parse_uint(v).ok_or_else(|| bad("heal-wait-queue-length", v))?;
            o.wait_queue = n.min(10_000) as usize;
        }
        Ok(o)
    }

    /// Whether any heal would ever be started.
    pub fn enabled(&self) -> bool {
        self.kinds.any() && self.background > 0
    }
}

/// Counters of a [`ClientHealer`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ClientHealStats {
    /// Reports received (after filtering by the enabled kinds).
    pub requested: u64,
    /// Reports for a GFID already being healed or waiting.
    pub deduplicated: u64,
    /// Reports ignored because the GFID was tried a moment ago.
    pub deferred: u64,
    /// Reports dropped with the queue full.
    pub dropped: u64,
    pub started: u64,
    pub healed: u64,
    /// Heals that found nothing to do, only an operation in flight, or a stale GFID.
    pub nothing: u64,
    pub split_brain: u64,
    /// Heals that failed (another healer holds the inode, a brick is down, an error).
    pub failed: u64,
}

#[derive(Default)]
struct Counters {
    requested: AtomicU64,
    deduplicated: AtomicU64,
    deferred: AtomicU64,
    dropped: AtomicU64,
    started: AtomicU64,
    healed: AtomicU64,
    nothing: AtomicU64,
    split_brain: AtomicU64,
    failed: AtomicU64,
}

fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

/// What became of one report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Offer {
    /// Start a heal of it now (a slot was taken).
    Start,
    Queued,
    /// Already waiting: kinds merged.
    Merged,
    /// Being healed now.
    Running,
    /// Tried a moment ago.
    Deferred,
    /// Queue full.
    Dropped,
}

/// The bookkeeping of the background heals (AFR: `healers`, `heal_waiting`, `heal_waiters`).
#[derive(Default)]
struct Queue {
    workers: usize,
    running: HashSet<Gfid>,
    waiting: VecDeque<(Gfid, HealKinds)>,
    /// GFID → until when reports of it are ignored.
    recent: HashMap<Gfid, Instant>,
}

impl Queue {
    fn offer(&mut self, gfid: Gfid, what: HealKinds, now: Instant, o: &ClientHealOptions) -> Offer {
        if let Some(until) = self.recent.get(&gfid).copied() {
            if until > now {
                return Offer::Deferred;
            }
            self.recent.remove(&gfid);
        }
        if self.running.contains(&gfid) {
            return Offer::Running;
        }
        if let Some((_, k)) = self.waiting.iter_mut().find(|(g, _)| *g == gfid) {
            *k = k.union(what);
            return Offer::Merged;
        }
        if self.workers < o.background {
            self.workers += 1;
            self.running.insert(gfid);
            Offer::Start
        } else if self.waiting.len() < o.wait_queue {
            self.waiting.push_back((gfid, what));
            Offer::Queued
        } else {
            Offer::Dropped
        }
    }

    /// The heal of `gfid` ended; reports of it are ignored for `defer` (None: it was healed).
    /// Returns the slot's next heal, or None (slot freed).
    fn finish(
        &mut self,
        gfid: Gfid,
        defer: Option<Duration>,
        now: Instant,
    ) -> Option<(Gfid, HealKinds)> {
        self.running.remove(&gfid);
        if let Some(defer) = defer {
            if self.recent.len() >= RECENT_MAX {
                self.recent.retain(|_, t| *t > now);
                if self.recent.len() >= RECENT_MAX {
                    self.recent.clear();
                }
            }
            self.recent.insert(gfid, now + defer);
        }
        match self.waiting.pop_front() {
            Some((g, k)) => {
                self.running.insert(g);
                Some((g, k))
            }
            None => {
                self.workers = self.workers.saturating_sub(1);
                None
            }
        }
    }

    /// A slot ends without finishing (no runtime, task cancelled or panicked).
    fn abandon(&mut self, current: Option<Gfid>) {
        if let Some(g) = current {
            self.running.remove(&g);
        }
        self.workers = self.workers.saturating_sub(1);
    }
}

struct Shared {
    rs: ReplicaSet,
    opts: ClientHealOptions,
    q: Mutex<Queue>,
    n: Counters,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        match self.q.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }
}

/// The background healer of one replica set, installed as the replicate translator's
/// [`afr::AfrOptions::heal_trigger`].
#[derive(Clone)]
pub struct ClientHealer {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for ClientHealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientHealer")
            .field("replica", &self.shared.rs.name)
            .field("opts", &self.shared.opts)
            .finish()
    }
}

impl ClientHealer {
    pub fn new(rs: ReplicaSet, opts: ClientHealOptions) -> ClientHealer {
        ClientHealer {
            shared: Arc::new(Shared {
                rs,
                opts,
                q: Mutex::new(Queue::default()),
                n: Counters::default(),
            }),
        }
    }

    pub fn options(&self) -> &ClientHealOptions {
        &self.shared.opts
    }

    pub fn stats(&self) -> ClientHealStats {
        let n = &self.shared.n;
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        ClientHealStats {
            requested: g(&n.requested),
            deduplicated: g(&n.deduplicated),
            deferred: g(&n.deferred),
            dropped: g(&n.dropped),
            started: g(&n.started),
            healed: g(&n.healed),
            nothing: g(&n.nothing),
            split_brain: g(&n.split_brain),
            failed: g(&n.failed),
        }
    }

    /// Heals running or waiting now.
    pub fn busy(&self) -> usize {
        let q = self.shared.lock();
        q.running.len() + q.waiting.len()
    }

    fn report(&self, gfid: Gfid, what: HealKinds) {
        let s = &self.shared;
        let what = what.intersect(s.opts.kinds);
        if !what.any() || s.opts.background == 0 || gfid.is_null() {
            return;
        }
        bump(&s.n.requested);
        let offer = s.lock().offer(gfid, what, Instant::now(), &s.opts);
        match offer {
            Offer::Start => {
                let Ok(handle) = tokio::runtime::Handle::try_current() else {
                    s.lock().abandon(Some(gfid));
                    tracing::debug!(replica = %s.rs.name, %gfid, "no runtime to heal on");
                    return;
                };
                let worker = Worker {
                    shared: s.clone(),
                    current: Some(gfid),
                    finished: false,
                };
                handle.spawn(worker.run(gfid, what));
            }
            Offer::Queued => {}
            Offer::Merged | Offer::Running => bump(&s.n.deduplicated),
            Offer::Deferred => bump(&s.n.deferred),
            Offer::Dropped => {
                bump(&s.n.dropped);
                tracing::debug!(replica = %s.rs.name, %gfid, "heal queue full; background self-heal rejected");
            }
        }
    }
}

impl HealTrigger for ClientHealer {
    fn needs_heal(&self, gfid: Gfid, what: HealKinds) {
        self.report(gfid, what);
    }
}

/// One background heal slot: heals its GFID, then whatever waits, then frees the slot (also if
/// the task is cancelled or panics).
struct Worker {
    shared: Arc<Shared>,
    current: Option<Gfid>,
    finished: bool,
}

impl Worker {
    async fn run(mut self, mut gfid: Gfid, mut what: HealKinds) {
        loop {
            let s = self.shared.clone();
            bump(&s.n.started);
            let req = HealRequest {
                kinds: Some(what),
                defer_to_locks: true,
                ..HealRequest::default()
            };
            let r = heal_inode_with(&s.rs, gfid, &req).await;
            let retry = s.opts.retry_after;
            let defer = match &r {
                Ok(o) => match o.status {
                    HealStatus::Healed => {
                        bump(&s.n.healed);
                        tracing::info!(replica = %s.rs.name, %gfid, healed = ?o.healed, sinks = ?o.sinks, bytes = o.bytes_copied, "client-side heal");
                        None
                    }
                    HealStatus::SplitBrain => {
                        bump(&s.n.split_brain);
                        tracing::warn!(replica = %s.rs.name, %gfid, split_brain = ?o.split_brain, "client-side heal: split-brain");
                        // Only a choice resolves it: do not retry (and warn) on every lookup.
                        Some(retry.max(SPLIT_BRAIN_RETRY))
                    }
                    HealStatus::NothingToDo | HealStatus::Pending | HealStatus::Gone => {
                        bump(&s.n.nothing);
                        tracing::debug!(replica = %s.rs.name, %gfid, status = ?o.status, "client-side heal: nothing done");
                        Some(retry)
                    }
                },
                Err(e) => {
                    bump(&s.n.failed);
                    tracing::debug!(replica = %s.rs.name, %gfid, error = %e, "client-side heal not done");
                    Some(retry)
                }
            };
            let next = s.lock().finish(gfid, defer, Instant::now());
            match next {
                Some((g, k)) => {
                    self.current = Some(g);
                    gfid = g;
                    what = k;
                }
                None => {
                    self.current = None;
                    self.finished = true;
                    return;
                }
            }
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        // The task ended abnormally (cancelled with its runtime, or a panic): free the slot.
        let current = self.current.take();
        self.shared.lock().abandon(current);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(b: u8) -> Gfid {
        Gfid([b; 16])
    }

    const DATA: HealKinds = HealKinds {
        data: true,
        metadata: false,
        entry: false,
    };
    const META: HealKinds = HealKinds {
        data: false,
        metadata: true,
        entry: false,
    };

    #[test]
    fn slots_queue_and_drop() {
        let o = ClientHealOptions {
            background: 2,
            wait_queue: 2,
            ..ClientHealOptions::default()
        };
        let now = Instant::now();
        let mut q = Queue::default();
        assert_eq!(q.offer(g(1), DATA, now, &o), Offer::Start);
        assert_eq!(q.offer(g(2), DATA, now, &o), Offer::Start);
        assert_eq!(q.offer(g(1), META, now, &o), Offer::Running);
        assert_eq!(q.offer(g(3), DATA, now, &o), Offer::Queued);
        assert_eq!(q.offer(g(3), META, now, &o), Offer::Merged);
        assert_eq!(q.offer(g(4), DATA, now, &o), Offer::Queued);
        assert_eq!(q.offer(g(5), DATA, now, &o), Offer::Dropped);
        assert_eq!(q.workers, 2);
        // Slot 1 finishes (healed): takes g(3) with both kinds.
        assert_eq!(q.finish(g(1), None, now), Some((g(3), DATA.union(META))));
        // Healed: may be reported again at once.
        assert_eq!(q.offer(g(1), DATA, now, &o), Offer::Queued);
        // Slot 2 fails: g(2) is left alone for a while.
        assert_eq!(
            q.finish(g(2), Some(Duration::from_secs(3)), now),
            Some((g(4), DATA))
        );
        assert_eq!(q.offer(g(2), DATA, now, &o), Offer::Deferred);
        assert_eq!(q.finish(g(4), None, now), Some((g(1), DATA)));
        let later = now + Duration::from_secs(4);
        assert_eq!(q.offer(g(2), DATA, later, &o), Offer::Queued);
        assert_eq!(q.finish(g(3), None, later), Some((g(2), DATA)));
        assert_eq!(q.finish(g(1), None, later), None);
        assert_eq!(q.workers, 1);
        assert_eq!(q.finish(g(2), None, later), None);
        assert_eq!(q.workers, 0);
        assert!(q.running.is_empty() && q.waiting.is_empty());
    }

    #[test]
    fn abandoned_slot_is_freed() {
        let o = ClientHealOptions {
            background: 1,
            wait_queue: 0,
            ..ClientHealOptions::default()
        };
        let now = Instant::now();
        let mut q = Queue::default();
        assert_eq!(q.offer(g(1), DATA, now, &o), Offer::Start);
        assert_eq!(q.offer(g(2), DATA, now, &o), Offer::Dropped);
        q.abandon(Some(g(1)));
        assert_eq!(q.offer(g(2), DATA, now, &o), Offer::Start);
    }

    #[test]
    fn recent_map_stays_bounded() {
        let o = ClientHealOptions {
            background: 1,
            ..ClientHealOptions::default()
        };
        let now = Instant::now();
        let mut q = Queue::default();
        for i in 0..(RECENT_MAX as u32 + 10) {
            let mut b = [0u8; 16];
            b[..4].copy_from_slice(&i.to_le_bytes());
            b[15] = 1;
            let gf = Gfid(b);
            assert_eq!(q.offer(gf, DATA, now, &o), Offer::Start);
            assert_eq!(q.finish(gf, Some(Duration::from_secs(60)), now), None);
        }
        assert!(q.recent.len() <= RECENT_MAX);
    }

    fn spec(opts: &str) -> volfile::Replicate {
        let text = format!(
            "volume v-client-0\n type protocol/client\n option remote-host h\n option remote-subvolume /b0\nend-volume\n\
             volume v-client-1\n type protocol/client\n option remote-host h\n option remote-subvolume /b1\nend-volume\n\
             volume v-replicate-0\n type cluster/replicate\n{opts} subvolumes v-client-0 v-client-1\nend-volume\n"
        );
        let graph = volfile::Graph::parse(&text).expect("volfile");
        let spec = volfile::ClientVolume::from_graph(&graph).expect("spec");
        match spec.root {
            volfile::Node::Replicate(r) => r,
            _ => panic!("not a replicate root"),
        }
    }

    #[test]
    fn options_from_the_volfile() {
        let d = ClientHealOptions::from_spec(&spec("")).expect("defaults");
        assert_eq!(d, ClientHealOptions::default());
        assert!(d.enabled());
        let o = ClientHealOptions::from_spec(&spec(
            " option data-self-heal open\n option metadata-self-heal off\n option background-self-heal-count 3\n option heal-wait-queue-length 20000\n",
        ))
        .expect("options");
        assert_eq!(
            o.kinds,
            HealKinds {
                data: false,
                metadata: false,
                entry: true
            }
        );
        assert_eq!((o.background, o.wait_queue), (3, 10_000));
        let off = ClientHealOptions::from_spec(&spec(" option background-self-heal-count 0\n"))
            .expect("options");
        assert!(!off.enabled());
        assert!(ClientHealOptions::from_spec(&spec(" option entry-self-heal maybe\n")).is_err());
        assert!(ClientHealOptions::from_spec(&spec(" option data-self-heal maybe\n")).is_err());
    }
}
