//! Connection setup messages: DUMP and PING (the dump program), GETSPEC and SETVOLUME (the
//! handshake program), PORTBYBRICK (glusterd's port mapper).
//!
//! Layouts: rpc/xdr/src/rpc-common-xdr.x (`gf_dump_req/rsp`, `gf_prog_detail`, `gf_common_rsp`),
//! rpc/xdr/src/glusterfs4-xdr.x (`gf_getspec_req/rsp`, `gf_setvolume_req/rsp`: the *old* ones
//! with `opaque` dicts, which is what the C client and glusterfsd send), rpc/xdr/src/
//! portmap-xdr.x. The C side: `client_handshake`, `client_setvolume` and `client_query_portmap`
//! (xlators/protocol/client/src/client-handshake.c), `glusterfs_volfile_fetch_one`
//! (glusterfsd/src/glusterfsd-mgmt.c), `rpc_clnt_ping` (rpc/rpc-lib/src/rpc-clnt-ping.c).
//!
//! The dicts here use the old serialized format inside an `opaque<>` ([`Dict::to_serialized`]);
//! an empty [`Dict`] is sent as a zero-length opaque.
//!
//! SETVOLUME options the C client sends (see `client_setvolume`): `process-uuid`,
//! `process-name`, `client-version`, `volfile-key`, `volfile-checksum`, `clnt-lk-version`
//! (1), `opversion`, `fops-version` (1298437), `remote-subvolume` (the brick path), `volume-id`,
//! plus its volfile options (`username`/`password` for auth, `transport-type`...). The reply dict
//! has `ERROR`, `process-uuid`, `volume-id`, `child_up`, `transport-ptr`, `clnt-lk-version`.

use bytes::Bytes;
use xdr::{Decoder, Encoder, XdrDecode, XdrEncode};

use crate::dict::Dict;
use crate::procs::{
    dump, hndsk, pmap, DUMP_PROGRAM, DUMP_VERSION, HNDSK_PROGRAM, HNDSK_VERSION, PMAP_PROGRAM,
    PMAP_VERSION,
};
use crate::wire::{call, decode_exact, message, op_status, Body, MAX_PROGS, MAX_SPEC};
use crate::ProtoError;

/// Define a struct whose members may include old-format dicts (`opaque<>`), with XDR impls and
/// [`Body`]. `old_dict` members use [`Dict::encode_serialized_opaque`].
macro_rules! old_message {
    (
        $(#[$meta:meta])*
        $name:ident { $( $(#[$fmeta:meta])* $field:ident : $ty:ty => $put:expr, $get:expr ),* $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Default)]
        pub struct $name {
            $( $(#[$fmeta])* pub $field: $ty, )*
        }

        impl XdrEncode for $name {
            fn encode(&self, e: &mut Encoder) {
                $( ($put)(&self.$field, &mut *e); )*
            }
        }

        impl XdrDecode for $name {
            fn decode(d: &mut Decoder) -> xdr::Result<Self> {
                Ok(Self { $( $field: ($get)(&mut *d)?, )* })
            }
        }

        impl Body for $name {
            fn encode_xdr(&self, e: &mut Encoder) {
                self.encode(e)
            }
            fn decode_body(body: Bytes) -> Result<Self, ProtoError> {
                decode_exact(body)
            }
        }
    };
}

fn put_i32(v: &i32, e: &mut Encoder) {
    e.put_i32(*v)
}
fn put_u32(v: &u32, e: &mut Encoder) {
    e.put_u32(*v)
}
#[allow(clippy::ptr_arg)] // the member type is String
fn put_str(v: &String, e: &mut Encoder) {
    e.put_string(v)
}
fn put_old(v: &Dict, e: &mut Encoder) {
    v.encode_serialized_opaque(e)
}
fn get_i32(d: &mut Decoder) -> xdr::Result<i32> {
    d.get_i32()
}
fn get_u32(d: &mut Decoder) -> xdr::Result<u32> {
    d.get_u32()
}
fn get_key(d: &mut Decoder) -> xdr::Result<String> {
    d.get_string(crate::wire::MAX_FIELD)
}
fn get_spec(d: &mut Decoder) -> xdr::Result<String> {
    d.get_string(MAX_SPEC)
}
fn get_old(d: &mut Decoder) -> xdr::Result<Dict> {
    Dict::decode_serialized_opaque(d)
}

old_message! {
    /// `gf_setvolume_req`: connect to a brick's translator stack; the options go in `dict`.
    SetvolumeReq {
        dict: Dict => put_old, get_old,
    }
}

old_message! {
    /// `gf_setvolume_rsp`. On failure `dict["ERROR"]` says why (EACCES: authentication).
    SetvolumeRsp {
        op_ret: i32 => put_i32, get_i32,
        op_errno: i32 => put_i32, get_i32,
        dict: Dict => put_old, get_old,
    }
}

impl SetvolumeRsp {
    /// The server's `ERROR` string ("Success" when it worked).
    pub fn error_text(&self) -> Option<&str> {
        self.dict.get_str("ERROR")
    }
    /// `child_up`: whether the brick's translator stack is up (true when absent, as in C).
    pub fn child_up(&self) -> bool {
        !matches!(self.dict.get_u64("child_up"), Some(0))
    }
    pub fn volume_id(&self) -> Option<&str> {
        self.dict.get_str("volume-id")
    }
}

old_message! {
    /// `gf_getspec_req`: fetch the volfile named `key` (e.g. `/ref` for the FUSE client, or a
    /// volume name). The C client sends flags `GF_GETSPEC_FLAG_SERVERS_LIST` and
    /// `min-op-version`/`max-op-version` in `xdata`.
    GetspecReq {
        flags: u32 => put_u32, get_u32,
        key: String => put_str, get_key,
        xdata: Dict => put_old, get_old,
    }
}

old_message! {
    /// `gf_getspec_rsp`: `spec` is the volfile text; `op_ret` its length on success.
    GetspecRsp {
        op_ret: i32 => put_i32, get_i32,
        op_errno: i32 => put_i32, get_i32,
        spec: String => put_str, get_spec,
        xdata: Dict => put_old, get_old,
    }
}

old_message! {
    /// `gf_common_rsp`: the reply to a dump-program PING.
    PingRsp {
        op_ret: i32 => put_i32, get_i32,
        op_errno: i32 => put_i32, get_i32,
        xdata: Dict => put_old, get_old,
    }
}

/// A dump-program PING call: no arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PingReq;

impl Body for PingReq {
    fn encode_xdr(&self, _e: &mut Encoder) {}
    fn decode_body(body: Bytes) -> Result<Self, ProtoError> {
        if body.is_empty() {
            Ok(PingReq)
        } else {
            Err(xdr::XdrError::Trailing(body.len()).into())
        }
    }
}

message! {
    /// `gf_dump_req`: the C client sends `gfs_id` 0xcaed ([`crate::consts::DUMP_GFS_ID`]).
    DumpReq { gfs_id: u64 }
}

message! {
    /// `gf_prog_detail`: one program a server offers.
    ProgDetail { progname: String, prognum: u64, progver: u64 }
}

/// `gf_dump_rsp`: the programs the server offers (`prog` linked list).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DumpRsp {
    pub gfs_id: u64,
    pub op_ret: i32,
    pub op_errno: i32,
    pub progs: Vec<ProgDetail>,
}

impl DumpRsp {
    pub fn has_program(&self, prognum: u32, progver: u32) -> bool {
        self.progs
            .iter()
            .any(|p| p.prognum == u64::from(prognum) && p.progver == u64::from(progver))
    }
}

impl XdrEncode for DumpRsp {
    fn encode(&self, e: &mut Encoder) {
        e.put_u64(self.gfs_id);
        e.put_i32(self.op_ret);
        e.put_i32(self.op_errno);
        for p in &self.progs {
            e.put_bool(true);
            e.put(p);
        }
        e.put_bool(false);
    }
}

impl XdrDecode for DumpRsp {
    fn decode(d: &mut Decoder) -> xdr::Result<Self> {
        let gfs_id = d.get_u64()?;
        let op_ret = d.get_i32()?;
        let op_errno = d.get_i32()?;
        let mut progs = Vec::new();
        while d.get_bool()? {
            if progs.len() == MAX_PROGS {
                return Err(xdr::XdrError::TooLong {
                    len: MAX_PROGS + 1,
                    max: MAX_PROGS,
                });
            }
            progs.push(d.get()?);
        }
        Ok(DumpRsp {
            gfs_id,
            op_ret,
            op_errno,
            progs,
        })
    }
}

impl Body for DumpRsp {
    fn encode_xdr(&self, e: &mut Encoder) {
        self.encode(e)
    }
    fn decode_body(body: Bytes) -> Result<Self, ProtoError> {
        decode_exact(body)
    }
}

message! {
    /// `pmap_port_by_brick_req`: `brick` is the brick path as the volfile's `remote-subvolume`.
    PmapPortByBrickReq { brick: String }
}

message! {
    /// `pmap_port_by_brick_rsp`: the brick's TCP port when `op_ret == 0`.
    PmapPortByBrickRsp { op_ret: i32, op_errno: i32, status: i32, port: i32 }
}

op_status!(
    SetvolumeRsp,
    GetspecRsp,
    PingRsp,
    DumpRsp,
    PmapPortByBrickRsp
);

call!(
    SetvolumeReq,
    HNDSK_PROGRAM,
    HNDSK_VERSION,
    hndsk::SETVOLUME,
    "SETVOLUME",
    SetvolumeRsp
);
call!(
    GetspecReq,
    HNDSK_PROGRAM,
    HNDSK_VERSION,
    hndsk::GETSPEC,
    "GETSPEC",
    GetspecRsp
);
call!(
    DumpReq,
    DUMP_PROGRAM,
    DUMP_VERSION,
    dump::DUMP,
    "DUMP",
    DumpRsp
);
call!(
    PingReq,
    DUMP_PROGRAM,
    DUMP_VERSION,
    dump::PING,
    "PING",
    PingRsp
);
call!(
    PmapPortByBrickReq,
    PMAP_PROGRAM,
    PMAP_VERSION,
    pmap::PORTBYBRICK,
    "PORTBYBRICK",
    PmapPortByBrickRsp
);
