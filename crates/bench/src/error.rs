//! The crate's one error type.

use std::io;

/// Why a benchmark could not run or finish. Every message is one line.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("invalid arguments: {0}")]
    Args(String),
    #[error("cannot benchmark {path}: {source}")]
    Target { path: String, source: io::Error },
    #[error("cannot create the benchmark directory {path} (is the directory writable?): {source}")]
    Setup { path: String, source: io::Error },
    #[error("{0}")]
    Unsupported(String),
    #[error("{op} {path} failed: {source}")]
    Io {
        op: &'static str,
        path: String,
        source: io::Error,
    },
    #[error("data check failed: {path} read back wrong contents at offset {offset}")]
    Corrupt { path: String, offset: u64 },
    #[error("{path}: expected {expected} bytes, got {got}")]
    Size {
        path: String,
        expected: u64,
        got: u64,
    },
    #[error("interrupted")]
    Interrupted,
    #[error("a benchmark thread panicked")]
    Panicked,
    /// Internal: another worker failed first and this one stopped.
    #[error("stopped because another benchmark thread failed")]
    Aborted,
    #[error("the benchmark ran but removing {path} failed: {source}")]
    Cleanup { path: String, source: io::Error },
    #[error("cannot write the report: {0}")]
    Output(io::Error),
    #[error("cannot encode the JSON report: {0}")]
    Json(#[from] serde_json::Error),
}
