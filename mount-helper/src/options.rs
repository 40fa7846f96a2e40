//! The `-o` option string: the options of GlusterFS 10's `mount.glusterfs` plus a few of gluster-rs's
//! own, parsed into a typed [`MountOptions`].
//!
//! The option set and each value's syntax follow `xlators/mount/fuse/utils/mount.glusterfs.in`
//! (`with_options` / `without_options`) and the checks `glusterfsd/src/glusterfsd.c` (`parse_opts`)
//! applies to the resulting `glusterfs` command line; boolean words are those of
//! `gf_string2boolean` (libglusterfs/src/common-utils.c). Like mount.glusterfs, an unknown option
//! or a malformed value is an error; unlike it, malformed values that glusterfsd would silently
//! turn into a default (an unknown log level becomes INFO there) are refused too, so a typo never
//! mounts with settings the user did not ask for.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::error::Error;
use crate::spec;

/// GlusterFS log levels (`--log-level`), case-insensitive on input as in glusterfsd.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, PartialOrd, Ord)]
pub enum LogLevel {
    None,
    Critical,
    Error,
    Warning,
    #[default]
    Info,
    Debug,
    Trace,
}

impl LogLevel {
    pub const ALL: [LogLevel; 7] = [
        LogLevel::None,
        LogLevel::Critical,
        LogLevel::Error,
        LogLevel::Warning,
        LogLevel::Info,
        LogLevel::Debug,
        LogLevel::Trace,
    ];

    pub fn parse(s: &str) -> Option<LogLevel> {
        LogLevel::ALL
            .into_iter()
            .find(|l| l.as_str().eq_ignore_ascii_case(s))
    }

    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::None => "NONE",
            LogLevel::Critical => "CRITICAL",
            LogLevel::Error => "ERROR",
            LogLevel::Warning => "WARNING",
            LogLevel::Info => "INFO",
            LogLevel::Debug => "DEBUG",
            LogLevel::Trace => "TRACE",
        }
    }

    /// The `tracing` filter for this level (tracing has no CRITICAL; it maps to ERROR).
    pub fn level_filter(self) -> tracing::level_filters::LevelFilter {
        use tracing::level_filters::LevelFilter;
        match self {
            LogLevel::None => LevelFilter::OFF,
            LogLevel::Critical | LogLevel::Error => LevelFilter::ERROR,
            LogLevel::Warning => LevelFilter::WARN,
            LogLevel::Info => LevelFilter::INFO,
            LogLevel::Debug => LevelFilter::DEBUG,
            LogLevel::Trace => LevelFilter::TRACE,
        }
    }
}

impl fmt::Display for LogLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Transport to glusterd and the bricks. gluster-rs speaks TCP only; `transport=rdma` is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Transport {
    #[default]
    Tcp,
}

/// The access-time mode passed to the kernel (mutually exclusive in mount(2)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AtimeMode {
    /// `noatime` (MS_NOATIME)
    NoAtime,
    /// `relatime` (MS_RELATIME, the kernel's default)
    Relatime,
    /// `strictatime` (MS_STRICTATIME)
    StrictAtime,
}

impl AtimeMode {
    pub fn as_str(self) -> &'static str {
        match self {
            AtimeMode::NoAtime => "noatime",
            AtimeMode::Relatime => "relatime",
            AtimeMode::StrictAtime => "strictatime",
        }
    }
}

/// Options that end up as flags of the kernel mount (mount.glusterfs collects them in
/// `fuse_mountopts` and glusterfs passes them to the FUSE mount). Read-only is
/// [`MountOptions::read_only`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KernelOptions {
    pub nodev: bool,
    pub nosuid: bool,
    pub noexec: bool,
    /// `None`: leave the kernel's default (relatime).
    pub atime: Option<AtimeMode>,
    pub nodiratime: bool,
    pub lazytime: bool,
    /// Unmount when the client process dies (fusermount3's auto_unmount).
    pub auto_unmount: bool,
    /// SELinux `context=`, `fscontext=`, `defcontext=`, `rootcontext=` (name, value without quotes).
    pub selinux_contexts: Vec<(String, String)>,
    /// Raw `fuse-mountopts=` values, passed through to the FUSE mount.
    pub fuse_mountopts: Vec<String>,
}

impl KernelOptions {
    /// Only the mount(2) flag words (nodev, nosuid, noexec, the atime mode, nodiratime,
    /// lazytime), in a fixed order: what goes into the FUSE mount's flags. `ro`, `auto_unmount`,
    /// SELinux contexts and `fuse-mountopts` are separate fields.
    pub fn mount_flags(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        for (on, name) in [
            (self.nodev, "nodev"),
            (self.nosuid, "nosuid"),
            (self.noexec, "noexec"),
        ] {
            if on {
                v.push(name);
            }
        }
        if let Some(a) = self.atime {
            v.push(a.as_str());
        }
        if self.nodiratime {
            v.push("nodiratime");
        }
        if self.lazytime {
            v.push("lazytime");
        }
        v
    }

    /// All kernel-side options as strings, in a fixed order (`ro` is not included).
    pub fn to_strings(&self) -> Vec<String> {
        let mut v = Vec::new();
        for (on, name) in [
            (self.nodev, "nodev"),
            (self.nosuid, "nosuid"),
            (self.noexec, "noexec"),
        ] {
            if on {
                v.push(name.to_string());
            }
        }
        if let Some(a) = self.atime {
            v.push(a.as_str().to_string());
        }
        if self.nodiratime {
            v.push("nodiratime".to_string());
        }
        if self.lazytime {
            v.push("lazytime".to_string());
        }
        if self.auto_unmount {
            v.push("auto_unmount".to_string());
        }
        for (k, val) in &self.selinux_contexts {
            v.push(format!("{k}=\"{val}\""));
        }
        v.extend(self.fuse_mountopts.iter().cloned());
        v
    }
}

/// One `xlator-option=XLATOR.KEY=VALUE` (glusterfsd's `--xlator-option`; XLATOR may be a glob such
/// as `*replicate*`). Split like `gf_remember_xlator_option`: XLATOR up to the first `.`, KEY up to
/// the first `=`, VALUE the rest (non-empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XlatorOption {
    pub xlator: String,
    pub key: String,
    pub value: String,
}

impl XlatorOption {
    pub fn parse(s: &str) -> Option<XlatorOption> {
        let (xlator, rest) = s.split_once('.')?;
        let (key, value) = rest.split_once('=')?;
        if xlator.is_empty() || key.is_empty() || value.is_empty() {
            return None;
        }
        Some(XlatorOption {
            xlator: xlator.to_string(),
            key: key.to_string(),
            value: value.to_string(),
        })
    }
}

impl fmt::Display for XlatorOption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}={}", self.xlator, self.key, self.value)
    }
}

/// Options read by boot-time tooling (fstab, systemd), not by the helper.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FstabHints {
    /// `auto` / `noauto`
    pub auto: Option<bool>,
    pub netdev: bool,
    pub nofail: bool,
}

/// An option accepted for compatibility that has no effect in gluster-rs. The helper prints a
/// warning for each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IgnoredOption {
    /// The option as written (`key` or `key=value`).
    pub option: String,
    pub reason: &'static str,
}

/// Default time one volfile server gets to deliver a usable volume (volfile fetched, graph built,
/// bricks connected) before the next server is tried.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// Everything `-o` can say. `None` / `false` means "not given": the client uses its own default.
#[derive(Debug, Clone, PartialEq)]
pub struct MountOptions {
    // ---- where the volfile comes from
    /// `backup-volfile-servers=H1:H2:...` (IPv6 addresses in `[...]`), in order.
    pub backup_volfile_servers: Vec<String>,
    /// The older `backupvolfile-server=HOST`; used only without `backup-volfile-servers`.
    pub backupvolfile_server: Option<String>,
    /// `server-port=N`: glusterd's port on every volfile server (default 24007).
    pub server_port: Option<u16>,
    pub transport: Transport,
    /// `volume-id=NAME`: must agree with the volume in the spec.
    pub volume_id: Option<String>,
    /// `subdir-mount=PATH` (without leading `/`), used when the spec has no subdirectory.
    pub subdir_mount: Option<String>,
    /// `fetch-attempts=N`: passes over the whole server list (default 1).
    pub fetch_attempts: u32,

    // ---- logging
    pub log_level: LogLevel,
    /// `log-file=PATH`; default `/var/log/gluster-rs/<mountpoint with / as ->.log`.
    pub log_file: Option<PathBuf>,
    pub localtime_logging: bool,

    // ---- FUSE caching and behaviour
    pub attribute_timeout: Option<Duration>,
    pub entry_timeout: Option<Duration>,
    pub negative_timeout: Option<Duration>,
    pub gid_timeout: Option<Duration>,
    /// `lru-limit=N`: inodes kept by the client; 0 = unlimited.
    pub lru_limit: Option<u32>,
    pub invalidate_limit: Option<u32>,
    pub inode_table_size: Option<u32>,
    /// FUSE `max_background` (1..=65535).
    pub background_qlen: Option<u16>,
    /// FUSE `congestion_threshold` (1..=65535).
    pub congestion_threshold: Option<u16>,
    /// `direct-io-mode=enable|disable|auto`: `None` is auto.
    pub direct_io: Option<bool>,
    pub use_readdirp: Option<bool>,
    pub kernel_writeback_cache: Option<bool>,
    /// `fopen-keep-cache[=BOOL]` (bare means true).
    pub fopen_keep_cache: Option<bool>,
    /// `open-behind=BOOL` (gluster-rs; default on): opens cost no round trip.
    pub open_behind: Option<bool>,
    /// `quick-read=BOOL` (gluster-rs; default on): small files come back inside lookups.
    pub quick_read: Option<bool>,
    /// `write-behind=BOOL` (gluster-rs; default on): writes acknowledged once queued.
    pub write_behind: Option<bool>,
    /// `reader-thread-count=N` (1..=64): threads reading /dev/fuse.
    pub reader_thread_count: Option<u32>,
    pub auto_invalidation: Option<bool>,
    /// `attr-times-granularity=NS` (0..=1e9).
    pub attr_times_granularity: Option<u32>,
    pub enable_ino32: bool,
    pub resolve_gids: bool,

    // ---- access
    pub read_only: bool,
    pub acl: bool,
    pub selinux: bool,
    pub worm: bool,
    pub no_root_squash: bool,
    pub aux_gfid_mount: bool,
    pub kernel: KernelOptions,
    /// `xlator-option=...`, in the order given (plus halo-* options, as mount.glusterfs maps them).
    pub xlator_options: Vec<XlatorOption>,
    pub fstab: FstabHints,
    /// `oom-score-adj=N` (-1000..=1000), applied to the client process.
    pub oom_score_adj: Option<i32>,

    // ---- gluster-rs's own
    /// `first-ack=on|off`: acknowledge a replicated write when the first replica has it (on) or
    /// only when all up replicas have it (off, as GlusterFS's AFR).
    /// `None`: the client's default (first ack on).
    pub first_ack: Option<bool>,
    /// `connect-timeout=SECONDS`: how long one volfile server gets to deliver a usable volume
    /// (volfile fetched, graph built, bricks connected) before the next is tried (default 30).
    pub connect_timeout: Duration,
    /// `mount-timeout=SECONDS`: how long mount waits for the client to be ready; default derived
    /// from the number of servers (see [`crate::MountPlan::mount_timeout`]).
    pub mount_timeout: Option<Duration>,
    /// `worker-threads=N` (1..=1024): threads of the client's async runtime.
    pub worker_threads: Option<usize>,
    /// `allow-overmount`: mount even if a gluster mount is already on the mount point.
    pub allow_overmount: bool,

    /// Accepted for compatibility, no effect.
    pub ignored: Vec<IgnoredOption>,
}

impl Default for MountOptions {
    fn default() -> Self {
        MountOptions {
            backup_volfile_servers: Vec::new(),
            backupvolfile_server: None,
            server_port: None,
            transport: Transport::Tcp,
            volume_id: None,
            subdir_mount: None,
            fetch_attempts: 1,
            log_level: LogLevel::Info,
            log_file: None,
            localtime_logging: false,
            attribute_timeout: None,
            entry_timeout: None,
            negative_timeout: None,
            gid_timeout: None,
            lru_limit: None,
            invalidate_limit: None,
            inode_table_size: None,
            background_qlen: None,
            congestion_threshold: None,
            direct_io: None,
            use_readdirp: None,
            kernel_writeback_cache: None,
            fopen_keep_cache: None,
            reader_thread_count: None,
            open_behind: None,
            quick_read: None,
            write_behind: None,
            auto_invalidation: None,
            attr_times_granularity: None,
            enable_ino32: false,
            resolve_gids: false,
            read_only: false,
            acl: false,
            selinux: false,
            worm: false,
            no_root_squash: false,
            aux_gfid_mount: false,
            kernel: KernelOptions::default(),
            xlator_options: Vec::new(),
            fstab: FstabHints::default(),
            oom_score_adj: None,
            first_ack: None,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            mount_timeout: None,
            worker_threads: None,
            allow_overmount: false,
            ignored: Vec::new(),
        }
    }
}

/// Parse an `-o` string strictly: an unknown option is an error.
pub fn parse_options(s: &str) -> Result<MountOptions, Error> {
    parse_options_with(s, false)
}

/// Parse an `-o` string. With `sloppy` (`mount -s`, as autofs passes it), unknown options are
/// recorded in [`MountOptions::ignored`] instead of refused; malformed values of known options are
/// still errors.
pub fn parse_options_with(s: &str, sloppy: bool) -> Result<MountOptions, Error> {
    let mut opts = MountOptions::default();
    for item in split_options(s)? {
        if item.is_empty() {
            continue;
        }
        let (key, value) = match item.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (item.as_str(), None),
        };
        if key.is_empty() {
            return Err(Error::UnknownOption(item));
        }
        match opts.apply(key, value) {
            Err(Error::UnknownOption(_)) if sloppy => opts.ignored.push(IgnoredOption {
                option: item.clone(),
                reason: "unknown option ignored (sloppy mount)",
            }),
            r => r?,
        }
    }
    Ok(opts)
}

/// Split at commas outside double quotes (so `context="a,b"` stays whole, as util-linux does).
/// Quotes are kept in the items.
fn split_options(s: &str) -> Result<Vec<String>, Error> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in s.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                cur.push(c);
            }
            ',' if !quoted => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    if quoted {
        return Err(Error::Usage(format!(
            "unterminated quote in mount options '{s}'"
        )));
    }
    out.push(cur);
    Ok(out)
}

/// `gf_string2boolean`: 1/on/yes/true/enable and 0/off/no/false/disable, case-insensitive.
pub fn parse_bool(s: &str) -> Option<bool> {
    const T: [&str; 5] = ["1", "on", "yes", "true", "enable"];
    const F: [&str; 5] = ["0", "off", "no", "false", "disable"];
    if T.iter().any(|t| t.eq_ignore_ascii_case(s)) {
        Some(true)
    } else if F.iter().any(|f| f.eq_ignore_ascii_case(s)) {
        Some(false)
    } else {
        None
    }
}

const BOOL_WORDS: &str = "expected on/off, yes/no, true/false, enable/disable or 1/0";

fn need<'a>(key: &str, value: Option<&'a str>) -> Result<&'a str, Error> {
    match value {
        Some(v) if !v.is_empty() => Ok(v),
        _ => Err(Error::MissingValue(key.to_string())),
    }
}

fn flag(key: &str, value: Option<&str>) -> Result<(), Error> {
    match value {
        None => Ok(()),
        Some(_) => Err(Error::UnexpectedValue(key.to_string())),
    }
}

fn boolean(key: &str, value: Option<&str>) -> Result<bool, Error> {
    let v = need(key, value)?;
    parse_bool(v).ok_or_else(|| Error::invalid(key, v, BOOL_WORDS))
}

/// A decimal unsigned integer in `min..=max` (no sign, no spaces, no hex).
fn uint(key: &str, value: Option<&str>, min: u64, max: u64) -> Result<u64, Error> {
    let v = need(key, value)?;
    if !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::invalid(key, v, "expected a non-negative integer"));
    }
    match v.parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(Error::invalid(
            key,
            v,
            format!("expected an integer from {min} to {max}"),
        )),
    }
}

fn u32_in(key: &str, value: Option<&str>, min: u32, max: u32) -> Result<u32, Error> {
    // The range keeps the value inside u32.
    uint(key, value, min.into(), max.into()).map(|n| u32::try_from(n).unwrap_or(max))
}

fn u16_in(key: &str, value: Option<&str>, min: u16, max: u16) -> Result<u16, Error> {
    uint(key, value, min.into(), max.into()).map(|n| u16::try_from(n).unwrap_or(max))
}

/// Largest timeout accepted, in seconds (a FUSE timeout is a u64 of seconds; a year is plenty).
const MAX_TIMEOUT_SECS: f64 = 365.0 * 24.0 * 3600.0;

/// Seconds as a non-negative decimal (`1`, `0.5`, `.25`, `2.`); no exponent, no inf/nan.
fn seconds(key: &str, value: Option<&str>) -> Result<Duration, Error> {
    let v = need(key, value)?;
    let digits_and_dot = v.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    let dots = v.bytes().filter(|&b| b == b'.').count();
    let any_digit = v.bytes().any(|b| b.is_ascii_digit());
    if !digits_and_dot || dots > 1 || !any_digit {
        return Err(Error::invalid(
            key,
            v,
            "expected a non-negative number of seconds",
        ));
    }
    let secs: f64 = v
        .parse()
        .map_err(|_| Error::invalid(key, v, "expected a non-negative number of seconds"))?;
    if !(0.0..=MAX_TIMEOUT_SECS).contains(&secs) {
        return Err(Error::invalid(key, v, "out of range (at most one year)"));
    }
    Duration::try_from_secs_f64(secs)
        .map_err(|_| Error::invalid(key, v, "expected a non-negative number of seconds"))
}

/// A timeout that must be positive (gluster-rs's own connect/mount timeouts).
fn positive_seconds(key: &str, value: Option<&str>) -> Result<Duration, Error> {
    let d = seconds(key, value)?;
    if d.is_zero() {
        return Err(Error::invalid(
            key,
            value.unwrap_or_default(),
            "must be greater than 0",
        ));
    }
    Ok(d)
}

fn host(key: &str, h: &str) -> Result<String, Error> {
    spec::validate_host(h).map_err(|reason| Error::invalid(key, h, reason))
}

/// `backup-volfile-servers`: colon-separated hosts; an IPv6 address goes in brackets
/// (`h1:[fe80::1]:h2`), as `parse_backup_volfile_servers` in mount.glusterfs. Empty entries are
/// skipped as there.
pub fn parse_backup_servers(v: &str) -> Result<Vec<String>, Error> {
    const KEY: &str = "backup-volfile-servers";
    let mut out = Vec::new();
    let mut rest = v;
    while !rest.is_empty() {
        let (entry, tail) = if let Some(after) = rest.strip_prefix('[') {
            let close = after
                .find(']')
                .ok_or_else(|| Error::invalid(KEY, v, "unclosed '['"))?;
            let inner = &after[..close];
            let tail = &after[close + 1..];
            if !inner.contains(':') {
                return Err(Error::invalid(
                    KEY,
                    v,
                    "brackets are only for IPv6 addresses",
                ));
            }
            let tail = match tail.strip_prefix(':') {
                Some(t) => t,
                None if tail.is_empty() => tail,
                None => return Err(Error::invalid(KEY, v, "expected ':' after ']'")),
            };
            (inner, tail)
        } else {
            match rest.split_once(':') {
                Some((e, t)) => (e, t),
                None => (rest, ""),
            }
        };
        if entry.contains('[') || entry.contains(']') {
            return Err(Error::invalid(KEY, v, "misplaced bracket"));
        }
        if !entry.is_empty() {
            out.push(host(KEY, entry)?);
        }
        rest = tail;
    }
    if out.is_empty() {
        return Err(Error::invalid(KEY, v, "no server in the list"));
    }
    Ok(out)
}

fn ignore(opts: &mut MountOptions, key: &str, value: Option<&str>, reason: &'static str) {
    let option = match value {
        Some(v) => format!("{key}={v}"),
        None => key.to_string(),
    };
    opts.ignored.push(IgnoredOption { option, reason });
}

const NO_EFFECT: &str = "accepted for mount.glusterfs compatibility; no effect in gluster-rs";

impl MountOptions {
    /// Apply one option (`key` or `key=value`). Later options override earlier ones, as in
    /// mount.glusterfs; `xlator-option` accumulates.
    pub fn apply(&mut self, key: &str, value: Option<&str>) -> Result<(), Error> {
        match key {
            // ---------------------------------------------------------------- volfile source
            "backup-volfile-servers" => {
                self.backup_volfile_servers = parse_backup_servers(need(key, value)?)?;
            }
            "backupvolfile-server" => {
                self.backupvolfile_server = Some(host(key, need(key, value)?)?);
            }
            "server-port" => self.server_port = Some(u16_in(key, value, 1, u16::MAX)?),
            "transport" => {
                let v = need(key, value)?;
                if v.eq_ignore_ascii_case("tcp") || v.eq_ignore_ascii_case("socket") {
                    self.transport = Transport::Tcp;
                } else if v.eq_ignore_ascii_case("rdma") {
                    return Err(Error::Unsupported {
                        what: format!("transport={v}"),
                        reason: "only tcp is implemented".into(),
                    });
                } else {
                    return Err(Error::invalid(key, v, "expected tcp"));
                }
            }
            "volume-id" => {
                let v = need(key, value)?;
                let name = v.strip_prefix('/').unwrap_or(v);
                spec::validate_volume_name(name).map_err(|r| Error::invalid(key, v, r))?;
                self.volume_id = Some(name.to_string());
            }
            "subdir-mount" => {
                let v = need(key, value)?;
                let sub = spec::normalize_subdir(v).map_err(|r| Error::invalid(key, v, r))?;
                self.subdir_mount = sub;
            }
            "fetch-attempts" => self.fetch_attempts = u32_in(key, value, 1, 1000)?,

            // ---------------------------------------------------------------- logging
            "log-level" => {
                let v = need(key, value)?;
                self.log_level = LogLevel::parse(v).ok_or_else(|| {
                    Error::invalid(
                        key,
                        v,
                        "expected TRACE, DEBUG, INFO, WARNING, ERROR, CRITICAL or NONE",
                    )
                })?;
            }
            "log-file" => self.log_file = Some(PathBuf::from(need(key, value)?)),
            "localtime-logging" => {
                flag(key, value)?;
                self.localtime_logging = true;
            }

            // ---------------------------------------------------------------- FUSE behaviour
            "attribute-timeout" => self.attribute_timeout = Some(seconds(key, value)?),
            "entry-timeout" => self.entry_timeout = Some(seconds(key, value)?),
            "negative-timeout" => self.negative_timeout = Some(seconds(key, value)?),
            "gid-timeout" => {
                let n = uint(key, value, 0, MAX_TIMEOUT_SECS as u64)?;
                self.gid_timeout = Some(Duration::from_secs(n));
            }
            "lru-limit" => self.lru_limit = Some(u32_in(key, value, 0, i32::MAX as u32)?),
            "invalidate-limit" => {
                self.invalidate_limit = Some(u32_in(key, value, 0, i32::MAX as u32)?)
            }
            "inode-table-size" => {
                self.inode_table_size = Some(u32_in(key, value, 1, i32::MAX as u32)?)
            }
            "background-qlen" => self.background_qlen = Some(u16_in(key, value, 1, u16::MAX)?),
            "congestion-threshold" => {
                self.congestion_threshold = Some(u16_in(key, value, 1, u16::MAX)?)
            }
            "direct-io-mode" => {
                let v = need(key, value)?;
                self.direct_io = if v.eq_ignore_ascii_case("auto") {
                    None
                } else {
                    Some(parse_bool(v).ok_or_else(|| {
                        Error::invalid(key, v, "expected enable, disable or auto")
                    })?)
                };
            }
            "use-readdirp" => self.use_readdirp = Some(boolean(key, value)?),
            "kernel-writeback-cache" => self.kernel_writeback_cache = Some(boolean(key, value)?),
            "fopen-keep-cache" => {
                self.fopen_keep_cache = Some(match value {
                    None => true,
                    Some(_) => boolean(key, value)?,
                });
            }
            "reader-thread-count" => self.reader_thread_count = Some(u32_in(key, value, 1, 64)?),
            "open-behind" => self.open_behind = Some(boolean(key, value)?),
            "quick-read" => self.quick_read = Some(boolean(key, value)?),
            "write-behind" => self.write_behind = Some(boolean(key, value)?),
            "auto-invalidation" => self.auto_invalidation = Some(boolean(key, value)?),
            "attr-times-granularity" => {
                self.attr_times_granularity = Some(u32_in(key, value, 0, 1_000_000_000)?)
            }
            "enable-ino32" => {
                flag(key, value)?;
                self.enable_ino32 = true;
            }
            "resolve-gids" => {
                flag(key, value)?;
                self.resolve_gids = true;
            }

            // ---------------------------------------------------------------- access
            "ro" => {
                flag(key, value)?;
                self.read_only = true;
            }
            // mount.glusterfs: "mount -t glusterfs" sends this, but it's useless.
            "rw" => flag(key, value)?,
            "defaults" => flag(key, value)?,
            "acl" => {
                flag(key, value)?;
                self.acl = true;
            }
            "selinux" => {
                flag(key, value)?;
                self.selinux = true;
            }
            "worm" => {
                flag(key, value)?;
                self.worm = true;
            }
            "aux-gfid-mount" => {
                flag(key, value)?;
                self.aux_gfid_mount = true;
            }
            "no-root-squash" => self.no_root_squash = boolean(key, value)?,
            "root-squash" => self.no_root_squash = !boolean(key, value)?,
            "xlator-option" => {
                let v = need(key, value)?;
                let x = XlatorOption::parse(v)
                    .ok_or_else(|| Error::invalid(key, v, "expected XLATOR.KEY=VALUE"))?;
                self.xlator_options.push(x);
            }
            "halo-max-latency" | "halo-max-replicas" | "halo-min-replicas" => {
                let n = uint(key, value, 0, i32::MAX as u64)?;
                self.xlator_options.push(XlatorOption {
                    xlator: "*replicate*".into(),
                    key: key.to_string(),
                    value: n.to_string(),
                });
            }
            "oom-score-adj" => {
                let v = need(key, value)?;
                let n = v
                    .parse::<i32>()
                    .ok()
                    .filter(|n| (-1000..=1000).contains(n))
                    .ok_or_else(|| {
                        Error::invalid(key, v, "expected an integer from -1000 to 1000")
                    })?;
                self.oom_score_adj = Some(n);
            }

            // ---------------------------------------------------------------- kernel flags
            "dev" | "nodev" => {
                flag(key, value)?;
                self.kernel.nodev = key == "nodev";
            }
            "suid" | "nosuid" => {
                flag(key, value)?;
                self.kernel.nosuid = key == "nosuid";
            }
            "exec" | "noexec" => {
                flag(key, value)?;
                self.kernel.noexec = key == "noexec";
            }
            "noatime" => {
                flag(key, value)?;
                self.kernel.atime = Some(AtimeMode::NoAtime);
            }
            "relatime" => {
                flag(key, value)?;
                self.kernel.atime = Some(AtimeMode::Relatime);
            }
            "strictatime" => {
                flag(key, value)?;
                self.kernel.atime = Some(AtimeMode::StrictAtime);
            }
            "atime" | "norelatime" | "nostrictatime" => {
                flag(key, value)?;
                let cleared = match key {
                    "atime" => AtimeMode::NoAtime,
                    "norelatime" => AtimeMode::Relatime,
                    _ => AtimeMode::StrictAtime,
                };
                if self.kernel.atime == Some(cleared) {
                    self.kernel.atime = None;
                }
            }
            "diratime" | "nodiratime" => {
                flag(key, value)?;
                self.kernel.nodiratime = key == "nodiratime";
            }
            // "lazyatime" is how mount.glusterfs spells it; the kernel's flag is lazytime.
            "lazytime" | "lazyatime" => {
                flag(key, value)?;
                self.kernel.lazytime = true;
            }
            "nolazytime" | "nolazyatime" => {
                flag(key, value)?;
                self.kernel.lazytime = false;
            }
            "auto_unmount" => {
                flag(key, value)?;
                self.kernel.auto_unmount = true;
            }
            "context" | "fscontext" | "defcontext" | "rootcontext" => {
                let v = need(key, value)?;
                let unq = v
                    .strip_prefix('"')
                    .and_then(|s| s.strip_suffix('"'))
                    .unwrap_or(v);
                if unq.is_empty() || unq.contains('"') {
                    return Err(Error::invalid(key, v, "expected an SELinux context"));
                }
                self.kernel.selinux_contexts.retain(|(k, _)| k != key);
                self.kernel
                    .selinux_contexts
                    .push((key.to_string(), unq.to_string()));
            }
            "fuse-mountopts" => {
                let v = need(key, value)?;
                self.kernel.fuse_mountopts.push(v.to_string());
            }

            // ---------------------------------------------------------------- boot-time only
            "auto" | "noauto" => {
                flag(key, value)?;
                self.fstab.auto = Some(key == "auto");
            }
            "_netdev" => {
                flag(key, value)?;
                self.fstab.netdev = true;
            }
            "nofail" => {
                flag(key, value)?;
                self.fstab.nofail = true;
            }

            // ---------------------------------------------------------------- gluster-rs's own
            "first-ack" => self.first_ack = Some(boolean(key, value)?),
            "connect-timeout" => self.connect_timeout = positive_seconds(key, value)?,
            "mount-timeout" => self.mount_timeout = Some(positive_seconds(key, value)?),
            "worker-threads" => {
                let n = uint(key, value, 1, 1024)?;
                self.worker_threads = Some(usize::try_from(n).unwrap_or(1024));
            }
            "allow-overmount" => {
                flag(key, value)?;
                self.allow_overmount = true;
            }

            // ---------------------------------------------------------------- accepted, no effect
            // mount.glusterfs: "not handled (yet?)"
            "async" | "sync" | "dirsync" | "mand" | "nomand" | "silent" | "loud" | "iversion"
            | "noiversion" => {
                flag(key, value)?;
                ignore(
                    self,
                    key,
                    value,
                    "mount option not handled (as in mount.glusterfs)",
                );
            }
            "mem-accounting" | "thin-client" => {
                flag(key, value)?;
                ignore(self, key, value, NO_EFFECT);
            }
            "global-threading" => {
                // glusterfsd: an empty value means yes.
                if let Some(v) = value.filter(|v| !v.is_empty()) {
                    parse_bool(v).ok_or_else(|| Error::invalid(key, v, BOOL_WORDS))?;
                }
                ignore(self, key, value, NO_EFFECT);
            }
            "event-history"
            | "fuse-flush-handle-interrupt"
            | "fuse-setlk-handle-interrupt"
            | "fuse-handle-copy_file_range"
            | "volfile-check" => {
                boolean(key, value)?;
                ignore(self, key, value, NO_EFFECT);
            }
            "fuse-dev-eperm-ratelimit-ns" => {
                u32_in(key, value, 0, 1_000_000_000)?;
                ignore(self, key, value, NO_EFFECT);
            }
            "volume-name" | "process-name" | "io-engine" | "dump-fuse" => {
                need(key, value)?;
                ignore(self, key, value, NO_EFFECT);
            }

            // comments or userspace application-specific options: dropped
            k if k.starts_with("x-") => {}

            _ => return Err(Error::UnknownOption(key.to_string())),
        }
        Ok(())
    }

    /// The kernel mount options including `ro` when read-only: what the FUSE mount should get.
    pub fn kernel_mount_options(&self) -> Vec<String> {
        let mut v = Vec::new();
        if self.read_only {
            v.push("ro".to_string());
        }
        v.extend(self.kernel.to_strings());
        v
    }
}
