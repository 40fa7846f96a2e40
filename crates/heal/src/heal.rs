//! Healing one inode: `afr_selfheal` / `afr_selfheal_do` (afr-self-heal-common.c).

use std::sync::Arc;

use fop::{set_attr, Caller, Gfid, Iatt, Loc, XattropOp};
use futures::future::join_all;
use serde::Serialize;

use crate::inspect::{discover, inspect, Inspection};
use crate::markers::{Delta, HealType};
use crate::policy::{SplitBrainChoice, SplitBrainRefusal};
use crate::replica::ReplicaSet;
use crate::{heal_caller, HealError, Result};

/// How to heal.
#[derive(Clone, Default)]
pub struct HealRequest {
    /// Resolve a split-brain with this choice (`gluster volume heal VOL split-brain ...`); a
    /// file that is not in split-brain is then refused, as AFR does.
    pub choice: Option<SplitBrainChoice>,
    /// Called with the number of bytes of each block sent (progress display).
    pub progress: Option<Arc<dyn Fn(u64) + Send + Sync>>,
    /// Heal only these kinds (client-side heal honours `cluster.data-self-heal`,
    /// `metadata-self-heal`, `entry-self-heal` as afr_selfheal_do does); `None`: all.
    pub kinds: Option<afr::HealKinds>,
    /// Do nothing (status [`HealStatus::Pending`]) while another owner holds an inodelk in the
    /// replicate translator's domain, i.e. a client's transaction is in flight: client-side heal
    /// never makes a writer give up its eager lock; the writer's post-op leaves the markers for a
    /// later lookup or the self-heal daemon (which waits for the lock instead).
    pub defer_to_locks: bool,
}

impl HealRequest {
    pub fn choose(choice: SplitBrainChoice) -> Self {
        HealRequest {
            choice: Some(choice),
            progress: None,
            kinds: None,
            defer_to_locks: false,
        }
    }
}

/// What happened to an inode (AFR's return values of `afr_selfheal`: 0 healed, 1 markers set
/// but nothing could be done now, 2 nothing to do, EIO split-brain, ENOENT gone).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum HealStatus {
    Healed,
    /// Markers are set but nothing needed healing (e.g. an operation in flight).
    Pending,
    /// Every copy agrees and no marker is set.
    NothingToDo,
    SplitBrain,
    /// The inode no longer exists on any brick (a stale index entry).
    Gone,
}

/// The result of healing one inode.
#[derive(Debug, Clone, Serialize)]
pub struct HealOutcome {
    pub gfid: String,
    pub status: HealStatus,
    /// Heal types completed.
    pub healed: Vec<HealType>,
    /// Heal types left in split-brain, with the reason.
    pub split_brain: Vec<(HealType, SplitBrainRefusal)>,
    /// Source brick index of the last heal type done.
    pub source: Option<usize>,
    /// Bricks brought up to date.
    pub sinks: Vec<usize>,
    pub bytes_copied: u64,
    pub blocks_skipped: u64,
    pub entries_fixed: u64,
}

impl HealOutcome {
    fn new(gfid: Gfid, status: HealStatus) -> Self {
        HealOutcome {
            gfid: gfid.to_string(),
            status,
            healed: Vec::new(),
            split_brain: Vec::new(),
            source: None,
            sinks: Vec::new(),
            bytes_copied: 0,
            blocks_skipped: 0,
            entries_fixed: 0,
        }
    }
}

/// The result of one heal type.
#[derive(Debug, Clone)]
pub(crate) enum TypeResult {
    Healed { source: usize, sinks: Vec<usize> },
    NotNeeded,
    SplitBrain(SplitBrainRefusal),
}

/// Counters a heal updates.
#[derive(Debug, Default, Clone)]
pub(crate) struct Tally {
    pub bytes_copied: u64,
    pub blocks_skipped: u64,
    pub entries_fixed: u64,
}

/// Heal one inode of a replica set: data, metadata and (directories) entries, as
/// `afr_selfheal_do` does. This is what both the self-heal daemon and the replicate translator's
/// heal-on-lookup call.
pub async fn heal_inode(rs: &ReplicaSet, gfid: Gfid) -> Result<HealOutcome> {
    heal_inode_with(rs, gfid, &HealRequest::default()).await
}

/// [`heal_inode`] with a split-brain choice or a progress hook.
pub async fn heal_inode_with(
    rs: &ReplicaSet,
    gfid: Gfid,
    req: &HealRequest,
) -> Result<HealOutcome> {
    let c = heal_caller();
    let all = rs.up();
    let d = discover(rs, &c, gfid, &all).await;
    let (needs, first) = match inspect(&d) {
        Inspection::TypeMismatch => {
            let mut o = HealOutcome::new(gfid, HealStatus::SplitBrain);
            o.split_brain
                .push((HealType::Metadata, SplitBrainRefusal::Unresolved));
            return Ok(o);
        }
        Inspection::Unavailable { stale: true } => {
            return Ok(HealOutcome::new(gfid, HealStatus::Gone))
        }
        Inspection::Unavailable { stale: false } => {
            return Err(HealError::NotAllUp {
                replica: rs.name.clone(),
                gfid,
                locked: d.ok_count(),
                total: rs.n(),
            })
        }
        Inspection::Needs(n, first) => (n, first),
    };
    let wanted = req.kinds.unwrap_or(afr::HealKinds::ALL);
    let masked = crate::inspect::Needs {
        data: needs.data && wanted.data,
        metadata: needs.metadata && wanted.metadata,
        entry: needs.entry && wanted.entry,
    };
    if needs.any() && !masked.any() {
        // Something to heal, but not of a kind asked for.
        return Ok(HealOutcome::new(gfid, HealStatus::Pending));
    }
    let needs = masked;
    if needs.any() && req.defer_to_locks && d.lock_count(&rs.name) > 0 {
        return Ok(HealOutcome::new(gfid, HealStatus::Pending));
    }
    if !needs.any() {
        if req.choice.is_some() {
            return Err(HealError::SplitBrain {
                gfid,
                ty: HealType::Data,
                refusal: SplitBrainRefusal::NotInSplitBrain,
            });
        }
        return Ok(HealOutcome::new(gfid, HealStatus::NothingToDo));
    }
    let mut outcome = HealOutcome::new(gfid, HealStatus::Pending);
    let mut tally = Tally::default();
    let mut results: Vec<(HealType, Result<TypeResult>)> = Vec::new();
    if needs.data && first.is_reg() {
        let r = crate::data::heal_data(rs, &c, gfid, req, &mut tally).await;
        results.push((HealType::Data, r));
    }
    if needs.metadata {
        let r = crate::metadata::heal_metadata(rs, &c, gfid, req).await;
        results.push((HealType::Metadata, r));
    }
    if needs.entry && first.is_dir() {
        let r = crate::entry::heal_entry(rs, &c, gfid, req, false, &mut tally).await;
        results.push((HealType::Entry, r));
    }
    outcome.bytes_copied = tally.bytes_copied;
    outcome.blocks_skipped = tally.blocks_skipped;
    outcome.entries_fixed = tally.entries_fixed;
    let mut first_err: Option<HealError> = None;
    let mut any_healed = false;
    for (ty, r) in results {
        match r {
            Ok(TypeResult::Healed { source, sinks }) => {
                any_healed = true;
                outcome.healed.push(ty);
                outcome.source = Some(source);
                for s in sinks {
                    if !outcome.sinks.contains(&s) {
                        outcome.sinks.push(s);
                    }
                }
            }
            Ok(TypeResult::NotNeeded) => {}
            Ok(TypeResult::SplitBrain(refusal)) => outcome.split_brain.push((ty, refusal)),
            Err(HealError::SplitBrain { refusal, .. }) if req.choice.is_none() => {
                outcome.split_brain.push((ty, refusal))
            }
            Err(e) => {
                if first_err.is_none() {
                    first_err = Some(e);
                }
            }
        }
    }
    if let Some(choice_refusal) = req
        .choice
        .and_then(|_| outcome.split_brain.first().map(|(ty, r)| (*ty, *r)))
    {
        return Err(HealError::SplitBrain {
            gfid,
            ty: choice_refusal.0,
            refusal: choice_refusal.1,
        });
    }
    if !outcome.split_brain.is_empty() {
        outcome.status = HealStatus::SplitBrain;
        return Ok(outcome);
    }
    if let Some(e) = first_err {
        return Err(e);
    }
    outcome.status = if any_healed {
        HealStatus::Healed
    } else {
        HealStatus::Pending
    };
    Ok(outcome)
}

/// Send AFR's post-op xattrop (`GF_XATTROP_ADD_ARRAY`) with `deltas[i]` to brick `i`
/// (`afr_selfheal_post_op`). Returns which bricks failed.
pub(crate) async fn post_op(
    rs: &ReplicaSet,
    c: &Caller,
    gfid: Gfid,
    deltas: &[Option<Delta>],
) -> Vec<bool> {
    let loc = Loc::gfid(gfid);
    join_all(rs.bricks.iter().enumerate().map(|(i, b)| {
        let loc = &loc;
        async move {
            let Some(Some(d)) = deltas.get(i) else {
                return false;
            };
            let dict = d.to_dict(&rs.pending_keys);
            match b.subvol.xattrop(c, loc, XattropOp::AddArray, &dict).await {
                Ok(_) => false,
                Err(e) => {
                    tracing::warn!(replica = %rs.name, brick = %b.label, %gfid, error = %e, "heal post-op failed");
                    true
                }
            }
        }
    }))
    .await
}

/// `afr_selfheal_restore_time`: give the healed sinks the source's access and modification times.
pub(crate) async fn restore_time(
    rs: &ReplicaSet,
    c: &Caller,
    gfid: Gfid,
    source: &Iatt,
    sinks: &[bool],
) {
    let loc = Loc::gfid(gfid);
    let valid = set_attr::ATIME | set_attr::MTIME | set_attr::CTIME;
    join_all(rs.bricks.iter().enumerate().map(|(i, b)| {
        let loc = &loc;
        async move {
            if !sinks.get(i).copied().unwrap_or(false) {
                return;
            }
            if let Err(e) = b.subvol.setattr(c, loc, source, valid).await {
                tracing::debug!(brick = %b.label, %gfid, error = %e, "restoring times failed");
            }
        }
    }))
    .await;
}

pub(crate) fn indices(v: &[bool]) -> Vec<usize> {
    v.iter()
        .enumerate()
        .filter(|(_, &b)| b)
        .map(|(i, _)| i)
        .collect()
}

pub(crate) fn not_all_up(rs: &ReplicaSet, gfid: Gfid, locked: usize) -> HealError {
    HealError::NotAllUp {
        replica: rs.name.clone(),
        gfid,
        locked,
        total: rs.n(),
    }
}
