//! File attributes and file-system statistics.
//!
//! * [`Iatt`] is `gfx_iattx` (rpc/xdr/src/glusterfs4-xdr.x), the attribute record of the 4.x
//!   program; the C side converts with `gfx_stat_to_iattx` (rpc/xdr/src/glusterfs3.h).
//! * [`GfIatt`] is the older `gf_iatt`, still used by the cache-invalidation callback.
//! * [`MdataIatt`] is `gfx_mdata_iatt` (a dict value type).
//! * [`Statfs`] is `gf_statfs`.
//!
//! Type bits follow `ia_type_from_st_mode` (libglusterfs/src/glusterfs/iatt.h): the file type is
//! carried in the `S_IFMT` bits of `mode`.

use xdr::{Decoder, Encoder, XdrDecode, XdrEncode};

use crate::gfid::Gfid;
use crate::wire::{message, Field};

/// `ia_type_t` (libglusterfs/src/glusterfs/iatt.h).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[repr(u8)]
pub enum IaType {
    #[default]
    Inval = 0,
    Reg = 1,
    Dir = 2,
    Lnk = 3,
    Blk = 4,
    Chr = 5,
    Fifo = 6,
    Sock = 7,
}

/// `S_IFMT` and friends (Linux values; the wire carries st_mode bits as Linux defines them).
pub mod mode {
    pub const S_IFMT: u32 = 0o170000;
    pub const S_IFSOCK: u32 = 0o140000;
    pub const S_IFLNK: u32 = 0o120000;
    pub const S_IFREG: u32 = 0o100000;
    pub const S_IFBLK: u32 = 0o060000;
    pub const S_IFDIR: u32 = 0o040000;
    pub const S_IFCHR: u32 = 0o020000;
    pub const S_IFIFO: u32 = 0o010000;
    /// Permission bits plus setuid, setgid and sticky.
    pub const PERM_MASK: u32 = 0o7777;
}

impl IaType {
    /// `ia_type_from_st_mode`.
    pub fn from_mode(m: u32) -> Self {
        match m & mode::S_IFMT {
            mode::S_IFREG => IaType::Reg,
            mode::S_IFDIR => IaType::Dir,
            mode::S_IFLNK => IaType::Lnk,
            mode::S_IFBLK => IaType::Blk,
            mode::S_IFCHR => IaType::Chr,
            mode::S_IFIFO => IaType::Fifo,
            mode::S_IFSOCK => IaType::Sock,
            _ => IaType::Inval,
        }
    }

    /// `st_mode_type_from_ia`: the `S_IFMT` bits for this type (0 for `Inval`).
    pub fn mode_bits(self) -> u32 {
        match self {
            IaType::Inval => 0,
            IaType::Reg => mode::S_IFREG,
            IaType::Dir => mode::S_IFDIR,
            IaType::Lnk => mode::S_IFLNK,
            IaType::Blk => mode::S_IFBLK,
            IaType::Chr => mode::S_IFCHR,
            IaType::Fifo => mode::S_IFIFO,
            IaType::Sock => mode::S_IFSOCK,
        }
    }

    /// The `d_type` value (`DT_*`) a directory entry of this type carries.
    pub fn d_type(self) -> u32 {
        (self.mode_bits() >> 12) & 0xf
    }

    /// From a `DT_*` value.
    pub fn from_d_type(d: u32) -> Self {
        Self::from_mode((d & 0xf) << 12)
    }
}

/// Validity bits of [`Iatt::flags`] (`IATT_*`, libglusterfs/src/glusterfs/iatt.h).
pub mod iatt_flags {
    pub const TYPE: u64 = 0x1;
    pub const MODE: u64 = 0x2;
    pub const NLINK: u64 = 0x4;
    pub const UID: u64 = 0x8;
    pub const GID: u64 = 0x10;
    pub const ATIME: u64 = 0x20;
    pub const MTIME: u64 = 0x40;
    pub const CTIME: u64 = 0x80;
    pub const INO: u64 = 0x100;
    pub const SIZE: u64 = 0x200;
    pub const BLOCKS: u64 = 0x400;
    pub const BTIME: u64 = 0x800;
    pub const GFID: u64 = 0x1000;
    /// What a brick's posix translator sets for a plain stat (0x17ff, seen on the wire).
    pub const BASIC: u64 = 0x7ff | GFID;
}

/// `gfx_iattx`: attributes as the 4.x program sends them. Member order below is the wire order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Iatt {
    pub gfid: Gfid,
    /// Validity bits, see [`iatt_flags`].
    pub flags: u64,
    pub ino: u64,
    pub dev: u64,
    pub rdev: u64,
    pub size: u64,
    pub blocks: u64,
    /// `chattr`-style attributes (statx `stx_attributes`).
    pub attributes: u64,
    pub attributes_mask: u64,
    pub atime: i64,
    pub mtime: i64,
    pub ctime: i64,
    pub btime: i64,
    pub atime_nsec: u32,
    pub mtime_nsec: u32,
    pub ctime_nsec: u32,
    pub btime_nsec: u32,
    pub nlink: u32,
    pub uid: u32,
    pub gid: u32,
    pub blksize: u32,
    /// File type and permission bits, as `st_mode`.
    pub mode: u32,
}

/// Encoded size of a `gfx_iattx`.
pub const IATTX_XDR_SIZE: usize = 16 + 8 * 12 + 4 * 9;

impl Iatt {
    pub fn ia_type(&self) -> IaType {
        IaType::from_mode(self.mode)
    }
    pub fn is_dir(&self) -> bool {
        self.ia_type() == IaType::Dir
    }
    pub fn is_reg(&self) -> bool {
        self.ia_type() == IaType::Reg
    }
    pub fn is_symlink(&self) -> bool {
        self.ia_type() == IaType::Lnk
    }
    /// Permission bits including setuid, setgid and sticky (`mode & 0o7777`).
    pub fn perm(&self) -> u32 {
        self.mode & mode::PERM_MASK
    }
    /// An all-zero record, as servers send in unused slots (e.g. the iatts of an FXATTROP reply).
    pub fn is_empty(&self) -> bool {
        *self == Iatt::default()
    }
    /// Major and minor device numbers of `rdev` (glibc `gnu_dev_major`/`gnu_dev_minor` encoding).
    pub fn rdev_major_minor(&self) -> (u32, u32) {
        let d = self.rdev;
        let major = ((d >> 8) & 0xfff) | ((d >> 32) & !0xfff);
        let minor = (d & 0xff) | ((d >> 12) & !0xff);
        (major as u32, minor as u32)
    }
}

impl XdrEncode for Iatt {
    fn encode(&self, e: &mut Encoder) {
        e.put(&self.gfid);
        for v in [
            self.flags,
            self.ino,
            self.dev,
            self.rdev,
            self.size,
            self.blocks,
            self.attributes,
            self.attributes_mask,
        ] {
            e.put_u64(v);
        }
        for v in [self.atime, self.mtime, self.ctime, self.btime] {
            e.put_i64(v);
        }
        for v in [
            self.atime_nsec,
            self.mtime_nsec,
            self.ctime_nsec,
            self.btime_nsec,
            self.nlink,
            self.uid,
            self.gid,
            self.blksize,
            self.mode,
        ] {
            e.put_u32(v);
        }
    }
}

impl XdrDecode for Iatt {
    fn decode(d: &mut Decoder) -> xdr::Result<Self> {
        Ok(Iatt {
            gfid: d.get()?,
            flags: d.get_u64()?,
            ino: d.get_u64()?,
            dev: d.get_u64()?,
            rdev: d.get_u64()?,
            size: d.get_u64()?,
            blocks: d.get_u64()?,
            attributes: d.get_u64()?,
            attributes_mask: d.get_u64()?,
            atime: d.get_i64()?,
            mtime: d.get_i64()?,
            ctime: d.get_i64()?,
            btime: d.get_i64()?,
            atime_nsec: d.get_u32()?,
            mtime_nsec: d.get_u32()?,
            ctime_nsec: d.get_u32()?,
            btime_nsec: d.get_u32()?,
            nlink: d.get_u32()?,
            uid: d.get_u32()?,
            gid: d.get_u32()?,
            blksize: d.get_u32()?,
            mode: d.get_u32()?,
        })
    }
}

impl Field for Iatt {
    fn put(&self, e: &mut Encoder) {
        self.encode(e)
    }
    fn get(d: &mut Decoder) -> xdr::Result<Self> {
        Self::decode(d)
    }
}

impl Field for Gfid {
    fn put(&self, e: &mut Encoder) {
        self.encode(e)
    }
    fn get(d: &mut Decoder) -> xdr::Result<Self> {
        Self::decode(d)
    }
}

message! {
    /// `gf_iatt`: the 3.x attribute record (32-bit times), used by the cache-invalidation callback.
    GfIatt {
        gfid: Gfid,
        ino: u64,
        dev: u64,
        mode: u32,
        nlink: u32,
        uid: u32,
        gid: u32,
        rdev: u64,
        size: u64,
        blksize: u32,
        blocks: u64,
        atime: u32,
        atime_nsec: u32,
        mtime: u32,
        mtime_nsec: u32,
        ctime: u32,
        ctime_nsec: u32,
    }
}

impl From<&GfIatt> for Iatt {
    /// `gf_stat_to_iatt`.
    fn from(g: &GfIatt) -> Self {
        Iatt {
            gfid: g.gfid,
            ino: g.ino,
            dev: g.dev,
            rdev: g.rdev,
            size: g.size,
            blocks: g.blocks,
            atime: i64::from(g.atime),
            mtime: i64::from(g.mtime),
            ctime: i64::from(g.ctime),
            atime_nsec: g.atime_nsec,
            mtime_nsec: g.mtime_nsec,
            ctime_nsec: g.ctime_nsec,
            nlink: g.nlink,
            uid: g.uid,
            gid: g.gid,
            blksize: g.blksize,
            mode: g.mode,
            ..Iatt::default()
        }
    }
}

message! {
    /// `gfx_mdata_iatt`: times only (a dict value type, `GF_DATA_TYPE_MDATA`).
    MdataIatt {
        atime: i64,
        mtime: i64,
        ctime: i64,
        atime_nsec: u32,
        mtime_nsec: u32,
        ctime_nsec: u32,
    }
}

message! {
    /// `gf_statfs`: `statvfs` fields as 64-bit values.
    Statfs {
        bsize: u64,
        frsize: u64,
        blocks: u64,
        bfree: u64,
        bavail: u64,
        files: u64,
        ffree: u64,
        favail: u64,
        fsid: u64,
        flag: u64,
        namemax: u64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    pub(crate) fn arb_iatt() -> impl Strategy<Value = Iatt> {
        (
            any::<[u8; 16]>(),
            any::<[u64; 8]>(),
            any::<[i64; 4]>(),
            any::<[u32; 9]>(),
        )
            .prop_map(|(g, a, t, b)| Iatt {
                gfid: Gfid(g),
                flags: a[0],
                ino: a[1],
                dev: a[2],
                rdev: a[3],
                size: a[4],
                blocks: a[5],
                attributes: a[6],
                attributes_mask: a[7],
                atime: t[0],
                mtime: t[1],
                ctime: t[2],
                btime: t[3],
                atime_nsec: b[0],
                mtime_nsec: b[1],
                ctime_nsec: b[2],
                btime_nsec: b[3],
                nlink: b[4],
                uid: b[5],
                gid: b[6],
                blksize: b[7],
                mode: b[8],
            })
    }

    #[test]
    fn types_from_mode() {
        let mut i = Iatt {
            mode: 0o40755,
            ..Iatt::default()
        };
        assert!(i.is_dir() && !i.is_reg());
        assert_eq!(i.perm(), 0o755);
        i.mode = 0o100644;
        assert!(i.is_reg());
        i.mode = 0o120777;
        assert!(i.is_symlink());
        assert_eq!(IaType::from_mode(0), IaType::Inval);
        assert_eq!(IaType::Dir.d_type(), libc::DT_DIR as u32);
        assert_eq!(IaType::Reg.d_type(), libc::DT_REG as u32);
        assert_eq!(IaType::from_d_type(libc::DT_LNK as u32), IaType::Lnk);
        let dev = Iatt {
            rdev: libc::makedev(8, 17),
            ..Iatt::default()
        };
        assert_eq!(dev.rdev_major_minor(), (8, 17));
    }

    #[test]
    fn gf_iatt_conversion() {
        let g = GfIatt {
            gfid: Gfid::ROOT,
            mode: 0o40755,
            atime: 5,
            nlink: 3,
            ..GfIatt::default()
        };
        let i = Iatt::from(&g);
        assert!(i.is_dir());
        assert_eq!((i.atime, i.nlink, i.gfid), (5, 3, Gfid::ROOT));
        assert_eq!(XdrEncode::to_bytes(&g).len(), 16 + 8 * 5 + 4 * 11);
    }

    proptest! {
        #[test]
        fn iatt_roundtrip(i in arb_iatt()) {
            let b = XdrEncode::to_bytes(&i);
            prop_assert_eq!(b.len(), IATTX_XDR_SIZE);
            prop_assert_eq!(<Iatt as XdrDecode>::from_bytes(b).unwrap(), i);
        }

        #[test]
        fn iatt_garbage(data in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = <Iatt as XdrDecode>::from_bytes(bytes::Bytes::from(data));
        }
    }
}
