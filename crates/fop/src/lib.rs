//! The translator interface of gluster-rs.
//!
//! GlusterFS builds a client as a graph of translators (xlators) that all speak the same set of file
//! operations (fops): protocol/client talks to one brick, cluster/replicate fans out to a replica set,
//! cluster/distribute places names on subvolumes. gluster-rs mirrors that: [`Subvolume`] is the fop
//! interface, implemented by the brick client (`client` crate), replicate (`afr`) and distribute
//! (`dht`). A layer holds its children as `Arc<dyn Subvolume>` and never names their concrete type, so
//! a lower layer never imports a higher one.
//!
//! Files are addressed as the bricks address them: by GFID ([`Loc::gfid`]) once known, by parent GFID
//! and name ([`Loc::parent`], [`Loc::name`]) for lookups and entry operations.

use std::any::Any;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;

pub use proto::{Dict, DictValue, Flock, Gfid, Iatt, Statfs};

/// An errno-carrying failure of a file operation, as every layer reports it upward. The FUSE edge and
/// the CLI turn it into the errno or message the user sees.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FopError {
    /// The brick (or a layer acting for it) answered with this errno.
    #[error("{}", errno_text(*.0))]
    Errno(i32),
    /// No connection to the subvolume: brick down, ping timeout, not yet connected.
    #[error("transport endpoint is not connected: {0}")]
    NotConnected(String),
    /// The peer sent something we could not decode, or broke the protocol.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// A call got no answer in time.
    #[error("timed out: {0}")]
    Timeout(String),
}

impl FopError {
    /// The errno an application should see.
    pub fn errno(&self) -> i32 {
        match self {
            FopError::Errno(e) => *e,
            FopError::NotConnected(_) => libc::ENOTCONN,
            FopError::Protocol(_) => libc::EPROTO,
            FopError::Timeout(_) => libc::ETIMEDOUT,
        }
    }

    pub fn is(&self, errno: i32) -> bool {
        self.errno() == errno
    }
}

/// Text of an errno, as strerror gives it.
pub fn errno_text(e: i32) -> String {
    std::io::Error::from_raw_os_error(e).to_string()
}

pub type Result<T> = std::result::Result<T, FopError>;

/// Shorthand for an errno failure.
pub fn err<T>(errno: i32) -> Result<T> {
    Err(FopError::Errno(errno))
}

/// Who is asking: sent to the bricks in AUTH_GLUSTERFS_v2 credentials for permission checks, and as
/// lock owner for locks.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Caller {
    pub uid: u32,
    pub gid: u32,
    pub pid: i32,
    pub groups: Vec<u32>,
    pub lk_owner: Bytes,
    /// When the operation happened (seconds, nanoseconds since the epoch), sent to every brick as
    /// the credential's ctime so all replicas record the same mtime/ctime (GlusterFS's utime
    /// translator sets `frame->root->ctime` once per fop; with `features.ctime` bricks store it).
    /// `None`: each RPC takes the time it is sent.
    pub time: Option<(u64, u32)>,
}

/// The current time as a [`Caller::time`].
pub fn time_now() -> (u64, u32) {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    (d.as_secs(), d.subsec_nanos())
}

impl Caller {
    /// root, pid 0: what internal operations (layout writes, heal) use.
    pub fn root() -> Self {
        Self::default()
    }
}

/// Where a fop applies.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Loc {
    /// The inode's GFID; null when not yet known (a named lookup or a new entry).
    pub gfid: Gfid,
    /// The parent directory's GFID, for named lookups and entry operations.
    pub parent: Gfid,
    /// The entry name inside `parent`.
    pub name: Bytes,
}

impl Loc {
    /// An inode addressed by GFID alone (nameless lookup, stat, open...).
    pub fn gfid(gfid: Gfid) -> Self {
        Self {
            gfid,
            ..Self::default()
        }
    }

    /// An entry addressed by parent and name.
    pub fn entry(parent: Gfid, name: impl Into<Bytes>) -> Self {
        Self {
            gfid: Gfid::NULL,
            parent,
            name: name.into(),
        }
    }

    /// Entry with a known GFID as well.
    pub fn with_gfid(mut self, gfid: Gfid) -> Self {
        self.gfid = gfid;
        self
    }

    pub fn name_str(&self) -> String {
        String::from_utf8_lossy(&self.name).into_owned()
    }
}

impl fmt::Debug for Loc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Loc({}, {}/{})", self.gfid, self.parent, self.name_str())
    }
}

/// An open file or directory. Each layer keeps its own state in `ctx` (GlusterFS's fd_ctx): the brick
/// client its remote fd, replicate the fds of each replica, distribute the subvolume it opened on.
#[derive(Clone)]
pub struct Fd {
    pub gfid: Gfid,
    /// Open flags as the application gave them (O_RDONLY, O_APPEND, ...).
    pub flags: i32,
    pub ctx: Arc<dyn Any + Send + Sync>,
}

impl Fd {
    pub fn new<T: Any + Send + Sync>(gfid: Gfid, flags: i32, ctx: T) -> Self {
        Self {
            gfid,
            flags,
            ctx: Arc::new(ctx),
        }
    }

    /// This layer's state, or EBADF if the fd was opened by another graph.
    pub fn ctx<T: Any + Send + Sync>(&self) -> Result<&T> {
        self.ctx
            .downcast_ref::<T>()
            .ok_or(FopError::Errno(libc::EBADF))
    }
}

impl fmt::Debug for Fd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fd({}, flags {:#o})", self.gfid, self.flags)
    }
}

/// Result of a lookup.
#[derive(Debug, Clone)]
pub struct Lookup {
    pub iatt: Iatt,
    pub postparent: Option<Iatt>,
    pub xdata: Dict,
}

/// Result of an operation that creates an entry.
#[derive(Debug, Clone)]
pub struct Entry {
    pub iatt: Iatt,
    pub preparent: Option<Iatt>,
    pub postparent: Option<Iatt>,
}

/// Attributes before and after a modification.
#[derive(Debug, Clone, Default)]
pub struct PrePost {
    pub pre: Iatt,
    pub post: Iatt,
}

/// One directory entry from readdirp.
#[derive(Debug, Clone)]
pub struct DirEntry {
    pub name: Bytes,
    /// The offset to continue from after this entry.
    pub offset: u64,
    pub d_type: u32,
    /// Attributes, when the brick sent them (readdirp).
    pub iatt: Option<Iatt>,
    pub xdata: Dict,
}

/// A hint in the xdata of `mknod` / `create` of a regular file, set by the layer that knows the
/// application will write the new file (fuse, after a run of created files that were written):
/// AFR then creates it already marked dirty and skips most of the first write's pre-op. A hint of
/// this client's layers to each other, never sent to a brick (the brick client drops it).
pub const WRITE_EXPECTED_KEY: &str = "gluster-rs.write-expected";

/// `setattr` valid mask bits, as GlusterFS's GF_SET_ATTR_* (libglusterfs/src/glusterfs/xlator.h).
pub mod set_attr {
    pub const MODE: u32 = 0x1;
    pub const UID: u32 = 0x2;
    pub const GID: u32 = 0x4;
    pub const SIZE: u32 = 0x8;
    pub const ATIME: u32 = 0x10;
    pub const MTIME: u32 = 0x20;
    pub const CTIME: u32 = 0x40;
}

/// Lock command for `lk`/`inodelk` (GlusterFS's gf_lk_cmds values as sent on the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockCmd {
    GetLk,
    SetLk,
    SetLkW,
}

/// entrylk command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryLockCmd {
    Lock,
    LockNb,
    Unlock,
}

/// entrylk type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryLockType {
    Read,
    Write,
}

/// xattrop operations (GF_XATTROP_* in libglusterfs/src/glusterfs/glusterfs.h).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XattropOp {
    /// Add the 32-bit big-endian counters in each value to the stored ones (AFR's markers).
    AddArray,
    AddArray64,
    /// Add, and also return the resulting values even when absent.
    AddArrayWithDefault,
    Or,
    And,
    GetAndSet,
}

/// The file operations every layer serves. Unlisted defaults answer ENOSYS.
#[async_trait]
pub trait Subvolume: Send + Sync {
    /// The translator name in the volume graph (e.g. `VOL-client-0`, `VOL-replicate-1`, `VOL-dht`).
    fn name(&self) -> &str;

    async fn lookup(&self, c: &Caller, loc: &Loc, xdata: &Dict) -> Result<Lookup>;
    async fn stat(&self, c: &Caller, loc: &Loc) -> Result<Iatt>;
    async fn fstat(&self, c: &Caller, fd: &Fd) -> Result<Iatt>;
    /// Change the attributes selected by `valid` ([`set_attr`]) to those in `attr`.
    async fn setattr(&self, c: &Caller, loc: &Loc, attr: &Iatt, valid: u32) -> Result<PrePost>;
    async fn fsetattr(&self, c: &Caller, fd: &Fd, attr: &Iatt, valid: u32) -> Result<PrePost>;
    async fn truncate(&self, c: &Caller, loc: &Loc, size: u64) -> Result<PrePost>;
    async fn ftruncate(&self, c: &Caller, fd: &Fd, size: u64) -> Result<PrePost>;
    async fn access(&self, c: &Caller, loc: &Loc, mask: u32) -> Result<()>;
    async fn readlink(&self, c: &Caller, loc: &Loc) -> Result<Bytes>;
    async fn mknod(
        &self,
        c: &Caller,
        loc: &Loc,
        mode: u32,
        rdev: u64,
        umask: u32,
        xdata: &Dict,
    ) -> Result<Entry>;
    async fn mkdir(
        &self,
        c: &Caller,
        loc: &Loc,
        mode: u32,
        umask: u32,
        xdata: &Dict,
    ) -> Result<Entry>;
    /// Remove a name; the parent directory's attributes after the change when the bricks said.
    async fn unlink(&self, c: &Caller, loc: &Loc, xdata: &Dict) -> Result<Option<Iatt>>;
    /// Remove a directory; the parent directory's attributes after the change when known.
    async fn rmdir(&self, c: &Caller, loc: &Loc, flags: i32, xdata: &Dict) -> Result<Option<Iatt>>;
    async fn symlink(
        &self,
        c: &Caller,
        target: &[u8],
        loc: &Loc,
        umask: u32,
        xdata: &Dict,
    ) -> Result<Entry>;
    /// Rename `old` (parent+name, gfid known) to `new` (parent+name).
    async fn rename(&self, c: &Caller, old: &Loc, new: &Loc, xdata: &Dict) -> Result<Iatt>;
    /// Hard link the inode `old` (gfid) as `new` (parent+name).
    async fn link(&self, c: &Caller, old: &Loc, new: &Loc, xdata: &Dict) -> Result<Entry>;
    async fn create(
        &self,
        c: &Caller,
        loc: &Loc,
        flags: i32,
        mode: u32,
        umask: u32,
        xdata: &Dict,
    ) -> Result<(Fd, Entry)>;
    async fn open(&self, c: &Caller, loc: &Loc, flags: i32) -> Result<Fd>;
    async fn read(&self, c: &Caller, fd: &Fd, offset: u64, size: u32) -> Result<Bytes>;
    async fn write(&self, c: &Caller, fd: &Fd, offset: u64, data: Bytes) -> Result<PrePost>;
    /// `write` carrying request xdata and returning the reply's (a GlusterFS WRITE has both; AFR
    /// asks the brick whether the write appended and how many inodelks wait). Layers that do not
    /// pass xdata on answer as `write` does, with an empty reply dict.
    async fn write_xdata(
        &self,
        c: &Caller,
        fd: &Fd,
        offset: u64,
        data: Bytes,
        xdata: &Dict,
    ) -> Result<(PrePost, Dict)> {
        let _ = xdata;
        Ok((self.write(c, fd, offset, data).await?, Dict::new()))
    }
    async fn flush(&self, c: &Caller, fd: &Fd) -> Result<()>;
    async fn fsync(&self, c: &Caller, fd: &Fd, datasync: bool) -> Result<()>;
    /// Close the fd everywhere; errors are logged by the layer, never returned.
    async fn release(&self, fd: &Fd);
    /// An fd for `gfid` that costs no round trip: the bricks' *anonymous* fds (fd number
    /// `GF_ANON_FD_NO`, libglusterfs/src/glusterfs/fd.h; server-resolve.c opens the inode by GFID
    /// for each request), as open-behind uses them. It must not carry POSIX locks and only works
    /// while the file has a name (an unlinked file needs a real open). `ENOTSUP` where a layer
    /// cannot make one without a round trip.
    fn open_anonymous(&self, gfid: Gfid, flags: i32) -> Result<Fd> {
        let _ = (gfid, flags);
        Err(FopError::Errno(libc::ENOTSUP))
    }
    /// A hint that writes through `fd` are about to come (a file just created for writing): a
    /// layer may start what the first write needs (AFR: the eager lock and pre-op) now, in the
    /// background. Never required for correctness; the default does nothing.
    fn prepare_write(&self, c: &Caller, fd: &Fd) {
        let _ = (c, fd);
    }
    async fn opendir(&self, c: &Caller, loc: &Loc) -> Result<Fd>;
    /// Entries after `offset` (0 = from the start), about `size` bytes of them, and whether they
    /// end the directory, which spares the caller the call that would return nothing (a brick
    /// says so with op_errno ENOENT on success: posix_do_readdir "pick ENOENT to indicate EOF");
    /// an empty answer always ends it.
    async fn readdirp_eof(
        &self,
        c: &Caller,
        fd: &Fd,
        offset: u64,
        size: u32,
        xdata: &Dict,
    ) -> Result<(Vec<DirEntry>, bool)>;
    /// Names only (READDIR: `iatt` is `None`), after `offset`, about `size` bytes of them, and
    /// whether they end the directory, as [`Subvolume::readdirp_eof`]. Far cheaper for a brick
    /// than READDIRP (no stat or xattrs per entry). `ENOTSUP` where a layer does not pass it on.
    async fn readdir_eof(
        &self,
        c: &Caller,
        fd: &Fd,
        offset: u64,
        size: u32,
    ) -> Result<(Vec<DirEntry>, bool)> {
        let _ = (c, fd, offset, size);
        Err(FopError::Errno(libc::ENOTSUP))
    }
    /// [`Subvolume::readdirp_eof`] without the end mark; empty = end.
    async fn readdirp(
        &self,
        c: &Caller,
        fd: &Fd,
        offset: u64,
        size: u32,
        xdata: &Dict,
    ) -> Result<Vec<DirEntry>> {
        Ok(self.readdirp_eof(c, fd, offset, size, xdata).await?.0)
    }
    async fn releasedir(&self, fd: &Fd);
    async fn statfs(&self, c: &Caller, loc: &Loc) -> Result<Statfs>;
    async fn setxattr(&self, c: &Caller, loc: &Loc, xattrs: &Dict, flags: i32) -> Result<()>;
    /// `name` None lists all xattrs.
    async fn getxattr(&self, c: &Caller, loc: &Loc, name: Option<&str>) -> Result<Dict>;
    async fn removexattr(&self, c: &Caller, loc: &Loc, name: &str) -> Result<()>;
    async fn fsetxattr(&self, c: &Caller, fd: &Fd, xattrs: &Dict, flags: i32) -> Result<()>;
    async fn fgetxattr(&self, c: &Caller, fd: &Fd, name: Option<&str>) -> Result<Dict>;
    async fn fremovexattr(&self, c: &Caller, fd: &Fd, name: &str) -> Result<()>;
    async fn fallocate(
        &self,
        c: &Caller,
        fd: &Fd,
        mode: i32,
        offset: u64,
        len: u64,
    ) -> Result<PrePost>;
    async fn discard(&self, c: &Caller, fd: &Fd, offset: u64, len: u64) -> Result<PrePost>;
    async fn zerofill(&self, c: &Caller, fd: &Fd, offset: u64, len: u64) -> Result<PrePost>;
    /// POSIX record locks (fcntl) and, with the flock owner, flock(2) locks.
    async fn lk(&self, c: &Caller, fd: &Fd, cmd: LockCmd, lock: &Flock) -> Result<Flock>;
    /// Internal inode locks in `domain` (AFR, DHT and heal serialize with these).
    async fn inodelk(
        &self,
        c: &Caller,
        domain: &str,
        loc: &Loc,
        cmd: LockCmd,
        lock: &Flock,
    ) -> Result<()>;
    async fn finodelk(
        &self,
        c: &Caller,
        domain: &str,
        fd: &Fd,
        cmd: LockCmd,
        lock: &Flock,
    ) -> Result<()>;
    /// Entry lock on `basename` (None = the whole directory) inside the directory `loc`.
    async fn entrylk(
        &self,
        c: &Caller,
        domain: &str,
        loc: &Loc,
        basename: Option<&[u8]>,
        cmd: EntryLockCmd,
        ty: EntryLockType,
    ) -> Result<()>;
    async fn xattrop(&self, c: &Caller, loc: &Loc, op: XattropOp, xattrs: &Dict) -> Result<Dict>;
    async fn fxattrop(&self, c: &Caller, fd: &Fd, op: XattropOp, xattrs: &Dict) -> Result<Dict>;
}
