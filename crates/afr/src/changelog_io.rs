//! Sending changelog updates (pre-op, post-op, new-entry marks): xattrop `GF_XATTROP_ADD_ARRAY` on
//! an inode by GFID, on a set of bricks in parallel (afr-transaction.c `afr_changelog_do`).

use fop::{Caller, Fd, FopError, Gfid, Loc, XattropOp};
use futures::future::join_all;

use crate::changelog::{xattrop_dict, BrickMarkers, Counters};
use crate::{timeout_err, Inner};

/// Add `delta` (per brick's pending key) and `dirty` to the markers of `gfid` on the bricks in
/// `on`. Returns, per brick, the resulting markers (None where not sent).
pub async fn xattrop(
    inner: &Inner,
    c: &Caller,
    gfid: Gfid,
    on: &[bool],
    delta: &[Counters],
    dirty: Option<Counters>,
) -> Vec<Option<fop::Result<BrickMarkers>>> {
    xattrop_via(inner, c, gfid, &[], on, delta, dirty).await
}

/// [`xattrop`] through the children's open fds where given (fxattrop, afr_changelog_do with
/// `local->fd`), by GFID elsewhere or when the fd is no longer good.
pub async fn xattrop_via(
    inner: &Inner,
    c: &Caller,
    gfid: Gfid,
    fds: &[Option<Fd>],
    on: &[bool],
    delta: &[Counters],
    dirty: Option<Counters>,
) -> Vec<Option<fop::Result<BrickMarkers>>> {
    let dict = xattrop_dict(&inner.opts.pending_keys, delta, dirty);
    let wait = inner.opts.wait_timeout;
    let futs = inner.children.iter().enumerate().map(|(i, sub)| {
        let dict = &dict;
        let send = on.get(i).copied().unwrap_or(false);
        let fd = fds.get(i).cloned().flatten();
        async move {
            if !send {
                return None;
            }
            let loc = Loc::gfid(gfid);
            let by_loc = || sub.xattrop(c, &loc, XattropOp::AddArray, dict);
            let r = tokio::time::timeout(wait, async {
                match &fd {
                    Some(fd) => match sub.fxattrop(c, fd, XattropOp::AddArray, dict).await {
                        Err(e) if e.is(libc::EBADF) => by_loc().await,
                        r => r,
                    },
                    None => by_loc().await,
                }
            })
            .await
            .unwrap_or_else(|_| Err(timeout_err("xattrop", wait)))
            .map(|d| BrickMarkers::from_dict(&d, &inner.opts.pending_keys));
            if let Err(e) = &r {
                tracing::debug!(afr = %inner.name, child = i, %gfid, error = %e, "xattrop failed");
            }
            Some(r)
        }
    });
    join_all(futs).await
}

/// Bricks where an xattrop succeeded.
pub fn succeeded(r: &[Option<fop::Result<BrickMarkers>>]) -> Vec<bool> {
    r.iter().map(|x| matches!(x, Some(Ok(_)))).collect()
}

/// The first error among the replies.
pub fn first_error(r: &[Option<fop::Result<BrickMarkers>>]) -> Option<FopError> {
    r.iter().find_map(|x| match x {
        Some(Err(e)) => Some(e.clone()),
        _ => None,
    })
}
