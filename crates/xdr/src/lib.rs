//! XDR (RFC 4506) encoding and decoding, ONC RPC (RFC 5531) call and reply headers, record marking,
//! and GlusterFS's AUTH_GLUSTERFS_v2 credentials.
//!
//! Pure code, no I/O. Every decoder reads from a [`bytes::Bytes`] without copying opaque payloads and
//! checks each length against both the bytes that remain and a caller-given maximum *before*
//! allocating, so a hostile or broken peer gets an error, never a panic or a huge allocation.

mod codec;
pub mod rpc;

pub use codec::{Decoder, Encoder, Xdr, XdrDecode, XdrEncode};

/// A decoding failure. Encoding cannot fail.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XdrError {
    #[error("truncated XDR: needed {need} bytes, {have} left")]
    Truncated { need: usize, have: usize },
    #[error("XDR length {len} exceeds the limit of {max}")]
    TooLong { len: usize, max: usize },
    #[error("invalid XDR: {0}")]
    Invalid(&'static str),
    #[error("XDR string is not UTF-8")]
    BadUtf8,
    #[error("{0} trailing bytes after XDR message")]
    Trailing(usize),
}

pub type Result<T> = std::result::Result<T, XdrError>;

/// Round `n` up to XDR's 4-byte unit.
pub const fn pad4(n: usize) -> usize {
    (n + 3) & !3
}
