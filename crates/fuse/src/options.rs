//! Mount options of the FUSE client and their parsing from `-o key[=value],...` strings, with
//! GlusterFS's option names where it has one (mount.glusterfs / glusterfsd).

use std::time::Duration;

use crate::FuseError;

/// How the FUSE client talks to the kernel. `Default` gives GlusterFS's defaults except where noted.
#[derive(Debug, Clone, PartialEq)]
pub struct FuseOptions {
    /// How long the kernel may trust attributes (`attribute-timeout`, default 1 s). Longer means
    /// fewer GETATTRs but later visibility of other clients' changes.
    pub attribute_timeout: Duration,
    /// How long the kernel may trust a name -> inode mapping (`entry-timeout`, default 1 s).
    pub entry_timeout: Duration,
    /// How long the kernel may remember that a name does not exist (`negative-timeout`, default 0:
    /// every miss goes to the bricks; raising it speeds up PATH-style searches but hides files
    /// created by other clients for that long).
    pub negative_timeout: Duration,
    /// `direct-io-mode`: `Some(true)` opens files with FOPEN_DIRECT_IO (no page cache: every
    /// read/write goes to the bricks, reads and writes see other clients at once, but no readahead,
    /// no mmap of shared writable mappings, and small I/O is slow); `Some(false)` and `None`
    /// (GlusterFS's "auto", which is off when the kernel supports big writes) use the page cache.
    pub direct_io: Option<bool>,
    /// `kernel-writeback-cache`: the kernel buffers writes in its page cache and sends them later
    /// in large batches (much faster small writes), at the cost of write errors surfacing only at
    /// fsync/close, of other clients seeing data late, and of the kernel owning file size and mtime
    /// while dirty pages exist. Off by default.
    pub writeback_cache: bool,
    /// `fopen-keep-cache`: keep cached pages across opens (FOPEN_KEEP_CACHE); the kernel drops
    /// them when it sees size or mtime change (FUSE_AUTO_INVAL_DATA). Off here; the mount helper
    /// turns it on unless told otherwise, as mount.glusterfs does.
    pub fopen_keep_cache: bool,
    /// `lru-limit`: inodes forgotten by the kernel that the client keeps as hints (default 65536).
    pub lru_limit: usize,
    /// `inode-limit`: when the kernel holds more inodes than this, the client asks it to drop the
    /// least recently used entries (as GlusterFS's lru-limit invalidation does), so the client's
    /// memory stays bounded even when the kernel has memory to spare. 0 = never ask (the kernel
    /// then forgets only under its own memory pressure). Default 131072.
    pub inode_limit: usize,
    /// Largest read/write request, bytes (default 1 MiB; the kernel caps it at its max_pages).
    pub max_write: u32,
    /// Kernel readahead window, bytes (default 1 MiB).
    pub max_readahead: u32,
    /// `background-qlen`: asynchronous requests (readahead, writeback) the kernel keeps in flight
    /// (default 64).
    pub max_background: u16,
    /// `congestion-threshold` (default 48).
    pub congestion_threshold: u16,
    /// `reader-thread-count`: threads reading /dev/fuse (each with its own cloned fd). Requests
    /// never wait for the network on these threads: each becomes a task on the runtime.
    pub reader_threads: usize,
    /// Mount read-only (`ro`).
    pub read_only: bool,
    /// Let other users use the mount (`allow_other`; GlusterFS always sets it).
    pub allow_other: bool,
    /// Unmount automatically when the client process dies (`auto_unmount`, via fusermount3).
    pub auto_unmount: bool,
    /// `acl`: POSIX ACL xattrs pass through and permission checks are left to the bricks; without
    /// it the kernel checks permissions itself (`default_permissions`) from the attributes.
    pub acl: bool,
    /// `selinux`: pass security.selinux through.
    pub selinux: bool,
    /// `capability`: pass security.capability through.
    pub capability: bool,
    /// Read supplementary groups from /proc/PID/status for permission checks on the bricks
    /// (default on, as GlusterFS; `resolve-groups=off` sends none).
    pub resolve_groups: bool,
    /// `gid-timeout`: how long a process's groups are cached (default 300 s; 0 = no cache).
    pub gid_timeout: Duration,
    /// Source shown in /proc/mounts, e.g. `host:/vol` (`fsname`).
    pub fs_name: String,
    /// Subtype: the mount shows as `fuse.<subtype>` (default `gluster-rs`).
    pub subtype: String,
    /// `open-behind` (default on, as GlusterFS's performance.open-behind): opening a file costs no
    /// round trip; reads and writes use the bricks' anonymous fds, and a real open happens only
    /// when needed (a lock, the file losing its last name, O_APPEND/O_SYNC/O_TRUNC opens).
    pub open_behind: bool,
    /// `quick-read` (default on, as performance.quick-read): lookups bring back the content of
    /// files up to 64 KiB, and reads within the attribute timeout are served from it.
    pub quick_read: bool,
    /// `write-behind` (default on, as performance.write-behind with strict-o-direct off, the C
    /// client's defaults): writes are acknowledged once queued and reach the bricks in the
    /// background, at most 1 MiB per file; overlapping writes, reads, stat, truncate, locks wait
    /// for them; a failure is reported by the next write, fsync or close. O_SYNC, O_DSYNC and
    /// O_APPEND files always wait.
    pub write_behind: bool,
    /// Other kernel mount flags/options passed through: nodev, nosuid, noexec, noatime, nodiratime,
    /// relatime, sync, dirsync, dev, suid, exec, atime, rw.
    pub kernel_options: Vec<String>,
}

impl Default for FuseOptions {
    fn default() -> Self {
        Self {
            attribute_timeout: Duration::from_secs(1),
            entry_timeout: Duration::from_secs(1),
            negative_timeout: Duration::ZERO,
            direct_io: None,
            writeback_cache: false,
            fopen_keep_cache: false,
            lru_limit: 65536,
            inode_limit: 131072,
            max_write: 1 << 20,
            max_readahead: 1 << 20,
            max_background: 64,
            congestion_threshold: 48,
            reader_threads: 2,
            read_only: false,
            allow_other: true,
            auto_unmount: false,
            acl: false,
            selinux: false,
            capability: false,
            resolve_groups: true,
            gid_timeout: Duration::from_secs(300),
            fs_name: "gluster-rs".to_string(),
            subtype: "gluster-rs".to_string(),
            kernel_options: Vec::new(),
            open_behind: true,
            quick_read: true,
            write_behind: true,
        }
    }
}

const KERNEL_FLAGS: &[&str] = &[
    "nodev",
    "nosuid",
    "noexec",
    "noatime",
    "nodiratime",
    "relatime",
    "strictatime",
    "sync",
    "dirsync",
    "dev",
    "suid",
    "exec",
    "atime",
    "diratime",
    "rw",
];

fn bad(key: &str, value: &str) -> FuseError {
    FuseError::InvalidOption(format!("{key}={value}"))
}

fn parse_bool(key: &str, v: Option<&str>) -> Result<bool, FuseError> {
    match v.map(str::to_ascii_lowercase).as_deref() {
        None | Some("on" | "yes" | "true" | "enable" | "1") => Ok(true),
        Some("off" | "no" | "false" | "disable" | "0") => Ok(false),
        Some(other) => Err(bad(key, other)),
    }
}

fn parse_secs(key: &str, v: Option<&str>) -> Result<Duration, FuseError> {
    let v = v.ok_or_else(|| bad(key, ""))?;
    let secs: f64 = v.parse().map_err(|_| bad(key, v))?;
    if !secs.is_finite() || !(0.0..=1e9).contains(&secs) {
        return Err(bad(key, v));
    }
    Ok(Duration::from_secs_f64(secs))
}

fn parse_num<T: std::str::FromStr>(key: &str, v: Option<&str>) -> Result<T, FuseError> {
    let v = v.ok_or_else(|| bad(key, ""))?;
    v.parse().map_err(|_| bad(key, v))
}

impl FuseOptions {
    /// Apply one option (`key` or `key=value`). Returns false for an option this crate does not
    /// know (the caller may own it, e.g. `backup-volfile-servers`).
    pub fn set(&mut self, opt: &str) -> Result<bool, FuseError> {
        let (key, value) = match opt.split_once('=') {
            Some((k, v)) => (k.trim(), Some(v.trim())),
            None => (opt.trim(), None),
        };
        match key.replace('_', "-").as_str() {
            "attribute-timeout" => self.attribute_timeout = parse_secs(key, value)?,
            "entry-timeout" => self.entry_timeout = parse_secs(key, value)?,
            "negative-timeout" => self.negative_timeout = parse_secs(key, value)?,
            "direct-io-mode" => {
                self.direct_io = match value.map(str::to_ascii_lowercase).as_deref() {
                    Some("auto") => None,
                    v => Some(parse_bool(key, v)?),
                }
            }
            "kernel-writeback-cache" | "writeback-cache" => {
                self.writeback_cache = parse_bool(key, value)?
            }
            "fopen-keep-cache" => self.fopen_keep_cache = parse_bool(key, value)?,
            "open-behind" => self.open_behind = parse_bool(key, value)?,
            "quick-read" => self.quick_read = parse_bool(key, value)?,
            "write-behind" => self.write_behind = parse_bool(key, value)?,
            "lru-limit" => self.lru_limit = parse_num(key, value)?,
            "inode-limit" => self.inode_limit = parse_num(key, value)?,
            "max-write" => {
                let v: u32 = parse_num(key, value)?;
                if !(4096..=(16 << 20)).contains(&v) {
                    return Err(bad(key, value.unwrap_or("")));
                }
                self.max_write = v;
            }
            "max-readahead" => self.max_readahead = parse_num(key, value)?,
            "background-qlen" => self.max_background = parse_num(key, value)?,
            "congestion-threshold" => self.congestion_threshold = parse_num(key, value)?,
            "reader-thread-count" => {
                let n: usize = parse_num(key, value)?;
                if !(1..=64).contains(&n) {
                    return Err(bad(key, value.unwrap_or("")));
                }
                self.reader_threads = n;
            }
            "ro" | "read-only" => self.read_only = parse_bool(key, value)?,
            "allow-other" => self.allow_other = parse_bool(key, value)?,
            "auto-unmount" => self.auto_unmount = parse_bool(key, value)?,
            "acl" => self.acl = parse_bool(key, value)?,
            "selinux" => self.selinux = parse_bool(key, value)?,
            "capability" => self.capability = parse_bool(key, value)?,
            "resolve-groups" => self.resolve_groups = parse_bool(key, value)?,
            "gid-timeout" => self.gid_timeout = parse_secs(key, value)?,
            "fsname" => self.fs_name = value.unwrap_or_default().to_string(),
            "subtype" => self.subtype = value.unwrap_or_default().to_string(),
            k if value.is_none() && KERNEL_FLAGS.contains(&k) => {
                self.kernel_options.push(k.to_string())
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Apply a comma-separated list; returns the options not recognised.
    pub fn set_all(&mut self, list: &str) -> Result<Vec<String>, FuseError> {
        let mut unknown = Vec::new();
        for opt in list.split(',').map(str::trim).filter(|o| !o.is_empty()) {
            if !self.set(opt)? {
                unknown.push(opt.to_string());
            }
        }
        Ok(unknown)
    }

    /// Refuse combinations that cannot work.
    pub fn validate(&self) -> Result<(), FuseError> {
        let ok_name = |s: &str| !s.is_empty() && !s.contains([',', '\0', ' ', '\n', '\t']);
        if !ok_name(&self.fs_name) {
            return Err(FuseError::InvalidOption(format!(
                "fsname {:?}",
                self.fs_name
            )));
        }
        if !ok_name(&self.subtype) || self.subtype.contains('.') {
            return Err(FuseError::InvalidOption(format!(
                "subtype {:?}",
                self.subtype
            )));
        }
        if self.reader_threads == 0 {
            return Err(FuseError::InvalidOption("reader-thread-count=0".into()));
        }
        if self.max_write < 4096 {
            return Err(FuseError::InvalidOption(format!(
                "max-write={}",
                self.max_write
            )));
        }
        if self.direct_io == Some(true) && self.writeback_cache {
            return Err(FuseError::InvalidOption(
                "direct-io-mode=on with kernel-writeback-cache".into(),
            ));
        }
        Ok(())
    }

    /// Mount(2) flags for the kernel options (and read-only).
    pub(crate) fn ms_flags(&self) -> nix::mount::MsFlags {
        use nix::mount::MsFlags;
        let mut f = MsFlags::empty();
        let has = |o: &str| self.kernel_options.iter().any(|k| k == o);
        // Like fusermount3: nosuid and nodev unless asked otherwise.
        if !has("suid") {
            f |= MsFlags::MS_NOSUID;
        }
        if !has("dev") {
            f |= MsFlags::MS_NODEV;
        }
        for o in &self.kernel_options {
            f |= match o.as_str() {
                "noexec" => MsFlags::MS_NOEXEC,
                "noatime" => MsFlags::MS_NOATIME,
                "nodiratime" => MsFlags::MS_NODIRATIME,
                "relatime" => MsFlags::MS_RELATIME,
                "strictatime" => MsFlags::MS_STRICTATIME,
                "sync" => MsFlags::MS_SYNCHRONOUS,
                "dirsync" => MsFlags::MS_DIRSYNC,
                _ => MsFlags::empty(),
            };
        }
        if self.read_only {
            f |= MsFlags::MS_RDONLY;
        }
        f
    }

    /// The FUSE-specific mount data after `fd=`/`rootmode=`/ids.
    pub(crate) fn fuse_mount_data(&self) -> Vec<String> {
        let mut v = Vec::new();
        if !self.acl {
            v.push("default_permissions".to_string());
        }
        if self.allow_other {
            v.push("allow_other".to_string());
        }
        v.push(format!("max_read={}", self.max_write));
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_glusterfs_option_names() {
        let mut o = FuseOptions::default();
        let unknown = o
            .set_all(
                "attribute-timeout=0.5,entry_timeout=2,negative-timeout=1,direct-io-mode=on,\
                 lru-limit=10,inode-limit=5,reader-thread-count=4,ro,noatime,nodev,acl,gid-timeout=0,\
                 fopen-keep-cache=off,backup-volfile-servers=a:b,fsname=vm:/v",
            )
            .unwrap();
        assert_eq!(unknown, vec!["backup-volfile-servers=a:b".to_string()]);
        assert_eq!(o.attribute_timeout, Duration::from_millis(500));
        assert_eq!(o.entry_timeout, Duration::from_secs(2));
        assert_eq!(o.negative_timeout, Duration::from_secs(1));
        assert_eq!(o.direct_io, Some(true));
        assert_eq!(o.lru_limit, 10);
        assert_eq!(o.inode_limit, 5);
        assert_eq!(o.reader_threads, 4);
        assert!(o.read_only && o.acl && !o.fopen_keep_cache);
        assert_eq!(o.gid_timeout, Duration::ZERO);
        assert_eq!(o.kernel_options, vec!["noatime", "nodev"]);
        assert_eq!(o.fs_name, "vm:/v");
        o.set("direct-io-mode=auto").unwrap();
        assert_eq!(o.direct_io, None);
        o.validate().unwrap();
    }

    #[test]
    fn rejects_bad_values() {
        let mut o = FuseOptions::default();
        assert!(o.set("attribute-timeout=x").is_err());
        assert!(o.set("attribute-timeout=-1").is_err());
        assert!(o.set("acl=maybe").is_err());
        assert!(o.set("reader-thread-count=0").is_err());
        assert!(o.set("max-write=100").is_err());
        o.subtype = "a.b".into();
        assert!(o.validate().is_err());
        let o = FuseOptions {
            direct_io: Some(true),
            writeback_cache: true,
            ..FuseOptions::default()
        };
        assert!(o.validate().is_err());
    }

    #[test]
    fn kernel_flags_and_data() {
        use nix::mount::MsFlags;
        let mut o = FuseOptions::default();
        assert_eq!(o.ms_flags(), MsFlags::MS_NOSUID | MsFlags::MS_NODEV);
        o.set_all("suid,noexec,ro").unwrap();
        assert_eq!(
            o.ms_flags(),
            MsFlags::MS_NODEV | MsFlags::MS_NOEXEC | MsFlags::MS_RDONLY
        );
        assert_eq!(
            o.fuse_mount_data(),
            vec!["default_permissions", "allow_other", "max_read=1048576"]
        );
        o.acl = true;
        o.allow_other = false;
        assert_eq!(o.fuse_mount_data(), vec!["max_read=1048576"]);
    }
}
