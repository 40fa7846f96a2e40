//! One brick: connection management, the SETVOLUME handshake
//! (xlators/protocol/client/src/client-handshake.c `client_setvolume`), and every fop of the 4.x
//! program (xlators/protocol/client/src/client-rpc-fops_v2.c, client-common.c).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use bytes::Bytes;
use fop::{
    Caller, Dict, DirEntry, Entry, EntryLockCmd, EntryLockType, Fd, Flock, FopError, Iatt, Loc,
    LockCmd, Lookup, PrePost, Result, Statfs, Subvolume, XattropOp,
};
use proto::auth::AuthGlusterfsV3;
use proto::consts::{lock as lk, open_flags, xattrop as xop};
use proto::fops::*;
use proto::handshake::{PingReq, SetvolumeReq};
use proto::procs::{DUMP_PROGRAM, DUMP_VERSION};
use proto::{Body, Call, OpStatus};
use tokio::sync::watch;
use transport::{
    hook_fn, resolver_fn, ConnState, Connection, PingConfig, RpcClient, RpcConfig, TransportError,
};

use crate::mgmt::{self, Server};

/// What a brick client needs to know, from its protocol/client volfile node.
#[derive(Debug, Clone)]
pub struct BrickConfig {
    /// The translator's name, e.g. `VOL-client-0` (AFR names its markers after it).
    pub name: String,
    /// `remote-host`: where glusterd and the brick run.
    pub host: String,
    /// `remote-subvolume`: the brick path.
    pub brick: String,
    /// glusterd's port on `host` (for the portmapper).
    pub glusterd_port: u16,
    /// `network.ping-timeout`.
    pub ping_timeout: Duration,
    /// Upper bound for any single call (GlusterFS `network.frame-timeout`).
    pub call_timeout: Duration,
    /// The protocol/client options as the volfile gives them: sent in SETVOLUME (auth `username` /
    /// `password`, `remote-subvolume`, ...).
    pub options: Vec<(String, String)>,
    /// The volume id (SETVOLUME `volume-id`), when known.
    pub volume_id: Option<String>,
    /// Largest reply accepted (a 1 MiB read plus headers fits easily).
    pub max_record: usize,
}

impl BrickConfig {
    pub fn new(name: impl Into<String>, host: impl Into<String>, brick: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            host: host.into(),
            brick: brick.into(),
            glusterd_port: mgmt::GLUSTERD_PORT,
            ping_timeout: Duration::from_secs(42),
            call_timeout: Duration::from_secs(1800),
            options: Vec::new(),
            volume_id: None,
            max_record: 32 << 20,
        }
    }
}

/// A connection to one brick, serving the fops.
pub struct BrickClient {
    cfg: BrickConfig,
    rpc: RpcClient,
    locality: Arc<Locality>,
}

/// Whether a brick runs on this machine, learnt from each connection's peer address: a loopback
/// address, or one a socket can be bound to (one of this machine's addresses). GlusterFS asks the
/// brick for its pathinfo and resolves the host in it (afr-common.c `afr_local_discovery_cbk`);
/// the address the connection actually reached says the same without a round trip.
#[derive(Debug, Default)]
pub struct Locality(std::sync::atomic::AtomicBool);

impl Locality {
    pub fn is_local(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    fn learn(&self, peer: std::net::SocketAddr) {
        let ip = peer.ip();
        let local =
            ip.is_loopback() || std::net::UdpSocket::bind(std::net::SocketAddr::new(ip, 0)).is_ok();
        self.0.store(local, Ordering::Relaxed);
    }
}

/// The brick-side fd, valid on the connection it was opened on.
struct BrickFd {
    remote: i64,
    generation: u64,
}

/// The fd number of an anonymous fd (GF_ANON_FD_NO, libglusterfs/src/glusterfs/fd.h): the brick
/// resolves the request's GFID and uses an fd of its own (server-resolve.c).
const ANON_FD: i64 = -2;

/// utime flags (libglusterfs/src/glusterfs/stack.h MDATA_*).
mod mdata {
    pub const CTIME: u32 = 1 << 0;
    pub const MTIME: u32 = 1 << 1;
    pub const ATIME: u32 = 1 << 2;
    pub const PAR_CTIME: u32 = 1 << 3;
    pub const PAR_MTIME: u32 = 1 << 4;
    pub const NEW_ENTRY: u32 = ATIME | CTIME | MTIME | PAR_CTIME | PAR_MTIME;
    pub const REMOVE_ENTRY: u32 = CTIME | PAR_CTIME | PAR_MTIME;
}

static SETVOL_COUNT: AtomicU64 = AtomicU64::new(0);

fn process_uuid(name: &str) -> String {
    static UUID: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let ctx = UUID.get_or_init(|| uuid::Uuid::new_v4().to_string());
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    // GLUSTER_PROCESS_UUID_FMT (libglusterfs/src/glusterfs/globals.h).
    format!(
        "CTX_ID:{ctx}-GRAPH_ID:0-PID:{}-HOST:{host}-PC_NAME:{name}-RECON_NO:-{}",
        std::process::id(),
        SETVOL_COUNT.fetch_add(1, Ordering::Relaxed)
    )
}

fn map_transport(name: &str, e: TransportError) -> FopError {
    match e {
        TransportError::NotConnected
        | TransportError::ConnectionLost(_)
        | TransportError::PingTimeout
        | TransportError::Shutdown
        | TransportError::ConnectTimeout(_)
        | TransportError::Resolve(_)
        | TransportError::Handshake(_)
        | TransportError::Io(_) => FopError::NotConnected(format!("{name}: {e}")),
        TransportError::Timeout(_) => FopError::Timeout(format!("{name}: {e}")),
        other => FopError::Protocol(format!("{name}: {other}")),
    }
}

fn now() -> (u64, u32) {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    (d.as_secs(), d.subsec_nanos())
}

fn opt(d: &Dict) -> Option<Dict> {
    (!d.is_empty()).then(|| d.clone())
}

/// [`opt`] without the hints layers of this client pass each other ([`fop::WRITE_EXPECTED_KEY`]).
fn opt_new_entry(d: &Dict) -> Option<Dict> {
    let mut d = opt(d)?;
    d.remove(fop::WRITE_EXPECTED_KEY);
    (!d.is_empty()).then_some(d)
}

fn lock_cmd(c: LockCmd) -> u32 {
    match c {
        LockCmd::GetLk => lk::GF_LK_GETLK,
        LockCmd::SetLk => lk::GF_LK_SETLK,
        LockCmd::SetLkW => lk::GF_LK_SETLKW,
    }
}

fn lock_type(l: &Flock) -> u32 {
    lk::gf_type_from_fcntl(l.l_type as i32)
}

fn xattrop_flag(op: XattropOp) -> u32 {
    match op {
        XattropOp::AddArray => xop::ADD_ARRAY,
        XattropOp::AddArray64 => xop::ADD_ARRAY64,
        XattropOp::AddArrayWithDefault => xop::ADD_ARRAY_WITH_DEFAULT,
        XattropOp::Or => xop::OR_ARRAY,
        XattropOp::And => xop::AND_ARRAY,
        XattropOp::GetAndSet => xop::GET_AND_SET,
    }
}

impl BrickClient {
    /// Start connecting in the background (a brick may be down now and come back later). Calls fail
    /// with ENOTCONN until the handshake is done; [`BrickClient::wait_ready`] waits for it.
    pub fn new(cfg: BrickConfig) -> Arc<Self> {
        let server = Server::new(cfg.host.clone(), cfg.glusterd_port);
        let brick = cfg.brick.clone();
        let host = cfg.host.clone();
        let resolver = resolver_fn(move || {
            let server = server.clone();
            let brick = brick.clone();
            let host = host.clone();
            async move {
                let port = mgmt::port_by_brick(&server, &brick)
                    .await
                    .map_err(|e| TransportError::Resolve(e.to_string()))?;
                mgmt::resolve(&host, port)
                    .await
                    .map_err(|e| TransportError::Resolve(e.to_string()))
            }
        });
        let hs_cfg = cfg.clone();
        let locality = Arc::new(Locality::default());
        let hs_locality = locality.clone();
        let hook = hook_fn(move |conn: Connection| {
            let cfg = hs_cfg.clone();
            hs_locality.learn(conn.peer_addr());
            async move { setvolume(&cfg, &conn).await }
        });
        let ping_cred = xdr::rpc::AuthGlusterfsV2::default().to_auth();
        let rpc_cfg = RpcConfig {
            connect_timeout: Duration::from_secs(10)
                .min(cfg.ping_timeout.max(Duration::from_secs(1))),
            hook_timeout: Duration::from_secs(30),
            call_timeout: cfg.call_timeout,
            max_record: cfg.max_record,
            ping: Some(PingConfig {
                prog: DUMP_PROGRAM,
                vers: DUMP_VERSION,
                proc_num: PingReq::PROC,
                cred: ping_cred,
                interval: (cfg.ping_timeout / 4).max(Duration::from_millis(500)),
                timeout: cfg.ping_timeout,
            }),
            reconnect: Some(transport::Backoff {
                initial: Duration::from_millis(200),
                max: Duration::from_secs(3),
            }),
            ..RpcConfig::default()
        };
        let rpc = RpcClient::new(resolver, Some(hook), rpc_cfg);
        Arc::new(Self { cfg, rpc, locality })
    }

    /// Wait until connected (at most `timeout`).
    pub async fn wait_ready(&self, timeout: Duration) -> Result<()> {
        self.rpc
            .wait_ready(timeout)
            .await
            .map(|_| ())
            .map_err(|e| map_transport(&self.cfg.name, e))
    }

    /// Connection state changes (AFR and heal react to a brick coming back).
    pub fn state(&self) -> watch::Receiver<ConnState> {
        self.rpc.state()
    }

    /// Whether the brick runs on this machine (as of the last connection).
    pub fn locality(&self) -> Arc<Locality> {
        self.locality.clone()
    }

    pub fn is_connected(&self) -> bool {
        *self.rpc.state().borrow() == ConnState::Ready
    }

    pub fn config(&self) -> &BrickConfig {
        &self.cfg
    }

    /// Server-initiated calls (upcalls, lock contention), once.
    pub fn take_incoming(&self) -> Option<tokio::sync::mpsc::Receiver<transport::IncomingCall>> {
        self.rpc.take_incoming()
    }

    pub async fn shutdown(&self) {
        self.rpc.shutdown().await;
    }

    fn generation(&self) -> u64 {
        self.rpc.connection().map(|c| c.generation()).unwrap_or(0)
    }

    fn cred(&self, c: &Caller, flags: u32) -> xdr::rpc::OpaqueAuth {
        let (sec, nsec) = c.time.unwrap_or_else(now);
        AuthGlusterfsV3 {
            pid: c.pid,
            uid: c.uid,
            gid: c.gid,
            flags,
            ctime_nsec: nsec,
            ctime_sec: sec,
            groups: c.groups.clone(),
            lk_owner: if c.lk_owner.is_empty() {
                AuthGlusterfsV3::pid_lk_owner(c.pid)
            } else {
                c.lk_owner.clone()
            },
        }
        .to_auth()
    }

    /// Send one fop and decode its reply; `op_ret < 0` becomes its errno.
    async fn call<C>(&self, c: &Caller, flags: u32, req: C) -> Result<C::Reply>
    where
        C: Call + Send,
        C::Reply: OpStatus,
    {
        let cred = self.cred(c, flags);
        let body = self
            .rpc
            .call(
                C::PROGRAM,
                C::VERSION,
                C::PROC,
                &cred,
                req.xdr_bytes(),
                req.payload().cloned(),
            )
            .await
            .map_err(|e| map_transport(&self.cfg.name, e))?;
        let rsp = C::Reply::decode_body(body).map_err(|e| {
            tracing::warn!(brick = %self.cfg.name, fop = C::NAME, error = %e, "malformed reply");
            FopError::Protocol(format!("{}: {} reply: {e}", self.cfg.name, C::NAME))
        })?;
        rsp.into_result().map_err(|e| FopError::Errno(e.0))
    }

    fn remote_fd(&self, fd: &Fd) -> Result<i64> {
        let b = fd.ctx::<BrickFd>()?;
        if b.remote == ANON_FD {
            // Nothing on the brick to lose across reconnects.
            return Ok(ANON_FD);
        }
        if b.generation != self.generation() {
            // The brick forgot our fds when the connection dropped.
            return Err(FopError::Errno(libc::EBADF));
        }
        Ok(b.remote)
    }

    fn new_fd(&self, gfid: fop::Gfid, flags: i32, remote: i64, generation: u64) -> Fd {
        Fd::new(gfid, flags, BrickFd { remote, generation })
    }
}

async fn setvolume(
    cfg: &BrickConfig,
    conn: &Connection,
) -> std::result::Result<(), TransportError> {
    let mut d = Dict::new();
    for (k, v) in &cfg.options {
        d.set_str(k.as_str(), v);
    }
    d.set_str("remote-subvolume", &cfg.brick);
    d.set_str("remote-host", &cfg.host);
    d.set_i64("fops-version", i64::from(proto::procs::FOP_PROGRAM));
    d.set_str("process-uuid", &process_uuid(&cfg.name));
    d.set_str("process-name", "gluster-rs");
    d.set_str("client-version", "10.3");
    if let Some(id) = &cfg.volume_id {
        d.set_str("volume-id", id);
    }
    d.set_u64("clnt-lk-version", 1);
    d.set_i64("opversion", 100000);
    let req = SetvolumeReq { dict: d };
    let cred = xdr::rpc::AuthGlusterfsV2 {
        pid: std::process::id() as i32,
        ..Default::default()
    }
    .to_auth();
    let body = conn
        .call(
            SetvolumeReq::PROGRAM,
            SetvolumeReq::VERSION,
            SetvolumeReq::PROC,
            &cred,
            req.xdr_bytes(),
            None,
        )
        .await?;
    let rsp = <SetvolumeReq as Call>::Reply::decode_body(body)
        .map_err(|e| TransportError::Handshake(format!("malformed SETVOLUME reply: {e}")))?;
    if rsp.op_ret < 0 {
        let text = rsp.error_text().unwrap_or("").to_string();
        return Err(TransportError::Handshake(format!(
            "{}: SETVOLUME refused: {} ({})",
            cfg.name,
            text,
            fop::errno_text(rsp.op_errno)
        )));
    }
    if !rsp.child_up() {
        return Err(TransportError::Handshake(format!(
            "{}: brick stack is not up",
            cfg.name
        )));
    }
    tracing::info!(brick = %cfg.name, host = %cfg.host, path = %cfg.brick, "connected to brick");
    Ok(())
}

fn entry3(r: ThreeIattRsp) -> Entry {
    Entry {
        iatt: r.stat,
        preparent: Some(r.preparent),
        postparent: Some(r.postparent),
    }
}

fn prepost(r: TwoIattRsp) -> PrePost {
    PrePost {
        pre: r.prestat,
        post: r.poststat,
    }
}

#[async_trait]
impl Subvolume for BrickClient {
    fn name(&self) -> &str {
        &self.cfg.name
    }

    async fn lookup(&self, c: &Caller, loc: &Loc, xdata: &Dict) -> Result<Lookup> {
        let (pargfid, bname) = if loc.name.is_empty() {
            (fop::Gfid::NULL, Bytes::new())
        } else {
            (loc.parent, loc.name.clone())
        };
        let gfid = if loc.name.is_empty() {
            loc.gfid
        } else {
            fop::Gfid::NULL
        };
        let r = self
            .call(
                c,
                0,
                LookupReq {
                    gfid,
                    pargfid,
                    flags: 0,
                    bname,
                    xdata: Some(xdata.clone()),
                },
            )
            .await?;
        let postparent = (!loc.name.is_empty()).then_some(r.poststat);
        Ok(Lookup {
            iatt: r.prestat,
            postparent,
            xdata: r.xdata.unwrap_or_default(),
        })
    }

    async fn stat(&self, c: &Caller, loc: &Loc) -> Result<Iatt> {
        let r = self
            .call(
                c,
                0,
                StatReq {
                    gfid: loc.gfid,
                    xdata: None,
                },
            )
            .await?;
        Ok(r.stat)
    }

    async fn fstat(&self, c: &Caller, fd: &Fd) -> Result<Iatt> {
        let r = self
            .call(
                c,
                0,
                FstatReq {
                    gfid: fd.gfid,
                    fd: self.remote_fd(fd)?,
                    xdata: None,
                },
            )
            .await?;
        Ok(r.stat)
    }

    async fn setattr(&self, c: &Caller, loc: &Loc, attr: &Iatt, valid: u32) -> Result<PrePost> {
        let r = self
            .call(
                c,
                setattr_flags(valid),
                SetattrReq {
                    gfid: loc.gfid,
                    stbuf: *attr,
                    valid: valid as i32,
                    xdata: None,
                },
            )
            .await?;
        Ok(prepost(r))
    }

    async fn fsetattr(&self, c: &Caller, fd: &Fd, attr: &Iatt, valid: u32) -> Result<PrePost> {
        let r = self
            .call(
                c,
                setattr_flags(valid),
                FsetattrReq {
                    gfid: fd.gfid,
                    fd: self.remote_fd(fd)?,
                    stbuf: *attr,
                    valid: valid as i32,
                    xdata: None,
                },
            )
            .await?;
        Ok(prepost(r))
    }

    async fn truncate(&self, c: &Caller, loc: &Loc, size: u64) -> Result<PrePost> {
        let r = self
            .call(
                c,
                mdata::CTIME | mdata::MTIME,
                TruncateReq {
                    gfid: loc.gfid,
                    offset: size,
                    xdata: None,
                },
            )
            .await?;
        Ok(prepost(r))
    }

    async fn ftruncate(&self, c: &Caller, fd: &Fd, size: u64) -> Result<PrePost> {
        let r = self
            .call(
                c,
                mdata::CTIME | mdata::MTIME,
                FtruncateReq {
                    gfid: fd.gfid,
                    fd: self.remote_fd(fd)?,
                    offset: size,
                    xdata: None,
                },
            )
            .await?;
        Ok(prepost(r))
    }

    async fn access(&self, c: &Caller, loc: &Loc, mask: u32) -> Result<()> {
        self.call(
            c,
            0,
            AccessReq {
                gfid: loc.gfid,
                mask,
                xdata: None,
            },
        )
        .await?;
        Ok(())
    }

    async fn readlink(&self, c: &Caller, loc: &Loc) -> Result<Bytes> {
        let r = self
            .call(
                c,
                0,
                ReadlinkReq {
                    gfid: loc.gfid,
                    size: 4096,
                    xdata: None,
                },
            )
            .await?;
        Ok(r.path)
    }

    async fn mknod(
        &self,
        c: &Caller,
        loc: &Loc,
        mode: u32,
        rdev: u64,
        umask: u32,
        xdata: &Dict,
    ) -> Result<Entry> {
        let r = self
            .call(
                c,
                mdata::NEW_ENTRY,
                MknodReq {
                    pargfid: loc.parent,
                    dev: rdev,
                    mode,
                    umask,
                    bname: loc.name.clone(),
                    xdata: opt_new_entry(xdata),
                },
            )
            .await?;
        Ok(entry3(r))
    }

    async fn mkdir(
        &self,
        c: &Caller,
        loc: &Loc,
        mode: u32,
        umask: u32,
        xdata: &Dict,
    ) -> Result<Entry> {
        let r = self
            .call(
                c,
                mdata::NEW_ENTRY,
                MkdirReq {
                    pargfid: loc.parent,
                    mode,
                    umask,
                    bname: loc.name.clone(),
                    xdata: opt(xdata),
                },
            )
            .await?;
        Ok(entry3(r))
    }

    async fn unlink(&self, c: &Caller, loc: &Loc, xdata: &Dict) -> Result<Option<Iatt>> {
        let r = self
            .call(
                c,
                mdata::REMOVE_ENTRY,
                UnlinkReq {
                    pargfid: loc.parent,
                    bname: loc.name.clone(),
                    xflags: 0,
                    xdata: opt(xdata),
                },
            )
            .await?;
        // gfx_common_2iatt_rsp: preparent, postparent (server4_0_unlink_cbk).
        Ok(Some(r.poststat))
    }

    async fn rmdir(&self, c: &Caller, loc: &Loc, flags: i32, xdata: &Dict) -> Result<Option<Iatt>> {
        let r = self
            .call(
                c,
                mdata::REMOVE_ENTRY,
                RmdirReq {
                    pargfid: loc.parent,
                    xflags: flags,
                    bname: loc.name.clone(),
                    xdata: opt(xdata),
                },
            )
            .await?;
        Ok(Some(r.poststat))
    }

    async fn symlink(
        &self,
        c: &Caller,
        target: &[u8],
        loc: &Loc,
        umask: u32,
        xdata: &Dict,
    ) -> Result<Entry> {
        let r = self
            .call(
                c,
                mdata::NEW_ENTRY,
                SymlinkReq {
                    pargfid: loc.parent,
                    bname: loc.name.clone(),
                    umask,
                    linkname: Bytes::copy_from_slice(target),
                    xdata: opt(xdata),
                },
            )
            .await?;
        Ok(entry3(r))
    }

    async fn rename(&self, c: &Caller, old: &Loc, new: &Loc, xdata: &Dict) -> Result<Iatt> {
        let r = self
            .call(
                c,
                mdata::REMOVE_ENTRY,
                RenameReq {
                    oldgfid: old.parent,
                    newgfid: new.parent,
                    oldbname: old.name.clone(),
                    newbname: new.name.clone(),
                    xdata: opt(xdata),
                },
            )
            .await?;
        Ok(r.stat)
    }

    async fn link(&self, c: &Caller, old: &Loc, new: &Loc, xdata: &Dict) -> Result<Entry> {
        let r = self
            .call(
                c,
                mdata::REMOVE_ENTRY,
                LinkReq {
                    oldgfid: old.gfid,
                    newgfid: new.parent,
                    newbname: new.name.clone(),
                    xdata: opt(xdata),
                },
            )
            .await?;
        Ok(entry3(r))
    }

    async fn create(
        &self,
        c: &Caller,
        loc: &Loc,
        flags: i32,
        mode: u32,
        umask: u32,
        xdata: &Dict,
    ) -> Result<(Fd, Entry)> {
        let generation = self.generation();
        let r = self
            .call(
                c,
                mdata::NEW_ENTRY,
                CreateReq {
                    pargfid: loc.parent,
                    flags: open_flags::gf_flags_from_flags(flags),
                    mode,
                    umask,
                    bname: loc.name.clone(),
                    xdata: opt_new_entry(xdata),
                },
            )
            .await?;
        let fd = self.new_fd(r.stat.gfid, flags, r.fd, generation);
        Ok((
            fd,
            Entry {
                iatt: r.stat,
                preparent: Some(r.preparent),
                postparent: Some(r.postparent),
            },
        ))
    }

    async fn open(&self, c: &Caller, loc: &Loc, flags: i32) -> Result<Fd> {
        let generation = self.generation();
        let r = self
            .call(
                c,
                0,
                OpenReq {
                    gfid: loc.gfid,
                    flags: open_flags::gf_flags_from_flags(flags),
                    xdata: None,
                },
            )
            .await?;
        Ok(self.new_fd(loc.gfid, flags, r.fd, generation))
    }

    async fn read(&self, c: &Caller, fd: &Fd, offset: u64, size: u32) -> Result<Bytes> {
        let r = self
            .call(
                c,
                0,
                ReadReq {
                    gfid: fd.gfid,
                    fd: self.remote_fd(fd)?,
                    offset,
                    size,
                    flag: fd.flags as u32,
                    xdata: None,
                },
            )
            .await?;
        Ok(r.data)
    }

    async fn write(&self, c: &Caller, fd: &Fd, offset: u64, data: Bytes) -> Result<PrePost> {
        Ok(self.write_xdata(c, fd, offset, data, &Dict::new()).await?.0)
    }

    async fn write_xdata(
        &self,
        c: &Caller,
        fd: &Fd,
        offset: u64,
        data: Bytes,
        xdata: &Dict,
    ) -> Result<(PrePost, Dict)> {
        let mut r = self
            .call(
                c,
                mdata::MTIME | mdata::CTIME,
                WriteReq {
                    gfid: fd.gfid,
                    fd: self.remote_fd(fd)?,
                    offset,
                    flag: fd.flags as u32,
                    xdata: opt(xdata),
                    data,
                },
            )
            .await?;
        let rsp = r.xdata.take().unwrap_or_default();
        Ok((prepost(r), rsp))
    }

    async fn flush(&self, c: &Caller, fd: &Fd) -> Result<()> {
        if self.remote_fd(fd)? == ANON_FD {
            // Nothing was opened; POSIX locks are never taken through anonymous fds.
            return Ok(());
        }
        self.call(
            c,
            0,
            FlushReq {
                gfid: fd.gfid,
                fd: self.remote_fd(fd)?,
                xdata: None,
            },
        )
        .await?;
        Ok(())
    }

    async fn fsync(&self, c: &Caller, fd: &Fd, datasync: bool) -> Result<()> {
        self.call(
            c,
            0,
            FsyncReq {
                gfid: fd.gfid,
                fd: self.remote_fd(fd)?,
                data: u32::from(datasync),
                xdata: None,
            },
        )
        .await?;
        Ok(())
    }

    async fn release(&self, fd: &Fd) {
        let Ok(remote) = self.remote_fd(fd) else {
            return;
        };
        if remote == ANON_FD {
            return;
        }
        if let Err(e) = self
            .call(
                &Caller::root(),
                0,
                ReleaseReq {
                    gfid: fd.gfid,
                    fd: remote,
                    xdata: None,
                },
            )
            .await
        {
            tracing::debug!(brick = %self.cfg.name, error = %e, "release failed");
        }
    }

    fn open_anonymous(&self, gfid: fop::Gfid, flags: i32) -> Result<Fd> {
        Ok(self.new_fd(gfid, flags, ANON_FD, 0))
    }

    async fn opendir(&self, c: &Caller, loc: &Loc) -> Result<Fd> {
        let generation = self.generation();
        let r = self
            .call(
                c,
                0,
                OpendirReq {
                    gfid: loc.gfid,
                    xdata: None,
                },
            )
            .await?;
        Ok(self.new_fd(loc.gfid, libc::O_RDONLY, r.fd, generation))
    }

    async fn readdirp_eof(
        &self,
        c: &Caller,
        fd: &Fd,
        offset: u64,
        size: u32,
        xdata: &Dict,
    ) -> Result<(Vec<DirEntry>, bool)> {
        let r = self
            .call(
                c,
                0,
                ReaddirpReq {
                    gfid: fd.gfid,
                    fd: self.remote_fd(fd)?,
                    offset,
                    size,
                    xdata: opt(xdata),
                },
            )
            .await?;
        // posix_do_readdir: "pick ENOENT to indicate EOF" (op_ret is the entry count).
        let eof = r.entries.is_empty() || r.op_errno == libc::ENOENT;
        let entries = r
            .entries
            .into_iter()
            .map(|e| {
                let has_stat = !e.stat.gfid.is_null();
                DirEntry {
                    name: e.name,
                    offset: e.off,
                    d_type: e.d_type,
                    iatt: has_stat.then_some(e.stat),
                    xdata: e.dict.unwrap_or_default(),
                }
            })
            .collect();
        Ok((entries, eof))
    }

    async fn readdir_eof(
        &self,
        c: &Caller,
        fd: &Fd,
        offset: u64,
        size: u32,
    ) -> Result<(Vec<DirEntry>, bool)> {
        let r = self.readdir_rsp(c, fd, offset, size).await?;
        // posix_do_readdir marks the end as for READDIRP (op_errno ENOENT on success).
        let eof = r.entries.is_empty() || r.op_errno == libc::ENOENT;
        let entries = r
            .entries
            .into_iter()
            .map(|e| DirEntry {
                name: e.name,
                offset: e.off,
                d_type: e.d_type,
                iatt: None,
                xdata: Dict::new(),
            })
            .collect();
        Ok((entries, eof))
    }

    async fn releasedir(&self, fd: &Fd) {
        let Ok(remote) = self.remote_fd(fd) else {
            return;
        };
        if let Err(e) = self
            .call(
                &Caller::root(),
                0,
                ReleasedirReq {
                    gfid: fd.gfid,
                    fd: remote,
                    xdata: None,
                },
            )
            .await
        {
            tracing::debug!(brick = %self.cfg.name, error = %e, "releasedir failed");
        }
    }

    async fn statfs(&self, c: &Caller, loc: &Loc) -> Result<Statfs> {
        let gfid = if loc.gfid.is_null() {
            fop::Gfid::ROOT
        } else {
            loc.gfid
        };
        let r = self.call(c, 0, StatfsReq { gfid, xdata: None }).await?;
        Ok(r.statfs)
    }

    async fn setxattr(&self, c: &Caller, loc: &Loc, xattrs: &Dict, flags: i32) -> Result<()> {
        self.call(
            c,
            mdata::CTIME,
            SetxattrReq {
                gfid: loc.gfid,
                flags: flags as u32,
                dict: Some(xattrs.clone()),
                xdata: None,
            },
        )
        .await?;
        Ok(())
    }

    async fn getxattr(&self, c: &Caller, loc: &Loc, name: Option<&str>) -> Result<Dict> {
        let r = self
            .call(c, 0, GetxattrReq::new(loc.gfid, name, None))
            .await?;
        Ok(r.dict.unwrap_or_default())
    }

    async fn removexattr(&self, c: &Caller, loc: &Loc, name: &str) -> Result<()> {
        self.call(
            c,
            mdata::CTIME,
            RemovexattrReq {
                gfid: loc.gfid,
                name: name.to_string(),
                xdata: None,
            },
        )
        .await?;
        Ok(())
    }

    async fn fsetxattr(&self, c: &Caller, fd: &Fd, xattrs: &Dict, flags: i32) -> Result<()> {
        self.call(
            c,
            mdata::CTIME,
            FsetxattrReq {
                gfid: fd.gfid,
                fd: self.remote_fd(fd)?,
                flags: flags as u32,
                dict: Some(xattrs.clone()),
                xdata: None,
            },
        )
        .await?;
        Ok(())
    }

    async fn fgetxattr(&self, c: &Caller, fd: &Fd, name: Option<&str>) -> Result<Dict> {
        let r = self
            .call(
                c,
                0,
                FgetxattrReq::new(fd.gfid, self.remote_fd(fd)?, name, None),
            )
            .await?;
        Ok(r.dict.unwrap_or_default())
    }

    async fn fremovexattr(&self, c: &Caller, fd: &Fd, name: &str) -> Result<()> {
        self.call(
            c,
            mdata::CTIME,
            FremovexattrReq {
                gfid: fd.gfid,
                fd: self.remote_fd(fd)?,
                name: name.to_string(),
                xdata: None,
            },
        )
        .await?;
        Ok(())
    }

    async fn fallocate(
        &self,
        c: &Caller,
        fd: &Fd,
        mode: i32,
        offset: u64,
        len: u64,
    ) -> Result<PrePost> {
        let r = self
            .call(
                c,
                mdata::MTIME | mdata::ATIME,
                FallocateReq {
                    gfid: fd.gfid,
                    fd: self.remote_fd(fd)?,
                    flags: mode as u32,
                    offset,
                    size: len,
                    xdata: None,
                },
            )
            .await?;
        Ok(prepost(r))
    }

    async fn discard(&self, c: &Caller, fd: &Fd, offset: u64, len: u64) -> Result<PrePost> {
        let r = self
            .call(
                c,
                mdata::MTIME | mdata::CTIME,
                DiscardReq {
                    gfid: fd.gfid,
                    fd: self.remote_fd(fd)?,
                    offset,
                    size: len,
                    xdata: None,
                },
            )
            .await?;
        Ok(prepost(r))
    }

    async fn zerofill(&self, c: &Caller, fd: &Fd, offset: u64, len: u64) -> Result<PrePost> {
        let r = self
            .call(
                c,
                mdata::MTIME | mdata::ATIME,
                ZerofillReq {
                    gfid: fd.gfid,
                    fd: self.remote_fd(fd)?,
                    offset,
                    size: len,
                    xdata: None,
                },
            )
            .await?;
        Ok(prepost(r))
    }

    async fn lk(&self, c: &Caller, fd: &Fd, cmd: LockCmd, lock: &Flock) -> Result<Flock> {
        let r = self
            .call(
                c,
                0,
                LkReq {
                    gfid: fd.gfid,
                    fd: self.remote_fd(fd)?,
                    cmd: lock_cmd(cmd),
                    lk_type: lock_type(lock),
                    flock: lock.clone(),
                    xdata: None,
                },
            )
            .await?;
        Ok(r.flock)
    }

    async fn inodelk(
        &self,
        c: &Caller,
        domain: &str,
        loc: &Loc,
        cmd: LockCmd,
        lock: &Flock,
    ) -> Result<()> {
        self.call(
            c,
            0,
            InodelkReq {
                gfid: loc.gfid,
                cmd: lock_cmd(cmd),
                lk_type: lock_type(lock),
                flock: lock.clone(),
                volume: domain.to_string(),
                xdata: None,
            },
        )
        .await?;
        Ok(())
    }

    async fn finodelk(
        &self,
        c: &Caller,
        domain: &str,
        fd: &Fd,
        cmd: LockCmd,
        lock: &Flock,
    ) -> Result<()> {
        self.call(
            c,
            0,
            FinodelkReq {
                gfid: fd.gfid,
                fd: self.remote_fd(fd)?,
                cmd: lock_cmd(cmd),
                lk_type: lock_type(lock),
                flock: lock.clone(),
                volume: domain.to_string(),
                xdata: None,
            },
        )
        .await?;
        Ok(())
    }

    async fn entrylk(
        &self,
        c: &Caller,
        domain: &str,
        loc: &Loc,
        basename: Option<&[u8]>,
        cmd: EntryLockCmd,
        ty: EntryLockType,
    ) -> Result<()> {
        let cmd = match cmd {
            EntryLockCmd::Lock => lk::ENTRYLK_LOCK,
            EntryLockCmd::LockNb => lk::ENTRYLK_LOCK_NB,
            EntryLockCmd::Unlock => lk::ENTRYLK_UNLOCK,
        };
        let ty = match ty {
            EntryLockType::Read => lk::ENTRYLK_RDLCK,
            EntryLockType::Write => lk::ENTRYLK_WRLCK,
        };
        self.call(
            c,
            0,
            EntrylkReq::new(
                loc.gfid,
                cmd,
                ty,
                basename.map(Bytes::copy_from_slice),
                domain,
            ),
        )
        .await?;
        Ok(())
    }

    async fn xattrop(&self, c: &Caller, loc: &Loc, op: XattropOp, xattrs: &Dict) -> Result<Dict> {
        let r = self
            .call(
                c,
                0,
                XattropReq {
                    gfid: loc.gfid,
                    flags: xattrop_flag(op),
                    dict: Some(xattrs.clone()),
                    xdata: None,
                },
            )
            .await?;
        Ok(r.dict.unwrap_or_default())
    }

    async fn fxattrop(&self, c: &Caller, fd: &Fd, op: XattropOp, xattrs: &Dict) -> Result<Dict> {
        let r = self
            .call(
                c,
                0,
                FxattropReq {
                    gfid: fd.gfid,
                    fd: self.remote_fd(fd)?,
                    flags: xattrop_flag(op),
                    dict: Some(xattrs.clone()),
                    xdata: None,
                },
            )
            .await?;
        Ok(r.dict.unwrap_or_default())
    }
}

/// The utime flags of a setattr (xlators/features/utime/src/utime-gen-fops-c.py, setattr template).
fn setattr_flags(valid: u32) -> u32 {
    use fop::set_attr::*;
    if valid == 0 || valid & (UID | GID | MODE) != 0 {
        mdata::CTIME
    } else {
        0
    }
}

/// Fops outside the [`Subvolume`] interface, for self-heal: READDIR, names only (what the index
/// translator's virtual directories answer, xlators/features/index/src/index.c `index_readdir`),
/// and RCHECKSUM (the brick checksums a range itself, so unchanged blocks never cross the
/// network, xlators/storage/posix/src/posix-inode-fd-ops.c `posix_rchecksum`). `fd` is one this
/// client opened (`opendir` / `open`).
impl BrickClient {
    /// One READDIR: entries after `offset`, about `size` bytes; empty at the end.
    pub async fn readdir(
        &self,
        c: &Caller,
        fd: &Fd,
        offset: u64,
        size: u32,
    ) -> Result<Vec<Dirent>> {
        Ok(self.readdir_rsp(c, fd, offset, size).await?.entries)
    }

    async fn readdir_rsp(&self, c: &Caller, fd: &Fd, offset: u64, size: u32) -> Result<ReaddirRsp> {
        self.call(
            c,
            0,
            ReaddirReq {
                gfid: fd.gfid,
                fd: self.remote_fd(fd)?,
                offset,
                size,
                xdata: None,
            },
        )
        .await
    }

    /// RCHECKSUM of `[offset, offset+len)`: the weak and strong checksums, and the reply's xdata
    /// (e.g. `buf-has-zeroes` when `check-zero-filled` was asked for in `xdata`).
    pub async fn rchecksum(
        &self,
        c: &Caller,
        fd: &Fd,
        offset: u64,
        len: u32,
        xdata: &Dict,
    ) -> Result<RchecksumRsp> {
        self.call(
            c,
            0,
            RchecksumReq {
                gfid: fd.gfid,
                fd: self.remote_fd(fd)?,
                offset,
                len,
                flags: 0,
                xdata: opt(xdata),
            },
        )
        .await
    }
}
