//! Heketi-compatible server: `gluster-rs heketi serve --config heketi.json`.
//!
//! Routes, JSON, status codes and the asynchronous pattern are those of
//! Heketi 10 (`apps/glusterfs/app.go` and its handlers, `server/rest/
//! asynchttp.go`): long operations answer `202` with `Location: /queue/ID`;
//! the queue answers `200` + `X-Pending: true` while running, then `303` to
//! the result, `204` when there is none, or `500` with the error text; a
//! finished entry is forgotten after it was read once. `/hello` needs no
//! token; everything else is checked as Heketi's JWT middleware does.

pub mod alloc;
pub mod db;
pub mod exec;
mod handlers;
mod ops;

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

use crate::config::Config;
use crate::jwt;
use crate::HeketiError;

use alloc::Limits;
use db::{Db, DbError};
use exec::Executor;

/// An HTTP error answer: plain text like Go's `http.Error`.
#[derive(Debug)]
pub struct HttpError {
    pub status: StatusCode,
    pub msg: String,
}

impl HttpError {
    pub fn new(status: u16, msg: impl Into<String>) -> Self {
        HttpError {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            msg: msg.into(),
        }
    }
    pub fn bad_request(msg: impl Into<String>) -> Self {
        Self::new(400, msg)
    }
    pub fn not_found(msg: impl Into<String>) -> Self {
        Self::new(404, msg)
    }
    pub fn conflict(msg: impl Into<String>) -> Self {
        Self::new(409, msg)
    }
    pub fn internal(msg: impl Into<String>) -> Self {
        Self::new(500, msg)
    }
    /// Heketi answers 422 when a body is not the JSON it expects.
    pub fn unparsable() -> Self {
        Self::new(422, "request unable to be parsed")
    }
}

impl From<DbError> for HttpError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::NotFound => HttpError::not_found("Id not found"),
            e => HttpError::internal(e.to_string()),
        }
    }
}

/// Go's `http.Error`: text/plain, nosniff, message plus newline.
pub fn text_error(status: StatusCode, msg: &str) -> Response {
    let mut r = Response::new(Body::from(format!("{msg}\n")));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    h.insert(
        "X-Content-Type-Options",
        HeaderValue::from_static("nosniff"),
    );
    r
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        text_error(self.status, &self.msg)
    }
}

/// JSON answer as Heketi writes it (`json.NewEncoder(w).Encode`).
pub fn json_response<T: serde::Serialize>(status: StatusCode, v: &T) -> Response {
    match serde_json::to_vec(v) {
        Ok(mut b) => {
            b.push(b'\n');
            let mut r = Response::new(Body::from(b));
            *r.status_mut() = status;
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json; charset=UTF-8"),
            );
            r
        }
        Err(e) => text_error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

fn with_location(status: StatusCode, loc: &str) -> Response {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = status;
    if let Ok(v) = HeaderValue::from_str(loc) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

/// State of an asynchronous operation.
#[derive(Debug, Clone)]
enum Job {
    Pending,
    /// Finished: where the result is (`None`: nothing to return).
    Done(Option<String>),
    Failed(String),
}

/// The asynchronous operation manager (`/queue/{id}`).
#[derive(Debug, Default)]
pub struct Queue {
    jobs: Mutex<HashMap<String, Job>>,
}

impl Queue {
    fn set(&self, id: &str, j: Job) {
        if let Ok(mut m) = self.jobs.lock() {
            m.insert(id.to_string(), j);
        }
    }

    /// Answer for `GET /queue/{id}`.
    fn status(&self, id: &str) -> Response {
        let mut m = match self.jobs.lock() {
            Ok(m) => m,
            Err(_) => return text_error(StatusCode::INTERNAL_SERVER_ERROR, "queue lock poisoned"),
        };
        match m.get(id).cloned() {
            None => text_error(StatusCode::NOT_FOUND, "Id not found"),
            Some(Job::Pending) => {
                let mut r = Response::new(Body::empty());
                r.headers_mut()
                    .insert("X-Pending", HeaderValue::from_static("true"));
                r
            }
            Some(done) => {
                m.remove(id);
                match done {
                    Job::Failed(e) => text_error(StatusCode::INTERNAL_SERVER_ERROR, &e),
                    Job::Done(Some(loc)) => with_location(StatusCode::SEE_OTHER, &loc),
                    Job::Done(None) => {
                        let mut r = Response::new(Body::empty());
                        *r.status_mut() = StatusCode::NO_CONTENT;
                        r
                    }
                    Job::Pending => text_error(StatusCode::INTERNAL_SERVER_ERROR, "unreachable"),
                }
            }
        }
    }
}

/// Everything the handlers share.
pub struct App {
    pub db: Db,
    pub exec: Executor,
    pub queue: Queue,
    pub limits: Limits,
    /// Serialises work on GlusterFS (glusterd itself refuses concurrent
    /// transactions with "Another transaction is in progress").
    pub op_lock: tokio::sync::Mutex<()>,
    pub pre_options: Vec<(String, String)>,
    pub post_options: Vec<(String, String)>,
    pub auth: Option<jwt::Keys>,
}

pub type AppRef = Arc<App>;

impl App {
    /// Run `fut` in the background and answer `202` with its queue location.
    pub fn spawn_job<F>(self: &Arc<Self>, fut: F) -> Response
    where
        F: Future<Output = Result<Option<String>, String>> + Send + 'static,
    {
        let id = crate::api::new_id();
        self.queue.set(&id, Job::Pending);
        let app = self.clone();
        let jid = id.clone();
        tokio::spawn(async move {
            tracing::info!("Started job {jid}");
            let started = std::time::Instant::now();
            let r = fut.await;
            tracing::info!("Completed job {jid} in {:?}", started.elapsed());
            match r {
                Ok(loc) => app.queue.set(&jid, Job::Done(loc)),
                Err(e) => {
                    tracing::error!("job {jid} failed: {e}");
                    app.queue.set(&jid, Job::Failed(e))
                }
            }
        });
        with_location(StatusCode::ACCEPTED, &format!("/queue/{id}"))
    }
}

/// Parse Heketi's `pre/post_request_volume_options` ("key value, key value").
pub fn parse_volume_options(s: &str) -> Vec<(String, String)> {
    s.split(',')
        .filter_map(|kv| {
            let kv = kv.trim();
            let (k, v) = kv.split_once(char::is_whitespace)?;
            Some((k.trim().to_string(), v.trim().to_string()))
        })
        .collect()
}

fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

async fn auth_layer(State(app): State<AppRef>, req: Request, next: Next) -> Response {
    if let Some(keys) = &app.auth {
        let h = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        if let Err(e) = jwt::verify(h, req.method().as_str(), req.uri().path(), keys, now_unix()) {
            tracing::warn!("{} {}: {}", req.method(), req.uri().path(), e.message);
            let st = StatusCode::from_u16(e.status).unwrap_or(StatusCode::UNAUTHORIZED);
            return text_error(st, &e.message);
        }
    }
    next.run(req).await
}

async fn hello() -> Response {
    let mut r = Response::new(Body::from("Hello from Heketi"));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=UTF-8"),
    );
    r
}

async fn queue_status(
    State(app): State<AppRef>,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Response {
    if !handlers::hex_id(&id) {
        return handlers::page_not_found();
    }
    app.queue.status(&id)
}

async fn not_found() -> Response {
    handlers::page_not_found()
}

async fn method_not_allowed() -> Response {
    text_error(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed")
}

/// The router: Heketi's routes behind the JWT check, `/hello` outside it.
pub fn router(app: AppRef) -> Router {
    use handlers as h;
    let api = Router::new()
        .route("/queue/{id}", get(queue_status))
        .route("/clusters", post(h::cluster_create).get(h::cluster_list))
        .route(
            "/clusters/{id}",
            get(h::cluster_info).delete(h::cluster_delete),
        )
        .route("/clusters/{id}/flags", post(h::cluster_set_flags))
        .route("/nodes", post(h::node_add))
        .route("/nodes/{id}", get(h::node_info).delete(h::node_delete))
        .route("/nodes/{id}/state", post(h::node_state))
        .route("/nodes/{id}/tags", post(h::node_tags))
        .route("/devices", post(h::device_add))
        .route(
            "/devices/{id}",
            get(h::device_info).delete(h::device_delete),
        )
        .route("/devices/{id}/state", post(h::device_state))
        .route("/devices/{id}/resync", get(h::device_resync))
        .route("/devices/{id}/tags", post(h::device_tags))
        .route("/volumes", post(h::volume_create).get(h::volume_list))
        .route(
            "/volumes/{id}",
            get(h::volume_info).delete(h::volume_delete),
        )
        .route("/volumes/{id}/expand", post(h::volume_expand))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            auth_layer,
        ))
        .with_state(app.clone());
    Router::new()
        .route("/hello", get(hello))
        .merge(api)
        .fallback(not_found)
}

/// Open the database, recover interrupted operations, and build the app.
pub async fn build_app(cfg: &Config, disable_auth: bool) -> Result<AppRef, HeketiError> {
    if cfg.enable_tls {
        return Err(HeketiError::Config(
            "enable_tls is not supported by gluster-rs heketi; terminate TLS in a proxy in front of it"
                .into(),
        ));
    }
    let auth = if cfg.auth_enabled(disable_auth)? {
        let leeway = std::env::var("HEKETI_JWT_IAT_LEEWAY_SECONDS")
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(jwt::DEFAULT_IAT_LEEWAY);
        Some(jwt::Keys {
            admin: cfg.jwt.admin.key.as_bytes().to_vec(),
            user: cfg.jwt.user.key.as_bytes().to_vec(),
            iat_leeway: leeway,
        })
    } else {
        tracing::warn!("WARNING: server started without JWT authentication");
        None
    };
    let exec = Executor::from_config(cfg).map_err(HeketiError::Config)?;
    let db_path = cfg.db_path();
    let db = Db::open(std::path::Path::new(&db_path))
        .map_err(|e| HeketiError::Db(format!("{db_path}: {e}")))?;
    let mut limits = Limits::default();
    if cfg.glusterfs.brick_max_size_gb > 0 {
        limits.brick_max_kib = cfg.glusterfs.brick_max_size_gb * 1024 * 1024;
    }
    if cfg.glusterfs.brick_min_size_gb > 0 {
        limits.brick_min_kib = cfg.glusterfs.brick_min_size_gb * 1024 * 1024;
    }
    if cfg.glusterfs.max_bricks_per_volume > 0 {
        limits.max_bricks = cfg.glusterfs.max_bricks_per_volume;
    }
    let app = Arc::new(App {
        db,
        exec,
        queue: Queue::default(),
        limits,
        op_lock: tokio::sync::Mutex::new(()),
        pre_options: parse_volume_options(&cfg.glusterfs.pre_request_volume_options),
        post_options: parse_volume_options(&cfg.glusterfs.post_request_volume_options),
        auth,
    });
    ops::remount_bricks(&app).await;
    ops::recover(&app).await;
    Ok(app)
}

/// Run the server until SIGINT/SIGTERM.
pub async fn serve(cfg: Config, disable_auth: bool) -> Result<(), HeketiError> {
    let shutdown = async {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {},
            _ = term.recv() => {},
        }
        tracing::info!("Shutting down");
    };
    serve_until(cfg, disable_auth, shutdown, |addr| {
        println!("Heketi-compatible server (gluster-rs) listening on {addr}");
    })
    .await
}

/// Run the server until `shutdown` completes; `ready` is called with the
/// bound address once it accepts connections.
pub async fn serve_until(
    cfg: Config,
    disable_auth: bool,
    shutdown: impl Future<Output = ()> + Send + 'static,
    ready: impl FnOnce(SocketAddr),
) -> Result<(), HeketiError> {
    let port = cfg.port()?;
    let app = build_app(&cfg, disable_auth).await?;
    let ip: std::net::IpAddr = if cfg.listen.is_empty() {
        std::net::IpAddr::from([0, 0, 0, 0])
    } else {
        cfg.listen
            .parse()
            .map_err(|_| HeketiError::Config(format!("invalid listen address {:?}", cfg.listen)))?
    };
    let addr = SocketAddr::new(ip, port);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| HeketiError::Config(format!("unable to listen on {addr}: {e}")))?;
    let bound = listener.local_addr().unwrap_or(addr);
    tracing::info!("Listening on {bound}");
    ready(bound);
    axum::serve(listener, router(app.clone()))
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(|e| HeketiError::Io(e.to_string()))?;
    // Let an operation in progress finish its GlusterFS step before exit.
    let _g = app.op_lock.lock().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volume_option_strings() {
        assert_eq!(
            parse_volume_options("performance.rda-cache-limit 10MB, features.shard on"),
            vec![
                (
                    "performance.rda-cache-limit".to_string(),
                    "10MB".to_string()
                ),
                ("features.shard".to_string(), "on".to_string())
            ]
        );
        assert!(parse_volume_options("").is_empty());
    }
}
