//! The gluster-rs client as the mount helper drives it: `graph` builds the translator stack from
//! the volfile (bricks connected), `fuse` mounts it.

use std::time::Duration;

use tokio::runtime::Runtime;

use crate::client::{Client, Shutdown, VolfileTarget};
use crate::error::Error;
use crate::options::MountOptions;
use crate::plan::MountPlan;

/// The gluster-rs client: holds the connected volume for as long as its mount is served.
#[derive(Default)]
pub struct GlusterRsClient {
    volume: Option<std::sync::Arc<graph::Volume>>,
}

impl std::fmt::Debug for GlusterRsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GlusterRsClient")
            .field("connected", &self.volume.is_some())
            .finish()
    }
}

/// The client the helper runs for a plan (main.rs calls this after the fork).
pub fn gluster_rs_client(_plan: &MountPlan) -> GlusterRsClient {
    GlusterRsClient::default()
}

/// Map helper options onto the FUSE layer's.
pub fn fuse_options(plan: &MountPlan) -> fuse::FuseOptions {
    let o = &plan.options;
    let mut f = fuse::FuseOptions::default();
    if let Some(d) = o.attribute_timeout {
        f.attribute_timeout = d;
    }
    if let Some(d) = o.entry_timeout {
        f.entry_timeout = d;
    }
    if let Some(d) = o.negative_timeout {
        f.negative_timeout = d;
    }
    if let Some(d) = o.gid_timeout {
        f.gid_timeout = d;
    }
    if let Some(n) = o.lru_limit {
        f.lru_limit = n as usize;
    }
    if let Some(n) = o.background_qlen {
        f.max_background = n;
    }
    if let Some(n) = o.congestion_threshold {
        f.congestion_threshold = n;
    }
    if let Some(n) = o.reader_thread_count {
        f.reader_threads = (n as usize).max(1);
    }
    f.direct_io = o.direct_io;
    f.writeback_cache = o.kernel_writeback_cache.unwrap_or(false);
    // mount.glusterfs's default (fuse-bridge.c `fopen_keep_cache == 2`): keep cached pages across
    // opens whenever the kernel can drop them on a size/mtime change (auto-invalidation, on by
    // default); `fopen-keep-cache=off` or `auto-invalidation=off` purges them on every open.
    f.fopen_keep_cache = o
        .fopen_keep_cache
        .unwrap_or(o.auto_invalidation.unwrap_or(true));
    f.open_behind = o.open_behind.unwrap_or(true);
    f.quick_read = o.quick_read.unwrap_or(true);
    f.write_behind = o.write_behind.unwrap_or(true);
    f.read_only = o.read_only;
    f.acl = o.acl;
    f.selinux = o.selinux;
    f.resolve_groups = o.resolve_gids || f.resolve_groups;
    f.auto_unmount = o.kernel.auto_unmount;
    f.kernel_options = o
        .kernel
        .mount_flags()
        .iter()
        .map(|s| s.to_string())
        .collect();
    f.fs_name = plan.fsname.clone();
    f
}

impl Client for GlusterRsClient {
    type Volume = std::sync::Arc<graph::Volume>;
    type Session = fuse::MountHandle;

    async fn connect(
        &mut self,
        target: &VolfileTarget<'_>,
        options: &MountOptions,
    ) -> Result<Self::Volume, Error> {
        let server = graph::Server::new(target.server.host.clone(), target.server.port);
        let mut vo = graph::VolumeOptions::new(vec![server], target.volfile_id);
        if let Some(fa) = options.first_ack {
            vo.first_ack = fa;
        }
        vo.xlator_options = options
            .xlator_options
            .iter()
            .map(|x| (x.xlator.clone(), x.key.clone(), x.value.clone()))
            .collect();
        vo.connect_timeout = target
            .timeout
            .saturating_sub(Duration::from_secs(1))
            .max(Duration::from_secs(1))
            .min(vo.connect_timeout);
        vo.subdir = target.subdir.map(str::to_string);
        match graph::Volume::connect(&vo).await {
            Ok(v) => Ok(std::sync::Arc::new(v)),
            Err(e) if e.is_unreachable() => Err(Error::ServerUnreachable {
                server: target.server.to_string(),
                reason: e.to_string(),
            }),
            Err(e) => Err(Error::VolumeUnavailable {
                volume: target.volume.to_string(),
                server: target.server.to_string(),
                reason: e.to_string(),
            }),
        }
    }

    fn mount(
        &mut self,
        rt: &Runtime,
        volume: Self::Volume,
        plan: &MountPlan,
    ) -> Result<Self::Session, Error> {
        let f = fuse_options(plan);
        let h = fuse::mount(
            volume.top.clone(),
            &plan.mountpoint,
            &f,
            rt.handle().clone(),
        )
        .map_err(|e| Error::MountFailed(e.to_string()))?;
        self.volume = Some(volume);
        Ok(h)
    }

    fn serve(
        &mut self,
        rt: &Runtime,
        session: Self::Session,
        mut shutdown: Shutdown,
    ) -> Result<(), Error> {
        // `wait` blocks until the kernel mount goes away (umount DIR); a shutdown request
        // unmounts, which ends the wait.
        let mountpoint = session.mountpoint().to_path_buf();
        let waiter = std::thread::spawn(move || session.wait());
        let watcher = rt.spawn(async move {
            shutdown.requested().await;
            tracing::info!(mountpoint = %mountpoint.display(), "shutdown requested: unmounting");
            let _ = std::process::Command::new("umount")
                .arg("-l")
                .arg(&mountpoint)
                .status();
        });
        let r = waiter
            .join()
            .map_err(|_| Error::MountFailed("FUSE session thread panicked".into()))?;
        watcher.abort();
        if let Some(v) = self.volume.take() {
            rt.block_on(v.shutdown());
        }
        r.map_err(|e| Error::MountFailed(e.to_string()))
    }
}
