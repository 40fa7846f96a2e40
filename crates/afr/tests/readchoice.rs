//! Which brick reads go to, against real GlusterFS 10.3 bricks: with `cluster.choose-local` (on
//! by default) every read goes to a brick on this machine, the same one for every file, as the C
//! client's AFR does (afr_local_discovery_cbk makes a local brick the read child); with
//! `cluster.read-subvolume-index` set, to that brick.
//!
//! Needs root, glusterd and the gluster CLI; run one test at a time (`--test-threads=1`).

mod common;

use std::collections::BTreeMap;

use common::*;

const FILES: usize = 12;

/// READ calls per brick since the last `profile info clear` (the "Brick:" sections of
/// `gluster volume profile VOL info cumulative`).
fn reads_per_brick(vol: &str) -> BTreeMap<String, u64> {
    let out = gluster(&["volume", "profile", vol, "info", "cumulative"]);
    let mut brick = String::new();
    let mut reads = BTreeMap::new();
    for line in out.lines() {
        if let Some(b) = line.strip_prefix("Brick:") {
            brick = b.trim().to_string();
            reads.entry(brick.clone()).or_insert(0);
            continue;
        }
        let cols: Vec<&str> = line.split_whitespace().collect();
        if cols.last() == Some(&"READ") && cols.len() >= 6 {
            if let Ok(n) = cols[cols.len() - 2].parse::<u64>() {
                *reads.entry(brick.clone()).or_insert(0) += n;
            }
        }
    }
    reads
}

/// Write FILES files, then read each back (open, read, release) with the profile cleared in
/// between; returns the READs per brick.
fn write_then_read(v: &TestVolume) -> BTreeMap<String, u64> {
    let rt = runtime();
    let vol = rt.block_on(connect(&v.name, true));
    let top = vol.top.clone();
    rt.block_on(async {
        for i in 0..FILES {
            put(
                top.as_ref(),
                &format!("f{i}"),
                &pattern(256 * 1024, i as u8),
                128 * 1024,
            )
            .await
            .unwrap();
        }
    });
    rt.block_on(vol.shutdown());
    // A fresh client: nothing cached, every file looked up and read anew.
    let vol = rt.block_on(connect(&v.name, true));
    let top = vol.top.clone();
    clear_profile(&v.name);
    rt.block_on(async {
        for i in 0..FILES {
            let got = get(top.as_ref(), &format!("f{i}")).await.unwrap();
            assert_eq!(got, pattern(256 * 1024, i as u8), "f{i}");
        }
    });
    rt.block_on(vol.shutdown());
    reads_per_brick(&v.name)
}

#[test]
fn reads_go_to_one_local_brick() {
    if skip() {
        return;
    }
    let v = TestVolume::up("rc-local", "1x3");
    gluster(&["volume", "profile", &v.name, "start"]);
    let reads = write_then_read(&v);
    eprintln!("READ per brick: {reads:?}");
    let used: Vec<&u64> = reads.values().filter(|&&n| n > 0).collect();
    // Every brick here is local; the first connected one is the read child. (Hashing by GFID
    // would spread 12 files over the bricks.)
    assert_eq!(used.len(), 1, "reads spread over bricks: {reads:?}");
    assert!(*used[0] >= (2 * FILES) as u64, "{reads:?}");
}

#[test]
fn read_subvolume_index_picks_the_brick() {
    if skip() {
        return;
    }
    let v = TestVolume::up("rc-index", "1x3");
    v.set("cluster.read-subvolume-index", "2");
    gluster(&["volume", "profile", &v.name, "start"]);
    let reads = write_then_read(&v);
    eprintln!("READ per brick: {reads:?}");
    let third = v.bricks()[2].display().to_string();
    for (brick, n) in &reads {
        if brick.ends_with(&third) {
            assert!(*n >= (2 * FILES) as u64, "{brick}: {reads:?}");
        } else {
            assert_eq!(*n, 0, "{brick} read from: {reads:?}");
        }
    }
}
