//! Eager entry locks (afr `dirlock`) against real GlusterFS 10.3 bricks: a busy directory's
//! creates and unlinks run under one whole-directory entrylk instead of a lock and an unlock per
//! name, and another client working in the same directory (the GlusterFS C client) still gets its
//! turn, with every file identical on all bricks afterwards.
//!
//! Needs root, glusterd and the gluster CLI; run one test at a time (`--test-threads=1`).

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::*;
use fop::{Dict, Loc};

const FILES: usize = 60;

#[test]
fn a_busy_directory_needs_no_lock_per_entry() {
    if skip() {
        return;
    }
    let v = TestVolume::up("lk-dirl", "1x3");
    gluster(&["volume", "profile", &v.name, "start"]);
    let rt = runtime();
    let vol = rt.block_on(connect(&v.name, true));
    let top = vol.top.clone();
    clear_profile(&v.name);
    rt.block_on(async {
        for i in 0..FILES {
            put(
                top.as_ref(),
                &format!("f{i}"),
                &pattern(4096, i as u8),
                4096,
            )
            .await
            .unwrap();
        }
    });
    let created = profile_counts(&v.name);
    eprintln!("{FILES} creates: {created:?}");
    assert_eq!(
        count(&created, "MKNOD") + count(&created, "CREATE"),
        3 * FILES as u64
    );
    // A lock and an unlock per file on each brick would be 6 per file.
    let entrylk = count(&created, "ENTRYLK");
    assert!(
        entrylk <= FILES as u64,
        "{entrylk} ENTRYLK for {FILES} creates: {created:?}"
    );

    clear_profile(&v.name);
    rt.block_on(async {
        for i in 0..FILES / 2 {
            let loc = Loc::entry(fop::Gfid::ROOT, Bytes::from(format!("f{i}")));
            top.unlink(&root(), &loc, &Dict::new()).await.unwrap();
        }
    });
    let removed = profile_counts(&v.name);
    eprintln!("{} unlinks: {removed:?}", FILES / 2);
    assert_eq!(count(&removed, "UNLINK"), 3 * (FILES / 2) as u64);
    let entrylk = count(&removed, "ENTRYLK");
    assert!(
        entrylk <= (FILES / 2) as u64,
        "{entrylk} ENTRYLK for {} unlinks: {removed:?}",
        FILES / 2
    );
    rt.block_on(vol.shutdown());

    let bricks = v.bricks();
    for i in 0..FILES / 2 {
        for b in &bricks {
            assert!(
                !b.join(format!("f{i}")).exists(),
                "f{i} left on {}",
                b.display()
            );
        }
    }
    for i in FILES / 2..FILES {
        assert_eq!(
            assert_identical(&bricks, &format!("f{i}")),
            pattern(4096, i as u8)
        );
    }
    for b in &bricks {
        let m = nonzero_markers(b);
        assert!(m.is_empty(), "root of {} has markers {m:?}", b.display());
    }
    assert_eq!(v.heal_info_entries(), 0);
}

#[test]
fn the_c_client_gets_its_turn_in_a_shared_directory() {
    if skip() {
        return;
    }
    let v = TestVolume::up("lk-dirc", "1x3");
    let c = CMount::new(&v.name, "c");
    let rt = runtime();
    let vol = rt.block_on(connect(&v.name, true));
    let top = vol.top.clone();
    // The C client creates files in the same directory all along.
    let cdir = c.path().to_path_buf();
    let cwriter = std::thread::spawn(move || {
        for i in 0..FILES {
            std::fs::write(
                cdir.join(format!("c{i}")),
                pattern(2048, 200 + (i % 50) as u8),
            )
            .unwrap();
        }
    });
    let ours = rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(120), async {
            for i in 0..3 * FILES {
                put(
                    top.as_ref(),
                    &format!("g{i}"),
                    &pattern(1024, i as u8),
                    1024,
                )
                .await?;
            }
            Ok::<(), fop::FopError>(())
        })
        .await
    });
    cwriter.join().unwrap();
    ours.expect("our creates finished").unwrap();
    rt.block_on(vol.shutdown());
    drop(c);

    let bricks = v.bricks();
    for i in 0..FILES {
        assert_eq!(
            assert_identical(&bricks, &format!("c{i}")),
            pattern(2048, 200 + (i % 50) as u8)
        );
    }
    for i in 0..3 * FILES {
        assert_eq!(
            assert_identical(&bricks, &format!("g{i}")),
            pattern(1024, i as u8)
        );
    }
    assert_eq!(v.heal_info_entries(), 0);
}

/// Names not in a locked directory are answered ENOENT without asking a brick, while every name
/// that exists is still found: those listed when the lock was taken and those the C client
/// creates in between our locks.
#[test]
fn lookups_in_a_locked_directory_know_what_is_there() {
    if skip() {
        return;
    }
    let v = TestVolume::up("lk-dirn", "1x3");
    gluster(&["volume", "profile", &v.name, "start"]);
    let c = CMount::new(&v.name, "c");
    let rt = runtime();
    let vol = rt.block_on(connect(&v.name, true));
    let top = vol.top.clone();
    let lookup = |name: String| {
        let top = top.clone();
        async move {
            let loc = Loc::entry(fop::Gfid::ROOT, Bytes::from(name));
            top.lookup(&root(), &loc, &Dict::new()).await
        }
    };
    // The C client creates files in the directory all along; `done` counts the finished ones.
    let done = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let (cdir, cdone) = (c.path().to_path_buf(), done.clone());
    let cwriter = std::thread::spawn(move || {
        for i in 0..FILES {
            std::fs::write(cdir.join(format!("c{i}")), b"c").unwrap();
            cdone.store(i + 1, std::sync::atomic::Ordering::SeqCst);
        }
    });
    rt.block_on(async {
        for i in 0..3 * FILES {
            put(top.as_ref(), &format!("g{i}"), b"g", 1).await.unwrap();
            let k = done.load(std::sync::atomic::Ordering::SeqCst);
            if k > 0 {
                let l = lookup(format!("c{}", k - 1)).await;
                assert!(l.is_ok(), "c{} written by the C client: {l:?}", k - 1);
            }
            let l = lookup(format!("g{i}")).await;
            assert!(l.is_ok(), "g{i}: {l:?}");
            let l = lookup(format!("none{i}")).await;
            assert!(matches!(&l, Err(e) if e.is(libc::ENOENT)), "none{i}: {l:?}");
        }
    });
    cwriter.join().unwrap();
    rt.block_on(async {
        for i in 0..FILES {
            let l = lookup(format!("c{i}")).await;
            assert!(l.is_ok(), "c{i}: {l:?}");
        }
    });
    drop(c);

    // Alone in a directory (the C client's turns above make ours use name locks for a while):
    // the negative lookup before each create costs (almost) nothing.
    let dir = rt
        .block_on(top.mkdir(
            &root(),
            &Loc::entry(fop::Gfid::ROOT, Bytes::from_static(b"alone")),
            0o755,
            0o022,
            &gfid_req(),
        ))
        .unwrap()
        .iatt
        .gfid;
    clear_profile(&v.name);
    rt.block_on(async {
        for i in 0..FILES {
            let loc = Loc::entry(dir, Bytes::from(format!("h{i}")));
            let l = top.lookup(&root(), &loc, &Dict::new()).await;
            assert!(matches!(&l, Err(e) if e.is(libc::ENOENT)), "h{i}: {l:?}");
            let (fd, _) = top
                .create(
                    &root(),
                    &loc,
                    libc::O_RDWR | libc::O_CREAT,
                    0o644,
                    0o022,
                    &gfid_req(),
                )
                .await
                .unwrap();
            top.write(&root(), &fd, 0, Bytes::from_static(b"h"))
                .await
                .unwrap();
            close(top.as_ref(), &fd).await.unwrap();
        }
    });
    let counts = profile_counts(&v.name);
    eprintln!("{FILES} lookups and creates: {counts:?}");
    // Asking the bricks would be two LOOKUPs per name (quorum lookups), 2 * FILES.
    let lookups = count(&counts, "LOOKUP");
    assert!(
        lookups <= FILES as u64 / 2,
        "{lookups} LOOKUP for {FILES} negative lookups: {counts:?}"
    );
    assert!(count(&counts, "READDIR") > 0, "{counts:?}");
    rt.block_on(vol.shutdown());
    assert_eq!(v.heal_info_entries(), 0);
}

fn gfid_req() -> Dict {
    let mut d = Dict::new();
    d.set_gfuuid("gfid-req", fop::Gfid(*uuid::Uuid::new_v4().as_bytes()));
    d
}
