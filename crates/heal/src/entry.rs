//! Entry heal of a directory (xlators/cluster/afr/src/afr-self-heal-entry.c): create on the sinks
//! what the source has (with the source's GFID, so hard links and renames heal without copying
//! data), remove what the source removed, replace names whose GFID differs, and for a directory
//! in split-brain merge without deleting. Each name is healed under an entry lock of the
//! directory in the replicate domain; the whole heal holds the self-heal domain's.

use std::collections::BTreeSet;

use bytes::Bytes;
use fop::{Caller, Dict, FopError, Gfid, Iatt, Loc};
use futures::future::join_all;

use crate::entries::{
    is_private_root_name, names_to_examine, plan_dirent, DirentActions, DirentPlan, Listed,
    Listing, NameState,
};
use crate::heal::{indices, not_all_up, post_op, restore_time, HealRequest, Tally, TypeResult};
use crate::index;
use crate::inspect::{discover, lookup_name, Discovery, GFID_REQ, INTERNAL_FOP_KEY};
use crate::locks::{acquire, Target};
use crate::markers::{new_entry_marks, undo_pending, Changelog, HealType, InodeKind};
use crate::policy::{entry_selection, gfid_split_brain_source, SplitBrainRefusal};
use crate::replica::ReplicaSet;
use crate::{HealError, Result};

/// Most entries read from one directory of one brick.
const MAX_DIR_ENTRIES: usize = 10_000_000;

pub(crate) async fn heal_entry(
    rs: &ReplicaSet,
    c: &Caller,
    dir: Gfid,
    req: &HealRequest,
    force_full: bool,
    tally: &mut Tally,
) -> Result<TypeResult> {
    let sh = acquire(rs, c, &rs.sh_domain(), Target::dir(dir), true).await;
    if !sh.all() {
        let k = sh.count();
        let busy = sh.busy;
        sh.release(rs, c).await;
        if busy {
            return Err(HealError::InProgress {
                replica: rs.name.clone(),
                gfid: dir,
            });
        }
        return Err(not_all_up(rs, dir, k));
    }
    let r = heal_entry_locked(rs, c, dir, req, force_full, tally).await;
    sh.release(rs, c).await;
    r
}

/// Whether some brick's pending marks carry the full-heal indicator (the data counter of a
/// directory: `is_full_heal_marker_present`).
fn full_heal_indicated(log: &Changelog, source: Option<usize>, sinks: &[bool]) -> bool {
    let n = log.n();
    let marked = |i: usize| (0..n).any(|j| log.cell(i, j, HealType::Data) != 0);
    source.is_some_and(marked)
        || (0..n).any(|i| sinks.get(i).copied().unwrap_or(false) && marked(i))
}

/// The decision about a directory.
struct Choice {
    source: Option<usize>,
    healed: Vec<bool>,
    log: Changelog,
}

fn choose(rs: &ReplicaSet, d: &Discovery, locked: &[bool], force_full: bool) -> Result<Choice> {
    let log = d.changelog();
    let dir = log
        .find_direction(HealType::Entry, locked, rs.opts.quorum_count)
        .map_err(|_| FopError::NotConnected(format!("{}: not every brick answered", rs.name)))?;
    let local = vec![false; rs.n()];
    let (mut source, _sources, mut healed) = entry_selection(&dir, locked, &local);
    if force_full && !healed.iter().any(|&h| h) {
        source = None;
        healed = locked.to_vec();
    }
    Ok(Choice {
        source,
        healed,
        log,
    })
}

async fn heal_entry_locked(
    rs: &ReplicaSet,
    c: &Caller,
    dir: Gfid,
    req: &HealRequest,
    force_full: bool,
    tally: &mut Tally,
) -> Result<TypeResult> {
    let n = rs.n();
    let lk = acquire(rs, c, &rs.name, Target::dir(dir), false).await;
    if !lk.all() {
        let k = lk.count();
        lk.release(rs, c).await;
        return Err(not_all_up(rs, dir, k));
    }
    let locked = lk.locked_on.clone();
    let d = discover(rs, c, dir, &locked).await;
    let chosen = choose(rs, &d, &locked, force_full);
    lk.release(rs, c).await;
    let Choice {
        source,
        healed: healed_init,
        log,
    } = chosen?;
    if !healed_init.iter().any(|&h| h) {
        return Ok(TypeResult::NotNeeded);
    }
    let src_iatt = source.and_then(|s| d.ok(s).map(|l| l.iatt));
    let full = force_full
        || !rs.opts.granular_entry_heal
        || full_heal_indicated(&log, source, &healed_init);
    tracing::info!(replica = %rs.name, %dir, ?source, sinks = ?indices(&healed_init),
        kind = if full { "full" } else { "granular" }, "performing entry selfheal");

    let mut involved = healed_init.clone();
    if let Some(s) = source {
        involved[s] = true;
    }
    // Names to look at, and where granular indices listed them (to purge after the heal).
    let mut granular_dirs: Vec<Option<(Gfid, BTreeSet<Bytes>)>> = vec![None; n];
    let names: Vec<Bytes> = if full {
        let listings = list_all(rs, c, dir, &locked).await;
        names_to_examine(&listings, &involved)
    } else {
        let mut set = BTreeSet::new();
        let mut fallback = false;
        for i in 0..n {
            if !involved[i] {
                continue;
            }
            match index::entry_changes(&rs.bricks[i], c, dir).await {
                Ok(Some((g, names))) => {
                    set.extend(names.iter().cloned());
                    granular_dirs[i] = Some((g, names.into_iter().collect()));
                }
                Ok(None) if Some(i) == source => fallback = true,
                Ok(None) => {}
                Err(e) => {
                    tracing::debug!(brick = %rs.bricks[i].label, error = %e, "entry-changes index unreadable; full crawl");
                    fallback = true;
                }
            }
        }
        if fallback {
            let listings = list_all(rs, c, dir, &locked).await;
            set.extend(names_to_examine(&listings, &involved));
        }
        set.into_iter().collect()
    };

    let anon = rs.opts.anon_inode.as_ref().map(|(name, _)| name.as_str());
    let mut mismatch = false;
    let mut failure: Option<HealError> = None;
    let mut healed = healed_init.clone();
    for name in names {
        if dir.is_root() && is_private_root_name(&name, anon) {
            continue;
        }
        match heal_dirent(rs, c, dir, &name, req, force_full).await {
            Ok(fixed) => {
                tally.entries_fixed += fixed;
                for (i, g) in granular_dirs.iter().enumerate() {
                    if let Some((gdir, names)) = g {
                        if names.contains(&name) {
                            if let Err(e) = index::purge(&rs.bricks[i], c, *gdir, &name).await {
                                tracing::debug!(brick = %rs.bricks[i].label, error = %e, "entry-changes purge failed");
                            }
                        }
                    }
                }
            }
            Err(DirentError::Mismatch) => mismatch = true,
            Err(DirentError::Sink(i, e)) => {
                tracing::warn!(brick = %rs.bricks[i].label, %dir, name = %String::from_utf8_lossy(&name), error = %e, "entry heal failed on sink");
                if let Some(h) = healed.get_mut(i) {
                    *h = false;
                }
            }
            Err(DirentError::Other(e)) => {
                failure = Some(e);
                break;
            }
        }
    }
    if let Some(e) = failure {
        return Err(e);
    }
    if mismatch {
        return Ok(TypeResult::SplitBrain(SplitBrainRefusal::Unresolved));
    }
    // Clear the markers under the lock again (`postop_lock`).
    let lk = acquire(rs, c, &rs.name, Target::dir(dir), false).await;
    if lk.locked_on != locked {
        let k = lk.count();
        lk.release(rs, c).await;
        return Err(not_all_up(rs, dir, k));
    }
    if let Some(si) = &src_iatt {
        restore_time(rs, c, dir, si, &healed).await;
    }
    let deltas = undo_pending(
        &log,
        HealType::Entry,
        &healed_init,
        &healed,
        &locked,
        &vec![false; n],
        full,
    );
    post_op(rs, c, dir, &deltas).await;
    lk.release(rs, c).await;
    let done = indices(&healed);
    tracing::info!(replica = %rs.name, %dir, ?source, sinks = ?done, "completed entry selfheal");
    Ok(TypeResult::Healed {
        source: source.unwrap_or(0),
        sinks: done,
    })
}

/// Every brick's listing of a directory (READDIRP), `None` where it could not be read.
async fn list_all(rs: &ReplicaSet, c: &Caller, dir: Gfid, on: &[bool]) -> Vec<Option<Listing>> {
    join_all(rs.bricks.iter().enumerate().map(|(i, b)| async move {
        if !on.get(i).copied().unwrap_or(false) {
            return None;
        }
        match list_dir(b.subvol.as_ref(), c, dir).await {
            Ok(l) => Some(l),
            Err(e) => {
                tracing::debug!(brick = %b.label, %dir, error = %e, "listing failed");
                None
            }
        }
    }))
    .await
}

/// One brick's entries of a directory: name → (GFID, type).
pub(crate) async fn list_dir(
    sub: &dyn fop::Subvolume,
    c: &Caller,
    dir: Gfid,
) -> fop::Result<Listing> {
    Ok(list_dir_stat(sub, c, dir)
        .await?
        .into_iter()
        .map(|(name, ia)| {
            (
                name,
                Listed {
                    gfid: ia.gfid,
                    ia_type: ia.ia_type(),
                },
            )
        })
        .collect())
}

/// One brick's entries of a directory with their attributes (READDIRP), without `.` and `..`.
/// Entries the brick sent without attributes get a null GFID and the type from `d_type`.
pub(crate) async fn list_dir_stat(
    sub: &dyn fop::Subvolume,
    c: &Caller,
    dir: Gfid,
) -> fop::Result<Vec<(Bytes, Iatt)>> {
    let fd = sub.opendir(c, &Loc::gfid(dir)).await?;
    let mut out = Vec::new();
    let mut offset = 0u64;
    let r = async {
        loop {
            let batch = sub
                .readdirp(c, &fd, offset, 128 * 1024, &Dict::new())
                .await?;
            let Some(last) = batch.last() else { break };
            let next = last.offset;
            for e in batch {
                if e.name.as_ref() == b"." || e.name.as_ref() == b".." {
                    continue;
                }
                let ia = match e.iatt {
                    Some(ia) => ia,
                    None => Iatt {
                        mode: proto::IaType::from_d_type(e.d_type).mode_bits(),
                        ..Iatt::default()
                    },
                };
                out.push((e.name, ia));
            }
            if next == offset || out.len() >= MAX_DIR_ENTRIES {
                break;
            }
            offset = next;
        }
        Ok::<(), FopError>(())
    }
    .await;
    sub.releasedir(&fd).await;
    r.map(|_| out)
}

/// Heal one name of a directory now (a GFID split-brain resolved with `req.choice`, or any name
/// the caller knows is out of step).
pub(crate) async fn heal_name(
    rs: &ReplicaSet,
    parent: Gfid,
    name: &Bytes,
    req: &HealRequest,
) -> Result<()> {
    let c = crate::heal_caller();
    match heal_dirent(rs, &c, parent, name, req, true).await {
        Ok(_) => Ok(()),
        Err(DirentError::Mismatch) => Err(HealError::SplitBrain {
            gfid: parent,
            ty: HealType::Entry,
            refusal: SplitBrainRefusal::Unresolved,
        }),
        Err(DirentError::Sink(_, e)) => Err(e.into()),
        Err(DirentError::Other(e)) => Err(e),
    }
}

#[derive(Debug)]
enum DirentError {
    /// GFID or type split-brain of the name.
    Mismatch,
    /// Healing failed on this sink.
    Sink(usize, FopError),
    /// The name could not be healed at all (locks, source unreadable).
    Other(HealError),
}

/// Heal one name of a directory (`afr_selfheal_entry_dirent`). Returns how many copies were
/// changed.
async fn heal_dirent(
    rs: &ReplicaSet,
    c: &Caller,
    dir: Gfid,
    name: &Bytes,
    req: &HealRequest,
    force_full: bool,
) -> std::result::Result<u64, DirentError> {
    let lk = acquire(rs, c, &rs.name, Target::dir(dir), false).await;
    if !lk.all() {
        let k = lk.count();
        lk.release(rs, c).await;
        return Err(DirentError::Other(not_all_up(rs, dir, k)));
    }
    let locked = lk.locked_on.clone();
    let r = async {
        let pd = discover(rs, c, dir, &locked).await;
        let Choice { source, healed, .. } =
            choose(rs, &pd, &locked, force_full).map_err(DirentError::Other)?;
        let nd = lookup_name(rs, c, dir, name, &locked).await;
        let states: Vec<NameState> = (0..rs.n())
            .map(|i| match nd.replies.get(i).and_then(|r| r.as_ref()) {
                Some(Ok(l)) => NameState::Present(l.iatt),
                Some(Err(e)) if e.is(libc::ENOENT) || e.is(libc::ESTALE) => NameState::Absent,
                Some(Err(e)) => NameState::Error(e.errno()),
                None => NameState::Error(libc::ENOTCONN),
            })
            .collect();
        let choice = req.choice;
        let favorite = rs.opts.favorite;
        let all_locked = locked.iter().all(|&l| l);
        let resolve = move |stats: &[Option<Iatt>]| {
            gfid_split_brain_source(stats, all_locked, choice, favorite).ok()
        };
        match plan_dirent(&states, source, &healed, &resolve) {
            DirentPlan::Nothing => Ok(0),
            DirentPlan::Fail(e) => Err(DirentError::Other(FopError::Errno(e).into())),
            DirentPlan::Mismatch(m) => {
                tracing::error!(replica = %rs.name, %dir, name = %String::from_utf8_lossy(name), ?m,
                    "gfid or type mismatch; skipping conservative merge on the file");
                Err(DirentError::Mismatch)
            }
            DirentPlan::Act(a) => act(rs, c, dir, name, &a, &states, &nd).await,
        }
    }
    .await;
    lk.release(rs, c).await;
    r
}

async fn act(
    rs: &ReplicaSet,
    c: &Caller,
    dir: Gfid,
    name: &Bytes,
    a: &DirentActions,
    states: &[NameState],
    nd: &Discovery,
) -> std::result::Result<u64, DirentError> {
    let mut fixed = 0u64;
    let loc = Loc::entry(dir, name.clone());
    if let Some(src) = states.get(a.source).and_then(NameState::iatt) {
        for &i in &a.assign_gfid {
            let mut x = Dict::new();
            x.set_gfuuid(GFID_REQ, src.gfid);
            if let Err(e) = rs.bricks[i].subvol.lookup(c, &loc, &x).await {
                return Err(DirentError::Sink(i, e));
            }
            fixed += 1;
        }
    }
    for &i in &a.delete {
        let Some(ia) = states.get(i).and_then(NameState::iatt) else {
            continue;
        };
        delete_entry(rs, c, i, dir, name, ia)
            .await
            .map_err(|e| DirentError::Sink(i, e))?;
        fixed += 1;
    }
    for &i in &a.recreate {
        match recreate_entry(rs, c, i, a, dir, name, states, nd).await {
            Ok(()) => fixed += 1,
            Err(RecreateError::Mismatch) => return Err(DirentError::Mismatch),
            Err(RecreateError::Fop(e)) => return Err(DirentError::Sink(i, e)),
        }
    }
    Ok(fixed)
}

/// Make sure the anonymous-inode directory exists on every brick, with its GFID
/// (`afr_anon_inode_create`).
async fn ensure_anon_dir(rs: &ReplicaSet, c: &Caller) -> fop::Result<Gfid> {
    let Some((name, gfid)) = rs.opts.anon_inode.clone() else {
        return Err(FopError::Errno(libc::EINVAL));
    };
    let loc = Loc::entry(Gfid::ROOT, Bytes::from(name));
    let mut x = Dict::new();
    x.set_gfuuid(GFID_REQ, gfid);
    for b in &rs.bricks {
        match b.subvol.mkdir(c, &loc, 0o755, 0, &x).await {
            Ok(_) => {}
            Err(e) if e.is(libc::EEXIST) => {
                let l = b.subvol.lookup(c, &loc, &Dict::new()).await?;
                if l.iatt.gfid != gfid {
                    return Err(FopError::Errno(libc::EINVAL));
                }
            }
            Err(e) if e.is(libc::ENOTCONN) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(gfid)
}

/// Remove `dir/name` from brick `i` (`afr_selfheal_entry_delete`): with anonymous-inode support a
/// directory, or a file still present on other bricks (maybe renamed), is moved into the hidden
/// directory instead, so a later heal of its new name can move it back.
async fn delete_entry(
    rs: &ReplicaSet,
    c: &Caller,
    i: usize,
    dir: Gfid,
    name: &Bytes,
    ia: &Iatt,
) -> fop::Result<()> {
    let b = &rs.bricks[i];
    let loc = Loc::entry(dir, name.clone()).with_gfid(ia.gfid);
    if rs.opts.anon_inode.is_some() && !ia.gfid.is_null() {
        let park = if ia.is_dir() {
            true
        } else {
            let gloc = Loc::gfid(ia.gfid);
            let empty = Dict::new();
            let found = join_all(rs.bricks.iter().map(|x| x.subvol.lookup(c, &gloc, &empty))).await;
            let present = found.iter().filter(|r| r.is_ok()).count();
            if rs.opts.quorum_count > 0 {
                present >= rs.opts.quorum_count
            } else {
                present > 1
            }
        };
        if park {
            let anon = ensure_anon_dir(rs, c).await?;
            let dst = Loc::entry(anon, Bytes::from(ia.gfid.to_string()));
            match b.subvol.rename(c, &loc, &dst, &Dict::new()).await {
                Ok(_) => {
                    tracing::warn!(brick = %b.label, %dir, name = %String::from_utf8_lossy(name), gfid = %ia.gfid, "moved to the anonymous-inode directory");
                    return Ok(());
                }
                Err(e) => {
                    tracing::warn!(brick = %b.label, error = %e, "rename to the anonymous-inode directory failed");
                    return Err(e);
                }
            }
        }
    }
    tracing::warn!(brick = %b.label, %dir, name = %String::from_utf8_lossy(name), gfid = %ia.gfid,
        "expunging {}", if ia.is_dir() { "dir" } else { "file" });
    let r = if ia.is_dir() {
        b.subvol.rmdir(c, &loc, 1, &Dict::new()).await
    } else {
        b.subvol.unlink(c, &loc, &Dict::new()).await
    };
    match r {
        Err(e) if e.is(libc::ENOENT) || e.is(libc::ESTALE) => Ok(()),
        r => r.map(|_| ()),
    }
}

enum RecreateError {
    Mismatch,
    Fop(FopError),
}

impl From<FopError> for RecreateError {
    fn from(e: FopError) -> Self {
        RecreateError::Fop(e)
    }
}

fn kind_of(ia: &Iatt) -> InodeKind {
    if ia.is_reg() {
        InodeKind::Regular
    } else if ia.is_dir() {
        InodeKind::Directory
    } else {
        InodeKind::Other
    }
}

/// (Re)create `dir/name` on brick `dst` as the source has it (`afr_selfheal_recreate_entry`).
#[allow(clippy::too_many_arguments)]
async fn recreate_entry(
    rs: &ReplicaSet,
    c: &Caller,
    dst: usize,
    a: &DirentActions,
    dir: Gfid,
    name: &Bytes,
    states: &[NameState],
    nd: &Discovery,
) -> std::result::Result<(), RecreateError> {
    let Some(src) = states.get(a.source).and_then(NameState::iatt).copied() else {
        return Err(FopError::Errno(libc::EIO).into());
    };
    if src.gfid.is_null() {
        return Err(FopError::Errno(libc::EINVAL).into());
    }
    let b = &rs.bricks[dst];
    if let Some(old) = states.get(dst).and_then(NameState::iatt) {
        delete_entry(rs, c, dst, dir, name, old).await?;
    }
    // Does the sink already hold this inode elsewhere (hard link, rename, parked)?
    let log = nd.changelog();
    let marked_everywhere = !src.is_dir()
        && (0..rs.n())
            .filter(|&s| a.sources.get(s).copied().unwrap_or(false))
            .all(|s| {
                log.cell(s, dst, HealType::Metadata) != 0
                    && (!src.is_reg() || log.cell(s, dst, HealType::Data) != 0)
            });
    let mut newentry = false;
    if !marked_everywhere {
        match b.subvol.lookup(c, &Loc::gfid(src.gfid), &Dict::new()).await {
            Ok(_) => {
                if src.is_dir() && rs.opts.anon_inode.is_some() {
                    let anon = ensure_anon_dir(rs, c).await?;
                    let from =
                        Loc::entry(anon, Bytes::from(src.gfid.to_string())).with_gfid(src.gfid);
                    let to = Loc::entry(dir, name.clone());
                    return match b.subvol.rename(c, &from, &to, &Dict::new()).await {
                        Ok(_) => Ok(()),
                        Err(e) if e.is(libc::ENOENT) || e.is(libc::ESTALE) => {
                            Err(RecreateError::Mismatch)
                        }
                        Err(e) => Err(e.into()),
                    };
                }
            }
            Err(e) if e.is(libc::ENOENT) || e.is(libc::ESTALE) => {
                newentry = true;
                let mut missing = vec![false; rs.n()];
                missing[dst] = true;
                let marks = new_entry_marks(&missing, kind_of(&src), rs.opts.granular_entry_heal);
                let deltas: Vec<_> = (0..rs.n())
                    .map(|s| {
                        a.sources
                            .get(s)
                            .copied()
                            .unwrap_or(false)
                            .then(|| marks.clone())
                    })
                    .collect();
                let failed = post_op(rs, c, src.gfid, &deltas).await;
                if failed.iter().any(|&f| f) {
                    return Err(FopError::Errno(libc::EIO).into());
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
    let loc = Loc::entry(dir, name.clone());
    let mut x = Dict::new();
    x.set_gfuuid(GFID_REQ, src.gfid);
    let r = if src.is_dir() {
        b.subvol.mkdir(c, &loc, src.mode, 0, &x).await.map(|_| ())
    } else if src.is_symlink() {
        if !newentry {
            b.subvol
                .link(c, &Loc::gfid(src.gfid), &loc, &Dict::new())
                .await
                .map(|_| ())
        } else {
            let target = rs.bricks[a.source]
                .subvol
                .readlink(c, &Loc::gfid(src.gfid))
                .await?;
            b.subvol.symlink(c, &target, &loc, 0, &x).await.map(|_| ())
        }
    } else {
        x.set_i64(INTERNAL_FOP_KEY, 1);
        b.subvol
            .mknod(c, &loc, src.mode, src.rdev, 0, &x)
            .await
            .map(|_| ())
    };
    match r {
        Ok(()) => {
            tracing::info!(brick = %b.label, %dir, name = %String::from_utf8_lossy(name), gfid = %src.gfid, newentry, "recreated entry");
            if !newentry && !src.is_dir() {
                // A new link to an inode the sink already had: the brick stamped the inode with
                // the time of this call; give it back the source's times.
                let valid = fop::set_attr::ATIME | fop::set_attr::MTIME;
                if let Err(e) = b.subvol.setattr(c, &Loc::gfid(src.gfid), &src, valid).await {
                    tracing::debug!(brick = %b.label, gfid = %src.gfid, error = %e, "restoring times failed");
                }
            }
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}
