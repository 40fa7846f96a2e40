//! Against the real glusterd on this host (port 24007): GLUSTER_DUMP_PROGRAM calls
//! (rpc/xdr/src/rpc-common-xdr.x `gf_dump_req`, `gf_dump_rsp`, `gf_common_rsp`;
//! rpc/rpc-lib/src/xdr-common.h for the numbers).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use transport::{
    fixed_addr, ConnState, OpaqueAuth, PingConfig, RpcClient, RpcConfig, RpcReject, TransportError,
};
use xdr::rpc::AuthGlusterfsV2;
use xdr::{Decoder, Encoder};

const GLUSTER_DUMP_PROGRAM: u32 = 123451501;
const GLUSTER_DUMP_VERSION: u32 = 1;
const GF_DUMP_DUMP: u32 = 1;
const GF_DUMP_PING: u32 = 2;

fn glusterd() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 24007))
}

fn cfg() -> RpcConfig {
    RpcConfig {
        connect_timeout: Duration::from_secs(2),
        call_timeout: Duration::from_secs(5),
        reconnect: None,
        ..RpcConfig::default()
    }
}

fn dump_args(gfs_id: u64) -> Bytes {
    let mut e = Encoder::new();
    e.put_u64(gfs_id);
    e.freeze()
}

/// `gf_dump_rsp`: gfs_id, op_ret, op_errno, then a linked list of `gf_prog_detail`.
fn decode_dump(b: Bytes) -> (i32, Vec<(String, u64, u64)>) {
    let mut d = Decoder::new(b);
    let _gfs_id = d.get_u64().unwrap();
    let op_ret = d.get_i32().unwrap();
    let _op_errno = d.get_i32().unwrap();
    let mut progs = Vec::new();
    while d.get_bool().unwrap() {
        let name = d.get_string(1024).unwrap();
        let num = d.get_u64().unwrap();
        let ver = d.get_u64().unwrap();
        progs.push((name, num, ver));
    }
    d.finish().unwrap();
    (op_ret, progs)
}

fn gf_cred() -> OpaqueAuth {
    AuthGlusterfsV2 {
        pid: std::process::id() as i32,
        uid: 0,
        gid: 0,
        groups: vec![],
        lk_owner: Bytes::from_static(&[0; 8]),
    }
    .to_auth()
}

#[tokio::test]
async fn dump_lists_glusterd_programs() {
    let c = RpcClient::connect(fixed_addr(glusterd()), None, cfg())
        .await
        .expect("glusterd must be running on port 24007");
    assert_eq!(*c.state().borrow(), ConnState::Ready);
    for cred in [OpaqueAuth::default(), gf_cred()] {
        let body = c
            .call(
                GLUSTER_DUMP_PROGRAM,
                GLUSTER_DUMP_VERSION,
                GF_DUMP_DUMP,
                &cred,
                dump_args(0),
                None,
            )
            .await
            .unwrap();
        let (op_ret, progs) = decode_dump(body);
        assert_eq!(op_ret, 0);
        // glusterd calls its handshake program "Gluster Handshake" (bricks say "GlusterFS
        // Handshake"); GlusterFS's GLUSTER_HNDSK_PROGRAM is 14398633, version 2.
        assert!(
            progs
                .iter()
                .any(|p| p == &("Gluster Handshake".to_string(), 14398633, 2)),
            "{progs:?}"
        );
        assert!(
            progs.iter().any(|(n, _, _)| n == "Gluster Portmap"),
            "{progs:?}"
        );
        assert!(progs
            .iter()
            .any(|(n, num, _)| n == "GF-DUMP" && *num == GLUSTER_DUMP_PROGRAM as u64));
    }
    c.shutdown().await;
    assert_eq!(*c.state().borrow(), ConnState::Closed);
    assert!(matches!(
        c.call(
            GLUSTER_DUMP_PROGRAM,
            1,
            GF_DUMP_DUMP,
            &OpaqueAuth::default(),
            dump_args(0),
            None
        )
        .await,
        Err(TransportError::NotConnected)
    ));
}

/// 200 concurrent calls of four kinds whose replies differ, so a mismatched xid would show.
#[tokio::test]
async fn many_concurrent_calls_all_match() {
    let c = RpcClient::connect(fixed_addr(glusterd()), None, cfg())
        .await
        .unwrap();
    let start = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..200u32 {
        let c = c.clone();
        tasks.push(tokio::spawn(async move {
            let cred = if i % 2 == 0 {
                OpaqueAuth::default()
            } else {
                gf_cred()
            };
            match i % 4 {
                0 => {
                    let b = c
                        .call(
                            GLUSTER_DUMP_PROGRAM,
                            1,
                            GF_DUMP_DUMP,
                            &cred,
                            dump_args(i.into()),
                            None,
                        )
                        .await
                        .unwrap();
                    let (op_ret, progs) = decode_dump(b);
                    assert_eq!(op_ret, 0);
                    assert!(progs.len() >= 2);
                }
                1 => {
                    // gf_common_rsp: op_ret, op_errno, xdata<> (empty).
                    let b = c
                        .call(
                            GLUSTER_DUMP_PROGRAM,
                            1,
                            GF_DUMP_PING,
                            &cred,
                            Bytes::new(),
                            None,
                        )
                        .await
                        .unwrap();
                    let mut d = Decoder::new(b);
                    assert_eq!(d.get_i32().unwrap(), 0);
                    let _errno = d.get_i32().unwrap();
                    assert!(d.get_opaque(1024).unwrap().is_empty());
                    d.finish().unwrap();
                }
                2 => {
                    let r = c
                        .call(
                            GLUSTER_DUMP_PROGRAM,
                            99,
                            GF_DUMP_DUMP,
                            &cred,
                            dump_args(0),
                            None,
                        )
                        .await;
                    assert!(
                        matches!(
                            r,
                            Err(TransportError::Rejected(RpcReject::ProgMismatch { .. }))
                        ),
                        "{r:?}"
                    );
                }
                _ => {
                    let r = c
                        .call(0x2000_0000 + i, 1, 1, &cred, Bytes::new(), None)
                        .await;
                    assert!(
                        matches!(r, Err(TransportError::Rejected(RpcReject::ProgUnavail))),
                        "{r:?}"
                    );
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    eprintln!("200 concurrent calls to glusterd in {:?}", start.elapsed());
    assert_eq!(*c.state().borrow(), ConnState::Ready);
}

/// glusterd answers GF_DUMP_PING (rpcsvc.c `rpcsvc_ping`), so a pinged connection stays up.
#[tokio::test]
async fn pings_keep_a_healthy_connection_up() {
    let cfg = RpcConfig {
        ping: Some(PingConfig {
            prog: GLUSTER_DUMP_PROGRAM,
            vers: GLUSTER_DUMP_VERSION,
            proc_num: GF_DUMP_PING,
            cred: gf_cred(),
            interval: Duration::from_millis(50),
            timeout: Duration::from_millis(500),
        }),
        ..cfg()
    };
    let c = RpcClient::connect(fixed_addr(glusterd()), None, cfg)
        .await
        .unwrap();
    let gen = c.connection().unwrap().generation();
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(*c.state().borrow(), ConnState::Ready);
    assert_eq!(c.connection().unwrap().generation(), gen);
    let b = c
        .call(
            GLUSTER_DUMP_PROGRAM,
            1,
            GF_DUMP_DUMP,
            &gf_cred(),
            dump_args(0),
            None,
        )
        .await
        .unwrap();
    assert_eq!(decode_dump(b).0, 0);
}

/// Throughput of small calls on one connection (printed; run with --nocapture).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ping_throughput() {
    let c = RpcClient::connect(fixed_addr(glusterd()), None, cfg())
        .await
        .unwrap();
    let n_tasks = 64;
    let per_task = 150;
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..n_tasks {
        let c = c.clone();
        tasks.push(tokio::spawn(async move {
            let cred = gf_cred();
            for _ in 0..per_task {
                let b = c
                    .call(
                        GLUSTER_DUMP_PROGRAM,
                        1,
                        GF_DUMP_PING,
                        &cred,
                        Bytes::new(),
                        None,
                    )
                    .await
                    .unwrap();
                assert_eq!(Decoder::new(b).get_i32().unwrap(), 0);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let took = start.elapsed();
    let n = n_tasks * per_task;
    eprintln!(
        "{n} pings to glusterd, {n_tasks} in flight: {took:?} ({:.0} calls/s)",
        n as f64 / took.as_secs_f64()
    );
}
