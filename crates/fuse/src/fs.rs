//! The request handlers: each fuser callback takes what it needs from the request and starts a
//! future that runs the fops and answers the kernel (polled here first, then on the runtime once
//! it waits: `inline::run`).

use std::collections::{HashMap, VecDeque};
use std::ffi::OsStr;
use std::future::Future;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use fop::{Caller, Dict, DirEntry, Fd, Flock, Gfid, Iatt, Loc, LockCmd, Subvolume};
use fuser::{
    AccessFlags, Errno, FileAttr, FileHandle, Filesystem, FopenFlags, Generation, INodeNo,
    InitFlags, KernelConfig, LockOwner, OpenFlags, RenameFlags, ReplyAttr, ReplyCreate, ReplyData,
    ReplyDirectory, ReplyDirectoryPlus, ReplyEmpty, ReplyEntry, ReplyLock, ReplyOpen, ReplyStatfs,
    ReplyWrite, ReplyXattr, Request, TimeOrNow, WriteFlags,
};
use proto::DictValue;
use tokio::runtime::Handle;
use tracing::Instrument;

use crate::attr::{dir_placeholder, split_time, to_file_attr};
use crate::caller::{GroupCache, ReqId};
use crate::flags::{
    self, clip_range, fallocate_mode, inode_errno, lk_owner_bytes, lock_from_fuse, lock_to_fuse,
    open_flags, sane_errno, Falloc, LockRange,
};
use crate::inode::{gfid_to_ino, InodeTable, ROOT_INO};
use crate::mdcache::MdCache;
use crate::pagecache::DataVersions;
use crate::writebehind::WriteBehind;
use crate::xattr::{self, GetAction, XattrPolicy, XattrReply};
use crate::{FuseOptions, MountStats};

/// Bytes of entries asked of the volume per readdirp (the kernel asks for a page at a time; the
/// rest is kept for its next request, like GlusterFS's readdir-ahead).
const READDIR_CHUNK: u32 = 128 * 1024;

type Res<T> = Result<T, i32>;

/// At least this many GFIDs in the attribute cache.
const MD_CACHE_MIN: usize = 65_536;

/// Files up to this size come back inside LOOKUP and are read from memory (quick-read's
/// `max-file-size`, 64 KiB by default).
const QUICK_READ_MAX: u64 = 64 * 1024;

/// Bytes of acknowledged writes in flight per file (write-behind's `cache-size`, 1 MiB) and for
/// the whole mount.
const WRITE_BEHIND_WINDOW: usize = 1 << 20;
const WRITE_BEHIND_TOTAL: usize = 32 << 20;

/// Open flags whose writes must not be acknowledged before they are done.
const SYNC_WRITES: i32 = libc::O_SYNC | libc::O_DSYNC | libc::O_APPEND;

/// Reads through an anonymous fd after which a file is opened for real: each such read makes the
/// brick open and close the file (server-helpers.c `fd_anonymous`), a real fd stays open.
const ANON_READS_BEFORE_OPEN: u32 = 4;

/// Open flags that need a real open on the bricks (open-behind opens the rest lazily).
const OPEN_FOR_REAL: i32 = libc::O_APPEND | libc::O_SYNC | libc::O_DSYNC | libc::O_TRUNC;

/// quick-read's xdata key: LOOKUP returns files up to this many bytes in it (GF_CONTENT_KEY,
/// libglusterfs/src/glusterfs/glusterfs.h; filled by posix-helpers.c _posix_xattr_get_set).
const CONTENT_KEY: &str = "glusterfs.content";

fn errno_of(e: &fop::FopError) -> i32 {
    sane_errno(e.errno())
}

/// Settings fixed at mount time.
#[derive(Debug, Clone)]
struct Settings {
    attr_ttl: Duration,
    entry_ttl: Duration,
    negative_ttl: Duration,
    direct_io: bool,
    keep_cache: bool,
    writeback: bool,
    acl: bool,
    xattr: XattrPolicy,
    max_write: u32,
    max_readahead: u32,
    max_background: u16,
    congestion_threshold: u16,
    inode_limit: usize,
    open_behind: bool,
}

/// An open file or directory.
struct OpenFile {
    /// The volume's fd; an anonymous one until a real open is needed (open-behind).
    fd: Mutex<Fd>,
    gfid: Gfid,
    /// The flags a real open would use.
    flags: i32,
    /// `fd` is anonymous: nothing opened on the bricks yet.
    anon: AtomicBool,
    /// Something was written through this handle.
    wrote: AtomicBool,
    /// The handle of a file this mount created (CREATE).
    created: AtomicBool,
    /// Serialises turning the anonymous fd into a real one.
    upgrade: tokio::sync::Mutex<()>,
    /// Reads that went to the bricks through the anonymous fd (each makes a brick open and close
    /// the file): past `ANON_READS_BEFORE_OPEN` the file is opened for real.
    anon_reads: AtomicU32,
    ino: u64,
    /// Directory read-ahead, for directories.
    dir: Option<Arc<tokio::sync::Mutex<DirStream>>>,
}

impl OpenFile {
    fn new(fd: Fd, ino: u64, dir: Option<Arc<tokio::sync::Mutex<DirStream>>>) -> Self {
        Self {
            gfid: fd.gfid,
            flags: fd.flags,
            fd: Mutex::new(fd),
            anon: AtomicBool::new(false),
            wrote: AtomicBool::new(false),
            created: AtomicBool::new(false),
            upgrade: tokio::sync::Mutex::new(()),
            anon_reads: AtomicU32::new(0),
            ino,
            dir,
        }
    }

    fn anonymous(fd: Fd, ino: u64, flags: i32) -> Self {
        let mut f = Self::new(fd, ino, None);
        f.flags = flags;
        f.anon = AtomicBool::new(true);
        f
    }

    fn fd(&self) -> Fd {
        lock(&self.fd).clone()
    }

    fn is_anon(&self) -> bool {
        self.anon.load(Ordering::Acquire)
    }
}

#[derive(Default)]
struct DirStream {
    /// The offset the buffered entries continue from.
    pos: u64,
    entries: VecDeque<DirEntry>,
    eof: bool,
    filled: bool,
}

impl DirStream {
    /// Buffer a batch read from `offset`.
    fn fill(&mut self, offset: u64, entries: Vec<DirEntry>, eof: bool) {
        self.eof = eof;
        self.entries = entries.into();
        self.pos = offset;
        self.filled = true;
    }
}

/// State shared by all handlers.
pub(crate) struct Core {
    vol: Arc<dyn Subvolume>,
    rt: Handle,
    inodes: Mutex<InodeTable>,
    files: Mutex<HashMap<u64, Arc<OpenFile>>>,
    next_fh: AtomicU64,
    in_flight: AtomicUsize,
    groups: GroupCache,
    cfg: Settings,
    /// For asking the kernel to drop entries (set once the session runs).
    notifier: OnceLock<fuser::Notifier>,
    /// Attributes (and small files' content) from replies, for the attribute timeout.
    md: MdCache,
    /// Writes acknowledged before they reach the volume (`write-behind`), when on.
    wb: Option<WriteBehind>,
    /// How many files created in a row were written before they were closed: from
    /// [`WRITES_AFTER_CREATE`] on, a new file's first write is prepared at create.
    create_writes: AtomicU32,
    /// What the kernel was told of each file's mtime, to drop its cached pages when another
    /// client changed it (with `fopen-keep-cache`; [`crate::pagecache`]).
    versions: DataVersions,
}

/// Created files written in a row before [`Core::create`] prepares the next one's first write.
const WRITES_AFTER_CREATE: u32 = 2;

/// Decrements the in-flight counter when a task ends.
struct InFlight<'a>(&'a AtomicUsize);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

enum EntryOut {
    Positive(FileAttr),
    Negative,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding these locks cannot leave them inconsistent in a way that matters more
    // than stopping the mount would; keep serving.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn name_bytes(name: &OsStr) -> Bytes {
    Bytes::copy_from_slice(name.as_bytes())
}

fn name_str(name: &OsStr) -> Res<String> {
    name.to_str().map(str::to_string).ok_or(libc::EINVAL)
}

/// xdata asking the bricks to give a new entry this GFID ("gfid-req"), as fuse-bridge does for
/// every entry creation and every lookup of a name it does not know yet (fuse_gfid_set).
fn gfid_req() -> Dict {
    let mut d = Dict::new();
    d.set_gfuuid("gfid-req", Gfid(*uuid::Uuid::new_v4().as_bytes()));
    d
}

impl Core {
    pub(crate) fn new(vol: Arc<dyn Subvolume>, opts: &FuseOptions, rt: Handle) -> Self {
        Self {
            vol,
            rt,
            inodes: Mutex::new(InodeTable::new(opts.lru_limit)),
            files: Mutex::new(HashMap::new()),
            next_fh: AtomicU64::new(1),
            in_flight: AtomicUsize::new(0),
            groups: GroupCache::new(opts.resolve_groups, opts.gid_timeout),
            cfg: Settings {
                attr_ttl: opts.attribute_timeout,
                entry_ttl: opts.entry_timeout,
                negative_ttl: opts.negative_timeout,
                direct_io: opts.direct_io == Some(true),
                keep_cache: opts.fopen_keep_cache,
                writeback: opts.writeback_cache,
                acl: opts.acl,
                xattr: XattrPolicy {
                    acl: opts.acl,
                    selinux: opts.selinux,
                    capability: opts.capability,
                },
                max_write: opts.max_write,
                max_readahead: opts.max_readahead,
                max_background: opts.max_background,
                congestion_threshold: opts.congestion_threshold,
                inode_limit: opts.inode_limit,
                open_behind: opts.open_behind,
            },
            notifier: OnceLock::new(),
            md: MdCache::new(
                opts.attribute_timeout,
                opts.lru_limit.max(MD_CACHE_MIN),
                if opts.quick_read { QUICK_READ_MAX } else { 0 },
            ),
            wb: opts
                .write_behind
                .then(|| WriteBehind::new(WRITE_BEHIND_WINDOW, WRITE_BEHIND_TOTAL)),
            create_writes: AtomicU32::new(0),
            versions: DataVersions::default(),
        }
    }

    pub(crate) fn stats(&self) -> MountStats {
        let t = lock(&self.inodes);
        MountStats {
            inodes: t.len(),
            kernel_inodes: t.active_len(),
            lru_inodes: t.lru_len(),
            open_handles: lock(&self.files).len(),
            in_flight: self.in_flight.load(Ordering::Relaxed),
        }
    }

    fn gfid(&self, ino: u64) -> Res<Gfid> {
        let mut t = lock(&self.inodes);
        t.touch(ino);
        t.gfid(ino).ok_or(libc::ESTALE)
    }

    pub(crate) fn set_notifier(&self, n: fuser::Notifier) {
        let _ = self.notifier.set(n);
    }

    fn caller(&self, id: &ReqId) -> Caller {
        self.groups.caller(id, None)
    }

    fn file(&self, fh: u64) -> Res<Arc<OpenFile>> {
        lock(&self.files).get(&fh).cloned().ok_or(libc::EBADF)
    }

    fn add_file(&self, of: OpenFile) -> u64 {
        let fh = self.next_fh.fetch_add(1, Ordering::Relaxed);
        lock(&self.files).insert(fh, Arc::new(of));
        fh
    }

    /// Record an entry handed to the kernel (one lookup) and build its attributes.
    fn link_entry(&self, parent: u64, name: &[u8], iatt: &Iatt) -> Res<FileAttr> {
        if iatt.gfid.is_null() {
            tracing::warn!(parent, name = %String::from_utf8_lossy(name), "entry without GFID; EIO");
            return Err(libc::EIO);
        }
        self.md.put(iatt);
        let ino = lock(&self.inodes)
            .link(Some((parent, name)), iatt.gfid)
            .map_err(|c| {
                tracing::error!(ino = c.ino, existing = %c.existing, new = %c.new,
                    "inode number collision between two live GFIDs; EIO");
                libc::EIO
            })?;
        Ok(self.kernel_attr(iatt, ino))
    }

    /// The attributes to give the kernel for `iatt`. With kept pages (`fopen-keep-cache`), a
    /// regular file whose mtime moved without a write of this mount has its pages dropped.
    fn kernel_attr(&self, iatt: &Iatt, ino: u64) -> FileAttr {
        if self.cfg.keep_cache && iatt.is_reg() {
            let writing = !self.wb_idle(&iatt.gfid);
            if self
                .versions
                .told(ino, (iatt.mtime, iatt.mtime_nsec), writing)
            {
                self.drop_pages(ino);
            }
        }
        to_file_attr(iatt, ino)
    }

    /// Ask the kernel to drop the cached pages of `ino` (from a blocking thread: the kernel may
    /// wait for page locks that reads in progress hold).
    fn drop_pages(&self, ino: u64) {
        let Some(notifier) = self.notifier.get().cloned() else {
            return;
        };
        tracing::debug!(ino, "changed elsewhere: dropping cached pages");
        self.rt.spawn_blocking(move || {
            // ENOENT: the kernel no longer has the inode.
            let _ = notifier.inval_inode(INodeNo(ino), 0, 0);
        });
    }

    /// xdata of the kernel's lookups: a GFID for a new entry, and quick-read's content request.
    fn lookup_xdata(&self) -> Dict {
        let mut d = gfid_req();
        if self.md.enabled() && self.md.content_max > 0 {
            d.set_u64(CONTENT_KEY, self.md.content_max);
        }
        d
    }

    /// Give an open-behind file a real fd on the bricks (before a lock, or before its last name
    /// goes: anonymous fds find the file by GFID through its name's handle).
    async fn open_for_real(&self, id: &ReqId, of: &OpenFile) -> Res<()> {
        if !of.is_anon() {
            return Ok(());
        }
        let _g = of.upgrade.lock().await;
        if !of.is_anon() {
            return Ok(());
        }
        self.wb_drain(&of.gfid).await;
        let c = self.caller(id);
        let real = self
            .vol
            .open(&c, &Loc::gfid(of.gfid), of.flags)
            .await
            .map_err(|e| inode_errno(e.errno()))?;
        let old = std::mem::replace(&mut *lock(&of.fd), real);
        of.anon.store(false, Ordering::Release);
        // Writes still running through the anonymous fd finish first (replicate's flush waits
        // for them); then it is dropped.
        if let Err(e) = self.vol.flush(&c, &old).await {
            tracing::debug!(gfid = %of.gfid, error = %e, "flush of the anonymous fd");
        }
        self.vol.release(&old).await;
        Ok(())
    }

    /// Real fds for every open-behind file of `gfid` (its last name may be about to go).
    async fn open_all_for_real(&self, id: &ReqId, gfid: &Gfid) {
        let files: Vec<Arc<OpenFile>> = lock(&self.files)
            .values()
            .filter(|f| f.gfid == *gfid && f.is_anon())
            .cloned()
            .collect();
        for f in files {
            if let Err(errno) = self.open_for_real(id, &f).await {
                tracing::warn!(gfid = %gfid, errno, "could not open an open-behind file for real");
            }
        }
    }

    /// No write of `gfid` in flight behind the application.
    fn wb_idle(&self, gfid: &Gfid) -> bool {
        self.wb.as_ref().is_none_or(|wb| wb.idle(gfid))
    }

    // Answers from what this client holds: each returns None when the network is needed. A
    // request they answer completes in its first poll, on the FUSE reader thread (inline::run).

    fn getattr_cached(&self, ino: u64) -> Option<FileAttr> {
        let gfid = lock(&self.inodes).gfid(ino)?;
        if !self.wb_idle(&gfid) {
            return None;
        }
        self.md.get(&gfid).map(|iatt| self.kernel_attr(&iatt, ino))
    }

    /// open-behind: no open on the bricks until something needs a real one (a lock, the file
    /// losing its last name). Flags the bricks must see on a real fd open for real; permissions
    /// were checked by the kernel (default_permissions).
    fn open_cached(&self, ino: u64, flags: i32) -> Option<(u64, FopenFlags)> {
        let want = open_flags(flags, self.cfg.writeback);
        if !self.cfg.open_behind || want & OPEN_FOR_REAL != 0 {
            return None;
        }
        let gfid = self.gfid(ino).ok()?;
        let fd = self.vol.open_anonymous(gfid, want).ok()?;
        let fh = self.add_file(OpenFile::anonymous(fd, ino, want));
        Some((fh, self.open_reply_flags(false)))
    }

    fn read_cached(&self, fh: u64, offset: u64, size: u32) -> Option<Bytes> {
        let of = self.file(fh).ok()?;
        if !self.wb_idle(&of.gfid) {
            return None;
        }
        let content = self.md.content(&of.gfid)?;
        let len = content.len() as u64;
        let start = offset.min(len) as usize;
        let end = offset.saturating_add(u64::from(size)).min(len) as usize;
        Some(content.slice(start..end))
    }

    /// Wait for the file's writes still in flight behind the application (write-behind).
    async fn wb_drain(&self, gfid: &Gfid) {
        if let Some(wb) = &self.wb {
            wb.drain(gfid).await;
        }
    }

    /// Wait for them and take the first error one of them had.
    async fn wb_settle(&self, gfid: &Gfid) -> Res<()> {
        match &self.wb {
            Some(wb) => wb.settle(gfid).await,
            None => Ok(()),
        }
    }

    fn open_reply_flags(&self, is_dir: bool) -> FopenFlags {
        let mut f = FopenFlags::empty();
        if !is_dir {
            if self.cfg.direct_io {
                f |= FopenFlags::FOPEN_DIRECT_IO | FopenFlags::FOPEN_PARALLEL_DIRECT_WRITES;
            }
            if self.cfg.keep_cache {
                f |= FopenFlags::FOPEN_KEEP_CACHE;
            }
        }
        f
    }

    fn entry_ttl_plus(&self) -> Duration {
        self.cfg.entry_ttl.min(self.cfg.attr_ttl)
    }

    // ---------------------------------------------------------------------------------------
    // Handlers. Each returns the errno the kernel should see on failure.

    async fn lookup(&self, id: ReqId, parent: u64, name: Bytes) -> Res<EntryOut> {
        let pgfid = self.gfid(parent)?;
        let c = self.caller(&id);
        // The size a lookup reports must include writes acknowledged behind (wb_lookup).
        let known = lock(&self.inodes).dentry(parent, &name).map(|(_, g)| g);
        if let Some(g) = known {
            self.wb_drain(&g).await;
        }
        match self
            .vol
            .lookup(&c, &Loc::entry(pgfid, name.clone()), &self.lookup_xdata())
            .await
        {
            Ok(l) => {
                self.md.put_opt(l.postparent.as_ref());
                if let Some(content) = l.xdata.get(CONTENT_KEY).and_then(|v| v.as_bytes()) {
                    let content = content.clone();
                    self.md.put_content(&l.iatt, content);
                }
                Ok(EntryOut::Positive(self.link_entry(parent, &name, &l.iatt)?))
            }
            Err(e) if e.is(libc::ENOENT) => {
                lock(&self.inodes).unlink(parent, &name);
                if self.cfg.negative_ttl.is_zero() {
                    Err(libc::ENOENT)
                } else {
                    Ok(EntryOut::Negative)
                }
            }
            Err(e) => Err(errno_of(&e)),
        }
    }

    async fn getattr(&self, id: ReqId, ino: u64, fh: Option<u64>) -> Res<FileAttr> {
        if let Ok(g) = self.gfid(ino) {
            self.wb_drain(&g).await;
        }
        if let Some(a) = self.getattr_cached(ino) {
            return Ok(a);
        }
        let c = self.caller(&id);
        if let Some(of) = fh.and_then(|fh| self.file(fh).ok()) {
            if of.dir.is_none() {
                let iatt = self
                    .vol
                    .fstat(&c, &of.fd())
                    .await
                    .map_err(|e| errno_of(&e))?;
                self.md.put(&iatt);
                return Ok(self.kernel_attr(&iatt, ino));
            }
        }
        let gfid = self.gfid(ino)?;
        let iatt = if ino == ROOT_INO {
            // fuse-bridge answers GETATTR on the root with a LOOKUP (DHT wants lookups on "/").
            self.vol
                .lookup(&c, &Loc::gfid(Gfid::ROOT), &Dict::new())
                .await
                .map(|l| l.iatt)
        } else {
            self.vol.stat(&c, &Loc::gfid(gfid)).await
        };
        let iatt = iatt.map_err(|e| inode_errno(e.errno()))?;
        self.md.put(&iatt);
        Ok(self.kernel_attr(&iatt, ino))
    }

    #[allow(clippy::too_many_arguments)]
    async fn setattr(
        &self,
        id: ReqId,
        ino: u64,
        mode: Option<u32>,
        uid: Option<u32>,
        gid: Option<u32>,
        size: Option<u64>,
        atime: Option<TimeOrNow>,
        mtime: Option<TimeOrNow>,
        fh: Option<u64>,
    ) -> Res<FileAttr> {
        use fop::set_attr;
        use proto::consts::setattr as wire;
        let c = self.caller(&id);
        let gfid = self.gfid(ino)?;
        self.wb_drain(&gfid).await;
        let of = match fh {
            Some(fh) => self.file(fh).ok().filter(|f| f.dir.is_none()),
            None => None,
        };
        let mut attr = Iatt {
            gfid,
            ..Iatt::default()
        };
        let mut valid = 0u32;
        if let Some(m) = mode {
            attr.mode = m;
            valid |= set_attr::MODE;
        }
        if let Some(u) = uid {
            attr.uid = u;
            valid |= set_attr::UID;
        }
        if let Some(g) = gid {
            attr.gid = g;
            valid |= set_attr::GID;
        }
        let now = SystemTime::now();
        if let Some(t) = atime {
            let (s, n) = split_time(match t {
                TimeOrNow::SpecificTime(t) => t,
                TimeOrNow::Now => {
                    valid |= wire::ATIME_NOW as u32;
                    now
                }
            });
            attr.atime = s;
            attr.atime_nsec = n;
            valid |= set_attr::ATIME;
        }
        if let Some(t) = mtime {
            let (s, n) = split_time(match t {
                TimeOrNow::SpecificTime(t) => t,
                TimeOrNow::Now => {
                    valid |= wire::MTIME_NOW as u32;
                    now
                }
            });
            attr.mtime = s;
            attr.mtime_nsec = n;
            valid |= set_attr::MTIME;
        }
        let fd_err = |e: fop::FopError| errno_of(&e);
        let loc_err = |e: fop::FopError| inode_errno(e.errno());
        let mut post: Option<Iatt> = None;
        self.md.invalidate(&gfid);
        if valid != 0 {
            let times = valid & (set_attr::ATIME | set_attr::MTIME) != 0;
            // fuse_setattr_resume: no fsetattr when times change ("there is no futimes").
            let pp = match (&of, times) {
                (Some(of), false) => self
                    .vol
                    .fsetattr(&c, &of.fd(), &attr, valid)
                    .await
                    .map_err(fd_err)?,
                _ => self
                    .vol
                    .setattr(&c, &Loc::gfid(gfid), &attr, valid)
                    .await
                    .map_err(loc_err)?,
            };
            post = Some(pp.post);
        }
        if let Some(sz) = size {
            let pp = match &of {
                Some(of) => self.vol.ftruncate(&c, &of.fd(), sz).await.map_err(fd_err)?,
                None => self
                    .vol
                    .truncate(&c, &Loc::gfid(gfid), sz)
                    .await
                    .map_err(loc_err)?,
            };
            post = Some(pp.post);
        }
        let post = match post {
            Some(p) if !p.gfid.is_null() || p.mode != 0 => p,
            // Nothing to change (or a layer sent no attributes back): report current ones.
            _ => self.vol.stat(&c, &Loc::gfid(gfid)).await.map_err(loc_err)?,
        };
        if post.gfid == gfid {
            self.md.put(&post);
        }
        Ok(self.kernel_attr(&post, ino))
    }

    async fn readlink(&self, id: ReqId, ino: u64) -> Res<Bytes> {
        let gfid = self.gfid(ino)?;
        self.vol
            .readlink(&self.caller(&id), &Loc::gfid(gfid))
            .await
            .map_err(|e| inode_errno(e.errno()))
    }

    /// Errors of entry creation: fuse_newentry_cbk turns ENOENT into ESTALE (the parent went away;
    /// let the VFS look it up again).
    fn new_entry_errno(e: &fop::FopError) -> i32 {
        inode_errno(e.errno())
    }

    fn masked(&self, mode: u32, umask: u32) -> (u32, u32) {
        // FUSE_DONT_MASK is negotiated: apply the umask here and pass it on for the bricks'
        // default-ACL handling only when ACLs are on (FUSE_ENTRY_CREATE in fuse-bridge.h).
        (mode & !umask, if self.cfg.acl { umask } else { 0 })
    }

    async fn mknod(
        &self,
        id: ReqId,
        parent: u64,
        name: Bytes,
        mode: u32,
        umask: u32,
        rdev: u32,
    ) -> Res<FileAttr> {
        let pgfid = self.gfid(parent)?;
        let (mode, umask) = self.masked(mode, umask);
        let (major, minor) = flags::kernel_dev_split(rdev);
        let dev = libc::makedev(major, minor);
        let e = self
            .vol
            .mknod(
                &self.caller(&id),
                &Loc::entry(pgfid, name.clone()),
                mode,
                dev,
                umask,
                &gfid_req(),
            )
            .await
            .map_err(|e| Self::new_entry_errno(&e))?;
        self.md.put_opt(e.postparent.as_ref());
        self.link_entry(parent, &name, &e.iatt)
    }

    async fn mkdir(
        &self,
        id: ReqId,
        parent: u64,
        name: Bytes,
        mode: u32,
        umask: u32,
    ) -> Res<FileAttr> {
        let pgfid = self.gfid(parent)?;
        let (mode, umask) = self.masked(mode, umask);
        let e = self
            .vol
            .mkdir(
                &self.caller(&id),
                &Loc::entry(pgfid, name.clone()),
                mode,
                umask,
                &gfid_req(),
            )
            .await
            .map_err(|e| Self::new_entry_errno(&e))?;
        self.md.put_opt(e.postparent.as_ref());
        self.link_entry(parent, &name, &e.iatt)
    }

    async fn symlink(&self, id: ReqId, parent: u64, name: Bytes, target: Bytes) -> Res<FileAttr> {
        let pgfid = self.gfid(parent)?;
        let e = self
            .vol
            .symlink(
                &self.caller(&id),
                &target,
                &Loc::entry(pgfid, name.clone()),
                0,
                &gfid_req(),
            )
            .await
            .map_err(|e| Self::new_entry_errno(&e))?;
        self.md.put_opt(e.postparent.as_ref());
        self.link_entry(parent, &name, &e.iatt)
    }

    async fn link(&self, id: ReqId, ino: u64, newparent: u64, newname: Bytes) -> Res<FileAttr> {
        let gfid = self.gfid(ino)?;
        let npgfid = self.gfid(newparent)?;
        let e = self
            .vol
            .link(
                &self.caller(&id),
                &Loc::gfid(gfid),
                &Loc::entry(npgfid, newname.clone()),
                &Dict::new(),
            )
            .await
            .map_err(|e| Self::new_entry_errno(&e))?;
        self.md.put_opt(e.postparent.as_ref());
        self.link_entry(newparent, &newname, &e.iatt)
    }

    async fn unlink(&self, id: ReqId, parent: u64, name: Bytes, dir: bool) -> Res<()> {
        let pgfid = self.gfid(parent)?;
        let c = self.caller(&id);
        // The GFID the kernel's lookup just found under this name lets the layers below skip
        // looking it up again.
        let child = lock(&self.inodes).dentry(parent, &name).map(|(_, g)| g);
        let mut loc = Loc::entry(pgfid, name.clone());
        if let Some(g) = child {
            loc = loc.with_gfid(g);
            if !dir {
                self.open_all_for_real(&id, &g).await;
            }
        }
        let r = if dir {
            self.vol.rmdir(&c, &loc, 0, &Dict::new()).await
        } else {
            self.vol.unlink(&c, &loc, &Dict::new()).await
        };
        if let Some(g) = child {
            self.md.invalidate(&g);
        }
        let postparent = match r {
            Ok(p) => p,
            Err(e) => {
                self.md.invalidate(&pgfid);
                return Err(inode_errno(e.errno()));
            }
        };
        match postparent.filter(|p| p.gfid == pgfid) {
            Some(p) => self.md.put(&p),
            None => self.md.invalidate(&pgfid),
        }
        lock(&self.inodes).unlink(parent, &name);
        Ok(())
    }

    async fn rename(
        &self,
        id: ReqId,
        parent: u64,
        name: Bytes,
        newparent: u64,
        newname: Bytes,
    ) -> Res<()> {
        let pgfid = self.gfid(parent)?;
        let npgfid = self.gfid(newparent)?;
        let c = self.caller(&id);
        let newloc = Loc::entry(npgfid, newname.clone());
        let target = lock(&self.inodes).dentry(newparent, &newname);
        if let Some((_, target)) = target {
            // Replacing it may remove its last name.
            self.open_all_for_real(&id, &target).await;
        }
        // The source's GFID: the hint from the last lookup the kernel made (it looks the name up
        // right before a rename); if that is gone or turns out stale, a fresh lookup.
        let hint = lock(&self.inodes).dentry(parent, &name).map(|(_, g)| g);
        let mut tried_hint = false;
        let mut src = match hint {
            Some(g) => {
                tried_hint = true;
                g
            }
            None => self.lookup_gfid(&c, pgfid, &name).await?,
        };
        loop {
            let old = Loc::entry(pgfid, name.clone()).with_gfid(src);
            match self.vol.rename(&c, &old, &newloc, &Dict::new()).await {
                Ok(_) => break,
                Err(e) if tried_hint && (e.is(libc::ENOENT) || e.is(libc::ESTALE)) => {
                    tried_hint = false;
                    let fresh = self.lookup_gfid(&c, pgfid, &name).await?;
                    if fresh == src {
                        return Err(errno_of(&e));
                    }
                    src = fresh;
                }
                Err(e) => return Err(errno_of(&e)),
            }
        }
        let replaced = lock(&self.inodes)
            .dentry(newparent, &newname)
            .map(|(_, g)| g);
        for g in [Some(pgfid), Some(npgfid), Some(src), replaced]
            .into_iter()
            .flatten()
        {
            self.md.invalidate(&g);
        }
        lock(&self.inodes).rename(parent, &name, newparent, &newname);
        Ok(())
    }

    async fn lookup_gfid(&self, c: &Caller, pgfid: Gfid, name: &Bytes) -> Res<Gfid> {
        let l = self
            .vol
            .lookup(c, &Loc::entry(pgfid, name.clone()), &Dict::new())
            .await
            .map_err(|e| errno_of(&e))?;
        if l.iatt.gfid.is_null() {
            return Err(libc::EIO);
        }
        Ok(l.iatt.gfid)
    }

    async fn open(&self, id: ReqId, ino: u64, flags: i32) -> Res<(u64, FopenFlags)> {
        let gfid = self.gfid(ino)?;
        let c = self.caller(&id);
        let loc = Loc::gfid(gfid);
        let want = open_flags(flags, self.cfg.writeback);
        if let Some(opened) = self.open_cached(ino, flags) {
            return Ok(opened);
        }
        let fd = match self.vol.open(&c, &loc, want).await {
            Ok(fd) => fd,
            // Write-only files opened read-write for the writeback cache: fall back to the
            // caller's own flags (the kernel then cannot fill partial pages, but writes work).
            Err(e) if want != flags && e.is(libc::EACCES) => self
                .vol
                .open(&c, &loc, open_flags(flags, false))
                .await
                .map_err(|e| inode_errno(e.errno()))?,
            Err(e) => return Err(inode_errno(e.errno())),
        };
        if flags & libc::O_TRUNC != 0 {
            self.md.invalidate(&gfid);
        }
        let fh = self.add_file(OpenFile::new(fd, ino, None));
        Ok((fh, self.open_reply_flags(false)))
    }

    async fn create(
        &self,
        id: ReqId,
        parent: u64,
        name: Bytes,
        mode: u32,
        umask: u32,
        flags: i32,
    ) -> Res<(FileAttr, u64, FopenFlags)> {
        let pgfid = self.gfid(parent)?;
        let (mode, umask) = self.masked(mode, umask);
        let flags = open_flags(flags, self.cfg.writeback) | libc::O_CREAT;
        let loc = Loc::entry(pgfid, name.clone());
        let c = self.caller(&id);
        // The files created before were written: this one will be too, say so to the layers.
        let expect_write = flags & libc::O_ACCMODE != libc::O_RDONLY
            && self.create_writes.load(Ordering::Relaxed) >= WRITES_AFTER_CREATE;
        let mut xdata = gfid_req();
        if expect_write {
            xdata.set_str(fop::WRITE_EXPECTED_KEY, "1");
        }
        // open-behind for new files: MKNOD (the same entry transaction as CREATE) and an
        // anonymous fd, so nothing is opened on the bricks and close costs no FLUSH/RELEASE.
        if self.cfg.open_behind && flags & OPEN_FOR_REAL & !libc::O_TRUNC == 0 {
            let ftype = libc::S_IFREG | (mode & 0o7777);
            match self.vol.mknod(&c, &loc, ftype, 0, umask, &xdata).await {
                Ok(e) => {
                    self.md.put_opt(e.postparent.as_ref());
                    let attr = self.link_entry(parent, &name, &e.iatt)?;
                    let want = flags & !(libc::O_CREAT | libc::O_EXCL | libc::O_TRUNC);
                    let of = match self.vol.open_anonymous(e.iatt.gfid, want) {
                        Ok(fd) => OpenFile::anonymous(fd, attr.ino.0, want),
                        Err(_) => OpenFile::new(
                            self.vol
                                .open(&c, &Loc::gfid(e.iatt.gfid), want)
                                .await
                                .map_err(|e| inode_errno(e.errno()))?,
                            attr.ino.0,
                            None,
                        ),
                    };
                    let fh = self.add_created(of, &c, expect_write);
                    return Ok((attr, fh, self.open_reply_flags(false)));
                }
                // Someone else created it meanwhile: CREATE without O_EXCL opens theirs.
                Err(e) if e.is(libc::EEXIST) && flags & libc::O_EXCL == 0 => {}
                Err(e) => return Err(Self::new_entry_errno(&e)),
            }
        }
        let (fd, e) = self
            .vol
            .create(&c, &loc, flags, mode, umask, &xdata)
            .await
            .map_err(|e| Self::new_entry_errno(&e))?;
        self.md.put_opt(e.postparent.as_ref());
        let attr = match self.link_entry(parent, &name, &e.iatt) {
            Ok(a) => a,
            Err(errno) => {
                self.vol.release(&fd).await;
                return Err(errno);
            }
        };
        let fh = self.add_created(OpenFile::new(fd, attr.ino.0, None), &c, expect_write);
        Ok((attr, fh, self.open_reply_flags(false)))
    }

    /// Register the handle of a new file; when the files created before were written
    /// (`expect_write`), let the volume prepare the first write now (AFR takes its eager lock
    /// while the kernel and the application get to the write).
    fn add_created(&self, of: OpenFile, c: &Caller, expect_write: bool) -> u64 {
        of.created.store(true, Ordering::Relaxed);
        if expect_write {
            self.vol.prepare_write(c, &of.fd());
        }
        self.add_file(of)
    }

    /// A created file's handle closes: count whether it was written.
    fn note_created_closed(&self, of: &OpenFile) {
        if !of.created.load(Ordering::Relaxed) {
            return;
        }
        if of.wrote.load(Ordering::Acquire) {
            let n = self.create_writes.load(Ordering::Relaxed);
            self.create_writes
                .store(n.saturating_add(1).min(16), Ordering::Relaxed);
        } else {
            self.create_writes.store(0, Ordering::Relaxed);
        }
    }

    async fn read(
        self: &Arc<Self>,
        id: ReqId,
        fh: u64,
        offset: u64,
        size: u32,
        owner: Option<u64>,
    ) -> Res<Bytes> {
        let of = self.file(fh)?;
        self.wb_drain(&of.gfid).await;
        if let Some(d) = self.read_cached(fh, offset, size) {
            return Ok(d);
        }
        let c = self.groups.caller(&id, owner);
        if of.is_anon()
            && of.anon_reads.fetch_add(1, Ordering::Relaxed) + 1 == ANON_READS_BEFORE_OPEN
        {
            // A file read again and again (open-behind's read-after-open): give it a real fd in
            // the background; reads go on through the anonymous one meanwhile.
            let core = self.clone();
            let of = of.clone();
            tokio::spawn(async move {
                if let Err(errno) = core.open_for_real(&id, &of).await {
                    tracing::debug!(gfid = %of.gfid, errno, "real open after repeated reads");
                }
            });
        }
        self.vol
            .read(&c, &of.fd(), offset, size)
            .await
            .map_err(|e| errno_of(&e))
    }

    async fn write(
        self: &Arc<Self>,
        id: ReqId,
        fh: u64,
        offset: u64,
        data: Bytes,
        owner: Option<u64>,
    ) -> Res<u32> {
        let of = self.file(fh)?;
        let c = self.groups.caller(&id, owner);
        let len = u32::try_from(data.len()).map_err(|_| libc::EINVAL)?;
        of.wrote.store(true, Ordering::Release);
        self.versions.wrote(of.ino);
        self.md.invalidate(&of.gfid);
        if let Some(wb) = self.wb.as_ref().filter(|_| of.flags & SYNC_WRITES != 0) {
            // O_SYNC/O_DSYNC/O_APPEND writes are not acknowledged early, but they go after every
            // write acknowledged before them and hold later ones back (wb_requests_conflict:
            // an append conflicts with everything).
            let ticket = wb.queue(&of.gfid, 0, usize::MAX).await?;
            let r = self.vol.write(&c, &of.fd(), offset, data).await;
            self.md.invalidate(&of.gfid);
            drop(ticket);
            r.map_err(|e| errno_of(&e))?;
            return Ok(len);
        }
        if let Some(wb) = self.wb.as_ref().filter(|_| of.flags & SYNC_WRITES == 0) {
            let ticket = wb.queue(&of.gfid, offset, data.len()).await?;
            let core = self.clone();
            let fd = of.fd();
            self.in_flight.fetch_add(1, Ordering::Relaxed);
            self.rt.spawn(async move {
                let _guard = InFlight(&core.in_flight);
                let r = core.vol.write(&c, &fd, offset, data).await;
                core.md.invalidate(&fd.gfid);
                if let Err(e) = &r {
                    tracing::debug!(gfid = %fd.gfid, offset, error = %e, "write-behind write failed");
                }
                ticket.done(r.map(|_| ()).map_err(|e| errno_of(&e)));
            });
            return Ok(len);
        }
        let r = self.vol.write(&c, &of.fd(), offset, data).await;
        // Also after: a GETATTR answered meanwhile may have cached the size before this write.
        self.md.invalidate(&of.gfid);
        r.map_err(|e| errno_of(&e))?;
        Ok(len)
    }

    async fn flush(&self, id: ReqId, fh: u64, owner: u64) -> Res<()> {
        let of = self.file(fh)?;
        // A handle that only read through an anonymous fd: nothing to wait for or drop.
        if of.is_anon() && !of.wrote.load(Ordering::Acquire) {
            return Ok(());
        }
        // The lock owner lets the bricks drop this owner's POSIX locks (pl_flush).
        let c = self.groups.caller(&id, Some(owner));
        let behind = self.wb_settle(&of.gfid).await;
        self.vol
            .flush(&c, &of.fd())
            .await
            .map_err(|e| errno_of(&e))?;
        behind
    }

    async fn fsync(&self, id: ReqId, fh: u64, datasync: bool) -> Res<()> {
        let of = self.file(fh)?;
        self.wb_settle(&of.gfid).await?;
        self.vol
            .fsync(&self.caller(&id), &of.fd(), datasync)
            .await
            .map_err(|e| errno_of(&e))
    }

    fn take_file(&self, fh: u64) -> Option<Arc<OpenFile>> {
        lock(&self.files).remove(&fh)
    }

    async fn opendir(&self, id: ReqId, ino: u64) -> Res<u64> {
        let gfid = self.gfid(ino)?;
        let fd = self
            .vol
            .opendir(&self.caller(&id), &Loc::gfid(gfid))
            .await
            .map_err(|e| inode_errno(e.errno()))?;
        // readdir-ahead: the first batch is asked for now, while the kernel gets the reply and
        // sends READDIR(PLUS); that request waits for the batch on the stream's lock.
        let stream = Arc::new(tokio::sync::Mutex::new(DirStream::default()));
        if let Ok(mut ds) = stream.clone().try_lock_owned() {
            let (vol, fd, c) = (self.vol.clone(), fd.clone(), self.caller(&id));
            self.rt.spawn(async move {
                if let Ok((entries, eof)) = vol
                    .readdirp_eof(&c, &fd, 0, READDIR_CHUNK, &Dict::new())
                    .await
                {
                    ds.fill(0, entries, eof);
                }
            });
        }
        Ok(self.add_file(OpenFile::new(fd, ino, Some(stream))))
    }

    /// The attributes of a directory entry for a readdir(plus) reply, linking it when `plus`.
    /// Entries that came without attributes (a layer withheld them, e.g. replicate while a heal is
    /// pending) are looked up.
    async fn dir_entry_attr(
        &self,
        c: &Caller,
        dir_ino: u64,
        dir_gfid: Gfid,
        e: &DirEntry,
        plus: bool,
    ) -> Option<FileAttr> {
        let name = &e.name[..];
        if name == b"." {
            return Some(dir_placeholder(dir_ino));
        }
        if name == b".." {
            let ino = match e.iatt.as_ref().filter(|i| !i.gfid.is_null()) {
                Some(i) => {
                    if i.gfid.is_root() {
                        ROOT_INO
                    } else {
                        gfid_to_ino(&i.gfid)
                    }
                }
                None => lock(&self.inodes)
                    .name_hint(dir_ino)
                    .map_or(ROOT_INO, |(p, _)| p),
            };
            return Some(dir_placeholder(ino));
        }
        let pending = e
            .iatt
            .as_ref()
            .filter(|i| !i.gfid.is_null() && !self.wb_idle(&i.gfid));
        let iatt = match e.iatt.as_ref().filter(|i| !i.gfid.is_null()) {
            // Writes acknowledged behind change the size: attributes after them (wb_readdirp_cbk
            // drops them instead; a lookup after the writes is the same for the kernel).
            Some(i) if pending.is_some() => {
                self.wb_drain(&i.gfid).await;
                match self.vol.stat(c, &Loc::gfid(i.gfid)).await {
                    Ok(a) => a,
                    Err(_) => return None,
                }
            }
            Some(i) => *i,
            None => match self
                .vol
                .lookup(c, &Loc::entry(dir_gfid, e.name.clone()), &Dict::new())
                .await
            {
                Ok(l) if !l.iatt.gfid.is_null() => l.iatt,
                _ => return None,
            },
        };
        if plus {
            self.link_entry(dir_ino, name, &iatt).ok()
        } else {
            let ino = if iatt.gfid.is_root() {
                ROOT_INO
            } else {
                gfid_to_ino(&iatt.gfid)
            };
            lock(&self.inodes)
                .remember(Some((dir_ino, name)), iatt.gfid)
                .ok();
            Some(self.kernel_attr(&iatt, ino))
        }
    }

    /// READDIR and READDIRPLUS: entries from `offset`, as many as fit in the kernel's buffer.
    async fn readdir(
        &self,
        id: ReqId,
        ino: u64,
        fh: u64,
        offset: u64,
        mut out: DirOut,
    ) -> Result<(), (DirOut, i32)> {
        let of = match self.file(fh) {
            Ok(f) => f,
            Err(e) => return Err((out, e)),
        };
        let Some(stream) = of.dir.as_ref() else {
            return Err((out, libc::ENOTDIR));
        };
        let c = self.caller(&id);
        let dir_gfid = of.gfid;
        let mut ds = stream.lock().await;
        let buffered = ds.filled && ds.pos == offset && (!ds.entries.is_empty() || ds.eof);
        if !buffered {
            match self
                .vol
                .readdirp_eof(&c, &of.fd(), offset, READDIR_CHUNK, &Dict::new())
                .await
            {
                Ok((entries, eof)) => ds.fill(offset, entries, eof),
                Err(e) => return Err((out, inode_errno(e.errno()))),
            }
        }
        let plus = matches!(out, DirOut::Plus(_));
        while let Some(e) = ds.entries.pop_front() {
            let Some(attr) = self.dir_entry_attr(&c, ino, dir_gfid, &e, plus).await else {
                ds.pos = e.offset;
                continue;
            };
            let counted = plus && e.name[..] != *b"." && e.name[..] != *b"..";
            let full = match &mut out {
                DirOut::Plus(r) => r.add(
                    attr.ino,
                    e.offset,
                    OsStr::from_bytes(&e.name),
                    &self.entry_ttl_plus(),
                    &attr,
                    Generation(0),
                ),
                DirOut::Plain(r) => {
                    r.add(attr.ino, e.offset, attr.kind, OsStr::from_bytes(&e.name))
                }
            };
            if full {
                if counted {
                    // The kernel never saw it: take the lookup back.
                    if lock(&self.inodes).forget(attr.ino.0, 1) {
                        self.versions.forget(attr.ino.0);
                    }
                }
                ds.entries.push_front(e);
                break;
            }
            ds.pos = e.offset;
        }
        drop(ds);
        match out {
            DirOut::Plus(r) => r.ok(),
            DirOut::Plain(r) => r.ok(),
        }
        Ok(())
    }

    async fn statfs(&self, id: ReqId, ino: u64) -> Res<fop::Statfs> {
        let gfid = self.gfid(ino).unwrap_or(Gfid::ROOT);
        self.vol
            .statfs(&self.caller(&id), &Loc::gfid(gfid))
            .await
            .map_err(|e| inode_errno(e.errno()))
    }

    async fn setxattr(
        &self,
        id: ReqId,
        ino: u64,
        name: String,
        value: Bytes,
        flags: i32,
    ) -> Res<()> {
        self.cfg.xattr.set(&name, value.len())?;
        let gfid = self.gfid(ino)?;
        let mut d = Dict::new();
        d.set_bin(name, value);
        self.md.invalidate(&gfid);
        self.vol
            .setxattr(&self.caller(&id), &Loc::gfid(gfid), &d, flags)
            .await
            .map_err(|e| inode_errno(e.errno()))
    }

    async fn getxattr(&self, id: ReqId, ino: u64, name: String) -> Res<Bytes> {
        let action = self.cfg.xattr.get(&name)?;
        let gfid = self.gfid(ino)?;
        match action {
            GetAction::GfidBinary => return Ok(Bytes::copy_from_slice(gfid.as_bytes())),
            GetAction::GfidString => return Ok(Bytes::from(gfid.to_string())),
            GetAction::Forward => {}
        }
        let d = self
            .vol
            .getxattr(&self.caller(&id), &Loc::gfid(gfid), Some(&name))
            .await
            .map_err(|e| inode_errno(e.errno()))?;
        match d.get(&name) {
            Some(v) => dict_value_bytes(v).ok_or(libc::ENODATA),
            None => Err(libc::ENODATA),
        }
    }

    async fn listxattr(&self, id: ReqId, ino: u64) -> Res<Vec<u8>> {
        let gfid = self.gfid(ino)?;
        let d = self
            .vol
            .getxattr(&self.caller(&id), &Loc::gfid(gfid), None)
            .await
            .map_err(|e| inode_errno(e.errno()))?;
        Ok(xattr::format_list(d.keys()))
    }

    async fn removexattr(&self, id: ReqId, ino: u64, name: String) -> Res<()> {
        self.cfg.xattr.remove(&name)?;
        let gfid = self.gfid(ino)?;
        self.md.invalidate(&gfid);
        self.vol
            .removexattr(&self.caller(&id), &Loc::gfid(gfid), &name)
            .await
            .map_err(|e| inode_errno(e.errno()))
    }

    async fn access(&self, id: ReqId, ino: u64, mask: u32) -> Res<()> {
        let gfid = self.gfid(ino)?;
        self.vol
            .access(&self.caller(&id), &Loc::gfid(gfid), mask)
            .await
            .map_err(|e| inode_errno(e.errno()))
    }

    async fn lk(
        &self,
        id: ReqId,
        fh: u64,
        owner: u64,
        cmd: LockCmd,
        range: LockRange,
    ) -> Res<LockRange> {
        let of = self.file(fh)?;
        self.wb_drain(&of.gfid).await;
        self.open_for_real(&id, &of).await?;
        // fuse_setlk/fuse_getlk: the kernel's lock owner (per process for fcntl locks, per open
        // file for flock, which GlusterFS treats as a whole-file POSIX lock) is both the frame's
        // lk_owner and the lock's.
        let c = self.groups.caller(&id, Some(owner));
        let fl = Flock {
            l_type: range.typ as u32,
            whence: libc::SEEK_SET as u32,
            start: range.start,
            len: range.len,
            pid: range.pid,
            owner: lk_owner_bytes(owner),
        };
        let got = self
            .vol
            .lk(&c, &of.fd(), cmd, &fl)
            .await
            .map_err(|e| errno_of(&e))?;
        Ok(LockRange {
            typ: got.l_type as i32,
            start: got.start,
            len: got.len,
            pid: got.pid,
        })
    }

    async fn fallocate(&self, id: ReqId, fh: u64, offset: u64, len: u64, mode: i32) -> Res<()> {
        let op = fallocate_mode(mode)?;
        let of = self.file(fh)?;
        self.wb_drain(&of.gfid).await;
        self.md.invalidate(&of.gfid);
        let c = self.caller(&id);
        let err = |e: fop::FopError| errno_of(&e);
        match op {
            Falloc::Allocate { keep_size } => {
                let m = if keep_size {
                    libc::FALLOC_FL_KEEP_SIZE
                } else {
                    0
                };
                self.vol
                    .fallocate(&c, &of.fd(), m, offset, len)
                    .await
                    .map_err(err)?;
            }
            Falloc::PunchHole => {
                self.vol
                    .discard(&c, &of.fd(), offset, len)
                    .await
                    .map_err(err)?;
            }
            Falloc::ZeroRange { keep_size: false } => {
                self.vol
                    .zerofill(&c, &of.fd(), offset, len)
                    .await
                    .map_err(err)?;
            }
            Falloc::ZeroRange { keep_size: true } => {
                let size = self.vol.fstat(&c, &of.fd()).await.map_err(err)?.size;
                if let Some((off, l)) = clip_range(offset, len, size) {
                    self.vol.zerofill(&c, &of.fd(), off, l).await.map_err(err)?;
                }
            }
        }
        Ok(())
    }
}

/// Most entries asked to be dropped per round.
const INVALIDATE_BATCH: usize = 4096;

/// Keep the inodes the kernel holds near `inode_limit`: once a second, if there are more, ask the
/// kernel to drop the dentries of the least recently used ones (FUSE_NOTIFY_INVAL_ENTRY); it then
/// forgets those not in use, and they leave the table through the LRU. This is what GlusterFS's
/// lru-limit invalidation does against the C client's memory growth: the kernel otherwise keeps
/// dentries (and so our inodes) until it is short of memory itself.
pub(crate) fn start_invalidator(core: &Arc<Core>) {
    let limit = core.cfg.inode_limit;
    if limit == 0 {
        return;
    }
    let weak = Arc::downgrade(core);
    core.rt.spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let Some(core) = weak.upgrade() else { break };
            let Some(notifier) = core.notifier.get().cloned() else {
                continue;
            };
            let batch = {
                let mut t = lock(&core.inodes);
                let over = t.active_len().saturating_sub(limit);
                if over == 0 {
                    continue;
                }
                t.invalidation_candidates((over + limit / 16).min(INVALIDATE_BATCH))
            };
            drop(core);
            let n = batch.len();
            // A notification can wait for the kernel's directory lock: not on a runtime thread.
            let sent = tokio::task::spawn_blocking(move || {
                let mut sent = 0usize;
                for (_, names) in batch {
                    for (parent, name) in names {
                        // ENOENT: the kernel had already dropped it.
                        if notifier
                            .inval_entry(INodeNo(parent), OsStr::from_bytes(&name))
                            .is_ok()
                        {
                            sent += 1;
                        }
                    }
                }
                sent
            })
            .await
            .unwrap_or(0);
            tracing::debug!(
                inodes = n,
                invalidated = sent,
                limit,
                "asked the kernel to drop entries"
            );
        }
    });
}

/// Bytes of a dict value as an xattr value.
fn dict_value_bytes(v: &DictValue) -> Option<Bytes> {
    match v {
        DictValue::Int(i) => Some(Bytes::from(i.to_string())),
        DictValue::Uint(u) => Some(Bytes::from(u.to_string())),
        DictValue::Gfuuid(g) => Some(Bytes::copy_from_slice(g.as_bytes())),
        other => other.as_bytes().cloned(),
    }
}

enum DirOut {
    Plain(ReplyDirectory),
    Plus(ReplyDirectoryPlus),
}

impl DirOut {
    fn error(self, e: i32) {
        match self {
            DirOut::Plain(r) => r.error(err(e)),
            DirOut::Plus(r) => r.error(err(e)),
        }
    }
}

/// The fuser `Filesystem`.
pub(crate) struct GlusterFs {
    core: Arc<Core>,
}

impl GlusterFs {
    pub(crate) fn new(core: Arc<Core>) -> Self {
        Self { core }
    }

    /// Run `f`: started on this thread, continued as a task once it waits (`inline::run`); the
    /// request counts as in flight until it ends.
    fn spawn<F, Fut>(&self, op: &'static str, f: F)
    where
        F: FnOnce(Arc<Core>) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let core = self.core.clone();
        core.in_flight.fetch_add(1, Ordering::Relaxed);
        let fut = f(core.clone());
        let span = tracing::debug_span!("fuse", op);
        let rt = self.core.rt.clone();
        crate::inline::run(
            &rt,
            async move {
                let _guard = InFlight(&core.in_flight);
                fut.await;
            }
            .instrument(span),
        );
    }
}

fn req_id(req: &Request) -> ReqId {
    ReqId {
        uid: req.uid(),
        gid: req.gid(),
        pid: req.pid(),
    }
}

/// The errno to answer with, logged: at debug level for the answers applications expect in normal
/// operation, as a warning otherwise (GlusterFS's fuse-bridge logs failures the same way).
fn err(e: i32) -> Errno {
    let e = sane_errno(e);
    let routine = matches!(
        e,
        libc::ENOENT
            | libc::ENODATA
            | libc::EEXIST
            | libc::EAGAIN
            | libc::ENOTEMPTY
            | libc::ERANGE
            | libc::EACCES
            | libc::EPERM
            | libc::ENOTDIR
            | libc::EISDIR
            | libc::ESTALE
            | libc::ENOSYS
            | libc::EOPNOTSUPP
            | libc::EINTR
            | libc::EINVAL
            | libc::EBADF
            | libc::ENAMETOOLONG
    );
    if routine {
        tracing::debug!(errno = e, "{}", fop::errno_text(e));
    } else {
        tracing::warn!(errno = e, "{}", fop::errno_text(e));
    }
    Errno::from_i32(e)
}

fn reply_entry(core: &Core, reply: ReplyEntry, r: Res<EntryOut>) {
    match r {
        Ok(EntryOut::Positive(attr)) => reply.entry_with_ttls(
            &core.cfg.attr_ttl,
            &core.cfg.entry_ttl,
            &attr,
            Generation(0),
        ),
        Ok(EntryOut::Negative) => {
            // A negative entry: node id 0, cached for negative-timeout (fuse_entry_cbk).
            let attr = FileAttr {
                ino: INodeNo(0),
                ..dir_placeholder(0)
            };
            reply.entry_with_ttls(
                &Duration::ZERO,
                &core.cfg.negative_ttl,
                &attr,
                Generation(0),
            )
        }
        Err(e) => reply.error(err(e)),
    }
}

fn reply_empty(reply: ReplyEmpty, r: Res<()>) {
    match r {
        Ok(()) => reply.ok(),
        Err(e) => reply.error(err(e)),
    }
}

fn reply_xattr(reply: ReplyXattr, size: u32, r: Res<impl AsRef<[u8]>>) {
    match r {
        Ok(v) => match xattr::reply_for(size, v.as_ref()) {
            XattrReply::Size(n) => reply.size(n),
            XattrReply::Data(d) => reply.data(d),
            XattrReply::Error(e) => reply.error(err(e)),
        },
        Err(e) => reply.error(err(e)),
    }
}

impl Filesystem for GlusterFs {
    fn init(&mut self, _req: &Request, config: &mut KernelConfig) -> io::Result<()> {
        let cfg = &self.core.cfg;
        let caps = config.capabilities();
        let mut want = InitFlags::FUSE_ASYNC_READ
            | InitFlags::FUSE_POSIX_LOCKS
            | InitFlags::FUSE_FLOCK_LOCKS
            | InitFlags::FUSE_BIG_WRITES
            | InitFlags::FUSE_DONT_MASK
            | InitFlags::FUSE_DO_READDIRPLUS
            | InitFlags::FUSE_ASYNC_DIO
            | InitFlags::FUSE_PARALLEL_DIROPS
            | InitFlags::FUSE_MAX_PAGES;
        if cfg.writeback {
            want |= InitFlags::FUSE_WRITEBACK_CACHE;
        }
        // With kept pages the daemon drops them when another client changed a file
        // (pagecache.rs); the kernel's FUSE_AUTO_INVAL_DATA would drop what we wrote ourselves.
        let missing = want & !caps;
        if !missing.is_empty() {
            tracing::warn!(?missing, "kernel lacks FUSE capabilities");
        }
        if let Err(e) = config.add_capabilities(want & caps) {
            tracing::warn!(unsupported = ?e, "capabilities refused");
        }
        let mw = config.set_max_write(cfg.max_write).map_or_else(
            |nearest| {
                let _ = config.set_max_write(nearest);
                nearest
            },
            |_| cfg.max_write,
        );
        if let Err(nearest) = config.set_max_readahead(cfg.max_readahead) {
            let _ = config.set_max_readahead(nearest);
        }
        let _ = config.set_max_background(cfg.max_background.max(1));
        let _ = config.set_congestion_threshold(cfg.congestion_threshold.max(1));
        tracing::info!(
            kernel_abi = ?config.kernel_abi(),
            max_write = mw,
            writeback = cfg.writeback,
            "FUSE initialised"
        );
        Ok(())
    }

    fn destroy(&mut self) {
        tracing::info!("FUSE session ended");
    }

    fn lookup(&self, req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        let (id, name) = (req_id(req), name_bytes(name));
        self.spawn("lookup", move |c| async move {
            let r = c.lookup(id, parent.0, name).await;
            reply_entry(&c, reply, r);
        });
    }

    // BATCH_FORGET: fuser 0.18 does not export its entry type, so its default calls this per node.
    fn forget(&self, _req: &Request, ino: INodeNo, nlookup: u64) {
        if lock(&self.core.inodes).forget(ino.0, nlookup) {
            self.core.versions.forget(ino.0);
        }
    }

    fn getattr(&self, req: &Request, ino: INodeNo, fh: Option<FileHandle>, reply: ReplyAttr) {
        let id = req_id(req);
        self.spawn("getattr", move |c| async move {
            match c.getattr(id, ino.0, fh.map(|f| f.0)).await {
                Ok(a) => reply.attr(&c.cfg.attr_ttl, &a),
                Err(e) => reply.error(err(e)),
            }
        });
    }

    fn setattr(
        &self,
        req: &Request,
        ino: INodeNo,
        mode: Option<u32>,
        uid: Option<u32>,
        gid: Option<u32>,
        size: Option<u64>,
        atime: Option<TimeOrNow>,
        mtime: Option<TimeOrNow>,
        _ctime: Option<SystemTime>,
        fh: Option<FileHandle>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<fuser::BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        let id = req_id(req);
        self.spawn("setattr", move |c| async move {
            match c
                .setattr(
                    id,
                    ino.0,
                    mode,
                    uid,
                    gid,
                    size,
                    atime,
                    mtime,
                    fh.map(|f| f.0),
                )
                .await
            {
                Ok(a) => reply.attr(&c.cfg.attr_ttl, &a),
                Err(e) => reply.error(err(e)),
            }
        });
    }

    fn readlink(&self, req: &Request, ino: INodeNo, reply: ReplyData) {
        let id = req_id(req);
        self.spawn("readlink", move |c| async move {
            match c.readlink(id, ino.0).await {
                Ok(t) => reply.data(&t),
                Err(e) => reply.error(err(e)),
            }
        });
    }

    fn mknod(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        rdev: u32,
        reply: ReplyEntry,
    ) {
        let (id, name) = (req_id(req), name_bytes(name));
        self.spawn("mknod", move |c| async move {
            let r = c.mknod(id, parent.0, name, mode, umask, rdev).await;
            reply_entry(&c, reply, r.map(EntryOut::Positive));
        });
    }

    fn mkdir(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        reply: ReplyEntry,
    ) {
        let (id, name) = (req_id(req), name_bytes(name));
        self.spawn("mkdir", move |c| async move {
            let r = c.mkdir(id, parent.0, name, mode, umask).await;
            reply_entry(&c, reply, r.map(EntryOut::Positive));
        });
    }

    fn unlink(&self, req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let (id, name) = (req_id(req), name_bytes(name));
        self.spawn("unlink", move |c| async move {
            reply_empty(reply, c.unlink(id, parent.0, name, false).await);
        });
    }

    fn rmdir(&self, req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let (id, name) = (req_id(req), name_bytes(name));
        self.spawn("rmdir", move |c| async move {
            reply_empty(reply, c.unlink(id, parent.0, name, true).await);
        });
    }

    fn symlink(
        &self,
        req: &Request,
        parent: INodeNo,
        link_name: &OsStr,
        target: &Path,
        reply: ReplyEntry,
    ) {
        let (id, name) = (req_id(req), name_bytes(link_name));
        let target = Bytes::copy_from_slice(target.as_os_str().as_bytes());
        self.spawn("symlink", move |c| async move {
            let r = c.symlink(id, parent.0, name, target).await;
            reply_entry(&c, reply, r.map(EntryOut::Positive));
        });
    }

    fn rename(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        newparent: INodeNo,
        newname: &OsStr,
        flags: RenameFlags,
        reply: ReplyEmpty,
    ) {
        if !flags.is_empty() {
            // RENAME_NOREPLACE/EXCHANGE/WHITEOUT: GlusterFS has no such rename. ENOSYS makes the
            // kernel answer EINVAL and stop sending RENAME2.
            reply.error(Errno::ENOSYS);
            return;
        }
        let (id, name, newname) = (req_id(req), name_bytes(name), name_bytes(newname));
        self.spawn("rename", move |c| async move {
            reply_empty(
                reply,
                c.rename(id, parent.0, name, newparent.0, newname).await,
            );
        });
    }

    fn link(
        &self,
        req: &Request,
        ino: INodeNo,
        newparent: INodeNo,
        newname: &OsStr,
        reply: ReplyEntry,
    ) {
        let (id, name) = (req_id(req), name_bytes(newname));
        self.spawn("link", move |c| async move {
            let r = c.link(id, ino.0, newparent.0, name).await;
            reply_entry(&c, reply, r.map(EntryOut::Positive));
        });
    }

    fn open(&self, req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        let id = req_id(req);
        self.spawn("open", move |c| async move {
            match c.open(id, ino.0, flags.0).await {
                Ok((fh, f)) => reply.opened(FileHandle(fh), f),
                Err(e) => reply.error(err(e)),
            }
        });
    }

    fn read(
        &self,
        req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        let id = req_id(req);
        self.spawn("read", move |c| async move {
            match c
                .read(id, fh.0, offset, size, lock_owner.map(|o| o.0))
                .await
            {
                Ok(d) => reply.data(&d),
                Err(e) => reply.error(err(e)),
            }
        });
    }

    fn write(
        &self,
        req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        data: &[u8],
        _write_flags: WriteFlags,
        _flags: OpenFlags,
        lock_owner: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        let id = req_id(req);
        let data = Bytes::copy_from_slice(data);
        self.spawn("write", move |c| async move {
            match c
                .write(id, fh.0, offset, data, lock_owner.map(|o| o.0))
                .await
            {
                Ok(n) => reply.written(n),
                Err(e) => reply.error(err(e)),
            }
        });
    }

    fn flush(
        &self,
        req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        lock_owner: LockOwner,
        reply: ReplyEmpty,
    ) {
        let id = req_id(req);
        self.spawn("flush", move |c| async move {
            reply_empty(reply, c.flush(id, fh.0, lock_owner.0).await);
        });
    }

    fn release(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        // fuse_release answers at once; the close goes on in the background. The bricks drop the
        // fd's locks (flock included) when it closes.
        let of = self.core.take_file(fh.0);
        reply.ok();
        if let Some(of) = of {
            self.core.note_created_closed(&of);
            self.spawn("release", move |c| async move {
                c.wb_drain(&of.gfid).await;
                c.vol.release(&of.fd()).await;
                tracing::trace!(ino = of.ino, "released");
            });
        }
    }

    fn fsync(
        &self,
        req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        datasync: bool,
        reply: ReplyEmpty,
    ) {
        let id = req_id(req);
        self.spawn("fsync", move |c| async move {
            reply_empty(reply, c.fsync(id, fh.0, datasync).await);
        });
    }

    fn opendir(&self, req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        let id = req_id(req);
        self.spawn("opendir", move |c| async move {
            match c.opendir(id, ino.0).await {
                Ok(fh) => reply.opened(FileHandle(fh), FopenFlags::empty()),
                Err(e) => reply.error(err(e)),
            }
        });
    }

    fn readdir(
        &self,
        req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        reply: ReplyDirectory,
    ) {
        let id = req_id(req);
        self.spawn("readdir", move |c| async move {
            if let Err((out, e)) = c
                .readdir(id, ino.0, fh.0, offset, DirOut::Plain(reply))
                .await
            {
                out.error(e);
            }
        });
    }

    fn readdirplus(
        &self,
        req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        reply: ReplyDirectoryPlus,
    ) {
        let id = req_id(req);
        self.spawn("readdirplus", move |c| async move {
            if let Err((out, e)) = c
                .readdir(id, ino.0, fh.0, offset, DirOut::Plus(reply))
                .await
            {
                out.error(e);
            }
        });
    }

    fn releasedir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        reply: ReplyEmpty,
    ) {
        let of = self.core.take_file(fh.0);
        reply.ok();
        if let Some(of) = of {
            self.spawn("releasedir", move |c| async move {
                c.vol.releasedir(&of.fd()).await;
            });
        }
    }

    fn statfs(&self, req: &Request, ino: INodeNo, reply: ReplyStatfs) {
        let id = req_id(req);
        self.spawn("statfs", move |c| async move {
            match c.statfs(id, ino.0).await {
                Ok(s) => reply.statfs(
                    s.blocks,
                    s.bfree,
                    s.bavail,
                    s.files,
                    s.ffree,
                    u32::try_from(s.bsize).unwrap_or(u32::MAX),
                    u32::try_from(s.namemax).unwrap_or(255),
                    u32::try_from(s.frsize).unwrap_or(u32::MAX),
                ),
                Err(e) => reply.error(err(e)),
            }
        });
    }

    fn setxattr(
        &self,
        req: &Request,
        ino: INodeNo,
        name: &OsStr,
        value: &[u8],
        flags: i32,
        position: u32,
        reply: ReplyEmpty,
    ) {
        if position != 0 {
            reply.error(Errno::EINVAL);
            return;
        }
        let name = match name_str(name) {
            Ok(n) => n,
            Err(e) => return reply.error(err(e)),
        };
        let (id, value) = (req_id(req), Bytes::copy_from_slice(value));
        self.spawn("setxattr", move |c| async move {
            reply_empty(reply, c.setxattr(id, ino.0, name, value, flags).await);
        });
    }

    fn getxattr(&self, req: &Request, ino: INodeNo, name: &OsStr, size: u32, reply: ReplyXattr) {
        let name = match name_str(name) {
            Ok(n) => n,
            Err(e) => return reply.error(err(e)),
        };
        let id = req_id(req);
        self.spawn("getxattr", move |c| async move {
            reply_xattr(reply, size, c.getxattr(id, ino.0, name).await);
        });
    }

    fn listxattr(&self, req: &Request, ino: INodeNo, size: u32, reply: ReplyXattr) {
        let id = req_id(req);
        self.spawn("listxattr", move |c| async move {
            reply_xattr(reply, size, c.listxattr(id, ino.0).await);
        });
    }

    fn removexattr(&self, req: &Request, ino: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let name = match name_str(name) {
            Ok(n) => n,
            Err(e) => return reply.error(err(e)),
        };
        let id = req_id(req);
        self.spawn("removexattr", move |c| async move {
            reply_empty(reply, c.removexattr(id, ino.0, name).await);
        });
    }

    fn access(&self, req: &Request, ino: INodeNo, mask: AccessFlags, reply: ReplyEmpty) {
        let id = req_id(req);
        self.spawn("access", move |c| async move {
            reply_empty(reply, c.access(id, ino.0, mask.bits() as u32).await);
        });
    }

    fn create(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        flags: i32,
        reply: ReplyCreate,
    ) {
        let (id, name) = (req_id(req), name_bytes(name));
        self.spawn("create", move |c| async move {
            match c.create(id, parent.0, name, mode, umask, flags).await {
                Ok((attr, fh, f)) => {
                    reply.created(&c.cfg.entry_ttl, &attr, Generation(0), FileHandle(fh), f)
                }
                Err(e) => reply.error(err(e)),
            }
        });
    }

    fn getlk(
        &self,
        req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        lock_owner: LockOwner,
        start: u64,
        end: u64,
        typ: i32,
        pid: u32,
        reply: ReplyLock,
    ) {
        let range = match lock_from_fuse(start, end, typ, pid) {
            Ok(r) => r,
            Err(e) => return reply.error(err(e)),
        };
        let id = req_id(req);
        self.spawn("getlk", move |c| async move {
            match c.lk(id, fh.0, lock_owner.0, LockCmd::GetLk, range).await {
                Ok(l) => {
                    let (s, e, t, p) = lock_to_fuse(&l);
                    reply.locked(s, e, t, p)
                }
                Err(e) => reply.error(err(e)),
            }
        });
    }

    fn setlk(
        &self,
        req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        lock_owner: LockOwner,
        start: u64,
        end: u64,
        typ: i32,
        pid: u32,
        sleep: bool,
        reply: ReplyEmpty,
    ) {
        let range = match lock_from_fuse(start, end, typ, pid) {
            Ok(r) => r,
            Err(e) => return reply.error(err(e)),
        };
        let id = req_id(req);
        let cmd = if sleep {
            LockCmd::SetLkW
        } else {
            LockCmd::SetLk
        };
        // A blocking SETLKW is just a task waiting on the bricks: the reader threads go on.
        self.spawn("setlk", move |c| async move {
            reply_empty(
                reply,
                c.lk(id, fh.0, lock_owner.0, cmd, range).await.map(|_| ()),
            );
        });
    }

    fn fallocate(
        &self,
        req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        length: u64,
        mode: i32,
        reply: ReplyEmpty,
    ) {
        let id = req_id(req);
        self.spawn("fallocate", move |c| async move {
            reply_empty(reply, c.fallocate(id, fh.0, offset, length, mode).await);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dict_values_as_xattr_bytes() {
        assert_eq!(
            dict_value_bytes(&DictValue::Bin(Bytes::from_static(b"\x00ab"))),
            Some(Bytes::from_static(b"\x00ab"))
        );
        assert_eq!(
            dict_value_bytes(&DictValue::Int(-3)),
            Some(Bytes::from_static(b"-3"))
        );
        assert_eq!(
            dict_value_bytes(&DictValue::Gfuuid(Gfid::ROOT)).map(|b| b.len()),
            Some(16)
        );
    }

    #[test]
    fn gfid_req_is_a_fresh_v4_uuid() {
        let a = gfid_req().get_gfid("gfid-req").unwrap();
        let b = gfid_req().get_gfid("gfid-req").unwrap();
        assert_ne!(a, b);
        assert_eq!(a.as_bytes()[6] >> 4, 4);
        assert!(crate::attr::file_type(proto::IaType::Reg).is_some());
    }
}
