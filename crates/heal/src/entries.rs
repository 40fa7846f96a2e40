//! Entry heal decisions: which names of a directory to look at and what to do with each one.
//! Pure: no I/O.
//!
//! AFR's entry heal (xlators/cluster/afr/src/afr-self-heal-entry.c) examines names one at a time
//! under an entry lock: with a clear source, a sink's name is deleted if the source lacks it and
//! (re)created with the source's GFID if the sink lacks it or has another GFID
//! (`__afr_selfheal_heal_dirent`); without one (split-brain, or no copy blames another) it merges
//! conservatively, creating what is missing and deleting nothing (`__afr_selfheal_merge_dirent`).
//! Here the unlocked listings of the bricks are compared first ([`names_to_examine`]) so that
//! names identical everywhere cost no per-name round trips.

use std::collections::BTreeMap;

use bytes::Bytes;
use proto::{Gfid, IaType, Iatt};

use crate::policy::{detect_mismatch, Mismatch};

/// What a listing says about one name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Listed {
    pub gfid: Gfid,
    pub ia_type: IaType,
}

/// One brick's listing of a directory: name → (GFID, type).
pub type Listing = BTreeMap<Bytes, Listed>;

/// The names worth a locked look: those in the listings of the `involved` bricks (the sinks being
/// healed and the source) that are not present with the same GFID and type on every listed
/// brick. A brick without a listing (`None`) makes every name of the others worth a look.
/// Sorted and without duplicates.
pub fn names_to_examine(listings: &[Option<Listing>], involved: &[bool]) -> Vec<Bytes> {
    let complete = listings.iter().all(Option::is_some);
    let mut out: Vec<Bytes> = Vec::new();
    for (i, l) in listings.iter().enumerate() {
        if !involved.get(i).copied().unwrap_or(false) {
            continue;
        }
        let Some(l) = l else { continue };
        for (name, e) in l {
            let same_everywhere = complete
                && !e.gfid.is_null()
                && listings
                    .iter()
                    .flatten()
                    .all(|o| o.get(name).is_some_and(|x| x == e));
            if !same_everywhere {
                out.push(name.clone());
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Names AFR never heals at the volume root, as self-heal daemon sees them
/// (`afr_is_private_directory` with `GF_CLIENT_PID_SELF_HEALD`): the old `.landfill` trash and
/// the anonymous-inode directory.
pub fn is_private_root_name(name: &[u8], anon_dir: Option<&str>) -> bool {
    name == b".landfill" || anon_dir.is_some_and(|a| name == a.as_bytes())
}

/// A brick's answer to the locked lookup of one name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameState {
    Present(Iatt),
    /// ENOENT / ESTALE.
    Absent,
    /// Another error: this brick's view is unknown.
    Error(i32),
}

impl NameState {
    pub fn iatt(&self) -> Option<&Iatt> {
        match self {
            NameState::Present(ia) => Some(ia),
            _ => None,
        }
    }
}

/// What to do for one name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DirentPlan {
    /// Everything agrees, or the name vanished everywhere.
    Nothing,
    /// The source could not be asked: skip the name, the heal is not complete.
    Fail(i32),
    /// GFID or type split-brain of the name: reported, not healed (EIO).
    Mismatch(Mismatch),
    Act(DirentActions),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirentActions {
    /// The copy others are made like.
    pub source: usize,
    /// Bricks that hold the source's copy (they get the new-entry marks).
    pub sources: Vec<bool>,
    /// Bricks where the name exists without a GFID (made outside GlusterFS): assign the source's.
    pub assign_gfid: Vec<usize>,
    /// Bricks on which to delete the name (the source deleted it).
    pub delete: Vec<usize>,
    /// Bricks on which to (re)create the name as the source has it.
    pub recreate: Vec<usize>,
}

/// Bricks that have the name but no GFID, with the source's type (`afr_lookup_and_heal_gfid`).
fn gfidless(states: &[NameState], source: usize) -> Vec<usize> {
    let Some(src) = states.get(source).and_then(NameState::iatt) else {
        return Vec::new();
    };
    states
        .iter()
        .enumerate()
        .filter_map(|(i, s)| match s {
            NameState::Present(ia) if ia.gfid.is_null() && ia.ia_type() == src.ia_type() => Some(i),
            _ => None,
        })
        .collect()
}

/// Decide for one name. `source` is the directory's entry-heal source (None: conservative
/// merge); `healed_sinks` the bricks being healed; `resolve_gfid` picks the winning copy of a GFID
/// split-brain (policy or user choice), or None.
pub fn plan_dirent(
    states: &[NameState],
    source: Option<usize>,
    healed_sinks: &[bool],
    resolve_gfid: &dyn Fn(&[Option<Iatt>]) -> Option<usize>,
) -> DirentPlan {
    let sink = |i: usize| healed_sinks.get(i).copied().unwrap_or(false);
    match source {
        Some(src) => {
            let src_iatt = match states.get(src) {
                None => return DirentPlan::Fail(libc::EIO),
                Some(NameState::Error(e)) => return DirentPlan::Fail(*e),
                Some(NameState::Absent) => None,
                Some(NameState::Present(ia)) => Some(*ia),
            };
            let mut act = DirentActions {
                source: src,
                sources: states.iter().enumerate().map(|(i, _)| i == src).collect(),
                assign_gfid: Vec::new(),
                delete: Vec::new(),
                recreate: Vec::new(),
            };
            match src_iatt {
                None => {
                    for (i, s) in states.iter().enumerate() {
                        if sink(i) && matches!(s, NameState::Present(_)) {
                            act.delete.push(i);
                        }
                    }
                }
                Some(sia) => {
                    act.assign_gfid = gfidless(states, src);
                    for (i, s) in states.iter().enumerate() {
                        if !sink(i) || i == src {
                            continue;
                        }
                        let same = s.iatt().is_some_and(|ia| {
                            ia.gfid == sia.gfid
                                || (ia.gfid.is_null() && act.assign_gfid.contains(&i))
                        });
                        if !same {
                            act.recreate.push(i);
                        }
                    }
                }
            }
            if act.delete.is_empty() && act.recreate.is_empty() && act.assign_gfid.is_empty() {
                DirentPlan::Nothing
            } else {
                DirentPlan::Act(act)
            }
        }
        None => {
            let Some(mut src) = states
                .iter()
                .position(|s| matches!(s, NameState::Present(_)))
            else {
                return DirentPlan::Nothing;
            };
            let mut sources: Vec<bool> = states
                .iter()
                .map(|s| matches!(s, NameState::Present(_)))
                .collect();
            let assign_gfid = gfidless(states, src);
            let stats: Vec<Option<Iatt>> = states.iter().map(|s| s.iatt().copied()).collect();
            let mut resolved = None;
            match detect_mismatch(&stats, src) {
                Mismatch::None => {}
                m @ Mismatch::Type { .. } => return DirentPlan::Mismatch(m),
                m @ Mismatch::Gfid { .. } => match resolve_gfid(&stats) {
                    Some(r) => {
                        resolved = Some(r);
                        src = r;
                        let winner = stats.get(r).and_then(|s| s.map(|ia| ia.gfid));
                        for (i, st) in stats.iter().enumerate() {
                            if i != r && st.is_some() && st.map(|ia| ia.gfid) != winner {
                                sources[i] = false;
                            }
                        }
                    }
                    None => return DirentPlan::Mismatch(m),
                },
            }
            let winner_gfid = stats.get(src).and_then(|s| s.map(|ia| ia.gfid));
            let mut recreate = Vec::new();
            for (i, s) in states.iter().enumerate() {
                if i == src || !sink(i) {
                    continue;
                }
                if resolved.is_some() {
                    if s.iatt().map(|ia| ia.gfid) == winner_gfid {
                        continue;
                    }
                } else if *s != NameState::Absent {
                    continue;
                }
                recreate.push(i);
            }
            if recreate.is_empty() && assign_gfid.is_empty() {
                DirentPlan::Nothing
            } else {
                DirentPlan::Act(DirentActions {
                    source: src,
                    sources,
                    assign_gfid,
                    delete: Vec::new(),
                    recreate,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reg(g: u8) -> NameState {
        NameState::Present(Iatt {
            gfid: Gfid([g; 16]),
            mode: 0o100644,
            ..Iatt::default()
        })
    }

    fn listed(g: u8) -> Listed {
        Listed {
            gfid: Gfid([g; 16]),
            ia_type: IaType::Reg,
        }
    }

    fn no_resolve(_: &[Option<Iatt>]) -> Option<usize> {
        None
    }

    #[test]
    fn listings_diff() {
        let mut a = Listing::new();
        a.insert(Bytes::from_static(b"same"), listed(1));
        a.insert(Bytes::from_static(b"only_a"), listed(2));
        a.insert(Bytes::from_static(b"differs"), listed(3));
        let mut b = Listing::new();
        b.insert(Bytes::from_static(b"same"), listed(1));
        b.insert(Bytes::from_static(b"only_b"), listed(4));
        b.insert(Bytes::from_static(b"differs"), listed(5));
        let names = names_to_examine(&[Some(a.clone()), Some(b.clone())], &[true, true]);
        assert_eq!(
            names,
            vec![
                Bytes::from_static(b"differs"),
                Bytes::from_static(b"only_a"),
                Bytes::from_static(b"only_b")
            ]
        );
        // Only brick 0 involved: its names only.
        let names = names_to_examine(&[Some(a.clone()), Some(b)], &[true, false]);
        assert_eq!(names.len(), 2);
        // Missing listing: everything of the involved bricks.
        let names = names_to_examine(&[Some(a), None], &[true, false]);
        assert_eq!(names.len(), 3);
    }

    #[test]
    fn source_deleted_name() {
        let p = plan_dirent(
            &[reg(1), NameState::Absent, NameState::Absent],
            Some(1),
            &[true, false, false],
            &no_resolve,
        );
        match p {
            DirentPlan::Act(a) => {
                assert_eq!(a.delete, vec![0]);
                assert!(a.recreate.is_empty());
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn source_created_or_renamed_name() {
        let p = plan_dirent(
            &[NameState::Absent, reg(1), reg(1)],
            Some(1),
            &[true, false, false],
            &no_resolve,
        );
        assert!(matches!(p, DirentPlan::Act(ref a) if a.recreate == vec![0]));
        // Different GFID on the sink: recreate (the old one is removed first).
        let p = plan_dirent(&[reg(9), reg(1)], Some(1), &[true, false], &no_resolve);
        assert!(matches!(p, DirentPlan::Act(ref a) if a.recreate == vec![0]));
        let p = plan_dirent(&[reg(1), reg(1)], Some(1), &[true, false], &no_resolve);
        assert_eq!(p, DirentPlan::Nothing);
        let p = plan_dirent(
            &[reg(1), NameState::Error(libc::EACCES)],
            Some(1),
            &[true, false],
            &no_resolve,
        );
        assert_eq!(p, DirentPlan::Fail(libc::EACCES));
    }

    #[test]
    fn merge_creates_never_deletes() {
        let p = plan_dirent(
            &[NameState::Absent, reg(1), NameState::Absent],
            None,
            &[true, true, true],
            &no_resolve,
        );
        match p {
            DirentPlan::Act(a) => {
                assert_eq!(a.source, 1);
                assert_eq!(a.recreate, vec![0, 2]);
                assert!(a.delete.is_empty());
            }
            other => panic!("{other:?}"),
        }
        let p = plan_dirent(&[reg(1), reg(2)], None, &[true, true], &no_resolve);
        assert!(matches!(p, DirentPlan::Mismatch(Mismatch::Gfid { .. })));
        let pick_second = |_: &[Option<Iatt>]| Some(1);
        let p = plan_dirent(&[reg(1), reg(2)], None, &[true, true], &pick_second);
        assert!(matches!(p, DirentPlan::Act(ref a) if a.source == 1 && a.recreate == vec![0]));
    }

    #[test]
    fn private_names() {
        assert!(is_private_root_name(b".landfill", None));
        assert!(is_private_root_name(
            b".glusterfs-anonymous-inode-x",
            Some(".glusterfs-anonymous-inode-x")
        ));
        assert!(!is_private_root_name(
            b"file",
            Some(".glusterfs-anonymous-inode-x")
        ));
    }
}
