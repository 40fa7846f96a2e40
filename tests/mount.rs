//! Issue 5: `mount -t gluster-rs` on real volumes, used by ordinary programs, next to a GlusterFS
//! C-client mount of the same volume. Needs /sbin/mount.gluster-rs (scripts/test.sh installs it).

mod common;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::*;

fn is_mounted(dir: &Path) -> bool {
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    let d = dir.to_string_lossy();
    mounts.lines().any(|l| l.split(' ').nth(1) == Some(&d))
}

fn posix_workout(vol: &TestVolume) {
    let m = vol.mount_rs("");
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap();
    assert!(
        mounts
            .lines()
            .any(|l| l.contains(&format!("{}:/{}", vol.host, vol.name))
                && l.contains("fuse.gluster-rs")),
        "{mounts}"
    );
    let p = |s: &str| m.path(s);
    // create, write, read back, append, truncate
    std::fs::write(p("a.txt"), b"hello").unwrap();
    assert_eq!(std::fs::read(p("a.txt")).unwrap(), b"hello");
    {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(p("a.txt"))
            .unwrap();
        f.write_all(b" world").unwrap();
    }
    assert_eq!(std::fs::read(p("a.txt")).unwrap(), b"hello world");
    std::fs::OpenOptions::new()
        .write(true)
        .open(p("a.txt"))
        .unwrap()
        .set_len(5)
        .unwrap();
    assert_eq!(std::fs::read(p("a.txt")).unwrap(), b"hello");
    // rename over an existing file
    std::fs::write(p("b.txt"), b"old").unwrap();
    std::fs::rename(p("a.txt"), p("b.txt")).unwrap();
    assert!(!p("a.txt").exists());
    assert_eq!(std::fs::read(p("b.txt")).unwrap(), b"hello");
    // hard and symbolic links
    std::fs::hard_link(p("b.txt"), p("hard.txt")).unwrap();
    assert_eq!(std::fs::metadata(p("b.txt")).unwrap().nlink(), 2);
    std::os::unix::fs::symlink("b.txt", p("sym")).unwrap();
    assert_eq!(std::fs::read_link(p("sym")).unwrap(), Path::new("b.txt"));
    assert_eq!(std::fs::read(p("sym")).unwrap(), b"hello");
    // chmod, chown
    std::fs::set_permissions(p("b.txt"), std::fs::Permissions::from_mode(0o640)).unwrap();
    assert_eq!(
        std::fs::metadata(p("b.txt")).unwrap().mode() & 0o7777,
        0o640
    );
    sh(&format!("chown 1234:5678 {}", p("b.txt").display()));
    let md = std::fs::metadata(p("b.txt")).unwrap();
    assert_eq!((md.uid(), md.gid()), (1234, 5678));
    // xattrs
    sh(&format!(
        "setfattr -n user.k -v value {}",
        p("b.txt").display()
    ));
    assert!(
        sh(&format!("getfattr -n user.k {}", p("b.txt").display())).contains("user.k=\"value\"")
    );
    assert!(sh(&format!("getfattr -d {}", p("b.txt").display())).contains("user.k"));
    sh(&format!("setfattr -x user.k {}", p("b.txt").display()));
    assert!(!try_sh(&format!("getfattr -n user.k {}", p("b.txt").display())).0);
    // large files: a 1 GiB sparse file and 200 MiB written
    sh(&format!("truncate -s 1G {}", p("sparse").display()));
    assert_eq!(std::fs::metadata(p("sparse")).unwrap().len(), 1 << 30);
    sh(&format!(
        "dd if=/dev/urandom of={} bs=1M count=200 status=none conv=fsync",
        p("big").display()
    ));
    let a = sh(&format!("md5sum < {}", p("big").display()));
    // 2,000 small files in one directory (10,000 in their own test)
    std::fs::create_dir(p("many")).unwrap();
    for i in 0..2000 {
        std::fs::write(p(&format!("many/f{i}")), format!("{i}")).unwrap();
    }
    assert_eq!(std::fs::read_dir(p("many")).unwrap().count(), 2000);
    // cp -a and tar of a tree round-trip byte-exact
    let src = tempdir("tree");
    sh(&format!(
        "cd {} && mkdir -p d/e && echo one > d/1 && head -c 300000 /dev/urandom > d/e/2 && ln -s 1 d/l && chmod 700 d/e",
        src.display()
    ));
    sh(&format!(
        "cp -a {}/d {}",
        src.display(),
        p("copy").display()
    ));
    sh(&format!(
        "diff -r --no-dereference {}/d {}",
        src.display(),
        p("copy").display()
    ));
    sh(&format!(
        "tar -C {} -cf {} d",
        src.display(),
        p("t.tar").display()
    ));
    sh(&format!(
        "mkdir {} && tar -C {} -xf {}",
        p("untar").display(),
        p("untar").display(),
        p("t.tar").display()
    ));
    sh(&format!(
        "diff -r --no-dereference {}/d {}/d",
        src.display(),
        p("untar").display()
    ));
    let _ = std::fs::remove_dir_all(&src);
    // The C client sees the same, and gluster-rs sees the C client's changes.
    {
        let c = vol.mount_c_client();
        assert_eq!(std::fs::read(c.path("b.txt")).unwrap(), b"hello");
        assert_eq!(sh(&format!("md5sum < {}", c.path("big").display())), a);
        assert_eq!(std::fs::read_dir(c.path("many")).unwrap().count(), 2000);
        std::fs::write(c.path("from-c"), b"written by C").unwrap();
        std::fs::remove_file(c.path("hard.txt")).unwrap();
    }
    std::thread::sleep(Duration::from_secs(2)); // attribute/entry cache of our mount
    assert_eq!(std::fs::read(p("from-c")).unwrap(), b"written by C");
    assert!(!p("hard.txt").exists());
    assert_eq!(std::fs::metadata(p("b.txt")).unwrap().nlink(), 1);
    // rm -r through gluster-rs
    sh(&format!("rm -rf {}", p("many").display()));
    assert!(!p("many").exists());
}

#[test]
fn posix_programs_on_a_replica_3_volume() {
    helper_installed();
    let vol = TestVolume::new("mnta", "1x3");
    posix_workout(&vol);
}

#[test]
fn posix_programs_on_a_distributed_replicated_volume() {
    helper_installed();
    let vol = TestVolume::new("mntb", "2x3");
    posix_workout(&vol);
}

#[test]
fn locks_hold_across_mounts_and_against_the_c_client() {
    helper_installed();
    let vol = TestVolume::new("mntc", "1x3");
    let a = vol.mount_rs("");
    let b = vol.mount_rs("");
    let c = vol.mount_c_client();
    std::fs::write(a.path("lock"), b"x").unwrap();
    for (holder, other) in [(&a, &b), (&a, &c), (&c, &a)] {
        // flock: held in one mount, a non-blocking attempt in the other fails.
        let mut child = Command::new("flock")
            .args(["-x", holder.path("lock").to_str().unwrap(), "sleep", "4"])
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(1500));
        let (ok, _, _) = try_sh(&format!(
            "flock -n -x {} true",
            other.path("lock").display()
        ));
        assert!(!ok, "flock was not exclusive across mounts");
        child.wait().unwrap();
        let (ok, _, err) = try_sh(&format!(
            "flock -w 10 -x {} true",
            other.path("lock").display()
        ));
        assert!(ok, "lock not released: {err}");
    }
    // POSIX record locks (fcntl) through python's fcntl.lockf.
    let py = |path: &Path, secs: u32| {
        format!(
            "import fcntl,time;f=open('{}','r+');fcntl.lockf(f,fcntl.LOCK_EX|fcntl.LOCK_NB);time.sleep({secs})",
            path.display()
        )
    };
    let mut child = Command::new("python3")
        .args(["-c", &py(&a.path("lock"), 4)])
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let (ok, _, _) = try_sh(&format!("python3 -c \"{}\"", py(&b.path("lock"), 0)));
    assert!(!ok, "fcntl lock was not exclusive across gluster-rs mounts");
    let (ok, _, _) = try_sh(&format!("python3 -c \"{}\"", py(&c.path("lock"), 0)));
    assert!(!ok, "fcntl lock was not exclusive against the C client");
    assert!(child.wait().unwrap().success());
    let (ok, _, err) = try_sh(&format!("python3 -c \"{}\"", py(&b.path("lock"), 0)));
    assert!(ok, "{err}");
}

#[test]
fn backup_volfile_server_and_bad_input() {
    helper_installed();
    let vol = TestVolume::new("mntd", "1x1");
    // First volfile server down ([::1]: glusterd listens on IPv4 only), backup up.
    let dir = tempdir("bk");
    sh(&format!(
        "mount -t gluster-rs '[::1]':/{} {} -o backup-volfile-servers={}",
        vol.name,
        dir.display(),
        vol.host
    ));
    let m = Mount { dir };
    std::fs::write(m.path("x"), b"via backup").unwrap();
    assert_eq!(
        std::fs::read(vol.bricks[0].join("x")).unwrap(),
        b"via backup"
    );
    drop(m);
    // Bad server, bad volume, bad option value, unknown option: one clear line, non-zero, no mount.
    let cases = [
        (
            format!("'[::1]':/{}", vol.name),
            String::new(),
            "no volfile server",
        ),
        (
            format!("{}:/no-such-vol-mntd", vol.host),
            String::new(),
            "not found",
        ),
        (
            format!("{}:/{}", vol.host, vol.name),
            "-o attribute-timeout=abc".to_string(),
            "attribute-timeout",
        ),
        (
            format!("{}:/{}", vol.host, vol.name),
            "-o no-such-option=1".to_string(),
            "no-such-option",
        ),
        (
            format!("{}:/{}", vol.host, vol.name),
            "-o direct-io-mode=sometimes".to_string(),
            "direct-io-mode",
        ),
    ];
    for (spec, opts, expect) in cases {
        let dir = tempdir("bad");
        let (ok, _, err) = try_sh(&format!(
            "timeout 120 mount -t gluster-rs {spec} {} {opts}",
            dir.display()
        ));
        assert!(!ok, "mount {spec} {opts} succeeded");
        assert!(
            err.contains(expect),
            "mount {spec} {opts}: unclear error: {err}"
        );
        assert!(!is_mounted(&dir), "left mounted: {spec} {opts}");
        let _ = std::fs::remove_dir(&dir);
    }
}

#[test]
fn kubernetes_option_string_and_fstab_line() {
    helper_installed();
    let vol = TestVolume::new("mnte", "1x1");
    // The in-tree kubelet glusterfs plugin's options.
    let dir = tempdir("k8s");
    let log = tempdir("k8slog").join("pod-glusterfs.log");
    sh(&format!(
        "mount -t gluster-rs {h}:/{v} {d} -o backup-volfile-servers={h}:{h},log-file={l},log-level=ERROR,auto_unmount",
        h = vol.host,
        v = vol.name,
        d = dir.display(),
        l = log.display()
    ));
    let m = Mount { dir };
    std::fs::write(m.path("k"), b"k8s").unwrap();
    drop(m);
    // An fstab line, mounted with mount -T.
    let dir = tempdir("fstab");
    let fstab = tempdir("fstabfile").join("fstab");
    std::fs::write(
        &fstab,
        format!(
            "{}:/{} {} gluster-rs defaults,_netdev 0 0\n",
            vol.host,
            vol.name,
            dir.display()
        ),
    )
    .unwrap();
    sh(&format!("mount -T {} {}", fstab.display(), dir.display()));
    let m = Mount { dir };
    assert_eq!(std::fs::read(m.path("k")).unwrap(), b"k8s");
    // `umount DIR` cleans up: the daemon exits and the mount is gone.
    let d = m.dir.clone();
    sh(&format!("umount {}", d.display()));
    assert!(!is_mounted(&d));
}

#[test]
fn ten_thousand_small_files_in_one_directory() {
    helper_installed();
    let vol = TestVolume::new("mntf", "1x3");
    let m = vol.mount_rs("");
    std::fs::create_dir(m.path("d")).unwrap();
    for i in 0..10_000 {
        std::fs::write(m.path(&format!("d/file-{i:05}")), format!("{i}\n")).unwrap();
    }
    let mut names: Vec<String> = std::fs::read_dir(m.path("d"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names.len(), 10_000);
    assert_eq!(names[0], "file-00000");
    assert_eq!(names[9_999], "file-09999");
    for i in (0..10_000).step_by(997) {
        assert_eq!(
            std::fs::read_to_string(m.path(&format!("d/file-{i:05}"))).unwrap(),
            format!("{i}\n")
        );
    }
    // Every replica holds every file.
    for b in &vol.bricks {
        assert_eq!(
            std::fs::read_dir(b.join("d")).unwrap().count(),
            10_000,
            "{}",
            b.display()
        );
    }
}

/// PIDs of processes that hold /dev/fuse open and were started for `mountpoint` (the helper's
/// daemon carries it in its command line).
fn daemons_for(mountpoint: &Path) -> Vec<u32> {
    let mp = mountpoint.to_string_lossy().to_string();
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let args: Vec<String> = cmd
            .split(|&b| b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        if !args.iter().any(|a| a == &mp) {
            continue;
        }
        let holds_fuse = std::fs::read_dir(format!("/proc/{pid}/fd"))
            .map(|fds| {
                fds.flatten().any(|fd| {
                    std::fs::read_link(fd.path()).is_ok_and(|t| t == Path::new("/dev/fuse"))
                })
            })
            .unwrap_or(false);
        if holds_fuse {
            out.push(pid);
        }
    }
    out
}

#[test]
fn auto_unmount_removes_the_mount_when_the_client_dies() {
    helper_installed();
    let vol = TestVolume::new("mntg", "1x1");
    let m = vol.mount_rs("auto_unmount");
    std::fs::write(m.path("f"), b"x").unwrap();
    let pids = daemons_for(&m.dir);
    assert_eq!(
        pids.len(),
        1,
        "expected one client daemon for {}: {pids:?}",
        m.dir.display()
    );
    sh(&format!("kill -KILL {}", pids[0]));
    let mut gone = false;
    for _ in 0..100 {
        if !is_mounted(&m.dir) {
            gone = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(gone, "mount still present after the client died");
    // Without auto_unmount the mount stays (and reports ENOTCONN) until umount.
    let m2 = vol.mount_rs("");
    let pids = daemons_for(&m2.dir);
    assert_eq!(pids.len(), 1);
    sh(&format!("kill -KILL {}", pids[0]));
    std::thread::sleep(Duration::from_secs(1));
    assert!(is_mounted(&m2.dir));
    let e = std::fs::metadata(m2.path("f")).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::ENOTCONN), "{e}");
}
