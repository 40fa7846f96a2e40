//! The bricks' index translator (xlators/features/index/src/index.c): virtual directories listing
//! the inodes with pending markers (`xattrop`), with a dirty marker (`dirty`), and, per directory,
//! the names changed while a brick was down (`entry-changes/<dir-gfid>/<name>`, granular entry
//! heal). Their GFIDs come from a getxattr on the root; they answer READDIR (not READDIRP), and
//! UNLINK/RMDIR of their entries drops them from the index.

use bytes::Bytes;
use fop::{Caller, Dict, FopError, Gfid, Loc};

use crate::replica::Brick;

/// Which index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IndexKind {
    Xattrop,
    Dirty,
    EntryChanges,
}

impl IndexKind {
    /// `GF_XATTROP_INDEX_GFID`, `GF_XATTROP_DIRTY_GFID`, `GF_XATTROP_ENTRY_CHANGES_GFID`
    /// (libglusterfs/src/glusterfs/glusterfs.h).
    pub fn vgfid_key(self) -> &'static str {
        match self {
            IndexKind::Xattrop => "glusterfs.xattrop_index_gfid",
            IndexKind::Dirty => "glusterfs.xattrop_dirty_gfid",
            IndexKind::EntryChanges => "glusterfs.xattrop_entry_changes_gfid",
        }
    }
}

/// `GF_XATTROP_INDEX_COUNT`: how many inodes the xattrop index holds.
pub const INDEX_COUNT_KEY: &str = "glusterfs.xattrop_index_count";
/// `GF_XATTROP_DIRTY_COUNT`.
pub const DIRTY_COUNT_KEY: &str = "glusterfs.xattrop_dirty_count";
/// `GFID_TO_PATH_KEY`: the brick's path for a GFID, from its inode table.
pub const GFID_TO_PATH_KEY: &str = "glusterfs.gfid2path";

/// Most names read from one index directory in one sweep.
pub const MAX_INDEX_ENTRIES: usize = 1 << 20;

fn gfid_from(d: &Dict, key: &str) -> fop::Result<Gfid> {
    let v = d.get(key).ok_or(FopError::Errno(libc::ENODATA))?;
    if let Some(g) = v.as_gfid() {
        return Ok(g);
    }
    v.as_bytes()
        .and_then(|b| Gfid::from_slice(b))
        .ok_or(FopError::Errno(libc::EINVAL))
}

/// The virtual directory's GFID on this brick.
pub async fn index_gfid(b: &Brick, c: &Caller, kind: IndexKind) -> fop::Result<Gfid> {
    let d = b
        .subvol
        .getxattr(c, &Loc::gfid(Gfid::ROOT), Some(kind.vgfid_key()))
        .await?;
    gfid_from(&d, kind.vgfid_key())
}

/// The names in one index directory (GFID strings for xattrop/dirty/entry-changes, entry names
/// inside `entry-changes/<dir>`).
pub async fn list_dir(b: &Brick, c: &Caller, dir: Gfid) -> fop::Result<Vec<Bytes>> {
    let client = b.client.as_ref().ok_or_else(|| {
        FopError::NotConnected(format!(
            "{}: the index needs a protocol/client connection (READDIR)",
            b.label
        ))
    })?;
    let fd = b.subvol.opendir(c, &Loc::gfid(dir)).await?;
    let mut out = Vec::new();
    let mut offset = 0u64;
    let res = async {
        loop {
            let batch = client.readdir(c, &fd, offset, 128 * 1024).await?;
            let Some(last) = batch.last() else { break };
            let next = last.off;
            for e in batch {
                if e.name.as_ref() != b"." && e.name.as_ref() != b".." {
                    out.push(e.name);
                }
            }
            if out.len() >= MAX_INDEX_ENTRIES || next == offset {
                break;
            }
            offset = next;
        }
        Ok::<(), FopError>(())
    }
    .await;
    b.subvol.releasedir(&fd).await;
    res.map(|_| out)
}

/// The GFIDs listed in an index (`xattrop` or `dirty`); unparsable names are skipped (the index
/// keeps its base file `xattrop-<uuid>` out of listings already).
pub async fn list_gfids(b: &Brick, c: &Caller, kind: IndexKind) -> fop::Result<(Gfid, Vec<Gfid>)> {
    let vg = index_gfid(b, c, kind).await?;
    let names = list_dir(b, c, vg).await?;
    let gfids = names
        .iter()
        .filter_map(|n| std::str::from_utf8(n).ok())
        .filter_map(|s| s.parse::<Gfid>().ok())
        .collect();
    Ok((vg, gfids))
}

/// Drop one entry from an index (what glustershd does for stale entries,
/// `afr_shd_entry_purge`, and what granular entry heal does per healed name).
pub async fn purge(b: &Brick, c: &Caller, dir: Gfid, name: &[u8]) -> fop::Result<()> {
    let loc = Loc::entry(dir, Bytes::copy_from_slice(name));
    match b.subvol.unlink(c, &loc, &Dict::new()).await {
        Err(e) if e.is(libc::ENOENT) => Ok(()),
        r => r.map(|_| ()),
    }
}

/// Drop an `entry-changes/<dir>` directory and everything in it.
pub async fn purge_entry_changes(b: &Brick, c: &Caller, ec: Gfid, name: &[u8]) -> fop::Result<()> {
    let loc = Loc::entry(ec, Bytes::copy_from_slice(name));
    match b.subvol.rmdir(c, &loc, 1, &Dict::new()).await {
        Err(e) if e.is(libc::ENOENT) => Ok(()),
        r => r.map(|_| ()),
    }
}

/// The names recorded for directory `dir` in `entry-changes` on this brick, with the GFID the
/// brick gave that index directory (to purge names from it). `None` if there is none.
pub async fn entry_changes(
    b: &Brick,
    c: &Caller,
    dir: Gfid,
) -> fop::Result<Option<(Gfid, Vec<Bytes>)>> {
    let ec = index_gfid(b, c, IndexKind::EntryChanges).await?;
    let loc = Loc::entry(ec, Bytes::from(dir.to_string()));
    let l = match b.subvol.lookup(c, &loc, &Dict::new()).await {
        Ok(l) => l,
        Err(e) if e.is(libc::ENOENT) || e.is(libc::ESTALE) => return Ok(None),
        Err(e) => return Err(e),
    };
    let names = list_dir(b, c, l.iatt.gfid).await?;
    Ok(Some((l.iatt.gfid, names)))
}

/// Inodes in this brick's xattrop index (`gluster volume heal VOL statistics heal-count`).
pub async fn pending_count(b: &Brick, c: &Caller) -> fop::Result<u64> {
    let d = b
        .subvol
        .getxattr(c, &Loc::gfid(Gfid::ROOT), Some(INDEX_COUNT_KEY))
        .await?;
    d.get(INDEX_COUNT_KEY)
        .and_then(|v| v.as_u64().or_else(|| v.as_i64().map(|i| i.max(0) as u64)))
        .ok_or(FopError::Errno(libc::ENODATA))
}

/// The brick's path of a GFID (`syncop_gfid_to_path`): `/a/b`, or `<gfid:...>` when the brick does
/// not know the name.
pub async fn gfid_to_path(b: &Brick, c: &Caller, gfid: Gfid) -> fop::Result<String> {
    let d = b
        .subvol
        .getxattr(c, &Loc::gfid(gfid), Some(GFID_TO_PATH_KEY))
        .await?;
    d.get(GFID_TO_PATH_KEY)
        .and_then(|v| v.as_str())
        .map(str::to_string)
        .ok_or(FopError::Errno(libc::EINVAL))
}
