//! Property tests of the pure parts: marker arithmetic and source/sink selection, the undo of
//! markers, block plans, entry diffs and per-name decisions.

use std::collections::BTreeMap;

use bytes::Bytes;
use heal::entries::{names_to_examine, plan_dirent, DirentPlan, Listed, Listing, NameState};
use heal::markers::{undo_pending, Changelog, Counters, Delta, HealType, Markers};
use heal::plan::{blocks, can_skip_block, RangeSum};
use heal::policy::{data_selection, FavoriteChild, SplitBrainChoice};
use proptest::prelude::*;
use proto::{Gfid, IaType, Iatt};

fn ty() -> impl Strategy<Value = HealType> {
    prop_oneof![
        Just(HealType::Data),
        Just(HealType::Metadata),
        Just(HealType::Entry)
    ]
}

/// A changelog of `n` bricks with small counters (mostly zero).
fn changelog(n: usize) -> impl Strategy<Value = Changelog> {
    let cell = prop_oneof![4 => Just(0i32), 1 => 1i32..4];
    let counters = prop::array::uniform3(cell);
    let row = (counters.clone(), prop::collection::vec(counters, n)).prop_map(|(d, p)| {
        Some(Markers {
            dirty: Counters(d),
            pending: p.into_iter().map(Counters).collect(),
        })
    });
    prop::collection::vec(row, n).prop_map(Changelog::new)
}

fn sized_changelog() -> impl Strategy<Value = Changelog> {
    (1usize..=4).prop_flat_map(changelog)
}

proptest! {
    #[test]
    fn counters_roundtrip(c in prop::array::uniform3(any::<i32>())) {
        let c = Counters(c);
        prop_assert_eq!(Counters::decode(&c.encode()), Some(c));
    }

    #[test]
    fn direction_invariants(log in sized_changelog(), t in ty(), q in 0usize..3) {
        let n = log.n();
        let locked = vec![true; n];
        let d = log.find_direction(t, &locked, q).expect("every brick answered");
        prop_assert_eq!(d.split_brain, !d.sources.iter().any(|&s| s));
        if d.split_brain {
            prop_assert_eq!(&d.sinks, &locked);
        } else {
            for i in 0..n {
                prop_assert!(!(d.sources[i] && d.sinks[i]), "brick {} both source and sink", i);
            }
        }
        // No blame at all: everybody is a source, nobody a sink.
        if !log.any_pending(t) {
            prop_assert_eq!(&d.sources, &locked);
            prop_assert!(d.sinks.iter().all(|&s| !s));
        }
    }

    #[test]
    fn undo_clears_what_was_read(log in sized_changelog(), t in ty(), healed_mask in any::<u8>()) {
        let n = log.n();
        let locked = vec![true; n];
        let d = log.find_direction(t, &locked, n / 2 + 1).expect("complete");
        let sinks = d.sinks.clone();
        let healed: Vec<bool> = (0..n).map(|i| sinks[i] && healed_mask & (1 << i) != 0).collect();
        let deltas = undo_pending(&log, t, &sinks, &healed, &locked, &vec![false; n], false);
        for i in 0..n {
            let delta = deltas[i].as_ref().expect("locked brick gets a post-op");
            let failed_i = sinks[i] && !healed[i];
            let dirty_after = log.dirty(i, t).wrapping_add(delta.dirty.get(t));
            if !failed_i {
                prop_assert_eq!(dirty_after, 0);
            }
            for j in 0..n {
                let after = log.cell(i, j, t).wrapping_add(delta.pending[j].get(t));
                if sinks[j] && !healed[j] {
                    prop_assert_eq!(after, log.cell(i, j, t) + 1, "failed sink {} blamed once more", j);
                } else {
                    prop_assert_eq!(after, 0, "cell {} {} not cleared", i, j);
                }
                // Other heal types are never touched (no full crawl here).
                for other in HealType::ALL {
                    if other != t {
                        prop_assert_eq!(delta.pending[j].get(other), 0);
                    }
                }
            }
        }
    }

    #[test]
    fn delta_dict_roundtrip(n in 1usize..5, vals in prop::collection::vec(prop::array::uniform3(any::<i32>()), 5)) {
        let keys: Vec<String> = (0..n).map(|i| format!("trusted.afr.v-client-{i}")).collect();
        let d = Delta {
            dirty: Counters(vals[0]),
            pending: vals.iter().take(n).map(|v| Counters(*v)).collect(),
        };
        let m = Markers::from_dict(&d.to_dict(&keys), &keys);
        prop_assert_eq!(m.dirty, d.dirty);
        prop_assert_eq!(m.pending, d.pending);
    }

    #[test]
    fn blocks_tile_the_file(size in 0u64..10_000_000, block in 1u64..2_000_000) {
        let mut next = 0u64;
        for (off, len) in blocks(size, block) {
            prop_assert_eq!(off, next);
            prop_assert!(len > 0 && len <= block);
            next = off + len;
        }
        prop_assert_eq!(next, size);
    }

    #[test]
    fn identical_blocks_are_skipped_different_ones_sent(
        data in prop::collection::vec(any::<u8>(), 1..4096),
        flip in any::<prop::sample::Index>(),
        sparse in any::<bool>(),
    ) {
        let src = RangeSum::of_bytes(&data);
        let same = RangeSum::of_bytes(&data);
        let zero = data.iter().all(|&b| b == 0);
        prop_assert_eq!(can_skip_block(&src, &[&same], sparse), sparse || !zero);
        let mut other = data.clone();
        let k = flip.index(other.len());
        other[k] ^= 0x5a;
        let diff = RangeSum::of_bytes(&other);
        prop_assert!(!can_skip_block(&src, &[&same, &diff], sparse));
    }

    #[test]
    fn entry_diff_is_exact(
        names in prop::collection::btree_map("[a-e]{1,2}", (0u8..3, 0u8..3, 0u8..3), 0..20),
    ) {
        // Per name, per brick: 0 absent, 1 gfid A, 2 gfid B.
        let mut listings: Vec<Listing> = vec![BTreeMap::new(), BTreeMap::new(), BTreeMap::new()];
        for (name, states) in &names {
            for (b, s) in [states.0, states.1, states.2].into_iter().enumerate() {
                if s > 0 {
                    listings[b].insert(
                        Bytes::from(name.clone()),
                        Listed { gfid: Gfid([s; 16]), ia_type: IaType::Reg },
                    );
                }
            }
        }
        let got = names_to_examine(
            &listings.iter().cloned().map(Some).collect::<Vec<_>>(),
            &[true, true, true],
        );
        for (name, states) in &names {
            let v = [states.0, states.1, states.2];
            let present_somewhere = v.iter().any(|&s| s > 0);
            let identical = v.iter().all(|&s| s == v[0]) && v[0] > 0;
            let listed = got.contains(&Bytes::from(name.clone()));
            prop_assert_eq!(listed, present_somewhere && !identical, "{}: {:?}", name, v);
        }
    }

    #[test]
    fn dirent_plans_respect_roles(
        states in prop::collection::vec(0u8..4, 3),
        source in prop::option::of(0usize..3),
        sinks_mask in 0u8..8,
    ) {
        // 0 absent, 1/2 present with gfid 1/2, 3 error.
        let st: Vec<NameState> = states
            .iter()
            .map(|&s| match s {
                0 => NameState::Absent,
                3 => NameState::Error(libc::EACCES),
                g => NameState::Present(Iatt { gfid: Gfid([g; 16]), mode: 0o100644, ..Iatt::default() }),
            })
            .collect();
        let mut sinks: Vec<bool> = (0..3).map(|i| sinks_mask & (1 << i) != 0).collect();
        if let Some(s) = source {
            sinks[s] = false;
        }
        let plan = plan_dirent(&st, source, &sinks, &|_: &[Option<Iatt>]| None);
        if let DirentPlan::Act(a) = plan {
            for &i in a.delete.iter().chain(&a.recreate) {
                prop_assert!(sinks[i], "acted on a non-sink {}", i);
                prop_assert_ne!(Some(i), source);
            }
            if source.is_none() {
                prop_assert!(a.delete.is_empty(), "a merge never deletes");
            }
            for &i in &a.delete {
                prop_assert!(matches!(st[i], NameState::Present(_)));
            }
        }
    }

    #[test]
    fn selection_never_heals_the_source(
        log in changelog(3),
        sizes in prop::array::uniform3(0u64..5),
        mtimes in prop::array::uniform3(0i64..5),
        choice in prop::option::of(prop_oneof![
            Just(SplitBrainChoice::BiggerFile),
            Just(SplitBrainChoice::LatestMtime),
            (0usize..3).prop_map(SplitBrainChoice::SourceBrick),
        ]),
    ) {
        let locked = vec![true; 3];
        let d = log.find_direction(HealType::Data, &locked, 2).expect("complete");
        let stats: Vec<Option<Iatt>> = (0..3)
            .map(|i| Some(Iatt { size: sizes[i], mtime: mtimes[i], mode: 0o100644, ..Iatt::default() }))
            .collect();
        if let Ok(Some(sel)) = data_selection(&d, &locked, &stats, choice, FavoriteChild::None, &[], None) {
            prop_assert!(!sel.healed_sinks[sel.source]);
            prop_assert!(sel.sources[sel.source]);
            for i in 0..3 {
                prop_assert!(!(sel.sources[i] && sel.healed_sinks[i]));
            }
            if let Some(SplitBrainChoice::SourceBrick(k)) = choice {
                prop_assert_eq!(sel.source, k);
            }
        }
    }
}
