//! GlusterFS wire structures and constants for a native client. Pure code, no I/O.
//!
//! Built on the `xdr` crate ([`xdr::Encoder`], [`xdr::Decoder`]); every decoder checks lengths and
//! counts against the bytes that remain and a fixed limit before allocating, and never panics.
//!
//! # Public surface, and where each format comes from (paths in the GlusterFS source tree)
//!
//! | Item | Format | Source |
//! |---|---|---|
//! | [`Gfid`] | `opaque gfid[16]`, text as `uuid_utoa` | rpc/xdr/src/glusterfs4-xdr.x |
//! | [`Iatt`], [`IaType`] | `gfx_iattx` | glusterfs4-xdr.x; rpc/xdr/src/glusterfs3.h (`gfx_stat_to_iattx`); libglusterfs/src/glusterfs/iatt.h |
//! | [`GfIatt`], [`MdataIatt`], [`Statfs`] | `gf_iatt`, `gfx_mdata_iatt`, `gf_statfs` | glusterfs4-xdr.x |
//! | [`Flock`] | `gf_proto_flock` | glusterfs4-xdr.x; glusterfs3.h (`gf_proto_flock_from_flock`) |
//! | [`Dict`], [`DictValue`] | `gfx_dict` (XDR) and the old serialized dict | glusterfs4-xdr.x, glusterfs3.h (`dict_to_xdr`, `xdr_to_dict`); libglusterfs/src/dict.c (`dict_serialize_lk`, `dict_unserialize`) |
//! | [`fops`] | `gfx_*_req` / `gfx_*_rsp` of the fop program v400 | glusterfs4-xdr.x; rpc/xdr/src/xdr-custom.c (dirent lists); xlators/protocol/client/src/client-common.c, client-rpc-fops_v2.c |
//! | [`handshake`] | `gf_dump_*`, `gf_common_rsp`, `gf_getspec_*`, `gf_setvolume_*`, `pmap_port_by_brick_*` | rpc/xdr/src/rpc-common-xdr.x, glusterfs4-xdr.x, portmap-xdr.x; client-handshake.c |
//! | [`callback`] | `gfs3_cbk_cache_invalidation_req`, `gfs4_*_contention_req`, `gfs3_recall_lease_req` | glusterfs4-xdr.x; client-callback.c |
//! | [`auth::AuthGlusterfsV3`] | `auth_glusterfs_params_v3` (flavour 390040) | glusterfs4-xdr.x; rpc/rpc-lib/src/rpc-clnt.c |
//! | [`procs`] | program, version and procedure numbers | rpc/rpc-lib/src/protocol-common.h, xdr-common.h |
//! | [`consts`] | `GF_O_*` + `gf_flags_from_flags`, `GF_LK_*`, `ENTRYLK_*`, `GF_SET_ATTR_*`, `GF_XATTROP_*`, upcall flags | glusterfs3.h, libglusterfs/src/glusterfs/glusterfs-fops.h, xlator.h, upcall-utils.h |
//! | [`Errno`], [`OpStatus`] | `op_ret`/`op_errno` (Linux errnos; `gf_error_to_errno` is the identity on Linux) | libglusterfs/src/compat-errno.c |
//!
//! # Sending a call and reading its reply
//!
//! Every request type implements [`Call`] (program, version, procedure, reply type) and [`Body`].
//! A call record is an RPC `CallHeader` (from `xdr::rpc`), the XDR arguments
//! ([`Body::encode_xdr`]) and, for a WRITE, the data ([`Body::payload`]) appended raw (no length,
//! no padding). [`encode_call`] builds the first two and hands back the payload so a transport
//! can write it without copying. A reply record is a `ReplyHeader` and the body, READ data
//! included: [`decode_reply`] (or `<Req as Call>::Reply::decode_body(rest_after_header)`).
//! [`OpStatus::status`] / [`OpStatus::into_result`] turn `op_ret`/`op_errno` into
//! `Result<_, Errno>`.
//!
//! ```
//! use bytes::Bytes;
//! use proto::fops::{LookupReq, LookupRsp};
//! use proto::{auth::AuthGlusterfsV3, Body, Call, Dict, DictValue, Gfid, OpStatus};
//!
//! let req = LookupReq {
//!     pargfid: Gfid::ROOT,
//!     bname: Bytes::from_static(b"dir"),
//!     xdata: Some(Dict::new().with("gfid-req", DictValue::Gfuuid(Gfid::from_random_bytes([7; 16])))),
//!     ..Default::default()
//! };
//! let cred = AuthGlusterfsV3 { pid: 42, lk_owner: AuthGlusterfsV3::pid_lk_owner(42), ..Default::default() };
//! let (head, payload) = proto::encode_call(1, cred.to_auth(), &req);
//! assert!(payload.is_none() && head.len() > 100);
//! // ... send `head` as one record, read the reply record into `record`, then:
//! # let mut e = xdr::Encoder::new();
//! # xdr::rpc::ReplyHeader::encode_success(1, &mut e);
//! # LookupRsp { op_ret: -1, op_errno: 2, ..Default::default() }.encode_xdr(&mut e);
//! # let record = e.freeze();
//! let (xid, reply): (u32, <LookupReq as Call>::Reply) = proto::decode_reply(record).unwrap();
//! assert_eq!((xid, reply.status()), (1, Err(proto::Errno::ENOENT)));
//! ```
//!
//! Callbacks (server-to-client calls on a brick connection): [`decode_call`], then
//! [`callback::Callback::decode`] with the header's procedure number.

pub mod auth;
pub mod callback;
pub mod consts;
pub mod dict;
mod errno;
mod flock;
pub mod fops;
mod gfid;
pub mod handshake;
mod iatt;
pub mod procs;
mod record;
mod wire;

pub use dict::{Dict, DictValue};
pub use errno::Errno;
pub use flock::Flock;
pub use gfid::Gfid;
pub use iatt::{iatt_flags, mode, GfIatt, IaType, Iatt, MdataIatt, Statfs, IATTX_XDR_SIZE};
pub use record::{decode_call, decode_reply, encode_call};
pub use wire::{Body, Call, OpStatus, MAX_DIRENTS, MAX_FIELD, MAX_LK_OWNER, MAX_PROGS, MAX_SPEC};

use xdr::rpc::RpcReject;
use xdr::XdrError;

/// Everything that can go wrong turning bytes into messages.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtoError {
    /// Malformed, truncated or oversized XDR (including limits on counts and lengths).
    #[error(transparent)]
    Xdr(#[from] XdrError),
    /// The server did not run the call (RPC-level rejection, from the reply header).
    #[error("RPC call rejected: {0}")]
    Rpc(#[from] RpcReject),
    #[error("invalid GFID {0:?}")]
    BadGfid(String),
}

pub type Result<T> = std::result::Result<T, ProtoError>;
