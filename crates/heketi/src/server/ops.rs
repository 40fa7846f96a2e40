//! The asynchronous part of each operation: work on the storage nodes, then
//! one database transaction. A volume operation is recorded in the `ops`
//! table by its build step; if the work fails it is rolled back here (no
//! half-created volume is left in GlusterFS), and if the server stops
//! half-way, [`recover`] finishes the job at the next start: creates and
//! unfinished expansions are rolled back, deletes are rolled forward.

use super::db::*;
use super::exec::{BrickLayout, ExecError};
use super::AppRef;
use crate::api::{DeviceAddRequest, EntryState, DURABILITY_DISPERSE};

type OpResult = Result<(), String>;

fn db_err(e: DbError) -> String {
    e.to_string()
}

fn ex_err(e: ExecError) -> String {
    e.to_string()
}

// ---------------------------------------------------------------- nodes

pub async fn node_add(app: &AppRef, node: &NodeEntry, peer: Option<&str>) -> OpResult {
    let _g = app.op_lock.lock().await;
    if let Some(p) = peer {
        app.exec
            .peer_probe(p, node.storage())
            .await
            .map_err(ex_err)?;
    }
    app.db
        .update(|w| {
            let mut c = w.cluster(&node.cluster)?;
            c.nodes.push(node.id.clone());
            w.put_cluster(&c)?;
            w.put_node(node)
        })
        .map_err(db_err)?;
    tracing::info!("Added node {}", node.id);
    Ok(())
}

pub async fn node_delete(app: &AppRef, node: &NodeEntry, peer: Option<&NodeEntry>) -> OpResult {
    let _g = app.op_lock.lock().await;
    if let Some(p) = peer {
        // Volumes of the cluster may still use the node's address as a
        // volfile server; Heketi detaches regardless, as do we.
        app.exec
            .peer_detach(p.manage(), node.storage())
            .await
            .map_err(ex_err)?;
    }
    app.db
        .update(|w| {
            let n = w.node(&node.id)?;
            if !n.devices.is_empty() {
                return Err(DbError::Store(format!(
                    "Unable to delete node [{}] because it contains devices",
                    n.id
                )));
            }
            if let Ok(mut c) = w.cluster(&n.cluster) {
                c.nodes.retain(|x| *x != n.id);
                w.put_cluster(&c)?;
            }
            for h in &n.hostnames.manage {
                w.unregister_hostname(&format!("manage:{h}"))?;
            }
            for h in &n.hostnames.storage {
                w.unregister_hostname(&format!("storage:{h}"))?;
            }
            w.del_node(&n.id)
        })
        .map_err(db_err)?;
    tracing::info!("Deleted node [{}]", node.id);
    Ok(())
}

/// State transitions of Heketi's `NodeEntry.SetState`.
pub async fn node_set_state(app: &AppRef, id: &str, want: EntryState) -> OpResult {
    let node = app.db.read().and_then(|r| r.node(id)).map_err(db_err)?;
    match (node.state, want) {
        (a, b) if a == b => return Ok(()),
        (EntryState::Failed, EntryState::Online) => {
            return Err("Cannot move a failed/removed node to online state".into())
        }
        (EntryState::Failed, EntryState::Offline) => {
            return Err("Cannot move a failed/removed node to offline state".into())
        }
        (EntryState::Online, EntryState::Failed) => {
            return Err(format!(
                "Node must be offline before remove operation is performed, node:{id}"
            ))
        }
        (EntryState::Offline, EntryState::Failed) => {
            for d in &node.devices {
                device_set_state(app, d, EntryState::Offline).await?;
                device_set_state(app, d, EntryState::Failed).await.map_err(|e| {
                    format!("Unable to remove node [{id}] as device [{d}] could not be removed: {e}")
                })?;
            }
        }
        _ => {}
    }
    app.db
        .update(|w| {
            let mut n = w.node(id)?;
            n.state = want;
            w.put_node(&n)
        })
        .map_err(db_err)
}

// ---------------------------------------------------------------- devices

pub async fn device_add(app: &AppRef, node: &NodeEntry, req: &DeviceAddRequest) -> OpResult {
    let _g = app.op_lock.lock().await;
    let id = crate::api::new_id();
    let setup = app
        .exec
        .device_setup(node.manage(), &req.name, &id, req.destroydata)
        .await
        .map_err(ex_err)?;
    let dev = DeviceEntry {
        id: id.clone(),
        node: node.id.clone(),
        name: req.name.clone(),
        tags: req.tags.clone(),
        state: EntryState::Online,
        kind: setup.kind,
        total: setup.total_kib,
        used: 0,
        pv_uuid: setup.pv_uuid,
        bricks: Vec::new(),
    };
    let r = app.db.update(|w| {
        let mut n = w.node(&node.id)?;
        for d in &n.devices {
            if w.device(d)?.name == dev.name {
                return Err(DbError::Store(format!(
                    "Device {} is already added to node {}",
                    dev.name, n.id
                )));
            }
        }
        n.devices.push(dev.id.clone());
        w.put_node(&n)?;
        w.put_device(&dev)
    });
    if let Err(e) = r {
        let _ = app
            .exec
            .device_teardown(node.manage(), dev.kind, &dev.name, &dev.id)
            .await;
        return Err(db_err(e));
    }
    tracing::info!("Added device {}", req.name);
    Ok(())
}

pub async fn device_delete(
    app: &AppRef,
    dev: &DeviceEntry,
    node: &NodeEntry,
    forget: bool,
) -> OpResult {
    let _g = app.op_lock.lock().await;
    if !forget {
        app.exec
            .device_teardown(node.manage(), dev.kind, &dev.name, &dev.id)
            .await
            .map_err(ex_err)?;
    }
    app.db
        .update(|w| {
            let d = w.device(&dev.id)?;
            if !d.bricks.is_empty() {
                return Err(DbError::Store(format!(
                    "Unable to delete device [{}] because it contains bricks",
                    d.id
                )));
            }
            if let Ok(mut n) = w.node(&d.node) {
                n.devices.retain(|x| *x != d.id);
                w.put_node(&n)?;
            }
            w.del_device(&d.id)
        })
        .map_err(db_err)?;
    tracing::info!("Deleted device [{}]", dev.id);
    Ok(())
}

/// State transitions of Heketi's `DeviceEntry.SetState`; `failed` moves
/// every brick of the device elsewhere (replace-brick) first.
pub async fn device_set_state(app: &AppRef, id: &str, want: EntryState) -> OpResult {
    let dev = app.db.read().and_then(|r| r.device(id)).map_err(db_err)?;
    match (dev.state, want) {
        (a, b) if a == b => return Ok(()),
        (EntryState::Failed, EntryState::Online) | (EntryState::Failed, EntryState::Offline) => {
            // Heketi allows re-enabling a removed (empty) device.
        }
        (EntryState::Online, EntryState::Failed) => {
            return Err(format!(
                "Device must be offline before remove operation is performed, device:{id}"
            ))
        }
        (EntryState::Offline, EntryState::Failed) => {
            for b in &dev.bricks {
                replace_brick(app, b).await.map_err(|e| {
                    format!(
                        "Unable to delete device [{id}] as no device was found to replace it: {e}"
                    )
                })?;
            }
        }
        _ => {}
    }
    app.db
        .update(|w| {
            let mut d = w.device(id)?;
            d.state = want;
            w.put_device(&d)
        })
        .map_err(db_err)
}

pub async fn device_resync(app: &AppRef, dev: &DeviceEntry, node: &NodeEntry) -> OpResult {
    let (_, avail) = app
        .exec
        .device_capacity(node.manage(), dev.kind, &dev.name, &dev.id)
        .await
        .map_err(ex_err)?;
    app.db
        .update(|w| {
            let mut d = w.device(&dev.id)?;
            let mut used = 0;
            for b in &d.bricks {
                used += w.brick(b)?.layout.total_kib();
            }
            // For a directory device the images are sparse: capacity is
            // what is still free plus what the bricks may grow into.
            let total = match d.kind {
                super::exec::DeviceKind::Directory => avail + used,
                super::exec::DeviceKind::Block => avail + used,
            };
            tracing::info!(
                "Updating device {}, total: {} -> {}, used: {} -> {}",
                d.name,
                d.total,
                total,
                d.used,
                used
            );
            d.total = total;
            d.used = used;
            w.put_device(&d)
        })
        .map_err(db_err)
}

// ---------------------------------------------------------------- volumes

struct Placed {
    host: String,
    layout: BrickLayout,
    gluster_name: String,
}

fn placed(r: &Reader, brick: &str, app: &AppRef) -> Result<Placed, DbError> {
    let b = r.brick(brick)?;
    let n = r.node(&b.node)?;
    let host = app.exec.brick_host(n.storage());
    Ok(Placed {
        host: n.manage().to_string(),
        gluster_name: format!("{host}:{}", b.layout.brick_path()),
        layout: b.layout,
    })
}

/// A management host of the volume's cluster whose glusterd answers.
async fn gluster_host(app: &AppRef, cluster: &str) -> Result<String, String> {
    let nodes: Vec<NodeEntry> = {
        let r = app.db.read().map_err(db_err)?;
        let c = r.cluster(cluster).map_err(db_err)?;
        c.nodes.iter().filter_map(|n| r.node(n).ok()).collect()
    };
    super::handlers::verified_manage_host(app, &nodes)
        .await
        .ok_or_else(|| "None of the nodes in cluster has glusterd running".to_string())
}

fn gluster_type(v: &VolumeEntry) -> usize {
    if v.durability.kind == DURABILITY_DISPERSE {
        0
    } else {
        v.set_size()
    }
}

async fn create_bricks(app: &AppRef, bricks: &[Placed]) -> Result<(), String> {
    let mut done: Vec<&Placed> = Vec::new();
    for b in bricks {
        if let Err(e) = app.exec.brick_create(&b.host, &b.layout).await {
            for d in done {
                if let Err(e2) = app.exec.brick_destroy(&d.host, &d.layout).await {
                    tracing::warn!("rollback of brick {}: {e2}", d.layout.brick_id);
                }
            }
            return Err(ex_err(e));
        }
        done.push(b);
    }
    Ok(())
}

/// See `Executor::brick_prime_health_check`; failures are only logged.
async fn prime_health_checks(app: &AppRef, bricks: &[&Placed]) {
    for b in bricks {
        if let Err(e) = app.exec.brick_prime_health_check(&b.host, &b.layout).await {
            tracing::warn!("health-check file of brick {}: {e}", b.layout.brick_id);
        }
    }
}

async fn destroy_bricks(app: &AppRef, bricks: &[Placed]) -> Vec<String> {
    let mut errs = Vec::new();
    for b in bricks {
        if let Err(e) = app.exec.brick_destroy(&b.host, &b.layout).await {
            errs.push(ex_err(e));
        }
    }
    errs
}

/// Remove brick entries and give their space back, in one transaction.
fn forget_bricks(w: &Writer, ids: &[String]) -> Result<(), DbError> {
    for id in ids {
        let Ok(b) = w.brick(id) else { continue };
        if let Ok(mut d) = w.device(&b.device) {
            d.bricks.retain(|x| x != id);
            d.used = d.used.saturating_sub(b.layout.total_kib());
            w.put_device(&d)?;
        }
        w.del_brick(id)?;
    }
    Ok(())
}

fn load(app: &AppRef, op: &OpEntry) -> Result<(VolumeEntry, Vec<Placed>), String> {
    let r = app.db.read().map_err(db_err)?;
    let v = r.volume(&op.volume).map_err(db_err)?;
    let ids = if op.kind == OpKind::VolumeDelete {
        &v.bricks
    } else {
        &op.bricks
    };
    let mut bricks = Vec::new();
    for b in ids {
        bricks.push(placed(&r, b, app).map_err(db_err)?);
    }
    Ok((v, bricks))
}

/// Volume options: server pre-request options, the request's, server
/// post-request options (Heketi's order of precedence).
fn volume_options(app: &AppRef, v: &VolumeEntry) -> Vec<(String, String)> {
    let mut o = app.pre_options.clone();
    o.extend(super::parse_volume_options(&v.options.join(",")));
    o.extend(app.post_options.iter().cloned());
    o
}

pub async fn volume_create(app: &AppRef, op: &OpEntry) -> OpResult {
    let _g = app.op_lock.lock().await;
    let r = volume_create_inner(app, op).await;
    if let Err(e) = &r {
        tracing::error!("volume create failed, rolling back: {e}");
        if let Err(e2) = rollback_create(app, op).await {
            return Err(format!(
                "{e}; rollback incomplete (will be retried at restart): {e2}"
            ));
        }
    }
    r
}

async fn volume_create_inner(app: &AppRef, op: &OpEntry) -> OpResult {
    let (v, bricks) = load(app, op)?;
    let host = gluster_host(app, &v.cluster).await?;
    create_bricks(app, &bricks).await?;
    let names: Vec<String> = bricks.iter().map(|b| b.gluster_name.clone()).collect();
    let opts = volume_options(app, &v);
    let res = if v.durability.kind == DURABILITY_DISPERSE {
        app.exec
            .volume_create_disperse(
                &host,
                &v.name,
                v.durability.disperse.data as usize,
                v.durability.disperse.redundancy as usize,
                &names,
                &opts,
            )
            .await
    } else {
        app.exec
            .volume_create(&host, &v.name, gluster_type(&v), &names, &opts)
            .await
    };
    res.map_err(ex_err)?;
    prime_health_checks(app, &bricks.iter().collect::<Vec<_>>()).await;
    app.db
        .update(|w| {
            let mut v = w.volume(&op.volume)?;
            v.pending = None;
            w.put_volume(&v)?;
            let mut c = w.cluster(&v.cluster)?;
            c.volumes.push(v.id.clone());
            w.put_cluster(&c)?;
            w.del_op(&op.id)
        })
        .map_err(db_err)?;
    tracing::info!("Created volume {} ({})", v.name, v.id);
    Ok(())
}

/// Undo a volume create: delete the gluster volume if it exists, destroy the
/// bricks, drop the entries.
async fn rollback_create(app: &AppRef, op: &OpEntry) -> OpResult {
    let (v, bricks) = match load(app, op) {
        Ok(x) => x,
        Err(_) => {
            // Volume entry already gone: just drop the op.
            return app.db.update(|w| w.del_op(&op.id)).map_err(db_err);
        }
    };
    if let Ok(host) = gluster_host(app, &v.cluster).await {
        if app
            .exec
            .volume_exists(&host, &v.name)
            .await
            .map_err(ex_err)?
        {
            // Only a volume made of our bricks is ours to delete: a create
            // refused because the name was taken must not touch the owner's.
            let info = app
                .exec
                .volume_info_text(&host, &v.name)
                .await
                .map_err(ex_err)?;
            let ours = bricks.iter().any(|b| {
                info.lines()
                    .any(|l| l.trim_end().ends_with(&b.gluster_name))
            });
            if ours {
                app.exec
                    .volume_destroy(&host, &v.name)
                    .await
                    .map_err(ex_err)?;
            } else {
                tracing::warn!(
                    "volume {} exists in GlusterFS but is not ours; left alone",
                    v.name
                );
            }
        }
    } else {
        return Err("no glusterd reachable to check for a half-created volume".into());
    }
    let errs = destroy_bricks(app, &bricks).await;
    if !errs.is_empty() {
        return Err(errs.join("; "));
    }
    app.db
        .update(|w| {
            forget_bricks(w, &op.bricks)?;
            w.del_volume(&op.volume)?;
            w.del_op(&op.id)
        })
        .map_err(db_err)
}

pub async fn volume_expand(app: &AppRef, op: &OpEntry) -> OpResult {
    let _g = app.op_lock.lock().await;
    if !op.grow.is_empty() {
        return grow_volume(app, op).await;
    }
    let r = volume_expand_inner(app, op).await;
    if let Err(e) = &r {
        tracing::error!("volume expand failed, rolling back: {e}");
        if let Err(e2) = rollback_expand(app, op).await {
            return Err(format!(
                "{e}; rollback incomplete (will be retried at restart): {e2}"
            ));
        }
    }
    r
}

async fn volume_expand_inner(app: &AppRef, op: &OpEntry) -> OpResult {
    let (v, bricks) = load(app, op)?;
    let host = gluster_host(app, &v.cluster).await?;
    create_bricks(app, &bricks).await?;
    let names: Vec<String> = bricks.iter().map(|b| b.gluster_name.clone()).collect();
    app.exec
        .volume_expand(&host, &v.name, gluster_type(&v), &names)
        .await
        .map_err(ex_err)?;
    prime_health_checks(app, &bricks.iter().collect::<Vec<_>>()).await;
    commit_expand(app, op)
}

/// The layout of a brick grown to `new_kib`.
fn grown_layout(app: &AppRef, v: &VolumeEntry, l: &BrickLayout, new_kib: u64) -> BrickLayout {
    let factor = if v.snapshot.enable {
        v.snapshot.factor
    } else {
        1.0
    };
    BrickLayout::new(
        l.kind,
        &l.device_name,
        &l.device_id,
        &l.brick_id,
        new_kib,
        factor,
        l.gid,
        &app.exec.mounts_dir,
    )
}

/// Expansion by growing bricks in place. Each grown brick is recorded at
/// once, so the database always matches the bricks; on failure the space
/// reserved for bricks not grown is given back and the volume keeps its
/// size. Idempotent, so recovery simply runs it again.
async fn grow_volume(app: &AppRef, op: &OpEntry) -> OpResult {
    let v = app
        .db
        .read()
        .and_then(|r| r.volume(&op.volume))
        .map_err(db_err)?;
    let mut failure: Option<String> = None;
    for (bid, new_kib) in &op.grow {
        let p = match app.db.read().and_then(|r| placed(&r, bid, app)) {
            Ok(p) => p,
            Err(e) => {
                failure = Some(db_err(e));
                break;
            }
        };
        if p.layout.size_kib >= *new_kib {
            continue;
        }
        if let Err(e) = app.exec.brick_grow(&p.host, &p.layout, *new_kib).await {
            failure = Some(ex_err(e));
            break;
        }
        let grown = grown_layout(app, &v, &p.layout, *new_kib);
        app.db
            .update(|w| {
                let mut b = w.brick(bid)?;
                b.layout = grown.clone();
                w.put_brick(&b)
            })
            .map_err(db_err)?;
    }
    if let Some(e) = failure {
        app.db
            .update(|w| {
                for (bid, new_kib) in &op.grow {
                    let Ok(b) = w.brick(bid) else { continue };
                    if b.layout.size_kib >= *new_kib {
                        continue;
                    }
                    let grown = grown_layout(app, &v, &b.layout, *new_kib);
                    if let Ok(mut d) = w.device(&b.device) {
                        d.used = d
                            .used
                            .saturating_sub(grown.total_kib().saturating_sub(b.layout.total_kib()));
                        w.put_device(&d)?;
                    }
                }
                let mut v = w.volume(&op.volume)?;
                v.pending = None;
                w.put_volume(&v)?;
                w.del_op(&op.id)
            })
            .map_err(db_err)?;
        return Err(format!("volume expansion failed: {e}"));
    }
    commit_expand(app, op)
}

fn commit_expand(app: &AppRef, op: &OpEntry) -> OpResult {
    app.db
        .update(|w| {
            let mut v = w.volume(&op.volume)?;
            v.pending = None;
            v.size += op.size;
            v.bricks.extend(op.bricks.iter().cloned());
            w.put_volume(&v)?;
            w.del_op(&op.id)
        })
        .map_err(db_err)?;
    tracing::info!("Expanded volume {} by {} GiB", op.volume, op.size);
    Ok(())
}

async fn rollback_expand(app: &AppRef, op: &OpEntry) -> OpResult {
    let (_, bricks) = load(app, op)?;
    let errs = destroy_bricks(app, &bricks).await;
    if !errs.is_empty() {
        return Err(errs.join("; "));
    }
    app.db
        .update(|w| {
            forget_bricks(w, &op.bricks)?;
            let mut v = w.volume(&op.volume)?;
            v.pending = None;
            w.put_volume(&v)?;
            w.del_op(&op.id)
        })
        .map_err(db_err)
}

pub async fn volume_delete(app: &AppRef, op: &OpEntry) -> OpResult {
    let _g = app.op_lock.lock().await;
    let (v, bricks) = load(app, op)?;
    let host = match gluster_host(app, &v.cluster).await {
        Ok(h) => h,
        Err(e) => {
            unmark(app, op);
            return Err(e);
        }
    };
    if let Err(e) = app.exec.volume_destroy(&host, &v.name).await {
        // Nothing changed: the volume stays, usable and visible.
        unmark(app, op);
        return Err(ex_err(e));
    }
    // From here on the delete only goes forward (retried at restart).
    let errs = destroy_bricks(app, &bricks).await;
    if !errs.is_empty() {
        return Err(format!(
            "volume {} deleted from GlusterFS but bricks remain (retried at restart): {}",
            v.name,
            errs.join("; ")
        ));
    }
    app.db
        .update(|w| {
            forget_bricks(w, &v.bricks)?;
            if let Ok(mut c) = w.cluster(&v.cluster) {
                c.volumes.retain(|x| *x != v.id);
                w.put_cluster(&c)?;
            }
            w.del_volume(&v.id)?;
            w.del_op(&op.id)
        })
        .map_err(db_err)?;
    tracing::info!("Deleted volume {} ({})", v.name, v.id);
    Ok(())
}

fn unmark(app: &AppRef, op: &OpEntry) {
    let _ = app.db.update(|w| {
        let mut v = w.volume(&op.volume)?;
        v.pending = None;
        w.put_volume(&v)?;
        w.del_op(&op.id)
    });
}

/// Move one brick to another device (device removal): Heketi's
/// `replaceBrickInVolume`, using `gluster volume replace-brick ... commit
/// force`. The new device must be on a node no other brick of the set uses.
async fn replace_brick(app: &AppRef, brick_id: &str) -> OpResult {
    let _g = app.op_lock.lock().await;
    let (old, vol, new_id) = app
        .db
        .update(|w| {
            let old = w.brick(brick_id)?;
            let vol = w.volume(&old.volume)?;
            // nodes of the other bricks of the same set
            let set = vol.set_size().max(1);
            let pos = vol.bricks.iter().position(|b| b == brick_id).unwrap_or(0);
            let start = pos - pos % set;
            let mut busy_nodes = Vec::new();
            for b in vol.bricks.iter().skip(start).take(set) {
                if b != brick_id {
                    busy_nodes.push(w.brick(b)?.node);
                }
            }
            let c = w.cluster(&vol.cluster)?;
            let mut best: Option<DeviceEntry> = None;
            for nid in &c.nodes {
                let n = w.node(nid)?;
                if n.state != EntryState::Online || busy_nodes.contains(&n.id) {
                    continue;
                }
                for did in &n.devices {
                    let d = w.device(did)?;
                    if d.state != EntryState::Online || d.id == old.device {
                        continue;
                    }
                    if d.free() >= old.layout.total_kib()
                        && best.as_ref().map(|b| d.free() > b.free()).unwrap_or(true)
                    {
                        best = Some(d);
                    }
                }
            }
            let Some(mut d) = best else {
                return Err(DbError::Store(
                    "No Replacement was found for resource requested to be removed".into(),
                ));
            };
            let nid = crate::api::new_id();
            let layout = BrickLayout::new(
                d.kind,
                &d.name,
                &d.id,
                &nid,
                old.layout.size_kib,
                if vol.snapshot.enable {
                    vol.snapshot.factor
                } else {
                    1.0
                },
                vol.gid,
                &app.exec.mounts_dir,
            );
            d.used += layout.total_kib();
            d.bricks.push(nid.clone());
            w.put_device(&d)?;
            w.put_brick(&BrickEntry {
                id: nid.clone(),
                device: d.id.clone(),
                node: d.node.clone(),
                volume: vol.id.clone(),
                layout,
            })?;
            Ok((old, vol, nid))
        })
        .map_err(db_err)?;
    let (old_p, new_p) = {
        let r = app.db.read().map_err(db_err)?;
        (
            placed(&r, &old.id, app).map_err(db_err)?,
            placed(&r, &new_id, app).map_err(db_err)?,
        )
    };
    let undo_new = |app: &AppRef| {
        let _ = app
            .db
            .update(|w| forget_bricks(w, std::slice::from_ref(&new_id)));
    };
    let host = match gluster_host(app, &vol.cluster).await {
        Ok(h) => h,
        Err(e) => {
            undo_new(app);
            return Err(e);
        }
    };
    if let Err(e) = app.exec.brick_create(&new_p.host, &new_p.layout).await {
        undo_new(app);
        return Err(ex_err(e));
    }
    let args: Vec<String> = [
        "--mode=script",
        "volume",
        "replace-brick",
        &vol.name,
        &old_p.gluster_name,
        &new_p.gluster_name,
        "commit",
        "force",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    if let Err(e) = app.exec.gluster(&host, &args).await {
        let _ = app.exec.brick_destroy(&new_p.host, &new_p.layout).await;
        undo_new(app);
        return Err(ex_err(e));
    }
    prime_health_checks(app, &[&new_p]).await;
    if let Err(e) = app.exec.brick_destroy(&old_p.host, &old_p.layout).await {
        tracing::error!("Error destroying old brick {}: {e}", old.id);
    }
    app.db
        .update(|w| {
            let mut v = w.volume(&vol.id)?;
            for b in v.bricks.iter_mut() {
                if *b == old.id {
                    *b = new_id.clone();
                }
            }
            w.put_volume(&v)?;
            forget_bricks(w, std::slice::from_ref(&old.id))
        })
        .map_err(db_err)?;
    tracing::info!("Replaced brick {} with {}", old.id, new_id);
    Ok(())
}

// ---------------------------------------------------------------- startup

/// Mount brick file systems that are not mounted (after a reboot).
pub async fn remount_bricks(app: &AppRef) {
    let (bricks, volumes): (Vec<(String, Placed)>, Vec<VolumeEntry>) = match app.db.read() {
        Ok(r) => (
            r.bricks()
                .unwrap_or_default()
                .iter()
                .filter_map(|b| placed(&r, &b.id, app).ok().map(|p| (b.volume.clone(), p)))
                .collect(),
            r.volumes().unwrap_or_default(),
        ),
        Err(e) => {
            tracing::error!("remount: {e}");
            return;
        }
    };
    let mut restart: Vec<String> = Vec::new();
    for (vol, b) in bricks {
        match app.exec.brick_remount(&b.host, &b.layout).await {
            Ok(true) => {
                tracing::info!("Mounted brick {} again", b.layout.brick_id);
                if !restart.contains(&vol) {
                    restart.push(vol);
                }
            }
            Ok(false) => {}
            Err(e) => tracing::error!("Unable to mount brick {}: {e}", b.layout.brick_id),
        }
    }
    // glusterd could not start those bricks without their file systems:
    // start them now (`volume start force` only starts what is down).
    for vid in restart {
        let Some(v) = volumes.iter().find(|v| v.id == vid && v.pending.is_none()) else {
            continue;
        };
        let host = match gluster_host(app, &v.cluster).await {
            Ok(h) => h,
            Err(e) => {
                tracing::error!("Unable to restart bricks of {}: {e}", v.name);
                continue;
            }
        };
        let args: Vec<String> = ["--mode=script", "volume", "start", &v.name, "force"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        match app.exec.gluster(&host, &args).await {
            Ok(_) => tracing::info!("Started the bricks of volume {} again", v.name),
            Err(e) => tracing::error!("Unable to restart bricks of {}: {e}", v.name),
        }
    }
}

/// Finish operations interrupted by a stop: roll back creates, roll back
/// or (when GlusterFS already has the new bricks) commit expansions, roll
/// deletes forward.
pub async fn recover(app: &AppRef) {
    let ops = match app.db.read().and_then(|r| r.ops()) {
        Ok(o) => o,
        Err(e) => {
            tracing::error!("recover: {e}");
            return;
        }
    };
    for op in ops {
        tracing::warn!("Recovering interrupted operation {} ({:?})", op.id, op.kind);
        let r = match op.kind {
            OpKind::VolumeCreate => rollback_create(app, &op).await,
            OpKind::VolumeDelete => volume_delete(app, &op).await,
            OpKind::VolumeExpand => recover_expand(app, &op).await,
        };
        if let Err(e) = r {
            tracing::error!("Recovery of operation {} failed: {e}", op.id);
        }
    }
}

async fn recover_expand(app: &AppRef, op: &OpEntry) -> OpResult {
    if !op.grow.is_empty() {
        return grow_volume(app, op).await;
    }
    let (v, bricks) = load(app, op)?;
    let host = gluster_host(app, &v.cluster).await?;
    let info = app
        .exec
        .volume_info_text(&host, &v.name)
        .await
        .map_err(ex_err)?;
    let present = bricks.iter().all(|b| {
        info.lines()
            .any(|l| l.trim_end().ends_with(&b.gluster_name))
    });
    if present && !bricks.is_empty() {
        commit_expand(app, op)
    } else {
        rollback_expand(app, op).await
    }
}
