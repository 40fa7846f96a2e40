//! The client's log: a `tracing` subscriber writing to the log file at the chosen level. It uses
//! a plain mutex-guarded file (no background thread), so it can be set up before the fork and is
//! inherited by the daemon.

use std::fs::{File, OpenOptions};
use std::path::Path;
use std::sync::Mutex;

use crate::error::Error;
use crate::options::LogLevel;

/// Create the log file's directory if needed and open the file for appending.
pub fn open_log_file(path: &Path) -> Result<File, Error> {
    if let Some(dir) = path.parent() {
        if !dir.as_os_str().is_empty() && !dir.is_dir() {
            std::fs::create_dir_all(dir).map_err(|e| {
                Error::system(format!("creating log directory {}", dir.display()), e)
            })?;
        }
    }
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| Error::system(format!("opening log file {}", path.display()), e))
}

/// Install the global subscriber writing to `path` at `level` (nothing is opened for
/// [`LogLevel::None`]). Returns false if a subscriber was already installed (then nothing
/// changes).
pub fn init(path: &Path, level: LogLevel) -> Result<bool, Error> {
    if level == LogLevel::None {
        return Ok(tracing::subscriber::set_global_default(
            tracing::subscriber::NoSubscriber::default(),
        )
        .is_ok());
    }
    let file = open_log_file(path)?;
    let subscriber = tracing_subscriber::fmt()
        .with_writer(Mutex::new(file))
        .with_ansi(false)
        .with_target(false)
        .with_thread_names(true)
        .with_max_level(level.level_filter())
        .finish();
    Ok(tracing::subscriber::set_global_default(subscriber).is_ok())
}
