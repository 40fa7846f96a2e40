//! Decode real C-client traffic (extracted from /work/shared/captures/c-client-2x3.pcap.gz by
//! tests/data/extract_fixtures.py) and re-encode it byte for byte.

use std::fmt::Debug;
use std::path::PathBuf;

use bytes::Bytes;
use proto::auth::AuthGlusterfsV3;
use proto::consts::{lock, open_flags, xattrop, GF_GETSPEC_FLAG_SERVERS_LIST};
use proto::fops::*;
use proto::handshake::*;
use proto::procs;
use proto::{Body, Call, DictValue, Errno, Gfid, IaType, OpStatus};
use xdr::rpc::{CallHeader, ReplyHeader, AUTH_GLUSTERFS_V2};
use xdr::{Decoder, XdrDecode};

fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

fn load(name: &str) -> Bytes {
    let text = std::fs::read_to_string(data_dir().join(format!("{name}.hex")))
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let hex: String = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .collect::<Vec<_>>()
        .concat();
    Bytes::from(
        (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect::<Vec<u8>>(),
    )
}

/// Split a call record into its header and body.
fn call_record(name: &str) -> (CallHeader, Bytes) {
    let mut d = Decoder::new(load(&format!("{name}_call")));
    let h = CallHeader::decode(&mut d).unwrap();
    (h, d.rest())
}

/// Split a reply record into its header and body (the call must have been accepted).
fn reply_record(name: &str) -> (ReplyHeader, Bytes) {
    let mut d = Decoder::new(load(&format!("{name}_reply")));
    let h = ReplyHeader::decode(&mut d).unwrap();
    assert!(h.status.is_ok(), "{name}: {:?}", h.status);
    (h, d.rest())
}

/// Decode a call/reply pair of type `C`, check the header matches `C`'s numbers, and check both
/// bodies re-encode to the captured bytes.
fn pair<C>(name: &str) -> (CallHeader, C, C::Reply)
where
    C: Call + PartialEq + Debug,
    C::Reply: PartialEq + Debug,
{
    let (ch, cbody) = call_record(name);
    let (rh, rbody) = reply_record(name);
    assert_eq!(ch.xid, rh.xid);
    assert_eq!(
        (ch.prog, ch.vers, ch.proc_num),
        (C::PROGRAM, C::VERSION, C::PROC),
        "{name}"
    );
    let call = C::decode_body(cbody.clone()).unwrap_or_else(|e| panic!("{name} call: {e}"));
    assert_eq!(call.to_body(), cbody, "{name}: call re-encoding");
    let reply =
        C::Reply::decode_body(rbody.clone()).unwrap_or_else(|e| panic!("{name} reply: {e}"));
    assert_eq!(reply.to_body(), rbody, "{name}: reply re-encoding");
    (ch, call, reply)
}

fn gfid(s: &str) -> Gfid {
    s.parse().unwrap()
}

#[test]
fn every_fixture_roundtrips() {
    let mut n = 0;
    for entry in std::fs::read_dir(data_dir()).unwrap() {
        let file = entry.unwrap().file_name().into_string().unwrap();
        let Some(name) = file.strip_suffix("_call.hex") else {
            continue;
        };
        n += 1;
        match name {
            "dump_dump" | "dump_dump_brick" => drop(pair::<DumpReq>(name)),
            "dump_ping" => drop(pair::<PingReq>(name)),
            "hndsk_getspec" => drop(pair::<GetspecReq>(name)),
            "hndsk_setvolume" => drop(pair::<SetvolumeReq>(name)),
            "pmap_portbybrick" => drop(pair::<PmapPortByBrickReq>(name)),
            "fop_create" => drop(pair::<CreateReq>(name)),
            "fop_entrylk" => drop(pair::<EntrylkReq>(name)),
            "fop_finodelk" => drop(pair::<FinodelkReq>(name)),
            "fop_flush" => drop(pair::<FlushReq>(name)),
            "fop_fstat" => drop(pair::<FstatReq>(name)),
            "fop_ftruncate" => drop(pair::<FtruncateReq>(name)),
            "fop_fxattrop" => drop(pair::<FxattropReq>(name)),
            "fop_getxattr" => drop(pair::<GetxattrReq>(name)),
            "fop_inodelk" => drop(pair::<InodelkReq>(name)),
            "fop_link" => drop(pair::<LinkReq>(name)),
            "fop_lk" => drop(pair::<LkReq>(name)),
            "fop_lookup" | "fop_lookup_enoent" | "fop_lookup_root" => drop(pair::<LookupReq>(name)),
            "fop_mkdir" => drop(pair::<MkdirReq>(name)),
            "fop_open" => drop(pair::<OpenReq>(name)),
            "fop_opendir" => drop(pair::<OpendirReq>(name)),
            "fop_read" => drop(pair::<ReadReq>(name)),
            "fop_readdir" => drop(pair::<ReaddirReq>(name)),
            "fop_readdirp" => drop(pair::<ReaddirpReq>(name)),
            "fop_readlink" => drop(pair::<ReadlinkReq>(name)),
            "fop_release" => drop(pair::<ReleaseReq>(name)),
            "fop_releasedir" => drop(pair::<ReleasedirReq>(name)),
            "fop_rename" => drop(pair::<RenameReq>(name)),
            "fop_rmdir" => drop(pair::<RmdirReq>(name)),
            "fop_setattr" => drop(pair::<SetattrReq>(name)),
            "fop_setxattr" => drop(pair::<SetxattrReq>(name)),
            "fop_stat" => drop(pair::<StatReq>(name)),
            "fop_statfs" => drop(pair::<StatfsReq>(name)),
            "fop_symlink" => drop(pair::<SymlinkReq>(name)),
            "fop_unlink" => drop(pair::<UnlinkReq>(name)),
            "fop_write" => drop(pair::<WriteReq>(name)),
            other => panic!("fixture {other} has no decoder in this test"),
        }
    }
    assert_eq!(n, 38);
}

/// The GFIDs the capture's operations created (seen in CREATE/MKDIR/SYMLINK replies).
const DIR: &str = "c83fff7e-61bc-4e8a-9f88-f983acb659f4"; // /dir
const SMALL: &str = "59a4176b-bff4-4687-b281-e29c5a0f5151"; // /dir/small, later /dir/renamed
const BIG: &str = "658cb042-1026-4b30-aca9-eaaca0f9b4d2"; // /dir/big, hard-linked as /dir/hard
const SYM: &str = "3102e4dd-384d-49f2-9834-b713092063f4"; // /dir/sym -> big
const VOLUME_ID: &str = "795a824c-9427-405b-ba3b-c600a0dd5563";

#[test]
fn setvolume() {
    let (h, call, reply) = pair::<SetvolumeReq>("hndsk_setvolume");
    // The brick connection already uses the v3 credential.
    assert_eq!(h.cred.flavor, proto::auth::AUTH_GLUSTERFS_V3);
    let cred = AuthGlusterfsV3::from_bytes(h.cred.body.clone()).unwrap();
    assert_eq!((cred.pid, cred.uid, cred.gid), (0, 0, 0));
    assert_eq!(&cred.lk_owner[..], &[0, 0, 0, 0]);

    let d = &call.dict;
    assert_eq!(d.len(), 22);
    assert_eq!(d.keys().next(), Some("opversion"));
    assert_eq!(
        d.get_u64("fops-version"),
        Some(u64::from(procs::FOP_PROGRAM))
    );
    assert_eq!(d.get_str("remote-subvolume"), Some("/srv/bars/ref/b1"));
    assert_eq!(d.get_str("volfile-key"), Some("/ref"));
    assert_eq!(d.get_str("client-version"), Some("10.3"));
    assert_eq!(d.get_str("process-name"), Some("fuse"));
    assert_eq!(d.get_u64("clnt-lk-version"), Some(1));
    assert!(d
        .get_str("process-uuid")
        .unwrap()
        .ends_with("PC_NAME:ref-client-0-RECON_NO:-0"));
    // Typed values serialize like C's dict_set_int32: decimal text and a NUL.
    let mut typed = proto::Dict::new();
    typed.set_i64("fops-version", 1298437);
    typed.set_str("process-name", "fuse");
    let mut expect = proto::Dict::new();
    for k in ["fops-version", "process-name"] {
        expect.insert(k, d.get(k).unwrap().clone());
    }
    assert_eq!(typed.to_serialized(), expect.to_serialized());

    assert_eq!(reply.status(), Ok(0));
    assert_eq!(reply.error_text(), Some("Success"));
    assert!(reply.child_up());
    assert_eq!(reply.volume_id(), Some(VOLUME_ID));
    assert_eq!(reply.dict.len(), 6);
}

#[test]
fn getspec() {
    let (h, call, reply) = pair::<GetspecReq>("hndsk_getspec");
    assert_eq!(h.cred.flavor, AUTH_GLUSTERFS_V2);
    assert_eq!(call.flags, GF_GETSPEC_FLAG_SERVERS_LIST);
    assert_eq!(call.key, "/ref");
    assert_eq!(call.xdata.get_u64("max-op-version"), Some(100000));
    assert_eq!(call.xdata.get_u64("min-op-version"), Some(1));
    assert_eq!(reply.status(), Ok(reply.spec.len() as i32));
    assert!(reply.spec.starts_with("volume ref-client-0\n"));
    for b in 1..=6 {
        assert!(reply
            .spec
            .contains(&format!("option remote-subvolume /srv/bars/ref/b{b}\n")));
    }
    assert!(reply.spec.contains("type cluster/replicate"));
    assert!(reply.spec.contains("type cluster/distribute"));
    assert!(reply.xdata.is_empty());
}

#[test]
fn portmap_dump_ping() {
    let (_, call, reply) = pair::<PmapPortByBrickReq>("pmap_portbybrick");
    assert_eq!(call.brick, "/srv/bars/ref/b1");
    assert_eq!(reply.status(), Ok(0));
    // The port the capture's brick connections go to (tcp.dstport of their streams).
    assert_eq!(reply.port, 50341);

    let (_, call, glusterd) = pair::<DumpReq>("dump_dump");
    assert_eq!(call.gfs_id, proto::consts::DUMP_GFS_ID);
    assert!(glusterd.has_program(procs::PMAP_PROGRAM, procs::PMAP_VERSION));
    assert!(glusterd.has_program(procs::HNDSK_PROGRAM, procs::HNDSK_VERSION));
    let (_, _, brick) = pair::<DumpReq>("dump_dump_brick");
    assert!(!brick.has_program(procs::PMAP_PROGRAM, procs::PMAP_VERSION));
    assert!(brick.has_program(procs::FOP_PROGRAM, procs::FOP_VERSION));
    assert_eq!(brick.progs[0].progname, "GlusterFS 4.x v1");
    assert_eq!(brick.progs.len(), 4);

    let (h, _, pong) = pair::<PingReq>("dump_ping");
    assert_eq!(
        (h.prog, h.proc_num),
        (procs::DUMP_PROGRAM, procs::dump::PING)
    );
    assert_eq!(pong.status(), Ok(0));
}

#[test]
fn lookup_revalidate_with_xdata() {
    let (_, call, reply) = pair::<LookupReq>("fop_lookup");
    assert_eq!(call.gfid, gfid(DIR));
    assert_eq!(call.pargfid, Gfid::ROOT);
    assert_eq!(&call.bname[..], b"dir");
    let x = call.xdata.as_ref().unwrap();
    // AFR asks for its 12-byte pending counters, DHT for its 16-byte layout.
    for k in [
        "trusted.afr.dirty",
        "trusted.afr.ref-client-0",
        "trusted.afr.ref-client-2",
    ] {
        assert_eq!(x.get(k), Some(&DictValue::Uint(12)), "{k}");
    }
    assert_eq!(x.get("trusted.glusterfs.dht"), Some(&DictValue::Uint(16)));
    assert_eq!(
        x.get_str("link-count"),
        Some("glusterfs.xattrop_index_count")
    );

    let reply = reply.into_result().unwrap();
    let (entry, parent) = (&reply.prestat, &reply.poststat);
    assert_eq!(entry.gfid, gfid(DIR));
    assert!(entry.is_dir());
    assert_eq!(entry.ia_type(), IaType::Dir);
    assert_eq!(entry.perm(), 0o755);
    assert_eq!(entry.nlink, 2);
    assert_eq!(entry.flags, proto::iatt_flags::BASIC);
    // The brick derives ino from the GFID's last 8 bytes.
    assert_eq!(entry.ino.to_be_bytes(), gfid(DIR).0[8..]);
    assert_eq!((parent.gfid, parent.ino), (Gfid::ROOT, 1));
    let rx = reply.xdata.as_ref().unwrap();
    assert_eq!(rx.get("glusterfs.inodelk-count"), Some(&DictValue::Int(1)));
    assert_eq!(
        rx.get_bytes("trusted.glusterfs.dht.mds").map(|b| b.len()),
        Some(4)
    );

    // Building the same request through the API gives the captured bytes.
    let mut xdata = proto::Dict::new();
    xdata.set_str("link-count", "glusterfs.xattrop_index_count");
    for k in [
        "glusterfs.parent-entrylk",
        "glusterfs.entrylk-count",
        "glusterfs.inodelk-count",
    ] {
        xdata.set_u64(k, 0);
    }
    xdata.set_i64("list-xattr", 1);
    for k in ["dirty", "ref-client-2", "ref-client-1", "ref-client-0"] {
        xdata.set_u64(format!("trusted.afr.{k}"), 12);
    }
    xdata.set_u64("trusted.glusterfs.dht", 16);
    let built = LookupReq {
        gfid: gfid(DIR),
        pargfid: Gfid::ROOT,
        flags: 0,
        bname: Bytes::from_static(b"dir"),
        xdata: Some(xdata),
    };
    assert_eq!(built.to_body(), call_record("fop_lookup").1);
}

#[test]
fn lookup_enoent_and_root() {
    let (_, call, reply) = pair::<LookupReq>("fop_lookup_enoent");
    assert_eq!((call.gfid, call.pargfid), (Gfid::NULL, gfid(DIR)));
    assert_eq!(&call.bname[..], b"small");
    assert_eq!(reply.status(), Err(Errno::ENOENT));
    assert!(reply.prestat.is_empty());
    assert_eq!(reply.clone().into_result(), Err(Errno::ENOENT));

    let (_, call, reply) = pair::<LookupReq>("fop_lookup_root");
    assert_eq!((call.gfid, call.pargfid), (Gfid::ROOT, Gfid::NULL));
    assert!(call.bname.is_empty());
    assert_eq!(reply.status(), Ok(0));
    assert_eq!((reply.prestat.gfid, reply.prestat.ino), (Gfid::ROOT, 1));
    assert!(reply.prestat.is_dir());
}

#[test]
fn create() {
    let (h, call, reply) = pair::<CreateReq>("fop_create");
    let cred = AuthGlusterfsV3::from_bytes(h.cred.body.clone()).unwrap();
    assert_eq!(cred.pid, 0x6810);
    assert_eq!(call.pargfid, gfid(DIR));
    assert_eq!(&call.bname[..], b"small");
    assert_eq!(call.mode, 0o100644);
    assert_eq!(
        call.flags,
        open_flags::gf_flags_from_flags(libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC | 0o100000)
    );
    let x = call.xdata.as_ref().unwrap();
    assert_eq!(x.get_gfid("gfid-req"), Some(gfid(SMALL)));
    assert_eq!(
        x.get_str("glusterfs.preop.parent.key"),
        Some("trusted.glusterfs.dht")
    );
    // The parent's DHT layout travels as binary (GF_DATA_TYPE_PTR).
    let layout = x.get("trusted.glusterfs.dht").unwrap();
    assert_eq!(layout.type_code(), proto::dict::data_type::PTR);
    assert_eq!(
        &layout.as_bytes().unwrap()[12..],
        &0x7fff_fffeu32.to_be_bytes()
    );

    let reply = reply.into_result().unwrap();
    assert_eq!(reply.fd, 0);
    assert_eq!(reply.stat.gfid, gfid(SMALL));
    assert!(reply.stat.is_reg());
    assert_eq!(reply.stat.size, 0);
    assert_eq!(reply.postparent.gfid, gfid(DIR));
    assert!(reply.postparent.size > reply.preparent.size);

    let mut xdata = proto::Dict::new();
    xdata.set_gfuuid("gfid-req", gfid(SMALL));
    xdata.set_str("glusterfs.preop.parent.key", "trusted.glusterfs.dht");
    xdata.set_bin("trusted.glusterfs.dht", layout.as_bytes().unwrap().clone());
    let built = CreateReq {
        pargfid: gfid(DIR),
        flags: open_flags::GF_O_WRONLY | open_flags::GF_O_CREAT | open_flags::GF_O_TRUNC,
        mode: 0o100644,
        umask: 0,
        bname: Bytes::from_static(b"small"),
        xdata: Some(xdata),
    };
    assert_eq!(built.to_body(), call_record("fop_create").1);
}

#[test]
fn write_with_payload() {
    let (_, call, reply) = pair::<WriteReq>("fop_write");
    assert_eq!(call.gfid, gfid(SMALL));
    assert_eq!((call.fd, call.offset), (0, 0));
    assert_eq!(&call.data[..], b"hello\n");
    assert_eq!(call.payload().map(|p| &p[..]), Some(&b"hello\n"[..]));
    // The data follows the arguments raw: no length word, no padding.
    let body = call_record("fop_write").1;
    assert_eq!(call.xdr_bytes().len() + 6, body.len());
    assert_eq!(&body[body.len() - 6..], b"hello\n");
    let x = call.xdata.as_ref().unwrap();
    assert_eq!(
        x.get_str("glusterfs.inodelk-dom-count"),
        Some("ref-replicate-0")
    );

    assert_eq!(reply.status(), Ok(6));
    assert_eq!((reply.prestat.size, reply.poststat.size), (0, 6));
    assert_eq!(reply.poststat.gfid, gfid(SMALL));
}

#[test]
fn read_with_payload() {
    let (_, call, reply) = pair::<ReadReq>("fop_read");
    assert_eq!(
        (call.gfid, call.fd, call.offset, call.size),
        (gfid(SMALL), 1, 0, 4096)
    );
    assert!(call.xdata.is_none());
    assert_eq!(&reply.data[..], b"hello\n");
    assert_eq!(reply.size, 6);
    // op_errno ENOENT with op_ret >= 0: end of file reached, not an error.
    assert!(reply.at_eof());
    assert_eq!(reply.status(), Ok(6));
    assert_eq!(reply.stat.size, 6);
    let body = reply_record("fop_read").1;
    assert_eq!(reply.xdr_bytes().len() + 6, body.len());
    // A reply whose data does not match op_ret is rejected.
    assert!(ReadRsp::decode_body(body.slice(..body.len() - 1)).is_err());
}

#[test]
fn readdirp_entries() {
    let (_, call, reply) = pair::<ReaddirpReq>("fop_readdirp");
    assert_eq!(
        (call.gfid, call.fd, call.offset, call.size),
        (gfid(DIR), 1, 0, 131072)
    );
    assert_eq!(reply.status(), Ok(reply.entries.len() as i32));
    let names: Vec<&[u8]> = reply.entries.iter().map(|e| &e.name[..]).collect();
    assert_eq!(names, [&b"."[..], b"..", b"hard", b"renamed", b"big"]);
    let by = |n: &[u8]| reply.entries.iter().find(|e| &e.name[..] == n).unwrap();
    assert_eq!(by(b".").stat.gfid, gfid(DIR));
    assert_eq!(by(b"..").stat.gfid, Gfid::ROOT);
    assert_eq!(by(b"renamed").stat.gfid, gfid(SMALL));
    assert_eq!(by(b"renamed").stat.size, 6);
    assert_eq!(by(b"hard").stat.gfid, gfid(BIG));
    assert_eq!(by(b"big").stat.gfid, gfid(BIG));
    assert_eq!(by(b"big").stat.nlink, 2);
    for e in &reply.entries {
        assert_eq!(e.d_type, e.stat.ia_type().d_type(), "{:?}", e.name);
        assert_eq!(e.d_len as usize, e.name.len());
        assert_eq!(e.ino, e.stat.ino);
        assert_eq!(e.dict, Some(proto::Dict::new()));
    }

    let (_, _, reply) = pair::<ReaddirReq>("fop_readdir");
    let names: Vec<&[u8]> = reply.entries.iter().map(|e| &e.name[..]).collect();
    assert_eq!(names, [&b"."[..], b".."]);
    assert_eq!(reply.entries[0].d_type, IaType::Dir.d_type());
}

#[test]
fn inode_and_entry_locks() {
    let (_, call, reply) = pair::<InodelkReq>("fop_inodelk");
    assert_eq!(call.gfid, Gfid::ROOT);
    assert_eq!(
        (call.cmd, call.lk_type),
        (lock::GF_LK_SETLK, lock::GF_LK_F_WRLCK)
    );
    assert_eq!(call.volume, "ref-replicate-0");
    assert_eq!(call.flock.l_type, libc::F_WRLCK as u32);
    assert_eq!(reply.status(), Ok(0));
    let built = InodelkReq {
        gfid: Gfid::ROOT,
        cmd: lock::GF_LK_SETLK,
        lk_type: lock::GF_LK_F_WRLCK,
        flock: proto::Flock {
            l_type: libc::F_WRLCK as u32,
            start: i64::MAX as u64 - 1,
            ..Default::default()
        },
        volume: "ref-replicate-0".into(),
        xdata: None,
    };
    assert_eq!(built.to_body(), call_record("fop_inodelk").1);

    let (_, call, reply) = pair::<FinodelkReq>("fop_finodelk");
    assert_eq!((call.gfid, call.fd), (gfid(SMALL), 0));
    assert_eq!(call.volume, "ref-replicate-0");
    assert_eq!((call.flock.start, call.flock.len), (0, 0));
    assert_eq!(reply.status(), Ok(0));

    let (_, call, reply) = pair::<EntrylkReq>("fop_entrylk");
    assert_eq!(call.gfid, Gfid::ROOT);
    assert_eq!(
        (call.cmd, call.lk_type),
        (lock::ENTRYLK_LOCK_NB, lock::ENTRYLK_WRLCK)
    );
    assert_eq!((call.namelen, &call.name[..]), (1, &b"dir"[..]));
    assert_eq!(call.volume, "dht.entry.sync");
    assert_eq!(reply.status(), Ok(0));
    let built = EntrylkReq::new(
        Gfid::ROOT,
        lock::ENTRYLK_LOCK_NB,
        lock::ENTRYLK_WRLCK,
        Some(Bytes::from_static(b"dir")),
        "dht.entry.sync",
    );
    assert_eq!(built.to_body(), call_record("fop_entrylk").1);

    let (_, call, reply) = pair::<LkReq>("fop_lk");
    assert_eq!((call.gfid, call.fd), (gfid(BIG), 1));
    assert_eq!(
        (call.cmd, call.lk_type),
        (lock::GF_LK_SETLKW, lock::GF_LK_F_WRLCK)
    );
    assert_eq!(call.flock.owner.len(), 8);
    assert_eq!(reply.flock, call.flock);
}

#[test]
fn fxattrop_afr_counters() {
    let (_, call, reply) = pair::<FxattropReq>("fop_fxattrop");
    assert_eq!(
        (call.gfid, call.fd, call.flags),
        (gfid(SMALL), 0, xattrop::ADD_ARRAY)
    );
    let d = call.dict.as_ref().unwrap();
    let counters = |v: &Bytes| -> [u32; 3] {
        let w = |i: usize| u32::from_be_bytes([v[i], v[i + 1], v[i + 2], v[i + 3]]);
        [w(0), w(4), w(8)]
    };
    // Pre-op: dirty +1 (data counter), no pending counters on the three bricks.
    assert_eq!(
        counters(d.get_bytes("trusted.afr.dirty").unwrap()),
        [1, 0, 0]
    );
    for c in 0..3 {
        let v = d.get(&format!("trusted.afr.ref-client-{c}")).unwrap();
        assert_eq!(v.type_code(), proto::dict::data_type::PTR);
        assert_eq!(counters(v.as_bytes().unwrap()), [0, 0, 0]);
    }
    assert!(call.xdata.is_none());
    let reply = reply.into_result().unwrap();
    let rd = reply.dict.as_ref().unwrap();
    assert_eq!(rd.keys().collect::<Vec<_>>(), d.keys().collect::<Vec<_>>());

    let mut dict = proto::Dict::new();
    dict.set_bin(
        "trusted.afr.dirty",
        vec![0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0],
    );
    for c in [2, 1, 0] {
        dict.set_bin(format!("trusted.afr.ref-client-{c}"), vec![0u8; 12]);
    }
    let built = FxattropReq {
        gfid: gfid(SMALL),
        fd: 0,
        flags: xattrop::ADD_ARRAY,
        dict: Some(dict),
        xdata: None,
    };
    assert_eq!(built.to_body(), call_record("fop_fxattrop").1);
}

#[test]
fn xattrs() {
    let (_, call, reply) = pair::<SetxattrReq>("fop_setxattr");
    assert_eq!(call.gfid, Gfid::ROOT);
    let layout = call
        .dict
        .as_ref()
        .unwrap()
        .get_bytes("trusted.glusterfs.dht")
        .unwrap();
    assert_eq!(layout.len(), 16);
    assert_eq!(&layout[12..], &0x7fff_fffeu32.to_be_bytes());
    let x = call.xdata.as_ref().unwrap();
    assert_eq!(x.get_str("glusterfs-internal-fop"), Some("yes"));
    assert_eq!(reply.status(), Ok(0));
    // The brick returns attributes as GF_DATA_TYPE_IATT values.
    let post = reply
        .xdata
        .as_ref()
        .unwrap()
        .get_iatt("virt-gf-poststat")
        .unwrap();
    assert_eq!(post.gfid, Gfid::ROOT);
    assert!(post.is_dir());

    let mut dict = proto::Dict::new();
    dict.set_bin("trusted.glusterfs.dht", layout.clone());
    let mut xdata = proto::Dict::new();
    xdata.set_str("glusterfs-internal-fop", "yes");
    xdata.set_i64("dht-get-iatt-in-xattr", 1);
    let built = SetxattrReq {
        gfid: Gfid::ROOT,
        flags: 0,
        dict: Some(dict),
        xdata: Some(xdata),
    };
    assert_eq!(built.to_body(), call_record("fop_setxattr").1);

    let (_, call, reply) = pair::<GetxattrReq>("fop_getxattr");
    assert_eq!(
        call,
        GetxattrReq::new(Gfid::ROOT, Some("trusted.glusterfs.pathinfo"), None)
    );
    let v = reply
        .dict
        .as_ref()
        .unwrap()
        .get("trusted.glusterfs.pathinfo")
        .unwrap();
    assert_eq!(
        v.as_str(),
        Some("<POSIX(/srv/bars/ref/b2):vm:/srv/bars/ref/b2/>")
    );
    // op_ret is the value's length without the NUL the STR value carries.
    assert_eq!(reply.status(), Ok(v.as_str().unwrap().len() as i32));
    assert_eq!(v.as_bytes().unwrap().last(), Some(&0));
}

#[test]
fn namespace_operations() {
    let (_, call, reply) = pair::<MkdirReq>("fop_mkdir");
    assert_eq!(call.pargfid, Gfid::ROOT);
    assert_eq!(call.mode, 0o755);
    let want = format!(".glusterfs-anonymous-inode-{VOLUME_ID}");
    assert_eq!(&call.bname[..], want.as_bytes());
    let req_gfid = call.xdata.as_ref().unwrap().get_gfid("gfid-req").unwrap();
    assert_eq!(reply.stat.gfid, req_gfid);
    assert!(reply.stat.is_dir());
    assert_eq!(reply.postparent.nlink, reply.preparent.nlink + 1);
    let built = MkdirReq {
        pargfid: Gfid::ROOT,
        mode: 0o755,
        umask: 0,
        bname: Bytes::from(want),
        xdata: Some(proto::Dict::new().with("gfid-req", DictValue::Gfuuid(req_gfid))),
    };
    assert_eq!(built.to_body(), call_record("fop_mkdir").1);

    let (_, call, reply) = pair::<SymlinkReq>("fop_symlink");
    assert_eq!(
        (&call.bname[..], &call.linkname[..]),
        (&b"sym"[..], &b"big"[..])
    );
    assert_eq!(reply.stat.gfid, gfid(SYM));
    assert!(reply.stat.is_symlink());
    let (_, call, reply) = pair::<ReadlinkReq>("fop_readlink");
    assert_eq!(call.gfid, gfid(SYM));
    assert_eq!(&reply.path[..], b"big");
    assert_eq!(reply.status(), Ok(3));

    let (_, call, reply) = pair::<RenameReq>("fop_rename");
    assert_eq!((call.oldgfid, call.newgfid), (gfid(DIR), gfid(DIR)));
    assert_eq!(
        (&call.oldbname[..], &call.newbname[..]),
        (&b"small"[..], &b"renamed"[..])
    );
    assert_eq!(reply.stat.gfid, gfid(SMALL));
    assert_eq!(reply.postnewparent.gfid, gfid(DIR));

    let (_, call, reply) = pair::<LinkReq>("fop_link");
    assert_eq!((call.oldgfid, call.newgfid), (gfid(BIG), gfid(DIR)));
    assert_eq!(&call.newbname[..], b"hard");
    assert_eq!((reply.stat.nlink, reply.stat.size), (2, 200 * 1024));

    let (_, call, reply) = pair::<UnlinkReq>("fop_unlink");
    assert_eq!((call.pargfid, &call.bname[..]), (gfid(DIR), &b"hard"[..]));
    assert_eq!(reply.status(), Ok(0));
    let (_, call, reply) = pair::<RmdirReq>("fop_rmdir");
    assert_eq!((call.pargfid, &call.bname[..]), (Gfid::ROOT, &b"dir"[..]));
    assert_eq!(reply.poststat.nlink + 1, reply.prestat.nlink);
}

#[test]
fn fd_operations() {
    let (_, call, reply) = pair::<OpenReq>("fop_open");
    assert_eq!(
        (call.gfid, call.flags),
        (gfid(SMALL), open_flags::GF_O_RDONLY)
    );
    assert_eq!(reply.into_result().unwrap().fd, 1);
    let (_, call, reply) = pair::<OpendirReq>("fop_opendir");
    assert!(!call.gfid.is_null());
    assert_eq!(reply.status(), Ok(0));
    let (_, call, reply) = pair::<FtruncateReq>("fop_ftruncate");
    assert_eq!((call.gfid, call.fd, call.offset), (gfid(BIG), 1, 10));
    assert_eq!(reply.poststat.size, 10);
    let (_, call, reply) = pair::<FstatReq>("fop_fstat");
    assert_eq!(reply.stat.gfid, call.gfid);
    let (_, call, reply) = pair::<StatReq>("fop_stat");
    assert_eq!(reply.stat.gfid, call.gfid);
    let (_, _, reply) = pair::<StatfsReq>("fop_statfs");
    assert_eq!((reply.statfs.bsize, reply.statfs.namemax), (4096, 255));
    let (_, call, reply) = pair::<SetattrReq>("fop_setattr");
    assert_eq!(call.stbuf.gfid, call.gfid);
    assert_eq!(reply.poststat.gfid, call.gfid);
    for name in ["fop_flush", "fop_release", "fop_releasedir"] {
        let reply = CommonRsp::decode_body(reply_record(name).1).unwrap();
        assert_eq!(reply.status(), Ok(0), "{name}");
    }
}

/// Callbacks from a second capture (two C FUSE mounts of a replica-3 volume `protocb` with
/// cache invalidation on; see tests/data/README.md). Bricks send them as calls; nobody replies.
fn callback(name: &str) -> (CallHeader, Bytes, proto::callback::Callback) {
    let mut d = Decoder::new(load(name));
    let h = CallHeader::decode(&mut d).unwrap();
    assert_eq!((h.prog, h.vers), (procs::CBK_PROGRAM, procs::CBK_VERSION));
    let body = d.rest();
    let cb = proto::callback::Callback::decode(h.proc_num, body.clone()).unwrap();
    (h, body, cb)
}

#[test]
fn callbacks() {
    use proto::callback::Callback;
    use proto::consts::upcall;
    const F: &str = "725e66f7-c0a5-44ad-8321-e18fa487a9e4"; // the file both mounts wrote

    let (h, body, cb) = callback("cbk_cache_invalidation_chmod");
    assert_eq!(h.proc_num, procs::cbk::CACHE_INVALIDATION);
    let Callback::CacheInvalidation(c) = cb else {
        panic!("{cb:?}")
    };
    assert_eq!(c.to_body(), body);
    assert_eq!(c.gfid().unwrap(), gfid(F));
    assert_eq!(c.event_type, upcall::CACHE_INVALIDATION);
    assert_eq!(c.expire_time_attr, 600); // features.cache-invalidation-timeout
                                         // chmod: attribute flags plus UP_XATTR.
    let want = upcall::UP_MODE
        | upcall::UP_OWN
        | upcall::UP_SIZE
        | upcall::UP_TIMES
        | upcall::UP_PERM
        | upcall::UP_XATTR;
    assert_eq!(c.flags, want);
    let stat = proto::Iatt::from(&c.stat);
    assert_eq!(stat.gfid, gfid(F));
    assert!(stat.is_reg());
    assert_eq!(stat.perm(), 0o600);
    assert!(c.xdata.is_empty());

    let (_, body, cb) = callback("cbk_cache_invalidation_write");
    let Callback::CacheInvalidation(c) = cb else {
        panic!("{cb:?}")
    };
    assert_eq!(c.to_body(), body);
    assert_eq!(c.flags, upcall::UP_SIZE | upcall::UP_TIMES);
    assert_eq!(c.gfid().unwrap(), gfid(F));

    let (h, body, cb) = callback("cbk_inodelk_contention");
    assert_eq!(h.proc_num, procs::cbk::INODELK_CONTENTION);
    assert_eq!(h.cred.flavor, xdr::rpc::AUTH_NULL);
    let Callback::InodelkContention(c) = cb else {
        panic!("{cb:?}")
    };
    assert_eq!(c.to_body(), body);
    assert_eq!(c.gfid, gfid(F));
    assert_eq!(c.domain, "protocb-replicate-0");
    assert_eq!(c.flock.l_type, libc::F_WRLCK as u32);
    assert_eq!((c.flock.start, c.flock.len), (0, 0));
    assert!(c.pid > 0);
    assert!(c.xdata.is_empty());
}
