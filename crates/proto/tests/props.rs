//! Property tests: messages round-trip, decoders never panic on arbitrary or mutated bytes, and
//! absurd counts are refused.

use std::path::PathBuf;

use bytes::Bytes;
use proptest::prelude::*;
use proto::callback::*;
use proto::fops::*;
use proto::handshake::*;
use proto::{procs, Body, Dict, DictValue, Flock, GfIatt, Gfid, Iatt, MdataIatt};
use xdr::{Encoder, XdrEncode};

fn blob(max: usize) -> impl Strategy<Value = Bytes> {
    proptest::collection::vec(any::<u8>(), 0..max).prop_map(Bytes::from)
}

fn gfid() -> impl Strategy<Value = Gfid> {
    any::<[u8; 16]>().prop_map(Gfid)
}

fn iatt() -> impl Strategy<Value = Iatt> {
    (
        gfid(),
        any::<[u64; 6]>(),
        any::<[i64; 4]>(),
        any::<[u32; 9]>(),
    )
        .prop_map(|(g, a, t, b)| Iatt {
            gfid: g,
            flags: a[0],
            ino: a[1],
            dev: a[2],
            rdev: a[3],
            size: a[4],
            blocks: a[5],
            attributes: 0,
            attributes_mask: a[0] ^ a[1],
            atime: t[0],
            mtime: t[1],
            ctime: t[2],
            btime: t[3],
            atime_nsec: b[0],
            mtime_nsec: b[1],
            ctime_nsec: b[2],
            btime_nsec: b[3],
            nlink: b[4],
            uid: b[5],
            gid: b[6],
            blksize: b[7],
            mode: b[8],
        })
}

fn value() -> impl Strategy<Value = DictValue> {
    prop_oneof![
        any::<i64>().prop_map(DictValue::Int),
        any::<u64>().prop_map(DictValue::Uint),
        (-1e9f64..1e9).prop_map(DictValue::Double),
        "[ -~]{0,16}".prop_map(|s| DictValue::str(&s)),
        blob(24).prop_map(DictValue::Bin),
        blob(24).prop_map(DictValue::StrOld),
        gfid().prop_map(DictValue::Gfuuid),
        iatt().prop_map(DictValue::Iatt),
        any::<[i64; 3]>().prop_map(|t| DictValue::Mdata(MdataIatt {
            atime: t[0],
            mtime: t[1],
            ctime: t[2],
            ..Default::default()
        })),
    ]
}

fn dict() -> impl Strategy<Value = Dict> {
    proptest::collection::vec(("[a-z][a-z0-9._-]{0,24}", value()), 0..6)
        .prop_map(|v| v.into_iter().collect())
}

fn opt_dict() -> impl Strategy<Value = Option<Dict>> {
    proptest::option::of(dict())
}

/// Old-format dicts hold untyped values only.
fn old_dict() -> impl Strategy<Value = Dict> {
    proptest::collection::vec(("[a-z][a-z0-9._-]{0,24}", blob(24)), 0..6).prop_map(|v| {
        v.into_iter()
            .map(|(k, b)| (k, DictValue::StrOld(b)))
            .collect()
    })
}

fn flock() -> impl Strategy<Value = Flock> {
    (any::<[u32; 3]>(), any::<[u64; 2]>(), blob(64)).prop_map(|(a, b, owner)| Flock {
        l_type: a[0],
        whence: a[1],
        start: b[0],
        len: b[1],
        pid: a[2],
        owner,
    })
}

fn name() -> impl Strategy<Value = Bytes> {
    blob(300)
}

/// Encode, decode, compare, and check the encoding is what it re-encodes to.
fn roundtrip<T: Body + PartialEq + std::fmt::Debug>(v: &T) -> Result<(), TestCaseError> {
    let b = v.to_body();
    prop_assert_eq!(b.len() % 4, v.payload().map_or(0, |p| p.len() % 4));
    let back = T::decode_body(b.clone()).map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(&back, v);
    prop_assert_eq!(back.to_body(), b);
    Ok(())
}

proptest! {
    #[test]
    fn lookup_roundtrip(g in gfid(), p in gfid(), flags in any::<u32>(), bname in name(), xdata in opt_dict()) {
        roundtrip(&LookupReq { gfid: g, pargfid: p, flags, bname, xdata })?;
    }

    #[test]
    fn create_roundtrip(p in gfid(), f in any::<[u32; 3]>(), bname in name(), xdata in opt_dict()) {
        roundtrip(&CreateReq { pargfid: p, flags: f[0], mode: f[1], umask: f[2], bname, xdata })?;
    }

    #[test]
    fn write_roundtrip(g in gfid(), fd in any::<i64>(), off in any::<u64>(), flag in any::<u32>(),
                       xdata in opt_dict(), data in blob(300)) {
        let w = WriteReq { gfid: g, fd, offset: off, flag, xdata, data: data.clone() };
        roundtrip(&w)?;
        prop_assert_eq!(w.xdr_bytes().len() + data.len(), w.to_body().len());
    }

    #[test]
    fn read_reply_roundtrip(stat in iatt(), errno in any::<i32>(), xdata in opt_dict(), data in blob(300)) {
        roundtrip(&ReadRsp {
            op_ret: data.len() as i32, op_errno: errno, stat, size: data.len() as u32, xdata, data,
        })?;
        roundtrip(&ReadRsp { op_ret: -1, op_errno: errno, ..Default::default() })?;
    }

    #[test]
    fn lock_requests_roundtrip(g in gfid(), c in any::<[u32; 2]>(), fl in flock(), vol in "[a-z.-]{0,30}",
                               nm in name(), xdata in opt_dict()) {
        roundtrip(&InodelkReq { gfid: g, cmd: c[0], lk_type: c[1], flock: fl.clone(), volume: vol.clone(), xdata: xdata.clone() })?;
        roundtrip(&FinodelkReq { gfid: g, fd: 3, cmd: c[0], lk_type: c[1], flock: fl.clone(), volume: vol.clone(), xdata: xdata.clone() })?;
        roundtrip(&LkReq { gfid: g, fd: -2, cmd: c[0], lk_type: c[1], flock: fl.clone(), xdata: xdata.clone() })?;
        roundtrip(&LkRsp { op_ret: 0, op_errno: 0, xdata: xdata.clone(), flock: fl })?;
        roundtrip(&EntrylkReq { gfid: g, cmd: c[0], lk_type: c[1], namelen: 1, name: nm, volume: vol, xdata })?;
    }

    #[test]
    fn xattr_requests_roundtrip(g in gfid(), d in opt_dict(), xdata in opt_dict(), f in any::<u32>()) {
        roundtrip(&FxattropReq { gfid: g, fd: 7, flags: f, dict: d.clone(), xdata: xdata.clone() })?;
        roundtrip(&SetxattrReq { gfid: g, flags: f, dict: d.clone(), xdata: xdata.clone() })?;
        roundtrip(&DictRsp { op_ret: 0, op_errno: 0, xdata, dict: d, ..Default::default() })?;
    }

    #[test]
    fn attr_messages_roundtrip(g in gfid(), st in iatt(), st2 in iatt(), valid in any::<i32>(), xdata in opt_dict()) {
        roundtrip(&SetattrReq { gfid: g, stbuf: st, valid, xdata: xdata.clone() })?;
        roundtrip(&TwoIattRsp { op_ret: 0, op_errno: 0, xdata: xdata.clone(), prestat: st, poststat: st2 })?;
        roundtrip(&CreateRsp { op_ret: 0, op_errno: 0, xdata, stat: st, fd: 9, preparent: st2, postparent: st })?;
    }

    #[test]
    fn readdirp_roundtrip(entries in proptest::collection::vec((any::<[u64; 2]>(), name(), iatt(), opt_dict()), 0..8),
                          xdata in opt_dict()) {
        let entries: Vec<DirentPlus> = entries.into_iter().map(|(a, n, st, d)| DirentPlus {
            ino: a[0], off: a[1], d_len: n.len() as u32, d_type: st.ia_type().d_type(), name: n, stat: st, dict: d,
        }).collect();
        roundtrip(&ReaddirpRsp { op_ret: entries.len() as i32, op_errno: 0, xdata: xdata.clone(), entries: entries.clone() })?;
        let plain = entries.into_iter().map(|e| Dirent { ino: e.ino, off: e.off, d_len: e.d_len, d_type: e.d_type, name: e.name }).collect();
        roundtrip(&ReaddirRsp { op_ret: 0, op_errno: 0, xdata, entries: plain })?;
    }

    #[test]
    fn handshake_roundtrip(d in old_dict(), d2 in old_dict(), key in "[ -~]{0,40}", spec in "[ -~\n]{0,200}") {
        roundtrip(&SetvolumeReq { dict: d.clone() })?;
        roundtrip(&SetvolumeRsp { op_ret: -1, op_errno: 13, dict: d2.clone() })?;
        roundtrip(&GetspecReq { flags: 1, key, xdata: d.clone() })?;
        roundtrip(&GetspecRsp { op_ret: spec.len() as i32, op_errno: 0, spec, xdata: d2 })?;
        roundtrip(&PingRsp { op_ret: 0, op_errno: 0, xdata: d })?;
    }

    #[test]
    fn callbacks_roundtrip(g in gfid(), fl in flock(), dom in "[a-z.-]{0,30}", x in old_dict(), flags in any::<u32>()) {
        let inval = CacheInvalidationReq {
            gfid_text: g.to_string(),
            event_type: proto::consts::upcall::CACHE_INVALIDATION,
            flags,
            expire_time_attr: 60,
            stat: GfIatt { gfid: g, mode: 0o100644, ..Default::default() },
            xdata: x.clone(),
            ..Default::default()
        };
        roundtrip(&inval)?;
        prop_assert_eq!(inval.gfid().unwrap(), g);
        match Callback::decode(procs::cbk::CACHE_INVALIDATION, inval.to_body()).unwrap() {
            Callback::CacheInvalidation(c) => prop_assert_eq!(*c, inval),
            other => prop_assert!(false, "{:?}", other),
        }
        let lk = InodelkContentionReq { gfid: g, flock: fl, pid: 1, domain: dom.clone(), xdata: x.clone() };
        roundtrip(&lk)?;
        prop_assert_eq!(Callback::decode(procs::cbk::INODELK_CONTENTION, lk.to_body()).unwrap(),
                        Callback::InodelkContention(lk));
        let el = EntrylkContentionReq { gfid: g, lk_type: 1, pid: 2, name: Bytes::from_static(b"x"), domain: dom, xdata: x };
        roundtrip(&el)?;
        prop_assert_eq!(Callback::decode(procs::cbk::CHILD_DOWN, Bytes::new()).unwrap(), Callback::ChildDown);
    }
}

/// Run every body decoder this crate has on `b`; none may panic.
fn decode_all(b: &Bytes) {
    macro_rules! all {
        ($($t:ty),* $(,)?) => {$( let _ = <$t as Body>::decode_body(b.clone()); )*};
    }
    all!(
        CommonRsp,
        IattRsp,
        TwoIattRsp,
        ThreeIattRsp,
        DictRsp,
        OpenRsp,
        CreateRsp,
        ReadlinkRsp,
        RenameRsp,
        StatfsRsp,
        LkRsp,
        SeekRsp,
        RchecksumRsp,
        ReadRsp,
        ReaddirRsp,
        ReaddirpRsp,
        StatReq,
        ReadlinkReq,
        MknodReq,
        MkdirReq,
        UnlinkReq,
        RmdirReq,
        SymlinkReq,
        RenameReq,
        LinkReq,
        TruncateReq,
        OpenReq,
        ReadReq,
        WriteReq,
        StatfsReq,
        FlushReq,
        FsyncReq,
        SetxattrReq,
        GetxattrReq,
        RemovexattrReq,
        OpendirReq,
        FsyncdirReq,
        AccessReq,
        CreateReq,
        FtruncateReq,
        FstatReq,
        LkReq,
        LookupReq,
        ReaddirReq,
        InodelkReq,
        FinodelkReq,
        EntrylkReq,
        FentrylkReq,
        XattropReq,
        FxattropReq,
        FgetxattrReq,
        FsetxattrReq,
        RchecksumReq,
        SetattrReq,
        FsetattrReq,
        ReaddirpReq,
        ReleaseReq,
        ReleasedirReq,
        FremovexattrReq,
        FallocateReq,
        DiscardReq,
        ZerofillReq,
        IpcReq,
        SeekReq,
        SetvolumeReq,
        SetvolumeRsp,
        GetspecReq,
        GetspecRsp,
        PingReq,
        PingRsp,
        DumpReq,
        DumpRsp,
        ProgDetail,
        PmapPortByBrickReq,
        PmapPortByBrickRsp,
        CacheInvalidationReq,
        InodelkContentionReq,
        EntrylkContentionReq,
        RecallLeaseReq,
    );
    for p in 0..12 {
        let _ = Callback::decode(p, b.clone());
    }
    let _ = Dict::from_serialized(b.clone());
}

fn fixture_bodies() -> Vec<Bytes> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("hex") {
            continue;
        }
        let hex: String = std::fs::read_to_string(&path)
            .unwrap()
            .lines()
            .filter(|l| !l.starts_with('#'))
            .collect();
        let raw: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect();
        out.push(Bytes::from(raw));
    }
    out
}

proptest! {
    #[test]
    fn garbage_never_panics(data in proptest::collection::vec(any::<u8>(), 0..600)) {
        decode_all(&Bytes::from(data));
    }

    /// Real messages with one byte changed, truncated, or both, at any offset.
    #[test]
    fn mutated_captures_never_panic(which in any::<usize>(), pos in any::<usize>(), byte in any::<u8>(),
                                    cut in any::<usize>(), skip in 0usize..64) {
        let all = fixture_bodies();
        let rec = &all[which % all.len()];
        let mut v = rec.to_vec();
        let i = pos % v.len();
        v[i] = byte;
        v.truncate(v.len() - cut % (v.len() / 4 + 1));
        let start = skip.min(v.len());
        decode_all(&Bytes::from(v[start..].to_vec()));
    }
}

#[test]
fn absurd_counts_are_refused() {
    // A READDIRP reply with one entry more than MAX_DIRENTS.
    let entry = DirentPlus {
        name: Bytes::from_static(b"x"),
        ..Default::default()
    };
    let mut rsp = ReaddirpRsp {
        entries: vec![entry; proto::MAX_DIRENTS],
        ..Default::default()
    };
    assert!(ReaddirpRsp::decode_body(rsp.to_body()).is_ok());
    rsp.entries.push(DirentPlus::default());
    assert!(ReaddirpRsp::decode_body(rsp.to_body()).is_err());

    // A DUMP reply with more programs than MAX_PROGS.
    let progs = vec![ProgDetail::default(); proto::MAX_PROGS + 1];
    let dump = DumpRsp {
        progs,
        ..Default::default()
    };
    assert!(DumpRsp::decode_body(dump.to_body()).is_err());

    // Names, xattr names and lock owners claiming gigabytes.
    let mut e = Encoder::new();
    e.put(&Gfid::ROOT);
    e.put(&Gfid::ROOT);
    e.put_u32(0);
    e.put_u32(0xffff_fff0);
    assert!(LookupReq::decode_body(e.freeze()).is_err());
    let mut e = Encoder::new();
    e.put_u32(0);
    e.put_u32(0);
    e.put_u64(0);
    e.put_u64(0);
    e.put_u32(0);
    e.put_u32(proto::MAX_LK_OWNER as u32 + 1);
    e.put_raw(&[0; 1028]);
    assert!(<Flock as xdr::XdrDecode>::from_bytes(e.freeze()).is_err());

    // A gfx_dict claiming 2^31 pairs in a few bytes, inside a reply.
    let mut e = Encoder::new();
    e.put_i32(0);
    e.put_i32(0);
    e.put_u32(0);
    e.put_i32(1);
    e.put_u32(0x7fff_ffff);
    assert!(CommonRsp::decode_body(e.freeze()).is_err());

    // A GETSPEC reply whose spec length exceeds the record.
    let mut e = Encoder::new();
    e.put_i32(0);
    e.put_i32(0);
    e.put_u32(1 << 30);
    assert!(GetspecRsp::decode_body(e.freeze()).is_err());

    // A WRITE whose size disagrees with the data that follows.
    let w = WriteReq {
        data: Bytes::from_static(b"abcd"),
        ..Default::default()
    };
    let mut b = w.to_body().to_vec();
    b.pop();
    assert!(WriteReq::decode_body(Bytes::from(b)).is_err());
    // Trailing bytes after a plain message.
    let mut b = StatReq::default().to_body().to_vec();
    b.extend_from_slice(&[0, 0, 0, 0]);
    assert!(StatReq::decode_body(Bytes::from(b)).is_err());
}

#[test]
fn encodes_like_xdr_encode() {
    let req = StatReq {
        gfid: Gfid::ROOT,
        xdata: None,
    };
    assert_eq!(req.to_body(), XdrEncode::to_bytes(&req));
}
