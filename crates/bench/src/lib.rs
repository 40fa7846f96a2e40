//! `gluster-rs bench`: throughput and metadata benchmark of a mounted directory (a gluster-rs FUSE
//! mount, a GlusterFS C-client mount, any file system).
//!
//! The workload (see [`workload`]) runs against a [`BenchFs`]; [`LocalFs`] drives a directory.
//! A native-library implementation for `gluster://HOST/VOLUME` plugs in through [`bench_fs`].
//!
//! Output: a table on stdout, or with `--json` exactly one JSON document on stdout (layout
//! [`report::SCHEMA`], described in benches/README.md). Progress bars go to stderr, only when
//! stderr is a terminal.

mod error;
pub mod fs;
pub mod gluster;
pub mod pattern;
pub mod progress;
pub mod report;
pub mod size;
pub mod stats;
pub mod target;
pub mod workload;

pub use error::BenchError;
pub use fs::{BenchFile, BenchFs, FileStat, LocalFs, OpenHow};
pub use progress::Ui;
pub use report::Report;
pub use target::Target;
pub use workload::{Config, Phase, RandomLimit};

use std::io::Write;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn size_arg(s: &str) -> Result<u64, String> {
    size::parse_size(s)
}

/// `gluster-rs bench` arguments.
#[derive(Debug, Clone, clap::Args)]
#[command(
    after_help = "Sizes take K, M, G suffixes (powers of 1024). Files are written and read by every \
thread: --big-file-size and --small-files are per thread. The benchmark works in DIR/.gluster-rs-bench-<pid>, \
which it removes at the end, also on error or Ctrl-C."
)]
pub struct BenchArgs {
    /// Directory to measure (any mounted file system), or gluster://HOST/VOLUME (not yet supported).
    #[arg(value_name = "DIR")]
    pub target: String,
    /// Concurrent threads; each has its own files.
    #[arg(short = 't', long, default_value_t = 1)]
    pub threads: usize,
    /// Size of each thread's big file.
    #[arg(long, default_value = "512M", value_parser = size_arg)]
    pub big_file_size: u64,
    /// Block size of big-file sequential I/O.
    #[arg(long, default_value = "1M", value_parser = size_arg)]
    pub block_size: u64,
    /// Block size of random I/O (a multiple of 4K).
    #[arg(long, default_value = "4K", value_parser = size_arg)]
    pub random_block_size: u64,
    /// Random I/O: operations per thread in each random phase.
    #[arg(long, conflicts_with = "random_seconds")]
    pub random_ops: Option<u64>,
    /// Random I/O: seconds each random phase runs [default: 5].
    #[arg(long)]
    pub random_seconds: Option<f64>,
    /// Size of each small file.
    #[arg(long, default_value = "4K", value_parser = size_arg)]
    pub small_file_size: u64,
    /// Number of small files per thread.
    #[arg(long, default_value_t = 1000)]
    pub small_files: u64,
    /// fsync each small file before closing it (create is otherwise create+write+close).
    #[arg(long)]
    pub fsync_small: bool,
    /// Buffered random I/O instead of O_DIRECT.
    #[arg(long)]
    pub no_direct: bool,
    /// Skip the big-file sequential write and read.
    #[arg(long)]
    pub skip_big: bool,
    /// Skip random read and write.
    #[arg(long)]
    pub skip_random: bool,
    /// Skip the small-file phases.
    #[arg(long)]
    pub skip_small: bool,
    /// Print one JSON document on stdout instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Never draw progress bars (they are drawn only when stderr is a terminal anyway).
    #[arg(long)]
    pub no_progress: bool,
    /// Seed of the data pattern and random offsets [default: from the clock].
    #[arg(long)]
    pub seed: Option<u64>,
}

impl BenchArgs {
    /// The workload parameters these arguments ask for.
    pub fn config(&self) -> Result<Config, BenchError> {
        let usize_of = |v: u64, flag: &str| {
            usize::try_from(v).map_err(|_| BenchError::Args(format!("{flag} is too large")))
        };
        let random = match (self.random_ops, self.random_seconds) {
            (Some(n), _) => RandomLimit::Ops(n),
            (None, Some(s)) => {
                if !s.is_finite() || s <= 0.0 || s > 86_400.0 {
                    return Err(BenchError::Args(
                        "--random-seconds must be above 0 and at most 86400".into(),
                    ));
                }
                RandomLimit::Time(Duration::from_secs_f64(s))
            }
            (None, None) => RandomLimit::Time(Duration::from_secs(5)),
        };
        let seed = self.seed.unwrap_or_else(|| {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64);
            now ^ u64::from(std::process::id()).rotate_left(32)
        });
        let cfg = Config {
            threads: self.threads,
            big_file_size: self.big_file_size,
            block_size: usize_of(self.block_size, "--block-size")?,
            random_block_size: usize_of(self.random_block_size, "--random-block-size")?,
            random,
            small_file_size: usize_of(self.small_file_size, "--small-file-size")?,
            small_files: self.small_files,
            direct: !self.no_direct,
            fsync_small: self.fsync_small,
            skip_big: self.skip_big,
            skip_random: self.skip_random,
            skip_small: self.skip_small,
            seed,
        };
        cfg.validate()?;
        Ok(cfg)
    }
}

/// Runs `gluster-rs bench` and prints the result on stdout.
pub fn run(args: BenchArgs) -> Result<(), BenchError> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    run_to(args, &mut out).map(|_| ())
}

/// Runs the benchmark the arguments describe and writes the table or the JSON document to `out`.
pub fn run_to(args: BenchArgs, out: &mut dyn Write) -> Result<Report, BenchError> {
    let cfg = args.config()?;
    let ui = Ui::auto(!args.no_progress);
    let report = match Target::parse(&args.target)? {
        Target::Gluster {
            host,
            volume,
            subdir,
        } => {
            let fs = gluster::GlusterFs::connect(&host, &volume, &subdir).map_err(|error| {
                BenchError::Target {
                    path: args.target.clone(),
                    error,
                }
            })?;
            let _signals = SignalGuard::install();
            bench_fs(&fs, &cfg, ui)?
        }
        Target::Local(dir) => {
            let fs = LocalFs::new(&dir).map_err(|error| BenchError::Target {
                path: dir.display().to_string(),
                error,
            })?;
            let _signals = SignalGuard::install();
            bench_fs(&fs, &cfg, ui)?
        }
    };
    let text = if args.json {
        let mut j = report.to_json().map_err(BenchError::Json)?;
        j.push('\n');
        j
    } else {
        report.to_table()
    };
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(BenchError::Output)?;
    Ok(report)
}

/// Runs the workload on any [`BenchFs`] in its directory `.gluster-rs-bench-<pid>` and builds the
/// report. This is the entry point for a file system other than a local directory.
pub fn bench_fs<F: BenchFs>(fs: &F, cfg: &Config, ui: Ui) -> Result<Report, BenchError> {
    let started_unix = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let dir = format!(".gluster-rs-bench-{}", std::process::id());
    let result = workload::run_workload(fs, &dir, cfg, ui)?;
    Ok(Report {
        schema: report::SCHEMA,
        tool: format!("gluster-rs {}", env!("CARGO_PKG_VERSION")),
        target: fs.describe(),
        started_unix,
        config: report::ConfigReport::from(cfg),
        fsync_policy: cfg.fsync_policy(),
        cache_policy: cfg.cache_policy(),
        notes: result.notes,
        total_seconds: result.seconds,
        metrics: report::Metrics(workload::metrics(&result.phases)),
        phases: result.phases,
    })
}

extern "C" fn on_signal(_sig: libc::c_int) {
    // Only async-signal-safe work: an atomic store, and signal() so a second Ctrl-C kills at once.
    workload::request_interrupt();
    // SAFETY: signal() is async-signal-safe; restoring the default action has no other effect.
    unsafe {
        libc::signal(libc::SIGINT, libc::SIG_DFL);
    }
}

/// SIGINT/SIGTERM stop the benchmark at the next operation so that it can remove its files;
/// the previous handlers come back when this is dropped.
struct SignalGuard {
    previous: [(libc::c_int, libc::sighandler_t); 2],
}

impl SignalGuard {
    fn install() -> Self {
        workload::clear_interrupt();
        let handler = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
        // SAFETY: installs a handler that only does async-signal-safe work.
        let previous =
            [libc::SIGINT, libc::SIGTERM].map(|s| (s, unsafe { libc::signal(s, handler) }));
        Self { previous }
    }
}

impl Drop for SignalGuard {
    fn drop(&mut self) {
        for (sig, h) in self.previous {
            if h != libc::SIG_ERR {
                // SAFETY: puts back the handler that was there before.
                unsafe {
                    libc::signal(sig, h);
                }
            }
        }
    }
}
