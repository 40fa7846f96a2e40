//! cluster/distribute (DHT) for gluster-rs: places each name on one subvolume by the elastic hash of
//! the name and the parent directory's layout, exactly as GlusterFS's DHT translator does
//! (xlators/cluster/dht/src/dht-common.c, dht-linkfile.c, dht-rename.c, dht-selfheal.c), so that
//! gluster-rs and the C client find each other's files.
//!
//! - Directories exist on every subvolume with the same GFID; each copy carries its hash range in the
//!   `trusted.glusterfs.dht` xattr ([`hashing::DiskLayout`]). A directory missing a range somewhere
//!   (a new volume's root, a directory created while a subvolume was down) gets a fresh layout, written
//!   under the `dht.layout.heal` inode lock as DHT does.
//! - A file lives on its *cached* subvolume; when that is not the subvolume its name hashes to (after a
//!   rename, a link, or a file created by a rebalance), the hashed subvolume holds a *linkto* file: mode
//!   `---------T`, empty, with `trusted.glusterfs.dht.linkto` naming the cached subvolume.
//! - A name not found on its hashed subvolume is looked up everywhere, unless the parent's layout is
//!   committed (lookup-optimize), where the miss is authoritative.

mod dir;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use fop::{
    err, Caller, Dict, DirEntry, Entry, EntryLockCmd, EntryLockType, Fd, Flock, FopError, Iatt,
    Loc, LockCmd, Lookup, PrePost, Result, Statfs, Subvolume, XattropOp,
};
use futures::future::join_all;
use hashing::{HashOptions, Layout};

pub use hashing::DHT_LAYOUT_XATTR;

/// The xattr naming the cached subvolume in a linkto file.
pub const LINKTO_XATTR: &str = "trusted.glusterfs.dht.linkto";
/// Lock domain DHT serializes layout writes in.
pub const LAYOUT_HEAL_DOMAIN: &str = "dht.layout.heal";
/// xdata key asking a brick to create an entry with this GFID.
pub const GFID_REQ: &str = "gfid-req";
/// xdata key marking a fop as internal (libglusterfs/src/glusterfs/glusterfs.h
/// GLUSTERFS_INTERNAL_FOP_KEY).
pub const INTERNAL_FOP_KEY: &str = "glusterfs-internal-fop";

/// Options of the distribute translator (the volfile's cluster/distribute options).
#[derive(Debug, Clone)]
pub struct DhtOptions {
    /// Name munging for the hash (rsync temp files, extra regex).
    pub hash: HashOptions,
    /// `lookup-optimize`: trust a committed layout's miss instead of looking everywhere.
    pub lookup_optimize: bool,
    /// How many directory layouts and file locations to remember.
    pub cache_entries: usize,
}

impl Default for DhtOptions {
    fn default() -> Self {
        Self {
            hash: HashOptions::default(),
            lookup_optimize: true,
            cache_entries: 65536,
        }
    }
}

/// The distribute translator over `subvols` (in volfile order).
pub struct Dht {
    name: String,
    subvols: Vec<Arc<dyn Subvolume>>,
    opts: DhtOptions,
    layouts: Mutex<HashMap<fop::Gfid, Arc<Layout>>>,
    /// Where a non-directory inode lives.
    cached: Mutex<HashMap<fop::Gfid, usize>>,
}

/// Per-fd state for files: the subvolume it was opened on and its fd there.
struct FileFd {
    subvol: usize,
    inner: Fd,
}

impl Dht {
    pub fn new(
        name: impl Into<String>,
        subvols: Vec<Arc<dyn Subvolume>>,
        opts: DhtOptions,
    ) -> Self {
        Self {
            name: name.into(),
            subvols,
            opts,
            layouts: Mutex::new(HashMap::new()),
            cached: Mutex::new(HashMap::new()),
        }
    }

    pub fn subvolumes(&self) -> &[Arc<dyn Subvolume>] {
        &self.subvols
    }

    fn sv(&self, i: usize) -> Result<&Arc<dyn Subvolume>> {
        self.subvols
            .get(i)
            .ok_or_else(|| FopError::Protocol(format!("no subvolume {i}")))
    }

    fn subvol_by_name(&self, name: &str) -> Option<usize> {
        self.subvols.iter().position(|s| s.name() == name)
    }

    fn remember_file(&self, gfid: fop::Gfid, subvol: usize) {
        if let Ok(mut m) = self.cached.lock() {
            if m.len() >= self.opts.cache_entries {
                m.clear();
            }
            m.insert(gfid, subvol);
        }
    }

    /// A directory's attributes as one subvolume reported them, passed up only when that is the
    /// whole directory (one subvolume): elsewhere lookups merge all copies (sizes, times).
    fn parent_attrs(&self, one: Option<Iatt>) -> Option<Iatt> {
        if self.subvols.len() == 1 {
            one
        } else {
            None
        }
    }

    fn forget_file(&self, gfid: &fop::Gfid) {
        if let Ok(mut m) = self.cached.lock() {
            m.remove(gfid);
        }
    }

    fn cached_file(&self, gfid: &fop::Gfid) -> Option<usize> {
        self.cached.lock().ok().and_then(|m| m.get(gfid).copied())
    }

    fn remember_layout(&self, gfid: fop::Gfid, layout: Arc<Layout>) {
        if let Ok(mut m) = self.layouts.lock() {
            if m.len() >= self.opts.cache_entries {
                m.clear();
            }
            m.insert(gfid, layout);
        }
    }

    fn cached_layout(&self, gfid: &fop::Gfid) -> Option<Arc<Layout>> {
        self.layouts.lock().ok().and_then(|m| m.get(gfid).cloned())
    }

    fn forget_layout(&self, gfid: &fop::Gfid) {
        if let Ok(mut m) = self.layouts.lock() {
            m.remove(gfid);
        }
    }

    /// The layout of directory `dir`, from the cache or by looking the directory up everywhere.
    async fn layout_of(&self, c: &Caller, dir: fop::Gfid) -> Result<Arc<Layout>> {
        if let Some(l) = self.cached_layout(&dir) {
            return Ok(l);
        }
        let (_, layout) = self.lookup_dir(c, &Loc::gfid(dir), &Dict::new()).await?;
        Ok(layout)
    }

    /// Index of the subvolume `name` hashes to in directory `parent`.
    async fn hashed_subvol(&self, c: &Caller, parent: fop::Gfid, name: &[u8]) -> Result<usize> {
        let layout = self.layout_of(c, parent).await?;
        match layout.subvol_for_name(name, &self.opts.hash) {
            Some(i) if i < self.subvols.len() => Ok(i),
            _ => {
                // A hole: the layout is being fixed or a subvolume is missing the directory.
                self.forget_layout(&parent);
                tracing::warn!(
                    dir = %parent,
                    name = %String::from_utf8_lossy(name),
                    "no subvolume holds this name's hash in the directory layout"
                );
                err(libc::EIO)
            }
        }
    }

    /// The subvolume a non-directory inode lives on, found by asking every subvolume when unknown.
    async fn file_subvol(&self, c: &Caller, gfid: fop::Gfid) -> Result<usize> {
        if let Some(i) = self.cached_file(&gfid) {
            return Ok(i);
        }
        let loc = Loc::gfid(gfid);
        let xdata = lookup_xdata();
        let results = join_all(self.subvols.iter().map(|s| s.lookup(c, &loc, &xdata))).await;
        let mut last_err = FopError::Errno(libc::ENOENT);
        for (i, r) in results.into_iter().enumerate() {
            match r {
                Ok(l) if !is_linkto(&l.iatt, &l.xdata) => {
                    self.remember_file(gfid, i);
                    return Ok(i);
                }
                Ok(_) => {}
                Err(e) if e.is(libc::ENOENT) || e.is(libc::ESTALE) => {}
                Err(e) => last_err = e,
            }
        }
        Err(last_err)
    }

    /// For an operation on an inode: all subvolumes for a directory, the cached one for a file.
    async fn inode_targets(&self, c: &Caller, loc: &Loc) -> Result<Targets> {
        if loc.gfid.is_root() || self.cached_layout(&loc.gfid).is_some() {
            return Ok(Targets::Dir);
        }
        if let Some(i) = self.cached_file(&loc.gfid) {
            return Ok(Targets::File(i));
        }
        let l = self.lookup(c, loc, &Dict::new()).await?;
        if l.iatt.is_dir() {
            Ok(Targets::Dir)
        } else {
            Ok(Targets::File(self.file_subvol(c, l.iatt.gfid).await?))
        }
    }

    /// Named lookup of a non-directory after its hashed subvolume missed: ask the others.
    async fn lookup_everywhere(&self, c: &Caller, loc: &Loc, skip: usize) -> Result<Lookup> {
        let xdata = lookup_xdata();
        let results = join_all(
            self.subvols
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != skip)
                .map(|(i, s)| {
                    let xdata = &xdata;
                    async move { (i, s.lookup(c, loc, xdata).await) }
                }),
        )
        .await;
        let mut down = None;
        for (i, r) in results {
            match r {
                Ok(l) if l.iatt.is_dir() => {
                    return self.lookup_dir(c, loc, &Dict::new()).await.map(|x| x.0)
                }
                Ok(l) if !is_linkto(&l.iatt, &l.xdata) => {
                    self.remember_file(l.iatt.gfid, i);
                    return Ok(l);
                }
                Ok(_) => {}
                Err(e) if e.is(libc::ENOENT) || e.is(libc::ESTALE) => {}
                Err(e) => down = Some(e),
            }
        }
        Err(down.unwrap_or(FopError::Errno(libc::ENOENT)))
    }

    /// Create a linkto file for `gfid` at `at` (parent+name) on subvolume `on`, pointing at `target`.
    async fn create_linkto(
        &self,
        c: &Caller,
        on: usize,
        at: &Loc,
        gfid: fop::Gfid,
        target: usize,
    ) -> Result<()> {
        let target_name = self.sv(target)?.name().to_string();
        // As dht_linkfile_create (dht-linkfile.c): the GFID of the file, the internal-fop key that
        // lets the brick hard-link to an existing GFID handle (a second name of a hard-linked
        // file), and the cached subvolume's name as a C string.
        let mut xdata = Dict::new();
        xdata.set_gfuuid(GFID_REQ, gfid);
        xdata.set_str(INTERNAL_FOP_KEY, "yes");
        xdata.set_str(LINKTO_XATTR, &target_name);
        let r = self
            .sv(on)?
            .mknod(
                &Caller::root(),
                at,
                libc::S_IFREG | libc::S_ISVTX,
                0,
                0,
                &xdata,
            )
            .await;
        match r {
            Ok(_) => Ok(()),
            Err(e) if e.is(libc::EEXIST) => {
                // A stale linkto (or file) with this name: replace it.
                let _ = self.sv(on)?.unlink(&Caller::root(), at, &Dict::new()).await;
                self.sv(on)?
                    .mknod(
                        &Caller::root(),
                        at,
                        libc::S_IFREG | libc::S_ISVTX,
                        0,
                        0,
                        &xdata,
                    )
                    .await
                    .map(|_| ())
            }
            Err(e) => {
                let _ = c;
                Err(e)
            }
        }
    }

    /// Remove the linkto file named by `at` on `on`, if it is one.
    async fn remove_linkto(&self, on: usize, at: &Loc) {
        let Ok(sv) = self.sv(on) else { return };
        if let Ok(l) = sv.lookup(&Caller::root(), at, &lookup_xdata()).await {
            if is_linkto(&l.iatt, &l.xdata) {
                if let Err(e) = sv
                    .unlink(
                        &Caller::root(),
                        &at.clone().with_gfid(l.iatt.gfid),
                        &Dict::new(),
                    )
                    .await
                {
                    tracing::warn!(?at, error = %e, "could not remove a linkto file");
                }
            }
        }
    }
}

enum Targets {
    Dir,
    File(usize),
}

/// The xattrs DHT asks a brick to return with a lookup.
fn lookup_xdata() -> Dict {
    let mut d = Dict::new();
    d.set_u64(DHT_LAYOUT_XATTR, 16);
    d.set_u64(LINKTO_XATTR, 256);
    d
}

/// A DHT linkto file: a regular file with only the sticky bit, carrying the linkto xattr.
pub fn is_linkto(iatt: &Iatt, xdata: &Dict) -> bool {
    iatt.is_reg() && (iatt.mode & 0o7777) == libc::S_ISVTX && xdata.contains_key(LINKTO_XATTR)
}

/// The subvolume name a linkto value carries (a C string).
fn linkto_target(xdata: &Dict) -> Option<String> {
    let b = xdata.get_bytes(LINKTO_XATTR)?;
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    std::str::from_utf8(b.get(..end)?).ok().map(str::to_string)
}

/// A fresh GFID for a new entry, unless the caller chose one.
fn ensure_gfid_req(xdata: &Dict) -> (Dict, fop::Gfid) {
    let mut x = xdata.clone();
    if let Some(g) = xdata.get_gfid(GFID_REQ).or_else(|| {
        xdata
            .get_bytes(GFID_REQ)
            .and_then(|b| fop::Gfid::from_slice(b))
    }) {
        return (x, g);
    }
    let g = fop::Gfid(*uuid::Uuid::new_v4().as_bytes());
    x.set_gfuuid(GFID_REQ, g);
    (x, g)
}

#[async_trait]
impl Subvolume for Dht {
    fn name(&self) -> &str {
        &self.name
    }

    async fn lookup(&self, c: &Caller, loc: &Loc, xdata: &Dict) -> Result<Lookup> {
        if loc.name.is_empty() {
            // Nameless (by GFID): a directory is everywhere, a file somewhere.
            if loc.gfid.is_root() || self.cached_layout(&loc.gfid).is_some() {
                return self.lookup_dir(c, loc, xdata).await.map(|x| x.0);
            }
            let i = self.file_subvol(c, loc.gfid).await?;
            let l = self.sv(i)?.lookup(c, loc, xdata).await?;
            if l.iatt.is_dir() {
                return self.lookup_dir(c, loc, xdata).await.map(|x| x.0);
            }
            return Ok(l);
        }
        let hashed = self.hashed_subvol(c, loc.parent, &loc.name).await?;
        let mut req = xdata.clone();
        for (k, v) in lookup_xdata().iter() {
            req.insert(k, v.clone());
        }
        match self.sv(hashed)?.lookup(c, loc, &req).await {
            Ok(l) if l.iatt.is_dir() => self.lookup_dir(c, loc, xdata).await.map(|x| x.0),
            Ok(l) if is_linkto(&l.iatt, &l.xdata) => {
                let target = linkto_target(&l.xdata).and_then(|n| self.subvol_by_name(&n));
                if let Some(t) = target {
                    match self.sv(t)?.lookup(c, loc, &req).await {
                        Ok(real) if real.iatt.gfid == l.iatt.gfid => {
                            self.remember_file(real.iatt.gfid, t);
                            return Ok(real);
                        }
                        Ok(_) | Err(_) => {}
                    }
                }
                // Stale or dangling linkto: find the file wherever it is.
                self.lookup_everywhere(c, loc, hashed).await
            }
            Ok(l) => {
                self.remember_file(l.iatt.gfid, hashed);
                Ok(l)
            }
            Err(e) if e.is(libc::ENOENT) => {
                let layout = self.layout_of(c, loc.parent).await?;
                if self.opts.lookup_optimize && dir::layout_committed(&layout) {
                    return Err(e);
                }
                self.lookup_everywhere(c, loc, hashed).await
            }
            Err(e) => Err(e),
        }
    }

    async fn stat(&self, c: &Caller, loc: &Loc) -> Result<Iatt> {
        match self.inode_targets(c, loc).await? {
            Targets::Dir => self
                .lookup_dir(c, loc, &Dict::new())
                .await
                .map(|x| x.0.iatt),
            Targets::File(i) => self.sv(i)?.stat(c, loc).await,
        }
    }

    async fn fstat(&self, c: &Caller, fd: &Fd) -> Result<Iatt> {
        if let Ok(f) = fd.ctx::<FileFd>() {
            return self.sv(f.subvol)?.fstat(c, &f.inner).await;
        }
        self.stat(c, &Loc::gfid(fd.gfid)).await
    }

    async fn setattr(&self, c: &Caller, loc: &Loc, attr: &Iatt, valid: u32) -> Result<PrePost> {
        match self.inode_targets(c, loc).await? {
            Targets::Dir => {
                self.on_all_dirs(|s| async move { s.setattr(c, loc, attr, valid).await })
                    .await
            }
            Targets::File(i) => self.sv(i)?.setattr(c, loc, attr, valid).await,
        }
    }

    async fn fsetattr(&self, c: &Caller, fd: &Fd, attr: &Iatt, valid: u32) -> Result<PrePost> {
        match fd.ctx::<FileFd>() {
            Ok(f) => self.sv(f.subvol)?.fsetattr(c, &f.inner, attr, valid).await,
            Err(_) => self.setattr(c, &Loc::gfid(fd.gfid), attr, valid).await,
        }
    }

    async fn truncate(&self, c: &Caller, loc: &Loc, size: u64) -> Result<PrePost> {
        match self.inode_targets(c, loc).await? {
            Targets::Dir => err(libc::EISDIR),
            Targets::File(i) => self.sv(i)?.truncate(c, loc, size).await,
        }
    }

    async fn ftruncate(&self, c: &Caller, fd: &Fd, size: u64) -> Result<PrePost> {
        let f = fd.ctx::<FileFd>()?;
        self.sv(f.subvol)?.ftruncate(c, &f.inner, size).await
    }

    async fn access(&self, c: &Caller, loc: &Loc, mask: u32) -> Result<()> {
        match self.inode_targets(c, loc).await? {
            Targets::Dir => self.sv(0)?.access(c, loc, mask).await,
            Targets::File(i) => self.sv(i)?.access(c, loc, mask).await,
        }
    }

    async fn readlink(&self, c: &Caller, loc: &Loc) -> Result<Bytes> {
        let i = self.file_subvol(c, loc.gfid).await?;
        self.sv(i)?.readlink(c, loc).await
    }

    async fn mknod(
        &self,
        c: &Caller,
        loc: &Loc,
        mode: u32,
        rdev: u64,
        umask: u32,
        xdata: &Dict,
    ) -> Result<Entry> {
        let i = self.hashed_subvol(c, loc.parent, &loc.name).await?;
        let (x, gfid) = ensure_gfid_req(xdata);
        let e = self.sv(i)?.mknod(c, loc, mode, rdev, umask, &x).await?;
        self.remember_file(gfid, i);
        Ok(e)
    }

    async fn mkdir(
        &self,
        c: &Caller,
        loc: &Loc,
        mode: u32,
        umask: u32,
        xdata: &Dict,
    ) -> Result<Entry> {
        self.mkdir_everywhere(c, loc, mode, umask, xdata).await
    }

    async fn unlink(&self, c: &Caller, loc: &Loc, xdata: &Dict) -> Result<Option<Iatt>> {
        // The caller usually knows the GFID (from its lookup) and this layer where that file
        // lives: then no lookup is needed, as dht_unlink uses the inode's cached subvolume.
        if !loc.gfid.is_null() {
            if let Some(cached) = self.cached_file(&loc.gfid) {
                let hashed = self.hashed_subvol(c, loc.parent, &loc.name).await?;
                match self.sv(cached)?.unlink(c, loc, xdata).await {
                    Ok(postparent) => {
                        // Other hard links find it again by lookup.
                        self.forget_file(&loc.gfid);
                        if hashed != cached {
                            self.remove_linkto(hashed, &Loc::entry(loc.parent, loc.name.clone()))
                                .await;
                        }
                        return Ok(self.parent_attrs(postparent));
                    }
                    // Moved (rebalance) or replaced since: find it again below.
                    Err(e) if e.is(libc::ENOENT) || e.is(libc::ESTALE) => {
                        self.forget_file(&loc.gfid);
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        let l = self.lookup(c, loc, &Dict::new()).await?;
        let cached = self.file_subvol(c, l.iatt.gfid).await?;
        let hashed = self.hashed_subvol(c, loc.parent, &loc.name).await?;
        let at = loc.clone().with_gfid(l.iatt.gfid);
        let postparent = self.sv(cached)?.unlink(c, &at, xdata).await?;
        if hashed != cached {
            self.remove_linkto(hashed, &Loc::entry(loc.parent, loc.name.clone()))
                .await;
        }
        if l.iatt.nlink <= 1 {
            self.forget_file(&l.iatt.gfid);
        }
        Ok(self.parent_attrs(postparent))
    }

    async fn rmdir(&self, c: &Caller, loc: &Loc, flags: i32, xdata: &Dict) -> Result<Option<Iatt>> {
        self.rmdir_everywhere(c, loc, flags, xdata).await
    }

    async fn symlink(
        &self,
        c: &Caller,
        target: &[u8],
        loc: &Loc,
        umask: u32,
        xdata: &Dict,
    ) -> Result<Entry> {
        let i = self.hashed_subvol(c, loc.parent, &loc.name).await?;
        let (x, gfid) = ensure_gfid_req(xdata);
        let e = self.sv(i)?.symlink(c, target, loc, umask, &x).await?;
        self.remember_file(gfid, i);
        Ok(e)
    }

    async fn rename(&self, c: &Caller, old: &Loc, new: &Loc, xdata: &Dict) -> Result<Iatt> {
        let src = self.lookup(c, old, &Dict::new()).await?;
        if src.iatt.is_dir() {
            return self.rename_dir(c, old, new, &src.iatt, xdata).await;
        }
        let s = self.file_subvol(c, src.iatt.gfid).await?;
        let old_hashed = self.hashed_subvol(c, old.parent, &old.name).await?;
        let new_hashed = self.hashed_subvol(c, new.parent, &new.name).await?;
        let old_at = old.clone().with_gfid(src.iatt.gfid);
        let new_entry = Loc::entry(new.parent, new.name.clone());
        // An existing destination elsewhere than the source's subvolume goes first, with its linkto.
        if let Ok(dst) = self.lookup(c, &new_entry, &Dict::new()).await {
            if dst.iatt.is_dir() {
                return err(libc::EISDIR);
            }
            if dst.iatt.gfid == src.iatt.gfid {
                // Same inode (hard links): POSIX says do nothing.
                return Ok(src.iatt);
            }
            let d = self.file_subvol(c, dst.iatt.gfid).await?;
            if d != s {
                self.sv(d)?
                    .unlink(c, &new_entry.clone().with_gfid(dst.iatt.gfid), &Dict::new())
                    .await?;
                if dst.iatt.nlink <= 1 {
                    self.forget_file(&dst.iatt.gfid);
                }
            }
            if new_hashed != d && new_hashed != s {
                self.remove_linkto(new_hashed, &new_entry).await;
            }
        }
        let iatt = self.sv(s)?.rename(c, &old_at, new, xdata).await?;
        if new_hashed != s {
            self.create_linkto(c, new_hashed, &new_entry, src.iatt.gfid, s)
                .await?;
        }
        // The old name's linkto (if the file did not live on its hashed subvolume) goes away.
        let same_name = old.parent == new.parent && old.name == new.name;
        if old_hashed != s && !same_name {
            self.remove_linkto(old_hashed, &Loc::entry(old.parent, old.name.clone()))
                .await;
        }
        Ok(iatt)
    }

    async fn link(&self, c: &Caller, old: &Loc, new: &Loc, xdata: &Dict) -> Result<Entry> {
        let s = self.file_subvol(c, old.gfid).await?;
        let hashed = self.hashed_subvol(c, new.parent, &new.name).await?;
        let e = self.sv(s)?.link(c, old, new, xdata).await?;
        if hashed != s {
            self.create_linkto(
                c,
                hashed,
                &Loc::entry(new.parent, new.name.clone()),
                old.gfid,
                s,
            )
            .await?;
        }
        Ok(e)
    }

    async fn create(
        &self,
        c: &Caller,
        loc: &Loc,
        flags: i32,
        mode: u32,
        umask: u32,
        xdata: &Dict,
    ) -> Result<(Fd, Entry)> {
        let i = self.hashed_subvol(c, loc.parent, &loc.name).await?;
        let (x, gfid) = ensure_gfid_req(xdata);
        let (inner, e) = self.sv(i)?.create(c, loc, flags, mode, umask, &x).await?;
        self.remember_file(gfid, i);
        let fd = Fd::new(e.iatt.gfid, flags, FileFd { subvol: i, inner });
        Ok((fd, e))
    }

    fn open_anonymous(&self, gfid: fop::Gfid, flags: i32) -> Result<Fd> {
        // Only where the file lives is known without asking (dht_open uses the cached subvolume).
        let i = if self.subvols.len() == 1 {
            0
        } else {
            self.cached_file(&gfid)
                .ok_or(FopError::Errno(libc::ENOTSUP))?
        };
        let inner = self.sv(i)?.open_anonymous(gfid, flags)?;
        Ok(Fd::new(gfid, flags, FileFd { subvol: i, inner }))
    }

    fn prepare_write(&self, c: &Caller, fd: &Fd) {
        if let Ok(f) = fd.ctx::<FileFd>() {
            if let Ok(sv) = self.sv(f.subvol) {
                sv.prepare_write(c, &f.inner);
            }
        }
    }

    async fn open(&self, c: &Caller, loc: &Loc, flags: i32) -> Result<Fd> {
        let i = self.file_subvol(c, loc.gfid).await?;
        let inner = self.sv(i)?.open(c, loc, flags).await?;
        Ok(Fd::new(loc.gfid, flags, FileFd { subvol: i, inner }))
    }

    async fn read(&self, c: &Caller, fd: &Fd, offset: u64, size: u32) -> Result<Bytes> {
        let f = fd.ctx::<FileFd>()?;
        self.sv(f.subvol)?.read(c, &f.inner, offset, size).await
    }

    async fn write(&self, c: &Caller, fd: &Fd, offset: u64, data: Bytes) -> Result<PrePost> {
        let f = fd.ctx::<FileFd>()?;
        self.sv(f.subvol)?.write(c, &f.inner, offset, data).await
    }

    async fn flush(&self, c: &Caller, fd: &Fd) -> Result<()> {
        let f = fd.ctx::<FileFd>()?;
        self.sv(f.subvol)?.flush(c, &f.inner).await
    }

    async fn fsync(&self, c: &Caller, fd: &Fd, datasync: bool) -> Result<()> {
        match fd.ctx::<FileFd>() {
            Ok(f) => self.sv(f.subvol)?.fsync(c, &f.inner, datasync).await,
            Err(_) => dir::fsync_dir(self, c, fd, datasync).await,
        }
    }

    async fn release(&self, fd: &Fd) {
        if let Ok(f) = fd.ctx::<FileFd>() {
            if let Ok(s) = self.sv(f.subvol) {
                s.release(&f.inner).await;
            }
        }
    }

    async fn opendir(&self, c: &Caller, loc: &Loc) -> Result<Fd> {
        dir::opendir(self, c, loc).await
    }

    async fn readdirp_eof(
        &self,
        c: &Caller,
        fd: &Fd,
        offset: u64,
        size: u32,
        xdata: &Dict,
    ) -> Result<(Vec<DirEntry>, bool)> {
        dir::readdirp(self, c, fd, offset, size, xdata).await
    }

    async fn releasedir(&self, fd: &Fd) {
        dir::releasedir(self, fd).await
    }

    async fn statfs(&self, c: &Caller, loc: &Loc) -> Result<Statfs> {
        let results = join_all(self.subvols.iter().map(|s| s.statfs(c, loc))).await;
        let mut total: Option<Statfs> = None;
        let mut last_err = None;
        for r in results {
            match r {
                Ok(s) => {
                    total = Some(match total {
                        None => s,
                        Some(t) => dir::add_statfs(t, &s),
                    })
                }
                Err(e) => last_err = Some(e),
            }
        }
        total.ok_or_else(|| last_err.unwrap_or(FopError::Errno(libc::ENOTCONN)))
    }

    async fn setxattr(&self, c: &Caller, loc: &Loc, xattrs: &Dict, flags: i32) -> Result<()> {
        match self.inode_targets(c, loc).await? {
            Targets::Dir => {
                self.on_all_dirs(|s| async move { s.setxattr(c, loc, xattrs, flags).await })
                    .await
            }
            Targets::File(i) => self.sv(i)?.setxattr(c, loc, xattrs, flags).await,
        }
    }

    async fn getxattr(&self, c: &Caller, loc: &Loc, name: Option<&str>) -> Result<Dict> {
        match self.inode_targets(c, loc).await? {
            Targets::Dir => self.sv(0)?.getxattr(c, loc, name).await,
            Targets::File(i) => self.sv(i)?.getxattr(c, loc, name).await,
        }
    }

    async fn removexattr(&self, c: &Caller, loc: &Loc, name: &str) -> Result<()> {
        match self.inode_targets(c, loc).await? {
            Targets::Dir => {
                self.on_all_dirs(|s| async move { s.removexattr(c, loc, name).await })
                    .await
            }
            Targets::File(i) => self.sv(i)?.removexattr(c, loc, name).await,
        }
    }

    async fn fsetxattr(&self, c: &Caller, fd: &Fd, xattrs: &Dict, flags: i32) -> Result<()> {
        match fd.ctx::<FileFd>() {
            Ok(f) => {
                self.sv(f.subvol)?
                    .fsetxattr(c, &f.inner, xattrs, flags)
                    .await
            }
            Err(_) => self.setxattr(c, &Loc::gfid(fd.gfid), xattrs, flags).await,
        }
    }

    async fn fgetxattr(&self, c: &Caller, fd: &Fd, name: Option<&str>) -> Result<Dict> {
        match fd.ctx::<FileFd>() {
            Ok(f) => self.sv(f.subvol)?.fgetxattr(c, &f.inner, name).await,
            Err(_) => self.getxattr(c, &Loc::gfid(fd.gfid), name).await,
        }
    }

    async fn fremovexattr(&self, c: &Caller, fd: &Fd, name: &str) -> Result<()> {
        match fd.ctx::<FileFd>() {
            Ok(f) => self.sv(f.subvol)?.fremovexattr(c, &f.inner, name).await,
            Err(_) => self.removexattr(c, &Loc::gfid(fd.gfid), name).await,
        }
    }

    async fn fallocate(
        &self,
        c: &Caller,
        fd: &Fd,
        mode: i32,
        offset: u64,
        len: u64,
    ) -> Result<PrePost> {
        let f = fd.ctx::<FileFd>()?;
        self.sv(f.subvol)?
            .fallocate(c, &f.inner, mode, offset, len)
            .await
    }

    async fn discard(&self, c: &Caller, fd: &Fd, offset: u64, len: u64) -> Result<PrePost> {
        let f = fd.ctx::<FileFd>()?;
        self.sv(f.subvol)?.discard(c, &f.inner, offset, len).await
    }

    async fn zerofill(&self, c: &Caller, fd: &Fd, offset: u64, len: u64) -> Result<PrePost> {
        let f = fd.ctx::<FileFd>()?;
        self.sv(f.subvol)?.zerofill(c, &f.inner, offset, len).await
    }

    async fn lk(&self, c: &Caller, fd: &Fd, cmd: LockCmd, lock: &Flock) -> Result<Flock> {
        let f = fd.ctx::<FileFd>()?;
        self.sv(f.subvol)?.lk(c, &f.inner, cmd, lock).await
    }

    async fn inodelk(
        &self,
        c: &Caller,
        domain: &str,
        loc: &Loc,
        cmd: LockCmd,
        lock: &Flock,
    ) -> Result<()> {
        match self.inode_targets(c, loc).await? {
            Targets::Dir => self.sv(0)?.inodelk(c, domain, loc, cmd, lock).await,
            Targets::File(i) => self.sv(i)?.inodelk(c, domain, loc, cmd, lock).await,
        }
    }

    async fn finodelk(
        &self,
        c: &Caller,
        domain: &str,
        fd: &Fd,
        cmd: LockCmd,
        lock: &Flock,
    ) -> Result<()> {
        let f = fd.ctx::<FileFd>()?;
        self.sv(f.subvol)?
            .finodelk(c, domain, &f.inner, cmd, lock)
            .await
    }

    async fn entrylk(
        &self,
        c: &Caller,
        domain: &str,
        loc: &Loc,
        basename: Option<&[u8]>,
        cmd: EntryLockCmd,
        ty: EntryLockType,
    ) -> Result<()> {
        let i = match basename {
            Some(n) => self.hashed_subvol(c, loc.gfid, n).await?,
            None => 0,
        };
        self.sv(i)?.entrylk(c, domain, loc, basename, cmd, ty).await
    }

    async fn xattrop(&self, c: &Caller, loc: &Loc, op: XattropOp, xattrs: &Dict) -> Result<Dict> {
        match self.inode_targets(c, loc).await? {
            Targets::Dir => self.sv(0)?.xattrop(c, loc, op, xattrs).await,
            Targets::File(i) => self.sv(i)?.xattrop(c, loc, op, xattrs).await,
        }
    }

    async fn fxattrop(&self, c: &Caller, fd: &Fd, op: XattropOp, xattrs: &Dict) -> Result<Dict> {
        let f = fd.ctx::<FileFd>()?;
        self.sv(f.subvol)?.fxattrop(c, &f.inner, op, xattrs).await
    }
}
