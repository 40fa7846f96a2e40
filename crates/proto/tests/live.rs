//! Messages built by this crate against a real glusterd and brick (GlusterFS 10.3 on this host).
//! Creates a one-brick volume `proto_live_<pid>` (brick under /srv), runs a session over plain
//! blocking sockets, then stops and deletes the volume. Needs root and a running glusterd:
//!
//!     cargo test -p proto --test live --no-run   # then run the printed binary with --ignored

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use bytes::Bytes;
use proto::auth::AuthGlusterfsV3;
use proto::consts::{lock, open_flags, xattrop};
use proto::fops::*;
use proto::handshake::*;
use proto::{procs, Call, Dict, DictValue, Errno, Gfid, OpStatus};
use xdr::rpc::{record_header, AuthGlusterfsV2, OpaqueAuth, ReplyHeader};

const HOST: &str = "vm";

struct Volume {
    name: String,
    dir: String,
}

impl Volume {
    fn create() -> Volume {
        let name = format!("proto_live_{}", std::process::id());
        let dir = format!("/srv/{name}");
        let v = Volume { name, dir };
        std::fs::create_dir_all(format!("{}/b1", v.dir)).unwrap();
        gluster(&[
            "volume",
            "create",
            &v.name,
            &format!("{HOST}:{}/b1", v.dir),
            "force",
        ]);
        gluster(&["volume", "start", &v.name]);
        v
    }
}

impl Drop for Volume {
    fn drop(&mut self) {
        let _ = Command::new("gluster")
            .args(["--mode=script", "volume", "stop", &self.name, "force"])
            .output();
        let _ = Command::new("gluster")
            .args(["--mode=script", "volume", "delete", &self.name])
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn gluster(args: &[&str]) {
    let out = Command::new("gluster")
        .arg("--mode=script")
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "gluster {args:?}: {out:?}");
}

/// One connection: records out, replies in (callbacks, if any, are skipped).
struct Conn {
    sock: TcpStream,
    xid: u32,
    cred: OpaqueAuth,
}

impl Conn {
    fn open(port: u16, cred: OpaqueAuth) -> Conn {
        let sock = TcpStream::connect(("127.0.0.1", port)).unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        sock.set_write_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        Conn { sock, xid: 0, cred }
    }

    fn call<C: Call>(&mut self, req: &C) -> C::Reply {
        self.xid += 1;
        let (head, payload) = proto::encode_call(self.xid, self.cred.clone(), req);
        let plen = payload.as_ref().map_or(0, |p| p.len());
        let mut out = record_header(head.len() + plen).to_vec();
        out.extend_from_slice(&head);
        if let Some(p) = payload {
            out.extend_from_slice(&p);
        }
        self.sock.write_all(&out).unwrap();
        loop {
            let rec = self.read_record();
            match ReplyHeader::peek(&rec) {
                Some((xid, true)) if xid == self.xid => {
                    let (_, r) = proto::decode_reply::<C::Reply>(rec)
                        .unwrap_or_else(|e| panic!("{}: {e}", C::NAME));
                    return r;
                }
                _ => continue,
            }
        }
    }

    fn read_record(&mut self) -> Bytes {
        let mut rec = Vec::new();
        loop {
            let mut h = [0u8; 4];
            self.sock.read_exact(&mut h).unwrap();
            let (last, len) = xdr::rpc::parse_record_header(h);
            assert!(len < 64 << 20);
            let start = rec.len();
            rec.resize(start + len, 0);
            self.sock.read_exact(&mut rec[start..]).unwrap();
            if last {
                return Bytes::from(rec);
            }
        }
    }
}

fn option<'a>(spec: &'a str, name: &str) -> &'a str {
    let key = format!("option {name} ");
    spec.lines()
        .find_map(|l| l.trim().strip_prefix(&key))
        .unwrap_or_else(|| panic!("no {name} in volfile"))
}

#[test]
#[ignore = "needs root, glusterd, and creates a volume"]
fn session_against_real_brick() {
    let vol = Volume::create();
    let v2 = AuthGlusterfsV2 {
        lk_owner: Bytes::from_static(&[0; 4]),
        ..Default::default()
    };

    // glusterd: programs, volfile, brick port.
    let mut gd = Conn::open(24007, v2.to_auth());
    let dump = gd.call(&DumpReq {
        gfs_id: proto::consts::DUMP_GFS_ID,
    });
    assert!(dump.has_program(procs::PMAP_PROGRAM, procs::PMAP_VERSION));
    let mut xdata = Dict::new();
    xdata.set_i64("max-op-version", 100000);
    xdata.set_i64("min-op-version", 1);
    let spec = gd
        .call(&GetspecReq {
            flags: proto::consts::GF_GETSPEC_FLAG_SERVERS_LIST,
            key: vol.name.clone(),
            xdata,
        })
        .into_result()
        .unwrap()
        .spec;
    let brick = option(&spec, "remote-subvolume").to_string();
    assert_eq!(brick, format!("{}/b1", vol.dir));
    let port = gd
        .call(&PmapPortByBrickReq {
            brick: brick.clone(),
        })
        .into_result()
        .unwrap()
        .port;
    assert!(port > 0);
    assert_eq!(gd.call(&PingReq).status(), Ok(0));

    // Brick: handshake.
    let pid = std::process::id() as i32;
    let v3 = AuthGlusterfsV3 {
        pid,
        lk_owner: AuthGlusterfsV3::pid_lk_owner(pid),
        ..Default::default()
    };
    let mut b = Conn::open(port as u16, v3.to_auth());
    let dump = b.call(&DumpReq {
        gfs_id: proto::consts::DUMP_GFS_ID,
    });
    assert!(dump.has_program(procs::FOP_PROGRAM, procs::FOP_VERSION));
    let mut opts = Dict::new();
    opts.set_i64("opversion", 100000);
    opts.set_u64("clnt-lk-version", 1);
    opts.set_str("volfile-key", &vol.name);
    opts.set_str("client-version", "10.3");
    opts.set_str("process-name", "proto-live-test");
    opts.set_str("process-uuid", &format!("proto-live-{pid}"));
    opts.set_i64("fops-version", i64::from(procs::FOP_PROGRAM));
    opts.set_str("remote-subvolume", &brick);
    opts.set_str("username", option(&spec, "username"));
    opts.set_str("password", option(&spec, "password"));
    let sv = b.call(&SetvolumeReq { dict: opts.clone() });
    assert_eq!(sv.status(), Ok(0), "{:?}", sv.error_text());
    assert_eq!(sv.error_text(), Some("Success"));
    assert!(sv.child_up());

    // A wrong password is refused with EACCES.
    let mut bad = opts;
    bad.set_str("password", "wrong");
    let mut b2 = Conn::open(port as u16, v3.to_auth());
    assert_eq!(
        b2.call(&SetvolumeReq { dict: bad }).status(),
        Err(Errno::EACCES)
    );

    // Fops.
    let root = b
        .call(&LookupReq {
            gfid: Gfid::ROOT,
            xdata: Some(Dict::new()),
            ..Default::default()
        })
        .into_result()
        .unwrap();
    assert!(root.prestat.is_dir());
    assert_eq!(root.prestat.gfid, Gfid::ROOT);

    let dir_gfid = Gfid::from_random_bytes(pid.to_be_bytes().repeat(4).try_into().unwrap());
    let mkdir = b
        .call(&MkdirReq {
            pargfid: Gfid::ROOT,
            mode: 0o755,
            umask: 0o022,
            bname: Bytes::from_static(b"d"),
            xdata: Some(Dict::new().with("gfid-req", DictValue::Gfuuid(dir_gfid))),
        })
        .into_result()
        .unwrap();
    assert_eq!(mkdir.stat.gfid, dir_gfid);
    assert!(mkdir.stat.is_dir());

    let file_gfid = Gfid::from_random_bytes([0x5a; 16]);
    let create = b
        .call(&CreateReq {
            pargfid: dir_gfid,
            flags: open_flags::gf_flags_from_flags(libc::O_RDWR | libc::O_CREAT | libc::O_EXCL),
            mode: 0o100640,
            umask: 0o022,
            bname: Bytes::from_static(b"f"),
            xdata: Some(Dict::new().with("gfid-req", DictValue::Gfuuid(file_gfid))),
        })
        .into_result()
        .unwrap();
    assert_eq!(create.stat.gfid, file_gfid);
    assert_eq!(create.stat.perm(), 0o640);
    let fd = create.fd;

    // Same name again: EEXIST.
    let again = b.call(&CreateReq {
        pargfid: dir_gfid,
        flags: open_flags::gf_flags_from_flags(libc::O_RDWR | libc::O_CREAT | libc::O_EXCL),
        mode: 0o100640,
        bname: Bytes::from_static(b"f"),
        xdata: Some(Dict::new().with(
            "gfid-req",
            DictValue::Gfuuid(Gfid::from_random_bytes([1; 16])),
        )),
        ..Default::default()
    });
    assert_eq!(again.status(), Err(Errno::EEXIST));

    // WRITE with a payload whose length is not a multiple of 4, then READ it back.
    let w = b.call(&WriteReq {
        gfid: file_gfid,
        fd,
        offset: 0,
        flag: libc::O_RDWR as u32,
        xdata: None,
        data: Bytes::from_static(b"hello world"),
    });
    assert_eq!(w.status(), Ok(11));
    assert_eq!(w.poststat.size, 11);
    let r = b.call(&ReadReq {
        gfid: file_gfid,
        fd,
        offset: 6,
        size: 4096,
        flag: libc::O_RDWR as u32,
        xdata: None,
    });
    assert_eq!(r.status(), Ok(5));
    assert_eq!(&r.data[..], b"world");
    assert!(r.at_eof());

    // XATTROP-style counters: two ADD_ARRAY calls add up (AFR's 3 x u32 big-endian).
    let key = "trusted.afr.proto-live-client-0";
    for _ in 0..2 {
        let mut d = Dict::new();
        d.set_bin(key, vec![0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 0]);
        b.call(&FxattropReq {
            gfid: file_gfid,
            fd,
            flags: xattrop::ADD_ARRAY,
            dict: Some(d),
            xdata: None,
        })
        .into_result()
        .unwrap();
    }
    let got = b
        .call(&GetxattrReq::new(file_gfid, Some(key), None))
        .into_result()
        .unwrap();
    let v = got.dict.as_ref().unwrap().get_bytes(key).unwrap().clone();
    assert_eq!(&v[..], &[0, 0, 0, 2, 0, 0, 0, 4, 0, 0, 0, 0]);

    // SETXATTR / GETXATTR / REMOVEXATTR of a binary user xattr.
    let mut d = Dict::new();
    d.set_bin("user.proto", vec![0u8, 1, 2, 255, 0]);
    b.call(&SetxattrReq {
        gfid: file_gfid,
        flags: 0,
        dict: Some(d),
        xdata: None,
    })
    .into_result()
    .unwrap();
    let got = b
        .call(&GetxattrReq::new(file_gfid, Some("user.proto"), None))
        .into_result()
        .unwrap();
    assert_eq!(
        &got.dict.as_ref().unwrap().get_bytes("user.proto").unwrap()[..],
        &[0, 1, 2, 255, 0]
    );
    b.call(&RemovexattrReq {
        gfid: file_gfid,
        name: "user.proto".into(),
        xdata: None,
    })
    .into_result()
    .unwrap();
    let gone = b.call(&GetxattrReq::new(file_gfid, Some("user.proto"), None));
    assert_eq!(gone.status(), Err(Errno::ENODATA));

    // Inode and entry locks, and a conflicting non-blocking lock from another owner. The locks
    // translator takes the owner from the call's credential (frame->root->lk_owner).
    let wr = |owner: &[u8]| proto::Flock {
        l_type: libc::F_WRLCK as u32,
        owner: Bytes::copy_from_slice(owner),
        ..Default::default()
    };
    let inodelk = |cmd, lk_type, flock| InodelkReq {
        gfid: file_gfid,
        cmd,
        lk_type,
        flock,
        volume: "proto-live".into(),
        xdata: None,
    };
    let take = inodelk(lock::GF_LK_SETLK, lock::GF_LK_F_WRLCK, wr(b"owner-a"));
    assert_eq!(b.call(&take).status(), Ok(0));
    let other = inodelk(lock::GF_LK_SETLK, lock::GF_LK_F_WRLCK, wr(b"owner-b"));
    // Same credential, other flock owner: the same lock owner, so granted.
    assert_eq!(b.call(&other).status(), Ok(0));
    let own_cred = b.cred.clone();
    b.cred = AuthGlusterfsV3 {
        pid,
        lk_owner: Bytes::from_static(b"owner-b"),
        ..Default::default()
    }
    .to_auth();
    assert_eq!(b.call(&other).status(), Err(Errno::EAGAIN));
    b.cred = own_cred;
    let mut unlock_flock = wr(b"owner-a");
    unlock_flock.l_type = libc::F_UNLCK as u32;
    let unlock = inodelk(lock::GF_LK_SETLK, lock::GF_LK_F_UNLCK, unlock_flock);
    assert_eq!(b.call(&unlock).status(), Ok(0));
    for cmd in [lock::ENTRYLK_LOCK_NB, lock::ENTRYLK_UNLOCK] {
        let e = EntrylkReq::new(
            dir_gfid,
            cmd,
            lock::ENTRYLK_WRLCK,
            Some(Bytes::from_static(b"f")),
            "proto-live",
        );
        assert_eq!(b.call(&e).status(), Ok(0));
    }

    // READDIRP sees the file with its attributes.
    let od = b
        .call(&OpendirReq {
            gfid: dir_gfid,
            xdata: None,
        })
        .into_result()
        .unwrap();
    let rd = b
        .call(&ReaddirpReq {
            gfid: dir_gfid,
            fd: od.fd,
            offset: 0,
            size: 128 * 1024,
            xdata: None,
        })
        .into_result()
        .unwrap();
    let f = rd.entries.iter().find(|e| &e.name[..] == b"f").unwrap();
    assert_eq!((f.stat.gfid, f.stat.size), (file_gfid, 11));
    assert!(rd.entries.iter().any(|e| &e.name[..] == b".."));
    assert_eq!(
        b.call(&ReleasedirReq {
            gfid: dir_gfid,
            fd: od.fd,
            xdata: None
        })
        .status(),
        Ok(0)
    );

    // FSTAT, FTRUNCATE, FLUSH, RELEASE, RENAME, STATFS, UNLINK, RMDIR.
    let st = b
        .call(&FstatReq {
            gfid: file_gfid,
            fd,
            xdata: None,
        })
        .into_result()
        .unwrap();
    assert_eq!(st.stat.size, 11);
    let tr = b
        .call(&FtruncateReq {
            gfid: file_gfid,
            fd,
            offset: 3,
            xdata: None,
        })
        .into_result()
        .unwrap();
    assert_eq!((tr.prestat.size, tr.poststat.size), (11, 3));
    for status in [
        b.call(&FlushReq {
            gfid: file_gfid,
            fd,
            xdata: None,
        })
        .status(),
        b.call(&ReleaseReq {
            gfid: file_gfid,
            fd,
            xdata: None,
        })
        .status(),
    ] {
        assert_eq!(status, Ok(0));
    }
    let rn = b
        .call(&RenameReq {
            oldgfid: dir_gfid,
            newgfid: dir_gfid,
            oldbname: Bytes::from_static(b"f"),
            newbname: Bytes::from_static(b"g"),
            xdata: None,
        })
        .into_result()
        .unwrap();
    assert_eq!(rn.stat.gfid, file_gfid);
    let sfs = b
        .call(&StatfsReq {
            gfid: Gfid::ROOT,
            xdata: None,
        })
        .into_result()
        .unwrap();
    assert!(sfs.statfs.bsize > 0 && sfs.statfs.namemax > 0);
    let missing = b.call(&LookupReq {
        pargfid: dir_gfid,
        bname: Bytes::from_static(b"f"),
        xdata: Some(Dict::new()),
        ..Default::default()
    });
    assert_eq!(missing.status(), Err(Errno::ENOENT));
    assert_eq!(
        b.call(&UnlinkReq {
            pargfid: dir_gfid,
            bname: Bytes::from_static(b"g"),
            xflags: 0,
            xdata: None,
        })
        .status(),
        Ok(0)
    );
    assert_eq!(
        b.call(&RmdirReq {
            pargfid: Gfid::ROOT,
            xflags: 0,
            bname: Bytes::from_static(b"d"),
            xdata: None,
        })
        .status(),
        Ok(0)
    );
    assert_eq!(b.call(&PingReq).status(), Ok(0));
    drop(vol);
}
