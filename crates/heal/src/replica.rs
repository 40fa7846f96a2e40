//! A replica set as self-heal sees it: the bricks of one cluster/replicate translator, addressed
//! one by one.

use std::sync::Arc;

use fop::{Gfid, Subvolume};

use crate::plan::Algorithm;
use crate::policy::FavoriteChild;

/// How to heal; defaults are AFR's (xlators/cluster/afr/src/afr.c option table) for a volume
/// glusterd created with GlusterFS 10.
#[derive(Debug, Clone)]
pub struct HealOptions {
    /// Client quorum count (`afr_get_quorum_count`): `auto` is `n/2 + 1`, none is 0.
    pub quorum_count: usize,
    /// `cluster.self-heal-window-size`: data is healed in blocks of `128 KiB × window`.
    pub window: u32,
    /// `cluster.data-self-heal-algorithm`.
    pub algorithm: Algorithm,
    /// `cluster.favorite-child-policy`.
    pub favorite: FavoriteChild,
    /// `cluster.granular-entry-heal`.
    pub granular_entry_heal: bool,
    /// `cluster.use-anonymous-inode`: the name and GFID of the hidden directory at the root where
    /// entry heal parks directories (and files still linked elsewhere) it removes, so a rename
    /// can be healed by moving them back instead of copying.
    pub anon_inode: Option<(String, Gfid)>,
    /// The arbiter brick (`arbiter-count 1`: the last brick), which holds no data.
    pub arbiter: Option<usize>,
    /// `cluster.ensure-durability`: fsync healed sinks before clearing the markers.
    pub ensure_durability: bool,
    /// `cluster.metadata-splitbrain-forced-heal`.
    pub metadata_splitbrain_forced_heal: bool,
}

impl HealOptions {
    pub fn for_children(n: usize) -> Self {
        HealOptions {
            quorum_count: if n > 2 { n / 2 + 1 } else { 0 },
            window: 8,
            algorithm: Algorithm::Dynamic,
            favorite: FavoriteChild::None,
            granular_entry_heal: true,
            anon_inode: None,
            arbiter: None,
            ensure_durability: true,
            metadata_splitbrain_forced_heal: false,
        }
    }

    /// Options from a volfile's replicate node.
    pub fn from_spec(r: &volfile::Replicate) -> Self {
        let n = r.children.len();
        let mut o = HealOptions::for_children(n);
        o.quorum_count = match r.quorum {
            volfile::Quorum::None => 0,
            volfile::Quorum::Auto => n / 2 + 1,
            volfile::Quorum::Fixed(c) => c as usize,
        };
        let opt = |k: &str| r.options.get(k);
        let on = |k: &str, default: bool| {
            opt(k).map_or(default, |v| {
                matches!(
                    v.to_ascii_lowercase().as_str(),
                    "on" | "yes" | "true" | "enable" | "1"
                )
            })
        };
        if let Some(w) = opt("data-self-heal-window-size").and_then(|v| v.parse::<u32>().ok()) {
            o.window = w.clamp(1, 1024);
        }
        o.algorithm = Algorithm::parse(opt("data-self-heal-algorithm"));
        o.favorite = r.favorite_child_policy.into();
        o.granular_entry_heal = on("granular-entry-heal", true);
        o.ensure_durability = on("ensure-durability", true);
        o.metadata_splitbrain_forced_heal = on("metadata-splitbrain-forced-heal", false);
        if on("use-anonymous-inode", false) {
            if let Some(id) = r.volume_id.as_deref() {
                o.anon_inode = anon_inode_of(id);
            }
        }
        if r.arbiter_count == 1 && n > 0 {
            o.arbiter = Some(n - 1);
        }
        o
    }
}

/// The anonymous-inode directory of a volume (afr.c `afr_handle_anon_inode_options`): named
/// `.glusterfs-anonymous-inode-<volume-id>`, with the volume id's first byte flipped as its GFID.
pub fn anon_inode_of(volume_id: &str) -> Option<(String, Gfid)> {
    let u = uuid::Uuid::parse_str(volume_id).ok()?;
    let mut b = *u.as_bytes();
    b[0] ^= 1;
    Some((format!(".glusterfs-anonymous-inode-{volume_id}"), Gfid(b)))
}

/// One brick of a replica set.
#[derive(Clone)]
pub struct Brick {
    /// The brick's connection (fops).
    pub subvol: Arc<dyn Subvolume>,
    /// `host:/path` for reports, as GlusterFS prints bricks.
    pub label: String,
    /// The concrete client, when this is a protocol/client connection (connection state, and
    /// the fops outside the fop interface: READDIR of the index, RCHECKSUM).
    pub(crate) client: Option<Arc<client::BrickClient>>,
}

impl Brick {
    /// A brick reached through any subvolume (e.g. the replicate translator's children).
    pub fn from_subvol(subvol: Arc<dyn Subvolume>) -> Self {
        let label = subvol.name().to_string();
        Brick {
            subvol,
            label,
            client: None,
        }
    }

    /// A brick reached through a protocol/client connection (shared with the client's own
    /// replicate translator when healing from a client).
    pub fn from_client(c: Arc<client::BrickClient>) -> Self {
        let cfg = c.config();
        let label = format!("{}:{}", cfg.host, cfg.brick);
        Brick {
            subvol: c.clone(),
            label,
            client: Some(c),
        }
    }

    pub fn is_connected(&self) -> bool {
        self.client.as_ref().is_none_or(|c| c.is_connected())
    }

    /// The brick's connection, when it is a protocol/client one.
    pub fn client(&self) -> Option<&Arc<client::BrickClient>> {
        self.client.as_ref()
    }
}

/// The bricks of one cluster/replicate translator.
#[derive(Clone)]
pub struct ReplicaSet {
    /// The replicate translator's name (`VOL-replicate-N`): the lock domain AFR uses.
    pub name: String,
    pub bricks: Vec<Brick>,
    /// `trusted.afr.<name>` per brick, in brick order.
    pub pending_keys: Vec<String>,
    pub opts: HealOptions,
}

impl ReplicaSet {
    /// A replica set over arbitrary subvolumes, e.g. the children of the replicate translator, for
    /// client-side heal. Default options; set [`ReplicaSet::opts`] from the volfile when known.
    pub fn new(
        name: impl Into<String>,
        children: Vec<Arc<dyn Subvolume>>,
        pending_keys: Vec<String>,
    ) -> Self {
        let n = children.len();
        ReplicaSet {
            name: name.into(),
            bricks: children.into_iter().map(Brick::from_subvol).collect(),
            pending_keys,
            opts: HealOptions::for_children(n),
        }
    }

    pub fn n(&self) -> usize {
        self.bricks.len()
    }

    /// AFR's self-heal lock domain (`priv->sh_domain`, afr.c: `"%s:self-heal"`).
    pub fn sh_domain(&self) -> String {
        format!("{}:self-heal", self.name)
    }

    pub fn up(&self) -> Vec<bool> {
        self.bricks.iter().map(Brick::is_connected).collect()
    }

    pub fn subvol(&self, i: usize) -> Option<&Arc<dyn Subvolume>> {
        self.bricks.get(i).map(|b| &b.subvol)
    }

    /// Index of the brick labelled `host:path` (also accepting the volfile's client name).
    pub fn brick_index(&self, label: &str) -> Option<usize> {
        self.bricks
            .iter()
            .position(|b| b.label == label || b.subvol.name() == label)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anon_inode_name_and_gfid() {
        let (name, g) = anon_inode_of("2a8b92b2-236c-48ff-8918-dbc75b37f249").expect("uuid");
        assert_eq!(
            name,
            ".glusterfs-anonymous-inode-2a8b92b2-236c-48ff-8918-dbc75b37f249"
        );
        assert_eq!(g.to_string(), "2b8b92b2-236c-48ff-8918-dbc75b37f249");
        assert!(anon_inode_of("nope").is_none());
    }
}
