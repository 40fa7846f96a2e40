//! Brick placement: which devices get the bricks of a volume.
//!
//! Pure functions, no I/O. Like Heketi (`apps/glusterfs/volume_entry_allocate.go`
//! and the simple ring allocator), a volume of `size` is tried first as one
//! brick set, then 2, 4, ... sets of smaller bricks while a brick stays at or
//! above the minimum brick size and the volume under the brick count limit.
//! Within a set every brick is on a different node; zones not yet used by
//! the set are preferred, then the device with the most free space; the
//! starting point rotates with the volume id so equal devices are used in
//! turn.

/// A device that may receive bricks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub device: String,
    pub node: String,
    pub zone: i64,
    /// Free space, KiB.
    pub free_kib: u64,
}

/// Why bricks could not be placed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllocError {
    /// No set of devices can hold the bricks (Heketi's "No space").
    NoSpace(String),
    /// Bricks would be smaller than the minimum brick size.
    MinimumBrickSize,
    /// More bricks than the per-volume limit.
    MaxBricks,
}

/// Size limits, KiB (Heketi: min 1 GiB, max 4 TiB, 32 bricks per volume).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub brick_min_kib: u64,
    pub brick_max_kib: u64,
    pub max_bricks: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            brick_min_kib: 1024 * 1024,
            brick_max_kib: 4 * 1024 * 1024 * 1024,
            max_bricks: 32,
        }
    }
}

/// A placement: brick size and, per set, the chosen candidate indexes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    pub brick_kib: u64,
    pub sets: Vec<Vec<usize>>,
}

/// Place `sets` sets of `set_size` bricks of `brick_kib` (+ `overhead`
/// extra KiB each, for thin pool metadata) on `cands`.
pub fn place_sets(
    cands: &[Candidate],
    sets: usize,
    set_size: usize,
    need_kib: impl Fn(usize) -> u64,
    seed: u64,
) -> Option<Vec<Vec<usize>>> {
    let n = cands.len();
    if n == 0 || set_size == 0 {
        return None;
    }
    let mut free: Vec<u64> = cands.iter().map(|c| c.free_kib).collect();
    let start = (seed % n as u64) as usize;
    let mut out = Vec::with_capacity(sets);
    for _ in 0..sets {
        let mut chosen: Vec<usize> = Vec::with_capacity(set_size);
        for _ in 0..set_size {
            let mut best: Option<(usize, (bool, u64))> = None;
            for k in 0..n {
                let i = (start + k) % n;
                let c = &cands[i];
                let need = need_kib(i);
                if free[i] < need {
                    continue;
                }
                if chosen.iter().any(|&j| cands[j].node == c.node) {
                    continue;
                }
                let new_zone = !chosen.iter().any(|&j| cands[j].zone == c.zone);
                let key = (new_zone, free[i]);
                if best.map(|(_, b)| key > b).unwrap_or(true) {
                    best = Some((i, key));
                }
            }
            let (i, _) = best?;
            free[i] -= need_kib(i);
            chosen.push(i);
        }
        out.push(chosen);
    }
    Some(out)
}

/// Heketi's brick size search for a volume (or expansion) of `size_kib`:
/// one set, then 2, 4, ... sets, stopping below the minimum brick size.
/// `overhead` gives the extra space a brick of a given size takes on a
/// candidate (thin pool metadata, snapshot reserve), as a function of
/// (candidate index, brick size).
pub fn plan(
    cands: &[Candidate],
    size_kib: u64,
    set_size: usize,
    existing_bricks: usize,
    limits: Limits,
    seed: u64,
    space: impl Fn(usize, u64) -> u64,
) -> Result<Placement, AllocError> {
    let mut sets = 1usize;
    let mut last_err = AllocError::NoSpace(String::new());
    loop {
        let brick = size_kib / sets as u64;
        if brick < limits.brick_min_kib {
            return Err(match last_err {
                AllocError::NoSpace(_) if sets == 1 => AllocError::MinimumBrickSize,
                e => e,
            });
        }
        if brick <= limits.brick_max_kib {
            if sets * set_size + existing_bricks > limits.max_bricks {
                // Report why the fewer, larger bricks did not fit, if tried.
                return Err(match last_err {
                    AllocError::NoSpace(d) if !d.is_empty() => AllocError::NoSpace(d),
                    _ => AllocError::MaxBricks,
                });
            }
            if let Some(p) = place_sets(cands, sets, set_size, |i| space(i, brick), seed) {
                return Ok(Placement {
                    brick_kib: brick,
                    sets: p,
                });
            }
            last_err = AllocError::NoSpace(explain(cands, set_size, brick));
        }
        sets = match sets.checked_mul(2) {
            Some(s) => s,
            None => return Err(last_err),
        };
    }
}

/// A human explanation of a failed placement.
fn explain(cands: &[Candidate], set_size: usize, brick_kib: u64) -> String {
    let mut nodes: Vec<&str> = cands.iter().map(|c| c.node.as_str()).collect();
    nodes.sort_unstable();
    nodes.dedup();
    if nodes.len() < set_size {
        return format!(
            "{set_size} bricks per set need {set_size} nodes with online devices, the cluster has {}",
            nodes.len()
        );
    }
    let fit = cands.iter().filter(|c| c.free_kib >= brick_kib).count();
    let max_free = cands.iter().map(|c| c.free_kib).max().unwrap_or(0);
    format!(
        "bricks of {} GiB do not fit: {fit} device(s) have room, largest free space {} GiB",
        brick_kib / (1024 * 1024),
        max_free / (1024 * 1024)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const GIB: u64 = 1024 * 1024;

    fn c(dev: &str, node: &str, zone: i64, free_gib: u64) -> Candidate {
        Candidate {
            device: dev.into(),
            node: node.into(),
            zone,
            free_kib: free_gib * GIB,
        }
    }

    fn nodes_of(cands: &[Candidate], set: &[usize]) -> Vec<String> {
        set.iter().map(|&i| cands[i].node.clone()).collect()
    }

    #[test]
    fn replica3_on_three_nodes() {
        let cands = vec![
            c("d1", "n1", 1, 10),
            c("d2", "n2", 2, 10),
            c("d3", "n3", 3, 10),
        ];
        let p = plan(&cands, GIB, 3, 0, Limits::default(), 0, |_, b| b).unwrap();
        assert_eq!(p.brick_kib, GIB);
        assert_eq!(p.sets.len(), 1);
        let mut n = nodes_of(&cands, &p.sets[0]);
        n.sort();
        assert_eq!(n, vec!["n1", "n2", "n3"]);
    }

    #[test]
    fn replica3_on_two_nodes_is_no_space() {
        let cands = vec![
            c("d1", "n1", 1, 100),
            c("d2", "n1", 1, 100),
            c("d3", "n2", 2, 100),
        ];
        match plan(&cands, GIB, 3, 0, Limits::default(), 0, |_, b| b) {
            Err(AllocError::MinimumBrickSize) | Err(AllocError::NoSpace(_)) => {}
            other => panic!("{other:?}"),
        }
        let e = plan(&cands, 4 * GIB, 3, 0, Limits::default(), 0, |_, b| b).unwrap_err();
        match e {
            AllocError::NoSpace(m) => assert!(m.contains("need 3 nodes"), "{m}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn prefers_distinct_zones() {
        // n1,n2 in zone 1; n3 in zone 2. A replica-2 set must use zone 2.
        let cands = vec![
            c("d1", "n1", 1, 50),
            c("d2", "n2", 1, 50),
            c("d3", "n3", 2, 10),
        ];
        for seed in 0..6 {
            let p = plan(&cands, GIB, 2, 0, Limits::default(), seed, |_, b| b).unwrap();
            let zones: Vec<i64> = p.sets[0].iter().map(|&i| cands[i].zone).collect();
            assert!(
                zones.contains(&1) && zones.contains(&2),
                "seed {seed}: {zones:?}"
            );
        }
    }

    #[test]
    fn falls_back_to_same_zone_when_needed() {
        let cands = vec![
            c("d1", "n1", 1, 10),
            c("d2", "n2", 1, 10),
            c("d3", "n3", 1, 10),
        ];
        let p = plan(&cands, GIB, 3, 0, Limits::default(), 1, |_, b| b).unwrap();
        assert_eq!(p.sets[0].len(), 3);
    }

    #[test]
    fn splits_into_more_sets_when_devices_are_small() {
        // 3 nodes x 2 devices of 3 GiB: a 4 GiB replica-3 volume does not fit
        // as one set of 4 GiB bricks, but does as 2 sets of 2 GiB.
        let cands = vec![
            c("a1", "n1", 1, 3),
            c("a2", "n1", 1, 3),
            c("b1", "n2", 2, 3),
            c("b2", "n2", 2, 3),
            c("c1", "n3", 3, 3),
            c("c2", "n3", 3, 3),
        ];
        let p = plan(&cands, 4 * GIB, 3, 0, Limits::default(), 0, |_, b| b).unwrap();
        assert_eq!(p.brick_kib, 2 * GIB);
        assert_eq!(p.sets.len(), 2);
        for s in &p.sets {
            let mut n = nodes_of(&cands, s);
            n.sort();
            n.dedup();
            assert_eq!(n.len(), 3);
        }
    }

    #[test]
    fn beyond_free_space_is_refused() {
        let cands = vec![
            c("d1", "n1", 1, 10),
            c("d2", "n2", 2, 10),
            c("d3", "n3", 3, 10),
        ];
        let e = plan(&cands, 1000 * GIB, 3, 0, Limits::default(), 0, |_, b| b).unwrap_err();
        assert!(
            matches!(e, AllocError::NoSpace(_) | AllocError::MaxBricks),
            "{e:?}"
        );
    }

    #[test]
    fn brick_count_limit() {
        let cands = vec![
            c("d1", "n1", 1, 100),
            c("d2", "n2", 2, 100),
            c("d3", "n3", 3, 100),
        ];
        let l = Limits {
            max_bricks: 3,
            ..Default::default()
        };
        assert!(plan(&cands, GIB, 3, 0, l, 0, |_, b| b).is_ok());
        assert_eq!(
            plan(&cands, GIB, 3, 3, l, 0, |_, b| b),
            Err(AllocError::MaxBricks)
        );
    }

    #[test]
    fn max_brick_size_forces_more_sets() {
        let cands = vec![c("d1", "n1", 1, 100), c("d2", "n2", 2, 100)];
        let l = Limits {
            brick_max_kib: 2 * GIB,
            ..Default::default()
        };
        let p = plan(&cands, 8 * GIB, 1, 0, l, 0, |_, b| b).unwrap();
        assert_eq!(p.brick_kib, 2 * GIB);
        assert_eq!(p.sets.len(), 4);
    }

    #[test]
    fn overhead_counts() {
        let cands = vec![c("d1", "n1", 1, 1)];
        // brick exactly 1 GiB fits only without overhead
        assert!(plan(&cands, GIB, 1, 0, Limits::default(), 0, |_, b| b).is_ok());
        assert!(plan(&cands, GIB, 1, 0, Limits::default(), 0, |_, b| b + 1).is_err());
    }

    #[test]
    fn sets_use_space_already_taken_by_earlier_sets() {
        // One device per node with room for exactly one brick each.
        let cands = vec![c("d1", "n1", 1, 1), c("d2", "n2", 2, 1)];
        assert!(place_sets(&cands, 1, 2, |_| GIB, 0).is_some());
        assert!(place_sets(&cands, 2, 2, |_| GIB, 0).is_none());
    }

    #[test]
    fn rotation_spreads_bricks() {
        let cands = vec![
            c("d1", "n1", 1, 10),
            c("d2", "n2", 1, 10),
            c("d3", "n3", 1, 10),
        ];
        let a = place_sets(&cands, 1, 1, |_| GIB, 0).unwrap();
        let b = place_sets(&cands, 1, 1, |_| GIB, 1).unwrap();
        assert_ne!(a, b);
    }
}
