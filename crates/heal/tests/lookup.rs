//! Client-side heal on lookup against real bricks: a brick misses data, metadata and entry
//! changes made through gluster-rs; after `volume start force`, a gluster-rs client that only
//! looks the files up (no heal command, glustershd off) brings every copy back, as GlusterFS's
//! own `volume heal VOL info` confirms — and with client-side heal turned off (a client option,
//! or the volume's `cluster.*-self-heal` options) lookups heal nothing, or only what is allowed.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use fop::{set_attr, Caller, Dict, Gfid, Iatt, Loc, Subvolume};

async fn connect(volume: &str, xlator_options: &[(&str, &str, &str)]) -> graph::Volume {
    let mut o = graph::VolumeOptions::new(vec![graph::Server::new(HOST, 24007)], volume);
    o.ping_timeout = Some(Duration::from_secs(5));
    o.xlator_options = xlator_options
        .iter()
        .map(|(x, k, v)| (x.to_string(), k.to_string(), v.to_string()))
        .collect();
    graph::Volume::connect(&o).await.expect("connect")
}

async fn write_file(top: &Arc<dyn Subvolume>, parent: Gfid, name: &str, data: &[u8]) -> Gfid {
    let c = Caller::root();
    let loc = Loc::entry(parent, Bytes::from(name.to_string()));
    let (fd, e) = match top
        .create(
            &c,
            &loc,
            libc::O_RDWR | libc::O_CREAT,
            0o644,
            0o022,
            &Dict::new(),
        )
        .await
    {
        Ok(r) => r,
        Err(e) if e.is(libc::EEXIST) => {
            let l = top.lookup(&c, &loc, &Dict::new()).await.expect("lookup");
            let fd = top
                .open(&c, &loc.clone().with_gfid(l.iatt.gfid), libc::O_RDWR)
                .await
                .expect("open");
            (
                fd,
                fop::Entry {
                    iatt: l.iatt,
                    preparent: None,
                    postparent: None,
                },
            )
        }
        Err(e) => panic!("create {name}: {e}"),
    };
    top.write(&c, &fd, 0, Bytes::copy_from_slice(data))
        .await
        .expect("write");
    top.flush(&c, &fd).await.expect("flush");
    top.release(&fd).await;
    e.iatt.gfid
}

/// The paths the tests create and modify.
struct Tree {
    dir: Gfid,
}

/// Files and a directory, on all three bricks.
async fn populate(top: &Arc<dyn Subvolume>) -> Tree {
    let c = Caller::root();
    let d = top
        .mkdir(
            &c,
            &Loc::entry(Gfid::ROOT, Bytes::from_static(b"d")),
            0o755,
            0,
            &Dict::new(),
        )
        .await
        .expect("mkdir");
    for i in 0..6 {
        write_file(
            top,
            Gfid::ROOT,
            &format!("f{i}"),
            &pattern(70_000 + i * 999, i as u64),
        )
        .await;
        write_file(
            top,
            d.iatt.gfid,
            &format!("g{i}"),
            &pattern(3000, 100 + i as u64),
        )
        .await;
    }
    write_file(top, Gfid::ROOT, "m", b"mode changes").await;
    Tree { dir: d.iatt.gfid }
}

/// What a brick misses while down: data (rewrites), metadata (chmod), entries (new files, a
/// new directory with a file, a removed file).
async fn modify(top: &Arc<dyn Subvolume>, t: &Tree) {
    let c = Caller::root();
    for i in 0..3 {
        write_file(top, Gfid::ROOT, &format!("f{i}"), &pattern(90_000, 50 + i)).await;
    }
    let l = top
        .lookup(
            &c,
            &Loc::entry(Gfid::ROOT, Bytes::from_static(b"m")),
            &Dict::new(),
        )
        .await
        .expect("lookup m");
    let attr = Iatt {
        mode: 0o600,
        ..Iatt::default()
    };
    top.setattr(&c, &Loc::gfid(l.iatt.gfid), &attr, set_attr::MODE)
        .await
        .expect("chmod");
    for i in 0..3 {
        write_file(
            top,
            Gfid::ROOT,
            &format!("new{i}"),
            &pattern(20_000, 200 + i),
        )
        .await;
        write_file(top, t.dir, &format!("new{i}"), &pattern(5_000, 300 + i)).await;
    }
    let nd = top
        .mkdir(
            &c,
            &Loc::entry(Gfid::ROOT, Bytes::from_static(b"nd")),
            0o750,
            0,
            &Dict::new(),
        )
        .await
        .expect("mkdir nd");
    write_file(top, nd.iatt.gfid, "inner", b"inside a new directory").await;
    top.unlink(
        &c,
        &Loc::entry(t.dir, Bytes::from_static(b"g5")),
        &Dict::new(),
    )
    .await
    .expect("unlink");
    // Let the eager locks' delayed post-op finish.
    tokio::time::sleep(Duration::from_millis(2500)).await;
}

/// Every path a client would look up, parents first.
fn paths() -> Vec<String> {
    let mut p = vec!["/".to_string(), "/d".to_string(), "/nd".to_string()];
    for i in 0..6 {
        p.push(format!("/f{i}"));
        p.push(format!("/d/g{i}"));
    }
    for i in 0..3 {
        p.push(format!("/new{i}"));
        p.push(format!("/d/new{i}"));
    }
    p.push("/nd/inner".to_string());
    p.push("/m".to_string());
    p
}

/// Look every path up once (errors — e.g. a name gone — are fine).
async fn lookup_all(vol: &graph::Volume, paths: &[String]) {
    let c = Caller::root();
    for p in paths {
        let _ = vol.resolve(&c, p).await;
    }
}

fn trees(bricks: &[PathBuf]) -> Vec<BTreeMap<String, Obj>> {
    bricks.iter().map(|b| brick_tree(b, false)).collect()
}

fn identical(bricks: &[PathBuf]) -> bool {
    let t = trees(bricks);
    t.windows(2).all(|w| w[0] == w[1])
}

async fn wait_connected(vol: &graph::Volume) {
    let t = Instant::now();
    while !vol.bricks().iter().all(|b| b.is_connected()) {
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "client did not reconnect to the restarted brick"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Kill brick 0, make the changes through a fresh gluster-rs client, bring the brick back.
async fn miss_changes(v: &TestVolume) {
    let vol = connect(&v.name, &[]).await;
    let t = populate(&vol.top).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    v.kill_brick(0);
    modify(&vol.top, &t).await;
    vol.shutdown().await;
    let (n, out) = v.gluster_heal_info();
    assert!(n > 0, "nothing pending after the outage:\n{out}");
    assert!(!identical(&v.bricks), "bricks identical after the outage");
    v.start_force();
}

/// Look up until the bricks are identical and GlusterFS reports nothing to heal, or `limit`.
async fn lookups_until_clean(
    v: &TestVolume,
    vol: &graph::Volume,
    paths: &[String],
    limit: Duration,
) -> Duration {
    let t = Instant::now();
    loop {
        lookup_all(vol, paths).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        if identical(&v.bricks) && v.gluster_heal_info().0 == 0 {
            return t.elapsed();
        }
        if t.elapsed() > limit {
            let (_, out) = v.gluster_heal_info();
            assert_bricks_identical(&v.bricks, false);
            panic!("bricks identical but GlusterFS still lists entries after {limit:?}:\n{out}");
        }
    }
}

#[test]
fn lookups_heal_what_a_dead_brick_missed() {
    if skip() {
        return;
    }
    let v = TestVolume::up(&format!("chlk{}", std::process::id() % 100000));
    let rt = runtime();
    rt.block_on(async {
        miss_changes(&v).await;
        let vol = connect(&v.name, &[]).await;
        wait_connected(&vol).await;
        let took = lookups_until_clean(&v, &vol, &paths(), Duration::from_secs(30)).await;
        eprintln!("healed by lookups alone in {took:?}");
        vol.shutdown().await;
    });
    let tree = assert_bricks_identical(&v.bricks, false);
    assert_eq!(tree["m"].mode, 0o600);
    assert!(tree.contains_key("nd/inner") && tree.contains_key("d/new2"));
    assert!(!tree.contains_key("d/g5"));
    assert_eq!(tree["f0"].size, 90_000);
    for b in &v.bricks {
        for p in paths() {
            let rel = p.trim_start_matches('/');
            let path = b.join(rel);
            if path.exists() {
                assert!(
                    nonzero_markers(&path).is_empty(),
                    "{}: markers left",
                    path.display()
                );
            }
        }
    }
    let (n, out) = v.gluster_heal_info();
    assert_eq!(n, 0, "{out}");
}

#[test]
fn lookups_heal_nothing_when_turned_off() {
    if skip() {
        return;
    }
    let v = TestVolume::up(&format!("chlko{}", std::process::id() % 100000));
    let rt = runtime();
    rt.block_on(async {
        miss_changes(&v).await;
        let before = v.gluster_heal_info().0;
        // 1. Off in the client: `background-self-heal-count 0` (AFR starts no client heal then),
        //    as a mount's `-o xlator-option=replicate.background-self-heal-count=0` sets it.
        let vol = connect(&v.name, &[("replicate", "background-self-heal-count", "0")]).await;
        wait_connected(&vol).await;
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(10) {
            lookup_all(&vol, &paths()).await;
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        vol.shutdown().await;
        let (n, out) = v.gluster_heal_info();
        assert_eq!(n, before, "lookups changed what is pending:\n{out}");
        assert!(!identical(&v.bricks), "healed although turned off");

        // 2. Data heal off in the volume (`gluster volume set VOL cluster.data-self-heal off`):
        //    names and modes are healed, the rewritten files' contents are not.
        v.set("cluster.data-self-heal", "off");
        let vol = connect(&v.name, &[]).await;
        wait_connected(&vol).await;
        let t = Instant::now();
        loop {
            lookup_all(&vol, &paths()).await;
            tokio::time::sleep(Duration::from_millis(500)).await;
            let tr = trees(&v.bricks);
            let entries_done = tr.iter().all(|t| {
                t.contains_key("nd/inner")
                    && t.contains_key("d/new2")
                    && !t.contains_key("d/g5")
                    && t.get("m").is_some_and(|o| o.mode == 0o600)
            });
            if entries_done {
                break;
            }
            assert!(
                t.elapsed() < Duration::from_secs(30),
                "entries and metadata not healed with data heal off"
            );
        }
        // A few more rounds: data must stay as it was.
        for _ in 0..6 {
            lookup_all(&vol, &paths()).await;
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        vol.shutdown().await;
        let tr = trees(&v.bricks);
        for i in 0..3 {
            let f = format!("f{i}");
            assert_ne!(
                tr[0][&f].content, tr[1][&f].content,
                "{f}: data healed with cluster.data-self-heal off"
            );
            assert_eq!(tr[1][&f], tr[2][&f]);
        }
        let (n, out) = v.gluster_heal_info();
        assert!(n > 0, "nothing left pending:\n{out}");

        // 3. Back on: everything heals.
        v.set("cluster.data-self-heal", "on");
        let vol = connect(&v.name, &[]).await;
        wait_connected(&vol).await;
        lookups_until_clean(&v, &vol, &paths(), Duration::from_secs(30)).await;
        vol.shutdown().await;
    });
    assert_bricks_identical(&v.bricks, false);
}

/// A client keeps writing a file the restarted brick missed while another client keeps looking
/// it up: the reader's heals stand back while the writer's transaction holds the lock (no write
/// is lost, none waits for a heal), and once the writer is done, lookups alone heal it.
#[test]
fn lookups_beside_a_writer_lose_nothing() {
    if skip() {
        return;
    }
    let v = TestVolume::up(&format!("chlkw{}", std::process::id() % 100000));
    let rt = runtime();
    rt.block_on(async {
        let writer = connect(&v.name, &[]).await;
        let top = writer.top.clone();
        let c = Caller::root();
        let loc = Loc::entry(Gfid::ROOT, Bytes::from_static(b"stream"));
        let (fd, e) = top
            .create(
                &c,
                &loc,
                libc::O_RDWR | libc::O_CREAT,
                0o644,
                0o022,
                &Dict::new(),
            )
            .await
            .expect("create");
        let chunk = 64 * 1024;
        let mut expect = pattern(4 << 20, 1);
        for (i, piece) in expect.chunks(chunk).enumerate() {
            top.write(&c, &fd, (i * chunk) as u64, Bytes::copy_from_slice(piece))
                .await
                .expect("write");
        }
        v.kill_brick(0);
        // Rewrites while brick 0 is down.
        for round in 0..8u64 {
            let off = (round as usize * 300_000) % (expect.len() - chunk);
            let data = pattern(chunk, 10 + round);
            top.write(&c, &fd, off as u64, Bytes::from(data.clone()))
                .await
                .expect("write with a brick down");
            expect[off..off + chunk].copy_from_slice(&data);
        }
        v.start_force();
        let reader = connect(&v.name, &[]).await;
        wait_connected(&reader).await;
        wait_connected(&writer).await;
        // The writer goes on for a few seconds while the reader looks the file up.
        let t = Instant::now();
        let mut round = 100u64;
        while t.elapsed() < Duration::from_secs(6) {
            let off = (round as usize * 170_000) % (expect.len() - chunk);
            let data = pattern(chunk, round);
            let w = Instant::now();
            top.write(&c, &fd, off as u64, Bytes::from(data.clone()))
                .await
                .expect("write beside lookups");
            assert!(
                w.elapsed() < Duration::from_secs(10),
                "a write waited {:?}",
                w.elapsed()
            );
            expect[off..off + chunk].copy_from_slice(&data);
            let _ = reader.resolve(&c, "/stream").await;
            round += 1;
        }
        top.flush(&c, &fd).await.expect("flush");
        top.release(&fd).await;
        writer.shutdown().await;
        lookups_until_clean(
            &v,
            &reader,
            &["/stream".to_string()],
            Duration::from_secs(30),
        )
        .await;
        reader.shutdown().await;
        assert!(!e.iatt.gfid.is_null());
        let tree = assert_bricks_identical(&v.bricks, false);
        assert_eq!(
            tree["stream"].content,
            Some(xxhash_rust::xxh3::xxh3_128(&expect)),
            "content differs from what the writer wrote"
        );
    });
    let (n, out) = v.gluster_heal_info();
    assert_eq!(n, 0, "{out}");
}
