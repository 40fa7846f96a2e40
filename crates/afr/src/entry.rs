//! Entry transactions (create, mkdir, mknod, symlink, link, unlink, rmdir, rename: afr-dir-write.c)
//! and metadata transactions (setattr, xattrs: afr-inode-write.c), as afr-transaction.c runs them
//! without eager locking: lock, pre-op, operation, post-op, unlock.

use std::sync::Arc;

use bytes::Bytes;
use fop::{Caller, FopError, Gfid, Iatt};
use futures::future::join_all;

use crate::changelog::{new_entry_blame, Counters, TxnType};
use crate::changelog_io::{succeeded, xattrop};
use crate::lock::{self, Lockee, METADATA_LOCK_START};
use crate::{final_error, symmetric_failure, timeout_err, Inner};

/// What a transaction locks and where its changelog goes.
pub struct TxnSpec {
    pub ty: TxnType,
    pub lockees: Vec<Lockee>,
    /// Inodes carrying the changelog: the parent directories (entry), the inode (metadata).
    pub changelog_on: Vec<Gfid>,
    /// Lock owner; entry transactions use a fresh one each time.
    pub owner: Bytes,
    /// rmdir's ENOTEMPTY does not make a brick "failed" (afr-dir-write.c `__afr_dir_write_fill`).
    pub ignore_enotempty: bool,
    /// For create/mknod/mkdir: mark the new entry where it was created but not everywhere.
    pub new_entry: bool,
}

impl TxnSpec {
    pub fn entry(inner: &Inner, parents: &[(Gfid, Bytes)]) -> Self {
        let mut changelog_on: Vec<Gfid> = parents.iter().map(|(p, _)| *p).collect();
        changelog_on.dedup();
        Self {
            ty: TxnType::Entry,
            lockees: parents
                .iter()
                .map(|(p, n)| Lockee::Entry {
                    dir: *p,
                    name: Some(n.clone()),
                })
                .collect(),
            changelog_on,
            owner: inner.new_owner(),
            ignore_enotempty: false,
            new_entry: false,
        }
    }

    pub fn metadata(gfid: Gfid, owner: Bytes) -> Self {
        Self {
            ty: TxnType::Metadata,
            lockees: vec![Lockee::Inode {
                gfid,
                start: METADATA_LOCK_START,
                len: 0,
            }],
            changelog_on: vec![gfid],
            owner,
            ignore_enotempty: false,
            new_entry: false,
        }
    }
}

/// The iatt of a result, for new-entry marking.
pub trait HasIatt {
    fn iatt(&self) -> Option<&Iatt>;
}

impl HasIatt for fop::Entry {
    fn iatt(&self) -> Option<&Iatt> {
        Some(&self.iatt)
    }
}

impl HasIatt for (fop::Fd, fop::Entry) {
    fn iatt(&self) -> Option<&Iatt> {
        Some(&self.1.iatt)
    }
}

impl HasIatt for () {
    fn iatt(&self) -> Option<&Iatt> {
        None
    }
}

/// unlink/rmdir: the parent's attributes, no new entry.
impl HasIatt for Option<Iatt> {
    fn iatt(&self) -> Option<&Iatt> {
        None
    }
}

impl HasIatt for Iatt {
    fn iatt(&self) -> Option<&Iatt> {
        Some(self)
    }
}

impl HasIatt for fop::PrePost {
    fn iatt(&self) -> Option<&Iatt> {
        Some(&self.post)
    }
}

/// Run a transaction; returns every brick's result (None = not sent) and the index of the one to
/// report, or the error to report.
pub async fn run<T, F, Fut>(
    inner: &Arc<Inner>,
    c: &Caller,
    spec: TxnSpec,
    op: F,
) -> fop::Result<(usize, Vec<Option<fop::Result<T>>>)>
where
    T: HasIatt + Send,
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = fop::Result<T>>,
{
    let n = inner.n();
    let wait = inner.opts.wait_timeout;
    let ty = spec.ty;
    let up = inner.check_quorum_up()?;
    let lc = inner.lock_caller(c, &spec.owner);
    let held = match crate::dirlock::enter(inner, c, &spec.lockees, &up).await {
        Some(dir) => {
            dir.touch(&spec.lockees);
            TxnLock::Dir(dir)
        }
        None => TxnLock::Own(lock::lock(inner, &lc, spec.lockees.clone(), &up).await?),
    };
    let locked = held.locked().to_vec();
    let quorum_on = inner.opts.quorum.enabled();
    if !locked.iter().any(|&l| l) || (quorum_on && !inner.quorum_met(&locked)) {
        let error = held.error();
        held.unlock(inner).await;
        return Err(error.unwrap_or_else(|| {
            FopError::NotConnected(format!("{}: could not lock a quorum of bricks", inner.name))
        }));
    }
    // Pre-op, unless every brick is locked and the change log is optimistic.
    let all_locked = locked.iter().all(|&l| l);
    let dirtied = !(inner.opts.optimistic_change_log && all_locked);
    let mut pre_op = locked.clone();
    if dirtied {
        for g in &spec.changelog_on {
            let r = xattrop(
                inner,
                &lc,
                *g,
                &pre_op,
                &vec![Counters::ZERO; n],
                Some(Counters::one(ty, 1)),
            )
            .await;
            let ok = succeeded(&r);
            for (p, o) in pre_op.iter_mut().zip(ok) {
                *p = *p && o;
            }
        }
        if !pre_op.iter().any(|&p| p) || (quorum_on && !inner.quorum_met(&pre_op)) {
            held.unlock(inner).await;
            return Err(FopError::NotConnected(format!(
                "{}: pre-op did not reach quorum",
                inner.name
            )));
        }
    }
    // The operation.
    let futs = (0..n).map(|i| {
        let go = pre_op[i];
        let f = &op;
        async move {
            if !go {
                return None;
            }
            Some(
                tokio::time::timeout(wait, f(i))
                    .await
                    .unwrap_or_else(|_| Err(timeout_err("operation", wait))),
            )
        }
    });
    let results: Vec<Option<fop::Result<T>>> = join_all(futs).await;
    let units: Vec<Option<fop::Result<()>>> = results
        .iter()
        .map(|r| {
            r.as_ref()
                .map(|x| x.as_ref().map(|_| ()).map_err(Clone::clone))
        })
        .collect();
    let symmetric = symmetric_failure(&units);
    let mut failed: Vec<bool> = (0..n)
        .map(|i| {
            !pre_op[i]
                || match &results[i] {
                    Some(Err(e)) => {
                        !(symmetric || (spec.ignore_enotempty && e.is(libc::ENOTEMPTY)))
                    }
                    _ => false,
                }
        })
        .collect();
    let success: Vec<bool> = results.iter().map(|r| matches!(r, Some(Ok(_)))).collect();
    let any_success = success.iter().any(|&s| s);
    let mut error: Option<FopError> = None;
    let mut dirty_delta = if dirtied {
        Some(Counters::one(ty, -1))
    } else {
        None
    };
    let mut skip_post_op = false;
    if quorum_on && any_success && !inner.quorum_met(&success) {
        // afr_handle_quorum: the operation fails; entry operations leave dirty on the survivors
        // (afr_need_dirty_marking), others blame nobody.
        error = Some(FopError::NotConnected(format!(
            "{}: operation below quorum",
            inner.name
        )));
        if ty == TxnType::Entry && inner.opts.optimistic_change_log {
            dirty_delta = if dirtied {
                None
            } else {
                Some(Counters::one(ty, 1))
            };
            failed = vec![false; n];
            for (i, f) in failed.iter_mut().enumerate() {
                *f = !success[i];
            }
            // Only dirty: no blame.
            let survivors = success.clone();
            for g in &spec.changelog_on {
                if let Some(d) = dirty_delta {
                    xattrop(
                        inner,
                        &lc,
                        *g,
                        &survivors,
                        &vec![Counters::ZERO; n],
                        Some(d),
                    )
                    .await;
                }
            }
        }
        skip_post_op = true;
    }
    let nothing_failed = !(0..n).any(|i| pre_op[i] && failed[i]);
    if !any_success && !nothing_failed {
        skip_post_op = true;
    }
    if nothing_failed && !dirtied && !failed.iter().any(|&f| f) {
        skip_post_op = true;
    }
    // New entry created on some bricks only: mark it on those (afr_mark_new_entry_changelog).
    if spec.new_entry && !skip_post_op && any_success && success.iter().any(|&s| !s) {
        if let Some((iatt, _)) = results.iter().enumerate().find_map(|(i, r)| match r {
            Some(Ok(t)) => t.iatt().map(|a| (*a, i)),
            _ => None,
        }) {
            let missing: Vec<bool> = success.iter().map(|&s| !s).collect();
            let blame = new_entry_blame(
                &missing,
                iatt.is_dir(),
                iatt.is_reg(),
                inner.opts.granular_entry_heal,
            );
            xattrop(inner, &lc, iatt.gfid, &success, &blame, None).await;
        }
    }
    if !skip_post_op {
        let good: Vec<bool> = (0..n).map(|i| pre_op[i] && !failed[i]).collect();
        let blame: Vec<Counters> = failed
            .iter()
            .map(|&f| {
                let mut c = Counters::ZERO;
                if f {
                    c.0[ty.index()] = 1;
                    if ty == TxnType::Entry && inner.opts.granular_entry_heal {
                        // Full-heal indicator: we cannot send the granular index names.
                        c.0[TxnType::Data.index()] = 1;
                    }
                }
                c
            })
            .collect();
        if good.iter().any(|&g| g) && (failed.iter().any(|&f| f) || dirty_delta.is_some()) {
            for g in &spec.changelog_on {
                xattrop(inner, &lc, *g, &good, &blame, dirty_delta).await;
            }
            if failed.iter().any(|&f| f) {
                tracing::info!(afr = %inner.name, ?failed, ?ty, "post-op blamed bricks");
            }
        }
    }
    for g in &spec.changelog_on {
        if let Some(ctx) = inner.inode_if_known(g) {
            ctx.lock().readable = None;
        }
    }
    // Nothing to mark (every brick did it, no pre-op): the result is final, so the unlock goes on
    // in the background instead of costing the application a round trip.
    let clean = error.is_none() && !dirtied && success.iter().all(|&s| s);
    if clean {
        held.unlock_behind(inner);
    } else {
        held.unlock(inner).await;
    }
    if let Some(e) = error {
        return Err(e);
    }
    match success.iter().position(|&s| s) {
        Some(i) => Ok((i, results)),
        None => Err(final_error(
            results
                .iter()
                .filter_map(|r| r.as_ref().and_then(|x| x.as_ref().err())),
        )
        .unwrap_or(FopError::Errno(libc::EIO))),
    }
}

/// The locks a transaction runs under: its own, or a directory lock held across transactions.
enum TxnLock {
    Own(lock::Held),
    Dir(crate::dirlock::Guard),
}

impl TxnLock {
    fn locked(&self) -> &[bool] {
        match self {
            TxnLock::Own(h) => &h.locked,
            TxnLock::Dir(g) => &g.locked,
        }
    }

    fn error(&self) -> Option<FopError> {
        match self {
            TxnLock::Own(h) => h.error.clone(),
            TxnLock::Dir(_) => None,
        }
    }

    /// Release after a transaction that did not go cleanly everywhere.
    async fn unlock(self, inner: &Inner) {
        match self {
            TxnLock::Own(h) => h.unlock(inner).await,
            TxnLock::Dir(g) => g.spoil(),
        }
    }

    /// Release after a clean transaction: in the background, or not at all for a directory lock
    /// (it stays for the next entry operation in the directory).
    fn unlock_behind(self, inner: &Arc<Inner>) {
        match self {
            TxnLock::Own(h) => h.unlock_behind(inner),
            TxnLock::Dir(g) => drop(g),
        }
    }
}

/// Take the reported result out of [`run`]'s output.
pub fn pick<T>(out: (usize, Vec<Option<fop::Result<T>>>)) -> fop::Result<T> {
    let (i, mut results) = out;
    match results.get_mut(i).and_then(Option::take) {
        Some(r) => r,
        None => Err(FopError::Errno(libc::EIO)),
    }
}
