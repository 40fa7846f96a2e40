//! A distributed-replicated volume (2x3): one brick of each replica set dies while files are
//! written, renamed and removed across both sets; `gluster-rs heal URL` (the CLI front end) heals
//! both replica sets; `heal info` and `statistics heal-count` report per brick in GlusterFS's
//! format and as JSON.

mod common;

use std::process::Command;

use common::*;

fn cli(args: &[&str]) -> String {
    run(Command::new(heal_bin()).args(args))
}

#[test]
fn both_replica_sets_of_a_2x3_volume_heal() {
    if skip() {
        return;
    }
    let v = TestVolume::up_shape(&format!("healdr{}", std::process::id() % 100000), "2x3");
    let m = v.mount_c();
    let m = m.display().to_string();
    sh(&format!(
        "cd {m} && mkdir -p t/u && for i in $(seq 1 60); do head -c $((i*1500)) /dev/urandom > t/f$i; done && sync"
    ));
    v.kill_brick(1);
    v.kill_brick(5);
    sh(&format!(
        "cd {m} && for i in $(seq 1 20); do echo changed$i >> t/f$i; done && \
         for i in $(seq 21 30); do mv t/f$i t/u/g$i; done && for i in $(seq 31 40); do rm t/f$i; done && \
         for i in $(seq 1 15); do head -c 4000 /dev/urandom > t/u/new$i; done && sync"
    ));
    v.start_force();
    let addr = v.addr();
    let info: serde_json::Value =
        serde_json::from_str(&cli(&["heal", &addr, "info", "--json"])).expect("json");
    let bricks = info.as_array().expect("array");
    assert_eq!(bricks.len(), 6);
    let pending: u64 = bricks.iter().filter_map(|b| b["count"].as_u64()).sum();
    assert!(pending > 0, "{info}");
    let text = cli(&["heal", &addr, "statistics", "heal-count"]);
    assert!(text.contains("Number of entries:"), "{text}");

    let out = cli(&["heal", &addr, "--json"]);
    let report: serde_json::Value = serde_json::from_str(&out).expect("json");
    let replicas = report["replicas"].as_array().expect("replicas");
    assert_eq!(replicas.len(), 2);
    for r in replicas {
        assert!(r["healed"].as_u64().unwrap_or(0) > 0, "{out}");
        assert_eq!(r["heal_failed"], 0, "{out}");
    }
    assert_bricks_identical(&v.bricks[0..3], true);
    assert_bricks_identical(&v.bricks[3..6], true);
    let text = cli(&["heal", &addr, "info"]);
    assert_eq!(text.matches("Number of entries: 0").count(), 6, "{text}");
    let (n, out) = v.gluster_heal_info();
    assert_eq!(n, 0, "{out}");
}
