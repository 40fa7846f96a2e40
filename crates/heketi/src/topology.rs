//! topology.json, the file `heketi-cli topology load --json=FILE` reads.
//!
//! Format as heketi's `client/cli/go/cmds/topology.go` (Heketi v10):
//! `{"clusters":[{"nodes":[{"node":{"hostnames":{"manage":[..],"storage":[..]},
//! "zone":1,"tags":{..}},"devices":["/dev/sdb", {"name":"/dev/sdc",
//! "destroydata":false,"tags":{..}}]}], "block":true, "file":true}]}`;
//! a device is either a plain name or an object.

use serde::{Deserialize, Deserializer};

use crate::api::{nullable, NodeAddRequest, Tags, TopologyInfoResponse};
use crate::HeketiError;

/// One device of a node in topology.json.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TopologyDevice {
    pub name: String,
    pub tags: Tags,
    pub destroydata: bool,
}

impl<'de> Deserialize<'de> for TopologyDevice {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Either {
            Name(String),
            Obj {
                #[serde(default)]
                name: String,
                #[serde(default, deserialize_with = "nullable")]
                tags: Tags,
                #[serde(default)]
                destroydata: bool,
            },
        }
        Ok(match Either::deserialize(d)? {
            Either::Name(name) => TopologyDevice {
                name,
                ..Default::default()
            },
            Either::Obj {
                name,
                tags,
                destroydata,
            } => TopologyDevice {
                name,
                tags,
                destroydata,
            },
        })
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct TopologyNode {
    #[serde(default, deserialize_with = "nullable")]
    pub devices: Vec<TopologyDevice>,
    #[serde(default)]
    pub node: NodeAddRequest,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct TopologyClusterSpec {
    #[serde(default, deserialize_with = "nullable")]
    pub nodes: Vec<TopologyNode>,
    #[serde(default)]
    pub block: Option<bool>,
    #[serde(default)]
    pub file: Option<bool>,
}

/// A whole topology.json.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct TopologyFile {
    #[serde(default, deserialize_with = "nullable")]
    pub clusters: Vec<TopologyClusterSpec>,
}

impl TopologyFile {
    pub fn parse(text: &str) -> Result<TopologyFile, HeketiError> {
        let t: TopologyFile = serde_json::from_str(text)
            .map_err(|e| HeketiError::Usage(format!("Unable to parse config file: {e}")))?;
        for c in &t.clusters {
            for n in &c.nodes {
                if n.node.hostnames.manage.is_empty() {
                    return Err(HeketiError::Usage(
                        "Unable to parse config file: a node has no manage hostname".into(),
                    ));
                }
            }
        }
        Ok(t)
    }
}

/// Find a node already known to Heketi by its first manage hostname
/// (heketi-cli's `getNodeIdFromHeketiTopology`): (cluster id, node id).
pub fn find_node(topo: &TopologyInfoResponse, manage: &str) -> Option<(String, String)> {
    topo.clusters.iter().find_map(|c| {
        c.nodes
            .iter()
            .find(|n| n.hostnames.manage.first().map(String::as_str) == Some(manage))
            .map(|n| (c.id.clone(), n.id.clone()))
    })
}

/// Whether a node (by first manage hostname) already has a device of that name.
pub fn has_device(topo: &TopologyInfoResponse, manage: &str, device: &str) -> bool {
    topo.clusters.iter().any(|c| {
        c.nodes.iter().any(|n| {
            n.hostnames.manage.first().map(String::as_str) == Some(manage)
                && n.devices.iter().any(|d| d.name == device)
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{DeviceInfoResponse, NodeInfoResponse, TopologyCluster};

    const SAMPLE: &str = r#"{
      "clusters": [
        {
          "nodes": [
            { "node": { "hostnames": { "manage": ["127.0.0.1"], "storage": ["127.0.0.1"] },
                        "zone": 1 },
              "devices": ["/srv/d1", {"name": "/dev/sdc", "destroydata": true,
                                      "tags": {"disk": "ssd"}}] },
            { "node": { "hostnames": { "manage": ["127.0.0.2"], "storage": ["127.0.0.2"] },
                        "zone": 2, "tags": {"rack": "a"} },
              "devices": [] }
          ],
          "block": false
        }
      ]
    }"#;

    #[test]
    fn parses_strings_and_objects() {
        let t = TopologyFile::parse(SAMPLE).unwrap();
        assert_eq!(t.clusters.len(), 1);
        let c = &t.clusters[0];
        assert_eq!(c.block, Some(false));
        assert_eq!(c.file, None);
        assert_eq!(c.nodes.len(), 2);
        assert_eq!(c.nodes[0].node.zone, 1);
        assert_eq!(c.nodes[0].node.hostnames.storage, vec!["127.0.0.1"]);
        assert_eq!(
            c.nodes[0].devices[0],
            TopologyDevice {
                name: "/srv/d1".into(),
                ..Default::default()
            }
        );
        assert!(c.nodes[0].devices[1].destroydata);
        assert_eq!(c.nodes[0].devices[1].tags.get("disk").unwrap(), "ssd");
        assert_eq!(c.nodes[1].node.tags.get("rack").unwrap(), "a");
    }

    #[test]
    fn rejects_bad_files() {
        assert!(TopologyFile::parse("[").is_err());
        assert!(TopologyFile::parse(
            r#"{"clusters":[{"nodes":[{"node":{"hostnames":{"manage":[]}}}]}]}"#
        )
        .is_err());
        assert!(TopologyFile::parse(r#"{"clusters":[{"nodes":[{"devices":[5]}]}]}"#).is_err());
    }

    #[test]
    fn finds_known_nodes_and_devices() {
        let topo = TopologyInfoResponse {
            clusters: vec![TopologyCluster {
                id: "c1".into(),
                nodes: vec![NodeInfoResponse {
                    id: "n1".into(),
                    hostnames: crate::api::HostAddresses {
                        manage: vec!["h1".into()],
                        storage: vec!["s1".into()],
                    },
                    devices: vec![DeviceInfoResponse {
                        name: "/dev/sdb".into(),
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        assert_eq!(find_node(&topo, "h1"), Some(("c1".into(), "n1".into())));
        assert_eq!(find_node(&topo, "h2"), None);
        assert!(has_device(&topo, "h1", "/dev/sdb"));
        assert!(!has_device(&topo, "h1", "/dev/sdc"));
    }
}
