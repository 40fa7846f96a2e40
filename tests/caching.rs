//! The FUSE client's caches on real volumes: md-cache, quick-read, open-behind (anonymous fds)
//! and write-behind, each on by default. These tests check what an application sees through
//! `mount -t gluster-rs` — next to a GlusterFS C-client mount of the same volume and the bricks'
//! own files — when files are unlinked or renamed over while open, changed by another client,
//! written past the space the bricks have, written at overlapping offsets, and locked right
//! after an open that went to the bricks as an anonymous fd.
//!
//! Needs /sbin/mount.gluster-rs (scripts/test.sh installs it). Run one at a time:
//! `cargo test --test caching -- --test-threads=1`.

mod common;

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::os::unix::io::{AsRawFd, IntoRawFd};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::*;

/// Longer than the default attribute and entry timeouts (1 s) of both clients.
const PAST_TIMEOUT: Duration = Duration::from_millis(2500);

/// Small deterministic generator (xorshift64*), so a failing run can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// Drop the kernel's cached pages of `f`, so the next reads go to the FUSE client.
fn drop_page_cache(f: &File) {
    // SAFETY: plain syscall on a valid fd.
    unsafe { libc::posix_fadvise(f.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
}

/// Everything `f` reads from offset 0 to its end, past the kernel's page cache.
fn read_through(f: &File) -> Vec<u8> {
    drop_page_cache(f);
    let mut out = Vec::new();
    let mut buf = vec![0u8; 128 * 1024];
    loop {
        let n = f.read_at(&mut buf, out.len() as u64).expect("pread");
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&buf[..n]);
    }
}

/// `len` bytes at `start` through an O_DIRECT fd (which wants 4 KiB-aligned offsets, sizes and
/// buffers), fewer at the end of the file.
fn direct_read(f: &File, start: usize, len: usize) -> Vec<u8> {
    const ALIGN: usize = 4096;
    let first = start / ALIGN * ALIGN;
    let end = (start + len).div_ceil(ALIGN) * ALIGN;
    let mut raw = vec![0u8; end - first + ALIGN];
    let skip = raw.as_ptr().align_offset(ALIGN);
    let buf = &mut raw[skip..skip + (end - first)];
    let mut got = 0;
    while got < buf.len() {
        let n = f
            .read_at(&mut buf[got..], (first + got) as u64)
            .expect("O_DIRECT pread");
        if n == 0 {
            break;
        }
        got += n;
    }
    let from = start - first;
    buf[from.min(got)..(from + len).min(got)].to_vec()
}

/// close(2) with its result (dropping a `File` ignores it): write-behind reports there.
fn close(f: File) -> io::Result<()> {
    let fd = f.into_raw_fd();
    // SAFETY: `fd` was just taken out of the File, so it is closed exactly once.
    if unsafe { libc::close(fd) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// fcntl(F_SETLK) of the whole file: `typ` is F_WRLCK, F_RDLCK or F_UNLCK.
fn setlk(f: &File, typ: i32) -> io::Result<()> {
    // SAFETY: a zeroed flock is a valid value; the fd is valid for the call.
    let mut fl: libc::flock = unsafe { std::mem::zeroed() };
    fl.l_type = typ as libc::c_short;
    fl.l_whence = libc::SEEK_SET as libc::c_short;
    let r = unsafe { libc::fcntl(f.as_raw_fd(), libc::F_SETLK, &fl) };
    if r == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

fn flock(f: &File, op: i32) -> io::Result<()> {
    // SAFETY: plain syscall on a valid fd.
    if unsafe { libc::flock(f.as_raw_fd(), op) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

fn rw(p: &Path) -> File {
    OpenOptions::new()
        .read(true)
        .write(true)
        .open(p)
        .unwrap_or_else(|e| panic!("open {}: {e}", p.display()))
}

fn mtime(md: &std::fs::Metadata) -> (i64, i64) {
    (md.mtime(), md.mtime_nsec())
}

// ------------------------------------------------------------------------------------------
// 1. Unlink / rename-over while open

/// Open files keep working after their last name goes, with or without open-behind and
/// write-behind (`tag` keeps the two mounts' files apart).
fn files_survive_losing_their_name(vol: &TestVolume, m: &Mount, tag: &str) {
    let p = |s: &str| m.path(&format!("{tag}-{s}"));

    // a) A file read and written through two fds (open-behind: both anonymous), unlinked
    //    with a write still behind, written again, fsynced, read back through both.
    std::fs::write(p("a"), b"0123456789").unwrap();
    let f = rw(&p("a"));
    let r = File::open(p("a")).unwrap();
    let mut buf = [0u8; 10];
    r.read_exact_at(&mut buf, 0).unwrap();
    assert_eq!(&buf, b"0123456789");
    f.write_all_at(b"ABCDE", 0).unwrap();
    std::fs::remove_file(p("a")).unwrap();
    assert!(!p("a").exists(), "{tag}: name still there after unlink");
    f.write_all_at(b"-after-unlink", 10).unwrap();
    f.sync_all().unwrap();
    let want = b"ABCDE56789-after-unlink";
    assert_eq!(
        read_through(&f),
        want,
        "{tag}: read back through the writer"
    );
    assert_eq!(
        read_through(&r),
        want,
        "{tag}: read back through the reader"
    );
    assert_eq!(f.metadata().unwrap().len(), want.len() as u64, "{tag}");
    close(f).unwrap_or_else(|e| panic!("{tag}: close of the unlinked writer: {e}"));
    close(r).unwrap_or_else(|e| panic!("{tag}: close of the unlinked reader: {e}"));
    for b in &vol.bricks {
        assert!(!b.join(format!("{tag}-a")).exists(), "{}", b.display());
    }

    // b) Created (open-behind: MKNOD and an anonymous fd), written past quick-read's 64 KiB in
    //    several writes, unlinked at once, written again.
    let mut rng = Rng(0x5eed_0001);
    let mut want = rng.bytes(200 * 1024);
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(p("b"))
        .unwrap();
    for (i, chunk) in want.chunks(50 * 1024).enumerate() {
        f.write_all_at(chunk, (i * 50 * 1024) as u64).unwrap();
    }
    std::fs::remove_file(p("b")).unwrap();
    let tail = rng.bytes(30_000);
    f.write_all_at(&tail, want.len() as u64).unwrap();
    want.extend_from_slice(&tail);
    f.sync_all().unwrap();
    assert!(
        read_through(&f) == want,
        "{tag}: created+unlinked file reads back wrong"
    );
    close(f).unwrap();

    // c) An fcntl lock first (open-behind opens for real here), then unlink, write, read.
    std::fs::write(p("c"), b"locked file\n").unwrap();
    let f = rw(&p("c"));
    setlk(&f, libc::F_WRLCK).unwrap_or_else(|e| panic!("{tag}: F_SETLK: {e}"));
    f.write_all_at(b"more", 12).unwrap();
    std::fs::remove_file(p("c")).unwrap();
    f.write_all_at(b" after unlink", 16).unwrap();
    f.sync_all().unwrap();
    assert_eq!(read_through(&f), b"locked file\nmore after unlink", "{tag}");
    setlk(&f, libc::F_UNLCK).unwrap();
    close(f).unwrap();

    // d) Renamed over while open (and with a write behind): the old fd still writes and reads
    //    the replaced file; the name shows the new one.
    std::fs::write(p("d"), b"old-target-content").unwrap();
    let f = rw(&p("d"));
    f.write_all_at(b"X", 0).unwrap();
    std::fs::write(p("d.new"), b"new content").unwrap();
    std::fs::rename(p("d.new"), p("d")).unwrap();
    f.write_all_at(b"+tail", 18).unwrap();
    f.sync_all().unwrap();
    assert_eq!(read_through(&f), b"Xld-target-content+tail", "{tag}");
    assert_eq!(std::fs::read(p("d")).unwrap(), b"new content", "{tag}");
    close(f).unwrap();
    assert_eq!(std::fs::read(p("d")).unwrap(), b"new content", "{tag}");
    for b in &vol.bricks {
        assert_eq!(
            std::fs::read(b.join(format!("{tag}-d"))).unwrap(),
            b"new content",
            "{}",
            b.display()
        );
    }
}

#[test]
fn open_files_survive_unlink_and_rename_over() {
    helper_installed();
    let vol = TestVolume::new("cachea", "1x3");
    {
        let m = vol.mount_rs("");
        files_survive_losing_their_name(&vol, &m, "default");
    }
    {
        let m = vol.mount_rs("open-behind=off,write-behind=off");
        files_survive_losing_their_name(&vol, &m, "off");
    }
}

// ------------------------------------------------------------------------------------------
// 2. Freshness across clients, and own writes at once

#[test]
fn other_clients_changes_show_after_the_timeout_and_own_writes_at_once() {
    helper_installed();
    let vol = TestVolume::new("cacheb", "1x3");
    let rs = vol.mount_rs("");
    let c = vol.mount_c_client();

    // Another client rewrites a small file (quick-read keeps its content): same size in place,
    // smaller, larger, past quick-read's 64 KiB, and back below it.
    let mut rng = Rng(0x5eed_0002);
    let mut cur = rng.bytes(1000);
    std::fs::write(c.path("small"), &cur).unwrap();
    for (step, len) in [1000usize, 500, 3000, 100_000, 700].into_iter().enumerate() {
        assert!(
            std::fs::read(rs.path("small")).unwrap() == cur,
            "step {step}: before"
        );
        let before = std::fs::metadata(rs.path("small")).unwrap();
        let new = rng.bytes(len);
        if len == cur.len() {
            let f = OpenOptions::new()
                .write(true)
                .open(c.path("small"))
                .unwrap();
            f.write_all_at(&new, 0).unwrap();
            close(f).unwrap();
        } else {
            std::fs::write(c.path("small"), &new).unwrap();
        }
        let c_md = std::fs::metadata(c.path("small")).unwrap();
        std::thread::sleep(PAST_TIMEOUT);
        let got = std::fs::read(rs.path("small")).unwrap();
        assert!(
            got == new,
            "step {step} ({len} bytes): gluster-rs read {} stale/wrong bytes after the timeout",
            got.len()
        );
        let md = std::fs::metadata(rs.path("small")).unwrap();
        assert_eq!(md.len(), len as u64, "step {step}: size");
        assert_eq!(
            mtime(&md),
            mtime(&c_md),
            "step {step}: mtime vs the C client"
        );
        assert_ne!(
            mtime(&md),
            mtime(&before),
            "step {step}: mtime did not change"
        );
        cur = new;
    }

    // Own writes: visible at once through the same mount, whole-file rewrites of every size
    // and in-place rewrites through a kept-open fd.
    let mut want = Vec::new();
    for i in 0..20usize {
        want = rng.bytes(1 + (i * 7919) % 90_000);
        std::fs::write(rs.path("own"), &want).unwrap();
        assert!(
            std::fs::read(rs.path("own")).unwrap() == want,
            "rewrite {i}: own write not visible"
        );
        assert_eq!(
            std::fs::metadata(rs.path("own")).unwrap().len(),
            want.len() as u64
        );
    }
    let f = rw(&rs.path("own"));
    for i in 0..20 {
        let off = rng.below(want.len() as u64) as usize;
        let n = (1 + rng.below(4096) as usize).min(want.len() - off);
        let data = rng.bytes(n);
        f.write_all_at(&data, off as u64).unwrap();
        want[off..off + n].copy_from_slice(&data);
        assert!(
            std::fs::read(rs.path("own")).unwrap() == want,
            "in-place write {i}: not visible through a new open"
        );
    }
    close(f).unwrap();

    // Another gluster-rs mount and the C client see the last content after the timeout.
    let rs2 = vol.mount_rs("");
    std::thread::sleep(PAST_TIMEOUT);
    assert!(std::fs::read(rs2.path("own")).unwrap() == want);
    assert!(std::fs::read(c.path("own")).unwrap() == want);
    assert!(std::fs::read(rs2.path("small")).unwrap() == cur);
}

/// A file growing through a kept-open fd: right after each write, stat by name, the listing
/// and a read show the new size. The lookup the kernel sends when the name's entry has expired
/// (1 s, or every time with entry-timeout=0) races the write still behind; GlusterFS's
/// write-behind queues such lookups after the file's writes (write-behind.c wb_lookup) and
/// strips the attributes from readdirp entries of files with writes in flight (wb_readdirp_cbk).
#[test]
fn own_writes_show_in_stat_by_name_at_once() {
    helper_installed();
    let vol = TestVolume::new("cacheg", "1x3");
    let rs = vol.mount_rs("");
    let m0 = vol.mount_rs("entry-timeout=0");
    let mut rng = Rng(0x5eed_0007);

    // After the entry, the attributes and replicate's eager lock have expired.
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(rs.path("grow"))
        .unwrap();
    let mut want: Vec<u8> = Vec::new();
    let mut stale = Vec::new();
    for i in 0..6 {
        std::thread::sleep(Duration::from_millis(1300));
        let chunk = rng.bytes(5000);
        f.write_all_at(&chunk, want.len() as u64).unwrap();
        want.extend_from_slice(&chunk);
        let by_name = std::fs::metadata(rs.path("grow")).unwrap().len();
        let listed = std::fs::read_dir(&rs.dir)
            .unwrap()
            .map(|e| e.unwrap())
            .find(|e| e.file_name() == "grow")
            .map(|e| e.metadata().unwrap().len());
        let read = std::fs::read(rs.path("grow")).unwrap();
        if (by_name, listed, read.len()) != (want.len() as u64, Some(want.len() as u64), want.len())
            || read != want
        {
            stale.push(format!(
                "write {i} (file now {} bytes): stat by name {by_name}, listing {listed:?}, read {}",
                want.len(),
                read.len()
            ));
        }
    }
    close(f).unwrap();

    // Every open and stat looking the name up again, many times.
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(m0.path("lookups"))
        .unwrap();
    let mut want: Vec<u8> = Vec::new();
    for i in 0..200 {
        let n = 1 + rng.below(3000) as usize;
        let chunk = rng.bytes(n);
        f.write_all_at(&chunk, want.len() as u64).unwrap();
        want.extend_from_slice(&chunk);
        let size = std::fs::metadata(m0.path("lookups")).unwrap().len();
        let read = if i % 10 == 0 {
            std::fs::read(m0.path("lookups")).unwrap()
        } else {
            want.clone()
        };
        if size != want.len() as u64 || read != want {
            stale.push(format!(
                "entry-timeout=0, write {i} (file now {} bytes): stat by name {size}, read {}",
                want.len(),
                read.len()
            ));
        }
    }
    close(f).unwrap();
    assert!(
        stale.is_empty(),
        "own writes not visible at once:\n{}",
        stale.join("\n")
    );
}

// ------------------------------------------------------------------------------------------
// 3. Write-behind errors on full bricks

/// Write `total` bytes in 1 MiB writes, then fsync, then close; the first error and where.
fn write_until_error(p: &Path, total: usize) -> (usize, Option<(&'static str, io::Error)>) {
    let f = match OpenOptions::new().write(true).create_new(true).open(p) {
        Ok(f) => f,
        Err(e) => return (0, Some(("open", e))),
    };
    let chunk = vec![0x5au8; 1 << 20];
    let mut done = 0;
    while done < total {
        if let Err(e) = f.write_all_at(&chunk, done as u64) {
            let _ = close(f);
            return (done, Some(("write", e)));
        }
        done += chunk.len();
    }
    if let Err(e) = f.sync_all() {
        let _ = close(f);
        return (done, Some(("fsync", e)));
    }
    (done, close(f).err().map(|e| ("close", e)))
}

/// The errors a write to full bricks may give.
fn space_errno(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::ENOSPC | libc::EDQUOT | libc::EIO)
    )
}

#[test]
fn write_behind_reports_a_full_volume() {
    helper_installed();
    // Three replicas on one 64 MiB tmpfs: about 21 MiB of file data fits.
    let vol = tmpfs_volume("cachec", "1x3", "64M");
    let rs = vol.mount_rs("");
    let mut rng = Rng(0x5eed_0003);

    // Written and fsynced before the volume fills: must survive intact.
    let keep = rng.bytes(2 << 20);
    let mut f = File::create(rs.path("keep")).unwrap();
    f.write_all(&keep).unwrap();
    f.sync_all().unwrap();
    close(f).unwrap();
    // Opened before the volume fills (creating it afterwards could fail by itself).
    let late = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(rs.path("late"))
        .unwrap();

    // dd: must fail, not report success for data the bricks never stored.
    let (ok, _, err) = try_sh(&format!(
        "dd if=/dev/zero of={} bs=1M count=100 status=none",
        rs.path("dd").display()
    ));
    assert!(!ok, "dd of 100 MiB onto a ~21 MiB volume succeeded");
    eprintln!("dd: {}", err.trim());
    assert!(err.contains("No space left on device"), "dd: {err}");

    // A small write once the volume is full: acknowledged or not, the error must come at the
    // write or at close (here without fsync).
    let small = rng.bytes(64 * 1024);
    let w = late.write_all_at(&small, 0);
    let cl = close(late);
    eprintln!("late write: {w:?}, close: {cl:?}");
    match (&w, &cl) {
        (Err(e), _) | (Ok(()), Err(e)) => assert!(space_errno(e), "late write: {e}"),
        (Ok(()), Ok(())) => panic!("a write to a full volume succeeded at write and close"),
    }

    // Free the space, then fill it again from Rust: error at write, fsync or close.
    std::fs::remove_file(rs.path("dd")).unwrap();
    std::thread::sleep(Duration::from_secs(1));
    let (written, error) = write_until_error(&rs.path("fill"), 100 << 20);
    let (stage, e) = error.unwrap_or_else(|| {
        panic!("100 MiB written, fsynced and closed on a ~21 MiB volume without an error")
    });
    eprintln!("fill: {written} bytes accepted, then {stage}: {e}");
    assert!(space_errno(&e), "{stage}: {e}");

    // Nothing fsynced before is lost: through the mount and on every brick.
    std::fs::remove_file(rs.path("fill")).unwrap();
    let _ = std::fs::remove_file(rs.path("late"));
    std::thread::sleep(PAST_TIMEOUT);
    assert!(std::fs::read(rs.path("keep")).unwrap() == keep, "keep lost");
    for b in &vol.bricks {
        assert!(
            std::fs::read(b.join("keep")).unwrap() == keep,
            "keep differs on {}",
            b.display()
        );
    }
    // And the volume works again.
    std::fs::write(rs.path("after"), b"space again").unwrap();
    assert_eq!(std::fs::read(rs.path("after")).unwrap(), b"space again");
}

// ------------------------------------------------------------------------------------------
// 4. Write-behind ordering

/// The file as the C client and every brick have it must equal `want`.
fn same_everywhere(vol: &TestVolume, c: &Mount, name: &str, want: &[u8]) {
    let got = std::fs::read(c.path(name)).unwrap();
    assert!(
        got == want,
        "{name}: C client reads {} bytes, expected {}",
        got.len(),
        want.len()
    );
    for b in &vol.bricks {
        let got = std::fs::read(b.join(name)).unwrap();
        assert!(
            got == want,
            "{name}: brick {} has {} bytes, expected {} (first difference at {:?})",
            b.display(),
            got.len(),
            want.len(),
            got.iter().zip(want).position(|(a, b)| a != b)
        );
    }
}

#[test]
fn overlapping_writes_land_in_the_order_written() {
    helper_installed();
    let vol = TestVolume::new("cached", "1x3");
    let rs = vol.mount_rs("");
    let mut rng = Rng(0x5eed_0004);

    // Many small writes at random, overlapping offsets, checked now and then by reads that
    // bypass the page cache (O_DIRECT), by stat, and with a few truncates in between.
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(rs.path("random"))
        .unwrap();
    let direct = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECT)
        .open(rs.path("random"))
        .unwrap();
    let mut want: Vec<u8> = Vec::new();
    for i in 0..2000 {
        let off = rng.below(256 * 1024) as usize;
        let n = 1 + rng.below(8192) as usize;
        let data = rng.bytes(n);
        f.write_all_at(&data, off as u64).unwrap();
        if want.len() < off + data.len() {
            want.resize(off + data.len(), 0);
        }
        want[off..off + data.len()].copy_from_slice(&data);
        if i % 50 == 49 {
            let start = rng.below(want.len() as u64) as usize;
            let len = (1 + rng.below(64 * 1024) as usize).min(want.len() - start);
            let buf = direct_read(&direct, start, len);
            assert!(
                buf == want[start..start + len],
                "write {i}: read of {len} at {start} does not see the writes before it"
            );
            assert_eq!(f.metadata().unwrap().len(), want.len() as u64, "write {i}");
        }
        if i % 400 == 399 {
            let len = rng.below(want.len() as u64);
            f.set_len(len).unwrap();
            want.truncate(len as usize);
        }
    }
    f.sync_all().unwrap();
    close(f).unwrap();
    close(direct).unwrap();
    assert!(std::fs::read(rs.path("random")).unwrap() == want);

    // O_APPEND writes of one fd land in order.
    let mut app = OpenOptions::new()
        .append(true)
        .create(true)
        .open(rs.path("append"))
        .unwrap();
    let mut appended = Vec::new();
    for i in 0..300 {
        let rec = format!("record {i:04} {}\n", "x".repeat(rng.below(300) as usize));
        app.write_all(rec.as_bytes()).unwrap();
        appended.extend_from_slice(rec.as_bytes());
    }
    close(app).unwrap();
    assert!(std::fs::read(rs.path("append")).unwrap() == appended);

    let c = vol.mount_c_client();
    same_everywhere(&vol, &c, "random", &want);
    same_everywhere(&vol, &c, "append", &appended);
}

/// Writes behind on one fd, then O_APPEND or O_SYNC writes on another fd of the same file, in
/// one thread: each later write must land after (and win over) what was written before it, as on
/// a local file. GlusterFS's write-behind puts O_SYNC writes in the file's queue behind
/// overlapping writes still in flight, and makes every write wait for an append in flight
/// (write-behind.c wb_writev, wb_requests_conflict).
#[test]
fn sync_and_append_writes_follow_writes_behind_on_other_fds() {
    helper_installed();
    let vol = TestVolume::new("cachee", "1x3");
    let rs = vol.mount_rs("");
    let mut rng = Rng(0x5eed_0005);
    let mut problems = Vec::new();

    // Alternating: a write behind at the end of the file, an append through an O_APPEND fd.
    let plain = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(rs.path("mixed"))
        .unwrap();
    let mut app = OpenOptions::new()
        .append(true)
        .open(rs.path("mixed"))
        .unwrap();
    let mut want = Vec::new();
    for i in 0..200 {
        let n = 1 + rng.below(4096) as usize;
        let a = vec![b'a' + (i % 26) as u8; n];
        plain.write_all_at(&a, want.len() as u64).unwrap();
        want.extend_from_slice(&a);
        let b = format!("<append {i}>");
        app.write_all(b.as_bytes()).unwrap();
        want.extend_from_slice(b.as_bytes());
    }
    close(plain).unwrap();
    close(app).unwrap();
    let got = std::fs::read(rs.path("mixed")).unwrap();
    if got != want {
        let records = got.windows(8).filter(|w| w == b"<append ").count();
        problems.push(format!(
            "O_APPEND after writes behind: {} bytes read, {} expected; {records} of 200 \
             appended records intact, first difference at {:?}",
            got.len(),
            want.len(),
            got.iter().zip(&want).position(|(a, b)| a != b)
        ));
    }

    // Each 4 KiB block written behind, then overwritten through an O_SYNC fd.
    let plain = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(rs.path("sync"))
        .unwrap();
    let sync = OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_SYNC)
        .open(rs.path("sync"))
        .unwrap();
    let blocks = 300;
    for i in 0..blocks {
        plain.write_all_at(&[b'P'; 4096], i * 4096).unwrap();
        sync.write_all_at(&[b'S'; 4096], i * 4096).unwrap();
    }
    close(plain).unwrap();
    close(sync).unwrap();
    let got = std::fs::read(rs.path("sync")).unwrap();
    let lost = got.chunks(4096).filter(|c| *c != [b'S'; 4096]).count();
    if got.len() != 4096 * blocks as usize || lost > 0 {
        problems.push(format!(
            "O_SYNC overwrite of writes behind: {lost} of {blocks} blocks do not hold the \
             later O_SYNC write ({} bytes)",
            got.len()
        ));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    let c = vol.mount_c_client();
    same_everywhere(&vol, &c, "mixed", &want);
    same_everywhere(&vol, &c, "sync", &[b'S'; 4096].repeat(blocks as usize));
}

// ------------------------------------------------------------------------------------------
// 5. Locks right after an anonymous open

#[test]
fn locks_taken_on_open_behind_files_exclude_other_mounts() {
    helper_installed();
    let vol = TestVolume::new("cachef", "1x3");
    let a = vol.mount_rs("");
    let b = vol.mount_rs("");
    std::fs::write(a.path("lk"), b"lock me").unwrap();
    std::thread::sleep(PAST_TIMEOUT);

    // flock: held through a (its open was anonymous until the lock), refused to b.
    let fa = rw(&a.path("lk"));
    flock(&fa, libc::LOCK_EX).unwrap();
    let fb = rw(&b.path("lk"));
    let e = flock(&fb, libc::LOCK_EX | libc::LOCK_NB).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EWOULDBLOCK), "flock in b: {e}");
    flock(&fa, libc::LOCK_UN).unwrap();
    flock(&fb, libc::LOCK_EX | libc::LOCK_NB).expect("flock in b after a unlocked");
    flock(&fb, libc::LOCK_UN).unwrap();
    close(fa).unwrap();
    close(fb).unwrap();

    // fcntl: taken by a fresh open in a right after a write behind it, refused to another
    // process through b; the write is on the bricks once the lock is granted.
    let fa = rw(&a.path("lk"));
    fa.write_all_at(b"LOCK", 0).unwrap();
    setlk(&fa, libc::F_WRLCK).unwrap();
    // (Replicate acknowledges a write once one brick has it; the others may still be writing.)
    assert!(
        vol.bricks
            .iter()
            .any(|brick| std::fs::read(brick.join("lk")).unwrap() == b"LOCK me"),
        "lock granted before the write behind it reached any brick"
    );
    let try_b = format!(
        "import fcntl;f=open('{}','r+');fcntl.lockf(f,fcntl.LOCK_EX|fcntl.LOCK_NB)",
        b.path("lk").display()
    );
    let out = Command::new("python3")
        .args(["-c", &try_b])
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "fcntl lock in b granted while a holds it"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Errno 11"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    setlk(&fa, libc::F_UNLCK).unwrap();
    let out = Command::new("python3")
        .args(["-c", &try_b])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "fcntl lock in b refused after a unlocked: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    close(fa).unwrap();
}

/// Every replica records the same times for a change (the FUSE request's time goes to all bricks
/// as the credential's ctime, as GlusterFS's utime translator does), so which brick answers a
/// stat does not change what it shows, and a C client sees the same times.
#[test]
fn replicas_record_the_same_times() {
    helper_installed();
    let vol = TestVolume::new("cachet", "1x3");
    let rs = vol.mount_rs("");
    let c = vol.mount_c_client();
    std::fs::create_dir(rs.path("d")).unwrap();
    std::fs::write(rs.path("d/f"), b"first").unwrap();
    let f = OpenOptions::new()
        .append(true)
        .open(rs.path("d/f"))
        .unwrap();
    (&f).write_all(b" second").unwrap();
    close(f).unwrap();
    std::fs::set_permissions(rs.path("d/f"), std::fs::Permissions::from_mode(0o600)).unwrap();
    for name in ["d", "d/f"] {
        let mdata: Vec<Option<String>> = vol
            .bricks
            .iter()
            .map(|b| brick_xattr(&b.join(name), "trusted.glusterfs.mdata"))
            .collect();
        assert!(mdata[0].is_some(), "{name}: no trusted.glusterfs.mdata");
        assert!(
            mdata.iter().all(|m| *m == mdata[0]),
            "{name}: replicas disagree on times: {mdata:?}"
        );
    }
    // After the attribute timeout both clients show the same times.
    std::thread::sleep(Duration::from_millis(1500));
    let ours = std::fs::metadata(rs.path("d/f")).unwrap();
    let theirs = std::fs::metadata(c.path("d/f")).unwrap();
    assert_eq!(mtime(&ours), mtime(&theirs));
    assert_eq!(
        (ours.ctime(), ours.ctime_nsec()),
        (theirs.ctime(), theirs.ctime_nsec())
    );
}

/// Pages of `p` in the kernel's page cache (mmap + mincore; the mapping reads nothing).
fn resident_pages(p: &Path) -> usize {
    let f = File::open(p).unwrap();
    let len = f.metadata().unwrap().len() as usize;
    if len == 0 {
        return 0;
    }
    // SAFETY: a fresh read-only shared mapping of an open file, unmapped before return; mincore
    // writes one byte per page into a vector of that many bytes.
    unsafe {
        let addr = libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ,
            libc::MAP_SHARED,
            f.as_raw_fd(),
            0,
        );
        assert_ne!(addr, libc::MAP_FAILED, "mmap {}", p.display());
        let mut vec = vec![0u8; len.div_ceil(4096)];
        let r = libc::mincore(addr, len, vec.as_mut_ptr());
        libc::munmap(addr, len);
        assert_eq!(r, 0, "mincore {}", p.display());
        vec.iter().filter(|&&b| b & 1 == 1).count()
    }
}

/// With fopen-keep-cache (the default) what this mount wrote stays in the kernel's page cache
/// across the attribute refresh that shows the write's new mtime, while another client's
/// same-size overwrite (only the mtime tells) drops it, as the kernel's auto-invalidation would.
#[test]
fn own_writes_stay_cached_and_other_clients_overwrites_do_not() {
    helper_installed();
    let vol = TestVolume::new("cachep", "1x3");
    let rs = vol.mount_rs("");
    let c = vol.mount_c_client();
    // Past quick-read's 64 KiB: reads of it are the kernel's page cache or the bricks.
    let mut rng = Rng(0x5eed_0007);
    let first = rng.bytes(256 * 1024);
    std::fs::write(rs.path("big"), &first).unwrap();
    std::thread::sleep(PAST_TIMEOUT);
    let md = std::fs::metadata(rs.path("big")).unwrap();
    assert_eq!(md.len(), first.len() as u64);
    assert_eq!(
        resident_pages(&rs.path("big")),
        first.len() / 4096,
        "own write no longer cached after the attribute refresh"
    );
    assert!(std::fs::read(rs.path("big")).unwrap() == first);

    let second = rng.bytes(first.len());
    let f = OpenOptions::new().write(true).open(c.path("big")).unwrap();
    f.write_all_at(&second, 0).unwrap();
    close(f).unwrap();
    std::thread::sleep(PAST_TIMEOUT);
    assert!(
        std::fs::read(rs.path("big")).unwrap() == second,
        "the C client's same-size overwrite not seen after the timeout"
    );
}
