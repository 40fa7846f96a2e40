//! GlusterFS file identifiers: 16-byte UUIDs (`opaque gfid[16]` in rpc/xdr/src/glusterfs4-xdr.x).

use std::fmt;
use std::str::FromStr;

use xdr::{Decoder, Encoder, XdrDecode, XdrEncode};

use crate::ProtoError;

/// A GFID. Text form is the usual hyphenated lower-case UUID (`uuid_utoa`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Gfid(pub [u8; 16]);

impl Gfid {
    /// All zeroes: "no GFID" (the C code's `gf_uuid_is_null`).
    pub const NULL: Gfid = Gfid([0; 16]);
    /// The volume root, `00000000-0000-0000-0000-000000000001`.
    pub const ROOT: Gfid = Gfid([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);

    /// From a slice that must be exactly 16 bytes long.
    pub fn from_slice(b: &[u8]) -> Option<Self> {
        <[u8; 16]>::try_from(b).ok().map(Gfid)
    }

    /// A version-4 (random) UUID built from caller-supplied random bytes: the version and variant
    /// bits are set as RFC 4122 requires, like `gf_uuid_generate` (libuuid) does.
    pub fn from_random_bytes(mut b: [u8; 16]) -> Self {
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        Gfid(b)
    }

    pub const fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    pub fn is_null(&self) -> bool {
        self.0 == [0; 16]
    }

    pub fn is_root(&self) -> bool {
        *self == Self::ROOT
    }
}

impl fmt::Display for Gfid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, b) in self.0.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                f.write_str("-")?;
            }
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Gfid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Gfid({self})")
    }
}

impl FromStr for Gfid {
    type Err = ProtoError;

    /// Accepts the hyphenated 36-character form (hyphens after hex digits 8, 12, 16 and 20) or 32
    /// bare hex digits, either case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || ProtoError::BadGfid(s.chars().take(64).collect());
        let b = s.as_bytes();
        let hyphenated = match b.len() {
            36 => true,
            32 => false,
            _ => return Err(bad()),
        };
        if hyphenated && [8, 13, 18, 23].iter().any(|&i| b.get(i) != Some(&b'-')) {
            return Err(bad());
        }
        let mut digits = b.iter().filter(|&&c| !(hyphenated && c == b'-'));
        let mut out = [0u8; 16];
        for o in out.iter_mut() {
            let hi = digits.next().and_then(|&c| hex_val(c)).ok_or_else(bad)?;
            let lo = digits.next().and_then(|&c| hex_val(c)).ok_or_else(bad)?;
            *o = (hi << 4) | lo;
        }
        if digits.next().is_some() {
            return Err(bad());
        }
        Ok(Gfid(out))
    }
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

impl From<[u8; 16]> for Gfid {
    fn from(b: [u8; 16]) -> Self {
        Gfid(b)
    }
}

impl XdrEncode for Gfid {
    fn encode(&self, e: &mut Encoder) {
        e.put_fixed(&self.0);
    }
}

impl XdrDecode for Gfid {
    fn decode(d: &mut Decoder) -> xdr::Result<Self> {
        Ok(Gfid(d.get_array::<16>()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn text_forms() {
        assert_eq!(
            Gfid::ROOT.to_string(),
            "00000000-0000-0000-0000-000000000001"
        );
        let g: Gfid = "59a4176b-bff4-4687-b281-e29c5a0f5151".parse().unwrap();
        assert_eq!(g.0[0], 0x59);
        assert_eq!(g.0[15], 0x51);
        assert_eq!(g, "59A4176BBFF44687B281E29C5A0F5151".parse().unwrap());
        assert!("59a4176b-bff4-4687-b281-e29c5a0f515"
            .parse::<Gfid>()
            .is_err());
        assert!("59a4176b-bff44-687-b281-e29c5a0f5151"
            .parse::<Gfid>()
            .is_err());
        assert!("59a4176b-bff4-4687-b281-e29c5a0f515g"
            .parse::<Gfid>()
            .is_err());
        assert!("€9a4176b-bff4-4687-b281-e29c5a0f515"
            .parse::<Gfid>()
            .is_err());
        assert!(Gfid::NULL.is_null() && !Gfid::ROOT.is_null() && Gfid::ROOT.is_root());
        let r = Gfid::from_random_bytes([0xff; 16]);
        assert_eq!(r.to_string(), "ffffffff-ffff-4fff-bfff-ffffffffffff");
    }

    #[test]
    fn xdr_roundtrip() {
        let b = XdrEncode::to_bytes(&Gfid::ROOT);
        assert_eq!(&b[..], &Gfid::ROOT.0[..]);
        assert_eq!(<Gfid as XdrDecode>::from_bytes(b).unwrap(), Gfid::ROOT);
    }

    proptest! {
        #[test]
        fn display_parse_roundtrip(b in any::<[u8; 16]>()) {
            let g = Gfid(b);
            prop_assert_eq!(g.to_string().parse::<Gfid>().unwrap(), g);
            prop_assert_eq!(format!("{g:?}"), format!("Gfid({g})"));
        }

        #[test]
        fn parse_garbage_never_panics(s in ".{0,40}") {
            let _ = s.parse::<Gfid>();
        }
    }
}
