//! Creating and removing the kernel mount, without libfuse.
//!
//! fuser's own pure-Rust mount calls mount(2) with fstype `fuse`, so /proc/mounts would not show
//! the subtype. We mount ourselves, as fusermount3 does: as root with mount(2) and fstype
//! `fuse.<subtype>`, otherwise (and for auto_unmount, which needs a process that outlives us)
//! through the setuid `fusermount3`, which passes the /dev/fuse fd back over a socket (SCM_RIGHTS,
//! the `_FUSE_COMMFD` protocol of libfuse's mount.c). fuser then runs on the fd
//! (`Session::from_fd`).

use std::fs::OpenOptions;
use std::io::IoSliceMut;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::socket::{
    recvmsg, socketpair, AddressFamily, ControlMessageOwned, MsgFlags, SockFlag, SockType, UnixAddr,
};

use crate::{FuseError, FuseOptions};

const FUSERMOUNT: &str = "fusermount3";

#[derive(Debug)]
enum Method {
    Syscall,
    Fusermount {
        /// Held open while mounted when auto_unmount is on: fusermount3 unmounts when it closes.
        auto_unmount: Option<UnixStream>,
        child: Option<Child>,
    },
}

/// A kernel mount we created.
#[derive(Debug)]
pub(crate) struct KernelMount {
    pub mountpoint: PathBuf,
    method: Method,
    mounted: bool,
}

fn io_err(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> FuseError {
    let what = what.into();
    move |e| FuseError::Mount(format!("{what}: {e}"))
}

/// Mount `/dev/fuse` at `mountpoint`; returns the connection fd and the mount.
pub(crate) fn mount(
    mountpoint: &Path,
    opts: &FuseOptions,
) -> Result<(OwnedFd, KernelMount), FuseError> {
    let mountpoint = mountpoint
        .canonicalize()
        .map_err(io_err(format!("mountpoint {}", mountpoint.display())))?;
    let is_root = nix::unistd::geteuid().is_root();
    if is_root && !opts.auto_unmount {
        match mount_syscall(&mountpoint, opts) {
            Ok(fd) => {
                return Ok((
                    fd,
                    KernelMount {
                        mountpoint,
                        method: Method::Syscall,
                        mounted: true,
                    },
                ))
            }
            Err(SysMountError::Perm) => {} // e.g. in a user namespace: try fusermount3
            Err(SysMountError::Other(e)) => return Err(e),
        }
    }
    let (fd, auto_unmount, child) = mount_fusermount(&mountpoint, opts)?;
    Ok((
        fd,
        KernelMount {
            mountpoint,
            method: Method::Fusermount {
                auto_unmount,
                child,
            },
            mounted: true,
        },
    ))
}

enum SysMountError {
    Perm,
    Other(FuseError),
}

fn mount_syscall(mountpoint: &Path, opts: &FuseOptions) -> Result<OwnedFd, SysMountError> {
    let dev = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_CLOEXEC)
        .open("/dev/fuse")
        .map_err(|e| SysMountError::Other(FuseError::Mount(format!("/dev/fuse: {e}"))))?;
    let meta = std::fs::metadata(mountpoint).map_err(|e| {
        SysMountError::Other(FuseError::Mount(format!("{}: {e}", mountpoint.display())))
    })?;
    let mut data = vec![
        format!("fd={}", dev.as_raw_fd()),
        format!("rootmode={:o}", meta.mode() & libc::S_IFMT),
        format!("user_id={}", nix::unistd::getuid()),
        format!("group_id={}", nix::unistd::getgid()),
    ];
    data.extend(opts.fuse_mount_data());
    let data = data.join(",");
    let fstype = format!("fuse.{}", opts.subtype);
    match nix::mount::mount(
        Some(opts.fs_name.as_str()),
        mountpoint,
        Some(fstype.as_str()),
        opts.ms_flags(),
        Some(data.as_str()),
    ) {
        Ok(()) => Ok(OwnedFd::from(dev)),
        Err(nix::errno::Errno::EPERM) => Err(SysMountError::Perm),
        Err(e) => Err(SysMountError::Other(FuseError::Mount(format!(
            "mount({}, {}, {fstype}, {data}): {e}",
            opts.fs_name,
            mountpoint.display()
        )))),
    }
}

fn fusermount_options(opts: &FuseOptions) -> String {
    let mut o = vec![
        format!("fsname={}", opts.fs_name),
        format!("subtype={}", opts.subtype),
    ];
    o.extend(opts.fuse_mount_data());
    o.extend(opts.kernel_options.iter().cloned());
    if opts.read_only {
        o.push("ro".into());
    }
    if opts.auto_unmount {
        o.push("auto_unmount".into());
    }
    o.join(",")
}

type FusermountResult = (OwnedFd, Option<UnixStream>, Option<Child>);

fn mount_fusermount(mountpoint: &Path, opts: &FuseOptions) -> Result<FusermountResult, FuseError> {
    // The child's end must survive exec: no CLOEXEC on the pair, then set it on our end.
    let (ours, theirs) = socketpair(
        AddressFamily::Unix,
        SockType::Stream,
        None,
        SockFlag::empty(),
    )
    .map_err(|e| FuseError::Mount(format!("socketpair: {e}")))?;
    nix::fcntl::fcntl(
        ours.as_raw_fd(),
        nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
    )
    .map_err(|e| FuseError::Mount(format!("fcntl: {e}")))?;
    let mut child = Command::new(FUSERMOUNT)
        .arg("-o")
        .arg(fusermount_options(opts))
        .arg("--")
        .arg(mountpoint)
        .env("_FUSE_COMMFD", theirs.as_raw_fd().to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(io_err(FUSERMOUNT))?;
    drop(theirs);
    let ours = UnixStream::from(ours);
    let fd = match receive_fd(ours.as_raw_fd()) {
        Ok(fd) => fd,
        Err(e) => {
            let out = child.wait_with_output().ok();
            let stderr = out
                .map(|o| String::from_utf8_lossy(&o.stderr).trim().to_string())
                .unwrap_or_default();
            return Err(FuseError::Mount(format!("{FUSERMOUNT}: {stderr} ({e})")));
        }
    };
    if opts.auto_unmount {
        // fusermount3 stays alive, watching the socket.
        Ok((fd, Some(ours), Some(child)))
    } else {
        drop(ours);
        let status = child.wait().map_err(io_err(FUSERMOUNT))?;
        if !status.success() {
            return Err(FuseError::Mount(format!(
                "{FUSERMOUNT} exited with {status}"
            )));
        }
        Ok((fd, None, None))
    }
}

/// Receive the /dev/fuse fd fusermount3 sends (one byte of data plus SCM_RIGHTS).
fn receive_fd(sock: RawFd) -> Result<OwnedFd, String> {
    let mut byte = [0u8; 1];
    let mut iov = [IoSliceMut::new(&mut byte)];
    let mut cmsg = nix::cmsg_space!(RawFd);
    let msg = loop {
        match recvmsg::<UnixAddr>(sock, &mut iov, Some(&mut cmsg), MsgFlags::MSG_CMSG_CLOEXEC) {
            Ok(m) => break m,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(format!("recvmsg: {e}")),
        }
    };
    if msg.bytes == 0 {
        return Err("no file descriptor received".into());
    }
    let cmsgs = msg.cmsgs().map_err(|e| format!("control message: {e}"))?;
    for c in cmsgs {
        if let ControlMessageOwned::ScmRights(fds) = c {
            if let Some(&fd) = fds.first() {
                if fd >= 0 {
                    // SAFETY: the kernel just installed this descriptor in our table for us; nothing
                    // else owns it.
                    return Ok(unsafe { OwnedFd::from_raw_fd(fd) });
                }
            }
        }
    }
    Err("no SCM_RIGHTS in fusermount3's message".into())
}

impl KernelMount {
    /// The mount went away by other means (umount by the admin): do not unmount again.
    pub fn forget(&mut self) {
        self.mounted = false;
        if let Method::Fusermount {
            auto_unmount,
            child,
        } = &mut self.method
        {
            drop(auto_unmount.take());
            if let Some(mut c) = child.take() {
                reap(&mut c, Duration::from_secs(5));
            }
        }
    }

    /// Detach the mount (lazily, like `umount -l`, so a busy mount still goes away). Idempotent.
    pub fn unmount(&mut self) -> Result<(), FuseError> {
        if !self.mounted {
            return Ok(());
        }
        let res = if nix::unistd::geteuid().is_root() {
            match nix::mount::umount2(&self.mountpoint, nix::mount::MntFlags::MNT_DETACH) {
                Ok(()) | Err(nix::errno::Errno::EINVAL) | Err(nix::errno::Errno::ENOENT) => Ok(()),
                Err(e) => Err(FuseError::Mount(format!(
                    "umount {}: {e}",
                    self.mountpoint.display()
                ))),
            }
        } else {
            let out = Command::new(FUSERMOUNT)
                .args(["-u", "-z", "-q", "--"])
                .arg(&self.mountpoint)
                .stdin(Stdio::null())
                .output()
                .map_err(io_err(FUSERMOUNT))?;
            if out.status.success() {
                Ok(())
            } else {
                Err(FuseError::Mount(format!(
                    "{FUSERMOUNT} -u {}: {}",
                    self.mountpoint.display(),
                    String::from_utf8_lossy(&out.stderr).trim()
                )))
            }
        };
        if res.is_ok() {
            self.mounted = false;
        }
        if let Method::Fusermount {
            auto_unmount,
            child,
        } = &mut self.method
        {
            drop(auto_unmount.take());
            if let Some(mut c) = child.take() {
                reap(&mut c, Duration::from_secs(5));
            }
        }
        res
    }
}

/// Wait a little for fusermount3 to exit after its socket closed, so it does not linger as a
/// zombie.
fn reap(child: &mut Child, within: Duration) {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        match child.try_wait() {
            Ok(Some(_)) | Err(_) => return,
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
    tracing::warn!(pid = child.id(), "fusermount3 did not exit after unmount");
}

impl Drop for KernelMount {
    fn drop(&mut self) {
        if let Err(e) = self.unmount() {
            tracing::warn!(error = %e, "unmount on drop failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fusermount_option_string() {
        let mut o = FuseOptions {
            fs_name: "vm:/vol".into(),
            ..FuseOptions::default()
        };
        o.set_all("noatime,ro,auto_unmount").unwrap();
        assert_eq!(
            fusermount_options(&o),
            "fsname=vm:/vol,subtype=gluster-rs,default_permissions,allow_other,\
             max_read=1048576,noatime,ro,auto_unmount"
        );
    }
}
