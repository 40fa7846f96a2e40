//! AFR's changelog markers and the decisions self-heal takes from them. Pure: no I/O.
//!
//! Every inode on a replica brick may carry, for each brick `j` of its replica set, the xattr
//! `trusted.afr.<VOL>-client-<j>` ("operations brick `j` missed, as seen by this brick") and
//! `trusted.afr.dirty` (operations in flight here). A value is 12 bytes: three big-endian signed
//! 32-bit counters for data, metadata and entry transactions (xlators/cluster/afr/src/afr.h,
//! `AFR_NUM_CHANGE_LOGS`, `afr_index_for_transaction_type`). Bricks add to them atomically with
//! xattrop `GF_XATTROP_ADD_ARRAY`.
//!
//! [`Changelog::find_direction`] is `afr_selfheal_find_direction`
//! (xlators/cluster/afr/src/afr-self-heal-common.c); [`undo_pending`] is
//! `afr_selfheal_undo_pending` + `afr_selfheal_output_xattr`; [`new_entry_marks`] is
//! `afr_mark_pending_changelog` (afr-common.c).

use bytes::Bytes;
use proto::Dict;
use serde::Serialize;

/// Length of one changelog value: 3 × 4 bytes.
pub const CHANGELOG_LEN: usize = 12;
/// `AFR_XATTR_PREFIX` (libglusterfs/src/glusterfs/glusterfs.h).
pub const AFR_XATTR_PREFIX: &str = "trusted.afr";
/// `AFR_DIRTY_DEFAULT` (afr.h).
pub const AFR_DIRTY: &str = "trusted.afr.dirty";

/// The three kinds of heal / transaction, in changelog index order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum HealType {
    Data,
    Metadata,
    Entry,
}

impl HealType {
    pub const ALL: [HealType; 3] = [HealType::Data, HealType::Metadata, HealType::Entry];

    /// `afr_index_for_transaction_type`: data 0, metadata 1, entry 2.
    pub const fn index(self) -> usize {
        match self {
            HealType::Data => 0,
            HealType::Metadata => 1,
            HealType::Entry => 2,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            HealType::Data => "data",
            HealType::Metadata => "metadata",
            HealType::Entry => "entry",
        }
    }
}

impl std::fmt::Display for HealType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One changelog value: the data, metadata and entry counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Counters(pub [i32; 3]);

impl Counters {
    pub const ZERO: Counters = Counters([0; 3]);

    /// `delta` at `ty`'s slot, zero elsewhere.
    pub fn one(ty: HealType, delta: i32) -> Self {
        let mut c = Self::ZERO;
        c.0[ty.index()] = delta;
        c
    }

    pub fn get(&self, ty: HealType) -> i32 {
        self.0[ty.index()]
    }

    pub fn set(&mut self, ty: HealType, v: i32) {
        self.0[ty.index()] = v;
    }

    pub fn is_zero(&self) -> bool {
        self.0 == [0; 3]
    }

    /// The 12-byte big-endian encoding (afr-transaction.c `afr_set_pending_dict`: `htobe32`).
    pub fn encode(&self) -> [u8; CHANGELOG_LEN] {
        let mut out = [0u8; CHANGELOG_LEN];
        for (chunk, v) in out.chunks_exact_mut(4).zip(self.0) {
            chunk.copy_from_slice(&v.to_be_bytes());
        }
        out
    }

    /// Decode a stored value: GlusterFS reads the first 12 bytes of whatever is there
    /// (`be32toh(*((int *)pending_raw + idx))`); anything shorter cannot come from AFR.
    pub fn decode(b: &[u8]) -> Option<Self> {
        let b = b.get(..CHANGELOG_LEN)?;
        let mut c = [0i32; 3];
        for (v, chunk) in c.iter_mut().zip(b.chunks_exact(4)) {
            let w: [u8; 4] = chunk.try_into().ok()?;
            *v = i32::from_be_bytes(w);
        }
        Some(Counters(c))
    }

    /// What a brick computes for `GF_XATTROP_ADD_ARRAY` (storage/posix `__add_array`).
    pub fn add(&self, o: &Counters) -> Counters {
        Counters([
            self.0[0].wrapping_add(o.0[0]),
            self.0[1].wrapping_add(o.0[1]),
            self.0[2].wrapping_add(o.0[2]),
        ])
    }
}

/// The markers one brick holds on one inode.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Markers {
    pub dirty: Counters,
    /// `pending[j]`: operations brick `j` missed according to this brick.
    pub pending: Vec<Counters>,
}

impl Markers {
    pub fn zero(n: usize) -> Self {
        Markers {
            dirty: Counters::ZERO,
            pending: vec![Counters::ZERO; n],
        }
    }

    /// Markers from a lookup reply's xdata or an xattrop reply: absent or short values count as
    /// zero, as `afr_selfheal_fill_cell` / `afr_selfheal_fill_dirty` treat them.
    pub fn from_dict(d: &Dict, pending_keys: &[String]) -> Self {
        let get = |k: &str| {
            d.get(k)
                .and_then(|v| v.as_bytes())
                .and_then(|b| Counters::decode(b))
                .unwrap_or_default()
        };
        Markers {
            dirty: get(AFR_DIRTY),
            pending: pending_keys.iter().map(|k| get(k)).collect(),
        }
    }

    /// Anything non-zero for `ty` (dirty or any pending cell)?
    pub fn any(&self, ty: HealType) -> bool {
        self.dirty.get(ty) != 0 || self.pending.iter().any(|c| c.get(ty) != 0)
    }
}

/// The lookup xdata keys that make a brick return the markers (afr-common.c
/// `afr_xattr_req_prepare`: each key set to the length wanted).
pub fn request_markers(d: &mut Dict, pending_keys: &[String]) {
    for k in pending_keys {
        d.set_u64(k.as_str(), CHANGELOG_LEN as u64);
    }
    d.set_u64(AFR_DIRTY, CHANGELOG_LEN as u64);
}

/// An xattrop ADD_ARRAY payload for one brick: the delta for dirty and for every pending key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delta {
    pub dirty: Counters,
    pub pending: Vec<Counters>,
}

impl Delta {
    pub fn zero(n: usize) -> Self {
        Delta {
            dirty: Counters::ZERO,
            pending: vec![Counters::ZERO; n],
        }
    }

    pub fn is_zero(&self) -> bool {
        self.dirty.is_zero() && self.pending.iter().all(Counters::is_zero)
    }

    /// The xattrop dict. Every key is present, zeros included, as AFR sends it: the index
    /// translator then sees the resulting value of every marker and drops the inode from its
    /// indices when all of them are zero (xlators/features/index/src/index.c
    /// `_check_key_is_zero_filled`).
    pub fn to_dict(&self, pending_keys: &[String]) -> Dict {
        let mut d = Dict::new();
        d.set_bin(AFR_DIRTY, Bytes::copy_from_slice(&self.dirty.encode()));
        for (k, c) in pending_keys.iter().zip(&self.pending) {
            d.set_bin(k.as_str(), Bytes::copy_from_slice(&c.encode()));
        }
        d
    }
}

/// The markers of a replica set: row `i` is what brick `i` reported, `None` if it did not answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Changelog {
    pub rows: Vec<Option<Markers>>,
}

/// Sources and sinks of one heal type (the output of `afr_selfheal_find_direction`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Direction {
    pub sources: Vec<bool>,
    pub sinks: Vec<bool>,
    /// Tie-breaking weights: operations witnessed by self-accusing and dirty bricks.
    pub witness: Vec<u64>,
    /// Some brick blames another (`PFLAG_PENDING`).
    pub pending: bool,
    /// No source at all (`PFLAG_SBRAIN`): every locked brick is a sink.
    pub split_brain: bool,
    /// `blames[i][j]`: brick `i` holds a non-zero pending counter against brick `j`.
    pub blames: Vec<Vec<bool>>,
}

/// Not every brick answered: AFR refuses to decide (`-ENOTCONN`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Incomplete;

impl Changelog {
    pub fn new(rows: Vec<Option<Markers>>) -> Self {
        Changelog { rows }
    }

    pub fn n(&self) -> usize {
        self.rows.len()
    }

    pub fn cell(&self, i: usize, j: usize, ty: HealType) -> i32 {
        self.rows
            .get(i)
            .and_then(Option::as_ref)
            .and_then(|r| r.pending.get(j))
            .map_or(0, |c| c.get(ty))
    }

    pub fn dirty(&self, i: usize, ty: HealType) -> i32 {
        self.rows
            .get(i)
            .and_then(Option::as_ref)
            .map_or(0, |r| r.dirty.get(ty))
    }

    /// `PFLAG_PENDING`: some answering brick holds a non-zero pending cell for `ty`.
    pub fn any_pending(&self, ty: HealType) -> bool {
        let n = self.n();
        (0..n).any(|i| (0..n).any(|j| self.cell(i, j, ty) != 0))
    }

    /// Some brick holds any marker for `ty` (pending or dirty): a heal of that type is indicated
    /// (`afr_is_pending_set`).
    pub fn indicates(&self, ty: HealType) -> bool {
        self.rows.iter().flatten().any(|m| m.any(ty))
    }

    /// `afr_selfheal_find_direction` over the bricks in `locked_on` (locked and inspected).
    #[allow(clippy::needless_range_loop)]
    /// `quorum_count` is the client quorum (for `afr_selfheal_post_op_failure_accounting`).
    pub fn find_direction(
        &self,
        ty: HealType,
        locked_on: &[bool],
        quorum_count: usize,
    ) -> Result<Direction, Incomplete> {
        let n = self.n();
        let pending_flag = self.any_pending(ty);
        if locked_on.len() != n || self.rows.iter().any(Option::is_none) {
            return Err(Incomplete);
        }
        let m = |i: usize, j: usize| self.cell(i, j, ty);
        let self_accused: Vec<bool> = (0..n).map(|i| m(i, i) != 0).collect();
        let mut accused = vec![0usize; n];
        let mut pending = vec![0usize; n];
        for i in 0..n {
            for j in 0..n {
                if m(i, j) != 0 {
                    if !self_accused[i] {
                        accused[j] += 1;
                    }
                    if i != j {
                        pending[i] += 1;
                    }
                }
            }
        }
        let mut sources: Vec<bool> = (0..n).map(|i| accused[i] == 0 && locked_on[i]).collect();
        let mut sinks = vec![false; n];
        for i in 0..n {
            if !sources[i] || self_accused[i] {
                continue;
            }
            for (j, s) in sinks.iter_mut().enumerate() {
                if m(i, j) != 0 {
                    *s = true;
                }
            }
        }
        // The C code adds signed counters into uint64_t witnesses.
        let w = |v: i32| v as i64 as u64;
        let mut witness = vec![0u64; n];
        for i in 0..n {
            if !self_accused[i] {
                continue;
            }
            for j in 0..n {
                if i != j {
                    witness[i] = witness[i].wrapping_add(w(m(i, j)));
                }
            }
        }
        if matches!(ty, HealType::Data | HealType::Metadata) && !sources.iter().any(|&s| s) {
            for i in 0..n {
                if accused[i] < quorum_count && locked_on[i] {
                    sources[i] = true;
                }
            }
        }
        let split_brain = !sources.iter().any(|&s| s);
        if split_brain {
            for i in 0..n {
                if locked_on[i] {
                    sinks[i] = true;
                }
            }
        }
        let none_pending = pending.iter().all(|&p| p == 0);
        for i in 0..n {
            if self_accused[i] && (none_pending || pending[i] > 0) {
                witness[i] = witness[i].wrapping_add(w(m(i, i)));
            }
        }
        for (i, wi) in witness.iter_mut().enumerate() {
            *wi = wi.wrapping_add(w(self.dirty(i, ty)));
        }
        let blames = (0..n)
            .map(|i| (0..n).map(|j| m(i, j) != 0).collect())
            .collect();
        Ok(Direction {
            sources,
            sinks,
            witness,
            pending: pending_flag,
            split_brain,
            blames,
        })
    }
}

/// The post-op of a heal (`afr_selfheal_undo_pending`): for each locked brick not already reset,
/// the delta that removes exactly the markers read under the lock (so increments that clients
/// made meanwhile survive) and blames, with +1, every sink that could not be healed. With
/// `full_crawl` on an entry heal, the directory's full-heal indicator (its data counter) is
/// cleared the same way.
#[allow(clippy::too_many_arguments)]
pub fn undo_pending(
    log: &Changelog,
    ty: HealType,
    sinks: &[bool],
    healed_sinks: &[bool],
    locked_on: &[bool],
    undid_pending: &[bool],
    full_crawl: bool,
) -> Vec<Option<Delta>> {
    let n = log.n();
    let flag = |v: &[bool], i: usize| v.get(i).copied().unwrap_or(false);
    let failed: Vec<bool> = (0..n)
        .map(|i| flag(sinks, i) && !flag(healed_sinks, i))
        .collect();
    let full = full_crawl && ty == HealType::Entry;
    (0..n)
        .map(|i| {
            if !flag(locked_on, i) || flag(undid_pending, i) {
                return None;
            }
            let mut d = Delta::zero(n);
            if !failed[i] {
                d.dirty.set(ty, log.dirty(i, ty).wrapping_neg());
            }
            for (j, p) in d.pending.iter_mut().enumerate() {
                if failed[j] {
                    p.set(ty, 1);
                    if full {
                        p.set(HealType::Data, 1);
                    }
                } else if flag(locked_on, j) {
                    p.set(ty, log.cell(i, j, ty).wrapping_neg());
                    if full {
                        p.set(
                            HealType::Data,
                            log.cell(i, j, HealType::Data).wrapping_neg(),
                        );
                    }
                }
            }
            Some(d)
        })
        .collect()
}

/// `_afr_fav_child_reset_sink_xattrs`: when a split-brain is resolved, first clear what each
/// healed sink holds against the chosen sources (and its dirty), so the sources are clean and an
/// interrupted heal resumes from them. The caller reads the markers again afterwards, so the
/// final undo clears the rest exactly.
pub fn reset_sink_blame(
    log: &Changelog,
    ty: HealType,
    sources: &[bool],
    healed_sinks: &[bool],
    locked_on: &[bool],
) -> Vec<Option<Delta>> {
    let n = log.n();
    let flag = |v: &[bool], i: usize| v.get(i).copied().unwrap_or(false);
    (0..n)
        .map(|i| {
            if !flag(healed_sinks, i) || !flag(locked_on, i) || flag(sources, i) {
                return None;
            }
            let mut d = Delta::zero(n);
            d.dirty.set(ty, log.dirty(i, ty).wrapping_neg());
            for (j, p) in d.pending.iter_mut().enumerate() {
                if flag(sources, j) {
                    p.set(ty, log.cell(i, j, ty).wrapping_neg());
                }
            }
            Some(d)
        })
        .collect()
}

/// What kind of inode a new-entry mark is for (`afr_index_from_ia_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InodeKind {
    Regular,
    Directory,
    Other,
}

/// `afr_mark_pending_changelog`: the marks a source gets when an entry is (re)created on the
/// bricks in `missing`, so the new copy is healed next: metadata, plus data for files or entry
/// for directories, plus a directory's full-heal indicator (data) with granular entry heal.
pub fn new_entry_marks(missing: &[bool], kind: InodeKind, granular: bool) -> Delta {
    let mut d = Delta::zero(missing.len());
    for (p, &m) in d.pending.iter_mut().zip(missing) {
        if !m {
            continue;
        }
        p.set(HealType::Metadata, 1);
        match kind {
            InodeKind::Regular => p.set(HealType::Data, 1),
            InodeKind::Directory => {
                p.set(HealType::Entry, 1);
                if granular {
                    p.set(HealType::Data, 1);
                }
            }
            InodeKind::Other => {}
        }
    }
    d
}

/// `__afr_selfheal_metadata_mark_pending_xattrs`: when every brick claims to be a source yet the
/// metadata differs, the chosen sources blame the others (+1 metadata) before healing.
pub fn blame_non_sources(sources: &[bool], ty: HealType) -> Delta {
    let mut d = Delta::zero(sources.len());
    for (p, &s) in d.pending.iter_mut().zip(sources) {
        if !s {
            p.set(ty, 1);
        }
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(dirty: [i32; 3], pending: &[[i32; 3]]) -> Option<Markers> {
        Some(Markers {
            dirty: Counters(dirty),
            pending: pending.iter().map(|p| Counters(*p)).collect(),
        })
    }

    const Z: [i32; 3] = [0, 0, 0];

    #[test]
    fn counters_roundtrip() {
        let c = Counters([1, -2, 0x7fff_ffff]);
        assert_eq!(Counters::decode(&c.encode()), Some(c));
        assert_eq!(
            c.encode()[..4],
            [0, 0, 0, 1],
            "big-endian, data counter first"
        );
        assert_eq!(Counters::decode(&[0; 11]), None);
        // Longer values: only the first 12 bytes count.
        let mut long = c.encode().to_vec();
        long.extend_from_slice(&[9, 9, 9, 9]);
        assert_eq!(Counters::decode(&long), Some(c));
    }

    #[test]
    fn one_brick_down_data() {
        // Bricks 1 and 2 blame brick 0 for data.
        let log = Changelog::new(vec![
            row(Z, &[Z, Z, Z]),
            row(Z, &[[3, 0, 0], Z, Z]),
            row(Z, &[[3, 0, 0], Z, Z]),
        ]);
        let d = log
            .find_direction(HealType::Data, &[true; 3], 2)
            .expect("complete");
        assert_eq!(d.sources, vec![false, true, true]);
        assert_eq!(d.sinks, vec![true, false, false]);
        assert!(!d.split_brain);
        assert!(d.pending);
        // Metadata: nothing to do, all are sources.
        let m = log
            .find_direction(HealType::Metadata, &[true; 3], 2)
            .expect("complete");
        assert_eq!(m.sources, vec![true; 3]);
        assert_eq!(m.sinks, vec![false; 3]);
    }

    #[test]
    fn split_brain_two_bricks() {
        let log = Changelog::new(vec![row(Z, &[Z, [1, 0, 0]]), row(Z, &[[2, 0, 0], Z])]);
        let d = log
            .find_direction(HealType::Data, &[true, true], 1)
            .expect("complete");
        // Each is accused by one brick; quorum 1: accused(1) < 1 is false -> no sources.
        assert!(d.split_brain);
        assert_eq!(d.sinks, vec![true, true]);
    }

    #[test]
    fn mutual_blame_with_a_clean_third() {
        // replica 3, quorum 2: brick 0 blames 1 and brick 1 blames 0; brick 2 is unaccused and
        // the only source, so the failure accounting does not apply.
        let log = Changelog::new(vec![
            row(Z, &[Z, [1, 0, 0], Z]),
            row(Z, &[[1, 0, 0], Z, Z]),
            row(Z, &[Z, Z, Z]),
        ]);
        let d = log
            .find_direction(HealType::Data, &[true; 3], 2)
            .expect("complete");
        assert_eq!(d.sources, vec![false, false, true]);
        // A source that is not self-accused marks the bricks it blames as sinks; brick 2 blames
        // nobody, so no sinks from it.
        assert_eq!(d.sinks, vec![false; 3]);
    }

    #[test]
    fn failure_accounting_without_sources() {
        // Everybody accused once (a ring), quorum 2: every brick accused by fewer than 2 becomes
        // a source again (afr_selfheal_post_op_failure_accounting).
        let log = Changelog::new(vec![
            row(Z, &[Z, [1, 0, 0], Z]),
            row(Z, &[Z, Z, [1, 0, 0]]),
            row(Z, &[[1, 0, 0], Z, Z]),
        ]);
        let d = log
            .find_direction(HealType::Data, &[true; 3], 2)
            .expect("complete");
        assert_eq!(d.sources, vec![true; 3]);
        assert!(!d.split_brain);
        // Not for entry heal.
        let log_e = Changelog::new(vec![
            row(Z, &[Z, [0, 0, 1], Z]),
            row(Z, &[Z, Z, [0, 0, 1]]),
            row(Z, &[[0, 0, 1], Z, Z]),
        ]);
        let e = log_e
            .find_direction(HealType::Entry, &[true; 3], 2)
            .expect("complete");
        assert!(e.split_brain);
    }

    #[test]
    fn missing_row_is_incomplete() {
        let log = Changelog::new(vec![row(Z, &[Z, Z]), None]);
        assert_eq!(
            log.find_direction(HealType::Data, &[true, false], 1),
            Err(Incomplete)
        );
    }

    #[test]
    fn dirty_is_witness() {
        let log = Changelog::new(vec![row([1, 0, 0], &[Z, Z]), row(Z, &[Z, Z])]);
        let d = log
            .find_direction(HealType::Data, &[true, true], 1)
            .expect("complete");
        assert_eq!(d.sources, vec![true, true]);
        assert_eq!(d.witness, vec![1, 0]);
        assert!(!d.pending);
    }

    #[test]
    fn undo_clears_exactly_what_was_read() {
        let log = Changelog::new(vec![
            row(Z, &[Z, Z, Z]),
            row([0, 1, 0], &[[0, 2, 0], Z, Z]),
            row(Z, &[[0, 2, 0], Z, Z]),
        ]);
        let sinks = [true, false, false];
        let out = undo_pending(
            &log,
            HealType::Metadata,
            &sinks,
            &sinks,
            &[true; 3],
            &[false; 3],
            false,
        );
        let b1 = out[1].as_ref().expect("locked");
        assert_eq!(b1.dirty, Counters([0, -1, 0]));
        assert_eq!(b1.pending[0], Counters([0, -2, 0]));
        assert_eq!(out[0].as_ref().map(Delta::is_zero), Some(true));
    }

    #[test]
    fn undo_blames_failed_sinks() {
        let log = Changelog::new(vec![row(Z, &[Z, Z]), row(Z, &[[5, 0, 0], Z])]);
        let out = undo_pending(
            &log,
            HealType::Data,
            &[true, false],
            &[false, false],
            &[true, true],
            &[false, false],
            false,
        );
        // Brick 0 was not healed: everyone adds +1 against it, and its dirty is left alone.
        let b1 = out[1].as_ref().expect("locked");
        assert_eq!(b1.pending[0], Counters([1, 0, 0]));
        let b0 = out[0].as_ref().expect("locked");
        assert_eq!(b0.pending[0], Counters([1, 0, 0]));
    }

    #[test]
    fn undo_full_crawl_clears_indicator() {
        let log = Changelog::new(vec![row(Z, &[Z, Z]), row(Z, &[[1, 0, 1], Z])]);
        let out = undo_pending(
            &log,
            HealType::Entry,
            &[true, false],
            &[true, false],
            &[true, true],
            &[false, false],
            true,
        );
        assert_eq!(
            out[1].as_ref().map(|d| d.pending[0]),
            Some(Counters([-1, 0, -1]))
        );
    }

    #[test]
    fn new_entry() {
        let d = new_entry_marks(&[false, true], InodeKind::Directory, true);
        assert_eq!(d.pending[1], Counters([1, 1, 1]));
        assert_eq!(d.pending[0], Counters::ZERO);
        let d = new_entry_marks(&[true], InodeKind::Regular, true);
        assert_eq!(d.pending[0], Counters([1, 1, 0]));
        let d = new_entry_marks(&[true], InodeKind::Other, true);
        assert_eq!(d.pending[0], Counters([0, 1, 0]));
    }

    #[test]
    fn dict_has_every_key() {
        let keys = vec![
            "trusted.afr.v-client-0".to_string(),
            "trusted.afr.v-client-1".to_string(),
        ];
        let d = Delta::zero(2).to_dict(&keys);
        assert_eq!(d.len(), 3);
        let m = Markers::from_dict(&d, &keys);
        assert_eq!(m, Markers::zero(2));
    }
}
