//! A brick dies while a gluster-rs client (the graph's replicate translator, first-ack writes)
//! streams writes into many files, big and small; the brick comes back; the heal library heals;
//! every copy is byte-identical and equal to what the writer recorded, and GlusterFS's own
//! `gluster volume heal VOL info` reports nothing left.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use fop::{Caller, Dict, Gfid, Loc, Subvolume};

async fn connect(volume: &str) -> graph::Volume {
    let mut o = graph::VolumeOptions::new(vec![graph::Server::new(HOST, 24007)], volume);
    o.first_ack = true;
    o.ping_timeout = Some(Duration::from_secs(5));
    graph::Volume::connect(&o).await.expect("connect")
}

/// Write `files` in rounds of `chunk` bytes; returns what each file must contain.
async fn write_round(
    top: &Arc<dyn Subvolume>,
    fds: &BTreeMap<String, fop::Fd>,
    expect: &mut BTreeMap<String, Vec<u8>>,
    round: u64,
    chunk: usize,
) {
    let c = Caller::root();
    for (name, fd) in fds {
        let Some(buf) = expect.get_mut(name) else {
            continue;
        };
        let total = buf.len();
        if total == 0 {
            continue;
        }
        // Each round rewrites one chunk-sized region (and appends to small files).
        let off = ((round as usize) * chunk * 7) % total;
        let len = chunk.min(total - off);
        let data = pattern(len, round * 1000 + name.len() as u64 + off as u64);
        top.write(&c, fd, off as u64, Bytes::from(data.clone()))
            .await
            .unwrap_or_else(|e| panic!("write {name} round {round}: {e}"));
        buf[off..off + len].copy_from_slice(&data);
    }
}

#[test]
fn brick_dies_during_streaming_writes() {
    if skip() {
        return;
    }
    let v = TestVolume::up(&format!("healwr{}", std::process::id() % 100000));
    let rt = runtime();
    rt.block_on(async {
        let vol = connect(&v.name).await;
        let top = vol.top.clone();
        let c = Caller::root();
        // 3 big files (8 MiB) and 40 small ones (1..64 KiB), in the root and in a directory.
        let dir = top
            .mkdir(
                &c,
                &Loc::entry(Gfid::ROOT, Bytes::from_static(b"dir")),
                0o755,
                0,
                &Dict::new(),
            )
            .await
            .expect("mkdir");
        let mut expect: BTreeMap<String, Vec<u8>> = BTreeMap::new();
        let mut fds = BTreeMap::new();
        let mut names = Vec::new();
        for i in 0..3 {
            names.push((format!("big{i}"), Gfid::ROOT, 8 << 20));
        }
        for i in 0..40 {
            let parent = if i % 2 == 0 {
                Gfid::ROOT
            } else {
                dir.iatt.gfid
            };
            names.push((format!("small{i}"), parent, 1024 * (1 + (i * 37) % 64)));
        }
        for (name, parent, size) in &names {
            let loc = Loc::entry(*parent, Bytes::from(name.clone()));
            let (fd, _) = top
                .create(
                    &c,
                    &loc,
                    libc::O_RDWR | libc::O_CREAT,
                    0o644,
                    0o022,
                    &Dict::new(),
                )
                .await
                .expect("create");
            let data = pattern(*size, name.len() as u64 * 31 + *size as u64);
            let mut off = 0;
            for piece in data.chunks(1 << 20) {
                top.write(&c, &fd, off, Bytes::copy_from_slice(piece))
                    .await
                    .expect("initial write");
                off += piece.len() as u64;
            }
            let key = if *parent == Gfid::ROOT {
                name.clone()
            } else {
                format!("dir/{name}")
            };
            expect.insert(key.clone(), data);
            fds.insert(key, fd);
        }
        for round in 0..10 {
            write_round(&top, &fds, &mut expect, round, 256 * 1024).await;
        }
        // Brick 0 dies in the middle of the stream.
        v.kill_brick(0);
        let t = Instant::now();
        for round in 10..40 {
            write_round(&top, &fds, &mut expect, round, 256 * 1024).await;
        }
        eprintln!("30 rounds with a dead brick in {:?}", t.elapsed());
        for fd in fds.values() {
            top.flush(&c, fd).await.expect("flush");
            top.release(fd).await;
        }
        vol.shutdown().await;

        let (pending, _) = v.gluster_heal_info();
        eprintln!("GlusterFS reports {pending} entries pending before the brick returns");
        v.start_force();

        let hv = heal_volume(&v).await;
        let t = Instant::now();
        let healed = heal_until_clean(&v, &hv, Duration::from_secs(300)).await;
        let took = t.elapsed();
        hv.shutdown().await;
        eprintln!("healed {healed} entries in {took:?}");
        assert!(healed > 0, "something had to be healed");

        let tree = assert_bricks_identical(&v.bricks, false);
        for (rel, want) in &expect {
            let obj = tree.get(rel).unwrap_or_else(|| panic!("{rel} missing"));
            assert_eq!(obj.size, want.len() as u64, "{rel} size");
            assert_eq!(
                obj.content,
                Some(xxhash_rust::xxh3::xxh3_128(want)),
                "{rel}: content differs from what the writer wrote"
            );
        }
        for b in &v.bricks {
            for rel in expect.keys() {
                assert!(
                    nonzero_markers(&b.join(rel)).is_empty(),
                    "{rel}: markers left"
                );
            }
        }
        let (n, out) = v.gluster_heal_info();
        assert_eq!(n, 0, "gluster volume heal info:\n{out}");
    });
}
