//! New files created for writing (the write-expected hint the fuse layer sets after a run of
//! created files that were written, `fop::WRITE_EXPECTED_KEY`) against real GlusterFS 10.3
//! bricks: AFR creates them already marked dirty, which is the first write's pre-op on every
//! brick, plus one zero xattrop on one brick so that its index lists the file. While written, the
//! bricks look as after AFR's own pre-op (dirty everywhere, in a brick's dirty index, where
//! glustershd and heal info look); once closed it is clean and identical everywhere. A hinted file that is never written is cleaned at release.
//!
//! Needs root, glusterd and the gluster CLI; run one test at a time (`--test-threads=1`).

mod common;

use std::path::Path;

use bytes::Bytes;
use common::*;
use fop::{Dict, Fd, Loc, Subvolume};

async fn create_hinted(top: &dyn Subvolume, name: &str) -> fop::Result<Fd> {
    let loc = Loc::entry(fop::Gfid::ROOT, Bytes::copy_from_slice(name.as_bytes()));
    let mut x = Dict::new();
    x.set_str(fop::WRITE_EXPECTED_KEY, "1");
    let (fd, _) = top
        .create(
            &root(),
            &loc,
            libc::O_RDWR | libc::O_CREAT,
            0o644,
            0o022,
            &x,
        )
        .await?;
    Ok(fd)
}

fn dirty(path: &Path) -> [i32; 3] {
    xattrs(path)
        .get("trusted.afr.dirty")
        .map(|v| counters(v))
        .unwrap_or_default()
}

/// The GFID of a brick file as the index names it (8-4-4-4-12 hex).
fn gfid_name(path: &Path) -> String {
    let hex = xattrs(path)
        .get("trusted.gfid")
        .cloned()
        .unwrap_or_default();
    let h = hex.trim_start_matches("0x");
    assert_eq!(h.len(), 32, "{} trusted.gfid {hex}", path.display());
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

#[test]
fn a_file_created_for_writing_is_born_dirty() {
    if skip() {
        return;
    }
    let v = TestVolume::up("nf-born", "1x3");
    // Keep the eager lock (and the post-op) until close, however slow the checks below are.
    v.set("cluster.post-op-delay-secs", "60");
    gluster(&["volume", "profile", &v.name, "start"]);
    let rt = runtime();
    let vol = rt.block_on(connect(&v.name, true));
    let top = vol.top.clone();
    let bricks = v.bricks();
    let data = pattern(8192, 7);
    clear_profile(&v.name);
    let fd = rt.block_on(async {
        let fd = create_hinted(top.as_ref(), "f").await.unwrap();
        top.write(&root(), &fd, 0, Bytes::copy_from_slice(&data))
            .await
            .unwrap();
        fd
    });
    // Written, not closed: dirty on every brick, and listed by the index of one. (heal info
    // itself reports a file dirty everywhere and blamed nowhere as "no-heal", as during any
    // write: afr-common.c afr_get_heal_info.)
    for b in &bricks {
        assert_eq!(dirty(&b.join("f"))[0], 1, "{} not dirty", b.display());
    }
    let gfid = gfid_name(&bricks[0].join("f"));
    let indexed = bricks
        .iter()
        .filter(|b| b.join(".glusterfs/indices/dirty").join(&gfid).exists())
        .count();
    assert!(indexed >= 1, "{gfid} in no brick's dirty index");
    rt.block_on(close(top.as_ref(), &fd)).unwrap();
    let counts = profile_counts(&v.name);
    eprintln!("create + write + close: {counts:?}");
    // No pre-op of +1 on three bricks: one zero xattrop and the three post-op ones.
    let xattrops = count(&counts, "FXATTROP") + count(&counts, "XATTROP");
    assert_eq!(xattrops, 4, "{counts:?}");
    rt.block_on(vol.shutdown());
    assert_eq!(assert_identical(&bricks, "f"), data);
    for b in &bricks {
        assert!(
            !b.join(".glusterfs/indices/dirty").join(&gfid).exists(),
            "{gfid} left in {}'s dirty index",
            b.display()
        );
    }
    assert_eq!(v.heal_info_entries(), 0);
}

#[test]
fn a_hinted_file_never_written_is_cleaned_at_release() {
    if skip() {
        return;
    }
    let v = TestVolume::up("nf-none", "1x3");
    let rt = runtime();
    let vol = rt.block_on(connect(&v.name, true));
    let top = vol.top.clone();
    rt.block_on(async {
        let fd = create_hinted(top.as_ref(), "empty").await.unwrap();
        close(top.as_ref(), &fd).await.unwrap();
    });
    rt.block_on(vol.shutdown());
    let bricks = v.bricks();
    // assert_identical also checks that no AFR marker is left.
    assert!(assert_identical(&bricks, "empty").is_empty());
    assert_eq!(v.heal_info_entries(), 0);
}
