//! THE PLUG: where the real gluster-rs client goes.
//!
//! Replace the three bodies below and the two associated types; nothing else in the helper
//! changes (main.rs already calls [`gluster_rs_client`] in the daemon, after the fork, inside a
//! multi-thread runtime). With the crates as they are now this is roughly:
//!
//! ```text
//! type Volume = graph::Volume;          // .top is the Arc<dyn fop::Subvolume>
//! type Session = fuse::MountHandle;     // dropping it unmounts
//!
//! async fn connect(&mut self, t: &VolfileTarget<'_>, o: &MountOptions) -> Result<graph::Volume, Error> {
//!     let mut vo = graph::VolumeOptions::new(vec![/* Server from t.server.host, t.server.port */],
//!                                            t.volfile_id);
//!     vo.first_ack = o.first_ack.unwrap_or(vo.first_ack);
//!     vo.xlator_options = o.xlator_options.iter()
//!         .map(|x| (x.xlator.clone(), x.key.clone(), x.value.clone())).collect();
//!     vo.connect_timeout = t.timeout.min(vo.connect_timeout);  // bricks wait, inside the attempt
//!     graph::Volume::connect(&vo).await.map_err(|e| match e {
//!         // could not reach / talk to glusterd on this server  -> try the next one
//!         e if is_unreachable(&e) => Error::ServerUnreachable { server: t.server.to_string(), reason: e.to_string() },
//!         // glusterd answered "no such volume", not started, auth refused, no brick came up
//!         e => Error::VolumeUnavailable { volume: t.volume.into(), server: t.server.to_string(), reason: e.to_string() },
//!     })
//!     // + root the graph at t.subdir when it is Some (subdir-mount)
//! }
//!
//! fn mount(&mut self, rt: &Runtime, v: graph::Volume, plan: &MountPlan) -> Result<fuse::MountHandle, Error> {
//!     let o = &plan.options;
//!     let mut f = fuse::FuseOptions::default();
//!     if let Some(d) = o.attribute_timeout { f.attribute_timeout = d; }   // same for entry_timeout,
//!     // negative_timeout, gid_timeout; direct_io = o.direct_io; writeback_cache =
//!     // o.kernel_writeback_cache.unwrap_or(false); fopen_keep_cache = o.fopen_keep_cache
//!     // .unwrap_or(false); lru_limit, background_qlen -> max_background, congestion_threshold,
//!     // reader_thread_count -> reader_threads (when Some)
//!     f.read_only = o.read_only; f.acl = o.acl; f.selinux = o.selinux;
//!     f.auto_unmount = o.kernel.auto_unmount;
//!     f.kernel_options = o.kernel.mount_flags().iter().map(|s| s.to_string()).collect();
//!     f.fs_name = plan.fsname.clone();           // subtype stays "gluster-rs"
//!     fuse::mount(v.top.clone(), &plan.mountpoint, &f, rt.handle().clone())
//!         .map_err(|e| Error::MountFailed(e.to_string()))
//!     // keep `v` alive (store it in self) for as long as the session runs
//! }
//!
//! fn serve(&mut self, rt: &Runtime, h: fuse::MountHandle, mut shutdown: Shutdown) -> Result<(), Error> {
//!     // wait() blocks until `umount DIR`; on SIGTERM/SIGINT `shutdown` fires: unmount then.
//!     // e.g. run h.wait() on a blocking thread and select on it and shutdown.requested().
//! }
//! ```

use tokio::runtime::Runtime;

use crate::client::{Client, Shutdown, VolfileTarget};
use crate::error::Error;
use crate::options::MountOptions;
use crate::plan::MountPlan;

/// What [`connect`](Client::connect) answers until the real client is plugged in.
pub const NOT_WIRED: &str =
    "the volfile fetch and FUSE mount are not plugged into mount-helper/src/wiring.rs";

/// The gluster-rs client as the mount helper drives it.
#[derive(Debug, Default)]
pub struct GlusterRsClient;

/// The client the helper runs for a plan (main.rs calls this after the fork).
pub fn gluster_rs_client(_plan: &MountPlan) -> GlusterRsClient {
    GlusterRsClient
}

impl Client for GlusterRsClient {
    // Uninhabited until wired: no value of these types can exist, so mount/serve cannot run.
    type Volume = std::convert::Infallible;
    type Session = std::convert::Infallible;

    async fn connect(
        &mut self,
        _target: &VolfileTarget<'_>,
        _options: &MountOptions,
    ) -> Result<Self::Volume, Error> {
        Err(Error::NotWired(NOT_WIRED))
    }

    fn mount(
        &mut self,
        _rt: &Runtime,
        volume: Self::Volume,
        _plan: &MountPlan,
    ) -> Result<Self::Session, Error> {
        match volume {}
    }

    fn serve(
        &mut self,
        _rt: &Runtime,
        session: Self::Session,
        _shutdown: Shutdown,
    ) -> Result<(), Error> {
        match session {}
    }
}
