//! The daemonizing path end to end: `run` forks, the child "mounts" and reports, the parent returns
//! only once the mount answers (or prints the child's reason). The client here mounts a tmpfs (a
//! real kernel mount, so the readiness check, umount and SIGTERM handling are the real ones); the
//! gluster-rs client is plugged into the same trait by the lead.
//!
//! A plain program (`harness = false`): it forks, so it must be single-threaded. Needs root to
//! mount; without root it says so and exits 0 having checked only the parsing side.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use mount_gluster_rs::preflight::{mounts_at, read_mountinfo};
use mount_gluster_rs::{
    run, Client, Error, MountOptions, MountPlan, Outcome, Shutdown, VolfileTarget, EXIT_FAIL,
};
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::Pid;
use tokio::runtime::Runtime;

/// How the test client behaves.
#[derive(Clone, Copy)]
enum Mode {
    /// Servers named `down*` are unreachable, others give the volume; mount a tmpfs.
    Normal,
    /// Every server says the volume is not started.
    NotStarted,
    /// The mount call blocks far beyond the mount timeout.
    HangInMount,
    /// The client process dies before reporting.
    Die,
}

struct TmpfsClient {
    mode: Mode,
}

impl Client for TmpfsClient {
    type Volume = String;
    type Session = PathBuf;

    async fn connect(
        &mut self,
        target: &VolfileTarget<'_>,
        _options: &MountOptions,
    ) -> Result<String, Error> {
        match self.mode {
            Mode::Die => std::process::exit(3),
            Mode::NotStarted => Err(Error::VolumeUnavailable {
                volume: target.volume.to_string(),
                server: target.server.to_string(),
                reason: "volume is not started".into(),
            }),
            _ if target.server.host.starts_with("down") => Err(Error::ServerUnreachable {
                server: target.server.to_string(),
                reason: "connection refused".into(),
            }),
            _ => Ok(format!("{}@{}", target.volume, target.server)),
        }
    }

    fn mount(&mut self, _rt: &Runtime, volume: String, plan: &MountPlan) -> Result<PathBuf, Error> {
        if let Mode::HangInMount = self.mode {
            std::thread::sleep(Duration::from_secs(60));
        }
        tracing::info!(%volume, "test client mounting tmpfs");
        mount(
            Some("gluster-rs-test"),
            &plan.mountpoint,
            Some("tmpfs"),
            MsFlags::empty(),
            Some("size=1m"),
        )
        .map_err(|e| Error::MountFailed(format!("tmpfs: {e}")))?;
        Ok(plan.mountpoint.clone())
    }

    fn serve(
        &mut self,
        rt: &Runtime,
        session: PathBuf,
        mut shutdown: Shutdown,
    ) -> Result<(), Error> {
        rt.block_on(async {
            loop {
                tokio::select! {
                    _ = shutdown.requested() => {
                        umount2(&session, MntFlags::MNT_DETACH)
                            .map_err(|e| Error::MountFailed(format!("umount: {e}")))?;
                        return Ok(());
                    }
                    _ = tokio::time::sleep(Duration::from_millis(50)) => {
                        if !is_mounted(&session) {
                            return Ok(());
                        }
                    }
                }
            }
        })
    }
}

fn is_mounted(p: &Path) -> bool {
    read_mountinfo()
        .map(|m| mounts_at(&m, p).iter().any(|t| t == "tmpfs"))
        .unwrap_or(false)
}

fn args(list: &[&str]) -> Vec<OsString> {
    list.iter().map(OsString::from).collect()
}

fn wait_exit(pid: i32, within: Duration) -> WaitStatus {
    let end = Instant::now() + within;
    loop {
        let st = waitpid(
            Pid::from_raw(pid),
            Some(nix::sys::wait::WaitPidFlag::WNOHANG),
        )
        .expect("waitpid");
        if !matches!(st, WaitStatus::StillAlive) {
            return st;
        }
        assert!(Instant::now() < end, "daemon {pid} did not exit");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mnt = dir.path().join("mnt");
    std::fs::create_dir(&mnt).expect("mkdir");
    let mnt_s = mnt.to_str().expect("utf8").to_string();
    let log = dir.path().join("logs/client.log");
    let log_opt = format!("log-file={},log-level=DEBUG", log.display());
    let mut passed = 0;

    // -f: everything checked, no fork, nothing mounted.
    let out = run(
        args(&["down1:/vol", &mnt_s, "-f", "-o", &log_opt]),
        "test",
        |_: &MountPlan| TmpfsClient { mode: Mode::Normal },
    )
    .expect("fake mount");
    match out {
        Outcome::Fake(plan) => {
            assert_eq!(plan.volume, "vol");
            assert_eq!(plan.log_file, log);
        }
        other => panic!("expected a fake mount, got {other:?}"),
    }
    assert!(!log.exists(), "fake mount must not create the log");
    passed += 1;

    if !nix::unistd::geteuid().is_root() {
        println!("daemon: {passed} passed; mount tests skipped (need root to mount tmpfs)");
        return;
    }

    // Ready path: first two servers unreachable, the third answers; mount returns only when the
    // mount is there; umount DIR ends the daemon with status 0.
    let out = run(
        args(&[
            "down1,down2:/vol/sub",
            &mnt_s,
            "-o",
            &format!("backup-volfile-servers=down2:up1:up2,{log_opt}"),
        ]),
        "test",
        |_: &MountPlan| TmpfsClient { mode: Mode::Normal },
    )
    .expect("mount");
    let Outcome::Mounted { pid, mountpoint } = out else {
        panic!("expected Mounted, got {out:?}")
    };
    assert_eq!(mountpoint, std::fs::canonicalize(&mnt).expect("canon"));
    assert!(is_mounted(&mnt), "mount returned before the mount existed");
    std::fs::write(mnt.join("f"), b"x").expect("write into the mount");
    umount2(&mnt, MntFlags::empty()).expect("umount");
    assert_eq!(
        wait_exit(pid, Duration::from_secs(10)),
        WaitStatus::Exited(Pid::from_raw(pid), 0)
    );
    let text = std::fs::read_to_string(&log).expect("log written");
    for s in [
        "down1:24007",
        "down2:24007",
        "volume connected",
        "up1:24007",
        "mounted",
    ] {
        assert!(text.contains(s), "log lacks {s:?}:\n{text}");
    }
    assert!(
        !text.contains("fetching volfile server=up2"),
        "tried a server after success:\n{text}"
    );
    passed += 1;

    // Same mount point again while mounted by gluster-rs is refused only for gluster types; a
    // tmpfs is not one, so just check a second mount works after the first is gone: SIGTERM path.
    let out = run(
        args(&["up1:vol", &mnt_s, &format!("-o{log_opt}")]),
        "test",
        |_: &MountPlan| TmpfsClient { mode: Mode::Normal },
    )
    .expect("mount again");
    let Outcome::Mounted { pid, .. } = out else {
        panic!("expected Mounted")
    };
    assert!(is_mounted(&mnt));
    kill(Pid::from_raw(pid), Signal::SIGTERM).expect("kill");
    assert_eq!(
        wait_exit(pid, Duration::from_secs(10)),
        WaitStatus::Exited(Pid::from_raw(pid), 0)
    );
    assert!(!is_mounted(&mnt), "SIGTERM must unmount");
    passed += 1;

    // The volume is not started: the child's one-line reason reaches the caller, exit 32, nothing
    // mounted, no other server tried.
    let err = run(
        args(&[
            "up1:/vol",
            &mnt_s,
            "-o",
            &format!("backup-volfile-servers=up2,{log_opt}"),
        ]),
        "test",
        |_: &MountPlan| TmpfsClient {
            mode: Mode::NotStarted,
        },
    )
    .expect_err("must fail");
    assert_eq!(err.exit_code(), EXIT_FAIL);
    let msg = err.to_string();
    assert!(
        msg.contains("volume 'vol' unavailable from up1:24007: volume is not started"),
        "{msg}"
    );
    assert!(!msg.contains('\n'));
    assert!(!is_mounted(&mnt));
    passed += 1;

    // No server answers.
    let err = run(
        args(&[
            "down1:/vol",
            &mnt_s,
            "-o",
            &format!("backup-volfile-servers=down2:down3,{log_opt}"),
        ]),
        "test",
        |_: &MountPlan| TmpfsClient { mode: Mode::Normal },
    )
    .expect_err("must fail");
    let msg = err.to_string();
    assert!(
        msg.starts_with("no volfile server answered for volume 'vol'"),
        "{msg}"
    );
    for s in ["down1:24007", "down2:24007", "down3:24007"] {
        assert!(msg.contains(s), "{msg}");
    }
    assert_eq!(err.exit_code(), EXIT_FAIL);
    passed += 1;

    // The client hangs: mount gives up after mount-timeout, kills it, leaves nothing mounted.
    let started = Instant::now();
    let err = run(
        args(&[
            "up1:/vol",
            &mnt_s,
            "-o",
            &format!("mount-timeout=1,{log_opt}"),
        ]),
        "test",
        |_: &MountPlan| TmpfsClient {
            mode: Mode::HangInMount,
        },
    )
    .expect_err("must time out");
    assert!(err.to_string().contains("not ready within 1s"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(15));
    assert!(!is_mounted(&mnt));
    passed += 1;

    // The client dies before reporting.
    let err = run(
        args(&["up1:/vol", &mnt_s, "-o", &log_opt]),
        "test",
        |_: &MountPlan| TmpfsClient { mode: Mode::Die },
    )
    .expect_err("must fail");
    assert!(
        err.to_string()
            .contains("exited before the mount was ready (exit status 3)"),
        "{err}"
    );
    passed += 1;

    println!("daemon: {passed} passed");
}
