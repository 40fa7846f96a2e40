//! Quorum and read-child choice: pure functions, no I/O.

use proto::Gfid;

/// Client quorum as AFR enforces it (afr.c `fix_quorum_options`, afr-transaction.c
/// `afr_has_quorum`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuorumPolicy {
    /// No enforcement (quorum-type none, or fixed with count 0).
    None,
    /// More than half of the bricks; exactly half counts when it includes the first brick.
    Auto,
    /// At least this many bricks.
    Fixed(usize),
}

impl QuorumPolicy {
    /// From quorum-type/quorum-count: `fixed` with count 0 behaves like `none` (afr.c).
    pub fn fixed(count: usize) -> Self {
        if count == 0 {
            QuorumPolicy::None
        } else {
            QuorumPolicy::Fixed(count)
        }
    }

    pub fn enabled(&self) -> bool {
        !matches!(self, QuorumPolicy::None)
    }

    /// Bricks needed (afr-self-heal-common.c `afr_get_quorum_count`); 0 when disabled.
    pub fn count(&self, child_count: usize) -> usize {
        match self {
            QuorumPolicy::None => 0,
            QuorumPolicy::Auto => child_count / 2 + 1,
            QuorumPolicy::Fixed(n) => *n,
        }
    }

    /// Whether the bricks marked in `set` make a quorum (`afr_has_quorum`).
    pub fn met(&self, set: &[bool]) -> bool {
        let n = set.len();
        let up = set.iter().filter(|&&b| b).count();
        match self {
            QuorumPolicy::None => up > 0,
            QuorumPolicy::Auto => {
                if up * 2 == n {
                    set.first().copied().unwrap_or(false)
                } else {
                    up > n / 2
                }
            }
            QuorumPolicy::Fixed(q) => up >= *q,
        }
    }
}

/// Paul Hsieh's SuperFastHash as libglusterfs/src/hashfn.c implements it (`get16bits` reads
/// little-endian); AFR's default read-hash-mode 1 uses it on the GFID.
pub fn super_fast_hash(data: &[u8]) -> u32 {
    let len = data.len();
    if len <= 1 {
        return 1;
    }
    let get16 = |d: &[u8], i: usize| -> u32 {
        u32::from(d.get(i).copied().unwrap_or(0))
            | (u32::from(d.get(i + 1).copied().unwrap_or(0)) << 8)
    };
    let mut hash: u32 = len as u32;
    let rem = len & 3;
    let mut p = 0usize;
    for _ in 0..(len >> 2) {
        hash = hash.wrapping_add(get16(data, p));
        let tmp = (get16(data, p + 2) << 11) ^ hash;
        hash = (hash << 16) ^ tmp;
        p += 4;
        hash = hash.wrapping_add(hash >> 11);
    }
    // The C code reads `const char`, which is signed on x86: sign-extend single bytes.
    let sbyte = |i: usize| data.get(i).map(|&b| b as i8 as i32 as u32).unwrap_or(0);
    match rem {
        3 => {
            hash = hash.wrapping_add(get16(data, p));
            hash ^= hash << 16;
            hash ^= sbyte(p + 2) << 18;
            hash = hash.wrapping_add(hash >> 11);
        }
        2 => {
            hash = hash.wrapping_add(get16(data, p));
            hash ^= hash << 11;
            hash = hash.wrapping_add(hash >> 17);
        }
        1 => {
            hash = hash.wrapping_add(sbyte(p));
            hash ^= hash << 10;
            hash = hash.wrapping_add(hash >> 1);
        }
        _ => {}
    }
    hash ^= hash << 3;
    hash = hash.wrapping_add(hash >> 5);
    hash ^= hash << 4;
    hash = hash.wrapping_add(hash >> 17);
    hash ^= hash << 25;
    hash = hash.wrapping_add(hash >> 6);
    hash
}

/// The read child for `gfid` among `candidates` (afr-common.c `afr_read_subvol_select_by_policy`
/// with read-hash-mode 1): `preferred` (read-subvolume, or the local brick with choose-local) if
/// it is a candidate, else the GFID hash modulo the brick count if that brick is a candidate,
/// else the first candidate. `None` if there is no candidate.
pub fn read_child(gfid: &Gfid, candidates: &[bool], preferred: Option<usize>) -> Option<usize> {
    let n = candidates.len();
    if n == 0 {
        return None;
    }
    if let Some(p) = preferred.filter(|&p| candidates.get(p).copied().unwrap_or(false)) {
        return Some(p);
    }
    let h = (super_fast_hash(gfid.as_bytes()) as usize) % n;
    if candidates.get(h).copied().unwrap_or(false) {
        return Some(h);
    }
    candidates.iter().position(|&c| c)
}

/// Candidates in the order reads should try them: the preferred one first, then the others in
/// brick order (afr-read-txn.c `afr_read_txn_next_subvol`).
pub fn read_order(gfid: &Gfid, candidates: &[bool], preferred: Option<usize>) -> Vec<usize> {
    let mut out = Vec::new();
    if let Some(first) = read_child(gfid, candidates, preferred) {
        out.push(first);
        out.extend(
            candidates
                .iter()
                .enumerate()
                .filter(|&(i, &c)| c && i != first)
                .map(|(i, _)| i),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn auto_quorum() {
        let q = QuorumPolicy::Auto;
        assert!(q.met(&[true, true, false]));
        assert!(!q.met(&[true, false, false]));
        assert!(q.met(&[true, false]));
        assert!(!q.met(&[false, true]));
        assert!(q.met(&[true, true, false, false]));
        assert!(!q.met(&[false, true, true, false]));
        assert_eq!(q.count(3), 2);
    }

    #[test]
    fn fixed_and_none() {
        assert!(QuorumPolicy::Fixed(3).met(&[true; 3]));
        assert!(!QuorumPolicy::Fixed(3).met(&[true, true, false]));
        assert!(QuorumPolicy::None.met(&[false, true]));
        assert!(!QuorumPolicy::None.met(&[false, false]));
        assert_eq!(QuorumPolicy::fixed(0), QuorumPolicy::None);
    }

    #[test]
    fn hash_reference_values() {
        // Values of libglusterfs SuperFastHash (hashfn.c) on x86-64 for these inputs.
        assert_eq!(super_fast_hash(b""), 1);
        assert_eq!(super_fast_hash(b"a"), 1);
        let g = Gfid([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]);
        assert_eq!(super_fast_hash(g.as_bytes()), 1_603_173_527);
        assert_eq!(super_fast_hash(Gfid::ROOT.as_bytes()), 4_266_734_359);
        assert_eq!(super_fast_hash(b"hello"), 2_963_130_491);
        assert_eq!(super_fast_hash(b"ab\xff"), 3_261_008_212);
        assert_eq!(super_fast_hash(b"abcdefg"), 4_033_987_565);
    }

    #[test]
    fn read_child_prefers_hash() {
        let g = Gfid::ROOT;
        let h = super_fast_hash(g.as_bytes()) as usize % 3;
        assert_eq!(read_child(&g, &[true; 3], None), Some(h));
        let mut only = [false; 3];
        only[(h + 1) % 3] = true;
        assert_eq!(read_child(&g, &only, None), Some((h + 1) % 3));
        assert_eq!(read_child(&g, &[false; 3], None), None);
    }

    #[test]
    fn a_preferred_candidate_comes_first() {
        let g = Gfid::ROOT;
        let h = super_fast_hash(g.as_bytes()) as usize % 3;
        let p = (h + 2) % 3;
        assert_eq!(read_child(&g, &[true; 3], Some(p)), Some(p));
        assert_eq!(read_order(&g, &[true; 3], Some(p))[0], p);
        // Not a candidate (not readable, or down): the hash decides.
        let mut without = [true; 3];
        without[p] = false;
        assert_eq!(read_child(&g, &without, Some(p)), Some(h));
        assert_eq!(read_child(&g, &[true; 3], Some(7)), Some(h));
    }

    proptest! {
        #[test]
        fn read_order_is_a_permutation_of_candidates(
            g in any::<[u8; 16]>(), c in proptest::collection::vec(any::<bool>(), 1..6),
            p in proptest::option::of(0usize..6)
        ) {
            let o = read_order(&Gfid(g), &c, p);
            let mut sorted = o.clone();
            sorted.sort_unstable();
            let want: Vec<usize> = c.iter().enumerate().filter(|(_, &b)| b).map(|(i, _)| i).collect();
            prop_assert_eq!(sorted, want);
        }

        #[test]
        fn quorum_monotone(set in proptest::collection::vec(any::<bool>(), 1..7), extra in 0usize..7) {
            // Adding a brick never loses quorum.
            for q in [QuorumPolicy::Auto, QuorumPolicy::Fixed(2), QuorumPolicy::None] {
                if q.met(&set) {
                    let mut more = set.clone();
                    let i = extra % more.len();
                    more[i] = true;
                    prop_assert!(q.met(&more));
                }
            }
        }

        #[test]
        fn two_auto_quorums_intersect(a in proptest::collection::vec(any::<bool>(), 1..7), b in proptest::collection::vec(any::<bool>(), 1..7)) {
            let n = a.len().min(b.len());
            let (a, b) = (&a[..n], &b[..n]);
            if QuorumPolicy::Auto.met(a) && QuorumPolicy::Auto.met(b) {
                prop_assert!(a.iter().zip(b).any(|(&x, &y)| x && y));
            }
        }
    }
}
