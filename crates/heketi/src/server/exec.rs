//! What the server does on storage nodes: gluster CLI calls (through
//! glusterd), device setup and brick file systems.
//!
//! Commands run locally when a node's management host is this machine
//! (a loopback address, or an address of a local interface), else over ssh
//! with heketi.json's `sshexec` settings, as Heketi's ssh executor.
//!
//! Devices:
//! - a block device gets Heketi's layout (heketi `executors/cmdexec`): an LVM
//!   volume group `vg_<device id>`, per brick a thin pool `tp_<brick id>` and
//!   a thin LV `brick_<brick id>` with XFS (`-i size=512 -n size=8192`),
//!   mounted on `<mounts>/vg_<device id>/brick_<brick id>`;
//! - a directory (for hosts without spare disks) gets, per brick, a sparse
//!   image file `<dir>/vg_<device id>/brick_<brick id>.img` of the brick's
//!   size, formatted XFS the same way and loop-mounted on
//!   `<dir>/vg_<device id>/brick_<brick id>`. The brick's file system size
//!   is what bounds the volume: writes beyond it fail with ENOSPC.
//!
//! The brick directory given to GlusterFS is `<mount>/brick`.

use std::net::{IpAddr, ToSocketAddrs, UdpSocket};
use std::time::Duration;

use tokio::process::Command;

use crate::config::Config;

/// Heketi's XFS brick mount options.
pub const DEFAULT_MOUNT_OPTS: &str = "rw,inode64,noatime,nouuid";
/// Timeout of local file system commands (mkfs, mount, lvcreate...).
const FS_TIMEOUT: Duration = Duration::from_secs(120);
/// Retries of a gluster command refused because glusterd is busy.
const GLUSTER_BUSY_RETRIES: u32 = 10;
/// Heketi's cap on a thin pool's metadata (16 GiB, in KiB).
const MAX_POOL_METADATA_KIB: u64 = 16 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error("{cmd} on {host}: {msg}")]
    Failed {
        host: String,
        cmd: String,
        msg: String,
    },
    #[error("{cmd} on {host}: timed out after {secs}s")]
    Timeout {
        host: String,
        cmd: String,
        secs: u64,
    },
    #[error("{0}")]
    Other(String),
}

/// Kind of a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum DeviceKind {
    /// LVM on a block device (Heketi's layout).
    Block,
    /// A directory on a mounted file system; bricks are loop-mounted images.
    Directory,
}

/// What device setup found.
#[derive(Debug, Clone)]
pub struct DeviceSetup {
    pub kind: DeviceKind,
    /// Capacity usable for bricks, KiB.
    pub total_kib: u64,
    pub pv_uuid: String,
}

/// Where a brick lives on its node.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BrickLayout {
    pub kind: DeviceKind,
    /// Device name (`/dev/sdb` or the directory).
    pub device_name: String,
    pub device_id: String,
    pub brick_id: String,
    /// Mount point of the brick's file system.
    pub mount_dir: String,
    /// Brick size (file system size), KiB.
    pub size_kib: u64,
    /// Thin pool size, KiB (block devices).
    pub tp_kib: u64,
    /// Thin pool metadata size, KiB (block devices).
    pub meta_kib: u64,
    /// Group id for the brick directory (0: none).
    pub gid: i64,
}

impl BrickLayout {
    /// Layout of a new brick.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        kind: DeviceKind,
        device_name: &str,
        device_id: &str,
        brick_id: &str,
        size_kib: u64,
        snapshot_factor: f32,
        gid: i64,
        mounts_dir: &str,
    ) -> Self {
        let vg = format!("vg_{device_id}");
        let mount_dir = match kind {
            DeviceKind::Block => {
                format!("{}/{vg}/brick_{brick_id}", mounts_dir.trim_end_matches('/'))
            }
            DeviceKind::Directory => format!(
                "{}/{vg}/brick_{brick_id}",
                device_name.trim_end_matches('/')
            ),
        };
        let factor = if snapshot_factor >= 1.0 {
            snapshot_factor
        } else {
            1.0
        };
        let tp_kib = match kind {
            DeviceKind::Block => (size_kib as f64 * factor as f64) as u64,
            DeviceKind::Directory => size_kib,
        };
        let meta_kib = match kind {
            DeviceKind::Block => pool_metadata_kib(tp_kib),
            DeviceKind::Directory => 0,
        };
        BrickLayout {
            kind,
            device_name: device_name.to_string(),
            device_id: device_id.to_string(),
            brick_id: brick_id.to_string(),
            mount_dir,
            size_kib,
            tp_kib,
            meta_kib,
            gid,
        }
    }

    /// The directory handed to GlusterFS.
    pub fn brick_path(&self) -> String {
        format!("{}/brick", self.mount_dir)
    }

    /// Space this brick takes from its device, KiB.
    pub fn total_kib(&self) -> u64 {
        self.tp_kib + self.meta_kib
    }

    fn image(&self) -> String {
        format!("{}.img", self.mount_dir)
    }

    fn vg(&self) -> String {
        format!("vg_{}", self.device_id)
    }

    fn lv_dev(&self) -> String {
        format!("/dev/mapper/{}-brick_{}", self.vg(), self.brick_id)
    }
}

/// Thin pool metadata size for a pool of `tp_kib` (Heketi's
/// `poolMetadataSize`: 0.5 %, capped at 16 GiB).
pub fn pool_metadata_kib(tp_kib: u64) -> u64 {
    ((tp_kib as f64 * 0.005) as u64).min(MAX_POOL_METADATA_KIB)
}

/// Quote one word for a POSIX shell.
pub fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:=,@%+".contains(&b))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// Whether `host` names this machine (a loopback address, or an address a
/// socket can be bound to here).
pub fn is_local_host(host: &str) -> bool {
    if host == "localhost" {
        return true;
    }
    let addrs: Vec<IpAddr> = match (host, 0u16).to_socket_addrs() {
        Ok(a) => a.map(|s| s.ip()).collect(),
        Err(_) => return false,
    };
    !addrs.is_empty()
        && addrs
            .iter()
            .all(|ip| ip.is_loopback() || UdpSocket::bind((*ip, 0)).is_ok())
}

/// This machine's host name.
pub fn local_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}

/// Host name to use for a brick on a node with storage hostname `storage`.
/// The gluster CLI refuses loopback addresses as brick hosts, so a loopback
/// storage address is replaced by this machine's host name.
pub fn brick_host_for(storage: &str, hostname: &str) -> String {
    let loopback = storage == "localhost"
        || storage
            .parse::<IpAddr>()
            .map(|ip| ip.is_loopback())
            .unwrap_or(false);
    if loopback {
        hostname.to_string()
    } else {
        storage.to_string()
    }
}

/// Build the `gluster volume create` arguments (after `gluster`).
/// `bricks` are `host:path`, set after set.
pub fn volume_create_args(
    name: &str,
    replica: usize,
    bricks: &[String],
    force: bool,
) -> Vec<String> {
    let mut a = vec![
        "--mode=script".to_string(),
        "volume".into(),
        "create".into(),
        name.to_string(),
    ];
    if replica > 1 {
        a.push("replica".into());
        a.push(replica.to_string());
    }
    a.extend(bricks.iter().cloned());
    if force {
        a.push("force".into());
    }
    a
}

/// Build the `gluster volume add-brick` arguments.
pub fn add_brick_args(name: &str, replica: usize, bricks: &[String], force: bool) -> Vec<String> {
    let mut a = vec![
        "--mode=script".to_string(),
        "volume".into(),
        "add-brick".into(),
        name.to_string(),
    ];
    if replica > 1 {
        a.push("replica".into());
        a.push(replica.to_string());
    }
    a.extend(bricks.iter().cloned());
    if force {
        a.push("force".into());
    }
    a
}

/// Whether gluster must be told `force`: two bricks of one replica set on
/// the same server (gluster refuses that without force).
pub fn needs_force(bricks: &[String], replica: usize) -> bool {
    let set = replica.max(1);
    bricks.chunks(set).any(|chunk| {
        let hosts: Vec<&str> = chunk
            .iter()
            .map(|b| b.split_once(':').map(|(h, _)| h).unwrap_or(b.as_str()))
            .collect();
        hosts
            .iter()
            .enumerate()
            .any(|(i, h)| hosts.iter().skip(i + 1).any(|o| o == h))
    })
}

/// glusterd refused a command because another transaction holds its lock
/// (glusterd-locks.c / glusterd-mgmt.c messages); nothing was changed.
pub fn is_glusterd_busy(msg: &str) -> bool {
    msg.contains("Another transaction is in progress")
        || msg.contains("Locking failed on")
        || msg.contains("Unable to acquire lock")
}

/// Parse `df -k --output=size,avail` (second line), KiB.
pub fn parse_df(out: &str) -> Option<(u64, u64)> {
    let line = out.lines().nth(1)?;
    let mut it = line.split_whitespace();
    let size = it.next()?.parse().ok()?;
    let avail = it.next()?.parse().ok()?;
    Some((size, avail))
}

/// Parse `vgdisplay -c` into (total, free) KiB (fields 12, 13, 15 as in
/// heketi's `getVgSizeFromNode`).
pub fn parse_vgdisplay(out: &str) -> Option<(u64, u64)> {
    let f: Vec<&str> = out.trim().split(':').collect();
    if f.len() < 17 {
        return None;
    }
    let extent: u64 = f.get(12)?.parse().ok()?;
    let total: u64 = f.get(13)?.parse().ok()?;
    let free: u64 = f.get(15)?.parse().ok()?;
    Some((total * extent, free * extent))
}

/// Runs commands on storage nodes.
#[derive(Debug, Clone)]
pub struct Executor {
    ssh_user: String,
    ssh_key: String,
    ssh_port: String,
    use_ssh: bool,
    mount_opts: String,
    cli_timeout: Duration,
    pub mounts_dir: String,
    pub rebalance_on_expansion: bool,
    hostname: String,
}

impl Executor {
    pub fn from_config(c: &Config) -> Result<Self, String> {
        let use_ssh = match c.glusterfs.executor.as_str() {
            "" | "local" => false,
            "ssh" => true,
            other => {
                return Err(format!(
                    "executor {other:?} is not supported by gluster-rs heketi (use \"ssh\" or \"local\")"
                ))
            }
        };
        let s = &c.glusterfs.sshexec;
        Ok(Executor {
            ssh_user: if s.user.is_empty() {
                "root".into()
            } else {
                s.user.clone()
            },
            ssh_key: s.keyfile.clone(),
            ssh_port: if s.port.is_empty() {
                "22".into()
            } else {
                s.port.clone()
            },
            use_ssh,
            mount_opts: if s.mountopts.is_empty() {
                DEFAULT_MOUNT_OPTS.into()
            } else {
                s.mountopts.clone()
            },
            cli_timeout: Duration::from_secs(c.gluster_cli_timeout()),
            mounts_dir: c.mounts_dir(),
            rebalance_on_expansion: s.rebalance_on_expansion,
            hostname: local_hostname(),
        })
    }

    /// Brick host name for a node's storage hostname.
    pub fn brick_host(&self, storage: &str) -> String {
        brick_host_for(storage, &self.hostname)
    }

    /// Run `argv` on `host`; returns stdout. Non-zero exit is an error
    /// carrying stderr (or stdout).
    pub async fn run(
        &self,
        host: &str,
        argv: &[String],
        timeout: Duration,
    ) -> Result<String, ExecError> {
        let shown = argv.join(" ");
        let local = is_local_host(host);
        let mut cmd = if local {
            let mut c = Command::new(argv.first().map(String::as_str).unwrap_or("true"));
            c.args(argv.iter().skip(1));
            c
        } else if self.use_ssh {
            let mut line: Vec<String> = argv.iter().map(|a| shell_quote(a)).collect();
            if self.ssh_user != "root" {
                line.insert(0, "sudo".into());
                line.insert(1, "-n".into());
            }
            let mut c = Command::new("ssh");
            c.args([
                "-o",
                "BatchMode=yes",
                "-o",
                "ConnectTimeout=10",
                "-p",
                &self.ssh_port,
            ]);
            if !self.ssh_key.is_empty() {
                c.args(["-i", &self.ssh_key]);
            }
            c.arg(format!("{}@{}", self.ssh_user, host));
            c.arg("--");
            c.arg(line.join(" "));
            c
        } else {
            return Err(ExecError::Other(format!(
                "node {host} is not this machine and heketi.json has no \"executor\": \"ssh\""
            )));
        };
        cmd.kill_on_drop(true)
            .stdin(std::process::Stdio::null())
            .env("LC_ALL", "C")
            .env("LVM_SUPPRESS_FD_WARNINGS", "1");
        tracing::debug!(host, cmd = %shown, "exec");
        let out = match tokio::time::timeout(timeout, cmd.output()).await {
            Err(_) => {
                return Err(ExecError::Timeout {
                    host: host.into(),
                    cmd: shown,
                    secs: timeout.as_secs(),
                })
            }
            Ok(Err(e)) => {
                return Err(ExecError::Failed {
                    host: host.into(),
                    cmd: shown,
                    msg: e.to_string(),
                })
            }
            Ok(Ok(o)) => o,
        };
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        if out.status.success() {
            return Ok(stdout);
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        let msg = if stderr.trim().is_empty() {
            stdout.trim().to_string()
        } else {
            stderr.trim().to_string()
        };
        Err(ExecError::Failed {
            host: host.into(),
            cmd: shown,
            msg,
        })
    }

    async fn sh(&self, host: &str, argv: &[&str]) -> Result<String, ExecError> {
        let v: Vec<String> = argv.iter().map(|s| s.to_string()).collect();
        self.run(host, &v, FS_TIMEOUT).await
    }

    /// Run a gluster CLI command on `host`. glusterd runs one transaction
    /// at a time cluster-wide and refuses others before changing anything
    /// ("Another transaction is in progress", "Locking failed"), so those
    /// refusals are retried a few times.
    pub async fn gluster(&self, host: &str, args: &[String]) -> Result<String, ExecError> {
        let mut v = vec!["gluster".to_string()];
        v.extend(args.iter().cloned());
        let mut attempt = 0;
        loop {
            match self.run(host, &v, self.cli_timeout).await {
                Err(ExecError::Failed { msg, .. })
                    if attempt < GLUSTER_BUSY_RETRIES && is_glusterd_busy(&msg) =>
                {
                    attempt += 1;
                    tracing::info!("glusterd busy ({msg}); retry {attempt}");
                    tokio::time::sleep(Duration::from_secs(2)).await;
                }
                r => return r,
            }
        }
    }

    fn gl(args: &[&str]) -> Vec<String> {
        let mut v = vec!["--mode=script".to_string()];
        v.extend(args.iter().map(|s| s.to_string()));
        v
    }

    /// Is glusterd answering on `host`?
    pub async fn glusterd_check(&self, host: &str) -> Result<(), ExecError> {
        self.gluster(host, &Self::gl(&["pool", "list"]))
            .await
            .map(|_| ())
    }

    /// `gluster peer probe` of `storage` from `from`.
    pub async fn peer_probe(&self, from: &str, storage: &str) -> Result<(), ExecError> {
        self.gluster(from, &Self::gl(&["peer", "probe", storage]))
            .await
            .map(|_| ())
    }

    /// `gluster peer detach` of `storage` from `from`. Nothing to do when
    /// both are this machine (glusterd treats its own addresses as itself).
    pub async fn peer_detach(&self, from: &str, storage: &str) -> Result<(), ExecError> {
        if is_local_host(from) && is_local_host(storage) {
            return Ok(());
        }
        match self
            .gluster(from, &Self::gl(&["peer", "detach", storage]))
            .await
        {
            Ok(_) => Ok(()),
            Err(ExecError::Failed { msg, .. }) if msg.contains("is not part of cluster") => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Inspect and prepare a device on `host`.
    pub async fn device_setup(
        &self,
        host: &str,
        name: &str,
        device_id: &str,
        destroy: bool,
    ) -> Result<DeviceSetup, ExecError> {
        let kind = self.sh(host, &["stat", "-L", "-c", "%F", name]).await?;
        let kind = kind.trim();
        if kind == "directory" {
            let vgdir = format!("{}/vg_{device_id}", name.trim_end_matches('/'));
            self.sh(host, &["mkdir", "-p", &vgdir]).await?;
            let df = self
                .sh(host, &["df", "-k", "--output=size,avail", &vgdir])
                .await?;
            let (_, avail) = parse_df(&df)
                .ok_or_else(|| ExecError::Other(format!("unexpected df output: {df}")))?;
            return Ok(DeviceSetup {
                kind: DeviceKind::Directory,
                total_kib: avail,
                pv_uuid: String::new(),
            });
        }
        if kind != "block special file" {
            return Err(ExecError::Other(format!(
                "{name} on {host} is neither a block device nor a directory ({kind})"
            )));
        }
        if destroy {
            self.sh(host, &["wipefs", "--all", name]).await?;
        }
        let vg = format!("vg_{device_id}");
        self.sh(
            host,
            &[
                "pvcreate",
                "-qq",
                "--metadatasize=128M",
                "--dataalignment=256K",
                name,
            ],
        )
        .await?;
        if let Err(e) = self
            .sh(
                host,
                &[
                    "vgcreate",
                    "-qq",
                    "--physicalextentsize=4M",
                    "--autobackup=n",
                    &vg,
                    name,
                ],
            )
            .await
        {
            let _ = self.sh(host, &["pvremove", "-qq", name]).await;
            return Err(e);
        }
        let vgd = self.sh(host, &["vgdisplay", "-c", &vg]).await?;
        let (total, _) = parse_vgdisplay(&vgd).ok_or_else(|| {
            ExecError::Other(format!("vgdisplay returned an invalid string: {vgd}"))
        })?;
        let pv = self
            .sh(host, &["pvs", "--noheadings", "-o", "pv_uuid", name])
            .await
            .unwrap_or_default();
        Ok(DeviceSetup {
            kind: DeviceKind::Block,
            total_kib: total,
            pv_uuid: pv.trim().to_string(),
        })
    }

    /// Current (total, free) KiB of a device as the node sees it.
    pub async fn device_capacity(
        &self,
        host: &str,
        kind: DeviceKind,
        name: &str,
        device_id: &str,
    ) -> Result<(u64, u64), ExecError> {
        match kind {
            DeviceKind::Directory => {
                let vgdir = format!("{}/vg_{device_id}", name.trim_end_matches('/'));
                let df = self
                    .sh(host, &["df", "-k", "--output=size,avail", &vgdir])
                    .await?;
                parse_df(&df).ok_or_else(|| ExecError::Other(format!("unexpected df output: {df}")))
            }
            DeviceKind::Block => {
                let vgd = self
                    .sh(host, &["vgdisplay", "-c", &format!("vg_{device_id}")])
                    .await?;
                parse_vgdisplay(&vgd).ok_or_else(|| {
                    ExecError::Other(format!("vgdisplay returned an invalid string: {vgd}"))
                })
            }
        }
    }

    /// Undo `device_setup`.
    pub async fn device_teardown(
        &self,
        host: &str,
        kind: DeviceKind,
        name: &str,
        device_id: &str,
    ) -> Result<(), ExecError> {
        match kind {
            DeviceKind::Directory => {
                let vgdir = format!("{}/vg_{device_id}", name.trim_end_matches('/'));
                // rmdir, not rm -r: a device with leftovers is not emptied.
                match self.sh(host, &["rmdir", &vgdir]).await {
                    Ok(_) => Ok(()),
                    Err(ExecError::Failed { msg, .. }) if msg.contains("No such file") => Ok(()),
                    Err(e) => Err(e),
                }
            }
            DeviceKind::Block => {
                let vg = format!("vg_{device_id}");
                self.sh(host, &["vgremove", "-qq", &vg]).await?;
                self.sh(host, &["pvremove", "-qq", name]).await.map(|_| ())
            }
        }
    }

    async fn is_mounted(&self, host: &str, dir: &str) -> bool {
        self.sh(host, &["mountpoint", "-q", dir]).await.is_ok()
    }

    /// Create a brick's file system, mount it, and make the brick directory.
    /// On failure, whatever was made is removed again.
    pub async fn brick_create(&self, host: &str, b: &BrickLayout) -> Result<(), ExecError> {
        let r = self.brick_create_inner(host, b).await;
        if r.is_err() {
            if let Err(e) = self.brick_destroy(host, b).await {
                tracing::warn!("cleanup of failed brick {}: {e}", b.brick_id);
            }
        }
        r
    }

    async fn brick_create_inner(&self, host: &str, b: &BrickLayout) -> Result<(), ExecError> {
        self.sh(host, &["mkdir", "-p", &b.mount_dir]).await?;
        let mkfs = |dev: String| {
            vec![
                "mkfs.xfs".to_string(),
                "-q".into(),
                "-f".into(),
                "-i".into(),
                "size=512".into(),
                "-n".into(),
                "size=8192".into(),
                dev,
            ]
        };
        match b.kind {
            DeviceKind::Directory => {
                let img = b.image();
                self.sh(host, &["truncate", "-s", &format!("{}K", b.size_kib), &img])
                    .await?;
                self.run(host, &mkfs(img.clone()), FS_TIMEOUT).await?;
                let opts = format!("loop,{}", self.mount_opts);
                self.sh(
                    host,
                    &["mount", "-t", "xfs", "-o", &opts, &img, &b.mount_dir],
                )
                .await?;
            }
            DeviceKind::Block => {
                let vg = b.vg();
                self.sh(
                    host,
                    &[
                        "lvcreate",
                        "-qq",
                        "--autobackup=n",
                        "--poolmetadatasize",
                        &format!("{}K", b.meta_kib.max(2048)),
                        "--chunksize",
                        "256K",
                        "--size",
                        &format!("{}K", b.tp_kib),
                        "--thin",
                        &format!("{vg}/tp_{}", b.brick_id),
                        "--virtualsize",
                        &format!("{}K", b.size_kib),
                        "--name",
                        &format!("brick_{}", b.brick_id),
                    ],
                )
                .await?;
                self.run(host, &mkfs(b.lv_dev()), FS_TIMEOUT).await?;
                self.sh(
                    host,
                    &["mount", "-o", &self.mount_opts, &b.lv_dev(), &b.mount_dir],
                )
                .await?;
            }
        }
        let path = b.brick_path();
        self.sh(host, &["mkdir", &path]).await?;
        if b.gid != 0 {
            self.sh(host, &["chown", &format!(":{}", b.gid), &path])
                .await?;
            self.sh(host, &["chmod", "2775", &path]).await?;
        }
        Ok(())
    }

    /// Give the brick's health-check file a block of its own.
    ///
    /// GlusterFS's posix health check rewrites `.glusterfs/health_check`
    /// every 30 s (`posix_fs_health_check` in posix-helpers.c) and takes the
    /// brick down when that fails. On a brick file system that is full
    /// (which is how a volume's size is enforced here), creating that file
    /// fails with ENOSPC while rewriting an existing one in place works
    /// (O_TRUNC frees its block first). Making the file early keeps a full
    /// brick up, answering ENOSPC to writes instead of going offline.
    pub async fn brick_prime_health_check(
        &self,
        host: &str,
        b: &BrickLayout,
    ) -> Result<(), ExecError> {
        let dir = format!("{}/.glusterfs", b.brick_path());
        self.sh(host, &["mkdir", "-p", &dir]).await?;
        let file = format!("{dir}/health_check");
        self.sh(host, &["fallocate", "-l", "4096", &file])
            .await
            .map(|_| ())
    }

    /// Grow a brick's file system to `new_kib` (idempotent): enlarge the
    /// image (and refresh its loop device) or extend the thin pool and thin
    /// LV, then `xfs_growfs` the mounted file system.
    pub async fn brick_grow(
        &self,
        host: &str,
        b: &BrickLayout,
        new_kib: u64,
    ) -> Result<(), ExecError> {
        let grown = BrickLayout {
            size_kib: new_kib,
            ..b.clone()
        };
        match b.kind {
            DeviceKind::Directory => {
                let img = b.image();
                self.sh(host, &["truncate", "-s", &format!("{new_kib}K"), &img])
                    .await?;
                let j = self.sh(host, &["losetup", "-j", &img]).await?;
                for dev in j
                    .lines()
                    .filter_map(|l| l.split(':').next())
                    .filter(|d| d.starts_with("/dev/"))
                {
                    self.sh(host, &["losetup", "-c", dev]).await?;
                }
            }
            DeviceKind::Block => {
                let tp_kib = (new_kib as f64 * (b.tp_kib as f64 / b.size_kib.max(1) as f64)) as u64;
                for (lv, size) in [
                    (format!("{}/tp_{}", b.vg(), b.brick_id), tp_kib),
                    (format!("{}/brick_{}", b.vg(), b.brick_id), new_kib),
                ] {
                    match self
                        .sh(host, &["lvextend", "-qq", "-L", &format!("{size}K"), &lv])
                        .await
                    {
                        Ok(_) => {}
                        Err(ExecError::Failed { msg, .. })
                            if msg.contains("matches existing size") => {}
                        Err(e) => return Err(e),
                    }
                }
            }
        }
        self.sh(host, &["xfs_growfs", &grown.mount_dir])
            .await
            .map(|_| ())
    }

    /// Mount an existing brick again (after a reboot); no-op if mounted.
    pub async fn brick_remount(&self, host: &str, b: &BrickLayout) -> Result<bool, ExecError> {
        if self.is_mounted(host, &b.mount_dir).await {
            return Ok(false);
        }
        self.sh(host, &["mkdir", "-p", &b.mount_dir]).await?;
        match b.kind {
            DeviceKind::Directory => {
                let opts = format!("loop,{}", self.mount_opts);
                self.sh(
                    host,
                    &["mount", "-t", "xfs", "-o", &opts, &b.image(), &b.mount_dir],
                )
                .await?;
            }
            DeviceKind::Block => {
                self.sh(
                    host,
                    &["mount", "-o", &self.mount_opts, &b.lv_dev(), &b.mount_dir],
                )
                .await?;
            }
        }
        Ok(true)
    }

    /// Unmount and delete a brick's file system. Idempotent.
    pub async fn brick_destroy(&self, host: &str, b: &BrickLayout) -> Result<(), ExecError> {
        if self.is_mounted(host, &b.mount_dir).await {
            self.sh(host, &["umount", &b.mount_dir]).await?;
        }
        match b.kind {
            DeviceKind::Directory => {
                self.sh(host, &["rm", "-f", &b.image()]).await?;
            }
            DeviceKind::Block => {
                let tp = format!("{}/tp_{}", b.vg(), b.brick_id);
                if self.sh(host, &["lvs", &tp]).await.is_ok() {
                    self.sh(host, &["lvremove", "-qq", "-f", &tp]).await?;
                }
            }
        }
        // The mount point is empty now; remove it (and nothing else).
        match self.sh(host, &["rmdir", &b.mount_dir]).await {
            Ok(_) => Ok(()),
            Err(ExecError::Failed { msg, .. }) if msg.contains("No such file") => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Whether a gluster volume exists (as seen from `host`).
    pub async fn volume_exists(&self, host: &str, name: &str) -> Result<bool, ExecError> {
        match self
            .gluster(host, &Self::gl(&["volume", "info", name]))
            .await
        {
            Ok(_) => Ok(true),
            Err(ExecError::Failed { msg, .. }) if msg.contains("does not exist") => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// `gluster volume info NAME` text (brick lines are `BrickN: host:path`).
    pub async fn volume_info_text(&self, host: &str, name: &str) -> Result<String, ExecError> {
        self.gluster(host, &Self::gl(&["volume", "info", name]))
            .await
    }

    /// Create, configure and start a volume. On failure the half-made
    /// gluster volume is deleted again.
    pub async fn volume_create(
        &self,
        host: &str,
        name: &str,
        replica: usize,
        bricks: &[String],
        options: &[(String, String)],
    ) -> Result<(), ExecError> {
        let force = needs_force(bricks, replica);
        self.gluster(host, &volume_create_args(name, replica, bricks, force))
            .await?;
        let rest = async {
            for (k, v) in options {
                self.gluster(host, &Self::gl(&["volume", "set", name, k, v]))
                    .await?;
            }
            self.gluster(host, &Self::gl(&["volume", "start", name]))
                .await?;
            Ok::<(), ExecError>(())
        }
        .await;
        if let Err(e) = rest {
            if let Err(e2) = self.volume_destroy(host, name).await {
                tracing::warn!("rollback of volume {name}: {e2}");
            }
            return Err(e);
        }
        Ok(())
    }

    /// Create, configure and start a dispersed volume
    /// (`disperse-data D redundancy R`).
    pub async fn volume_create_disperse(
        &self,
        host: &str,
        name: &str,
        data: usize,
        redundancy: usize,
        bricks: &[String],
        options: &[(String, String)],
    ) -> Result<(), ExecError> {
        let force = needs_force(bricks, data + redundancy);
        let mut args = volume_create_args(name, 1, &[], false);
        args.extend([
            "disperse-data".to_string(),
            data.to_string(),
            "redundancy".into(),
            redundancy.to_string(),
        ]);
        args.extend(bricks.iter().cloned());
        if force {
            args.push("force".into());
        }
        self.gluster(host, &args).await?;
        let rest = async {
            for (k, v) in options {
                self.gluster(host, &Self::gl(&["volume", "set", name, k, v]))
                    .await?;
            }
            self.gluster(host, &Self::gl(&["volume", "start", name]))
                .await?;
            Ok::<(), ExecError>(())
        }
        .await;
        if let Err(e) = rest {
            if let Err(e2) = self.volume_destroy(host, name).await {
                tracing::warn!("rollback of volume {name}: {e2}");
            }
            return Err(e);
        }
        Ok(())
    }

    /// Add bricks (whole replica sets) to a volume.
    pub async fn volume_expand(
        &self,
        host: &str,
        name: &str,
        replica: usize,
        bricks: &[String],
    ) -> Result<(), ExecError> {
        let force = needs_force(bricks, replica);
        self.gluster(host, &add_brick_args(name, replica, bricks, force))
            .await?;
        if self.rebalance_on_expansion {
            if let Err(e) = self
                .gluster(host, &Self::gl(&["volume", "rebalance", name, "start"]))
                .await
            {
                tracing::error!(
                    "Unable to start rebalance on the volume {name}: {e}; run it manually"
                );
            }
        }
        Ok(())
    }

    /// Stop and delete a volume; a volume that does not exist is fine.
    pub async fn volume_destroy(&self, host: &str, name: &str) -> Result<(), ExecError> {
        if let Err(e) = self
            .gluster(host, &Self::gl(&["volume", "stop", name, "force"]))
            .await
        {
            tracing::info!("stop of volume {name}: {e}");
        }
        match self
            .gluster(host, &Self::gl(&["volume", "delete", name]))
            .await
        {
            Ok(_) => Ok(()),
            Err(ExecError::Failed { msg, .. }) if msg.contains("does not exist") => Ok(()),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_storage_maps_to_hostname() {
        assert_eq!(brick_host_for("127.0.0.1", "vm"), "vm");
        assert_eq!(brick_host_for("127.0.0.3", "vm"), "vm");
        assert_eq!(brick_host_for("localhost", "vm"), "vm");
        assert_eq!(brick_host_for("::1", "vm"), "vm");
        assert_eq!(brick_host_for("10.1.2.3", "vm"), "10.1.2.3");
        assert_eq!(brick_host_for("node1.example", "vm"), "node1.example");
    }

    #[test]
    fn local_host_detection() {
        assert!(is_local_host("127.0.0.1"));
        assert!(is_local_host("127.0.0.2"));
        assert!(is_local_host("localhost"));
        assert!(!is_local_host("192.0.2.1")); // TEST-NET, never local
        assert!(!is_local_host("no-such-host.invalid"));
    }

    #[test]
    fn force_only_when_a_set_shares_a_server() {
        let b = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(needs_force(&b(&["vm:/a", "vm:/b", "vm:/c"]), 3));
        assert!(!needs_force(&b(&["h1:/a", "h2:/b", "h3:/c"]), 3));
        assert!(!needs_force(&b(&["h1:/a", "h2:/b", "h1:/c", "h2:/d"]), 2));
        assert!(needs_force(&b(&["h1:/a", "h2:/b", "h1:/c", "h1:/d"]), 2));
        assert!(!needs_force(&b(&["h1:/a", "h1:/b"]), 1));
    }

    #[test]
    fn gluster_args() {
        let bricks = vec!["vm:/x/b1".to_string(), "vm:/x/b2".into(), "vm:/x/b3".into()];
        assert_eq!(
            volume_create_args("v", 3, &bricks, true).join(" "),
            "--mode=script volume create v replica 3 vm:/x/b1 vm:/x/b2 vm:/x/b3 force"
        );
        assert_eq!(
            volume_create_args("v", 1, &bricks[..1], false).join(" "),
            "--mode=script volume create v vm:/x/b1"
        );
        assert_eq!(
            add_brick_args("v", 3, &bricks, false).join(" "),
            "--mode=script volume add-brick v replica 3 vm:/x/b1 vm:/x/b2 vm:/x/b3"
        );
    }

    #[test]
    fn layouts() {
        let d = BrickLayout::new(
            DeviceKind::Directory,
            "/srv/d1/",
            "dev",
            "br",
            1048576,
            1.0,
            0,
            "/m",
        );
        assert_eq!(d.mount_dir, "/srv/d1/vg_dev/brick_br");
        assert_eq!(d.brick_path(), "/srv/d1/vg_dev/brick_br/brick");
        assert_eq!(d.image(), "/srv/d1/vg_dev/brick_br.img");
        assert_eq!(d.total_kib(), 1048576);
        let b = BrickLayout::new(
            DeviceKind::Block,
            "/dev/sdb",
            "dev",
            "br",
            1048576,
            1.5,
            0,
            "/var/lib/heketi/mounts",
        );
        assert_eq!(b.mount_dir, "/var/lib/heketi/mounts/vg_dev/brick_br");
        assert_eq!(b.tp_kib, 1572864);
        assert_eq!(b.meta_kib, 7864);
        assert_eq!(b.total_kib(), 1572864 + 7864);
        assert_eq!(b.lv_dev(), "/dev/mapper/vg_dev-brick_br");
    }

    #[test]
    fn busy_glusterd_messages() {
        assert!(is_glusterd_busy(
            "volume create: v: failed: Another transaction is in progress for v. Please try again after some time."
        ));
        assert!(is_glusterd_busy(
            "Locking failed on vm. Please check log file for details."
        ));
        assert!(!is_glusterd_busy(
            "volume create: v: failed: Volume v already exists"
        ));
    }

    #[test]
    fn parsers() {
        assert_eq!(
            parse_df("1K-blocks     Avail\n 263174212 82000000\n"),
            Some((263174212, 82000000))
        );
        assert_eq!(parse_df("garbage"), None);
        let vg = "  sampleVg:r/w:772:-1:0:0:0:-1:0:4:4:2097135616:4096:511996:0:511996:rJ0bIG\n";
        assert_eq!(parse_vgdisplay(vg), Some((511996 * 4096, 511996 * 4096)));
        assert_eq!(parse_vgdisplay("a:b"), None);
        assert_eq!(shell_quote("/dev/sdb"), "/dev/sdb");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
    }
}
