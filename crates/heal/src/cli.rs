//! `gluster-rs heal ...` and `gluster-rs heal-daemon ...`.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Subcommand};
use serde::Serialize;
use tokio::sync::watch;

use crate::daemon::{self, DaemonOptions};
use crate::heal::HealStatus;
use crate::info;
use crate::splitbrain::{self, Policy};
use crate::stats::{CrawlEvent, History, DEFAULT_STATE_DIR};
use crate::sweep::{full_crawl, index_sweep, SweepOptions};
use crate::volume::{HealVolume, VolumeAddr};
use crate::{HealError, Result};

/// `gluster-rs heal URL [full | info [split-brain] | statistics [heal-count] | split-brain ...]`.
#[derive(Debug, Clone, Args)]
pub struct HealArgs {
    /// The volume: HOST:/VOLUME, or gluster://HOST/VOLUME (gluster://HOST:PORT/VOLUME).
    pub url: String,
    #[command(subcommand)]
    pub action: Option<HealAction>,
    /// Print JSON instead of GlusterFS's text.
    #[arg(long, global = true)]
    pub json: bool,
    /// Seconds to wait for the bricks to connect.
    #[arg(long, global = true, default_value_t = 20)]
    pub connect_timeout: u64,
    /// Inodes healed at once per replica set.
    #[arg(long, global = true, default_value_t = 4)]
    pub parallel: usize,
    /// Directory of the crawl statistics (shared with heal-daemon).
    #[arg(long, global = true, default_value = DEFAULT_STATE_DIR)]
    pub state_dir: PathBuf,
}

#[derive(Debug, Clone, Subcommand)]
pub enum HealAction {
    /// Crawl the whole volume and heal everything (rebuilds a replaced, empty brick).
    Full,
    /// Entries pending heal on each brick.
    Info {
        #[command(subcommand)]
        what: Option<InfoWhat>,
    },
    /// Crawl statistics of the heal worker, or the number of entries to heal per brick.
    Statistics {
        #[command(subcommand)]
        what: Option<StatisticsWhat>,
    },
    /// Resolve a split-brain with one of GlusterFS's policies.
    #[command(name = "split-brain")]
    SplitBrain {
        #[command(subcommand)]
        policy: SplitBrainPolicy,
    },
}

#[derive(Debug, Clone, Subcommand)]
pub enum InfoWhat {
    /// Only the entries in split-brain.
    #[command(name = "split-brain")]
    SplitBrain,
}

#[derive(Debug, Clone, Subcommand)]
pub enum StatisticsWhat {
    /// Entries in each brick's heal index.
    #[command(name = "heal-count")]
    HealCount,
}

#[derive(Debug, Clone, Subcommand)]
pub enum SplitBrainPolicy {
    /// The bigger copy wins (files only).
    #[command(name = "bigger-file")]
    BiggerFile {
        /// /PATH in the volume, or gfid:UUID.
        file: String,
    },
    /// The most recently modified copy wins.
    #[command(name = "latest-mtime")]
    LatestMtime { file: String },
    /// The copy on HOST:/BRICK wins; without FILE, for every split-brain entry of that brick.
    #[command(name = "source-brick")]
    SourceBrick { brick: String, file: Option<String> },
}

/// `gluster-rs heal-daemon VOLFILE-SERVER:/VOLUME`.
#[derive(Debug, Clone, Args)]
pub struct HealDaemonArgs {
    /// The volume: HOST:/VOLUME, or gluster://HOST/VOLUME (gluster://HOST:PORT/VOLUME).
    pub url: String,
    /// Sweep the indices at least every SECONDS (also whenever a brick comes back).
    #[arg(long, default_value_t = 600)]
    pub interval: u64,
    /// Directory of the crawl statistics (`gluster-rs heal URL statistics` reads it).
    #[arg(long, default_value = DEFAULT_STATE_DIR)]
    pub state_dir: PathBuf,
    /// Do not keep crawl statistics.
    #[arg(long)]
    pub no_state: bool,
    /// Inodes healed at once per replica set.
    #[arg(long, default_value_t = 4)]
    pub parallel: usize,
    /// Seconds to wait for the bricks at start (the worker keeps running if some are down).
    #[arg(long, default_value_t = 20)]
    pub connect_timeout: u64,
    /// More volfile servers, colon separated: not an argument of its own (the command line's
    /// global `--backup-volfile-servers` is meant to be copied here by the caller).
    #[arg(skip)]
    pub backup_volfile_servers: Option<String>,
}

#[derive(Serialize)]
struct SweepReport<'a> {
    volume: &'a str,
    crawl: &'a str,
    replicas: &'a [CrawlEvent],
}

fn print_json<T: Serialize>(v: &T) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

fn summarize(vol: &str, kind: &str, evs: &[CrawlEvent]) -> String {
    let mut s = String::new();
    for e in evs {
        s.push_str(&format!(
            "{} ({kind} heal on volume {vol}): healed {} entries, {} in split-brain, {} failed, {} stale index entries dropped; copied {}, {} identical blocks skipped\n",
            e.replica,
            e.healed,
            e.split_brain,
            e.heal_failed,
            e.stale,
            human_bytes(e.bytes_copied),
            e.blocks_skipped,
        ));
    }
    s
}

fn incomplete(evs: &[CrawlEvent]) -> Option<HealError> {
    let sb: u64 = evs.iter().map(|e| e.split_brain).sum();
    let failed: u64 = evs.iter().map(|e| e.heal_failed).sum();
    (sb + failed > 0).then(|| {
        HealError::Usage(format!(
            "heal incomplete: {sb} entries in split-brain, {failed} failed (see `heal URL info`)"
        ))
    })
}

/// Run one `gluster-rs heal` command.
pub async fn run_heal(args: HealArgs, backup_volfile_servers: Option<&str>) -> Result<()> {
    let addr = VolumeAddr::parse(&args.url, backup_volfile_servers)?;
    let vol = HealVolume::connect(&addr, Duration::from_secs(args.connect_timeout)).await?;
    let r = dispatch(&args, &vol).await;
    vol.shutdown().await;
    r
}

async fn dispatch(args: &HealArgs, vol: &HealVolume) -> Result<()> {
    let sweep = SweepOptions {
        parallel: args.parallel,
        ..SweepOptions::default()
    };
    match &args.action {
        None => {
            let mut evs = Vec::new();
            for rs in &vol.replicas {
                evs.push(index_sweep(rs, &sweep).await);
            }
            if let Err(e) = History::append(&args.state_dir, &vol.name, &evs) {
                tracing::debug!(error = %e, "crawl statistics not recorded");
            }
            if args.json {
                print_json(&SweepReport {
                    volume: &vol.name,
                    crawl: "index",
                    replicas: &evs,
                })?;
            } else {
                print!("{}", summarize(&vol.name, "index", &evs));
            }
            incomplete(&evs).map_or(Ok(()), Err)
        }
        Some(HealAction::Full) => {
            let bar = (!args.json && std::io::stderr().is_terminal()).then(|| {
                let pb = indicatif::ProgressBar::new(0);
                pb.set_style(
                    indicatif::ProgressStyle::with_template(
                        "{spinner} full heal {msg} [{bar:40}] {bytes}/{total_bytes} ({eta})",
                    )
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                    .progress_chars("=> "),
                );
                pb.enable_steady_tick(Duration::from_millis(200));
                pb
            });
            let mut evs = Vec::new();
            for rs in &vol.replicas {
                let mut opts = sweep.clone();
                if let Some(pb) = &bar {
                    pb.set_message(rs.name.clone());
                    pb.set_length(0);
                    pb.set_position(0);
                    let p1 = pb.clone();
                    opts.on_total = Some(Arc::new(move |t| p1.set_length(t)));
                    let p2 = pb.clone();
                    opts.progress = Some(Arc::new(move |n| p2.inc(n)));
                }
                evs.push(full_crawl(rs, &opts).await);
            }
            if let Some(pb) = &bar {
                pb.finish_and_clear();
            }
            if let Err(e) = History::append(&args.state_dir, &vol.name, &evs) {
                tracing::debug!(error = %e, "crawl statistics not recorded");
            }
            if args.json {
                print_json(&SweepReport {
                    volume: &vol.name,
                    crawl: "full",
                    replicas: &evs,
                })?;
            } else {
                print!("{}", summarize(&vol.name, "full", &evs));
            }
            incomplete(&evs).map_or(Ok(()), Err)
        }
        Some(HealAction::Info { what }) => {
            let sb = matches!(what, Some(InfoWhat::SplitBrain));
            let reports = info::heal_info(vol, sb).await;
            if args.json {
                print_json(&reports)
            } else {
                print!("{}", info::format_info(&reports, sb));
                Ok(())
            }
        }
        Some(HealAction::Statistics { what }) => match what {
            Some(StatisticsWhat::HealCount) => {
                let counts = info::heal_counts(vol).await;
                if args.json {
                    print_json(&counts)
                } else {
                    print!("{}", info::format_heal_counts(&vol.name, &counts));
                    Ok(())
                }
            }
            None => {
                let h = History::load(&args.state_dir, &vol.name)?;
                if args.json {
                    print_json(&h.unwrap_or_default())
                } else {
                    print!("{}", info::format_statistics(vol, h.as_ref()));
                    Ok(())
                }
            }
        },
        Some(HealAction::SplitBrain { policy }) => {
            let (p, file) = match policy {
                SplitBrainPolicy::BiggerFile { file } => (Policy::BiggerFile, Some(file.as_str())),
                SplitBrainPolicy::LatestMtime { file } => {
                    (Policy::LatestMtime, Some(file.as_str()))
                }
                SplitBrainPolicy::SourceBrick { brick, file } => {
                    (Policy::SourceBrick(brick.clone()), file.as_deref())
                }
            };
            let results = splitbrain::resolve(vol, &p, file).await?;
            if args.json {
                print_json(&results)?;
            } else if file.is_some() {
                for r in &results {
                    println!("{}", r.message);
                }
            } else {
                println!("Number of healed entries: {}", results.len());
            }
            match results.iter().find(|r| !r.ok) {
                Some(r) => Err(HealError::Usage(r.message.clone())),
                None => Ok(()),
            }
        }
    }
}

/// Run `gluster-rs heal-daemon` until SIGTERM or SIGINT.
pub async fn run_daemon(args: HealDaemonArgs) -> Result<()> {
    let addr = VolumeAddr::parse(&args.url, args.backup_volfile_servers.as_deref())?;
    let vol = HealVolume::connect(&addr, Duration::from_secs(args.connect_timeout)).await?;
    let opts = DaemonOptions {
        interval: Duration::from_secs(args.interval.max(1)),
        state_dir: (!args.no_state).then(|| args.state_dir.clone()),
        sweep: SweepOptions {
            parallel: args.parallel,
            on_outcome: Some(Arc::new(move |o| {
                if o.status == HealStatus::SplitBrain {
                    tracing::error!(gfid = %o.gfid, types = ?o.split_brain, "inode in split-brain; resolve with `gluster-rs heal URL split-brain ...`");
                }
            })),
            ..SweepOptions::default()
        },
    };
    let (tx, rx) = watch::channel(false);
    let signals = async {
        let term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate());
        match term {
            Ok(mut t) => {
                tokio::select! {
                    _ = t.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    };
    tracing::info!(volume = %vol.name, replicas = vol.replicas.len(), "heal worker started");
    tokio::select! {
        _ = daemon::run(&vol, opts, rx) => {}
        _ = signals => {
            tracing::info!("stopping heal worker");
            let _ = tx.send(true);
        }
    }
    vol.shutdown().await;
    Ok(())
}
