//! Data heal (xlators/cluster/afr/src/afr-self-heal-data.c).
//!
//! Locks: the whole file in the self-heal domain (tie-breaker) for the duration, so only one
//! healer works on it; the whole file in the replicate domain while deciding, truncating and
//! clearing the markers; and only the block being copied while copying, so a client waits for
//! one block at most and every write of a client lands either before the block is read from the
//! source or after it is written to the sinks.

use bytes::Bytes;
use fop::{Caller, Dict, Fd, FopError, Gfid, Iatt, Loc, Subvolume};
use futures::future::join_all;

use crate::heal::{indices, not_all_up, post_op, restore_time, HealRequest, Tally, TypeResult};
use crate::inspect::discover;
use crate::locks::{acquire, Target};
use crate::markers::{reset_sink_blame, undo_pending, HealType};
use crate::plan::{block_size, blocks, can_skip_block, has_holes, skip_zero_write, RangeSum};
use crate::policy::data_selection;
use crate::replica::ReplicaSet;
use crate::{HealError, Result};

pub(crate) async fn heal_data(
    rs: &ReplicaSet,
    c: &Caller,
    gfid: Gfid,
    req: &HealRequest,
    tally: &mut Tally,
) -> Result<TypeResult> {
    let sh = acquire(rs, c, &rs.sh_domain(), Target::whole_inode(gfid), true).await;
    if !sh.all() {
        let n = sh.count();
        let busy = sh.busy;
        sh.release(rs, c).await;
        if busy {
            return Err(HealError::InProgress {
                replica: rs.name.clone(),
                gfid,
            });
        }
        return Err(not_all_up(rs, gfid, n));
    }
    let r = heal_data_locked(rs, c, gfid, req, tally).await;
    sh.release(rs, c).await;
    r
}

/// Open fds of one heal, released at the end.
struct Fds {
    fops: Vec<Option<Fd>>,
}

impl Fds {
    async fn release(self, rs: &ReplicaSet, _c: &Caller) {
        for (i, fd) in self.fops.into_iter().enumerate() {
            if let (Some(fd), Some(b)) = (fd, rs.bricks.get(i)) {
                b.subvol.release(&fd).await;
            }
        }
    }
}

async fn heal_data_locked(
    rs: &ReplicaSet,
    c: &Caller,
    gfid: Gfid,
    req: &HealRequest,
    tally: &mut Tally,
) -> Result<TypeResult> {
    let n = rs.n();
    let name = rs.name.clone();
    // Decide under the full lock in the replicate domain.
    let lk = acquire(rs, c, &name, Target::whole_inode(gfid), false).await;
    if !lk.all() {
        let k = lk.count();
        lk.release(rs, c).await;
        return Err(not_all_up(rs, gfid, k));
    }
    let locked = lk.locked_on.clone();
    let d = discover(rs, c, gfid, &locked).await;
    let mut log = d.changelog();
    let stats = d.stats();
    let dir = match log.find_direction(HealType::Data, &locked, rs.opts.quorum_count) {
        Ok(dir) => dir,
        Err(_) => {
            lk.release(rs, c).await;
            return Err(not_all_up(rs, gfid, d.ok_count()));
        }
    };
    let local = vec![false; n];
    let sel = match data_selection(
        &dir,
        &locked,
        &stats,
        req.choice,
        rs.opts.favorite,
        &local,
        rs.opts.arbiter,
    ) {
        Ok(Some(sel)) => sel,
        Ok(None) => {
            lk.release(rs, c).await;
            return Ok(TypeResult::NotNeeded);
        }
        Err(refusal) => {
            lk.release(rs, c).await;
            return Ok(TypeResult::SplitBrain(refusal));
        }
    };
    let source = sel.source;
    let Some(src_iatt) = stats.get(source).copied().flatten() else {
        lk.release(rs, c).await;
        return Err(not_all_up(rs, gfid, d.ok_count()));
    };
    let undid = vec![false; n];
    if sel.resolved_split_brain {
        let resets = reset_sink_blame(
            &log,
            HealType::Data,
            &sel.sources,
            &sel.healed_sinks,
            &locked,
        );
        post_op(rs, c, gfid, &resets).await;
        log = discover(rs, c, gfid, &locked).await.changelog();
    }
    let sinks = sel.healed_sinks.clone();
    let mut healed = sel.healed_sinks.clone();
    tracing::info!(replica = %rs.name, %gfid, source, sinks = ?indices(&healed), "performing data selfheal");

    // Open the source and the sinks.
    let mut fds = Fds {
        fops: vec![None; n],
    };
    let loc = Loc::gfid(gfid);
    let opened = join_all(rs.bricks.iter().enumerate().map(|(i, b)| {
        let loc = &loc;
        let want = i == source || healed[i];
        async move {
            if !want {
                return None;
            }
            let flags = if i == source {
                libc::O_RDONLY
            } else {
                libc::O_RDWR
            };
            Some(b.subvol.open(c, loc, flags).await)
        }
    }))
    .await;
    for (i, r) in opened.into_iter().enumerate() {
        match r {
            Some(Ok(fd)) => fds.fops[i] = Some(fd),
            Some(Err(e)) => {
                tracing::warn!(brick = %rs.bricks[i].label, %gfid, error = %e, "heal open failed");
                if i == source {
                    fds.release(rs, c).await;
                    lk.release(rs, c).await;
                    return Err(e.into());
                }
                healed[i] = false;
            }
            None => {}
        }
    }
    // Truncate the sinks to the source's size (`__afr_selfheal_truncate_sinks`).
    let size = src_iatt.size;
    let truncs = join_all(rs.bricks.iter().enumerate().map(|(i, b)| {
        let fd = fds.fops[i].clone();
        let go = healed[i];
        async move {
            match (go, fd) {
                (true, Some(fd)) => Some(b.subvol.ftruncate(c, &fd, size).await),
                _ => None,
            }
        }
    }))
    .await;
    for (i, r) in truncs.into_iter().enumerate() {
        if let Some(Err(e)) = r {
            tracing::warn!(brick = %rs.bricks[i].label, %gfid, error = %e, "heal truncate failed");
            healed[i] = false;
        }
    }
    lk.release(rs, c).await;

    // Copy block by block.
    let copy = copy_blocks(
        rs,
        c,
        gfid,
        source,
        &src_iatt,
        &stats,
        &mut healed,
        &mut fds,
        req,
        tally,
    )
    .await;
    if let Err(e) = copy {
        fds.release(rs, c).await;
        return Err(e);
    }
    if rs.opts.ensure_durability {
        let syncs = join_all(rs.bricks.iter().enumerate().map(|(i, b)| {
            let fd = fds.fops[i].clone();
            let go = healed[i];
            async move {
                match (go, fd) {
                    (true, Some(fd)) => Some(b.subvol.fsync(c, &fd, false).await),
                    _ => None,
                }
            }
        }))
        .await;
        for (i, r) in syncs.into_iter().enumerate() {
            if let Some(Err(e)) = r {
                tracing::warn!(brick = %rs.bricks[i].label, %gfid, error = %e, "heal fsync failed");
                healed[i] = false;
            }
        }
    }
    fds.release(rs, c).await;
    restore_time(rs, c, gfid, &src_iatt, &healed).await;

    // Clear the markers read under the first lock, under the full lock again.
    let lk = acquire(rs, c, &name, Target::whole_inode(gfid), false).await;
    if !lk.all() {
        let k = lk.count();
        lk.release(rs, c).await;
        return Err(not_all_up(rs, gfid, k));
    }
    let deltas = undo_pending(
        &log,
        HealType::Data,
        &sinks,
        &healed,
        &lk.locked_on,
        &undid,
        false,
    );
    post_op(rs, c, gfid, &deltas).await;
    lk.release(rs, c).await;
    let done = indices(&healed);
    if done.is_empty() {
        return Err(HealError::Fop(FopError::Errno(libc::EIO)));
    }
    tracing::info!(replica = %rs.name, %gfid, source, sinks = ?done, "completed data selfheal");
    Ok(TypeResult::Healed {
        source,
        sinks: done,
    })
}

/// Read exactly `[off, off+len)` (or up to EOF) from one copy.
async fn read_range(
    sub: &dyn Subvolume,
    c: &Caller,
    fd: &Fd,
    off: u64,
    len: u64,
) -> fop::Result<Bytes> {
    let mut out: Vec<u8> = Vec::new();
    let mut pos = off;
    let end = off + len;
    while pos < end {
        let want = u32::try_from(end - pos).unwrap_or(u32::MAX).min(4 << 20);
        let b = sub.read(c, fd, pos, want).await?;
        if b.is_empty() {
            break;
        }
        if out.is_empty() && b.len() as u64 == len {
            return Ok(b);
        }
        pos += b.len() as u64;
        out.extend_from_slice(&b);
    }
    Ok(Bytes::from(out))
}

#[allow(clippy::too_many_arguments)]
async fn copy_blocks(
    rs: &ReplicaSet,
    c: &Caller,
    gfid: Gfid,
    source: usize,
    src_iatt: &Iatt,
    stats: &[Option<Iatt>],
    healed: &mut [bool],
    fds: &mut Fds,
    req: &HealRequest,
    tally: &mut Tally,
) -> Result<()> {
    let n = rs.n();
    let arbiter_was = rs
        .opts
        .arbiter
        .map(|a| (a, healed.get(a).copied().unwrap_or(false)));
    if let Some((a, _)) = arbiter_was {
        if let Some(h) = healed.get_mut(a) {
            *h = false;
        }
    }
    let involved = (0..n)
        .filter(|&i| i == source || healed[i])
        .map(|i| stats.get(i).copied().flatten().map_or(0, |ia| ia.size));
    let diff = rs.opts.algorithm.use_diff(involved);
    let sparse = has_holes(src_iatt);
    let block = block_size(rs.opts.window, src_iatt);
    let sink_sizes: Vec<u64> = (0..n)
        .map(|i| stats.get(i).copied().flatten().map_or(0, |ia| ia.size))
        .collect();
    let src_sub = rs.bricks[source].subvol.clone();
    let Some(src_fd) = fds.fops[source].clone() else {
        return Err(HealError::Fop(FopError::Errno(libc::EBADF)));
    };
    let mut result = Ok(());
    for (off, len) in blocks(src_iatt.size, block) {
        if !healed.iter().any(|&h| h) {
            result = Err(HealError::Fop(FopError::NotConnected(format!(
                "{}: every sink of {gfid} failed",
                rs.name
            ))));
            break;
        }
        let lk = acquire(
            rs,
            c,
            &rs.name,
            Target::Inode {
                gfid,
                start: off,
                len,
            },
            false,
        )
        .await;
        let ok = lk.locked_on.get(source).copied().unwrap_or(false)
            && (0..n).any(|i| healed[i] && lk.locked_on[i]);
        if !ok {
            let k = lk.count();
            lk.release(rs, c).await;
            result = Err(not_all_up(rs, gfid, k));
            break;
        }
        let r = heal_block(
            rs,
            c,
            source,
            &src_sub,
            &src_fd,
            src_iatt,
            off,
            len,
            diff,
            sparse,
            &sink_sizes,
            healed,
            fds,
        )
        .await;
        lk.release(rs, c).await;
        match r {
            Ok(Some(sent)) => {
                tally.bytes_copied += sent;
                if let Some(p) = &req.progress {
                    p(len);
                }
            }
            Ok(None) => {
                tally.blocks_skipped += 1;
                if let Some(p) = &req.progress {
                    p(len);
                }
            }
            Err(e) => {
                result = Err(e);
                break;
            }
        }
    }
    if let Some((a, was)) = arbiter_was {
        if let Some(h) = healed.get_mut(a) {
            *h = was;
        }
    }
    result
}

/// Heal one block under its lock. `Ok(Some(bytes))` sent, `Ok(None)` skipped (identical).
#[allow(clippy::too_many_arguments)]
async fn heal_block(
    rs: &ReplicaSet,
    c: &Caller,
    source: usize,
    src_sub: &std::sync::Arc<dyn Subvolume>,
    src_fd: &Fd,
    src_iatt: &Iatt,
    off: u64,
    len: u64,
    diff: bool,
    sparse: bool,
    sink_sizes: &[u64],
    healed: &mut [bool],
    fds: &Fds,
) -> Result<Option<u64>> {
    let n = rs.n();
    let sink_size = |i: usize| sink_sizes.get(i).copied().unwrap_or(0);
    let targets: Vec<usize> = (0..n).filter(|&i| healed[i]).collect();
    // Blocks every sink already had before the truncate are worth comparing.
    let compare = diff && targets.iter().any(|&i| off < sink_size(i));
    let mut src_data: Option<Bytes> = None;
    if compare {
        let brick_sums = brick_checksums(rs, c, source, &targets, fds, off, len).await;
        let skip = match brick_sums {
            Some((src, sinks)) => can_skip_block(&src, &sinks.iter().collect::<Vec<_>>(), sparse),
            None => {
                let data = read_range(src_sub.as_ref(), c, src_fd, off, len).await?;
                let src = RangeSum::of_bytes(&data);
                let reads = join_all(targets.iter().map(|&i| {
                    let b = &rs.bricks[i];
                    let fd = fds.fops[i].clone();
                    async move {
                        match fd {
                            Some(fd) => read_range(b.subvol.as_ref(), c, &fd, off, len)
                                .await
                                .map(|d| RangeSum::of_bytes(&d)),
                            None => Err(FopError::Errno(libc::EBADF)),
                        }
                    }
                }))
                .await;
                src_data = Some(data);
                let sums: Vec<RangeSum> = reads.into_iter().filter_map(|r| r.ok()).collect();
                sums.len() == targets.len()
                    && can_skip_block(&src, &sums.iter().collect::<Vec<_>>(), sparse)
            }
        };
        if skip {
            return Ok(None);
        }
    }
    let data = match src_data {
        Some(d) => d,
        None => read_range(src_sub.as_ref(), c, src_fd, off, len).await?,
    };
    if data.is_empty() {
        return Ok(Some(0));
    }
    let zero = data.iter().all(|&b| b == 0);
    let writes = join_all(targets.iter().map(|&i| {
        let b = &rs.bricks[i];
        let fd = fds.fops[i].clone();
        let data = data.clone();
        let skip = skip_zero_write(sparse, off, len, sink_size(i), src_iatt.size, zero);
        async move {
            if skip {
                return Ok(0usize);
            }
            let Some(fd) = fd else {
                return Err(FopError::Errno(libc::EBADF));
            };
            // A sparse source's zero block inside the sink's old extent stays a hole if the
            // sink has zeroes there too (full algorithm, `__afr_is_sink_zero_filled`).
            if !diff && sparse && zero && off + len <= sink_size(i) {
                if let Ok(old) = read_range(b.subvol.as_ref(), c, &fd, off, len).await {
                    if old.iter().all(|&x| x == 0) {
                        return Ok(0usize);
                    }
                }
            }
            b.subvol
                .write(c, &fd, off, data.clone())
                .await
                .map(|_| data.len())
        }
    }))
    .await;
    for (k, r) in writes.into_iter().enumerate() {
        let i = targets[k];
        match r {
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(brick = %rs.bricks[i].label, error = %e, off, "heal write failed");
                healed[i] = false;
            }
        }
    }
    Ok(Some(data.len() as u64))
}

/// Brick-side checksums of the source and every target, on the fds already open, or None if any
/// is unavailable (a brick that is no protocol/client connection, an error): then compared here.
async fn brick_checksums(
    rs: &ReplicaSet,
    c: &Caller,
    source: usize,
    targets: &[usize],
    fds: &Fds,
    off: u64,
    len: u64,
) -> Option<(RangeSum, Vec<RangeSum>)> {
    let len32 = u32::try_from(len).ok()?;
    let mut who = vec![source];
    who.extend_from_slice(targets);
    let sums = join_all(who.iter().map(|&i| async move {
        let client = rs.bricks.get(i)?.client.as_ref()?;
        let fd = fds.fops.get(i).cloned().flatten()?;
        // `check-zero-filled` → `buf-has-zeroes`, as `__afr_can_skip_data_block_heal` asks.
        let mut x = Dict::new();
        x.set_i64("check-zero-filled", 1);
        match client.rchecksum(c, &fd, off, len32, &x).await {
            Ok(r) => Some(RangeSum::Brick {
                strong: r.strong_checksum.to_vec(),
                zeroes: r
                    .xdata
                    .as_ref()
                    .and_then(|d| d.get("buf-has-zeroes"))
                    .and_then(|v| v.as_u64().or_else(|| v.as_i64().map(|i| i as u64)))
                    .is_some_and(|v| v != 0),
            }),
            Err(e) => {
                tracing::debug!(brick = %rs.bricks[i].label, error = %e, "rchecksum failed");
                None
            }
        }
    }))
    .await;
    let mut it = sums.into_iter();
    let src = it.next()??;
    let rest: Option<Vec<RangeSum>> = it.collect();
    Some((src, rest?))
}
