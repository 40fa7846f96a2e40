//! The file-system operations the workload needs, as a small trait, and its implementation for a
//! local directory (any mounted file system: a gluster-rs or GlusterFS FUSE mount, ext4, tmpfs ...).
//!
//! A second implementation can drive a volume through the native library without FUSE
//! (`gluster://HOST/VOLUME`): it maps these calls onto the client's create/open/writev/readv/fsync/
//! stat/unlink/mkdir/rmdir/readdir and its errors onto `io::Error` (`io::Error::other` or an
//! errno via `io::Error::from_raw_os_error`).

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

/// How to open a file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OpenHow {
    pub read: bool,
    pub write: bool,
    /// Create the file if missing, and truncate it.
    pub create: bool,
    /// Bypass the page cache (O_DIRECT): buffers, offsets and lengths are multiples of 4096.
    /// An implementation that cannot do it fails the open with `EINVAL`.
    pub direct: bool,
}

impl OpenHow {
    pub const READ: Self = Self {
        read: true,
        write: false,
        create: false,
        direct: false,
    };
    pub const WRITE: Self = Self {
        read: false,
        write: true,
        create: false,
        direct: false,
    };
    pub const CREATE: Self = Self {
        read: false,
        write: true,
        create: true,
        direct: false,
    };

    pub fn direct(self, direct: bool) -> Self {
        Self { direct, ..self }
    }
}

/// The part of a stat the benchmark looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStat {
    pub size: u64,
    pub is_dir: bool,
}

/// File-system operations on paths relative to the benchmark's root, `/`-separated.
/// Implementations are shared by all worker threads.
pub trait BenchFs: Sync {
    type File: BenchFile;

    /// What is measured, for the report (a directory, or `gluster://host/volume`).
    fn describe(&self) -> String;
    fn mkdir(&self, path: &str) -> io::Result<()>;
    fn rmdir(&self, path: &str) -> io::Result<()>;
    fn open(&self, path: &str, how: OpenHow) -> io::Result<Self::File>;
    fn stat(&self, path: &str) -> io::Result<FileStat>;
    fn unlink(&self, path: &str) -> io::Result<()>;
    /// Entry names of a directory, without `.` and `..`.
    fn readdir(&self, path: &str) -> io::Result<Vec<String>>;
}

/// An open file.
pub trait BenchFile: Send {
    /// Writes all of `buf` at `offset`.
    fn write_at(&mut self, buf: &[u8], offset: u64) -> io::Result<()>;
    /// Reads into `buf` from `offset` until it is full or the file ends; returns the bytes read.
    fn read_at(&mut self, buf: &mut [u8], offset: u64) -> io::Result<usize>;
    /// Makes written data durable.
    fn fsync(&mut self) -> io::Result<()>;
    /// Drops this client's cached pages of the file so the next read goes to the file system
    /// (posix_fadvise(DONTNEED) locally). Best effort; a client without a cache does nothing.
    fn drop_cache(&mut self) -> io::Result<()>;
    /// Closes the file, reporting a close error (NFS-like file systems report write errors there).
    fn close(self) -> io::Result<()>;
}

/// A local directory.
#[derive(Debug, Clone)]
pub struct LocalFs {
    root: PathBuf,
}

impl LocalFs {
    /// A directory that must exist.
    pub fn new(root: impl Into<PathBuf>) -> io::Result<Self> {
        let root = root.into();
        let meta = std::fs::metadata(&root)?;
        if !meta.is_dir() {
            return Err(io::Error::from_raw_os_error(libc::ENOTDIR));
        }
        Ok(Self { root })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel.trim_start_matches('/'))
    }
}

impl BenchFs for LocalFs {
    type File = LocalFile;

    fn describe(&self) -> String {
        self.root.display().to_string()
    }

    fn mkdir(&self, path: &str) -> io::Result<()> {
        std::fs::create_dir(self.path(path))
    }

    fn rmdir(&self, path: &str) -> io::Result<()> {
        std::fs::remove_dir(self.path(path))
    }

    fn open(&self, path: &str, how: OpenHow) -> io::Result<LocalFile> {
        let mut o = OpenOptions::new();
        o.read(how.read).write(how.write);
        if how.create {
            o.create(true).truncate(true);
        }
        if how.direct {
            o.custom_flags(libc::O_DIRECT);
        }
        Ok(LocalFile {
            file: o.open(self.path(path))?,
        })
    }

    fn stat(&self, path: &str) -> io::Result<FileStat> {
        let m = std::fs::metadata(self.path(path))?;
        Ok(FileStat {
            size: m.len(),
            is_dir: m.is_dir(),
        })
    }

    fn unlink(&self, path: &str) -> io::Result<()> {
        std::fs::remove_file(self.path(path))
    }

    fn readdir(&self, path: &str) -> io::Result<Vec<String>> {
        std::fs::read_dir(self.path(path))?
            .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
            .collect()
    }
}

/// A file of a [`LocalFs`].
#[derive(Debug)]
pub struct LocalFile {
    file: File,
}

impl BenchFile for LocalFile {
    fn write_at(&mut self, buf: &[u8], offset: u64) -> io::Result<()> {
        self.file.write_all_at(buf, offset)
    }

    fn read_at(&mut self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        let mut done = 0;
        while done < buf.len() {
            let Some(rest) = buf.get_mut(done..) else {
                break;
            };
            match self.file.read_at(rest, offset + done as u64) {
                Ok(0) => break,
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(done)
    }

    fn fsync(&mut self) -> io::Result<()> {
        self.file.sync_all()
    }

    fn drop_cache(&mut self) -> io::Result<()> {
        // SAFETY: plain syscall on a descriptor this File owns and keeps open for the call.
        let rc =
            unsafe { libc::posix_fadvise(self.file.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
        if rc == 0 {
            Ok(())
        } else {
            Err(io::Error::from_raw_os_error(rc))
        }
    }

    fn close(self) -> io::Result<()> {
        // Dropping a File ignores close errors; take the descriptor and close it ourselves.
        let raw = std::os::unix::io::IntoRawFd::into_raw_fd(self.file);
        // SAFETY: `raw` was just released by the File and is closed exactly once here.
        let rc = unsafe { libc::close(raw) };
        if rc == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }
}

/// Removes `path` and everything below it through `fs`.
pub fn remove_tree<F: BenchFs>(fs: &F, path: &str) -> io::Result<()> {
    for name in fs.readdir(path)? {
        let child = format!("{path}/{name}");
        let st = fs.stat(&child)?;
        if st.is_dir {
            remove_tree(fs, &child)?;
        } else {
            fs.unlink(&child)?;
        }
    }
    fs.rmdir(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmpdir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("bench-fs-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn local_fs_round_trip() {
        let d = tmpdir("rt");
        let fs = LocalFs::new(&d).unwrap();
        fs.mkdir("a").unwrap();
        let mut f = fs.open("a/f", OpenHow::CREATE).unwrap();
        f.write_at(b"hello world", 0).unwrap();
        f.write_at(b"W", 6).unwrap();
        f.fsync().unwrap();
        f.close().unwrap();
        assert_eq!(
            fs.stat("a/f").unwrap(),
            FileStat {
                size: 11,
                is_dir: false
            }
        );
        assert!(fs.stat("a").unwrap().is_dir);
        let mut f = fs.open("a/f", OpenHow::READ).unwrap();
        f.drop_cache().unwrap();
        let mut buf = [0u8; 32];
        let n = f.read_at(&mut buf, 0).unwrap();
        assert_eq!(&buf[..n], b"hello World");
        assert_eq!(f.read_at(&mut buf, 100).unwrap(), 0);
        f.close().unwrap();
        assert_eq!(fs.readdir("a").unwrap(), vec!["f".to_string()]);
        fs.unlink("a/f").unwrap();
        fs.rmdir("a").unwrap();
        assert!(fs.readdir("").unwrap().is_empty());
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn remove_tree_removes_nested_entries() {
        let d = tmpdir("tree");
        let fs = LocalFs::new(&d).unwrap();
        fs.mkdir("t").unwrap();
        fs.mkdir("t/x").unwrap();
        fs.mkdir("t/x/y").unwrap();
        for p in ["t/1", "t/x/2", "t/x/y/3"] {
            fs.open(p, OpenHow::CREATE).unwrap().close().unwrap();
        }
        remove_tree(&fs, "t").unwrap();
        assert!(fs.stat("t").is_err());
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn local_fs_rejects_missing_and_non_directories() {
        let d = tmpdir("bad");
        assert_eq!(
            LocalFs::new(d.join("missing")).unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
        std::fs::write(d.join("file"), b"x").unwrap();
        assert_eq!(
            LocalFs::new(d.join("file")).unwrap_err().raw_os_error(),
            Some(libc::ENOTDIR)
        );
        std::fs::remove_dir_all(&d).unwrap();
    }
}
