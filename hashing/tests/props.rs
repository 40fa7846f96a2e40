//! Property tests for layouts.

use hashing::{
    DiskLayout, HashOptions, HashType, Layout, LayoutEntry, NewDirParams, NewDirSubvol,
    SubvolLookup, SubvolState,
};
use proptest::prelude::*;

/// A complete layout: `n` subvolumes, random cut points, random order.
fn complete_layout() -> impl Strategy<Value = Layout> {
    (1usize..12)
        .prop_flat_map(|n| {
            (
                proptest::collection::btree_set(1u32..=u32::MAX, n - 1),
                Just((0..n).collect::<Vec<usize>>()).prop_shuffle(),
            )
        })
        .prop_map(|(cuts, perm)| {
            let mut bounds: Vec<u32> = vec![0];
            bounds.extend(cuts.iter().copied());
            let n = bounds.len();
            let mut entries = vec![LayoutEntry::default(); n];
            for (k, &start) in bounds.iter().enumerate() {
                let stop = bounds.get(k + 1).map_or(u32::MAX, |b| b - 1);
                entries[perm[k]] = LayoutEntry {
                    state: SubvolState::Ok,
                    start,
                    stop,
                    commit_hash: 0,
                };
            }
            Layout::from_entries(entries)
        })
}

fn subvol_names(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("vol-client-{i}")).collect()
}

proptest! {
    #[test]
    fn complete_layout_has_exactly_one_owner(layout in complete_layout(), hashes in proptest::collection::vec(any::<u32>(), 64)) {
        prop_assert_eq!(layout.anomalies(), hashing::Anomalies::default());
        prop_assert!(!layout.needs_heal());
        let probes = hashes.into_iter().chain([0, u32::MAX]).chain(layout.entries().iter().flat_map(|e| [e.start, e.stop]));
        for h in probes {
            let owners: Vec<usize> = layout.entries().iter().enumerate()
                .filter(|(_, e)| e.start <= h && h <= e.stop).map(|(i, _)| i).collect();
            prop_assert_eq!(owners.len(), 1, "hash {:#x}", h);
            prop_assert_eq!(layout.search(h), Some(owners[0]));
        }
    }

    #[test]
    fn fresh_layout_tiles_the_hash_space(
        n in 1usize..40,
        path in proptest::collection::vec(any::<u8>(), 0..40),
        weights in proptest::collection::vec(0u32..5_000_000, 40),
        weighted in any::<bool>(),
        commit in any::<u32>(),
    ) {
        let names = subvol_names(n);
        let subvols: Vec<NewDirSubvol> = names.iter().zip(&weights)
            .map(|(name, &chunks)| NewDirSubvol { name, state: SubvolState::Missing, chunks: chunks.max(1) })
            .collect();
        let mut params = NewDirParams::new(&path, commit);
        params.weighted = weighted;
        let layout = Layout::new_directory(&subvols, &params, &HashOptions::default());
        // Sorted ranges are contiguous from 0 to u32::MAX.
        let mut ranges: Vec<(u32, u32)> = layout.entries().iter().filter(|e| e.participates()).map(|e| (e.start, e.stop)).collect();
        ranges.sort();
        prop_assert_eq!(ranges.len(), n);
        prop_assert_eq!(ranges[0].0, 0);
        prop_assert_eq!(ranges[n - 1].1, u32::MAX);
        for w in ranges.windows(2) {
            prop_assert_eq!(u64::from(w[0].1) + 1, u64::from(w[1].0));
        }
        prop_assert_eq!(layout.anomalies(), hashing::Anomalies::default());
        prop_assert!(!layout.needs_heal());
        prop_assert!(layout.entries().iter().all(|e| e.commit_hash == commit));
        // Writing it out and reading it back gives the same ranges.
        let disks: Vec<[u8; 16]> = (0..n).map(|i| layout.disk_layout(i).unwrap().to_bytes()).collect();
        let reread = Layout::from_lookups(disks.iter().map(|d| SubvolLookup::Found { xattr: Some(&d[..]) }));
        prop_assert_eq!(reread.entries(), layout.entries());
        for h in [0u32, 1, u32::MAX / 2, u32::MAX] {
            prop_assert_eq!(reread.search(h), layout.search(h));
            prop_assert!(layout.search(h).is_some());
        }
    }

    #[test]
    fn disk_layout_roundtrip(commit in any::<u32>(), user in any::<bool>(), start in any::<u32>(), stop in any::<u32>()) {
        let d = DiskLayout { commit_hash: commit, hash_type: if user { HashType::DmUser } else { HashType::Dm }, start, stop };
        prop_assert_eq!(DiskLayout::parse(&d.to_bytes()), Ok(d));
    }

    #[test]
    fn parse_never_panics(raw in proptest::collection::vec(any::<u8>(), 0..64)) {
        let r = DiskLayout::parse(&raw);
        if raw.len() != 16 {
            prop_assert_eq!(r, Err(hashing::Error::BadLength(raw.len())));
        } else if u32::from_be_bytes([raw[4], raw[5], raw[6], raw[7]]) > 1 {
            prop_assert!(matches!(r, Err(hashing::Error::UnknownHashType(_))));
        } else {
            prop_assert_eq!(r.map(|d| d.to_bytes().to_vec()), Ok(raw.clone()));
        }
        // Building and inspecting a layout from arbitrary xattrs never panics.
        let l = Layout::from_lookups([SubvolLookup::Found { xattr: Some(&raw) }, SubvolLookup::Failed { errno: 107 }]);
        let _ = (l.anomalies(), l.needs_heal(), l.search(0), l.disk_layout(0));
    }

    #[test]
    fn arbitrary_layouts_never_panic(entries in proptest::collection::vec((any::<i8>(), any::<u32>(), any::<u32>()), 0..10), h in any::<u32>()) {
        let entries: Vec<LayoutEntry> = entries.into_iter()
            .map(|(e, start, stop)| LayoutEntry { state: SubvolState::from_errno(i32::from(e)), start, stop, commit_hash: 0 })
            .collect();
        let l = Layout::from_entries(entries);
        let a = l.anomalies();
        if let Some(i) = l.search(h) {
            let e = l.entries()[i];
            prop_assert!(e.start <= h && h <= e.stop);
        }
        prop_assert_eq!(l.needs_heal(), a.holes > 0 || a.overlaps > 0 || l.missing_dirs() > 0);
    }
}
