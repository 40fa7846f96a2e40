//! GlusterFS attributes to FUSE attributes (`gf_fuse_stat2attr`, fuse-helpers.c).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fop::Iatt;
use fuser::{FileAttr, FileType, INodeNo};
use proto::IaType;

use crate::flags::kernel_dev;

/// `st_blksize` reported to applications, as GlusterFS's fuse-bridge does
/// (`buf->ia_blksize = this->ctx->page_size`, 128 KiB: glusterfsd.c `ctx->page_size`). It sizes
/// applications' buffers: glibc reads directories in max(32 KiB, st_blksize) getdents calls (each
/// one READDIRPLUS), stdio and Python buffer file I/O in st_blksize pieces.
pub const BLKSIZE: u32 = 128 * 1024;

pub fn file_type(t: IaType) -> Option<FileType> {
    Some(match t {
        IaType::Reg => FileType::RegularFile,
        IaType::Dir => FileType::Directory,
        IaType::Lnk => FileType::Symlink,
        IaType::Blk => FileType::BlockDevice,
        IaType::Chr => FileType::CharDevice,
        IaType::Fifo => FileType::NamedPipe,
        IaType::Sock => FileType::Socket,
        IaType::Inval => return None,
    })
}

/// Seconds + nanoseconds since the epoch (possibly negative) as a SystemTime.
pub fn system_time(secs: i64, nsec: u32) -> SystemTime {
    let nsec = nsec.min(999_999_999);
    if secs >= 0 {
        UNIX_EPOCH + Duration::new(secs as u64, nsec)
    } else {
        // secs < 0: go back |secs| seconds, then forward nsec.
        UNIX_EPOCH - Duration::from_secs(secs.unsigned_abs())
            + Duration::from_nanos(u64::from(nsec))
    }
}

/// A SystemTime as seconds + nanoseconds since the epoch.
pub fn split_time(t: SystemTime) -> (i64, u32) {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => (
            i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            d.subsec_nanos(),
        ),
        Err(e) => {
            let d = e.duration();
            let secs = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
            if d.subsec_nanos() == 0 {
                (-secs, 0)
            } else {
                (-secs - 1, 1_000_000_000 - d.subsec_nanos())
            }
        }
    }
}

/// The FUSE attributes of `iatt`, reported under node id `ino`. An invalid type is reported as a
/// regular file (the kernel refuses inodes without a type).
pub fn to_file_attr(iatt: &Iatt, ino: u64) -> FileAttr {
    let (major, minor) = iatt.rdev_major_minor();
    FileAttr {
        ino: INodeNo(ino),
        size: iatt.size,
        blocks: iatt.blocks,
        atime: system_time(iatt.atime, iatt.atime_nsec),
        mtime: system_time(iatt.mtime, iatt.mtime_nsec),
        ctime: system_time(iatt.ctime, iatt.ctime_nsec),
        crtime: system_time(iatt.btime, iatt.btime_nsec),
        kind: file_type(iatt.ia_type()).unwrap_or(FileType::RegularFile),
        perm: (iatt.perm() & 0o7777) as u16,
        nlink: iatt.nlink,
        uid: iatt.uid,
        gid: iatt.gid,
        rdev: kernel_dev(major, minor),
        blksize: BLKSIZE,
        flags: 0,
    }
}

/// A placeholder directory attribute for "." and "..", whose attributes the kernel ignores in a
/// readdirplus reply (it only uses the inode number and type of those entries).
pub fn dir_placeholder(ino: u64) -> FileAttr {
    FileAttr {
        ino: INodeNo(ino),
        size: 0,
        blocks: 0,
        atime: UNIX_EPOCH,
        mtime: UNIX_EPOCH,
        ctime: UNIX_EPOCH,
        crtime: UNIX_EPOCH,
        kind: FileType::Directory,
        perm: 0o755,
        nlink: 2,
        uid: 0,
        gid: 0,
        rdev: 0,
        blksize: BLKSIZE,
        flags: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fop::Gfid;

    #[test]
    fn converts_iatt() {
        let iatt = Iatt {
            gfid: Gfid::ROOT,
            size: 12345,
            blocks: 32,
            atime: 1_700_000_000,
            atime_nsec: 5,
            mtime: -2,
            mtime_nsec: 500_000_000,
            ctime: 0,
            nlink: 3,
            uid: 1000,
            gid: 100,
            mode: 0o104755,
            ..Iatt::default()
        };
        let a = to_file_attr(&iatt, 42);
        assert_eq!(a.ino, INodeNo(42));
        assert_eq!(a.size, 12345);
        assert_eq!(a.kind, FileType::RegularFile);
        assert_eq!(a.perm, 0o4755);
        assert_eq!(a.nlink, 3);
        assert_eq!((a.uid, a.gid), (1000, 100));
        assert_eq!(a.blksize, BLKSIZE);
        assert_eq!(split_time(a.atime), (1_700_000_000, 5));
        assert_eq!(split_time(a.mtime), (-2, 500_000_000));
        assert_eq!(a.ctime, UNIX_EPOCH);
    }

    #[test]
    fn device_and_types() {
        let iatt = Iatt {
            mode: 0o020644,
            rdev: (1 << 8) | 3, // glibc makedev(1, 3)
            ..Iatt::default()
        };
        let a = to_file_attr(&iatt, 9);
        assert_eq!(a.kind, FileType::CharDevice);
        assert_eq!(a.rdev, 0x103);
        for (m, t) in [
            (0o040000, FileType::Directory),
            (0o120000, FileType::Symlink),
            (0o010000, FileType::NamedPipe),
            (0o140000, FileType::Socket),
            (0o060000, FileType::BlockDevice),
        ] {
            let i = Iatt {
                mode: m,
                ..Iatt::default()
            };
            assert_eq!(to_file_attr(&i, 2).kind, t);
        }
    }

    #[test]
    fn time_roundtrip() {
        for (s, n) in [(0i64, 0u32), (5, 7), (-1, 999_999_999), (-100, 0), (-3, 1)] {
            assert_eq!(split_time(system_time(s, n)), (s, n));
        }
    }
}
