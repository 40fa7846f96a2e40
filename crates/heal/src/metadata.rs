//! Metadata heal (xlators/cluster/afr/src/afr-self-heal-metadata.c): owner, group, mode, times and
//! xattrs, under the metadata range lock `[LLONG_MAX-1, ∞)` of the replicate domain.

use std::collections::BTreeMap;

use bytes::Bytes;
use fop::{set_attr, Caller, Dict, Gfid, Loc};

use crate::heal::{indices, not_all_up, post_op, restore_time, HealRequest, TypeResult};
use crate::inspect::{discover, healable, is_ignorable_xattr, Discovery};
use crate::locks::{acquire, Target};
use crate::markers::{blame_non_sources, reset_sink_blame, undo_pending, HealType};
use crate::policy::metadata_selection;
use crate::replica::ReplicaSet;
use crate::Result;

/// `AFR_HEAL_ATTR`: what a metadata heal sets with setattr.
const HEAL_ATTR: u32 = set_attr::UID | set_attr::GID | set_attr::MODE;

fn xattrs_equal_fn(x: &[Option<BTreeMap<String, Bytes>>]) -> impl Fn(usize, usize) -> bool + '_ {
    move |a, b| match (x.get(a), x.get(b)) {
        (Some(Some(p)), Some(Some(q))) => p == q,
        _ => false,
    }
}

pub(crate) async fn heal_metadata(
    rs: &ReplicaSet,
    c: &Caller,
    gfid: Gfid,
    req: &HealRequest,
) -> Result<TypeResult> {
    let n = rs.n();
    let lk = acquire(rs, c, &rs.name, Target::metadata(gfid), true).await;
    if !lk.all() {
        let k = lk.count();
        lk.release(rs, c).await;
        return Err(not_all_up(rs, gfid, k));
    }
    let locked = lk.locked_on.clone();
    let r = async {
        let mut d = discover(rs, c, gfid, &locked).await;
        let mut sel;
        let mut log;
        loop {
            log = d.changelog();
            let stats = d.stats();
            let xattrs = d.xattrs();
            let eq = xattrs_equal_fn(&xattrs);
            let dir = log
                .find_direction(HealType::Metadata, &locked, rs.opts.quorum_count)
                .map_err(|_| not_all_up(rs, gfid, d.ok_count()))?;
            let local = vec![false; n];
            sel = match metadata_selection(
                &dir,
                &locked,
                &stats,
                &eq,
                req.choice,
                rs.opts.favorite,
                &local,
            ) {
                Ok(Some(s)) => s,
                Ok(None) => return Ok(TypeResult::NotNeeded),
                Err(refusal) => {
                    if rs.opts.metadata_splitbrain_forced_heal && req.choice.is_none() {
                        // Forced: the first locked copy wins.
                        let mut sources = vec![false; n];
                        sources[0] = true;
                        crate::policy::Selection {
                            source: 0,
                            healed_sinks: crate::policy::active_sinks(&sources, &locked),
                            sources,
                            resolved_split_brain: true,
                            blame_first: false,
                        }
                    } else {
                        return Ok(TypeResult::SplitBrain(refusal));
                    }
                }
            };
            if !sel.blame_first {
                break;
            }
            // Every copy claims to be good yet they differ: the sources blame the others, and
            // the markers are read again so the undo clears exactly those marks.
            let delta = blame_non_sources(&sel.sources, HealType::Metadata);
            let deltas: Vec<_> = (0..n)
                .map(|i| sel.sources[i].then(|| delta.clone()))
                .collect();
            post_op(rs, c, gfid, &deltas).await;
            d = discover(rs, c, gfid, &locked).await;
        }
        let source = sel.source;
        let undid = vec![false; n];
        if sel.resolved_split_brain {
            let resets = reset_sink_blame(
                &log,
                HealType::Metadata,
                &sel.sources,
                &sel.healed_sinks,
                &locked,
            );
            post_op(rs, c, gfid, &resets).await;
            d = discover(rs, c, gfid, &locked).await;
            log = d.changelog();
        }
        let sinks = sel.healed_sinks.clone();
        let mut healed = sel.healed_sinks.clone();
        tracing::info!(replica = %rs.name, %gfid, source, sinks = ?indices(&healed), "performing metadata selfheal");
        metadata_do(rs, c, gfid, source, &d, &mut healed).await?;
        if let Some(src) = d.ok(source).map(|l| l.iatt) {
            restore_time(rs, c, gfid, &src, &healed).await;
        }
        let deltas = undo_pending(&log, HealType::Metadata, &sinks, &healed, &locked, &undid, false);
        post_op(rs, c, gfid, &deltas).await;
        let done = indices(&healed);
        tracing::info!(replica = %rs.name, %gfid, source, sinks = ?done, "completed metadata selfheal");
        if done.is_empty() {
            return Err(fop::FopError::Errno(libc::EIO).into());
        }
        Ok(TypeResult::Healed { source, sinks: done })
    }
    .await;
    lk.release(rs, c).await;
    r
}

/// `__afr_selfheal_metadata_do`: owner, group and mode with setattr, then the sink's xattrs
/// replaced by the source's (AFR's own markers excepted).
async fn metadata_do(
    rs: &ReplicaSet,
    c: &Caller,
    gfid: Gfid,
    source: usize,
    d: &Discovery,
    healed: &mut [bool],
) -> Result<()> {
    let loc = Loc::gfid(gfid);
    let Some(src_brick) = rs.bricks.get(source) else {
        return Err(fop::FopError::Errno(libc::EIO).into());
    };
    let Some(src_iatt) = d.ok(source).map(|l| l.iatt) else {
        return Err(fop::FopError::Errno(libc::EIO).into());
    };
    let all = src_brick
        .subvol
        .getxattr(c, &loc, None)
        .await
        .map_err(|_| fop::FopError::Errno(libc::EIO))?;
    let mut src_x = Dict::new();
    for (k, v) in all.iter() {
        if !is_ignorable_xattr(k) {
            src_x.insert(k.to_string(), v.clone());
        }
    }
    for (i, b) in rs.bricks.iter().enumerate() {
        if !healed.get(i).copied().unwrap_or(false) {
            continue;
        }
        if let Err(e) = b.subvol.setattr(c, &loc, &src_iatt, HEAL_ATTR).await {
            tracing::warn!(brick = %b.label, %gfid, error = %e, "metadata heal setattr failed");
            healed[i] = false;
        }
        match b.subvol.getxattr(c, &loc, None).await {
            Ok(old) => {
                let old = healable(&old, false);
                for k in old.keys() {
                    if src_x.contains_key(k) || k == "trusted.glusterfs.mdata" {
                        continue;
                    }
                    if let Err(e) = b.subvol.removexattr(c, &loc, k).await {
                        if !e.is(libc::ENODATA) {
                            tracing::warn!(brick = %b.label, %gfid, key = %k, error = %e, "metadata heal removexattr failed");
                            healed[i] = false;
                        }
                    }
                }
            }
            Err(e) => {
                tracing::warn!(brick = %b.label, %gfid, error = %e, "metadata heal getxattr failed");
                healed[i] = false;
            }
        }
        if !src_x.is_empty() {
            if let Err(e) = b.subvol.setxattr(c, &loc, &src_x, 0).await {
                tracing::warn!(brick = %b.label, %gfid, error = %e, "metadata heal setxattr failed");
                healed[i] = false;
            }
        }
    }
    Ok(())
}
