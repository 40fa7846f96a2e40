//! Heketi volume lifecycle for gluster-rs.
//!
//! - [`client::HeketiClient`]: typed client of every Heketi REST route used
//!   for the volume lifecycle (the library module), with Heketi's JWT and
//!   asynchronous pattern;
//! - `gluster-rs heketi ...`: the same commands and flags as `heketi-cli`
//!   (see [`cli`]), plus `volume create ... --mount DIR`;
//! - `gluster-rs heketi serve --config heketi.json`: a Heketi-compatible
//!   server managing a GlusterFS trusted pool through glusterd
//!   (see [`server`]).

pub mod api;
pub mod cli;
pub mod client;
pub mod config;
pub mod jwt;
pub mod mount;
pub mod server;
pub mod topology;

pub use cli::HeketiArgs;

/// Errors of the heketi crate.
#[derive(Debug, thiserror::Error)]
pub enum HeketiError {
    /// Bad command line or input file.
    #[error("{0}")]
    Usage(String),
    /// Bad server configuration.
    #[error("configuration: {0}")]
    Config(String),
    /// The server answered with an error status.
    #[error("Error: {message}")]
    Http { status: u16, message: String },
    /// Network failure talking to the server.
    #[error("transport: {0}")]
    Transport(String),
    /// A wait ran out of time.
    #[error("timeout: {0}")]
    Timeout(String),
    /// The server answered something that is not Heketi's protocol.
    #[error("protocol: {0}")]
    Protocol(String),
    /// Database failure.
    #[error("database: {0}")]
    Db(String),
    /// Mounting failed.
    #[error("mount: {0}")]
    Mount(String),
    /// Other I/O failure.
    #[error("io: {0}")]
    Io(String),
}

/// Run one `gluster-rs heketi` invocation.
pub async fn run(args: HeketiArgs) -> Result<(), HeketiError> {
    cli::run(args).await
}
