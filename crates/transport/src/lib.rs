//! Async ONC RPC over TCP, the transport under every GlusterFS connection (glusterd management and
//! bricks), modelled on GlusterFS's rpc-clnt (rpc/rpc-lib/src/rpc-clnt.c, rpc-clnt-ping.c) and its
//! socket transport (rpc/rpc-transport/socket/src/socket.c).
//!
//! * One TCP connection (TCP_NODELAY) carries many calls at once, matched to replies by xid.
//!   A single writer task owns the socket's write half, so a caller that gives up (timeout, dropped
//!   future) can never leave half a record on the wire; args and payload are written with vectored
//!   writes, never copied. Replies arrive as [`Bytes`] slices of the read buffer.
//! * Records use RFC 5531 record marking; multi-fragment records are reassembled, and a record whose
//!   length (or sum of fragment lengths) exceeds [`RpcConfig::max_record`] is refused *before* any
//!   buffer is grown for it; the connection is then dropped.
//! * Every call has a deadline ([`RpcConfig::call_timeout`] or a per-call one). With [`PingConfig`],
//!   a ping is sent every `interval`, and if the peer sends nothing for `timeout` while we await a
//!   reply (and our writes make no progress either), the peer is declared dead: every pending call
//!   fails with [`TransportError::PingTimeout`] and the connection is torn down (GlusterFS's
//!   `network.ping-timeout`).
//! * [`RpcClient`] is the connection manager: it resolves the address on every (re)connect (brick
//!   ports change on restart), runs an on-connect hook (e.g. a SETVOLUME handshake) on the fresh
//!   [`Connection`] before declaring itself [`ConnState::Ready`], and after a loss reconnects with
//!   bounded exponential backoff. Calls pending at a loss fail; they are never retried here.
//! * Calls the server initiates (GlusterFS callbacks: upcalls, lock contention) are delivered on a
//!   bounded channel ([`RpcClient::take_incoming`]); when it is full they are dropped and logged.
//!
//! This crate knows no RPC program: procedure numbers, credentials and argument encodings come
//! from the caller.

mod client;
mod conn;
mod record;

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

pub use bytes::Bytes;
pub use client::RpcClient;
pub use conn::Connection;
pub use xdr::rpc::{CallHeader, OpaqueAuth, RpcReject};

/// A boxed, sendable future (what resolvers and hooks return).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Produces the address to connect to; called before every connection attempt.
pub type Resolver =
    Arc<dyn Fn() -> BoxFuture<'static, Result<SocketAddr, TransportError>> + Send + Sync>;

/// Runs on every new connection before the client is declared ready. It may make calls on the
/// given [`Connection`] (other users' calls still fail with [`TransportError::NotConnected`]);
/// an error drops the connection (and fails [`RpcClient::connect`] on the first attempt).
/// Do not capture an [`RpcClient`] of the same client in it: that cycle would keep the client
/// alive after its last user drops it.
pub type OnConnect =
    Arc<dyn Fn(Connection) -> BoxFuture<'static, Result<(), TransportError>> + Send + Sync>;

/// A resolver that always returns `addr`.
pub fn fixed_addr(addr: SocketAddr) -> Resolver {
    Arc::new(move || Box::pin(async move { Ok(addr) }))
}

/// Wrap an async closure as a [`Resolver`].
pub fn resolver_fn<F, Fut>(f: F) -> Resolver
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<SocketAddr, TransportError>> + Send + 'static,
{
    Arc::new(move || Box::pin(f()))
}

/// Wrap an async closure as an [`OnConnect`] hook.
pub fn hook_fn<F, Fut>(f: F) -> OnConnect
where
    F: Fn(Connection) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), TransportError>> + Send + 'static,
{
    Arc::new(move |c| Box::pin(f(c)))
}

/// Connection state, published on [`RpcClient::state`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnState {
    /// Resolving, connecting or running the on-connect hook.
    Connecting,
    /// Connected and the hook succeeded: calls are accepted.
    Ready,
    /// Connection lost or attempt failed; waiting to reconnect.
    Down,
    /// Shut down (or lost with reconnect disabled); no further attempts.
    Closed,
}

/// Liveness probing (GlusterFS: GF_DUMP_PING of GLUSTER_DUMP_PROGRAM, `network.ping-timeout`).
#[derive(Debug, Clone)]
pub struct PingConfig {
    pub prog: u32,
    pub vers: u32,
    pub proc_num: u32,
    /// Credential sent with pings (the C client sends AUTH_GLUSTERFS_v2).
    pub cred: OpaqueAuth,
    /// Time between pings (GlusterFS pings again `ping-timeout` after each ping reply).
    pub interval: Duration,
    /// Nothing received from the peer (ping reply or anything else) for this long while a reply is
    /// awaited, and no write progress either: the peer is dead.
    pub timeout: Duration,
}

/// Reconnect backoff: `initial`, doubling up to `max` (GlusterFS retries every 3 s).
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub initial: Duration,
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(3),
        }
    }
}

/// Transport settings.
#[derive(Debug, Clone)]
pub struct RpcConfig {
    /// Bound on resolving plus TCP connect, per attempt.
    pub connect_timeout: Duration,
    /// Bound on the whole on-connect hook.
    pub hook_timeout: Duration,
    /// Default per-call deadline (GlusterFS `network.frame-timeout`, 1800 s).
    pub call_timeout: Duration,
    /// Largest record accepted from the peer (sum of its fragments); larger ones drop the connection.
    pub max_record: usize,
    /// Calls awaiting replies per connection; further calls wait (within their deadline) for a slot.
    pub max_in_flight: usize,
    /// Server-initiated calls buffered for [`RpcClient::take_incoming`]; 0 discards them.
    pub incoming_capacity: usize,
    pub ping: Option<PingConfig>,
    /// `None`: a lost connection stays down ([`ConnState::Closed`]).
    pub reconnect: Option<Backoff>,
}

impl Default for RpcConfig {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            hook_timeout: Duration::from_secs(30),
            call_timeout: Duration::from_secs(1800),
            max_record: 64 << 20,
            max_in_flight: 4096,
            incoming_capacity: 256,
            ping: None,
            reconnect: Some(Backoff::default()),
        }
    }
}

/// A call the server sent us (GlusterFS callback program); no reply is expected by GlusterFS.
#[derive(Debug, Clone)]
pub struct IncomingCall {
    /// [`Connection::generation`] of the connection it arrived on.
    pub generation: u64,
    pub header: CallHeader,
    /// Everything after the call header.
    pub args: Bytes,
}

/// Everything that can go wrong. `Clone` so one connection failure can fail many calls.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TransportError {
    /// No ready connection; the call was not sent (GlusterFS: ENOTCONN).
    #[error("not connected")]
    NotConnected,
    /// The connection broke while the call was pending; the server may or may not have run it.
    #[error("connection lost: {0}")]
    ConnectionLost(String),
    /// The peer stopped responding within the ping timeout; the connection was torn down.
    #[error("peer did not respond within the ping timeout")]
    PingTimeout,
    /// The call's own deadline passed; the server may or may not have run it.
    #[error("call timed out after {0:?}")]
    Timeout(Duration),
    /// Resolve and TCP connect did not finish within `connect_timeout`.
    #[error("connect timed out after {0:?}")]
    ConnectTimeout(Duration),
    #[error("address resolution failed: {0}")]
    Resolve(String),
    /// The on-connect hook failed (or timed out).
    #[error("on-connect handshake failed: {0}")]
    Handshake(String),
    #[error("I/O error: {0}")]
    Io(Arc<std::io::Error>),
    /// The peer announced a record larger than `max_record`; the connection was dropped.
    #[error("peer sent a record of {len} bytes, limit is {max}")]
    RecordTooLarge { len: usize, max: usize },
    /// The peer sent something that is not valid ONC RPC; the connection was dropped.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// Our request would not fit in one record.
    #[error("request of {0} bytes is too large for one RPC record")]
    RequestTooLarge(usize),
    /// The server refused the call at the RPC level (no such program/procedure, auth, ...).
    #[error("RPC rejected: {0}")]
    Rejected(RpcReject),
    #[error(transparent)]
    Xdr(#[from] xdr::XdrError),
    #[error("client shut down")]
    Shutdown,
}

impl From<std::io::Error> for TransportError {
    fn from(e: std::io::Error) -> Self {
        Self::Io(Arc::new(e))
    }
}
