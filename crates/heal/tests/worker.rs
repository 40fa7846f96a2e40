//! The heal worker as a process: killed with SIGKILL in the middle of healing a large file, it
//! heals it completely after a restart and nothing is lost; run as a daemon, it heals by itself
//! when a killed brick comes back, records statistics, and stops on SIGTERM.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

#[test]
fn worker_killed_mid_heal_of_a_large_file() {
    if skip() {
        return;
    }
    let v = TestVolume::up(&format!("healkl{}", std::process::id() % 100000));
    let m = v.mount_c();
    let m = m.display().to_string();
    sh(&format!(
        "cd {m} && head -c 50000000 /dev/urandom > large && sync"
    ));
    v.kill_brick(0);
    // Rewrite most of it while brick 0 is down: a long heal.
    sh(&format!(
        "cd {m} && head -c 400000000 /dev/urandom > large.new && cat large.new > large && rm large.new && \
         echo small > small && sync"
    ));
    let want = std::fs::read(v.bricks[1].join("large")).expect("good copy");
    v.start_force();
    let state = StateDir::new("kill");
    let mut child = Command::new(heal_bin())
        .args([
            "heal",
            &v.addr(),
            "--log-level",
            "info",
            "--state-dir",
            &state.arg(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn heal");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("performing data selfheal") {
                let _ = tx.send(());
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(120))
        .expect("the heal started copying");
    // Well inside the copy: the 400 MB data heal took 1-2 s once the client got faster, so a
    // kill 1.5 s in sometimes came after it had finished.
    std::thread::sleep(Duration::from_millis(300));
    // SIGKILL: no cleanup at all; the bricks drop its locks with its connections.
    child.kill().expect("kill worker");
    let _ = child.wait();
    let partial = std::fs::read(v.bricks[0].join("large")).expect("sink copy");
    // Not assert_ne!: on failure it prints both 400 MB buffers (gigabytes of test log).
    assert!(
        partial != want,
        "the heal should have been interrupted half-way ({} bytes on the sink, {} wanted)",
        partial.len(),
        want.len()
    );
    assert!(
        !nonzero_markers(&v.bricks[1].join("large")).is_empty(),
        "the markers must survive an interrupted heal"
    );
    // Restart: the heal completes.
    let t = Instant::now();
    let out = run(Command::new(heal_bin()).args(["heal", &v.addr(), "--state-dir", &state.arg()]));
    eprintln!("second run in {:?}: {out}", t.elapsed());
    let tree = assert_bricks_identical(&v.bricks, true);
    assert_eq!(
        tree["large"].content,
        Some(xxhash_rust::xxh3::xxh3_128(&want)),
        "content lost"
    );
    let (n, info) = v.gluster_heal_info();
    assert_eq!(n, 0, "{info}");
}

#[test]
fn daemon_heals_when_a_brick_comes_back() {
    if skip() {
        return;
    }
    let v = TestVolume::up(&format!("healdm{}", std::process::id() % 100000));
    let state_dir = StateDir::new("daemon");
    let state = state_dir.0.clone();
    let m = v.mount_c();
    let m = m.display().to_string();
    sh(&format!("cd {m} && mkdir d && echo one > d/one && sync"));
    // A long interval: only the brick coming back can wake it.
    let mut daemon = Command::new(heal_bin())
        .args([
            "heal-daemon",
            &v.addr(),
            "--interval",
            "3600",
            "--state-dir",
            &state.display().to_string(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn daemon");
    std::thread::sleep(Duration::from_secs(3));
    v.kill_brick(2);
    sh(&format!(
        "cd {m} && for i in $(seq 1 20); do head -c $((i*5000)) /dev/urandom > d/f$i; done && \
         mv d/one d/uno && chmod 700 d && sync"
    ));
    let (pending, _) = v.gluster_heal_info();
    assert!(pending > 0);
    v.start_force();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (n, out) = v.gluster_heal_info();
        if n == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "the daemon did not heal:\n{out}");
        std::thread::sleep(Duration::from_secs(1));
    }
    assert_bricks_identical(&v.bricks, true);
    // Statistics of its crawls (recorded when the sweep that healed has finished).
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let out = run(Command::new(heal_bin()).args([
            "heal",
            &v.addr(),
            "statistics",
            "--state-dir",
            &state.display().to_string(),
        ]));
        assert!(out.contains("Type of crawl: INDEX"), "{out}");
        let healed = out
            .lines()
            .filter_map(|l| l.strip_prefix("No. of entries healed: "))
            .any(|n| n.trim().parse::<u64>().unwrap_or(0) > 0);
        if healed {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no crawl with healed entries:\n{out}"
        );
        std::thread::sleep(Duration::from_secs(1));
    }
    // SIGTERM stops it cleanly.
    sh(&format!("kill -TERM {}", daemon.id()));
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = daemon.try_wait().expect("wait") {
            break s;
        }
        assert!(Instant::now() < deadline, "daemon did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(status.success(), "{status:?}");
}
