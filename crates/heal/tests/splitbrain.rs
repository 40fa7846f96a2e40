//! Split-brains made on purpose (copies written while the others were down, in turn, with client
//! quorum off): `heal info split-brain` lists them as GlusterFS does, reads fail with EIO, the heal
//! leaves them alone, and each resolution policy (bigger-file, latest-mtime, source-brick with and
//! without a file) repairs them to the expected copy.

mod common;

use std::collections::BTreeSet;
use std::process::Command;
use std::time::Duration;

use common::*;

fn heal_cli(args: &[&str]) -> (bool, String) {
    let out = Command::new(heal_bin())
        .args(args)
        .output()
        .expect("run heal binary");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn split_brains_are_reported_and_resolved_by_each_policy() {
    if skip() {
        return;
    }
    let v = TestVolume::up(&format!("healsb{}", std::process::id() % 100000));
    v.set("cluster.quorum-type", "none");
    let m = v.mount_c();
    let m = m.display().to_string();
    let files = ["sb_big", "sb_mtime", "sb_brick", "sb_all1", "sb_all2"];
    sh(&format!(
        "cd {m} && for f in {} sb_meta; do echo init > $f; done && sync",
        files.join(" ")
    ));
    // Brick 0 alone gets version A.
    v.kill_brick(1);
    v.kill_brick(2);
    sh(&format!(
        "cd {m} && head -c 20000 /dev/zero | tr '\\0' A > sb_big && echo A > sb_mtime && \
         echo A > sb_brick && echo A1 > sb_all1 && echo A2 > sb_all2 && chmod 600 sb_meta && sync"
    ));
    std::thread::sleep(Duration::from_millis(1200));
    v.start_force();
    // Let the C client reconnect to bricks 1 and 2.
    std::thread::sleep(Duration::from_secs(6));
    // Bricks 1 and 2 get version B.
    v.kill_brick(0);
    sh(&format!(
        "cd {m} && head -c 10000 /dev/zero | tr '\\0' B > sb_big && echo BB > sb_mtime && \
         echo B > sb_brick && echo B1 > sb_all1 && echo B2 > sb_all2 && chmod 640 sb_meta && sync"
    ));
    v.start_force();
    std::thread::sleep(Duration::from_secs(6));

    // Reads through the C client fail with EIO.
    let (ok, _, err) = {
        let o = Command::new("cat")
            .arg(format!("{m}/sb_big"))
            .output()
            .expect("cat");
        (
            o.status.success(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    assert!(
        !ok && err.contains("Input/output error"),
        "read of a split-brain file: {err}"
    );

    let rt = runtime();
    rt.block_on(async {
        // And through the gluster-rs client (its replicate translator finds no readable copy).
        let mut o = graph::VolumeOptions::new(vec![graph::Server::new(HOST, 24007)], &v.name);
        o.ping_timeout = Some(std::time::Duration::from_secs(5));
        let vol = graph::Volume::connect(&o).await.expect("connect");
        let c = fop::Caller::root();
        let (loc, _) = vol.resolve(&c, "/sb_big").await.expect("lookup");
        let fd = vol.top.open(&c, &loc, libc::O_RDONLY).await.expect("open");
        let r = vol.top.read(&c, &fd, 0, 4096).await;
        assert_eq!(r.map(|b| b.len()), Err(fop::FopError::Errno(libc::EIO)));
        vol.top.release(&fd).await;
        vol.shutdown().await;
        let hv = heal_volume(&v).await;
        // Listed as split-brain, as GlusterFS lists them.
        let ours = heal::info::heal_info(&hv, true).await;
        let mine: BTreeSet<String> = ours
            .iter()
            .flat_map(|r| r.entries.iter().map(|e| e.path.clone()))
            .collect();
        for f in files.iter().chain(["sb_meta"].iter()) {
            assert!(mine.contains(&format!("/{f}")), "/{f} not listed: {mine:?}");
        }
        let gl = gluster(&["volume", "heal", &v.name, "info", "split-brain"]);
        for p in &mine {
            assert!(
                gl.contains(p.as_str()),
                "GlusterFS does not list {p}:\n{gl}"
            );
        }
        // An index heal does not touch them.
        let ev = heal::sweep::index_sweep(&hv.replicas[0], &Default::default()).await;
        assert!(ev.split_brain >= files.len() as u64, "{ev:?}");
        hv.shutdown().await;
    });
    let brick = |i: usize| format!("{HOST}:{}", v.bricks[i].display());
    let addr = v.addr();
    // bigger-file: brick 0's 20000 bytes.
    let (ok, out) = heal_cli(&["heal", &addr, "split-brain", "bigger-file", "/sb_big"]);
    assert!(ok && out.contains("Healed /sb_big."), "{out}");
    // latest-mtime: the B copy, written last.
    let (ok, out) = heal_cli(&["heal", &addr, "split-brain", "latest-mtime", "/sb_mtime"]);
    assert!(ok && out.contains("Healed /sb_mtime."), "{out}");
    // source-brick with a file: brick 0's copy.
    let (ok, out) = heal_cli(&[
        "heal",
        &addr,
        "split-brain",
        "source-brick",
        &brick(0),
        "/sb_brick",
    ]);
    assert!(ok && out.contains("Healed /sb_brick."), "{out}");
    // A policy that cannot decide is refused with GlusterFS's message.
    let (ok, out) = heal_cli(&["heal", &addr, "split-brain", "bigger-file", "/sb_meta"]);
    assert!(!ok, "{out}");
    // source-brick without a file: every split-brain entry of that brick, from brick 2.
    let (ok, out) = heal_cli(&["heal", &addr, "split-brain", "source-brick", &brick(2)]);
    assert!(ok && out.contains("Number of healed entries:"), "{out}");

    for b in &v.bricks {
        let read = |f: &str| std::fs::read(b.join(f)).expect("brick file");
        assert_eq!(read("sb_big"), vec![b'A'; 20000]);
        assert_eq!(read("sb_mtime"), b"BB\n");
        assert_eq!(read("sb_brick"), b"A\n");
        assert_eq!(read("sb_all1"), b"B1\n");
        assert_eq!(read("sb_all2"), b"B2\n");
    }
    let tree = assert_bricks_identical(&v.bricks, false);
    assert_eq!(tree["sb_meta"].mode, 0o640);
    // Readable again through the C client.
    assert_eq!(
        std::fs::read(format!("{m}/sb_brick")).expect("read"),
        b"A\n"
    );
    let (n, out) = v.gluster_heal_info();
    assert_eq!(n, 0, "{out}");
}
