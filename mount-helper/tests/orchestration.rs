//! Server fail-over order, timeouts, the readiness report, mountinfo parsing and the mount-point
//! checks (no fork here; tests/daemon.rs runs the forked path).

use std::cell::RefCell;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::{Duration, Instant};

use mount_gluster_rs::daemon::{decode_report, encode_report, Report};
use mount_gluster_rs::preflight::{
    brick_path_of, brick_under, check_mountpoint, mounts_at, parse_mountinfo_line,
    unescape_mountinfo,
};
use mount_gluster_rs::{
    connect_first, mount_and_serve, parse_args, Client, Command, Error, MountOptions, MountPlan,
    Shutdown, VolfileTarget,
};
use tokio::runtime::Runtime;

/// Answers per host: `down*` unreachable, `slow*` never answers, `gone*` says the volume does not
/// exist, anything else gives the volume. Records every attempt.
struct Scripted {
    log: Rc<RefCell<Vec<String>>>,
}

impl Client for Scripted {
    type Volume = String;
    type Session = ();

    async fn connect(
        &mut self,
        target: &VolfileTarget<'_>,
        options: &MountOptions,
    ) -> Result<String, Error> {
        self.log.borrow_mut().push(target.server.to_string());
        assert_eq!(target.timeout, options.connect_timeout);
        let h = target.server.host.as_str();
        if h.starts_with("down") {
            Err(Error::ServerUnreachable {
                server: target.server.to_string(),
                reason: "connection refused".into(),
            })
        } else if h.starts_with("slow") {
            std::future::pending().await
        } else if h.starts_with("gone") {
            Err(Error::VolumeUnavailable {
                volume: target.volume.into(),
                server: target.server.to_string(),
                reason: "volume does not exist".into(),
            })
        } else {
            Ok(format!(
                "{}/{}/{:?}",
                target.server, target.volfile_id, target.subdir
            ))
        }
    }

    fn mount(&mut self, _rt: &Runtime, _v: String, _plan: &MountPlan) -> Result<(), Error> {
        Err(Error::MountFailed("no FUSE in this test".into()))
    }

    fn serve(&mut self, _rt: &Runtime, _s: (), _sd: Shutdown) -> Result<(), Error> {
        Ok(())
    }
}

fn plan(spec: &str, opts: &str) -> MountPlan {
    let a: Vec<OsString> = vec![spec.into(), "/m".into(), "-o".into(), opts.into()];
    match parse_args(a) {
        Ok(Command::Mount(i)) => MountPlan::new(*i, PathBuf::from("/m"), Path::new("/")),
        other => panic!("{other:?}"),
    }
}

fn rt() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn first_answering_server_wins_in_order() {
    let log = Rc::new(RefCell::new(Vec::new()));
    let mut c = Scripted { log: log.clone() };
    let p = plan("down1:/gv0/sub", "backup-volfile-servers=down2:up1:up2");
    let v = connect_first(&mut c, &rt(), &p).unwrap();
    assert_eq!(v, "up1:24007/gv0/Some(\"sub\")");
    assert_eq!(
        *log.borrow(),
        vec!["down1:24007", "down2:24007", "up1:24007"]
    );
}

#[test]
fn none_answers_lists_every_server_and_repeats_fetch_attempts() {
    let log = Rc::new(RefCell::new(Vec::new()));
    let mut c = Scripted { log: log.clone() };
    let p = plan(
        "down1:/gv0",
        "backup-volfile-servers=down2,fetch-attempts=2",
    );
    let e = connect_first(&mut c, &rt(), &p).unwrap_err();
    assert_eq!(
        e.to_string(),
        "no volfile server answered for volume 'gv0' (tried down1:24007: connection refused; \
         down2:24007: connection refused; down1:24007: connection refused; down2:24007: \
         connection refused)"
    );
    assert_eq!(e.exit_code(), 32);
    assert_eq!(log.borrow().len(), 4);
}

#[test]
fn a_hanging_server_is_cut_off_by_connect_timeout() {
    let log = Rc::new(RefCell::new(Vec::new()));
    let mut c = Scripted { log: log.clone() };
    let p = plan(
        "slow1:/gv0",
        "backup-volfile-servers=up1,connect-timeout=0.2",
    );
    let t = Instant::now();
    let v = connect_first(&mut c, &rt(), &p).unwrap();
    assert!(v.starts_with("up1:24007"));
    assert!(t.elapsed() >= Duration::from_millis(200));
    assert!(t.elapsed() < Duration::from_secs(5));

    let p = plan("slow1:/gv0", "connect-timeout=0.1");
    let e = connect_first(&mut c, &rt(), &p).unwrap_err();
    assert!(
        e.to_string()
            .contains("slow1:24007: no answer within 100ms"),
        "{e}"
    );
}

#[test]
fn missing_volume_stops_without_trying_backups() {
    let log = Rc::new(RefCell::new(Vec::new()));
    let mut c = Scripted { log: log.clone() };
    let p = plan("down1:/gv0", "backup-volfile-servers=gone1:up1");
    let e = connect_first(&mut c, &rt(), &p).unwrap_err();
    assert_eq!(
        e.to_string(),
        "volume 'gv0' unavailable from gone1:24007: volume does not exist"
    );
    assert_eq!(*log.borrow(), vec!["down1:24007", "gone1:24007"]);
}

#[test]
fn mount_failure_is_reported_and_ready_not_called() {
    let log = Rc::new(RefCell::new(Vec::new()));
    let mut c = Scripted { log };
    let dir = tempfile::tempdir().unwrap();
    let mut p = plan("up1:/gv0", "");
    p.mountpoint = dir.path().to_path_buf();
    let (_t, sd) = Shutdown::new();
    let mut ready = false;
    let e = mount_and_serve(&mut c, &rt(), &p, sd, || ready = true).unwrap_err();
    assert!(!ready);
    assert_eq!(e.to_string(), "mount failed: no FUSE in this test");
}

#[test]
fn shutdown_signal() {
    let (t, mut sd) = Shutdown::new();
    assert!(!sd.is_requested());
    t.trigger();
    assert!(sd.is_requested());
    rt().block_on(async { tokio::time::timeout(Duration::from_secs(1), sd.requested()).await })
        .expect("requested completes");
}

#[test]
fn report_lines() {
    assert_eq!(encode_report(&Report::Ready), "ready\n");
    assert_eq!(decode_report("ready\n"), Report::Ready);
    let r = Report::Failed {
        code: 32,
        message: "volume 'x' unavailable from h:24007: not started".into(),
    };
    let line = encode_report(&r);
    assert_eq!(
        line,
        "error 32 volume 'x' unavailable from h:24007: not started\n"
    );
    assert_eq!(decode_report(&line), r);
    // A newline inside the message does not break the protocol.
    let line = encode_report(&Report::Failed {
        code: 1,
        message: "a\nb".into(),
    });
    assert_eq!(line.matches('\n').count(), 1);
    assert!(matches!(
        decode_report(&line),
        Report::Failed { code: 1, .. }
    ));
    // Garbage is a failure that shows the garbage.
    match decode_report("hello") {
        Report::Failed { code, message } => {
            assert_eq!(code, 32);
            assert!(message.contains("hello"));
        }
        r => panic!("{r:?}"),
    }
    assert!(matches!(
        decode_report("error x y"),
        Report::Failed { code: 32, .. }
    ));
    assert!(matches!(
        decode_report("error 999 y"),
        Report::Failed { code: 32, .. }
    ));
}

#[test]
fn reported_error_keeps_code() {
    let e = Error::Reported {
        code: 1,
        message: "m".into(),
    };
    assert_eq!(e.exit_code(), 1);
    assert_eq!(e.to_string(), "m");
    let e = Error::Reported {
        code: 0,
        message: "m".into(),
    };
    assert_eq!(e.exit_code(), 32, "a failure never exits 0");
}

const MOUNTINFO: &[u8] = b"22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n\
36 22 0:31 / /mnt/gluster rw,nosuid,nodev,relatime shared:20 - fuse.glusterfs vm:/gv0 rw,user_id=0,group_id=0,default_permissions,allow_other,max_read=131072\n\
37 22 0:32 / /mnt/with\\040space rw,relatime - fuse.gluster-rs vm:/gv1 rw\n\
38 22 0:33 / /mnt/multi rw master:1 shared:2 - tmpfs tmpfs rw\n\
39 38 0:34 / /mnt/multi rw - fuse.gluster-rs vm:/gv2 rw\n\
garbage line\n\
40 22 0:35 / /x rw - \n";

#[test]
fn mountinfo_parsing() {
    assert_eq!(unescape_mountinfo(b"a\\040b\\011c\\134d"), b"a b\tc\\d");
    assert_eq!(unescape_mountinfo(b"\\04"), b"\\04");
    assert_eq!(unescape_mountinfo(b"\\999"), b"\\999");
    assert_eq!(
        unescape_mountinfo(b"\\777"),
        b"\\777",
        "over 255 is kept as text"
    );
    assert_eq!(unescape_mountinfo(b"end\\"), b"end\\");
    assert_eq!(
        parse_mountinfo_line(b"36 22 0:31 / /mnt/gluster rw shared:20 - fuse.glusterfs vm:/gv0 rw"),
        Some((PathBuf::from("/mnt/gluster"), "fuse.glusterfs".to_string()))
    );
    assert_eq!(parse_mountinfo_line(b"garbage"), None);
    assert_eq!(parse_mountinfo_line(b""), None);
    assert_eq!(
        mounts_at(MOUNTINFO, Path::new("/mnt/gluster")),
        vec!["fuse.glusterfs"]
    );
    assert_eq!(
        mounts_at(MOUNTINFO, Path::new("/mnt/with space")),
        vec!["fuse.gluster-rs"]
    );
    assert_eq!(
        mounts_at(MOUNTINFO, Path::new("/mnt/multi")),
        vec!["tmpfs", "fuse.gluster-rs"]
    );
    assert!(mounts_at(MOUNTINFO, Path::new("/mnt")).is_empty());
    assert!(mounts_at(MOUNTINFO, Path::new("/x")).is_empty());
}

#[test]
fn brick_files() {
    let info =
        b"hostname=vm\npath=/srv/gluster-rs/t/b1\nreal_path=/srv/gluster-rs/t/b1\nlisten-port=0\n";
    assert_eq!(
        brick_path_of(info),
        Some(PathBuf::from("/srv/gluster-rs/t/b1"))
    );
    assert_eq!(brick_path_of(b"hostname=vm\n"), None);
    assert_eq!(brick_path_of(b"path=\n"), None);
    let bricks = vec![PathBuf::from("/srv/a/b1"), PathBuf::from("/data/b2")];
    assert_eq!(
        brick_under(Path::new("/srv"), &bricks),
        Some(Path::new("/srv/a/b1"))
    );
    assert_eq!(
        brick_under(Path::new("/srv/a"), &bricks),
        Some(Path::new("/srv/a/b1"))
    );
    assert_eq!(
        brick_under(Path::new("/sr"), &bricks),
        None,
        "component-wise prefix"
    );
    assert_eq!(brick_under(Path::new("/mnt"), &bricks), None);
}

#[test]
fn mountpoint_checks() {
    let o = MountOptions::default();
    let dir = tempfile::tempdir().unwrap();
    let canon = check_mountpoint(dir.path(), &o).unwrap();
    assert_eq!(canon, std::fs::canonicalize(dir.path()).unwrap());
    // Relative and with .. components resolve.
    let sub = dir.path().join("a");
    std::fs::create_dir(&sub).unwrap();
    let c = check_mountpoint(&sub.join("..").join("a"), &o).unwrap();
    assert_eq!(c, std::fs::canonicalize(&sub).unwrap());

    let e = check_mountpoint(&dir.path().join("missing"), &o).unwrap_err();
    assert!(matches!(e, Error::Mountpoint { .. }));
    assert!(e.to_string().contains("No such file or directory"), "{e}");
    assert_eq!(e.exit_code(), 32);
    let file = dir.path().join("f");
    std::fs::write(&file, b"").unwrap();
    assert!(check_mountpoint(&file, &o)
        .unwrap_err()
        .to_string()
        .contains("is not a directory"));
    assert!(check_mountpoint(Path::new("/"), &o)
        .unwrap_err()
        .to_string()
        .contains("cannot mount over /"));
    assert!(check_mountpoint(Path::new("/tmp"), &o)
        .unwrap_err()
        .to_string()
        .contains("cannot mount over /tmp"));
}
