//! Helpers for tests against real GlusterFS 10.3 bricks: volumes from scripts/dev-cluster (torn
//! down on drop), brick pids from `gluster volume status --xml`, markers with getfattr, heal info.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use fop::{Caller, Dict, Fd, Loc, Subvolume};

pub const HOST: &str = "vm";

pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Skip (return true) when the environment cannot run real-brick tests.
pub fn skip() -> bool {
    if !is_root() || Command::new("gluster").arg("--version").output().is_err() {
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

pub fn gluster(args: &[&str]) -> String {
    run(Command::new("timeout")
        .arg("120")
        .arg("gluster")
        .arg("--mode=script")
        .args(args))
}

/// A test volume, stopped and deleted on drop.
pub struct TestVolume {
    pub name: String,
}

impl TestVolume {
    /// Create and start volume `name` (prefixed with `$GLUSTER_RS_TEST_PREFIX`, so that several
    /// people can run these tests on one host without sharing volumes).
    pub fn up(name: &str, shape: &str) -> TestVolume {
        let name = format!(
            "{}{name}",
            std::env::var("GLUSTER_RS_TEST_PREFIX").unwrap_or_default()
        );
        let name = name.as_str();
        // A leftover from an interrupted run.
        let _ = Command::new("timeout")
            .arg("300")
            .arg(dev_cluster())
            .args(["down", name])
            .output();
        run(Command::new("timeout")
            .arg("300")
            .arg(dev_cluster())
            .args(["up", name, shape]));
        TestVolume {
            name: name.to_string(),
        }
    }

    pub fn set(&self, key: &str, value: &str) {
        gluster(&["volume", "set", &self.name, key, value]);
    }

    pub fn bricks(&self) -> Vec<PathBuf> {
        run(Command::new("timeout")
            .arg("60")
            .arg(dev_cluster())
            .args(["bricks", &self.name]))
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| PathBuf::from(l.trim().rsplit_once(':').map_or(l.trim(), |(_, p)| p)))
        .collect()
    }

    /// Brick pids in brick order (None for a brick that is not running).
    pub fn brick_pids(&self) -> Vec<Option<i32>> {
        let xml = gluster(&["volume", "status", &self.name, "--xml"]);
        let mut by_path = BTreeMap::new();
        for node in xml.split("<node>").skip(1) {
            let field = |tag: &str| {
                let open = format!("<{tag}>");
                let close = format!("</{tag}>");
                let a = node.find(&open)? + open.len();
                let b = node[a..].find(&close)? + a;
                Some(node[a..b].to_string())
            };
            if let (Some(path), Some(pid)) = (field("path"), field("pid")) {
                let status = field("status").unwrap_or_default();
                let pid: i32 = pid.parse().unwrap_or(-1);
                by_path.insert(path, (pid > 0 && status == "1").then_some(pid));
            }
        }
        self.bricks()
            .iter()
            .map(|b| by_path.get(b.to_str().unwrap()).copied().flatten())
            .collect()
    }

    pub fn signal_brick(&self, i: usize, sig: &str) {
        let pid = self.brick_pids()[i].expect("brick running");
        run(Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(pid.to_string()));
    }

    /// SIGTERM brick `i` and wait until it is gone.
    pub fn kill_brick(&self, i: usize) {
        let pid = self.brick_pids()[i].expect("brick running");
        run(Command::new("kill").arg("-TERM").arg(pid.to_string()));
        let t = Instant::now();
        while Path::new(&format!("/proc/{pid}")).exists() && t.elapsed() < Duration::from_secs(30) {
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn start_force(&self) {
        gluster(&["volume", "start", &self.name, "force"]);
    }

    /// Sum of "Number of entries" over the bricks in `gluster volume heal VOL info`.
    pub fn heal_info_entries(&self) -> usize {
        let out = gluster(&["volume", "heal", &self.name, "info"]);
        out.lines()
            .filter_map(|l| l.strip_prefix("Number of entries:"))
            .map(|v| v.trim().parse::<usize>().unwrap_or(usize::MAX / 8))
            .sum()
    }

    /// Trigger glustershd and wait until heal info shows no entries.
    pub fn heal_and_wait(&self, timeout: Duration) {
        let t = Instant::now();
        loop {
            let _ = Command::new("timeout")
                .arg("60")
                .args(["gluster", "--mode=script", "volume", "heal", &self.name])
                .output();
            let n = self.heal_info_entries();
            if n == 0 {
                return;
            }
            assert!(
                t.elapsed() < timeout,
                "heal did not finish: {n} entries left"
            );
            std::thread::sleep(Duration::from_secs(3));
        }
    }
}

impl Drop for TestVolume {
    fn drop(&mut self) {
        // Resume anything a test stopped, then tear down.
        for pid in self.brick_pids().into_iter().flatten() {
            let _ = Command::new("kill")
                .arg("-CONT")
                .arg(pid.to_string())
                .output();
        }
        let _ = Command::new("umount")
            .arg("-l")
            .arg(format!("/mnt/{}", self.name))
            .output();
        let out = Command::new("timeout")
            .arg("300")
            .arg(dev_cluster())
            .args(["down", &self.name])
            .output();
        if let Ok(o) = out {
            if !o.status.success() {
                eprintln!(
                    "dev-cluster down {}: {}",
                    self.name,
                    String::from_utf8_lossy(&o.stderr)
                );
            }
        }
    }
}

/// All `trusted.*` xattrs of a brick path as hex strings (getfattr -d -m . -e hex).
pub fn xattrs(path: &Path) -> BTreeMap<String, String> {
    let out = Command::new("getfattr")
        .args(["-d", "-m", ".", "-e", "hex", "--absolute-names"])
        .arg(path)
        .output()
        .expect("getfattr");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

/// The AFR markers (`trusted.afr.*`) of a brick path that are not all zero.
pub fn nonzero_markers(path: &Path) -> BTreeMap<String, String> {
    xattrs(path)
        .into_iter()
        .filter(|(k, v)| {
            k.starts_with("trusted.afr.") && v.trim_start_matches("0x").chars().any(|c| c != '0')
        })
        .collect()
}

/// Counters (data, metadata, entry) of a marker value like 0x000000010000000000000000.
pub fn counters(hex: &str) -> [i32; 3] {
    let h = hex.trim_start_matches("0x");
    let mut out = [0; 3];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u32::from_str_radix(h.get(i * 8..i * 8 + 8).unwrap_or("0"), 16).unwrap_or(0) as i32;
    }
    out
}

pub fn runtime() -> tokio::runtime::Runtime {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap()
}

pub async fn connect(volume: &str, first_ack: bool) -> graph::Volume {
    let mut o = graph::VolumeOptions::new(vec![graph::Server::new(HOST, 24007)], volume);
    o.first_ack = first_ack;
    o.ping_timeout = Some(Duration::from_secs(10));
    graph::Volume::connect(&o)
        .await
        .unwrap_or_else(|e| panic!("connect {volume}: {e}"))
}

/// The replicate translator of a volume, built directly over its brick clients (for tests that
/// need [`afr::Afr`]'s own API, e.g. the background write count).
pub async fn direct_afr(
    volume: &str,
    first_ack: bool,
) -> (afr::Afr, Vec<Arc<client::BrickClient>>) {
    let (_server, text) = client::mgmt::fetch_volfile(&[graph::Server::new(HOST, 24007)], volume)
        .await
        .expect("volfile");
    let spec = volfile::ClientVolume::parse(&text).expect("parse");
    let r = spec
        .replicates()
        .into_iter()
        .next()
        .expect("a replica set")
        .clone();
    let mut children = Vec::new();
    let mut bricks = Vec::new();
    for c in r.clients() {
        let mut cfg = client::BrickConfig::new(c.name.clone(), HOST, c.remote_subvolume.clone());
        cfg.ping_timeout = Duration::from_secs(10);
        cfg.options = c
            .options
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let b = client::BrickClient::new(cfg);
        b.wait_ready(Duration::from_secs(20))
            .await
            .expect("brick up");
        bricks.push(b.clone());
        children.push(afr::Child::brick(b));
    }
    let mut opts = afr::AfrOptions::new(r.pending_xattrs.clone());
    opts.first_ack = first_ack;
    let a = afr::Afr::new(r.name.clone(), children, opts).expect("afr");
    for (i, b) in bricks.iter().enumerate() {
        if let Some(rx) = b.take_incoming() {
            a.spawn_callback_pump(i, rx);
        }
    }
    (a, bricks)
}

pub fn root() -> Caller {
    Caller::root()
}

/// Create `name` in the root directory of `top`.
pub async fn create(top: &dyn Subvolume, name: &str, flags: i32) -> fop::Result<Fd> {
    let c = root();
    let root_l = top
        .lookup(&c, &Loc::gfid(fop::Gfid::ROOT), &Dict::new())
        .await?;
    let loc = Loc::entry(root_l.iatt.gfid, Bytes::copy_from_slice(name.as_bytes()));
    let (fd, _) = top
        .create(
            &c,
            &loc,
            libc::O_RDWR | libc::O_CREAT | flags,
            0o644,
            0o022,
            &Dict::new(),
        )
        .await?;
    Ok(fd)
}

/// Open an existing file of the root directory.
pub async fn open(top: &dyn Subvolume, name: &str, flags: i32) -> fop::Result<Fd> {
    let c = root();
    let loc = Loc::entry(fop::Gfid::ROOT, Bytes::copy_from_slice(name.as_bytes()));
    let l = top.lookup(&c, &loc, &Dict::new()).await?;
    top.open(&c, &Loc::gfid(l.iatt.gfid), flags).await
}

pub async fn close(top: &dyn Subvolume, fd: &Fd) -> fop::Result<()> {
    let r = top.flush(&root(), fd).await;
    top.release(fd).await;
    r
}

/// Write `data` to a new file `name` in chunks of `chunk` bytes, and close it.
pub async fn put(top: &dyn Subvolume, name: &str, data: &[u8], chunk: usize) -> fop::Result<()> {
    let fd = create(top, name, 0).await?;
    let c = root();
    for (i, part) in data.chunks(chunk.max(1)).enumerate() {
        top.write(&c, &fd, (i * chunk) as u64, Bytes::copy_from_slice(part))
            .await?;
    }
    close(top, &fd).await
}

/// Read a whole file through `top`.
pub async fn get(top: &dyn Subvolume, name: &str) -> fop::Result<Vec<u8>> {
    let fd = open(top, name, libc::O_RDONLY).await?;
    let c = root();
    let mut out = Vec::new();
    loop {
        let b = top.read(&c, &fd, out.len() as u64, 128 * 1024).await?;
        if b.is_empty() {
            break;
        }
        out.extend_from_slice(&b);
    }
    top.release(&fd).await;
    Ok(out)
}

/// Deterministic test data.
pub fn pattern(len: usize, seed: u8) -> Vec<u8> {
    let mut x: u32 = 0x9e37_79b9 ^ u32::from(seed);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

/// Assert that `rel` is the same file on every brick: bytes, gfid, and no non-zero AFR markers.
pub fn assert_identical(bricks: &[PathBuf], rel: &str) -> Vec<u8> {
    let first =
        std::fs::read(bricks[0].join(rel)).unwrap_or_else(|e| panic!("{rel} on brick 0: {e}"));
    let gfid0 = xattrs(&bricks[0].join(rel)).get("trusted.gfid").cloned();
    assert!(gfid0.is_some(), "{rel} has no gfid");
    for b in bricks {
        let p = b.join(rel);
        let data = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        assert!(
            data == first,
            "{} differs from brick 0 ({} vs {} bytes)",
            p.display(),
            data.len(),
            first.len()
        );
        assert_eq!(
            xattrs(&p).get("trusted.gfid").cloned(),
            gfid0,
            "{} gfid",
            p.display()
        );
        let m = nonzero_markers(&p);
        assert!(m.is_empty(), "{} has markers {m:?}", p.display());
    }
    first
}

/// Calls per fop summed over the bricks since the last `profile info clear` (the "Cumulative
/// Stats" sections of `gluster volume profile VOL info cumulative`; rows end with the call count
/// and the fop name).
pub fn profile_counts(vol: &str) -> BTreeMap<String, u64> {
    let out = gluster(&["volume", "profile", vol, "info", "cumulative"]);
    let mut counts = BTreeMap::new();
    for line in out.lines() {
        let cols: Vec<&str> = line.split_whitespace().collect();
        if cols.len() < 6 || !cols[0].chars().all(|c| c.is_ascii_digit() || c == '.') {
            continue;
        }
        let (Some(fop), Some(n)) = (cols.last(), cols.get(cols.len() - 2)) else {
            continue;
        };
        if let Ok(n) = n.parse::<u64>() {
            *counts.entry(fop.to_string()).or_insert(0) += n;
        }
    }
    counts
}

pub fn clear_profile(vol: &str) {
    gluster(&["volume", "profile", vol, "info", "clear"]);
}

pub fn count(c: &BTreeMap<String, u64>, fop: &str) -> u64 {
    c.get(fop).copied().unwrap_or(0)
}

/// A C-client (`mount -t glusterfs`) mount of `volume` on `/mnt/VOLUME-TAG`, unmounted and its
/// directory removed on drop, also when the test fails.
pub struct CMount(PathBuf);

impl CMount {
    pub fn new(volume: &str, tag: &str) -> CMount {
        let dir = PathBuf::from(format!("/mnt/{volume}-{tag}"));
        std::fs::create_dir_all(&dir).unwrap();
        run(Command::new("timeout").arg("60").args([
            "mount",
            "-t",
            "glusterfs",
            &format!("{HOST}:/{volume}"),
            dir.to_str().unwrap_or_default(),
        ]));
        CMount(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for CMount {
    fn drop(&mut self) {
        let ok = Command::new("umount")
            .arg(&self.0)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        }
        let _ = std::fs::remove_dir(&self.0);
    }
}
