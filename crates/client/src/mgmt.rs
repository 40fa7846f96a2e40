//! Talking to glusterd: GETSPEC and the portmapper (rpc/xdr/src/glusterfs3-xdr handshake structures
//! and portmap-xdr.x, encoded by the `proto` crate).

use std::net::SocketAddr;
use std::time::Duration;

use proto::handshake::{GetspecReq, GetspecRsp, PmapPortByBrickReq, PmapPortByBrickRsp};
use proto::{Body, Call, Dict};
use transport::{fixed_addr, RpcClient, RpcConfig};
use xdr::rpc::AuthGlusterfsV2;

use crate::ClientError;

/// glusterd's management port.
pub const GLUSTERD_PORT: u16 = 24007;

/// How long one management call may take.
pub const MGMT_TIMEOUT: Duration = Duration::from_secs(10);

/// A volfile server: host and port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    pub host: String,
    pub port: u16,
}

impl Server {
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        Self {
            host: host.into(),
            port,
        }
    }
}

impl std::fmt::Display for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

/// Resolve a host name (IPv4 first, as `transport.address-family inet`).
pub async fn resolve(host: &str, port: u16) -> Result<SocketAddr, ClientError> {
    let addrs: Vec<SocketAddr> =
        tokio::time::timeout(MGMT_TIMEOUT, tokio::net::lookup_host((host, port)))
            .await
            .map_err(|_| ClientError::Resolve(host.to_string()))?
            .map_err(|_| ClientError::Resolve(host.to_string()))?
            .collect();
    addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or_else(|| addrs.first())
        .copied()
        .ok_or_else(|| ClientError::Resolve(host.to_string()))
}

fn mgmt_config() -> RpcConfig {
    RpcConfig {
        connect_timeout: MGMT_TIMEOUT,
        call_timeout: MGMT_TIMEOUT,
        max_record: proto::MAX_SPEC + 4096,
        reconnect: None,
        incoming_capacity: 0,
        ..RpcConfig::default()
    }
}

/// One call to glusterd over a fresh connection.
async fn mgmt_call<C: Call>(server: &Server, req: C) -> Result<C::Reply, ClientError> {
    let addr = resolve(&server.host, server.port).await?;
    let tr = |source| ClientError::Transport {
        server: server.to_string(),
        source,
    };
    let rpc = RpcClient::connect(fixed_addr(addr), None, mgmt_config())
        .await
        .map_err(tr)?;
    let cred = AuthGlusterfsV2 {
        pid: std::process::id() as i32,
        ..AuthGlusterfsV2::default()
    }
    .to_auth();
    let body = rpc
        .call(
            C::PROGRAM,
            C::VERSION,
            C::PROC,
            &cred,
            req.xdr_bytes(),
            None,
        )
        .await;
    rpc.shutdown().await;
    let body = body.map_err(tr)?;
    C::Reply::decode_body(body).map_err(|e| ClientError::Protocol {
        server: server.to_string(),
        detail: e.to_string(),
    })
}

/// Fetch the client volfile of `volume` from one glusterd.
pub async fn getspec(server: &Server, volume: &str) -> Result<String, ClientError> {
    // As mount.glusterfs's client does: key `/VOLUME`, the servers-list flag, and the op-version
    // range this client speaks (glusterfsd-mgmt.c `glusterfs_volfile_fetch_one`).
    let mut xdata = Dict::new();
    xdata.set_str("min-op-version", "1");
    xdata.set_str("max-op-version", "100000");
    let key = if volume.starts_with('/') {
        volume.to_string()
    } else {
        format!("/{volume}")
    };
    let req = GetspecReq {
        flags: 1,
        key,
        xdata,
    };
    let rsp: GetspecRsp = mgmt_call(server, req).await?;
    if rsp.op_ret < 0 {
        if rsp.op_errno == libc::ENOENT || rsp.spec.is_empty() {
            return Err(ClientError::NoSuchVolume {
                server: server.to_string(),
                volume: volume.to_string(),
            });
        }
        return Err(ClientError::Getspec {
            server: server.to_string(),
            text: fop::errno_text(rsp.op_errno),
        });
    }
    Ok(rsp.spec)
}

/// Fetch the volfile from the first server that answers, in order (volfile server, then backups).
/// Returns the server that answered and the volfile. A missing volume is final (not retried on the
/// backups, which share glusterd's view).
pub async fn fetch_volfile(
    servers: &[Server],
    volume: &str,
) -> Result<(Server, String), ClientError> {
    let mut failures = Vec::new();
    for s in servers {
        match getspec(s, volume).await {
            Ok(spec) => return Ok((s.clone(), spec)),
            Err(e @ ClientError::NoSuchVolume { .. }) => return Err(e),
            Err(e) => {
                tracing::warn!(server = %s, error = %e, "volfile server did not answer; trying the next");
                failures.push(e.to_string());
            }
        }
    }
    Err(ClientError::NoServer(failures.join("; ")))
}

/// Ask glusterd's portmapper which port serves `brick` (the brick path).
pub async fn port_by_brick(server: &Server, brick: &str) -> Result<u16, ClientError> {
    let rsp: PmapPortByBrickRsp = mgmt_call(
        server,
        PmapPortByBrickReq {
            brick: brick.to_string(),
        },
    )
    .await?;
    if rsp.op_ret < 0 || rsp.port <= 0 || rsp.port > i32::from(u16::MAX) {
        return Err(ClientError::BrickNotRunning {
            server: server.to_string(),
            brick: brick.to_string(),
        });
    }
    Ok(rsp.port as u16)
}
