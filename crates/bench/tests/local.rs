//! Runs tiny benchmarks on a temporary directory of the local file system.

use bench::{BenchArgs, BenchError, BenchFile, BenchFs, Config, FileStat, LocalFs, OpenHow, Ui};
use clap::Parser;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: BenchArgs,
}

fn args(list: &[&str]) -> BenchArgs {
    let mut v = vec!["bench"];
    v.extend_from_slice(list);
    Cli::try_parse_from(v).unwrap().args
}

struct TmpDir(PathBuf);

impl TmpDir {
    fn new(name: &str) -> Self {
        let d = std::env::temp_dir().join(format!("bench-it-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        TmpDir(d)
    }
    fn s(&self) -> &str {
        self.0.to_str().unwrap()
    }
    fn entries(&self) -> Vec<String> {
        std::fs::read_dir(&self.0)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect()
    }
}

impl Drop for TmpDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const METRICS: [&str; 8] = [
    "seqwrite_MiBs",
    "seqread_MiBs",
    "randread_iops",
    "randwrite_iops",
    "create_ops",
    "stat_ops",
    "read_ops",
    "delete_ops",
];

const TINY: [&str; 10] = [
    "--big-file-size",
    "2M",
    "--block-size",
    "256K",
    "--random-ops",
    "200",
    "--small-files",
    "50",
    "--small-file-size",
    "6000",
];

fn tiny(dir: &str, extra: &[&str]) -> BenchArgs {
    let mut v = vec![dir];
    v.extend_from_slice(&TINY);
    v.extend_from_slice(extra);
    args(&v)
}

#[test]
fn json_document_has_every_metric_positive_and_dir_is_cleaned() {
    let d = TmpDir::new("json");
    std::fs::write(d.0.join("keep-me"), b"user data").unwrap();
    let mut out = Vec::new();
    bench::run_to(tiny(d.s(), &["--json", "--threads", "2"]), &mut out).unwrap();
    // Exactly one JSON document: from_slice refuses trailing non-whitespace.
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["schema"], "gluster-rs-bench/1");
    assert_eq!(v["target"], d.s());
    assert_eq!(v["config"]["threads"], 2);
    assert_eq!(v["config"]["random_ops"], 200);
    let metrics = v["metrics"].as_object().unwrap();
    assert_eq!(metrics.len(), METRICS.len());
    for m in METRICS {
        let x = metrics[m].as_f64().unwrap();
        assert!(x > 0.0 && x.is_finite(), "{m} = {x}");
    }
    let phases = v["phases"].as_array().unwrap();
    assert_eq!(phases.len(), 8);
    for p in phases {
        let name = p["phase"].as_str().unwrap();
        for k in ["value", "ops_per_sec", "seconds"] {
            assert!(p[k].as_f64().unwrap() > 0.0, "{name}.{k}");
        }
        assert!(p["ops"].as_u64().unwrap() > 0, "{name}.ops");
        for k in ["mean_us", "min_us", "p50_us", "p90_us", "p99_us", "max_us"] {
            assert!(
                p["latency"][k].as_f64().unwrap() > 0.0,
                "{name}.latency.{k}"
            );
        }
        let lat = &p["latency"];
        assert!(lat["p50_us"].as_f64() <= lat["p99_us"].as_f64());
        assert!(lat["p99_us"].as_f64() <= lat["max_us"].as_f64());
    }
    let by = |n: &str| phases.iter().find(|p| p["phase"] == n).unwrap();
    // 2 threads x 2 MiB, 2 threads x 200 random ops, 2 x 50 small files.
    assert_eq!(by("big_write")["bytes"], 4 << 20);
    assert_eq!(by("big_write")["ops"], 16);
    assert_eq!(by("big_read")["bytes"], 4 << 20);
    assert_eq!(by("rand_read")["ops"], 400);
    assert_eq!(by("rand_write")["ops"], 400);
    assert_eq!(by("small_create")["ops"], 100);
    assert_eq!(by("small_read")["bytes"], 100 * 6000);
    assert_eq!(by("small_delete")["ops"], 100);
    // fsync time reported for the write phases; O_DIRECT works on this temp dir's file system.
    assert!(by("big_write")["fsync_latency"]["max_us"].as_f64().unwrap() > 0.0);
    assert!(
        by("rand_write")["fsync_latency"]["max_us"]
            .as_f64()
            .unwrap()
            > 0.0
    );
    assert!(by("rand_read")["direct_io"].is_boolean());
    assert!(v["fsync_policy"].as_str().unwrap().contains("fsync"));
    assert!(v["cache_policy"]
        .as_str()
        .unwrap()
        .contains("POSIX_FADV_DONTNEED"));
    assert_eq!(d.entries(), vec!["keep-me".to_string()]);
}

#[test]
fn table_output_lists_every_phase() {
    let d = TmpDir::new("table");
    let mut out = Vec::new();
    bench::run_to(tiny(d.s(), &["--fsync-small", "--no-direct"]), &mut out).unwrap();
    let t = String::from_utf8(out).unwrap();
    for title in [
        "Write big file",
        "Read big file",
        "Random read",
        "Random write",
        "Create small file",
        "Stat small file",
        "Read small file",
        "Delete small file",
    ] {
        assert!(t.contains(title), "{title} missing from\n{t}");
    }
    assert!(t.contains("create+write+fsync+close"));
    assert!(t.contains("buffered"));
    assert!(d.entries().is_empty());
}

#[test]
fn skipped_groups_are_absent_and_random_alone_prepares_its_files() {
    let d = TmpDir::new("skip");
    let mut out = Vec::new();
    let r = bench::run_to(
        tiny(d.s(), &["--json", "--skip-big", "--skip-small"]),
        &mut out,
    )
    .unwrap();
    let names: Vec<_> = r.metrics.0.iter().map(|(k, _)| *k).collect();
    assert_eq!(names, vec!["randread_iops", "randwrite_iops"]);
    assert!(d.entries().is_empty());

    let a = args(&[
        d.s(),
        "--json",
        "--skip-big",
        "--skip-small",
        "--random-seconds",
        "0.3",
        "--big-file-size",
        "1M",
    ]);
    let mut out = Vec::new();
    let r = bench::run_to(a, &mut out).unwrap();
    assert_eq!(r.phases.len(), 2);
    for p in &r.phases {
        assert!(p.seconds >= 0.3 && p.seconds < 5.0, "{}", p.seconds);
        assert!(p.ops > 0);
    }
    assert_eq!(r.config.random_seconds, Some(0.3));
    assert!(d.entries().is_empty());
}

#[test]
fn random_ops_and_random_seconds_conflict() {
    let r = Cli::try_parse_from([
        "bench",
        "/tmp",
        "--random-ops",
        "5",
        "--random-seconds",
        "1",
    ]);
    assert!(r.is_err());
}

#[test]
fn missing_and_non_directory_targets_give_one_line_errors() {
    let d = TmpDir::new("missing");
    let missing = d.0.join("nope");
    let e = bench::run_to(args(&[missing.to_str().unwrap()]), &mut Vec::new()).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, BenchError::Target { .. }), "{msg}");
    assert!(
        msg.contains("nope") && msg.contains("No such file"),
        "{msg}"
    );
    assert!(!msg.contains('\n'));

    let file = d.0.join("file");
    std::fs::write(&file, b"x").unwrap();
    let msg = bench::run_to(args(&[file.to_str().unwrap()]), &mut Vec::new())
        .unwrap_err()
        .to_string();
    assert!(msg.contains("Not a directory"), "{msg}");
}

#[test]
fn unwritable_target_says_so() {
    // /proc refuses new directories even for root.
    let e = bench::run_to(tiny("/proc", &[]), &mut Vec::new()).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, BenchError::Setup { .. }), "{msg}");
    assert!(
        msg.contains("/proc/.gluster-rs-bench-") && msg.contains("writable"),
        "{msg}"
    );
    assert!(!msg.contains('\n'));
}

#[test]
fn gluster_target_without_such_volume_fails_clearly() {
    let e = bench::run_to(
        args(&["gluster://vm/no-such-bench-volume"]),
        &mut Vec::new(),
    )
    .unwrap_err();
    assert!(matches!(e, BenchError::Target { .. }), "{e}");
    assert!(e.to_string().contains("not found"), "{e}");
    let e = bench::run_to(args(&["gluster://vm"]), &mut Vec::new()).unwrap_err();
    assert!(matches!(e, BenchError::Args(_)), "{e}");
}

#[test]
fn invalid_sizes_are_rejected_by_the_parser_or_the_config() {
    assert!(Cli::try_parse_from(["bench", "/tmp", "--block-size", "12X"]).is_err());
    let e = bench::run_to(
        tiny("/tmp", &["--random-block-size", "1000"]),
        &mut Vec::new(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("--random-block-size"), "{e}");
}

/// A LocalFs with faults injected: fails the N-th stat, or corrupts reads.
struct Faulty {
    inner: LocalFs,
    fail_stat_at: Option<u64>,
    stats: AtomicU64,
    corrupt_reads: bool,
    refuse_direct: bool,
}

struct FaultyFile {
    inner: <LocalFs as BenchFs>::File,
    corrupt: bool,
}

impl BenchFs for Faulty {
    type File = FaultyFile;
    fn describe(&self) -> String {
        self.inner.describe()
    }
    fn mkdir(&self, p: &str) -> io::Result<()> {
        self.inner.mkdir(p)
    }
    fn rmdir(&self, p: &str) -> io::Result<()> {
        self.inner.rmdir(p)
    }
    fn open(&self, p: &str, how: OpenHow) -> io::Result<FaultyFile> {
        if how.direct && self.refuse_direct {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        Ok(FaultyFile {
            inner: self.inner.open(p, how)?,
            corrupt: self.corrupt_reads,
        })
    }
    fn stat(&self, p: &str) -> io::Result<FileStat> {
        let n = self.stats.fetch_add(1, Ordering::SeqCst);
        if Some(n) == self.fail_stat_at {
            return Err(io::Error::from_raw_os_error(libc::EIO));
        }
        self.inner.stat(p)
    }
    fn unlink(&self, p: &str) -> io::Result<()> {
        self.inner.unlink(p)
    }
    fn readdir(&self, p: &str) -> io::Result<Vec<String>> {
        self.inner.readdir(p)
    }
}

impl BenchFile for FaultyFile {
    fn write_at(&mut self, buf: &[u8], off: u64) -> io::Result<()> {
        self.inner.write_at(buf, off)
    }
    fn read_at(&mut self, buf: &mut [u8], off: u64) -> io::Result<usize> {
        let n = self.inner.read_at(buf, off)?;
        if self.corrupt && n > 100 {
            buf[100] ^= 0x55;
        }
        Ok(n)
    }
    fn fsync(&mut self) -> io::Result<()> {
        self.inner.fsync()
    }
    fn drop_cache(&mut self) -> io::Result<()> {
        self.inner.drop_cache()
    }
    fn close(self) -> io::Result<()> {
        self.inner.close()
    }
}

fn small_cfg() -> Config {
    tiny("/unused", &["--seed", "7"]).config().unwrap()
}

fn faulty(dir: &Path, fail_stat_at: Option<u64>, corrupt_reads: bool) -> Faulty {
    Faulty {
        inner: LocalFs::new(dir).unwrap(),
        fail_stat_at,
        stats: AtomicU64::new(0),
        corrupt_reads,
        refuse_direct: false,
    }
}

#[test]
fn a_failing_phase_reports_the_error_and_still_cleans_up() {
    let d = TmpDir::new("fail");
    // The 11th stat is in the small-file stat phase, with files and directories in place.
    let fs = faulty(&d.0, Some(10), false);
    let e = bench::bench_fs(&fs, &small_cfg(), Ui::hidden()).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.starts_with("stat ") && msg.contains("small.0/f"),
        "{msg}"
    );
    assert!(msg.contains("Input/output error"), "{msg}");
    assert!(d.entries().is_empty(), "left behind: {:?}", d.entries());
}

#[test]
fn wrong_data_read_back_is_detected() {
    let d = TmpDir::new("corrupt");
    let fs = faulty(&d.0, None, true);
    let e = bench::bench_fs(&fs, &small_cfg(), Ui::hidden()).unwrap_err();
    match e {
        BenchError::Corrupt { path, offset } => {
            assert!(path.ends_with("big.0"), "{path}");
            assert_eq!(offset, 100);
        }
        other => panic!("expected a data check failure, got {other}"),
    }
    assert!(d.entries().is_empty());
}

#[test]
fn refused_o_direct_falls_back_with_a_note() {
    let d = TmpDir::new("nodirect");
    let fs = Faulty {
        refuse_direct: true,
        ..faulty(&d.0, None, false)
    };
    let r = bench::bench_fs(&fs, &small_cfg(), Ui::hidden()).unwrap();
    let random: Vec<_> = r
        .phases
        .iter()
        .filter(|p| matches!(p.phase, bench::Phase::RandRead | bench::Phase::RandWrite))
        .collect();
    assert_eq!(random.len(), 2);
    for p in random {
        assert_eq!(p.direct_io, Some(false));
        assert!(p.ops > 0);
    }
    assert_eq!(r.notes.len(), 1, "{:?}", r.notes);
    assert!(r.notes[0].contains("refused O_DIRECT"), "{:?}", r.notes);
    assert!(r
        .to_table()
        .contains("note: the file system refused O_DIRECT"));
    assert!(d.entries().is_empty());
}
