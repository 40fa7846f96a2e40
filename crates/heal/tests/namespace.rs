//! Creates, renames, deletes of files and directories, chmod, chown, setxattr, removexattr,
//! truncates, hard links and symlinks while a brick is down (through a GlusterFS C-client mount,
//! which writes real AFR markers and granular entry indices); `heal info` agrees with
//! GlusterFS's before the heal; after the heal, the trees and metadata of all three bricks are
//! identical and GlusterFS reports nothing to heal.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::*;

#[test]
fn namespace_and_metadata_changes_while_a_brick_is_down() {
    if skip() {
        return;
    }
    let v = TestVolume::up(&format!("healns{}", std::process::id() % 100000));
    let m = v.mount_c();
    let m = m.display().to_string();
    sh(&format!(
        "cd {m} && mkdir -p a/b/c x/old/deep keep && \
         for i in 1 2 3 4 5; do head -c $((i*3000)) /dev/urandom > a/f$i; done && \
         head -c 100000 /dev/urandom > x/old/deep/g && echo keep > keep/k && \
         setfattr -n user.rm -v gone a/f3 && ln -s f1 a/s1 && ln a/f5 keep/hard5 && \
         echo inner > a/b/c/inner && sync"
    ));
    v.kill_brick(1);
    sh(&format!(
        "cd {m} && mkdir -p new/deep && echo new > new/deep/f && head -c 70000 /dev/urandom > new/big && \
         mv a/f1 x/f1r && mv a/b x/bb && rm a/f2 && rm -rf x/old && \
         chmod 600 a/f3 && chmod 700 a && chown 1234:4321 a/f4 && \
         setfattr -n user.k -v v1 a/f5 && setfattr -n user.d -v dir a && setfattr -x user.rm a/f3 && \
         truncate -s 1000 a/f4 && echo appended >> keep/k && ln keep/k keep/k2 && ln -s ../keep new/lk && \
         touch -m -d '2020-01-02 03:04:05' keep/k && mv keep/hard5 keep/hard5b && sync"
    ));
    v.start_force();
    // Before healing: our heal info lists what GlusterFS's lists, brick by brick.
    let rt = runtime();
    rt.block_on(async {
        let hv = heal_volume(&v).await;
        let ours = heal::info::heal_info(&hv, false).await;
        let theirs = v.gluster_heal_info_paths();
        for r in &ours {
            let mine: BTreeSet<String> = r.entries.iter().map(|e| e.path.clone()).collect();
            let gl: BTreeSet<String> = theirs
                .get(&r.brick)
                .map(|v| v.iter().map(|p| p.trim_end().to_string()).collect())
                .unwrap_or_default();
            assert_eq!(
                mine, gl,
                "heal info of {} differs from GlusterFS's",
                r.brick
            );
        }
        assert!(
            ours.iter().any(|r| !r.entries.is_empty()),
            "nothing pending?"
        );
        let healed = heal_until_clean(&v, &hv, Duration::from_secs(300)).await;
        assert!(healed > 0);
        // Our own view agrees: nothing left.
        let after = heal::info::heal_info(&hv, false).await;
        assert!(after.iter().all(|r| r.count == Some(0)), "{after:?}");
        hv.shutdown().await;
    });
    let tree = assert_bricks_identical(&v.bricks, true);
    // What entry heal parked in the anonymous-inode directory (x/old, deleted while brick 1 was
    // down) was cleaned up once nothing was pending.
    for b in &v.bricks {
        for e in std::fs::read_dir(b).expect("brick").flatten() {
            if e.file_name()
                .to_string_lossy()
                .starts_with(".glusterfs-anonymous-inode")
            {
                let left: Vec<_> = std::fs::read_dir(e.path())
                    .expect("anon dir")
                    .flatten()
                    .collect();
                assert!(left.is_empty(), "{}: {left:?}", b.display());
            }
        }
    }
    // What the client did is what every brick now has.
    for gone in ["a/f1", "a/f2", "a/b", "x/old"] {
        assert!(!tree.contains_key(gone), "{gone} should be gone");
    }
    for there in [
        "x/f1r",
        "x/bb/c/inner",
        "new/deep/f",
        "new/big",
        "new/lk",
        "keep/k2",
        "keep/hard5b",
    ] {
        assert!(tree.contains_key(there), "{there} missing");
    }
    assert_eq!(tree["a/f3"].mode, 0o600);
    assert!(tree["a/f3"].user_xattrs.is_empty(), "user.rm not removed");
    assert_eq!(tree["a"].mode, 0o700);
    assert_eq!((tree["a/f4"].uid, tree["a/f4"].gid), (1234, 4321));
    assert_eq!(tree["a/f4"].size, 1000);
    assert!(tree["a/f5"].user_xattrs.contains_key("user.k"));
    assert!(tree["a"].user_xattrs.contains_key("user.d"));
    assert_eq!(tree["new/lk"].link.as_deref(), Some("../keep"));
    // Hard links healed as links: one GFID.
    assert_eq!(tree["keep/k"].gfid, tree["keep/k2"].gfid);
    assert_eq!(tree["keep/hard5b"].gfid, tree["a/f5"].gfid);
    // Through the client, the files read back the same from every brick.
    let (n, out) = v.gluster_heal_info();
    assert_eq!(n, 0, "{out}");
}
