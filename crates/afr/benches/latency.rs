//! Latency on a real 1x3 volume: a 4 KiB write on an open file, and create+write+close of a
//! 4 KiB file — gluster-rs (library, first ack and wait-all) vs the GlusterFS C client (FUSE
//! mount, O_DIRECT so the kernel and write-behind do not absorb the write).
//!
//! Needs root, glusterd and the gluster CLI; creates and removes the volume `afrb-lat`.
//! Run: `cargo bench -p afr --bench latency`.

use std::fs::OpenOptions;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion};
use fop::{Caller, Dict, Gfid, Loc};

const VOL: &str = "afrb-lat";
const MNT: &str = "/mnt/afrb-lat";

fn sh(args: &[&str]) -> bool {
    Command::new("timeout")
        .arg("300")
        .args(args)
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

struct Guard;

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(MNT).status();
        let dc = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/dev-cluster");
        let _ = Command::new("timeout")
            .arg("300")
            .arg(dc)
            .args(["down", VOL])
            .status();
    }
}

fn bench(c: &mut Criterion) {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("latency bench skipped: needs root and GlusterFS");
        return;
    }
    let dc = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/dev-cluster");
    let dcs = dc.to_str().unwrap_or("scripts/dev-cluster");
    let _ = sh(&[dcs, "down", VOL]);
    if !sh(&[dcs, "up", VOL, "1x3"]) {
        eprintln!("latency bench skipped: cannot create the volume");
        return;
    }
    let _guard = Guard;
    std::fs::create_dir_all(MNT).ok();
    let mounted = sh(&["mount", "-t", "glusterfs", &format!("vm:/{VOL}"), MNT]);

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let mut g = c.benchmark_group("1x3");
    g.measurement_time(Duration::from_secs(10));
    g.sample_size(200);
    for first_ack in [true, false] {
        let mut o = graph::VolumeOptions::new(vec![graph::Server::new("vm", 24007)], VOL);
        o.first_ack = first_ack;
        let vol = rt.block_on(graph::Volume::connect(&o)).expect("connect");
        let top = vol.top.clone();
        let cl = Caller::root();
        let label = if first_ack {
            "gluster-rs first-ack"
        } else {
            "gluster-rs wait-all"
        };
        let fd = rt
            .block_on(async {
                let root = top
                    .lookup(&cl, &Loc::gfid(Gfid::ROOT), &Dict::new())
                    .await?;
                let loc = Loc::entry(root.iatt.gfid, format!("w-{first_ack}"));
                top.create(
                    &cl,
                    &loc,
                    libc::O_RDWR | libc::O_DIRECT,
                    0o644,
                    0,
                    &Dict::new(),
                )
                .await
            })
            .expect("create")
            .0;
        let block = Bytes::from(vec![0x5au8; 4096]);
        let off = AtomicU64::new(0);
        g.bench_function(format!("write 4KiB / {label}"), |b| {
            b.iter(|| {
                let o = off.fetch_add(4096, Ordering::Relaxed) % (64 << 20);
                rt.block_on(top.write(&cl, &fd, o, block.clone()))
                    .expect("write");
            })
        });
        rt.block_on(async {
            let _ = top.flush(&cl, &fd).await;
            top.release(&fd).await;
        });
        let n = AtomicU64::new(0);
        g.bench_function(format!("create+write+close 4KiB / {label}"), |b| {
            b.iter(|| {
                let i = n.fetch_add(1, Ordering::Relaxed);
                rt.block_on(async {
                    let loc = Loc::entry(Gfid::ROOT, format!("c-{first_ack}-{i}"));
                    let (fd, _) = top
                        .create(&cl, &loc, libc::O_RDWR, 0o644, 0, &Dict::new())
                        .await
                        .expect("create");
                    top.write(&cl, &fd, 0, block.clone()).await.expect("write");
                    top.flush(&cl, &fd).await.expect("flush");
                    top.release(&fd).await;
                })
            })
        });
        rt.block_on(vol.shutdown());
    }
    if mounted {
        let f = OpenOptions::new()
            .create(true)
            .read(true)
            .write(true)
            .custom_flags(libc::O_DIRECT)
            .open(format!("{MNT}/w-c"))
            .expect("open on the C mount");
        let mut buf = vec![0u8; 8192];
        let start = buf.as_ptr() as usize;
        let pad = (4096 - start % 4096) % 4096;
        for x in &mut buf[pad..pad + 4096] {
            *x = 0x5a;
        }
        let off = AtomicU64::new(0);
        g.bench_function("write 4KiB / C client (FUSE, O_DIRECT)", |b| {
            b.iter(|| {
                let o = off.fetch_add(4096, Ordering::Relaxed) % (64 << 20);
                f.write_all_at(&buf[pad..pad + 4096], o).expect("write");
            })
        });
        let n = AtomicU64::new(0);
        let data = vec![0x5au8; 4096];
        g.bench_function("create+write+close 4KiB / C client (FUSE)", |b| {
            b.iter(|| {
                let i = n.fetch_add(1, Ordering::Relaxed);
                let f = OpenOptions::new()
                    .create(true)
                    .write(true)
                    .open(format!("{MNT}/c-c-{i}"))
                    .expect("create on the C mount");
                f.write_all_at(&data, 0).expect("write");
                drop(f);
            })
        });
    } else {
        eprintln!("C client not mounted: skipping its figures");
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
