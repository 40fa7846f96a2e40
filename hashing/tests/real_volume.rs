//! Placement against real GlusterFS: distribute volumes (2 and 11 bricks)
//! mounted with the C FUSE client. Every file the C client creates must sit on the
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
use std::sync::{mpsc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use hashing::{
    brick_chunks, Anomalies, HashOptions, Layout, NewDirParams, NewDirSubvol, RegexLocale,
    SubvolLookup, SubvolState, DHT_LAYOUT_XATTR,
};

/// Print to the real stderr, bypassing libtest's output capture, so that
/// skips and measurements show up in normal `cargo test` output.
macro_rules! report {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

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
    let mut tries = 0;
    loop {
        let o = run(args, env);
        if o.status.success() {
            return String::from_utf8_lossy(&o.stdout).into_owned();
        }
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        // glusterd serializes transactions; other users of this glusterd
        // may hold its lock for a moment.
        let busy = text.contains("Another transaction") || text.contains("Locking failed");
        tries += 1;
        assert!(
            busy && tries < 15,
            "`{}` failed ({}): {text}",
            args.join(" "),
            o.status
        );
        std::thread::sleep(Duration::from_secs(2));
    }
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

/// Run a gluster CLI command for cleanup, retrying while glusterd is busy.
fn gluster_quiet(args: &[&str]) {
    for _ in 0..15 {
        let o = run(args, &[]);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        if o.status.success()
            || !(text.contains("Another transaction") || text.contains("Locking failed"))
        {
            return;
        }
        std::thread::sleep(Duration::from_secs(2));
    }
}

/// Test volume; tears everything down on drop, also after a failure.
struct TestVolume {
    name: String,
    root: PathBuf,
    bricks: Vec<PathBuf>,
    mounts: Vec<PathBuf>,
    /// tmpfs file systems mounted for bricks, unmounted last.
    brick_fs: Vec<PathBuf>,
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
            gluster_quiet(&[
                "gluster",
                "--mode=script",
                "volume",
                "stop",
                &self.name,
                "force",
            ]);
            gluster_quiet(&["gluster", "--mode=script", "volume", "delete", &self.name]);
        }
        for m in &self.brick_fs {
            let ms = m.to_string_lossy();
            if !run(&["umount", &ms], &[]).status.success() {
                let _ = run(&["umount", "-l", &ms], &[]);
            }
        }
        let _ = fs::remove_dir_all(&self.root);
    }
}

impl TestVolume {
    /// Create and start a distribute volume `hashtest-<pid>-<tag>` with
    /// `n` bricks under /srv/hashtest-<pid>-<tag>/. With `tmpfs_mib`,
    /// brick `i` lives on its own tmpfs of `tmpfs_mib[i]` MiB.
    fn start(tag: &str, n: usize, tmpfs_mib: Option<&[u64]>) -> TestVolume {
        let name = format!("hashtest-{}-{tag}", std::process::id());
        let root = PathBuf::from(format!("/srv/{name}"));
        let mut vol = TestVolume {
            bricks: (1..=n).map(|i| root.join(format!("m{i}/brick"))).collect(),
            mounts: Vec::new(),
            brick_fs: Vec::new(),
            name: name.clone(),
            root: root.clone(),
            created: false,
        };
        for b in &vol.bricks {
            fs::create_dir_all(b.parent().unwrap_or(&root)).expect("create brick parent");
        }
        if let Some(sizes) = tmpfs_mib {
            assert_eq!(sizes.len(), n);
            for (i, size) in sizes.iter().enumerate() {
                let m = root.join(format!("m{}", i + 1));
                fs::create_dir_all(&m).expect("create tmpfs mount point");
                vol.brick_fs.push(m.clone());
                must(
                    &[
                        "mount",
                        "-t",
                        "tmpfs",
                        "-o",
                        &format!("size={size}m"),
                        "tmpfs",
                        &m.to_string_lossy(),
                    ],
                    &[],
                );
            }
        }
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
        // Keep DHT from diverting creates to another brick if this host's
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
        vol
    }

    /// Mount the volume with the C FUSE client under the given locale.
    fn mount(&mut self, suffix: &str, locale: &str) -> PathBuf {
        let mp = PathBuf::from(format!("/mnt/{}-{suffix}", self.name));
        fs::create_dir_all(&mp).expect("create mount point");
        self.mounts.push(mp.clone());
        let mps = mp.to_string_lossy();
        must(
            &[
                "mount",
                "-t",
                "glusterfs",
                &format!("vm:/{}", self.name),
                &mps,
            ],
            &[("LC_ALL", locale), ("LANG", locale)],
        );
        assert!(is_mounted(&mp), "{mp:?} is not a glusterfs mount");
        mp
    }

    /// Subvolume names as glusterd's volfile names them.
    fn subvol_names(&self) -> Vec<String> {
        (0..self.bricks.len())
            .map(|i| format!("{}-client-{i}", self.name))
            .collect()
    }

    /// Brick sizes in chunks as DHT sees them: each brick's statfs, with
    /// f_blocks divided by its shared-brick-count (the number of bricks of
    /// the volume on the same file system, which storage/posix divides by).
    fn chunks(&self) -> Vec<u32> {
        let stats: Vec<(String, u64, u64)> = self
            .bricks
            .iter()
            .map(|b| {
                let out = must(&["stat", "-f", "-c", "%i %b %s", &b.to_string_lossy()], &[]);
                let f: Vec<&str> = out.split_whitespace().collect();
                assert_eq!(f.len(), 3, "stat -f output {out:?}");
                (
                    f[0].to_owned(),
                    f[1].parse().expect("f_blocks"),
                    f[2].parse().expect("f_bsize"),
                )
            })
            .collect();
        stats
            .iter()
            .map(|(fsid, blocks, bsize)| {
                let shared = stats.iter().filter(|s| &s.0 == fsid).count() as u64;
                brick_chunks(blocks / shared, *bsize)
            })
            .collect()
    }
}

/// Everything that needs a real GlusterFS: `None` (skip) when not root;
/// panics when tooling is missing. Tests in this file run one at a time.
fn preflight() -> Option<MutexGuard<'static, ()>> {
    static SERIAL: Mutex<()> = Mutex::new(());
    let uid = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
    if uid.as_deref().ok() != Some("0") {
        report!("SKIPPED real_volume: needs root to create GlusterFS volumes and mount them (uid {uid:?})");
        return None;
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
    let guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    ensure_glusterd();
    Some(guard)
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

/// Run the FUSE I/O in a thread so that a hung mount fails the test after
/// WORKLOAD_TIMEOUT instead of blocking forever.
fn with_timeout(work: impl FnOnce() -> Result<(), String> + Send + 'static) {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(work());
    });
    match rx.recv_timeout(WORKLOAD_TIMEOUT) {
        Ok(Ok(())) => {}
        Ok(Err(e)) => panic!("file operations on the C-client mount failed: {e}"),
        Err(_) => {
            panic!("file operations on the C-client mount did not finish in {WORKLOAD_TIMEOUT:?}")
        }
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
    weighted: bool,
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
    // ours must compute the same one. DHT weights by brick size only once
    // it has statfs results (fetched asynchronously, so the first
    // directories of a fresh mount are split equally): accept either
    // computation, and report which one it was.
    let commit = layout.entries()[0].commit_hash;
    assert!(
        layout.entries().iter().all(|e| e.commit_hash == commit),
        "{dir}: {layout:?}"
    );
    let names = vol.subvol_names();
    let predict = |chunks: &[u32]| {
        let subvols: Vec<NewDirSubvol> = names
            .iter()
            .zip(chunks)
            .map(|(name, &chunks)| NewDirSubvol {
                name,
                state: SubvolState::Missing,
                chunks,
            })
            .collect();
        let l = Layout::new_directory(&subvols, &NewDirParams::new(dir.as_bytes(), commit), opts);
        l.entries()
            .iter()
            .map(|e| (e.start, e.stop))
            .collect::<Vec<_>>()
    };
    let on_disk: Vec<(u32, u32)> = layout.entries().iter().map(|e| (e.start, e.stop)).collect();
    let weighted = predict(chunks);
    let equal = predict(&vec![0; chunks.len()]);
    assert!(
        on_disk == weighted || on_disk == equal,
        "{dir}: on-disk layout {on_disk:08x?} is neither the weighted {weighted:08x?} nor the equal {equal:08x?} prediction"
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
        weighted: on_disk == weighted && on_disk != equal,
    }
}

/// The 2-brick (2x1 distribute) volume: ~380 files in the root, a
/// subdirectory and two directories of non-UTF-8 names, each written by
/// a C client in a UTF-8 or the C locale, plus empty directories.
#[test]
fn c_client_places_files_where_we_hash_them() {
    let Some(_serial) = preflight() else { return };
    let mut vol = TestVolume::start("d2", 2, None);

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
    let mp_u = vol.mount("utf8", "C.UTF-8");
    let mp_c = vol.mount("c", "C");

    let root_files = names("root", FILES_PER_DIR);
    let sub_files = names("sub", FILES_PER_DIR);
    let odd = non_utf8_names(NON_UTF8_FILES);
    let empty_dirs: Vec<String> = (0..12)
        .map(|i| format!("/d{i:02}"))
        .chain(["/sub/inner".to_owned(), "/sub/inner/deeper".to_owned()])
        .collect();

    {
        let (root_files, sub_files, odd, empty_dirs) = (
            root_files.clone(),
            sub_files.clone(),
            odd.clone(),
            empty_dirs.clone(),
        );
        with_timeout(move || {
            create_files(&mp_u, &root_files)?;
            fs::create_dir(mp_u.join("sub")).map_err(|e| format!("mkdir sub: {e}"))?;
            create_files(&mp_u.join("sub"), &sub_files)?;
            for d in &empty_dirs {
                fs::create_dir(mp_u.join(d.trim_start_matches('/')))
                    .map_err(|e| format!("mkdir {d}: {e}"))?;
            }
            fs::create_dir(mp_u.join("odd-utf8")).map_err(|e| format!("mkdir odd-utf8: {e}"))?;
            create_files(&mp_u.join("odd-utf8"), &odd)?;
            fs::create_dir(mp_c.join("odd-c")).map_err(|e| format!("mkdir odd-c: {e}"))?;
            create_files(&mp_c.join("odd-c"), &odd)
        });
    }

    let chunks = vol.chunks();
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
    report!(
        "real_volume 2x1: verified {} files ({} root {:?}, {} /sub {:?}, {} odd-utf8 {:?}, {} odd-c {:?}), {} directory \
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

/// Eleven bricks: subvolume names `...-client-10` sort before
/// `...-client-2`, and 0xffffffff / 11 is not a whole number, so this
/// checks the name ordering, the start-subvolume rotation and the range
/// arithmetic of fresh layouts against the C client.
#[test]
fn eleven_bricks_layouts_and_placement_match() {
    let Some(_serial) = preflight() else { return };
    let n = 11;
    let mut vol = TestVolume::start("d11", n, None);
    let mp = vol.mount("utf8", "C.UTF-8");
    let opts = HashOptions::default();

    let root_files = names("root11", 220);
    let dirs: Vec<String> = (0..24).map(|i| format!("/dir-{i}")).collect();
    let dir_files = names("dir", 20);
    {
        let (root_files, dirs, dir_files) = (root_files.clone(), dirs.clone(), dir_files.clone());
        with_timeout(move || {
            create_files(&mp, &root_files)?;
            for d in &dirs {
                let p = mp.join(d.trim_start_matches('/'));
                fs::create_dir(&p).map_err(|e| format!("mkdir {d}: {e}"))?;
                create_files(&p, &dir_files)?;
            }
            Ok(())
        });
    }

    let chunks = vol.chunks();
    let root = check_dir(&vol, "/", &root_files, &opts, &chunks);
    let mut files = root.files;
    let mut weighted = usize::from(root.weighted);
    let mut first_brick = std::collections::BTreeSet::new();
    for d in &dirs {
        let c = check_dir(&vol, d, &dir_files, &opts, &chunks);
        files += c.files;
        weighted += usize::from(c.weighted);
        let (l, _) = brick_layout(&vol.bricks, d);
        first_brick.insert(l.search(0));
    }
    assert!(
        root.per_brick.iter().filter(|&&c| c > 0).count() >= n - 1,
        "{:?}",
        root.per_brick
    );
    // Different directories start their ranges on different bricks.
    assert!(first_brick.len() >= 4, "start subvolumes {first_brick:?}");
    report!(
        "real_volume 11x1: verified {files} files and {} directory layouts (root files per brick {:?}; \
         {weighted} layouts distinguishable as size-weighted; {} distinct start bricks)",
        dirs.len() + 1,
        root.per_brick,
        first_brick.len()
    );
}

/// Three bricks of different sizes (tmpfs of 64, 128 and 320 MiB): once
/// DHT has the bricks' statfs, new directories get ranges proportional to
/// size. Checks the weighted split against the C client.
#[test]
fn weighted_layouts_match() {
    let Some(_serial) = preflight() else { return };
    let sizes = [64u64, 128, 320];
    let mut vol = TestVolume::start("w3", sizes.len(), Some(&sizes));
    let chunks = vol.chunks();
    assert_eq!(
        chunks,
        sizes.iter().map(|&s| s as u32).collect::<Vec<_>>(),
        "tmpfs brick sizes"
    );
    let mp = vol.mount("utf8", "C.UTF-8");
    let opts = HashOptions::default();

    let dirs: Vec<String> = (0..16).map(|i| format!("/w-{i}")).collect();
    let dir_files = names("w", 30);
    {
        let (dirs, dir_files) = (dirs.clone(), dir_files.clone());
        with_timeout(move || {
            for (k, d) in dirs.iter().enumerate() {
                let p = mp.join(d.trim_start_matches('/'));
                fs::create_dir(&p).map_err(|e| format!("mkdir {d}: {e}"))?;
                create_files(&p, &dir_files)?;
                if k == 0 {
                    // DHT fetches brick statfs asynchronously on mkdir;
                    // give it a moment before the remaining directories.
                    std::thread::sleep(Duration::from_secs(2));
                }
            }
            Ok(())
        });
    }
    let mut files = 0;
    let mut weighted = 0;
    for d in &dirs {
        let c = check_dir(&vol, d, &dir_files, &opts, &chunks);
        files += c.files;
        weighted += usize::from(c.weighted);
    }
    assert!(weighted > 0, "no directory got a size-weighted layout");
    report!(
        "real_volume weighted 3x1 {sizes:?} MiB: verified {files} files, {} layouts ({weighted} size-weighted)",
        dirs.len()
    );
}
