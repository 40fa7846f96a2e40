//! GlusterFS volfiles: the translator graph that glusterd hands to clients (GETSPEC, or
//! `/var/lib/glusterd/vols/VOL/trusted-VOL.tcp-fuse.vol`).
//!
//! Two levels:
//! - [`Graph`]: the generic graph of [`Xlator`]s (name, type, ordered [`Options`], subvolumes)
//!   exactly as written, validated like glusterfs's own parser (`libglusterfs/src/graph.y`,
//!   `graph.l`), printable back to volfile syntax with [`std::fmt::Display`].
//! - [`ClientVolume`]: what a native client needs: the tree of [`Node`]s (distribute,
//!   replicate, protocol/client) below the top, with the pass-through translators
//!   (performance/*, debug/*, features/*) recorded as [`Layer`]s and skipped.
//!
//! Pure code, no I/O. Everything is `serde::Serialize` for a JSON view.
//!
//! ```
//! let text = "volume v-client-0\n type protocol/client\n option remote-host vm\n \
//!             option remote-subvolume /srv/b1\nend-volume\n\
//!             volume v\n type debug/io-stats\n subvolumes v-client-0\nend-volume\n";
//! let vol = volfile::ClientVolume::parse(text).unwrap();
//! assert_eq!(vol.name, "v");
//! assert_eq!(vol.clients()[0].remote_subvolume, "/srv/b1");
//! ```

mod graph;
mod lex;
mod options;
mod topology;

use std::fmt;

pub use graph::{Graph, Xlator};
pub use options::{parse_bool, parse_time_secs, parse_uint, Options};
pub use topology::{
    ClientSpec, ClientVolume, Distribute, FavoriteChildPolicy, Layer, Node, Quorum, Replicate,
    DEFAULT_PING_TIMEOUT_SECS,
};

/// Everything that can go wrong reading a volfile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VolfileError {
    /// The text does not follow the volfile grammar.
    #[error("volfile syntax error at line {line}: {message}")]
    Syntax { line: usize, message: String },
    /// The text defines no volume at all.
    #[error("volfile defines no volumes")]
    Empty,
    /// The volumes do not form a valid graph (see [`ValidationKind`]).
    #[error("invalid volfile graph: {}", join(.0))]
    Invalid(Vec<ValidationError>),
    /// The graph uses a translator the native client does not implement.
    #[error("volume '{volume}' (line {line}): translator type '{xlator_type}' is not supported: {reason}")]
    Unsupported {
        volume: String,
        xlator_type: String,
        line: usize,
        reason: String,
    },
    /// The graph is valid but not shaped like a client graph.
    #[error("volume '{volume}' (line {line}): {message}")]
    Topology {
        volume: String,
        line: usize,
        message: String,
    },
    /// An option value the client needs cannot be read.
    #[error("volume '{volume}' (line {line}): option '{key}' has invalid value {value:?}: expected {expected}")]
    BadOption {
        volume: String,
        line: usize,
        key: String,
        value: String,
        expected: &'static str,
    },
}

fn join(errs: &[ValidationError]) -> String {
    errs.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// One semantic problem in a graph, at a source line (0 when the graph was not parsed from
/// text).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ValidationError {
    pub line: usize,
    /// The volume the problem is in.
    pub volume: String,
    pub kind: ValidationKind,
}

/// The semantic checks of `graph.y` (`new_volume`, `volume_sub`, `volume_end`), plus cycle
/// detection for graphs built in code.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "error", rename_all = "snake_case")]
pub enum ValidationKind {
    /// `volume NAME` seen a second time.
    DuplicateVolume { first_line: usize },
    /// No `type` line.
    MissingType,
    /// A subvolume that no volume defines.
    UnknownSubvolume { subvolume: String },
    /// A subvolume defined only after its user (glusterfs: "not defined prior to usage").
    DefinedLater {
        subvolume: String,
        defined_at: usize,
    },
    /// A volume that lists itself as a subvolume.
    SelfReference,
    /// The same subvolume listed twice by one volume.
    DuplicateSubvolume { subvolume: String },
    /// A cycle through the subvolume relation; the path starts and ends with the same name.
    Cycle { path: Vec<String> },
    /// An empty volume name or option key.
    EmptyWord { what: &'static str },
    /// A word that cannot be written in volfile syntax because it contains a newline.
    NewlineInWord { what: &'static str },
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: volume '{}': ", self.line, self.volume)?;
        match &self.kind {
            ValidationKind::DuplicateVolume { first_line } => {
                write!(f, "defined again (first defined at line {first_line})")
            }
            ValidationKind::MissingType => write!(f, "\"type\" not specified"),
            ValidationKind::UnknownSubvolume { subvolume } => {
                write!(f, "subvolume '{subvolume}' is not defined")
            }
            ValidationKind::DefinedLater {
                subvolume,
                defined_at,
            } => write!(
                f,
                "subvolume '{subvolume}' is not defined prior to usage (defined at line {defined_at})"
            ),
            ValidationKind::SelfReference => write!(f, "has itself as subvolume"),
            ValidationKind::DuplicateSubvolume { subvolume } => {
                write!(f, "subvolume '{subvolume}' listed twice")
            }
            ValidationKind::Cycle { path } => write!(f, "cycle {}", path.join(" -> ")),
            ValidationKind::EmptyWord { what } => write!(f, "empty {what}"),
            ValidationKind::NewlineInWord { what } => write!(f, "newline in {what}"),
        }
    }
}
