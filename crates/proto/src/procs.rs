//! RPC program and procedure numbers (rpc/rpc-lib/src/protocol-common.h and xdr-common.h).

/// The fop program; `FOP_VERSION` (4.x, `GLUSTER_FOP_VERSION_v2`) is the one this crate encodes.
pub const FOP_PROGRAM: u32 = 1298437;
pub const FOP_VERSION: u32 = 400;
/// The 3.3 version of the fop program (not encoded by this crate).
pub const FOP_VERSION_V3: u32 = 330;

/// Handshake program on glusterd and bricks: SETVOLUME, GETSPEC.
pub const HNDSK_PROGRAM: u32 = 14398633;
pub const HNDSK_VERSION: u32 = 2;

/// glusterd's port mapper.
pub const PMAP_PROGRAM: u32 = 34123456;
pub const PMAP_VERSION: u32 = 1;

/// Program list and ping (every GlusterFS RPC server has it).
pub const DUMP_PROGRAM: u32 = 123451501;
pub const DUMP_VERSION: u32 = 1;

/// Server-to-client callbacks (upcalls) on a brick connection.
pub const CBK_PROGRAM: u32 = 52743234;
pub const CBK_VERSION: u32 = 1;

/// `enum gf_fop_procnum` (`GFS3_OP_*`): procedure numbers of the fop program.
pub mod fop {
    pub const NULL: u32 = 0;
    pub const STAT: u32 = 1;
    pub const READLINK: u32 = 2;
    pub const MKNOD: u32 = 3;
    pub const MKDIR: u32 = 4;
    pub const UNLINK: u32 = 5;
    pub const RMDIR: u32 = 6;
    pub const SYMLINK: u32 = 7;
    pub const RENAME: u32 = 8;
    pub const LINK: u32 = 9;
    pub const TRUNCATE: u32 = 10;
    pub const OPEN: u32 = 11;
    pub const READ: u32 = 12;
    pub const WRITE: u32 = 13;
    pub const STATFS: u32 = 14;
    pub const FLUSH: u32 = 15;
    pub const FSYNC: u32 = 16;
    pub const SETXATTR: u32 = 17;
    pub const GETXATTR: u32 = 18;
    pub const REMOVEXATTR: u32 = 19;
    pub const OPENDIR: u32 = 20;
    pub const FSYNCDIR: u32 = 21;
    pub const ACCESS: u32 = 22;
    pub const CREATE: u32 = 23;
    pub const FTRUNCATE: u32 = 24;
    pub const FSTAT: u32 = 25;
    pub const LK: u32 = 26;
    pub const LOOKUP: u32 = 27;
    pub const READDIR: u32 = 28;
    pub const INODELK: u32 = 29;
    pub const FINODELK: u32 = 30;
    pub const ENTRYLK: u32 = 31;
    pub const FENTRYLK: u32 = 32;
    pub const XATTROP: u32 = 33;
    pub const FXATTROP: u32 = 34;
    pub const FGETXATTR: u32 = 35;
    pub const FSETXATTR: u32 = 36;
    pub const RCHECKSUM: u32 = 37;
    pub const SETATTR: u32 = 38;
    pub const FSETATTR: u32 = 39;
    pub const READDIRP: u32 = 40;
    pub const RELEASE: u32 = 41;
    pub const RELEASEDIR: u32 = 42;
    pub const FREMOVEXATTR: u32 = 43;
    pub const FALLOCATE: u32 = 44;
    pub const DISCARD: u32 = 45;
    pub const ZEROFILL: u32 = 46;
    pub const IPC: u32 = 47;
    pub const SEEK: u32 = 48;
    pub const COMPOUND: u32 = 49;
    pub const LEASE: u32 = 50;
    pub const GETACTIVELK: u32 = 51;
    pub const SETACTIVELK: u32 = 52;
    pub const ICREATE: u32 = 53;
    pub const NAMELINK: u32 = 54;
    pub const PUT: u32 = 55;
    pub const COPY_FILE_RANGE: u32 = 56;
    pub const MAXVALUE: u32 = 57;

    const NAMES: [&str; MAXVALUE as usize] = [
        "NULL",
        "STAT",
        "READLINK",
        "MKNOD",
        "MKDIR",
        "UNLINK",
        "RMDIR",
        "SYMLINK",
        "RENAME",
        "LINK",
        "TRUNCATE",
        "OPEN",
        "READ",
        "WRITE",
        "STATFS",
        "FLUSH",
        "FSYNC",
        "SETXATTR",
        "GETXATTR",
        "REMOVEXATTR",
        "OPENDIR",
        "FSYNCDIR",
        "ACCESS",
        "CREATE",
        "FTRUNCATE",
        "FSTAT",
        "LK",
        "LOOKUP",
        "READDIR",
        "INODELK",
        "FINODELK",
        "ENTRYLK",
        "FENTRYLK",
        "XATTROP",
        "FXATTROP",
        "FGETXATTR",
        "FSETXATTR",
        "RCHECKSUM",
        "SETATTR",
        "FSETATTR",
        "READDIRP",
        "RELEASE",
        "RELEASEDIR",
        "FREMOVEXATTR",
        "FALLOCATE",
        "DISCARD",
        "ZEROFILL",
        "IPC",
        "SEEK",
        "COMPOUND",
        "LEASE",
        "GETACTIVELK",
        "SETACTIVELK",
        "ICREATE",
        "NAMELINK",
        "PUT",
        "COPY_FILE_RANGE",
    ];

    /// The procedure's name (`clnt4_0_fop_names`), or `None` if out of range.
    pub fn name(proc_num: u32) -> Option<&'static str> {
        NAMES.get(proc_num as usize).copied()
    }
}

/// `enum gf_handshake_procnum`.
pub mod hndsk {
    pub const NULL: u32 = 0;
    pub const SETVOLUME: u32 = 1;
    pub const GETSPEC: u32 = 2;
    pub const PING: u32 = 3;
    pub const SET_LK_VER: u32 = 4;
    pub const EVENT_NOTIFY: u32 = 5;
    pub const GET_VOLUME_INFO: u32 = 6;
    pub const GET_SNAPSHOT_INFO: u32 = 7;
}

/// `enum gf_pmap_procnum`.
pub mod pmap {
    pub const NULL: u32 = 0;
    pub const PORTBYBRICK: u32 = 1;
    pub const BRICKBYPORT: u32 = 2;
    pub const SIGNUP: u32 = 3;
    pub const SIGNIN: u32 = 4;
    pub const SIGNOUT: u32 = 5;
}

/// `enum gf_dump_procnum` (rpc/rpc-lib/src/xdr-common.h). `PING` is what `rpc_clnt_ping`
/// sends to keep connections alive.
pub mod dump {
    pub const NULL: u32 = 0;
    pub const DUMP: u32 = 1;
    pub const PING: u32 = 2;
}

/// `enum gf_cbk_procnum`.
pub mod cbk {
    pub const NULL: u32 = 0;
    pub const FETCHSPEC: u32 = 1;
    pub const INO_FLUSH: u32 = 2;
    pub const EVENT_NOTIFY: u32 = 3;
    pub const GET_SNAPS: u32 = 4;
    pub const CACHE_INVALIDATION: u32 = 5;
    pub const CHILD_UP: u32 = 6;
    pub const CHILD_DOWN: u32 = 7;
    pub const RECALL_LEASE: u32 = 8;
    pub const STATEDUMP: u32 = 9;
    pub const INODELK_CONTENTION: u32 = 10;
    pub const ENTRYLK_CONTENTION: u32 = 11;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(fop::name(fop::LOOKUP), Some("LOOKUP"));
        assert_eq!(fop::name(fop::RELEASEDIR), Some("RELEASEDIR"));
        assert_eq!(fop::name(fop::COPY_FILE_RANGE), Some("COPY_FILE_RANGE"));
        assert_eq!(fop::name(fop::MAXVALUE), None);
    }
}
