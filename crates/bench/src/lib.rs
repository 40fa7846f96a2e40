//! `gluster-rs bench` (work in progress).

/// `gluster-rs bench` arguments.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Directory to measure.
    pub target: String,
}

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("not implemented yet")]
    Unimplemented,
}

/// Run the benchmark.
pub fn run(_args: BenchArgs) -> Result<(), BenchError> {
    Err(BenchError::Unimplemented)
}
