//! Write-behind, as GlusterFS's performance/write-behind does it in the C client's default graph
//! (with `strict-o-direct off`, its default, O_DIRECT writes included): a write is acknowledged
//! to the application as soon as it is queued, and goes to the volume in the background.
//!
//! What keeps it safe (write-behind.c):
//! * a write that overlaps one still in flight waits for it, so the bricks never see two
//!   overlapping writes of one file at once and the last one wins as the application wrote them;
//! * reads, attribute reads, truncates, locks, fsync and flush (close) of the file first wait
//!   for every write in flight, so they see the data and the size;
//! * the first error of a background write is kept and reported by the next write, fsync or
//!   flush of the file (the close then fails, as with any write-back cache);
//! * the data in flight is bounded: `window` bytes per file (1 MiB, write-behind's
//!   `cache-size`) and `total` bytes for the whole mount.
//!
//! Under it, replicate still acknowledges a write only on a brick's success and blames any brick
//! that fails; fsync and close still wait for every reachable replica.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use fop::Gfid;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

/// Writes in flight on one file.
#[derive(Default)]
struct Pending {
    /// `[start, end)` ranges in flight, with an id each.
    ranges: Vec<(u64, u64, u64)>,
    next_id: u64,
    /// The first error of a background write, not yet reported (an errno).
    error: Option<i32>,
}

struct FileState {
    pending: Mutex<Pending>,
    changed: Notify,
    window: Arc<Semaphore>,
}

pub(crate) struct WriteBehind {
    files: Mutex<HashMap<Gfid, Arc<FileState>>>,
    window: usize,
    total: Arc<Semaphore>,
}

/// A queued write: keeps its window share until dropped; `done` records the result.
pub(crate) struct Ticket {
    state: Arc<FileState>,
    id: u64,
    _file: OwnedSemaphorePermit,
    _total: OwnedSemaphorePermit,
}

impl Ticket {
    /// The write finished (an errno on failure): release its range and wake waiters.
    pub(crate) fn done(self, result: Result<(), i32>) {
        if let Err(e) = result {
            lock(&self.state.pending).error.get_or_insert(e);
        }
    }
}

impl Drop for Ticket {
    /// Also when a write task is dropped unfinished (runtime shutdown): never leave a range
    /// that would block its file forever.
    fn drop(&mut self) {
        lock(&self.state.pending).ranges.retain(|r| r.2 != self.id);
        self.state.changed.notify_waiters();
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl WriteBehind {
    pub(crate) fn new(window: usize, total: usize) -> Self {
        let window = window.clamp(4096, Semaphore::MAX_PERMITS);
        Self {
            files: Mutex::new(HashMap::new()),
            window,
            total: Arc::new(Semaphore::new(total.clamp(window, Semaphore::MAX_PERMITS))),
        }
    }

    fn state(&self, gfid: &Gfid) -> Arc<FileState> {
        lock(&self.files)
            .entry(*gfid)
            .or_insert_with(|| {
                Arc::new(FileState {
                    pending: Mutex::new(Pending::default()),
                    changed: Notify::new(),
                    window: Arc::new(Semaphore::new(self.window)),
                })
            })
            .clone()
    }

    fn existing(&self, gfid: &Gfid) -> Option<Arc<FileState>> {
        lock(&self.files).get(gfid).cloned()
    }

    /// Queue a write of `len` bytes at `offset`: waits for overlapping writes in flight and for
    /// room in the windows. Err(errno) reports an earlier background failure (and clears it).
    pub(crate) async fn queue(&self, gfid: &Gfid, offset: u64, len: usize) -> Result<Ticket, i32> {
        let st = self.state(gfid);
        let end = offset.saturating_add(len as u64);
        let share = u32::try_from(len.clamp(1, self.window)).unwrap_or(u32::MAX);
        loop {
            let notified = st.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let mut p = lock(&st.pending);
                if let Some(e) = p.error.take() {
                    return Err(e);
                }
                if !p.ranges.iter().any(|r| r.0 < end && offset < r.1) {
                    break;
                }
            }
            notified.await;
        }
        let file = st
            .window
            .clone()
            .acquire_many_owned(share)
            .await
            .map_err(|_| libc::EIO)?;
        let total = self
            .total
            .clone()
            .acquire_many_owned(share)
            .await
            .map_err(|_| libc::EIO)?;
        // Another write may have taken an overlapping range while this one waited for room.
        let id = {
            let mut p = lock(&st.pending);
            if p.ranges.iter().any(|r| r.0 < end && offset < r.1) {
                None
            } else {
                let id = p.next_id;
                p.next_id += 1;
                p.ranges.push((offset, end, id));
                Some(id)
            }
        };
        let Some(id) = id else {
            drop((file, total));
            return Box::pin(self.queue(gfid, offset, len)).await;
        };
        Ok(Ticket {
            state: st.clone(),
            id,
            _file: file,
            _total: total,
        })
    }

    /// No write of `gfid` in flight and no error waiting to be reported (without waiting).
    pub(crate) fn idle(&self, gfid: &Gfid) -> bool {
        self.existing(gfid).is_none_or(|st| {
            let p = lock(&st.pending);
            p.ranges.is_empty() && p.error.is_none()
        })
    }

    /// Wait until no write of `gfid` is in flight.
    pub(crate) async fn drain(&self, gfid: &Gfid) {
        let Some(st) = self.existing(gfid) else {
            return;
        };
        loop {
            let notified = st.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if lock(&st.pending).ranges.is_empty() {
                return;
            }
            notified.await;
        }
    }

    /// Wait for every write of `gfid`, then take its unreported error, if any.
    pub(crate) async fn settle(&self, gfid: &Gfid) -> Result<(), i32> {
        self.drain(gfid).await;
        let Some(st) = self.existing(gfid) else {
            return Ok(());
        };
        let err = lock(&st.pending).error.take();
        // Forget idle files so the map stays as small as the set of files being written.
        {
            let mut files = lock(&self.files);
            let idle = {
                let p = lock(&st.pending);
                p.ranges.is_empty() && p.error.is_none()
            };
            if idle && Arc::strong_count(&st) <= 2 {
                files.remove(gfid);
            }
        }
        err.map_or(Ok(()), Err)
    }

    #[cfg(test)]
    fn files(&self) -> usize {
        lock(&self.files).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn g(n: u8) -> Gfid {
        let mut b = [0u8; 16];
        b[15] = n;
        Gfid(b)
    }

    #[tokio::test]
    async fn overlapping_write_waits_for_the_earlier_one() {
        let wb = Arc::new(WriteBehind::new(1 << 20, 8 << 20));
        let t1 = wb.queue(&g(1), 0, 100).await.unwrap();
        // Disjoint: goes at once.
        let t2 = wb.queue(&g(1), 100, 100).await.unwrap();
        let wb2 = wb.clone();
        let overlapping = tokio::spawn(async move { wb2.queue(&g(1), 50, 10).await.map(|_| ()) });
        tokio::time::sleep(Duration::from_millis(30)).await;
        assert!(!overlapping.is_finished());
        t1.done(Ok(()));
        overlapping.await.unwrap().unwrap();
        t2.done(Ok(()));
        wb.drain(&g(1)).await;
    }

    #[tokio::test]
    async fn errors_are_reported_once_by_the_next_call() {
        let wb = WriteBehind::new(1 << 20, 8 << 20);
        let t = wb.queue(&g(2), 0, 10).await.unwrap();
        t.done(Err(libc::ENOSPC));
        assert_eq!(wb.settle(&g(2)).await, Err(libc::ENOSPC));
        assert_eq!(wb.settle(&g(2)).await, Ok(()));
        let t = wb.queue(&g(2), 0, 10).await.unwrap();
        t.done(Err(libc::EIO));
        assert_eq!(wb.queue(&g(2), 20, 10).await.err(), Some(libc::EIO));
    }

    #[tokio::test]
    async fn window_bounds_the_bytes_in_flight() {
        let wb = Arc::new(WriteBehind::new(8192, 1 << 20));
        let a = wb.queue(&g(3), 0, 8192).await.unwrap();
        let wb2 = wb.clone();
        let b = tokio::spawn(async move { wb2.queue(&g(3), 8192, 4096).await.map(|_| ()) });
        tokio::time::sleep(Duration::from_millis(30)).await;
        assert!(!b.is_finished(), "window full");
        a.done(Ok(()));
        b.await.unwrap().unwrap();
    }

    #[tokio::test]
    async fn drain_waits_and_idle_files_are_forgotten() {
        let wb = Arc::new(WriteBehind::new(1 << 20, 8 << 20));
        let t = wb.queue(&g(4), 0, 10).await.unwrap();
        let wb2 = wb.clone();
        let d = tokio::spawn(async move { wb2.drain(&g(4)).await });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!d.is_finished());
        t.done(Ok(()));
        d.await.unwrap();
        wb.settle(&g(4)).await.unwrap();
        assert_eq!(wb.files(), 0);
    }
}
