//! The client module against the server, in-process, on routes that need no
//! GlusterFS: JWT signing and checking, status codes and messages, the
//! database surviving a restart. Runs anywhere (no root, no glusterd).

use std::time::Duration;

use heketi::api::*;
use heketi::client::{ClientOptions, HeketiClient};
use heketi::config::Config;
use heketi::HeketiError;

struct Server {
    url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    async fn start(db: &str) -> Server {
        let cfg = Config::parse(
            &serde_json::json!({
                "port": "0",
                "listen": "127.0.0.1",
                "use_auth": true,
                "jwt": {"admin": {"key": "A"}, "user": {"key": "U"}},
                "glusterfs": {"db": db, "executor": "local"}
            })
            .to_string(),
        )
        .expect("config");
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let (atx, arx) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(async move {
            let shutdown = async move {
                let _ = rx.await;
            };
            heketi::server::serve_until(cfg, false, shutdown, move |a| {
                let _ = atx.send(a);
            })
            .await
            .expect("serve");
        });
        let addr = tokio::time::timeout(Duration::from_secs(10), arx)
            .await
            .expect("server up")
            .expect("address");
        Server {
            url: format!("http://{addr}"),
            stop: Some(tx),
            task,
        }
    }

    async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        let _ = tokio::time::timeout(Duration::from_secs(10), &mut self.task).await;
    }
}

fn client(url: &str, user: &str, key: &str) -> HeketiClient {
    HeketiClient::new(ClientOptions {
        server: url.into(),
        user: user.into(),
        key: key.into(),
        op_timeout: Duration::from_secs(30),
        progress: false,
    })
    .expect("client")
}

fn status(e: Result<impl std::fmt::Debug, HeketiError>) -> (u16, String) {
    match e {
        Err(HeketiError::Http { status, message }) => (status, message),
        other => panic!("expected an HTTP error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clusters_auth_and_persistence() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("heketi.db").display().to_string();
    let srv = Server::start(&db).await;
    let admin = client(&srv.url, "admin", "A");

    assert_eq!(admin.hello().await.expect("hello"), "Hello from Heketi");
    // no token at all: /hello is open, the rest is not
    let anon = client(&srv.url, "", "");
    assert_eq!(anon.hello().await.expect("hello"), "Hello from Heketi");
    let (st, msg) = status(anon.cluster_list().await);
    assert_eq!(
        (st, msg.as_str()),
        (401, "Required authorization token not found")
    );
    // wrong key, user outside /volumes
    assert_eq!(
        status(client(&srv.url, "admin", "nope").cluster_list().await).0,
        401
    );
    let user = client(&srv.url, "user", "U");
    let (st, msg) = status(user.cluster_list().await);
    assert_eq!((st, msg.as_str()), (401, "Administrator access required"));
    assert!(user
        .volume_list()
        .await
        .expect("user lists volumes")
        .volumes
        .is_empty());

    // clusters
    let c = admin
        .cluster_create(ClusterFlags {
            block: false,
            file: true,
        })
        .await
        .expect("create");
    assert!(is_valid_id(&c.id));
    assert!(c.file && !c.block);
    admin
        .cluster_set_flags(
            &c.id,
            ClusterFlags {
                block: true,
                file: true,
            },
        )
        .await
        .expect("flags");
    let info = admin.cluster_info(&c.id).await.expect("info");
    assert!(info.block && info.file && info.nodes.is_empty());
    assert_eq!(
        admin.cluster_list().await.expect("list").clusters,
        vec![c.id.clone()]
    );

    // status codes
    let unknown = new_id();
    assert_eq!(
        status(admin.cluster_info(&unknown).await),
        (404, "Id not found".into())
    );
    assert_eq!(status(admin.node_info(&unknown).await).0, 404);
    assert_eq!(status(admin.device_info(&unknown).await).0, 404);
    assert_eq!(status(admin.volume_info(&unknown).await).0, 404);
    assert_eq!(status(admin.volume_delete(&unknown).await).0, 404);
    assert_eq!(status(admin.volume_expand(&unknown, 1).await).0, 404);
    assert_eq!(status(admin.cluster_info("not-hex").await).0, 404);
    let (st, msg) = status(
        admin
            .node_add(&NodeAddRequest {
                zone: 1,
                hostnames: HostAddresses {
                    manage: vec!["127.0.0.1".into()],
                    storage: vec!["127.0.0.1".into()],
                },
                cluster: unknown.clone(),
                tags: Tags::new(),
            })
            .await,
    );
    assert_eq!((st, msg.as_str()), (404, "Cluster id does not exist"));
    let (st, msg) = status(admin.node_add(&NodeAddRequest::default()).await);
    assert_eq!(st, 400);
    assert!(msg.starts_with("validation failed:"), "{msg}");
    let (st, msg) = status(
        admin
            .device_add(&DeviceAddRequest {
                name: "relative/path".into(),
                node: unknown.clone(),
                ..Default::default()
            })
            .await,
    );
    assert_eq!(st, 400, "{msg}");
    let (st, msg) = status(
        admin
            .volume_create(&VolumeCreateRequest {
                size: 1,
                clusters: vec![unknown.clone()],
                ..Default::default()
            })
            .await,
    );
    assert_eq!((st, msg), (400, format!("Cluster id {unknown} not found")));
    let (st, msg) = status(
        admin
            .volume_create(&VolumeCreateRequest {
                size: 1,
                ..Default::default()
            })
            .await,
    );
    assert_eq!(st, 500);
    assert!(
        msg.starts_with("Failed to allocate new volume: No nodes in cluster"),
        "{msg}"
    );

    // malformed JSON: 422 (raw request, the client only sends valid JSON)
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("time")
        .as_secs() as i64;
    let t = heketi::jwt::sign(
        &heketi::jwt::Claims::for_request("admin", "POST", "/volumes", now),
        b"A",
    );
    let r = reqwest::Client::new()
        .post(format!("{}/volumes", srv.url))
        .header("Authorization", format!("bearer {t}"))
        .body("{\"size\": \"one\"")
        .send()
        .await
        .expect("post");
    assert_eq!(r.status().as_u16(), 422);
    assert_eq!(
        r.text().await.expect("body").trim(),
        "request unable to be parsed"
    );

    // restart on the same database: state intact
    srv.stop().await;
    let srv = Server::start(&db).await;
    let admin = client(&srv.url, "admin", "A");
    let info2 = admin.cluster_info(&c.id).await.expect("info after restart");
    assert_eq!(info, info2);
    admin.cluster_delete(&c.id).await.expect("delete");
    assert!(admin
        .cluster_list()
        .await
        .expect("list")
        .clusters
        .is_empty());
    srv.stop().await;
}
