//! Finding work: index sweeps (afr-self-heald.c `afr_shd_index_sweep_all`, `afr_shd_index_heal`)
//! and full crawls (`afr_shd_full_sweep`).

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use fop::Gfid;
use futures::stream::{self, StreamExt};
use proto::IaType;

use crate::entries::is_private_root_name;
use crate::heal::{post_op, HealRequest, HealStatus, Tally};
use crate::index::{self, IndexKind};
use crate::markers::Delta;
use crate::replica::ReplicaSet;
use crate::stats::{CrawlEvent, CrawlType};
use crate::{heal_caller, heal_inode_with, HealError, HealOutcome};

/// A hook called with each inode's outcome.
pub type OutcomeHook = Arc<dyn Fn(&HealOutcome) + Send + Sync>;
/// A hook called with byte counts.
pub type BytesHook = Arc<dyn Fn(u64) + Send + Sync>;

/// How to sweep.
#[derive(Clone)]
pub struct SweepOptions {
    /// Inodes healed at once per replica set.
    pub parallel: usize,
    /// Passes of an index sweep: it repeats while a pass healed something (a healed directory
    /// may have created entries that could not be healed before), up to this many.
    pub max_passes: usize,
    /// Pause between passes (glustershd sleeps 1 s so an index entry kept alive by ongoing I/O
    /// does not spin).
    pub pass_pause: Duration,
    /// Called with every inode outcome (for logs, split-brain lists, progress).
    pub on_outcome: Option<OutcomeHook>,
    /// Progress in bytes of file data visited (full crawl).
    pub progress: Option<BytesHook>,
    /// Called once the total of bytes a full crawl will visit is known.
    pub on_total: Option<BytesHook>,
}

impl Default for SweepOptions {
    fn default() -> Self {
        SweepOptions {
            parallel: 4,
            max_passes: 64,
            pass_pause: Duration::from_secs(1),
            on_outcome: None,
            progress: None,
            on_total: None,
        }
    }
}

/// Where an inode was found in the indices: (brick, index directory GFID, entry name).
type Sightings = Vec<(usize, Gfid, Bytes)>;

/// Read every brick's indices.
async fn collect_index(rs: &ReplicaSet) -> (BTreeMap<Gfid, Sightings>, BTreeMap<Gfid, Sightings>) {
    let c = heal_caller();
    let mut inodes: BTreeMap<Gfid, Sightings> = BTreeMap::new();
    let mut dirs: BTreeMap<Gfid, Sightings> = BTreeMap::new();
    for (i, b) in rs.bricks.iter().enumerate() {
        if !b.is_connected() {
            continue;
        }
        for kind in [IndexKind::Xattrop, IndexKind::Dirty] {
            match index::list_gfids(b, &c, kind).await {
                Ok((vg, gfids)) => {
                    for g in gfids {
                        inodes
                            .entry(g)
                            .or_default()
                            .push((i, vg, Bytes::from(g.to_string())));
                    }
                }
                Err(e) => {
                    tracing::debug!(brick = %b.label, ?kind, error = %e, "index unreadable")
                }
            }
        }
        match index::index_gfid(b, &c, IndexKind::EntryChanges).await {
            Ok(ec) => match index::list_dir(b, &c, ec).await {
                Ok(names) => {
                    for n in names {
                        let Some(g) = std::str::from_utf8(&n)
                            .ok()
                            .and_then(|s| s.parse::<Gfid>().ok())
                        else {
                            continue;
                        };
                        dirs.entry(g).or_default().push((i, ec, n));
                    }
                }
                Err(e) => tracing::debug!(brick = %b.label, error = %e, "entry-changes unreadable"),
            },
            Err(e) => tracing::debug!(brick = %b.label, error = %e, "entry-changes unreadable"),
        }
    }
    (inodes, dirs)
}

fn count(ev: &mut CrawlEvent, r: &Result<HealOutcome, HealError>) {
    match r {
        Ok(o) => {
            ev.bytes_copied += o.bytes_copied;
            ev.blocks_skipped += o.blocks_skipped;
            ev.entries_fixed += o.entries_fixed;
            match o.status {
                HealStatus::Healed => ev.healed += 1,
                HealStatus::SplitBrain => ev.split_brain += 1,
                HealStatus::Gone => ev.stale += 1,
                HealStatus::NothingToDo | HealStatus::Pending => {}
            }
        }
        Err(_) => ev.heal_failed += 1,
    }
}

/// Heal one indexed inode and tidy the index as glustershd does: a GFID that no brick knows is
/// dropped from the indices that list it (`afr_shd_entry_purge`); an inode whose markers are all
/// zero gets an all-zero xattrop on every brick, which makes the index translators drop it
/// (`afr_shd_zero_xattrop`). `seen` are its xattrop/dirty sightings, `ec` its entry-changes ones.
async fn heal_indexed(
    rs: &ReplicaSet,
    gfid: Gfid,
    seen: &Sightings,
    ec: &Sightings,
) -> Result<HealOutcome, HealError> {
    let r = heal_inode_with(rs, gfid, &HealRequest::default()).await;
    let c = heal_caller();
    let purge_ec = || async {
        for (i, dir, name) in ec {
            if let Err(e) = index::purge_entry_changes(&rs.bricks[*i], &c, *dir, name).await {
                tracing::debug!(brick = %rs.bricks[*i].label, %gfid, error = %e, "index purge failed");
            }
        }
    };
    match &r {
        Ok(o) if o.status == HealStatus::Gone => {
            for (i, dir, name) in seen {
                let b = &rs.bricks[*i];
                if let Err(e) = index::purge(b, &c, *dir, name).await {
                    tracing::debug!(brick = %b.label, %gfid, error = %e, "index purge failed");
                }
            }
            purge_ec().await;
        }
        Ok(o) if o.status == HealStatus::NothingToDo => {
            let zero: Vec<Option<Delta>> = (0..rs.n()).map(|_| Some(Delta::zero(rs.n()))).collect();
            post_op(rs, &c, gfid, &zero).await;
            purge_ec().await;
        }
        _ => {}
    }
    r
}

/// One index sweep of a replica set, repeated while passes heal something (and, twice at most,
/// while some heal failed: an inode whose parent was being healed in the same pass, or whose lock
/// another healer held, is usually fine a moment later). Healed and stale counts add up over the
/// passes; split-brain and failure counts are the last pass's, what is left.
///
/// When a pass heals nothing the anonymous-inode directory is tidied, as glustershd does
/// (`afr_cleanup_anon_inode_dir` after `afr_shd_index_sweep_all` returned 0); inodes that were
/// only left there make the indices stale, so the passes run once more if it removed anything.
pub async fn index_sweep(rs: &ReplicaSet, opts: &SweepOptions) -> CrawlEvent {
    let mut total = CrawlEvent::begin(&rs.name, CrawlType::Index);
    if rs.up().iter().filter(|&&u| u).count() < 2 {
        // afr_bricks_available_for_heal: nothing can be healed with fewer than two bricks.
        total.finish();
        return total;
    }
    passes(rs, opts, &mut total).await;
    if clean_anon_dir(rs).await > 0 && total.heal_failed > 0 {
        passes(rs, opts, &mut total).await;
    }
    total.finish();
    total
}

async fn passes(rs: &ReplicaSet, opts: &SweepOptions, total: &mut CrawlEvent) {
    let mut retries = 0;
    for pass in 0..opts.max_passes.max(1) {
        let (inodes, dirs) = collect_index(rs).await;
        // A directory in entry-changes is usually in the xattrop index too: heal it once.
        let mut work: BTreeMap<Gfid, (Sightings, Sightings)> = BTreeMap::new();
        for (g, s) in inodes {
            work.entry(g).or_default().0 = s;
        }
        for (g, s) in dirs {
            work.entry(g).or_default().1 = s;
        }
        if work.is_empty() {
            total.split_brain = 0;
            total.heal_failed = 0;
            break;
        }
        let mut ev = CrawlEvent::begin(&rs.name, CrawlType::Index);
        tracing::debug!(replica = %rs.name, pass, entries = work.len(), "index sweep pass");
        let results: Vec<Result<HealOutcome, HealError>> = stream::iter(work)
            .map(|(g, (s, ec))| async move { heal_indexed(rs, g, &s, &ec).await })
            .buffer_unordered(opts.parallel.max(1))
            .collect()
            .await;
        for r in &results {
            count(&mut ev, r);
            match r {
                Ok(o) => {
                    if let Some(f) = &opts.on_outcome {
                        f(o);
                    }
                }
                Err(e) => tracing::info!(replica = %rs.name, error = %e, "heal failed"),
            }
        }
        total.healed += ev.healed;
        total.stale += ev.stale;
        total.bytes_copied += ev.bytes_copied;
        total.blocks_skipped += ev.blocks_skipped;
        total.entries_fixed += ev.entries_fixed;
        total.split_brain = ev.split_brain;
        total.heal_failed = ev.heal_failed;
        if ev.healed == 0 {
            if ev.heal_failed == 0 || retries >= 2 {
                break;
            }
            retries += 1;
        }
        tokio::time::sleep(opts.pass_pause).await;
    }
}

/// Remove from the anonymous-inode directory what entry heal parked there and no heal will move
/// back (`afr_shd_anon_inode_cleaner`): an inode present on this brick only, a file also linked
/// under another name on this brick, or an inode that is anonymous on every brick that has it.
/// Needs every brick up. Returns how many entries it removed.
pub async fn clean_anon_dir(rs: &ReplicaSet) -> usize {
    let Some((_, anon)) = rs.opts.anon_inode.clone() else {
        return 0;
    };
    if !rs.up().iter().all(|&u| u) {
        return 0;
    }
    let c = heal_caller();
    let mut removed = 0;
    for (i, b) in rs.bricks.iter().enumerate() {
        let list = match crate::entry::list_dir_stat(b.subvol.as_ref(), &c, anon).await {
            Ok(l) => l,
            Err(_) => continue,
        };
        for (name, ia) in list {
            let Some(gfid) = std::str::from_utf8(&name)
                .ok()
                .and_then(|s| s.parse::<Gfid>().ok())
            else {
                continue;
            };
            let gloc = fop::Loc::gfid(gfid);
            let empty = fop::Dict::new();
            let found = futures::future::join_all(
                rs.bricks.iter().map(|x| x.subvol.lookup(&c, &gloc, &empty)),
            )
            .await;
            if found
                .iter()
                .any(|r| matches!(r, Err(e) if !e.is(libc::ENOENT) && !e.is(libc::ESTALE)))
            {
                continue;
            }
            let present: Vec<bool> = found.iter().map(Result::is_ok).collect();
            let count = present.iter().filter(|&&p| p).count();
            let nlink = found
                .get(i)
                .and_then(|r| r.as_ref().ok())
                .map_or(0, |l| l.iatt.nlink);
            let entry = fop::Loc::entry(anon, name.clone()).with_gfid(gfid);
            let purge = |x: &crate::replica::Brick| {
                let entry = entry.clone();
                let is_dir = ia.is_dir();
                let sub = x.subvol.clone();
                let c = c.clone();
                async move {
                    let r = if is_dir {
                        sub.rmdir(&c, &entry, 1, &fop::Dict::new()).await
                    } else {
                        sub.unlink(&c, &entry, &fop::Dict::new()).await
                    };
                    match r {
                        Err(e) if !e.is(libc::ENOENT) && !e.is(libc::ESTALE) => Err(e),
                        _ => Ok(()),
                    }
                }
            };
            if count == 1 || (!ia.is_dir() && nlink > 1) {
                tracing::warn!(brick = %b.label, %gfid, "expunging from the anonymous-inode directory");
                match purge(b).await {
                    Ok(()) => removed += 1,
                    Err(e) => {
                        tracing::debug!(brick = %b.label, %gfid, error = %e, "anonymous-inode cleanup failed")
                    }
                }
            } else if count > 1 {
                // Anonymous on every brick that has it: no name left anywhere.
                let named = fop::Loc::entry(anon, name.clone());
                let by_name = futures::future::join_all(
                    rs.bricks
                        .iter()
                        .map(|x| x.subvol.lookup(&c, &named, &empty)),
                )
                .await;
                let everywhere = present.iter().zip(&by_name).all(|(&p, r)| !p || r.is_ok());
                if everywhere {
                    tracing::warn!(%gfid, "expunging from the anonymous-inode directory of every brick");
                    for (x, &here) in rs.bricks.iter().zip(&present) {
                        if here {
                            match purge(x).await {
                                Ok(()) => removed += 1,
                                Err(e) => {
                                    tracing::debug!(brick = %x.label, %gfid, error = %e, "anonymous-inode cleanup failed")
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    removed
}

/// A full crawl of a replica set (`heal full`): every directory from the root gets a forced entry
/// heal (names missing on a copy are created, as after a brick was replaced by an empty one),
/// then every inode is healed. Directories first (so the tree exists), then files with a byte
/// progress.
pub async fn full_crawl(rs: &ReplicaSet, opts: &SweepOptions) -> CrawlEvent {
    let mut ev = CrawlEvent::begin(&rs.name, CrawlType::Full);
    let c = heal_caller();
    let anon = rs.opts.anon_inode.as_ref().map(|(n, _)| n.clone());
    let mut files: BTreeMap<Gfid, u64> = BTreeMap::new();
    let mut queue: VecDeque<Gfid> = VecDeque::from([Gfid::ROOT]);
    let mut seen_dirs: std::collections::BTreeSet<Gfid> = Default::default();
    while let Some(dir) = queue.pop_front() {
        if !seen_dirs.insert(dir) {
            continue;
        }
        let mut tally = Tally::default();
        let r =
            crate::entry::heal_entry(rs, &c, dir, &HealRequest::default(), true, &mut tally).await;
        ev.entries_fixed += tally.entries_fixed;
        if let Err(e) = &r {
            tracing::warn!(replica = %rs.name, %dir, error = %e, "full crawl: entry heal failed");
            ev.heal_failed += 1;
        }
        let r = heal_inode_with(rs, dir, &HealRequest::default()).await;
        count(&mut ev, &r);
        if let (Ok(o), Some(f)) = (&r, &opts.on_outcome) {
            f(o);
        }
        // The union of the bricks' entries.
        let mut children: BTreeMap<Gfid, (IaType, u64)> = BTreeMap::new();
        for b in &rs.bricks {
            if !b.is_connected() {
                continue;
            }
            match crate::entry::list_dir_stat(b.subvol.as_ref(), &c, dir).await {
                Ok(list) => {
                    for (name, ia) in list {
                        if dir.is_root() && is_private_root_name(&name, anon.as_deref()) {
                            continue;
                        }
                        if ia.gfid.is_null() {
                            continue;
                        }
                        let e = children.entry(ia.gfid).or_insert((ia.ia_type(), 0));
                        e.1 = e.1.max(ia.size);
                    }
                }
                Err(e) => tracing::debug!(brick = %b.label, %dir, error = %e, "listing failed"),
            }
        }
        for (g, (ty, size)) in children {
            if ty == IaType::Dir {
                queue.push_back(g);
            } else {
                files.insert(g, if ty == IaType::Reg { size } else { 0 });
            }
        }
    }
    if let Some(t) = &opts.on_total {
        t(files.values().sum());
    }
    let progress = opts.progress.clone();
    let results: Vec<Result<HealOutcome, HealError>> = stream::iter(files)
        .map(|(g, size)| {
            let progress = progress.clone();
            async move {
                let req = HealRequest::default();
                let r = heal_inode_with(rs, g, &req).await;
                if let Some(p) = &progress {
                    p(size);
                }
                r
            }
        })
        .buffer_unordered(opts.parallel.max(1))
        .collect()
        .await;
    for r in &results {
        count(&mut ev, r);
        if let (Ok(o), Some(f)) = (r, &opts.on_outcome) {
            f(o);
        }
        if let Err(e) = r {
            tracing::warn!(replica = %rs.name, error = %e, "full crawl: heal failed");
        }
    }
    ev.finish();
    ev
}
