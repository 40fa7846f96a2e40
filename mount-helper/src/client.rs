//! The seam to the real client: the [`Client`] trait the lead implements (fetch the volfile and
//! build the graph; mount FUSE; serve until unmounted), and the sequence the daemon runs with it:
//! try every volfile server in order, mount, check the mount answers, report ready, serve.

use std::future::Future;
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use tokio::runtime::Runtime;
use tokio::sync::watch;

use crate::error::Error;
use crate::options::MountOptions;
use crate::plan::{MountPlan, VolfileServer};

/// How long the first `stat` of the fresh mount may take before the mount counts as broken.
pub const USABLE_TIMEOUT: Duration = Duration::from_secs(30);

/// One attempt to get the volume from one volfile server.
#[derive(Debug, Clone, Copy)]
pub struct VolfileTarget<'a> {
    /// glusterd to ask (host, port).
    pub server: &'a VolfileServer,
    /// Volume name.
    pub volume: &'a str,
    /// GETSPEC key (volume name, or `/snaps/SNAP/VOLUME`).
    pub volfile_id: &'a str,
    /// Subdirectory to use as the mount root, if any.
    pub subdir: Option<&'a str>,
    /// The whole attempt is cut off after this (the helper enforces it around
    /// [`Client::connect`]; the implementation may use it for its own socket timeouts).
    pub timeout: Duration,
}

/// Set when the daemon is asked to stop (SIGTERM, SIGINT, SIGHUP): the session should unmount
/// and [`Client::serve`] return.
#[derive(Debug, Clone)]
pub struct Shutdown(watch::Receiver<bool>);

/// The sending side of [`Shutdown`].
#[derive(Debug)]
pub struct ShutdownTrigger(watch::Sender<bool>);

impl Shutdown {
    pub fn new() -> (ShutdownTrigger, Shutdown) {
        let (tx, rx) = watch::channel(false);
        (ShutdownTrigger(tx), Shutdown(rx))
    }

    pub fn is_requested(&self) -> bool {
        *self.0.borrow()
    }

    /// Completes once shutdown is requested (or the trigger is gone).
    pub async fn requested(&mut self) {
        // An error means the trigger was dropped: nobody can ask any more; treat as a request.
        let _ = self.0.wait_for(|v| *v).await;
    }
}

impl ShutdownTrigger {
    pub fn trigger(&self) {
        // send_replace never fails, even with no receiver left.
        self.0.send_replace(true);
    }
}

/// What the helper needs from gluster-rs. Implemented by [`crate::wiring::GlusterRsClient`].
pub trait Client {
    /// The connected translator graph (for gluster-rs: `Arc<dyn fop::Subvolume>`).
    type Volume;
    /// A live FUSE mount (for gluster-rs: `fuse::MountHandle`).
    type Session;

    /// Fetch the volfile `target.volfile_id` from `target.server` only (the helper does the
    /// fail-over) and build the client graph, bricks connected. Runs on the daemon's runtime
    /// (`block_on`), cut off after `target.timeout`, which covers the whole attempt.
    ///
    /// Return [`Error::ServerUnreachable`] when this server did not answer (the helper tries the
    /// next one), [`Error::VolumeUnavailable`] when it answered but the volume cannot be mounted:
    /// it does not exist, is not started, access is refused, no brick came up (the helper stops:
    /// another server of the pool would say the same); any other error stops too.
    fn connect(
        &mut self,
        target: &VolfileTarget<'_>,
        options: &MountOptions,
    ) -> impl Future<Output = Result<Self::Volume, Error>>;

    /// Mount `volume` with FUSE on `plan.mountpoint` (options: `plan.options`, kernel flags
    /// `plan.options.kernel.mount_flags()`, source name `plan.fsname`) and return once the
    /// kernel mount exists and requests are being served. Dropping the session must unmount
    /// (the helper drops it if the new mount does not answer a stat).
    fn mount(
        &mut self,
        rt: &Runtime,
        volume: Self::Volume,
        plan: &MountPlan,
    ) -> Result<Self::Session, Error>;

    /// Serve until the file system is unmounted (`umount DIR`) or `shutdown` is requested, in
    /// which case unmount first. Returning ends the daemon.
    fn serve(
        &mut self,
        rt: &Runtime,
        session: Self::Session,
        shutdown: Shutdown,
    ) -> Result<(), Error>;
}

/// Try every volfile server in plan order, `fetch-attempts` times over; the first that gives the
/// volume wins. Unreachable servers (and timeouts) move on to the next; any other error stops.
pub fn connect_first<C: Client>(
    client: &mut C,
    rt: &Runtime,
    plan: &MountPlan,
) -> Result<C::Volume, Error> {
    let mut tried: Vec<String> = Vec::new();
    let attempts = plan.options.fetch_attempts.max(1);
    for attempt in 1..=attempts {
        for server in &plan.servers {
            let target = VolfileTarget {
                server,
                volume: &plan.volume,
                volfile_id: &plan.volfile_id,
                subdir: plan.subdir.as_deref(),
                timeout: plan.options.connect_timeout,
            };
            tracing::info!(%server, volume = %plan.volume, attempt, "fetching volfile");
            let fut = client.connect(&target, &plan.options);
            let result = rt.block_on(async { tokio::time::timeout(target.timeout, fut).await });
            match result {
                Ok(Ok(volume)) => {
                    tracing::info!(%server, volume = %plan.volume, "volume connected");
                    return Ok(volume);
                }
                Ok(Err(Error::ServerUnreachable { server: s, reason })) => {
                    tracing::warn!(server = %s, %reason, "volfile server did not answer");
                    tried.push(format!("{server}: {reason}"));
                }
                Ok(Err(e)) => {
                    tracing::error!(%server, error = %e, "volfile server refused the mount");
                    return Err(e);
                }
                Err(_elapsed) => {
                    let reason = format!("no answer within {:?}", target.timeout);
                    tracing::warn!(%server, %reason, "volfile server did not answer");
                    tried.push(format!("{server}: {reason}"));
                }
            }
        }
    }
    Err(Error::NoServerAnswered {
        volume: plan.volume.clone(),
        tried: if tried.is_empty() {
            "no servers".into()
        } else {
            tried.join("; ")
        },
    })
}

/// The device of `path` (st_dev), to tell later whether something got mounted on it.
pub fn device_of(path: &Path) -> Result<u64, Error> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path)
        .map(|m| m.dev())
        .map_err(|e| Error::system(format!("stat {}", path.display()), e))
}

/// Wait until `stat(path)` answers with a device other than `dev_before`: the new mount exists
/// and its root answers (for FUSE this is a GETATTR served by the client). Gives up after
/// `timeout` (a hung stat is left behind in its thread; the caller exits anyway).
pub fn wait_usable(path: &Path, dev_before: u64, timeout: Duration) -> Result<(), Error> {
    let (tx, rx) = mpsc::channel();
    let p = path.to_path_buf();
    std::thread::Builder::new()
        .name("mount-check".into())
        .spawn(move || {
            let _ = tx.send(device_of(&p));
        })
        .map_err(|e| Error::system("spawning the mount check thread", e))?;
    match rx.recv_timeout(timeout) {
        Ok(Ok(dev)) if dev != dev_before => Ok(()),
        Ok(Ok(_)) => Err(Error::MountFailed(format!(
            "nothing is mounted on {} after the client mounted it",
            path.display()
        ))),
        Ok(Err(e)) => Err(Error::MountFailed(format!(
            "the new mount does not answer: {e}"
        ))),
        Err(_) => Err(Error::MountFailed(format!(
            "the new mount on {} did not answer a stat within {timeout:?}",
            path.display()
        ))),
    }
}

/// The daemon's work, after the fork: connect (trying servers in order), mount, check the mount
/// answers, call `ready`, serve until unmounted. An error before `ready` means nothing stays
/// mounted (the session is dropped).
pub fn mount_and_serve<C: Client>(
    client: &mut C,
    rt: &Runtime,
    plan: &MountPlan,
    shutdown: Shutdown,
    ready: impl FnOnce(),
) -> Result<(), Error> {
    let volume = connect_first(client, rt, plan)?;
    let dev_before = device_of(&plan.mountpoint)?;
    tracing::info!(mountpoint = %plan.mountpoint.display(), "mounting");
    let session = client.mount(rt, volume, plan)?;
    wait_usable(&plan.mountpoint, dev_before, USABLE_TIMEOUT)?;
    tracing::info!(mountpoint = %plan.mountpoint.display(), fsname = %plan.fsname, "mounted");
    ready();
    let r = client.serve(rt, session, shutdown);
    match &r {
        Ok(()) => tracing::info!(mountpoint = %plan.mountpoint.display(), "unmounted; exiting"),
        Err(e) => tracing::error!(error = %e, "client stopped with an error"),
    }
    r
}
