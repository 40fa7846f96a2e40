//! THE PLUG: where the real gluster-rs client goes.
//!
//! Replace the bodies below with the real calls and the two associated types with the real ones;
//! nothing else in the helper changes:
//!
//! - `type Volume = Arc<dyn fop::Subvolume>;`
//!   `connect`: fetch the volfile `target.volfile_id` from `target.server` (host, port) within
//!   `target.timeout` and build the translator graph for `target.volume` (root `target.subdir` if
//!   set), honouring the client options in `options` (xlator_options, first_ack, lru_limit, ...).
//!   Map "could not reach the server" to `Error::ServerUnreachable { server, reason }`, "the volume
//!   does not exist / is not started / access refused" to
//!   `Error::VolumeUnavailable { volume, server, reason }`.
//! - `type Session = fuse::MountHandle;`
//!   `mount`: `fuse::mount(volume, &plan.mountpoint, &fuse_options_from(plan), rt.handle())`, with
//!   `plan.options.kernel_mount_options()` (ro, nodev, nosuid, noexec, atime, auto_unmount, ...),
//!   `plan.fsname` as the source name and `gluster-rs` as the subtype; return once the kernel
//!   mount exists and requests are served. Dropping the session must unmount.
//! - `serve`: block until the kernel ends the session (`umount DIR`) or `shutdown` is requested
//!   (then unmount), e.g. `rt.block_on(async { tokio::select! { _ = handle.join() => .., _ =
//!   shutdown.requested() => handle.unmount() } })`.

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
