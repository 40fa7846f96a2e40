//! `auth_glusterfs_params_v3` (rpc/xdr/src/glusterfs4-xdr.x), the credential the C client uses
//! once it has selected the 4.x fop program (`select_server_supported_programs` sets
//! `AUTH_GLUSTERFS_v3`, flavour 390040 from rpc/rpc-lib/src/xdr-rpc.h; filled by
//! `setup_glusterfs_auth_param_v3` in rpc/rpc-lib/src/rpc-clnt.c). The v2 credential lives in
//! the `xdr` crate.

use bytes::Bytes;
use xdr::rpc::{OpaqueAuth, MAX_AUTH_BYTES};
use xdr::{pad4, Decoder, Encoder, XdrDecode, XdrEncode};

pub const AUTH_GLUSTERFS_V3: u32 = 390040;

/// Bytes of a v3 credential before the groups and lock owner words (9 XDR units incl. lengths).
const FIXED_BYTES: usize = 36;

/// The caller's identity and lock owner for one call.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AuthGlusterfsV3 {
    pub pid: i32,
    pub uid: u32,
    pub gid: u32,
    /// Bit 0x1: internal client (GlusterFS's own daemons). Other bits reserved.
    pub flags: u32,
    /// Birth time of the call.
    pub ctime_nsec: u32,
    pub ctime_sec: u64,
    pub groups: Vec<u32>,
    /// Lock owner. When a call has none, the C client sends the 4 little-endian bytes of `pid`.
    pub lk_owner: Bytes,
}

impl AuthGlusterfsV3 {
    /// The `opaque_auth` carrying these credentials.
    pub fn to_auth(&self) -> OpaqueAuth {
        OpaqueAuth {
            flavor: AUTH_GLUSTERFS_V3,
            body: self.to_bytes(),
        }
    }

    /// The lock owner the C client uses when the frame has none (`xdr_serialize_glusterfs_auth`,
    /// rpc/rpc-lib/src/rpc-clnt.c):
    /// the pid's 4 bytes, least significant first.
    pub fn pid_lk_owner(pid: i32) -> Bytes {
        Bytes::copy_from_slice(&pid.to_le_bytes())
    }
}

impl XdrEncode for AuthGlusterfsV3 {
    /// Groups are truncated so the whole credential fits RFC 5531's 400 bytes
    /// (`GF_AUTH_GLUSTERFS_MAX_GROUPS`, rpc/rpc-lib/src/xdr-common.h); a lock owner too big to fit
    /// at all is cut (the C client fails the call instead).
    fn encode(&self, e: &mut Encoder) {
        e.put_i32(self.pid);
        e.put_u32(self.uid);
        e.put_u32(self.gid);
        e.put_u32(self.flags);
        e.put_u32(self.ctime_nsec);
        e.put_u64(self.ctime_sec);
        let room = MAX_AUTH_BYTES - FIXED_BYTES;
        let lk = &self.lk_owner[..self.lk_owner.len().min(room)];
        let max_groups = (room - pad4(lk.len())) / 4;
        let groups = &self.groups[..self.groups.len().min(max_groups)];
        e.put_u32(groups.len() as u32);
        for g in groups {
            e.put_u32(*g);
        }
        e.put_opaque(lk);
    }
}

impl XdrDecode for AuthGlusterfsV3 {
    fn decode(d: &mut Decoder) -> xdr::Result<Self> {
        let pid = d.get_i32()?;
        let uid = d.get_u32()?;
        let gid = d.get_u32()?;
        let flags = d.get_u32()?;
        let ctime_nsec = d.get_u32()?;
        let ctime_sec = d.get_u64()?;
        let n = d.get_count(MAX_AUTH_BYTES / 4, 4)?;
        let mut groups = Vec::with_capacity(n);
        for _ in 0..n {
            groups.push(d.get_u32()?);
        }
        let lk_owner = d.get_opaque(MAX_AUTH_BYTES)?;
        Ok(AuthGlusterfsV3 {
            pid,
            uid,
            gid,
            flags,
            ctime_nsec,
            ctime_sec,
            groups,
            lk_owner,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn captured_credential() {
        // The credential of an FXATTROP call in the reference capture.
        let hex = "000068100000000000000000000000031c72be29000000006b06ca8c000000000000000838e00008f87f0000";
        let raw: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect();
        let a = AuthGlusterfsV3::from_bytes(Bytes::from(raw.clone())).unwrap();
        assert_eq!((a.pid, a.uid, a.gid, a.flags), (0x6810, 0, 0, 3));
        assert_eq!((a.ctime_sec, a.ctime_nsec), (0x6b06ca8c, 0x1c72be29));
        assert_eq!(a.lk_owner.len(), 8);
        assert_eq!(&a.to_bytes()[..], &raw[..]);
        assert_eq!(a.to_auth().flavor, AUTH_GLUSTERFS_V3);
        assert_eq!(
            &AuthGlusterfsV3::pid_lk_owner(0x6810)[..],
            &[0x10, 0x68, 0, 0]
        );
    }

    proptest! {
        #[test]
        fn fits_and_roundtrips(groups in proptest::collection::vec(any::<u32>(), 0..200),
                               lk in proptest::collection::vec(any::<u8>(), 0..100)) {
            let a = AuthGlusterfsV3 { groups, lk_owner: Bytes::from(lk), ..Default::default() };
            let b = a.to_bytes();
            prop_assert!(b.len() <= MAX_AUTH_BYTES);
            let back = AuthGlusterfsV3::from_bytes(b).unwrap();
            prop_assert_eq!(&back.lk_owner, &a.lk_owner);
            prop_assert_eq!(&back.groups[..], &a.groups[..back.groups.len()]);
        }
    }
}
