//! Extended attribute rules of GlusterFS's fuse-bridge (xlators/mount/fuse/src/fuse-bridge.c:
//! fuse_getxattr, fuse_setxattr, fuse_removexattr, fuse_filter_xattr, send_fuse_xattr) and the
//! size-probe protocol of getxattr/listxattr.

/// `GFID_XATTR_KEY`: the brick's GFID xattr, never settable or removable through a mount.
pub const GFID_XATTR_KEY: &str = "trusted.gfid";
/// `GF_XATTR_VOL_ID_KEY`.
pub const VOL_ID_XATTR_KEY: &str = "trusted.glusterfs.volume-id";
/// `VIRTUAL_GFID_XATTR_KEY`: answered by the mount itself with the 16 GFID bytes.
pub const VIRTUAL_GFID_KEY: &str = "glusterfs.gfid";
/// `VIRTUAL_GFID_XATTR_KEY_STR`: the GFID in canonical text form.
pub const VIRTUAL_GFID_STR_KEY: &str = "glusterfs.gfid.string";
pub const POSIX_ACL_ACCESS: &str = "system.posix_acl_access";
pub const POSIX_ACL_DEFAULT: &str = "system.posix_acl_default";
/// `GLUSTERFS_XATTR_LEN_MAX` (fuse-bridge.h): the kernel's 64 KiB value limit.
pub const XATTR_LEN_MAX: usize = 65536;

/// Prefixes never listed by listxattr. GlusterFS's fuse_filter_xattr drops `glusterfs.*` (virtual
/// keys); the translators below it drop their own bookkeeping (AFR its `trusted.afr.*` changelog,
/// DHT its layout, posix the GFID and volume id). The mount drops all of them too, so a listing
/// never depends on a layer remembering to. Reading one of them by name still works.
const HIDDEN_PREFIXES: &[&str] = &[
    "glusterfs.",
    "trusted.afr.",
    "trusted.glusterfs.",
    "trusted.gfid",
    "trusted.pgfid.",
    "trusted.ec.",
    "trusted.tier.",
];

/// Which xattr features the mount enables (GlusterFS mount options acl, selinux, capability).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct XattrPolicy {
    /// POSIX ACL xattrs pass through (`acl` mount option); otherwise they are refused.
    pub acl: bool,
    /// security.selinux passes through (`selinux`).
    pub selinux: bool,
    /// security.capability passes through (`capability`, implied by selinux).
    pub capability: bool,
}

/// What a getxattr resolves to before going to the volume.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GetAction {
    /// Ask the volume.
    Forward,
    /// `glusterfs.gfid`: the 16 GFID bytes, answered locally.
    GfidBinary,
    /// `glusterfs.gfid.string`: the GFID as text, answered locally.
    GfidString,
}

impl XattrPolicy {
    fn security_blocked(&self, name: &str) -> bool {
        match name {
            "security.selinux" => !self.selinux,
            "security.capability" => !(self.capability || self.selinux),
            _ => false,
        }
    }

    fn is_acl(name: &str) -> bool {
        name == POSIX_ACL_ACCESS || name == POSIX_ACL_DEFAULT
    }

    /// fuse_getxattr + fuse_getxattr_resume.
    pub fn get(&self, name: &str) -> Result<GetAction, i32> {
        if !self.acl && Self::is_acl(name) {
            return Err(libc::ENOTSUP);
        }
        if self.security_blocked(name) {
            return Err(libc::ENODATA);
        }
        Ok(match name {
            VIRTUAL_GFID_KEY => GetAction::GfidBinary,
            VIRTUAL_GFID_STR_KEY => GetAction::GfidString,
            _ => GetAction::Forward,
        })
    }

    /// fuse_setxattr.
    pub fn set(&self, name: &str, value_len: usize) -> Result<(), i32> {
        if !self.acl && Self::is_acl(name) {
            return Err(libc::EOPNOTSUPP);
        }
        if self.security_blocked(name) {
            return Err(libc::EOPNOTSUPP);
        }
        if name == GFID_XATTR_KEY || name == VOL_ID_XATTR_KEY {
            return Err(libc::EPERM);
        }
        if value_len > XATTR_LEN_MAX {
            return Err(libc::E2BIG);
        }
        Ok(())
    }

    /// fuse_removexattr.
    pub fn remove(&self, name: &str) -> Result<(), i32> {
        if name == GFID_XATTR_KEY || name == VOL_ID_XATTR_KEY {
            return Err(libc::EPERM);
        }
        if !self.acl && Self::is_acl(name) {
            return Err(libc::EOPNOTSUPP);
        }
        Ok(())
    }
}

/// Whether listxattr shows `name`.
pub fn listed(name: &str) -> bool {
    !HIDDEN_PREFIXES.iter().any(|p| name.starts_with(p))
}

/// listxattr's answer: the shown names, each NUL-terminated, in the given order.
pub fn format_list<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<u8> {
    let mut out = Vec::new();
    for n in names.into_iter().filter(|n| listed(n)) {
        out.extend_from_slice(n.as_bytes());
        out.push(0);
    }
    out
}

/// How to answer a getxattr/listxattr with `value` when the caller's buffer is `size` bytes
/// (`send_fuse_xattr`): size 0 is a probe for the length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum XattrReply<'a> {
    Size(u32),
    Data(&'a [u8]),
    Error(i32),
}

pub fn reply_for(size: u32, value: &[u8]) -> XattrReply<'_> {
    if value.len() > XATTR_LEN_MAX {
        XattrReply::Error(libc::E2BIG)
    } else if size == 0 {
        // Fits: value.len() <= 65536.
        XattrReply::Size(value.len() as u32)
    } else if value.len() > size as usize {
        XattrReply::Error(libc::ERANGE)
    } else {
        XattrReply::Data(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_formatting_and_filtering() {
        let names = [
            "user.a",
            "trusted.afr.vol-client-0",
            "glusterfs.gfid",
            "security.selinux",
            "trusted.glusterfs.dht",
            "trusted.gfid",
            "trusted.gfid2path.abc",
            "trusted.mine",
            "user.b",
        ];
        assert_eq!(
            format_list(names),
            b"user.a\0security.selinux\0trusted.mine\0user.b\0".to_vec()
        );
        assert!(format_list([]).is_empty());
    }

    #[test]
    fn size_probe_semantics() {
        assert_eq!(reply_for(0, b"abc"), XattrReply::Size(3));
        assert_eq!(reply_for(3, b"abc"), XattrReply::Data(b"abc"));
        assert_eq!(reply_for(10, b"abc"), XattrReply::Data(b"abc"));
        assert_eq!(reply_for(2, b"abc"), XattrReply::Error(libc::ERANGE));
        assert_eq!(reply_for(0, b""), XattrReply::Size(0));
        let big = vec![0u8; XATTR_LEN_MAX + 1];
        assert_eq!(reply_for(0, &big), XattrReply::Error(libc::E2BIG));
    }

    #[test]
    fn policy_defaults_match_fuse_bridge() {
        let p = XattrPolicy::default();
        assert_eq!(p.get(POSIX_ACL_ACCESS), Err(libc::ENOTSUP));
        assert_eq!(p.set(POSIX_ACL_DEFAULT, 4), Err(libc::EOPNOTSUPP));
        assert_eq!(p.get("security.selinux"), Err(libc::ENODATA));
        assert_eq!(p.get("security.capability"), Err(libc::ENODATA));
        assert_eq!(p.set("security.capability", 4), Err(libc::EOPNOTSUPP));
        assert_eq!(p.set(GFID_XATTR_KEY, 16), Err(libc::EPERM));
        assert_eq!(p.remove(VOL_ID_XATTR_KEY), Err(libc::EPERM));
        assert_eq!(p.get(VIRTUAL_GFID_KEY), Ok(GetAction::GfidBinary));
        assert_eq!(p.get(VIRTUAL_GFID_STR_KEY), Ok(GetAction::GfidString));
        assert_eq!(p.get("user.x"), Ok(GetAction::Forward));
        assert_eq!(p.set("user.x", XATTR_LEN_MAX + 1), Err(libc::E2BIG));
        assert_eq!(p.set("user.x", 10), Ok(()));
        assert_eq!(p.remove("user.x"), Ok(()));
    }

    #[test]
    fn policy_with_options() {
        let p = XattrPolicy {
            acl: true,
            selinux: true,
            capability: false,
        };
        assert_eq!(p.get(POSIX_ACL_ACCESS), Ok(GetAction::Forward));
        assert_eq!(p.set(POSIX_ACL_ACCESS, 28), Ok(()));
        assert_eq!(p.get("security.selinux"), Ok(GetAction::Forward));
        assert_eq!(p.get("security.capability"), Ok(GetAction::Forward));
        let c = XattrPolicy {
            capability: true,
            ..XattrPolicy::default()
        };
        assert_eq!(c.get("security.capability"), Ok(GetAction::Forward));
        assert_eq!(c.get("security.selinux"), Err(libc::ENODATA));
    }
}
