//! `gluster-rs`: the command line of the native GlusterFS client.

use anyhow::Result;
use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "gluster-rs", version, about = "Native GlusterFS client")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Heketi-compatible volume lifecycle: client verbs (as heketi-cli) and `serve`.
    Heketi(heketi::HeketiArgs),
    /// Benchmark a mounted directory (or a volume through the library).
    Bench(bench::BenchArgs),
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match cli.cmd {
        Cmd::Heketi(a) => rt.block_on(heketi::run(a))?,
        Cmd::Bench(a) => bench::run(a)?,
    }
    Ok(())
}
