//! `gluster-rs heal` through the real binary: glustershd off, one brick down while gluster-rs
//! writes, then `gluster-rs heal URL info` lists the pending entries, `gluster-rs heal URL` heals,
//! and GlusterFS's own `gluster volume heal VOL info` agrees there is nothing left.

mod common;

use std::process::Command;
use std::time::Duration;

use common::*;

fn cli(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(bin())
        .args(args)
        .output()
        .expect("run gluster-rs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn pending_per_brick(text: &str) -> Vec<u64> {
    text.lines()
        .filter_map(|l| l.strip_prefix("Number of entries: "))
        .map(|n| n.trim().parse().unwrap())
        .collect()
}

#[test]
fn heal_cli_heals_what_a_dead_brick_missed() {
    let vol = TestVolume::with_options("healcli", "1x3", &[("cluster.self-heal-daemon", "off")]);
    let url = vol.url("");
    let dir = tempdir("healcli");
    for i in 0..5 {
        std::fs::write(dir.join(format!("f{i}")), format!("before {i}")).unwrap();
        let (ok, _, err) = cli(&[
            "put",
            dir.join(format!("f{i}")).to_str().unwrap(),
            &vol.url(&format!("f{i}")),
        ]);
        assert!(ok, "{err}");
    }
    vol.signal_brick(&vol.bricks[2], "TERM");
    std::thread::sleep(Duration::from_secs(1));
    for i in 0..5 {
        std::fs::write(
            dir.join(format!("f{i}")),
            format!("after {i} while b3 was down"),
        )
        .unwrap();
        let (ok, _, err) = cli(&[
            "put",
            dir.join(format!("f{i}")).to_str().unwrap(),
            &vol.url(&format!("f{i}")),
        ]);
        assert!(ok, "{err}");
    }
    vol.start_force();
    std::thread::sleep(Duration::from_secs(3));
    let (ok, info, err) = cli(&["heal", &url, "info"]);
    assert!(ok, "{err}");
    let counts = pending_per_brick(&info);
    assert_eq!(counts.len(), 3, "{info}");
    assert!(
        counts.iter().sum::<u64>() > 0,
        "nothing pending after writes with a brick down: {info}"
    );
    let (ok, out, err) = cli(&["heal", &url]);
    assert!(ok, "heal failed: {out}{err}");
    let (ok, info, err) = cli(&["heal", &url, "info", "--json"]);
    assert!(ok, "{err}");
    let j: serde_json::Value = serde_json::from_str(&info).unwrap();
    assert!(j.is_object() || j.is_array(), "{info}");
    let gl = sh(&format!("gluster volume heal {} info", vol.name));
    assert_eq!(pending_per_brick(&gl), vec![0, 0, 0], "{gl}");
    for i in 0..5 {
        let want = format!("after {i} while b3 was down");
        for b in &vol.bricks {
            assert_eq!(
                std::fs::read_to_string(b.join(format!("f{i}"))).unwrap(),
                want,
                "{}",
                b.display()
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
