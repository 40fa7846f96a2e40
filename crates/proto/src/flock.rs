//! `gf_proto_flock` (rpc/xdr/src/glusterfs4-xdr.x): a POSIX lock description, filled by
//! `gf_proto_flock_from_flock` (rpc/xdr/src/glusterfs3.h).

use bytes::Bytes;
use xdr::{Decoder, Encoder, XdrDecode, XdrEncode};

use crate::wire::{Field, MAX_LK_OWNER};

/// A byte-range lock. `l_type` carries the host's `F_RDLCK`/`F_WRLCK`/`F_UNLCK` value as is (the
/// request's separate `type` member carries `GF_LK_F_*`; on Linux they coincide).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Flock {
    pub l_type: u32,
    pub whence: u32,
    pub start: u64,
    /// 0 means "to the end of the file".
    pub len: u64,
    pub pid: u32,
    /// Lock owner, at most 1024 bytes (`GF_MAX_LOCK_OWNER_LEN`).
    pub owner: Bytes,
}

impl XdrEncode for Flock {
    fn encode(&self, e: &mut Encoder) {
        e.put_u32(self.l_type);
        e.put_u32(self.whence);
        e.put_u64(self.start);
        e.put_u64(self.len);
        e.put_u32(self.pid);
        e.put_opaque(&self.owner);
    }
}

impl XdrDecode for Flock {
    fn decode(d: &mut Decoder) -> xdr::Result<Self> {
        Ok(Flock {
            l_type: d.get_u32()?,
            whence: d.get_u32()?,
            start: d.get_u64()?,
            len: d.get_u64()?,
            pid: d.get_u32()?,
            owner: d.get_opaque(MAX_LK_OWNER)?,
        })
    }
}

impl Field for Flock {
    fn put(&self, e: &mut Encoder) {
        self.encode(e)
    }
    fn get(d: &mut Decoder) -> xdr::Result<Self> {
        Self::decode(d)
    }
}
