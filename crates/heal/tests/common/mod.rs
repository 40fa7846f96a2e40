//! Harness of the heal tests: real GlusterFS 10.3 volumes from scripts/dev-cluster with
//! glustershd off (torn down on drop), brick faults by pid from `gluster volume status --xml`,
//! C-client mounts, and views of the brick directories to compare copies.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

pub const HOST: &str = "vm";

pub fn skip() -> bool {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if !root || Command::new("gluster").arg("--version").output().is_err() {
        eprintln!("skipping: needs root and GlusterFS");
        return true;
    }
    false
}

fn dev_cluster() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/dev-cluster")
}

pub fn run(cmd: &mut Command) -> String {
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

pub fn sh(script: &str) -> String {
    run(Command::new("bash").arg("-c").arg(script))
}

pub fn gluster(args: &[&str]) -> String {
    run(Command::new("timeout")
        .arg("120")
        .arg("gluster")
        .arg("--mode=script")
        .args(args))
}

/// The example front end (`gluster-rs heal` / `heal-daemon` arguments), built by `cargo test`.
pub fn heal_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("test exe");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target dir")
        .join("examples/gluster-rs-heal");
    assert!(
        dir.exists(),
        "{} missing: build with `cargo test -p heal --no-run`",
        dir.display()
    );
    dir
}

/// A statistics directory of its own for one test, removed on drop.
pub struct StateDir(pub PathBuf);

impl StateDir {
    pub fn new(tag: &str) -> StateDir {
        StateDir(std::env::temp_dir().join(format!("heal-state-{tag}-{}", std::process::id())))
    }

    pub fn arg(&self) -> String {
        self.0.display().to_string()
    }
}

impl Drop for StateDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A 1x3 test volume with glustershd off, stopped and deleted on drop (with its mounts).
pub struct TestVolume {
    pub name: String,
    pub bricks: Vec<PathBuf>,
    mounts: std::sync::Mutex<Vec<PathBuf>>,
}

impl TestVolume {
    pub fn up(name: &str) -> TestVolume {
        Self::up_shape(name, "1x3")
    }

    pub fn up_shape(name: &str, shape: &str) -> TestVolume {
        let _ = Command::new("timeout")
            .arg("300")
            .arg(dev_cluster())
            .args(["down", name])
            .output();
        run(Command::new("timeout")
            .arg("300")
            .arg(dev_cluster())
            .args(["up", name, shape]));
        let bricks = run(Command::new(dev_cluster()).args(["bricks", name]))
            .lines()
            .map(PathBuf::from)
            .collect();
        let v = TestVolume {
            name: name.to_string(),
            bricks,
            mounts: Default::default(),
        };
        v.set("cluster.self-heal-daemon", "off");
        v
    }

    pub fn addr(&self) -> String {
        format!("{HOST}:/{}", self.name)
    }

    pub fn set(&self, key: &str, value: &str) {
        gluster(&["volume", "set", &self.name, key, value]);
    }

    /// Brick pids in volume order (None for a brick that is not running).
    pub fn brick_pids(&self) -> Vec<Option<i32>> {
        let xml = gluster(&["volume", "status", &self.name, "--xml"]);
        let mut out = Vec::new();
        for node in xml.split("<node>").skip(1) {
            let field = |tag: &str| {
                let open = format!("<{tag}>");
                let close = format!("</{tag}>");
                let s = node.find(&open)? + open.len();
                let e = node[s..].find(&close)? + s;
                Some(node[s..e].to_string())
            };
            let Some(path) = field("path") else { continue };
            if !path.starts_with('/') {
                continue;
            }
            let online = field("status").as_deref() == Some("1");
            let pid = field("pid").and_then(|p| p.parse::<i32>().ok());
            out.push(if online { pid.filter(|&p| p > 0) } else { None });
        }
        out
    }

    pub fn signal_brick(&self, i: usize, sig: &str) {
        let pid = self.brick_pids()[i].expect("brick running");
        sh(&format!("kill -{sig} {pid}"));
    }

    /// SIGTERM one brick and wait until it is gone.
    pub fn kill_brick(&self, i: usize) {
        let pid = self.brick_pids()[i].expect("brick running");
        sh(&format!("kill -TERM {pid}"));
        let deadline = Instant::now() + Duration::from_secs(30);
        while Path::new(&format!("/proc/{pid}")).exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `gluster volume start VOL force` and wait for every brick.
    pub fn start_force(&self) {
        gluster(&["volume", "start", &self.name, "force"]);
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.brick_pids().iter().any(Option::is_none) {
            assert!(Instant::now() < deadline, "bricks did not come back");
            std::thread::sleep(Duration::from_millis(300));
        }
    }

    /// Mount the volume with the GlusterFS C client (unmounted on drop).
    pub fn mount_c(&self) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("heal-{}-{}", self.name, self.mounts_len()));
        std::fs::create_dir_all(&dir).expect("mountpoint");
        sh(&format!(
            "mount -t glusterfs -o attribute-timeout=0,entry-timeout=0,negative-timeout=0 {HOST}:/{} {}",
            self.name,
            dir.display()
        ));
        if let Ok(mut m) = self.mounts.lock() {
            m.push(dir.clone());
        }
        dir
    }

    fn mounts_len(&self) -> usize {
        self.mounts.lock().map(|m| m.len()).unwrap_or(0)
    }

    /// GlusterFS's own count: the sum of "Number of entries" of `gluster volume heal VOL info`.
    pub fn gluster_heal_info(&self) -> (u64, String) {
        let out = gluster(&["volume", "heal", &self.name, "info"]);
        let n = out
            .lines()
            .filter_map(|l| l.strip_prefix("Number of entries:"))
            .map(|v| v.trim().parse::<u64>().unwrap_or(1_000_000))
            .fold(0u64, u64::saturating_add);
        (n, out)
    }

    /// Paths listed by `gluster volume heal VOL info` for one brick.
    pub fn gluster_heal_info_paths(&self) -> BTreeMap<String, Vec<String>> {
        let out = gluster(&["volume", "heal", &self.name, "info"]);
        let mut m: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut cur = String::new();
        for l in out.lines() {
            if let Some(b) = l.strip_prefix("Brick ") {
                cur = b.to_string();
                m.entry(cur.clone()).or_default();
            } else if l.starts_with('/') || l.starts_with("<gfid:") {
                m.entry(cur.clone()).or_default().push(l.to_string());
            }
        }
        m
    }
}

impl Drop for TestVolume {
    fn drop(&mut self) {
        let mounts = self.mounts.lock().map(|m| m.clone()).unwrap_or_default();
        for m in mounts {
            let _ = Command::new("umount").arg("-l").arg(&m).output();
            let _ = std::fs::remove_dir(&m);
        }
        let _ = Command::new("timeout")
            .arg("300")
            .arg(dev_cluster())
            .args(["down", &self.name])
            .output();
    }
}

/// One file system object of a brick, as compared between copies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Obj {
    pub kind: char,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
    pub mtime: i64,
    pub content: Option<u128>,
    pub link: Option<String>,
    pub gfid: String,
    pub user_xattrs: BTreeMap<String, String>,
}

/// The mtime GlusterFS shows for a brick object with `features.ctime` (the default): the one in
/// `trusted.glusterfs.mdata` (posix-metadata-disk.h: version u8, flags u64, then ctime, mtime,
/// atime as big-endian (sec, nsec) u64 pairs), not the backend file's.
fn mdata_mtime(hex: &str) -> Option<i64> {
    let h = hex.strip_prefix("0x")?;
    let bytes: Vec<u8> = (0..h.len() / 2)
        .filter_map(|i| u8::from_str_radix(h.get(2 * i..2 * i + 2)?, 16).ok())
        .collect();
    let sec: [u8; 8] = bytes.get(25..33)?.try_into().ok()?;
    Some(i64::from_be_bytes(sec))
}

fn xattrs_of(path: &Path) -> (String, BTreeMap<String, String>) {
    let out = Command::new("getfattr")
        .args(["-h", "-d", "-m", "-", "-e", "hex"])
        .arg(path)
        .output()
        .expect("getfattr");
    let mut gfid = String::new();
    let mut user = BTreeMap::new();
    for l in String::from_utf8_lossy(&out.stdout).lines() {
        let Some((k, v)) = l.split_once('=') else {
            continue;
        };
        if k == "trusted.gfid" {
            gfid = v.to_string();
        } else if k == "trusted.glusterfs.mdata" || k.starts_with("user.") {
            user.insert(k.to_string(), v.to_string());
        }
    }
    (gfid, user)
}

/// Every object of a brick below its root, except GlusterFS's own (`.glusterfs`, the
/// anonymous-inode directory). With `times`, mtimes are compared too.
pub fn brick_tree(brick: &Path, times: bool) -> BTreeMap<String, Obj> {
    let mut out = BTreeMap::new();
    let mut stack = vec![brick.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            let rel = p
                .strip_prefix(brick)
                .map(|r| r.display().to_string())
                .unwrap_or_default();
            if rel == ".glusterfs" || rel.starts_with(".glusterfs-anonymous-inode") {
                continue;
            }
            let Ok(md) = std::fs::symlink_metadata(&p) else {
                continue;
            };
            let ft = md.file_type();
            let kind = if ft.is_dir() {
                'd'
            } else if ft.is_symlink() {
                'l'
            } else if ft.is_file() {
                'f'
            } else {
                'o'
            };
            let content = ft.is_file().then(|| {
                let data = std::fs::read(&p).expect("read brick file");
                xxhash_rust::xxh3::xxh3_128(&data)
            });
            let link = ft.is_symlink().then(|| {
                std::fs::read_link(&p)
                    .map(|l| l.display().to_string())
                    .unwrap_or_default()
            });
            let (gfid, mut user_xattrs) = xattrs_of(&p);
            let mdata = user_xattrs.remove("trusted.glusterfs.mdata");
            let mtime = mdata
                .as_deref()
                .and_then(mdata_mtime)
                .unwrap_or_else(|| md.mtime());
            out.insert(
                rel,
                Obj {
                    kind,
                    mode: md.permissions().mode() & 0o7777,
                    uid: md.uid(),
                    gid: md.gid(),
                    size: if ft.is_dir() { 0 } else { md.size() },
                    mtime: if times && !ft.is_dir() { mtime } else { 0 },
                    content,
                    link,
                    gfid,
                    user_xattrs,
                },
            );
            if ft.is_dir() {
                stack.push(p);
            }
        }
    }
    out
}

/// Assert that every brick holds the same tree; return it.
pub fn assert_bricks_identical(bricks: &[PathBuf], times: bool) -> BTreeMap<String, Obj> {
    let first = brick_tree(&bricks[0], times);
    for b in &bricks[1..] {
        let other = brick_tree(b, times);
        if other != first {
            let mut diffs = Vec::new();
            for (k, v) in &first {
                match other.get(k) {
                    None => diffs.push(format!("{k}: missing on {}", b.display())),
                    Some(o) if o != v => diffs.push(format!("{k}: {v:?} vs {o:?}")),
                    _ => {}
                }
            }
            for k in other.keys() {
                if !first.contains_key(k) {
                    diffs.push(format!("{k}: only on {}", b.display()));
                }
            }
            panic!(
                "bricks {} and {} differ:\n{}",
                bricks[0].display(),
                b.display(),
                diffs.join("\n")
            );
        }
    }
    first
}

/// Non-zero AFR markers of a brick path.
pub fn nonzero_markers(path: &Path) -> Vec<String> {
    let out = Command::new("getfattr")
        .args(["-h", "-d", "-m", "trusted.afr", "-e", "hex"])
        .arg(path)
        .output()
        .expect("getfattr");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.starts_with("trusted.afr") && !l.ends_with("=0x000000000000000000000000"))
        .map(str::to_string)
        .collect()
}

/// Deterministic content for (file, version).
pub fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

pub fn runtime() -> tokio::runtime::Runtime {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_test_writer()
        .try_init();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .expect("runtime")
}

/// Connect the heal library to a test volume.
pub async fn heal_volume(v: &TestVolume) -> heal::HealVolume {
    let addr = heal::volume::VolumeAddr::parse(&v.addr(), None).expect("addr");
    heal::HealVolume::connect(&addr, Duration::from_secs(20))
        .await
        .expect("connect")
}

/// Index sweeps of every replica set until GlusterFS reports nothing to heal (or `timeout`).
pub async fn heal_until_clean(v: &TestVolume, hv: &heal::HealVolume, timeout: Duration) -> u64 {
    let deadline = Instant::now() + timeout;
    let mut healed = 0;
    let opts = heal::sweep::SweepOptions {
        pass_pause: Duration::from_millis(300),
        ..Default::default()
    };
    loop {
        for rs in &hv.replicas {
            healed += heal::sweep::index_sweep(rs, &opts).await.healed;
        }
        let (n, out) = v.gluster_heal_info();
        if n == 0 {
            return healed;
        }
        assert!(
            Instant::now() < deadline,
            "still pending after {timeout:?}:\n{out}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
