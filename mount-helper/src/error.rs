//! The one error type of the mount helper.

use std::path::PathBuf;

/// Exit status for a bad command line, an unknown option or a malformed value (util-linux's
/// `MNT_EX_USAGE`; mount.glusterfs also exits 1 for these).
pub const EXIT_USAGE: u8 = 1;
/// Exit status for a system error such as a failed fork or an unwritable log file (`MNT_EX_SYSERR`).
pub const EXIT_SYSERR: u8 = 2;
/// Exit status for a mount that did not happen: no server answered, the volume is missing or not
/// started, the mount point is unusable (`MNT_EX_FAIL`).
pub const EXIT_FAIL: u8 = 32;

/// Everything that can go wrong in the helper. Every message is one line, names the offending
/// option, server or path, and is what the user sees after `mount.gluster-rs: `.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The command line itself is wrong (missing arguments, unknown flag, ...).
    #[error("{0}")]
    Usage(String),

    /// `SERVER:/VOLUME[/SUBDIR]` could not be parsed.
    #[error("invalid volume spec '{spec}': {reason}")]
    InvalidSpec { spec: String, reason: String },

    /// An `-o` option nobody knows (mount.glusterfs: "Invalid option").
    #[error("unknown option '{0}'")]
    UnknownOption(String),

    /// A known option with a value that does not parse or is out of range.
    #[error("invalid value '{value}' for option '{option}': {reason}")]
    InvalidValue {
        option: String,
        value: String,
        reason: String,
    },

    /// An option that needs `=VALUE` was given without one (or with an empty one).
    #[error("option '{0}' needs a value")]
    MissingValue(String),

    /// A flag option was given a value (`ro=1`).
    #[error("option '{0}' takes no value")]
    UnexpectedValue(String),

    /// Understood, but gluster-rs does not do it (`transport=rdma`, `-N`).
    #[error("{what} is not supported by gluster-rs: {reason}")]
    Unsupported { what: String, reason: String },

    /// Two options (or an option and the spec) contradict each other.
    #[error("{0}")]
    Conflict(String),

    /// The mount point is missing, not a directory, or not allowed.
    #[error("mount point {}: {reason}", path.display())]
    Mountpoint { path: PathBuf, reason: String },

    /// A gluster mount is already on the mount point.
    #[error("{} is already mounted ({fstype}); unmount it first or pass allow-overmount", path.display())]
    AlreadyMounted { path: PathBuf, fstype: String },

    /// One volfile server did not answer (connection refused, timeout, no route, ...). The helper
    /// goes on with the next server. Returned by [`crate::Client::connect`].
    #[error("volfile server {server} did not answer: {reason}")]
    ServerUnreachable { server: String, reason: String },

    /// A server answered but will not give us the volume: it does not exist, is not started,
    /// authentication was refused. The helper stops here (other servers of the same pool would
    /// say the same). Returned by [`crate::Client::connect`].
    #[error("volume '{volume}' unavailable from {server}: {reason}")]
    VolumeUnavailable {
        volume: String,
        server: String,
        reason: String,
    },

    /// Every volfile server was tried and none answered.
    #[error("no volfile server answered for volume '{volume}' (tried {tried})")]
    NoServerAnswered { volume: String, tried: String },

    /// The volume was fetched but the FUSE mount or its first use failed, or the daemon died or
    /// timed out before reporting readiness.
    #[error("mount failed: {0}")]
    MountFailed(String),

    /// A failure the daemonized client reported back to the `mount` command over the status pipe
    /// (same message and exit code as in the client).
    #[error("{message}")]
    Reported { code: u8, message: String },

    /// A system call or file operation failed.
    #[error("{what}: {source}")]
    System {
        what: String,
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// The process exit status util-linux expects from a mount helper for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_)
            | Error::InvalidSpec { .. }
            | Error::UnknownOption(_)
            | Error::InvalidValue { .. }
            | Error::MissingValue(_)
            | Error::UnexpectedValue(_)
            | Error::Unsupported { .. }
            | Error::Conflict(_) => EXIT_USAGE,
            Error::System { .. } => EXIT_SYSERR,
            Error::Reported { code, .. } => {
                if *code == 0 {
                    EXIT_FAIL
                } else {
                    *code
                }
            }
            Error::Mountpoint { .. }
            | Error::AlreadyMounted { .. }
            | Error::ServerUnreachable { .. }
            | Error::VolumeUnavailable { .. }
            | Error::NoServerAnswered { .. }
            | Error::MountFailed(_) => EXIT_FAIL,
        }
    }

    /// True for a refusal that happens before anything is contacted or mounted (bad command line,
    /// bad option). Used by tests and by the verbose output.
    pub fn is_usage(&self) -> bool {
        self.exit_code() == EXIT_USAGE
    }

    pub(crate) fn system(what: impl Into<String>, source: std::io::Error) -> Self {
        Error::System {
            what: what.into(),
            source,
        }
    }

    pub(crate) fn invalid(option: &str, value: &str, reason: impl Into<String>) -> Self {
        Error::InvalidValue {
            option: option.to_string(),
            value: value.to_string(),
            reason: reason.into(),
        }
    }
}

/// Make a message safe to print as one line: control characters (a newline in a user-given
/// value, say) are shown escaped.
pub fn one_line(msg: &str) -> String {
    let mut out = String::with_capacity(msg.len());
    for c in msg.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}
