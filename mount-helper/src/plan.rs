//! From a parsed [`Invocation`] to a [`MountPlan`]: the ordered volfile server list, the volume,
//! the canonical mount point, the log file, the timeouts.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::args::{HelperFlags, Invocation};
use crate::options::MountOptions;

/// glusterd's port (GF_DEFAULT_BASE_PORT).
pub const DEFAULT_VOLFILE_PORT: u16 = 24007;
/// Where logs go when `log-file=` is not given (GlusterFS uses /var/log/glusterfs).
pub const DEFAULT_LOG_DIR: &str = "/var/log/gluster-rs";
/// Added to the connect budget to get the default mount timeout: time for the FUSE mount and the
/// first stat of the mount point.
pub const MOUNT_GRACE: Duration = Duration::from_secs(30);

/// One volfile server to try.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolfileServer {
    /// Host name or address (IPv6 without brackets).
    pub host: String,
    pub port: u16,
}

impl fmt::Display for VolfileServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// Everything needed to mount, resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct MountPlan {
    /// Servers in the order to try: the spec's, then `backupvolfile-server` (only without
    /// `backup-volfile-servers`), then `backup-volfile-servers`; duplicates dropped (Kubernetes
    /// lists the first server again among the backups).
    pub servers: Vec<VolfileServer>,
    pub volume: String,
    /// The GETSPEC key: the volume name, or `/snaps/SNAP/VOLUME`.
    pub volfile_id: String,
    pub subdir: Option<String>,
    pub snapshot: Option<String>,
    /// Source shown in /proc/mounts (`server:/volume[/subdir]`).
    pub fsname: String,
    /// Canonical absolute mount point.
    pub mountpoint: PathBuf,
    /// Absolute path of the log file.
    pub log_file: PathBuf,
    pub options: MountOptions,
    pub flags: HelperFlags,
}

/// GlusterFS's log file name for a mount point (gf_set_log_file_path in
/// libglusterfs/src/common-utils.c: drop the leading `/`, every other `/` becomes `-`), under
/// [`DEFAULT_LOG_DIR`]. `/mnt/gluster` logs to `/var/log/gluster-rs/mnt-gluster.log`.
pub fn default_log_file(mountpoint: &Path) -> PathBuf {
    let s = mountpoint.to_string_lossy();
    let s = s.strip_prefix('/').unwrap_or(&s);
    let name = s.replace('/', "-");
    let name = if name.is_empty() {
        "root".to_string()
    } else {
        name
    };
    Path::new(DEFAULT_LOG_DIR).join(format!("{name}.log"))
}

impl MountPlan {
    /// Build the plan. `mountpoint` must already be canonical (see
    /// [`crate::preflight::check_mountpoint`]); `cwd` resolves a relative `log-file=`.
    pub fn new(inv: Invocation, mountpoint: PathBuf, cwd: &Path) -> MountPlan {
        let port = inv.options.server_port.unwrap_or(DEFAULT_VOLFILE_PORT);
        let mut hosts: Vec<&String> = inv.spec.servers.iter().collect();
        if inv.options.backup_volfile_servers.is_empty() {
            hosts.extend(inv.options.backupvolfile_server.iter());
        }
        hosts.extend(inv.options.backup_volfile_servers.iter());
        let mut servers: Vec<VolfileServer> = Vec::new();
        for h in hosts {
            if !servers.iter().any(|s| &s.host == h) {
                servers.push(VolfileServer {
                    host: h.clone(),
                    port,
                });
            }
        }
        let log_file = match &inv.options.log_file {
            Some(p) if p.is_absolute() => p.clone(),
            Some(p) => cwd.join(p),
            None => default_log_file(&mountpoint),
        };
        let subdir = inv.subdir().map(str::to_string);
        let mut spec = inv.spec.clone();
        spec.subdir.clone_from(&subdir);
        MountPlan {
            servers,
            volume: inv.spec.volume,
            volfile_id: inv.spec.volfile_id,
            subdir,
            snapshot: inv.spec.snapshot,
            fsname: spec.fsname(),
            mountpoint,
            log_file,
            options: inv.options,
            flags: inv.flags,
        }
    }

    /// How long `mount` waits for the client to report a usable mount: `mount-timeout=` if given,
    /// else every server's connect timeout for every fetch attempt, plus [`MOUNT_GRACE`].
    pub fn mount_timeout(&self) -> Duration {
        if let Some(t) = self.options.mount_timeout {
            return t;
        }
        let tries = u32::try_from(self.servers.len())
            .unwrap_or(u32::MAX)
            .saturating_mul(self.options.fetch_attempts.max(1));
        self.options
            .connect_timeout
            .saturating_mul(tries)
            .saturating_add(MOUNT_GRACE)
    }

    /// A one-line summary for `-v` and the log.
    pub fn summary(&self) -> String {
        let servers: Vec<String> = self.servers.iter().map(|s| s.to_string()).collect();
        format!(
            "volume {} (volfile id {}{}) from [{}] on {}; log {} at {}",
            self.volume,
            self.volfile_id,
            self.subdir
                .as_ref()
                .map(|s| format!(", subdir /{s}"))
                .unwrap_or_default(),
            servers.join(", "),
            self.mountpoint.display(),
            self.log_file.display(),
            self.options.log_level,
        )
    }
}
