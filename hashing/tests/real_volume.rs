//! Placement against real GlusterFS: a two-brick distribute volume mounted
//! with the C FUSE client. Every file the C client creates must sit on the
//! brick our crate computes from the parent directory's on-disk layout,
//! and the layouts the C client wrote must be anomaly-free and equal to
//! what `Layout::new_directory` predicts.
//!
//! Needs root, glusterd (started here if not running), the `gluster` CLI,
//! `mount.glusterfs` and `getfattr`. Skips (with a message) only when not
//! running as root; missing tooling is a failure.

use std::ffi::OsStr;
use std::fs;
use std::io::ErrorKind;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use hashing::{
    brick_chunks, Anomalies, HashOptions, Layout, NewDirParams, NewDirSubvol, RegexLocale,
    SubvolLookup, SubvolState, DHT_LAYOUT_XATTR,
};

/// Limit for every external command (gluster CLI, mount, getfattr).
const CMD_TIMEOUT_SECS: &str = "120";
/// Limit for all file operations on the FUSE mounts together.
const WORKLOAD_TIMEOUT: Duration = Duration::from_secs(300);
const FILES_PER_DIR: usize = 150;
const NON_UTF8_FILES: usize = 40;

fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new("timeout")
        .args(["--kill-after=10", CMD_TIMEOUT_SECS])
        .args(args)
        .envs(env.iter().copied())
        .output()
        .unwrap_or_else(|e| panic!("cannot run timeout(1) for {args:?}: {e}"))
}

fn must(args: &[&str], env: &[(&str, &str)]) -> String {
    let o = run(args, env);
    assert!(
        o.status.success(),
        "`{}` failed ({}): {}{}",
        args.join(" "),
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .env(
            "PATH",
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        )
        .output()
        .is_ok_and(|o| o.status.success())
}

fn is_mounted(mp: &Path) -> bool {
    let mounts = fs::read_to_string("/proc/mounts").unwrap_or_default();
    let want = mp.to_string_lossy();
    mounts
        .lines()
        .any(|l| l.split_whitespace().nth(1) == Some(&*want) && l.contains("fuse.glusterfs"))
}

/// Test volume; tears everything down on drop, also after a failure.
struct TestVolume {
    name: String,
    root: PathBuf,
    bricks: Vec<PathBuf>,
    mounts: Vec<PathBuf>,
    created: bool,
}

impl Drop for TestVolume {
    fn drop(&mut self) {
        for mp in &self.mounts {
            if is_mounted(mp) {
                let mps = mp.to_string_lossy();
                if !run(&["umount", &mps], &[]).status.success() {
                    let _ = run(&["umount", "-l", &mps], &[]);
                }
            }
            let _ = fs::remove_dir(mp);
        }
        if self.created {
            let _ = run(
                &[
                    "gluster",
                    "--mode=script",
                    "volume",
                    "stop",
                    &self.name,
                    "force",
                ],
                &[],
            );
            let _ = run(
                &["gluster", "--mode=script", "volume", "delete", &self.name],
                &[],
            );
        }
        let _ = fs::remove_dir_all(&self.root);
    }
}

fn ensure_glusterd() {
    if !run(&["pgrep", "-x", "glusterd"], &[]).status.success() {
        must(&["glusterd", "-p", "/run/glusterd.pid"], &[]);
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while !run(&["gluster", "--mode=script", "volume", "list"], &[])
        .status
        .success()
    {
        assert!(
            Instant::now() < deadline,
            "glusterd does not answer `gluster volume list`"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Deterministic file names of many shapes (ASCII, UTF-8, rsync temp
/// names, long names, spaces, newline, leading dot).
fn names(tag: &str, n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| {
            let r = format!("{:06x}", (i as u64 * 2_654_435_761) % 0xff_ffff);
            let s = match i % 8 {
                0 => format!("file-{tag}-{i}"),
                1 => format!("ファイル-{i}.txt"),
                2 => format!(".report-{i}.pdf.{r}"),
                3 => format!("{}-{i}", "x".repeat(200 + i % 40)),
                4 => format!("my file ({i}) #{tag}.tar.gz"),
                5 => format!(".hidden-{i}"),
                6 => format!("new\nline-{i}"),
                _ => format!("😀{i}.{r}"),
            };
            s.into_bytes()
        })
        .collect()
}

/// rsync-like temp names that are not valid UTF-8: glibc's regex matches
/// them only in a byte ("C") locale.
fn non_utf8_names(n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| {
            let mut v = vec![b'.', 0xff];
            v.extend_from_slice(format!("{i}-\u{e9}").as_bytes());
            v.push(0xfe);
            v.extend_from_slice(b".tmp");
            v
        })
        .collect()
}

fn content(name: &[u8]) -> Vec<u8> {
    let mut c = b"hashtest:".to_vec();
    c.extend_from_slice(name);
    c
}

fn create_files(dir: &Path, names: &[Vec<u8>]) -> Result<(), String> {
    for n in names {
        let p = dir.join(OsStr::from_bytes(n));
        fs::write(&p, content(n)).map_err(|e| format!("create {p:?}: {e}"))?;
    }
    Ok(())
}

/// Read `trusted.glusterfs.dht` of `dir` on every brick.
fn brick_layout(bricks: &[PathBuf], dir: &str) -> (Layout, Vec<Option<Vec<u8>>>) {
    let mut raws = Vec::new();
    let mut lookups_missing = Vec::new();
    for b in bricks {
        let p = b.join(dir.trim_start_matches('/'));
        if !p.is_dir() {
            lookups_missing.push(true);
            raws.push(None);
            continue;
        }
        lookups_missing.push(false);
        let ps = p.to_string_lossy();
        let o = run(
            &[
                "getfattr",
                "-n",
                DHT_LAYOUT_XATTR,
                "-e",
                "hex",
                "--absolute-names",
                &ps,
            ],
            &[],
        );
        let out = String::from_utf8_lossy(&o.stdout);
        let raw = out
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{DHT_LAYOUT_XATTR}=0x")))
            .map(|h| {
                (0..h.len() / 2)
                    .map(|i| u8::from_str_radix(&h[2 * i..2 * i + 2], 16).expect("getfattr hex"))
                    .collect::<Vec<u8>>()
            });
        raws.push(raw);
    }
    let layout = Layout::from_lookups(raws.iter().zip(&lookups_missing).map(|(r, &missing)| {
        if missing {
            SubvolLookup::Failed { errno: 2 }
        } else {
            SubvolLookup::Found {
                xattr: r.as_deref(),
            }
        }
    }));
    (layout, raws)
}

struct Checked {
    files: usize,
    per_brick: Vec<usize>,
}

/// Check one directory: its layout is sound and as predicted, and every
/// file sits on exactly the brick its name hashes to.
fn check_dir(
    vol: &TestVolume,
    dir: &str,
    files: &[Vec<u8>],
    opts: &HashOptions,
    chunks: &[u32],
) -> Checked {
    let (layout, raws) = brick_layout(&vol.bricks, dir);
    for (i, r) in raws.iter().enumerate() {
        assert_eq!(
            r.as_ref().map(Vec::len),
            Some(16),
            "{dir}: xattr on brick {i}: {r:02x?}"
        );
    }
    assert_eq!(
        layout.anomalies(),
        Anomalies::default(),
        "{dir}: {layout:?}"
    );
    assert!(!layout.needs_heal(), "{dir}: {layout:?}");
    assert!(
        layout.entries().iter().all(|e| e.participates()),
        "{dir}: {layout:?}"
    );

    // The C client's self-heal assigned this layout to the new directory;
    // ours must compute the same one. (Both bricks live on one file
    // system, so their weights are equal.)
    let commit = layout.entries()[0].commit_hash;
    assert!(
        layout.entries().iter().all(|e| e.commit_hash == commit),
        "{dir}: {layout:?}"
    );
    let names: Vec<String> = (0..vol.bricks.len())
        .map(|i| format!("{}-client-{i}", vol.name))
        .collect();
    let subvols: Vec<NewDirSubvol> = names
        .iter()
        .zip(chunks)
        .map(|(name, &chunks)| NewDirSubvol {
            name,
            state: SubvolState::Missing,
            chunks,
        })
        .collect();
    let predicted =
        Layout::new_directory(&subvols, &NewDirParams::new(dir.as_bytes(), commit), opts);
    let ranges = |l: &Layout| {
        l.entries()
            .iter()
            .map(|e| (e.start, e.stop))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        ranges(&layout),
        ranges(&predicted),
        "{dir}: on-disk layout differs from prediction"
    );

    let mut per_brick = vec![0; vol.bricks.len()];
    for name in files {
        let want = layout
            .subvol_for_name(name, opts)
            .unwrap_or_else(|| panic!("{dir}: no subvolume for {name:02x?}"));
        for (i, b) in vol.bricks.iter().enumerate() {
            let p = b
                .join(dir.trim_start_matches('/'))
                .join(OsStr::from_bytes(name));
            match fs::symlink_metadata(&p) {
                Ok(m) if i == want => {
                    assert!(m.is_file(), "{p:?} is not a regular file");
                    assert_eq!(
                        m.permissions().mode() & 0o1000,
                        0,
                        "{p:?} is a DHT linkto file"
                    );
                    assert_eq!(m.len(), content(name).len() as u64, "{p:?} has wrong size");
                }
                Ok(m) => panic!(
                    "{dir}: {:?} hashes to brick {want} but is on brick {i} (mode {:o}, {} bytes)",
                    String::from_utf8_lossy(name),
                    m.permissions().mode(),
                    m.len()
                ),
                Err(e) if e.kind() == ErrorKind::NotFound && i != want => {}
                Err(e) => panic!(
                    "{dir}: {:?} expected on brick {i}: {e}",
                    String::from_utf8_lossy(name)
                ),
            }
        }
        per_brick[want] += 1;
    }
    Checked {
        files: files.len(),
        per_brick,
    }
}

#[test]
fn c_client_places_files_where_we_hash_them() {
    let uid = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
    if uid.as_deref().ok() != Some("0") {
        eprintln!("SKIPPED real_volume: needs root to create GlusterFS volumes and mount them (uid {uid:?})");
        return;
    }
    let missing: Vec<&str> = [
        "gluster",
        "glusterd",
        "mount.glusterfs",
        "getfattr",
        "timeout",
    ]
    .into_iter()
    .filter(|t| !have(t))
    .collect();
    assert!(
        missing.is_empty(),
        "GlusterFS tooling missing: {missing:?} not found (needs glusterfs-server, glusterfs-client, attr)"
    );
    ensure_glusterd();

    let pid = std::process::id();
    let name = format!("hashtest-{pid}");
    let root = PathBuf::from(format!("/srv/{name}"));
    let mut vol = TestVolume {
        bricks: vec![root.join("b1"), root.join("b2")],
        mounts: Vec::new(),
        name: name.clone(),
        root: root.clone(),
        created: false,
    };
    fs::create_dir_all(&root).expect("create brick root");
    let brick_args: Vec<String> = vol
        .bricks
        .iter()
        .map(|b| format!("vm:{}", b.display()))
        .collect();
    let mut create = vec!["gluster", "--mode=script", "volume", "create", &name];
    create.extend(brick_args.iter().map(String::as_str));
    create.push("force");
    vol.created = true;
    must(&create, &[]);
    // Keep DHT from diverting creates to the other brick if this host's
    // disk is nearly full; hashing itself is unaffected.
    must(
        &[
            "gluster",
            "--mode=script",
            "volume",
            "set",
            &name,
            "cluster.min-free-disk",
            "0",
        ],
        &[],
    );
    must(&["gluster", "--mode=script", "volume", "start", &name], &[]);

    // Two C clients: one in a UTF-8 locale, one in the C locale. glusterfs
    // asks for en_US.UTF-8 first, so if that exists both are UTF-8.
    let en_us = must(&["locale", "-a"], &[])
        .lines()
        .any(|l| l.eq_ignore_ascii_case("en_US.utf8") || l.eq_ignore_ascii_case("en_US.UTF-8"));
    let utf8_opts = HashOptions::default();
    let c_opts = HashOptions {
        locale: if en_us {
            RegexLocale::Utf8
        } else {
            RegexLocale::Bytes
        },
        ..HashOptions::default()
    };
    let mp_u = PathBuf::from(format!("/mnt/{name}-utf8"));
    let mp_c = PathBuf::from(format!("/mnt/{name}-c"));
    for (mp, locale) in [(&mp_u, "C.UTF-8"), (&mp_c, "C")] {
        fs::create_dir_all(mp).expect("create mount point");
        vol.mounts.push(mp.clone());
        let mps = mp.to_string_lossy();
        must(
            &["mount", "-t", "glusterfs", &format!("vm:/{name}"), &mps],
            &[("LC_ALL", locale), ("LANG", locale)],
        );
        assert!(is_mounted(mp), "{mp:?} is not a glusterfs mount");
    }

    let root_files = names("root", FILES_PER_DIR);
    let sub_files = names("sub", FILES_PER_DIR);
    let odd = non_utf8_names(NON_UTF8_FILES);
    let empty_dirs: Vec<String> = (0..12)
        .map(|i| format!("/d{i:02}"))
        .chain(["/sub/inner".to_owned(), "/sub/inner/deeper".to_owned()])
        .collect();

    // All FUSE I/O runs in a thread so that a hung mount fails the test
    // after WORKLOAD_TIMEOUT instead of blocking forever.
    let (tx, rx) = mpsc::channel();
    {
        let (mp_u, mp_c) = (mp_u.clone(), mp_c.clone());
        let (root_files, sub_files, odd, empty_dirs) = (
            root_files.clone(),
            sub_files.clone(),
            odd.clone(),
            empty_dirs.clone(),
        );
        std::thread::spawn(move || {
            let r = (|| -> Result<(), String> {
                create_files(&mp_u, &root_files)?;
                fs::create_dir(mp_u.join("sub")).map_err(|e| format!("mkdir sub: {e}"))?;
                create_files(&mp_u.join("sub"), &sub_files)?;
                for d in &empty_dirs {
                    fs::create_dir(mp_u.join(d.trim_start_matches('/')))
                        .map_err(|e| format!("mkdir {d}: {e}"))?;
                }
                fs::create_dir(mp_u.join("odd-utf8"))
                    .map_err(|e| format!("mkdir odd-utf8: {e}"))?;
                create_files(&mp_u.join("odd-utf8"), &odd)?;
                fs::create_dir(mp_c.join("odd-c")).map_err(|e| format!("mkdir odd-c: {e}"))?;
                create_files(&mp_c.join("odd-c"), &odd)?;
                Ok(())
            })();
            let _ = tx.send(r);
        });
    }
    match rx.recv_timeout(WORKLOAD_TIMEOUT) {
        Ok(Ok(())) => {}
        Ok(Err(e)) => panic!("file operations on the C-client mount failed: {e}"),
        Err(_) => {
            panic!("file operations on the C-client mount did not finish in {WORKLOAD_TIMEOUT:?}")
        }
    }

    let chunks: Vec<u32> = vol
        .bricks
        .iter()
        .map(|b| {
            let out = must(&["stat", "-f", "-c", "%b %s", &b.to_string_lossy()], &[]);
            let v: Vec<u64> = out
                .split_whitespace()
                .map(|x| x.parse().expect("stat -f"))
                .collect();
            brick_chunks(v[0], v[1])
        })
        .collect();

    let root_chk = check_dir(&vol, "/", &root_files, &utf8_opts, &chunks);
    let sub_chk = check_dir(&vol, "/sub", &sub_files, &utf8_opts, &chunks);
    for d in &empty_dirs {
        check_dir(&vol, d, &[], &utf8_opts, &chunks);
    }
    let odd_u = check_dir(&vol, "/odd-utf8", &odd, &utf8_opts, &chunks);
    let odd_c = check_dir(&vol, "/odd-c", &odd, &c_opts, &chunks);

    // The files are spread over both bricks, and the non-UTF-8 set really
    // tells the two locale behaviours apart.
    for c in [&root_chk, &sub_chk] {
        assert!(
            c.per_brick.iter().all(|&n| n > 0),
            "all files on one brick: {:?}",
            c.per_brick
        );
    }
    let (layout_u, _) = brick_layout(&vol.bricks, "/odd-utf8");
    let bytes_opts = HashOptions {
        locale: RegexLocale::Bytes,
        ..HashOptions::default()
    };
    let differ = odd
        .iter()
        .filter(|n| {
            layout_u.subvol_for_name(n, &utf8_opts) != layout_u.subvol_for_name(n, &bytes_opts)
        })
        .count();
    assert!(
        differ >= 5,
        "only {differ} non-UTF-8 names separate the locales"
    );
    eprintln!(
        "real_volume: verified {} files ({} root {:?}, {} /sub {:?}, {} odd-utf8 {:?}, {} odd-c {:?}), {} directory \
         layouts; {differ}/{} non-UTF-8 names hash to a different brick per locale; C-locale client treated as {:?}",
        root_chk.files + sub_chk.files + odd_u.files + odd_c.files,
        root_chk.files,
        root_chk.per_brick,
        sub_chk.files,
        sub_chk.per_brick,
        odd_u.files,
        odd_u.per_brick,
        odd_c.files,
        odd_c.per_brick,
        4 + empty_dirs.len(),
        odd.len(),
        c_opts.locale,
    );
}
