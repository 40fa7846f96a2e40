//! Heketi REST API types, with the JSON field names of Heketi 10.
//!
//! Field names and nesting follow heketi's `pkg/glusterfs/api/types.go`
//! (Heketi v10): e.g. a volume's durability is
//! `{"type":"replicate","replicate":{"replica":3},"disperse":{}}` and its mount
//! information is `{"glusterfs":{"hosts":[..],"device":"host:vol","options":
//! {"backup-volfile-servers":"h2,h3"}}}`. Sizes: volume sizes are GiB, device
//! and brick sizes are KiB.
//!
//! Decoding is lenient like Go's `encoding/json`: unknown fields are ignored,
//! missing fields and `null` take the zero value.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

/// Decode `null` (as Go emits for nil slices and maps) as the default value.
pub(crate) fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// State of a node or a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum EntryState {
    /// Heketi's empty state (never stored by this server).
    #[default]
    #[serde(rename = "")]
    Unknown,
    #[serde(rename = "online")]
    Online,
    #[serde(rename = "offline")]
    Offline,
    #[serde(rename = "failed")]
    Failed,
}

impl EntryState {
    pub fn as_str(&self) -> &'static str {
        match self {
            EntryState::Unknown => "",
            EntryState::Online => "online",
            EntryState::Offline => "offline",
            EntryState::Failed => "failed",
        }
    }
}

/// `POST /nodes/{id}/state` and `POST /devices/{id}/state` body.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct StateRequest {
    #[serde(default)]
    pub state: EntryState,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub healcheck: String,
}

/// Storage of a device, in KiB.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageSize {
    #[serde(default)]
    pub total: u64,
    #[serde(default)]
    pub free: u64,
    #[serde(default)]
    pub used: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostAddresses {
    #[serde(default, deserialize_with = "nullable")]
    pub manage: Vec<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub storage: Vec<String>,
}

/// A brick (`BrickInfo`); `size` in KiB.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrickInfo {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub path: String,
    #[serde(default)]
    pub device: String,
    #[serde(default)]
    pub node: String,
    #[serde(default)]
    pub volume: String,
    #[serde(default)]
    pub size: u64,
}

pub type Tags = BTreeMap<String, String>;

/// `POST /devices` body.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DeviceAddRequest {
    #[serde(default)]
    pub name: String,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Tags::is_empty"
    )]
    pub tags: Tags,
    #[serde(default)]
    pub node: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub destroydata: bool,
}

/// `DELETE /devices/{id}` optional body.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DeviceDeleteOptions {
    #[serde(default)]
    pub forceforget: bool,
}

/// `GET /devices/{id}` answer (`DeviceInfoResponse`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceInfoResponse {
    #[serde(default)]
    pub name: String,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Tags::is_empty"
    )]
    pub tags: Tags,
    #[serde(default)]
    pub storage: StorageSize,
    #[serde(default)]
    pub id: String,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub paths: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub pv_uuid: String,
    #[serde(default)]
    pub state: EntryState,
    #[serde(default, deserialize_with = "nullable")]
    pub bricks: Vec<BrickInfo>,
}

/// `POST /nodes` body (`NodeAddRequest`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct NodeAddRequest {
    #[serde(default)]
    pub zone: i64,
    #[serde(default)]
    pub hostnames: HostAddresses,
    #[serde(default)]
    pub cluster: String,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Tags::is_empty"
    )]
    pub tags: Tags,
}

/// `GET /nodes/{id}` answer (`NodeInfoResponse`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeInfoResponse {
    #[serde(default)]
    pub zone: i64,
    #[serde(default)]
    pub hostnames: HostAddresses,
    #[serde(default)]
    pub cluster: String,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Tags::is_empty"
    )]
    pub tags: Tags,
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub state: EntryState,
    #[serde(default, deserialize_with = "nullable")]
    pub devices: Vec<DeviceInfoResponse>,
}

/// Cluster flags (`ClusterFlags`), also the body of `POST /clusters` and
/// `POST /clusters/{id}/flags`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterFlags {
    #[serde(default)]
    pub block: bool,
    #[serde(default)]
    pub file: bool,
}

/// `GET /clusters/{id}` answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterInfoResponse {
    #[serde(default)]
    pub id: String,
    #[serde(default, deserialize_with = "nullable")]
    pub nodes: Vec<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub volumes: Vec<String>,
    #[serde(default)]
    pub block: bool,
    #[serde(default)]
    pub file: bool,
    #[serde(default, deserialize_with = "nullable")]
    pub blockvolumes: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterListResponse {
    #[serde(default, deserialize_with = "nullable")]
    pub clusters: Vec<String>,
}

/// One cluster of `topology info` (`api.Cluster`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TopologyCluster {
    #[serde(default, deserialize_with = "nullable")]
    pub volumes: Vec<VolumeInfoResponse>,
    #[serde(default, deserialize_with = "nullable")]
    pub nodes: Vec<NodeInfoResponse>,
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub block: bool,
    #[serde(default)]
    pub file: bool,
}

/// `topology info` (`TopologyInfoResponse`), assembled by the client.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TopologyInfoResponse {
    #[serde(default, deserialize_with = "nullable")]
    pub clusters: Vec<TopologyCluster>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplicaDurability {
    #[serde(default, skip_serializing_if = "is_zero")]
    pub replica: i64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisperseDurability {
    #[serde(default, skip_serializing_if = "is_zero")]
    pub data: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub redundancy: i64,
}

fn is_zero(v: &i64) -> bool {
    *v == 0
}

/// Durability type: `"none"`, `"replicate"` or `"disperse"`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumeDurabilityInfo {
    #[serde(rename = "type", default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(default)]
    pub replicate: ReplicaDurability,
    #[serde(default)]
    pub disperse: DisperseDurability,
}

pub const DURABILITY_NONE: &str = "none";
pub const DURABILITY_REPLICATE: &str = "replicate";
pub const DURABILITY_DISPERSE: &str = "disperse";

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct SnapshotInfo {
    #[serde(default)]
    pub enable: bool,
    #[serde(default)]
    pub factor: f32,
}

/// `POST /volumes` body; `size` in GiB.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VolumeCreateRequest {
    #[serde(default)]
    pub size: i64,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub clusters: Vec<String>,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub durability: VolumeDurabilityInfo,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub gid: i64,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub glustervolumeoptions: Vec<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub block: bool,
    #[serde(default)]
    pub snapshot: SnapshotInfo,
}

/// `mount.glusterfs` of a volume.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GlusterFsMount {
    #[serde(default, deserialize_with = "nullable")]
    pub hosts: Vec<String>,
    /// `host:volname`.
    #[serde(default)]
    pub device: String,
    #[serde(default, deserialize_with = "nullable")]
    pub options: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MountInfo {
    #[serde(default)]
    pub glusterfs: GlusterFsMount,
}

/// `blockinfo` of a volume (block hosting is not supported by this server;
/// the object is kept for JSON compatibility and is always empty).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockInfo {
    #[serde(default, skip_serializing_if = "is_zero")]
    pub freesize: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub reservedsize: i64,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub blockvolume: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub restriction: String,
}

/// `GET /volumes/{id}` answer (`VolumeInfoResponse`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VolumeInfoResponse {
    #[serde(default)]
    pub size: i64,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub clusters: Vec<String>,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub durability: VolumeDurabilityInfo,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub gid: i64,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub glustervolumeoptions: Vec<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub block: bool,
    #[serde(default)]
    pub snapshot: SnapshotInfo,
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub cluster: String,
    #[serde(default)]
    pub mount: MountInfo,
    #[serde(default)]
    pub blockinfo: BlockInfo,
    #[serde(default, deserialize_with = "nullable")]
    pub bricks: Vec<BrickInfo>,
}

impl VolumeInfoResponse {
    /// Replica count (1 for `none`), as Heketi's replica durability.
    pub fn replica(&self) -> i64 {
        match self.durability.kind.as_str() {
            DURABILITY_REPLICATE => self.durability.replicate.replica,
            DURABILITY_DISPERSE => {
                self.durability.disperse.data + self.durability.disperse.redundancy
            }
            _ => 1,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumeListResponse {
    #[serde(default, deserialize_with = "nullable")]
    pub volumes: Vec<String>,
}

/// `POST /volumes/{id}/expand` body; GiB to add.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumeExpandRequest {
    #[serde(default)]
    pub expand_size: i64,
}

/// Heketi's ids: 32 lower-case hex digits (a UUID without dashes).
pub fn new_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// `api.ValidateUUID`: 32 hexadecimal characters.
pub fn is_valid_id(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Heketi's volume name rule (`^[a-zA-Z0-9_-]+$`, from gluster's
/// `cli_validate_volname`).
pub fn is_valid_volume_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Heketi's device name rule (`^/[a-zA-Z0-9_.:/-]+$`).
pub fn is_valid_device_name(s: &str) -> bool {
    s.len() > 1
        && s.starts_with('/')
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'/' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volume_info_json_field_names() {
        let mut v = VolumeInfoResponse {
            size: 1,
            name: "vol_x".into(),
            id: "a".repeat(32),
            cluster: "b".repeat(32),
            ..Default::default()
        };
        v.durability.kind = DURABILITY_REPLICATE.into();
        v.durability.replicate.replica = 3;
        v.mount.glusterfs.device = "h1:vol_x".into();
        v.mount.glusterfs.hosts = vec!["h1".into(), "h2".into(), "h3".into()];
        v.mount
            .glusterfs
            .options
            .insert("backup-volfile-servers".into(), "h2,h3".into());
        let j = serde_json::to_value(&v).unwrap();
        assert_eq!(j["durability"]["type"], "replicate");
        assert_eq!(j["durability"]["replicate"]["replica"], 3);
        assert_eq!(j["mount"]["glusterfs"]["device"], "h1:vol_x");
        assert_eq!(
            j["mount"]["glusterfs"]["options"]["backup-volfile-servers"],
            "h2,h3"
        );
        assert_eq!(j["bricks"], serde_json::json!([]));
        assert_eq!(j["snapshot"]["enable"], false);
        assert!(j.get("gid").is_none());
    }

    #[test]
    fn decodes_go_nulls_and_unknown_fields() {
        let s = r#"{"id":"x","nodes":null,"volumes":["v"],"block":true,"file":true,
                    "blockvolumes":null,"extra":42}"#;
        let c: ClusterInfoResponse = serde_json::from_str(s).unwrap();
        assert!(c.nodes.is_empty());
        assert_eq!(c.volumes, vec!["v".to_string()]);
        assert!(c.block && c.file);
    }

    #[test]
    fn id_and_name_rules() {
        let id = new_id();
        assert!(is_valid_id(&id));
        assert!(!is_valid_id("xyz"));
        assert!(is_valid_volume_name("vol_1-a"));
        assert!(!is_valid_volume_name("vol 1"));
        assert!(!is_valid_volume_name(""));
        assert!(is_valid_device_name("/dev/sdb"));
        assert!(is_valid_device_name("/srv/hk/d1"));
        assert!(!is_valid_device_name("dev/sdb"));
        assert!(!is_valid_device_name("/dev/sd b"));
    }

    #[test]
    fn state_serializes_as_heketi() {
        let r = StateRequest {
            state: EntryState::Offline,
            healcheck: String::new(),
        };
        assert_eq!(serde_json::to_string(&r).unwrap(), r#"{"state":"offline"}"#);
        let r: StateRequest = serde_json::from_str(r#"{"state":"failed"}"#).unwrap();
        assert_eq!(r.state, EntryState::Failed);
        assert!(serde_json::from_str::<StateRequest>(r#"{"state":"bogus"}"#).is_err());
    }
}
