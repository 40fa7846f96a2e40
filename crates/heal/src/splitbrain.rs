//! Resolving split-brains on request: `gluster volume heal VOL split-brain {bigger-file PATH |
//! latest-mtime PATH | source-brick HOST:/BRICK [PATH]}` (heal/src/glfs-heal.c,
//! afr-common.c `afr_heal_splitbrain_file`). The chosen copy becomes the source of the data,
//! metadata and entry heals that the split-brain blocked; a name whose copies carry different
//! GFIDs is healed from the chosen copy's GFID (`afr_gfid_split_brain_source`).

use bytes::Bytes;
use fop::{Dict, Gfid, Loc};
use serde::Serialize;

use crate::heal::HealRequest;
use crate::index::{self, IndexKind};
use crate::policy::SplitBrainChoice;
use crate::replica::ReplicaSet;
use crate::volume::HealVolume;
use crate::{heal_caller, heal_inode_with, HealError, Result};

/// The policy as given on the command line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Policy {
    BiggerFile,
    LatestMtime,
    /// `HOST:/BRICK`.
    SourceBrick(String),
}

/// The outcome for one file.
#[derive(Debug, Clone, Serialize)]
pub struct Resolved {
    pub file: String,
    pub ok: bool,
    /// What glfsheal prints: `Healed FILE.` or `Healing FILE failed: REASON.`
    pub message: String,
}

/// A file given as `/path` or `gfid:<uuid>`, found on the bricks: its replica set, its GFID (as
/// the first brick that has it reports), and its parent and name when given by path.
struct Located {
    replica: usize,
    gfid: Gfid,
    parent: Option<(Gfid, Bytes)>,
    gfid_mismatch: bool,
}

const LINKTO: &str = "trusted.glusterfs.dht.linkto";

async fn locate(vol: &HealVolume, file: &str) -> Result<Located> {
    let c = heal_caller();
    if let Some(g) = file.strip_prefix("gfid:") {
        let gfid: Gfid = g
            .parse()
            .map_err(|_| HealError::Usage(format!("{file}: not a GFID")))?;
        for (r, rs) in vol.replicas.iter().enumerate() {
            for b in &rs.bricks {
                if let Ok(l) = b.subvol.lookup(&c, &Loc::gfid(gfid), &Dict::new()).await {
                    if !is_linkto(&l.iatt, &l.xdata) {
                        return Ok(Located {
                            replica: r,
                            gfid,
                            parent: None,
                            gfid_mismatch: false,
                        });
                    }
                }
            }
        }
        return Err(fop::FopError::Errno(libc::ENOENT).into());
    }
    if !file.starts_with('/') {
        return Err(HealError::Usage(
            "<FILE> must be absolute path w.r.t. the volume, starting with '/'".to_string(),
        ));
    }
    let comps: Vec<&str> = file.split('/').filter(|c| !c.is_empty()).collect();
    let Some((last, dirs)) = comps.split_last() else {
        return Err(HealError::Usage(format!("{file}: not a file")));
    };
    let mut parent = Gfid::ROOT;
    let mut x = Dict::new();
    x.set_u64(LINKTO, 256);
    for d in dirs {
        let loc = Loc::entry(parent, Bytes::copy_from_slice(d.as_bytes()));
        let mut next = None;
        'found: for rs in &vol.replicas {
            for b in &rs.bricks {
                if let Ok(l) = b.subvol.lookup(&c, &loc, &x).await {
                    if l.iatt.is_dir() {
                        next = Some(l.iatt.gfid);
                        break 'found;
                    }
                }
            }
        }
        parent = next.ok_or(fop::FopError::Errno(libc::ENOENT))?;
    }
    let name = Bytes::copy_from_slice(last.as_bytes());
    let loc = Loc::entry(parent, name.clone());
    for (r, rs) in vol.replicas.iter().enumerate() {
        let mut gfids: Vec<Gfid> = Vec::new();
        for b in &rs.bricks {
            if let Ok(l) = b.subvol.lookup(&c, &loc, &x).await {
                if !is_linkto(&l.iatt, &l.xdata) && !l.iatt.gfid.is_null() {
                    gfids.push(l.iatt.gfid);
                }
            }
        }
        if let Some(first) = gfids.first() {
            return Ok(Located {
                replica: r,
                gfid: *first,
                parent: Some((parent, name)),
                gfid_mismatch: gfids.iter().any(|g| g != first),
            });
        }
    }
    Err(fop::FopError::Errno(libc::ENOENT).into())
}

fn is_linkto(ia: &fop::Iatt, xdata: &Dict) -> bool {
    ia.is_reg() && (ia.mode & 0o7777) == libc::S_ISVTX && xdata.contains_key(LINKTO)
}

fn choice_for(rs: &ReplicaSet, policy: &Policy) -> Result<SplitBrainChoice> {
    Ok(match policy {
        Policy::BiggerFile => SplitBrainChoice::BiggerFile,
        Policy::LatestMtime => SplitBrainChoice::LatestMtime,
        Policy::SourceBrick(b) => {
            SplitBrainChoice::SourceBrick(rs.brick_index(b).ok_or_else(|| {
                HealError::Usage(format!("\"{b}\"- No such brick available in the volume."))
            })?)
        }
    })
}

async fn resolve_one(vol: &HealVolume, policy: &Policy, file: &str) -> Resolved {
    let fail = |m: String| Resolved {
        file: file.to_string(),
        ok: false,
        message: m,
    };
    let loc = match locate(vol, file).await {
        Ok(l) => l,
        Err(HealError::Usage(m)) => return fail(m),
        Err(e) => {
            return fail(format!(
                "Lookup failed on {file}:{}.",
                crate::strerror(e.errno())
            ))
        }
    };
    let Some(rs) = vol.replicas.get(loc.replica) else {
        return fail(format!(
            "Lookup failed on {file}:{}.",
            crate::strerror(libc::ENOENT)
        ));
    };
    let choice = match choice_for(rs, policy) {
        Ok(c) => c,
        Err(e) => return fail(e.to_string()),
    };
    let req = HealRequest::choose(choice);
    if loc.gfid_mismatch {
        let Some((parent, name)) = &loc.parent else {
            return fail(format!("Healing {file} failed: GFID mismatch."));
        };
        return match crate::entry::heal_name(rs, *parent, name, &req).await {
            Ok(()) => {
                // The winner's data and metadata, and the parent's entry markers of the
                // split-brain, are healed from the now consistent names.
                if let Ok(again) = locate(vol, file).await {
                    let _ = crate::heal_inode(rs, again.gfid).await;
                }
                let _ = crate::heal_inode(rs, *parent).await;
                Resolved {
                    file: file.to_string(),
                    ok: true,
                    message: format!("GFID split-brain resolved for file {file}"),
                }
            }
            Err(HealError::SplitBrain { refusal, .. }) => {
                fail(format!("Healing {file} failed: {refusal}."))
            }
            Err(e) => fail(format!("Healing {file} failed: {e}.")),
        };
    }
    if matches!(choice, SplitBrainChoice::BiggerFile) {
        let c = heal_caller();
        let mut is_dir = false;
        for b in &rs.bricks {
            if let Ok(ia) = b.subvol.stat(&c, &Loc::gfid(loc.gfid)).await {
                is_dir |= ia.is_dir();
            }
        }
        if is_dir {
            return fail("'bigger-file' not a valid option for directories.".to_string());
        }
    }
    match heal_inode_with(rs, loc.gfid, &req).await {
        Ok(_) => Resolved {
            file: file.to_string(),
            ok: true,
            message: format!("Healed {file}."),
        },
        Err(HealError::SplitBrain { refusal, .. }) => {
            fail(format!("Healing {file} failed: {refusal}."))
        }
        Err(e) => fail(format!(
            "Healing {file} failed:{}.",
            crate::strerror(e.errno())
        )),
    }
}

/// Resolve the split-brain of `file`, or with `source-brick` and no file, of every split-brain
/// entry in that brick's indices.
pub async fn resolve(
    vol: &HealVolume,
    policy: &Policy,
    file: Option<&str>,
) -> Result<Vec<Resolved>> {
    if let Some(f) = file {
        return Ok(vec![resolve_one(vol, policy, f).await]);
    }
    let Policy::SourceBrick(label) = policy else {
        return Err(HealError::Usage(
            "bigger-file and latest-mtime need a FILE".to_string(),
        ));
    };
    let (r, i) = vol.find_brick(label).ok_or_else(|| {
        HealError::Usage(format!(
            "\"{label}\"- No such brick available in the volume."
        ))
    })?;
    let rs = &vol.replicas[r];
    let b = &rs.bricks[i];
    let c = heal_caller();
    let mut out = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for kind in [IndexKind::Xattrop, IndexKind::Dirty] {
        let (_, gfids) = match index::list_gfids(b, &c, kind).await {
            Ok(x) => x,
            Err(e) if e.is(libc::ENOENT) => continue,
            Err(e) => return Err(e.into()),
        };
        for g in gfids {
            if !seen.insert(g) {
                continue;
            }
            let file = format!("gfid:{g}");
            let res = resolve_one(vol, policy, &file).await;
            if res.ok {
                out.push(res);
            } else {
                tracing::debug!(file = %file, message = %res.message, "not healed from the source brick");
            }
        }
    }
    Ok(out)
}
