//! Choosing the source and the sinks of a heal once the markers have been read. Pure: no I/O.
//!
//! Mirrors xlators/cluster/afr/src/afr-self-heal-common.c (`afr_mark_split_brain_source_sinks`,
//! `afr_sh_fav_by_*`, `afr_mark_largest_file_as_source`, `afr_choose_source_by_policy`, ...),
//! afr-self-heal-data.c (`__afr_selfheal_data_finalize_source`), afr-self-heal-metadata.c
//! (`__afr_selfheal_metadata_finalize_source`, `afr_dirtime_splitbrain_source`) and
//! afr-self-heal-entry.c (`__afr_selfheal_entry_finalize_source`).

use std::fmt;

use proto::{Gfid, IaType, Iatt};
use serde::Serialize;

use crate::markers::{Direction, HealType};

/// `cluster.favorite-child-policy`: automatic split-brain resolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FavoriteChild {
    #[default]
    None,
    Size,
    Ctime,
    Mtime,
    Majority,
}

impl From<volfile::FavoriteChildPolicy> for FavoriteChild {
    fn from(p: volfile::FavoriteChildPolicy) -> Self {
        match p {
            volfile::FavoriteChildPolicy::None => FavoriteChild::None,
            volfile::FavoriteChildPolicy::Size => FavoriteChild::Size,
            volfile::FavoriteChildPolicy::Ctime => FavoriteChild::Ctime,
            volfile::FavoriteChildPolicy::Mtime => FavoriteChild::Mtime,
            volfile::FavoriteChildPolicy::Majority => FavoriteChild::Majority,
        }
    }
}

/// The policies of `gluster volume heal VOL split-brain ...` (GF_SHD_OP_SBRAIN_HEAL_FROM_*).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SplitBrainChoice {
    BiggerFile,
    LatestMtime,
    /// The brick (index in the replica set) whose copy wins.
    SourceBrick(usize),
}

/// Why a split-brain resolution was refused; the texts are AFR's `sh-fail-msg` strings
/// (afr-self-heal.h), which `gluster volume heal ... split-brain` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum SplitBrainRefusal {
    NotAllUp,
    NoBiggerFile,
    NoDiffInMtime,
    UseSourceBrick,
    BrickNotUp,
    NotInSplitBrain,
    /// A split-brain and neither a choice nor a favorite-child policy resolves it.
    Unresolved,
}

impl fmt::Display for SplitBrainRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SplitBrainRefusal::NotAllUp => {
                "Failed to obtain replies from all bricks of the replica (are they up?). Cannot \
                 resolve split-brain."
            }
            SplitBrainRefusal::NoBiggerFile => "No bigger file",
            SplitBrainRefusal::NoDiffInMtime => "No difference in mtime",
            SplitBrainRefusal::UseSourceBrick => {
                "Use source-brick option to heal metadata split-brain"
            }
            SplitBrainRefusal::BrickNotUp => "Brick is not up",
            SplitBrainRefusal::NotInSplitBrain => "File not in split-brain",
            SplitBrainRefusal::Unresolved => "split-brain",
        })
    }
}

/// The outcome of source selection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    pub source: usize,
    pub sources: Vec<bool>,
    /// Bricks to bring to the source's state.
    pub healed_sinks: Vec<bool>,
    /// The source was chosen to resolve a split-brain: clear the sinks' blame of the source first
    /// (`_afr_fav_child_reset_sink_xattrs`) so an interrupted heal resumes from the same source.
    pub resolved_split_brain: bool,
    /// Metadata differs although every brick is a source: the sources blame the others first and
    /// the markers are read again (`__afr_selfheal_metadata_mark_pending_xattrs`).
    pub blame_first: bool,
}

fn count(v: &[bool]) -> usize {
    v.iter().filter(|&&b| b).count()
}

fn get(v: &[bool], i: usize) -> bool {
    v.get(i).copied().unwrap_or(false)
}

fn ns(sec: i64, nsec: u32) -> i128 {
    i128::from(sec) * 1_000_000_000 + i128::from(nsec)
}

fn mtime(ia: &Iatt) -> i128 {
    ns(ia.mtime, ia.mtime_nsec)
}

/// `afr_can_decide_split_brain_source_sinks`: every brick answered.
fn all_answered(stats: &[Option<Iatt>]) -> bool {
    stats.iter().all(Option::is_some)
}

/// Same type, owner, group and permission bits (`IA_EQUAL` on type, uid, gid, prot).
pub fn same_metadata(a: &Iatt, b: &Iatt) -> bool {
    a.ia_type() == b.ia_type() && a.uid == b.uid && a.gid == b.gid && a.perm() == b.perm()
}

/// `afr_mark_largest_file_as_source`.
pub fn mark_largest_file_as_source(sources: &mut [bool], stats: &[Option<Iatt>]) {
    let mut size = 0u64;
    for (i, s) in sources.iter_mut().enumerate() {
        if !*s {
            continue;
        }
        match stats.get(i).and_then(Option::as_ref) {
            None => *s = false,
            Some(ia) => size = size.max(ia.size),
        }
    }
    for (i, s) in sources.iter_mut().enumerate() {
        if *s
            && stats
                .get(i)
                .and_then(Option::as_ref)
                .is_some_and(|ia| ia.size < size)
        {
            *s = false;
        }
    }
}

/// `afr_mark_latest_mtime_file_as_source`.
pub fn mark_latest_mtime_as_source(sources: &mut [bool], stats: &[Option<Iatt>]) {
    let mut latest = i128::MIN;
    for (i, s) in sources.iter_mut().enumerate() {
        if !*s {
            continue;
        }
        match stats.get(i).and_then(Option::as_ref) {
            None => *s = false,
            Some(ia) => latest = latest.max(mtime(ia)),
        }
    }
    for (i, s) in sources.iter_mut().enumerate() {
        if *s
            && stats
                .get(i)
                .and_then(Option::as_ref)
                .is_some_and(|ia| mtime(ia) < latest)
        {
            *s = false;
        }
    }
}

/// `afr_mark_biggest_witness_as_source`.
pub fn mark_biggest_witness_as_source(sources: &mut [bool], witness: &[u64]) {
    let biggest = sources
        .iter()
        .zip(witness)
        .filter(|(s, _)| **s)
        .map(|(_, w)| *w)
        .max()
        .unwrap_or(0);
    for (s, w) in sources.iter_mut().zip(witness) {
        if *s && *w < biggest {
            *s = false;
        }
    }
}

/// `afr_mark_newest_file_as_source`: exactly one source, the one with the latest ctime (seconds;
/// the last of equals wins).
pub fn mark_newest_file_as_source(sources: &mut [bool], stats: &[Option<Iatt>]) {
    let mut pick = None;
    let mut max = i64::MIN;
    for (i, &s) in sources.iter().enumerate() {
        if !s {
            continue;
        }
        let c = stats
            .get(i)
            .and_then(Option::as_ref)
            .map_or(0, |ia| ia.ctime);
        if max <= c {
            max = c;
            pick = Some(i);
        }
    }
    if let Some(p) = pick {
        for (i, s) in sources.iter_mut().enumerate() {
            *s = i == p;
        }
    }
}

/// `afr_choose_source_by_policy`: a local brick first (except an arbiter for data), else the first.
pub fn choose_source(
    sources: &[bool],
    local: &[bool],
    ty: HealType,
    arbiter: Option<usize>,
) -> Option<usize> {
    let local_pick = (0..sources.len())
        .find(|&i| sources[i] && get(local, i) && !(ty == HealType::Data && arbiter == Some(i)));
    local_pick.or_else(|| sources.iter().position(|&s| s))
}

fn fav_by_size(stats: &[Option<Iatt>]) -> Option<usize> {
    let mut fav = None;
    let mut cmp = 0u64;
    for (i, ia) in stats.iter().enumerate() {
        let Some(ia) = ia else { continue };
        if ia.is_dir() {
            return None;
        }
        if ia.size > cmp {
            cmp = ia.size;
            fav = Some(i);
        } else if ia.size == cmp {
            fav = None;
        }
    }
    fav
}

fn fav_by_time(stats: &[Option<Iatt>], t: impl Fn(&Iatt) -> (i64, u32)) -> Option<usize> {
    let mut fav = None;
    let mut cmp = (i64::MIN, 0u32);
    for (i, ia) in stats.iter().enumerate() {
        let Some(ia) = ia else { continue };
        let v = t(ia);
        if v.0 > cmp.0 || (v.0 == cmp.0 && v.1 > cmp.1) {
            cmp = v;
            fav = Some(i);
        }
    }
    fav
}

fn fav_by_majority(stats: &[Option<Iatt>]) -> Option<usize> {
    let n = stats.len();
    for (i, a) in stats.iter().enumerate() {
        let Some(a) = a else { continue };
        let votes = stats
            .iter()
            .flatten()
            .filter(|b| b.mtime == a.mtime && b.size == a.size)
            .count();
        if votes > n / 2 {
            return Some(i);
        }
    }
    None
}

/// `afr_sh_get_fav_by_policy`.
pub fn favorite_child(policy: FavoriteChild, stats: &[Option<Iatt>]) -> Option<usize> {
    if !all_answered(stats) {
        return None;
    }
    match policy {
        FavoriteChild::None => None,
        FavoriteChild::Size => fav_by_size(stats),
        FavoriteChild::Ctime => fav_by_time(stats, |ia| (ia.ctime, ia.ctime_nsec)),
        FavoriteChild::Mtime => fav_by_time(stats, |ia| (ia.mtime, ia.mtime_nsec)),
        FavoriteChild::Majority => fav_by_majority(stats),
    }
}

/// Everything `afr_mark_split_brain_source_sinks` looks at.
pub struct SplitBrainInput<'a> {
    pub ty: HealType,
    pub locked_on: &'a [bool],
    pub stats: &'a [Option<Iatt>],
    /// `xattrs_equal(i, j)`: the healable xattrs of bricks `i` and `j` are the same.
    pub xattrs_equal: &'a dyn Fn(usize, usize) -> bool,
    pub choice: Option<SplitBrainChoice>,
    pub favorite: FavoriteChild,
    /// `blames[i][j]`: copy `i` blames copy `j` (empty when unknown).
    pub blames: &'a [Vec<bool>],
}

/// Copies left as candidates that all agree with each other (none blames another): in a replica
/// set of three, the two copies written while the third was down tie on size and mtime yet are
/// one version. GlusterFS refuses such ties ("No bigger file", "No difference in mtime"); they
/// are accepted here as one source, the first of them.
fn consistent(sources: &[bool], blames: &[Vec<bool>]) -> bool {
    let picked: Vec<usize> = (0..sources.len()).filter(|&i| sources[i]).collect();
    !blames.is_empty()
        && picked.iter().all(|&i| {
            picked.iter().all(|&j| {
                blames
                    .get(i)
                    .and_then(|r| r.get(j))
                    .is_some_and(|&b| !b || i == j)
            })
        })
}

/// `afr_mark_split_brain_source_sinks`: a source for an inode in split-brain, or why not.
/// Updates `sources`, `sinks` and `healed_sinks` as the C code does.
pub fn resolve_split_brain(
    input: &SplitBrainInput<'_>,
    sources: &mut [bool],
    sinks: &mut [bool],
    healed_sinks: &mut [bool],
) -> Result<usize, SplitBrainRefusal> {
    let n = sources.len();
    let locked = input.locked_on;
    let stats = input.stats;
    // afr_mark_source_sinks_if_file_empty: identical (empty, or same metadata) everywhere.
    if count(locked) == n && all_answered(stats) {
        let first = stats.first().and_then(Option::as_ref);
        let same = match (input.ty, first) {
            (HealType::Data, Some(_)) => stats.iter().flatten().all(|ia| ia.size == 0),
            (HealType::Metadata, Some(f)) => {
                stats.iter().flatten().all(|ia| same_metadata(f, ia))
                    && (1..n).all(|i| (input.xattrs_equal)(0, i))
            }
            _ => false,
        };
        if same {
            for i in 0..n {
                sources[i] = i == 0;
                sinks[i] = i != 0;
                healed_sinks[i] = i != 0;
            }
            return Ok(0);
        }
    }
    if let Some(choice) = input.choice {
        for i in 0..n {
            if get(locked, i) && (sources[i] || !sinks[i] || !healed_sinks[i]) {
                return Err(SplitBrainRefusal::NotInSplitBrain);
            }
        }
        if !all_answered(stats) {
            return Err(SplitBrainRefusal::NotAllUp);
        }
        for (i, s) in sources.iter_mut().enumerate() {
            *s = get(locked, i);
        }
        match choice {
            SplitBrainChoice::BiggerFile | SplitBrainChoice::LatestMtime
                if input.ty == HealType::Metadata =>
            {
                sources.iter_mut().for_each(|s| *s = false);
                return Err(SplitBrainRefusal::UseSourceBrick);
            }
            SplitBrainChoice::BiggerFile => {
                mark_largest_file_as_source(sources, stats);
                if count(sources) != 1 && !consistent(sources, input.blames) {
                    sources.iter_mut().for_each(|s| *s = false);
                    return Err(SplitBrainRefusal::NoBiggerFile);
                }
            }
            SplitBrainChoice::LatestMtime => {
                mark_latest_mtime_as_source(sources, stats);
                if count(sources) != 1 && !consistent(sources, input.blames) {
                    sources.iter_mut().for_each(|s| *s = false);
                    return Err(SplitBrainRefusal::NoDiffInMtime);
                }
            }
            SplitBrainChoice::SourceBrick(k) => {
                if k >= n || !get(locked, k) {
                    sources.iter_mut().for_each(|s| *s = false);
                    return Err(SplitBrainRefusal::BrickNotUp);
                }
                for (i, s) in sources.iter_mut().enumerate() {
                    *s = i == k;
                }
            }
        }
        let source = sources
            .iter()
            .position(|&s| s)
            .ok_or(SplitBrainRefusal::Unresolved)?;
        for i in 0..n {
            if sources[i] {
                sinks[i] = false;
                healed_sinks[i] = false;
            }
        }
        return Ok(source);
    }
    if let Some(f) = favorite_child(input.favorite, stats) {
        if f < n {
            sources[f] = true;
            sinks[f] = false;
            healed_sinks[f] = false;
            return Ok(f);
        }
    }
    Err(SplitBrainRefusal::Unresolved)
}

fn and(a: &[bool], b: &[bool]) -> Vec<bool> {
    a.iter().zip(b).map(|(&x, &y)| x && y).collect()
}

/// `afr_mark_active_sinks`: every locked non-source.
pub fn active_sinks(sources: &[bool], locked_on: &[bool]) -> Vec<bool> {
    sources
        .iter()
        .zip(locked_on)
        .map(|(&s, &l)| !s && l)
        .collect()
}

/// Data heal: `__afr_selfheal_data_prepare` after the direction is known, with
/// `__afr_selfheal_data_finalize_source`. `Ok(None)`: nothing to heal.
#[allow(clippy::too_many_arguments)]
pub fn data_selection(
    dir: &Direction,
    locked_on: &[bool],
    stats: &[Option<Iatt>],
    choice: Option<SplitBrainChoice>,
    favorite: FavoriteChild,
    local: &[bool],
    arbiter: Option<usize>,
) -> Result<Option<Selection>, SplitBrainRefusal> {
    let mut sources = dir.sources.clone();
    let mut sinks = dir.sinks.clone();
    let mut healed = and(&sinks, locked_on);
    let mut resolved = false;
    if healed == locked_on || count(&sources) == 0 {
        let eq = |_: usize, _: usize| true;
        resolve_split_brain(
            &SplitBrainInput {
                ty: HealType::Data,
                locked_on,
                stats,
                xattrs_equal: &eq,
                choice,
                favorite,
                blames: &dir.blames,
            },
            &mut sources,
            &mut sinks,
            &mut healed,
        )?;
        resolved = true;
    } else {
        if choice.is_some() {
            return Err(SplitBrainRefusal::NotInSplitBrain);
        }
        let size_mismatch = {
            let sizes: Vec<u64> = (0..sources.len())
                .filter(|&i| sources[i])
                .filter_map(|i| stats.get(i).and_then(Option::as_ref))
                .filter(|ia| !(arbiter.is_some() && ia.size == 0))
                .map(|ia| ia.size)
                .collect();
            sizes.iter().min() != sizes.iter().max()
        };
        let witnesses = sources.iter().zip(&dir.witness).any(|(&s, &w)| s && w != 0);
        if size_mismatch || witnesses {
            mark_largest_file_as_source(&mut sources, stats);
            mark_biggest_witness_as_source(&mut sources, &dir.witness);
            mark_newest_file_as_source(&mut sources, stats);
        }
    }
    let healed_sinks = active_sinks(&sources, locked_on);
    let Some(source) = choose_source(&sources, local, HealType::Data, arbiter) else {
        return Err(SplitBrainRefusal::Unresolved);
    };
    if count(&healed_sinks) == 0 {
        return Ok(None);
    }
    Ok(Some(Selection {
        source,
        sources,
        healed_sinks,
        resolved_split_brain: resolved,
        blame_first: false,
    }))
}

/// `afr_dirtime_splitbrain_source`: a directory whose copies differ only in a/m/ctime: the most
/// recently modified wins.
pub fn dirtime_source(
    locked_on: &[bool],
    stats: &[Option<Iatt>],
    xattrs_equal: &dyn Fn(usize, usize) -> bool,
) -> Option<usize> {
    let mut best: Option<(usize, i128)> = None;
    for (i, ia) in stats.iter().enumerate() {
        let Some(ia) = ia else { continue };
        if !get(locked_on, i) {
            continue;
        }
        let t = mtime(ia);
        if t <= best.map_or(0, |b| b.1) {
            continue;
        }
        best = Some((i, t));
    }
    let (src, _) = best?;
    let s = stats.get(src)?.as_ref()?;
    if !s.is_dir() {
        return None;
    }
    for (i, ia) in stats.iter().enumerate() {
        let Some(ia) = ia else { continue };
        if i == src {
            continue;
        }
        if ia.gfid != s.gfid || !same_metadata(s, ia) || !xattrs_equal(src, i) {
            return None;
        }
    }
    Some(src)
}

/// Metadata heal: `__afr_selfheal_metadata_prepare` + `__afr_selfheal_metadata_finalize_source`.
#[allow(clippy::too_many_arguments)]
pub fn metadata_selection(
    dir: &Direction,
    locked_on: &[bool],
    stats: &[Option<Iatt>],
    xattrs_equal: &dyn Fn(usize, usize) -> bool,
    choice: Option<SplitBrainChoice>,
    favorite: FavoriteChild,
    local: &[bool],
) -> Result<Option<Selection>, SplitBrainRefusal> {
    let n = dir.sources.len();
    let mut sources = dir.sources.clone();
    let mut sinks = dir.sinks.clone();
    let mut healed = and(&sinks, locked_on);
    // A source with witnesses (dirty or self-accusing) beats the other sources.
    if let Some(w) = (0..n).find(|&i| sources[i] && dir.witness.get(i).copied().unwrap_or(0) != 0) {
        for i in 0..n {
            if i != w && sources[i] {
                sources[i] = false;
                healed[i] = true;
            }
        }
    }
    let sources_count = count(&sources);
    let mut resolved = false;
    let mut blame_first = false;
    let source;
    if healed == locked_on || sources_count == 0 {
        let r = resolve_split_brain(
            &SplitBrainInput {
                ty: HealType::Metadata,
                locked_on,
                stats,
                xattrs_equal,
                choice,
                favorite,
                blames: &dir.blames,
            },
            &mut sources,
            &mut sinks,
            &mut healed,
        );
        match r {
            Ok(s) => {
                source = s;
                resolved = true;
            }
            Err(e) if choice.is_some() => return Err(e),
            Err(e) => match dirtime_source(locked_on, stats, xattrs_equal) {
                Some(s) => {
                    sources[s] = true;
                    source = s;
                }
                None => return Err(e),
            },
        }
    } else {
        if choice.is_some() {
            return Err(SplitBrainRefusal::NotInSplitBrain);
        }
        let Some(s) = choose_source(&sources, local, HealType::Metadata, None) else {
            return Err(SplitBrainRefusal::Unresolved);
        };
        source = s;
        let Some(src) = stats.get(s).and_then(Option::as_ref) else {
            return Err(SplitBrainRefusal::NotAllUp);
        };
        for i in 0..n {
            if !sources[i] || i == s {
                continue;
            }
            let differs = match stats.get(i).and_then(Option::as_ref) {
                Some(ia) => !same_metadata(src, ia) || !xattrs_equal(s, i),
                None => true,
            };
            if differs {
                sources[i] = false;
                healed[i] = true;
            }
        }
        if sources_count == n && count(&healed) != 0 {
            blame_first = true;
        }
    }
    let healed_sinks = active_sinks(&sources, locked_on);
    if count(&healed_sinks) == 0 {
        return Ok(None);
    }
    Ok(Some(Selection {
        source,
        sources,
        healed_sinks,
        resolved_split_brain: resolved,
        blame_first,
    }))
}

/// Entry heal's choice (`__afr_selfheal_entry_finalize_source`): `Some(source)` heals the sinks
/// from it; `None` is a conservative merge (every locked brick is a sink, nothing is deleted).
/// Returns (source, sources, healed_sinks).
pub fn entry_selection(
    dir: &Direction,
    locked_on: &[bool],
    local: &[bool],
) -> (Option<usize>, Vec<bool>, Vec<bool>) {
    let sources = dir.sources.clone();
    let healed = and(&dir.sinks, locked_on);
    let witness = dir.witness.iter().any(|&w| w != 0);
    if healed == locked_on || count(&sources) == 0 || witness {
        let none = vec![false; sources.len()];
        let sinks = active_sinks(&none, locked_on);
        return (None, none, sinks);
    }
    let source = choose_source(&sources, local, HealType::Entry, None);
    if source.is_some() && count(&healed) == 0 {
        let none = vec![false; sources.len()];
        let sinks = locked_on.to_vec();
        return (None, none, sinks);
    }
    (source, sources, healed)
}

/// `afr_gfid_split_brain_source`: which copy's GFID wins when the same name carries different
/// GFIDs (of the same type) on the bricks. Needs every brick (`all_locked`).
pub fn gfid_split_brain_source(
    stats: &[Option<Iatt>],
    all_locked: bool,
    choice: Option<SplitBrainChoice>,
    favorite: FavoriteChild,
) -> Result<usize, SplitBrainRefusal> {
    if !all_locked {
        return Err(SplitBrainRefusal::NotAllUp);
    }
    let picked = match choice {
        Some(SplitBrainChoice::BiggerFile) => {
            let mut src = None;
            let mut size = 0u64;
            for (i, ia) in stats.iter().enumerate() {
                let Some(ia) = ia else { continue };
                if size < ia.size {
                    src = Some(i);
                    size = ia.size;
                } else if ia.size == size {
                    src = None;
                }
            }
            return src.ok_or(SplitBrainRefusal::NoBiggerFile);
        }
        Some(SplitBrainChoice::LatestMtime) => {
            let mut src = None;
            let mut t = (0i64, 0u32);
            for (i, ia) in stats.iter().enumerate() {
                let Some(ia) = ia else { continue };
                let v = (ia.mtime, ia.mtime_nsec);
                if t < v {
                    src = Some(i);
                    t = v;
                } else if t == v {
                    src = None;
                }
            }
            return src.ok_or(SplitBrainRefusal::NoDiffInMtime);
        }
        Some(SplitBrainChoice::SourceBrick(k)) => {
            return match stats.get(k) {
                Some(Some(_)) => Ok(k),
                _ => Err(SplitBrainRefusal::BrickNotUp),
            };
        }
        None => match favorite {
            FavoriteChild::None => None,
            FavoriteChild::Size => fav_by_size(stats),
            FavoriteChild::Mtime => fav_by_time(stats, |ia| (ia.mtime, ia.mtime_nsec)),
            FavoriteChild::Ctime => fav_by_time(stats, |ia| (ia.ctime, ia.ctime_nsec)),
            FavoriteChild::Majority if stats.len() != 2 => {
                let n = stats.len();
                (0..n).find(|&i| {
                    stats[i].as_ref().is_some_and(|a| {
                        stats.iter().flatten().filter(|b| b.gfid == a.gfid).count() > n / 2
                    })
                })
            }
            FavoriteChild::Majority => None,
        },
    };
    // Automatic resolution is never applied to directories (their layout belongs to DHT).
    match picked {
        Some(s)
            if !stats
                .get(s)
                .and_then(Option::as_ref)
                .is_some_and(Iatt::is_dir) =>
        {
            Ok(s)
        }
        _ => Err(SplitBrainRefusal::Unresolved),
    }
}

/// Whether the named entry's copies disagree on type or GFID in a way the merge cannot fix
/// (`afr_selfheal_detect_gfid_and_type_mismatch`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mismatch {
    None,
    Gfid { a: usize, b: usize },
    Type { a: usize, b: usize },
}

pub fn detect_mismatch(stats: &[Option<Iatt>], start: usize) -> Mismatch {
    let mut src = start;
    let mut cur: Option<(Gfid, IaType)> = stats
        .get(start)
        .and_then(Option::as_ref)
        .filter(|ia| !ia.gfid.is_null())
        .map(|ia| (ia.gfid, ia.ia_type()));
    for (i, ia) in stats.iter().enumerate() {
        if i == start {
            continue;
        }
        let Some(ia) = ia else { continue };
        if ia.gfid.is_null() {
            continue;
        }
        match cur {
            None => {
                src = i;
                cur = Some((ia.gfid, ia.ia_type()));
            }
            Some((g, t)) => {
                if g != ia.gfid && t == ia.ia_type() {
                    return Mismatch::Gfid { a: src, b: i };
                }
                if t != ia.ia_type() {
                    return Mismatch::Type { a: src, b: i };
                }
            }
        }
    }
    Mismatch::None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(size: u64, mtime: i64, ctime: i64) -> Option<Iatt> {
        Some(Iatt {
            size,
            mtime,
            ctime,
            mode: 0o100644,
            gfid: Gfid([7; 16]),
            ..Iatt::default()
        })
    }

    fn dir(sources: &[bool], sinks: &[bool]) -> Direction {
        Direction {
            sources: sources.to_vec(),
            sinks: sinks.to_vec(),
            witness: vec![0; sources.len()],
            pending: true,
            split_brain: !sources.iter().any(|&s| s),
            // Without a source, every copy blames every other one.
            blames: (0..sources.len())
                .map(|i| {
                    (0..sources.len())
                        .map(|j| i != j && !sources.iter().any(|&s| s))
                        .collect()
                })
                .collect(),
        }
    }

    #[test]
    fn plain_data_heal() {
        let d = dir(&[false, true, true], &[true, false, false]);
        let stats = [file(0, 1, 1), file(10, 2, 2), file(10, 2, 2)];
        let s = data_selection(&d, &[true; 3], &stats, None, FavoriteChild::None, &[], None)
            .expect("ok")
            .expect("heal");
        assert_eq!(s.source, 1);
        assert_eq!(s.healed_sinks, vec![true, false, false]);
        assert!(!s.resolved_split_brain);
    }

    #[test]
    fn data_split_brain_needs_a_choice() {
        let d = dir(&[false, false], &[true, true]);
        let stats = [file(5, 10, 1), file(7, 5, 1)];
        let err = data_selection(&d, &[true; 2], &stats, None, FavoriteChild::None, &[], None);
        assert_eq!(err, Err(SplitBrainRefusal::Unresolved));
        let big = data_selection(
            &d,
            &[true; 2],
            &stats,
            Some(SplitBrainChoice::BiggerFile),
            FavoriteChild::None,
            &[],
            None,
        )
        .expect("ok")
        .expect("heal");
        assert_eq!(big.source, 1);
        assert!(big.resolved_split_brain);
        let late = data_selection(
            &d,
            &[true; 2],
            &stats,
            Some(SplitBrainChoice::LatestMtime),
            FavoriteChild::None,
            &[],
            None,
        )
        .expect("ok")
        .expect("heal");
        assert_eq!(late.source, 0);
        assert_eq!(late.healed_sinks, vec![false, true]);
        let brick = data_selection(
            &d,
            &[true; 2],
            &stats,
            Some(SplitBrainChoice::SourceBrick(1)),
            FavoriteChild::None,
            &[],
            None,
        )
        .expect("ok")
        .expect("heal");
        assert_eq!(brick.source, 1);
        // Same sizes: no bigger file.
        let same = [file(7, 1, 1), file(7, 2, 1)];
        assert_eq!(
            data_selection(
                &d,
                &[true; 2],
                &same,
                Some(SplitBrainChoice::BiggerFile),
                FavoriteChild::None,
                &[],
                None
            ),
            Err(SplitBrainRefusal::NoBiggerFile)
        );
        // Favorite child by mtime resolves automatically.
        let fav = data_selection(
            &d,
            &[true; 2],
            &stats,
            None,
            FavoriteChild::Mtime,
            &[],
            None,
        )
        .expect("ok")
        .expect("heal");
        assert_eq!(fav.source, 0);
    }

    #[test]
    fn agreeing_copies_tie_as_one() {
        // Brick 0 blames 1 and 2, they blame 0 but not each other; 1 and 2 hold the same newer
        // version (same size and mtime).
        let mut d = dir(&[false, false, false], &[true, true, true]);
        d.blames = vec![
            vec![false, true, true],
            vec![true, false, false],
            vec![true, false, false],
        ];
        let stats = [file(5, 10, 1), file(7, 20, 1), file(7, 20, 1)];
        let s = data_selection(
            &d,
            &[true; 3],
            &stats,
            Some(SplitBrainChoice::LatestMtime),
            FavoriteChild::None,
            &[],
            None,
        )
        .expect("ok")
        .expect("heal");
        assert_eq!(s.source, 1);
        assert_eq!(s.healed_sinks, vec![true, false, false]);
        // If they blamed each other, the tie is refused as GlusterFS does.
        d.blames[1][2] = true;
        assert_eq!(
            data_selection(
                &d,
                &[true; 3],
                &stats,
                Some(SplitBrainChoice::LatestMtime),
                FavoriteChild::None,
                &[],
                None
            ),
            Err(SplitBrainRefusal::NoDiffInMtime)
        );
    }

    #[test]
    fn choice_on_healthy_file_is_refused() {
        let d = dir(&[false, true], &[true, false]);
        let stats = [file(5, 10, 1), file(7, 5, 1)];
        assert_eq!(
            data_selection(
                &d,
                &[true; 2],
                &stats,
                Some(SplitBrainChoice::BiggerFile),
                FavoriteChild::None,
                &[],
                None
            ),
            Err(SplitBrainRefusal::NotInSplitBrain)
        );
    }

    #[test]
    fn empty_split_brain_heals_itself() {
        let d = dir(&[false, false], &[true, true]);
        let stats = [file(0, 10, 1), file(0, 5, 1)];
        let s = data_selection(&d, &[true; 2], &stats, None, FavoriteChild::None, &[], None)
            .expect("ok")
            .expect("heal");
        assert_eq!(s.source, 0);
    }

    #[test]
    fn metadata_mismatch_without_markers() {
        let d = dir(&[true, true], &[false, false]);
        let mut a = file(1, 1, 1);
        if let Some(x) = a.as_mut() {
            x.mode = 0o100600;
        }
        let stats = [a, file(1, 1, 1)];
        let eq = |_: usize, _: usize| true;
        let s = metadata_selection(&d, &[true; 2], &stats, &eq, None, FavoriteChild::None, &[])
            .expect("ok")
            .expect("heal");
        assert_eq!(s.source, 0);
        assert!(s.blame_first);
        assert_eq!(s.healed_sinks, vec![false, true]);
    }

    #[test]
    fn metadata_refuses_bigger_file() {
        let d = dir(&[false, false], &[true, true]);
        let mut a = file(1, 1, 1);
        if let Some(x) = a.as_mut() {
            x.uid = 5;
        }
        let stats = [a, file(1, 1, 1)];
        let eq = |_: usize, _: usize| true;
        assert_eq!(
            metadata_selection(
                &d,
                &[true; 2],
                &stats,
                &eq,
                Some(SplitBrainChoice::BiggerFile),
                FavoriteChild::None,
                &[]
            ),
            Err(SplitBrainRefusal::UseSourceBrick)
        );
    }

    #[test]
    fn dirtime_only_split_brain() {
        let mk = |m: i64| {
            Some(Iatt {
                mode: 0o40755,
                mtime: m,
                gfid: Gfid([1; 16]),
                ..Iatt::default()
            })
        };
        let stats = [mk(5), mk(9)];
        let eq = |_: usize, _: usize| true;
        assert_eq!(dirtime_source(&[true, true], &stats, &eq), Some(1));
        let ne = |_: usize, _: usize| false;
        assert_eq!(dirtime_source(&[true, true], &stats, &ne), None);
    }

    #[test]
    fn entry_merge_when_no_clear_source() {
        let d = dir(&[false, false], &[true, true]);
        let (src, _, sinks) = entry_selection(&d, &[true, true], &[]);
        assert_eq!(src, None);
        assert_eq!(sinks, vec![true, true]);
        let d = dir(&[false, true, true], &[true, false, false]);
        let (src, _, sinks) = entry_selection(&d, &[true; 3], &[]);
        assert_eq!(src, Some(1));
        assert_eq!(sinks, vec![true, false, false]);
    }

    #[test]
    fn gfid_mismatch_policies() {
        let mut a = file(3, 1, 1);
        let mut b = file(9, 2, 1);
        if let (Some(x), Some(y)) = (a.as_mut(), b.as_mut()) {
            x.gfid = Gfid([1; 16]);
            y.gfid = Gfid([2; 16]);
        }
        let stats = [a, b];
        assert_eq!(detect_mismatch(&stats, 0), Mismatch::Gfid { a: 0, b: 1 });
        assert_eq!(
            gfid_split_brain_source(&stats, true, None, FavoriteChild::None),
            Err(SplitBrainRefusal::Unresolved)
        );
        assert_eq!(
            gfid_split_brain_source(
                &stats,
                true,
                Some(SplitBrainChoice::BiggerFile),
                FavoriteChild::None
            ),
            Ok(1)
        );
        assert_eq!(
            gfid_split_brain_source(
                &stats,
                false,
                Some(SplitBrainChoice::BiggerFile),
                FavoriteChild::None
            ),
            Err(SplitBrainRefusal::NotAllUp)
        );
    }
}
