//! ensure-durability against real GlusterFS 10.3 bricks, counted with `gluster volume profile`:
//! the post-op fsyncs the bricks only after writes that were neither appends nor through an
//! O_SYNC/O_DSYNC fd (afr-inode-write.c `afr_process_post_writev`, afr-transaction.c
//! `afr_changelog_post_op_safe`), as the C client does.
//!
//! Needs root, glusterd and the gluster CLI; run one test at a time (`--test-threads=1`).

mod common;

use bytes::Bytes;
use common::*;

/// Creating small files (create, one write at the end of file, close) sends no FSYNC; an
/// overwrite does (one per brick at close), unless through an O_DSYNC fd.
#[test]
fn fsync_only_after_unstable_writes() {
    if skip() {
        return;
    }
    let v = TestVolume::up("lk-dur", "1x3");
    gluster(&["volume", "profile", &v.name, "start"]);
    let rt = runtime();
    let vol = rt.block_on(connect(&v.name, true));
    let top = vol.top.clone();
    const FILES: usize = 20;

    clear_profile(&v.name);
    let t = std::time::Instant::now();
    rt.block_on(async {
        for i in 0..FILES {
            put(
                top.as_ref(),
                &format!("small{i}"),
                &pattern(4096, i as u8),
                4096,
            )
            .await
            .unwrap();
        }
    });
    let took = t.elapsed();
    let created = profile_counts(&v.name);
    eprintln!("create+write+close x{FILES} in {took:?}: {created:?}");
    assert_eq!(count(&created, "CREATE"), 3 * FILES as u64, "{created:?}");
    assert_eq!(count(&created, "WRITE"), 3 * FILES as u64, "{created:?}");
    assert_eq!(count(&created, "FSYNC"), 0, "{created:?}");

    // Appending to an existing file, in several writes: still no fsync.
    clear_profile(&v.name);
    rt.block_on(async {
        let fd = open(top.as_ref(), "small0", libc::O_RDWR).await.unwrap();
        for k in 1..4u64 {
            top.write(
                &root(),
                &fd,
                4096 * k,
                Bytes::from(pattern(4096, 50 + k as u8)),
            )
            .await
            .unwrap();
        }
        close(top.as_ref(), &fd).await.unwrap();
    });
    let appended = profile_counts(&v.name);
    eprintln!("3 appends + close: {appended:?}");
    assert_eq!(count(&appended, "FSYNC"), 0, "{appended:?}");

    // An overwrite is not an append: the bricks are synced before the post-op clears dirty.
    clear_profile(&v.name);
    rt.block_on(async {
        let fd = open(top.as_ref(), "small1", libc::O_RDWR).await.unwrap();
        top.write(&root(), &fd, 0, Bytes::from(pattern(100, 99)))
            .await
            .unwrap();
        close(top.as_ref(), &fd).await.unwrap();
    });
    let overwritten = profile_counts(&v.name);
    eprintln!("overwrite + close: {overwritten:?}");
    assert_eq!(count(&overwritten, "FSYNC"), 3, "{overwritten:?}");

    // The same through an O_DSYNC fd: each write is durable already.
    clear_profile(&v.name);
    rt.block_on(async {
        let fd = open(top.as_ref(), "small2", libc::O_RDWR | libc::O_DSYNC)
            .await
            .unwrap();
        top.write(&root(), &fd, 0, Bytes::from(pattern(100, 98)))
            .await
            .unwrap();
        close(top.as_ref(), &fd).await.unwrap();
    });
    let dsync = profile_counts(&v.name);
    eprintln!("O_DSYNC overwrite + close: {dsync:?}");
    assert_eq!(count(&dsync, "FSYNC"), 0, "{dsync:?}");

    rt.block_on(vol.shutdown());
    let bricks = v.bricks();
    let mut expect0 = pattern(4096, 0);
    for k in 1..4u8 {
        expect0.extend_from_slice(&pattern(4096, 50 + k));
    }
    assert_eq!(assert_identical(&bricks, "small0"), expect0);
    let mut expect1 = pattern(4096, 1);
    expect1[..100].copy_from_slice(&pattern(100, 99));
    assert_eq!(assert_identical(&bricks, "small1"), expect1);
    let mut expect2 = pattern(4096, 2);
    expect2[..100].copy_from_slice(&pattern(100, 98));
    assert_eq!(assert_identical(&bricks, "small2"), expect2);
    for i in 3..FILES {
        assert_eq!(
            assert_identical(&bricks, &format!("small{i}")),
            pattern(4096, i as u8)
        );
    }
    assert_eq!(v.heal_info_entries(), 0);
}
