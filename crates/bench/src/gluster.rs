//! `gluster://HOST[:PORT]/VOLUME[/SUBDIR]` targets: the same workload through the native client
//! library (graph → dht → afr → bricks) without FUSE, to show what the kernel crossing costs.
//! Every call blocks the bench thread on the client's tokio runtime.

use std::io;
use std::sync::Arc;

use bytes::Bytes;
use fop::{Caller, Dict, Fd, FopError, Loc, Subvolume};

use crate::fs::{BenchFile, BenchFs, FileStat, OpenHow};

fn io_err(e: FopError) -> io::Error {
    io::Error::from_raw_os_error(e.errno())
}

/// A volume reached through the library.
pub struct GlusterFs {
    rt: tokio::runtime::Runtime,
    vol: graph::Volume,
    top: Arc<dyn Subvolume>,
    base: String,
    describe: String,
}

impl GlusterFs {
    /// Connect to `volume` on `host` (port from a `host:port` form, else glusterd's) and use
    /// `subdir` (relative, may be empty) as the root of the workload.
    pub fn connect(host: &str, volume: &str, subdir: &str) -> io::Result<Self> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        let url = format!("gluster://{host}/{volume}");
        let parsed = graph::parse_url(&url)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
        let opts = graph::VolumeOptions::new(vec![parsed.server], parsed.volume);
        let vol = rt
            .block_on(graph::Volume::connect(&opts))
            .map_err(|e| io::Error::new(io::ErrorKind::NotConnected, e.to_string()))?;
        let top = vol.top.clone();
        Ok(Self {
            rt,
            vol,
            top,
            base: subdir.trim_matches('/').to_string(),
            describe: format!("{url}/{}", subdir.trim_matches('/')),
        })
    }

    fn full(&self, path: &str) -> String {
        format!("{}/{}", self.base, path.trim_start_matches('/'))
    }

    fn resolve(&self, path: &str) -> io::Result<(Loc, fop::Lookup)> {
        let c = Caller::root();
        self.rt
            .block_on(graph::resolve(self.top.as_ref(), &c, &self.full(path)))
            .map_err(io_err)
    }

    fn entry(&self, path: &str) -> io::Result<Loc> {
        let c = Caller::root();
        let full = self.full(path);
        let (ploc, _, name) = self
            .rt
            .block_on(graph::resolve_parent(self.top.as_ref(), &c, &full))
            .map_err(io_err)?;
        Ok(Loc::entry(
            ploc.gfid,
            Bytes::copy_from_slice(name.as_bytes()),
        ))
    }
}

impl Drop for GlusterFs {
    fn drop(&mut self) {
        self.rt.block_on(self.vol.shutdown());
    }
}

/// An open file on the volume.
pub struct GlusterFile {
    top: Arc<dyn Subvolume>,
    handle: tokio::runtime::Handle,
    fd: Fd,
}

impl BenchFs for GlusterFs {
    type File = GlusterFile;

    fn describe(&self) -> String {
        self.describe.clone()
    }

    fn mkdir(&self, path: &str) -> io::Result<()> {
        let loc = self.entry(path)?;
        self.rt
            .block_on(self.top.mkdir(
                &Caller::root(),
                &loc,
                libc::S_IFDIR | 0o755,
                0o022,
                &Dict::new(),
            ))
            .map(|_| ())
            .map_err(io_err)
    }

    fn rmdir(&self, path: &str) -> io::Result<()> {
        let (loc, _) = self.resolve(path)?;
        self.rt
            .block_on(self.top.rmdir(&Caller::root(), &loc, 0, &Dict::new()))
            .map(|_| ())
            .map_err(io_err)
    }

    fn open(&self, path: &str, how: OpenHow) -> io::Result<GlusterFile> {
        let c = Caller::root();
        let mut flags = match (how.read, how.write) {
            (true, true) => libc::O_RDWR,
            (false, true) => libc::O_WRONLY,
            _ => libc::O_RDONLY,
        };
        if how.direct {
            flags |= libc::O_DIRECT;
        }
        let fd = if how.create {
            let loc = self.entry(path)?;
            match self.rt.block_on(self.top.lookup(&c, &loc, &Dict::new())) {
                Ok(l) => {
                    let loc = loc.with_gfid(l.iatt.gfid);
                    let fd = self
                        .rt
                        .block_on(self.top.open(&c, &loc, flags))
                        .map_err(io_err)?;
                    self.rt
                        .block_on(self.top.ftruncate(&c, &fd, 0))
                        .map_err(io_err)?;
                    fd
                }
                Err(e) if e.is(libc::ENOENT) => {
                    self.rt
                        .block_on(self.top.create(
                            &c,
                            &loc,
                            flags | libc::O_CREAT,
                            libc::S_IFREG | 0o644,
                            0o022,
                            &Dict::new(),
                        ))
                        .map_err(io_err)?
                        .0
                }
                Err(e) => return Err(io_err(e)),
            }
        } else {
            let (loc, _) = self.resolve(path)?;
            self.rt
                .block_on(self.top.open(&c, &loc, flags))
                .map_err(io_err)?
        };
        Ok(GlusterFile {
            top: self.top.clone(),
            handle: self.rt.handle().clone(),
            fd,
        })
    }

    fn stat(&self, path: &str) -> io::Result<FileStat> {
        let (_, l) = self.resolve(path)?;
        Ok(FileStat {
            size: l.iatt.size,
            is_dir: l.iatt.is_dir(),
        })
    }

    fn unlink(&self, path: &str) -> io::Result<()> {
        let (loc, _) = self.resolve(path)?;
        self.rt
            .block_on(self.top.unlink(&Caller::root(), &loc, &Dict::new()))
            .map(|_| ())
            .map_err(io_err)
    }

    fn readdir(&self, path: &str) -> io::Result<Vec<String>> {
        let (loc, _) = self.resolve(path)?;
        let c = Caller::root();
        let entries = self
            .rt
            .block_on(graph::list_dir(self.top.as_ref(), &c, &loc))
            .map_err(io_err)?;
        Ok(entries
            .into_iter()
            .map(|e| String::from_utf8_lossy(&e.name).into_owned())
            .collect())
    }
}

impl BenchFile for GlusterFile {
    fn write_at(&mut self, buf: &[u8], offset: u64) -> io::Result<()> {
        let data = Bytes::copy_from_slice(buf);
        self.handle
            .block_on(self.top.write(&Caller::root(), &self.fd, offset, data))
            .map(|_| ())
            .map_err(io_err)
    }

    fn read_at(&mut self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        let size = u32::try_from(buf.len()).unwrap_or(u32::MAX);
        let data = self
            .handle
            .block_on(self.top.read(&Caller::root(), &self.fd, offset, size))
            .map_err(io_err)?;
        let n = data.len().min(buf.len());
        buf[..n].copy_from_slice(&data[..n]);
        Ok(n)
    }

    fn fsync(&mut self) -> io::Result<()> {
        self.handle
            .block_on(self.top.fsync(&Caller::root(), &self.fd, false))
            .map_err(io_err)
    }

    fn drop_cache(&mut self) -> io::Result<()> {
        // The library keeps no page cache: nothing to drop.
        Ok(())
    }

    fn close(self) -> io::Result<()> {
        let r = self
            .handle
            .block_on(self.top.flush(&Caller::root(), &self.fd))
            .map_err(io_err);
        self.handle.block_on(self.top.release(&self.fd));
        r
    }
}
