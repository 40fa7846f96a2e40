//! `gluster-rs`: the command line of the native GlusterFS client.

mod files;

use anyhow::Result;
use clap::{Parser, Subcommand};

/// Same allocator as the mount daemon (see mount-helper/src/main.rs): the library-mode bench and
/// the heal worker allocate per request too.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(
    name = "gluster-rs",
    version,
    about = "Native GlusterFS client: files on a volume through gluster://HOST[:PORT]/VOLUME/PATH URLs, benchmarks, Heketi"
)]
struct Cli {
    /// Volfile servers to try after the URL's host, colon separated (as mount.glusterfs).
    #[arg(long, global = true, value_name = "H2:H3")]
    backup_volfile_servers: Option<String>,
    /// Log level (error, warn, info, debug, trace).
    #[arg(long, global = true, default_value = "warn")]
    log_level: String,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    #[command(flatten)]
    Files(files::FileCmd),
    /// Heketi-compatible volume lifecycle: client verbs (as heketi-cli) and `serve`.
    Heketi(heketi::HeketiArgs),
    /// Benchmark a mounted directory (or a volume through the library).
    Bench(bench::BenchArgs),
    /// Self-heal: heal pending entries now, `full`, `info`, `info split-brain`, `statistics`,
    /// `split-brain bigger-file|latest-mtime|source-brick`.
    Heal(heal::HealArgs),
    /// The long-lived self-heal worker for a volume (what glustershd does).
    HealDaemon(heal::HealDaemonArgs),
}

fn main() {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_new(&cli.log_level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    if let Err(e) = run(cli) {
        eprintln!("gluster-rs: {e:#}");
        std::process::exit(1);
    }
}

fn run(cli: Cli) -> Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match cli.cmd {
        Cmd::Files(f) => rt.block_on(files::run(f, cli.backup_volfile_servers.as_deref())),
        Cmd::Heketi(a) => Ok(rt.block_on(heketi::run(a))?),
        Cmd::Bench(a) => Ok(bench::run(a)?),
        Cmd::Heal(a) => Ok(rt.block_on(heal::run_heal(a, cli.backup_volfile_servers.as_deref()))?),
        Cmd::HealDaemon(mut a) => {
            a.backup_volfile_servers = cli.backup_volfile_servers.clone();
            Ok(rt.block_on(heal::run_daemon(a))?)
        }
    }
}
