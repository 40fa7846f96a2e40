//! File verbs on a volume without mounting it: `ls`, `stat`, `cat`, `put`, `get`, `mkdir`, `rm`, ...
//! Each resolves a `gluster://HOST[:PORT]/VOLUME/PATH` URL through the native client stack.

use std::io::{Read, Write};
use std::sync::Arc;

use anyhow::{anyhow, bail, Context, Result};
use bytes::Bytes;
use clap::Subcommand;
use fop::{set_attr, Caller, Dict, DictValue, Fd, FopError, Iatt, Loc, Subvolume};
use graph::{parse_url, Server, Volume, VolumeOptions};

/// Largest read or write sent to a brick in one call.
const IO_SIZE: usize = 1 << 20;
/// Writes kept in flight by `put`.
const WRITE_DEPTH: usize = 4;

#[derive(Debug, Subcommand)]
pub enum FileCmd {
    /// Print the volume's client volfile (the translator graph).
    Volfile {
        url: String,
        /// The parsed graph as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List a directory.
    Ls {
        url: String,
        #[arg(short = 'l')]
        long: bool,
        #[arg(long)]
        json: bool,
    },
    /// Show a file's attributes (gfid, type, mode, owner, size, links, times).
    Stat {
        url: String,
        #[arg(long)]
        json: bool,
    },
    /// Print a file to standard output.
    Cat { url: String },
    /// Copy a local file (or - for standard input) to the volume.
    Put { local: String, url: String },
    /// Copy a file from the volume to a local file (or - for standard output).
    Get { url: String, local: String },
    /// Create a directory.
    Mkdir {
        url: String,
        /// Create parents as needed, no error if it exists.
        #[arg(short = 'p')]
        parents: bool,
    },
    /// Remove a file (or with -r a directory tree).
    Rm {
        url: String,
        #[arg(short = 'r')]
        recursive: bool,
    },
    /// Remove an empty directory.
    Rmdir { url: String },
    /// Rename (both URLs on the same volume).
    Mv { from: String, to: String },
    /// Make a symbolic link: ln -s TARGET URL.
    Ln {
        #[arg(short = 's', required = true)]
        symbolic: bool,
        target: String,
        url: String,
    },
    /// Change permission bits (octal).
    Chmod { mode: String, url: String },
    /// Set a file's size.
    Truncate { size: u64, url: String },
    /// Read a user extended attribute.
    Getfattr {
        #[arg(short = 'n')]
        name: String,
        url: String,
    },
    /// Set a user extended attribute.
    Setfattr {
        #[arg(short = 'n')]
        name: String,
        #[arg(short = 'v')]
        value: String,
        url: String,
    },
}

fn url_of(cmd: &FileCmd) -> &str {
    match cmd {
        FileCmd::Volfile { url, .. }
        | FileCmd::Ls { url, .. }
        | FileCmd::Stat { url, .. }
        | FileCmd::Cat { url }
        | FileCmd::Put { url, .. }
        | FileCmd::Get { url, .. }
        | FileCmd::Mkdir { url, .. }
        | FileCmd::Rm { url, .. }
        | FileCmd::Rmdir { url }
        | FileCmd::Ln { url, .. }
        | FileCmd::Chmod { url, .. }
        | FileCmd::Truncate { url, .. }
        | FileCmd::Getfattr { url, .. }
        | FileCmd::Setfattr { url, .. } => url,
        FileCmd::Mv { from, .. } => from,
    }
}

/// Volume options from a URL plus `--backup-volfile-servers`.
fn volume_options(url: &graph::VolumeUrl, backups: Option<&str>) -> Result<VolumeOptions> {
    let mut servers = vec![url.server.clone()];
    for h in backups.unwrap_or("").split(':').filter(|h| !h.is_empty()) {
        servers.push(Server::new(h, url.server.port));
    }
    Ok(VolumeOptions::new(servers, url.volume.clone()))
}

pub async fn run(cmd: FileCmd, backups: Option<&str>) -> Result<()> {
    let url = parse_url(url_of(&cmd))?;
    let opts = volume_options(&url, backups)?;
    if let FileCmd::Volfile { json, .. } = &cmd {
        let (_, text) = client::mgmt::fetch_volfile(&opts.servers, &opts.volume).await?;
        if *json {
            let g = volfile::Graph::parse(&text)?;
            let spec = volfile::ClientVolume::from_graph(&g)?;
            let doc = serde_json::json!({ "graph": g, "client": spec });
            println!("{}", serde_json::to_string_pretty(&doc)?);
        } else {
            print!("{text}");
        }
        return Ok(());
    }
    let vol = Volume::connect(&opts).await?;
    let r = run_on(&vol, cmd, &url.path).await;
    vol.shutdown().await;
    r
}

fn caller() -> Caller {
    Caller {
        uid: nix::unistd::getuid().as_raw(),
        gid: nix::unistd::getgid().as_raw(),
        pid: std::process::id() as i32,
        groups: nix::unistd::getgroups()
            .map(|g| g.into_iter().map(|g| g.as_raw()).collect())
            .unwrap_or_default(),
        lk_owner: Bytes::new(),
        time: Some(fop::time_now()),
    }
}

/// Attach the path to an error the way coreutils do: `PATH: errno text`.
fn at(path: &str) -> impl Fn(FopError) -> anyhow::Error + '_ {
    move |e| anyhow!("{path}: {e}")
}

async fn run_on(vol: &Volume, cmd: FileCmd, path: &str) -> Result<()> {
    let top = vol.top.clone();
    let c = caller();
    match cmd {
        FileCmd::Volfile { .. } => Ok(()),
        FileCmd::Ls { long, json, .. } => ls(&top, &c, vol, path, long, json).await,
        FileCmd::Stat { json, .. } => {
            let (_, l) = vol.resolve(&c, path).await.map_err(at(path))?;
            print_stat(path, &l.iatt, json)
        }
        FileCmd::Cat { .. } => get(&top, &c, vol, path, "-").await,
        FileCmd::Get { local, .. } => get(&top, &c, vol, path, &local).await,
        FileCmd::Put { local, .. } => put(&top, &c, path, &local).await,
        FileCmd::Mkdir { parents, .. } => mkdir(&top, &c, path, parents).await,
        FileCmd::Rm { recursive, .. } => {
            let (loc, l) = vol.resolve(&c, path).await.map_err(at(path))?;
            if l.iatt.is_dir() {
                if !recursive {
                    bail!("{path}: Is a directory (use -r)");
                }
                remove_tree(top.as_ref(), &c, &loc, path).await
            } else {
                top.unlink(&c, &loc, &Dict::new())
                    .await
                    .map(|_| ())
                    .map_err(at(path))
            }
        }
        FileCmd::Rmdir { .. } => {
            let (loc, _) = vol.resolve(&c, path).await.map_err(at(path))?;
            top.rmdir(&c, &loc, 0, &Dict::new())
                .await
                .map(|_| ())
                .map_err(at(path))
        }
        FileCmd::Mv { to, .. } => {
            let to_url = parse_url(&to)?;
            let (old, _) = vol.resolve(&c, path).await.map_err(at(path))?;
            let (ploc, _, name) = graph::resolve_parent(top.as_ref(), &c, &to_url.path)
                .await
                .map_err(at(&to_url.path))?;
            let new = Loc::entry(ploc.gfid, Bytes::copy_from_slice(name.as_bytes()));
            top.rename(&c, &old, &new, &Dict::new())
                .await
                .map_err(at(path))?;
            Ok(())
        }
        FileCmd::Ln { target, .. } => {
            let (ploc, _, name) = graph::resolve_parent(top.as_ref(), &c, path)
                .await
                .map_err(at(path))?;
            let loc = Loc::entry(ploc.gfid, Bytes::copy_from_slice(name.as_bytes()));
            top.symlink(&c, target.as_bytes(), &loc, 0o022, &Dict::new())
                .await
                .map_err(at(path))?;
            Ok(())
        }
        FileCmd::Chmod { mode, .. } => {
            let m = u32::from_str_radix(&mode, 8).map_err(|_| anyhow!("invalid mode: {mode}"))?;
            if m > 0o7777 {
                bail!("invalid mode: {mode}");
            }
            let (loc, l) = vol.resolve(&c, path).await.map_err(at(path))?;
            let attr = Iatt {
                mode: (l.iatt.mode & !0o7777) | m,
                ..l.iatt
            };
            top.setattr(&c, &loc, &attr, set_attr::MODE)
                .await
                .map_err(at(path))?;
            Ok(())
        }
        FileCmd::Truncate { size, .. } => {
            let (loc, _) = vol.resolve(&c, path).await.map_err(at(path))?;
            top.truncate(&c, &loc, size).await.map_err(at(path))?;
            Ok(())
        }
        FileCmd::Getfattr { name, .. } => {
            user_xattr(&name)?;
            let (loc, _) = vol.resolve(&c, path).await.map_err(at(path))?;
            let d = top
                .getxattr(&c, &loc, Some(&name))
                .await
                .map_err(at(path))?;
            let v = d
                .get(&name)
                .and_then(xattr_bytes)
                .ok_or_else(|| anyhow!("{path}: {name}: No such attribute"))?;
            println!("# file: {}", path.trim_start_matches('/'));
            println!("{name}=\"{}\"", String::from_utf8_lossy(&v));
            Ok(())
        }
        FileCmd::Setfattr { name, value, .. } => {
            user_xattr(&name)?;
            let (loc, _) = vol.resolve(&c, path).await.map_err(at(path))?;
            let mut d = Dict::new();
            d.set_bin(name.as_str(), value.into_bytes());
            top.setxattr(&c, &loc, &d, 0).await.map_err(at(path))
        }
    }
}

fn user_xattr(name: &str) -> Result<()> {
    if !name.starts_with("user.") || name.len() <= 5 {
        bail!("{name}: only user.* attributes can be read or set with this command");
    }
    Ok(())
}

fn xattr_bytes(v: &DictValue) -> Option<Vec<u8>> {
    if let Some(b) = v.as_bytes() {
        let mut b = b.to_vec();
        if b.last() == Some(&0) {
            b.pop();
        }
        return Some(b);
    }
    v.as_str().map(|s| s.as_bytes().to_vec())
}

fn type_name(i: &Iatt) -> &'static str {
    match i.mode & libc::S_IFMT {
        libc::S_IFDIR => "directory",
        libc::S_IFREG => "regular file",
        libc::S_IFLNK => "symbolic link",
        libc::S_IFBLK => "block device",
        libc::S_IFCHR => "character device",
        libc::S_IFIFO => "fifo",
        libc::S_IFSOCK => "socket",
        _ => "unknown",
    }
}

fn stat_json(name: &str, i: &Iatt) -> serde_json::Value {
    serde_json::json!({
        "name": name,
        "gfid": i.gfid.to_string(),
        "type": type_name(i),
        "mode": format!("{:o}", i.mode & 0o7777),
        "uid": i.uid,
        "gid": i.gid,
        "size": i.size,
        "nlink": i.nlink,
        "blocks": i.blocks,
        "atime": i.atime, "atime_nsec": i.atime_nsec,
        "mtime": i.mtime, "mtime_nsec": i.mtime_nsec,
        "ctime": i.ctime, "ctime_nsec": i.ctime_nsec,
    })
}

fn print_stat(path: &str, i: &Iatt, json: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(&stat_json(path, i))?);
        return Ok(());
    }
    println!("  File: {path}");
    println!("  GFID: {}", i.gfid);
    println!("  Type: {}", type_name(i));
    println!(
        "  Size: {:<12} Blocks: {:<10} Links: {}",
        i.size, i.blocks, i.nlink
    );
    println!(
        "Access: ({:04o}/{})  Uid: {}  Gid: {}",
        i.mode & 0o7777,
        mode_string(i.mode),
        i.uid,
        i.gid
    );
    println!("Access: {}.{:09}", i.atime, i.atime_nsec);
    println!("Modify: {}.{:09}", i.mtime, i.mtime_nsec);
    println!("Change: {}.{:09}", i.ctime, i.ctime_nsec);
    Ok(())
}

fn mode_string(mode: u32) -> String {
    let t = match mode & libc::S_IFMT {
        libc::S_IFDIR => 'd',
        libc::S_IFLNK => 'l',
        libc::S_IFBLK => 'b',
        libc::S_IFCHR => 'c',
        libc::S_IFIFO => 'p',
        libc::S_IFSOCK => 's',
        _ => '-',
    };
    let mut s = String::with_capacity(10);
    s.push(t);
    let bits = [
        (0o400, 'r'),
        (0o200, 'w'),
        (0o100, 'x'),
        (0o040, 'r'),
        (0o020, 'w'),
        (0o010, 'x'),
        (0o004, 'r'),
        (0o002, 'w'),
        (0o001, 'x'),
    ];
    for (b, ch) in bits {
        s.push(if mode & b != 0 { ch } else { '-' });
    }
    s
}

/// All entries of a directory (without "." and ".."), with attributes, sorted by name.
async fn list_dir(
    top: &Arc<dyn Subvolume>,
    c: &Caller,
    loc: &Loc,
) -> fop::Result<Vec<(String, Option<Iatt>)>> {
    let mut out: Vec<(String, Option<Iatt>)> = graph::list_dir(top.as_ref(), c, loc)
        .await?
        .into_iter()
        .map(|e| (String::from_utf8_lossy(&e.name).into_owned(), e.iatt))
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

async fn ls(
    top: &Arc<dyn Subvolume>,
    c: &Caller,
    vol: &Volume,
    path: &str,
    long: bool,
    json: bool,
) -> Result<()> {
    let (loc, l) = vol.resolve(c, path).await.map_err(at(path))?;
    let entries = if l.iatt.is_dir() {
        list_dir(top, c, &loc).await.map_err(at(path))?
    } else {
        let name = path.rsplit('/').next().unwrap_or(path).to_string();
        vec![(name, Some(l.iatt))]
    };
    if json {
        let v: Vec<_> = entries
            .iter()
            .map(|(n, i)| match i {
                Some(i) => stat_json(n, i),
                None => serde_json::json!({ "name": n }),
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    let mut out = std::io::stdout().lock();
    for (name, i) in entries {
        match (long, i) {
            (true, Some(i)) => writeln!(
                out,
                "{} {:>3} {:>5} {:>5} {:>10} {} {}",
                mode_string(i.mode),
                i.nlink,
                i.uid,
                i.gid,
                i.size,
                i.mtime,
                name
            )?,
            _ => writeln!(out, "{name}")?,
        }
    }
    Ok(())
}

async fn get(
    top: &Arc<dyn Subvolume>,
    c: &Caller,
    vol: &Volume,
    path: &str,
    local: &str,
) -> Result<()> {
    let (loc, l) = vol.resolve(c, path).await.map_err(at(path))?;
    if l.iatt.is_dir() {
        bail!("{path}: Is a directory");
    }
    let fd = top.open(c, &loc, libc::O_RDONLY).await.map_err(at(path))?;
    let r = copy_out(top, c, &fd, path, local).await;
    top.release(&fd).await;
    r
}

async fn copy_out(
    top: &Arc<dyn Subvolume>,
    c: &Caller,
    fd: &Fd,
    path: &str,
    local: &str,
) -> Result<()> {
    let mut out: Box<dyn Write> = if local == "-" {
        Box::new(std::io::stdout().lock())
    } else {
        Box::new(std::io::BufWriter::new(
            std::fs::File::create(local).with_context(|| format!("{local}: cannot create"))?,
        ))
    };
    let mut off = 0u64;
    loop {
        let data = top
            .read(c, fd, off, IO_SIZE as u32)
            .await
            .map_err(at(path))?;
        if data.is_empty() {
            break;
        }
        out.write_all(&data)
            .with_context(|| format!("{local}: write failed"))?;
        off += data.len() as u64;
    }
    out.flush()
        .with_context(|| format!("{local}: write failed"))?;
    Ok(())
}

async fn put(top: &Arc<dyn Subvolume>, c: &Caller, path: &str, local: &str) -> Result<()> {
    let mut input: Box<dyn Read> = if local == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(std::fs::File::open(local).with_context(|| format!("{local}: cannot open"))?)
    };
    let (ploc, _, name) = graph::resolve_parent(top.as_ref(), c, path)
        .await
        .map_err(at(path))?;
    let entry = Loc::entry(ploc.gfid, Bytes::copy_from_slice(name.as_bytes()));
    // Replace an existing file's contents, as cp does.
    let fd = match top.lookup(c, &entry, &Dict::new()).await {
        Ok(l) if l.iatt.is_dir() => bail!("{path}: Is a directory"),
        Ok(l) => {
            let loc = entry.clone().with_gfid(l.iatt.gfid);
            let fd = top.open(c, &loc, libc::O_WRONLY).await.map_err(at(path))?;
            top.ftruncate(c, &fd, 0).await.map_err(at(path))?;
            fd
        }
        Err(e) if e.is(libc::ENOENT) => {
            let (fd, _) = top
                .create(
                    c,
                    &entry,
                    libc::O_WRONLY | libc::O_CREAT,
                    libc::S_IFREG | 0o644,
                    0o022,
                    &Dict::new(),
                )
                .await
                .map_err(at(path))?;
            fd
        }
        Err(e) => return Err(at(path)(e)),
    };
    let r = copy_in(top, c, &fd, path, local, input.as_mut()).await;
    let r = match r {
        Ok(()) => top.flush(c, &fd).await.map_err(at(path)),
        Err(e) => Err(e),
    };
    let r = match r {
        Ok(()) => top.fsync(c, &fd, false).await.map_err(at(path)),
        Err(e) => Err(e),
    };
    top.release(&fd).await;
    r
}

async fn copy_in(
    top: &Arc<dyn Subvolume>,
    c: &Caller,
    fd: &Fd,
    path: &str,
    local: &str,
    input: &mut dyn Read,
) -> Result<()> {
    let mut off = 0u64;
    let mut inflight = futures::stream::FuturesOrdered::new();
    loop {
        let mut buf = vec![0u8; IO_SIZE];
        let mut n = 0;
        while n < IO_SIZE {
            let r = input
                .read(&mut buf[n..])
                .with_context(|| format!("{local}: read failed"))?;
            if r == 0 {
                break;
            }
            n += r;
        }
        if n == 0 {
            break;
        }
        buf.truncate(n);
        let data = Bytes::from(buf);
        let (top, c, fd) = (top.clone(), c.clone(), fd.clone());
        let at_off = off;
        inflight.push_back(async move { top.write(&c, &fd, at_off, data).await });
        off += n as u64;
        if inflight.len() >= WRITE_DEPTH {
            use futures::StreamExt;
            if let Some(r) = inflight.next().await {
                r.map_err(at(path))?;
            }
        }
        if n < IO_SIZE {
            break;
        }
    }
    use futures::StreamExt;
    while let Some(r) = inflight.next().await {
        r.map_err(at(path))?;
    }
    Ok(())
}

async fn mkdir(top: &Arc<dyn Subvolume>, c: &Caller, path: &str, parents: bool) -> Result<()> {
    let comps = graph::components(path).map_err(at(path))?;
    if comps.is_empty() {
        if parents {
            return Ok(());
        }
        bail!("{path}: File exists");
    }
    let mut parent = Loc::gfid(fop::Gfid::ROOT);
    for (i, name) in comps.iter().enumerate() {
        let last = i + 1 == comps.len();
        let entry = Loc::entry(parent.gfid, Bytes::copy_from_slice(name.as_bytes()));
        match top.lookup(c, &entry, &Dict::new()).await {
            Ok(l) if l.iatt.is_dir() => {
                if last && !parents {
                    bail!("{path}: File exists");
                }
                parent = entry.with_gfid(l.iatt.gfid);
            }
            Ok(_) => bail!("{path}: Not a directory"),
            Err(e) if e.is(libc::ENOENT) && (last || parents) => {
                let made = top
                    .mkdir(c, &entry, libc::S_IFDIR | 0o755, 0o022, &Dict::new())
                    .await;
                let gfid = match made {
                    Ok(e) => e.iatt.gfid,
                    Err(e) if e.is(libc::EEXIST) && parents => {
                        top.lookup(c, &entry, &Dict::new())
                            .await
                            .map_err(at(path))?
                            .iatt
                            .gfid
                    }
                    Err(e) => return Err(at(path)(e)),
                };
                parent = entry.with_gfid(gfid);
            }
            Err(e) => return Err(at(path)(e)),
        }
    }
    Ok(())
}

/// `rm -r`: depth first.
fn remove_tree<'a>(
    top: &'a dyn Subvolume,
    c: &'a Caller,
    dir: &'a Loc,
    path: &'a str,
) -> futures::future::BoxFuture<'a, Result<()>> {
    Box::pin(async move {
        let names: Vec<Bytes> = graph::list_dir(top, c, dir)
            .await
            .map_err(at(path))?
            .into_iter()
            .map(|e| e.name)
            .collect();
        for name in names {
            let child = Loc::entry(dir.gfid, name.clone());
            let child_path = format!(
                "{}/{}",
                path.trim_end_matches('/'),
                String::from_utf8_lossy(&name)
            );
            let l = top
                .lookup(c, &child, &Dict::new())
                .await
                .map_err(at(&child_path))?;
            let child = child.with_gfid(l.iatt.gfid);
            if l.iatt.is_dir() {
                remove_tree(top, c, &child, &child_path).await?;
            } else {
                top.unlink(c, &child, &Dict::new())
                    .await
                    .map_err(at(&child_path))?;
            }
        }
        if dir.gfid.is_root() {
            return Ok(());
        }
        top.rmdir(c, dir, 0, &Dict::new())
            .await
            .map(|_| ())
            .map_err(at(path))
    })
}
