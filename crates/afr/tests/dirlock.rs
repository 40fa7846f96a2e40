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
