//! The built `mount-gluster-rs` binary as mount(8) runs it: exit codes, one-line messages naming
//! the bad option, nothing mounted on refusal, `-f`, `-h`, `-V`, the unwired client.

use std::path::Path;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_mount-gluster-rs");

fn helper(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().expect("run helper")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn mounted_at(p: &Path) -> bool {
    let canon = std::fs::canonicalize(p).unwrap();
    let info = std::fs::read("/proc/self/mountinfo").unwrap();
    !mount_gluster_rs::preflight::mounts_at(&info, &canon).is_empty()
}

#[test]
fn bad_options_exit_1_with_one_line_naming_them() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    for (opts, needle) in [
        ("ro,bogus", "unknown option 'bogus'"),
        (
            "log-level=LOUD",
            "invalid value 'LOUD' for option 'log-level'",
        ),
        ("attribute-timeout=-1", "option 'attribute-timeout'"),
        ("direct-io-mode=sometimes", "option 'direct-io-mode'"),
        ("use-readdirp=maybe", "option 'use-readdirp'"),
        ("server-port=70000", "option 'server-port'"),
        ("reader-thread-count=100", "option 'reader-thread-count'"),
        (
            "transport=rdma",
            "transport=rdma is not supported by gluster-rs",
        ),
        (
            "backup-volfile-servers=[::1",
            "option 'backup-volfile-servers'",
        ),
        ("xlator-option=nodot", "option 'xlator-option'"),
        ("ro=yes", "option 'ro' takes no value"),
        ("log-file", "option 'log-file' needs a value"),
        ("log-level=a\nb", "invalid value 'a\\nb'"),
    ] {
        let o = helper(&["vm:/gv0", d, "-o", opts]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{opts}: {err}");
        assert_eq!(err.lines().count(), 1, "{opts}: {err:?}");
        assert!(err.starts_with("mount-gluster-rs: "), "{err}");
        assert!(err.contains(needle), "{opts}: {err}");
        assert!(o.stdout.is_empty());
        assert!(!mounted_at(dir.path()));
    }
}

#[test]
fn bad_spec_and_argv() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    for (args, needle) in [
        (vec!["gv0", d], "invalid volume spec 'gv0'"),
        (vec!["vm:/", d], "no volume name"),
        (vec!["vm:/gv0"], "expected a volume and a mount point"),
        (vec!["vm:/gv0", d, "-q"], "unknown flag '-q'"),
        (vec!["vm:/gv0", d, "-t", "nfs"], "'nfs'"),
    ] {
        let o = helper(&args);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{err:?}");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
}

#[test]
fn mountpoint_problems_exit_32() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope");
    let o = helper(&["vm:/gv0", missing.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(32));
    assert!(
        stderr(&o).contains("nope: cannot be used"),
        "{}",
        stderr(&o)
    );
    let o = helper(&["vm:/gv0", "/"]);
    assert_eq!(o.status.code(), Some(32));
    assert!(stderr(&o).contains("cannot mount over /"));
}

#[test]
fn fake_mount_checks_everything_and_mounts_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let log = dir.path().join("l.log");
    let opts = format!(
        "ro,_netdev,backup-volfile-servers=b1:b2,log-file={},mem-accounting",
        log.display()
    );
    let o = helper(&["-fv", "vm:/gv0/sub", d, "-o", &opts, "-t", "gluster-rs"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(err.contains("warning: 'mem-accounting'"), "{err}");
    assert!(
        err.contains(
            "volume gv0 (volfile id gv0, subdir /sub) from [vm:24007, b1:24007, b2:24007]"
        ),
        "{err}"
    );
    assert!(err.contains("fake mount"), "{err}");
    assert!(!log.exists());
    assert!(!mounted_at(dir.path()));
}

#[test]
fn help_and_version() {
    let o = helper(&["-h"]);
    assert_eq!(o.status.code(), Some(0));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("backup-volfile-servers") && out.contains("first-ack"));
    let o = helper(&["-V"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("mount.gluster-rs (gluster-rs) "));
}

#[test]
fn missing_volume_fails_cleanly_through_the_daemon() {
    // The whole path with the real binary: preflight, log file, fork, the child's connect learns
    // from glusterd that the volume does not exist, the parent prints that one line and exits 32;
    // nothing mounted; the log says why.
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let log = dir.path().join("logs/m.log");
    let opts = format!(
        "log-file={},log-level=INFO,connect-timeout=2",
        log.display()
    );
    let o = helper(&["vm:/no-such-volume-gv0", mnt.to_str().unwrap(), "-o", &opts]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(32), "{err}");
    assert_eq!(err.lines().count(), 1, "{err:?}");
    assert!(
        err.contains("no-such-volume-gv0") && err.contains("not found"),
        "{err}"
    );
    assert!(!mounted_at(&mnt));
    let text = std::fs::read_to_string(&log).expect("log file created");
    assert!(text.contains("mount requested"), "{text}");
    assert!(text.contains("not found"), "{text}");
}
