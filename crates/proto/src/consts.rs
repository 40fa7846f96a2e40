//! Constants as GlusterFS encodes them, and the conversions its client applies.

/// Open flags on the wire (`GF_O_*`, rpc/xdr/src/glusterfs3.h). OPEN, CREATE (and PUT) send
/// `gf_flags_from_flags(flags)`; READ/WRITE's `flag` member carries the fd's flags untranslated.
pub mod open_flags {
    pub const GF_O_ACCMODE: u32 = 0o3;
    pub const GF_O_RDONLY: u32 = 0o0;
    pub const GF_O_WRONLY: u32 = 0o1;
    pub const GF_O_RDWR: u32 = 0o2;
    pub const GF_O_CREAT: u32 = 0o100;
    pub const GF_O_EXCL: u32 = 0o200;
    pub const GF_O_NOCTTY: u32 = 0o400;
    pub const GF_O_TRUNC: u32 = 0o1000;
    pub const GF_O_APPEND: u32 = 0o2000;
    pub const GF_O_NONBLOCK: u32 = 0o4000;
    pub const GF_O_SYNC: u32 = 0o10000;
    pub const GF_O_ASYNC: u32 = 0o20000;
    pub const GF_O_DIRECT: u32 = 0o40000;
    pub const GF_O_DIRECTORY: u32 = 0o200000;
    pub const GF_O_NOFOLLOW: u32 = 0o400000;
    pub const GF_O_NOATIME: u32 = 0o1000000;
    pub const GF_O_CLOEXEC: u32 = 0o2000000;
    pub const GF_O_LARGEFILE: u32 = 0o100000;
    pub const GF_O_FMODE_EXEC: u32 = 0o40;
    pub const GF_O_PATH: u32 = 0o10000000;

    /// GlusterFS's own `O_FMODE_EXEC` (libglusterfs/src/glusterfs/glusterfs.h).
    const O_FMODE_EXEC: i32 = 0o40;

    /// Host flag -> wire flag, in `gf_flags_from_flags`'s order.
    const BITS: [(i32, u32); 16] = [
        (libc::O_CREAT, GF_O_CREAT),
        (libc::O_EXCL, GF_O_EXCL),
        (libc::O_NOCTTY, GF_O_NOCTTY),
        (libc::O_TRUNC, GF_O_TRUNC),
        (libc::O_APPEND, GF_O_APPEND),
        (libc::O_NONBLOCK, GF_O_NONBLOCK),
        (libc::O_SYNC, GF_O_SYNC),
        (libc::O_ASYNC, GF_O_ASYNC),
        (libc::O_DIRECT, GF_O_DIRECT),
        (libc::O_DIRECTORY, GF_O_DIRECTORY),
        (libc::O_NOFOLLOW, GF_O_NOFOLLOW),
        (libc::O_NOATIME, GF_O_NOATIME),
        (libc::O_CLOEXEC, GF_O_CLOEXEC),
        // 0 on 64-bit glibc (and in the libc crate), so never set there, exactly as in C.
        (libc::O_LARGEFILE, GF_O_LARGEFILE),
        (O_FMODE_EXEC, GF_O_FMODE_EXEC),
        (libc::O_PATH, GF_O_PATH),
    ];

    /// `gf_flags_from_flags`: host `open(2)` flags to wire flags. A host bit is tested with
    /// `flags & O_X != 0`, so on Linux `O_DSYNC` alone also yields `GF_O_SYNC`, as in C.
    pub fn gf_flags_from_flags(flags: i32) -> u32 {
        let mut gf = match flags & libc::O_ACCMODE {
            libc::O_WRONLY => GF_O_WRONLY,
            libc::O_RDWR => GF_O_RDWR,
            _ => GF_O_RDONLY,
        };
        for (host, wire) in BITS {
            if flags & host != 0 {
                gf |= wire;
            }
        }
        gf
    }

    /// `gf_flags_to_flags`: wire flags to host `open(2)` flags.
    pub fn gf_flags_to_flags(gf: u32) -> i32 {
        let mut flags = match gf & GF_O_ACCMODE {
            GF_O_WRONLY => libc::O_WRONLY,
            GF_O_RDWR => libc::O_RDWR,
            _ => libc::O_RDONLY,
        };
        for (host, wire) in BITS {
            if gf & wire != 0 {
                flags |= host;
            }
        }
        flags
    }
}

/// Lock commands and types (`glusterfs_lk_cmds_t`, `glusterfs_lk_types_t`,
/// libglusterfs/src/glusterfs/glusterfs-fops.h), and the client's conversion from `fcntl`
/// values (`client_cmd_to_gf_cmd`, xlators/protocol/client/src/client-common.c).
pub mod lock {
    pub const GF_LK_GETLK: u32 = 0;
    pub const GF_LK_SETLK: u32 = 1;
    pub const GF_LK_SETLKW: u32 = 2;
    pub const GF_LK_RESLK_LCK: u32 = 3;
    pub const GF_LK_RESLK_LCKW: u32 = 4;
    pub const GF_LK_RESLK_UNLCK: u32 = 5;
    pub const GF_LK_GETLK_FD: u32 = 6;

    pub const GF_LK_F_RDLCK: u32 = 0;
    pub const GF_LK_F_WRLCK: u32 = 1;
    pub const GF_LK_F_UNLCK: u32 = 2;
    pub const GF_LK_EOL: u32 = 3;

    /// `entrylk_cmd`.
    pub const ENTRYLK_LOCK: u32 = 0;
    pub const ENTRYLK_UNLOCK: u32 = 1;
    pub const ENTRYLK_LOCK_NB: u32 = 2;
    /// `entrylk_type`.
    pub const ENTRYLK_RDLCK: u32 = 0;
    pub const ENTRYLK_WRLCK: u32 = 1;

    /// `F_GETLK`/`F_SETLK`/`F_SETLKW` to `GF_LK_*` (the `*64` twins are the same numbers on
    /// 64-bit Linux). The `F_RESLK_*` recovery commands (200..203) map too.
    pub fn gf_cmd_from_fcntl(cmd: i32) -> Option<u32> {
        match cmd {
            libc::F_GETLK => Some(GF_LK_GETLK),
            libc::F_SETLK => Some(GF_LK_SETLK),
            libc::F_SETLKW => Some(GF_LK_SETLKW),
            200 => Some(GF_LK_RESLK_LCK),
            201 => Some(GF_LK_RESLK_LCKW),
            202 => Some(GF_LK_RESLK_UNLCK),
            203 => Some(GF_LK_GETLK_FD),
            _ => None,
        }
    }

    /// `F_RDLCK`/`F_WRLCK`/`F_UNLCK` to `GF_LK_F_*` (the switch in `client_pre_lk_v2`; anything
    /// else becomes 0, as the C code leaves `gf_type` at 0).
    pub fn gf_type_from_fcntl(l_type: i32) -> u32 {
        match l_type {
            libc::F_WRLCK => GF_LK_F_WRLCK,
            libc::F_UNLCK => GF_LK_F_UNLCK,
            _ => GF_LK_F_RDLCK,
        }
    }
}

/// `valid` bits of SETATTR/FSETATTR (`GF_SET_ATTR_*`, libglusterfs/src/glusterfs/xlator.h).
pub mod setattr {
    pub const MODE: i32 = 0x1;
    pub const UID: i32 = 0x2;
    pub const GID: i32 = 0x4;
    pub const SIZE: i32 = 0x8;
    pub const ATIME: i32 = 0x10;
    pub const MTIME: i32 = 0x20;
    pub const CTIME: i32 = 0x40;
    pub const ATIME_NOW: i32 = 0x80;
    pub const MTIME_NOW: i32 = 0x100;
}

/// `gf_xattrop_flags_t` (libglusterfs/src/glusterfs/glusterfs-fops.h).
pub mod xattrop {
    pub const ADD_ARRAY: u32 = 0;
    pub const ADD_ARRAY64: u32 = 1;
    pub const OR_ARRAY: u32 = 2;
    pub const AND_ARRAY: u32 = 3;
    pub const GET_AND_SET: u32 = 4;
    pub const ADD_ARRAY_WITH_DEFAULT: u32 = 5;
    pub const ADD_ARRAY64_WITH_DEFAULT: u32 = 6;
}

/// `gf_seek_what_t`.
pub mod seek {
    pub const DATA: i32 = 0;
    pub const HOLE: i32 = 1;
}

/// `setxattr` flags as sent (the host's `XATTR_CREATE`/`XATTR_REPLACE`).
pub mod xattr_flags {
    pub const XATTR_CREATE: u32 = 1;
    pub const XATTR_REPLACE: u32 = 2;
}

/// `gf_getspec_flags_type` (rpc/rpc-lib/src/protocol-common.h).
pub const GF_GETSPEC_FLAG_SERVERS_LIST: u32 = 1;

/// The `gfs_id` the C client sends in its DUMP request (`client_handshake`).
pub const DUMP_GFS_ID: u64 = 0xcaed;

/// Upcall (callback) event types and cache-invalidation flags
/// (libglusterfs/src/glusterfs/upcall-utils.h).
pub mod upcall {
    pub const EVENT_NULL: u32 = 0;
    pub const CACHE_INVALIDATION: u32 = 1;
    pub const RECALL_LEASE: u32 = 2;
    pub const INODELK_CONTENTION: u32 = 3;
    pub const ENTRYLK_CONTENTION: u32 = 4;

    pub const UP_NLINK: u32 = 0x1;
    pub const UP_MODE: u32 = 0x2;
    pub const UP_OWN: u32 = 0x4;
    pub const UP_SIZE: u32 = 0x8;
    pub const UP_TIMES: u32 = 0x10;
    pub const UP_ATIME: u32 = 0x20;
    pub const UP_PERM: u32 = 0x40;
    pub const UP_RENAME: u32 = 0x80;
    pub const UP_FORGET: u32 = 0x100;
    pub const UP_PARENT_TIMES: u32 = 0x200;
    pub const UP_XATTR: u32 = 0x400;
    pub const UP_XATTR_RM: u32 = 0x800;
    pub const UP_EXPLICIT_LOOKUP: u32 = 0x1000;
    pub const UP_INVAL_ATTR: u32 = 0x2000;
}

#[cfg(test)]
mod tests {
    use super::lock::*;
    use super::open_flags::*;

    #[test]
    fn open_flags_like_c() {
        // CREATE from the capture: O_WRONLY|O_CREAT|O_TRUNC, kernel-added O_LARGEFILE dropped.
        let host = libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC | 0o100000;
        assert_eq!(gf_flags_from_flags(host), 0x241);
        assert_eq!(gf_flags_from_flags(libc::O_RDONLY), 0);
        assert_eq!(
            gf_flags_from_flags(libc::O_RDWR | libc::O_APPEND),
            GF_O_RDWR | GF_O_APPEND
        );
        assert_eq!(gf_flags_from_flags(libc::O_SYNC), GF_O_SYNC);
        assert_eq!(
            gf_flags_to_flags(GF_O_RDWR | GF_O_CREAT | GF_O_EXCL),
            libc::O_RDWR | libc::O_CREAT | libc::O_EXCL
        );
        assert_eq!(gf_flags_to_flags(GF_O_SYNC), libc::O_SYNC);
        assert_eq!(gf_flags_to_flags(GF_O_DIRECTORY), libc::O_DIRECTORY);
    }

    #[test]
    fn lock_conversions() {
        assert_eq!(gf_cmd_from_fcntl(libc::F_SETLKW), Some(GF_LK_SETLKW));
        assert_eq!(gf_cmd_from_fcntl(libc::F_GETLK), Some(GF_LK_GETLK));
        assert_eq!(gf_cmd_from_fcntl(9999), None);
        assert_eq!(gf_type_from_fcntl(libc::F_WRLCK), GF_LK_F_WRLCK);
        assert_eq!(gf_type_from_fcntl(libc::F_UNLCK), GF_LK_F_UNLCK);
    }
}
