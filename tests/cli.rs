//! Issue 3: the `gluster-rs` CLI and the client core against real GlusterFS volumes (1x1 and 2x1),
//! compared with the GlusterFS C client and with the bricks themselves.

mod common;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;

/// Run the CLI; return (success, stdout, stderr).
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

fn cli_ok(args: &[&str]) -> String {
    let (ok, out, err) = cli(args);
    assert!(ok, "gluster-rs {args:?} failed: {err}");
    out
}

fn random_bytes(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// The brick directory that holds `path` (exactly one must, as a real file).
fn brick_holding(vol: &TestVolume, path: &str) -> Vec<usize> {
    vol.bricks
        .iter()
        .enumerate()
        .filter(|(_, b)| {
            let p = b.join(path.trim_start_matches('/'));
            std::fs::symlink_metadata(&p).is_ok_and(|m| !is_linkto(&p, &m))
        })
        .map(|(i, _)| i)
        .collect()
}

fn is_linkto(p: &Path, m: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    m.is_file()
        && m.permissions().mode() & 0o7777 == 0o1000
        && brick_xattr(p, "trusted.glusterfs.dht.linkto").is_some()
}

/// Every linkto file on any brick of the volume.
fn linkto_files(vol: &TestVolume) -> Vec<String> {
    let mut out = Vec::new();
    for b in &vol.bricks {
        let (_, list, _) = try_sh(&format!(
            "find '{}' -path '*/.glusterfs' -prune -o -type f -perm 1000 -print",
            b.display()
        ));
        out.extend(list.lines().map(str::to_string));
    }
    out
}

#[test]
fn every_verb_round_trips_on_1x1_and_agrees_with_c_client() {
    let vol = TestVolume::new("clia", "1x1");
    let u = |p: &str| vol.url(p);
    let dir = tempdir("verbs");

    // volfile, plain and JSON.
    let vf = cli_ok(&["volfile", &u("")]);
    assert!(vf.contains("type protocol/client"), "{vf}");
    let js: serde_json::Value =
        serde_json::from_str(&cli_ok(&["volfile", "--json", &u("")])).unwrap();
    assert!(js["client"]["root"].is_object(), "{js}");

    // mkdir -p, put, get, cat.
    cli_ok(&["mkdir", "-p", &u("a/b/c")]);
    cli_ok(&["mkdir", "-p", &u("a/b/c")]);
    let (ok, _, err) = cli(&["mkdir", &u("a/b")]);
    assert!(!ok && err.contains("File exists"), "{err}");
    let data = random_bytes(3 * 1024 * 1024 + 17, 7);
    let local = dir.join("in.bin");
    std::fs::write(&local, &data).unwrap();
    cli_ok(&["put", local.to_str().unwrap(), &u("a/b/c/file.bin")]);
    let back = dir.join("out.bin");
    cli_ok(&["get", &u("a/b/c/file.bin"), back.to_str().unwrap()]);
    assert_eq!(std::fs::read(&back).unwrap(), data);
    // The brick holds the same bytes, with the gfid stat reports.
    let on_brick = vol.bricks[0].join("a/b/c/file.bin");
    assert_eq!(std::fs::read(&on_brick).unwrap(), data);
    let st: serde_json::Value =
        serde_json::from_str(&cli_ok(&["stat", "--json", &u("a/b/c/file.bin")])).unwrap();
    assert_eq!(st["gfid"].as_str().unwrap(), brick_gfid(&on_brick).unwrap());
    assert_eq!(st["size"].as_u64().unwrap(), data.len() as u64);
    assert_eq!(st["type"], "regular file");

    // put from stdin, cat to stdout.
    let mut child = Command::new(bin())
        .args(["put", "-", &u("a/small.txt")])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"hello gluster\n")
        .unwrap();
    assert!(child.wait().unwrap().success());
    assert_eq!(cli_ok(&["cat", &u("a/small.txt")]), "hello gluster\n");
    // Overwrite replaces the contents.
    std::fs::write(dir.join("short"), b"x").unwrap();
    cli_ok(&[
        "put",
        dir.join("short").to_str().unwrap(),
        &u("a/small.txt"),
    ]);
    assert_eq!(cli_ok(&["cat", &u("a/small.txt")]), "x");

    // ls, ls -l, ls --json.
    let ls = cli_ok(&["ls", &u("a")]);
    assert_eq!(ls.lines().collect::<Vec<_>>(), vec!["b", "small.txt"]);
    let ll = cli_ok(&["ls", "-l", &u("a")]);
    assert!(
        ll.lines().any(|l| l.starts_with('d') && l.ends_with(" b")),
        "{ll}"
    );
    let lj: serde_json::Value = serde_json::from_str(&cli_ok(&["ls", "--json", &u("a")])).unwrap();
    assert_eq!(lj.as_array().unwrap().len(), 2);

    // mv, ln -s, chmod, truncate, xattrs.
    cli_ok(&["mv", &u("a/small.txt"), &u("a/b/moved.txt")]);
    assert_eq!(cli_ok(&["cat", &u("a/b/moved.txt")]), "x");
    assert!(!cli(&["stat", &u("a/small.txt")]).0);
    cli_ok(&["ln", "-s", "moved.txt", &u("a/b/link")]);
    let target = std::fs::read_link(vol.bricks[0].join("a/b/link")).unwrap();
    assert_eq!(target, Path::new("moved.txt"));
    cli_ok(&["chmod", "600", &u("a/b/moved.txt")]);
    let st: serde_json::Value =
        serde_json::from_str(&cli_ok(&["stat", "--json", &u("a/b/moved.txt")])).unwrap();
    assert_eq!(st["mode"], "600");
    cli_ok(&["truncate", "1000", &u("a/b/moved.txt")]);
    assert_eq!(
        std::fs::metadata(vol.bricks[0].join("a/b/moved.txt"))
            .unwrap()
            .len(),
        1000
    );
    cli_ok(&[
        "setfattr",
        "-n",
        "user.color",
        "-v",
        "blue",
        &u("a/b/moved.txt"),
    ]);
    assert!(
        cli_ok(&["getfattr", "-n", "user.color", &u("a/b/moved.txt")])
            .contains("user.color=\"blue\"")
    );
    let (ok, _, err) = cli(&[
        "setfattr",
        "-n",
        "trusted.x",
        "-v",
        "1",
        &u("a/b/moved.txt"),
    ]);
    assert!(!ok && err.contains("user."), "{err}");

    // The C client sees what gluster-rs wrote, and gluster-rs sees what the C client writes.
    {
        let m = vol.mount_c_client();
        assert_eq!(std::fs::read(m.path("a/b/c/file.bin")).unwrap(), data);
        assert_eq!(
            std::fs::read_link(m.path("a/b/link")).unwrap(),
            Path::new("moved.txt")
        );
        let from_c = random_bytes(777_777, 99);
        std::fs::write(m.path("a/from-c.bin"), &from_c).unwrap();
        std::fs::create_dir(m.path("a/cdir")).unwrap();
        let got = dir.join("from-c.bin");
        cli_ok(&["get", &u("a/from-c.bin"), got.to_str().unwrap()]);
        assert_eq!(std::fs::read(&got).unwrap(), from_c);
        assert!(cli_ok(&["ls", &u("a")]).lines().any(|l| l == "cdir"));
    }

    // rm, rmdir, rm -r; errors name the path and the errno text.
    cli_ok(&["rm", &u("a/from-c.bin")]);
    cli_ok(&["rmdir", &u("a/cdir")]);
    let (ok, _, err) = cli(&["rmdir", &u("a/b")]);
    assert!(
        !ok && err.contains("/a/b") && err.contains("not empty"),
        "{err}"
    );
    let (ok, _, err) = cli(&["rm", &u("a/b")]);
    assert!(!ok && err.contains("Is a directory"), "{err}");
    cli_ok(&["rm", "-r", &u("a")]);
    let (ok, _, err) = cli(&["cat", &u("a/b/moved.txt")]);
    assert!(
        !ok && err.contains("/a/b/moved.txt") && err.contains("No such file"),
        "{err}"
    );
    assert_eq!(cli_ok(&["ls", &u("")]), "");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_urls_and_missing_volumes_fail_clearly() {
    let (ok, _, err) = cli(&["ls", "http://x/y"]);
    assert!(!ok && err.contains("gluster://"), "{err}");
    let (ok, _, err) = cli(&[
        "ls",
        &format!("gluster://{}/no-such-volume-xyz/", hostname()),
    ]);
    assert!(
        !ok && err.contains("no-such-volume-xyz") && err.contains("not found"),
        "{err}"
    );
}

#[test]
fn volfile_server_down_uses_the_backup() {
    let vol = TestVolume::new("clib", "1x1");
    // Nothing listens on [::1]:24007 (glusterd binds IPv4): the first server is down.
    let url = format!("gluster://[::1]/{}/", vol.name);
    let (ok, _, err) = cli(&["ls", &url]);
    assert!(!ok && err.contains("no volfile server answered"), "{err}");
    let backups = format!("--backup-volfile-servers={}", vol.host);
    cli_ok(&[
        &backups,
        "put",
        "/etc/hostname",
        &format!("gluster://[::1]/{}/h", vol.name),
    ]);
    assert_eq!(
        std::fs::read(vol.bricks[0].join("h")).unwrap(),
        std::fs::read("/etc/hostname").unwrap()
    );
}

#[test]
fn files_land_where_the_c_client_hashes_them_on_2x1() {
    let vol = TestVolume::new("clic", "2x1");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let n = 1000;
    rt.block_on(async {
        let opts = graph::VolumeOptions::new(
            vec![graph::Server::new(vol.host.clone(), 24007)],
            vol.name.clone(),
        );
        let v = graph::Volume::connect(&opts).await.unwrap();
        let top = v.top.clone();
        let c = fop::Caller::root();
        let d = fop::Dict::new();
        let root = fop::Loc::gfid(fop::Gfid::ROOT);
        top.lookup(&c, &root, &d).await.unwrap();
        let dir = top
            .mkdir(
                &c,
                &fop::Loc::entry(fop::Gfid::ROOT, "sub"),
                libc::S_IFDIR | 0o755,
                0,
                &d,
            )
            .await
            .unwrap();
        let sem = Arc::new(tokio::sync::Semaphore::new(32));
        let mut tasks = Vec::new();
        for i in 0..n {
            let top = top.clone();
            let sem = sem.clone();
            let parent = if i % 2 == 0 {
                fop::Gfid::ROOT
            } else {
                dir.iatt.gfid
            };
            tasks.push(tokio::spawn(async move {
                let _p = sem.acquire().await.unwrap();
                let c = fop::Caller::root();
                let loc = fop::Loc::entry(parent, format!("file-{i:04}.dat"));
                let (fd, _) = top
                    .create(
                        &c,
                        &loc,
                        libc::O_WRONLY,
                        libc::S_IFREG | 0o644,
                        0,
                        &fop::Dict::new(),
                    )
                    .await
                    .unwrap();
                top.write(&c, &fd, 0, bytes::Bytes::from(format!("{i}")))
                    .await
                    .unwrap();
                top.release(&fd).await;
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        v.shutdown().await;
    });

    // Each file is on exactly one brick, as a real file, where the parent's layout puts its name.
    let opts = hashing::HashOptions::default();
    for i in 0..n {
        let rel = if i % 2 == 0 {
            format!("file-{i:04}.dat")
        } else {
            format!("sub/file-{i:04}.dat")
        };
        let holders = brick_holding(&vol, &rel);
        assert_eq!(holders.len(), 1, "{rel} is on bricks {holders:?}");
        let parent = if i % 2 == 0 { "" } else { "sub" };
        let layouts: Vec<_> = vol
            .bricks
            .iter()
            .map(|b| {
                let hex =
                    brick_xattr(&b.join(parent), "trusted.glusterfs.dht").expect("layout xattr");
                let raw: Vec<u8> = (0..hex.len())
                    .step_by(2)
                    .map(|k| u8::from_str_radix(&hex[k..k + 2], 16).unwrap())
                    .collect();
                raw
            })
            .collect();
        let layout =
            hashing::Layout::from_lookups(layouts.iter().map(|r| hashing::SubvolLookup::Found {
                xattr: Some(&r[..]),
            }));
        assert!(!layout.needs_heal(), "layout of /{parent} has anomalies");
        let name = rel.rsplit('/').next().unwrap();
        assert_eq!(
            layout.subvol_for_name(name.as_bytes(), &opts),
            Some(holders[0]),
            "{rel}"
        );
    }
    assert!(linkto_files(&vol).is_empty());

    // The C client, looking every file up, finds each on its hashed brick: it would create a linkto
    // file for any file it found elsewhere.
    {
        let m = vol.mount_c_client();
        let mut count = 0;
        for i in 0..n {
            let rel = if i % 2 == 0 {
                format!("file-{i:04}.dat")
            } else {
                format!("sub/file-{i:04}.dat")
            };
            assert_eq!(
                std::fs::read_to_string(m.path(&rel)).unwrap(),
                format!("{i}")
            );
            count += 1;
        }
        assert_eq!(count, n);
        let listed = std::fs::read_dir(m.path("")).unwrap().count()
            + std::fs::read_dir(m.path("sub")).unwrap().count();
        assert_eq!(listed, n + 1);
    }
    let links = linkto_files(&vol);
    assert!(
        links.is_empty(),
        "the C client created linkto files: {links:?}"
    );

    // And gluster-rs lists and reads files the C client created.
    {
        let m = vol.mount_c_client();
        for i in 0..50 {
            std::fs::write(m.path(&format!("sub/c-{i}.txt")), format!("c{i}")).unwrap();
        }
    }
    let listing = cli_ok(&["ls", &vol.url("sub")]);
    assert_eq!(listing.lines().filter(|l| l.starts_with("c-")).count(), 50);
    assert_eq!(listing.lines().count(), n / 2 + 50);
    for i in [0, 17, 49] {
        assert_eq!(
            cli_ok(&["cat", &vol.url(&format!("sub/c-{i}.txt"))]),
            format!("c{i}")
        );
    }
}

#[test]
fn a_dead_brick_gives_a_clear_error_not_a_hang() {
    let vol = TestVolume::with_options("clid", "1x1", &[("network.ping-timeout", "5")]);
    cli_ok(&["put", "/etc/hostname", &vol.url("f")]);
    // A stopped (hung) brick: the call fails once the ping timeout declares it dead.
    vol.signal_brick(&vol.bricks[0], "STOP");
    let start = Instant::now();
    let out = Command::new("timeout")
        .args(["120", bin().to_str().unwrap(), "cat", &vol.url("f")])
        .output()
        .unwrap();
    let waited = start.elapsed();
    vol.signal_brick(&vol.bricks[0], "CONT");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_ne!(
        out.status.code(),
        Some(124),
        "gluster-rs hung on a stopped brick"
    );
    assert!(!out.status.success());
    assert!(
        err.contains("not connected") || err.contains("ping timeout") || err.contains("brick"),
        "unclear error: {err}"
    );
    eprintln!("stopped brick detected after {waited:?}");
    // A killed brick: refused at once with a clear message.
    vol.signal_brick(&vol.bricks[0], "TERM");
    std::thread::sleep(Duration::from_secs(1));
    let (ok, _, err) = cli(&["cat", &vol.url("f")]);
    assert!(
        !ok && (err.contains("not running")
            || err.contains("not connected")
            || err.contains("brick")),
        "{err}"
    );
}

#[test]
fn renames_and_links_across_subvolumes_follow_dht() {
    let vol = TestVolume::new("clie", "2x1");
    let n = 40;
    for i in 0..n {
        std::fs::write(
            format!("/tmp/clie-{}-{i}", std::process::id()),
            format!("data {i}"),
        )
        .unwrap();
        cli_ok(&[
            "put",
            &format!("/tmp/clie-{}-{i}", std::process::id()),
            &vol.url(&format!("src-{i}")),
        ]);
        let _ = std::fs::remove_file(format!("/tmp/clie-{}-{i}", std::process::id()));
    }
    cli_ok(&["mkdir", &vol.url("dst")]);
    // Renamed by gluster-rs: some names hash to the other subvolume, which then holds a linkto.
    for i in 0..n {
        cli_ok(&[
            "mv",
            &vol.url(&format!("src-{i}")),
            &vol.url(&format!("dst/renamed-{i}")),
        ]);
    }
    let links = linkto_files(&vol);
    assert!(
        !links.is_empty(),
        "expected some cross-subvolume renames among {n}"
    );
    // Overwriting rename: the old target disappears everywhere.
    cli_ok(&["mv", &vol.url("dst/renamed-0"), &vol.url("dst/renamed-1")]);
    assert_eq!(cli_ok(&["cat", &vol.url("dst/renamed-1")]), "data 0");
    {
        // The C client finds every renamed file through the same linkto files.
        let m = vol.mount_c_client();
        for i in 1..n {
            assert_eq!(
                std::fs::read_to_string(m.path(&format!("dst/renamed-{i}"))).unwrap(),
                if i == 1 {
                    "data 0".to_string()
                } else {
                    format!("data {i}")
                }
            );
            assert!(!m.path(&format!("src-{i}")).exists());
        }
        let names: Vec<_> = std::fs::read_dir(m.path("dst"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), n - 1, "{names:?}");
        // And gluster-rs finds files the C client renamed across subvolumes.
        for i in 0..n {
            std::fs::write(m.path(&format!("c-{i}")), format!("c {i}")).unwrap();
            std::fs::rename(
                m.path(&format!("c-{i}")),
                m.path(&format!("dst/c-moved-{i}")),
            )
            .unwrap();
        }
    }
    for i in 0..n {
        assert_eq!(
            cli_ok(&["cat", &vol.url(&format!("dst/c-moved-{i}"))]),
            format!("c {i}")
        );
    }
    let listing = cli_ok(&["ls", &vol.url("dst")]);
    assert_eq!(listing.lines().count(), 2 * n - 1, "{listing}");
    // Removing through gluster-rs removes the linkto files too.
    cli_ok(&["rm", "-r", &vol.url("dst")]);
    assert!(linkto_files(&vol).is_empty(), "{:?}", linkto_files(&vol));
}
