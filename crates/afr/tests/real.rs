//! gluster-rs replicate against real GlusterFS 10.3 bricks, with real faults (SIGTERM, SIGSTOP),
//! checked on the bricks themselves (bytes, gfid, AFR markers) and by GlusterFS's own tools
//! (`gluster volume heal VOL info`, glustershd).
//!
//! Needs root, glusterd and the gluster CLI; run one test at a time (`--test-threads=1`): each
//! makes its own volume with scripts/dev-cluster.

mod common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use fop::{Dict, Gfid, Iatt, Loc, Subvolume};

/// A file put by gluster-rs is byte-identical on all three bricks, same gfid, no markers; heal
/// info reports 0 entries.
#[test]
fn put_is_identical_on_all_bricks() {
    if skip() {
        return;
    }
    let v = TestVolume::up("afrt-put", "1x3");
    let rt = runtime();
    let vol = rt.block_on(connect(&v.name, true));
    let big = pattern(3 * 1024 * 1024 + 123, 1);
    rt.block_on(async {
        put(vol.top.as_ref(), "big", &big, 128 * 1024)
            .await
            .unwrap();
        for i in 0..20 {
            put(
                vol.top.as_ref(),
                &format!("small{i}"),
                &pattern(4096 + i, i as u8),
                4096,
            )
            .await
            .unwrap();
        }
        assert_eq!(get(vol.top.as_ref(), "big").await.unwrap(), big);
    });
    let bricks = v.bricks();
    assert_eq!(assert_identical(&bricks, "big"), big);
    for i in 0..20 {
        assert_eq!(
            assert_identical(&bricks, &format!("small{i}")),
            pattern(4096 + i, i as u8)
        );
    }
    for b in &bricks {
        let m = nonzero_markers(b);
        assert!(m.is_empty(), "root of {} has markers {m:?}", b.display());
    }
    assert_eq!(v.heal_info_entries(), 0);
    rt.block_on(vol.shutdown());
}

/// Entry and metadata operations reach every brick with the same gfid and leave no markers.
#[test]
fn entry_and_metadata_ops_are_replicated() {
    if skip() {
        return;
    }
    let v = TestVolume::up("afrt-entry", "1x3");
    let rt = runtime();
    let vol = rt.block_on(connect(&v.name, true));
    let top = vol.top.clone();
    let c = root();
    rt.block_on(async {
        let rootl = top
            .lookup(&c, &Loc::gfid(Gfid::ROOT), &Dict::new())
            .await
            .unwrap();
        let dir = top
            .mkdir(
                &c,
                &Loc::entry(rootl.iatt.gfid, "d"),
                0o755,
                0o022,
                &Dict::new(),
            )
            .await
            .unwrap();
        let dgfid = dir.iatt.gfid;
        let (fd, f) = top
            .create(
                &c,
                &Loc::entry(dgfid, "f"),
                libc::O_RDWR,
                0o644,
                0,
                &Dict::new(),
            )
            .await
            .unwrap();
        top.write(&c, &fd, 0, Bytes::from_static(b"hello"))
            .await
            .unwrap();
        close(top.as_ref(), &fd).await.unwrap();
        top.symlink(&c, b"f", &Loc::entry(dgfid, "s"), 0, &Dict::new())
            .await
            .unwrap();
        top.link(
            &c,
            &Loc::gfid(f.iatt.gfid),
            &Loc::entry(dgfid, "hard"),
            &Dict::new(),
        )
        .await
        .unwrap();
        top.rename(
            &c,
            &Loc::entry(dgfid, "hard").with_gfid(f.iatt.gfid),
            &Loc::entry(dgfid, "moved"),
            &Dict::new(),
        )
        .await
        .unwrap();
        let attr = Iatt {
            mode: 0o600,
            ..Default::default()
        };
        top.setattr(&c, &Loc::gfid(f.iatt.gfid), &attr, fop::set_attr::MODE)
            .await
            .unwrap();
        let mut x = Dict::new();
        x.set_bin("user.k", Bytes::from_static(b"v"));
        top.setxattr(&c, &Loc::gfid(f.iatt.gfid), &x, 0)
            .await
            .unwrap();
        let got = top
            .getxattr(&c, &Loc::gfid(f.iatt.gfid), Some("user.k"))
            .await
            .unwrap();
        assert_eq!(got.get_bytes("user.k").map(|b| b.as_ref()), Some(&b"v"[..]));
        top.mknod(
            &c,
            &Loc::entry(dgfid, "fifo"),
            libc::S_IFIFO | 0o644,
            0,
            0,
            &Dict::new(),
        )
        .await
        .unwrap();
        top.mkdir(&c, &Loc::entry(dgfid, "gone"), 0o755, 0, &Dict::new())
            .await
            .unwrap();
        let gone = top
            .lookup(&c, &Loc::entry(dgfid, "gone"), &Dict::new())
            .await
            .unwrap();
        top.rmdir(
            &c,
            &Loc::entry(dgfid, "gone").with_gfid(gone.iatt.gfid),
            0,
            &Dict::new(),
        )
        .await
        .unwrap();
        top.unlink(&c, &Loc::entry(dgfid, "s"), &Dict::new())
            .await
            .unwrap();
        // Errors every brick gives alike blame nobody.
        let e = top
            .mkdir(&c, &Loc::entry(dgfid, "f"), 0o755, 0, &Dict::new())
            .await
            .unwrap_err();
        assert!(e.is(libc::EEXIST), "{e}");
    });
    let bricks = v.bricks();
    assert_identical(&bricks, "d/f");
    for b in &bricks {
        let d = b.join("d");
        assert!(
            nonzero_markers(&d).is_empty(),
            "{} markers {:?}",
            d.display(),
            nonzero_markers(&d)
        );
        assert!(
            b.join("d/moved").exists() && !b.join("d/hard").exists() && !b.join("d/s").exists()
        );
        assert!(!b.join("d/gone").exists() && b.join("d/fifo").exists());
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(b.join("d/f"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(
            xattrs(&b.join("d/f")).get("user.k").map(String::as_str),
            Some("0x76")
        );
        assert_eq!(
            xattrs(&d).get("trusted.gfid"),
            xattrs(&bricks[0].join("d")).get("trusted.gfid")
        );
    }
    assert_eq!(v.heal_info_entries(), 0);
    rt.block_on(vol.shutdown());
}

/// One brick killed: writes succeed, the survivors blame it; `volume start force` brings it back
/// and glustershd heals everything to identical copies.
#[test]
fn dead_brick_is_blamed_and_healed_by_glustershd() {
    if skip() {
        return;
    }
    let v = TestVolume::up("afrt-kill1", "1x3");
    let rt = runtime();
    let vol = rt.block_on(connect(&v.name, true));
    let before = pattern(200_000, 7);
    rt.block_on(put(vol.top.as_ref(), "old", &before, 65536))
        .unwrap();
    v.kill_brick(2);
    std::thread::sleep(Duration::from_secs(1));
    let data: Vec<Vec<u8>> = (0..5)
        .map(|i| pattern(100_000 + i * 1000, 10 + i as u8))
        .collect();
    rt.block_on(async {
        for (i, d) in data.iter().enumerate() {
            put(vol.top.as_ref(), &format!("new{i}"), d, 32768)
                .await
                .unwrap();
        }
        // Overwrite an existing file too.
        let fd = open(vol.top.as_ref(), "old", libc::O_RDWR).await.unwrap();
        vol.top
            .write(&root(), &fd, 0, Bytes::from_static(b"CHANGED"))
            .await
            .unwrap();
        close(vol.top.as_ref(), &fd).await.unwrap();
        tokio::time::sleep(Duration::from_millis(1500)).await;
    });
    let bricks = v.bricks();
    let blame_key = format!("trusted.afr.{}-client-2", v.name);
    for b in &bricks[..2] {
        let old = nonzero_markers(&b.join("old"));
        let c = counters(
            old.get(&blame_key)
                .unwrap_or_else(|| panic!("{}: old not blamed: {old:?}", b.display())),
        );
        assert!(c[0] > 0, "data counter of {blame_key} on old: {c:?}");
        for i in 0..5 {
            let m = nonzero_markers(&b.join(format!("new{i}")));
            assert!(
                m.contains_key(&blame_key),
                "new{i} on {}: {m:?}",
                b.display()
            );
        }
        let r = nonzero_markers(b);
        let rc = counters(
            r.get(&blame_key)
                .unwrap_or_else(|| panic!("root not blamed: {r:?}")),
        );
        assert!(rc[2] > 0, "entry counter on the root: {rc:?}");
        assert!(
            !m_has_dirty(&nonzero_markers(&b.join("old"))),
            "dirty left on old"
        );
    }
    assert!(v.heal_info_entries() > 0);
    v.start_force();
    v.heal_and_wait(Duration::from_secs(180));
    let mut old = before.clone();
    old[..7].copy_from_slice(b"CHANGED");
    assert_eq!(assert_identical(&bricks, "old"), old);
    for (i, d) in data.iter().enumerate() {
        assert_eq!(&assert_identical(&bricks, &format!("new{i}")), d);
    }
    rt.block_on(vol.shutdown());
}

fn m_has_dirty(m: &std::collections::BTreeMap<String, String>) -> bool {
    m.contains_key("trusted.afr.dirty")
}

/// Two bricks killed: modifications fail cleanly, nothing diverges, and no read returns stale
/// data — even from a brick that the dead ones blame.
#[test]
fn two_dead_bricks_fail_cleanly_without_stale_reads() {
    if skip() {
        return;
    }
    let v = TestVolume::up("afrt-kill2", "1x3");
    // Brick 0 must stay stale: no client-side heal either (the lookups would heal it).
    for kind in ["data", "metadata", "entry"] {
        v.set(&format!("cluster.{kind}-self-heal"), "off");
    }
    let rt = runtime();
    let vol = rt.block_on(connect(&v.name, true));
    rt.block_on(put(vol.top.as_ref(), "f", b"version-1", 4096))
        .unwrap();
    // Brick 0 misses version 2.
    v.kill_brick(0);
    std::thread::sleep(Duration::from_millis(500));
    rt.block_on(async {
        let fd = open(vol.top.as_ref(), "f", libc::O_RDWR).await.unwrap();
        vol.top
            .write(&root(), &fd, 0, Bytes::from_static(b"version-2"))
            .await
            .unwrap();
        close(vol.top.as_ref(), &fd).await.unwrap();
    });
    // Bring brick 0 back (not healed: self-heal daemon off), then kill the two good ones.
    v.set("cluster.self-heal-daemon", "off");
    v.start_force();
    let t = Instant::now();
    while !vol.bricks()[0].is_connected() && t.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(
        rt.block_on(get(vol.top.as_ref(), "f")).unwrap(),
        b"version-2",
        "read with all three up"
    );
    v.kill_brick(1);
    v.kill_brick(2);
    std::thread::sleep(Duration::from_secs(1));
    rt.block_on(async {
        let top = vol.top.as_ref();
        match get(top, "f").await {
            Ok(d) => assert_ne!(d, b"version-1", "stale read"),
            Err(e) => assert!(e.is(libc::ENOTCONN) || e.is(libc::EIO), "read error {e}"),
        }
        let e = create(top, "new", 0).await.unwrap_err();
        assert!(e.is(libc::ENOTCONN), "create: {e}");
        let e = top
            .mkdir(
                &root(),
                &Loc::entry(Gfid::ROOT, "dir"),
                0o755,
                0,
                &Dict::new(),
            )
            .await
            .unwrap_err();
        assert!(e.is(libc::ENOTCONN), "mkdir: {e}");
        if let Ok(fd) = open(top, "f", libc::O_RDWR).await {
            let e = top
                .write(&root(), &fd, 0, Bytes::from_static(b"x"))
                .await
                .unwrap_err();
            assert!(e.is(libc::ENOTCONN), "write: {e}");
            top.release(&fd).await;
        }
    });
    let bricks = v.bricks();
    assert!(!bricks[0].join("new").exists() && !bricks[0].join("dir").exists());
    assert_eq!(std::fs::read(bricks[0].join("f")).unwrap(), b"version-1");
    rt.block_on(vol.shutdown());
}

/// One brick stopped (SIGSTOP): a stream of small O_DIRECT writes completes at the speed of the
/// other two; fsync waits for the stopped one, and after SIGCONT all copies are identical.
#[test]
fn slow_brick_does_not_slow_writes_but_fsync_waits() {
    if skip() {
        return;
    }
    let v = TestVolume::up("afrt-slow", "1x3");
    let rt = runtime();
    let (a, bricks_c) = rt.block_on(direct_afr(&v.name, true));
    let top: &dyn Subvolume = &a;
    let c = root();
    let fd = rt.block_on(create(top, "stream", libc::O_DIRECT)).unwrap();
    let block = |i: usize| Bytes::from(pattern(4096, i as u8));
    rt.block_on(async {
        top.write(&c, &fd, 0, block(0)).await.unwrap();
        top.fsync(&c, &fd, false).await.unwrap();
    });
    v.signal_brick(2, "STOP");
    let t = Instant::now();
    rt.block_on(async {
        for i in 1..=50 {
            top.write(&c, &fd, (i * 4096) as u64, block(i))
                .await
                .unwrap();
        }
    });
    let took = t.elapsed();
    eprintln!("50 x 4 KiB O_DIRECT writes with one brick stopped: {took:?}");
    assert!(
        took < Duration::from_secs(3),
        "writes waited for the stopped brick: {took:?}"
    );
    assert!(
        a.background_writes(&fd.gfid) > 0,
        "the stopped brick has writes outstanding"
    );
    // A read of what was just written is served from a brick that has it.
    let back = rt.block_on(top.read(&c, &fd, 50 * 4096, 4096)).unwrap();
    assert_eq!(back, block(50));
    // fsync must wait for the stopped brick.
    let fsync = {
        let a2 = a.clone();
        let fd2 = fd.clone();
        rt.spawn(async move { a2.fsync(&root(), &fd2, false).await })
    };
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        !fsync.is_finished(),
        "fsync returned while a brick was stopped"
    );
    v.signal_brick(2, "CONT");
    rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(60), fsync)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(a.background_writes(&fd.gfid), 0);
        close(top, &fd).await.unwrap();
    });
    let bricks = v.bricks();
    let want: Vec<u8> = (0..=50).flat_map(|i| pattern(4096, i as u8)).collect();
    assert_eq!(assert_identical(&bricks, "stream"), want);
    assert_eq!(v.heal_info_entries(), 0);
    for b in bricks_c {
        rt.block_on(b.shutdown());
    }
}

/// The same with first ack off: a write waits for the stopped brick (as the C client does).
#[test]
fn wait_all_mode_waits_for_the_slow_brick() {
    if skip() {
        return;
    }
    let v = TestVolume::up("afrt-waitall", "1x3");
    let rt = runtime();
    let (a, bricks_c) = rt.block_on(direct_afr(&v.name, false));
    let c = root();
    let fd = rt.block_on(create(&a, "f", 0)).unwrap();
    rt.block_on(a.write(&c, &fd, 0, Bytes::from_static(b"first")))
        .unwrap();
    v.signal_brick(2, "STOP");
    let w = {
        let (a2, fd2) = (a.clone(), fd.clone());
        rt.spawn(async move {
            a2.write(&root(), &fd2, 5, Bytes::from_static(b"second"))
                .await
        })
    };
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        !w.is_finished(),
        "wait-all write returned while a brick was stopped"
    );
    v.signal_brick(2, "CONT");
    rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(60), w)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        close(&a, &fd).await.unwrap();
    });
    assert_eq!(assert_identical(&v.bricks(), "f"), b"firstsecond");
    for b in bricks_c {
        rt.block_on(b.shutdown());
    }
}

/// Two gluster-rs clients writing overlapping ranges of one file at once: identical copies.
#[test]
fn two_clients_overlapping_writes_stay_identical() {
    if skip() {
        return;
    }
    let v = TestVolume::up("afrt-2cl", "1x3");
    let rt = runtime();
    let v1 = rt.block_on(connect(&v.name, true));
    let v2 = rt.block_on(connect(&v.name, true));
    rt.block_on(put(
        v1.top.as_ref(),
        "shared",
        &vec![0u8; 256 * 1024],
        65536,
    ))
    .unwrap();
    rt.block_on(async {
        let f1 = open(v1.top.as_ref(), "shared", libc::O_RDWR).await.unwrap();
        let f2 = open(v2.top.as_ref(), "shared", libc::O_RDWR).await.unwrap();
        let (t1, t2) = (v1.top.clone(), v2.top.clone());
        let w1 = tokio::spawn(async move {
            for i in 0..200u64 {
                let off = (i * 7919) % (200 * 1024);
                t1.write(&root(), &f1, off, Bytes::from(pattern(8192, 1)))
                    .await
                    .unwrap();
            }
            t1.fsync(&root(), &f1, false).await.unwrap();
            close(t1.as_ref(), &f1).await.unwrap();
        });
        let w2 = tokio::spawn(async move {
            for i in 0..200u64 {
                let off = (i * 6271) % (200 * 1024);
                t2.write(&root(), &f2, off, Bytes::from(pattern(8192, 2)))
                    .await
                    .unwrap();
            }
            close(t2.as_ref(), &f2).await.unwrap();
        });
        tokio::time::timeout(Duration::from_secs(240), async {
            w1.await.unwrap();
            w2.await.unwrap();
        })
        .await
        .expect("both writers finish");
    });
    assert_identical(&v.bricks(), "shared");
    assert_eq!(v.heal_info_entries(), 0);
    rt.block_on(v1.shutdown());
    rt.block_on(v2.shutdown());
}

/// gluster-rs beside a GlusterFS FUSE mount (C client), overlapping writes at once.
#[test]
fn gluster_rs_beside_c_client_stays_identical() {
    if skip() {
        return;
    }
    let v = TestVolume::up("afrt-cmix", "1x3");
    let cmount = CMount::new(&v.name, "c");
    let mnt = cmount.path().display().to_string();
    let rt = runtime();
    let vol = rt.block_on(connect(&v.name, true));
    rt.block_on(put(
        vol.top.as_ref(),
        "shared",
        &vec![0u8; 256 * 1024],
        65536,
    ))
    .unwrap();
    let path = format!("{mnt}/shared");
    let cwriter = std::thread::spawn(move || {
        use std::os::unix::fs::FileExt;
        let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        for i in 0..200u64 {
            let off = (i * 6271) % (200 * 1024);
            f.write_all_at(&pattern(8192, 2), off).unwrap();
        }
        f.sync_all().unwrap();
    });
    rt.block_on(async {
        let fd = open(vol.top.as_ref(), "shared", libc::O_RDWR)
            .await
            .unwrap();
        for i in 0..200u64 {
            let off = (i * 7919) % (200 * 1024);
            vol.top
                .write(&root(), &fd, off, Bytes::from(pattern(8192, 1)))
                .await
                .unwrap();
        }
        close(vol.top.as_ref(), &fd).await.unwrap();
    });
    cwriter.join().unwrap();
    drop(cmount);
    assert_identical(&v.bricks(), "shared");
    assert_eq!(v.heal_info_entries(), 0);
    rt.block_on(vol.shutdown());
}

/// Distribute-replicate 2x3 under DHT: each file lives on one replica set, identical there.
#[test]
fn distribute_replicate_2x3() {
    if skip() {
        return;
    }
    let v = TestVolume::up("afrt-dr", "2x3");
    let rt = runtime();
    let vol = rt.block_on(connect(&v.name, true));
    let names: Vec<String> = (0..16).map(|i| format!("file{i}")).collect();
    rt.block_on(async {
        for (i, n) in names.iter().enumerate() {
            put(vol.top.as_ref(), n, &pattern(10_000 + i, i as u8), 4096)
                .await
                .unwrap();
        }
        for (i, n) in names.iter().enumerate() {
            assert_eq!(
                get(vol.top.as_ref(), n).await.unwrap(),
                pattern(10_000 + i, i as u8)
            );
        }
    });
    let bricks = v.bricks();
    let sets = [&bricks[0..3], &bricks[3..6]];
    let mut used = [0; 2];
    for (i, n) in names.iter().enumerate() {
        let holders: Vec<usize> = (0..2)
            .filter(|&s| {
                sets[s][0]
                    .join(n)
                    .metadata()
                    .map(|m| m.len() > 0)
                    .unwrap_or(false)
            })
            .collect();
        assert_eq!(holders.len(), 1, "{n} on sets {holders:?}");
        used[holders[0]] += 1;
        assert_eq!(
            assert_identical(sets[holders[0]], n),
            pattern(10_000 + i, i as u8)
        );
    }
    assert!(
        used[0] > 0 && used[1] > 0,
        "both replica sets used: {used:?}"
    );
    assert_eq!(v.heal_info_entries(), 0);
    rt.block_on(vol.shutdown());
}
