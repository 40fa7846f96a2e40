//! Error numbers in replies.
//!
//! Servers put `gf_errno_to_error(errno)` in `op_errno` and clients apply `gf_error_to_errno`
//! (libglusterfs/src/compat-errno.c). On Linux both are the identity: the tables are filled with
//! `i -> i` and `init_compat_errno_arrays` changes nothing under `GF_LINUX_HOST_OS`. So the wire
//! carries Linux errno values, which is what [`Errno`] holds.

use std::fmt;

/// A Linux errno value from a reply's `op_errno`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Errno(pub i32);

impl Errno {
    pub const EPERM: Errno = Errno(libc::EPERM);
    pub const ENOENT: Errno = Errno(libc::ENOENT);
    pub const EIO: Errno = Errno(libc::EIO);
    pub const EBADF: Errno = Errno(libc::EBADF);
    pub const EAGAIN: Errno = Errno(libc::EAGAIN);
    pub const ENOMEM: Errno = Errno(libc::ENOMEM);
    pub const EACCES: Errno = Errno(libc::EACCES);
    pub const EBUSY: Errno = Errno(libc::EBUSY);
    pub const EEXIST: Errno = Errno(libc::EEXIST);
    pub const EXDEV: Errno = Errno(libc::EXDEV);
    pub const ENOTDIR: Errno = Errno(libc::ENOTDIR);
    pub const EISDIR: Errno = Errno(libc::EISDIR);
    pub const EINVAL: Errno = Errno(libc::EINVAL);
    pub const ENOSPC: Errno = Errno(libc::ENOSPC);
    pub const EROFS: Errno = Errno(libc::EROFS);
    pub const ERANGE: Errno = Errno(libc::ERANGE);
    pub const EDEADLK: Errno = Errno(libc::EDEADLK);
    pub const ENAMETOOLONG: Errno = Errno(libc::ENAMETOOLONG);
    pub const ENOLCK: Errno = Errno(libc::ENOLCK);
    pub const ENOSYS: Errno = Errno(libc::ENOSYS);
    pub const ENOTEMPTY: Errno = Errno(libc::ENOTEMPTY);
    pub const ENODATA: Errno = Errno(libc::ENODATA);
    pub const ENOTCONN: Errno = Errno(libc::ENOTCONN);
    pub const ETIMEDOUT: Errno = Errno(libc::ETIMEDOUT);
    pub const ESTALE: Errno = Errno(libc::ESTALE);
    pub const EDQUOT: Errno = Errno(libc::EDQUOT);
    pub const ENOTSUP: Errno = Errno(libc::ENOTSUP);
    pub const EOPNOTSUPP: Errno = Errno(libc::EOPNOTSUPP);
    pub const EBADFD: Errno = Errno(libc::EBADFD);
    pub const ECANCELED: Errno = Errno(libc::ECANCELED);
    pub const EREMOTEIO: Errno = Errno(libc::EREMOTEIO);
    pub const E2BIG: Errno = Errno(libc::E2BIG);
    pub const EFBIG: Errno = Errno(libc::EFBIG);

    /// `gf_error_to_errno` for a Linux client: the identity, except that a failed reply with
    /// `op_errno == 0` (which a server should never send) becomes `EIO` so callers always get a
    /// real error.
    pub fn from_wire(op_errno: i32) -> Errno {
        if op_errno == 0 {
            Errno::EIO
        } else {
            Errno(op_errno)
        }
    }

    /// `gf_errno_to_error`: what to put in `op_errno` when encoding a reply (the identity on Linux).
    pub fn to_wire(self) -> i32 {
        self.0
    }

    pub fn raw(self) -> i32 {
        self.0
    }
}

impl fmt::Debug for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Errno({}: {})", self.0, self)
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let e = std::io::Error::from_raw_os_error(self.0);
        // io::Error's Display appends " (os error N)"; keep only the description.
        let s = e.to_string();
        let s = s.split(" (os error").next().unwrap_or(&s);
        f.write_str(s)
    }
}

impl std::error::Error for Errno {}

impl From<Errno> for std::io::Error {
    fn from(e: Errno) -> Self {
        std::io::Error::from_raw_os_error(e.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::OpStatus;

    struct R(i32, i32);
    impl OpStatus for R {
        fn op_ret(&self) -> i32 {
            self.0
        }
        fn op_errno(&self) -> i32 {
            self.1
        }
    }

    #[test]
    fn mapping() {
        assert_eq!(R(-1, 2).status(), Err(Errno::ENOENT));
        assert_eq!(R(-1, 0).status(), Err(Errno::EIO));
        // READ at EOF: op_ret >= 0 with op_errno ENOENT is success.
        assert_eq!(R(6, 2).status(), Ok(6));
        assert_eq!(Errno::ENOENT.to_string(), "No such file or directory");
        assert_eq!(Errno(116), Errno::ESTALE);
        assert_eq!(std::io::Error::from(Errno::EACCES).raw_os_error(), Some(13));
    }
}
