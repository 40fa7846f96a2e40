//! A client keeps writing into a large file while it is being healed: the heal's block locks
//! interleave with the client's transactions, no write is lost, the client is never held up for
//! long, and every copy ends identical to what the client wrote.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use fop::{Caller, Dict, Gfid, Loc};

const SIZE: usize = 64 << 20;

#[test]
fn writes_during_heal_are_not_lost() {
    if skip() {
        return;
    }
    let v = TestVolume::up(&format!("healcc{}", std::process::id() % 100000));
    let rt = runtime();
    rt.block_on(async {
        let mut o = graph::VolumeOptions::new(vec![graph::Server::new(HOST, 24007)], &v.name);
        o.ping_timeout = Some(Duration::from_secs(5));
        let vol = graph::Volume::connect(&o).await.expect("connect");
        let top = vol.top.clone();
        let c = Caller::root();
        let loc = Loc::entry(Gfid::ROOT, Bytes::from_static(b"hot"));
        let (fd, e) = top
            .create(&c, &loc, libc::O_RDWR | libc::O_CREAT, 0o644, 0o022, &Dict::new())
            .await
            .expect("create");
        let gfid = e.iatt.gfid;
        let mut expect = pattern(SIZE, 1);
        for (k, piece) in expect.chunks(1 << 20).enumerate() {
            top.write(&c, &fd, (k << 20) as u64, Bytes::copy_from_slice(piece))
                .await
                .expect("write");
        }
        top.flush(&c, &fd).await.expect("flush");
        // Brick 0 misses a full rewrite.
        v.kill_brick(0);
        let second = pattern(SIZE, 2);
        for (k, piece) in second.chunks(1 << 20).enumerate() {
            top.write(&c, &fd, (k << 20) as u64, Bytes::copy_from_slice(piece))
                .await
                .expect("write while down");
        }
        expect.copy_from_slice(&second);
        top.flush(&c, &fd).await.expect("flush");
        v.start_force();
        // Let the client reconnect to brick 0 before it writes again.
        let deadline = Instant::now() + Duration::from_secs(30);
        while !vol.bricks().iter().all(|b| b.is_connected()) {
            assert!(Instant::now() < deadline, "client did not reconnect");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }

        let hv = heal_volume(&v).await;
        let rs = hv.replicas[0].clone();
        let healing = Arc::new(AtomicBool::new(true));
        let h2 = healing.clone();
        let healer = tokio::spawn(async move {
            let t = Instant::now();
            let r = heal::heal_inode(&rs, gfid).await;
            h2.store(false, Ordering::SeqCst);
            (r, t.elapsed())
        });
        // Write at pseudo-random offsets for as long as the heal runs.
        let mut max_latency = Duration::ZERO;
        let mut writes = 0u64;
        let mut x = 0x2545_f491_4f6c_dd1du64;
        while healing.load(Ordering::SeqCst) || writes < 20 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let len = 4096 + (x as usize % 60_000);
            let off = (x >> 20) as usize % (SIZE - len);
            let data = pattern(len, x);
            let t = Instant::now();
            top.write(&c, &fd, off as u64, Bytes::from(data.clone()))
                .await
                .expect("write during heal");
            max_latency = max_latency.max(t.elapsed());
            expect[off..off + len].copy_from_slice(&data);
            writes += 1;
        }
        let (r, took) = healer.await.expect("join");
        let outcome = r.expect("heal");
        top.flush(&c, &fd).await.expect("flush");
        top.release(&fd).await;
        vol.shutdown().await;
        eprintln!(
            "heal of {} MiB with {writes} concurrent writes: {took:?} ({:?}), longest client write {max_latency:?}, copied {} MiB",
            SIZE >> 20,
            outcome.status,
            outcome.bytes_copied >> 20
        );
        assert_eq!(outcome.status, heal::HealStatus::Healed);
        assert!(writes >= 20);
        assert!(
            max_latency < Duration::from_secs(10),
            "a client write waited {max_latency:?}"
        );
        // Anything a concurrent write left marked is healed by a sweep.
        heal_until_clean(&v, &hv, Duration::from_secs(120)).await;
        hv.shutdown().await;
        let tree = assert_bricks_identical(&v.bricks, false);
        assert_eq!(
            tree["hot"].content,
            Some(xxhash_rust::xxh3::xxh3_128(&expect)),
            "a client write was lost"
        );
    });
}
