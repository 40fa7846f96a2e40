//! Lock contention against real GlusterFS 10.3 bricks (issue 4): a gluster-rs client streaming
//! writes into one file must hand the eager lock over to another client that asks for the same
//! inodelk, instead of keeping it for as long as it streams.
//!
//! Needs root, glusterd and the gluster CLI; run one test at a time (`--test-threads=1`): each
//! makes its own volume (prefix `lk-`) with scripts/dev-cluster and removes it on drop.

mod common;

use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;

/// How long the first client streams.
const STREAM: Duration = Duration::from_secs(10);
/// The streaming client writes 4 KiB blocks cyclically over this region at offset 0.
const A_BLOCK: usize = 4096;
const A_SLOTS: usize = 256;
/// The second client writes its blocks from this offset on.
const B_BASE: usize = 2 << 20;
const B_SLOTS: usize = 16;
/// Writes the second client must complete while the first still streams (each one needs the
/// lock handed over once; with the hand-over working, a 10 s stream allows hundreds, without it
/// the second client waits until the stream ends).
const B_MIN: usize = 40;
/// ... and some of them in the last seconds of the stream (not only right after it began).
const LATE: Duration = Duration::from_secs(3);

/// Content of the streaming client's `i`-th block.
fn a_block(i: usize) -> Vec<u8> {
    let mut b = pattern(A_BLOCK, (i % 251) as u8);
    b[..8].copy_from_slice(&(i as u64).to_be_bytes());
    b
}

/// Content of the second client's `j`-th block (`len` bytes).
fn b_block(j: usize, len: usize) -> Vec<u8> {
    let mut b = pattern(len, 200u8.wrapping_add((j % 50) as u8));
    b[..8].copy_from_slice(&(j as u64 | 0xb000_0000_0000_0000).to_be_bytes());
    b
}

/// What the streaming client writes, and what the file must hold afterwards.
struct Model {
    data: Vec<u8>,
}

impl Model {
    fn new() -> Self {
        Model {
            data: vec![0u8; B_BASE + B_SLOTS * A_BLOCK],
        }
    }

    fn put(&mut self, off: usize, b: &[u8]) {
        if self.data.len() < off + b.len() {
            self.data.resize(off + b.len(), 0);
        }
        self.data[off..off + b.len()].copy_from_slice(b);
    }
}

/// Streams `a_block`s into `fd` without pause until `STREAM` has passed, with an fsync every 500
/// writes; returns the number of writes. Sets `done` at the end of the stream.
async fn stream_writes(
    top: Arc<dyn fop::Subvolume>,
    fd: fop::Fd,
    model: Arc<Mutex<Model>>,
    done: Arc<AtomicBool>,
) -> usize {
    let c = root();
    let t = Instant::now();
    let mut i = 0usize;
    while t.elapsed() < STREAM {
        let off = (i % A_SLOTS) * A_BLOCK;
        let b = a_block(i);
        top.write(&c, &fd, off as u64, Bytes::from(b.clone()))
            .await
            .unwrap_or_else(|e| panic!("streaming write {i}: {e}"));
        model.lock().unwrap().put(off, &b);
        i += 1;
        if i.is_multiple_of(500) {
            top.fsync(&c, &fd, false)
                .await
                .unwrap_or_else(|e| panic!("fsync after {i} writes: {e}"));
        }
    }
    done.store(true, Ordering::SeqCst);
    close(top.as_ref(), &fd).await.unwrap();
    i
}

/// Bricks hold identical copies equal to `model`; heal info shows nothing.
fn check_bricks(v: &TestVolume, model: &Model) {
    let got = assert_identical(&v.bricks(), "stream");
    assert_eq!(got.len(), model.data.len(), "file size");
    if let Some(pos) = got.iter().zip(&model.data).position(|(a, b)| a != b) {
        panic!(
            "brick content differs from what was written at byte {pos} (block {})",
            pos / A_BLOCK
        );
    }
    assert_eq!(v.heal_info_entries(), 0);
}

/// Two gluster-rs clients: the first streams writes for 10 s, the second writes the same file
/// meanwhile; the second's writes go through while the first still streams.
#[test]
fn streaming_client_yields_to_second_gluster_rs_client() {
    if skip() {
        return;
    }
    let v = TestVolume::up("lk-2rs", "1x3");
    let rt = runtime();
    let v1 = rt.block_on(connect(&v.name, true));
    let v2 = rt.block_on(connect(&v.name, true));
    let model = Arc::new(Mutex::new(Model::new()));
    let init = model.lock().unwrap().data.clone();
    rt.block_on(put(v1.top.as_ref(), "stream", &init, 128 * 1024))
        .unwrap();
    let (streamed, (b_in_stream, b_late, b_total)) = rt.block_on(async {
        let f1 = open(v1.top.as_ref(), "stream", libc::O_RDWR).await.unwrap();
        let f2 = open(v2.top.as_ref(), "stream", libc::O_RDWR).await.unwrap();
        let done = Arc::new(AtomicBool::new(false));
        let start = Instant::now();
        let a = tokio::spawn(stream_writes(
            v1.top.clone(),
            f1,
            model.clone(),
            done.clone(),
        ));
        tokio::time::sleep(Duration::from_secs(1)).await;
        let (t2, m2, done2) = (v2.top.clone(), model.clone(), done.clone());
        let b = tokio::spawn(async move {
            let c = root();
            let mut in_stream = 0;
            let mut late = 0;
            let mut slowest = Duration::ZERO;
            let mut j = 0;
            loop {
                let off = B_BASE + (j % B_SLOTS) * A_BLOCK;
                let blk = b_block(j, 512);
                let t = Instant::now();
                t2.write(&c, &f2, off as u64, Bytes::from(blk.clone()))
                    .await
                    .unwrap_or_else(|e| panic!("second client's write {j}: {e}"));
                m2.lock().unwrap().put(off, &blk);
                j += 1;
                if done2.load(Ordering::SeqCst) {
                    break;
                }
                in_stream += 1;
                if start.elapsed() >= STREAM - LATE {
                    late += 1;
                }
                slowest = slowest.max(t.elapsed());
            }
            eprintln!("second client: slowest write during the stream took {slowest:?}");
            t2.fsync(&c, &f2, false).await.unwrap();
            close(t2.as_ref(), &f2).await.unwrap();
            (in_stream, late, j)
        });
        let (a, b) = tokio::time::timeout(Duration::from_secs(300), async {
            (a.await.unwrap(), b.await.unwrap())
        })
        .await
        .expect("both clients finish");
        (a, b)
    });
    eprintln!(
        "first client streamed {streamed} writes; second client: {b_in_stream} writes during the \
         stream ({b_late} in its last {LATE:?}), {b_total} in all"
    );
    assert!(
        b_in_stream >= B_MIN && b_late > 0,
        "the second client completed only {b_in_stream} writes ({b_late} late) while the first \
         streamed {streamed}"
    );
    assert!(streamed > 100, "the first client streamed only {streamed}");
    rt.block_on(v1.shutdown());
    rt.block_on(v2.shutdown());
    check_bricks(&v, &model.lock().unwrap());
}

/// A gluster-rs client streams writes for 10 s; a GlusterFS FUSE mount (C client) runs `dd
/// conv=notrunc` on the same file meanwhile (each one open, write, close: one inodelk); the dd
/// runs complete while the stream goes on.
#[test]
fn streaming_client_yields_to_c_client_dd() {
    if skip() {
        return;
    }
    let v = TestVolume::up("lk-cdd", "1x3");
    let cmount = CMount::new(&v.name, "c");
    let mnt = cmount.path().display().to_string();
    let rt = runtime();
    let vol = rt.block_on(connect(&v.name, true));
    let model = Arc::new(Mutex::new(Model::new()));
    let init = model.lock().unwrap().data.clone();
    rt.block_on(put(vol.top.as_ref(), "stream", &init, 128 * 1024))
        .unwrap();
    // The dd sources: one file per block content.
    let src = std::env::temp_dir().join(format!("lk-cdd-src-{}", std::process::id()));
    std::fs::create_dir_all(&src).unwrap();
    for j in 0..B_SLOTS {
        std::fs::write(src.join(j.to_string()), b_block(j, A_BLOCK)).unwrap();
    }
    let done = Arc::new(AtomicBool::new(false));
    let in_stream = Arc::new(AtomicUsize::new(0));
    let late = Arc::new(AtomicUsize::new(0));
    let f = rt
        .block_on(open(vol.top.as_ref(), "stream", libc::O_RDWR))
        .unwrap();
    let start = Instant::now();
    let dd = {
        let (done, in_stream, late, src, path) = (
            done.clone(),
            in_stream.clone(),
            late.clone(),
            src.clone(),
            format!("{mnt}/stream"),
        );
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs(1));
            let mut written = Vec::new();
            let mut slowest = Duration::ZERO;
            let mut j = 0;
            loop {
                let slot = j % B_SLOTS;
                let t = Instant::now();
                let out = Command::new("timeout")
                    .arg("120")
                    .arg("dd")
                    .arg(format!("if={}", src.join(slot.to_string()).display()))
                    .arg(format!("of={path}"))
                    .arg(format!("bs={A_BLOCK}"))
                    .arg("count=1")
                    .arg(format!("seek={}", B_BASE / A_BLOCK + slot))
                    .args(["conv=notrunc", "status=none"])
                    .output()
                    .unwrap();
                assert!(
                    out.status.success(),
                    "dd {j}: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                written.push(slot);
                j += 1;
                if done.load(Ordering::SeqCst) {
                    break;
                }
                slowest = slowest.max(t.elapsed());
                in_stream.fetch_add(1, Ordering::SeqCst);
                if start.elapsed() >= STREAM - LATE {
                    late.fetch_add(1, Ordering::SeqCst);
                }
            }
            eprintln!("slowest dd during the stream took {slowest:?}");
            written
        })
    };
    let streamed = rt.block_on(async {
        tokio::time::timeout(
            Duration::from_secs(300),
            stream_writes(vol.top.clone(), f, model.clone(), done.clone()),
        )
        .await
        .expect("stream finishes")
    });
    let written = dd.join().unwrap();
    let b_in_stream = in_stream.load(Ordering::SeqCst);
    let b_late = late.load(Ordering::SeqCst);
    eprintln!(
        "gluster-rs streamed {streamed} writes; dd: {b_in_stream} runs during the stream ({b_late} \
         in its last {LATE:?}), {} in all",
        written.len()
    );
    drop(cmount);
    let _ = std::fs::remove_dir_all(&src);
    {
        let mut m = model.lock().unwrap();
        for &slot in &written {
            m.put(B_BASE + slot * A_BLOCK, &b_block(slot, A_BLOCK));
        }
    }
    assert!(
        b_in_stream >= B_MIN && b_late > 0,
        "dd completed only {b_in_stream} runs ({b_late} late) while gluster-rs streamed \
         {streamed} writes"
    );
    assert!(streamed > 100, "gluster-rs streamed only {streamed}");
    rt.block_on(vol.shutdown());
    check_bricks(&v, &model.lock().unwrap());
}
