//! Start a request's future on the thread that read the request, and move it to the runtime only
//! once it has to wait.
//!
//! Spawning every kernel request as a task costs a cross-thread wake-up (the runtime's workers are
//! parked on the I/O driver) before any work starts. Polled here first, a request that needs the
//! network encodes its RPC and writes it to the brick's socket from this thread (see transport's
//! direct writes); the future is handed to the runtime by its waker when the reply arrives, which
//! happens on a runtime thread, so it continues there without another wake-up. Requests that
//! complete without waiting (cache hits, write-behind) never leave this thread.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Wake, Waker};

use tokio::runtime::Handle;

type BoxFuture = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

enum State {
    /// Being polled on the request thread; `woken` if a wake-up came meanwhile.
    Polling { woken: bool },
    /// Waiting for its waker, which will spawn it.
    Parked(BoxFuture),
    /// Spawned (or finished); later wake-ups of this waker are stale.
    Gone,
}

struct Slot {
    rt: Handle,
    state: Mutex<State>,
}

impl Slot {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Wake for Slot {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let parked = {
            let mut st = self.lock();
            match std::mem::replace(&mut *st, State::Gone) {
                State::Polling { .. } => {
                    *st = State::Polling { woken: true };
                    None
                }
                State::Parked(f) => Some(f),
                State::Gone => None,
            }
        };
        if let Some(f) = parked {
            self.rt.spawn(f);
        }
    }
}

/// Poll `fut` once on this thread (inside `rt`'s context, so timers and spawns work); if it is not
/// done, it continues as a task on `rt` once woken.
pub(crate) fn run<F>(rt: &Handle, fut: F)
where
    F: Future<Output = ()> + Send + 'static,
{
    let slot = Arc::new(Slot {
        rt: rt.clone(),
        state: Mutex::new(State::Polling { woken: false }),
    });
    let waker = Waker::from(slot.clone());
    let mut fut: BoxFuture = Box::pin(fut);
    let polled = {
        let _ctx = rt.enter();
        let mut cx = Context::from_waker(&waker);
        std::panic::catch_unwind(AssertUnwindSafe(|| fut.as_mut().poll(&mut cx)))
    };
    let pending = match polled {
        Ok(p) => p.is_pending(),
        Err(_) => {
            // The request's reply is dropped with the future: the kernel gets EIO.
            tracing::error!("a request handler panicked; answered with EIO");
            false
        }
    };
    if !pending {
        *slot.lock() = State::Gone;
        return;
    }
    let mut st = slot.lock();
    match std::mem::replace(&mut *st, State::Gone) {
        // Woken while we polled: whatever it waited for is ready; let the runtime go on.
        State::Polling { woken: true } => {
            drop(st);
            rt.spawn(fut);
        }
        _ => *st = State::Parked(fut),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[test]
    fn ready_futures_finish_inline_and_waiting_ones_on_the_runtime() {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let caller = std::thread::current().id();
        let done = Arc::new(AtomicUsize::new(0));

        // Completes without waiting: runs on this thread, done before run() returns.
        let d = done.clone();
        run(rt.handle(), async move {
            assert_eq!(std::thread::current().id(), caller);
            d.fetch_add(1, Ordering::SeqCst);
        });
        assert_eq!(done.load(Ordering::SeqCst), 1);

        // Waits for a timer and a channel fed from another task: finishes on a runtime thread.
        let (tx, rx) = tokio::sync::oneshot::channel::<u32>();
        let (fin_tx, fin_rx) = std::sync::mpsc::channel();
        let d = done.clone();
        run(rt.handle(), async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            let v = rx.await.unwrap();
            d.fetch_add(v as usize, Ordering::SeqCst);
            fin_tx.send(std::thread::current().id()).unwrap();
        });
        rt.spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            tx.send(10).unwrap();
        });
        let finished_on = fin_rx.recv_timeout(Duration::from_secs(5)).unwrap();
        assert_ne!(finished_on, caller);
        assert_eq!(done.load(Ordering::SeqCst), 11);

        // Many concurrent waiters woken right away from runtime threads: none is lost.
        let (all_tx, all_rx) = std::sync::mpsc::channel();
        for i in 0..500u32 {
            let (tx, rx) = tokio::sync::oneshot::channel::<u32>();
            let all_tx = all_tx.clone();
            rt.spawn(async move {
                let _ = tx.send(i);
            });
            run(rt.handle(), async move {
                let v = rx.await.unwrap();
                all_tx.send(v).unwrap();
            });
        }
        let mut got: Vec<u32> = (0..500)
            .map(|_| all_rx.recv_timeout(Duration::from_secs(5)).unwrap())
            .collect();
        got.sort_unstable();
        assert_eq!(got, (0..500).collect::<Vec<_>>());
    }
}
