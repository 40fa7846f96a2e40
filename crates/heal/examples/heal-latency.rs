//! Measure what one heal costs against a volume: sequential round trips of the calls a heal is
//! made of (nameless lookup with the discover xdata, inodelk + unlock, xattrop), per brick.
//!
//! ```text
//! heal-latency vm:/VOL [ROUNDS]
//! ```

use std::time::{Duration, Instant};

use fop::{Caller, Dict, Flock, Gfid, Loc, LockCmd, XattropOp};

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let Some(url) = args.next() else {
        eprintln!("usage: heal-latency HOST:/VOLUME [ROUNDS]");
        std::process::exit(2);
    };
    let rounds: u32 = args.next().and_then(|r| r.parse().ok()).unwrap_or(1000);
    let addr = match heal::volume::VolumeAddr::parse(&url, None) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let vol = match heal::HealVolume::connect(&addr, Duration::from_secs(10)).await {
        Ok(v) => v,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    let c: Caller = heal::heal_caller();
    let rs = &vol.replicas[0];
    for b in &rs.bricks {
        let sub = &b.subvol;
        let loc = Loc::gfid(Gfid::ROOT);
        let mut x = Dict::new();
        heal::markers::request_markers(&mut x, &rs.pending_keys);
        let t = Instant::now();
        for _ in 0..rounds {
            let _ = sub.lookup(&c, &loc, &x).await;
        }
        let lookup = t.elapsed() / rounds;
        let fl = |ty: i32| Flock {
            l_type: ty as u32,
            whence: 0,
            start: 0,
            len: 0,
            pid: c.pid as u32,
            owner: c.lk_owner.clone(),
        };
        let t = Instant::now();
        for _ in 0..rounds {
            let _ = sub
                .inodelk(&c, "heal-latency", &loc, LockCmd::SetLk, &fl(libc::F_WRLCK))
                .await;
            let _ = sub
                .inodelk(&c, "heal-latency", &loc, LockCmd::SetLk, &fl(libc::F_UNLCK))
                .await;
        }
        let lock = t.elapsed() / rounds;
        let zero = heal::markers::Delta::zero(rs.n()).to_dict(&rs.pending_keys);
        let t = Instant::now();
        for _ in 0..rounds {
            let _ = sub.xattrop(&c, &loc, XattropOp::AddArray, &zero).await;
        }
        let xop = t.elapsed() / rounds;
        println!(
            "{}: lookup {lookup:?}, lock+unlock {lock:?}, xattrop {xop:?}",
            b.label
        );
    }
    vol.shutdown().await;
}
