//! A brick is replaced by an empty one (its directory emptied, keeping only what GlusterFS 10.3
//! needs to start it: the `trusted.glusterfs.volume-id` xattr and a `.glusterfs` folder), and
//! `gluster-rs heal URL full` rebuilds it identical to the others.

mod common;

use common::*;

#[test]
fn full_heal_rebuilds_an_empty_brick() {
    if skip() {
        return;
    }
    let v = TestVolume::up(&format!("healrp{}", std::process::id() % 100000));
    let m = v.mount_c();
    let m = m.display().to_string();
    sh(&format!(
        "cd {m} && mkdir -p d1/d2/d3 e && for i in $(seq 1 30); do head -c $((i*997)) /dev/urandom > d1/f$i; done && \
         head -c 12000000 /dev/urandom > big && head -c 3000000 /dev/urandom > d1/d2/d3/mid && \
         ln -s ../big d1/sbig && ln d1/f1 e/hard1 && chmod 640 d1/f2 && chown 42:43 d1/f3 && \
         setfattr -n user.tag -v hello d1/f4 && setfattr -n user.dtag -v dir d1/d2 && \
         truncate -s 5000000 sparse && echo tail >> sparse && sync"
    ));
    let before = brick_tree(&v.bricks[0], true);
    v.kill_brick(2);
    let b = v.bricks[2].display().to_string();
    sh(&format!(
        "find {b} -mindepth 1 -maxdepth 1 ! -name .glusterfs -exec rm -rf {{}} + && \
         find {b}/.glusterfs -mindepth 1 -delete && \
         getfattr -n trusted.glusterfs.volume-id -e hex {b} >/dev/null"
    ));
    assert!(brick_tree(&v.bricks[2], false).is_empty());
    v.start_force();
    let state = StateDir::new("replace");
    let out = run(std::process::Command::new(heal_bin()).args([
        "heal",
        &v.addr(),
        "full",
        "--json",
        "--state-dir",
        &state.arg(),
    ]));
    let report: serde_json::Value = serde_json::from_str(&out).expect("json report");
    let r0 = &report["replicas"][0];
    assert_eq!(report["crawl"], "full");
    assert_eq!(r0["heal_failed"], 0, "{out}");
    assert_eq!(r0["split_brain"], 0, "{out}");
    assert!(r0["healed"].as_u64().unwrap_or(0) > 30, "{out}");
    let tree = assert_bricks_identical(&v.bricks, true);
    assert_eq!(tree, before, "the rebuilt volume is not what was written");
    assert_eq!(tree["e/hard1"].gfid, tree["d1/f1"].gfid);
    let (n, info) = v.gluster_heal_info();
    assert_eq!(n, 0, "{info}");
}
