//! A second connection to a brick for the few fops self-heal needs that the fop interface
//! (`fop::Subvolume`) does not carry: READDIR (the index translator's virtual directories answer
//! READDIR only, xlators/features/index/src/index.c `index_readdir`) and RCHECKSUM (the brick
//! checksums a range itself, so unchanged blocks never cross the network,
//! xlators/storage/posix/src/posix-inode-fd-ops.c `posix_rchecksum`).
//!
//! It connects like protocol/client does: the port from glusterd's portmapper, then SETVOLUME
//! (xlators/protocol/client/src/client-handshake.c `client_setvolume`) with the volfile's options.
//! fds opened here are only valid on this connection.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use client::mgmt::{self, Server};
use client::BrickConfig;
use fop::{Caller, Dict, FopError, Gfid};
use proto::auth::AuthGlusterfsV3;
use proto::consts::open_flags;
use proto::fops::{
    Dirent, OpenReq, OpendirReq, RchecksumReq, ReaddirReq, ReleaseReq, ReleasedirReq,
};
use proto::handshake::{PingReq, SetvolumeReq};
use proto::procs::{DUMP_PROGRAM, DUMP_VERSION};
use proto::{Body, Call, OpStatus};
use transport::{
    hook_fn, resolver_fn, Connection, PingConfig, RpcClient, RpcConfig, TransportError,
};

/// An fd on the side connection.
#[derive(Debug, Clone, Copy)]
pub struct SideFd {
    pub gfid: Gfid,
    fd: i64,
    generation: u64,
}

pub struct SideChannel {
    cfg: BrickConfig,
    rpc: RpcClient,
}

static SETVOL_SEQ: AtomicU64 = AtomicU64::new(0);

fn map_err(name: &str, e: TransportError) -> FopError {
    match e {
        TransportError::Timeout(_) => FopError::Timeout(format!("{name} (heal side channel): {e}")),
        TransportError::Protocol(_)
        | TransportError::Rejected(_)
        | TransportError::Xdr(_)
        | TransportError::RecordTooLarge { .. }
        | TransportError::RequestTooLarge(_) => {
            FopError::Protocol(format!("{name} (heal side channel): {e}"))
        }
        _ => FopError::NotConnected(format!("{name} (heal side channel): {e}")),
    }
}

impl SideChannel {
    /// Start connecting in the background.
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
        let hs = cfg.clone();
        let hook = hook_fn(move |conn: Connection| {
            let cfg = hs.clone();
            async move { setvolume(&cfg, &conn).await }
        });
        let rpc_cfg = RpcConfig {
            connect_timeout: Duration::from_secs(10),
            hook_timeout: Duration::from_secs(30),
            call_timeout: cfg.call_timeout,
            max_record: cfg.max_record,
            ping: Some(PingConfig {
                prog: DUMP_PROGRAM,
                vers: DUMP_VERSION,
                proc_num: PingReq::PROC,
                cred: xdr::rpc::AuthGlusterfsV2::default().to_auth(),
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
        Arc::new(SideChannel { cfg, rpc })
    }

    pub async fn wait_ready(&self, timeout: Duration) -> fop::Result<()> {
        self.rpc
            .wait_ready(timeout)
            .await
            .map(|_| ())
            .map_err(|e| map_err(&self.cfg.name, e))
    }

    pub async fn shutdown(&self) {
        self.rpc.shutdown().await;
    }

    fn generation(&self) -> u64 {
        self.rpc.connection().map_or(0, |c| c.generation())
    }

    fn cred(&self, c: &Caller) -> xdr::rpc::OpaqueAuth {
        let d = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        AuthGlusterfsV3 {
            pid: c.pid,
            uid: c.uid,
            gid: c.gid,
            flags: 0,
            ctime_nsec: d.subsec_nanos(),
            ctime_sec: d.as_secs(),
            groups: c.groups.clone(),
            lk_owner: if c.lk_owner.is_empty() {
                AuthGlusterfsV3::pid_lk_owner(c.pid)
            } else {
                c.lk_owner.clone()
            },
        }
        .to_auth()
    }

    async fn call<C>(&self, c: &Caller, req: C) -> fop::Result<C::Reply>
    where
        C: Call + Send,
        C::Reply: OpStatus,
    {
        let body = self
            .rpc
            .call(
                C::PROGRAM,
                C::VERSION,
                C::PROC,
                &self.cred(c),
                req.xdr_bytes(),
                None,
            )
            .await
            .map_err(|e| map_err(&self.cfg.name, e))?;
        let rsp = C::Reply::decode_body(body).map_err(|e| {
            FopError::Protocol(format!("{}: {} reply: {e}", self.cfg.name, C::NAME))
        })?;
        rsp.into_result().map_err(|e| FopError::Errno(e.0))
    }

    fn remote(&self, fd: &SideFd) -> fop::Result<i64> {
        if fd.generation != self.generation() {
            return Err(FopError::Errno(libc::EBADF));
        }
        Ok(fd.fd)
    }

    pub async fn opendir(&self, c: &Caller, gfid: Gfid) -> fop::Result<SideFd> {
        let generation = self.generation();
        let r = self.call(c, OpendirReq { gfid, xdata: None }).await?;
        Ok(SideFd {
            gfid,
            fd: r.fd,
            generation,
        })
    }

    /// One READDIR: entries after `offset`, about `size` bytes; empty at the end.
    pub async fn readdir(
        &self,
        c: &Caller,
        fd: &SideFd,
        offset: u64,
        size: u32,
    ) -> fop::Result<Vec<Dirent>> {
        let r = self
            .call(
                c,
                ReaddirReq {
                    gfid: fd.gfid,
                    fd: self.remote(fd)?,
                    offset,
                    size,
                    xdata: None,
                },
            )
            .await?;
        Ok(r.entries)
    }

    /// Every name of a directory (without `.` and `..`), at most `limit` of them.
    pub async fn list(&self, c: &Caller, gfid: Gfid, limit: usize) -> fop::Result<Vec<Bytes>> {
        let fd = self.opendir(c, gfid).await?;
        let mut out = Vec::new();
        let mut offset = 0u64;
        let res = async {
            loop {
                let batch = self.readdir(c, &fd, offset, 128 * 1024).await?;
                let Some(last) = batch.last() else { break };
                let next = last.off;
                for e in batch {
                    if e.name.as_ref() != b"." && e.name.as_ref() != b".." {
                        out.push(e.name);
                    }
                }
                if out.len() >= limit || next == offset {
                    break;
                }
                offset = next;
            }
            Ok::<(), FopError>(())
        }
        .await;
        self.releasedir(c, &fd).await;
        res.map(|_| out)
    }

    pub async fn releasedir(&self, c: &Caller, fd: &SideFd) {
        let Ok(remote) = self.remote(fd) else { return };
        if let Err(e) = self
            .call(
                c,
                ReleasedirReq {
                    gfid: fd.gfid,
                    fd: remote,
                    xdata: None,
                },
            )
            .await
        {
            tracing::debug!(brick = %self.cfg.name, error = %e, "side releasedir failed");
        }
    }

    pub async fn open(&self, c: &Caller, gfid: Gfid, flags: i32) -> fop::Result<SideFd> {
        let generation = self.generation();
        let r = self
            .call(
                c,
                OpenReq {
                    gfid,
                    flags: open_flags::gf_flags_from_flags(flags),
                    xdata: None,
                },
            )
            .await?;
        Ok(SideFd {
            gfid,
            fd: r.fd,
            generation,
        })
    }

    pub async fn release(&self, c: &Caller, fd: &SideFd) {
        let Ok(remote) = self.remote(fd) else { return };
        if let Err(e) = self
            .call(
                c,
                ReleaseReq {
                    gfid: fd.gfid,
                    fd: remote,
                    xdata: None,
                },
            )
            .await
        {
            tracing::debug!(brick = %self.cfg.name, error = %e, "side release failed");
        }
    }

    /// The brick's checksum of `[offset, offset+len)`: the strong checksum (MD5, or SHA-256 in
    /// FIPS mode) and whether the range is all zeroes (`check-zero-filled` →
    /// `buf-has-zeroes`, as `__afr_can_skip_data_block_heal` asks).
    pub async fn rchecksum(
        &self,
        c: &Caller,
        fd: &SideFd,
        offset: u64,
        len: u32,
    ) -> fop::Result<(Bytes, bool)> {
        let mut x = Dict::new();
        x.set_i64("check-zero-filled", 1);
        let r = self
            .call(
                c,
                RchecksumReq {
                    gfid: fd.gfid,
                    fd: self.remote(fd)?,
                    offset,
                    len,
                    flags: 0,
                    xdata: Some(x),
                },
            )
            .await?;
        let zeroes = r
            .xdata
            .as_ref()
            .and_then(|d| d.get("buf-has-zeroes"))
            .and_then(|v| v.as_u64().or_else(|| v.as_i64().map(|i| i as u64)))
            .is_some_and(|v| v != 0);
        Ok((r.strong_checksum, zeroes))
    }
}

/// SETVOLUME as protocol/client sends it (client-handshake.c `client_setvolume`).
async fn setvolume(cfg: &BrickConfig, conn: &Connection) -> Result<(), TransportError> {
    let mut d = Dict::new();
    for (k, v) in &cfg.options {
        d.set_str(k.as_str(), v);
    }
    d.set_str("remote-subvolume", &cfg.brick);
    d.set_str("remote-host", &cfg.host);
    d.set_i64("fops-version", i64::from(proto::procs::FOP_PROGRAM));
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    // GLUSTER_PROCESS_UUID_FMT (libglusterfs/src/glusterfs/globals.h).
    static CTX: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let ctx = CTX.get_or_init(|| uuid::Uuid::new_v4().to_string());
    d.set_str(
        "process-uuid",
        &format!(
            "CTX_ID:{ctx}-GRAPH_ID:0-PID:{}-HOST:{host}-PC_NAME:{}-heal-RECON_NO:-{}",
            std::process::id(),
            cfg.name,
            SETVOL_SEQ.fetch_add(1, Ordering::Relaxed)
        ),
    );
    d.set_str("process-name", "gluster-rs-heal");
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
        return Err(TransportError::Handshake(format!(
            "{}: SETVOLUME refused: {} ({})",
            cfg.name,
            rsp.error_text().unwrap_or(""),
            fop::errno_text(rsp.op_errno)
        )));
    }
    if !rsp.child_up() {
        return Err(TransportError::Handshake(format!(
            "{}: brick stack is not up",
            cfg.name
        )));
    }
    Ok(())
}
