//! AFR's changelog ("markers"): pure arithmetic, no I/O.
//!
//! Every file and directory on a replica brick may carry, per brick `N` of its replica set, the
//! xattr `trusted.afr.<VOL>-client-<N>` (the *pending* counters: "operations brick N missed, as
//! seen by the brick holding this xattr") and `trusted.afr.dirty` (operations in flight on this
//! brick itself). Each value is 12 bytes: three big-endian signed 32-bit counters for the data,
//! metadata and entry transactions (xlators/cluster/afr/src/afr.h: `AFR_NUM_CHANGE_LOGS`,
//! `afr_index_for_transaction_type`). Bricks add to them with xattrop `GF_XATTROP_ADD_ARRAY`.
//!
//! This module decodes those values into a pending matrix and decides, as
//! `afr_selfheal_find_direction` / `afr_mark_active_sinks` do
//! (xlators/cluster/afr/src/afr-self-heal-common.c), which bricks are sources, which are sinks and
//! whether the inode is in split-brain; and, as `afr_accused_fill` / `afr_readables_fill`
//! (afr-common.c) do, which bricks may serve reads.

use bytes::Bytes;
use proto::Dict;

/// Length of one changelog value: 3 × 4 bytes.
pub const CHANGELOG_LEN: usize = 12;

/// The dirty xattr (afr.h `AFR_DIRTY_DEFAULT`).
pub const AFR_DIRTY: &str = "trusted.afr.dirty";

/// Which counter of a changelog value a transaction uses (afr.h `afr_transaction_type` and
/// `afr_index_for_transaction_type`: data 0, metadata 1, entry 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TxnType {
    Data,
    Metadata,
    Entry,
}

impl TxnType {
    pub const fn index(self) -> usize {
        match self {
            TxnType::Data => 0,
            TxnType::Metadata => 1,
            TxnType::Entry => 2,
        }
    }
}

/// One changelog value: the three counters (data, metadata, entry).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Counters(pub [i32; 3]);

impl Counters {
    pub const ZERO: Counters = Counters([0; 3]);

    /// `delta` at the counter of `ty`, zero elsewhere.
    pub fn one(ty: TxnType, delta: i32) -> Self {
        let mut c = [0; 3];
        c[ty.index()] = delta;
        Counters(c)
    }

    /// The 12-byte big-endian encoding (afr-transaction.c `afr_set_pending_dict`, `htobe32`).
    pub fn encode(&self) -> [u8; CHANGELOG_LEN] {
        let mut out = [0u8; CHANGELOG_LEN];
        for (i, v) in self.0.iter().enumerate() {
            out[i * 4..i * 4 + 4].copy_from_slice(&v.to_be_bytes());
        }
        out
    }

    /// Decode a stored value. GlusterFS reads the first 12 bytes of whatever is stored
    /// (`be32toh(*((int *)pending_raw + idx))`); a shorter value cannot have come from AFR and
    /// yields `None`.
    pub fn decode(b: &[u8]) -> Option<Self> {
        let b = b.get(..CHANGELOG_LEN)?;
        let mut c = [0i32; 3];
        for (i, v) in c.iter_mut().enumerate() {
            let w: [u8; 4] = b.get(i * 4..i * 4 + 4)?.try_into().ok()?;
            *v = i32::from_be_bytes(w);
        }
        Some(Counters(c))
    }

    pub fn get(&self, ty: TxnType) -> i32 {
        self.0[ty.index()]
    }

    pub fn is_zero(&self) -> bool {
        self.0 == [0; 3]
    }

    /// Counter-wise wrapping sum: what a brick computes for `GF_XATTROP_ADD_ARRAY`
    /// (storage/posix `__add_array`, 32-bit big-endian lanes).
    pub fn add(&self, other: &Counters) -> Counters {
        Counters([
            self.0[0].wrapping_add(other.0[0]),
            self.0[1].wrapping_add(other.0[1]),
            self.0[2].wrapping_add(other.0[2]),
        ])
    }
}

/// The markers one brick reported: its dirty value and its pending value for each brick of the set.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BrickMarkers {
    pub dirty: Counters,
    /// `pending[j]`: operations brick `j` missed, according to this brick.
    pub pending: Vec<Counters>,
}

impl BrickMarkers {
    /// No dirty and no pending count on this brick.
    pub fn is_clean(&self) -> bool {
        self.dirty == Counters::ZERO && self.pending.iter().all(|p| *p == Counters::ZERO)
    }

    /// Extract the markers from a reply dict (lookup xdata or xattrop reply); absent keys count
    /// as zero, as `afr_selfheal_fill_cell` treats them.
    pub fn from_dict(d: &Dict, pending_keys: &[String]) -> Self {
        let get = |k: &str| {
            d.get(k)
                .and_then(|v| v.as_bytes())
                .and_then(|b| Counters::decode(b))
                .unwrap_or_default()
        };
        Self {
            dirty: get(AFR_DIRTY),
            pending: pending_keys.iter().map(|k| get(k)).collect(),
        }
    }

    /// Does this brick blame anyone (including itself) or carry dirty, for `ty`?
    pub fn any(&self, ty: TxnType) -> bool {
        self.dirty.get(ty) != 0 || self.pending.iter().any(|c| c.get(ty) != 0)
    }
}

/// The dict for an xattrop that adds `delta[j]` to the pending xattr of brick `j`, and `dirty` to
/// the dirty xattr if given. Every pending key is present (zeros included), as AFR sends them,
/// so the reply carries the resulting values of all of them.
pub fn xattrop_dict(pending_keys: &[String], delta: &[Counters], dirty: Option<Counters>) -> Dict {
    let mut d = Dict::new();
    for (j, key) in pending_keys.iter().enumerate() {
        let c = delta.get(j).copied().unwrap_or_default();
        d.set_bin(key.as_str(), Bytes::copy_from_slice(&c.encode()));
    }
    if let Some(dirty) = dirty {
        d.set_bin(AFR_DIRTY, Bytes::copy_from_slice(&dirty.encode()));
    }
    d
}

/// The lookup xdata keys that make a brick return the markers (afr-common.c
/// `afr_xattr_req_prepare`: each key set to the length wanted, 12).
pub fn add_marker_request(d: &mut Dict, pending_keys: &[String]) {
    for k in pending_keys {
        d.set_u64(k.as_str(), CHANGELOG_LEN as u64);
    }
    d.set_u64(AFR_DIRTY, CHANGELOG_LEN as u64);
}

/// The pending matrix of one transaction type: `m[i][j]` = what brick `i` says brick `j` missed.
/// Rows of bricks that did not answer are `None`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matrix {
    pub rows: Vec<Option<BrickMarkers>>,
}

/// Sources, sinks and split-brain, as afr_selfheal_find_direction reports them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Direction {
    pub sources: Vec<bool>,
    pub sinks: Vec<bool>,
    /// No source among the inspected bricks.
    pub split_brain: bool,
    /// Tie-break weights of self-accused / dirty bricks (`witness`).
    pub witness: Vec<u64>,
}

impl Matrix {
    pub fn new(rows: Vec<Option<BrickMarkers>>) -> Self {
        Self { rows }
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    fn cell(&self, i: usize, j: usize, ty: TxnType) -> i32 {
        self.rows
            .get(i)
            .and_then(|r| r.as_ref())
            .and_then(|r| r.pending.get(j))
            .map(|c| c.get(ty))
            .unwrap_or(0)
    }

    fn dirty(&self, i: usize, ty: TxnType) -> i32 {
        self.rows
            .get(i)
            .and_then(|r| r.as_ref())
            .map(|r| r.dirty.get(ty))
            .unwrap_or(0)
    }

    /// Bricks blamed for `ty` by any answering brick (afr-common.c `afr_accused_fill`: any
    /// non-zero pending cell accuses its column, whoever holds it).
    #[allow(clippy::needless_range_loop)]
    pub fn accused(&self, ty: TxnType) -> Vec<bool> {
        let n = self.len();
        let mut acc = vec![false; n];
        for i in 0..n {
            for (j, a) in acc.iter_mut().enumerate() {
                if self.cell(i, j, ty) != 0 {
                    *a = true;
                }
            }
        }
        acc
    }

    /// Whether any answering brick holds a non-zero pending counter for `ty` (a heal is needed).
    pub fn any_pending(&self, ty: TxnType) -> bool {
        (0..self.len()).any(|i| (0..self.len()).any(|j| self.cell(i, j, ty) != 0))
    }

    /// afr-self-heal-common.c `afr_selfheal_find_direction` for the bricks in `locked_on` (those
    /// inspected), with `quorum_count` for the post-op failure accounting of data and metadata.
    /// The matrix must have a row for every brick; `None` for a brick that did not answer makes
    /// the decision impossible, as in GlusterFS (`-ENOTCONN`): then `None` is returned.
    #[allow(clippy::needless_range_loop)] // matrix code reads best with indices
    pub fn find_direction(
        &self,
        ty: TxnType,
        locked_on: &[bool],
        quorum_count: usize,
    ) -> Option<Direction> {
        let n = self.len();
        if self.rows.iter().any(Option::is_none) || locked_on.len() != n {
            return None;
        }
        let self_accused: Vec<bool> = (0..n).map(|i| self.cell(i, i, ty) != 0).collect();
        let mut accused = vec![0usize; n];
        let mut pending = vec![0usize; n];
        for i in 0..n {
            for j in 0..n {
                if self.cell(i, j, ty) != 0 {
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
                if self.cell(i, j, ty) != 0 {
                    *s = true;
                }
            }
        }
        let mut witness = vec![0u64; n];
        for i in 0..n {
            if !self_accused[i] {
                continue;
            }
            for j in 0..n {
                if i != j {
                    witness[i] = witness[i].wrapping_add(self.cell(i, j, ty) as u32 as u64);
                }
            }
        }
        // afr_selfheal_post_op_failure_accounting: with no source at all, bricks accused by
        // fewer than a quorum are sources after all.
        if matches!(ty, TxnType::Data | TxnType::Metadata) && !sources.iter().any(|&s| s) {
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
        if pending.iter().all(|&p| p == 0) {
            for i in 0..n {
                if self_accused[i] {
                    witness[i] = witness[i].wrapping_add(self.cell(i, i, ty) as u32 as u64);
                }
            }
        } else {
            for i in 0..n {
                if self_accused[i] && pending[i] > 0 {
                    witness[i] = witness[i].wrapping_add(self.cell(i, i, ty) as u32 as u64);
                }
            }
        }
        for (i, w) in witness.iter_mut().enumerate() {
            *w = w.wrapping_add(self.dirty(i, ty) as u32 as u64);
        }
        Some(Direction {
            sources,
            sinks,
            split_brain,
            witness,
        })
    }
}

/// afr-self-heal-common.c `afr_mark_active_sinks`: every locked non-source is a sink.
pub fn active_sinks(sources: &[bool], locked_on: &[bool]) -> Vec<bool> {
    sources
        .iter()
        .zip(locked_on)
        .map(|(&s, &l)| !s && l)
        .collect()
}

/// Which bricks may serve reads of an inode, from the lookup replies of the bricks that answered
/// (`answered[i]`): afr-common.c `afr_readables_fill`. Data (entry for directories) and metadata
/// readability are computed separately; a brick is unreadable if any answering brick accuses it.
/// For regular files with `sizes`, a non-accused brick smaller than the largest non-accused one is
/// accused too (`afr_accuse_smallfiles`), unless a transaction may be in progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Readable {
    pub data: Vec<bool>,
    pub metadata: Vec<bool>,
}

impl Readable {
    #[allow(clippy::needless_range_loop)]
    pub fn compute(
        matrix: &Matrix,
        is_dir: bool,
        sizes: Option<&[Option<u64>]>,
        in_txn: bool,
    ) -> Readable {
        let n = matrix.len();
        let answered: Vec<bool> = matrix.rows.iter().map(Option::is_some).collect();
        let dty = if is_dir {
            TxnType::Entry
        } else {
            TxnType::Data
        };
        let mut data_acc = matrix.accused(dty);
        let meta_acc = matrix.accused(TxnType::Metadata);
        if let (Some(sizes), false, false) = (sizes, is_dir, in_txn) {
            let max = (0..n)
                .filter(|&i| answered[i] && !data_acc[i])
                .filter_map(|i| sizes.get(i).copied().flatten())
                .max();
            if let Some(max) = max {
                for i in 0..n {
                    if answered[i] && !data_acc[i] {
                        if let Some(Some(s)) = sizes.get(i) {
                            if *s < max {
                                data_acc[i] = true;
                            }
                        }
                    }
                }
            }
        }
        Readable {
            data: (0..n).map(|i| answered[i] && !data_acc[i]).collect(),
            metadata: (0..n).map(|i| answered[i] && !meta_acc[i]).collect(),
        }
    }

    /// Bricks readable for both data and metadata (`afr_readables_intersect_get`).
    pub fn both(&self) -> Vec<bool> {
        self.data
            .iter()
            .zip(&self.metadata)
            .map(|(&a, &b)| a && b)
            .collect()
    }
}

/// Who is blamed at a post-op: `+1` at `ty` for each failed brick, as afr_changelog_post_op_do sets
/// `local->pending[i][idx]` for `failed_subvols[i]`.
pub fn post_op_blame(failed: &[bool], ty: TxnType) -> Vec<Counters> {
    failed
        .iter()
        .map(|&f| {
            if f {
                Counters::one(ty, 1)
            } else {
                Counters::ZERO
            }
        })
        .collect()
}

/// The markers for a new entry created on some bricks only (afr-common.c
/// `afr_mark_pending_changelog`): metadata, plus data for files or entry for directories, plus
/// the data counter of a directory as the full-heal indicator when granular entry heal is on.
pub fn new_entry_blame(
    missing: &[bool],
    is_dir: bool,
    is_reg: bool,
    granular: bool,
) -> Vec<Counters> {
    missing
        .iter()
        .map(|&m| {
            let mut c = Counters::ZERO;
            if m {
                c.0[TxnType::Metadata.index()] = 1;
                if is_dir {
                    c.0[TxnType::Entry.index()] = 1;
                    if granular {
                        c.0[TxnType::Data.index()] = 1;
                    }
                } else if is_reg {
                    c.0[TxnType::Data.index()] = 1;
                }
            }
            c
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::needless_range_loop)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn row(pending: &[[i32; 3]], dirty: [i32; 3]) -> Option<BrickMarkers> {
        Some(BrickMarkers {
            dirty: Counters(dirty),
            pending: pending.iter().map(|c| Counters(*c)).collect(),
        })
    }

    #[test]
    fn encode_known_bytes() {
        // trusted.afr.VOL-client-2=0x000000010000000000000000 as getfattr shows a data blame.
        assert_eq!(
            Counters::one(TxnType::Data, 1).encode(),
            [0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]
        );
        assert_eq!(
            Counters::one(TxnType::Entry, -1).encode(),
            [0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]
        );
        assert_eq!(Counters::decode(&[0; 11]), None);
        assert_eq!(
            Counters::decode(&[0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 9, 9]),
            Some(Counters([2, 3, 4]))
        );
    }

    #[test]
    fn dict_roundtrip() {
        let keys: Vec<String> = (0..3)
            .map(|i| format!("trusted.afr.v-client-{i}"))
            .collect();
        let d = xattrop_dict(
            &keys,
            &post_op_blame(&[false, false, true], TxnType::Data),
            Some(Counters::one(TxnType::Data, -1)),
        );
        let m = BrickMarkers::from_dict(&d, &keys);
        assert_eq!(m.dirty, Counters([-1, 0, 0]));
        assert_eq!(m.pending[2], Counters([1, 0, 0]));
        assert!(m.pending[0].is_zero());
    }

    #[test]
    fn one_brick_blamed_by_two() {
        let m = Matrix::new(vec![
            row(&[[0; 3], [0; 3], [3, 0, 0]], [0; 3]),
            row(&[[0; 3], [0; 3], [3, 0, 0]], [0; 3]),
            row(&[[0; 3], [0; 3], [0; 3]], [0; 3]),
        ]);
        let d = m.find_direction(TxnType::Data, &[true; 3], 2).unwrap();
        assert_eq!(d.sources, vec![true, true, false]);
        assert_eq!(d.sinks, vec![false, false, true]);
        assert!(!d.split_brain);
        let r = Readable::compute(&m, false, None, false);
        assert_eq!(r.data, vec![true, true, false]);
        assert_eq!(r.metadata, vec![true; 3]);
    }

    #[test]
    fn mutual_blame_is_split_brain() {
        let m = Matrix::new(vec![
            row(&[[0; 3], [1, 0, 0]], [0; 3]),
            row(&[[1, 0, 0], [0; 3]], [0; 3]),
        ]);
        let d = m.find_direction(TxnType::Data, &[true; 2], 1).unwrap();
        assert!(d.split_brain);
        assert_eq!(d.sinks, vec![true, true]);
        let r = Readable::compute(&m, false, None, false);
        assert_eq!(r.data, vec![false, false]);
    }

    #[test]
    fn missing_row_cannot_decide() {
        let m = Matrix::new(vec![row(&[[0; 3], [0; 3]], [0; 3]), None]);
        assert_eq!(m.find_direction(TxnType::Data, &[true, true], 2), None);
        let r = Readable::compute(&m, false, None, false);
        assert_eq!(r.data, vec![true, false]);
    }

    #[test]
    fn smaller_file_is_not_readable() {
        let m = Matrix::new(vec![row(&[[0; 3]; 3], [0; 3]); 3]);
        let sizes = [Some(10), Some(4), Some(10)];
        let r = Readable::compute(&m, false, Some(&sizes), false);
        assert_eq!(r.data, vec![true, false, true]);
        let r = Readable::compute(&m, false, Some(&sizes), true);
        assert_eq!(r.data, vec![true; 3]);
    }

    #[test]
    fn new_entry_markers() {
        let b = new_entry_blame(&[false, true], true, false, true);
        assert_eq!(b[1], Counters([1, 1, 1]));
        let b = new_entry_blame(&[true, false], false, true, true);
        assert_eq!(b[0], Counters([1, 1, 0]));
        assert!(b[1].is_zero());
    }

    fn arb_matrix() -> impl Strategy<Value = (Vec<Vec<[i32; 3]>>, Vec<bool>)> {
        (2usize..5).prop_flat_map(|n| {
            (
                proptest::collection::vec(
                    proptest::collection::vec(proptest::array::uniform3(0i32..3), n),
                    n,
                ),
                proptest::collection::vec(any::<bool>(), n),
            )
        })
    }

    proptest! {
        #[test]
        fn counters_roundtrip(a in any::<[i32; 3]>()) {
            prop_assert_eq!(Counters::decode(&Counters(a).encode()), Some(Counters(a)));
        }

        #[test]
        fn add_is_lane_wise(a in any::<[i32; 3]>(), b in any::<[i32; 3]>()) {
            let s = Counters(a).add(&Counters(b));
            for i in 0..3 {
                prop_assert_eq!(s.0[i], a[i].wrapping_add(b[i]));
            }
        }

        #[test]
        fn direction_invariants((cells, locked) in arb_matrix()) {
            let n = cells.len();
            let m = Matrix::new(cells.iter().map(|r| row(r, [0; 3])).collect());
            let d = m.find_direction(TxnType::Entry, &locked, n / 2 + 1).unwrap();
            for i in 0..n {
                // sources are locked and never sinks
                prop_assert!(!d.sources[i] || locked[i]);
                prop_assert!(!(d.sources[i] && d.sinks[i]) || d.split_brain);
                // a source is accused by no non-self-accused brick (entry: no failure accounting)
                if d.sources[i] {
                    for k in 0..n {
                        if cells[k][k][2] == 0 {
                            prop_assert_eq!(cells[k][i][2], 0);
                        }
                    }
                }
            }
            prop_assert_eq!(d.split_brain, !d.sources.iter().any(|&s| s));
            // All-zero matrix: every locked brick is a source, no sinks.
            let zero = Matrix::new(vec![row(&vec![[0; 3]; n], [0; 3]); n]);
            let z = zero.find_direction(TxnType::Data, &locked, n / 2 + 1).unwrap();
            prop_assert_eq!(&z.sources, &locked);
            prop_assert!(z.sinks.iter().all(|&s| !s) || !locked.iter().any(|&l| l));
        }

        #[test]
        fn readable_never_includes_accused((cells, _l) in arb_matrix()) {
            let n = cells.len();
            let m = Matrix::new(cells.iter().map(|r| row(r, [0; 3])).collect());
            let r = Readable::compute(&m, false, None, false);
            for j in 0..n {
                let blamed = (0..n).any(|i| cells[i][j][0] != 0);
                prop_assert_eq!(r.data[j], !blamed);
            }
        }
    }
}
