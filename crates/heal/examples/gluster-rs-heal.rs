//! A stand-alone front end for the heal crate, with the same arguments as `gluster-rs heal` and
//! `gluster-rs heal-daemon` (used by the crate's tests until the main binary wires them).
//!
//! ```text
//! gluster-rs-heal heal vm:/VOL [full | info [split-brain] | statistics [heal-count] | split-brain ...]
//! gluster-rs-heal heal-daemon vm:/VOL --interval 60
//! ```

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "gluster-rs-heal")]
struct Cli {
    /// Volfile servers to try after the URL's host, colon separated.
    #[arg(long, global = true)]
    backup_volfile_servers: Option<String>,
    #[arg(long, global = true, default_value = "warn")]
    log_level: String,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Heal now, report, or resolve split-brains.
    Heal(heal::HealArgs),
    /// Run the heal worker.
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
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("gluster-rs-heal: {e}");
            std::process::exit(1);
        }
    };
    let r = rt.block_on(async {
        match cli.cmd {
            Cmd::Heal(a) => heal::run_heal(a, cli.backup_volfile_servers.as_deref()).await,
            Cmd::HealDaemon(mut a) => {
                a.backup_volfile_servers = cli.backup_volfile_servers.clone();
                heal::run_daemon(a).await
            }
        }
    });
    if let Err(e) = r {
        eprintln!("gluster-rs-heal: {e}");
        std::process::exit(1);
    }
}
