//! Typed client of the Heketi REST API (the volume lifecycle module).
//!
//! Every request carries a fresh JWT (see [`crate::jwt`]) when a key is set.
//! Long operations follow Heketi's asynchronous pattern: `202 Accepted` with
//! `Location: /queue/ID`, polled until it stops answering `200` with
//! `X-Pending: true`; then `303 See Other` to the result (fetched with a new
//! token, as heketi's go-client `checkRedirect` does), `204` for no result,
//! or `500` with the error text.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use reqwest::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE, LOCATION, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::api::*;
use crate::jwt;
use crate::HeketiError;

/// Default poll interval of heketi's go-client (400 ms).
pub const POLL_DELAY: Duration = Duration::from_millis(400);
/// Per-request network timeout.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Default overall timeout of one asynchronous operation.
pub const DEFAULT_OP_TIMEOUT: Duration = Duration::from_secs(600);
/// Retries on `429 Too Many Requests` (go-client `RETRY_COUNT`).
const RETRY_COUNT: usize = 6;

/// Connection settings of a client.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// e.g. `http://localhost:8080`.
    pub server: String,
    /// JWT issuer (`admin` or `user`); empty: no token is sent.
    pub user: String,
    /// JWT key; empty: no token is sent.
    pub key: String,
    /// Overall timeout of an asynchronous operation.
    pub op_timeout: Duration,
    /// Show progress of asynchronous operations on stderr (when a terminal).
    pub progress: bool,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            server: "http://localhost:8080".into(),
            user: String::new(),
            key: String::new(),
            op_timeout: DEFAULT_OP_TIMEOUT,
            progress: false,
        }
    }
}

/// Result of a request that may be asynchronous.
enum Done {
    /// Final answer with a body (after `303`, or a direct `200`/`201`).
    Body(Vec<u8>),
    /// `204` (or an empty `200`).
    Empty,
}

/// Heketi REST client.
#[derive(Debug, Clone)]
pub struct HeketiClient {
    opts: ClientOptions,
    base: reqwest::Url,
    http: reqwest::Client,
}

fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

impl HeketiClient {
    pub fn new(opts: ClientOptions) -> Result<Self, HeketiError> {
        let mut server = opts.server.trim().to_string();
        if !server.contains("://") {
            server = format!("http://{server}");
        }
        let base = reqwest::Url::parse(&server)
            .map_err(|e| HeketiError::Usage(format!("invalid server url {server:?}: {e}")))?;
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| HeketiError::Transport(e.to_string()))?;
        Ok(HeketiClient { opts, base, http })
    }

    pub fn options(&self) -> &ClientOptions {
        &self.opts
    }

    fn url(&self, path: &str) -> Result<reqwest::Url, HeketiError> {
        self.base
            .join(path)
            .map_err(|e| HeketiError::Usage(format!("invalid path {path:?}: {e}")))
    }

    /// One HTTP exchange with a fresh token; retries `429` like go-client.
    async fn send(
        &self,
        method: Method,
        url: reqwest::Url,
        body: Option<Vec<u8>>,
    ) -> Result<reqwest::Response, HeketiError> {
        let mut attempt = 0;
        loop {
            let mut req = self.http.request(method.clone(), url.clone());
            if !self.opts.key.is_empty() || !self.opts.user.is_empty() {
                let claims = jwt::Claims::for_request(
                    &self.opts.user,
                    method.as_str(),
                    url.path(),
                    now_unix(),
                );
                let token = jwt::sign(&claims, self.opts.key.as_bytes());
                if let Ok(v) = HeaderValue::from_str(&format!("bearer {token}")) {
                    req = req.header(AUTHORIZATION, v);
                }
            }
            if let Some(b) = &body {
                req = req.header(CONTENT_TYPE, "application/json").body(b.clone());
            }
            let resp = req.send().await.map_err(|e| {
                if e.is_timeout() {
                    HeketiError::Timeout(format!("{method} {url}: {e}"))
                } else {
                    HeketiError::Transport(format!("{method} {url}: {e}"))
                }
            })?;
            if resp.status() == StatusCode::TOO_MANY_REQUESTS && attempt < RETRY_COUNT {
                attempt += 1;
                let wait = resp
                    .headers()
                    .get(RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .unwrap_or(5)
                    .min(60);
                tokio::time::sleep(Duration::from_secs(wait)).await;
                continue;
            }
            return Ok(resp);
        }
    }

    async fn error_from(resp: reqwest::Response) -> HeketiError {
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        let text = text.trim();
        let message = if text.is_empty() {
            format!(
                "server did not provide a message (status {}: {})",
                status.as_u16(),
                status.canonical_reason().unwrap_or("")
            )
        } else {
            text.chars().take(4096).collect()
        };
        HeketiError::Http {
            status: status.as_u16(),
            message,
        }
    }

    fn location(&self, resp: &reqwest::Response) -> Result<reqwest::Url, HeketiError> {
        let loc = resp
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| HeketiError::Protocol("response without Location header".into()))?;
        // Location is relative to the request URL, as net/http resolves it.
        resp.url()
            .join(loc)
            .map_err(|e| HeketiError::Protocol(format!("bad Location {loc:?}: {e}")))
    }

    /// Run a request; follow the asynchronous pattern if answered `202`.
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
        expect: &[StatusCode],
        label: &str,
    ) -> Result<Done, HeketiError> {
        let url = self.url(path)?;
        let resp = self.send(method, url, body).await?;
        let status = resp.status();
        if status == StatusCode::ACCEPTED {
            let loc = self.location(&resp)?;
            return self.wait(loc, label).await;
        }
        if !expect.contains(&status) {
            return Err(Self::error_from(resp).await);
        }
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| HeketiError::Transport(e.to_string()))?;
        if bytes.is_empty() || status == StatusCode::NO_CONTENT {
            Ok(Done::Empty)
        } else {
            Ok(Done::Body(bytes.to_vec()))
        }
    }

    /// Poll a `/queue/ID` location until the operation ends.
    async fn wait(&self, queue: reqwest::Url, label: &str) -> Result<Done, HeketiError> {
        let start = Instant::now();
        let show = self.opts.progress && std::io::stderr().is_terminal();
        let spinner = ['|', '/', '-', '\\'];
        let mut tick = 0usize;
        let finish = |show: bool| {
            if show {
                eprint!("\r\x1b[K");
                let _ = std::io::stderr().flush();
            }
        };
        loop {
            if start.elapsed() > self.opts.op_timeout {
                finish(show);
                return Err(HeketiError::Timeout(format!(
                    "{label}: operation did not finish within {}s (still pending at {queue})",
                    self.opts.op_timeout.as_secs()
                )));
            }
            let resp = self.send(Method::GET, queue.clone(), None).await?;
            let pending = resp
                .headers()
                .get("X-Pending")
                .and_then(|v| v.to_str().ok())
                .map(|v| v.eq_ignore_ascii_case("true"))
                .unwrap_or(false);
            let status = resp.status();
            if pending {
                if status != StatusCode::OK {
                    finish(show);
                    return Err(Self::error_from(resp).await);
                }
                if show {
                    eprint!(
                        "\r{} {label} ({}s)",
                        spinner[tick % spinner.len()],
                        start.elapsed().as_secs()
                    );
                    let _ = std::io::stderr().flush();
                    tick += 1;
                }
                tokio::time::sleep(POLL_DELAY).await;
                continue;
            }
            finish(show);
            return match status {
                StatusCode::SEE_OTHER => {
                    let loc = self.location(&resp)?;
                    let r = self.send(Method::GET, loc, None).await?;
                    if r.status() != StatusCode::OK {
                        return Err(Self::error_from(r).await);
                    }
                    let b = r
                        .bytes()
                        .await
                        .map_err(|e| HeketiError::Transport(e.to_string()))?;
                    Ok(Done::Body(b.to_vec()))
                }
                StatusCode::NO_CONTENT | StatusCode::OK => Ok(Done::Empty),
                _ => Err(Self::error_from(resp).await),
            };
        }
    }

    fn decode<T: DeserializeOwned>(d: Done, what: &str) -> Result<T, HeketiError> {
        match d {
            Done::Body(b) => serde_json::from_slice(&b)
                .map_err(|e| HeketiError::Protocol(format!("{what}: bad JSON from server: {e}"))),
            Done::Empty => Err(HeketiError::Protocol(format!(
                "{what}: server returned no data"
            ))),
        }
    }

    fn json<T: Serialize>(v: &T) -> Result<Vec<u8>, HeketiError> {
        serde_json::to_vec(v).map_err(|e| HeketiError::Protocol(e.to_string()))
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, HeketiError> {
        let d = self
            .call(Method::GET, path, None, &[StatusCode::OK], path)
            .await?;
        Self::decode(d, path)
    }

    // ---- server ----

    /// `GET /hello`.
    pub async fn hello(&self) -> Result<String, HeketiError> {
        match self
            .call(Method::GET, "/hello", None, &[StatusCode::OK], "hello")
            .await?
        {
            Done::Body(b) => Ok(String::from_utf8_lossy(&b).into_owned()),
            Done::Empty => Ok(String::new()),
        }
    }

    // ---- clusters ----

    pub async fn cluster_create(
        &self,
        flags: ClusterFlags,
    ) -> Result<ClusterInfoResponse, HeketiError> {
        let d = self
            .call(
                Method::POST,
                "/clusters",
                Some(Self::json(&flags)?),
                &[StatusCode::CREATED, StatusCode::OK],
                "cluster create",
            )
            .await?;
        Self::decode(d, "cluster create")
    }

    pub async fn cluster_set_flags(
        &self,
        id: &str,
        flags: ClusterFlags,
    ) -> Result<(), HeketiError> {
        self.call(
            Method::POST,
            &format!("/clusters/{id}/flags"),
            Some(Self::json(&flags)?),
            &[StatusCode::OK],
            "cluster setflags",
        )
        .await
        .map(|_| ())
    }

    pub async fn cluster_list(&self) -> Result<ClusterListResponse, HeketiError> {
        self.get("/clusters").await
    }

    pub async fn cluster_info(&self, id: &str) -> Result<ClusterInfoResponse, HeketiError> {
        self.get(&format!("/clusters/{id}")).await
    }

    pub async fn cluster_delete(&self, id: &str) -> Result<(), HeketiError> {
        self.call(
            Method::DELETE,
            &format!("/clusters/{id}"),
            None,
            &[StatusCode::OK, StatusCode::NO_CONTENT],
            "cluster delete",
        )
        .await
        .map(|_| ())
    }

    // ---- nodes ----

    pub async fn node_add(&self, req: &NodeAddRequest) -> Result<NodeInfoResponse, HeketiError> {
        let d = self
            .call(
                Method::POST,
                "/nodes",
                Some(Self::json(req)?),
                &[StatusCode::OK],
                "node add",
            )
            .await?;
        Self::decode(d, "node add")
    }

    pub async fn node_info(&self, id: &str) -> Result<NodeInfoResponse, HeketiError> {
        self.get(&format!("/nodes/{id}")).await
    }

    pub async fn node_delete(&self, id: &str) -> Result<(), HeketiError> {
        self.call(
            Method::DELETE,
            &format!("/nodes/{id}"),
            None,
            &[StatusCode::OK, StatusCode::NO_CONTENT],
            "node delete",
        )
        .await
        .map(|_| ())
    }

    pub async fn node_state(&self, id: &str, state: EntryState) -> Result<(), HeketiError> {
        let req = StateRequest {
            state,
            healcheck: String::new(),
        };
        self.call(
            Method::POST,
            &format!("/nodes/{id}/state"),
            Some(Self::json(&req)?),
            &[StatusCode::OK, StatusCode::NO_CONTENT],
            "node state",
        )
        .await
        .map(|_| ())
    }

    // ---- devices ----

    pub async fn device_add(&self, req: &DeviceAddRequest) -> Result<(), HeketiError> {
        self.call(
            Method::POST,
            "/devices",
            Some(Self::json(req)?),
            &[StatusCode::OK, StatusCode::NO_CONTENT],
            "device add",
        )
        .await
        .map(|_| ())
    }

    pub async fn device_info(&self, id: &str) -> Result<DeviceInfoResponse, HeketiError> {
        self.get(&format!("/devices/{id}")).await
    }

    pub async fn device_delete(&self, id: &str, force_forget: bool) -> Result<(), HeketiError> {
        let body = if force_forget {
            Some(Self::json(&DeviceDeleteOptions { forceforget: true })?)
        } else {
            None
        };
        self.call(
            Method::DELETE,
            &format!("/devices/{id}"),
            body,
            &[StatusCode::OK, StatusCode::NO_CONTENT],
            "device delete",
        )
        .await
        .map(|_| ())
    }

    pub async fn device_state(&self, id: &str, state: EntryState) -> Result<(), HeketiError> {
        let req = StateRequest {
            state,
            healcheck: String::new(),
        };
        self.call(
            Method::POST,
            &format!("/devices/{id}/state"),
            Some(Self::json(&req)?),
            &[StatusCode::OK, StatusCode::NO_CONTENT],
            "device state",
        )
        .await
        .map(|_| ())
    }

    pub async fn device_resync(&self, id: &str) -> Result<(), HeketiError> {
        self.call(
            Method::GET,
            &format!("/devices/{id}/resync"),
            None,
            &[StatusCode::OK, StatusCode::NO_CONTENT],
            "device resync",
        )
        .await
        .map(|_| ())
    }

    // ---- volumes ----

    pub async fn volume_create(
        &self,
        req: &VolumeCreateRequest,
    ) -> Result<VolumeInfoResponse, HeketiError> {
        let d = self
            .call(
                Method::POST,
                "/volumes",
                Some(Self::json(req)?),
                &[StatusCode::OK],
                "volume create",
            )
            .await?;
        Self::decode(d, "volume create")
    }

    pub async fn volume_list(&self) -> Result<VolumeListResponse, HeketiError> {
        self.get("/volumes").await
    }

    pub async fn volume_info(&self, id: &str) -> Result<VolumeInfoResponse, HeketiError> {
        self.get(&format!("/volumes/{id}")).await
    }

    pub async fn volume_expand(
        &self,
        id: &str,
        expand_gib: i64,
    ) -> Result<VolumeInfoResponse, HeketiError> {
        let req = VolumeExpandRequest {
            expand_size: expand_gib,
        };
        let d = self
            .call(
                Method::POST,
                &format!("/volumes/{id}/expand"),
                Some(Self::json(&req)?),
                &[StatusCode::OK],
                "volume expand",
            )
            .await?;
        Self::decode(d, "volume expand")
    }

    pub async fn volume_delete(&self, id: &str) -> Result<(), HeketiError> {
        self.call(
            Method::DELETE,
            &format!("/volumes/{id}"),
            None,
            &[StatusCode::OK, StatusCode::NO_CONTENT],
            "volume delete",
        )
        .await
        .map(|_| ())
    }

    // ---- topology ----

    /// `topology info`, assembled from clusters, nodes and volumes as
    /// heketi's go-client `TopologyInfo` does (Heketi has no /topology route).
    pub async fn topology_info(&self) -> Result<TopologyInfoResponse, HeketiError> {
        let mut topo = TopologyInfoResponse::default();
        for cid in self.cluster_list().await?.clusters {
            let ci = self.cluster_info(&cid).await?;
            let mut c = TopologyCluster {
                id: ci.id.clone(),
                block: ci.block,
                file: ci.file,
                ..Default::default()
            };
            for vid in &ci.volumes {
                c.volumes.push(self.volume_info(vid).await?);
            }
            for nid in &ci.nodes {
                c.nodes.push(self.node_info(nid).await?);
            }
            topo.clusters.push(c);
        }
        Ok(topo)
    }
}
