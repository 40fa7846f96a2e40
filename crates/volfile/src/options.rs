//! Ordered option maps and GlusterFS's option value syntaxes.

use std::fmt;

use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A translator's `option KEY VALUE` lines, in first-appearance order.
///
/// Like glusterfs's `dict_set()` (used by `volume_option()` in `graph.y`), setting a key that is
/// already present replaces its value in place; the last value wins. Serialises as a JSON object
/// in the same order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    entries: Vec<(String, String)>,
}

impl Options {
    pub const fn new() -> Self {
        Options {
            entries: Vec::new(),
        }
    }

    /// Set `key` to `value`, returning the previous value if the key was present.
    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<String>) -> Option<String> {
        let key = key.into();
        let value = value.into();
        match self.entries.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => Some(std::mem::replace(v, value)),
            None => {
                self.entries.push((key, value));
                None
            }
        }
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    pub fn remove(&mut self, key: &str) -> Option<String> {
        let pos = self.entries.iter().position(|(k, _)| k == key)?;
        Some(self.entries.remove(pos).1)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// `(key, value)` pairs in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.entries.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> + '_ {
        self.entries.iter().map(|(k, _)| k.as_str())
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Options {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut o = Options::new();
        for (k, v) in iter {
            o.insert(k, v);
        }
        o
    }
}

impl Serialize for Options {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.entries.len()))?;
        for (k, v) in &self.entries {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

impl<'de> Deserialize<'de> for Options {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Options;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a map of option names to string values")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Options, A::Error> {
                let mut o = Options::new();
                while let Some((k, v)) = map.next_entry::<String, String>()? {
                    o.insert(k, v);
                }
                Ok(o)
            }
        }
        d.deserialize_map(V)
    }
}

/// A boolean option value as glusterfs's `gf_string2boolean()` (libglusterfs/src/common-utils.c)
/// reads it: `1 on yes true enable` / `0 off no false disable`, case-insensitive.
pub fn parse_bool(s: &str) -> Option<bool> {
    const TRUE: [&str; 5] = ["1", "on", "yes", "true", "enable"];
    const FALSE: [&str; 5] = ["0", "off", "no", "false", "disable"];
    if TRUE.iter().any(|t| s.eq_ignore_ascii_case(t)) {
        Some(true)
    } else if FALSE.iter().any(|f| s.eq_ignore_ascii_case(f)) {
        Some(false)
    } else {
        None
    }
}

/// An unsigned integer the way `strtol(.., 0)` reads one: leading blanks, an optional `+`,
/// `0x`/`0X` hex, leading-`0` octal, else decimal. Returns the value and the unparsed tail.
fn parse_c_uint(s: &str) -> Option<(u64, &str)> {
    let s = s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let s = s.strip_prefix('+').unwrap_or(s);
    let (radix, digits) = if let Some(rest) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X"))
    {
        (16, rest)
    } else if let Some(rest) = s.strip_prefix('0') {
        // Leading zero: octal; the zero itself is already a complete number.
        if !rest.starts_with(|c: char| c.is_digit(8)) {
            return Some((0, rest));
        }
        (8, rest)
    } else {
        (10, s)
    };
    let end = digits
        .find(|c: char| !c.is_digit(radix))
        .unwrap_or(digits.len());
    let (num, tail) = digits.split_at(end);
    if num.is_empty() {
        return None;
    }
    let value = u64::from_str_radix(num, radix).ok()?;
    Some((value, tail))
}

/// An unsigned integer option (`GF_OPTION_TYPE_INT` with no suffix), strtol-style.
pub fn parse_uint(s: &str) -> Option<u64> {
    match parse_c_uint(s)? {
        (v, "") => Some(v),
        _ => None,
    }
}

/// A time option in seconds, as glusterfs's `gf_string2time()` (libglusterfs/src/common-utils.c)
/// reads it: a non-negative integer with an optional suffix `s`/`sec`, `m`/`min`, `h`/`hr`,
/// `d`/`days`, `w`/`wk`.
pub fn parse_time_secs(s: &str) -> Option<u64> {
    if s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c'])
        .starts_with('-')
    {
        return None;
    }
    let (v, tail) = parse_c_uint(s)?;
    let mult = match tail {
        "" | "s" | "sec" => 1,
        "m" | "min" => 60,
        "h" | "hr" => 3600,
        "d" | "days" => 86_400,
        "w" | "wk" => 604_800,
        _ => return None,
    };
    v.checked_mul(mult)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_keep_order_and_last_value_wins() {
        let mut o = Options::new();
        assert_eq!(o.insert("b", "1"), None);
        assert_eq!(o.insert("a", "2"), None);
        assert_eq!(o.insert("b", "3"), Some("1".to_string()));
        assert_eq!(o.iter().collect::<Vec<_>>(), vec![("b", "3"), ("a", "2")]);
        assert_eq!(o.get("a"), Some("2"));
        assert_eq!(o.get("c"), None);
        assert_eq!(o.remove("b"), Some("3".into()));
        assert_eq!(o.len(), 1);
    }

    #[test]
    fn options_json_is_an_ordered_object() {
        let o: Options = [("z", "1"), ("a", "x y")].into_iter().collect();
        let j = serde_json::to_string(&o).unwrap();
        assert_eq!(j, r#"{"z":"1","a":"x y"}"#);
        let back: Options = serde_json::from_str(&j).unwrap();
        assert_eq!(back, o);
    }

    #[test]
    fn booleans() {
        for t in ["on", "ON", "1", "yes", "True", "enable"] {
            assert_eq!(parse_bool(t), Some(true), "{t}");
        }
        for f in ["off", "0", "No", "false", "DISABLE"] {
            assert_eq!(parse_bool(f), Some(false), "{f}");
        }
        for x in ["", "2", "onn", "y"] {
            assert_eq!(parse_bool(x), None, "{x}");
        }
    }

    #[test]
    fn times() {
        assert_eq!(parse_time_secs("42"), Some(42));
        assert_eq!(parse_time_secs("7s"), Some(7));
        assert_eq!(parse_time_secs("2min"), Some(120));
        assert_eq!(parse_time_secs("1hr"), Some(3600));
        assert_eq!(parse_time_secs("1w"), Some(604_800));
        assert_eq!(parse_time_secs("0x10"), Some(16));
        assert_eq!(parse_time_secs("010"), Some(8));
        assert_eq!(parse_time_secs("0"), Some(0));
        assert_eq!(parse_time_secs("0s"), Some(0));
        assert_eq!(parse_time_secs("08"), None);
        assert_eq!(parse_time_secs("-1"), None);
        assert_eq!(parse_time_secs("1 s"), None);
        assert_eq!(parse_time_secs("s"), None);
        assert_eq!(parse_time_secs("0x"), None);
        assert_eq!(parse_time_secs("99999999999999999999"), None);
        assert_eq!(parse_time_secs("18446744073709551615w"), None);
    }

    #[test]
    fn uints() {
        assert_eq!(parse_uint("2"), Some(2));
        assert_eq!(parse_uint(" +3"), Some(3));
        assert_eq!(parse_uint("3x"), None);
        assert_eq!(parse_uint(""), None);
    }
}
