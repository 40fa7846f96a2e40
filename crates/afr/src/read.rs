//! Lookups and reads: markers are requested on every lookup and interpreted into the readable set
//! of the inode (afr-common.c `afr_lookup_done`, `afr_replies_interpret`); reads go to one readable
//! brick, failing over (afr-read-txn.c).

use std::sync::atomic::Ordering;
use std::sync::Arc;

use fop::{Caller, Dict, FopError, Gfid, Iatt, Loc, Lookup};
use futures::future::join_all;

use crate::changelog::{add_marker_request, BrickMarkers, Matrix, Readable};
use crate::inode::{Cached, InodeCtx};
use crate::policy::{read_child, read_order};
use crate::{final_error, timeout_err, Inner};

/// Per-brick lookup answers.
pub struct Replies {
    pub replies: Vec<Option<fop::Result<Lookup>>>,
    /// The one brick asked for quick-read's content, when it was asked for.
    pub content_from: Option<usize>,
}

/// quick-read's content is asked of one brick only (each brick asked opens and reads the file):
/// `x` for that brick, and `x` without the content key for the others.
fn content_split(x: &Dict) -> Option<Dict> {
    x.contains_key(CONTENT_KEY).then(|| {
        let mut bare = x.clone();
        bare.remove(CONTENT_KEY);
        bare
    })
}

/// `xdata` with the markers asked for too.
fn with_markers(inner: &Inner, xdata: &Dict) -> Dict {
    let mut x = xdata.clone();
    add_marker_request(&mut x, &inner.opts.pending_keys);
    x
}

/// Brick `i`'s lookup, within the wait timeout (`None`: no such brick).
async fn lookup_child(
    inner: &Inner,
    i: usize,
    c: &Caller,
    loc: &Loc,
    x: &Dict,
) -> Option<fop::Result<Lookup>> {
    let sub = inner.children.get(i)?;
    let wait = inner.opts.wait_timeout;
    Some(
        tokio::time::timeout(wait, sub.lookup(c, loc, x))
            .await
            .unwrap_or_else(|_| Err(timeout_err("lookup", wait))),
    )
}

/// Lookups in parallel on the bricks `ask` picks (`x` already asks for the markers); `None` for
/// the others. With `bare` (see [`content_split`]), only brick `content_from` gets `x`.
async fn lookup_on(
    inner: &Inner,
    c: &Caller,
    loc: &Loc,
    x: &Dict,
    bare: Option<&Dict>,
    content_from: Option<usize>,
    ask: impl Fn(usize) -> bool,
) -> Vec<Option<fop::Result<Lookup>>> {
    let ask = &ask;
    join_all((0..inner.n()).map(|i| async move {
        let d = match bare {
            Some(b) if content_from != Some(i) => b,
            _ => x,
        };
        if ask(i) {
            lookup_child(inner, i, c, loc, d).await
        } else {
            None
        }
    }))
    .await
}

/// Lookup on every connected brick, asking for the markers too.
pub async fn lookup_all(inner: &Inner, c: &Caller, loc: &Loc, xdata: &Dict) -> Replies {
    let x = with_markers(inner, xdata);
    let bare = content_split(&x);
    let n = inner.n().max(1);
    let start = inner.lookup_rotor.load(Ordering::Relaxed) as usize;
    let content_from = bare
        .as_ref()
        .and_then(|_| (0..n).map(|k| (start + k) % n).find(|&i| inner.is_up(i)));
    Replies {
        replies: lookup_on(inner, c, loc, &x, bare.as_ref(), content_from, |i| {
            inner.is_up(i)
        })
        .await,
        content_from,
    }
}

/// Quorum lookups (`quorum-lookups`, on by default with quorum on and every brick up): ask all
/// bricks but one, rotating which one is skipped, and ask the last one only if the answers do not
/// settle the lookup ([`settled_early`]). Writes need a quorum, so two clean, agreeing answers of
/// three are current; a brick that missed something is blamed by one that did not, and that
/// shows in the answers. A third fewer lookups on the bricks, and no waiting for the slowest.
/// The second value is false when a brick was not asked.
async fn lookup_quorum(inner: &Arc<Inner>, c: &Caller, loc: &Loc, xdata: &Dict) -> (Replies, bool) {
    let n = inner.n();
    if n < 3
        || !inner.opts.quorum_lookups
        || !inner.opts.quorum.enabled()
        || !inner.up().iter().all(|&u| u)
    {
        return (lookup_all(inner, c, loc, xdata).await, true);
    }
    // The preferred reader (the local brick) is always asked: its answer makes it readable.
    let rotor = inner.lookup_rotor.fetch_add(1, Ordering::Relaxed) as usize;
    let preferred = inner.preferred_reader();
    let skip = match preferred {
        Some(p) => (p + 1 + rotor % (n - 1)) % n,
        None => rotor % n,
    };
    let x = with_markers(inner, xdata);
    let bare = content_split(&x);
    let content_from = bare.as_ref().map(|_| preferred.unwrap_or((skip + 1) % n));
    let mut replies = lookup_on(inner, c, loc, &x, bare.as_ref(), content_from, |i| {
        i != skip
    })
    .await;
    let answered: Vec<bool> = replies.iter().map(Option::is_some).collect();
    if settled_early(&replies, &inner.opts.pending_keys) && inner.quorum_met(&answered) {
        return (
            Replies {
                replies,
                content_from,
            },
            false,
        );
    }
    let last = lookup_child(inner, skip, c, loc, bare.as_ref().unwrap_or(&x)).await;
    if let Some(slot) = replies.get_mut(skip) {
        *slot = last;
    }
    (
        Replies {
            replies,
            content_from,
        },
        true,
    )
}

/// Whether the answers in hand settle a lookup whatever the missing one says, given that writes
/// need a quorum: all the same outcome (all ENOENT, or all found with one GFID and type), no
/// dirty or pending marker on any of them, and regular files of one size. With 2 of 3 answers
/// under quorum this holds only if they are current: any brick that missed a write is blamed by
/// at least one brick that took it, and at most one brick is unanswered.
pub fn settled_early(replies: &[Option<fop::Result<Lookup>>], pending_keys: &[String]) -> bool {
    let answered: Vec<&fop::Result<Lookup>> = replies.iter().flatten().collect();
    let Some(first) = answered.first() else {
        return false;
    };
    match first {
        Err(e) => {
            e.is(libc::ENOENT)
                && answered
                    .iter()
                    .all(|r| matches!(r, Err(e) if e.is(libc::ENOENT)))
        }
        Ok(f) => answered.iter().all(|r| match r {
            Ok(l) => {
                let m = BrickMarkers::from_dict(&l.xdata, pending_keys);
                !l.iatt.gfid.is_null()
                    && l.iatt.gfid == f.iatt.gfid
                    && l.iatt.ia_type() == f.iatt.ia_type()
                    && (!l.iatt.is_reg() || l.iatt.size == f.iatt.size)
                    && m.is_clean()
            }
            Err(_) => false,
        }),
    }
}

/// Interpret lookup replies into a result and the inode's readable set.
pub fn interpret(inner: &Arc<Inner>, replies: &Replies) -> fop::Result<(usize, Readable)> {
    let n = inner.n();
    let ok: Vec<Option<&Lookup>> = replies
        .replies
        .iter()
        .map(|r| match r {
            Some(Ok(l)) => Some(l),
            _ => None,
        })
        .collect();
    let Some(first) = ok.iter().flatten().next() else {
        let e = final_error(
            replies
                .replies
                .iter()
                .flatten()
                .filter_map(|r| r.as_ref().err()),
        );
        return Err(
            e.unwrap_or_else(|| FopError::NotConnected(format!("{}: no child is up", inner.name)))
        );
    };
    let gfid = first.iatt.gfid;
    let is_dir = first.iatt.is_dir();
    // Only bricks agreeing on the GFID count; a mismatch between readable copies is split-brain.
    let same: Vec<bool> = ok
        .iter()
        .map(|l| l.is_some_and(|l| l.iatt.gfid == gfid))
        .collect();
    let matrix = Matrix::new(
        replies
            .replies
            .iter()
            .zip(&same)
            .map(|(r, &s)| match r {
                Some(Ok(l)) if s => {
                    Some(BrickMarkers::from_dict(&l.xdata, &inner.opts.pending_keys))
                }
                _ => None,
            })
            .collect(),
    );
    let sizes: Vec<Option<u64>> = ok
        .iter()
        .zip(&same)
        .map(|(l, &s)| if s { l.map(|l| l.iatt.size) } else { None })
        .collect();
    let in_txn = inner
        .inode_if_known(&gfid)
        .map(|c| !c.is_idle())
        .unwrap_or(false);
    let readable = Readable::compute(&matrix, is_dir, Some(&sizes), in_txn);
    let mismatch = ok
        .iter()
        .zip(&same)
        .enumerate()
        .filter(|(_, (l, s))| l.is_some() && !**s)
        .map(|(i, _)| i)
        .collect::<Vec<_>>();
    if !mismatch.is_empty() {
        // Tolerated when the mismatching copies are not readable but the chosen one is.
        let chosen_readable = readable.data.iter().zip(&same).any(|(&r, &s)| r && s);
        if !chosen_readable {
            tracing::warn!(afr = %inner.name, %gfid, ?mismatch, "gfid mismatch between replicas");
            return Err(FopError::Errno(libc::EIO));
        }
    }
    let cand: Vec<bool> = (0..n)
        .map(|i| {
            same[i]
                && readable.data.get(i).copied().unwrap_or(false)
                && readable.metadata.get(i).copied().unwrap_or(false)
        })
        .collect();
    // The brick that sent quick-read's content, if it is a good copy: its answer is as current
    // as any other's and carries the content.
    let with_content = replies.content_from.filter(|&i| cand.get(i) == Some(&true));
    let pick = with_content
        .or_else(|| read_child(&gfid, &cand, inner.preferred_reader()))
        .or_else(|| read_child(&gfid, &same, None))
        .ok_or(FopError::Errno(libc::EIO))?;
    Ok((pick, readable))
}

/// The replicate lookup.
pub async fn lookup(
    inner: &Arc<Inner>,
    c: &Caller,
    loc: &Loc,
    xdata: &Dict,
) -> fop::Result<Lookup> {
    let up = inner.up();
    if !up.iter().any(|&u| u) {
        return Err(FopError::NotConnected(format!(
            "{}: no child is up",
            inner.name
        )));
    }
    // A name not in the listing of a directory we hold locked cannot exist ([`crate::dirlock`]).
    if loc.gfid.is_null() && crate::dirlock::known_absent(inner, &loc.parent, &loc.name) {
        return Err(FopError::Errno(libc::ENOENT));
    }
    let started = tokio::time::Instant::now();
    let (mut replies, complete) = lookup_quorum(inner, c, loc, xdata).await;
    // Attributes after every acknowledged write: with first-ack, a write may still be running on
    // the brick this lookup reads from; wait for the inode's writes and ask again.
    let gfid = replies.replies.iter().find_map(|r| match r {
        Some(Ok(l)) if !l.iatt.gfid.is_null() => Some(l.iatt.gfid),
        _ => None,
    });
    if let Some(ctx) = gfid.and_then(|g| inner.inode_if_known(&g)) {
        let stale = {
            let st = ctx.lock();
            !st.inflight.is_empty() || st.last_write_done.is_some_and(|t| t >= started)
        };
        if stale {
            crate::inode::drain(inner, &ctx).await?;
            replies = lookup_all(inner, c, loc, xdata).await;
        }
    }
    // Before interpreting: a GFID mismatch fails the lookup but is what name heal fixes. (A
    // quorum lookup that settled without a brick found nothing to heal.)
    if complete {
        crate::selfheal::after_lookup(inner, loc, &replies);
    }
    let interpreted = interpret(inner, &replies);
    if let Err(e) = &interpreted {
        if e.is(libc::ENOENT) && loc.gfid.is_null() {
            crate::dirlock::negative_seen(inner, c, &loc.parent);
        }
    }
    let (pick, readable) = interpreted?;
    let Some(Some(Ok(l))) = replies.replies.get(pick) else {
        return Err(FopError::Errno(libc::EIO));
    };
    let answered = replies
        .replies
        .iter()
        .filter(|r| matches!(r, Some(Ok(_))))
        .count();
    let ctx = inner.inode(l.iatt.gfid);
    // Cache the readable set only when it rests on a quorum of answers.
    let answered_set: Vec<bool> = replies
        .replies
        .iter()
        .map(|r| matches!(r, Some(Ok(_))))
        .collect();
    // quick-read content only from a copy every answering brick agrees is current
    // (afr_lookup_done drops GF_CONTENT_KEY otherwise).
    let all_current = answered_set
        .iter()
        .enumerate()
        .all(|(i, &a)| !a || readable.data.get(i).copied().unwrap_or(false));
    if answered > 0 && (!inner.opts.quorum.enabled() || inner.quorum_met(&answered_set)) {
        let mut st = ctx.lock();
        st.readable = Some(Cached {
            readable,
            gen: inner.event_gen(),
        });
    }
    let mut out = l.clone();
    if !all_current {
        out.xdata.remove(CONTENT_KEY);
    }
    Ok(out)
}

/// quick-read's content key (GF_CONTENT_KEY, libglusterfs/src/glusterfs/glusterfs.h).
const CONTENT_KEY: &str = "glusterfs.content";

/// The readable set of `ctx`, refreshed (lookup by GFID on every brick) if unknown or from an
/// older event generation. Bricks blamed in the running epoch are excluded.
pub async fn readable(
    inner: &Arc<Inner>,
    c: &Caller,
    ctx: &Arc<InodeCtx>,
) -> fop::Result<Readable> {
    let gen = inner.event_gen();
    let cached = {
        let st = ctx.lock();
        st.readable.clone().filter(|r| r.gen == gen)
    };
    let mut r = match cached {
        Some(c) => c.readable,
        None => {
            let replies = lookup_all(inner, c, &Loc::gfid(ctx.gfid), &Dict::new()).await;
            let (_, readable) = interpret(inner, &replies)?;
            let answered: Vec<bool> = replies
                .replies
                .iter()
                .map(|r| matches!(r, Some(Ok(_))))
                .collect();
            if inner.opts.quorum.enabled() && !inner.quorum_met(&answered) {
                // Markers on the silent bricks may blame the ones that answered.
                return Err(FopError::NotConnected(format!(
                    "{}: too few bricks answered to know which copy is current",
                    inner.name
                )));
            }
            let mut st = ctx.lock();
            st.readable = Some(Cached {
                readable: readable.clone(),
                gen,
            });
            readable
        }
    };
    let failed = ctx.epoch_failed(inner.n());
    for (i, f) in failed.iter().enumerate() {
        if *f {
            if let Some(d) = r.data.get_mut(i) {
                *d = false;
            }
        }
    }
    Ok(r)
}

/// The order in which to try bricks for a read of `[start, end)` of `ctx` (data) or of its
/// metadata: readable, up, and — for data — holding every acknowledged write of the range; waits
/// for running writes when no such brick exists yet. EIO when no copy is readable (split-brain).
pub async fn read_candidates(
    inner: &Arc<Inner>,
    c: &Caller,
    ctx: &Arc<InodeCtx>,
    range: Option<(u64, u64)>,
    metadata_only: bool,
) -> fop::Result<Vec<usize>> {
    inner.check_quorum_up()?;
    let n = inner.n();
    let deadline = tokio::time::Instant::now() + inner.opts.wait_timeout;
    loop {
        let notified = ctx.changed.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let r = readable(inner, c, ctx).await?;
        let base: Vec<bool> = if metadata_only {
            r.metadata.clone()
        } else {
            r.both()
        };
        if !base.iter().any(|&b| b) {
            tracing::warn!(afr = %inner.name, gfid = %ctx.gfid, "no readable copy (split-brain)");
            return Err(FopError::Errno(libc::EIO));
        }
        let (start, end) = range.unwrap_or((0, u64::MAX));
        let (fresh, pending) = ctx.fresh(n, start, end);
        let up = inner.up();
        let cand: Vec<bool> = (0..n).map(|i| base[i] && fresh[i] && up[i]).collect();
        if cand.iter().any(|&x| x) {
            return Ok(read_order(&ctx.gfid, &cand, inner.preferred_reader()));
        }
        if !pending {
            // Readable copies exist but none is reachable.
            return Err(FopError::NotConnected(format!(
                "{}: no readable copy is reachable",
                inner.name
            )));
        }
        // Wait for the next change of the running writes.
        if tokio::time::timeout_at(deadline, notified).await.is_err() {
            return Err(timeout_err("read after write", inner.opts.wait_timeout));
        }
    }
}

/// Try `f` on the candidates in order, failing over on errors other than the ones every copy
/// would give.
pub async fn try_in_order<T, F, Fut>(order: &[usize], mut f: F) -> fop::Result<T>
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = fop::Result<T>>,
{
    let mut last = None;
    for &i in order {
        match f(i).await {
            Ok(v) => return Ok(v),
            Err(e) => {
                let definitive = matches!(
                    e.errno(),
                    libc::ENOENT
                        | libc::ENODATA
                        | libc::EACCES
                        | libc::EPERM
                        | libc::EINVAL
                        | libc::EISDIR
                        | libc::ENOTDIR
                );
                if definitive {
                    return Err(e);
                }
                last = Some(e);
            }
        }
    }
    Err(last.unwrap_or(FopError::Errno(libc::EIO)))
}

/// Attributes of an inode from a readable brick.
pub async fn stat_gfid(inner: &Arc<Inner>, c: &Caller, gfid: Gfid) -> fop::Result<Iatt> {
    let ctx = inner.inode(gfid);
    if !ctx.lock().inflight.is_empty() {
        // The size after every acknowledged write (see `lookup`).
        crate::inode::drain(inner, &ctx).await?;
    }
    let order = read_candidates(inner, c, &ctx, None, false).await?;
    try_in_order(&order, |i| {
        let sub = inner.children[i].clone();
        let c = c.clone();
        async move { sub.stat(&c, &Loc::gfid(gfid)).await }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::changelog::{xattrop_dict, Counters, TxnType};

    use crate::testutil::{keys, reply};

    fn found(g: u8, mode: u32, size: u64, xdata: Dict) -> Option<fop::Result<Lookup>> {
        reply(Gfid([g; 16]), mode, size, xdata)
    }

    fn enoent() -> Option<fop::Result<Lookup>> {
        Some(Err(FopError::Errno(libc::ENOENT)))
    }

    const FILE: u32 = 0o100644;
    const DIR: u32 = 0o040755;

    #[test]
    fn quick_read_content_is_asked_of_one_brick() {
        let mut x = Dict::new();
        x.set_u64("trusted.afr.v-client-0", 12);
        assert!(
            content_split(&x).is_none(),
            "no content asked: one dict for all"
        );
        x.set_u64(CONTENT_KEY, 65536);
        let bare = content_split(&x).expect("a dict without the content key");
        assert!(!bare.contains_key(CONTENT_KEY));
        assert!(bare.contains_key("trusted.afr.v-client-0"));
        assert!(x.contains_key(CONTENT_KEY));
    }

    #[test]
    fn agreeing_clean_answers_settle_early() {
        let k = keys();
        let r = vec![
            found(1, FILE, 5, Dict::new()),
            None,
            found(1, FILE, 5, Dict::new()),
        ];
        assert!(settled_early(&r, &k));
        // Directories may differ in size between bricks.
        let r = vec![
            found(1, DIR, 4096, Dict::new()),
            found(1, DIR, 60, Dict::new()),
            None,
        ];
        assert!(settled_early(&r, &k));
        assert!(settled_early(&[enoent(), enoent(), None], &k));
    }

    #[test]
    fn any_disagreement_or_marker_waits_for_every_brick() {
        let k = keys();
        let blame = |j: usize| {
            let mut d = vec![Counters::ZERO; 3];
            d[j] = Counters::one(TxnType::Data, 1);
            xattrop_dict(&k, &d, None)
        };
        let dirty = xattrop_dict(
            &k,
            &[Counters::ZERO; 3],
            Some(Counters::one(TxnType::Data, 1)),
        );
        let cases = [
            // a name missing on one brick
            vec![found(1, FILE, 5, Dict::new()), enoent(), None],
            // another GFID
            vec![
                found(1, FILE, 5, Dict::new()),
                found(2, FILE, 5, Dict::new()),
                None,
            ],
            // another type
            vec![
                found(1, FILE, 5, Dict::new()),
                found(1, DIR, 5, Dict::new()),
                None,
            ],
            // another size
            vec![
                found(1, FILE, 5, Dict::new()),
                found(1, FILE, 6, Dict::new()),
                None,
            ],
            // a brick blamed (the unanswered one, or one of the answers)
            vec![
                found(1, FILE, 5, blame(2)),
                found(1, FILE, 5, Dict::new()),
                None,
            ],
            vec![
                found(1, FILE, 5, blame(0)),
                found(1, FILE, 5, Dict::new()),
                None,
            ],
            // a transaction under way
            vec![
                found(1, FILE, 5, dirty.clone()),
                found(1, FILE, 5, Dict::new()),
                None,
            ],
            // errors other than ENOENT
            vec![
                Some(Err(FopError::Errno(libc::EIO))),
                Some(Err(FopError::Errno(libc::EIO))),
                None,
            ],
            vec![None, None, None],
        ];
        for (i, r) in cases.iter().enumerate() {
            assert!(!settled_early(r, &k), "case {i} settled");
        }
    }
}
