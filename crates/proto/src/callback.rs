//! Server-to-client calls of the callback program (`GLUSTER_CBK_PROGRAM` 52743234 v1): bricks
//! send them as RPC *calls* on the client's connection, and the C client does not reply
//! (xlators/protocol/client/src/client-callback.c). Layouts: rpc/xdr/src/glusterfs4-xdr.x; their
//! `xdata` is an old-format serialized dict.

use bytes::Bytes;
use xdr::{Decoder, Encoder, XdrDecode, XdrEncode};

use crate::dict::Dict;
use crate::flock::Flock;
use crate::gfid::Gfid;
use crate::iatt::GfIatt;
use crate::procs::cbk;
use crate::wire::{decode_exact, Body, Field};
use crate::ProtoError;

/// Hand-written message with old-format dict members.
macro_rules! cbk_message {
    (
        $(#[$meta:meta])*
        $name:ident { $( $(#[$fmeta:meta])* $field:ident : $ty:ty ),* $(,)? ; xdata }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Default)]
        pub struct $name {
            $( $(#[$fmeta])* pub $field: $ty, )*
            /// Old-format serialized dict.
            pub xdata: Dict,
        }

        impl XdrEncode for $name {
            fn encode(&self, e: &mut Encoder) {
                $( Field::put(&self.$field, e); )*
                self.xdata.encode_serialized_opaque(e);
            }
        }

        impl XdrDecode for $name {
            fn decode(d: &mut Decoder) -> xdr::Result<Self> {
                Ok(Self {
                    $( $field: Field::get(d)?, )*
                    xdata: Dict::decode_serialized_opaque(d)?,
                })
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

cbk_message! {
    /// `gfs3_cbk_cache_invalidation_req` (GF_CBK_CACHE_INVALIDATION): the upcall translator says
    /// cached state for `gfid` is stale. `flags` are `UP_*` ([`crate::consts::upcall`]).
    CacheInvalidationReq {
        /// The GFID in text form (`uuid_utoa`); see [`CacheInvalidationReq::gfid`].
        gfid_text: String,
        event_type: u32,
        flags: u32,
        expire_time_attr: u32,
        stat: GfIatt,
        parent_stat: GfIatt,
        oldparent_stat: GfIatt;
        xdata
    }
}

impl CacheInvalidationReq {
    pub fn gfid(&self) -> Result<Gfid, ProtoError> {
        self.gfid_text.parse()
    }
}

cbk_message! {
    /// `gfs4_inodelk_contention_req` (GF_CBK_INODELK_CONTENTION): another client waits for an
    /// inode lock this client holds in `domain`.
    InodelkContentionReq {
        gfid: Gfid,
        flock: Flock,
        pid: u32,
        domain: String;
        xdata
    }
}

cbk_message! {
    /// `gfs4_entrylk_contention_req` (GF_CBK_ENTRYLK_CONTENTION).
    EntrylkContentionReq {
        gfid: Gfid,
        lk_type: u32,
        pid: u32,
        name: Bytes,
        domain: String;
        xdata
    }
}

cbk_message! {
    /// `gfs3_recall_lease_req` (GF_CBK_RECALL_LEASE).
    RecallLeaseReq {
        gfid: Gfid,
        lease_type: u32,
        tid: Gfid;
        xdata
    }
}

/// A decoded callback.
#[derive(Debug, Clone, PartialEq)]
pub enum Callback {
    CacheInvalidation(Box<CacheInvalidationReq>),
    InodelkContention(InodelkContentionReq),
    EntrylkContention(EntrylkContentionReq),
    RecallLease(RecallLeaseReq),
    /// The brick's translator stack came up / went down (no arguments).
    ChildUp,
    ChildDown,
    /// Any other procedure (FETCHSPEC, INO_FLUSH, EVENT_NOTIFY, ...), which the C client ignores.
    Other {
        proc_num: u32,
        body: Bytes,
    },
}

impl Callback {
    /// Decode the body of a callback-program call with procedure `proc_num`.
    pub fn decode(proc_num: u32, body: Bytes) -> Result<Callback, ProtoError> {
        Ok(match proc_num {
            cbk::CACHE_INVALIDATION => {
                Callback::CacheInvalidation(Box::new(Body::decode_body(body)?))
            }
            cbk::INODELK_CONTENTION => Callback::InodelkContention(Body::decode_body(body)?),
            cbk::ENTRYLK_CONTENTION => Callback::EntrylkContention(Body::decode_body(body)?),
            cbk::RECALL_LEASE => Callback::RecallLease(Body::decode_body(body)?),
            cbk::CHILD_UP => Callback::ChildUp,
            cbk::CHILD_DOWN => Callback::ChildDown,
            proc_num => Callback::Other { proc_num, body },
        })
    }
}
