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
        Node::Replicate(r) => Err(GraphError::Unsupported(format!(
            "{}: cluster/replicate is not wired into the graph yet",
            r.name
        ))),
    }
}
