//! End to end against this host's GlusterFS: a Heketi-compatible server
//! with auth on, a 3-node topology (127.0.0.1/2/3, all this host's
//! glusterd), a 1 GiB replica-3 volume made through the client module,
//! mounted from the returned mount info, written past its size, expanded,
//! written again, deleted; JWT refusals; restarts (graceful and a crash in
//! the middle of a volume create) with the state intact.
//!
//! Needs root, glusterd and `mount.glusterfs` (or `mount.gluster-rs`).
//! Everything it makes is named `hkrst<pid>...` / lives under
//! `/srv/hkrst-<pid>` and is removed at the end, also on failure.
//!
//! The server runs as a child process: this test binary re-executed to run
//! the ignored test `hkrs_server_process`.

use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use heketi::api::*;
use heketi::client::{ClientOptions, HeketiClient};
use heketi::jwt;
use heketi::topology::TopologyFile;

const ADMIN_KEY: &str = "hkrs-admin-secret";
const USER_KEY: &str = "hkrs-user-secret";
const GIB: u64 = 1024 * 1024 * 1024;

fn sh(cmd: &str, args: &[&str]) -> (bool, String) {
    match Command::new(cmd).args(args).output() {
        Ok(o) => (
            o.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            ),
        ),
        Err(e) => (false, e.to_string()),
    }
}

fn environment_ok() -> Result<(), String> {
    if !sh("id", &["-u"]).1.trim().eq("0") {
        return Err("not root".into());
    }
    let (ok, out) = sh("gluster", &["--mode=script", "pool", "list"]);
    if !ok {
        return Err(format!("glusterd not answering: {out}"));
    }
    if !std::path::Path::new("/sbin/mount.glusterfs").exists()
        && !std::path::Path::new("/sbin/mount.gluster-rs").exists()
    {
        return Err("no mount.glusterfs nor mount.gluster-rs".into());
    }
    Ok(())
}

/// Removes everything the test made, in Drop (so also on panic).
struct Cleanup {
    prefix: String,
    root: String,
    mounts: Vec<String>,
    loops: Vec<String>,
    server: Option<Child>,
}

impl Cleanup {
    fn kill_server(&mut self) {
        if let Some(mut c) = self.server.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        self.kill_server();
        for m in &self.mounts {
            let _ = sh("umount", &["-l", m]);
            let _ = std::fs::remove_dir(m);
        }
        let (_, vols) = sh("gluster", &["--mode=script", "volume", "list"]);
        for v in vols
            .lines()
            .map(str::trim)
            .filter(|v| v.starts_with(&self.prefix))
        {
            eprintln!("cleanup: deleting leftover volume {v}");
            let _ = sh("gluster", &["--mode=script", "volume", "stop", v, "force"]);
            let _ = sh("gluster", &["--mode=script", "volume", "delete", v]);
        }
        // brick file systems under our root
        if let Ok(m) = std::fs::read_to_string("/proc/mounts") {
            let mut mps: Vec<&str> = m
                .lines()
                .filter_map(|l| l.split_whitespace().nth(1))
                .filter(|p| p.starts_with(&self.root))
                .collect();
            mps.sort_by_key(|p| std::cmp::Reverse(p.len()));
            for p in mps {
                eprintln!("cleanup: unmounting leftover {p}");
                let _ = sh("umount", &["-l", p]);
            }
        }
        for l in &self.loops {
            // a volume group left on it would keep it busy
            let (_, vg) = sh("pvs", &["--noheadings", "-o", "vg_name", l]);
            let vg = vg.trim();
            if !vg.is_empty() {
                let _ = sh("vgremove", &["-qq", "-f", vg]);
            }
            let _ = sh("pvremove", &["-qq", "-ff", "-y", l]);
            let _ = sh("losetup", &["-d", l]);
        }
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// A loop device over a sparse file, if losetup and LVM are usable.
fn make_loop_device(img: &str, size: &str) -> Option<String> {
    if !sh("pvcreate", &["--version"]).0 {
        return None;
    }
    if !sh("truncate", &["-s", size, img]).0 {
        return None;
    }
    let (ok, dev) = sh("losetup", &["-f", "--show", img]);
    let dev = dev.trim().to_string();
    (ok && dev.starts_with("/dev/loop")).then_some(dev)
}

fn local_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "localhost".into())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(18099)
}

fn start_server(cfg_path: &str, log: &str) -> Child {
    let exe = std::env::current_exe().expect("current exe");
    let logf = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("log file");
    Command::new(exe)
        .args(["--ignored", "--exact", "hkrs_server_process", "--nocapture"])
        .env("HKRS_SERVE_CONFIG", cfg_path)
        .env("RUST_LOG", "info")
        .stdout(Stdio::from(logf.try_clone().expect("log")))
        .stderr(Stdio::from(logf))
        .spawn()
        .expect("spawn server")
}

async fn wait_up(url: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let http = reqwest::Client::new();
    while Instant::now() < deadline {
        if let Ok(r) = http.get(format!("{url}/hello")).send().await {
            if r.status() == 200 {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("server did not come up at {url}");
}

fn stop_server(c: &mut Cleanup) {
    if let Some(mut ch) = c.server.take() {
        let _ = sh("kill", &["-TERM", &ch.id().to_string()]);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(_)) = ch.try_wait() {
                break;
            }
            if Instant::now() > deadline {
                let _ = ch.kill();
                let _ = ch.wait();
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// The server process (run by `e2e_lifecycle`, not on its own).
#[test]
#[ignore]
fn hkrs_server_process() {
    let Ok(cfg) = std::env::var("HKRS_SERVE_CONFIG") else {
        return;
    };
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let args = heketi::HeketiArgs {
            server: String::new(),
            user: String::new(),
            secret: String::new(),
            timeout: 600,
            json: false,
            cmd: heketi::cli::Cmd::Serve(heketi::cli::ServeArgs {
                config: cfg.into(),
                disable_auth: false,
            }),
        };
        heketi::run(args).await.expect("server");
    });
}

/// Write `path` in 1 MiB chunks until `limit` bytes or an error.
fn fill(path: &str, limit: u64, append: bool) -> (u64, Option<std::io::Error>) {
    let mut f = match std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .append(append)
        .truncate(!append)
        .open(path)
    {
        Ok(f) => f,
        Err(e) => return (0, Some(e)),
    };
    let buf = vec![0x5au8; 1 << 20];
    let mut written = 0u64;
    while written < limit {
        match f.write(&buf) {
            Ok(n) => written += n as u64,
            Err(e) => return (written, Some(e)),
        }
    }
    if let Err(e) = f.sync_all() {
        return (written, Some(e));
    }
    (written, None)
}

fn is_space_error(e: &std::io::Error) -> bool {
    // ENOSPC (28) from a full brick, EDQUOT (122) from GlusterFS quota.
    matches!(e.raw_os_error(), Some(28) | Some(122))
}

/// Mount with the same code `volume create --mount` uses.
async fn mount_volume(info: &VolumeInfoResponse, dir: &str) {
    let fstype = if std::path::Path::new("/sbin/mount.gluster-rs").exists() {
        heketi::mount::FSTYPE
    } else {
        eprintln!(
            "\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
        );
        eprintln!(
            "!!! /sbin/mount.gluster-rs does not exist: FALLING BACK to `mount -t glusterfs` !!!"
        );
        eprintln!(
            "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n"
        );
        "glusterfs"
    };
    heketi::mount::mount(&info.mount.glusterfs, dir, fstype)
        .await
        .expect("mount");
}

fn gluster_has_volume(name: &str) -> bool {
    sh("gluster", &["--mode=script", "volume", "info", name]).0
}

/// No bricks on cluster 1's devices, no space reserved, no brick mounts.
async fn assert_c1_empty(admin: &HeketiClient, c1: &str, root: &str) {
    let t = admin.topology_info().await.expect("topology");
    for n in &t.clusters.iter().find(|c| c.id == c1).expect("c1").nodes {
        for d in &n.devices {
            assert_eq!(d.storage.used, 0, "space of rolled back bricks returned");
            assert!(d.bricks.is_empty());
        }
    }
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    assert!(!mounts.contains(root), "brick mounts left: {mounts}");
    for n in ["n1", "n2", "n3"] {
        if let Ok(rd) = std::fs::read_dir(format!("{root}/{n}")) {
            for vg in rd.flatten() {
                let left: Vec<_> = std::fs::read_dir(vg.path())
                    .map(|r| r.flatten().map(|e| e.path()).collect())
                    .unwrap_or_default();
                assert!(left.is_empty(), "brick files left: {left:?}");
            }
        }
    }
}

async fn status_of(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    auth: Option<String>,
) -> (u16, String) {
    let mut r = http.request(method, url);
    if let Some(a) = auth {
        r = r.header("Authorization", a);
    }
    let resp = r.send().await.expect("request");
    let st = resp.status().as_u16();
    (st, resp.text().await.unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e2e_lifecycle() {
    if let Err(why) = environment_ok() {
        eprintln!("SKIPPED e2e_lifecycle: {why}");
        return;
    }
    let pid = std::process::id();
    let prefix = format!("hkrst{pid}");
    let root = format!("/srv/hkrst-{pid}");
    let mut guard = Cleanup {
        prefix: prefix.clone(),
        root: root.clone(),
        mounts: Vec::new(),
        loops: Vec::new(),
        server: None,
    };
    for n in ["n1", "n2", "n3", "n4", "n5", "n6"] {
        std::fs::create_dir_all(format!("{root}/{n}")).expect("device dir");
    }
    let port = free_port();
    let cfg_path = format!("{root}/heketi.json");
    let log = format!("{root}/server.log");
    std::fs::write(
        &cfg_path,
        serde_json::json!({
            "_port_comment": "test server",
            "port": port.to_string(),
            "listen": "127.0.0.1",
            "use_auth": true,
            "jwt": {"admin": {"key": ADMIN_KEY}, "user": {"key": USER_KEY}},
            "glusterfs": {"executor": "ssh", "db": format!("{root}/heketi.db"), "loglevel": "info",
                          "unknown_option": 1}
        })
        .to_string(),
    )
    .expect("config");
    let url = format!("http://127.0.0.1:{port}");
    guard.server = Some(start_server(&cfg_path, &log));
    wait_up(&url).await;

    let admin = HeketiClient::new(ClientOptions {
        server: url.clone(),
        user: "admin".into(),
        key: ADMIN_KEY.into(),
        op_timeout: Duration::from_secs(300),
        progress: false,
    })
    .expect("client");

    // ---- JWT refusals (each 401)
    let http = reqwest::Client::new();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("time")
        .as_secs() as i64;
    let tok = |iss: &str, key: &str, method: &str, path: &str, iat: i64, exp: i64| {
        let mut c = jwt::Claims::for_request(iss, method, path, iat);
        c.exp = exp;
        format!("bearer {}", jwt::sign(&c, key.as_bytes()))
    };
    let clusters = format!("{url}/clusters");
    let cases = [
        ("no token", None),
        (
            "bad key",
            Some(tok(
                "admin",
                "wrong-key",
                "GET",
                "/clusters",
                now,
                now + 300,
            )),
        ),
        (
            "expired",
            Some(tok(
                "admin",
                ADMIN_KEY,
                "GET",
                "/clusters",
                now - 900,
                now - 600,
            )),
        ),
        (
            "wrong qsh",
            Some(tok("admin", ADMIN_KEY, "GET", "/nodes", now, now + 300)),
        ),
        (
            "user on /clusters",
            Some(tok("user", USER_KEY, "GET", "/clusters", now, now + 300)),
        ),
    ];
    for (what, auth) in cases {
        let (st, body) = status_of(&http, reqwest::Method::GET, &clusters, auth).await;
        assert_eq!(st, 401, "{what}: {body}");
        eprintln!("JWT {what}: 401 {}", body.trim());
    }
    let (st, _) = status_of(
        &http,
        reqwest::Method::GET,
        &clusters,
        Some(tok("admin", ADMIN_KEY, "GET", "/clusters", now, now + 300)),
    )
    .await;
    assert_eq!(st, 200, "valid admin token");
    let (st, _) = status_of(
        &http,
        reqwest::Method::GET,
        &format!("{url}/volumes"),
        Some(tok("user", USER_KEY, "GET", "/volumes", now, now + 300)),
    )
    .await;
    assert_eq!(st, 200, "user on /volumes");

    // ---- topology: 3 nodes of one pool (all this host's glusterd)
    let topo = TopologyFile::parse(
        &serde_json::json!({"clusters": [{"nodes": [
            {"node": {"hostnames": {"manage": ["127.0.0.1"], "storage": ["127.0.0.1"]}, "zone": 1},
             "devices": [format!("{root}/n1")]},
            {"node": {"hostnames": {"manage": ["127.0.0.2"], "storage": ["127.0.0.2"]}, "zone": 2},
             "devices": [format!("{root}/n2")]},
            {"node": {"hostnames": {"manage": ["127.0.0.3"], "storage": ["127.0.0.3"]}, "zone": 3},
             "devices": [{"name": format!("{root}/n3")}]}
        ]}]})
        .to_string(),
    )
    .expect("topology");
    let out = heketi::cli::topology_load(&admin, &topo)
        .await
        .expect("topology load");
    eprintln!("{out}");
    assert_eq!(out.matches("OK").count(), 3, "{out}");
    // loading again finds everything
    let again = heketi::cli::topology_load(&admin, &topo)
        .await
        .expect("reload");
    assert_eq!(again.matches("Found node").count(), 3, "{again}");
    let t = admin.topology_info().await.expect("topology info");
    assert_eq!(t.clusters.len(), 1);
    let c1 = t.clusters[0].id.clone();
    assert_eq!(t.clusters[0].nodes.len(), 3);

    // ---- status codes of bad requests
    let admin_tok = |m: &str, p: &str| Some(tok("admin", ADMIN_KEY, m, p, now, now + 600));
    let r = http
        .post(format!("{url}/volumes"))
        .header(
            "Authorization",
            admin_tok("POST", "/volumes").unwrap_or_default(),
        )
        .body("{not json")
        .send()
        .await
        .expect("post");
    assert_eq!(r.status().as_u16(), 422, "malformed JSON");
    let unknown = format!("/volumes/{}", new_id());
    let (st, _) = status_of(
        &http,
        reqwest::Method::GET,
        &format!("{url}{unknown}"),
        admin_tok("GET", &unknown),
    )
    .await;
    assert_eq!(st, 404, "unknown volume id");
    let big = VolumeCreateRequest {
        size: 100_000,
        name: format!("{prefix}_huge"),
        durability: VolumeDurabilityInfo {
            kind: "replicate".into(),
            replicate: ReplicaDurability { replica: 3 },
            ..Default::default()
        },
        ..Default::default()
    };
    match admin.volume_create(&big).await {
        Err(heketi::HeketiError::Http { status, message }) => {
            assert_eq!(status, 500);
            assert!(message.contains("No space"), "{message}");
            eprintln!("size beyond free space: {status} {message}");
        }
        other => panic!("huge volume: {other:?}"),
    }
    // replica 3 on a 2-node cluster
    let c2 = admin
        .cluster_create(ClusterFlags {
            block: false,
            file: true,
        })
        .await
        .expect("cluster 2");
    let mut c2_nodes = Vec::new();
    for (i, host) in ["127.0.0.4", "127.0.0.5"].iter().enumerate() {
        let n = admin
            .node_add(&NodeAddRequest {
                zone: 1,
                hostnames: HostAddresses {
                    manage: vec![host.to_string()],
                    storage: vec![host.to_string()],
                },
                cluster: c2.id.clone(),
                tags: Tags::new(),
            })
            .await
            .expect("node add");
        admin
            .device_add(&DeviceAddRequest {
                name: format!("{root}/n{}", i + 4),
                node: n.id.clone(),
                ..Default::default()
            })
            .await
            .expect("device add");
        c2_nodes.push(n.id);
    }
    // duplicate host name: 409
    let dup = admin
        .node_add(&NodeAddRequest {
            zone: 1,
            hostnames: HostAddresses {
                manage: vec!["127.0.0.4".into()],
                storage: vec!["127.0.0.4".into()],
            },
            cluster: c2.id.clone(),
            tags: Tags::new(),
        })
        .await;
    assert!(
        matches!(dup, Err(heketi::HeketiError::Http { status: 409, .. })),
        "{dup:?}"
    );
    let mut r3 = big.clone();
    r3.size = 1;
    r3.name = format!("{prefix}_r3on2");
    r3.clusters = vec![c2.id.clone()];
    match admin.volume_create(&r3).await {
        Err(heketi::HeketiError::Http { status, message }) => {
            assert_eq!(status, 500);
            assert!(
                message.contains("No space") && message.contains("3 nodes"),
                "{message}"
            );
            eprintln!("replica 3 on 2 nodes: {status} {message}");
        }
        other => panic!("replica 3 on 2 nodes: {other:?}"),
    }
    assert!(!gluster_has_volume(&r3.name));

    // ---- a create that fails half-way (gluster refuses an option after
    // the bricks and the volume were made) is rolled back
    let bad = VolumeCreateRequest {
        name: format!("{prefix}_badopt"),
        clusters: vec![c1.clone()],
        glustervolumeoptions: vec!["no.such.option on".into()],
        ..r3.clone()
    };
    match admin.volume_create(&bad).await {
        Err(heketi::HeketiError::Http { status, message }) => {
            assert_eq!(status, 500);
            eprintln!("failing create: {status} {message}");
        }
        other => panic!("create with a bad option: {other:?}"),
    }
    assert!(
        !gluster_has_volume(&bad.name),
        "half-created volume left in GlusterFS"
    );
    assert_c1_empty(&admin, &c1, &root).await;

    // ---- a name GlusterFS already has (a volume Heketi does not know):
    // the create fails and the other volume is left alone
    let foreign = format!("{prefix}_foreign");
    std::fs::create_dir_all(format!("{root}/foreign")).expect("dir");
    let brick = format!("{}:{root}/foreign/b", local_hostname());
    let (ok, out) = sh(
        "gluster",
        &[
            "--mode=script",
            "volume",
            "create",
            &foreign,
            &brick,
            "force",
        ],
    );
    assert!(ok, "{out}");
    let clash = VolumeCreateRequest {
        name: foreign.clone(),
        clusters: vec![c1.clone()],
        ..r3.clone()
    };
    let (st, msg) = match admin.volume_create(&clash).await {
        Err(heketi::HeketiError::Http { status, message }) => (status, message),
        other => panic!("create over a foreign volume: {other:?}"),
    };
    assert_eq!(st, 500, "{msg}");
    eprintln!("name taken in GlusterFS: {st} {msg}");
    assert!(gluster_has_volume(&foreign), "foreign volume was deleted");
    assert_c1_empty(&admin, &c1, &root).await;
    let _ = sh("gluster", &["--mode=script", "volume", "delete", &foreign]);

    // ---- crash in the middle of a create, then restart: rolled back
    let crash_name = format!("{prefix}_crash");
    let crash_req = VolumeCreateRequest {
        name: crash_name.clone(),
        clusters: vec![c1.clone()],
        ..r3.clone()
    };
    let r = http
        .post(format!("{url}/volumes"))
        .header(
            "Authorization",
            admin_tok("POST", "/volumes").unwrap_or_default(),
        )
        .json(&crash_req)
        .send()
        .await
        .expect("post");
    assert_eq!(r.status().as_u16(), 202);
    tokio::time::sleep(Duration::from_millis(700)).await;
    guard.kill_server(); // SIGKILL
    guard.server = Some(start_server(&cfg_path, &log));
    wait_up(&url).await;
    let vols = admin.volume_list().await.expect("list");
    let mut crash_visible = false;
    for v in &vols.volumes {
        let i = admin.volume_info(v).await.expect("info");
        if i.name == crash_name {
            crash_visible = true;
        }
    }
    if crash_visible {
        // The create had already finished before the kill: it must be whole.
        eprintln!("crash test: create finished before the kill; volume is complete");
        assert!(gluster_has_volume(&crash_name));
    } else {
        eprintln!("crash test: interrupted create was rolled back");
        assert!(
            !gluster_has_volume(&crash_name),
            "half-created volume left in GlusterFS"
        );
        assert_c1_empty(&admin, &c1, &root).await;
    }
    // remove it if it was complete
    for v in admin.volume_list().await.expect("list").volumes {
        if admin
            .volume_info(&v)
            .await
            .map(|i| i.name == crash_name)
            .unwrap_or(false)
        {
            admin.volume_delete(&v).await.expect("delete crash volume");
        }
    }

    // ---- the lifecycle: create 1 GiB replica 3 through the client module
    let req = VolumeCreateRequest {
        size: 1,
        gid: 2000,
        name: format!("{prefix}_vol"),
        clusters: vec![c1.clone()],
        durability: VolumeDurabilityInfo {
            kind: "replicate".into(),
            replicate: ReplicaDurability { replica: 3 },
            ..Default::default()
        },
        ..Default::default()
    };
    let t0 = Instant::now();
    let vol = admin.volume_create(&req).await.expect("volume create");
    eprintln!("volume create took {:?}", t0.elapsed());
    assert_eq!(vol.size, 1);
    assert_eq!(vol.bricks.len(), 3);
    assert_eq!(
        vol.mount.glusterfs.device,
        format!("127.0.0.1:{}", req.name)
    );
    assert_eq!(
        vol.mount.glusterfs.options["backup-volfile-servers"],
        "127.0.0.2,127.0.0.3"
    );
    let mut brick_nodes: Vec<&str> = vol.bricks.iter().map(|b| b.node.as_str()).collect();
    brick_nodes.sort();
    brick_nodes.dedup();
    assert_eq!(brick_nodes.len(), 3, "bricks on distinct nodes");
    assert!(gluster_has_volume(&req.name));

    let mnt = format!("{root}-mnt");
    guard.mounts.push(mnt.clone());
    mount_volume(&vol, &mnt).await;
    {
        use std::os::unix::fs::MetadataExt;
        let m = std::fs::metadata(&mnt).expect("stat mount");
        assert_eq!(m.gid(), 2000, "volume root group is the requested gid");
        assert_eq!(m.mode() & 0o7777, 0o2775, "setgid, group writable");
    }

    // write past its size
    let (w1, e1) = fill(&format!("{mnt}/big"), 2 * GIB, false);
    let e1 = e1.expect("writing 2 GiB into a 1 GiB volume must fail");
    assert!(is_space_error(&e1), "expected ENOSPC/EDQUOT, got {e1}");
    eprintln!("wrote {} MiB into the 1 GiB volume, then: {e1}", w1 >> 20);
    assert!(w1 > GIB / 2 && w1 <= GIB, "wrote {w1}");

    // graceful restart in the middle: state intact
    let before = admin.topology_info().await.expect("topology");
    stop_server(&mut guard);
    guard.server = Some(start_server(&cfg_path, &log));
    wait_up(&url).await;
    let after = admin.topology_info().await.expect("topology after restart");
    assert_eq!(before, after, "state changed across restart");

    // expand, write more
    let t0 = Instant::now();
    let ex = admin.volume_expand(&vol.id, 1).await.expect("expand");
    eprintln!("volume expand took {:?}", t0.elapsed());
    assert_eq!(ex.size, 2);
    // posix's reserve check (every 5 s) must see the new room first
    tokio::time::sleep(Duration::from_secs(7)).await;
    let (w2, e2) = fill(&format!("{mnt}/more"), 300 << 20, false);
    assert!(
        e2.is_none(),
        "write after expand failed after {} MiB: {e2:?}",
        w2 >> 20
    );
    let (w3, e3) = fill(&format!("{mnt}/big"), 100 << 20, true);
    assert!(
        e3.is_none(),
        "append after expand failed after {} MiB: {e3:?}",
        w3 >> 20
    );
    eprintln!("after expand wrote {} MiB more", (w2 + w3) >> 20);

    // ---- device removal moves bricks: a 4th node joins, one brick's
    // device is disabled and removed (replace-brick), data stays readable
    let n6 = admin
        .node_add(&NodeAddRequest {
            zone: 4,
            hostnames: HostAddresses {
                manage: vec!["127.0.0.6".into()],
                storage: vec!["127.0.0.6".into()],
            },
            cluster: c1.clone(),
            tags: Tags::new(),
        })
        .await
        .expect("node 6");
    admin
        .device_add(&DeviceAddRequest {
            name: format!("{root}/n6"),
            node: n6.id.clone(),
            ..Default::default()
        })
        .await
        .expect("device n6");
    let victim = ex.bricks[0].device.clone();
    let old_brick = ex.bricks[0].id.clone();
    let (st, _) = status_of(
        &http,
        reqwest::Method::DELETE,
        &format!("{url}/devices/{victim}"),
        Some(tok(
            "admin",
            ADMIN_KEY,
            "DELETE",
            &format!("/devices/{victim}"),
            now,
            now + 3600,
        )),
    )
    .await;
    assert_eq!(st, 400, "deleting a device that is not removed");
    admin
        .device_state(&victim, EntryState::Offline)
        .await
        .expect("disable");
    let t0 = Instant::now();
    admin
        .device_state(&victim, EntryState::Failed)
        .await
        .expect("remove (replace-brick)");
    eprintln!("device remove (replace-brick) took {:?}", t0.elapsed());
    let moved = admin.volume_info(&vol.id).await.expect("info");
    assert!(
        moved
            .bricks
            .iter()
            .all(|b| b.device != victim && b.id != old_brick),
        "{moved:?}"
    );
    assert!(moved.bricks.iter().any(|b| b.node == n6.id), "{moved:?}");
    let mut nodes: Vec<&str> = moved.bricks.iter().map(|b| b.node.as_str()).collect();
    nodes.sort();
    nodes.dedup();
    assert_eq!(nodes.len(), 3, "replica set still on 3 nodes");
    let (_, gi) = sh("gluster", &["--mode=script", "volume", "info", &req.name]);
    assert!(gi.contains(&moved.bricks[0].path), "{gi}");
    let d = admin.device_info(&victim).await.expect("device info");
    assert!(d.bricks.is_empty() && d.storage.used == 0, "{d:?}");
    let len = std::fs::metadata(format!("{mnt}/more"))
        .expect("stat")
        .len();
    assert_eq!(len, 300 << 20, "data readable after replace-brick");

    let (ok, out) = sh("umount", &[&mnt]);
    assert!(ok, "umount: {out}");

    // ---- as after a reboot: volume down, a brick file system unmounted;
    // the server mounts it again at start and starts the bricks
    stop_server(&mut guard);
    let (ok, out) = sh(
        "gluster",
        &["--mode=script", "volume", "stop", &req.name, "force"],
    );
    assert!(ok, "{out}");
    let brick_mount = moved.bricks[1].path.trim_end_matches("/brick").to_string();
    let (ok, out) = sh("umount", &[&brick_mount]);
    assert!(ok, "umount brick: {out}");
    guard.server = Some(start_server(&cfg_path, &log));
    wait_up(&url).await;
    let (ok, _) = sh("mountpoint", &["-q", &brick_mount]);
    assert!(ok, "brick {brick_mount} mounted again at start");
    let (_, st) = sh("gluster", &["--mode=script", "volume", "info", &req.name]);
    assert!(st.contains("Status: Started"), "{st}");

    // delete
    admin.volume_delete(&vol.id).await.expect("delete");
    assert!(!gluster_has_volume(&req.name));
    assert!(admin.volume_list().await.expect("list").volumes.is_empty());
    let leftover: Vec<String> = std::fs::read_to_string("/proc/mounts")
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(&root))
        .map(String::from)
        .collect();
    assert!(leftover.is_empty(), "brick mounts left: {leftover:?}");

    // ---- a block device (a loop device here): LVM physical volume and
    // volume group as Heketi makes them, capacity from vgdisplay
    if let Some(loopdev) = make_loop_device(&format!("{root}/disk.img"), "4G") {
        guard.loops.push(loopdev.clone());
        let n1 = admin
            .topology_info()
            .await
            .expect("topology")
            .clusters
            .iter()
            .find(|c| c.id == c1)
            .and_then(|c| {
                c.nodes
                    .iter()
                    .find(|n| n.hostnames.manage[0] == "127.0.0.1")
                    .cloned()
            })
            .expect("node 1");
        admin
            .device_add(&DeviceAddRequest {
                name: loopdev.clone(),
                node: n1.id.clone(),
                ..Default::default()
            })
            .await
            .expect("block device add");
        let n = admin.node_info(&n1.id).await.expect("node info");
        let d = n
            .devices
            .iter()
            .find(|d| d.name == loopdev)
            .expect("block device");
        // 4 GiB minus LVM metadata, in KiB
        assert!(
            d.storage.total > 3 * 1024 * 1024 && d.storage.total < 4 * 1024 * 1024,
            "{d:?}"
        );
        assert!(!d.pv_uuid.is_empty(), "{d:?}");
        let (ok, vgs) = sh("vgs", &["--noheadings", "-o", "vg_name"]);
        assert!(ok && vgs.contains(&format!("vg_{}", d.id)), "{vgs}");
        eprintln!(
            "block device {loopdev}: {} KiB in vg_{}",
            d.storage.total, d.id
        );
    } else {
        eprintln!("SKIPPED block device part: no loop device or LVM");
    }

    // ---- tear the topology down through the API
    let t = admin.topology_info().await.expect("topology");
    for c in &t.clusters {
        for n in &c.nodes {
            for d in &n.devices {
                admin
                    .device_state(&d.id, EntryState::Offline)
                    .await
                    .expect("disable");
                admin
                    .device_state(&d.id, EntryState::Failed)
                    .await
                    .expect("remove");
                admin
                    .device_delete(&d.id, false)
                    .await
                    .expect("device delete");
            }
            admin.node_delete(&n.id).await.expect("node delete");
        }
        admin.cluster_delete(&c.id).await.expect("cluster delete");
    }
    assert!(admin
        .cluster_list()
        .await
        .expect("list")
        .clusters
        .is_empty());
    let (_, vgs) = sh("vgs", &["--noheadings", "-o", "vg_name"]);
    for d in t
        .clusters
        .iter()
        .flat_map(|c| c.nodes.iter())
        .flat_map(|n| n.devices.iter())
    {
        assert!(
            !vgs.contains(&format!("vg_{}", d.id)),
            "volume group left: {vgs}"
        );
    }
    stop_server(&mut guard);
}
