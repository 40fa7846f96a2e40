//! protocol/client for gluster-rs: the bottom of the translator stack.
//!
//! - [`mgmt`]: glusterd's management calls a client needs: GETSPEC (the volume's client volfile),
//!   tried on the volfile server and then each backup in order, and the portmapper's PORTBYBRICK.
//! - [`BrickClient`]: one connection to one brick (glusterfsd), implementing every fop of
//!   [`fop::Subvolume`] with the 4.x fop program (GLUSTER_FOP_PROGRAM version 400). It finds the
//!   brick's port through glusterd on every (re)connect, performs the SETVOLUME handshake, pings with
//!   the volume's `network.ping-timeout`, reconnects with backoff, and bounds every call.
//!
//! Calls carry AUTH_GLUSTERFS_v3 credentials with the caller's identity and, as GlusterFS's utime
//! translator does (xlators/features/utime/src/utime-helpers.c), the call's time and which of the
//! file's times the brick must update, so `trusted.glusterfs.mdata` stays right with `features.ctime`.

mod brick;
pub mod mgmt;

pub use brick::{BrickClient, BrickConfig, Locality};

/// Errors of the management calls (volfile fetch, portmap, handshake).
#[derive(Debug, Clone, thiserror::Error)]
pub enum ClientError {
    #[error("{server}: {source}")]
    Transport {
        server: String,
        #[source]
        source: transport::TransportError,
    },
    #[error("{server}: malformed reply: {detail}")]
    Protocol { server: String, detail: String },
    #[error("volume {volume} not found on {server}")]
    NoSuchVolume { server: String, volume: String },
    #[error("{server}: GETSPEC failed: {text}")]
    Getspec { server: String, text: String },
    #[error("brick {brick} is not running (portmapper on {server} knows no port for it)")]
    BrickNotRunning { server: String, brick: String },
    #[error("no volfile server answered: {0}")]
    NoServer(String),
    #[error("{server}: SETVOLUME refused: {text}")]
    Setvolume { server: String, text: String },
    #[error("cannot resolve {0}")]
    Resolve(String),
}
