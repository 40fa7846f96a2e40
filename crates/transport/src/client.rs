//! The connection manager (GlusterFS rpc-clnt.c: `rpc_clnt_reconnect`, `rpc_clnt_notify`).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};
use xdr::rpc::OpaqueAuth;

use crate::conn::{Conn, Ctx};
use crate::{ConnState, Connection, IncomingCall, OnConnect, Resolver, RpcConfig, TransportError};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

struct Shared {
    ctx: Arc<Ctx>,
    resolver: Resolver,
    hook: Option<OnConnect>,
    /// The ready connection, if any.
    current: Mutex<Option<Arc<Conn>>>,
    state: watch::Sender<ConnState>,
    shutdown: watch::Sender<bool>,
    next_generation: AtomicU64,
    incoming_rx: Mutex<Option<mpsc::Receiver<IncomingCall>>>,
    manager: Mutex<Option<JoinHandle<()>>>,
}

impl Shared {
    fn is_shutdown(&self) -> bool {
        *self.shutdown.borrow()
    }

    fn set_state(&self, s: ConnState) {
        self.state.send_if_modified(|cur| {
            // Closed is final.
            if *cur == s || *cur == ConnState::Closed {
                false
            } else {
                *cur = s;
                true
            }
        });
    }

    fn begin_shutdown(&self) {
        self.shutdown.send_replace(true);
        let conn = lock(&self.current).take();
        if let Some(c) = conn {
            c.fail(TransportError::Shutdown);
        }
        self.set_state(ConnState::Closed);
    }
}

/// The user-facing owner; dropping the last [`RpcClient`] clone shuts the client down.
struct Handle {
    shared: Arc<Shared>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.shared.begin_shutdown();
    }
}

/// An RPC client for one server address (which may move: see [`Resolver`]). Cheap to clone; all
/// clones share the connection. Must be created inside a Tokio runtime.
#[derive(Clone)]
pub struct RpcClient {
    h: Arc<Handle>,
}

impl std::fmt::Debug for RpcClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RpcClient")
            .field("state", &*self.h.shared.state.borrow())
            .field("peer", &self.connection().map(|c| c.peer_addr()))
            .finish()
    }
}

impl RpcClient {
    fn build(resolver: Resolver, hook: Option<OnConnect>, cfg: RpcConfig) -> Self {
        let (itx, irx) = if cfg.incoming_capacity > 0 {
            let (t, r) = mpsc::channel(cfg.incoming_capacity);
            (Some(t), Some(r))
        } else {
            (None, None)
        };
        let shared = Arc::new(Shared {
            ctx: Arc::new(Ctx::new(cfg, itx)),
            resolver,
            hook,
            current: Mutex::new(None),
            state: watch::Sender::new(ConnState::Connecting),
            shutdown: watch::Sender::new(false),
            next_generation: AtomicU64::new(1),
            incoming_rx: Mutex::new(irx),
            manager: Mutex::new(None),
        });
        Self {
            h: Arc::new(Handle { shared }),
        }
    }

    fn spawn_manager(&self, first: Option<Arc<Conn>>) {
        let jh = tokio::spawn(manage(self.h.shared.clone(), first));
        *lock(&self.h.shared.manager) = Some(jh);
    }

    /// Connect now: resolve, connect (within `connect_timeout`), run the hook (within
    /// `hook_timeout`). Fails with that attempt's error (the hook's own error if the hook failed);
    /// on success the client is [`ConnState::Ready`] and will reconnect after losses if
    /// `cfg.reconnect` is set.
    pub async fn connect(
        resolver: Resolver,
        hook: Option<OnConnect>,
        cfg: RpcConfig,
    ) -> Result<Self, TransportError> {
        let client = Self::build(resolver, hook, cfg);
        let conn = establish(&client.h.shared).await?;
        *lock(&client.h.shared.current) = Some(conn.clone());
        client.h.shared.set_state(ConnState::Ready);
        client.spawn_manager(Some(conn));
        Ok(client)
    }

    /// Start connecting in the background and keep trying with backoff (a single attempt if
    /// `cfg.reconnect` is `None`). Use [`state`](Self::state) or [`wait_ready`](Self::wait_ready)
    /// to learn when it is usable; calls fail with [`TransportError::NotConnected`] until then.
    /// For servers that may be down at start (e.g. one brick of a replica set).
    pub fn new(resolver: Resolver, hook: Option<OnConnect>, cfg: RpcConfig) -> Self {
        let client = Self::build(resolver, hook, cfg);
        client.spawn_manager(None);
        client
    }

    pub fn config(&self) -> &RpcConfig {
        &self.h.shared.ctx.cfg
    }

    /// The current ready connection (to pin several calls to one connection, or to learn its
    /// generation and peer address).
    pub fn connection(&self) -> Option<Connection> {
        let c = lock(&self.h.shared.current).clone()?;
        (!c.is_dead()).then(|| Connection::new(c))
    }

    /// Watch the connection state (Connecting / Ready / Down / Closed).
    pub fn state(&self) -> watch::Receiver<ConnState> {
        self.h.shared.state.subscribe()
    }

    /// Wait until the client is ready (at most `timeout`) and return the ready connection;
    /// [`TransportError::NotConnected`] on timeout or once the client is closed.
    pub async fn wait_ready(&self, timeout: Duration) -> Result<Connection, TransportError> {
        let mut rx = self.state();
        let wait = async {
            loop {
                match *rx.borrow_and_update() {
                    ConnState::Ready => {
                        if let Some(c) = self.connection() {
                            return Ok(c);
                        }
                    }
                    ConnState::Closed => return Err(TransportError::NotConnected),
                    _ => {}
                }
                if rx.changed().await.is_err() {
                    return Err(TransportError::NotConnected);
                }
            }
        };
        tokio::time::timeout(timeout, wait)
            .await
            .unwrap_or(Err(TransportError::NotConnected))
    }

    /// The receiver of server-initiated calls; `Some` once (and never if `incoming_capacity` is 0).
    pub fn take_incoming(&self) -> Option<mpsc::Receiver<IncomingCall>> {
        let rx = lock(&self.h.shared.incoming_rx).take();
        if rx.is_some() {
            self.h
                .shared
                .ctx
                .incoming_taken
                .store(true, Ordering::Relaxed);
        }
        rx
    }

    /// Call a procedure with the default deadline (`cfg.call_timeout`). Returns the reply body
    /// after the RPC reply header: the procedure's results plus any trailing payload, a zero-copy
    /// slice of the received record. Fails fast with [`TransportError::NotConnected`] while not
    /// ready; RPC-level refusals are [`TransportError::Rejected`].
    pub async fn call(
        &self,
        prog: u32,
        vers: u32,
        proc_num: u32,
        cred: &OpaqueAuth,
        args: Bytes,
        payload: Option<Bytes>,
    ) -> Result<Bytes, TransportError> {
        let t = self.config().call_timeout;
        self.call_timeout(prog, vers, proc_num, cred, args, payload, t)
            .await
    }

    /// [`call`](Self::call) with its own deadline (covering the wait for an in-flight slot).
    #[allow(clippy::too_many_arguments)]
    pub async fn call_timeout(
        &self,
        prog: u32,
        vers: u32,
        proc_num: u32,
        cred: &OpaqueAuth,
        args: Bytes,
        payload: Option<Bytes>,
        timeout: Duration,
    ) -> Result<Bytes, TransportError> {
        let conn = lock(&self.h.shared.current)
            .clone()
            .ok_or(TransportError::NotConnected)?;
        conn.call(prog, vers, proc_num, cred, args, payload, timeout, true)
            .await
    }

    /// Drop the current connection (pending calls fail with `ConnectionLost`); the client then
    /// reconnects as after any loss.
    pub fn disconnect(&self) {
        if let Some(c) = lock(&self.h.shared.current).clone() {
            c.fail(TransportError::ConnectionLost(
                "disconnected locally".into(),
            ));
        }
    }

    /// Close for good: pending calls fail with [`TransportError::Shutdown`], no reconnects.
    pub async fn shutdown(&self) {
        self.h.shared.begin_shutdown();
        let jh = lock(&self.h.shared.manager).take();
        if let Some(jh) = jh {
            let _ = jh.await;
        }
    }
}

async fn connect_tcp(addr: SocketAddr) -> Result<TcpStream, TransportError> {
    let sock = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    // GlusterFS sets TCP_NODELAY and keepalive on its sockets (socket.c).
    sock.set_nodelay(true)?;
    sock.set_keepalive(true)?;
    Ok(sock.connect(addr).await?)
}

/// Fails a half-set-up connection if the attempt is abandoned (cancelled or failed).
struct Attempt(Option<Arc<Conn>>);

impl Drop for Attempt {
    fn drop(&mut self) {
        if let Some(c) = self.0.take() {
            c.fail(TransportError::Shutdown);
        }
    }
}

/// One attempt: resolve, connect, run the hook.
async fn establish(sh: &Shared) -> Result<Arc<Conn>, TransportError> {
    let cfg = &sh.ctx.cfg;
    let (addr, stream) = tokio::time::timeout(cfg.connect_timeout, async {
        let addr = (sh.resolver)().await?;
        let stream = connect_tcp(addr).await?;
        Ok::<_, TransportError>((addr, stream))
    })
    .await
    .map_err(|_| TransportError::ConnectTimeout(cfg.connect_timeout))??;
    let generation = sh.next_generation.fetch_add(1, Ordering::Relaxed);
    let conn = Conn::start(stream, addr, generation, sh.ctx.clone());
    let mut attempt = Attempt(Some(conn.clone()));
    if let Some(hook) = &sh.hook {
        let r = tokio::time::timeout(cfg.hook_timeout, hook(Connection::new(conn.clone())))
            .await
            .unwrap_or_else(|_| {
                Err(TransportError::Handshake(format!(
                    "timed out after {:?}",
                    cfg.hook_timeout
                )))
            });
        if let Err(e) = r {
            conn.fail(TransportError::Handshake(e.to_string()));
            return Err(e);
        }
    }
    if let Some(e) = conn.dead_reason() {
        return Err(e);
    }
    attempt.0 = None;
    Ok(conn)
}

/// Runs for the client's life: watches the ready connection and reconnects after losses.
async fn manage(sh: Arc<Shared>, mut conn: Option<Arc<Conn>>) {
    let mut shutdown = sh.shutdown.subscribe();
    let backoff = sh.ctx.cfg.reconnect;
    let mut delay = backoff.map(|b| b.initial.max(Duration::from_millis(1)));
    // `None` (the background start) means: attempt immediately.
    let mut first_attempt_now = conn.is_none();
    loop {
        if let Some(c) = conn.take() {
            let why = tokio::select! {
                w = c.closed() => w,
                _ = shutdown.wait_for(|s| *s) => break,
            };
            {
                let mut cur = lock(&sh.current);
                if cur.as_ref().is_some_and(|x| Arc::ptr_eq(x, &c)) {
                    *cur = None;
                }
            }
            if sh.is_shutdown() {
                break;
            }
            info!(peer = %c.peer(), generation = c.generation(), "RPC connection lost: {why}");
            delay = backoff.map(|b| b.initial.max(Duration::from_millis(1)));
        }
        if !first_attempt_now {
            let (Some(d), Some(b)) = (delay, backoff) else {
                break;
            };
            sh.set_state(ConnState::Down);
            tokio::select! {
                _ = tokio::time::sleep(d) => {}
                _ = shutdown.wait_for(|s| *s) => break,
            }
            // Doubling, capped; a zero `initial` must not spin, hence the 1 ms floor.
            delay = Some(
                d.saturating_mul(2)
                    .min(b.max)
                    .max(b.initial)
                    .max(Duration::from_millis(1)),
            );
        }
        first_attempt_now = false;
        sh.set_state(ConnState::Connecting);
        let r = tokio::select! {
            r = establish(&sh) => r,
            _ = shutdown.wait_for(|s| *s) => break,
        };
        match r {
            Ok(c) => {
                {
                    let mut cur = lock(&sh.current);
                    if sh.is_shutdown() {
                        drop(cur);
                        c.fail(TransportError::Shutdown);
                        break;
                    }
                    *cur = Some(c.clone());
                }
                debug!(peer = %c.peer(), generation = c.generation(), "RPC client ready");
                sh.set_state(ConnState::Ready);
                conn = Some(c);
            }
            Err(e) => {
                warn!("RPC connect attempt failed: {e}");
            }
        }
    }
    sh.set_state(ConnState::Closed);
}
