//! The FUSE client of gluster-rs: serves a volume graph ([`fop::Subvolume`], usually distribute
//! over replicate over brick clients) to the kernel FUSE driver, like GlusterFS's
//! `xlators/mount/fuse` (fuse-bridge.c) does for the C client.
//!
//! * Every kernel request is a future answered when its fops complete: first polled on the thread
//!   that read it (its RPCs go straight onto the bricks' sockets, cache hits finish there), then
//!   continued as a task on the caller's tokio runtime once it waits, so the threads reading
//!   /dev/fuse never wait for the network and many requests are in flight at once
//!   (FUSE_ASYNC_READ, parallel dirops, async direct I/O).
//! * Node ids and `st_ino` are GlusterFS's inode numbers (`gfid_to_ino`, root = 1), stable across
//!   remounts and equal to what a C-client mount shows.
//! * Memory stays bounded on long runs: the inode table holds what the kernel holds plus an LRU of
//!   at most `lru_limit` forgotten inodes, and past `inode_limit` kernel-held inodes the client asks
//!   the kernel to drop its least recently used entries; open files and directory read-ahead are
//!   per open handle; the group cache is capped.
//! * Locks: fcntl locks go to the bricks with the kernel's lock owner; flock(2) locks too, as
//!   GlusterFS treats them (a whole-file POSIX lock whose owner is the open file). fuser 0.18
//!   answers FUSE_INTERRUPT with ENOSYS, so the kernel stops sending interrupts: a process blocked
//!   in F_SETLKW/flock waits until granted or until it gets a fatal signal (its task then ends
//!   when the lock is granted, and the bricks drop the lock when the fd is released).
//! * Built on `fuser` 0.18 without libfuse: its `Filesystem` methods take `&self` and its replies
//!   are `Send`, so a handler hands the reply to a task; it runs several reader threads on cloned
//!   /dev/fuse fds; the mount itself is ours ([`mount`]) so the fstype reads `fuse.<subtype>`.

mod attr;
mod caller;
mod flags;
mod fs;
mod inline;
mod inode;
mod mdcache;
mod mount;
mod options;
mod pagecache;
mod writebehind;
mod xattr;

use std::path::Path;
use std::sync::Arc;

pub use crate::inode::gfid_to_ino;
pub use crate::options::FuseOptions;

/// Errors of mounting and running the FUSE client.
#[derive(Debug, thiserror::Error)]
pub enum FuseError {
    #[error("invalid mount option: {0}")]
    InvalidOption(String),
    #[error("mount failed: {0}")]
    Mount(String),
    #[error("FUSE session: {0}")]
    Session(String),
    #[error("logging: {0}")]
    Logging(String),
}

/// Counters of a running mount, for monitoring and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MountStats {
    /// Inodes in the table (root included).
    pub inodes: usize,
    /// Of which the kernel holds (has looked up and not forgotten), root excluded.
    pub kernel_inodes: usize,
    /// Of which forgotten by the kernel and kept in the LRU.
    pub lru_inodes: usize,
    /// Open files and directories.
    pub open_handles: usize,
    /// Requests being served right now.
    pub in_flight: usize,
}

/// A mounted volume. Dropping it unmounts.
pub struct MountHandle {
    session: Option<fuser::BackgroundSession>,
    kernel: mount::KernelMount,
    core: Arc<fs::Core>,
    /// The FUSE connection number (/sys/fs/fuse/connections/N).
    connection: Option<String>,
}

impl std::fmt::Debug for MountHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MountHandle")
            .field("mountpoint", &self.kernel.mountpoint)
            .finish()
    }
}

/// Mount `volume` at `mountpoint`. Returns once the kernel mount exists and the FUSE handshake is
/// done; requests are then served by `opts.reader_threads` threads, each request as a task on `rt`.
pub fn mount(
    volume: Arc<dyn fop::Subvolume>,
    mountpoint: &Path,
    opts: &FuseOptions,
    rt: tokio::runtime::Handle,
) -> Result<MountHandle, FuseError> {
    opts.validate()?;
    let core = Arc::new(fs::Core::new(volume, opts, rt));
    let (fd, mut kernel) = mount::mount(mountpoint, opts)?;
    let mut config = fuser::Config::default();
    config.n_threads = Some(opts.reader_threads);
    config.clone_fd = opts.reader_threads > 1;
    let acl = if opts.allow_other {
        fuser::SessionACL::All
    } else {
        fuser::SessionACL::Owner
    };
    let session = fuser::Session::from_fd(fs::GlusterFs::new(core.clone()), fd, acl, config)
        .and_then(fuser::Session::spawn);
    let session = match session {
        Ok(s) => s,
        Err(e) => {
            let _ = kernel.unmount();
            return Err(FuseError::Session(format!("handshake: {e}")));
        }
    };
    core.set_notifier(session.notifier());
    fs::start_invalidator(&core);
    let dev = mount_dev(&kernel.mountpoint).ok();
    match &dev {
        Some(d) => {
            if let Err(e) = set_readahead(d, opts.max_readahead) {
                tracing::debug!(error = %e, "cannot raise the mount's readahead");
            }
        }
        None => tracing::debug!("mount not found in /proc/self/mountinfo"),
    }
    let connection = dev.and_then(|d| d.split_once(':').map(|(_, minor)| minor.to_string()));
    tracing::info!(
        mountpoint = %kernel.mountpoint.display(),
        fsname = %opts.fs_name,
        "mounted fuse.{}",
        opts.subtype
    );
    Ok(MountHandle {
        session: Some(session),
        kernel,
        core,
        connection,
    })
}

/// The kernel takes at most its default readahead (128 KiB) from FUSE_INIT; a larger window, and so
/// buffered reads of up to `max_readahead` per request, is set on the mount's backing device
/// (`/sys/class/bdi/MAJOR:MINOR/read_ahead_kb`, as `blockdev --setra` does for disks). The device
/// number comes from /proc/self/mountinfo, so this sends no request to the mount itself.
fn set_readahead(dev: &str, bytes: u32) -> std::io::Result<()> {
    std::fs::write(
        format!("/sys/class/bdi/{dev}/read_ahead_kb"),
        (bytes / 1024).max(4).to_string(),
    )
}

/// The device number (`MAJOR:MINOR`) of the mount at `mountpoint`, from /proc/self/mountinfo (so
/// no request goes to the mount itself). For FUSE the minor is also the connection number under
/// /sys/fs/fuse/connections.
fn mount_dev(mountpoint: &Path) -> std::io::Result<String> {
    let info = std::fs::read_to_string("/proc/self/mountinfo")?;
    let mp = mountpoint.to_string_lossy();
    // Fields: id parent major:minor root mountpoint ... (the last mount at this path wins).
    info.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            (f.get(4) == Some(&mp.as_ref())).then(|| f.get(2).map(|d| d.to_string()))?
        })
        .next_back()
        .ok_or_else(|| std::io::Error::other("mount not in /proc/self/mountinfo"))
}

/// How long an unmount waits for the session to end before aborting the connection (a lazily
/// detached mount stays alive while processes keep files open in it).
const UNMOUNT_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

/// Abort FUSE connection `n`. The control files live on the fusectl file system, which systemd
/// mounts at boot; where nothing did, it is mounted here (root only).
fn abort_connection(n: &str) -> std::io::Result<()> {
    const CTL: &str = "/sys/fs/fuse/connections";
    let abort = format!("{CTL}/{n}/abort");
    if !Path::new(&abort).exists() && nix::unistd::geteuid().is_root() {
        let none: Option<&str> = None;
        nix::mount::mount(
            Some("fusectl"),
            CTL,
            Some("fusectl"),
            nix::mount::MsFlags::empty(),
            none,
        )
        .map_err(std::io::Error::from)?;
        tracing::info!("mounted fusectl on {CTL}");
    }
    std::fs::write(abort, "1")
}

/// End the session after the kernel mount was detached: wait for its threads, and if files kept
/// open elsewhere hold the connection alive, abort it (/sys/fs/fuse/connections/N/abort, as
/// `fusermount -u` cannot) so the wait is bounded.
fn finish_session(session: fuser::BackgroundSession, conn: Option<&str>) -> Result<(), FuseError> {
    let deadline = std::time::Instant::now() + UNMOUNT_GRACE;
    while !session.guard.is_finished() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    if !session.guard.is_finished() {
        match conn {
            Some(n) => {
                tracing::warn!(
                    connection = n,
                    "mount still busy after unmount; aborting the FUSE connection"
                );
                if let Err(e) = abort_connection(n) {
                    return Err(FuseError::Session(format!("abort connection {n}: {e}")));
                }
            }
            None => {
                return Err(FuseError::Session(
                    "session still running after unmount (files kept open?)".into(),
                ))
            }
        }
    }
    session
        .join()
        .map_err(|e| FuseError::Session(e.to_string()))
}

impl MountHandle {
    pub fn mountpoint(&self) -> &Path {
        &self.kernel.mountpoint
    }

    pub fn stats(&self) -> MountStats {
        self.core.stats()
    }

    /// Block until the file system is unmounted (by `umount`, `fusermount3 -u`, or
    /// [`MountHandle::unmount`] from another handle owner).
    pub fn wait(mut self) -> Result<(), FuseError> {
        let res = match self.session.take() {
            Some(s) => s.join().map_err(|e| FuseError::Session(e.to_string())),
            None => Ok(()),
        };
        // The session ends when the kernel mount is gone: nothing left to unmount (and the path
        // may carry someone else's mount by now).
        self.kernel.forget();
        res
    }

    /// Unmount and wait for the session threads to finish.
    pub fn unmount(mut self) -> Result<(), FuseError> {
        self.kernel.unmount()?;
        match self.session.take() {
            Some(s) => finish_session(s, self.connection.as_deref()),
            None => Ok(()),
        }
    }
}

impl Drop for MountHandle {
    fn drop(&mut self) {
        if let Some(s) = self.session.take() {
            let _ = self.kernel.unmount();
            if let Err(e) = finish_session(s, self.connection.as_deref()) {
                tracing::warn!(error = %e, "FUSE session ended with an error");
            }
        }
    }
}

/// Send `tracing` output (and the `log` records of fuser) to `log_file` (appending; `None` or
/// "-" = stderr) at `level` (GlusterFS names: CRITICAL, ERROR, WARNING, INFO, DEBUG, TRACE, NONE;
/// or any `tracing` filter directive such as `fuse=debug,info`).
pub fn init_logging(log_file: Option<&Path>, level: &str) -> Result<(), FuseError> {
    use tracing_subscriber::EnvFilter;
    let directive = match level.to_ascii_uppercase().as_str() {
        "CRITICAL" | "ERROR" => "error".to_string(),
        "WARNING" | "WARN" => "warn".to_string(),
        "INFO" => "info".to_string(),
        "DEBUG" => "debug".to_string(),
        "TRACE" => "trace".to_string(),
        "NONE" => "off".to_string(),
        _ => level.to_string(),
    };
    let filter =
        EnvFilter::try_new(&directive).map_err(|e| FuseError::Logging(format!("{level}: {e}")))?;
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let res = match log_file {
        Some(p) if p != Path::new("-") => {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .map_err(|e| FuseError::Logging(format!("{}: {e}", p.display())))?;
            builder
                .with_ansi(false)
                .with_writer(std::sync::Mutex::new(file))
                .try_init()
        }
        _ => builder.with_writer(std::io::stderr).try_init(),
    };
    res.map_err(|e| FuseError::Logging(e.to_string()))
}
