//! Route handlers: request parsing and validation, the synchronous "build"
//! step of each operation (one database transaction), and the answers.
//! Messages and status codes follow Heketi 10's `apps/glusterfs/app_*.go`.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde::Deserialize;

use super::alloc::{self, AllocError, Candidate};
use super::db::*;
use super::exec::BrickLayout;
use super::ops;
use super::{json_response, text_error, AppRef, HttpError};
use crate::api::*;

type HResult = Result<Response, HttpError>;

/// gorilla/mux's answer when no route matches (ids must be hex).
pub fn page_not_found() -> Response {
    text_error(StatusCode::NOT_FOUND, "404 page not found")
}

pub fn hex_id(id: &str) -> bool {
    !id.is_empty() && id.bytes().all(|b| b.is_ascii_hexdigit())
}

fn check_id(id: &str) -> Result<(), HttpError> {
    if hex_id(id) {
        Ok(())
    } else {
        Err(HttpError::not_found("404 page not found"))
    }
}

fn parse<T: DeserializeOwned>(body: &Bytes) -> Result<T, HttpError> {
    serde_json::from_slice(body).map_err(|_| HttpError::unparsable())
}

fn nf(e: DbError, msg: &str) -> HttpError {
    match e {
        DbError::NotFound => HttpError::not_found(msg),
        e => HttpError::internal(e.to_string()),
    }
}

/// RFC 1123 host name or IP address (ozzo-validation's `is.Host`).
pub fn valid_host(h: &str) -> bool {
    if h.parse::<std::net::IpAddr>().is_ok() {
        return true;
    }
    !h.is_empty()
        && h.len() <= 253
        && h.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

// ---------------------------------------------------------------- info

pub fn brick_info(b: &BrickEntry) -> BrickInfo {
    BrickInfo {
        id: b.id.clone(),
        path: b.layout.brick_path(),
        device: b.device.clone(),
        node: b.node.clone(),
        volume: b.volume.clone(),
        size: b.layout.size_kib,
    }
}

pub fn device_info_response(r: &Reader, d: &DeviceEntry) -> Result<DeviceInfoResponse, DbError> {
    let mut bricks = Vec::new();
    for b in &d.bricks {
        bricks.push(brick_info(&r.brick(b)?));
    }
    Ok(DeviceInfoResponse {
        name: d.name.clone(),
        tags: d.tags.clone(),
        storage: StorageSize {
            total: d.total,
            free: d.free(),
            used: d.used,
        },
        id: d.id.clone(),
        paths: vec![d.name.clone()],
        pv_uuid: d.pv_uuid.clone(),
        state: d.state,
        bricks,
    })
}

pub fn node_info_response(r: &Reader, n: &NodeEntry) -> Result<NodeInfoResponse, DbError> {
    let mut devices = Vec::new();
    for d in &n.devices {
        devices.push(device_info_response(r, &r.device(d)?)?);
    }
    Ok(NodeInfoResponse {
        zone: n.zone,
        hostnames: n.hostnames.clone(),
        cluster: n.cluster.clone(),
        tags: n.tags.clone(),
        id: n.id.clone(),
        state: n.state,
        devices,
    })
}

/// Storage host names of a cluster's nodes (Heketi's `getHostsFromCluster`).
pub fn cluster_hosts(r: &Reader, cluster: &str) -> Result<Vec<String>, DbError> {
    let c = r.cluster(cluster)?;
    let mut hosts = Vec::new();
    for n in &c.nodes {
        hosts.push(r.node(n)?.storage().to_string());
    }
    Ok(hosts)
}

/// Heketi's `updateMountInfo`: device `hosts[0]:name`, backup volfile
/// servers the other hosts, comma separated.
pub fn mount_info(hosts: &[String], name: &str) -> MountInfo {
    let mut m = MountInfo::default();
    m.glusterfs.hosts = hosts.to_vec();
    m.glusterfs.device = format!(
        "{}:{}",
        hosts.first().map(String::as_str).unwrap_or(""),
        name
    );
    m.glusterfs.options.insert(
        "backup-volfile-servers".into(),
        hosts.iter().skip(1).cloned().collect::<Vec<_>>().join(","),
    );
    m
}

pub fn volume_info_response(r: &Reader, v: &VolumeEntry) -> Result<VolumeInfoResponse, DbError> {
    let hosts = cluster_hosts(r, &v.cluster)?;
    let mut bricks = Vec::new();
    for b in &v.bricks {
        bricks.push(brick_info(&r.brick(b)?));
    }
    Ok(VolumeInfoResponse {
        size: v.size,
        name: v.name.clone(),
        durability: v.durability.clone(),
        gid: v.gid,
        glustervolumeoptions: v.options.clone(),
        snapshot: v.snapshot,
        id: v.id.clone(),
        cluster: v.cluster.clone(),
        mount: mount_info(&hosts, &v.name),
        bricks,
        ..Default::default()
    })
}

// ---------------------------------------------------------------- clusters

pub async fn cluster_create(State(app): State<AppRef>, body: Bytes) -> HResult {
    let flags: ClusterFlags = if body.iter().all(|b| b.is_ascii_whitespace()) {
        // Heketi's API document allows an empty body (both flags on).
        ClusterFlags {
            block: true,
            file: true,
        }
    } else {
        parse(&body)?
    };
    let c = ClusterEntry {
        id: new_id(),
        flags,
        ..Default::default()
    };
    app.db.update(|w| w.put_cluster(&c))?;
    let info = ClusterInfoResponse {
        id: c.id.clone(),
        block: flags.block,
        file: flags.file,
        ..Default::default()
    };
    Ok(json_response(StatusCode::CREATED, &info))
}

pub async fn cluster_set_flags(
    State(app): State<AppRef>,
    Path(id): Path<String>,
    body: Bytes,
) -> HResult {
    check_id(&id)?;
    let flags: ClusterFlags = parse(&body)?;
    app.db.update(|w| {
        let mut c = w.cluster(&id)?;
        c.flags = flags;
        w.put_cluster(&c)
    })?;
    Ok(StatusCode::OK.into_response())
}

pub async fn cluster_list(State(app): State<AppRef>) -> HResult {
    let r = app.db.read()?;
    let mut clusters: Vec<String> = r.clusters()?.into_iter().map(|c| c.id).collect();
    clusters.sort();
    Ok(json_response(
        StatusCode::OK,
        &ClusterListResponse { clusters },
    ))
}

pub async fn cluster_info(State(app): State<AppRef>, Path(id): Path<String>) -> HResult {
    check_id(&id)?;
    let r = app.db.read()?;
    let c = r.cluster(&id)?;
    let info = ClusterInfoResponse {
        id: c.id.clone(),
        nodes: c.nodes.clone(),
        volumes: c.volumes.clone(),
        block: c.flags.block,
        file: c.flags.file,
        blockvolumes: Vec::new(),
    };
    Ok(json_response(StatusCode::OK, &info))
}

pub async fn cluster_delete(State(app): State<AppRef>, Path(id): Path<String>) -> HResult {
    check_id(&id)?;
    app.db.update(|w| {
        let c = w.cluster(&id)?;
        let pending = w.volumes()?.into_iter().any(|v| v.cluster == id);
        if !c.nodes.is_empty() || !c.volumes.is_empty() || pending {
            return Err(HttpError::conflict(format!(
                "Unable to delete cluster [{id}] because it contains volumes and/or nodes"
            )));
        }
        w.del_cluster(&id)?;
        Ok(())
    })?;
    tracing::info!("Deleted cluster [{id}]");
    Ok(StatusCode::OK.into_response())
}

// ---------------------------------------------------------------- nodes

fn validate_node_add(req: &NodeAddRequest) -> Result<(), HttpError> {
    let mut errs = Vec::new();
    if req.cluster.is_empty() {
        errs.push("cluster: cannot be blank".to_string());
    } else if !is_valid_id(&req.cluster) {
        errs.push(format!("cluster: {} is not a valid UUID", req.cluster));
    }
    let mut h = Vec::new();
    if req.hostnames.manage.is_empty() {
        h.push("manage: cannot be blank".to_string());
    } else if req.hostnames.manage.iter().any(|x| !valid_host(x)) {
        h.push(format!(
            "manage: {:?} is not a valid manage hostname",
            req.hostnames.manage
        ));
    }
    if req.hostnames.storage.is_empty() {
        h.push("storage: cannot be blank".to_string());
    } else if req.hostnames.storage.iter().any(|x| !valid_host(x)) {
        h.push(format!(
            "storage: {:?} is not a valid storage hostname",
            req.hostnames.storage
        ));
    }
    if !h.is_empty() {
        errs.push(format!("hostnames: ({}.)", h.join("; ")));
    }
    if req.zone == 0 {
        errs.push("zone: cannot be blank".into());
    } else if req.zone < 1 {
        errs.push("zone: must be no less than 1".into());
    }
    if let Err(e) = validate_tags(&req.tags) {
        errs.push(format!("tags: {e}"));
    }
    if errs.is_empty() {
        Ok(())
    } else {
        errs.sort();
        Err(HttpError::bad_request(format!(
            "validation failed: {}.",
            errs.join("; ")
        )))
    }
}

fn validate_tags(t: &Tags) -> Result<(), String> {
    if t.len() > 32 {
        return Err(format!(
            "too many tags specified ({}), up to 32 supported",
            t.len()
        ));
    }
    for (k, v) in t {
        if k.is_empty() || k.chars().count() > 32 {
            return Err(format!("tag name {k}: the length must be between 1 and 32"));
        }
        if v.chars().count() > 64 {
            return Err(format!(
                "value of tag {k}: the length must be no more than 64"
            ));
        }
        if !k
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
        {
            return Err(format!("invalid characters in tag name {k}"));
        }
    }
    Ok(())
}

fn hostname_keys(h: &HostAddresses) -> Vec<String> {
    let mut keys: Vec<String> = h.manage.iter().map(|x| format!("manage:{x}")).collect();
    keys.extend(h.storage.iter().map(|x| format!("storage:{x}")));
    keys
}

/// First node of a cluster whose glusterd answers (Heketi's
/// `GetVerifiedManageHostname`).
pub async fn verified_manage_host(app: &AppRef, nodes: &[NodeEntry]) -> Option<String> {
    for n in nodes {
        if n.state == EntryState::Online && app.exec.glusterd_check(n.manage()).await.is_ok() {
            return Some(n.manage().to_string());
        }
    }
    None
}

pub async fn node_add(State(app): State<AppRef>, body: Bytes) -> HResult {
    let req: NodeAddRequest = parse(&body)?;
    validate_node_add(&req)?;
    let node = NodeEntry {
        id: new_id(),
        cluster: req.cluster.clone(),
        zone: req.zone,
        hostnames: req.hostnames.clone(),
        tags: req.tags.clone(),
        state: EntryState::Online,
        devices: Vec::new(),
    };
    // Register host names (a conflict is 409).
    let peers: Vec<NodeEntry> = app.db.update(|w| {
        let c = w
            .cluster(&req.cluster)
            .map_err(|e| nf(e, "Cluster id does not exist"))?;
        for key in hostname_keys(&node.hostnames) {
            if let Some(owner) = w.hostname_owner(&key)? {
                if w.node(&owner).is_ok() {
                    let host = key.split_once(':').map(|x| x.1).unwrap_or(&key);
                    return Err(HttpError::conflict(format!(
                        "Hostname {host} already used by node with id {owner}"
                    )));
                }
            }
            w.register_hostname(&key, &node.id)?;
        }
        let mut peers = Vec::new();
        for n in &c.nodes {
            peers.push(w.node(n)?);
        }
        Ok::<_, HttpError>(peers)
    })?;
    let unregister = |app: &AppRef, node: &NodeEntry| {
        let _ = app.db.update(|w| {
            for key in hostname_keys(&node.hostnames) {
                if w.hostname_owner(&key)?.as_deref() == Some(node.id.as_str()) {
                    w.unregister_hostname(&key)?;
                }
            }
            Ok::<_, DbError>(())
        });
    };
    let peer_host = if peers.is_empty() {
        if let Err(e) = app.exec.glusterd_check(node.manage()).await {
            tracing::error!("glusterd check on {}: {e}", node.manage());
            unregister(&app, &node);
            return Err(HttpError::bad_request(
                "New Node doesn't have glusterd running",
            ));
        }
        None
    } else {
        match verified_manage_host(&app, &peers).await {
            Some(h) => Some(h),
            None => {
                unregister(&app, &node);
                return Err(HttpError::bad_request(
                    "None of the nodes in cluster has glusterd running",
                ));
            }
        }
    };
    tracing::info!("Adding node {}", node.manage());
    let app2 = app.clone();
    Ok(app.spawn_job(async move {
        let r = ops::node_add(&app2, &node, peer_host.as_deref()).await;
        if r.is_err() {
            unregister(&app2, &node);
        }
        r.map(|_| Some(format!("/nodes/{}", node.id)))
    }))
}

pub async fn node_info(State(app): State<AppRef>, Path(id): Path<String>) -> HResult {
    check_id(&id)?;
    let r = app.db.read()?;
    let n = r.node(&id)?;
    Ok(json_response(StatusCode::OK, &node_info_response(&r, &n)?))
}

pub async fn node_delete(State(app): State<AppRef>, Path(id): Path<String>) -> HResult {
    check_id(&id)?;
    let (node, peer) = {
        let r = app.db.read()?;
        let node = r.node(&id)?;
        if !node.devices.is_empty() {
            return Err(HttpError::conflict(format!(
                "Unable to delete node [{id}] because it contains devices"
            )));
        }
        let c = r
            .cluster(&node.cluster)
            .map_err(|e| nf(e, "Cluster id does not exist"))?;
        let mut peer = None;
        for n in &c.nodes {
            if *n != id {
                peer = Some(r.node(n)?);
                break;
            }
        }
        (node, peer)
    };
    tracing::info!("Deleting node {} [{}]", node.manage(), node.id);
    let app2 = app.clone();
    Ok(app.spawn_job(async move {
        ops::node_delete(&app2, &node, peer.as_ref())
            .await
            .map(|_| None)
    }))
}

#[derive(Deserialize)]
struct RawState {
    #[serde(default)]
    state: String,
    #[serde(default)]
    healcheck: String,
}

fn parse_state(body: &Bytes) -> Result<EntryState, HttpError> {
    let s: RawState = parse(body)?;
    if !matches!(s.healcheck.as_str(), "" | "enable" | "disable") {
        return Err(HttpError::bad_request(format!(
            "validation failed: healcheck: {} is not valid heal info check.",
            s.healcheck
        )));
    }
    match s.state.as_str() {
        "online" => Ok(EntryState::Online),
        "offline" => Ok(EntryState::Offline),
        "failed" => Ok(EntryState::Failed),
        "" => Err(HttpError::bad_request(
            "validation failed: state: cannot be blank.",
        )),
        other => Err(HttpError::bad_request(format!(
            "validation failed: state: {other} is not valid state."
        ))),
    }
}

pub async fn node_state(State(app): State<AppRef>, Path(id): Path<String>, body: Bytes) -> HResult {
    check_id(&id)?;
    let want = parse_state(&body)?;
    app.db.read()?.node(&id)?;
    let app2 = app.clone();
    Ok(app.spawn_job(async move { ops::node_set_state(&app2, &id, want).await.map(|_| None) }))
}

#[derive(Deserialize)]
struct TagsChange {
    #[serde(default)]
    change_type: String,
    #[serde(default, deserialize_with = "crate::api::nullable")]
    tags: Tags,
}

fn apply_tags(cur: &mut Tags, body: &Bytes) -> Result<(), HttpError> {
    let req: TagsChange = parse(body)?;
    validate_tags(&req.tags)
        .map_err(|e| HttpError::bad_request(format!("validation failed: tags: {e}.")))?;
    match req.change_type.as_str() {
        "set" => *cur = req.tags,
        "update" => cur.extend(req.tags),
        "delete" => {
            for k in req.tags.keys() {
                cur.remove(k);
            }
        }
        "" => {
            return Err(HttpError::bad_request(
                "validation failed: change_type: cannot be blank.",
            ))
        }
        other => {
            return Err(HttpError::bad_request(format!(
                "validation failed: change_type: {other} is not a valid tag change type."
            )))
        }
    }
    Ok(())
}

pub async fn node_tags(State(app): State<AppRef>, Path(id): Path<String>, body: Bytes) -> HResult {
    check_id(&id)?;
    let tags = app.db.update(|w| {
        let mut n = w.node(&id)?;
        apply_tags(&mut n.tags, &body)?;
        w.put_node(&n)?;
        Ok::<_, HttpError>(n.tags)
    })?;
    Ok(json_response(StatusCode::OK, &tags))
}

// ---------------------------------------------------------------- devices

pub async fn device_add(State(app): State<AppRef>, body: Bytes) -> HResult {
    let req: DeviceAddRequest = parse(&body)?;
    let mut errs = Vec::new();
    if req.name.is_empty() {
        errs.push("name: cannot be blank".to_string());
    } else if !is_valid_device_name(&req.name) {
        errs.push("name: must be in a valid format".to_string());
    }
    if req.node.is_empty() {
        errs.push("node: cannot be blank".to_string());
    } else if !is_valid_id(&req.node) {
        errs.push(format!("node: {} is not a valid UUID", req.node));
    }
    if let Err(e) = validate_tags(&req.tags) {
        errs.push(format!("tags: {e}"));
    }
    if !errs.is_empty() {
        return Err(HttpError::bad_request(format!(
            "validation failed: {}.",
            errs.join("; ")
        )));
    }
    let node = {
        let r = app.db.read()?;
        let node = r
            .node(&req.node)
            .map_err(|e| nf(e, "Node id does not exist"))?;
        for d in &node.devices {
            if r.device(d)?.name == req.name {
                return Err(HttpError::conflict(format!(
                    "Device {} is already added to node {}",
                    req.name, node.id
                )));
            }
        }
        node
    };
    tracing::info!("Adding device {} to node {}", req.name, req.node);
    let app2 = app.clone();
    Ok(app.spawn_job(async move { ops::device_add(&app2, &node, &req).await.map(|_| None) }))
}

pub async fn device_info(State(app): State<AppRef>, Path(id): Path<String>) -> HResult {
    check_id(&id)?;
    let r = app.db.read()?;
    let d = r.device(&id)?;
    Ok(json_response(
        StatusCode::OK,
        &device_info_response(&r, &d)?,
    ))
}

pub async fn device_delete(
    State(app): State<AppRef>,
    Path(id): Path<String>,
    body: Bytes,
) -> HResult {
    check_id(&id)?;
    let opts: DeviceDeleteOptions = if body.is_empty() {
        DeviceDeleteOptions::default()
    } else {
        parse(&body)?
    };
    let (dev, node) = {
        let r = app.db.read()?;
        let dev = r.device(&id)?;
        let node = r.node(&dev.node)?;
        if dev.state != EntryState::Failed {
            return Err(HttpError::bad_request(format!(
                "device: {id} is not in failed state"
            )));
        }
        if !dev.bricks.is_empty() {
            return Err(HttpError::conflict(format!(
                "Unable to delete device [{id}] because it contains bricks"
            )));
        }
        (dev, node)
    };
    let app2 = app.clone();
    Ok(app.spawn_job(async move {
        ops::device_delete(&app2, &dev, &node, opts.forceforget)
            .await
            .map(|_| None)
    }))
}

pub async fn device_state(
    State(app): State<AppRef>,
    Path(id): Path<String>,
    body: Bytes,
) -> HResult {
    check_id(&id)?;
    let want = parse_state(&body)?;
    app.db.read()?.device(&id)?;
    let app2 = app.clone();
    Ok(app.spawn_job(async move { ops::device_set_state(&app2, &id, want).await.map(|_| None) }))
}

pub async fn device_resync(State(app): State<AppRef>, Path(id): Path<String>) -> HResult {
    check_id(&id)?;
    let (dev, node) = {
        let r = app.db.read()?;
        let dev = r.device(&id)?;
        let node = r.node(&dev.node)?;
        (dev, node)
    };
    let app2 = app.clone();
    Ok(app.spawn_job(async move { ops::device_resync(&app2, &dev, &node).await.map(|_| None) }))
}

pub async fn device_tags(
    State(app): State<AppRef>,
    Path(id): Path<String>,
    body: Bytes,
) -> HResult {
    check_id(&id)?;
    let tags = app.db.update(|w| {
        let mut d = w.device(&id)?;
        apply_tags(&mut d.tags, &body)?;
        w.put_device(&d)?;
        Ok::<_, HttpError>(d.tags)
    })?;
    Ok(json_response(StatusCode::OK, &tags))
}

// ---------------------------------------------------------------- volumes

const GIB_KIB: u64 = 1024 * 1024;

/// Validate a create request the way Heketi's `VolumeCreate` does and fill
/// in defaults (durability none; replica 2; disperse 4+2).
pub fn validate_volume_create(req: &mut VolumeCreateRequest) -> Result<(), HttpError> {
    let mut errs = Vec::new();
    if req.size == 0 {
        errs.push("size: cannot be blank".to_string());
    } else if req.size < 1 {
        errs.push("size: must be no less than 1".to_string());
    }
    for c in &req.clusters {
        if !is_valid_id(c) {
            errs.push(format!("clusters: {c} is not a valid UUID"));
            break;
        }
    }
    if !req.name.is_empty() && !is_valid_volume_name(&req.name) {
        errs.push("name: must be in a valid format".into());
    }
    if !errs.is_empty() {
        errs.sort();
        return Err(HttpError::bad_request(format!(
            "validation failed: {}.",
            errs.join("; ")
        )));
    }
    if req.gid < 0 {
        return Err(HttpError::bad_request("Bad group id less than zero"));
    }
    if req.gid >= i32::MAX as i64 {
        return Err(HttpError::bad_request(
            "Bad group id equal or greater than 2**32",
        ));
    }
    match req.durability.kind.as_str() {
        DURABILITY_REPLICATE | DURABILITY_DISPERSE | DURABILITY_NONE => {}
        "" => req.durability.kind = DURABILITY_NONE.into(),
        _ => return Err(HttpError::bad_request("Unknown durability type")),
    }
    if req.snapshot.enable && (req.snapshot.factor < 1.0 || req.snapshot.factor > 100.0) {
        return Err(HttpError::bad_request("Invalid snapshot factor"));
    }
    if req.durability.kind == DURABILITY_REPLICATE {
        if req.durability.replicate.replica > 3 || req.durability.replicate.replica < 0 {
            return Err(HttpError::bad_request("Invalid replica value"));
        }
        if req.durability.replicate.replica == 0 {
            req.durability.replicate.replica = 2;
        }
    }
    if req.durability.kind == DURABILITY_DISPERSE {
        let d = &mut req.durability.disperse;
        if d.data == 0 && d.redundancy == 0 {
            d.data = 4;
            d.redundancy = 2;
        }
        match (d.data, d.redundancy) {
            (2, 1) | (4, 2) | (8, 3) | (8, 4) => {}
            (a, b) => {
                return Err(HttpError::bad_request(format!(
                    "Invalid dispersion combination: {a}+{b}"
                )))
            }
        }
    }
    if req.block {
        return Err(HttpError::bad_request(
            "Block hosting volumes are not supported by this server",
        ));
    }
    Ok(())
}

/// Bricks' data share of the volume size: a disperse set stores data on
/// `data` bricks; replicate and none store the full size per brick.
fn data_bricks(v: &VolumeEntry) -> u64 {
    if v.durability.kind == DURABILITY_DISPERSE {
        v.durability.disperse.data.max(1) as u64
    } else {
        1
    }
}

/// Online devices of online nodes of a cluster.
fn candidates(
    w: &Writer,
    cluster: &ClusterEntry,
) -> Result<(Vec<Candidate>, Vec<DeviceEntry>), AllocError> {
    let mut cands = Vec::new();
    let mut devs = Vec::new();
    if cluster.nodes.is_empty() {
        return Err(AllocError::NoSpace("No nodes in cluster".into()));
    }
    for nid in &cluster.nodes {
        let Ok(n) = w.node(nid) else { continue };
        if n.state != EntryState::Online {
            continue;
        }
        for did in &n.devices {
            let Ok(d) = w.device(did) else { continue };
            if d.state != EntryState::Online {
                continue;
            }
            cands.push(Candidate {
                device: d.id.clone(),
                node: n.id.clone(),
                zone: n.zone,
                free_kib: d.free(),
            });
            devs.push(d);
        }
    }
    if cands.is_empty() {
        return Err(AllocError::NoSpace(
            "No online storage devices in cluster".into(),
        ));
    }
    Ok((cands, devs))
}

/// Allocate bricks for `size_gib` more of volume `v` in `cluster`; saves the
/// brick entries and device reservations in `w`. Returns the brick ids.
fn allocate_bricks(
    app: &AppRef,
    w: &Writer,
    v: &VolumeEntry,
    cluster: &ClusterEntry,
    size_gib: i64,
) -> Result<Vec<String>, AllocError> {
    let (cands, mut devs) = candidates(w, cluster)?;
    let seed = u64::from_str_radix(v.id.get(..7).unwrap_or("0"), 16).unwrap_or(0);
    let size_kib = size_gib as u64 * GIB_KIB / data_bricks(v);
    let factor = if v.snapshot.enable {
        v.snapshot.factor
    } else {
        1.0
    };
    let mounts = app.exec.mounts_dir.clone();
    let space = |i: usize, brick: u64| {
        BrickLayout::new(
            devs[i].kind,
            &devs[i].name,
            &devs[i].id,
            "x",
            brick,
            factor,
            0,
            &mounts,
        )
        .total_kib()
    };
    let p = alloc::plan(
        &cands,
        size_kib,
        v.set_size(),
        v.bricks.len(),
        app.limits,
        seed,
        space,
    )?;
    let mut ids = Vec::new();
    for set in &p.sets {
        for &i in set {
            let d = &mut devs[i];
            let bid = new_id();
            let layout = BrickLayout::new(
                d.kind,
                &d.name,
                &d.id,
                &bid,
                p.brick_kib,
                factor,
                v.gid,
                &mounts,
            );
            d.used += layout.total_kib();
            d.bricks.push(bid.clone());
            let b = BrickEntry {
                id: bid.clone(),
                device: d.id.clone(),
                node: d.node.clone(),
                volume: v.id.clone(),
                layout,
            };
            w.put_brick(&b)
                .map_err(|e| AllocError::NoSpace(e.to_string()))?;
            w.put_device(d)
                .map_err(|e| AllocError::NoSpace(e.to_string()))?;
            ids.push(bid);
        }
    }
    Ok(ids)
}

fn alloc_message(e: &AllocError) -> String {
    match e {
        AllocError::NoSpace(d) if d.starts_with("No ") && !d.contains("bricks") => d.clone(),
        AllocError::NoSpace(d) if d.is_empty() => "No space".into(),
        AllocError::NoSpace(d) => format!("No space ({d})"),
        AllocError::MinimumBrickSize => {
            "No space (bricks would be below the minimum brick size)".into()
        }
        AllocError::MaxBricks => "No space (maximum number of bricks per volume reached)".into(),
    }
}

/// Expansion by growing every brick in place, when all their devices are
/// online and have room (and bricks stay within the maximum brick size):
/// reserves the space and returns (brick, new size) pairs; `None` when the
/// volume must get new bricks instead.
fn grow_in_place(
    app: &AppRef,
    w: &Writer,
    v: &VolumeEntry,
    expand_gib: i64,
) -> Result<Option<Vec<(String, u64)>>, HttpError> {
    let sets = (v.bricks.len() / v.set_size().max(1)).max(1) as u64;
    let delta = expand_gib as u64 * GIB_KIB / data_bricks(v) / sets;
    if delta == 0 || v.bricks.is_empty() {
        return Ok(None);
    }
    let mut devices: std::collections::BTreeMap<String, DeviceEntry> = Default::default();
    let mut plan = Vec::new();
    let mut extra: std::collections::BTreeMap<String, u64> = Default::default();
    for bid in &v.bricks {
        let b = w.brick(bid)?;
        let new_size = b.layout.size_kib + delta;
        if new_size > app.limits.brick_max_kib {
            return Ok(None);
        }
        if !devices.contains_key(&b.device) {
            let d = w.device(&b.device)?;
            let n = w.node(&d.node)?;
            if d.state != EntryState::Online || n.state != EntryState::Online {
                return Ok(None);
            }
            devices.insert(d.id.clone(), d);
        }
        let factor = if v.snapshot.enable {
            v.snapshot.factor
        } else {
            1.0
        };
        let l = &b.layout;
        let grown = BrickLayout::new(
            l.kind,
            &l.device_name,
            &l.device_id,
            &l.brick_id,
            new_size,
            factor,
            l.gid,
            &app.exec.mounts_dir,
        );
        *extra.entry(b.device.clone()).or_default() +=
            grown.total_kib().saturating_sub(l.total_kib());
        plan.push((bid.clone(), new_size));
    }
    for (did, need) in &extra {
        match devices.get(did) {
            Some(d) if d.free() >= *need => {}
            _ => return Ok(None),
        }
    }
    for (did, need) in extra {
        if let Some(d) = devices.get_mut(&did) {
            d.used += need;
            w.put_device(d)?;
        }
    }
    Ok(Some(plan))
}

pub async fn volume_create(State(app): State<AppRef>, body: Bytes) -> HResult {
    let mut req: VolumeCreateRequest = parse(&body)?;
    validate_volume_create(&mut req)?;
    let mut v = VolumeEntry {
        id: new_id(),
        size: req.size,
        durability: req.durability.clone(),
        gid: req.gid,
        options: req.glustervolumeoptions.clone(),
        snapshot: if req.snapshot.enable {
            req.snapshot
        } else {
            SnapshotInfo {
                enable: false,
                factor: 1.0,
            }
        },
        ..Default::default()
    };
    v.name = if req.name.is_empty() {
        format!("vol_{}", v.id)
    } else {
        req.name.clone()
    };
    if (req.size as u64) * GIB_KIB < app.limits.brick_min_kib * data_bricks(&v) {
        return Err(HttpError::bad_request(format!(
            "Requested volume size ({} GB) is smaller than the minimum supported volume size ({})",
            req.size,
            app.limits.brick_min_kib * data_bricks(&v)
        )));
    }
    let op = OpEntry {
        id: new_id(),
        kind: OpKind::VolumeCreate,
        volume: v.id.clone(),
        bricks: Vec::new(),
        size: req.size,
        grow: Vec::new(),
    };
    let op = app.db.update(|w| {
        let mut clusters = w.clusters()?;
        clusters.sort_by(|a, b| a.id.cmp(&b.id));
        if clusters.is_empty() {
            return Err(HttpError::bad_request("No clusters configured"));
        }
        for c in &req.clusters {
            if !clusters.iter().any(|x| &x.id == c) {
                return Err(HttpError::bad_request(format!("Cluster id {c} not found")));
            }
        }
        let possible: Vec<&ClusterEntry> = clusters
            .iter()
            .filter(|c| req.clusters.is_empty() || req.clusters.contains(&c.id))
            .collect();
        // Eligible clusters (Heketi's eligibleClusters).
        let mut errors: Vec<String> = Vec::new();
        let all_volumes = w.volumes()?;
        let mut eligible = Vec::new();
        for c in possible {
            if !c.flags.file {
                errors.push(if c.flags.block {
                    "Cluster does not support requested volume type".into()
                } else {
                    "Cluster has disabled all volume types".into()
                });
                continue;
            }
            if all_volumes
                .iter()
                .any(|x| x.cluster == c.id && x.name == v.name)
            {
                errors.push(format!("Volume name '{}' already in use", v.name));
                continue;
            }
            eligible.push(c);
        }
        if eligible.is_empty() {
            let msg = if errors.len() == 1 {
                errors.remove(0)
            } else if errors.is_empty() {
                "No space".into()
            } else {
                format!("No eligible cluster for volume: {}", errors.join("; "))
            };
            return Err(HttpError::internal(format!(
                "Failed to allocate new volume: {msg}"
            )));
        }
        let mut errors = Vec::new();
        for c in eligible {
            v.cluster = c.id.clone();
            match allocate_bricks(&app, w, &v, c, req.size) {
                Ok(ids) => {
                    v.bricks = ids.clone();
                    v.pending = Some(op.id.clone());
                    w.put_volume(&v)?;
                    let op = OpEntry {
                        bricks: ids,
                        ..op.clone()
                    };
                    w.put_op(&op)?;
                    return Ok(op);
                }
                Err(e) => errors.push(alloc_message(&e)),
            }
        }
        let msg = if errors.len() == 1 {
            errors.remove(0)
        } else {
            format!(
                "Unable to create volume on any cluster: {}",
                errors.join("; ")
            )
        };
        Err(HttpError::internal(format!(
            "Failed to allocate new volume: {msg}"
        )))
    })?;
    let app2 = app.clone();
    let vid = v.id.clone();
    Ok(app.spawn_job(async move {
        ops::volume_create(&app2, &op)
            .await
            .map(|_| Some(format!("/volumes/{vid}")))
    }))
}

pub async fn volume_list(State(app): State<AppRef>) -> HResult {
    let r = app.db.read()?;
    let mut volumes: Vec<String> = r
        .volumes()?
        .into_iter()
        .filter(|v| v.pending.is_none() || is_expanding(&r, v))
        .map(|v| v.id)
        .collect();
    volumes.sort();
    Ok(json_response(
        StatusCode::OK,
        &VolumeListResponse { volumes },
    ))
}

/// A volume being expanded stays visible; one being created or deleted is
/// hidden, as Heketi's `VolumeEntry.Visible` hides pending volumes.
fn is_expanding(r: &Reader, v: &VolumeEntry) -> bool {
    v.pending
        .as_ref()
        .and_then(|op| r.op(op).ok())
        .map(|op| op.kind == OpKind::VolumeExpand)
        .unwrap_or(false)
}

fn visible_volume(r: &Reader, id: &str) -> Result<VolumeEntry, HttpError> {
    let v = r.volume(id).map_err(|e| nf(e, "Id not found"))?;
    if v.pending.is_some() && !is_expanding(r, &v) {
        return Err(HttpError::not_found("Id not found"));
    }
    Ok(v)
}

pub async fn volume_info(State(app): State<AppRef>, Path(id): Path<String>) -> HResult {
    check_id(&id)?;
    let r = app.db.read()?;
    let v = visible_volume(&r, &id)?;
    Ok(json_response(
        StatusCode::OK,
        &volume_info_response(&r, &v)?,
    ))
}

pub async fn volume_expand(
    State(app): State<AppRef>,
    Path(id): Path<String>,
    body: Bytes,
) -> HResult {
    check_id(&id)?;
    let req: VolumeExpandRequest = parse(&body)?;
    if req.expand_size == 0 {
        return Err(HttpError::bad_request(
            "validation failed: expand_size: cannot be blank.",
        ));
    }
    if req.expand_size < 1 {
        return Err(HttpError::bad_request(
            "validation failed: expand_size: must be no less than 1.",
        ));
    }
    let op = app.db.update(|w| {
        let mut v = w.volume(&id)?;
        if v.pending.is_some() {
            return Err(HttpError::conflict(format!(
                "Volume {id} has an operation in progress"
            )));
        }
        let c = w.cluster(&v.cluster)?;
        let mut op = OpEntry {
            id: new_id(),
            kind: OpKind::VolumeExpand,
            volume: v.id.clone(),
            bricks: Vec::new(),
            size: req.expand_size,
            grow: Vec::new(),
        };
        match grow_in_place(&app, w, &v, req.expand_size)? {
            Some(grow) => op.grow = grow,
            None => {
                op.bricks = allocate_bricks(&app, w, &v, &c, req.expand_size).map_err(|e| {
                    HttpError::internal(format!(
                        "Failed to allocate volume expansion: {}",
                        alloc_message(&e)
                    ))
                })?;
            }
        }
        v.pending = Some(op.id.clone());
        w.put_volume(&v)?;
        w.put_op(&op)?;
        Ok::<_, HttpError>(op)
    })?;
    let app2 = app.clone();
    Ok(app.spawn_job(async move {
        ops::volume_expand(&app2, &op)
            .await
            .map(|_| Some(format!("/volumes/{id}")))
    }))
}

pub async fn volume_delete(State(app): State<AppRef>, Path(id): Path<String>) -> HResult {
    check_id(&id)?;
    let op = app.db.update(|w| {
        let mut v = w.volume(&id)?;
        if v.name == "heketidbstorage" {
            return Err(HttpError::conflict(
                "Cannot delete volume containing the Heketi database",
            ));
        }
        if v.pending.is_some() {
            return Err(HttpError::conflict(format!(
                "Volume {id} has an operation in progress"
            )));
        }
        let op = OpEntry {
            id: new_id(),
            kind: OpKind::VolumeDelete,
            volume: v.id.clone(),
            bricks: Vec::new(),
            size: 0,
            grow: Vec::new(),
        };
        v.pending = Some(op.id.clone());
        w.put_volume(&v)?;
        w.put_op(&op)?;
        Ok::<_, HttpError>(op)
    })?;
    let app2 = app.clone();
    Ok(app.spawn_job(async move { ops::volume_delete(&app2, &op).await.map(|_| None) }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_info_as_heketi() {
        let m = mount_info(&["h1".into(), "h2".into(), "h3".into()], "vol_a");
        assert_eq!(m.glusterfs.device, "h1:vol_a");
        assert_eq!(m.glusterfs.options["backup-volfile-servers"], "h2,h3");
        let m = mount_info(&["h1".into()], "v");
        assert_eq!(m.glusterfs.options["backup-volfile-servers"], "");
    }

    #[test]
    fn volume_create_validation() {
        let mut r = VolumeCreateRequest {
            size: 1,
            ..Default::default()
        };
        validate_volume_create(&mut r).unwrap();
        assert_eq!(r.durability.kind, "none");

        let mut r = VolumeCreateRequest {
            size: 1,
            ..Default::default()
        };
        r.durability.kind = "replicate".into();
        validate_volume_create(&mut r).unwrap();
        assert_eq!(r.durability.replicate.replica, 2);

        let mut r = VolumeCreateRequest {
            size: 1,
            ..Default::default()
        };
        r.durability.kind = "replicate".into();
        r.durability.replicate.replica = 4;
        assert_eq!(
            validate_volume_create(&mut r).unwrap_err().msg,
            "Invalid replica value"
        );

        let mut r = VolumeCreateRequest::default();
        let e = validate_volume_create(&mut r).unwrap_err();
        assert_eq!(
            (e.status.as_u16(), e.msg.as_str()),
            (400, "validation failed: size: cannot be blank.")
        );

        let mut r = VolumeCreateRequest {
            size: 1,
            name: "bad name".into(),
            ..Default::default()
        };
        assert!(validate_volume_create(&mut r)
            .unwrap_err()
            .msg
            .contains("name"));

        let mut r = VolumeCreateRequest {
            size: 1,
            gid: -1,
            ..Default::default()
        };
        assert_eq!(
            validate_volume_create(&mut r).unwrap_err().msg,
            "Bad group id less than zero"
        );

        let mut r = VolumeCreateRequest {
            size: 1,
            ..Default::default()
        };
        r.durability.kind = "mirror".into();
        assert_eq!(
            validate_volume_create(&mut r).unwrap_err().msg,
            "Unknown durability type"
        );

        let mut r = VolumeCreateRequest {
            size: 1,
            ..Default::default()
        };
        r.durability.kind = "disperse".into();
        r.durability.disperse.data = 3;
        r.durability.disperse.redundancy = 1;
        assert_eq!(
            validate_volume_create(&mut r).unwrap_err().msg,
            "Invalid dispersion combination: 3+1"
        );

        let mut r = VolumeCreateRequest {
            size: 1,
            clusters: vec!["zz".into()],
            ..Default::default()
        };
        assert!(validate_volume_create(&mut r)
            .unwrap_err()
            .msg
            .contains("not a valid UUID"));
    }

    #[test]
    fn node_add_validation() {
        let mut r = NodeAddRequest {
            zone: 1,
            cluster: new_id(),
            ..Default::default()
        };
        r.hostnames.manage = vec!["127.0.0.1".into()];
        r.hostnames.storage = vec!["node-1.example".into()];
        validate_node_add(&r).unwrap();
        r.zone = 0;
        assert!(validate_node_add(&r)
            .unwrap_err()
            .msg
            .contains("zone: cannot be blank"));
        r.zone = 1;
        r.hostnames.storage = vec!["bad host!".into()];
        assert!(validate_node_add(&r).unwrap_err().msg.contains("storage"));
        r.hostnames.storage = vec![];
        assert!(validate_node_add(&r)
            .unwrap_err()
            .msg
            .contains("storage: cannot be blank"));
    }

    #[test]
    fn hosts() {
        assert!(valid_host("vm"));
        assert!(valid_host("127.0.0.2"));
        assert!(valid_host("a-b.example.com"));
        assert!(!valid_host("-a"));
        assert!(!valid_host("a b"));
        assert!(!valid_host(""));
    }

    #[test]
    fn tags_rules() {
        let mut t = Tags::new();
        t.insert("rack".into(), "a".into());
        assert!(validate_tags(&t).is_ok());
        t.insert("bad key".into(), "a".into());
        assert!(validate_tags(&t).is_err());
    }
}
