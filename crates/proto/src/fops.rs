//! The 4.x fop program (`GLUSTER_FOP_PROGRAM` 1298437, version 400): request and reply bodies.
//!
//! Layouts: rpc/xdr/src/glusterfs4-xdr.x (`gfx_*_req`, `gfx_*_rsp`); member order here is wire
//! order. How the C client fills each request: xlators/protocol/client/src/client-common.c
//! (`client_pre_*_v2`); which reply type each procedure gets: the `client4_0_*_cbk` functions of
//! xlators/protocol/client/src/client-rpc-fops_v2.c. Every [`Call`](crate::Call) impl below names the pairing.
//!
//! Things the C client does that callers of this crate should copy:
//! * `xdata: None` is the NULL dict; LOOKUP without xdata is sent as an empty dict (the request is
//!   zero-initialized and `dict_to_xdr` is skipped).
//! * MKDIR, CREATE, MKNOD and SYMLINK carry `gfid-req` (a `Gfuuid`) in xdata: the GFID the new
//!   inode gets.
//! * OPEN and CREATE send `gf_flags_from_flags(flags)`; READ and WRITE's `flag` is the fd's flags.
//! * GETXATTR / FGETXATTR set `namelen` to 1 with a name, 0 (and an empty name) to list all.
//! * ENTRYLK / FENTRYLK set `namelen` to 1 with a basename, 0 (and an empty name) for the whole
//!   directory.
//! * A WRITE call's data follows the XDR arguments raw (no length, no padding); a READ reply's data
//!   follows the reply structure the same way. See [`WriteReq`] and [`ReadRsp`].
//! * A READ reply with `op_ret >= 0` and `op_errno == ENOENT` means the read reached end of file.
//! * LOOKUP's reply is a `gfx_common_2iatt_rsp`: `prestat` is the entry, `poststat` its parent.

use bytes::Bytes;
use xdr::{Decoder, Encoder, XdrDecode, XdrEncode};

use crate::dict::Dict;
use crate::flock::Flock;
use crate::gfid::Gfid;
use crate::iatt::{Iatt, Statfs};
use crate::procs::{fop, FOP_PROGRAM, FOP_VERSION};
use crate::wire::{call, invalid, message, op_status, take_rest, Body, Field, MAX_DIRENTS};
use crate::ProtoError;

// ---------------------------------------------------------------------------------------------
// Replies shared by many procedures.

message! {
    /// `gfx_common_rsp`.
    CommonRsp { op_ret: i32, op_errno: i32, xdata: Option<Dict> }
}

message! {
    /// `gfx_common_iatt_rsp` (STAT, FSTAT).
    IattRsp { op_ret: i32, op_errno: i32, xdata: Option<Dict>, stat: Iatt }
}

message! {
    /// `gfx_common_2iatt_rsp`: before/after attributes (WRITE, TRUNCATE, SETATTR, FSYNC...); for
    /// UNLINK and RMDIR the parent's; for LOOKUP the entry (`prestat`) and its parent (`poststat`).
    TwoIattRsp { op_ret: i32, op_errno: i32, xdata: Option<Dict>, prestat: Iatt, poststat: Iatt }
}

/// LOOKUP's reply: `prestat` is the looked-up entry, `poststat` its parent directory.
pub type LookupRsp = TwoIattRsp;

message! {
    /// `gfx_common_3iatt_rsp`: the new entry and its parent before and after (MKDIR, MKNOD,
    /// SYMLINK, LINK).
    ThreeIattRsp {
        op_ret: i32,
        op_errno: i32,
        xdata: Option<Dict>,
        stat: Iatt,
        preparent: Iatt,
        postparent: Iatt,
    }
}

message! {
    /// `gfx_common_dict_rsp` (GETXATTR, FGETXATTR, XATTROP, FXATTROP). Note `xdata` comes first.
    DictRsp {
        op_ret: i32,
        op_errno: i32,
        xdata: Option<Dict>,
        dict: Option<Dict>,
        prestat: Iatt,
        poststat: Iatt,
    }
}

message! {
    /// `gfx_open_rsp` (OPEN, OPENDIR): `fd` is the brick's handle for later fd-based calls.
    OpenRsp { op_ret: i32, op_errno: i32, xdata: Option<Dict>, fd: i64 }
}

message! {
    /// `gfx_create_rsp`.
    CreateRsp {
        op_ret: i32,
        op_errno: i32,
        xdata: Option<Dict>,
        stat: Iatt,
        fd: i64,
        preparent: Iatt,
        postparent: Iatt,
    }
}

message! {
    /// `gfx_readlink_rsp`: `path` is the target (no NUL on the wire).
    ReadlinkRsp { op_ret: i32, op_errno: i32, xdata: Option<Dict>, buf: Iatt, path: Bytes }
}

message! {
    /// `gfx_rename_rsp`.
    RenameRsp {
        op_ret: i32,
        op_errno: i32,
        xdata: Option<Dict>,
        stat: Iatt,
        preoldparent: Iatt,
        postoldparent: Iatt,
        prenewparent: Iatt,
        postnewparent: Iatt,
    }
}

message! {
    /// `gfx_statfs_rsp`.
    StatfsRsp { op_ret: i32, op_errno: i32, xdata: Option<Dict>, statfs: Statfs }
}

message! {
    /// `gfx_lk_rsp`: for GETLK, the conflicting lock (or `l_type == F_UNLCK`).
    LkRsp { op_ret: i32, op_errno: i32, xdata: Option<Dict>, flock: Flock }
}

message! {
    /// `gfx_seek_rsp`.
    SeekRsp { op_ret: i32, op_errno: i32, xdata: Option<Dict>, offset: u64 }
}

message! {
    /// `gfx_rchecksum_rsp`.
    RchecksumRsp {
        op_ret: i32,
        op_errno: i32,
        xdata: Option<Dict>,
        flags: u32,
        weak_checksum: u32,
        strong_checksum: Bytes,
    }
}

/// `gfx_read_rsp` plus the data that follows it. Wire order is `op_ret, op_errno, stat, size,
/// xdata` (xdata last, unlike the other replies); the data comes after, raw, `op_ret` bytes long.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ReadRsp {
    pub op_ret: i32,
    pub op_errno: i32,
    pub stat: Iatt,
    /// What the server put in `size` (the byte count; clients use `op_ret`).
    pub size: u32,
    pub xdata: Option<Dict>,
    pub data: Bytes,
}

impl ReadRsp {
    /// `op_ret >= 0` with `op_errno == ENOENT`: the brick's posix layer says the read hit EOF.
    pub fn at_eof(&self) -> bool {
        self.op_ret >= 0 && self.op_errno == libc::ENOENT
    }
}

impl Body for ReadRsp {
    fn encode_xdr(&self, e: &mut Encoder) {
        e.put_i32(self.op_ret);
        e.put_i32(self.op_errno);
        e.put(&self.stat);
        e.put_u32(self.size);
        Dict::encode_xdr_opt(self.xdata.as_ref(), e);
    }

    fn payload(&self) -> Option<&Bytes> {
        (!self.data.is_empty()).then_some(&self.data)
    }

    /// The data must be exactly `op_ret` bytes when `op_ret >= 0`, and absent on failure.
    fn decode_body(body: Bytes) -> Result<Self, ProtoError> {
        let mut d = Decoder::new(body);
        let op_ret = d.get_i32()?;
        let op_errno = d.get_i32()?;
        let stat = d.get()?;
        let size = d.get_u32()?;
        let xdata = Dict::decode_xdr_opt(&mut d)?;
        let data = take_rest(&mut d);
        let want = usize::try_from(op_ret).unwrap_or(0);
        if data.len() != want {
            return Err(invalid("READ reply data length differs from op_ret").into());
        }
        Ok(ReadRsp {
            op_ret,
            op_errno,
            stat,
            size,
            xdata,
            data,
        })
    }
}

/// One READDIR entry (`gfx_dirlist`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Dirent {
    pub ino: u64,
    /// Offset to pass as the next READDIR's `offset` to continue after this entry.
    pub off: u64,
    pub d_len: u32,
    /// `DT_*` value.
    pub d_type: u32,
    pub name: Bytes,
}

/// One READDIRP entry (`gfx_dirplist`): a [`Dirent`] plus attributes and per-entry xattrs.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DirentPlus {
    pub ino: u64,
    pub off: u64,
    pub d_len: u32,
    pub d_type: u32,
    pub name: Bytes,
    pub stat: Iatt,
    pub dict: Option<Dict>,
}

/// Encode an XDR optional-data linked list (`entry *next`): `1, entry, 1, entry, ..., 0`.
fn put_list<T>(e: &mut Encoder, items: &[T], f: impl Fn(&T, &mut Encoder)) {
    for it in items {
        e.put_bool(true);
        f(it, e);
    }
    e.put_bool(false);
}

/// Decode such a list of at most `max` entries.
fn get_list<T>(
    d: &mut Decoder,
    max: usize,
    f: impl Fn(&mut Decoder) -> xdr::Result<T>,
) -> xdr::Result<Vec<T>> {
    let mut out = Vec::new();
    while d.get_bool()? {
        if out.len() == max {
            return Err(xdr::XdrError::TooLong { len: max + 1, max });
        }
        out.push(f(d)?);
    }
    Ok(out)
}

/// `gfx_readdir_rsp` (decoded like `xdr_gfx_readdir_rsp_custom`, rpc/xdr/src/xdr-custom.c).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ReaddirRsp {
    pub op_ret: i32,
    pub op_errno: i32,
    pub xdata: Option<Dict>,
    pub entries: Vec<Dirent>,
}

impl XdrEncode for ReaddirRsp {
    fn encode(&self, e: &mut Encoder) {
        e.put_i32(self.op_ret);
        e.put_i32(self.op_errno);
        Dict::encode_xdr_opt(self.xdata.as_ref(), e);
        put_list(e, &self.entries, |x, e| {
            e.put_u64(x.ino);
            e.put_u64(x.off);
            e.put_u32(x.d_len);
            e.put_u32(x.d_type);
            e.put_opaque(&x.name);
        });
    }
}

impl XdrDecode for ReaddirRsp {
    fn decode(d: &mut Decoder) -> xdr::Result<Self> {
        Ok(ReaddirRsp {
            op_ret: d.get_i32()?,
            op_errno: d.get_i32()?,
            xdata: Dict::decode_xdr_opt(d)?,
            entries: get_list(d, MAX_DIRENTS, |d| {
                Ok(Dirent {
                    ino: d.get_u64()?,
                    off: d.get_u64()?,
                    d_len: d.get_u32()?,
                    d_type: d.get_u32()?,
                    name: Field::get(d)?,
                })
            })?,
        })
    }
}

/// `gfx_readdirp_rsp` (decoded like `xdr_gfx_readdirp_rsp_custom`). At most
/// [`MAX_DIRENTS`] entries are accepted.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ReaddirpRsp {
    pub op_ret: i32,
    pub op_errno: i32,
    pub xdata: Option<Dict>,
    pub entries: Vec<DirentPlus>,
}

impl XdrEncode for ReaddirpRsp {
    fn encode(&self, e: &mut Encoder) {
        e.put_i32(self.op_ret);
        e.put_i32(self.op_errno);
        Dict::encode_xdr_opt(self.xdata.as_ref(), e);
        put_list(e, &self.entries, |x, e| {
            e.put_u64(x.ino);
            e.put_u64(x.off);
            e.put_u32(x.d_len);
            e.put_u32(x.d_type);
            e.put_opaque(&x.name);
            e.put(&x.stat);
            Dict::encode_xdr_opt(x.dict.as_ref(), e);
        });
    }
}

impl XdrDecode for ReaddirpRsp {
    fn decode(d: &mut Decoder) -> xdr::Result<Self> {
        Ok(ReaddirpRsp {
            op_ret: d.get_i32()?,
            op_errno: d.get_i32()?,
            xdata: Dict::decode_xdr_opt(d)?,
            entries: get_list(d, MAX_DIRENTS, |d| {
                Ok(DirentPlus {
                    ino: d.get_u64()?,
                    off: d.get_u64()?,
                    d_len: d.get_u32()?,
                    d_type: d.get_u32()?,
                    name: Field::get(d)?,
                    stat: d.get()?,
                    dict: Dict::decode_xdr_opt(d)?,
                })
            })?,
        })
    }
}

macro_rules! plain_body {
    ($($t:ty),*) => {$(
        impl Body for $t {
            fn encode_xdr(&self, e: &mut Encoder) {
                self.encode(e)
            }
            fn decode_body(body: Bytes) -> Result<Self, ProtoError> {
                crate::wire::decode_exact(body)
            }
        }
    )*};
}
plain_body!(ReaddirRsp, ReaddirpRsp);

op_status!(
    CommonRsp,
    IattRsp,
    TwoIattRsp,
    ThreeIattRsp,
    DictRsp,
    OpenRsp,
    CreateRsp,
    ReadlinkRsp,
    RenameRsp,
    StatfsRsp,
    LkRsp,
    SeekRsp,
    RchecksumRsp,
    ReadRsp,
    ReaddirRsp,
    ReaddirpRsp,
);

// ---------------------------------------------------------------------------------------------
// Requests.

message! {
    /// `gfx_stat_req`.
    StatReq { gfid: Gfid, xdata: Option<Dict> }
}
message! {
    /// `gfx_readlink_req`: `size` is the caller's buffer size.
    ReadlinkReq { gfid: Gfid, size: u32, xdata: Option<Dict> }
}
message! {
    /// `gfx_mknod_req`.
    MknodReq { pargfid: Gfid, dev: u64, mode: u32, umask: u32, bname: Bytes, xdata: Option<Dict> }
}
message! {
    /// `gfx_mkdir_req`. Put `gfid-req` in xdata.
    MkdirReq { pargfid: Gfid, mode: u32, umask: u32, bname: Bytes, xdata: Option<Dict> }
}
message! {
    /// `gfx_unlink_req`.
    UnlinkReq { pargfid: Gfid, bname: Bytes, xflags: u32, xdata: Option<Dict> }
}
message! {
    /// `gfx_rmdir_req` (`xflags` before the name, unlike UNLINK).
    RmdirReq { pargfid: Gfid, xflags: i32, bname: Bytes, xdata: Option<Dict> }
}
message! {
    /// `gfx_symlink_req`: `linkname` is the target.
    SymlinkReq { pargfid: Gfid, bname: Bytes, umask: u32, linkname: Bytes, xdata: Option<Dict> }
}
message! {
    /// `gfx_rename_req`: `oldgfid`/`newgfid` are the two parent directories.
    RenameReq { oldgfid: Gfid, newgfid: Gfid, oldbname: Bytes, newbname: Bytes, xdata: Option<Dict> }
}
message! {
    /// `gfx_link_req`: `oldgfid` is the existing inode, `newgfid` the new parent.
    LinkReq { oldgfid: Gfid, newgfid: Gfid, newbname: Bytes, xdata: Option<Dict> }
}
message! {
    /// `gfx_truncate_req`.
    TruncateReq { gfid: Gfid, offset: u64, xdata: Option<Dict> }
}
message! {
    /// `gfx_open_req`: `flags` = `gf_flags_from_flags(open flags)`.
    OpenReq { gfid: Gfid, flags: u32, xdata: Option<Dict> }
}
message! {
    /// `gfx_read_req`. `fd` is the brick's fd (or -2 for an anonymous fd, `GF_ANON_FD_NO`).
    ReadReq { gfid: Gfid, fd: i64, offset: u64, size: u32, flag: u32, xdata: Option<Dict> }
}

/// `gfx_write_req` plus the data. The XDR `size` member is `data.len()`; the data follows the
/// arguments raw in the same record (returned by [`Body::payload`] so a transport can send it
/// without copying).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct WriteReq {
    pub gfid: Gfid,
    pub fd: i64,
    pub offset: u64,
    /// The fd's open flags, untranslated.
    pub flag: u32,
    pub xdata: Option<Dict>,
    pub data: Bytes,
}

impl Body for WriteReq {
    fn encode_xdr(&self, e: &mut Encoder) {
        e.put(&self.gfid);
        e.put_i64(self.fd);
        e.put_u64(self.offset);
        e.put_u32(self.data.len() as u32);
        e.put_u32(self.flag);
        Dict::encode_xdr_opt(self.xdata.as_ref(), e);
    }

    fn payload(&self) -> Option<&Bytes> {
        (!self.data.is_empty()).then_some(&self.data)
    }

    fn decode_body(body: Bytes) -> Result<Self, ProtoError> {
        let mut d = Decoder::new(body);
        let gfid = d.get()?;
        let fd = d.get_i64()?;
        let offset = d.get_u64()?;
        let size = d.get_u32()? as usize;
        let flag = d.get_u32()?;
        let xdata = Dict::decode_xdr_opt(&mut d)?;
        let data = take_rest(&mut d);
        if data.len() != size {
            return Err(invalid("WRITE data length differs from size").into());
        }
        Ok(WriteReq {
            gfid,
            fd,
            offset,
            flag,
            xdata,
            data,
        })
    }
}

message! {
    /// `gfx_statfs_req`.
    StatfsReq { gfid: Gfid, xdata: Option<Dict> }
}
message! {
    /// `gfx_flush_req`.
    FlushReq { gfid: Gfid, fd: i64, xdata: Option<Dict> }
}
message! {
    /// `gfx_fsync_req`: `data` nonzero = fdatasync.
    FsyncReq { gfid: Gfid, fd: i64, data: u32, xdata: Option<Dict> }
}
message! {
    /// `gfx_setxattr_req`: the xattrs to set are `dict` (binary values as `DictValue::Bin`).
    SetxattrReq { gfid: Gfid, flags: u32, dict: Option<Dict>, xdata: Option<Dict> }
}
message! {
    /// `gfx_getxattr_req`: `namelen` is a flag (1 = `name` given, 0 = list all).
    GetxattrReq { gfid: Gfid, namelen: u32, name: String, xdata: Option<Dict> }
}
message! {
    /// `gfx_removexattr_req`.
    RemovexattrReq { gfid: Gfid, name: String, xdata: Option<Dict> }
}
message! {
    /// `gfx_opendir_req`.
    OpendirReq { gfid: Gfid, xdata: Option<Dict> }
}
message! {
    /// `gfx_fsyncdir_req`.
    FsyncdirReq { gfid: Gfid, fd: i64, data: i32, xdata: Option<Dict> }
}
message! {
    /// `gfx_access_req`.
    AccessReq { gfid: Gfid, mask: u32, xdata: Option<Dict> }
}
message! {
    /// `gfx_create_req`: `flags` = `gf_flags_from_flags(open flags)`; put `gfid-req` in xdata.
    CreateReq { pargfid: Gfid, flags: u32, mode: u32, umask: u32, bname: Bytes, xdata: Option<Dict> }
}
message! {
    /// `gfx_ftruncate_req`.
    FtruncateReq { gfid: Gfid, fd: i64, offset: u64, xdata: Option<Dict> }
}
message! {
    /// `gfx_fstat_req`.
    FstatReq { gfid: Gfid, fd: i64, xdata: Option<Dict> }
}
message! {
    /// `gfx_lk_req`: `cmd` is `GF_LK_*`, `lk_type` `GF_LK_F_*` (see [`crate::consts::lock`]).
    LkReq { gfid: Gfid, fd: i64, cmd: u32, lk_type: u32, flock: Flock, xdata: Option<Dict> }
}
message! {
    /// `gfx_lookup_req`: by parent + name (`pargfid`, `bname`), or by `gfid` with an empty name.
    LookupReq { gfid: Gfid, pargfid: Gfid, flags: u32, bname: Bytes, xdata: Option<Dict> }
}
message! {
    /// `gfx_readdir_req`.
    ReaddirReq { gfid: Gfid, fd: i64, offset: u64, size: u32, xdata: Option<Dict> }
}
message! {
    /// `gfx_inodelk_req`: `volume` is the lock domain (e.g. `ref-replicate-0`). The lock's owner is
    /// the call credential's `lk_owner` (the locks translator uses `frame->root->lk_owner`), not
    /// `flock.owner`; the same holds for FINODELK, ENTRYLK and FENTRYLK.
    InodelkReq { gfid: Gfid, cmd: u32, lk_type: u32, flock: Flock, volume: String, xdata: Option<Dict> }
}
message! {
    /// `gfx_finodelk_req`.
    FinodelkReq {
        gfid: Gfid,
        fd: i64,
        cmd: u32,
        lk_type: u32,
        flock: Flock,
        volume: String,
        xdata: Option<Dict>,
    }
}
message! {
    /// `gfx_entrylk_req`: `cmd` `ENTRYLK_*`, `lk_type` `ENTRYLK_RDLCK`/`WRLCK`; `namelen` is a flag
    /// (1 = lock the entry `name`, 0 = the whole directory).
    EntrylkReq {
        gfid: Gfid,
        cmd: u32,
        lk_type: u32,
        namelen: u64,
        name: Bytes,
        volume: String,
        xdata: Option<Dict>,
    }
}
message! {
    /// `gfx_fentrylk_req`.
    FentrylkReq {
        gfid: Gfid,
        fd: i64,
        cmd: u32,
        lk_type: u32,
        namelen: u64,
        name: Bytes,
        volume: String,
        xdata: Option<Dict>,
    }
}
message! {
    /// `gfx_xattrop_req`: `flags` is `GF_XATTROP_*` ([`crate::consts::xattrop`]).
    XattropReq { gfid: Gfid, flags: u32, dict: Option<Dict>, xdata: Option<Dict> }
}
message! {
    /// `gfx_fxattrop_req`.
    FxattropReq { gfid: Gfid, fd: i64, flags: u32, dict: Option<Dict>, xdata: Option<Dict> }
}
message! {
    /// `gfx_fgetxattr_req`.
    FgetxattrReq { gfid: Gfid, fd: i64, namelen: u32, name: String, xdata: Option<Dict> }
}
message! {
    /// `gfx_fsetxattr_req`.
    FsetxattrReq { gfid: Gfid, fd: i64, flags: u32, dict: Option<Dict>, xdata: Option<Dict> }
}
message! {
    /// `gfx_rchecksum_req`.
    RchecksumReq { gfid: Gfid, fd: i64, offset: u64, len: u32, flags: u32, xdata: Option<Dict> }
}
message! {
    /// `gfx_setattr_req`: `valid` is `GF_SET_ATTR_*` ([`crate::consts::setattr`]).
    SetattrReq { gfid: Gfid, stbuf: Iatt, valid: i32, xdata: Option<Dict> }
}
message! {
    /// `gfx_fsetattr_req`.
    FsetattrReq { gfid: Gfid, fd: i64, stbuf: Iatt, valid: i32, xdata: Option<Dict> }
}
message! {
    /// `gfx_readdirp_req`: ask for per-entry xattrs by naming them in xdata.
    ReaddirpReq { gfid: Gfid, fd: i64, offset: u64, size: u32, xdata: Option<Dict> }
}
message! {
    /// `gfx_release_req`.
    ReleaseReq { gfid: Gfid, fd: i64, xdata: Option<Dict> }
}
message! {
    /// `gfx_releasedir_req`.
    ReleasedirReq { gfid: Gfid, fd: i64, xdata: Option<Dict> }
}
message! {
    /// `gfx_fremovexattr_req`.
    FremovexattrReq { gfid: Gfid, fd: i64, name: String, xdata: Option<Dict> }
}
message! {
    /// `gfx_fallocate_req`: `flags` are `fallocate(2)` mode bits.
    FallocateReq { gfid: Gfid, fd: i64, flags: u32, offset: u64, size: u64, xdata: Option<Dict> }
}
message! {
    /// `gfx_discard_req`.
    DiscardReq { gfid: Gfid, fd: i64, offset: u64, size: u64, xdata: Option<Dict> }
}
message! {
    /// `gfx_zerofill_req`.
    ZerofillReq { gfid: Gfid, fd: i64, offset: u64, size: u64, xdata: Option<Dict> }
}
message! {
    /// `gfx_ipc_req`.
    IpcReq { op: i32, xdata: Option<Dict> }
}
message! {
    /// `gfx_seek_req`: `what` is `GF_SEEK_DATA`/`GF_SEEK_HOLE`.
    SeekReq { gfid: Gfid, fd: i64, offset: u64, what: i32, xdata: Option<Dict> }
}

impl GetxattrReq {
    /// Get one xattr (`namelen` 1), or list them all with `None` (`namelen` 0, empty name).
    pub fn new(gfid: Gfid, name: Option<&str>, xdata: Option<Dict>) -> Self {
        GetxattrReq {
            gfid,
            namelen: u32::from(name.is_some()),
            name: name.unwrap_or_default().to_string(),
            xdata,
        }
    }
}

impl FgetxattrReq {
    /// As [`GetxattrReq::new`], on an open fd.
    pub fn new(gfid: Gfid, fd: i64, name: Option<&str>, xdata: Option<Dict>) -> Self {
        FgetxattrReq {
            gfid,
            fd,
            namelen: u32::from(name.is_some()),
            name: name.unwrap_or_default().to_string(),
            xdata,
        }
    }
}

impl EntrylkReq {
    /// Lock entry `name` in directory `gfid`, or the whole directory with `None`.
    pub fn new(gfid: Gfid, cmd: u32, lk_type: u32, name: Option<Bytes>, volume: &str) -> Self {
        EntrylkReq {
            gfid,
            cmd,
            lk_type,
            namelen: u64::from(name.is_some()),
            name: name.unwrap_or_default(),
            volume: volume.to_string(),
            xdata: None,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Procedure table: request type, procedure number, reply type.

macro_rules! fops {
    ($($req:ty => $proc:ident, $reply:ty;)*) => {$(
        call!($req, FOP_PROGRAM, FOP_VERSION, fop::$proc, stringify!($proc), $reply);
    )*};
}

fops! {
    StatReq => STAT, IattRsp;
    ReadlinkReq => READLINK, ReadlinkRsp;
    MknodReq => MKNOD, ThreeIattRsp;
    MkdirReq => MKDIR, ThreeIattRsp;
    UnlinkReq => UNLINK, TwoIattRsp;
    RmdirReq => RMDIR, TwoIattRsp;
    SymlinkReq => SYMLINK, ThreeIattRsp;
    RenameReq => RENAME, RenameRsp;
    LinkReq => LINK, ThreeIattRsp;
    TruncateReq => TRUNCATE, TwoIattRsp;
    OpenReq => OPEN, OpenRsp;
    ReadReq => READ, ReadRsp;
    WriteReq => WRITE, TwoIattRsp;
    StatfsReq => STATFS, StatfsRsp;
    FlushReq => FLUSH, CommonRsp;
    FsyncReq => FSYNC, TwoIattRsp;
    SetxattrReq => SETXATTR, CommonRsp;
    GetxattrReq => GETXATTR, DictRsp;
    RemovexattrReq => REMOVEXATTR, CommonRsp;
    OpendirReq => OPENDIR, OpenRsp;
    FsyncdirReq => FSYNCDIR, CommonRsp;
    AccessReq => ACCESS, CommonRsp;
    CreateReq => CREATE, CreateRsp;
    FtruncateReq => FTRUNCATE, TwoIattRsp;
    FstatReq => FSTAT, IattRsp;
    LkReq => LK, LkRsp;
    LookupReq => LOOKUP, LookupRsp;
    ReaddirReq => READDIR, ReaddirRsp;
    InodelkReq => INODELK, CommonRsp;
    FinodelkReq => FINODELK, CommonRsp;
    EntrylkReq => ENTRYLK, CommonRsp;
    FentrylkReq => FENTRYLK, CommonRsp;
    XattropReq => XATTROP, DictRsp;
    FxattropReq => FXATTROP, DictRsp;
    FgetxattrReq => FGETXATTR, DictRsp;
    FsetxattrReq => FSETXATTR, CommonRsp;
    RchecksumReq => RCHECKSUM, RchecksumRsp;
    SetattrReq => SETATTR, TwoIattRsp;
    FsetattrReq => FSETATTR, TwoIattRsp;
    ReaddirpReq => READDIRP, ReaddirpRsp;
    ReleaseReq => RELEASE, CommonRsp;
    ReleasedirReq => RELEASEDIR, CommonRsp;
    FremovexattrReq => FREMOVEXATTR, CommonRsp;
    FallocateReq => FALLOCATE, TwoIattRsp;
    DiscardReq => DISCARD, TwoIattRsp;
    ZerofillReq => ZEROFILL, TwoIattRsp;
    IpcReq => IPC, CommonRsp;
    SeekReq => SEEK, SeekRsp;
}
