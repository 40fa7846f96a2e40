//! One TCP connection: calls are written straight to the socket by the caller when nothing is
//! queued before them (no task hop on the common path), otherwise by a writer task that drains the
//! queue in order; a reader task routes replies to waiting calls by xid; with ping configured, a
//! pinger and a liveness watchdog run too (GlusterFS rpc-clnt.c `saved_frames` + rpc-clnt-ping.c).

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, watch, Notify, Semaphore};
use tokio::time::{Instant, MissedTickBehavior};
use tracing::{debug, trace, warn};
use xdr::rpc::{record_header, CallHeader, OpaqueAuth, ReplyHeader};
use xdr::{Decoder, Encoder};

use crate::record::{write_nonblocking, RecordReader, MAX_FRAGMENT};
use crate::{IncomingCall, PingConfig, RpcConfig, TransportError};

/// Writes gathered into one vectored write burst, at most.
const WRITE_BATCH_BYTES: usize = 1 << 20;
const WRITE_BATCH_MSGS: usize = 64;

/// State shared by all connections of one client.
pub(crate) struct Ctx {
    pub(crate) cfg: RpcConfig,
    next_xid: AtomicU32,
    incoming: Option<mpsc::Sender<IncomingCall>>,
    /// Whether anybody took the receiving end (if not, dropped callbacks are not worth a warning).
    pub(crate) incoming_taken: AtomicBool,
}

impl Ctx {
    pub(crate) fn new(cfg: RpcConfig, incoming: Option<mpsc::Sender<IncomingCall>>) -> Self {
        Self {
            cfg,
            next_xid: AtomicU32::new(1),
            incoming,
            incoming_taken: AtomicBool::new(false),
        }
    }
}

type ReplyTx = oneshot::Sender<Result<Bytes, TransportError>>;

struct PendingState {
    calls: HashMap<u32, ReplyTx>,
    /// Why the connection died; set once.
    dead: Option<TransportError>,
    /// Since when we have been awaiting a reply without hearing from the peer or making write
    /// progress. `None` when nothing is awaited.
    waiting_since: Option<Instant>,
}

/// What is left to write of one or more records (marker + RPC header, args, payload each),
/// written without copying.
type Outgoing = VecDeque<Bytes>;

/// The sending side. Bytes reach the socket in call order: a caller writes directly only while no
/// earlier record is still queued for the writer task.
struct WriteSide {
    /// `None` once the connection failed (dropping the last handle shuts the socket down).
    half: Option<Arc<OwnedWriteHalf>>,
    /// Records handed to the writer task and not yet completely written.
    queued: usize,
}

pub(crate) struct Conn {
    generation: u64,
    peer: SocketAddr,
    ctx: Arc<Ctx>,
    tx: mpsc::UnboundedSender<Outgoing>,
    w: Mutex<WriteSide>,
    st: Mutex<PendingState>,
    slots: Arc<Semaphore>,
    closed: watch::Sender<bool>,
    /// Wakes the watchdog when a wait starts.
    armed: Notify,
}

impl Conn {
    /// Take over a connected stream and start its tasks.
    pub(crate) fn start(
        stream: TcpStream,
        peer: SocketAddr,
        generation: u64,
        ctx: Arc<Ctx>,
    ) -> Arc<Self> {
        let (rd, wr) = stream.into_split();
        let (tx, rx) = mpsc::unbounded_channel();
        let slots = ctx.cfg.max_in_flight.clamp(1, Semaphore::MAX_PERMITS);
        let ping = ctx.cfg.ping.clone();
        let conn = Arc::new(Self {
            generation,
            peer,
            ctx,
            tx,
            w: Mutex::new(WriteSide {
                half: Some(Arc::new(wr)),
                queued: 0,
            }),
            st: Mutex::new(PendingState {
                calls: HashMap::new(),
                dead: None,
                waiting_since: None,
            }),
            slots: Arc::new(Semaphore::new(slots)),
            closed: watch::Sender::new(false),
            armed: Notify::new(),
        });
        tokio::spawn(reader(conn.clone(), rd));
        tokio::spawn(writer(conn.clone(), rx));
        if let Some(p) = ping {
            tokio::spawn(pinger(conn.clone(), p));
        }
        debug!(peer = %peer, generation, "RPC connection established");
        conn
    }

    fn st(&self) -> MutexGuard<'_, PendingState> {
        // A panic while holding this lock cannot leave the map inconsistent; keep going.
        self.st.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn w(&self) -> MutexGuard<'_, WriteSide> {
        self.w.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Put one record on the wire: straight into the socket if nothing is queued before it and the
    /// socket takes it now, else (the rest of it) to the writer task.
    fn send(&self, mut rec: Outgoing) -> Result<(), TransportError> {
        let mut w = self.w();
        let Some(half) = w.half.clone() else {
            return Err(TransportError::NotConnected);
        };
        if w.queued == 0 {
            let res = write_nonblocking(&mut rec, |s| half.try_write_vectored(s), || {});
            match res {
                Ok(true) => {
                    drop(w);
                    self.note_write_progress();
                    return Ok(());
                }
                Ok(false) => {}
                Err(e) => {
                    drop(w);
                    let err = TransportError::ConnectionLost(format!("write: {e}"));
                    self.fail(err.clone());
                    return Err(err);
                }
            }
        }
        w.queued += 1;
        self.tx.send(rec).map_err(|_| TransportError::NotConnected)
    }

    pub(crate) fn generation(&self) -> u64 {
        self.generation
    }

    pub(crate) fn peer(&self) -> SocketAddr {
        self.peer
    }

    pub(crate) fn dead_reason(&self) -> Option<TransportError> {
        self.st().dead.clone()
    }

    pub(crate) fn is_dead(&self) -> bool {
        self.st().dead.is_some()
    }

    /// Wait until the connection is torn down; returns why.
    pub(crate) async fn closed(&self) -> TransportError {
        let mut rx = self.closed.subscribe();
        // The sender lives in `self`, so this only returns once the flag is set.
        let _ = rx.wait_for(|c| *c).await;
        self.dead_reason()
            .unwrap_or_else(|| TransportError::ConnectionLost("connection closed".into()))
    }

    /// Tear the connection down: every pending call gets `err`, the tasks stop, the socket closes.
    pub(crate) fn fail(&self, err: TransportError) {
        let calls = {
            let mut st = self.st();
            if st.dead.is_some() {
                return;
            }
            st.dead = Some(err.clone());
            st.waiting_since = None;
            std::mem::take(&mut st.calls)
        };
        self.w().half = None;
        self.slots.close();
        self.closed.send_replace(true);
        match err {
            TransportError::Shutdown => {
                debug!(peer = %self.peer, generation = self.generation, "RPC connection closed")
            }
            _ => warn!(
                peer = %self.peer,
                generation = self.generation,
                pending = calls.len(),
                "RPC connection down: {err}"
            ),
        }
        for (_, tx) in calls {
            let _ = tx.send(Err(err.clone()));
        }
    }

    /// Something arrived from the peer: it is alive.
    fn note_received(st: &mut PendingState) {
        st.waiting_since = if st.calls.is_empty() {
            None
        } else {
            Some(Instant::now())
        };
    }

    /// The kernel accepted more of our bytes: the peer is still draining its socket.
    fn note_write_progress(&self) {
        let mut st = self.st();
        if st.waiting_since.is_some() {
            st.waiting_since = Some(Instant::now());
        }
    }

    fn unregister(&self, xid: u32) {
        let mut st = self.st();
        if st.calls.remove(&xid).is_some() && st.calls.is_empty() {
            st.waiting_since = None;
        }
    }

    /// Send one call and wait for its reply body, within `timeout` overall (slot wait included).
    /// `use_slot: false` bypasses the in-flight limit (pings must not queue behind slow calls).
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn call(
        &self,
        prog: u32,
        vers: u32,
        proc_num: u32,
        cred: &OpaqueAuth,
        args: Bytes,
        payload: Option<Bytes>,
        timeout: Duration,
        use_slot: bool,
    ) -> Result<Bytes, TransportError> {
        let fut = self.call_inner(prog, vers, proc_num, cred, args, payload, use_slot);
        match tokio::time::timeout(timeout, fut).await {
            Ok(r) => r,
            Err(_) => {
                warn!(
                    peer = %self.peer,
                    prog, vers, proc_num,
                    "RPC call timed out after {timeout:?}"
                );
                Err(TransportError::Timeout(timeout))
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn call_inner(
        &self,
        prog: u32,
        vers: u32,
        proc_num: u32,
        cred: &OpaqueAuth,
        args: Bytes,
        payload: Option<Bytes>,
        use_slot: bool,
    ) -> Result<Bytes, TransportError> {
        let _permit = if use_slot {
            Some(
                self.slots
                    .clone()
                    .acquire_owned()
                    .await
                    .map_err(|_| TransportError::NotConnected)?,
            )
        } else {
            None
        };

        // Record marker + call header (RFC 5531 `call_body`, xdr/src/rpc.rs); the xid is patched in
        // once registered.
        let mut e = Encoder::with_capacity(48 + cred.body.len());
        e.put_raw(&[0; 4]);
        e.put(&CallHeader {
            xid: 0,
            prog,
            vers,
            proc_num,
            cred: cred.clone(),
            verf: OpaqueAuth::default(),
        });
        let mut head = e.finish();
        let total = (head.len() - 4)
            .saturating_add(args.len())
            .saturating_add(payload.as_ref().map_or(0, Bytes::len));
        if total > MAX_FRAGMENT {
            return Err(TransportError::RequestTooLarge(total));
        }
        head[..4].copy_from_slice(&record_header(total));

        let (tx, rx) = oneshot::channel();
        let xid = {
            let mut st = self.st();
            if st.dead.is_some() {
                return Err(TransportError::NotConnected);
            }
            let mut xid = self.ctx.next_xid.fetch_add(1, Ordering::Relaxed);
            while st.calls.contains_key(&xid) {
                xid = self.ctx.next_xid.fetch_add(1, Ordering::Relaxed);
            }
            st.calls.insert(xid, tx);
            if st.waiting_since.is_none() {
                st.waiting_since = Some(Instant::now());
                self.armed.notify_one();
            }
            xid
        };
        // Whatever happens from here (timeout, the caller dropping us), forget the xid on exit.
        let guard = Registered { conn: self, xid };
        head[4..8].copy_from_slice(&xid.to_be_bytes());
        trace!(peer = %self.peer, xid, prog, vers, proc_num, len = total, "RPC call");
        let mut rec = VecDeque::with_capacity(3);
        rec.push_back(head.freeze());
        rec.push_back(args);
        if let Some(p) = payload {
            rec.push_back(p);
        }
        self.send(rec)?;
        let res = rx.await;
        drop(guard);
        res.unwrap_or_else(|_| {
            Err(TransportError::ConnectionLost(
                "reply channel closed".into(),
            ))
        })
    }

    /// Route one record from the peer. An error means the stream is unusable.
    fn dispatch(&self, rec: Bytes) -> Result<(), TransportError> {
        let Some((xid, is_reply)) = ReplyHeader::peek(&rec) else {
            return Err(TransportError::Protocol(format!(
                "{}-byte record is too short for an RPC header",
                rec.len()
            )));
        };
        let mut d = Decoder::new(rec);
        if is_reply {
            let hdr: ReplyHeader = d.get().map_err(|e| {
                TransportError::Protocol(format!("malformed reply header (xid {xid:#x}): {e}"))
            })?;
            let result = match hdr.status {
                Ok(()) => Ok(d.rest()),
                Err(r) => Err(TransportError::Rejected(r)),
            };
            let tx = {
                let mut st = self.st();
                let tx = st.calls.remove(&xid);
                Self::note_received(&mut st);
                tx
            };
            match tx {
                Some(tx) => {
                    trace!(peer = %self.peer, xid, "RPC reply");
                    let _ = tx.send(result);
                }
                None => warn!(
                    peer = %self.peer,
                    xid,
                    "RPC reply for an unknown xid (late or bogus); ignored"
                ),
            }
            return Ok(());
        }
        let header: CallHeader = d.get().map_err(|e| {
            TransportError::Protocol(format!("malformed RPC message (xid {xid:#x}): {e}"))
        })?;
        Self::note_received(&mut self.st());
        self.deliver_incoming(IncomingCall {
            generation: self.generation,
            header,
            args: d.rest(),
        });
        Ok(())
    }

    fn deliver_incoming(&self, call: IncomingCall) {
        let (prog, proc_num) = (call.header.prog, call.header.proc_num);
        let Some(tx) = &self.ctx.incoming else {
            debug!(peer = %self.peer, prog, proc_num, "server-initiated call discarded");
            return;
        };
        if let Err(e) = tx.try_send(call) {
            if self.ctx.incoming_taken.load(Ordering::Relaxed) {
                let why = match e {
                    mpsc::error::TrySendError::Full(_) => "channel full",
                    mpsc::error::TrySendError::Closed(_) => "receiver dropped",
                };
                warn!(peer = %self.peer, prog, proc_num, "server-initiated call dropped: {why}");
            } else {
                debug!(peer = %self.peer, prog, proc_num, "server-initiated call discarded");
            }
        }
    }
}

/// Removes a call's xid from the pending map when the call ends in any way.
struct Registered<'a> {
    conn: &'a Conn,
    xid: u32,
}

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        self.conn.unregister(self.xid);
    }
}

async fn reader(conn: Arc<Conn>, rd: OwnedReadHalf) {
    let mut rr = RecordReader::new(rd, conn.ctx.cfg.max_record);
    let mut closed = conn.closed.subscribe();
    loop {
        let next = tokio::select! {
            r = rr.next() => r,
            _ = closed.wait_for(|c| *c) => return,
        };
        let err = match next {
            Ok(Some(rec)) => match conn.dispatch(rec) {
                Ok(()) => continue,
                Err(e) => e,
            },
            Ok(None) => TransportError::ConnectionLost("peer closed the connection".into()),
            Err(TransportError::Io(e)) => TransportError::ConnectionLost(format!("read: {e}")),
            Err(e) => e,
        };
        conn.fail(err);
        return;
    }
}

async fn writer(conn: Arc<Conn>, mut rx: mpsc::UnboundedReceiver<Outgoing>) {
    let mut closed = conn.closed.subscribe();
    loop {
        let first = tokio::select! {
            m = rx.recv() => m,
            _ = closed.wait_for(|c| *c) => None,
        };
        let Some(mut q) = first else { return };
        // Gather what else is queued into one vectored write burst.
        let mut bytes: usize = q.iter().map(Bytes::len).sum();
        let mut msgs = 1usize;
        while bytes < WRITE_BATCH_BYTES && msgs < WRITE_BATCH_MSGS {
            match rx.try_recv() {
                Ok(more) => {
                    bytes += more.iter().map(Bytes::len).sum::<usize>();
                    q.extend(more);
                    msgs += 1;
                }
                Err(_) => break,
            }
        }
        let Some(half) = conn.w().half.clone() else {
            return;
        };
        loop {
            match write_nonblocking(
                &mut q,
                |s| half.try_write_vectored(s),
                || conn.note_write_progress(),
            ) {
                Ok(true) => break,
                Ok(false) => {
                    let ready = tokio::select! {
                        r = half.writable() => r,
                        _ = closed.wait_for(|c| *c) => return,
                    };
                    if let Err(e) = ready {
                        conn.fail(TransportError::ConnectionLost(format!("write: {e}")));
                        return;
                    }
                }
                Err(e) => {
                    conn.fail(TransportError::ConnectionLost(format!("write: {e}")));
                    return;
                }
            }
        }
        let mut w = conn.w();
        w.queued = w.queued.saturating_sub(msgs);
    }
}

/// Pings every `interval` and declares the peer dead when it has been silent for `timeout` while
/// we awaited a reply (rpc-clnt-ping.c `rpc_clnt_ping_timer_expired`, which also counts recent
/// sends as activity; we count only write progress, so a stalled peer is still caught).
async fn pinger(conn: Arc<Conn>, ping: PingConfig) {
    let timeout = ping.timeout.max(Duration::from_millis(1));
    let mut closed = conn.closed.subscribe();
    let watchdog = async {
        loop {
            let since = conn.st().waiting_since;
            match since {
                Some(t) if Instant::now() >= t + timeout => {
                    conn.fail(TransportError::PingTimeout);
                    return;
                }
                Some(t) => tokio::time::sleep_until(t + timeout).await,
                None => {
                    tokio::select! {
                        _ = conn.armed.notified() => {}
                        _ = tokio::time::sleep(timeout) => {}
                    }
                }
            }
        }
    };
    let sender = async {
        let mut tick = tokio::time::interval(ping.interval.max(Duration::from_millis(1)));
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let sent = Instant::now();
            let r = conn
                .call(
                    ping.prog,
                    ping.vers,
                    ping.proc_num,
                    &ping.cred,
                    Bytes::new(),
                    None,
                    timeout,
                    false,
                )
                .await;
            match r {
                Ok(_) => trace!(peer = %conn.peer, latency = ?sent.elapsed(), "ping reply"),
                Err(e) => debug!(peer = %conn.peer, "ping failed: {e}"),
            }
        }
    };
    tokio::select! {
        _ = watchdog => {}
        _ = sender => {}
        _ = closed.wait_for(|c| *c) => {}
    }
}

/// A handle on one specific TCP connection (what the on-connect hook receives). Calls on it go to
/// that connection only, whatever the client's state; once it is down they fail.
#[derive(Clone)]
pub struct Connection {
    conn: Arc<Conn>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("peer", &self.conn.peer)
            .field("generation", &self.conn.generation)
            .field("closed", &self.is_closed())
            .finish()
    }
}

impl Connection {
    pub(crate) fn new(conn: Arc<Conn>) -> Self {
        Self { conn }
    }

    /// Increases with every connection a client makes (starting at 1): state tied to a connection
    /// (open fds, locks) must be re-established when it changes.
    pub fn generation(&self) -> u64 {
        self.conn.generation
    }

    pub fn peer_addr(&self) -> SocketAddr {
        self.conn.peer
    }

    pub fn is_closed(&self) -> bool {
        self.conn.is_dead()
    }

    /// Wait until this connection is torn down; returns why.
    pub async fn closed(&self) -> TransportError {
        self.conn.closed().await
    }

    /// Tear this connection down; its pending calls fail with `ConnectionLost`.
    pub fn disconnect(&self) {
        self.conn.fail(TransportError::ConnectionLost(
            "disconnected locally".into(),
        ));
    }

    /// Like [`RpcClient::call`](crate::RpcClient::call), on this connection.
    pub async fn call(
        &self,
        prog: u32,
        vers: u32,
        proc_num: u32,
        cred: &OpaqueAuth,
        args: Bytes,
        payload: Option<Bytes>,
    ) -> Result<Bytes, TransportError> {
        let t = self.conn.ctx.cfg.call_timeout;
        self.call_timeout(prog, vers, proc_num, cred, args, payload, t)
            .await
    }

    /// Like [`RpcClient::call_timeout`](crate::RpcClient::call_timeout), on this connection.
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
        self.conn
            .call(prog, vers, proc_num, cred, args, payload, timeout, true)
            .await
    }
}
