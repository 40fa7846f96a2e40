//! Internal plumbing: the field trait the message macro uses, the decoding limits, and the
//! [`Body`] / [`Call`] / [`OpStatus`] traits every message implements.

use bytes::{Bytes, BytesMut};
use xdr::{Decoder, Encoder, XdrDecode, XdrEncode, XdrError};

use crate::{Errno, ProtoError};

/// Longest `string<>`/`opaque<>` accepted in an ordinary message field (file names, symlink
/// targets, xattr names, lock domains, brick paths): far above PATH_MAX, far below anything absurd.
pub const MAX_FIELD: usize = 64 * 1024;
/// Longest lock owner (`GF_MAX_LOCK_OWNER_LEN`, libglusterfs/src/glusterfs/glusterfs-fops.h).
pub const MAX_LK_OWNER: usize = 1024;
/// Longest volfile accepted in a GETSPEC reply.
pub const MAX_SPEC: usize = 64 * 1024 * 1024;
/// Most directory entries accepted in one READDIR/READDIRP reply.
pub const MAX_DIRENTS: usize = 1 << 16;
/// Most programs accepted in one DUMP reply.
pub const MAX_PROGS: usize = 256;

/// A message body: the XDR-encoded structure plus, for WRITE calls and READ replies, the raw data
/// that follows it in the same RPC record (no length prefix, no padding).
pub trait Body: Sized {
    /// Append the XDR part (never the payload).
    fn encode_xdr(&self, e: &mut Encoder);

    /// The raw bytes that follow the XDR part, if this message carries any. A transport should
    /// write them after [`Body::encode_xdr`]'s output in the same record, without copying.
    fn payload(&self) -> Option<&Bytes> {
        None
    }

    /// Decode a whole record body (everything after the RPC call or reply header), including the
    /// payload. Bytes beyond what the message defines are an error.
    fn decode_body(body: Bytes) -> Result<Self, ProtoError>;

    /// The XDR part alone.
    fn xdr_bytes(&self) -> Bytes {
        let mut e = Encoder::new();
        self.encode_xdr(&mut e);
        e.freeze()
    }

    /// XDR part followed by the payload, in one buffer (copies the payload).
    fn to_body(&self) -> Bytes {
        let mut e = Encoder::new();
        self.encode_xdr(&mut e);
        let mut b: BytesMut = e.finish();
        if let Some(p) = self.payload() {
            b.extend_from_slice(p);
        }
        b.freeze()
    }
}

/// An RPC call: which program, version and procedure carry it, and what the reply looks like.
pub trait Call: Body {
    const PROGRAM: u32;
    const VERSION: u32;
    const PROC: u32;
    /// Procedure name as GlusterFS spells it (for logs).
    const NAME: &'static str;
    type Reply: Body;
}

/// Replies that carry `op_ret` / `op_errno`.
pub trait OpStatus {
    fn op_ret(&self) -> i32;
    fn op_errno(&self) -> i32;

    /// `Ok(op_ret)` when `op_ret >= 0`, else the errno (see [`Errno::from_wire`]).
    fn status(&self) -> Result<i32, Errno> {
        let ret = self.op_ret();
        if ret < 0 {
            Err(Errno::from_wire(self.op_errno()))
        } else {
            Ok(ret)
        }
    }

    /// The reply itself when it reports success, else its errno.
    fn into_result(self) -> Result<Self, Errno>
    where
        Self: Sized,
    {
        self.status().map(|_| self)
    }
}

/// How one struct member is written and read. Implemented for every member type the messages
/// use, so the `message!` macro can spell a struct once.
pub(crate) trait Field: Sized {
    fn put(&self, e: &mut Encoder);
    fn get(d: &mut Decoder) -> xdr::Result<Self>;
}

macro_rules! via_xdr {
    ($($t:ty),*) => {$(
        impl Field for $t {
            fn put(&self, e: &mut Encoder) {
                XdrEncode::encode(self, e)
            }
            fn get(d: &mut Decoder) -> xdr::Result<Self> {
                <$t as XdrDecode>::decode(d)
            }
        }
    )*};
}
via_xdr!(u32, i32, u64, i64);

/// `opaque<>` / byte-string `string<>` of at most [`MAX_FIELD`] bytes.
impl Field for Bytes {
    fn put(&self, e: &mut Encoder) {
        e.put_opaque(self);
    }
    fn get(d: &mut Decoder) -> xdr::Result<Self> {
        d.get_opaque(MAX_FIELD)
    }
}

/// UTF-8 `string<>` of at most [`MAX_FIELD`] bytes.
impl Field for String {
    fn put(&self, e: &mut Encoder) {
        e.put_string(self);
    }
    fn get(d: &mut Decoder) -> xdr::Result<Self> {
        d.get_string(MAX_FIELD)
    }
}

/// Take every remaining byte of a decoder (a payload after the XDR part).
pub(crate) fn take_rest(d: &mut Decoder) -> Bytes {
    std::mem::replace(d, Decoder::new(Bytes::new())).rest()
}

/// Decode `T` from a whole buffer, rejecting trailing bytes.
pub(crate) fn decode_exact<T: XdrDecode>(b: Bytes) -> Result<T, ProtoError> {
    Ok(T::from_bytes(b)?)
}

pub(crate) fn invalid(what: &'static str) -> XdrError {
    XdrError::Invalid(what)
}

/// Define a plain XDR message: the struct (all members public, `Default`), its [`XdrEncode`] and
/// [`XdrDecode`] in member order, and [`Body`] without payload.
macro_rules! message {
    (
        $(#[$meta:meta])*
        $name:ident { $( $(#[$fmeta:meta])* $field:ident : $ty:ty ),* $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Default)]
        pub struct $name {
            $( $(#[$fmeta])* pub $field: $ty, )*
        }

        impl xdr::XdrEncode for $name {
            #[allow(unused_variables)]
            fn encode(&self, e: &mut xdr::Encoder) {
                $( $crate::wire::Field::put(&self.$field, e); )*
            }
        }

        impl xdr::XdrDecode for $name {
            #[allow(unused_variables)]
            fn decode(d: &mut xdr::Decoder) -> xdr::Result<Self> {
                Ok(Self { $( $field: $crate::wire::Field::get(d)?, )* })
            }
        }

        impl $crate::wire::Field for $name {
            fn put(&self, e: &mut xdr::Encoder) {
                xdr::XdrEncode::encode(self, e)
            }
            fn get(d: &mut xdr::Decoder) -> xdr::Result<Self> {
                <Self as xdr::XdrDecode>::decode(d)
            }
        }

        impl $crate::wire::Body for $name {
            fn encode_xdr(&self, e: &mut xdr::Encoder) {
                xdr::XdrEncode::encode(self, e)
            }
            fn decode_body(body: bytes::Bytes) -> Result<Self, $crate::ProtoError> {
                $crate::wire::decode_exact(body)
            }
        }
    };
}
pub(crate) use message;

/// Implement [`OpStatus`] for structs with `op_ret` and `op_errno` members.
macro_rules! op_status {
    ($($t:ty),* $(,)?) => {$(
        impl $crate::wire::OpStatus for $t {
            fn op_ret(&self) -> i32 { self.op_ret }
            fn op_errno(&self) -> i32 { self.op_errno }
        }
    )*};
}
pub(crate) use op_status;

/// Implement [`Call`].
macro_rules! call {
    ($req:ty, $prog:expr, $vers:expr, $proc:expr, $name:expr, $reply:ty) => {
        impl $crate::wire::Call for $req {
            const PROGRAM: u32 = $prog;
            const VERSION: u32 = $vers;
            const PROC: u32 = $proc;
            const NAME: &'static str = $name;
            type Reply = $reply;
        }
    };
}
pub(crate) use call;
