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
//! An RPC record is `CallHeader` (from `xdr::rpc`) followed by [`Body::encode_xdr`]'s output and,
//! for a WRITE, [`Body::payload`] appended raw (no length, no padding):
//!
//! ```
//! use proto::{fops::LookupReq, Body, Call, Dict, DictValue, Gfid};
//! use xdr::{rpc::{CallHeader, OpaqueAuth}, Encoder};
//!
//! let req = LookupReq {
//!     pargfid: Gfid::ROOT,
//!     bname: "dir".into(),
//!     xdata: Some(Dict::new().with("gfid-req", DictValue::Gfuuid(Gfid::from_random_bytes([7; 16])))),
//!     ..Default::default()
//! };
//! let mut e = Encoder::new();
//! e.put(&CallHeader {
//!     xid: 1,
//!     prog: LookupReq::PROGRAM,
//!     vers: LookupReq::VERSION,
//!     proc_num: LookupReq::PROC,
//!     cred: OpaqueAuth::default(),
//!     verf: OpaqueAuth::default(),
//! });
//! req.encode_xdr(&mut e);
//! assert!(req.payload().is_none());
//! ```
//!
//! A reply record is `ReplyHeader` followed by the body: decode it with
//! `<Req as Call>::Reply::decode_body(rest)` (the rest of the record after the header, including
//! any READ data), then [`OpStatus::status`] / [`OpStatus::into_result`] turn `op_ret`/`op_errno`
//! into `Result<_, Errno>`. READ data is [`fops::ReadRsp::data`]; WRITE data is
//! [`fops::WriteReq::data`].

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
mod wire;

pub use dict::{Dict, DictValue};
pub use errno::Errno;
pub use flock::Flock;
pub use gfid::Gfid;
pub use iatt::{iatt_flags, mode, GfIatt, IaType, Iatt, MdataIatt, Statfs, IATTX_XDR_SIZE};
pub use wire::{Body, Call, OpStatus, MAX_DIRENTS, MAX_FIELD, MAX_LK_OWNER, MAX_PROGS, MAX_SPEC};

use xdr::XdrError;

/// Everything that can go wrong turning bytes into messages.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtoError {
    /// Malformed, truncated or oversized XDR (including limits on counts and lengths).
    #[error(transparent)]
    Xdr(#[from] XdrError),
    #[error("invalid GFID {0:?}")]
    BadGfid(String),
}

pub type Result<T> = std::result::Result<T, ProtoError>;
