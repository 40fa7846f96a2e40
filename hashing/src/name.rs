//! DHT name hashing: rsync temp-file munging followed by [`dm_hash`].
//!
//! Mirrors `dht_hash_compute` / `dht_munge_name` in GlusterFS's
//! `xlators/cluster/dht/src/dht-hashfn.c` and `dht_init_regex` in
//! `dht-shared.c`.

use std::fmt;
use std::sync::Arc;

use crate::dm::dm_hash;
use crate::Error;

/// The default value of `cluster.rsync-hash-regex` (`dht_init_regex`).
pub const DEFAULT_RSYNC_HASH_REGEX: &str = r"^\.(.+)\.[^.]+$";

/// A name-munging rule: the equivalent of a POSIX extended regex whose
/// first capture group is the part of the name DHT hashes.
///
/// Implement this to plug a custom `cluster.extra-hash-regex` (or a
/// custom `cluster.rsync-hash-regex`) into [`HashOptions`]: return the
/// bytes that capture group 1 of the regex matches in `name` (a sub-slice
/// of `name`), or `None` if the regex does not match. To agree with the C
/// client, the implementation must follow POSIX leftmost-longest
/// semantics as glibc's `regexec` does.
pub trait NameMunger: Send + Sync {
    /// Capture group 1 of the rule applied to `name`, if the rule matches
    /// and the group took part in the match. An empty capture counts as a
    /// match (the C client then hashes the empty string). `name` never
    /// contains a NUL byte.
    fn capture<'a>(&self, name: &'a [u8]) -> Option<&'a [u8]>;
}

/// Which locale rules the built-in default regex follows.
///
/// The C client runs glibc's `regexec`, whose `.` and `[^.]` only match
/// valid characters of the current locale. GlusterFS processes call
/// `setlocale(LC_ALL, "en_US.UTF-8")` when they set up logging
/// (`gf_log_init`, `libglusterfs/src/logging.c`) and fall back to the
/// environment's locale when that locale is not installed. The two
/// behaviours differ only for names that are not valid UTF-8.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RegexLocale {
    /// A UTF-8 locale (what GlusterFS asks for): a name that is not valid
    /// UTF-8 (as glibc decodes it: up to 6-byte sequences, no overlong
    /// forms, no surrogates) never matches.
    #[default]
    Utf8,
    /// The "C"/"POSIX" locale: the regex works on bytes.
    Bytes,
}

/// One munging rule slot (`rsync-hash-regex` or `extra-hash-regex`).
#[derive(Clone, Default)]
pub enum Munger {
    /// No rule (option unset, or set to `none`).
    #[default]
    Disabled,
    /// The built-in default rsync rule, [`DEFAULT_RSYNC_HASH_REGEX`].
    RsyncDefault,
    /// A caller-supplied rule.
    Custom(Arc<dyn NameMunger>),
}

impl fmt::Debug for Munger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Munger::Disabled => f.write_str("Disabled"),
            Munger::RsyncDefault => f.write_str("RsyncDefault"),
            Munger::Custom(_) => f.write_str("Custom(..)"),
        }
    }
}

/// How DHT turns a name into the hash it places by.
#[derive(Clone, Debug)]
pub struct HashOptions {
    /// `cluster.extra-hash-regex`, tried first. Default: none.
    pub extra: Munger,
    /// `cluster.rsync-hash-regex`, tried when `extra` did not munge.
    /// Default: [`Munger::RsyncDefault`].
    pub rsync: Munger,
    /// Locale rules of the built-in default regex.
    pub locale: RegexLocale,
}

impl Default for HashOptions {
    fn default() -> Self {
        HashOptions {
            extra: Munger::Disabled,
            rsync: Munger::RsyncDefault,
            locale: RegexLocale::default(),
        }
    }
}

impl HashOptions {
    /// Options from the DHT volume options `rsync-hash-regex` and
    /// `extra-hash-regex` as found in a volfile (`None` = not set), with
    /// the semantics of `dht_init_regex`: an unset rsync regex means the
    /// default one, `none` disables a rule.
    ///
    /// Only the default pattern is interpreted; any other pattern gives
    /// [`Error::UnsupportedRegex`] (supply it as [`Munger::Custom`]
    /// instead). This crate carries no POSIX regex engine.
    pub fn from_volume_options(rsync: Option<&str>, extra: Option<&str>) -> Result<Self, Error> {
        fn parse(v: &str) -> Result<Munger, Error> {
            match v {
                "none" => Ok(Munger::Disabled),
                DEFAULT_RSYNC_HASH_REGEX => Ok(Munger::RsyncDefault),
                other => Err(Error::UnsupportedRegex(other.to_owned())),
            }
        }
        Ok(HashOptions {
            extra: match extra {
                None => Munger::Disabled,
                Some(v) => parse(v)?,
            },
            rsync: match rsync {
                None => Munger::RsyncDefault,
                Some(v) => parse(v)?,
            },
            locale: RegexLocale::default(),
        })
    }
}

/// The DHT hash of a file or directory name (`dht_hash_compute`).
///
/// The name is taken as a C string, i.e. up to its first NUL byte. If the
/// extra regex, else the rsync regex, matches, only its first capture
/// group is hashed (so rsync's `.name.XXXXXX` temp file lands where
/// `name` will); otherwise the whole name is hashed with [`dm_hash`].
pub fn name_hash(name: &[u8], opts: &HashOptions) -> u32 {
    dm_hash(munge_name(name, opts))
}

/// The bytes DHT actually hashes for `name` (see [`name_hash`]).
pub fn munge_name<'a>(name: &'a [u8], opts: &HashOptions) -> &'a [u8] {
    let name = match name.iter().position(|&b| b == 0) {
        Some(nul) => &name[..nul],
        None => name,
    };
    apply(&opts.extra, name, opts.locale)
        .or_else(|| apply(&opts.rsync, name, opts.locale))
        .unwrap_or(name)
}

fn apply<'a>(m: &Munger, name: &'a [u8], locale: RegexLocale) -> Option<&'a [u8]> {
    match m {
        Munger::Disabled => None,
        Munger::RsyncDefault => rsync_default_capture(name, locale),
        Munger::Custom(c) => c.capture(name),
    }
}

/// Hand-written matcher for `^\.(.+)\.[^.]+$` (POSIX ERE).
///
/// The whole name must match. `[^.]+$` forces the last `.` of the name
/// to be the separator (the suffix has no dot and is non-empty), and
/// `\.(.+)` needs a leading dot and at least one byte before that
/// separator. The group is then everything between the leading dot and
/// the last dot. `.` matches newline too (no `REG_NEWLINE`).
fn rsync_default_capture(name: &[u8], locale: RegexLocale) -> Option<&[u8]> {
    if name.first() != Some(&b'.') {
        return None;
    }
    let last_dot = name.iter().rposition(|&b| b == b'.')?;
    // Group is name[1..last_dot], must be non-empty; suffix non-empty.
    if last_dot < 2 || last_dot + 1 >= name.len() {
        return None;
    }
    if locale == RegexLocale::Utf8 && !glibc_utf8_valid(name) {
        return None;
    }
    name.get(1..last_dot)
}

/// Whether glibc's UTF-8 decoder (as used by `regexec` in a UTF-8 locale)
/// accepts every byte of `s`: the original RFC 2279 forms of up to six
/// bytes (values up to 0x7FFFFFFF), rejecting overlong encodings and
/// UTF-16 surrogates. Verified against glibc in
/// `tests/data/name_hash_vectors.txt`.
fn glibc_utf8_valid(s: &[u8]) -> bool {
    let mut i = 0;
    while let Some(&lead) = s.get(i) {
        let (extra, min, init) = match lead {
            0x00..=0x7f => {
                i += 1;
                continue;
            }
            0xc0..=0xdf => (1, 0x80u32, u32::from(lead & 0x1f)),
            0xe0..=0xef => (2, 0x800, u32::from(lead & 0x0f)),
            0xf0..=0xf7 => (3, 0x1_0000, u32::from(lead & 0x07)),
            0xf8..=0xfb => (4, 0x20_0000, u32::from(lead & 0x03)),
            0xfc..=0xfd => (5, 0x400_0000, u32::from(lead & 0x01)),
            _ => return false,
        };
        let mut v = init;
        for k in 1..=extra {
            match s.get(i + k) {
                Some(&c) if c & 0xc0 == 0x80 => v = (v << 6) | u32::from(c & 0x3f),
                _ => return false,
            }
        }
        if v < min || (0xd800..=0xdfff).contains(&v) {
            return false;
        }
        i += 1 + extra;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cap(n: &[u8]) -> Option<&[u8]> {
        rsync_default_capture(n, RegexLocale::Bytes)
    }

    #[test]
    fn rsync_default_rule() {
        assert_eq!(cap(b".foo.txt.AbC123"), Some(&b"foo.txt"[..]));
        assert_eq!(cap(b".a.b"), Some(&b"a"[..]));
        assert_eq!(cap(b"..b.c"), Some(&b".b"[..]));
        assert_eq!(cap(b".."), None);
        assert_eq!(cap(b"..."), None);
        assert_eq!(cap(b"..b"), None);
        assert_eq!(cap(b".a."), None);
        assert_eq!(cap(b".ab"), None);
        assert_eq!(cap(b"a.b"), None);
        assert_eq!(cap(b""), None);
    }

    #[test]
    fn utf8_locale_rejects_invalid_names() {
        assert_eq!(rsync_default_capture(b".\xff.tmp", RegexLocale::Utf8), None);
        assert_eq!(
            rsync_default_capture(b".\xff.tmp", RegexLocale::Bytes),
            Some(&b"\xff"[..])
        );
        assert_eq!(
            rsync_default_capture(".é.tmp".as_bytes(), RegexLocale::Utf8),
            Some("é".as_bytes())
        );
    }

    #[test]
    fn volume_options() {
        let o = HashOptions::from_volume_options(None, None).unwrap();
        assert!(matches!(o.rsync, Munger::RsyncDefault));
        assert!(matches!(o.extra, Munger::Disabled));
        let o = HashOptions::from_volume_options(Some("none"), Some("none")).unwrap();
        assert!(matches!(o.rsync, Munger::Disabled));
        assert_eq!(name_hash(b".a.b", &o), dm_hash(b".a.b"));
        assert!(matches!(
            HashOptions::from_volume_options(None, Some("^(.*)~$")),
            Err(Error::UnsupportedRegex(_))
        ));
    }

    struct TildeSuffix;
    impl NameMunger for TildeSuffix {
        fn capture<'a>(&self, name: &'a [u8]) -> Option<&'a [u8]> {
            name.strip_suffix(b"~").filter(|g| !g.is_empty())
        }
    }

    #[test]
    fn extra_rule_takes_precedence() {
        let o = HashOptions {
            extra: Munger::Custom(Arc::new(TildeSuffix)),
            ..HashOptions::default()
        };
        assert_eq!(name_hash(b"file~", &o), dm_hash(b"file"));
        assert_eq!(name_hash(b".x.y", &o), dm_hash(b"x"));
        assert_eq!(name_hash(b".x.y~", &o), dm_hash(b".x.y"));
    }
}
