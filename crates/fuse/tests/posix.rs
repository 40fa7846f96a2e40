//! End to end: a real GlusterFS volume (glusterd on this host, bricks made by
//! scripts/dev-cluster), the real gluster-rs graph (`graph::Volume::connect`: brick clients,
//! distribute, and replicate once the graph wires it), mounted through the kernel with this crate,
//! exercised with the system calls POSIX programs use, and compared with a GlusterFS C-client
//! mount of the same volume.
//!
//! Needs root, glusterd (started by dev-cluster if not running), the `gluster` CLI,
//! `mount.glusterfs` and /dev/fuse. Skips (with a message) only when not running as root; missing
//! tooling is a failure.

use std::collections::BTreeSet;
use std::ffi::CString;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirEntryExt, FileExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use fuse::{FuseOptions, MountHandle};

macro_rules! report {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

const HOST: &str = "vm";

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

fn dev_cluster() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/dev-cluster")
}

fn run(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A dev-cluster volume, torn down on drop (also when the test fails).
struct TestVolume {
    name: String,
    root: PathBuf,
}

impl TestVolume {
    fn up(name: &str, shape: &str) -> TestVolume {
        let root = PathBuf::from("/srv/fuset");
        fs::create_dir_all(&root).unwrap();
        let v = TestVolume {
            name: name.to_string(),
            root,
        };
        run(Command::new("timeout")
            .args(["300"])
            .arg(dev_cluster())
            .args([
                "up",
                name,
                shape,
                "--tmpfs",
                "768M",
                "--root",
                v.root.to_str().unwrap(),
            ]));
        v
    }

    fn bricks(&self) -> Vec<PathBuf> {
        run(Command::new("timeout")
            .args(["60"])
            .arg(dev_cluster())
            .args(["bricks", &self.name]))
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| PathBuf::from(l.trim().rsplit_once(':').map_or(l.trim(), |(_, p)| p)))
        .collect()
    }
}

impl Drop for TestVolume {
    fn drop(&mut self) {
        let out = Command::new("timeout")
            .args(["300"])
            .arg(dev_cluster())
            .args(["down", &self.name, "--root", self.root.to_str().unwrap()])
            .output();
        if let Ok(o) = out {
            if !o.status.success() {
                report!(
                    "dev-cluster down {}: {}",
                    self.name,
                    String::from_utf8_lossy(&o.stderr)
                );
            }
        }
    }
}

/// A directory removed (recursively) on drop, after the mounts in it are gone.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Our client: runtime, connected graph, mount.
struct Ours {
    mount: Option<MountHandle>,
    vol: Option<graph::Volume>,
    rt: tokio::runtime::Runtime,
    mp: PathBuf,
}

impl Ours {
    fn mount(volume: &str, mp: &Path, opts: FuseOptions) -> Ours {
        fs::create_dir_all(mp).unwrap();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(4)
            .enable_all()
            .build()
            .unwrap();
        let vopts = graph::VolumeOptions::new(vec![graph::Server::new(HOST, 24007)], volume);
        let vol = rt
            .block_on(graph::Volume::connect(&vopts))
            .unwrap_or_else(|e| panic!("connect {volume}: {e}"));
        let mount = fuse::mount(vol.top.clone(), mp, &opts, rt.handle().clone())
            .unwrap_or_else(|e| panic!("mount at {}: {e}", mp.display()));
        Ours {
            mount: Some(mount),
            vol: Some(vol),
            rt,
            mp: mp.to_path_buf(),
        }
    }

    fn handle(&self) -> &MountHandle {
        self.mount.as_ref().unwrap()
    }

    fn p(&self, rel: &str) -> PathBuf {
        self.mp.join(rel)
    }

    fn unmount(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        if let Some(m) = self.mount.take() {
            m.unmount().expect("unmount");
        }
        if let Some(v) = self.vol.take() {
            self.rt.block_on(v.shutdown());
        }
    }
}

impl Drop for Ours {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A GlusterFS C-client mount, unmounted on drop.
struct CMount(PathBuf);

impl CMount {
    fn mount(volume: &str, mp: &Path) -> CMount {
        fs::create_dir_all(mp).unwrap();
        run(Command::new("timeout")
            .args(["120", "mount", "-t", "glusterfs"])
            .arg(format!("{HOST}:/{volume}"))
            .arg(mp));
        CMount(mp.to_path_buf())
    }
}

impl Drop for CMount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

fn cpath(p: &Path) -> CString {
    CString::new(p.as_os_str().as_bytes()).unwrap()
}

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

fn err_of<T>(r: std::io::Result<T>) -> i32 {
    match r {
        Ok(_) => 0,
        Err(e) => e.raw_os_error().unwrap_or(-1),
    }
}

fn getxattr(p: &Path, name: &str, size: usize) -> Result<Vec<u8>, i32> {
    let (cp, cn) = (cpath(p), CString::new(name).unwrap());
    let mut buf = vec![0u8; size];
    // SAFETY: valid C strings and a buffer of `size` bytes.
    let n = unsafe { libc::getxattr(cp.as_ptr(), cn.as_ptr(), buf.as_mut_ptr().cast(), size) };
    if n < 0 {
        return Err(errno());
    }
    buf.truncate(if size == 0 { 0 } else { n as usize });
    if size == 0 {
        buf = vec![0; n as usize]; // the probe's answer is a length
    }
    Ok(buf)
}

fn setxattr(p: &Path, name: &str, value: &[u8], flags: i32) -> Result<(), i32> {
    let (cp, cn) = (cpath(p), CString::new(name).unwrap());
    // SAFETY: valid C strings and value slice.
    let r = unsafe {
        libc::setxattr(
            cp.as_ptr(),
            cn.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            flags,
        )
    };
    if r < 0 {
        Err(errno())
    } else {
        Ok(())
    }
}

fn listxattr(p: &Path) -> Vec<String> {
    let cp = cpath(p);
    // SAFETY: size probe with a null buffer.
    let n = unsafe { libc::listxattr(cp.as_ptr(), std::ptr::null_mut(), 0) };
    assert!(n >= 0, "listxattr probe: errno {}", errno());
    let mut buf = vec![0u8; n as usize];
    // SAFETY: buffer of the probed size.
    let m = unsafe { libc::listxattr(cp.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    assert!(m >= 0, "listxattr: errno {}", errno());
    assert_eq!(m, n, "list length changed between probe and read");
    buf[..m as usize]
        .split(|&b| b == 0)
        .filter(|s| !s.is_empty())
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect()
}

fn removexattr(p: &Path, name: &str) -> Result<(), i32> {
    let (cp, cn) = (cpath(p), CString::new(name).unwrap());
    // SAFETY: valid C strings.
    if unsafe { libc::removexattr(cp.as_ptr(), cn.as_ptr()) } < 0 {
        Err(errno())
    } else {
        Ok(())
    }
}

fn fallocate(f: &File, mode: i32, off: i64, len: i64) -> Result<(), i32> {
    // SAFETY: plain syscall on an open fd.
    if unsafe { libc::fallocate(f.as_raw_fd(), mode, off, len) } < 0 {
        Err(errno())
    } else {
        Ok(())
    }
}

fn fcntl_lock(f: &File, cmd: i32, typ: i32, start: i64, len: i64) -> Result<libc::flock, i32> {
    // SAFETY: flock is plain data.
    let mut fl: libc::flock = unsafe { std::mem::zeroed() };
    fl.l_type = typ as i16;
    fl.l_whence = libc::SEEK_SET as i16;
    fl.l_start = start;
    fl.l_len = len;
    // SAFETY: a valid flock struct for F_GETLK/F_SETLK/F_SETLKW.
    if unsafe { libc::fcntl(f.as_raw_fd(), cmd, &mut fl) } < 0 {
        Err(errno())
    } else {
        Ok(fl)
    }
}

fn flock(f: &File, op: i32) -> Result<(), i32> {
    // SAFETY: plain syscall on an open fd.
    if unsafe { libc::flock(f.as_raw_fd(), op) } < 0 {
        Err(errno())
    } else {
        Ok(())
    }
}

fn gfid_of(p: &Path) -> [u8; 16] {
    let v = getxattr(p, "glusterfs.gfid", 64).expect("glusterfs.gfid");
    v.try_into().expect("16 GFID bytes")
}

fn ino_from_gfid(g: &[u8; 16]) -> u64 {
    u64::from_be_bytes(g[8..16].try_into().unwrap())
}

fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn proc_mounts_line(mp: &Path) -> Option<String> {
    let mp = mp.to_str().unwrap().to_string();
    fs::read_to_string("/proc/mounts")
        .unwrap()
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some(mp.as_str()))
        .map(str::to_string)
}

fn drop_kernel_caches() {
    let _ = fs::write("/proc/sys/vm/drop_caches", "2");
}

fn test_opts(volume: &str) -> FuseOptions {
    FuseOptions {
        fs_name: format!("{HOST}:/{volume}"),
        ..FuseOptions::default()
    }
}

// ---------------------------------------------------------------------------------------------

fn check_mount_table(m: &Ours, volume: &str) {
    let line = proc_mounts_line(&m.mp).expect("mount in /proc/mounts");
    let f: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(f[0], format!("{HOST}:/{volume}"), "{line}");
    assert_eq!(f[2], "fuse.gluster-rs", "{line}");
    assert!(
        f[3].contains("allow_other") && f[3].contains("default_permissions"),
        "{line}"
    );
    let root = fs::metadata(&m.mp).unwrap();
    assert!(root.is_dir());
    assert_eq!(root.ino(), 1, "root inode number");
    report!("mount table: {line}");
}

fn check_files_and_io(m: &Ours) {
    fs::create_dir_all(m.p("d1/d2")).unwrap();
    let f = m.p("d1/d2/hello.txt");
    fs::write(&f, b"hello, gluster\n").unwrap();
    assert_eq!(fs::read(&f).unwrap(), b"hello, gluster\n");
    let md = fs::metadata(&f).unwrap();
    assert!(md.is_file());
    assert_eq!(md.len(), 15);
    assert_eq!(md.nlink(), 1);
    assert_eq!(
        md.ino(),
        ino_from_gfid(&gfid_of(&f)),
        "st_ino = gfid_to_ino(GFID)"
    );
    assert_eq!(
        getxattr(&f, "glusterfs.gfid.string", 64).map(|v| v.len()),
        Ok(36),
        "glusterfs.gfid.string"
    );

    // Large sequential I/O in 1 MiB requests (and unaligned tails), checked byte for byte.
    let big = m.p("d1/big.bin");
    let data = pattern(8 * 1024 * 1024 + 12345, 7);
    let t = Instant::now();
    {
        let mut w = File::create(&big).unwrap();
        for chunk in data.chunks(1 << 20) {
            w.write_all(chunk).unwrap();
        }
        w.sync_all().unwrap();
    }
    let wt = t.elapsed();
    drop_kernel_caches();
    let t = Instant::now();
    let mut back = Vec::new();
    File::open(&big).unwrap().read_to_end(&mut back).unwrap();
    let rt = t.elapsed();
    assert!(back == data, "8 MiB file read back differs");
    report!(
        "8 MiB: write {:.1} MiB/s, read {:.1} MiB/s",
        8.0 / wt.as_secs_f64(),
        8.0 / rt.as_secs_f64()
    );
    // Positional I/O in the middle, and reading past EOF.
    let fh = OpenOptions::new()
        .read(true)
        .write(true)
        .open(&big)
        .unwrap();
    fh.write_all_at(b"XYZ", 4_000_000).unwrap();
    let mut three = [0u8; 3];
    fh.read_exact_at(&mut three, 4_000_000).unwrap();
    assert_eq!(&three, b"XYZ");
    let mut past = [0u8; 10];
    assert_eq!(fh.read_at(&mut past, data.len() as u64 + 100).unwrap(), 0);

    let mut f = File::open(&f).unwrap();
    f.seek(SeekFrom::Start(7)).unwrap();
    let mut s = String::new();
    f.read_to_string(&mut s).unwrap();
    assert_eq!(s, "gluster\n");
}

/// O_APPEND (several write(2)s per line, each must land at the end), O_EXCL, O_TRUNC.
fn check_append(m: &Ours) {
    let a = m.p("d1/append.log");
    for i in 0..3 {
        let mut f = OpenOptions::new()
            .append(true)
            .create(true)
            .open(&a)
            .unwrap();
        writeln!(f, "line{i}").unwrap();
    }
    assert_eq!(fs::read_to_string(&a).unwrap(), "line0\nline1\nline2\n");
    assert_eq!(
        err_of(OpenOptions::new().write(true).create_new(true).open(&a)),
        libc::EEXIST
    );
    OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(&a)
        .unwrap();
    assert_eq!(fs::metadata(&a).unwrap().len(), 0);
}

fn check_setattr(m: &Ours) {
    let f = m.p("attrs");
    fs::write(&f, vec![b'a'; 1000]).unwrap();
    fs::set_permissions(&f, fs::Permissions::from_mode(0o640)).unwrap();
    assert_eq!(fs::metadata(&f).unwrap().mode() & 0o7777, 0o640);
    std::os::unix::fs::chown(&f, Some(1234), Some(5678)).unwrap();
    let md = fs::metadata(&f).unwrap();
    assert_eq!((md.uid(), md.gid()), (1234, 5678));
    // truncate(2) down and up (sparse).
    let fh = OpenOptions::new().write(true).open(&f).unwrap();
    fh.set_len(100).unwrap();
    assert_eq!(fs::metadata(&f).unwrap().len(), 100);
    fh.set_len(5000).unwrap();
    let content = fs::read(&f).unwrap();
    assert_eq!(content.len(), 5000);
    assert!(content[..100].iter().all(|&b| b == b'a'));
    assert!(content[100..].iter().all(|&b| b == 0));
    // utimensat with explicit times, then "now".
    let at = UNIX_EPOCH + Duration::new(1_000_000_000, 123_456_789);
    let mt = UNIX_EPOCH + Duration::new(1_100_000_000, 987_654_321);
    fh.set_times(fs::FileTimes::new().set_accessed(at).set_modified(mt))
        .unwrap();
    let md = fs::metadata(&f).unwrap();
    assert_eq!(md.accessed().unwrap(), at);
    assert_eq!(md.modified().unwrap(), mt);
    let cp = cpath(&f);
    // SAFETY: null times = both "now".
    assert_eq!(
        unsafe { libc::utimensat(libc::AT_FDCWD, cp.as_ptr(), std::ptr::null(), 0) },
        0
    );
    let md = fs::metadata(&f).unwrap();
    let age = SystemTime::now()
        .duration_since(md.modified().unwrap())
        .unwrap_or_default();
    assert!(age < Duration::from_secs(60), "mtime now: {age:?} old");
    // Directories too.
    fs::create_dir(m.p("attrdir")).unwrap();
    fs::set_permissions(m.p("attrdir"), fs::Permissions::from_mode(0o1777)).unwrap();
    assert_eq!(
        fs::metadata(m.p("attrdir")).unwrap().mode() & 0o7777,
        0o1777
    );
}

fn check_names(m: &Ours) {
    // mknod (fifo), symlink, readlink, link.
    let fifo = cpath(&m.p("fifo"));
    // SAFETY: valid path.
    assert_eq!(
        unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) },
        0,
        "mkfifo: {}",
        errno()
    );
    assert!(std::os::unix::fs::FileTypeExt::is_fifo(
        &fs::symlink_metadata(m.p("fifo")).unwrap().file_type()
    ));
    std::os::unix::fs::symlink("d1/d2/hello.txt", m.p("sym")).unwrap();
    assert_eq!(
        fs::read_link(m.p("sym")).unwrap(),
        Path::new("d1/d2/hello.txt")
    );
    assert!(fs::symlink_metadata(m.p("sym"))
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(fs::read(m.p("sym")).unwrap(), b"hello, gluster\n");
    fs::hard_link(m.p("d1/d2/hello.txt"), m.p("hard")).unwrap();
    let (a, b) = (
        fs::metadata(m.p("hard")).unwrap(),
        fs::metadata(m.p("d1/d2/hello.txt")).unwrap(),
    );
    assert_eq!(a.ino(), b.ino());
    assert_eq!(b.nlink(), 2);

    // unlink/rmdir and their errors.
    fs::remove_file(m.p("hard")).unwrap();
    assert_eq!(fs::metadata(m.p("d1/d2/hello.txt")).unwrap().nlink(), 1);
    assert_eq!(err_of(fs::remove_file(m.p("nonexistent"))), libc::ENOENT);
    assert_eq!(err_of(fs::create_dir(m.p("d1"))), libc::EEXIST);
    assert_eq!(err_of(fs::remove_dir(m.p("d1"))), libc::ENOTEMPTY);
    fs::write(m.p("plainfile"), b"").unwrap();
    assert_eq!(err_of(fs::remove_dir(m.p("plainfile"))), libc::ENOTDIR);
    assert_eq!(err_of(File::open(m.p("nope/x"))), libc::ENOENT);
    assert_eq!(err_of(fs::write(m.p("plainfile/x"), b"")), libc::ENOTDIR);
    fs::create_dir_all(m.p("tree/a/b")).unwrap();
    fs::write(m.p("tree/a/b/f"), b"x").unwrap();
    fs::remove_dir_all(m.p("tree")).unwrap();
    assert_eq!(err_of(fs::metadata(m.p("tree"))), libc::ENOENT);
}

/// rename(2): same directory, other directory, a directory, and many names that hash to
/// different DHT subvolumes.
fn check_renames(m: &Ours) {
    fs::write(m.p("r1"), b"one").unwrap();
    fs::rename(m.p("r1"), m.p("r2")).unwrap();
    assert_eq!(err_of(fs::metadata(m.p("r1"))), libc::ENOENT);
    fs::rename(m.p("r2"), m.p("d1/r3")).unwrap();
    assert_eq!(fs::read(m.p("d1/r3")).unwrap(), b"one");
    fs::rename(m.p("d1/r3"), m.p("victim")).unwrap();
    assert_eq!(fs::read(m.p("victim")).unwrap(), b"one");
    fs::create_dir_all(m.p("rd/sub")).unwrap();
    fs::write(m.p("rd/sub/f"), b"in dir").unwrap();
    fs::rename(m.p("rd"), m.p("d1/rd-moved")).unwrap();
    assert_eq!(fs::read(m.p("d1/rd-moved/sub/f")).unwrap(), b"in dir");

    // Renames whose old and new names hash to different DHT subvolumes: with 2+ subvolumes,
    // some of 40 do. Data and listing must follow.
    fs::create_dir(m.p("xr")).unwrap();
    for i in 0..40 {
        fs::write(m.p(&format!("xr/src-{i}")), format!("content {i}")).unwrap();
    }
    for i in 0..40 {
        fs::rename(m.p(&format!("xr/src-{i}")), m.p(&format!("xr/dst-{i}"))).unwrap();
    }
    drop_kernel_caches();
    let names: BTreeSet<String> = fs::read_dir(m.p("xr"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let want: BTreeSet<String> = (0..40).map(|i| format!("dst-{i}")).collect();
    assert_eq!(names, want, "listing after cross-subvolume renames");
    for i in 0..40 {
        assert_eq!(
            fs::read_to_string(m.p(&format!("xr/dst-{i}"))).unwrap(),
            format!("content {i}")
        );
    }
    fs::remove_dir_all(m.p("xr")).unwrap();
}

/// Renames over existing files, whose old and new names may hash to different DHT subvolumes.
fn check_cross_subvol_overwrite(m: &Ours) {
    // Over an existing file in another directory.
    fs::write(m.p("ow-src"), b"new").unwrap();
    fs::write(m.p("d1/ow-dst"), b"old").unwrap();
    let moved_ino = fs::metadata(m.p("ow-src")).unwrap().ino();
    fs::rename(m.p("ow-src"), m.p("d1/ow-dst")).unwrap();
    assert_eq!(fs::read(m.p("d1/ow-dst")).unwrap(), b"new");
    assert_eq!(fs::metadata(m.p("d1/ow-dst")).unwrap().ino(), moved_ino);
    assert_eq!(err_of(fs::metadata(m.p("ow-src"))), libc::ENOENT);
    // Files renamed once (some now live away from their hashed subvolume, behind a linkto),
    // then renamed over each other.
    fs::create_dir(m.p("xo")).unwrap();
    for i in 0..40 {
        fs::write(m.p(&format!("xo/src-{i}")), format!("content {i}")).unwrap();
        fs::rename(m.p(&format!("xo/src-{i}")), m.p(&format!("xo/dst-{i}"))).unwrap();
    }
    for i in 0..20 {
        fs::rename(
            m.p(&format!("xo/dst-{i}")),
            m.p(&format!("xo/dst-{}", i + 20)),
        )
        .unwrap();
    }
    drop_kernel_caches();
    let n = fs::read_dir(m.p("xo")).unwrap().count();
    assert_eq!(n, 20);
    for i in 20..40 {
        assert_eq!(
            fs::read_to_string(m.p(&format!("xo/dst-{i}"))).unwrap(),
            format!("content {}", i - 20)
        );
    }
    fs::remove_dir_all(m.p("xo")).unwrap();
}

fn check_permissions(m: &Ours) {
    // As an unprivileged user (default_permissions: the kernel checks mode bits).
    let f = m.p("private");
    fs::write(&f, b"secret").unwrap();
    fs::set_permissions(&f, fs::Permissions::from_mode(0o600)).unwrap();
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "cat"])
        .arg(&f)
        .output()
        .expect("setpriv");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Permission denied"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    fs::set_permissions(&f, fs::Permissions::from_mode(0o644)).unwrap();
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "cat"])
        .arg(&f)
        .output()
        .expect("setpriv");
    assert_eq!(
        out.stdout,
        b"secret",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cp = cpath(&f);
    // SAFETY: valid path.
    assert_eq!(
        unsafe { libc::access(cp.as_ptr(), libc::R_OK | libc::W_OK) },
        0
    );
}

fn check_readdir(m: &Ours) {
    fs::create_dir(m.p("many")).unwrap();
    let want: BTreeSet<String> = (0..600)
        .map(|i| format!("entry-{i:04}-with-a-longish-name"))
        .collect();
    for n in &want {
        File::create(m.p(&format!("many/{n}"))).unwrap();
    }
    drop_kernel_caches();
    let mut got = BTreeSet::new();
    for e in fs::read_dir(m.p("many")).unwrap() {
        let e = e.unwrap();
        let md = fs::symlink_metadata(e.path()).unwrap();
        assert_eq!(e.ino(), md.ino(), "d_ino = st_ino for {:?}", e.file_name());
        assert!(md.is_file());
        got.insert(e.file_name().to_string_lossy().into_owned());
    }
    assert_eq!(got, want);
    // "." and ".." are listed by getdents.
    let out = run(Command::new("ls").arg("-a").arg(m.p("many")));
    assert!(out.lines().any(|l| l == ".") && out.lines().any(|l| l == ".."));
    assert_eq!(out.lines().count(), 602);
}

fn check_xattrs(m: &Ours) {
    let f = m.p("xa");
    fs::write(&f, b"x").unwrap();
    setxattr(&f, "user.color", b"blue", 0).unwrap();
    assert_eq!(getxattr(&f, "user.color", 100).unwrap(), b"blue");
    assert_eq!(
        getxattr(&f, "user.color", 0).unwrap().len(),
        4,
        "size probe"
    );
    assert_eq!(getxattr(&f, "user.color", 2), Err(libc::ERANGE));
    assert_eq!(getxattr(&f, "user.none", 100), Err(libc::ENODATA));
    assert_eq!(
        setxattr(&f, "user.color", b"red", libc::XATTR_CREATE),
        Err(libc::EEXIST)
    );
    assert_eq!(
        setxattr(&f, "user.new", b"v", libc::XATTR_REPLACE),
        Err(libc::ENODATA)
    );
    setxattr(&f, "user.bin", &[0, 1, 2, 255], 0).unwrap();
    assert_eq!(getxattr(&f, "user.bin", 10).unwrap(), vec![0, 1, 2, 255]);
    let names = listxattr(&f);
    assert!(names.contains(&"user.color".to_string()), "{names:?}");
    assert!(names.contains(&"user.bin".to_string()), "{names:?}");
    assert!(
        !names
            .iter()
            .any(|n| n.starts_with("trusted.") || n.starts_with("glusterfs.")),
        "internal xattrs listed: {names:?}"
    );
    removexattr(&f, "user.color").unwrap();
    assert_eq!(getxattr(&f, "user.color", 100), Err(libc::ENODATA));
    assert_eq!(removexattr(&f, "user.color"), Err(libc::ENODATA));
    assert_eq!(setxattr(&f, "trusted.gfid", &[0; 16], 0), Err(libc::EPERM));
    assert_eq!(
        getxattr(&f, "system.posix_acl_access", 100),
        Err(libc::EOPNOTSUPP)
    );
    // On a directory as well.
    setxattr(&m.mp.join("d1"), "user.dir", b"yes", 0).unwrap();
    assert_eq!(getxattr(&m.mp.join("d1"), "user.dir", 10).unwrap(), b"yes");
}

fn check_statfs(m: &Ours) {
    let cp = cpath(&m.mp);
    // SAFETY: statvfs is plain data.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: valid path and struct.
    assert_eq!(unsafe { libc::statvfs(cp.as_ptr(), &mut st) }, 0);
    assert!(
        st.f_blocks > 0 && st.f_bsize > 0 && st.f_bfree <= st.f_blocks,
        "statvfs"
    );
    assert!(st.f_namemax >= 255);
}

fn check_fallocate(m: &Ours) {
    let p = m.p("falloc");
    let mut f = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&p)
        .unwrap();
    f.write_all(&vec![0xabu8; 65536]).unwrap();
    f.sync_all().unwrap();
    // keep-size: allocation past EOF leaves the size alone.
    fallocate(&f, libc::FALLOC_FL_KEEP_SIZE, 65536, 65536).unwrap();
    assert_eq!(fs::metadata(&p).unwrap().len(), 65536);
    // plain: extends.
    fallocate(&f, 0, 65536, 4096).unwrap();
    assert_eq!(fs::metadata(&p).unwrap().len(), 65536 + 4096);
    // punch hole: zeros, same size.
    fallocate(
        &f,
        libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE,
        4096,
        8192,
    )
    .unwrap();
    // zero range: really zeroed (GlusterFS's C client would leave the data).
    fallocate(&f, libc::FALLOC_FL_ZERO_RANGE, 20000, 1000).unwrap();
    // zero range keep-size past EOF: clipped, size unchanged.
    fallocate(
        &f,
        libc::FALLOC_FL_ZERO_RANGE | libc::FALLOC_FL_KEEP_SIZE,
        60000,
        100000,
    )
    .unwrap();
    assert_eq!(fs::metadata(&p).unwrap().len(), 65536 + 4096);
    drop(f);
    drop_kernel_caches();
    let d = fs::read(&p).unwrap();
    assert!(d[..4096].iter().all(|&b| b == 0xab));
    assert!(
        d[4096..12288].iter().all(|&b| b == 0),
        "punched hole reads zeros"
    );
    assert!(d[12288..20000].iter().all(|&b| b == 0xab));
    assert!(
        d[20000..21000].iter().all(|&b| b == 0),
        "zero range reads zeros"
    );
    assert!(d[21000..60000].iter().all(|&b| b == 0xab));
    assert!(d[60000..].iter().all(|&b| b == 0));
    let f = OpenOptions::new().write(true).open(&p).unwrap();
    assert_eq!(
        fallocate(&f, libc::FALLOC_FL_COLLAPSE_RANGE, 0, 4096),
        Err(libc::EOPNOTSUPP)
    );
}

/// POSIX and flock locks between two mounts of the same volume (different client connections),
/// and a blocking SETLKW that must not stall the mount.
fn check_locks(a: &Ours, b: &Ours) {
    let pa = a.p("lockfile");
    fs::write(&pa, vec![0u8; 100]).unwrap();
    let pb = b.p("lockfile");
    let fa = OpenOptions::new().read(true).write(true).open(&pa).unwrap();
    let fb = OpenOptions::new().read(true).write(true).open(&pb).unwrap();

    fcntl_lock(&fa, libc::F_SETLK, libc::F_WRLCK, 0, 10).unwrap();
    let got = fcntl_lock(&fb, libc::F_GETLK, libc::F_WRLCK, 0, 100).unwrap();
    assert_eq!(
        i32::from(got.l_type),
        libc::F_WRLCK,
        "GETLK sees the other mount's lock"
    );
    assert_eq!((got.l_start, got.l_len), (0, 10));
    assert_eq!(
        fcntl_lock(&fb, libc::F_SETLK, libc::F_WRLCK, 5, 1).map(|_| ()),
        Err(libc::EAGAIN)
    );
    // A non-overlapping range is free.
    fcntl_lock(&fb, libc::F_SETLK, libc::F_WRLCK, 50, 10).unwrap();
    fcntl_lock(&fb, libc::F_SETLK, libc::F_UNLCK, 50, 10).unwrap();

    // SETLKW waits for the holder; meanwhile mount b keeps serving other requests.
    // (The waiter borrows `fb`: closing a duplicate would drop the process's POSIX locks.)
    std::thread::scope(|scope| {
        let (tx, rx) = mpsc::channel();
        let fbr = &fb;
        scope.spawn(move || {
            let r = fcntl_lock(fbr, libc::F_SETLKW, libc::F_WRLCK, 0, 10).map(|_| ());
            tx.send(r).unwrap();
        });
        assert!(
            rx.recv_timeout(Duration::from_millis(800)).is_err(),
            "SETLKW did not wait"
        );
        let t = Instant::now();
        for i in 0..50 {
            fs::metadata(b.p("d1")).unwrap();
            fs::write(b.p(&format!("during-lock-{i}")), b"x").unwrap();
        }
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "mount stalled behind SETLKW"
        );
        assert!(
            b.handle().stats().in_flight >= 1,
            "the SETLKW is a task in flight"
        );
        fcntl_lock(&fa, libc::F_SETLK, libc::F_UNLCK, 0, 10).unwrap();
        let r = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("SETLKW granted after unlock");
        assert_eq!(r, Ok(()));
    });
    assert_eq!(
        fcntl_lock(&fa, libc::F_SETLK, libc::F_RDLCK, 0, 1).map(|_| ()),
        Err(libc::EAGAIN),
        "b holds it now"
    );
    fcntl_lock(&fb, libc::F_SETLK, libc::F_UNLCK, 0, 0).unwrap();
    fcntl_lock(&fa, libc::F_SETLK, libc::F_RDLCK, 0, 0).unwrap();
    // Read locks share.
    fcntl_lock(&fb, libc::F_SETLK, libc::F_RDLCK, 0, 0).unwrap();
    fcntl_lock(&fa, libc::F_SETLK, libc::F_UNLCK, 0, 0).unwrap();
    fcntl_lock(&fb, libc::F_SETLK, libc::F_UNLCK, 0, 0).unwrap();

    // flock(2).
    flock(&fa, libc::LOCK_EX | libc::LOCK_NB).unwrap();
    assert_eq!(
        flock(&fb, libc::LOCK_EX | libc::LOCK_NB),
        Err(libc::EWOULDBLOCK)
    );
    assert_eq!(
        flock(&fb, libc::LOCK_SH | libc::LOCK_NB),
        Err(libc::EWOULDBLOCK)
    );
    flock(&fa, libc::LOCK_UN).unwrap();
    flock(&fb, libc::LOCK_SH | libc::LOCK_NB).unwrap();
    flock(&fa, libc::LOCK_SH | libc::LOCK_NB).unwrap();
    assert_eq!(
        flock(&fa, libc::LOCK_EX | libc::LOCK_NB),
        Err(libc::EWOULDBLOCK)
    );
    flock(&fb, libc::LOCK_UN).unwrap();
    flock(&fa, libc::LOCK_UN).unwrap();
    // Closing the file drops its flock.
    flock(&fb, libc::LOCK_EX | libc::LOCK_NB).unwrap();
    drop(fb);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match flock(&fa, libc::LOCK_EX | libc::LOCK_NB) {
            Ok(()) => break,
            Err(e) if e == libc::EWOULDBLOCK && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(50))
            }
            Err(e) => panic!("flock after the holder closed: errno {e}"),
        }
    }
    flock(&fa, libc::LOCK_UN).unwrap();
}

/// A mount with the kernel writeback cache: small writes are batched by the kernel and reach the
/// bricks by fsync; another mount then reads them. Write-only opens work (they are widened to
/// read-write for the cache).
fn check_writeback(wb: &Ours, other: &Ours) {
    let p = wb.p("wb.log");
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&p)
        .unwrap();
    let mut want = Vec::new();
    let t = Instant::now();
    for i in 0..2000 {
        let line = format!("record {i:05} {}\n", "x".repeat(40));
        f.write_all(line.as_bytes()).unwrap();
        want.extend_from_slice(line.as_bytes());
    }
    f.sync_all().unwrap();
    report!("writeback: 2000 small writes + fsync in {:?}", t.elapsed());
    drop(f);
    drop_kernel_caches();
    assert!(
        fs::read(other.p("wb.log")).unwrap() == want,
        "data written through the cache"
    );
    let mut f = OpenOptions::new().append(true).open(&p).unwrap();
    f.write_all(b"tail\n").unwrap();
    f.sync_all().unwrap();
    drop(f);
    want.extend_from_slice(b"tail\n");
    drop_kernel_caches();
    assert!(
        fs::read(other.p("wb.log")).unwrap() == want,
        "O_APPEND through the cache"
    );
}

/// With a small lru-limit, the inode table stays small once the kernel forgets.
fn check_bounded_inodes(m: &Ours, lru_limit: usize) {
    fs::create_dir(m.p("churn")).unwrap();
    for i in 0..1500 {
        File::create(m.p(&format!("churn/f{i}"))).unwrap();
    }
    for e in fs::read_dir(m.p("churn")).unwrap() {
        fs::metadata(e.unwrap().path()).unwrap();
    }
    let before = m.handle().stats();
    drop_kernel_caches();
    std::thread::sleep(Duration::from_millis(500));
    let after = m.handle().stats();
    report!("inode table: {before:?} -> after drop_caches {after:?}");
    // (No bound on `before`: a concurrent drop_caches may already have shrunk it.)
    assert!(after.lru_inodes <= lru_limit, "{after:?}");
    assert!(
        after.inodes < 300 + lru_limit,
        "table did not shrink: {after:?}"
    );
}

/// With inode-limit, the client makes the kernel let go of old entries by itself (no memory
/// pressure, no drop_caches): the table stays near inode-limit + lru-limit.
fn check_inode_limit(m: &Ours, inode_limit: usize, lru_limit: usize) {
    fs::create_dir(m.p("limit")).unwrap();
    for i in 0..2000 {
        File::create(m.p(&format!("limit/f{i}"))).unwrap();
    }
    for e in fs::read_dir(m.p("limit")).unwrap() {
        fs::metadata(e.unwrap().path()).unwrap();
    }
    let bound = inode_limit + lru_limit + 64;
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut st = m.handle().stats();
    while st.inodes > bound && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(250));
        st = m.handle().stats();
    }
    report!("inode-limit {inode_limit}, lru-limit {lru_limit}: {st:?}");
    assert!(st.inodes <= bound, "table not bounded: {st:?}");
    assert!(st.kernel_inodes <= inode_limit + 64, "{st:?}");
    // Everything is still reachable.
    assert_eq!(fs::read_dir(m.p("limit")).unwrap().count(), 2000);
    assert!(fs::metadata(m.p("limit/f7")).unwrap().is_file());
}

/// Requests from many threads are served concurrently (each is a task), not one by one.
fn check_concurrency(m: &Ours) {
    fs::create_dir(m.p("conc")).unwrap();
    for i in 0..32 {
        fs::write(m.p(&format!("conc/f{i}")), pattern(256 * 1024, i)).unwrap();
    }
    drop_kernel_caches();
    let max_in_flight = std::sync::atomic::AtomicUsize::new(0);
    let done = std::sync::atomic::AtomicBool::new(false);
    let t = Instant::now();
    std::thread::scope(|s| {
        s.spawn(|| {
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                let n = m.handle().stats().in_flight;
                max_in_flight.fetch_max(n, std::sync::atomic::Ordering::Relaxed);
                std::thread::sleep(Duration::from_micros(200));
            }
        });
        let workers: Vec<_> = (0..32u64)
            .map(|i| {
                s.spawn(move || {
                    for _ in 0..4 {
                        let d = fs::read(m.p(&format!("conc/f{i}"))).unwrap();
                        assert!(d == pattern(256 * 1024, i));
                        fs::metadata(m.p(&format!("conc/f{i}"))).unwrap();
                        drop_kernel_caches();
                    }
                })
            })
            .collect();
        for w in workers {
            w.join().unwrap();
        }
        done.store(true, std::sync::atomic::Ordering::Relaxed);
    });
    let max = max_in_flight.load(std::sync::atomic::Ordering::Relaxed);
    report!(
        "32 threads x 4 reads of 256 KiB: {:?}, up to {max} requests in flight",
        t.elapsed()
    );
    assert!(
        max >= 4,
        "requests were not served concurrently (max in flight {max})"
    );
}

#[test]
fn posix_end_to_end() {
    if !is_root() {
        report!("SKIP posix_end_to_end: needs root (glusterd, bricks, mounts)");
        return;
    }
    let name = format!("fuset{}", std::process::id());
    let log = PathBuf::from(format!("/tmp/fuset-{}.log", std::process::id()));
    fuse::init_logging(Some(&log), "fuse=debug,dht=debug,client=info,warn").unwrap();
    report!("client log: {}", log.display());
    let vol = TestVolume::up(&name, "2x1");
    report!("volume {name} bricks {:?}", vol.bricks());
    let base = PathBuf::from(format!("/tmp/fuset-{}", std::process::id()));
    let _base_guard = TempDir(base.clone());
    let lru_limit = 64;
    let mut opts = test_opts(&name);
    opts.lru_limit = lru_limit;

    let a = Ours::mount(&name, &base.join("a"), opts.clone());
    check_mount_table(&a, &name);
    check_files_and_io(&a);
    check_setattr(&a);
    check_names(&a);
    check_permissions(&a);
    check_readdir(&a);
    check_xattrs(&a);
    check_statfs(&a);
    check_fallocate(&a);
    check_concurrency(&a);

    let mut bopts = test_opts(&name);
    bopts.writeback_cache = true;
    let b = Ours::mount(&name, &base.join("b"), bopts);
    check_locks(&a, &b);
    check_writeback(&b, &a);
    check_bounded_inodes(&a, lru_limit);
    let mut lopts = test_opts(&name);
    lopts.inode_limit = 300;
    lopts.lru_limit = 100;
    let l = Ours::mount(&name, &base.join("l"), lopts);
    check_inode_limit(&l, 300, 100);
    // Unmounting while a file is still open: bounded (the connection is aborted after a grace
    // period), and the open file then fails instead of hanging.
    let held = File::open(l.p("limit/f7")).unwrap();
    let t = Instant::now();
    let l_mp = l.mp.clone();
    l.unmount();
    report!("unmount with a file held open: {:?}", t.elapsed());
    assert!(t.elapsed() < Duration::from_secs(30));
    assert!(proc_mounts_line(&l_mp).is_none());
    let mut buf = [0u8; 1];
    assert!(
        (&held).read(&mut buf).is_err(),
        "read on an aborted connection"
    );
    drop(held);

    // Inode numbers survive a remount, and match the C client's.
    let files = [
        "d1/d2/hello.txt",
        "d1/big.bin",
        "attrs",
        "many/entry-0007-with-a-longish-name",
        "d1",
    ];
    let inos: Vec<u64> = files
        .iter()
        .map(|f| fs::metadata(a.p(f)).unwrap().ino())
        .collect();
    let a_mp = a.mp.clone();
    a.unmount();
    assert!(proc_mounts_line(&a_mp).is_none(), "unmounted");
    let a = Ours::mount(&name, &a_mp, test_opts(&name));
    let again: Vec<u64> = files
        .iter()
        .map(|f| fs::metadata(a.p(f)).unwrap().ino())
        .collect();
    assert_eq!(inos, again, "inode numbers after remount");

    let c = CMount::mount(&name, &base.join("c"));
    let cinos: Vec<u64> = files
        .iter()
        .map(|f| fs::metadata(c.0.join(f)).unwrap().ino())
        .collect();
    assert_eq!(inos, cinos, "inode numbers equal to the C client's");
    // Data written by each is read by the other.
    fs::write(c.0.join("from-c"), b"written by the C client").unwrap();
    assert_eq!(fs::read(a.p("from-c")).unwrap(), b"written by the C client");
    assert_eq!(
        fs::read(c.0.join("d1/d2/hello.txt")).unwrap(),
        b"hello, gluster\n"
    );
    // Locks hold against the C client.
    let fa = OpenOptions::new()
        .read(true)
        .write(true)
        .open(a.p("lockfile"))
        .unwrap();
    let fc = OpenOptions::new()
        .read(true)
        .write(true)
        .open(c.0.join("lockfile"))
        .unwrap();
    fcntl_lock(&fa, libc::F_SETLK, libc::F_WRLCK, 0, 0).unwrap();
    assert_eq!(
        fcntl_lock(&fc, libc::F_SETLK, libc::F_WRLCK, 0, 0).map(|_| ()),
        Err(libc::EAGAIN),
        "C client sees our POSIX lock"
    );
    fcntl_lock(&fa, libc::F_SETLK, libc::F_UNLCK, 0, 0).unwrap();
    fcntl_lock(&fc, libc::F_SETLK, libc::F_WRLCK, 0, 0).unwrap();
    assert_eq!(
        fcntl_lock(&fa, libc::F_SETLK, libc::F_WRLCK, 0, 0).map(|_| ()),
        Err(libc::EAGAIN),
        "we see the C client's POSIX lock"
    );
    fcntl_lock(&fc, libc::F_SETLK, libc::F_UNLCK, 0, 0).unwrap();
    flock(&fc, libc::LOCK_EX | libc::LOCK_NB).unwrap();
    assert_eq!(
        flock(&fa, libc::LOCK_EX | libc::LOCK_NB),
        Err(libc::EWOULDBLOCK)
    );
    flock(&fc, libc::LOCK_UN).unwrap();
    flock(&fa, libc::LOCK_EX | libc::LOCK_NB).unwrap();
    assert_eq!(
        flock(&fc, libc::LOCK_EX | libc::LOCK_NB),
        Err(libc::EWOULDBLOCK)
    );
    flock(&fa, libc::LOCK_UN).unwrap();
    drop((fa, fc));

    drop(c);
    drop(b);
    check_renames(&a);
    check_append(&a);
    check_cross_subvol_overwrite(&a);
    drop(a);
    drop(vol);
    // Passed: the client log is not needed any more.
    let _ = fs::remove_file(&log);
}

/// The same over replicate once the graph builds cluster/replicate (2x3).
#[test]
fn posix_over_replicate() {
    if !is_root() {
        report!("SKIP posix_over_replicate: needs root");
        return;
    }
    let name = format!("fusetr{}", std::process::id());
    let vol = TestVolume::up(&name, "2x3");
    let base = PathBuf::from(format!("/tmp/fusetr-{}", std::process::id()));
    let _base_guard = TempDir(base.clone());
    let a = Ours::mount(&name, &base.join("a"), test_opts(&name));
    check_mount_table(&a, &name);
    check_files_and_io(&a);
    check_setattr(&a);
    check_names(&a);
    check_readdir(&a);
    check_xattrs(&a);
    check_fallocate(&a);
    let b = Ours::mount(&name, &base.join("b"), test_opts(&name));
    check_locks(&a, &b);
    drop(b);
    check_renames(&a);
    check_append(&a);
    check_cross_subvol_overwrite(&a);
    drop(a);
    drop(vol);
}
