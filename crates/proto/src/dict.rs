//! GlusterFS dictionaries (`dict_t`) in their two wire forms.
//!
//! **`gfx_dict`** (rpc/xdr/src/glusterfs4-xdr.x; filled by `dict_to_xdr`, read by `xdr_to_dict`,
//! both in rpc/xdr/src/glusterfs3.h) is what every 4.x fop carries:
//!
//! ```text
//! unsigned int xdr_size;   // encoded size of the pairs array's elements (total - 12)
//! int          count;      // -1 = NULL dict; otherwise the number of pairs
//! gfx_dict_pair pairs<>;   // { opaque key<> (strlen + 1: the NUL is sent); gfx_value value; }
//! ```
//!
//! `gfx_value` is a union on `GF_DATA_TYPE_*` (libglusterfs/src/glusterfs/glusterfs-fops.h). A NULL
//! dict is sent as `0, -1, 0`; a dict that was never filled (request structs are zeroed) as
//! `0, 0, 0`. This crate keeps the distinction: `Option<Dict>` fields, `None` = NULL.
//!
//! **Old serialized format** (`dict_serialize_lk` / `dict_unserialize`, libglusterfs/src/dict.c),
//! used as an `opaque<>` in SETVOLUME, GETSPEC and the callbacks:
//!
//! ```text
//! count:u32be  { keylen:u32be vallen:u32be key[keylen] '\0' value[vallen] }*
//! ```
//!
//! Values lose their types in that format (they come back as `GF_DATA_TYPE_STR_OLD`); integers
//! travel as decimal text with a trailing NUL (`data_from_int64` and friends).
//!
//! Binary xattr values (AFR's `trusted.afr.*` pending counters: 12 bytes, three big-endian u32;
//! DHT's `trusted.glusterfs.dht` layouts: 16 bytes) travel as `GF_DATA_TYPE_PTR` (`other<>`), as
//! the C client's FXATTROP and CREATE calls show on the wire: that is [`DictValue::Bin`].
//!
//! Order: a C dict serializes newest-first; [`Dict`] keeps the order it was decoded or built in,
//! which is the wire order. Decoding keeps duplicate keys as sent; lookups return the last one,
//! which is the value a C dict would hold.

use bytes::{BufMut, Bytes, BytesMut};
use xdr::{pad4, Decoder, Encoder, XdrDecode, XdrEncode, XdrError};

use crate::gfid::Gfid;
use crate::iatt::{Iatt, MdataIatt, IATTX_XDR_SIZE};
use crate::wire::Field;
use crate::ProtoError;

/// Most pairs accepted in one dict (either format).
pub const DICT_MAX_PAIRS: usize = 16 * 1024;
/// Longest key accepted, in bytes, including the NUL the wire carries.
pub const DICT_MAX_KEY: usize = 4096;
/// Longest value accepted, in bytes.
pub const DICT_MAX_VALUE: usize = 16 * 1024 * 1024;

/// Smallest encoded `gfx_dict_pair`: empty key (4) + type (4) + an empty `opaque<>` (4).
const MIN_PAIR_XDR: usize = 12;
/// Smallest old-format pair: two lengths and the key's NUL.
const MIN_PAIR_SERIALIZED: usize = 9;

/// `gf_dict_data_type_t` (libglusterfs/src/glusterfs/glusterfs-fops.h).
pub mod data_type {
    pub const UNKNOWN: i32 = 0;
    pub const STR_OLD: i32 = 1;
    pub const INT: i32 = 2;
    pub const UINT: i32 = 3;
    pub const DOUBLE: i32 = 4;
    pub const STR: i32 = 5;
    pub const PTR: i32 = 6;
    pub const GFUUID: i32 = 7;
    pub const IATT: i32 = 8;
    pub const MDATA: i32 = 9;
}

/// One dict value, by `gfx_value` arm.
#[derive(Debug, Clone, PartialEq)]
pub enum DictValue {
    /// `GF_DATA_TYPE_INT`: `hyper`.
    Int(i64),
    /// `GF_DATA_TYPE_UINT`: `unsigned hyper`.
    Uint(u64),
    /// `GF_DATA_TYPE_DOUBLE`.
    Double(f64),
    /// `GF_DATA_TYPE_STR`: the bytes as sent. Strings a C `dict_set_str` made include their
    /// trailing NUL; [`DictValue::str`] builds one the same way, [`DictValue::as_str`] strips it.
    Str(Bytes),
    /// `GF_DATA_TYPE_IATT`.
    Iatt(Iatt),
    /// `GF_DATA_TYPE_GFUUID`: 16 raw bytes.
    Gfuuid(Gfid),
    /// `GF_DATA_TYPE_PTR`: binary data (`other<>`); what xattr values use.
    Bin(Bytes),
    /// `GF_DATA_TYPE_STR_OLD`: untyped bytes (`other<>`); every value of an old-format dict.
    StrOld(Bytes),
    /// `GF_DATA_TYPE_MDATA`.
    Mdata(MdataIatt),
}

impl DictValue {
    /// A string value as `dict_set_str` stores it: the text plus a trailing NUL.
    pub fn str(s: &str) -> Self {
        let mut b = BytesMut::with_capacity(s.len() + 1);
        b.put_slice(s.as_bytes());
        b.put_u8(0);
        DictValue::Str(b.freeze())
    }

    /// The `GF_DATA_TYPE_*` code this value is sent with.
    pub fn type_code(&self) -> i32 {
        match self {
            DictValue::Int(_) => data_type::INT,
            DictValue::Uint(_) => data_type::UINT,
            DictValue::Double(_) => data_type::DOUBLE,
            DictValue::Str(_) => data_type::STR,
            DictValue::Iatt(_) => data_type::IATT,
            DictValue::Gfuuid(_) => data_type::GFUUID,
            DictValue::Bin(_) => data_type::PTR,
            DictValue::StrOld(_) => data_type::STR_OLD,
            DictValue::Mdata(_) => data_type::MDATA,
        }
    }

    /// Raw bytes of a `Str`, `Bin` or `StrOld` value.
    pub fn as_bytes(&self) -> Option<&Bytes> {
        match self {
            DictValue::Str(b) | DictValue::Bin(b) | DictValue::StrOld(b) => Some(b),
            _ => None,
        }
    }

    /// Text of a `Str`, `Bin` or `StrOld` value, up to its first NUL (C string semantics), if
    /// that is UTF-8.
    pub fn as_str(&self) -> Option<&str> {
        let b = self.as_bytes()?;
        let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
        std::str::from_utf8(&b[..end]).ok()
    }

    /// Integer value: `Int`, `Uint` (if it fits), or text parsed like `strtoll(.., 0)` requiring
    /// the whole string to be a number (as `data_to_int64` does).
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            DictValue::Int(v) => Some(*v),
            DictValue::Uint(v) => i64::try_from(*v).ok(),
            _ => parse_c_int(self.as_str()?).and_then(|v| i64::try_from(v).ok()),
        }
    }

    /// Unsigned value: `Uint`, non-negative `Int`, or decimal/hex/octal text.
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            DictValue::Uint(v) => Some(*v),
            DictValue::Int(v) => u64::try_from(*v).ok(),
            _ => parse_c_int(self.as_str()?).and_then(|v| u64::try_from(v).ok()),
        }
    }

    /// A GFID: a `Gfuuid` value, or exactly 16 raw bytes.
    pub fn as_gfid(&self) -> Option<Gfid> {
        match self {
            DictValue::Gfuuid(g) => Some(*g),
            _ => self.as_bytes().and_then(|b| Gfid::from_slice(b)),
        }
    }

    pub fn as_iatt(&self) -> Option<&Iatt> {
        match self {
            DictValue::Iatt(i) => Some(i),
            _ => None,
        }
    }

    /// Size of the `gfx_value` encoding (type word included).
    fn xdr_size(&self) -> usize {
        4 + match self {
            DictValue::Int(_) | DictValue::Uint(_) | DictValue::Double(_) => 8,
            DictValue::Str(b) | DictValue::Bin(b) | DictValue::StrOld(b) => 4 + pad4(b.len()),
            DictValue::Iatt(_) => IATTX_XDR_SIZE,
            DictValue::Gfuuid(_) => 16,
            DictValue::Mdata(_) => 8 * 3 + 4 * 3,
        }
    }

    fn encode_xdr(&self, e: &mut Encoder) {
        e.put_i32(self.type_code());
        match self {
            DictValue::Int(v) => e.put_i64(*v),
            DictValue::Uint(v) => e.put_u64(*v),
            DictValue::Double(v) => e.put_u64(v.to_bits()),
            DictValue::Str(b) | DictValue::Bin(b) | DictValue::StrOld(b) => e.put_opaque(b),
            DictValue::Iatt(i) => e.put(i),
            DictValue::Gfuuid(g) => e.put(g),
            DictValue::Mdata(m) => e.put(m),
        }
    }

    fn decode_xdr(d: &mut Decoder) -> xdr::Result<Self> {
        Ok(match d.get_i32()? {
            data_type::INT => DictValue::Int(d.get_i64()?),
            data_type::UINT => DictValue::Uint(d.get_u64()?),
            data_type::DOUBLE => DictValue::Double(f64::from_bits(d.get_u64()?)),
            data_type::STR => DictValue::Str(d.get_opaque(DICT_MAX_VALUE)?),
            data_type::IATT => DictValue::Iatt(d.get()?),
            data_type::GFUUID => DictValue::Gfuuid(d.get()?),
            data_type::PTR => DictValue::Bin(d.get_opaque(DICT_MAX_VALUE)?),
            data_type::STR_OLD => DictValue::StrOld(d.get_opaque(DICT_MAX_VALUE)?),
            data_type::MDATA => DictValue::Mdata(d.get()?),
            // The union has no default arm: rpcgen's decoder fails on any other type.
            _ => return Err(XdrError::Invalid("unknown gfx_value type")),
        })
    }

    /// The value bytes the old serialized format carries (`data->data`, `data->len`); `None` for
    /// `Iatt` and `Mdata`, for which C would copy a host-endian struct (no portable encoding).
    fn serialized(&self) -> Option<Bytes> {
        Some(match self {
            DictValue::Int(v) => c_text(v.to_string()),
            DictValue::Uint(v) => c_text(v.to_string()),
            DictValue::Double(v) => c_text(c_double(*v)),
            DictValue::Str(b) | DictValue::Bin(b) | DictValue::StrOld(b) => b.clone(),
            DictValue::Gfuuid(g) => Bytes::copy_from_slice(&g.0),
            DictValue::Iatt(_) | DictValue::Mdata(_) => return None,
        })
    }
}

/// Text plus trailing NUL, as `data_from_int64` and friends store numbers.
fn c_text(s: String) -> Bytes {
    let mut v = s.into_bytes();
    v.push(0);
    Bytes::from(v)
}

/// `printf("%f")`.
fn c_double(v: f64) -> String {
    if v.is_nan() {
        if v.is_sign_negative() { "-nan" } else { "nan" }.to_string()
    } else if v.is_infinite() {
        if v < 0.0 { "-inf" } else { "inf" }.to_string()
    } else {
        format!("{v:.6}")
    }
}

/// `strtoll(s, &end, 0)` that must consume the whole string (leading blanks allowed).
fn parse_c_int(s: &str) -> Option<i128> {
    let s = s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let (neg, s) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let (radix, digits) = if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        (16, h)
    } else if s.len() > 1 && s.starts_with('0') {
        (8, &s[1..])
    } else {
        (10, s)
    };
    if digits.is_empty() || digits.len() > 40 {
        return None;
    }
    let v = i128::from_str_radix(digits, radix).ok()?;
    Some(if neg { -v } else { v })
}

/// An ordered dictionary: string keys, typed values. See the module docs for the formats.
#[derive(Clone, PartialEq, Default)]
pub struct Dict {
    pairs: Vec<(String, DictValue)>,
}

impl std::fmt::Debug for Dict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(self.pairs.iter().map(|(k, v)| (k, v)))
            .finish()
    }
}

impl Dict {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// Pairs in wire order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &DictValue)> {
        self.pairs.iter().map(|(k, v)| (k.as_str(), v))
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.pairs.iter().map(|(k, _)| k.as_str())
    }

    pub fn get(&self, key: &str) -> Option<&DictValue> {
        self.pairs
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// Set `key`: replaces the value in place if the key is present, else appends.
    pub fn insert(&mut self, key: impl Into<String>, value: DictValue) -> Option<DictValue> {
        let key = key.into();
        match self.pairs.iter_mut().rev().find(|(k, _)| *k == key) {
            Some((_, v)) => Some(std::mem::replace(v, value)),
            None => {
                self.pairs.push((key, value));
                None
            }
        }
    }

    /// Remove every pair with this key; returns the value lookups would have returned.
    pub fn remove(&mut self, key: &str) -> Option<DictValue> {
        let mut last = None;
        self.pairs.retain_mut(|(k, v)| {
            if k == key {
                last = Some(std::mem::replace(v, DictValue::Int(0)));
                false
            } else {
                true
            }
        });
        last
    }

    /// Builder form of [`Dict::insert`].
    pub fn with(mut self, key: impl Into<String>, value: DictValue) -> Self {
        self.insert(key, value);
        self
    }

    /// `dict_set_str`: a `Str` value with a trailing NUL.
    pub fn set_str(&mut self, key: impl Into<String>, s: &str) {
        self.insert(key, DictValue::str(s));
    }
    /// `dict_set_int64` (also `int32`, `int16`...): an `Int`.
    pub fn set_i64(&mut self, key: impl Into<String>, v: i64) {
        self.insert(key, DictValue::Int(v));
    }
    /// `dict_set_uint64` / `dict_set_uint32`: a `Uint`.
    pub fn set_u64(&mut self, key: impl Into<String>, v: u64) {
        self.insert(key, DictValue::Uint(v));
    }
    /// `dict_set_bin` / `dict_set_static_bin`: binary data (xattr values).
    pub fn set_bin(&mut self, key: impl Into<String>, v: impl Into<Bytes>) {
        self.insert(key, DictValue::Bin(v.into()));
    }
    /// `dict_set_gfuuid` (e.g. `gfid-req`).
    pub fn set_gfuuid(&mut self, key: impl Into<String>, g: Gfid) {
        self.insert(key, DictValue::Gfuuid(g));
    }

    pub fn get_str(&self, key: &str) -> Option<&str> {
        self.get(key)?.as_str()
    }
    pub fn get_bytes(&self, key: &str) -> Option<&Bytes> {
        self.get(key)?.as_bytes()
    }
    pub fn get_i64(&self, key: &str) -> Option<i64> {
        self.get(key)?.as_i64()
    }
    pub fn get_u64(&self, key: &str) -> Option<u64> {
        self.get(key)?.as_u64()
    }
    pub fn get_gfid(&self, key: &str) -> Option<Gfid> {
        self.get(key)?.as_gfid()
    }
    pub fn get_iatt(&self, key: &str) -> Option<&Iatt> {
        self.get(key)?.as_iatt()
    }

    /// The `xdr_size` member `dict_to_xdr` computes: the encoded size of the pairs' elements.
    pub fn xdr_size(&self) -> usize {
        self.pairs
            .iter()
            .map(|(k, v)| 4 + pad4(k.len() + 1) + v.xdr_size())
            .sum()
    }

    /// Encode as a `gfx_dict`, or as the NULL dict (`0, -1, 0`) when `d` is `None`.
    pub fn encode_xdr_opt(d: Option<&Dict>, e: &mut Encoder) {
        match d {
            None => {
                e.put_u32(0);
                e.put_i32(-1);
                e.put_u32(0);
            }
            Some(d) => d.encode(e),
        }
    }

    /// Decode a `gfx_dict`; `None` for a NULL dict (negative count), like `xdr_to_dict`.
    pub fn decode_xdr_opt(d: &mut Decoder) -> xdr::Result<Option<Dict>> {
        // xdr_size is only a hint for the C RPC layer; xdr_to_dict ignores it and so do we.
        let _xdr_size = d.get_u32()?;
        let count = d.get_i32()?;
        let n = d.get_count(DICT_MAX_PAIRS, MIN_PAIR_XDR)?;
        let mut pairs = Vec::with_capacity(n);
        for _ in 0..n {
            let key = key_from_wire(&d.get_opaque(DICT_MAX_KEY)?)?;
            let value = DictValue::decode_xdr(d)?;
            pairs.push((key, value));
        }
        Ok((count >= 0).then_some(Dict { pairs }))
    }

    /// The old serialized format (`dict_allocate_and_serialize`). `Iatt` and `Mdata` pairs are
    /// left out (that format cannot carry them portably), as `dict_to_xdr` leaves out types it
    /// cannot send.
    pub fn to_serialized(&self) -> Bytes {
        let vals: Vec<(&str, Bytes)> = self
            .pairs
            .iter()
            .filter_map(|(k, v)| Some((k.as_str(), v.serialized()?)))
            .collect();
        let total = 4 + vals
            .iter()
            .map(|(k, v)| 9 + k.len() + v.len())
            .sum::<usize>();
        let mut out = BytesMut::with_capacity(total);
        out.put_u32(vals.len() as u32);
        for (k, v) in &vals {
            out.put_u32(k.len() as u32);
            out.put_u32(v.len() as u32);
            out.put_slice(k.as_bytes());
            out.put_u8(0);
            out.put_slice(v);
        }
        out.freeze()
    }

    /// Parse the old serialized format (`dict_unserialize`). Every value comes back as
    /// [`DictValue::StrOld`], a zero-copy slice of `buf`. Bytes after the last pair are ignored,
    /// as the C code ignores them.
    pub fn from_serialized(buf: Bytes) -> Result<Dict, ProtoError> {
        Ok(Self::parse_serialized(buf)?)
    }

    fn parse_serialized(buf: Bytes) -> xdr::Result<Dict> {
        let short = |need: usize, have: usize| XdrError::Truncated { need, have };
        let word = |at: usize| -> xdr::Result<u32> {
            buf.get(at..at + 4)
                .map(|w| u32::from_be_bytes([w[0], w[1], w[2], w[3]]))
                .ok_or_else(|| short(at + 4, buf.len()))
        };
        let count = word(0)? as usize;
        if count > DICT_MAX_PAIRS {
            return Err(XdrError::TooLong {
                len: count,
                max: DICT_MAX_PAIRS,
            });
        }
        if count.saturating_mul(MIN_PAIR_SERIALIZED) > buf.len() - 4 {
            return Err(short(4 + count * MIN_PAIR_SERIALIZED, buf.len()));
        }
        let mut pairs = Vec::with_capacity(count);
        let mut at = 4;
        for _ in 0..count {
            // dict_unserialize reads both as int32 and rejects negative ones; so do the limits.
            let keylen = word(at)? as usize;
            let vallen = word(at + 4)? as usize;
            at += 8;
            if keylen >= DICT_MAX_KEY {
                return Err(XdrError::TooLong {
                    len: keylen,
                    max: DICT_MAX_KEY - 1,
                });
            }
            if vallen > DICT_MAX_VALUE {
                return Err(XdrError::TooLong {
                    len: vallen,
                    max: DICT_MAX_VALUE,
                });
            }
            let key_end = at + keylen;
            let val_end = key_end + 1 + vallen;
            if val_end > buf.len() {
                return Err(short(val_end, buf.len()));
            }
            let key = key_from_wire(&buf[at..key_end])?;
            pairs.push((key, DictValue::StrOld(buf.slice(key_end + 1..val_end))));
            at = val_end;
        }
        Ok(Dict { pairs })
    }

    /// Encode as an `opaque<>` holding the old serialized format; an empty dict is sent as zero
    /// bytes (what the C code sends when it has no dict).
    pub fn encode_serialized_opaque(&self, e: &mut Encoder) {
        if self.is_empty() {
            e.put_opaque(&[]);
        } else {
            e.put_opaque(&self.to_serialized());
        }
    }

    /// Decode an `opaque<>` holding the old serialized format (zero bytes = empty dict).
    pub fn decode_serialized_opaque(d: &mut Decoder) -> xdr::Result<Dict> {
        let b = d.get_opaque(DICT_MAX_VALUE)?;
        if b.is_empty() {
            Ok(Dict::new())
        } else {
            Self::parse_serialized(b)
        }
    }
}

/// A key as sent: C-string semantics (up to the first NUL), and it must be UTF-8.
fn key_from_wire(b: &[u8]) -> xdr::Result<String> {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8(b[..end].to_vec()).map_err(|_| XdrError::BadUtf8)
}

/// A non-NULL `gfx_dict`. Decoding a NULL dict with this impl yields an empty one; use
/// [`Dict::decode_xdr_opt`] (or an `Option<Dict>` member) to tell them apart.
impl XdrEncode for Dict {
    fn encode(&self, e: &mut Encoder) {
        e.put_u32(self.xdr_size() as u32);
        e.put_i32(self.pairs.len() as i32);
        e.put_u32(self.pairs.len() as u32);
        for (k, v) in &self.pairs {
            e.put_u32(k.len() as u32 + 1);
            let mut key = Vec::with_capacity(k.len() + 1);
            key.extend_from_slice(k.as_bytes());
            key.push(0);
            e.put_fixed(&key);
            v.encode_xdr(e);
        }
    }
}

impl XdrDecode for Dict {
    fn decode(d: &mut Decoder) -> xdr::Result<Self> {
        Ok(Dict::decode_xdr_opt(d)?.unwrap_or_default())
    }
}

impl Field for Option<Dict> {
    fn put(&self, e: &mut Encoder) {
        Dict::encode_xdr_opt(self.as_ref(), e)
    }
    fn get(d: &mut Decoder) -> xdr::Result<Self> {
        Dict::decode_xdr_opt(d)
    }
}

impl FromIterator<(String, DictValue)> for Dict {
    fn from_iter<I: IntoIterator<Item = (String, DictValue)>>(it: I) -> Self {
        let mut d = Dict::new();
        for (k, v) in it {
            d.insert(k, v);
        }
        d
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    fn bytes_of(v: Vec<u8>) -> Bytes {
        Bytes::from(v)
    }

    pub(crate) fn arb_value() -> impl Strategy<Value = DictValue> {
        let blob = proptest::collection::vec(any::<u8>(), 0..40).prop_map(bytes_of);
        prop_oneof![
            any::<i64>().prop_map(DictValue::Int),
            any::<u64>().prop_map(DictValue::Uint),
            (-1e12f64..1e12).prop_map(DictValue::Double),
            "[ -~]{0,20}".prop_map(|s| DictValue::str(&s)),
            blob.clone().prop_map(DictValue::Bin),
            blob.prop_map(DictValue::StrOld),
            any::<[u8; 16]>().prop_map(|g| DictValue::Gfuuid(Gfid(g))),
            any::<[u64; 4]>().prop_map(|a| DictValue::Iatt(Iatt {
                size: a[0],
                ino: a[1],
                mode: a[2] as u32,
                atime: a[3] as i64,
                ..Iatt::default()
            })),
            any::<[i64; 3]>().prop_map(|t| DictValue::Mdata(MdataIatt {
                atime: t[0],
                mtime: t[1],
                ctime: t[2],
                atime_nsec: 1,
                mtime_nsec: 2,
                ctime_nsec: 3,
            })),
        ]
    }

    pub(crate) fn arb_dict() -> impl Strategy<Value = Dict> {
        proptest::collection::vec(("[a-z][a-z0-9._-]{0,30}", arb_value()), 0..8)
            .prop_map(|v| v.into_iter().collect())
    }

    fn arb_serializable_dict() -> impl Strategy<Value = Dict> {
        arb_dict().prop_map(|d| {
            d.iter()
                .filter(|(_, v)| !matches!(v, DictValue::Iatt(_) | DictValue::Mdata(_)))
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect()
        })
    }

    #[test]
    fn null_and_empty() {
        let mut e = Encoder::new();
        Dict::encode_xdr_opt(None, &mut e);
        Dict::encode_xdr_opt(Some(&Dict::new()), &mut e);
        let b = e.freeze();
        assert_eq!(
            &b[..],
            &[0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0][..]
        );
        let mut d = Decoder::new(b);
        assert_eq!(Dict::decode_xdr_opt(&mut d).unwrap(), None);
        assert_eq!(Dict::decode_xdr_opt(&mut d).unwrap(), Some(Dict::new()));
    }

    #[test]
    fn gfid_req_layout() {
        // LOOKUP/MKDIR xdata as the C client sends it: one GFUUID pair, xdr_size 36.
        let g: Gfid = "785a824c-9427-405b-ba3b-c600a0dd5563".parse().unwrap();
        let d = Dict::new().with("gfid-req", DictValue::Gfuuid(g));
        let b = XdrEncode::to_bytes(&d);
        let want = "00000024000000010000000100000009676669642d7265710000000000000007785a824c9427405bba3bc600a0dd5563";
        assert_eq!(hex(&b), want);
        assert_eq!(d.xdr_size(), 36);
        assert_eq!(
            <Dict as XdrDecode>::from_bytes(b)
                .unwrap()
                .get_gfid("gfid-req"),
            Some(g)
        );
    }

    #[test]
    fn accessors() {
        let mut d = Dict::new();
        d.set_str("s", "ref-replicate-0");
        d.set_u64("u", 7);
        d.set_i64("i", -3);
        d.set_bin("b", vec![0u8, 0, 0, 1]);
        d.insert("o", DictValue::StrOld(Bytes::from_static(b"0x10\0")));
        d.insert("q", DictValue::StrOld(Bytes::from_static(b"010\0")));
        assert_eq!(d.get_str("s"), Some("ref-replicate-0"));
        assert_eq!(d.get_bytes("s").unwrap().len(), 16);
        assert_eq!(
            (d.get_u64("u"), d.get_i64("i"), d.get_u64("i")),
            (Some(7), Some(-3), None)
        );
        assert_eq!((d.get_i64("o"), d.get_i64("q")), (Some(16), Some(8)));
        assert_eq!(d.get_i64("s"), None);
        assert_eq!(d.insert("u", DictValue::Uint(8)), Some(DictValue::Uint(7)));
        assert_eq!(d.keys().collect::<Vec<_>>(), ["s", "u", "i", "b", "o", "q"]);
        assert_eq!(d.remove("u"), Some(DictValue::Uint(8)));
        assert!(!d.contains_key("u"));
        assert_eq!(d.len(), 5);
        assert_eq!(
            d.to_serialized().len(),
            4 + 5 * 8 + 5 * 2 + 16 + 3 + 4 + 5 + 4
        );
    }

    #[test]
    fn old_format_ints_are_text() {
        let mut d = Dict::new();
        d.set_i64("child_up", 1);
        let s = d.to_serialized();
        assert_eq!(&s[..], b"\0\0\0\x01\0\0\0\x08\0\0\0\x02child_up\x001\0");
        let back = Dict::from_serialized(s).unwrap();
        assert_eq!(
            back.get("child_up"),
            Some(&DictValue::StrOld(Bytes::from_static(b"1\0")))
        );
        assert_eq!(back.get_u64("child_up"), Some(1));
        let skipped = Dict::new()
            .with("x", DictValue::Iatt(Iatt::default()))
            .with("y", DictValue::Uint(2));
        assert_eq!(
            &skipped.to_serialized()[..],
            b"\0\0\0\x01\0\0\0\x01\0\0\0\x02y\x002\0"
        );
    }

    #[test]
    fn limits_before_allocation() {
        // Huge pair count in a tiny gfx_dict.
        let b = Bytes::from_static(&[0, 0, 0, 0, 0, 0, 0, 1, 0x7f, 0xff, 0xff, 0xff]);
        assert!(<Dict as XdrDecode>::from_bytes(b).is_err());
        let b = Bytes::from_static(&[0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0x10, 0]);
        assert!(<Dict as XdrDecode>::from_bytes(b).is_err());
        // Huge count in a tiny serialized dict.
        assert!(Dict::from_serialized(Bytes::from_static(&[0xff, 0xff, 0xff, 0xff])).is_err());
        assert!(Dict::from_serialized(Bytes::from_static(&[0, 0, 0, 2, 0, 0, 0, 1])).is_err());
        // Key length beyond the buffer, negative (as i32) value length.
        let b = Bytes::from_static(b"\0\0\0\x01\0\0\0\x10\0\0\0\x00ab\0");
        assert!(Dict::from_serialized(b).is_err());
        let b = Bytes::from_static(b"\0\0\0\x01\0\0\0\x01\xff\xff\xff\xffa\0");
        assert!(Dict::from_serialized(b).is_err());
        assert!(Dict::from_serialized(Bytes::new()).is_err());
        // Unknown gfx_value type.
        let mut e = Encoder::new();
        e.put_u32(0);
        e.put_i32(1);
        e.put_u32(1);
        e.put_opaque(b"k\0");
        e.put_i32(42);
        e.put_u64(0);
        assert!(<Dict as XdrDecode>::from_bytes(e.freeze()).is_err());
    }

    pub(crate) fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    proptest! {
        #[test]
        fn xdr_roundtrip(d in arb_dict()) {
            let b = XdrEncode::to_bytes(&d);
            prop_assert_eq!(b.len(), 12 + d.xdr_size());
            let mut dec = Decoder::new(b.clone());
            let back = Dict::decode_xdr_opt(&mut dec).unwrap().unwrap();
            dec.finish().unwrap();
            prop_assert_eq!(&back, &d);
            prop_assert_eq!(XdrEncode::to_bytes(&back), b);
        }

        #[test]
        fn serialized_roundtrip(d in arb_serializable_dict()) {
            let s = d.to_serialized();
            let back = Dict::from_serialized(s.clone()).unwrap();
            prop_assert_eq!(back.len(), d.len());
            for ((k1, v1), (k2, v2)) in d.iter().zip(back.iter()) {
                prop_assert_eq!(k1, k2);
                prop_assert_eq!(v1.serialized().unwrap(), v2.as_bytes().unwrap().clone());
            }
            prop_assert_eq!(back.to_serialized(), s);
            // Integers survive as text.
            for (k, v) in d.iter() {
                match v {
                    DictValue::Int(i) => prop_assert_eq!(back.get_i64(k), Some(*i)),
                    DictValue::Uint(u) => prop_assert_eq!(back.get_u64(k), Some(*u)),
                    _ => {}
                }
            }
        }

        #[test]
        fn garbage_never_panics(data in proptest::collection::vec(any::<u8>(), 0..256)) {
            let b = Bytes::from(data);
            let _ = Dict::from_serialized(b.clone());
            let _ = Dict::decode_xdr_opt(&mut Decoder::new(b));
        }

        #[test]
        fn mutated_encoding_never_panics(d in arb_dict(), pos in any::<usize>(), byte in any::<u8>()) {
            let mut v = XdrEncode::to_bytes(&d).to_vec();
            let i = pos % v.len();
            v[i] = byte;
            let _ = <Dict as XdrDecode>::from_bytes(Bytes::from(v));
            let mut v = d.to_serialized().to_vec();
            let i = pos % v.len();
            v[i] = byte;
            let _ = Dict::from_serialized(Bytes::from(v));
        }
    }
}
