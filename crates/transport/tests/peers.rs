//! Against local peers that misbehave on purpose (tokio listeners on 127.0.0.1).

use std::alloc::{GlobalAlloc, Layout, System};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use transport::{
    fixed_addr, hook_fn, resolver_fn, Backoff, ConnState, OpaqueAuth, PingConfig, RpcClient,
    RpcConfig, RpcReject, TransportError,
};
use xdr::rpc::{record_header, ReplyHeader, MSG_CALL, RPC_VERSION};
use xdr::{Decoder, Encoder};

/// Records the largest single allocation, to show hostile lengths allocate nothing big.
struct PeakAlloc;
static LARGEST_ALLOC: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for PeakAlloc {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LARGEST_ALLOC.fetch_max(l.size(), Ordering::Relaxed);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        LARGEST_ALLOC.fetch_max(n, Ordering::Relaxed);
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static GLOBAL: PeakAlloc = PeakAlloc;

const PROG: u32 = 0x2000_1234;
const PING_PROC: u32 = 2;
const WORK_PROC: u32 = 7;

fn cfg() -> RpcConfig {
    RpcConfig {
        connect_timeout: Duration::from_secs(2),
        hook_timeout: Duration::from_secs(2),
        call_timeout: Duration::from_secs(2),
        max_record: 1 << 20,
        reconnect: None,
        ..RpcConfig::default()
    }
}

async fn listen() -> (TcpListener, SocketAddr) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let a = l.local_addr().unwrap();
    (l, a)
}

/// A call as the test server sees it.
#[derive(Debug)]
struct Call {
    xid: u32,
    proc_num: u32,
    /// Everything after the call header (args + payload).
    body: Vec<u8>,
}

/// Read one single-fragment record (what our client sends); `None` at EOF.
async fn read_call(s: &mut TcpStream) -> Option<Call> {
    let mut h = [0u8; 4];
    s.read_exact(&mut h).await.ok()?;
    let (last, len) = xdr::rpc::parse_record_header(h);
    assert!(last, "client sends single-fragment records");
    let mut rec = vec![0u8; len];
    s.read_exact(&mut rec).await.ok()?;
    let mut d = Decoder::new(Bytes::from(rec));
    let hdr: xdr::rpc::CallHeader = d.get().unwrap();
    assert_eq!(hdr.prog, PROG);
    Some(Call {
        xid: hdr.xid,
        proc_num: hdr.proc_num,
        body: d.rest().to_vec(),
    })
}

/// A successful reply record (single fragment) carrying `body`.
fn reply(xid: u32, body: &[u8]) -> Vec<u8> {
    let mut e = Encoder::new();
    ReplyHeader::encode_success(xid, &mut e);
    e.put_raw(body);
    let rec = e.freeze();
    let mut out = record_header(rec.len()).to_vec();
    out.extend_from_slice(&rec);
    out
}

async fn call(c: &RpcClient, args: &[u8]) -> Result<Bytes, TransportError> {
    c.call(
        PROG,
        1,
        WORK_PROC,
        &OpaqueAuth::default(),
        Bytes::copy_from_slice(args),
        None,
    )
    .await
}

/// A server that echoes every call's body back; stops at EOF.
async fn echo(mut s: TcpStream) {
    while let Some(c) = read_call(&mut s).await {
        if s.write_all(&reply(c.xid, &c.body)).await.is_err() {
            return;
        }
    }
}

fn ping_cfg(interval_ms: u64, timeout_ms: u64) -> PingConfig {
    PingConfig {
        prog: PROG,
        vers: 1,
        proc_num: PING_PROC,
        cred: OpaqueAuth::default(),
        interval: Duration::from_millis(interval_ms),
        timeout: Duration::from_millis(timeout_ms),
    }
}

#[tokio::test]
async fn echo_with_zero_copy_payload_and_out_of_order_replies() {
    let (l, addr) = listen().await;
    tokio::spawn(async move {
        let (mut s, _) = l.accept().await.unwrap();
        // Collect 50 calls, then answer them in reverse order.
        let mut calls = Vec::new();
        for _ in 0..50 {
            calls.push(read_call(&mut s).await.unwrap());
        }
        for c in calls.into_iter().rev() {
            s.write_all(&reply(c.xid, &c.body)).await.unwrap();
        }
        echo(s).await;
    });
    let c = RpcClient::connect(fixed_addr(addr), None, cfg())
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for i in 0..50u32 {
        let c = c.clone();
        tasks.push(tokio::spawn(async move {
            let args = Bytes::from(i.to_be_bytes().to_vec());
            let payload = Bytes::from(vec![i as u8; 1000 + i as usize * 997]);
            let r = c
                .call(
                    PROG,
                    1,
                    WORK_PROC,
                    &OpaqueAuth::default(),
                    args.clone(),
                    Some(payload.clone()),
                )
                .await
                .unwrap();
            assert_eq!(&r[..4], &args[..]);
            assert_eq!(&r[4..], &payload[..]);
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(&call(&c, b"abcd").await.unwrap()[..], b"abcd");
}

/// An 8 MiB payload goes out through partial vectored writes intact; the server answers with
/// its length and a checksum (the reply itself must stay under max_record).
#[tokio::test]
async fn large_payload_is_written_intact() {
    let (l, addr) = listen().await;
    tokio::spawn(async move {
        let (mut s, _) = l.accept().await.unwrap();
        // Slow reader: the client's writes must cope with a full socket buffer.
        tokio::time::sleep(Duration::from_millis(100)).await;
        while let Some(c) = read_call(&mut s).await {
            let sum: u64 = c.body.iter().map(|&b| u64::from(b)).sum();
            let mut e = Encoder::new();
            e.put_u64(c.body.len() as u64);
            e.put_u64(sum);
            s.write_all(&reply(c.xid, &e.freeze())).await.unwrap();
        }
    });
    let c = RpcClient::connect(fixed_addr(addr), None, cfg())
        .await
        .unwrap();
    let payload: Bytes = (0..8u32 << 20)
        .map(|i| (i % 251) as u8)
        .collect::<Vec<_>>()
        .into();
    let want: u64 = payload.iter().map(|&b| u64::from(b)).sum();
    let t = Instant::now();
    let r = c
        .call(
            PROG,
            1,
            WORK_PROC,
            &OpaqueAuth::default(),
            Bytes::from_static(b"args"),
            Some(payload),
        )
        .await
        .unwrap();
    eprintln!(
        "8 MiB payload round trip (debug build, test server): {:?}",
        t.elapsed()
    );
    let mut d = Decoder::new(r);
    assert_eq!(d.get_u64().unwrap(), 4 + (8 << 20));
    assert_eq!(
        d.get_u64().unwrap(),
        want + b"args".iter().map(|&b| u64::from(b)).sum::<u64>()
    );
}

#[tokio::test]
async fn oversized_record_is_refused_without_allocating() {
    let (l, addr) = listen().await;
    tokio::spawn(async move {
        let (mut s, _) = l.accept().await.unwrap();
        let _ = read_call(&mut s).await.unwrap();
        // Announce a 1 GiB record (last fragment) and send a little of it.
        s.write_all(&record_header(1 << 30)).await.unwrap();
        s.write_all(&[0u8; 64]).await.unwrap();
        tokio::time::sleep(Duration::from_secs(5)).await;
    });
    let mut rx;
    let c = RpcClient::connect(fixed_addr(addr), None, cfg())
        .await
        .unwrap();
    rx = c.state();
    let t = Instant::now();
    let r = call(&c, b"x").await;
    assert!(
        matches!(r, Err(TransportError::RecordTooLarge { len, max }) if len == 1 << 30 && max == 1 << 20),
        "{r:?}"
    );
    assert!(t.elapsed() < Duration::from_millis(1500));
    // The connection was dropped (and, with reconnect off, the client is closed).
    tokio::time::timeout(
        Duration::from_secs(1),
        rx.wait_for(|s| *s == ConnState::Closed),
    )
    .await
    .unwrap()
    .unwrap();
    let largest = LARGEST_ALLOC.load(Ordering::Relaxed);
    assert!(largest < 16 << 20, "largest allocation {largest} bytes");
}

#[tokio::test]
async fn fragments_summing_past_the_limit_are_refused() {
    let (l, addr) = listen().await;
    tokio::spawn(async move {
        let (mut s, _) = l.accept().await.unwrap();
        let c = read_call(&mut s).await.unwrap();
        let mut e = Encoder::new();
        ReplyHeader::encode_success(c.xid, &mut e);
        s.write_all(&(e.len() as u32).to_be_bytes()).await.unwrap();
        s.write_all(&e.freeze()).await.unwrap();
        // Many non-last fragments of 64 KiB each: 2 MiB in all, over the 1 MiB limit.
        let frag = vec![0u8; 64 << 10];
        for _ in 0..32 {
            if s.write_all(&(frag.len() as u32).to_be_bytes())
                .await
                .is_err()
                || s.write_all(&frag).await.is_err()
            {
                return;
            }
        }
        tokio::time::sleep(Duration::from_secs(5)).await;
    });
    let c = RpcClient::connect(fixed_addr(addr), None, cfg())
        .await
        .unwrap();
    let r = call(&c, b"x").await;
    assert!(
        matches!(r, Err(TransportError::RecordTooLarge { max, .. }) if max == 1 << 20),
        "{r:?}"
    );
}

#[tokio::test]
async fn multi_fragment_reply_is_reassembled() {
    let (l, addr) = listen().await;
    tokio::spawn(async move {
        let (mut s, _) = l.accept().await.unwrap();
        let c = read_call(&mut s).await.unwrap();
        let mut e = Encoder::new();
        ReplyHeader::encode_success(c.xid, &mut e);
        e.put_raw(b"first-second-third!");
        let rec = e.freeze();
        // Split inside the RPC header, then twice in the body, with an empty fragment too.
        let cuts = [0, 6, 6, 30, rec.len()];
        let mut wire = Vec::new();
        for w in cuts.windows(2) {
            let frag = &rec[w[0]..w[1]];
            let last = w[1] == rec.len();
            let mut h = frag.len() as u32;
            if last {
                h |= 0x8000_0000;
            }
            wire.extend_from_slice(&h.to_be_bytes());
            wire.extend_from_slice(frag);
        }
        // Write byte by byte-ish to exercise partial reads.
        for chunk in wire.chunks(5) {
            s.write_all(chunk).await.unwrap();
            s.flush().await.unwrap();
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        echo(s).await;
    });
    let c = RpcClient::connect(fixed_addr(addr), None, cfg())
        .await
        .unwrap();
    assert_eq!(&call(&c, b"x").await.unwrap()[..], b"first-second-third!");
    // And the stream is still in sync afterwards.
    assert_eq!(&call(&c, b"next").await.unwrap()[..], b"next");
}

#[tokio::test]
async fn unknown_xid_is_ignored_and_real_reply_delivered() {
    let (l, addr) = listen().await;
    tokio::spawn(async move {
        let (mut s, _) = l.accept().await.unwrap();
        let c = read_call(&mut s).await.unwrap();
        s.write_all(&reply(c.xid.wrapping_add(1000), b"bogus"))
            .await
            .unwrap();
        s.write_all(&reply(c.xid, b"real")).await.unwrap();
        echo(s).await;
    });
    let c = RpcClient::connect(fixed_addr(addr), None, cfg())
        .await
        .unwrap();
    assert_eq!(&call(&c, b"x").await.unwrap()[..], b"real");
    assert_eq!(*c.state().borrow(), ConnState::Ready);
    assert_eq!(&call(&c, b"again").await.unwrap()[..], b"again");
}

/// Each garbage reply must fail the pending call with a protocol error and drop the connection.
#[tokio::test]
async fn garbage_reply_headers_fail_without_panic() {
    let garbage: Vec<Box<dyn Fn(u32) -> Vec<u8> + Send>> = vec![
        // Too short to hold xid + message type.
        Box::new(|_| vec![0, 0, 0, 1]),
        // A reply with an impossible reply_stat.
        Box::new(|xid| {
            let mut e = Encoder::new();
            e.put_u32(xid);
            e.put_u32(1);
            e.put_u32(7);
            e.freeze().to_vec()
        }),
        // Accepted, but the verifier's length runs past the record.
        Box::new(|xid| {
            let mut e = Encoder::new();
            e.put_u32(xid);
            e.put_u32(1);
            e.put_u32(0);
            e.put_u32(0);
            e.put_u32(0xffff_fff0);
            e.freeze().to_vec()
        }),
        // Neither a call nor a reply.
        Box::new(|xid| {
            let mut e = Encoder::new();
            e.put_u32(xid);
            e.put_u32(5);
            e.put_u32(0);
            e.freeze().to_vec()
        }),
    ];
    for (i, g) in garbage.into_iter().enumerate() {
        let (l, addr) = listen().await;
        tokio::spawn(async move {
            let (mut s, _) = l.accept().await.unwrap();
            let c = read_call(&mut s).await.unwrap();
            let rec = g(c.xid);
            s.write_all(&record_header(rec.len())).await.unwrap();
            s.write_all(&rec).await.unwrap();
            tokio::time::sleep(Duration::from_secs(5)).await;
        });
        let c = RpcClient::connect(fixed_addr(addr), None, cfg())
            .await
            .unwrap();
        let r = call(&c, b"x").await;
        assert!(
            matches!(r, Err(TransportError::Protocol(_))),
            "case {i}: {r:?}"
        );
        let mut st = c.state();
        tokio::time::timeout(
            Duration::from_secs(1),
            st.wait_for(|s| *s == ConnState::Closed),
        )
        .await
        .unwrap()
        .unwrap();
        assert!(matches!(
            call(&c, b"x").await,
            Err(TransportError::NotConnected)
        ));
    }
}

#[tokio::test]
async fn rpc_level_rejection_is_an_error_and_keeps_the_connection() {
    let (l, addr) = listen().await;
    tokio::spawn(async move {
        let (mut s, _) = l.accept().await.unwrap();
        let c = read_call(&mut s).await.unwrap();
        // MSG_ACCEPTED with PROC_UNAVAIL (RFC 5531 accept_stat 3).
        let mut e = Encoder::new();
        e.put_u32(c.xid);
        e.put_u32(1);
        e.put_u32(0);
        e.put(&OpaqueAuth::default());
        e.put_u32(3);
        let rec = e.freeze();
        s.write_all(&record_header(rec.len())).await.unwrap();
        s.write_all(&rec).await.unwrap();
        echo(s).await;
    });
    let c = RpcClient::connect(fixed_addr(addr), None, cfg())
        .await
        .unwrap();
    assert!(matches!(
        call(&c, b"x").await,
        Err(TransportError::Rejected(RpcReject::ProcUnavail))
    ));
    assert_eq!(&call(&c, b"ok").await.unwrap()[..], b"ok");
}

#[tokio::test]
async fn silent_peer_times_out_the_call() {
    let (l, addr) = listen().await;
    tokio::spawn(async move {
        let (mut s, _) = l.accept().await.unwrap();
        // Read calls, never answer.
        while read_call(&mut s).await.is_some() {}
    });
    let c = RpcClient::connect(fixed_addr(addr), None, cfg())
        .await
        .unwrap();
    let t = Instant::now();
    let r = c
        .call_timeout(
            PROG,
            1,
            WORK_PROC,
            &OpaqueAuth::default(),
            Bytes::new(),
            None,
            Duration::from_millis(300),
        )
        .await;
    let took = t.elapsed();
    assert!(matches!(r, Err(TransportError::Timeout(_))), "{r:?}");
    assert!(
        took >= Duration::from_millis(290) && took < Duration::from_millis(1500),
        "{took:?}"
    );
    // The default call_timeout (2 s in cfg()) applies too.
    let t = Instant::now();
    assert!(matches!(
        call(&c, b"x").await,
        Err(TransportError::Timeout(_))
    ));
    assert!(t.elapsed() < Duration::from_secs(3));
    // A timeout alone does not drop the connection (GlusterFS's call-bail does not either).
    assert_eq!(*c.state().borrow(), ConnState::Ready);
}

#[tokio::test]
async fn ping_timeout_declares_a_silent_peer_dead() {
    let (l, addr) = listen().await;
    tokio::spawn(async move {
        let (mut s, _) = l.accept().await.unwrap();
        // Answer the first two pings, then nothing at all (socket stays open).
        let mut pings = 0;
        while let Some(c) = read_call(&mut s).await {
            if c.proc_num == PING_PROC && pings < 2 {
                pings += 1;
                s.write_all(&reply(c.xid, &[0; 12])).await.unwrap();
            }
        }
    });
    let cfg = RpcConfig {
        call_timeout: Duration::from_secs(10),
        ping: Some(ping_cfg(100, 400)),
        ..cfg()
    };
    let c = RpcClient::connect(fixed_addr(addr), None, cfg)
        .await
        .unwrap();
    let mut st = c.state();
    let t = Instant::now();
    let r = call(&c, b"x").await;
    let took = t.elapsed();
    assert!(matches!(r, Err(TransportError::PingTimeout)), "{r:?}");
    // Silent from ~0.1 s at the latest; declared dead 0.4 s after the last sign of life.
    assert!(took < Duration::from_millis(2500), "{took:?}");
    tokio::time::timeout(
        Duration::from_secs(1),
        st.wait_for(|s| *s == ConnState::Closed),
    )
    .await
    .unwrap()
    .unwrap();
}

#[tokio::test]
async fn slow_but_alive_peer_is_not_declared_dead() {
    let (l, addr) = listen().await;
    tokio::spawn(async move {
        let (s, _) = l.accept().await.unwrap();
        let (mut rd, wr) = s.into_split();
        let wr = Arc::new(tokio::sync::Mutex::new(wr));
        // Pings are answered at once; the work call after 1.2 s (three ping timeouts).
        loop {
            let mut h = [0u8; 4];
            if rd.read_exact(&mut h).await.is_err() {
                return;
            }
            let (_, len) = xdr::rpc::parse_record_header(h);
            let mut rec = vec![0u8; len];
            rd.read_exact(&mut rec).await.unwrap();
            let hdr: xdr::rpc::CallHeader = Decoder::new(Bytes::from(rec)).get().unwrap();
            let wr = wr.clone();
            tokio::spawn(async move {
                if hdr.proc_num != PING_PROC {
                    tokio::time::sleep(Duration::from_millis(1200)).await;
                }
                let _ = wr.lock().await.write_all(&reply(hdr.xid, b"done")).await;
            });
        }
    });
    let cfg = RpcConfig {
        ping: Some(ping_cfg(100, 400)),
        ..cfg()
    };
    let c = RpcClient::connect(fixed_addr(addr), None, cfg)
        .await
        .unwrap();
    assert_eq!(&call(&c, b"x").await.unwrap()[..], b"done");
    assert_eq!(*c.state().borrow(), ConnState::Ready);
}

#[tokio::test]
async fn peer_close_fails_pending_then_reconnects_and_reruns_hook() {
    let (l, addr) = listen().await;
    tokio::spawn(async move {
        // First connection: take the call, then hang up without answering.
        let (mut s, _) = l.accept().await.unwrap();
        let _ = read_call(&mut s).await;
        drop(s);
        // Later connections: echo.
        loop {
            let (s, _) = l.accept().await.unwrap();
            tokio::spawn(echo(s));
        }
    });
    let resolves = Arc::new(AtomicUsize::new(0));
    let hooks = Arc::new(AtomicUsize::new(0));
    let r2 = resolves.clone();
    let h2 = hooks.clone();
    let cfg = RpcConfig {
        reconnect: Some(Backoff {
            initial: Duration::from_millis(50),
            max: Duration::from_millis(400),
        }),
        ..cfg()
    };
    let c = RpcClient::connect(
        resolver_fn(move || {
            r2.fetch_add(1, Ordering::SeqCst);
            async move { Ok(addr) }
        }),
        Some(hook_fn(move |conn| {
            let h = h2.clone();
            async move {
                h.fetch_add(1, Ordering::SeqCst);
                if conn.generation() > 1 {
                    // The hook can use its connection before the client is ready.
                    let b = conn
                        .call(
                            PROG,
                            1,
                            WORK_PROC,
                            &OpaqueAuth::default(),
                            Bytes::from_static(b"hs"),
                            None,
                        )
                        .await?;
                    assert_eq!(&b[..], b"hs");
                }
                Ok(())
            }
        })),
        cfg,
    )
    .await
    .unwrap();
    assert_eq!(
        (
            resolves.load(Ordering::SeqCst),
            hooks.load(Ordering::SeqCst)
        ),
        (1, 1)
    );
    let gen1 = c.connection().unwrap().generation();
    let r = call(&c, b"x").await;
    assert!(matches!(r, Err(TransportError::ConnectionLost(_))), "{r:?}");
    let conn = c.wait_ready(Duration::from_secs(2)).await.unwrap();
    assert!(conn.generation() > gen1);
    assert_eq!(resolves.load(Ordering::SeqCst), 2);
    assert_eq!(hooks.load(Ordering::SeqCst), 2);
    assert_eq!(&call(&c, b"back").await.unwrap()[..], b"back");
}

#[tokio::test]
async fn background_start_retries_with_backoff_until_the_resolver_succeeds() {
    let (l, addr) = listen().await;
    tokio::spawn(async move {
        loop {
            let (s, _) = l.accept().await.unwrap();
            tokio::spawn(echo(s));
        }
    });
    let attempts = Arc::new(AtomicUsize::new(0));
    let a2 = attempts.clone();
    let cfg = RpcConfig {
        reconnect: Some(Backoff {
            initial: Duration::from_millis(20),
            max: Duration::from_millis(100),
        }),
        ..cfg()
    };
    let t = Instant::now();
    let c = RpcClient::new(
        resolver_fn(move || {
            let n = a2.fetch_add(1, Ordering::SeqCst);
            async move {
                if n < 3 {
                    Err(TransportError::Resolve(format!(
                        "portmapper has no port yet ({n})"
                    )))
                } else {
                    Ok(addr)
                }
            }
        }),
        None,
        cfg,
    );
    assert!(matches!(
        call(&c, b"x").await,
        Err(TransportError::NotConnected)
    ));
    c.wait_ready(Duration::from_secs(2)).await.unwrap();
    // Waits of 20 + 40 + 80 ms between the four attempts.
    assert!(
        t.elapsed() >= Duration::from_millis(140),
        "{:?}",
        t.elapsed()
    );
    assert_eq!(attempts.load(Ordering::SeqCst), 4);
    assert_eq!(&call(&c, b"y").await.unwrap()[..], b"y");
}

#[tokio::test]
async fn connect_errors() {
    // Nothing listening.
    let (l, addr) = listen().await;
    drop(l);
    let r = RpcClient::connect(fixed_addr(addr), None, cfg()).await;
    assert!(matches!(r, Err(TransportError::Io(_))), "{r:?}");
    // A resolver that never answers: bounded by connect_timeout.
    let c = RpcConfig {
        connect_timeout: Duration::from_millis(200),
        ..cfg()
    };
    let t = Instant::now();
    let r = RpcClient::connect(
        resolver_fn(|| async {
            tokio::time::sleep(Duration::from_secs(60)).await;
            Err(TransportError::Resolve("never".into()))
        }),
        None,
        c,
    )
    .await;
    assert!(matches!(r, Err(TransportError::ConnectTimeout(_))), "{r:?}");
    assert!(t.elapsed() < Duration::from_millis(1500));
    // A failing hook fails the first connect with its own error.
    let (l, addr) = listen().await;
    tokio::spawn(async move {
        let (s, _) = l.accept().await.unwrap();
        echo(s).await;
    });
    let r = RpcClient::connect(
        fixed_addr(addr),
        Some(hook_fn(|_| async {
            Err(TransportError::Handshake("SETVOLUME refused".into()))
        })),
        cfg(),
    )
    .await;
    assert!(
        matches!(&r, Err(TransportError::Handshake(m)) if m == "SETVOLUME refused"),
        "{r:?}"
    );
    // A hook that hangs is bounded by hook_timeout.
    let (l, addr) = listen().await;
    tokio::spawn(async move {
        let (s, _) = l.accept().await.unwrap();
        echo(s).await;
    });
    let c = RpcConfig {
        hook_timeout: Duration::from_millis(200),
        ..cfg()
    };
    let t = Instant::now();
    let r = RpcClient::connect(
        fixed_addr(addr),
        Some(hook_fn(|_| async {
            tokio::time::sleep(Duration::from_secs(60)).await;
            Ok(())
        })),
        c,
    )
    .await;
    assert!(matches!(r, Err(TransportError::Handshake(_))), "{r:?}");
    assert!(t.elapsed() < Duration::from_millis(1500));
}

#[tokio::test]
async fn server_initiated_calls_are_delivered_and_overflow_is_dropped() {
    let (l, addr) = listen().await;
    tokio::spawn(async move {
        let (mut s, _) = l.accept().await.unwrap();
        let c = read_call(&mut s).await.unwrap();
        // Five callbacks (GlusterFS's GF_CBK program is 52743234), then the reply.
        for i in 0..5u32 {
            let mut e = Encoder::new();
            e.put_u32(0x1000 + i);
            e.put_u32(MSG_CALL);
            e.put_u32(RPC_VERSION);
            e.put_u32(52743234);
            e.put_u32(1);
            e.put_u32(i);
            e.put(&OpaqueAuth::default());
            e.put(&OpaqueAuth::default());
            e.put_u32(i * 10);
            let rec = e.freeze();
            s.write_all(&record_header(rec.len())).await.unwrap();
            s.write_all(&rec).await.unwrap();
        }
        s.write_all(&reply(c.xid, b"after")).await.unwrap();
        echo(s).await;
    });
    let cfg = RpcConfig {
        incoming_capacity: 3,
        ..cfg()
    };
    let c = RpcClient::connect(fixed_addr(addr), None, cfg)
        .await
        .unwrap();
    let mut inc = c.take_incoming().unwrap();
    assert!(c.take_incoming().is_none());
    assert_eq!(&call(&c, b"x").await.unwrap()[..], b"after");
    let mut got = Vec::new();
    while let Ok(ic) = inc.try_recv() {
        assert_eq!(ic.header.prog, 52743234);
        assert_eq!(ic.generation, 1);
        got.push((ic.header.proc_num, Decoder::new(ic.args).get_u32().unwrap()));
    }
    // Capacity 3: the first three arrive, the rest were dropped (and logged).
    assert_eq!(got, vec![(0, 0), (1, 10), (2, 20)]);
    assert_eq!(*c.state().borrow(), ConnState::Ready);
}

#[tokio::test]
async fn shutdown_fails_pending_calls_and_stops() {
    let (l, addr) = listen().await;
    tokio::spawn(async move {
        let (mut s, _) = l.accept().await.unwrap();
        while read_call(&mut s).await.is_some() {}
    });
    let cfg = RpcConfig {
        reconnect: Some(Backoff::default()),
        ..cfg()
    };
    let c = RpcClient::connect(fixed_addr(addr), None, cfg)
        .await
        .unwrap();
    let c2 = c.clone();
    let pending = tokio::spawn(async move { call(&c2, b"x").await });
    tokio::time::sleep(Duration::from_millis(50)).await;
    tokio::time::timeout(Duration::from_secs(1), c.shutdown())
        .await
        .unwrap();
    let r = pending.await.unwrap();
    assert!(matches!(r, Err(TransportError::Shutdown)), "{r:?}");
    assert_eq!(*c.state().borrow(), ConnState::Closed);
    assert!(matches!(
        call(&c, b"x").await,
        Err(TransportError::NotConnected)
    ));
}

#[tokio::test]
async fn in_flight_limit_queues_calls_within_their_deadline() {
    let (l, addr) = listen().await;
    let max_seen = Arc::new(AtomicUsize::new(0));
    let m2 = max_seen.clone();
    tokio::spawn(async move {
        let (mut s, _) = l.accept().await.unwrap();
        // Answer in batches of whatever has arrived; track the largest batch.
        loop {
            let Some(first) = read_call(&mut s).await else {
                return;
            };
            let mut batch = vec![first];
            while let Ok(Some(c)) =
                tokio::time::timeout(Duration::from_millis(20), read_call(&mut s)).await
            {
                batch.push(c);
            }
            m2.fetch_max(batch.len(), Ordering::SeqCst);
            for c in batch {
                s.write_all(&reply(c.xid, &c.body)).await.unwrap();
            }
        }
    });
    let cfg = RpcConfig {
        max_in_flight: 4,
        ..cfg()
    };
    let c = RpcClient::connect(fixed_addr(addr), None, cfg)
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for i in 0..20u32 {
        let c = c.clone();
        tasks.push(tokio::spawn(async move {
            let r = call(&c, &i.to_be_bytes()).await.unwrap();
            assert_eq!(&r[..], &i.to_be_bytes());
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(max_seen.load(Ordering::SeqCst), 4);
}
