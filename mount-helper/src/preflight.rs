//! Checks on the mount point before anything is contacted: it exists, is a directory, is not `/`
//! or `/tmp`, is not already a gluster mount, is not a brick or a brick's parent (the same checks
//! as mount.glusterfs's `main` and `check_recursive_mount`).

use std::ffi::{CString, OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::options::MountOptions;

/// File system types of a gluster mount as /proc/self/mountinfo shows them.
pub const GLUSTER_FSTYPES: [&str; 2] = ["fuse.gluster-rs", "fuse.glusterfs"];
/// glusterd's working directory (GLUSTERD_WORKDIR).
pub const GLUSTERD_WORKDIR: &str = "/var/lib/glusterd";

/// Undo mountinfo's octal escapes (`\040` for space, `\011` tab, `\012` newline, `\134` backslash).
pub fn unescape_mountinfo(field: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(field.len());
    let mut rest = field;
    while let Some((&b, tail)) = rest.split_first() {
        if b == b'\\' {
            if let Some(&[d0, d1, d2]) = tail.get(..3) {
                let digits = [d0, d1, d2];
                if digits.iter().all(|d| (b'0'..=b'7').contains(d)) {
                    let v = (u32::from(d0 - b'0') << 6)
                        | (u32::from(d1 - b'0') << 3)
                        | u32::from(d2 - b'0');
                    if let Ok(byte) = u8::try_from(v) {
                        out.push(byte);
                        rest = tail.get(3..).unwrap_or_default();
                        continue;
                    }
                }
            }
        }
        out.push(b);
        rest = tail;
    }
    out
}

/// One line of /proc/self/mountinfo: (mount point, fs type). `None` if malformed.
pub fn parse_mountinfo_line(line: &[u8]) -> Option<(PathBuf, String)> {
    let fields: Vec<&[u8]> = line
        .split(|&b| b == b' ')
        .filter(|f| !f.is_empty())
        .collect();
    let mountpoint = fields.get(4)?;
    let sep = fields.iter().position(|f| *f == b"-")?;
    if sep < 6 {
        return None;
    }
    let fstype = fields.get(sep + 1)?;
    Some((
        PathBuf::from(OsString::from_vec(unescape_mountinfo(mountpoint))),
        String::from_utf8_lossy(&unescape_mountinfo(fstype)).into_owned(),
    ))
}

/// File system types mounted exactly at `path`, per a mountinfo text, in mount order.
pub fn mounts_at(mountinfo: &[u8], path: &Path) -> Vec<String> {
    mountinfo
        .split(|&b| b == b'\n')
        .filter_map(parse_mountinfo_line)
        .filter(|(mp, _)| mp == path)
        .map(|(_, t)| t)
        .collect()
}

/// Read /proc/self/mountinfo.
pub fn read_mountinfo() -> Result<Vec<u8>, Error> {
    std::fs::read("/proc/self/mountinfo")
        .map_err(|e| Error::system("reading /proc/self/mountinfo", e))
}

fn mp_err(path: &Path, reason: impl Into<String>) -> Error {
    Error::Mountpoint {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// True if `path` carries the `trusted.gfid` extended attribute, i.e. is a brick root or inside
/// one. Unreadable (not root, no xattr support) counts as no.
pub fn has_gfid_xattr(path: &Path) -> bool {
    let Ok(c) = CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    let name = c"trusted.gfid";
    // SAFETY: both strings are NUL-terminated and live across the call; a NULL buffer of size 0
    // only asks for the attribute's size.
    let n = unsafe { libc::getxattr(c.as_ptr(), name.as_ptr(), std::ptr::null_mut(), 0) };
    n >= 0
}

/// Brick paths named in one glusterd brick info file (`vols/VOL/bricks/HOST:-PATH`, a line
/// `path=/srv/...`).
pub fn brick_path_of(info: &[u8]) -> Option<PathBuf> {
    info.split(|&b| b == b'\n')
        .find_map(|l| l.strip_prefix(b"path="))
        .filter(|p| !p.is_empty())
        .map(|p| PathBuf::from(OsStr::from_bytes(p)))
}

/// Brick paths of every volume glusterd knows on this host (empty without glusterd).
pub fn local_brick_paths(workdir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(vols) = std::fs::read_dir(workdir.join("vols")) else {
        return out;
    };
    for vol in vols.flatten() {
        let Ok(bricks) = std::fs::read_dir(vol.path().join("bricks")) else {
            continue;
        };
        for b in bricks.flatten() {
            if let Some(p) = std::fs::read(b.path()).ok().and_then(|t| brick_path_of(&t)) {
                out.push(p);
            }
        }
    }
    out
}

/// The first brick (canonical path) that lies under `mountpoint` (canonical), if any.
pub fn brick_under<'a>(mountpoint: &Path, bricks: &'a [PathBuf]) -> Option<&'a Path> {
    bricks
        .iter()
        .find(|b| b.starts_with(mountpoint))
        .map(PathBuf::as_path)
}

/// Check the mount point and return its canonical path.
pub fn check_mountpoint(path: &Path, options: &MountOptions) -> Result<PathBuf, Error> {
    let meta = std::fs::metadata(path).map_err(|e| mp_err(path, format!("cannot be used: {e}")))?;
    if !meta.is_dir() {
        return Err(mp_err(path, "is not a directory"));
    }
    let canon = std::fs::canonicalize(path)
        .map_err(|e| mp_err(path, format!("cannot be resolved: {e}")))?;
    if canon == Path::new("/") {
        return Err(mp_err(path, "cannot mount over /"));
    }
    if canon == Path::new("/tmp") {
        return Err(mp_err(path, "cannot mount over /tmp"));
    }
    if !options.allow_overmount {
        let info = read_mountinfo()?;
        if let Some(t) = mounts_at(&info, &canon)
            .into_iter()
            .find(|t| GLUSTER_FSTYPES.contains(&t.as_str()))
        {
            return Err(Error::AlreadyMounted {
                path: canon,
                fstype: t,
            });
        }
    }
    if has_gfid_xattr(&canon) {
        return Err(mp_err(&canon, "is in use as a brick of a gluster volume"));
    }
    let bricks: Vec<PathBuf> = local_brick_paths(Path::new(GLUSTERD_WORKDIR))
        .into_iter()
        .filter(|b| has_gfid_xattr(b))
        .filter_map(|b| std::fs::canonicalize(b).ok())
        .collect();
    if let Some(b) = brick_under(&canon, &bricks) {
        return Err(mp_err(
            &canon,
            format!("is a parent of the brick {}", b.display()),
        ));
    }
    Ok(canon)
}
