//! The long-lived heal worker (what glustershd's index healers do, afr-self-heald.c
//! `afr_shd_index_healer`): one loop per replica set that sweeps the indices when a brick of the
//! set comes back, and every `interval` otherwise (`cluster.heal-timeout`, 600 s by default).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;
use tokio::sync::{watch, Notify};
use transport::ConnState;

use crate::replica::ReplicaSet;
use crate::stats::{CrawlEvent, History};
use crate::sweep::{index_sweep, SweepOptions};
use crate::volume::HealVolume;

/// How the worker runs.
#[derive(Clone)]
pub struct DaemonOptions {
    /// Sweep at least this often.
    pub interval: Duration,
    /// Where crawl statistics are kept (None: not kept).
    pub state_dir: Option<PathBuf>,
    pub sweep: SweepOptions,
}

impl Default for DaemonOptions {
    fn default() -> Self {
        DaemonOptions {
            interval: Duration::from_secs(600),
            state_dir: Some(PathBuf::from(crate::stats::DEFAULT_STATE_DIR)),
            sweep: SweepOptions::default(),
        }
    }
}

/// Wake `notify` whenever one of the replica set's bricks becomes ready.
fn watch_bricks(rs: &ReplicaSet, notify: Arc<Notify>, stop: watch::Receiver<bool>) {
    for b in &rs.bricks {
        let Some(client) = b.client() else { continue };
        let mut st = client.state();
        let notify = notify.clone();
        let mut stop = stop.clone();
        let label = b.label.clone();
        tokio::spawn(async move {
            let mut was_ready = *st.borrow() == ConnState::Ready;
            loop {
                tokio::select! {
                    r = st.changed() => {
                        if r.is_err() {
                            return;
                        }
                    }
                    _ = stop.changed() => return,
                }
                let ready = *st.borrow_and_update() == ConnState::Ready;
                if ready && !was_ready {
                    tracing::info!(brick = %label, "brick is back; starting an index sweep");
                    notify.notify_one();
                }
                was_ready = ready;
            }
        });
    }
}

async fn record(opts: &DaemonOptions, volume: &str, ev: &CrawlEvent) {
    let Some(dir) = opts.state_dir.clone() else {
        return;
    };
    let volume = volume.to_string();
    let ev = ev.clone();
    let r = tokio::task::spawn_blocking(move || History::append(&dir, &volume, &[ev])).await;
    match r {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::warn!(error = %e, "could not record crawl statistics"),
        Err(e) => tracing::warn!(error = %e, "could not record crawl statistics"),
    }
}

async fn replica_loop(
    rs: ReplicaSet,
    volume: String,
    opts: DaemonOptions,
    mut stop: watch::Receiver<bool>,
) {
    let notify = Arc::new(Notify::new());
    watch_bricks(&rs, notify.clone(), stop.clone());
    // Sweep once at start (glustershd does when its children come up).
    notify.notify_one();
    loop {
        tokio::select! {
            _ = notify.notified() => {}
            _ = tokio::time::sleep(opts.interval) => {}
            _ = stop.changed() => return,
        }
        if *stop.borrow() {
            return;
        }
        tracing::debug!(replica = %rs.name, "starting index sweep");
        let sweep = index_sweep(&rs, &opts.sweep);
        let ev = tokio::select! {
            ev = sweep => ev,
            _ = stop.changed() => return,
        };
        if ev.healed + ev.split_brain + ev.heal_failed + ev.stale > 0 {
            tracing::info!(
                replica = %rs.name,
                healed = ev.healed,
                split_brain = ev.split_brain,
                failed = ev.heal_failed,
                stale = ev.stale,
                bytes = ev.bytes_copied,
                "finished index sweep"
            );
        }
        record(&opts, &volume, &ev).await;
    }
}

/// Run the worker on a connected volume until `stop` becomes true.
pub async fn run(vol: &HealVolume, opts: DaemonOptions, stop: watch::Receiver<bool>) {
    let loops = vol.replicas.iter().cloned().map(|rs| {
        tokio::spawn(replica_loop(
            rs,
            vol.name.clone(),
            opts.clone(),
            stop.clone(),
        ))
    });
    for r in join_all(loops).await {
        if let Err(e) = r {
            tracing::error!(error = %e, "heal loop ended abnormally");
        }
    }
}
