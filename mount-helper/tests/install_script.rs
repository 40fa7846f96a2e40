//! scripts/install-mount-helper.sh against a temporary sbindir: install, --replace-glusterfs
//! (once, keeping the original), --restore, a package update in between, and the helper
//! answering as mount.glusterfs.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_mount-gluster-rs");
const ORIGINAL: &str = "#!/bin/sh\necho original mount.glusterfs\n";

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/install-mount-helper.sh")
}

fn run(sbin: &Path, extra: &[&str]) -> Output {
    let out = Command::new("bash")
        .arg(script())
        .arg("--sbindir")
        .arg(sbin)
        .args(["--binary", BIN, "--no-build"])
        .args(extra)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{extra:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn write_original(p: &Path, text: &str) {
    std::fs::write(p, text).unwrap();
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn install_replace_restore() {
    let dir = tempfile::tempdir().unwrap();
    let sbin = dir.path();
    let helper = sbin.join("mount.gluster-rs");
    let gfs = sbin.join("mount.glusterfs");
    let orig = sbin.join("mount.glusterfs.orig");

    // Plain install.
    run(sbin, &[]);
    assert_eq!(std::fs::read(&helper).unwrap(), std::fs::read(BIN).unwrap());
    assert_eq!(
        std::fs::metadata(&helper).unwrap().permissions().mode() & 0o777,
        0o755
    );
    assert!(!gfs.exists());
    let v = Command::new(&helper).arg("-V").output().unwrap();
    assert!(String::from_utf8_lossy(&v.stdout).starts_with("mount.gluster-rs (gluster-rs)"));

    // Replace: the original is kept, mount.glusterfs becomes ours.
    write_original(&gfs, ORIGINAL);
    run(sbin, &["--replace-glusterfs"]);
    assert_eq!(std::fs::read_to_string(&orig).unwrap(), ORIGINAL);
    assert_eq!(
        std::fs::read_link(&gfs).unwrap(),
        PathBuf::from("mount.gluster-rs")
    );
    // As mount.glusterfs it speaks under that name and refuses what mount.glusterfs refuses.
    let o = Command::new(&gfs)
        .args(["vm:/gv0", "/nonexistent", "-o", "bogus"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&o.stderr).trim_end(),
        "mount.glusterfs: unknown option 'bogus'"
    );

    // Twice changes nothing: the .orig is still the original.
    run(sbin, &["--replace-glusterfs"]);
    assert_eq!(std::fs::read_to_string(&orig).unwrap(), ORIGINAL);
    assert!(gfs.is_symlink());

    // Restore.
    run(sbin, &["--restore"]);
    assert!(!gfs.is_symlink());
    assert_eq!(std::fs::read_to_string(&gfs).unwrap(), ORIGINAL);
    assert!(!orig.exists());
    assert!(helper.exists(), "restore keeps mount.gluster-rs");
    run(sbin, &["--restore"]);
    assert_eq!(std::fs::read_to_string(&gfs).unwrap(), ORIGINAL);

    // A package update replaced our link with a new original: that one is kept.
    run(sbin, &["--replace-glusterfs"]);
    std::fs::remove_file(&gfs).unwrap();
    write_original(&gfs, "#!/bin/sh\necho updated\n");
    run(sbin, &["--replace-glusterfs"]);
    assert_eq!(
        std::fs::read_to_string(&orig).unwrap(),
        "#!/bin/sh\necho updated\n"
    );
    assert!(gfs.is_symlink());
    run(sbin, &["--restore"]);
    assert_eq!(
        std::fs::read_to_string(&gfs).unwrap(),
        "#!/bin/sh\necho updated\n"
    );
}

#[test]
fn replace_without_glusterfs_installed_and_restore() {
    let dir = tempfile::tempdir().unwrap();
    let sbin = dir.path();
    run(sbin, &["--replace-glusterfs"]);
    assert!(sbin.join("mount.glusterfs").is_symlink());
    assert!(!sbin.join("mount.glusterfs.orig").exists());
    run(sbin, &["--restore"]);
    assert!(!sbin.join("mount.glusterfs").exists());
    assert!(!sbin.join("mount.glusterfs.orig").exists());
}

#[test]
fn restore_leaves_a_foreign_mount_glusterfs_alone() {
    let dir = tempfile::tempdir().unwrap();
    let sbin = dir.path();
    write_original(&sbin.join("mount.glusterfs"), ORIGINAL);
    run(sbin, &["--restore"]);
    assert_eq!(
        std::fs::read_to_string(sbin.join("mount.glusterfs")).unwrap(),
        ORIGINAL
    );
}

#[test]
fn errors() {
    let dir = tempfile::tempdir().unwrap();
    let o = Command::new("bash")
        .arg(script())
        .args(["--sbindir"])
        .arg(dir.path())
        .args(["--binary", "/nonexistent/mount-gluster-rs", "--no-build"])
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("is not an executable file"));
    let o = Command::new("bash")
        .arg(script())
        .arg("--frob")
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("unknown argument '--frob'"));
    let o = Command::new("bash")
        .arg(script())
        .arg("--help")
        .output()
        .unwrap();
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stdout).contains("--replace-glusterfs"));
}
