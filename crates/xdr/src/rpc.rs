//! ONC RPC v2 messages (RFC 5531) as GlusterFS uses them, record marking (RFC 5531 §11), and the
//! AUTH_GLUSTERFS_v2 credential (rpc/xdr/src/rpc-common-xdr.x `auth_glusterfs_parms_v2`,
//! flavour number from rpc/rpc-lib/src/xdr-rpc.h).

use bytes::Bytes;

use crate::{Decoder, Encoder, Result, XdrDecode, XdrEncode, XdrError};

pub const RPC_VERSION: u32 = 2;
pub const MSG_CALL: u32 = 0;
pub const MSG_REPLY: u32 = 1;

pub const AUTH_NULL: u32 = 0;
pub const AUTH_GLUSTERFS_V2: u32 = 390039;

/// Largest credential or verifier body RFC 5531 allows.
pub const MAX_AUTH_BYTES: usize = 400;
/// Record-marking header bit that says "last fragment".
pub const LAST_FRAGMENT: u32 = 0x8000_0000;

/// Encode a record-marking header for one single-fragment record of `len` bytes.
pub fn record_header(len: usize) -> [u8; 4] {
    (LAST_FRAGMENT | (len as u32 & !LAST_FRAGMENT)).to_be_bytes()
}

/// Decode a record-marking header: (is_last_fragment, fragment_length).
pub fn parse_record_header(h: [u8; 4]) -> (bool, usize) {
    let v = u32::from_be_bytes(h);
    (v & LAST_FRAGMENT != 0, (v & !LAST_FRAGMENT) as usize)
}

/// `opaque_auth`: a flavour and its body.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OpaqueAuth {
    pub flavor: u32,
    pub body: Bytes,
}

impl XdrEncode for OpaqueAuth {
    fn encode(&self, e: &mut Encoder) {
        e.put_u32(self.flavor);
        e.put_opaque(&self.body);
    }
}

impl XdrDecode for OpaqueAuth {
    fn decode(d: &mut Decoder) -> Result<Self> {
        Ok(Self {
            flavor: d.get_u32()?,
            body: d.get_opaque(MAX_AUTH_BYTES)?,
        })
    }
}

/// The caller's identity that GlusterFS servers use for permission checks and lock ownership.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AuthGlusterfsV2 {
    pub pid: i32,
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<u32>,
    pub lk_owner: Bytes,
}

impl AuthGlusterfsV2 {
    /// The `opaque_auth` carrying these credentials.
    pub fn to_auth(&self) -> OpaqueAuth {
        OpaqueAuth {
            flavor: AUTH_GLUSTERFS_V2,
            body: self.to_bytes(),
        }
    }
}

impl XdrEncode for AuthGlusterfsV2 {
    fn encode(&self, e: &mut Encoder) {
        e.put_i32(self.pid);
        e.put_u32(self.uid);
        e.put_u32(self.gid);
        // xdr-common.h: groups and lock owner share the 400-byte credential: 95 words in all.
        let lk = &self.lk_owner[..self.lk_owner.len().min(64)];
        let max_groups = 95usize.saturating_sub(pad4_words(lk.len()));
        let groups = &self.groups[..self.groups.len().min(max_groups)];
        e.put_u32(groups.len() as u32);
        for g in groups {
            e.put_u32(*g);
        }
        e.put_opaque(lk);
    }
}

fn pad4_words(n: usize) -> usize {
    crate::pad4(n) / 4
}

impl XdrDecode for AuthGlusterfsV2 {
    fn decode(d: &mut Decoder) -> Result<Self> {
        let pid = d.get_i32()?;
        let uid = d.get_u32()?;
        let gid = d.get_u32()?;
        let n = d.get_count(100, 4)?;
        let mut groups = Vec::with_capacity(n);
        for _ in 0..n {
            groups.push(d.get_u32()?);
        }
        let lk_owner = d.get_opaque(MAX_AUTH_BYTES)?;
        Ok(Self {
            pid,
            uid,
            gid,
            groups,
            lk_owner,
        })
    }
}

/// The header of an RPC call; the procedure's arguments follow it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallHeader {
    pub xid: u32,
    pub prog: u32,
    pub vers: u32,
    pub proc_num: u32,
    pub cred: OpaqueAuth,
    pub verf: OpaqueAuth,
}

impl XdrEncode for CallHeader {
    fn encode(&self, e: &mut Encoder) {
        e.put_u32(self.xid);
        e.put_u32(MSG_CALL);
        e.put_u32(RPC_VERSION);
        e.put_u32(self.prog);
        e.put_u32(self.vers);
        e.put_u32(self.proc_num);
        e.put(&self.cred);
        e.put(&self.verf);
    }
}

impl XdrDecode for CallHeader {
    fn decode(d: &mut Decoder) -> Result<Self> {
        let xid = d.get_u32()?;
        if d.get_u32()? != MSG_CALL {
            return Err(XdrError::Invalid("not an RPC call"));
        }
        if d.get_u32()? != RPC_VERSION {
            return Err(XdrError::Invalid("RPC version is not 2"));
        }
        Ok(Self {
            xid,
            prog: d.get_u32()?,
            vers: d.get_u32()?,
            proc_num: d.get_u32()?,
            cred: d.get()?,
            verf: d.get()?,
        })
    }
}

/// Why a server did not run a call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RpcReject {
    #[error("program unavailable")]
    ProgUnavail,
    #[error("program version mismatch (server supports {low}..={high})")]
    ProgMismatch { low: u32, high: u32 },
    #[error("procedure unavailable")]
    ProcUnavail,
    #[error("server could not decode the arguments")]
    GarbageArgs,
    #[error("server system error")]
    SystemErr,
    #[error("RPC version mismatch (server supports {low}..={high})")]
    RpcMismatch { low: u32, high: u32 },
    #[error("authentication error {0}")]
    AuthError(u32),
}

/// A decoded reply header. `Ok` replies carry the procedure's result after the header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyHeader {
    pub xid: u32,
    pub status: std::result::Result<(), RpcReject>,
}

impl ReplyHeader {
    /// Only the xid, for routing a message before decoding the rest: (xid, is_reply).
    pub fn peek(b: &[u8]) -> Option<(u32, bool)> {
        if b.len() < 8 {
            return None;
        }
        let xid = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
        let ty = u32::from_be_bytes([b[4], b[5], b[6], b[7]]);
        Some((xid, ty == MSG_REPLY))
    }
}

impl XdrDecode for ReplyHeader {
    fn decode(d: &mut Decoder) -> Result<Self> {
        let xid = d.get_u32()?;
        if d.get_u32()? != MSG_REPLY {
            return Err(XdrError::Invalid("not an RPC reply"));
        }
        let status = match d.get_u32()? {
            0 => {
                let _verf: OpaqueAuth = d.get()?;
                match d.get_u32()? {
                    0 => Ok(()),
                    1 => Err(RpcReject::ProgUnavail),
                    2 => Err(RpcReject::ProgMismatch {
                        low: d.get_u32()?,
                        high: d.get_u32()?,
                    }),
                    3 => Err(RpcReject::ProcUnavail),
                    4 => Err(RpcReject::GarbageArgs),
                    5 => Err(RpcReject::SystemErr),
                    _ => return Err(XdrError::Invalid("unknown accept_stat")),
                }
            }
            1 => match d.get_u32()? {
                0 => Err(RpcReject::RpcMismatch {
                    low: d.get_u32()?,
                    high: d.get_u32()?,
                }),
                1 => Err(RpcReject::AuthError(d.get_u32()?)),
                _ => return Err(XdrError::Invalid("unknown reject_stat")),
            },
            _ => return Err(XdrError::Invalid("unknown reply_stat")),
        };
        Ok(Self { xid, status })
    }
}

impl ReplyHeader {
    /// Encode an accepted-success reply header (used by tests and by servers built on this crate).
    pub fn encode_success(xid: u32, e: &mut Encoder) {
        e.put_u32(xid);
        e.put_u32(MSG_REPLY);
        e.put_u32(0);
        e.put(&OpaqueAuth::default());
        e.put_u32(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn call_roundtrip() {
        let auth = AuthGlusterfsV2 {
            pid: 42,
            uid: 0,
            gid: 0,
            groups: vec![1, 2],
            lk_owner: Bytes::from_static(&[7; 8]),
        };
        let h = CallHeader {
            xid: 9,
            prog: 1298437,
            vers: 400,
            proc_num: 27,
            cred: auth.to_auth(),
            verf: OpaqueAuth::default(),
        };
        let b = h.to_bytes();
        assert_eq!(CallHeader::from_bytes(b.clone()).unwrap(), h);
        assert_eq!(ReplyHeader::peek(&b), Some((9, false)));
        assert_eq!(AuthGlusterfsV2::from_bytes(h.cred.body).unwrap(), auth);
    }

    #[test]
    fn reply_success() {
        let mut e = Encoder::new();
        ReplyHeader::encode_success(5, &mut e);
        e.put_u32(0xabcd);
        let mut d = Decoder::new(e.freeze());
        let h: ReplyHeader = d.get().unwrap();
        assert_eq!(h.xid, 5);
        assert!(h.status.is_ok());
        assert_eq!(d.get_u32().unwrap(), 0xabcd);
    }

    #[test]
    fn record_marking() {
        assert_eq!(parse_record_header(record_header(1234)), (true, 1234));
        assert_eq!(parse_record_header([0, 0, 0, 8]), (false, 8));
    }

    proptest! {
        #[test]
        fn reply_garbage_never_panics(data in proptest::collection::vec(any::<u8>(), 0..80)) {
            let _ = ReplyHeader::from_bytes(Bytes::from(data.clone()));
            let _ = CallHeader::from_bytes(Bytes::from(data));
        }
    }
}
