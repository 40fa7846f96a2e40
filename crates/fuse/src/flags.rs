//! Pure translations between what the kernel sends and what the fops take: open flags, fallocate
//! modes, lock ranges and owners, setattr masks, device numbers, errno fix-ups.

use bytes::Bytes;

/// `OFFSET_MAX` of the kernel: a lock to end of file.
pub const OFFSET_MAX: u64 = i64::MAX as u64;

/// Open flags for the bricks. With the kernel writeback cache, the kernel may read pages of a file
/// opened write-only (to fill partial pages) and it handles O_APPEND itself from its cached size,
/// so write-only opens become read-write and O_APPEND is dropped (as libfuse's passthrough does).
pub fn open_flags(flags: i32, writeback_cache: bool) -> i32 {
    let mut f = flags & !(libc::O_CREAT | libc::O_EXCL | libc::O_NOCTTY);
    if writeback_cache {
        if f & libc::O_ACCMODE == libc::O_WRONLY {
            f = (f & !libc::O_ACCMODE) | libc::O_RDWR;
        }
        f &= !libc::O_APPEND;
    }
    f
}

/// What a FUSE fallocate request becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Falloc {
    /// The `fallocate` fop, with FALLOC_FL_KEEP_SIZE in the mode when asked.
    Allocate { keep_size: bool },
    /// FALLOC_FL_PUNCH_HOLE (always with KEEP_SIZE, the kernel enforces it): the `discard` fop.
    PunchHole,
    /// FALLOC_FL_ZERO_RANGE: the `zerofill` fop. GlusterFS's C client sends zero-range down as a
    /// plain fallocate, which succeeds and leaves the old data in place; zerofill really zeroes.
    /// With KEEP_SIZE the range is clipped to the file size first (zerofill would extend it).
    ZeroRange { keep_size: bool },
}

/// Map a fallocate mode; anything else (collapse/insert range, unshare, ...) is EOPNOTSUPP, as on
/// filesystems without them.
pub fn fallocate_mode(mode: i32) -> Result<Falloc, i32> {
    let keep = mode & libc::FALLOC_FL_KEEP_SIZE != 0;
    let rest = mode & !libc::FALLOC_FL_KEEP_SIZE;
    match rest {
        0 => Ok(Falloc::Allocate { keep_size: keep }),
        libc::FALLOC_FL_PUNCH_HOLE if keep => Ok(Falloc::PunchHole),
        libc::FALLOC_FL_PUNCH_HOLE => Err(libc::EOPNOTSUPP),
        libc::FALLOC_FL_ZERO_RANGE => Ok(Falloc::ZeroRange { keep_size: keep }),
        _ => Err(libc::EOPNOTSUPP),
    }
}

/// Clip `[offset, offset+len)` to a file of `size` bytes; None when nothing is left.
pub fn clip_range(offset: u64, len: u64, size: u64) -> Option<(u64, u64)> {
    if offset >= size {
        return None;
    }
    let end = offset.saturating_add(len).min(size);
    Some((offset, end - offset))
}

/// A lock owner as GlusterFS puts a 64-bit FUSE owner on the wire: `set_lk_owner_from_uint64`
/// (libglusterfs/src/glusterfs/lkowner.h), 8 bytes, least significant first.
pub fn lk_owner_bytes(owner: u64) -> Bytes {
    Bytes::copy_from_slice(&owner.to_le_bytes())
}

/// A POSIX lock as the fops carry it (`struct gf_flock` fields).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockRange {
    /// F_RDLCK, F_WRLCK or F_UNLCK.
    pub typ: i32,
    pub start: u64,
    /// 0 = to end of file.
    pub len: u64,
    pub pid: u32,
}

/// `convert_fuse_file_lock` (contrib/fuse-lib/misc.c): FUSE's inclusive `[start, end]` with
/// `end == OFFSET_MAX` for "to EOF" becomes start + length, length 0 for "to EOF".
pub fn lock_from_fuse(start: u64, end: u64, typ: i32, pid: u32) -> Result<LockRange, i32> {
    if !matches!(typ, libc::F_RDLCK | libc::F_WRLCK | libc::F_UNLCK) {
        return Err(libc::EINVAL);
    }
    let len = if end == OFFSET_MAX || end == u64::MAX {
        0
    } else if end < start {
        return Err(libc::EINVAL);
    } else {
        end - start + 1
    };
    Ok(LockRange {
        typ,
        start,
        len,
        pid,
    })
}

/// `fuse_getlk_cbk`: the conflicting lock back as FUSE's `(start, end, type, pid)`; an unlocked
/// answer has start = end = 0.
pub fn lock_to_fuse(l: &LockRange) -> (u64, u64, i32, u32) {
    if l.typ == libc::F_UNLCK {
        return (0, 0, libc::F_UNLCK, l.pid);
    }
    let end = if l.len == 0 {
        OFFSET_MAX
    } else {
        l.start.saturating_add(l.len - 1)
    };
    (l.start, end, l.typ, l.pid)
}

/// The kernel's 32-bit device number (`new_encode_dev`) from major and minor.
pub fn kernel_dev(major: u32, minor: u32) -> u32 {
    (minor & 0xff) | ((major & 0xfff) << 8) | ((minor & !0xff) << 12)
}

/// Major and minor from the kernel's 32-bit device number (`new_decode_dev`).
pub fn kernel_dev_split(dev: u32) -> (u32, u32) {
    let major = (dev & 0xfff00) >> 8;
    let minor = (dev & 0xff) | ((dev >> 12) & 0xfff00);
    (major, minor)
}

/// Errno for an operation addressed by inode only (no fd): GlusterFS's fuse-bridge turns ENOENT
/// into ESTALE there ("facilitate retry from VFS"): the kernel then drops its dentry and looks
/// the name up again instead of failing a path that may exist under a new GFID.
pub fn inode_errno(errno: i32) -> i32 {
    if errno == libc::ENOENT {
        libc::ESTALE
    } else {
        sane_errno(errno)
    }
}

/// An errno the kernel accepts (1..4095); anything else is EIO.
pub fn sane_errno(errno: i32) -> i32 {
    if (1..4096).contains(&errno) {
        errno
    } else {
        libc::EIO
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_flag_translation() {
        assert_eq!(open_flags(libc::O_RDONLY, false), libc::O_RDONLY);
        assert_eq!(
            open_flags(libc::O_WRONLY | libc::O_APPEND, false),
            libc::O_WRONLY | libc::O_APPEND
        );
        assert_eq!(
            open_flags(libc::O_WRONLY | libc::O_APPEND | libc::O_SYNC, true),
            libc::O_RDWR | libc::O_SYNC
        );
        assert_eq!(open_flags(libc::O_RDONLY, true), libc::O_RDONLY);
        assert_eq!(
            open_flags(libc::O_RDWR | libc::O_CREAT | libc::O_EXCL, false),
            libc::O_RDWR
        );
    }

    #[test]
    fn fallocate_modes() {
        use libc::{
            FALLOC_FL_COLLAPSE_RANGE, FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE,
            FALLOC_FL_ZERO_RANGE,
        };
        assert_eq!(fallocate_mode(0), Ok(Falloc::Allocate { keep_size: false }));
        assert_eq!(
            fallocate_mode(FALLOC_FL_KEEP_SIZE),
            Ok(Falloc::Allocate { keep_size: true })
        );
        assert_eq!(
            fallocate_mode(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE),
            Ok(Falloc::PunchHole)
        );
        assert_eq!(fallocate_mode(FALLOC_FL_PUNCH_HOLE), Err(libc::EOPNOTSUPP));
        assert_eq!(
            fallocate_mode(FALLOC_FL_ZERO_RANGE),
            Ok(Falloc::ZeroRange { keep_size: false })
        );
        assert_eq!(
            fallocate_mode(FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE),
            Ok(Falloc::ZeroRange { keep_size: true })
        );
        assert_eq!(
            fallocate_mode(FALLOC_FL_COLLAPSE_RANGE),
            Err(libc::EOPNOTSUPP)
        );
        assert_eq!(
            fallocate_mode(FALLOC_FL_ZERO_RANGE | FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE),
            Err(libc::EOPNOTSUPP)
        );
    }

    #[test]
    fn clipping() {
        assert_eq!(clip_range(0, 10, 100), Some((0, 10)));
        assert_eq!(clip_range(95, 10, 100), Some((95, 5)));
        assert_eq!(clip_range(100, 10, 100), None);
        assert_eq!(clip_range(5, u64::MAX, 100), Some((5, 95)));
    }

    #[test]
    fn lock_owner_is_little_endian() {
        assert_eq!(
            &lk_owner_bytes(0x0102_0304_0506_0708)[..],
            &[8, 7, 6, 5, 4, 3, 2, 1]
        );
    }

    #[test]
    fn lock_ranges() {
        let whole = lock_from_fuse(0, OFFSET_MAX, libc::F_WRLCK, 7).unwrap();
        assert_eq!(whole.len, 0);
        assert_eq!(lock_to_fuse(&whole), (0, OFFSET_MAX, libc::F_WRLCK, 7));
        let part = lock_from_fuse(10, 19, libc::F_RDLCK, 1).unwrap();
        assert_eq!((part.start, part.len), (10, 10));
        assert_eq!(lock_to_fuse(&part), (10, 19, libc::F_RDLCK, 1));
        let un = LockRange {
            typ: libc::F_UNLCK,
            start: 5,
            len: 3,
            pid: 0,
        };
        assert_eq!(lock_to_fuse(&un), (0, 0, libc::F_UNLCK, 0));
        assert_eq!(lock_from_fuse(10, 5, libc::F_RDLCK, 1), Err(libc::EINVAL));
        assert_eq!(lock_from_fuse(0, 5, 42, 1), Err(libc::EINVAL));
    }

    #[test]
    fn device_numbers_roundtrip() {
        for (ma, mi) in [(1u32, 3u32), (8, 0), (259, 65536 + 7), (4095, 0xfffff)] {
            let d = kernel_dev(ma, mi);
            assert_eq!(kernel_dev_split(d), (ma, mi));
        }
        // /dev/null: 1,3 -> 0x103 in both encodings.
        assert_eq!(kernel_dev(1, 3), 0x103);
    }

    #[test]
    fn errno_fixups() {
        assert_eq!(inode_errno(libc::ENOENT), libc::ESTALE);
        assert_eq!(inode_errno(libc::EACCES), libc::EACCES);
        assert_eq!(sane_errno(0), libc::EIO);
        assert_eq!(sane_errno(-5), libc::EIO);
        assert_eq!(sane_errno(100_000), libc::EIO);
    }
}
