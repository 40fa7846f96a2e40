//! The volume graph: fetch a volume's client volfile from glusterd (volfile server, then backups),
//! parse it, and build the translator stack it describes — protocol/client leaves ([`client`]),
//! cluster/replicate ([`afr`]) and cluster/distribute ([`dht`]) — as one [`fop::Subvolume`].
//! Performance translators of the volfile are not separate layers here: gluster-rs does their work
//! in its own layers. Also resolves paths to inodes for the CLI.

mod build;
mod url;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use fop::{Caller, Dict, Gfid, Loc, Lookup, Subvolume};

pub use build::build_node;
pub use client::mgmt::Server;
pub use url::{parse_url, VolumeUrl};

/// Errors of building or using a volume graph.
#[derive(Debug, thiserror::Error)]
pub enum GraphError {
    #[error(transparent)]
    Client(#[from] client::ClientError),
    #[error("volfile: {0}")]
    Volfile(#[from] volfile::VolfileError),
    #[error("unsupported volume: {0}")]
    Unsupported(String),
    #[error("no brick of volume {volume} came up within {timeout:?} ({detail})")]
    NoBricks {
        volume: String,
        timeout: Duration,
        detail: String,
    },
    #[error("bad option {0}")]
    BadOption(String),
    #[error("bad URL {url}: {reason}")]
    BadUrl { url: String, reason: String },
}

impl GraphError {
    /// The volfile server could not be reached or did not speak GlusterFS (try another server), as
    /// opposed to a server that answered that the volume cannot be used.
    pub fn is_unreachable(&self) -> bool {
        matches!(
            self,
            GraphError::Client(client::ClientError::NoServer(_))
                | GraphError::Client(client::ClientError::Transport { .. })
                | GraphError::Client(client::ClientError::Resolve(_))
        )
    }
}

/// How to reach and run a volume.
#[derive(Debug, Clone)]
pub struct VolumeOptions {
    /// Volfile servers, in order (the first, then the backups).
    pub servers: Vec<Server>,
    pub volume: String,
    /// Override the volfile's `network.ping-timeout`.
    pub ping_timeout: Option<Duration>,
    /// How long to wait for bricks at start.
    pub connect_timeout: Duration,
    /// Acknowledge writes on the first replica's success (default) rather than on all.
    pub first_ack: bool,
    /// `xlator-option`s: (translator name or `*`, key, value), applied to the parsed volfile.
    pub xlator_options: Vec<(String, String, String)>,
    /// Serve this directory of the volume as its root (mount.glusterfs `HOST:/VOL/SUBDIR`): sent
    /// to every brick in SETVOLUME as `subdir-mount`, which the bricks resolve, as GlusterFS does.
    pub subdir: Option<String>,
}

impl VolumeOptions {
    pub fn new(servers: Vec<Server>, volume: impl Into<String>) -> Self {
        Self {
            servers,
            volume: volume.into(),
            ping_timeout: None,
            connect_timeout: Duration::from_secs(20),
            first_ack: true,
            xlator_options: Vec::new(),
            subdir: None,
        }
    }
}

/// A connected volume.
pub struct Volume {
    /// The top of the translator stack.
    pub top: Arc<dyn Subvolume>,
    /// The volfile server that answered.
    pub server: Server,
    /// The volfile text as fetched.
    pub volfile: String,
    /// Its parsed client tree.
    pub spec: volfile::ClientVolume,
    bricks: Vec<Arc<client::BrickClient>>,
}

impl Volume {
    /// Fetch the volfile, build the stack, and wait (up to `connect_timeout`) for the bricks: all of
    /// them, or failing that at least one, which is reported as partial availability in the log.
    pub async fn connect(opts: &VolumeOptions) -> Result<Volume, GraphError> {
        let (server, text) = client::mgmt::fetch_volfile(&opts.servers, &opts.volume).await?;
        let mut graph = volfile::Graph::parse(&text)?;
        apply_xlator_options(&mut graph, &opts.xlator_options)?;
        let spec = volfile::ClientVolume::from_graph(&graph)?;
        let mut bricks = Vec::new();
        let top = build::build_node(&spec.root, &server, opts, &mut bricks)?;
        let vol = Volume {
            top,
            server,
            volfile: text,
            spec,
            bricks,
        };
        vol.wait_bricks(opts).await?;
        Ok(vol)
    }

    async fn wait_bricks(&self, opts: &VolumeOptions) -> Result<(), GraphError> {
        let results = futures::future::join_all(
            self.bricks
                .iter()
                .map(|b| b.wait_ready(opts.connect_timeout)),
        )
        .await;
        let up = results.iter().filter(|r| r.is_ok()).count();
        if up == 0 && !self.bricks.is_empty() {
            let detail = results
                .iter()
                .filter_map(|r| r.as_ref().err())
                .map(|e| e.to_string())
                .next()
                .unwrap_or_default();
            return Err(GraphError::NoBricks {
                volume: opts.volume.clone(),
                timeout: opts.connect_timeout,
                detail,
            });
        }
        for (b, r) in self.bricks.iter().zip(&results) {
            if let Err(e) = r {
                tracing::warn!(brick = b.name(), error = %e, "brick not reachable; continuing without it");
            }
        }
        Ok(())
    }

    /// The brick clients, in volfile order.
    pub fn bricks(&self) -> &[Arc<client::BrickClient>] {
        &self.bricks
    }

    /// Look up a path (`/a/b/c`, or empty / `/` for the root) component by component.
    pub async fn resolve(&self, c: &Caller, path: &str) -> fop::Result<(Loc, Lookup)> {
        resolve(self.top.as_ref(), c, path).await
    }

    /// Close every brick connection.
    pub async fn shutdown(&self) {
        for b in &self.bricks {
            b.shutdown().await;
        }
    }
}

/// Split a path into its components, refusing `.` and `..`.
pub fn components(path: &str) -> fop::Result<Vec<&str>> {
    let mut out = Vec::new();
    for c in path.split('/') {
        match c {
            "" => {}
            "." | ".." => return Err(fop::FopError::Errno(libc::EINVAL)),
            c => out.push(c),
        }
    }
    Ok(out)
}

/// Every entry of the directory `dir` except "." and "..", in the order the volume lists them:
/// opendir, readdirp until an empty batch, releasedir (also when a batch fails).
pub async fn list_dir(
    top: &dyn Subvolume,
    c: &Caller,
    dir: &Loc,
) -> fop::Result<Vec<fop::DirEntry>> {
    let fd = top.opendir(c, dir).await?;
    let mut out = Vec::new();
    let mut off = 0;
    let r = loop {
        match top.readdirp(c, &fd, off, 128 * 1024, &Dict::new()).await {
            Ok(batch) if batch.is_empty() => break Ok(()),
            Ok(batch) => {
                for e in batch {
                    off = e.offset;
                    if &e.name[..] != b"." && &e.name[..] != b".." {
                        out.push(e);
                    }
                }
            }
            Err(e) => break Err(e),
        }
    };
    top.releasedir(&fd).await;
    r.map(|_| out)
}

/// Resolve `path` on `top` starting at the root.
pub async fn resolve(top: &dyn Subvolume, c: &Caller, path: &str) -> fop::Result<(Loc, Lookup)> {
    let mut loc = Loc::gfid(Gfid::ROOT);
    let mut l = top.lookup(c, &loc, &Dict::new()).await?;
    for name in components(path)? {
        if !l.iatt.is_dir() {
            return Err(fop::FopError::Errno(libc::ENOTDIR));
        }
        let next = Loc::entry(l.iatt.gfid, Bytes::copy_from_slice(name.as_bytes()));
        l = top.lookup(c, &next, &Dict::new()).await?;
        loc = next.with_gfid(l.iatt.gfid);
    }
    Ok((loc, l))
}

/// Resolve the parent of `path` and return (parent loc, parent lookup, final name).
pub async fn resolve_parent<'p>(
    top: &dyn Subvolume,
    c: &Caller,
    path: &'p str,
) -> fop::Result<(Loc, Lookup, &'p str)> {
    let comps = components(path)?;
    let Some((name, dirs)) = comps.split_last() else {
        return Err(fop::FopError::Errno(libc::EINVAL));
    };
    let parent_path = dirs.join("/");
    let (ploc, pl) = resolve(top, c, &parent_path).await?;
    if !pl.iatt.is_dir() {
        return Err(fop::FopError::Errno(libc::ENOTDIR));
    }
    Ok((ploc, pl, name))
}

fn apply_xlator_options(
    graph: &mut volfile::Graph,
    opts: &[(String, String, String)],
) -> Result<(), GraphError> {
    if opts.is_empty() {
        return Ok(());
    }
    let mut xlators: Vec<volfile::Xlator> = graph.volumes().to_vec();
    for (target, key, value) in opts {
        let mut hit = false;
        for x in xlators.iter_mut() {
            if target == "*"
                || &x.name == target
                || x.name.ends_with(&format!("-{target}"))
                || x.xlator_type.ends_with(&format!("/{target}"))
            {
                x.options.insert(key.clone(), value.clone());
                hit = true;
            }
        }
        if !hit {
            return Err(GraphError::BadOption(format!(
                "xlator-option {target}.{key}={value}: no translator {target} in the volfile"
            )));
        }
    }
    *graph = volfile::Graph::new(xlators)?;
    Ok(())
}
