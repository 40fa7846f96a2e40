//! A client keeps writing into a large file while it is being healed: the heal's block locks
//! interleave with the client's transactions (the client releases its eager lock when the heal's
//! lock request contends), no write is lost, the client is never held up for long, and every copy
//! ends identical to what the client wrote. The writer is the GlusterFS C client (synchronous
//! writes through its FUSE mount), so what is tested is the heal's side of AFR's lock protocol.

mod common;

use std::fs::OpenOptions;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;

const SIZE: usize = 64 << 20;

#[test]
fn writes_during_heal_are_not_lost() {
    if skip() {
        return;
    }
    let v = TestVolume::up(&format!("healcc{}", std::process::id() % 100000));
    let m = v.mount_c();
    let path = m.join("hot");
    let mut expect = pattern(SIZE, 1);
    std::fs::write(&path, &expect).expect("write");
    sh("sync");
    // Brick 0 misses a full rewrite.
    v.kill_brick(0);
    let second = pattern(SIZE, 2);
    std::fs::write(&path, &second).expect("rewrite while down");
    expect.copy_from_slice(&second);
    sh("sync");
    v.start_force();
    // Let the C client reconnect to brick 0.
    std::thread::sleep(Duration::from_secs(6));

    let rt = runtime();
    let hv = rt.block_on(heal_volume(&v));
    let gfid = {
        let hex = sh(&format!(
            "getfattr -n trusted.gfid -e hex {} | sed -n 's/^trusted.gfid=0x//p'",
            v.bricks[1].join("hot").display()
        ));
        let h = hex.trim();
        let s = format!(
            "{}-{}-{}-{}-{}",
            &h[0..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..32]
        );
        s.parse::<fop::Gfid>().expect("gfid")
    };
    let healing = Arc::new(AtomicBool::new(true));
    // The writer: synchronous writes at pseudo-random offsets for as long as the heal runs.
    let h2 = healing.clone();
    let wpath = path.clone();
    let writer = std::thread::spawn(move || {
        let f = OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_SYNC)
            .open(&wpath)
            .expect("open for writing");
        let mut done: Vec<(usize, Vec<u8>)> = Vec::new();
        let mut max_latency = Duration::ZERO;
        let mut x = 0x2545_f491_4f6c_dd1du64;
        while h2.load(Ordering::SeqCst) || done.len() < 20 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let len = 4096 + (x as usize % 60_000);
            let off = (x >> 20) as usize % (SIZE - len);
            let data = pattern(len, x);
            let t = Instant::now();
            f.write_all_at(&data, off as u64)
                .expect("write during heal");
            max_latency = max_latency.max(t.elapsed());
            done.push((off, data));
        }
        (done, max_latency)
    });
    let rs = hv.replicas[0].clone();
    let (outcome, took) = rt.block_on(async {
        let t = Instant::now();
        let r = heal::heal_inode(&rs, gfid).await;
        (r, t.elapsed())
    });
    healing.store(false, Ordering::SeqCst);
    let (done, max_latency) = writer.join().expect("writer");
    for (off, data) in &done {
        expect[*off..*off + data.len()].copy_from_slice(data);
    }
    let outcome = outcome.expect("heal");
    eprintln!(
        "heal of {} MiB with {} concurrent writes: {took:?} ({:?}), longest client write {max_latency:?}, copied {} MiB",
        SIZE >> 20,
        done.len(),
        outcome.status,
        outcome.bytes_copied >> 20
    );
    assert_eq!(outcome.status, heal::HealStatus::Healed);
    assert!(
        max_latency < Duration::from_secs(10),
        "a client write waited {max_latency:?}"
    );
    // Anything a concurrent write left marked is healed by a sweep.
    rt.block_on(async {
        heal_until_clean(&v, &hv, Duration::from_secs(120)).await;
        hv.shutdown().await;
    });
    let tree = assert_bricks_identical(&v.bricks, false);
    assert_eq!(
        tree["hot"].content,
        Some(xxhash_rust::xxh3::xxh3_128(&expect)),
        "a client write was lost"
    );
}
