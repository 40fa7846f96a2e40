//! Daemonizing after the mount is usable.
//!
//! The helper forks while it is still single-threaded (before any runtime or thread exists: fork
//! copies only the calling thread, so a lock held by another thread would stay locked forever in
//! the child). The child detaches (setsid, stdio to /dev/null, cwd `/`), starts the runtime,
//! mounts, and reports over a pipe: `ready\n`, or `error CODE MESSAGE\n`. The parent waits on the
//! pipe (with a timeout), prints the child's one-line reason on failure, and exits; `mount`
//! returns only once the mount answers.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::Path;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::poll::{PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{ForkResult, Pid};

use crate::error::{Error, EXIT_FAIL};

/// The longest status line accepted from the child.
const MAX_REPORT: usize = 4096;

/// Which side of the fork this is.
pub enum Forked {
    /// The original process: wait for the report with [`Daemon::wait_ready`].
    Parent(Daemon),
    /// The new process: detach, mount, then report with the [`Reporter`].
    Child(Reporter),
}

/// The parent's handle on the daemon.
#[derive(Debug)]
pub struct Daemon {
    pub pid: Pid,
    report: File,
}

/// The child's end of the status pipe. Dropping it without reporting makes the parent see EOF.
#[derive(Debug)]
pub struct Reporter {
    pipe: File,
}

/// What the child said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Report {
    Ready,
    Failed { code: u8, message: String },
}

/// Encode a report as one line.
pub fn encode_report(r: &Report) -> String {
    match r {
        Report::Ready => "ready\n".to_string(),
        Report::Failed { code, message } => {
            let one_line: String = message
                .chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect();
            format!("error {code} {one_line}\n")
        }
    }
}

/// Decode the child's line; anything unexpected is a failure carrying the text.
pub fn decode_report(line: &str) -> Report {
    let line = line.trim_end_matches('\n');
    if line == "ready" {
        return Report::Ready;
    }
    if let Some(rest) = line.strip_prefix("error ") {
        if let Some((code, msg)) = rest.split_once(' ') {
            if let Ok(code) = code.parse::<u8>() {
                return Report::Failed {
                    code,
                    message: msg.to_string(),
                };
            }
        }
    }
    Report::Failed {
        code: EXIT_FAIL,
        message: format!("unexpected report from the client: {line}"),
    }
}

/// Fork. Must be called while the process has a single thread (no runtime, no logging thread).
pub fn fork_daemon() -> Result<Forked, Error> {
    let (r, w): (OwnedFd, OwnedFd) =
        nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|e| Error::system("pipe", e.into()))?;
    // SAFETY: the helper calls this before it starts any thread (documented contract; main.rs
    // forks before building the runtime), so the child's single thread owns every lock it sees.
    match unsafe { nix::unistd::fork() }.map_err(|e| Error::system("fork", e.into()))? {
        ForkResult::Parent { child } => {
            drop(w);
            Ok(Forked::Parent(Daemon {
                pid: child,
                report: File::from(r),
            }))
        }
        ForkResult::Child => {
            drop(r);
            Ok(Forked::Child(Reporter {
                pipe: File::from(w),
            }))
        }
    }
}

/// In the child: new session (no controlling terminal, not killed with the caller's process
/// group), cwd `/` (do not pin the caller's directory), stdin/stdout/stderr to /dev/null (logs go
/// to the log file).
pub fn detach() -> Result<(), Error> {
    nix::unistd::setsid().map_err(|e| Error::system("setsid", e.into()))?;
    nix::unistd::chdir("/").map_err(|e| Error::system("chdir /", e.into()))?;
    let null = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
        .map_err(|e| Error::system("opening /dev/null", e))?;
    for fd in 0..=2 {
        nix::unistd::dup2(null.as_raw_fd(), fd)
            .map_err(|e| Error::system(format!("redirecting fd {fd} to /dev/null"), e.into()))?;
    }
    Ok(())
}

impl Reporter {
    fn send(mut self, r: &Report) {
        // If the parent is gone (killed, timed out) there is nobody to tell; the log has it.
        if let Err(e) = self.pipe.write_all(encode_report(r).as_bytes()) {
            tracing::warn!(error = %e, "could not report to the mount command");
        }
    }

    /// The mount is usable: let `mount` return 0.
    pub fn ready(self) {
        self.send(&Report::Ready)
    }

    /// The mount failed: `mount` prints `err` and exits with its code.
    pub fn failed(self, err: &Error) {
        self.send(&Report::Failed {
            code: err.exit_code(),
            message: err.to_string(),
        })
    }
}

impl Daemon {
    /// Wait for the child's report. On timeout the child is sent SIGTERM and, if a new mount
    /// appeared on `mountpoint` (more mounts there than `mounts_before`), it is lazily unmounted
    /// so no dead mount is left behind.
    pub fn wait_ready(
        mut self,
        timeout: Duration,
        mountpoint: &Path,
        mounts_before: usize,
        log_file: &Path,
    ) -> Result<Pid, Error> {
        let deadline = Instant::now() + timeout;
        let mut buf: Vec<u8> = Vec::new();
        loop {
            if let Some(end) = buf.iter().position(|&b| b == b'\n') {
                let line = String::from_utf8_lossy(buf.get(..end).unwrap_or_default());
                return match decode_report(&line) {
                    Report::Ready => Ok(self.pid),
                    Report::Failed { code, message } => {
                        self.reap(Duration::from_secs(2));
                        Err(reported(code, message))
                    }
                };
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(self.give_up(timeout, mountpoint, mounts_before, log_file));
            }
            let wait = (deadline - now).min(Duration::from_secs(1));
            let pt = PollTimeout::try_from(wait).unwrap_or(PollTimeout::MAX);
            let mut fds = [PollFd::new(self.report.as_fd(), PollFlags::POLLIN)];
            match nix::poll::poll(&mut fds, pt) {
                Ok(0) | Err(Errno::EINTR) => continue,
                Ok(_) => {}
                Err(e) => return Err(Error::system("waiting for the client", e.into())),
            }
            let mut chunk = [0u8; 512];
            match self.report.read(&mut chunk) {
                Ok(0) => {
                    let status = self.reap(Duration::from_secs(2));
                    return Err(Error::MountFailed(format!(
                        "the client exited before the mount was ready ({status}); see {}",
                        log_file.display()
                    )));
                }
                Ok(n) => {
                    buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
                    if buf.len() > MAX_REPORT {
                        buf.truncate(MAX_REPORT);
                        buf.push(b'\n');
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Error::system("reading the client's report", e)),
            }
        }
    }

    /// Wait up to `grace` for the child to exit; describe how it ended.
    fn reap(&self, grace: Duration) -> String {
        let end = Instant::now() + grace;
        loop {
            match waitpid(self.pid, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(_, code)) => return format!("exit status {code}"),
                Ok(WaitStatus::Signaled(_, sig, _)) => return format!("killed by {sig}"),
                Ok(_) if Instant::now() < end => std::thread::sleep(Duration::from_millis(20)),
                Ok(_) => return "still running".into(),
                Err(e) => return format!("status unknown: {e}"),
            }
        }
    }

    fn give_up(
        &self,
        timeout: Duration,
        mountpoint: &Path,
        mounts_before: usize,
        log_file: &Path,
    ) -> Error {
        let _ = kill(self.pid, Signal::SIGTERM);
        let status = self.reap(Duration::from_secs(5));
        if status == "still running" {
            let _ = kill(self.pid, Signal::SIGKILL);
            self.reap(Duration::from_secs(2));
        }
        let now = crate::preflight::read_mountinfo()
            .map(|m| crate::preflight::mounts_at(&m, mountpoint).len())
            .unwrap_or(0);
        if now > mounts_before {
            let _ = nix::mount::umount2(mountpoint, nix::mount::MntFlags::MNT_DETACH);
        }
        Error::MountFailed(format!(
            "the client was not ready within {}s (timed out; raise mount-timeout=); see {}",
            timeout.as_secs(),
            log_file.display()
        ))
    }
}

/// The error the parent returns for a failure the child reported (same text, same exit code).
fn reported(code: u8, message: String) -> Error {
    Error::Reported { code, message }
}
