//! Volfile node → translator.

use std::sync::Arc;
use std::time::Duration;

use client::{BrickClient, BrickConfig};
use dht::{Dht, DhtOptions};
use fop::Subvolume;
use volfile::Node;

use crate::{GraphError, Server, VolumeOptions};

/// Build the translator for `node` and everything below it; brick clients are appended to `bricks`.
pub fn build_node(
    node: &Node,
    server: &Server,
    opts: &VolumeOptions,
    bricks: &mut Vec<Arc<BrickClient>>,
) -> Result<Arc<dyn Subvolume>, GraphError> {
    match node {
        Node::Client(spec) => {
            let host = spec
                .remote_host
                .clone()
                .unwrap_or_else(|| server.host.clone());
            let mut cfg = BrickConfig::new(spec.name.clone(), host, spec.remote_subvolume.clone());
            cfg.glusterd_port = if spec.remote_host.is_none() {
                server.port
            } else {
                client::mgmt::GLUSTERD_PORT
            };
            cfg.ping_timeout = opts
                .ping_timeout
                .unwrap_or(Duration::from_secs(spec.ping_timeout_secs.max(1)));
            cfg.call_timeout = Duration::from_secs(spec.frame_timeout_secs.max(1));
            cfg.options = spec
                .options
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            if let Some(sub) = &opts.subdir {
                let sub = format!("/{}", sub.trim_matches('/'));
                cfg.options.push(("subdir-mount".to_string(), sub));
            }
            let b = BrickClient::new(cfg);
            bricks.push(b.clone());
            Ok(b)
        }
        Node::Distribute(d) => {
            let children = d
                .children
                .iter()
                .map(|c| build_node(c, server, opts, bricks))
                .collect::<Result<Vec<_>, _>>()?;
            let hash = hashing::HashOptions::from_volume_options(
                d.rsync_hash_regex(),
                d.extra_hash_regex(),
            )
            .map_err(|e| GraphError::BadOption(format!("{}: {e}", d.name)))?;
            let dopts = DhtOptions {
                hash,
                lookup_optimize: d.lookup_optimize()?,
                ..DhtOptions::default()
            };
            Ok(Arc::new(Dht::new(d.name.clone(), children, dopts)))
        }
        Node::Replicate(r) => {
            if r.arbiter_count > 0 || r.thin_arbiter.is_some() {
                return Err(GraphError::Unsupported(format!(
                    "{}: arbiter and thin-arbiter replica sets are not supported yet",
                    r.name
                )));
            }
            // Children: brick clients report their connection state (and carry the lock
            // contention callbacks); anything else is used through the fop interface only.
            let mut children = Vec::with_capacity(r.children.len());
            // The same connections, for client-side heal.
            let mut heal_bricks = Vec::with_capacity(r.children.len());
            let mut pumps = Vec::new();
            for (i, c) in r.children.iter().enumerate() {
                let before = bricks.len();
                let sub = build_node(c, server, opts, bricks)?;
                match (c, bricks.get(before)) {
                    (Node::Client(_), Some(b)) if bricks.len() == before + 1 => {
                        if let Some(rx) = b.take_incoming() {
                            pumps.push((i, rx));
                        }
                        children.push(afr::Child::brick(b.clone()));
                        heal_bricks.push(heal::Brick::from_client(b.clone()));
                    }
                    _ => {
                        heal_bricks.push(heal::Brick::from_subvol(sub.clone()));
                        children.push(afr::Child::new(sub, None));
                    }
                }
            }
            let mut aopts = afr::AfrOptions::new(r.pending_xattrs.clone());
            aopts.pending_keys.truncate(r.children.len());
            aopts.quorum = match r.quorum {
                volfile::Quorum::None => afr::QuorumPolicy::None,
                volfile::Quorum::Auto => afr::QuorumPolicy::Auto,
                volfile::Quorum::Fixed(n) => afr::QuorumPolicy::fixed(n as usize),
            };
            aopts.first_ack = opts.first_ack;
            let bad = |e: volfile::VolfileError| GraphError::BadOption(format!("{}: {e}", r.name));
            aopts.eager_lock = r.bool_option_or("eager-lock", true).map_err(bad)?;
            aopts.optimistic_change_log = r
                .bool_option_or("optimistic-change-log", true)
                .map_err(bad)?;
            aopts.ensure_durability = r.bool_option_or("ensure-durability", true).map_err(bad)?;
            // Ours (no GlusterFS key): set with `-o xlator-option=replicate.quorum-lookups=off`.
            aopts.quorum_lookups = r.bool_option_or("quorum-lookups", true).map_err(bad)?;
            // Ours too: `-o xlator-option=replicate.eager-entry-lock=off`.
            aopts.eager_entry_lock = r.bool_option_or("eager-entry-lock", true).map_err(bad)?;
            aopts.choose_local = r.bool_option_or("choose-local", true).map_err(bad)?;
            if let Some(v) = r.options.get("read-subvolume-index") {
                // -1 (glusterd's default) means none.
                let i: i64 = v.trim().parse().map_err(|_| {
                    GraphError::BadOption(format!("{}: read-subvolume-index {v}", r.name))
                })?;
                aopts.read_subvolume = match usize::try_from(i) {
                    Ok(i) if i < r.children.len() => Some(i),
                    Err(_) if i == -1 => None,
                    _ => {
                        return Err(GraphError::BadOption(format!(
                            "{}: read-subvolume-index {v}: {} children",
                            r.name,
                            r.children.len()
                        )))
                    }
                };
            }
            aopts.granular_entry_heal = r
                .bool_option_or("granular-entry-heal", false)
                .map_err(bad)?;
            if let Some(v) = r.options.get("post-op-delay-secs") {
                let secs = volfile::parse_uint(v).ok_or_else(|| {
                    GraphError::BadOption(format!("{}: post-op-delay-secs {v}", r.name))
                })?;
                aopts.post_op_delay = Duration::from_secs(secs);
            }
            // Client-side heal (cluster.{data,metadata,entry}-self-heal,
            // background-self-heal-count, heal-wait-queue-length; see heal::ClientHealOptions
            // for how gluster-rs's defaults differ from GlusterFS's).
            let hopts = heal::ClientHealOptions::from_spec(r)
                .map_err(|e| GraphError::BadOption(e.to_string()))?;
            if hopts.enabled() {
                let rs = heal::ReplicaSet {
                    name: r.name.clone(),
                    bricks: heal_bricks,
                    pending_keys: aopts.pending_keys.clone(),
                    opts: heal::HealOptions::from_spec(r),
                };
                aopts.heal_trigger = Some(Arc::new(heal::ClientHealer::new(rs, hopts)));
            }
            let afr = afr::Afr::new(r.name.clone(), children, aopts)
                .map_err(|e| GraphError::BadOption(e.to_string()))?;
            for (i, rx) in pumps {
                afr.spawn_callback_pump(i, rx);
            }
            Ok(Arc::new(afr))
        }
    }
}
