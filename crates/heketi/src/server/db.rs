//! The server's state: an embedded ACID database (redb) of clusters, nodes,
//! devices, bricks, volumes and in-flight operations, each entry stored as
//! JSON under its id. Every change is one transaction; an operation that
//! needs work on storage nodes records itself in `ops` first, so a restart
//! can roll it back (or forward) — see `server::ops::recover`.

use std::collections::BTreeMap;
use std::path::Path;

use redb::{Database, ReadTransaction, ReadableTable, TableDefinition, WriteTransaction};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::api::{
    ClusterFlags, EntryState, HostAddresses, SnapshotInfo, Tags, VolumeDurabilityInfo,
};
use crate::server::exec::{BrickLayout, DeviceKind};

pub const CLUSTERS: TableDefinition<&str, &[u8]> = TableDefinition::new("clusters");
pub const NODES: TableDefinition<&str, &[u8]> = TableDefinition::new("nodes");
pub const DEVICES: TableDefinition<&str, &[u8]> = TableDefinition::new("devices");
pub const BRICKS: TableDefinition<&str, &[u8]> = TableDefinition::new("bricks");
pub const VOLUMES: TableDefinition<&str, &[u8]> = TableDefinition::new("volumes");
pub const OPS: TableDefinition<&str, &[u8]> = TableDefinition::new("ops");
/// Host name registrations: `manage:<host>` / `storage:<host>` -> node id.
pub const HOSTNAMES: TableDefinition<&str, &str> = TableDefinition::new("hostnames");

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("Id not found")]
    NotFound,
    #[error("database: {0}")]
    Store(String),
}

macro_rules! store_err {
    ($($t:ty),*) => {$(
        impl From<$t> for DbError {
            fn from(e: $t) -> Self { DbError::Store(e.to_string()) }
        }
    )*};
}
store_err!(
    redb::Error,
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError,
    serde_json::Error
);

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ClusterEntry {
    pub id: String,
    pub flags: ClusterFlags,
    pub nodes: Vec<String>,
    pub volumes: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct NodeEntry {
    pub id: String,
    pub cluster: String,
    pub zone: i64,
    pub hostnames: HostAddresses,
    pub tags: Tags,
    pub state: EntryState,
    pub devices: Vec<String>,
}

impl NodeEntry {
    pub fn manage(&self) -> &str {
        self.hostnames
            .manage
            .first()
            .map(String::as_str)
            .unwrap_or("")
    }
    pub fn storage(&self) -> &str {
        self.hostnames
            .storage
            .first()
            .map(String::as_str)
            .unwrap_or("")
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DeviceEntry {
    pub id: String,
    pub node: String,
    pub name: String,
    pub tags: Tags,
    pub state: EntryState,
    pub kind: DeviceKind,
    /// KiB.
    pub total: u64,
    /// KiB reserved by bricks.
    pub used: u64,
    pub pv_uuid: String,
    pub bricks: Vec<String>,
}

impl DeviceEntry {
    pub fn free(&self) -> u64 {
        self.total.saturating_sub(self.used)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BrickEntry {
    pub id: String,
    pub device: String,
    pub node: String,
    pub volume: String,
    pub layout: BrickLayout,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct VolumeEntry {
    pub id: String,
    pub name: String,
    pub cluster: String,
    /// GiB.
    pub size: i64,
    pub durability: VolumeDurabilityInfo,
    pub gid: i64,
    pub options: Vec<String>,
    pub snapshot: SnapshotInfo,
    pub bricks: Vec<String>,
    /// Id of an operation in flight on this volume (create, expand, delete).
    pub pending: Option<String>,
}

impl VolumeEntry {
    /// Bricks per replica set.
    pub fn set_size(&self) -> usize {
        match self.durability.kind.as_str() {
            crate::api::DURABILITY_REPLICATE => self.durability.replicate.replica.max(1) as usize,
            crate::api::DURABILITY_DISPERSE => (self.durability.disperse.data
                + self.durability.disperse.redundancy)
                .max(1) as usize,
            _ => 1,
        }
    }
}

/// An operation that changes GlusterFS and is not finished yet.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub enum OpKind {
    VolumeCreate,
    VolumeExpand,
    VolumeDelete,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OpEntry {
    pub id: String,
    pub kind: OpKind,
    pub volume: String,
    /// Bricks this operation adds (create, expand).
    pub bricks: Vec<String>,
    /// GiB this operation adds (expand).
    pub size: i64,
    /// Expansion by growing bricks in place: (brick id, new size KiB).
    #[serde(default)]
    pub grow: Vec<(String, u64)>,
}

/// The database.
pub struct Db {
    db: Database,
}

fn get<T: DeserializeOwned>(
    t: &impl ReadableTable<&'static str, &'static [u8]>,
    id: &str,
) -> Result<Option<T>, DbError> {
    match t.get(id)? {
        Some(v) => Ok(Some(serde_json::from_slice(v.value())?)),
        None => Ok(None),
    }
}

/// A read view.
pub struct Reader {
    tx: ReadTransaction,
}

macro_rules! typed_reads {
    ($($fn_get:ident, $fn_all:ident, $table:ident, $ty:ty);* $(;)?) => {
        impl Reader {
            $(
            pub fn $fn_get(&self, id: &str) -> Result<$ty, DbError> {
                let t = match self.tx.open_table($table) {
                    Ok(t) => t,
                    Err(redb::TableError::TableDoesNotExist(_)) => return Err(DbError::NotFound),
                    Err(e) => return Err(e.into()),
                };
                get(&t, id)?.ok_or(DbError::NotFound)
            }
            pub fn $fn_all(&self) -> Result<Vec<$ty>, DbError> {
                let t = match self.tx.open_table($table) {
                    Ok(t) => t,
                    Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
                    Err(e) => return Err(e.into()),
                };
                let mut out = Vec::new();
                for item in t.iter()? {
                    let (_, v) = item?;
                    out.push(serde_json::from_slice(v.value())?);
                }
                Ok(out)
            }
            )*
        }
        impl Writer {
            $(
            pub fn $fn_get(&self, id: &str) -> Result<$ty, DbError> {
                let t = self.tx.open_table($table)?;
                get(&t, id)?.ok_or(DbError::NotFound)
            }
            pub fn $fn_all(&self) -> Result<Vec<$ty>, DbError> {
                let t = self.tx.open_table($table)?;
                let mut out = Vec::new();
                for item in t.iter()? {
                    let (_, v) = item?;
                    out.push(serde_json::from_slice(v.value())?);
                }
                Ok(out)
            }
            )*
        }
    };
}

/// A write transaction; dropped without `commit` it is aborted.
pub struct Writer {
    tx: WriteTransaction,
}

typed_reads!(
    cluster, clusters, CLUSTERS, ClusterEntry;
    node, nodes, NODES, NodeEntry;
    device, devices, DEVICES, DeviceEntry;
    brick, bricks, BRICKS, BrickEntry;
    volume, volumes, VOLUMES, VolumeEntry;
    op, ops, OPS, OpEntry;
);

impl Writer {
    fn put_json<T: Serialize>(
        &self,
        table: TableDefinition<&str, &[u8]>,
        id: &str,
        v: &T,
    ) -> Result<(), DbError> {
        let bytes = serde_json::to_vec(v)?;
        let mut t = self.tx.open_table(table)?;
        t.insert(id, bytes.as_slice())?;
        Ok(())
    }

    fn del(&self, table: TableDefinition<&str, &[u8]>, id: &str) -> Result<(), DbError> {
        let mut t = self.tx.open_table(table)?;
        t.remove(id)?;
        Ok(())
    }

    pub fn put_cluster(&self, v: &ClusterEntry) -> Result<(), DbError> {
        self.put_json(CLUSTERS, &v.id, v)
    }
    pub fn put_node(&self, v: &NodeEntry) -> Result<(), DbError> {
        self.put_json(NODES, &v.id, v)
    }
    pub fn put_device(&self, v: &DeviceEntry) -> Result<(), DbError> {
        self.put_json(DEVICES, &v.id, v)
    }
    pub fn put_brick(&self, v: &BrickEntry) -> Result<(), DbError> {
        self.put_json(BRICKS, &v.id, v)
    }
    pub fn put_volume(&self, v: &VolumeEntry) -> Result<(), DbError> {
        self.put_json(VOLUMES, &v.id, v)
    }
    pub fn put_op(&self, v: &OpEntry) -> Result<(), DbError> {
        self.put_json(OPS, &v.id, v)
    }
    pub fn del_cluster(&self, id: &str) -> Result<(), DbError> {
        self.del(CLUSTERS, id)
    }
    pub fn del_node(&self, id: &str) -> Result<(), DbError> {
        self.del(NODES, id)
    }
    pub fn del_device(&self, id: &str) -> Result<(), DbError> {
        self.del(DEVICES, id)
    }
    pub fn del_brick(&self, id: &str) -> Result<(), DbError> {
        self.del(BRICKS, id)
    }
    pub fn del_volume(&self, id: &str) -> Result<(), DbError> {
        self.del(VOLUMES, id)
    }
    pub fn del_op(&self, id: &str) -> Result<(), DbError> {
        self.del(OPS, id)
    }

    /// Node id registered for a host name key (`manage:h` / `storage:h`).
    pub fn hostname_owner(&self, key: &str) -> Result<Option<String>, DbError> {
        let t = self.tx.open_table(HOSTNAMES)?;
        let v = t.get(key)?.map(|v| v.value().to_string());
        Ok(v)
    }

    pub fn register_hostname(&self, key: &str, node: &str) -> Result<(), DbError> {
        let mut t = self.tx.open_table(HOSTNAMES)?;
        t.insert(key, node)?;
        Ok(())
    }

    pub fn unregister_hostname(&self, key: &str) -> Result<(), DbError> {
        let mut t = self.tx.open_table(HOSTNAMES)?;
        t.remove(key)?;
        Ok(())
    }

    pub fn commit(self) -> Result<(), DbError> {
        self.tx.commit()?;
        Ok(())
    }
}

impl Db {
    /// Open (or create) the database file.
    pub fn open(path: &Path) -> Result<Db, DbError> {
        if let Some(dir) = path.parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir)
                    .map_err(|e| DbError::Store(format!("{}: {e}", dir.display())))?;
            }
        }
        // A previous server on the same file may still be shutting down (a restart): its lock
        // goes with it, so wait for it a little instead of failing the start.
        let mut tries = 0;
        let db = loop {
            match Database::create(path) {
                Err(redb::DatabaseError::DatabaseAlreadyOpen) if tries < 100 => {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
                r => break r?,
            }
        };
        // Create all tables so readers never miss one.
        let tx = db.begin_write()?;
        for t in [CLUSTERS, NODES, DEVICES, BRICKS, VOLUMES, OPS] {
            tx.open_table(t)?;
        }
        tx.open_table(HOSTNAMES)?;
        tx.commit()?;
        Ok(Db { db })
    }

    pub fn read(&self) -> Result<Reader, DbError> {
        Ok(Reader {
            tx: self.db.begin_read()?,
        })
    }

    pub fn write(&self) -> Result<Writer, DbError> {
        Ok(Writer {
            tx: self.db.begin_write()?,
        })
    }

    /// Run `f` in a write transaction and commit if it succeeds.
    pub fn update<T, E: From<DbError>>(
        &self,
        f: impl FnOnce(&Writer) -> Result<T, E>,
    ) -> Result<T, E> {
        let w = self.write()?;
        let v = f(&w)?;
        w.commit()?;
        Ok(v)
    }
}

/// Sorted map of all entries by id (for stable listings).
pub fn by_id<T>(v: Vec<T>, id: impl Fn(&T) -> &str) -> BTreeMap<String, T> {
    v.into_iter().map(|x| (id(&x).to_string(), x)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_abort() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/heketi.db");
        {
            let db = Db::open(&path).unwrap();
            db.update(|w| {
                w.put_cluster(&ClusterEntry {
                    id: "c1".into(),
                    ..Default::default()
                })?;
                w.register_hostname("manage:h1", "n1")?;
                Ok::<_, DbError>(())
            })
            .unwrap();
            // aborted transaction leaves nothing
            let r: Result<(), DbError> = db.update(|w| {
                w.put_cluster(&ClusterEntry {
                    id: "c2".into(),
                    ..Default::default()
                })?;
                Err(DbError::Store("boom".into()))
            });
            assert!(r.is_err());
        }
        // survives reopen
        let db = Db::open(&path).unwrap();
        let r = db.read().unwrap();
        assert_eq!(r.clusters().unwrap().len(), 1);
        assert_eq!(r.cluster("c1").unwrap().id, "c1");
        assert!(matches!(r.cluster("c2"), Err(DbError::NotFound)));
        let w = db.write().unwrap();
        assert_eq!(
            w.hostname_owner("manage:h1").unwrap().as_deref(),
            Some("n1")
        );
        assert_eq!(w.hostname_owner("manage:h2").unwrap(), None);
    }
}
