//! The crate's one error type. The io::Error of a variant is part of its message rather than a
//! `source()`, so that `anyhow` prints one line, not the same text twice.

use std::io;

/// Why a benchmark could not run or finish. Every message is one line.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("invalid arguments: {0}")]
    Args(String),
    #[error("cannot benchmark {path}: {error}")]
    Target { path: String, error: io::Error },
    #[error("cannot create the benchmark directory {path} (is the directory writable?): {error}")]
    Setup { path: String, error: io::Error },
    #[error("{0}")]
    Unsupported(String),
    #[error("{op} {path} failed: {error}")]
    Io {
        op: &'static str,
        path: String,
        error: io::Error,
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
    #[error("the benchmark ran but removing {path} failed: {error}")]
    Cleanup { path: String, error: io::Error },
    #[error("cannot write the report: {0}")]
    Output(io::Error),
    #[error("cannot encode the JSON report: {0}")]
    Json(serde_json::Error),
}
