use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::{pad4, Result, XdrError};

/// Appends XDR items to a growable buffer.
#[derive(Debug, Default)]
pub struct Encoder {
    buf: BytesMut,
}

impl Encoder {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_capacity(n: usize) -> Self {
        Self {
            buf: BytesMut::with_capacity(n),
        }
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    pub fn put_u32(&mut self, v: u32) {
        self.buf.put_u32(v);
    }

    pub fn put_i32(&mut self, v: i32) {
        self.buf.put_i32(v);
    }

    pub fn put_u64(&mut self, v: u64) {
        self.buf.put_u64(v);
    }

    pub fn put_i64(&mut self, v: i64) {
        self.buf.put_i64(v);
    }

    pub fn put_bool(&mut self, v: bool) {
        self.buf.put_u32(u32::from(v));
    }

    /// Fixed-length opaque (`opaque x[N]`): the bytes, then zero padding to 4.
    pub fn put_fixed(&mut self, data: &[u8]) {
        self.buf.put_slice(data);
        self.buf.put_bytes(0, pad4(data.len()) - data.len());
    }

    /// Variable-length opaque (`opaque x<>`): length, bytes, padding.
    pub fn put_opaque(&mut self, data: &[u8]) {
        // Lengths above u32::MAX cannot be represented; callers never build such payloads.
        self.put_u32(data.len() as u32);
        self.put_fixed(data);
    }

    /// `string x<>`.
    pub fn put_string(&mut self, s: &str) {
        self.put_opaque(s.as_bytes());
    }

    /// Encode anything that implements [`XdrEncode`].
    pub fn put<T: XdrEncode + ?Sized>(&mut self, v: &T) {
        v.encode(self);
    }

    /// Raw bytes, no length and no padding (for pre-encoded parts).
    pub fn put_raw(&mut self, data: &[u8]) {
        self.buf.put_slice(data);
    }

    pub fn finish(self) -> BytesMut {
        self.buf
    }

    pub fn freeze(self) -> Bytes {
        self.buf.freeze()
    }
}

/// Reads XDR items from a shared buffer; opaque payloads are zero-copy slices of it.
#[derive(Debug, Clone)]
pub struct Decoder {
    buf: Bytes,
}

impl Decoder {
    pub fn new(buf: Bytes) -> Self {
        Self { buf }
    }

    pub fn remaining(&self) -> usize {
        self.buf.len()
    }

    /// The undecoded rest (for example a payload that follows a reply structure).
    pub fn rest(self) -> Bytes {
        self.buf
    }

    fn need(&self, n: usize) -> Result<()> {
        if self.buf.len() < n {
            Err(XdrError::Truncated {
                need: n,
                have: self.buf.len(),
            })
        } else {
            Ok(())
        }
    }

    pub fn get_u32(&mut self) -> Result<u32> {
        self.need(4)?;
        Ok(self.buf.get_u32())
    }

    pub fn get_i32(&mut self) -> Result<i32> {
        self.need(4)?;
        Ok(self.buf.get_i32())
    }

    pub fn get_u64(&mut self) -> Result<u64> {
        self.need(8)?;
        Ok(self.buf.get_u64())
    }

    pub fn get_i64(&mut self) -> Result<i64> {
        self.need(8)?;
        Ok(self.buf.get_i64())
    }

    pub fn get_bool(&mut self) -> Result<bool> {
        match self.get_u32()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(XdrError::Invalid("boolean not 0 or 1")),
        }
    }

    /// Fixed-length opaque of `n` bytes (plus padding).
    pub fn get_fixed(&mut self, n: usize) -> Result<Bytes> {
        let padded = pad4(n);
        self.need(padded)?;
        let out = self.buf.split_to(n);
        self.buf.advance(padded - n);
        Ok(out)
    }

    /// Fixed-length opaque into an array, e.g. a 16-byte GFID.
    pub fn get_array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let b = self.get_fixed(N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(&b);
        Ok(out)
    }

    /// Variable-length opaque, at most `max` bytes; checked before anything is allocated.
    pub fn get_opaque(&mut self, max: usize) -> Result<Bytes> {
        let len = self.get_u32()? as usize;
        if len > max {
            return Err(XdrError::TooLong { len, max });
        }
        self.get_fixed(len)
    }

    /// `string<>` of at most `max` bytes, UTF-8.
    pub fn get_string(&mut self, max: usize) -> Result<String> {
        let b = self.get_opaque(max)?;
        String::from_utf8(b.to_vec()).map_err(|_| XdrError::BadUtf8)
    }

    /// `string<>` as raw bytes (file names need not be UTF-8).
    pub fn get_string_bytes(&mut self, max: usize) -> Result<Bytes> {
        self.get_opaque(max)
    }

    /// A count for an array whose elements take at least `min_elem` bytes each: rejects counts that
    /// could not fit in what remains, so a `Vec::with_capacity(count)` is safe.
    pub fn get_count(&mut self, max: usize, min_elem: usize) -> Result<usize> {
        let n = self.get_u32()? as usize;
        if n > max {
            return Err(XdrError::TooLong { len: n, max });
        }
        if n.saturating_mul(min_elem.max(1)) > self.buf.len() {
            return Err(XdrError::Truncated {
                need: n.saturating_mul(min_elem.max(1)),
                have: self.buf.len(),
            });
        }
        Ok(n)
    }

    /// Decode anything that implements [`XdrDecode`].
    pub fn get<T: XdrDecode>(&mut self) -> Result<T> {
        T::decode(self)
    }

    /// Fail if bytes remain.
    pub fn finish(self) -> Result<()> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(XdrError::Trailing(self.buf.len()))
        }
    }
}

pub trait XdrEncode {
    fn encode(&self, enc: &mut Encoder);

    fn to_bytes(&self) -> Bytes {
        let mut e = Encoder::new();
        self.encode(&mut e);
        e.freeze()
    }
}

pub trait XdrDecode: Sized {
    fn decode(dec: &mut Decoder) -> Result<Self>;

    /// Decode a whole buffer, rejecting trailing bytes.
    fn from_bytes(b: Bytes) -> Result<Self> {
        let mut d = Decoder::new(b);
        let v = Self::decode(&mut d)?;
        d.finish()?;
        Ok(v)
    }
}

/// Both directions.
pub trait Xdr: XdrEncode + XdrDecode {}
impl<T: XdrEncode + XdrDecode> Xdr for T {}

macro_rules! prim {
    ($t:ty, $put:ident, $get:ident) => {
        impl XdrEncode for $t {
            fn encode(&self, enc: &mut Encoder) {
                enc.$put(*self);
            }
        }
        impl XdrDecode for $t {
            fn decode(dec: &mut Decoder) -> Result<Self> {
                dec.$get()
            }
        }
    };
}
prim!(u32, put_u32, get_u32);
prim!(i32, put_i32, get_i32);
prim!(u64, put_u64, get_u64);
prim!(i64, put_i64, get_i64);
prim!(bool, put_bool, get_bool);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn opaque_padding() {
        let mut e = Encoder::new();
        e.put_opaque(b"abcde");
        let b = e.freeze();
        assert_eq!(&b[..], b"\0\0\0\x05abcde\0\0\0");
        let mut d = Decoder::new(b);
        assert_eq!(&d.get_opaque(16).unwrap()[..], b"abcde");
        d.finish().unwrap();
    }

    #[test]
    fn oversized_length_rejected_before_allocation() {
        let mut d = Decoder::new(Bytes::from_static(b"\xff\xff\xff\xf0abcd"));
        assert!(matches!(
            d.get_opaque(1 << 20),
            Err(XdrError::TooLong { .. })
        ));
        let mut d = Decoder::new(Bytes::from_static(b"\0\0\0\x10abcd"));
        assert!(matches!(
            d.get_opaque(1 << 20),
            Err(XdrError::Truncated { .. })
        ));
        let mut d = Decoder::new(Bytes::from_static(b"\0\x10\0\0"));
        assert!(d.get_count(1 << 30, 4).is_err());
    }

    proptest! {
        #[test]
        fn roundtrip(a in any::<u32>(), b in any::<i64>(), s in proptest::collection::vec(any::<u8>(), 0..100)) {
            let mut e = Encoder::new();
            e.put_u32(a); e.put_i64(b); e.put_opaque(&s);
            let enc = e.freeze();
            prop_assert_eq!(enc.len() % 4, 0);
            let mut d = Decoder::new(enc);
            prop_assert_eq!(d.get_u32().unwrap(), a);
            prop_assert_eq!(d.get_i64().unwrap(), b);
            prop_assert_eq!(&d.get_opaque(100).unwrap()[..], &s[..]);
            d.finish().unwrap();
        }

        #[test]
        fn garbage_never_panics(data in proptest::collection::vec(any::<u8>(), 0..64)) {
            let mut d = Decoder::new(Bytes::from(data));
            let _ = d.get_u32();
            let _ = d.get_opaque(1024);
            let _ = d.get_string(1024);
            let _ = d.get_count(1000, 8);
        }
    }
}
