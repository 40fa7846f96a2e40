//! The workload: phases run by N threads against a [`BenchFs`], in the benchmark's own directory.
//!
//! Phases, in order (each can be skipped by group):
//! 1. big write: each thread writes its own file of `big_file_size` in `block_size` writes, then
//!    fsyncs it; the fsync is inside the timed phase.
//! 2. big read: each thread reads its file back sequentially after the file's cached pages were
//!    dropped, and checks every byte.
//! 3. random read: `random_block_size` reads at random aligned offsets of the thread's big file,
//!    O_DIRECT (buffered after posix_fadvise(DONTNEED) if the file system refuses O_DIRECT).
//! 4. random write: the same with writes, then one fsync per file inside the timed phase.
//! 5. small-file create (create + write + close, optionally + fsync), stat, read (open + read +
//!    close, after dropping cached pages), delete (unlink), `small_files` files per thread.

use crate::error::BenchError;
use crate::fs::{BenchFile, BenchFs, OpenHow};
use crate::pattern::{AlignedBuf, Pattern, Rng, CHUNK};
use crate::progress::Ui;
use crate::stats::{self, LatencySummary, ThreadOutcome};
use serde::Serialize;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Barrier, Mutex};
use std::time::{Duration, Instant};

/// How long the random phases run, per thread.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RandomLimit {
    Ops(u64),
    Time(Duration),
}

/// The workload's parameters.
#[derive(Debug, Clone)]
pub struct Config {
    pub threads: usize,
    /// Per thread.
    pub big_file_size: u64,
    pub block_size: usize,
    pub random_block_size: usize,
    pub random: RandomLimit,
    pub small_file_size: usize,
    /// Per thread.
    pub small_files: u64,
    /// Use O_DIRECT for random I/O.
    pub direct: bool,
    /// fsync each small file before closing it.
    pub fsync_small: bool,
    pub skip_big: bool,
    pub skip_random: bool,
    pub skip_small: bool,
    /// Seeds the data pattern and the random offsets.
    pub seed: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            threads: 1,
            big_file_size: 512 << 20,
            block_size: 1 << 20,
            random_block_size: 4096,
            random: RandomLimit::Time(Duration::from_secs(5)),
            small_file_size: 4096,
            small_files: 1000,
            direct: true,
            fsync_small: false,
            skip_big: false,
            skip_random: false,
            skip_small: false,
            seed: 1,
        }
    }
}

const MAX_BUFFER: usize = 1 << 30;

impl Config {
    /// Checks the parameters; the message names the flag at fault.
    pub fn validate(&self) -> Result<(), BenchError> {
        let bad = |m: &str| Err(BenchError::Args(m.to_string()));
        if self.skip_big && self.skip_random && self.skip_small {
            return bad("every phase is skipped: nothing to measure");
        }
        if self.threads == 0 || self.threads > 1024 {
            return bad("--threads must be between 1 and 1024");
        }
        if !self.skip_big || !self.skip_random {
            if self.big_file_size == 0 {
                return bad("--big-file-size must be above 0");
            }
            if self.block_size == 0 || self.block_size > MAX_BUFFER {
                return bad("--block-size must be between 1 byte and 1 GiB");
            }
        }
        if !self.skip_random {
            if self.random_block_size == 0
                || self.random_block_size & (CHUNK - 1) != 0
                || self.random_block_size > MAX_BUFFER
            {
                return bad("--random-block-size must be a multiple of 4 KiB (O_DIRECT alignment), at most 1 GiB");
            }
            if self.random_block_size as u64 > self.big_file_size {
                return bad("--random-block-size must not exceed --big-file-size");
            }
            match self.random {
                RandomLimit::Ops(0) => return bad("--random-ops must be above 0"),
                RandomLimit::Time(d) if d.is_zero() => {
                    return bad("--random-seconds must be above 0")
                }
                _ => {}
            }
        }
        if !self.skip_small {
            if self.small_files == 0 {
                return bad("--small-files must be above 0");
            }
            if self.small_file_size > MAX_BUFFER {
                return bad("--small-file-size must be at most 1 GiB");
            }
        }
        Ok(())
    }

    pub fn fsync_policy(&self) -> String {
        format!(
            "big write: one fsync per file at the end, timed; random write: {} writes, one fsync per file at the end, timed; small-file create: create+write{}+close per file{}",
            if self.direct { "O_DIRECT" } else { "buffered" },
            if self.fsync_small { "+fsync" } else { "" },
            if self.fsync_small { "" } else { ", no fsync" },
        )
    }

    pub fn cache_policy(&self) -> String {
        "before each read phase every file is opened and posix_fadvise(POSIX_FADV_DONTNEED)'d (untimed), so reads do not come from this host's page cache; random I/O uses O_DIRECT; caching inside a FUSE client daemon (e.g. GlusterFS io-cache, read-ahead) is the client's own and is measured as such".to_string()
    }
}

/// A benchmark phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    BigWrite,
    BigRead,
    RandRead,
    RandWrite,
    SmallCreate,
    SmallStat,
    SmallRead,
    SmallDelete,
}

impl Phase {
    pub const ALL: [Phase; 8] = [
        Phase::BigWrite,
        Phase::BigRead,
        Phase::RandRead,
        Phase::RandWrite,
        Phase::SmallCreate,
        Phase::SmallStat,
        Phase::SmallRead,
        Phase::SmallDelete,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Phase::BigWrite => "Write big file",
            Phase::BigRead => "Read big file",
            Phase::RandRead => "Random read",
            Phase::RandWrite => "Random write",
            Phase::SmallCreate => "Create small file",
            Phase::SmallStat => "Stat small file",
            Phase::SmallRead => "Read small file",
            Phase::SmallDelete => "Delete small file",
        }
    }

    /// Name of the headline figure in the flat `metrics` object (the names of
    /// shared/bench/workload.py where the two measure the same thing).
    pub fn metric(self) -> &'static str {
        match self {
            Phase::BigWrite => "seqwrite_MiBs",
            Phase::BigRead => "seqread_MiBs",
            Phase::RandRead => "randread_iops",
            Phase::RandWrite => "randwrite_iops",
            Phase::SmallCreate => "create_ops",
            Phase::SmallStat => "stat_ops",
            Phase::SmallRead => "read_ops",
            Phase::SmallDelete => "delete_ops",
        }
    }

    pub fn unit(self) -> &'static str {
        match self {
            Phase::BigWrite | Phase::BigRead => "MiB/s",
            Phase::RandRead | Phase::RandWrite => "IOPS",
            _ => "files/s",
        }
    }
}

/// Result of one phase.
#[derive(Debug, Clone, Serialize)]
pub struct PhaseReport {
    pub phase: Phase,
    pub title: &'static str,
    /// The headline figure, in `unit`.
    pub value: f64,
    pub unit: &'static str,
    pub ops: u64,
    pub bytes: u64,
    pub seconds: f64,
    pub ops_per_sec: f64,
    pub mib_per_sec: f64,
    /// Per operation: a block write/read for big and random phases; for small files the whole
    /// create+write+close, stat, open+read+close, or unlink.
    pub latency: LatencySummary,
    /// The fsyncs of a write phase (included in `seconds`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fsync_latency: Option<LatencySummary>,
    /// Random phases: whether O_DIRECT was in effect.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub direct_io: Option<bool>,
}

impl PhaseReport {
    fn new(phase: Phase, outcomes: &[ThreadOutcome], direct_io: Option<bool>) -> Self {
        let f = stats::reduce(outcomes);
        let value = match phase {
            Phase::BigWrite | Phase::BigRead => f.mib_per_sec,
            _ => f.ops_per_sec,
        };
        Self {
            phase,
            title: phase.title(),
            value,
            unit: phase.unit(),
            ops: f.ops,
            bytes: f.bytes,
            seconds: f.seconds,
            ops_per_sec: f.ops_per_sec,
            mib_per_sec: f.mib_per_sec,
            latency: f.latency,
            fsync_latency: f.fsync,
            direct_io,
        }
    }
}

/// Everything the phases produced.
#[derive(Debug, Clone)]
pub struct WorkloadResult {
    pub phases: Vec<PhaseReport>,
    pub notes: Vec<String>,
    pub seconds: f64,
}

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Asks running benchmarks to stop at their next operation (signal handlers call this).
pub fn request_interrupt() {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// Clears a previous interrupt request.
pub fn clear_interrupt() {
    INTERRUPTED.store(false, Ordering::SeqCst);
}

fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::Relaxed)
}

/// Per-thread recording of one phase.
pub struct Recorder<'a> {
    out: ThreadOutcome,
    counter: &'a AtomicU64,
    abort: &'a AtomicBool,
}

impl Recorder<'_> {
    /// Stops the thread when another one failed or the user interrupted.
    fn check(&self) -> Result<(), BenchError> {
        if interrupted() {
            Err(BenchError::Interrupted)
        } else if self.abort.load(Ordering::Relaxed) {
            Err(BenchError::Aborted)
        } else {
            Ok(())
        }
    }

    /// Times one operation moving `bytes` bytes.
    fn op<T>(&mut self, bytes: u64, f: impl FnOnce() -> io::Result<T>) -> io::Result<T> {
        let t0 = Instant::now();
        let r = f()?;
        self.out.latency.record_duration(t0.elapsed());
        self.out.ops += 1;
        self.out.bytes += bytes;
        self.counter.fetch_add(1, Ordering::Relaxed);
        Ok(r)
    }

    fn fsync(&mut self, f: impl FnOnce() -> io::Result<()>) -> io::Result<()> {
        let t0 = Instant::now();
        f()?;
        self.out.fsync.record_duration(t0.elapsed());
        Ok(())
    }
}

/// Runs the workload in a fresh directory `dir` (relative to the file system's root), which it
/// creates, and removes with everything in it at the end, also when a phase fails.
pub fn run_workload<F: BenchFs>(
    fs: &F,
    dir: &str,
    cfg: &Config,
    ui: Ui,
) -> Result<WorkloadResult, BenchError> {
    cfg.validate()?;
    let full = format!("{}/{}", fs.describe().trim_end_matches('/'), dir);
    fs.mkdir(dir).map_err(|error| BenchError::Setup {
        path: full.clone(),
        error,
    })?;
    let mut guard = Cleanup {
        fs,
        dir,
        armed: true,
    };
    let w = Workload {
        fs,
        cfg,
        dir,
        root: full.clone(),
        pattern: Pattern::new(cfg.seed),
        ui,
        abort: AtomicBool::new(false),
        notes: Mutex::new(Vec::new()),
        direct_refused: AtomicBool::new(false),
    };
    let t0 = Instant::now();
    let result = w.run();
    let seconds = t0.elapsed().as_secs_f64();
    guard.armed = false;
    let cleaned = crate::fs::remove_tree(fs, dir);
    let phases = match (result, cleaned) {
        (Ok(p), Ok(())) => p,
        (Ok(_), Err(error)) => return Err(BenchError::Cleanup { path: full, error }),
        (Err(e), Ok(())) => return Err(e),
        (Err(e), Err(c)) => {
            // The run's error is the one to return; the leftover directory still deserves a word.
            eprintln!("warning: could not remove {full}: {c}");
            return Err(e);
        }
    };
    let notes = w.notes.into_inner().unwrap_or_else(|p| p.into_inner());
    Ok(WorkloadResult {
        phases,
        notes,
        seconds,
    })
}

/// Removes the benchmark directory if the workload unwinds.
struct Cleanup<'a, F: BenchFs> {
    fs: &'a F,
    dir: &'a str,
    armed: bool,
}

impl<F: BenchFs> Drop for Cleanup<'_, F> {
    fn drop(&mut self) {
        if self.armed {
            let _ = crate::fs::remove_tree(self.fs, self.dir);
        }
    }
}

struct Workload<'a, F: BenchFs> {
    fs: &'a F,
    cfg: &'a Config,
    dir: &'a str,
    /// `dir` as the user sees it, for messages.
    root: String,
    pattern: Pattern,
    ui: Ui,
    abort: AtomicBool,
    notes: Mutex<Vec<String>>,
    direct_refused: AtomicBool,
}

fn big_tag(t: usize) -> u64 {
    0xB16_0000_0000 + t as u64
}

fn small_tag(t: usize, i: u64) -> u64 {
    ((t as u64 + 1) << 40) | i
}

impl<F: BenchFs> Workload<'_, F> {
    fn big(&self, t: usize) -> String {
        format!("{}/big.{t}", self.dir)
    }

    fn small_dir(&self, t: usize) -> String {
        format!("{}/small.{t}", self.dir)
    }

    fn small(&self, t: usize, i: u64) -> String {
        format!("{}/small.{t}/f{i}", self.dir)
    }

    /// The user-visible path of a relative path.
    fn shown(&self, rel: &str) -> String {
        let tail = rel.strip_prefix(self.dir).unwrap_or(rel);
        format!("{}{}", self.root, tail)
    }

    fn io(&self, op: &'static str, rel: &str) -> impl FnOnce(io::Error) -> BenchError {
        let path = self.shown(rel);
        move |error| BenchError::Io { op, path, error }
    }

    fn note(&self, n: String) {
        if let Ok(mut v) = self.notes.lock() {
            if !v.contains(&n) {
                v.push(n);
            }
        }
    }

    fn run(&self) -> Result<Vec<PhaseReport>, BenchError> {
        let cfg = self.cfg;
        let mut phases = Vec::new();
        let threads = cfg.threads as u64;
        if !cfg.skip_big || !cfg.skip_random {
            let blocks = cfg.big_file_size.div_ceil(cfg.block_size as u64);
            let title = if cfg.skip_big {
                "Preparing files"
            } else {
                Phase::BigWrite.title()
            };
            let out = self.run_phase(title, blocks.saturating_mul(threads), None, |t, rec| {
                self.write_big(t, rec)
            })?;
            if !cfg.skip_big {
                phases.push(PhaseReport::new(Phase::BigWrite, &out, None));
                self.drop_caches((0..cfg.threads).map(|t| self.big(t)).collect())?;
                let out = self.run_phase(
                    Phase::BigRead.title(),
                    blocks.saturating_mul(threads),
                    None,
                    |t, rec| self.read_big(t, rec),
                )?;
                phases.push(PhaseReport::new(Phase::BigRead, &out, None));
            }
        }
        if !cfg.skip_random {
            for (phase, write) in [(Phase::RandRead, false), (Phase::RandWrite, true)] {
                self.drop_caches((0..cfg.threads).map(|t| self.big(t)).collect())?;
                let (len, timed) = match cfg.random {
                    RandomLimit::Ops(n) => (n.saturating_mul(threads), None),
                    RandomLimit::Time(d) => (d.as_millis() as u64, Some(d)),
                };
                let out = self.run_phase(phase.title(), len, timed, |t, rec| {
                    self.random_io(t, rec, write)
                })?;
                let direct = cfg.direct && !self.direct_refused.load(Ordering::Relaxed);
                phases.push(PhaseReport::new(phase, &out, Some(direct)));
            }
        }
        if !cfg.skip_big || !cfg.skip_random {
            for b in (0..cfg.threads).map(|t| self.big(t)) {
                self.fs.unlink(&b).map_err(self.io("unlink", &b))?;
            }
        }
        if !cfg.skip_small {
            for t in 0..cfg.threads {
                let d = self.small_dir(t);
                self.fs.mkdir(&d).map_err(self.io("mkdir", &d))?;
            }
            let total = cfg.small_files.saturating_mul(threads);
            let out = self.run_phase(Phase::SmallCreate.title(), total, None, |t, rec| {
                self.small_create(t, rec)
            })?;
            phases.push(PhaseReport::new(Phase::SmallCreate, &out, None));
            let out = self.run_phase(Phase::SmallStat.title(), total, None, |t, rec| {
                self.small_stat(t, rec)
            })?;
            phases.push(PhaseReport::new(Phase::SmallStat, &out, None));
            self.run_phase("Dropping caches", total, None, |t, rec| {
                self.small_drop_cache(t, rec)
            })?;
            let out = self.run_phase(Phase::SmallRead.title(), total, None, |t, rec| {
                self.small_read(t, rec)
            })?;
            phases.push(PhaseReport::new(Phase::SmallRead, &out, None));
            let out = self.run_phase(Phase::SmallDelete.title(), total, None, |t, rec| {
                self.small_delete(t, rec)
            })?;
            phases.push(PhaseReport::new(Phase::SmallDelete, &out, None));
            for t in 0..cfg.threads {
                let d = self.small_dir(t);
                self.fs.rmdir(&d).map_err(self.io("rmdir", &d))?;
            }
        }
        Ok(phases)
    }

    /// Runs `work` on every thread at once (they start together at a barrier) and collects what
    /// each did. `timed` gives a phase that runs for a time (the bar shows time then).
    fn run_phase<W>(
        &self,
        title: &str,
        len: u64,
        timed: Option<Duration>,
        work: W,
    ) -> Result<Vec<ThreadOutcome>, BenchError>
    where
        W: Fn(usize, &mut Recorder<'_>) -> Result<(), BenchError> + Sync,
    {
        if interrupted() {
            return Err(BenchError::Interrupted);
        }
        let n = self.cfg.threads;
        let counter = AtomicU64::new(0);
        let barrier = Barrier::new(n + 1);
        let epoch = Instant::now();
        let bar = self.ui.bar(title, len, timed.is_some());
        let results: Vec<Result<ThreadOutcome, BenchError>> = std::thread::scope(|s| {
            let (work, counter, barrier, abort) = (&work, &counter, &barrier, &self.abort);
            let handles: Vec<_> = (0..n)
                .map(|t| {
                    s.spawn(move || {
                        barrier.wait();
                        let mut rec = Recorder {
                            out: ThreadOutcome {
                                start: epoch.elapsed(),
                                ..Default::default()
                            },
                            counter,
                            abort,
                        };
                        let r = work(t, &mut rec);
                        rec.out.end = epoch.elapsed();
                        if r.is_err() {
                            abort.store(true, Ordering::SeqCst);
                        }
                        r.map(|()| rec.out)
                    })
                })
                .collect();
            barrier.wait();
            while !handles.iter().all(|h| h.is_finished()) {
                std::thread::sleep(Duration::from_millis(50));
                let done = counter.load(Ordering::Relaxed);
                if timed.is_some() {
                    bar.set(epoch.elapsed().as_millis() as u64);
                    bar.message(format!("{done} ops"));
                } else {
                    bar.set(done);
                }
            }
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or(Err(BenchError::Panicked)))
                .collect()
        });
        bar.finish();
        let mut first_err = None;
        let mut outs = Vec::with_capacity(n);
        for r in results {
            match r {
                Ok(o) => outs.push(o),
                Err(BenchError::Aborted) => {}
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        }
        if let Some(e) = first_err {
            return Err(e);
        }
        if outs.len() != n {
            return Err(BenchError::Aborted);
        }
        Ok(outs)
    }

    /// Drops the cached pages of `files` (untimed), in parallel.
    fn drop_caches(&self, files: Vec<String>) -> Result<(), BenchError> {
        let n = self.cfg.threads;
        self.run_phase("Dropping caches", files.len() as u64, None, |t, rec| {
            for p in files.iter().skip(t).step_by(n) {
                rec.check()?;
                self.drop_one(p, rec)?;
            }
            Ok(())
        })
        .map(|_| ())
    }

    fn drop_one(&self, p: &str, rec: &mut Recorder<'_>) -> Result<(), BenchError> {
        let mut f = self.fs.open(p, OpenHow::READ).map_err(self.io("open", p))?;
        rec.op(0, || f.drop_cache())
            .map_err(self.io("posix_fadvise", p))?;
        f.close().map_err(self.io("close", p))
    }

    fn write_big(&self, t: usize, rec: &mut Recorder<'_>) -> Result<(), BenchError> {
        let p = self.big(t);
        let size = self.cfg.big_file_size;
        let mut f = self
            .fs
            .open(&p, OpenHow::CREATE)
            .map_err(self.io("create", &p))?;
        let mut buf = vec![0u8; self.cfg.block_size];
        let mut off = 0u64;
        while off < size {
            rec.check()?;
            let n = (size - off).min(buf.len() as u64) as usize;
            let chunk = buf.get_mut(..n).unwrap_or_default();
            self.pattern.fill(chunk, off, big_tag(t));
            rec.op(n as u64, || f.write_at(chunk, off))
                .map_err(self.io("write", &p))?;
            off += n as u64;
        }
        rec.fsync(|| f.fsync()).map_err(self.io("fsync", &p))?;
        f.close().map_err(self.io("close", &p))
    }

    fn read_big(&self, t: usize, rec: &mut Recorder<'_>) -> Result<(), BenchError> {
        let p = self.big(t);
        let size = self.cfg.big_file_size;
        let mut f = self
            .fs
            .open(&p, OpenHow::READ)
            .map_err(self.io("open", &p))?;
        let mut buf = vec![0u8; self.cfg.block_size];
        let mut off = 0u64;
        while off < size {
            rec.check()?;
            let want = (size - off).min(buf.len() as u64) as usize;
            let chunk = buf.get_mut(..want).unwrap_or_default();
            let got = rec
                .op(want as u64, || f.read_at(chunk, off))
                .map_err(self.io("read", &p))?;
            if got != want {
                return Err(BenchError::Size {
                    path: self.shown(&p),
                    expected: size,
                    got: off + got as u64,
                });
            }
            self.verify(chunk, off, big_tag(t), &p)?;
            off += want as u64;
        }
        f.close().map_err(self.io("close", &p))
    }

    fn verify(&self, buf: &[u8], off: u64, tag: u64, p: &str) -> Result<(), BenchError> {
        self.pattern
            .check(buf, off, tag)
            .map_err(|offset| BenchError::Corrupt {
                path: self.shown(p),
                offset,
            })
    }

    /// Opens for random I/O: O_DIRECT when asked, falling back to buffered I/O (with a note) when
    /// the file system refuses it with EINVAL.
    fn open_random(&self, p: &str, how: OpenHow) -> Result<F::File, BenchError> {
        if self.cfg.direct && !self.direct_refused.load(Ordering::Relaxed) {
            match self.fs.open(p, how.direct(true)) {
                Ok(f) => return Ok(f),
                Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                    self.direct_refused.store(true, Ordering::Relaxed);
                    self.note(format!(
                        "the file system refused O_DIRECT ({e}): random I/O was buffered, with posix_fadvise(DONTNEED) before each phase, and may be served partly from the page cache"
                    ));
                }
                Err(e) => return Err(self.io("open", p)(e)),
            }
        }
        let mut f = self.fs.open(p, how).map_err(self.io("open", p))?;
        f.drop_cache().map_err(self.io("posix_fadvise", p))?;
        Ok(f)
    }

    fn random_io(&self, t: usize, rec: &mut Recorder<'_>, write: bool) -> Result<(), BenchError> {
        let p = self.big(t);
        let bs = self.cfg.random_block_size;
        let how = if write { OpenHow::WRITE } else { OpenHow::READ };
        let mut f = self.open_random(&p, how)?;
        let slots = self.cfg.big_file_size / bs as u64;
        let mut rng = Rng::new(
            self.cfg.seed ^ (t as u64).wrapping_mul(0x2545_F491_4F6C_DD1D) ^ u64::from(write),
        );
        let mut buf = AlignedBuf::new(bs, CHUNK);
        let tag = big_tag(t);
        let deadline = match self.cfg.random {
            RandomLimit::Time(d) => Some(Instant::now() + d),
            RandomLimit::Ops(_) => None,
        };
        let mut done = 0u64;
        loop {
            match (deadline, self.cfg.random) {
                (Some(d), _) if Instant::now() >= d => break,
                (None, RandomLimit::Ops(n)) if done >= n => break,
                _ => {}
            }
            rec.check()?;
            let off = rng.below(slots) * bs as u64;
            if write {
                self.pattern.fill(buf.as_mut_slice(), off, tag);
                let data = buf.as_slice();
                rec.op(bs as u64, || f.write_at(data, off))
                    .map_err(self.io("write", &p))?;
            } else {
                let data = buf.as_mut_slice();
                let got = rec
                    .op(bs as u64, || f.read_at(data, off))
                    .map_err(self.io("read", &p))?;
                if got != bs {
                    return Err(BenchError::Size {
                        path: self.shown(&p),
                        expected: self.cfg.big_file_size,
                        got: off + got as u64,
                    });
                }
                self.verify(buf.as_slice(), off, tag, &p)?;
            }
            done += 1;
        }
        if write {
            rec.fsync(|| f.fsync()).map_err(self.io("fsync", &p))?;
        }
        f.close().map_err(self.io("close", &p))
    }

    fn small_create(&self, t: usize, rec: &mut Recorder<'_>) -> Result<(), BenchError> {
        let size = self.cfg.small_file_size;
        let mut buf = vec![0u8; size];
        for i in 0..self.cfg.small_files {
            rec.check()?;
            let p = self.small(t, i);
            self.pattern.fill(&mut buf, 0, small_tag(t, i));
            let data = buf.as_slice();
            let fs = self.fs;
            let fsync = self.cfg.fsync_small;
            // One op: create + write + (fsync) + close; the error names the step that failed.
            let mut step = "create";
            rec.op(size as u64, || {
                let mut f = fs.open(&p, OpenHow::CREATE)?;
                step = "write";
                if !data.is_empty() {
                    f.write_at(data, 0)?;
                }
                if fsync {
                    step = "fsync";
                    f.fsync()?;
                }
                step = "close";
                f.close()
            })
            .map_err(|e| self.io(step, &p)(e))?;
        }
        Ok(())
    }

    fn small_stat(&self, t: usize, rec: &mut Recorder<'_>) -> Result<(), BenchError> {
        let want = self.cfg.small_file_size as u64;
        for i in 0..self.cfg.small_files {
            rec.check()?;
            let p = self.small(t, i);
            let st = rec
                .op(0, || self.fs.stat(&p))
                .map_err(self.io("stat", &p))?;
            if st.size != want || st.is_dir {
                return Err(BenchError::Size {
                    path: self.shown(&p),
                    expected: want,
                    got: st.size,
                });
            }
        }
        Ok(())
    }

    fn small_drop_cache(&self, t: usize, rec: &mut Recorder<'_>) -> Result<(), BenchError> {
        for i in 0..self.cfg.small_files {
            rec.check()?;
            self.drop_one(&self.small(t, i), rec)?;
        }
        Ok(())
    }

    fn small_read(&self, t: usize, rec: &mut Recorder<'_>) -> Result<(), BenchError> {
        let size = self.cfg.small_file_size;
        let mut buf = vec![0u8; size];
        for i in 0..self.cfg.small_files {
            rec.check()?;
            let p = self.small(t, i);
            let fs = self.fs;
            let data = buf.as_mut_slice();
            let mut step = "open";
            let got = rec
                .op(size as u64, || {
                    let mut f = fs.open(&p, OpenHow::READ)?;
                    step = "read";
                    let n = f.read_at(data, 0)?;
                    step = "close";
                    f.close()?;
                    Ok(n)
                })
                .map_err(|e| self.io(step, &p)(e))?;
            if got != size {
                return Err(BenchError::Size {
                    path: self.shown(&p),
                    expected: size as u64,
                    got: got as u64,
                });
            }
            self.verify(&buf, 0, small_tag(t, i), &p)?;
        }
        Ok(())
    }

    fn small_delete(&self, t: usize, rec: &mut Recorder<'_>) -> Result<(), BenchError> {
        for i in 0..self.cfg.small_files {
            rec.check()?;
            let p = self.small(t, i);
            rec.op(0, || self.fs.unlink(&p))
                .map_err(self.io("unlink", &p))?;
        }
        Ok(())
    }
}

/// Flat headline metrics of a run (`metric name -> value`), in phase order.
pub fn metrics(phases: &[PhaseReport]) -> Vec<(&'static str, f64)> {
    phases.iter().map(|p| (p.phase.metric(), p.value)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_config_is_valid() {
        Config::default().validate().unwrap();
    }

    #[test]
    fn invalid_configs_are_refused_with_the_flag_named() {
        let msg = |c: Config| c.validate().unwrap_err().to_string();
        let d = Config::default;
        assert!(msg(Config { threads: 0, ..d() }).contains("--threads"));
        assert!(msg(Config {
            random_block_size: 1000,
            ..d()
        })
        .contains("--random-block-size"));
        assert!(msg(Config {
            big_file_size: 4096,
            random_block_size: 8192,
            ..d()
        })
        .contains("--random-block-size"));
        assert!(msg(Config {
            random: RandomLimit::Ops(0),
            ..d()
        })
        .contains("--random-ops"));
        assert!(msg(Config {
            random: RandomLimit::Time(Duration::ZERO),
            ..d()
        })
        .contains("--random-seconds"));
        assert!(msg(Config {
            small_files: 0,
            ..d()
        })
        .contains("--small-files"));
        assert!(msg(Config {
            block_size: 0,
            ..d()
        })
        .contains("--block-size"));
        assert!(msg(Config {
            skip_big: true,
            skip_random: true,
            skip_small: true,
            ..d()
        })
        .contains("nothing to measure"));
        // Skipped groups are not checked.
        Config {
            small_files: 0,
            skip_small: true,
            ..d()
        }
        .validate()
        .unwrap();
    }

    #[test]
    fn phase_names_are_distinct() {
        let mut m: Vec<_> = Phase::ALL.iter().map(|p| p.metric()).collect();
        m.sort_unstable();
        m.dedup();
        assert_eq!(m.len(), Phase::ALL.len());
    }

    #[test]
    fn tags_do_not_collide() {
        let mut all = vec![big_tag(0), big_tag(1023)];
        for t in [0usize, 1, 1023] {
            for i in [0u64, 1, 999_999] {
                all.push(small_tag(t, i));
            }
        }
        let n = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), n);
    }

    #[test]
    fn fsync_policy_mentions_small_file_choice() {
        assert!(Config::default().fsync_policy().contains("no fsync"));
        let c = Config {
            fsync_small: true,
            ..Config::default()
        };
        assert!(c.fsync_policy().contains("create+write+fsync+close"));
    }
}
