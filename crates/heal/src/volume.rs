//! Connecting to a volume for healing: its client volfile from glusterd, one connection per brick,
//! grouped by replica set (the cluster/replicate nodes of the volfile, in order).

use std::sync::Arc;
use std::time::Duration;

use client::mgmt::{self, Server};
use client::{BrickClient, BrickConfig};
use futures::future::join_all;
use volfile::Node;

use crate::replica::{Brick, HealOptions, ReplicaSet};
use crate::{HealError, Result};

/// Where a volume is: volfile servers (first, then backups) and its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeAddr {
    pub servers: Vec<Server>,
    pub volume: String,
}

impl VolumeAddr {
    /// Parse `HOST:/VOLUME` (mount.glusterfs's form), `HOST:PORT:/VOLUME`, or
    /// `gluster://HOST[:PORT]/VOLUME`; `backups` are more volfile server hosts, colon separated
    /// (mount.glusterfs `backup-volfile-servers`), on the same port.
    pub fn parse(s: &str, backups: Option<&str>) -> Result<VolumeAddr> {
        let bad = |why: &str| {
            HealError::Usage(format!(
                "{s}: {why} (expected HOST:/VOLUME or gluster://HOST[:PORT]/VOLUME)"
            ))
        };
        let (host, port, volume) = if let Some(rest) = s
            .strip_prefix("gluster://")
            .or_else(|| s.strip_prefix("gluster+tcp://"))
        {
            let (auth, path) = rest.split_once('/').ok_or_else(|| bad("no volume"))?;
            let (h, p) = match auth.rsplit_once(':') {
                Some((h, p)) if !h.contains(':') || h.starts_with('[') => {
                    (h.trim_matches(['[', ']']).to_string(), Some(p))
                }
                _ => (auth.trim_matches(['[', ']']).to_string(), None),
            };
            let vol = path.split('/').next().unwrap_or("");
            (h, p, vol.to_string())
        } else {
            let (left, vol) = s.split_once(":/").ok_or_else(|| bad("no volume"))?;
            let (h, p) = match left.rsplit_once(':') {
                Some((h, p)) if p.chars().all(|c| c.is_ascii_digit()) && !p.is_empty() => {
                    (h.to_string(), Some(p))
                }
                _ => (left.to_string(), None),
            };
            (h, p, vol.trim_matches('/').to_string())
        };
        if host.is_empty() {
            return Err(bad("no host"));
        }
        if volume.is_empty() || volume.contains('/') {
            return Err(bad("bad volume name"));
        }
        let port = match port {
            Some(p) => p.parse::<u16>().map_err(|_| bad("bad port"))?,
            None => mgmt::GLUSTERD_PORT,
        };
        let mut servers = vec![Server::new(host, port)];
        for h in backups
            .unwrap_or("")
            .split([':', ','])
            .filter(|h| !h.is_empty())
        {
            servers.push(Server::new(h, port));
        }
        Ok(VolumeAddr { servers, volume })
    }
}

/// A volume connected for healing.
pub struct HealVolume {
    pub name: String,
    /// The volfile server that answered.
    pub server: Server,
    pub spec: volfile::ClientVolume,
    pub replicas: Vec<ReplicaSet>,
}

fn brick_config(
    spec: &volfile::ClientSpec,
    server: &Server,
    volume_id: Option<&str>,
) -> BrickConfig {
    let host = spec
        .remote_host
        .clone()
        .unwrap_or_else(|| server.host.clone());
    let mut cfg = BrickConfig::new(spec.name.clone(), host, spec.remote_subvolume.clone());
    cfg.glusterd_port = if spec.remote_host.is_none() {
        server.port
    } else {
        mgmt::GLUSTERD_PORT
    };
    cfg.ping_timeout = Duration::from_secs(spec.ping_timeout_secs.max(1));
    cfg.call_timeout = Duration::from_secs(spec.frame_timeout_secs.max(1));
    cfg.options = spec
        .options
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    cfg.volume_id = volume_id.map(str::to_string);
    cfg
}

fn collect(node: &Node, server: &Server, out: &mut Vec<ReplicaSet>) -> Result<()> {
    match node {
        Node::Distribute(d) => {
            for c in &d.children {
                collect(c, server, out)?;
            }
            Ok(())
        }
        Node::Client(_) => Ok(()),
        Node::Replicate(r) => {
            let mut bricks = Vec::new();
            for c in &r.children {
                match c {
                    Node::Client(spec) => {
                        let cfg = brick_config(spec, server, None);
                        bricks.push(Brick::from_client(BrickClient::new(cfg)));
                    }
                    _ => {
                        return Err(HealError::Usage(format!(
                            "{}: a replicate subvolume that is not a brick is not supported",
                            r.name
                        )))
                    }
                }
            }
            out.push(ReplicaSet {
                name: r.name.clone(),
                bricks,
                pending_keys: r
                    .pending_xattrs
                    .iter()
                    .take(r.children.len())
                    .cloned()
                    .collect(),
                opts: HealOptions::from_spec(r),
            });
            Ok(())
        }
    }
}

impl HealVolume {
    /// Fetch the volfile and connect to every brick of every replica set, waiting up to
    /// `connect_timeout` for them (bricks that stay down are reported by the heals that need
    /// them).
    pub async fn connect(addr: &VolumeAddr, connect_timeout: Duration) -> Result<HealVolume> {
        let (server, text) = mgmt::fetch_volfile(&addr.servers, &addr.volume).await?;
        let graph = volfile::Graph::parse(&text)?;
        let spec = volfile::ClientVolume::from_graph(&graph)?;
        let mut replicas = Vec::new();
        collect(&spec.root, &server, &mut replicas)?;
        if replicas.is_empty() {
            return Err(HealError::NotReplicated(addr.volume.clone()));
        }
        let vol = HealVolume {
            name: addr.volume.clone(),
            server,
            spec,
            replicas,
        };
        vol.wait(connect_timeout).await;
        Ok(vol)
    }

    /// Wait (at most `timeout`) for every brick connection.
    pub async fn wait(&self, timeout: Duration) {
        let waits = self
            .replicas
            .iter()
            .flat_map(|r| r.bricks.iter())
            .map(|b| async move {
                if let Some(c) = &b.client {
                    if let Err(e) = c.wait_ready(timeout).await {
                        tracing::warn!(brick = %b.label, error = %e, "brick not reachable");
                    }
                }
            });
        join_all(waits).await;
    }

    /// Every brick connection, in volfile order.
    pub fn clients(&self) -> Vec<Arc<BrickClient>> {
        self.replicas
            .iter()
            .flat_map(|r| r.bricks.iter())
            .filter_map(|b| b.client.clone())
            .collect()
    }

    /// The replica set and index of a brick given as `HOST:/PATH`.
    pub fn find_brick(&self, label: &str) -> Option<(usize, usize)> {
        self.replicas
            .iter()
            .enumerate()
            .find_map(|(r, rs)| rs.brick_index(label).map(|i| (r, i)))
    }

    pub async fn shutdown(&self) {
        for r in &self.replicas {
            for b in &r.bricks {
                if let Some(c) = &b.client {
                    c.shutdown().await;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        let a = VolumeAddr::parse("vm:/vol", Some("h2:h3")).expect("ok");
        assert_eq!(a.volume, "vol");
        assert_eq!(
            a.servers,
            vec![
                Server::new("vm", 24007),
                Server::new("h2", 24007),
                Server::new("h3", 24007)
            ]
        );
        let a = VolumeAddr::parse("gluster://vm:24008/v/ignored/path", None).expect("ok");
        assert_eq!(a.servers, vec![Server::new("vm", 24008)]);
        assert_eq!(a.volume, "v");
        let a = VolumeAddr::parse("vm:24009:/v", None).expect("ok");
        assert_eq!(a.servers[0].port, 24009);
        for bad in [
            "vm",
            ":/v",
            "vm:/",
            "gluster://vm",
            "gluster://:1/v",
            "vm:/a/b",
        ] {
            assert!(VolumeAddr::parse(bad, None).is_err(), "{bad}");
        }
    }
}
