//! The typed view of a client graph: distribute / replicate / protocol/client.
//!
//! Option names and defaults come from the translators' `options[]` tables in glusterfs:
//! `xlators/protocol/client/src/client.c`, `rpc/rpc-transport/socket/src/socket.c`,
//! `xlators/cluster/dht/src/dht-shared.c` and `xlators/cluster/afr/src/afr.c`.

use std::collections::HashSet;

use serde::Serialize;

use crate::{parse_bool, parse_time_secs, parse_uint, Graph, Options, VolfileError, Xlator};

/// protocol/client's `ping-timeout` default, `GF_NETWORK_TIMEOUT`
/// (libglusterfs/src/glusterfs/glusterfs.h).
pub const DEFAULT_PING_TIMEOUT_SECS: u64 = 42;
/// protocol/client's `frame-timeout` default (client.c).
const DEFAULT_FRAME_TIMEOUT_SECS: u64 = 1800;
/// Bounds from client.c's option table.
const MAX_PING_TIMEOUT_SECS: u64 = 1013;
const MAX_FRAME_TIMEOUT_SECS: u64 = 86_400;
/// `AFR_XATTR_PREFIX` (libglusterfs/src/glusterfs/glusterfs.h).
const AFR_XATTR_PREFIX: &str = "trusted.afr";
/// DHT's built-in `rsync-hash-regex` (dht-shared.c, `dht_init_regex`).
const DEFAULT_RSYNC_HASH_REGEX: &str = r"^\.(.+)\.[^.]+$";
/// Nesting limit for cluster translators (glusterd nests at most two).
const MAX_CLUSTER_DEPTH: usize = 32;

/// A pass-through translator (performance/*, debug/*, features/*) that the native client does
/// not implement as a separate layer; recorded so callers can honour its options.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Layer {
    pub name: String,
    #[serde(rename = "type")]
    pub xlator_type: String,
    pub options: Options,
}

/// The client side of a volume: the tree below the graph's top.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClientVolume {
    /// Name of the top translator; glusterd names it after the volume.
    pub name: String,
    /// The first cluster or protocol translator below the top, with the pass-through
    /// translators above it in its `layers`.
    pub root: Node,
}

/// A cluster or protocol translator in the client tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Node {
    Distribute(Distribute),
    Replicate(Replicate),
    Client(ClientSpec),
}

/// cluster/distribute (DHT).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Distribute {
    pub name: String,
    pub line: usize,
    /// Pass-through translators between the parent (or top) and this one, top-down.
    pub layers: Vec<Layer>,
    /// All options as written (lookup-optimize, min-free-disk, rsync-hash-regex, ...).
    pub options: Options,
    /// Subvolumes in order; DHT's hash ranges are assigned in this order.
    pub children: Vec<Node>,
}

/// cluster/replicate (AFR).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Replicate {
    pub name: String,
    pub line: usize,
    pub layers: Vec<Layer>,
    /// All options as written (quorum-*, favorite-child-policy, *-self-heal, eager-lock, ...).
    pub options: Options,
    pub children: Vec<Node>,
    /// `volume-id` option (the volume's UUID), if present.
    pub volume_id: Option<String>,
    /// Full names of the pending-changelog xattrs, one per child (plus one for a thin
    /// arbiter), e.g. `trusted.afr.VOL-client-0`: from `afr-pending-xattr`, or the child
    /// names when that option is absent (afr.c, `afr_pending_xattrs_init`).
    pub pending_xattrs: Vec<String>,
    /// The effective client quorum (afr.c, `fix_quorum_options`).
    pub quorum: Quorum,
    /// `arbiter-count` (0 or 1).
    pub arbiter_count: u32,
    /// `thin-arbiter` (`host:path`), if any.
    pub thin_arbiter: Option<String>,
    pub favorite_child_policy: FavoriteChildPolicy,
}

/// AFR client quorum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "type", content = "count", rename_all = "snake_case")]
pub enum Quorum {
    /// No quorum enforcement.
    None,
    /// More than half of the children up, or exactly half including the first child.
    Auto,
    /// At least this many children up (0 behaves like `None`).
    Fixed(u32),
}

/// AFR `favorite-child-policy`: how split-brains are resolved automatically.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FavoriteChildPolicy {
    None,
    Size,
    Ctime,
    Mtime,
    Majority,
}

/// protocol/client: one brick connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClientSpec {
    /// The translator name, e.g. `VOL-client-0`. AFR's changelog xattrs are named after it
    /// unless `afr-pending-xattr` says otherwise.
    pub name: String,
    pub line: usize,
    pub layers: Vec<Layer>,
    /// `remote-host`; when absent the client uses the volfile server.
    pub remote_host: Option<String>,
    /// `remote-subvolume`: the brick path the server exports.
    pub remote_subvolume: String,
    /// `remote-port` (or `transport.remote-port`, `transport.socket.remote-port`); when absent
    /// or 0 the port is asked from glusterd's portmapper.
    pub remote_port: Option<u16>,
    /// `transport-type`, default `tcp`.
    pub transport_type: String,
    /// `transport.address-family` (`inet`, `inet6`, `unix`), if given.
    pub address_family: Option<String>,
    /// `ping-timeout` in seconds, default [`DEFAULT_PING_TIMEOUT_SECS`].
    pub ping_timeout_secs: u64,
    /// `frame-timeout` in seconds, default 1800.
    pub frame_timeout_secs: u64,
    /// `username` / `password` sent in SETVOLUME (present in the trusted volfile).
    pub username: Option<String>,
    pub password: Option<String>,
    /// All options as written.
    pub options: Options,
}

enum Kind {
    PassThrough,
    Distribute,
    Replicate,
    Client,
}

fn classify(x: &Xlator) -> Result<Kind, VolfileError> {
    let t = x.xlator_type.as_str();
    let unsupported = |reason: &str| VolfileError::Unsupported {
        volume: x.name.clone(),
        xlator_type: t.to_string(),
        line: x.line,
        reason: reason.to_string(),
    };
    // Type names are shared-object paths under the xlator dir; distribute.so -> dht.so,
    // replicate.so -> afr.so and disperse.so -> ec.so are symlinks.
    match t {
        "cluster/distribute" | "cluster/dht" => Ok(Kind::Distribute),
        "cluster/replicate" | "cluster/afr" => Ok(Kind::Replicate),
        "protocol/client" => Ok(Kind::Client),
        "cluster/disperse" | "cluster/ec" => Err(unsupported(
            "dispersed (erasure-coded) volumes are not supported by the native client",
        )),
        "cluster/nufa" | "cluster/switch" => Err(unsupported(
            "only plain cluster/distribute hashing is supported",
        )),
        _ if t.starts_with("performance/")
            || t.starts_with("debug/")
            || t.starts_with("features/") =>
        {
            Ok(Kind::PassThrough)
        }
        _ => Err(unsupported("not a client-side translator")),
    }
}

fn topology(x: &Xlator, message: impl Into<String>) -> VolfileError {
    VolfileError::Topology {
        volume: x.name.clone(),
        line: x.line,
        message: message.into(),
    }
}

fn bad_option(x: &Xlator, key: &str, value: &str, expected: &'static str) -> VolfileError {
    VolfileError::BadOption {
        volume: x.name.clone(),
        line: x.line,
        key: key.to_string(),
        value: value.to_string(),
        expected,
    }
}

fn bool_opt(
    name: &str,
    line: usize,
    options: &Options,
    key: &str,
) -> Result<Option<bool>, VolfileError> {
    match options.get(key) {
        None => Ok(None),
        Some(v) => parse_bool(v)
            .map(Some)
            .ok_or_else(|| VolfileError::BadOption {
                volume: name.to_string(),
                line,
                key: key.to_string(),
                value: v.to_string(),
                expected: "a boolean (on/off, yes/no, true/false, enable/disable, 1/0)",
            }),
    }
}

struct Builder<'g> {
    graph: &'g Graph,
    seen: HashSet<&'g str>,
}

impl<'g> Builder<'g> {
    fn lookup(&self, parent: &Xlator, name: &str) -> Result<&'g Xlator, VolfileError> {
        self.graph
            .get(name)
            .ok_or_else(|| topology(parent, format!("subvolume '{name}' is not defined")))
    }

    /// Build the node for `start`, skipping pass-through translators (iteratively, so long
    /// chains cannot exhaust the stack).
    fn node(&mut self, start: &'g Xlator, depth: usize) -> Result<Node, VolfileError> {
        let mut x = start;
        let mut layers = Vec::new();
        loop {
            if !self.seen.insert(x.name.as_str()) {
                return Err(topology(
                    x,
                    "translator is used by more than one parent; a client graph must be a tree",
                ));
            }
            match classify(x)? {
                Kind::PassThrough => {
                    let child = match x.subvolumes.as_slice() {
                        [one] => self.lookup(x, one)?,
                        [] => {
                            return Err(topology(
                                x,
                                "pass-through translator has no subvolume; the graph ends \
                                 without reaching a protocol/client",
                            ))
                        }
                        many => {
                            return Err(VolfileError::Unsupported {
                                volume: x.name.clone(),
                                xlator_type: x.xlator_type.clone(),
                                line: x.line,
                                reason: format!(
                                    "translator with {} subvolumes cannot be skipped",
                                    many.len()
                                ),
                            })
                        }
                    };
                    layers.push(Layer {
                        name: x.name.clone(),
                        xlator_type: x.xlator_type.clone(),
                        options: x.options.clone(),
                    });
                    x = child;
                }
                Kind::Client => return self.client(x, layers).map(Node::Client),
                Kind::Distribute => {
                    let children = self.children(x, depth)?;
                    return Ok(Node::Distribute(Distribute {
                        name: x.name.clone(),
                        line: x.line,
                        layers,
                        options: x.options.clone(),
                        children,
                    }));
                }
                Kind::Replicate => {
                    let children = self.children(x, depth)?;
                    return replicate(x, layers, children).map(Node::Replicate);
                }
            }
        }
    }

    fn children(&mut self, x: &'g Xlator, depth: usize) -> Result<Vec<Node>, VolfileError> {
        if x.subvolumes.is_empty() {
            return Err(topology(x, "cluster translator has no subvolumes"));
        }
        if depth >= MAX_CLUSTER_DEPTH {
            return Err(topology(
                x,
                format!("cluster translators nested more than {MAX_CLUSTER_DEPTH} deep"),
            ));
        }
        x.subvolumes
            .iter()
            .map(|s| {
                let c = self.lookup(x, s)?;
                self.node(c, depth + 1)
            })
            .collect()
    }

    fn client(&self, x: &Xlator, layers: Vec<Layer>) -> Result<ClientSpec, VolfileError> {
        if !x.subvolumes.is_empty() {
            return Err(topology(x, "protocol/client must not have subvolumes"));
        }
        let o = &x.options;
        let remote_subvolume = o
            .get("remote-subvolume")
            .ok_or_else(|| topology(x, "protocol/client without 'remote-subvolume'"))?
            .to_string();
        // socket.c accepts three spellings of the port option.
        let mut remote_port = None;
        for key in [
            "remote-port",
            "transport.remote-port",
            "transport.socket.remote-port",
        ] {
            if let Some(v) = o.get(key) {
                let port = parse_uint(v)
                    .and_then(|p| u16::try_from(p).ok())
                    .ok_or_else(|| bad_option(x, key, v, "a TCP port number"))?;
                remote_port = (port != 0).then_some(port);
                break;
            }
        }
        let time = |key: &str, default: u64, max: u64, expected: &'static str| match o.get(key) {
            None => Ok(default),
            Some(v) => parse_time_secs(v)
                .filter(|&t| t <= max)
                .ok_or_else(|| bad_option(x, key, v, expected)),
        };
        let ping_timeout_secs = time(
            "ping-timeout",
            DEFAULT_PING_TIMEOUT_SECS,
            MAX_PING_TIMEOUT_SECS,
            "a time of at most 1013 seconds",
        )?;
        let frame_timeout_secs = time(
            "frame-timeout",
            DEFAULT_FRAME_TIMEOUT_SECS,
            MAX_FRAME_TIMEOUT_SECS,
            "a time of at most 86400 seconds",
        )?;
        Ok(ClientSpec {
            name: x.name.clone(),
            line: x.line,
            layers,
            remote_host: o.get("remote-host").map(str::to_string),
            remote_subvolume,
            remote_port,
            transport_type: o.get("transport-type").unwrap_or("tcp").to_string(),
            address_family: o.get("transport.address-family").map(str::to_string),
            ping_timeout_secs,
            frame_timeout_secs,
            username: o.get("username").map(str::to_string),
            password: o.get("password").map(str::to_string),
            options: o.clone(),
        })
    }
}

fn replicate(
    x: &Xlator,
    layers: Vec<Layer>,
    children: Vec<Node>,
) -> Result<Replicate, VolfileError> {
    let o = &x.options;
    let child_count = children.len();

    let thin_arbiter = o
        .get("thin-arbiter")
        .filter(|v| !v.is_empty())
        .map(str::to_string);
    let arbiter_count = match o.get("arbiter-count") {
        None => 0,
        Some(v) => parse_uint(v)
            .filter(|&n| n <= 1)
            .map(|n| n as u32)
            .ok_or_else(|| bad_option(x, "arbiter-count", v, "0 or 1"))?,
    };

    // afr.c afr_pending_xattrs_init: strtok() on ',' (empty fields are skipped).
    let wanted = child_count + usize::from(thin_arbiter.is_some());
    let pending_xattrs: Vec<String> = match o.get("afr-pending-xattr") {
        Some(list) => list
            .split(',')
            .filter(|s| !s.is_empty())
            .map(|s| format!("{AFR_XATTR_PREFIX}.{s}"))
            .collect(),
        None => x
            .subvolumes
            .iter()
            .map(|s| format!("{AFR_XATTR_PREFIX}.{s}"))
            .collect(),
    };
    if o.contains_key("afr-pending-xattr") && pending_xattrs.len() != wanted {
        return Err(topology(
            x,
            format!(
                "afr-pending-xattr names {} xattrs but the replica set needs {wanted}",
                pending_xattrs.len()
            ),
        ));
    }

    // afr.c fix_quorum_options: without an explicit quorum-type, more than two children
    // means "auto"; quorum-count only counts for "fixed".
    let qtype = match o.get("quorum-type") {
        Some(v) => v,
        None if child_count > 2 => "auto",
        None => "none",
    };
    let quorum = match qtype {
        "none" => Quorum::None,
        "auto" => Quorum::Auto,
        "fixed" => {
            let n = match o.get("quorum-count") {
                None => 0,
                Some(v) => parse_uint(v)
                    .and_then(|n| u32::try_from(n).ok())
                    .filter(|&n| (1..=i32::MAX as u32).contains(&n))
                    .ok_or_else(|| bad_option(x, "quorum-count", v, "an integer >= 1"))?,
            };
            Quorum::Fixed(n)
        }
        other => {
            return Err(bad_option(
                x,
                "quorum-type",
                other,
                "one of none, auto, fixed",
            ))
        }
    };

    let favorite_child_policy = match o.get("favorite-child-policy").unwrap_or("none") {
        "none" => FavoriteChildPolicy::None,
        "size" => FavoriteChildPolicy::Size,
        "ctime" => FavoriteChildPolicy::Ctime,
        "mtime" => FavoriteChildPolicy::Mtime,
        "majority" => FavoriteChildPolicy::Majority,
        other => {
            return Err(bad_option(
                x,
                "favorite-child-policy",
                other,
                "one of none, size, ctime, mtime, majority",
            ))
        }
    };

    Ok(Replicate {
        name: x.name.clone(),
        line: x.line,
        layers,
        options: o.clone(),
        children,
        volume_id: o.get("volume-id").map(str::to_string),
        pending_xattrs,
        quorum,
        arbiter_count,
        thin_arbiter,
        favorite_child_policy,
    })
}

impl ClientVolume {
    /// The client tree below `graph`'s top.
    pub fn from_graph(graph: &Graph) -> Result<Self, VolfileError> {
        let top = graph.top();
        let mut b = Builder {
            graph,
            seen: HashSet::new(),
        };
        let root = b.node(top, 0)?;
        Ok(ClientVolume {
            name: top.name.clone(),
            root,
        })
    }

    /// Parse volfile text and build the client tree.
    pub fn parse(text: &str) -> Result<Self, VolfileError> {
        Self::from_graph(&Graph::parse(text)?)
    }

    /// Pass-through translators between the top and the root node, top-down (the top itself
    /// included when it is one, as with glusterd's debug/io-stats).
    pub fn layers(&self) -> &[Layer] {
        self.root.layers()
    }

    /// All protocol/client leaves, left to right (brick order).
    pub fn clients(&self) -> Vec<&ClientSpec> {
        self.root.clients()
    }

    pub fn client(&self, name: &str) -> Option<&ClientSpec> {
        self.clients().into_iter().find(|c| c.name == name)
    }

    /// All replicate nodes, left to right.
    pub fn replicates(&self) -> Vec<&Replicate> {
        let mut out = Vec::new();
        self.root.walk(&mut |n| {
            if let Node::Replicate(r) = n {
                out.push(r);
            }
        });
        out
    }

    /// The topmost distribute node, if any.
    pub fn distribute(&self) -> Option<&Distribute> {
        let mut found = None;
        self.root.walk(&mut |n| {
            if let (None, Node::Distribute(d)) = (&found, n) {
                found = Some(d);
            }
        });
        found
    }
}

impl Node {
    pub fn name(&self) -> &str {
        match self {
            Node::Distribute(d) => &d.name,
            Node::Replicate(r) => &r.name,
            Node::Client(c) => &c.name,
        }
    }

    /// Pass-through translators directly above this node.
    pub fn layers(&self) -> &[Layer] {
        match self {
            Node::Distribute(d) => &d.layers,
            Node::Replicate(r) => &r.layers,
            Node::Client(c) => &c.layers,
        }
    }

    pub fn options(&self) -> &Options {
        match self {
            Node::Distribute(d) => &d.options,
            Node::Replicate(r) => &r.options,
            Node::Client(c) => &c.options,
        }
    }

    pub fn children(&self) -> &[Node] {
        match self {
            Node::Distribute(d) => &d.children,
            Node::Replicate(r) => &r.children,
            Node::Client(_) => &[],
        }
    }

    /// Source line of the translator's `volume` header.
    pub fn line(&self) -> usize {
        match self {
            Node::Distribute(d) => d.line,
            Node::Replicate(r) => r.line,
            Node::Client(c) => c.line,
        }
    }

    /// A boolean option of this translator, read like glusterfs's `gf_string2boolean()`;
    /// `None` when not set.
    pub fn bool_option(&self, key: &str) -> Result<Option<bool>, VolfileError> {
        bool_opt(self.name(), self.line(), self.options(), key)
    }

    /// protocol/client leaves below (or at) this node, left to right.
    pub fn clients(&self) -> Vec<&ClientSpec> {
        let mut out = Vec::new();
        self.walk(&mut |n| {
            if let Node::Client(c) = n {
                out.push(c);
            }
        });
        out
    }

    /// Pre-order traversal. The tree depth is bounded by the builder's nesting limit.
    fn walk<'a>(&'a self, f: &mut impl FnMut(&'a Node)) {
        f(self);
        for c in self.children() {
            c.walk(f);
        }
    }
}

impl Distribute {
    /// `lookup-optimize`, default on (dht-shared.c).
    pub fn lookup_optimize(&self) -> Result<bool, VolfileError> {
        Ok(bool_opt(&self.name, self.line, &self.options, "lookup-optimize")?.unwrap_or(true))
    }

    /// `min-free-disk` as written (percent or size), default `10%` (dht-shared.c).
    pub fn min_free_disk(&self) -> &str {
        self.options.get("min-free-disk").unwrap_or("10%")
    }

    /// The POSIX extended regex DHT hashes temporary rsync names by (`rsync-hash-regex`,
    /// default `^\.(.+)\.[^.]+$`; `none` disables it).
    pub fn rsync_hash_regex(&self) -> Option<&str> {
        match self.options.get("rsync-hash-regex") {
            Some("none") => None,
            Some(r) => Some(r),
            None => Some(DEFAULT_RSYNC_HASH_REGEX),
        }
    }

    /// `extra-hash-regex`, no default; `none` disables it.
    pub fn extra_hash_regex(&self) -> Option<&str> {
        self.options
            .get("extra-hash-regex")
            .filter(|r| *r != "none")
    }
}

impl Replicate {
    /// The protocol/client children, in order.
    pub fn clients(&self) -> Vec<&ClientSpec> {
        self.children.iter().flat_map(Node::clients).collect()
    }

    /// A boolean option with AFR's default when unset, e.g.
    /// `bool_option_or("eager-lock", true)`.
    pub fn bool_option_or(&self, key: &str, default: bool) -> Result<bool, VolfileError> {
        Ok(bool_opt(&self.name, self.line, &self.options, key)?.unwrap_or(default))
    }

    /// `data-self-heal` as written, default `off` (it also accepts `open`, afr.c).
    pub fn data_self_heal(&self) -> &str {
        self.options.get("data-self-heal").unwrap_or("off")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(name: &str, brick: &str) -> Xlator {
        Xlator::new(name, "protocol/client")
            .with_option("remote-host", "vm")
            .with_option("remote-subvolume", brick)
    }

    fn build(vols: Vec<Xlator>) -> Result<ClientVolume, VolfileError> {
        ClientVolume::from_graph(&Graph::new(vols).unwrap())
    }

    #[test]
    fn replica_defaults() {
        let v = build(vec![
            client("c0", "/b0"),
            client("c1", "/b1"),
            Xlator::new("afr", "cluster/afr")
                .with_subvolume("c0")
                .with_subvolume("c1"),
        ])
        .unwrap();
        let Node::Replicate(r) = &v.root else {
            panic!("{v:?}")
        };
        assert_eq!(r.quorum, Quorum::None); // two children: no implicit auto quorum
        assert_eq!(r.pending_xattrs, vec!["trusted.afr.c0", "trusted.afr.c1"]);
        assert_eq!(r.favorite_child_policy, FavoriteChildPolicy::None);
        assert!(r.bool_option_or("eager-lock", true).unwrap());
        assert_eq!(r.data_self_heal(), "off");
        let c = &r.clients()[1];
        assert_eq!(c.ping_timeout_secs, DEFAULT_PING_TIMEOUT_SECS);
        assert_eq!(c.transport_type, "tcp");
        assert_eq!(c.remote_port, None);
        assert!(v.layers().is_empty());
    }

    #[test]
    fn quorum_variants_and_bad_values() {
        let afr = |opts: &[(&str, &str)]| {
            let mut x = Xlator::new("afr", "cluster/replicate");
            for (k, v) in opts {
                x = x.with_option(*k, *v);
            }
            build(vec![
                client("c0", "/b0"),
                client("c1", "/b1"),
                client("c2", "/b2"),
                x.with_subvolume("c0")
                    .with_subvolume("c1")
                    .with_subvolume("c2"),
            ])
        };
        let q = |v: ClientVolume| v.replicates()[0].quorum;
        assert_eq!(q(afr(&[]).unwrap()), Quorum::Auto);
        assert_eq!(q(afr(&[("quorum-type", "none")]).unwrap()), Quorum::None);
        assert_eq!(
            q(afr(&[("quorum-type", "fixed"), ("quorum-count", "2")]).unwrap()),
            Quorum::Fixed(2)
        );
        // quorum-count is ignored unless the type is fixed.
        assert_eq!(
            q(afr(&[("quorum-type", "auto"), ("quorum-count", "1")]).unwrap()),
            Quorum::Auto
        );
        for bad in [
            &[("quorum-type", "most")][..],
            &[("quorum-type", "fixed"), ("quorum-count", "0")],
            &[("quorum-type", "fixed"), ("quorum-count", "x")],
            &[("favorite-child-policy", "newest")],
            &[("arbiter-count", "2")],
            &[("afr-pending-xattr", "a,b")],
        ] {
            assert!(
                matches!(
                    afr(bad),
                    Err(VolfileError::BadOption { .. } | VolfileError::Topology { .. })
                ),
                "{bad:?}"
            );
        }
        let fav = afr(&[("favorite-child-policy", "majority")]).unwrap();
        assert_eq!(
            fav.replicates()[0].favorite_child_policy,
            FavoriteChildPolicy::Majority
        );
    }

    #[test]
    fn client_options() {
        let v = build(vec![client("c", "/b")
            .with_option("transport.socket.remote-port", "49152")
            .with_option("ping-timeout", "1min")
            .with_option("transport.address-family", "inet6")])
        .unwrap();
        let c = &v.clients()[0];
        assert_eq!(c.remote_port, Some(49152));
        assert_eq!(c.ping_timeout_secs, 60);
        assert_eq!(c.address_family.as_deref(), Some("inet6"));
        assert_eq!(v.name, "c");

        for (k, val) in [
            ("remote-port", "70000"),
            ("ping-timeout", "2000"),
            ("ping-timeout", "soon"),
            ("frame-timeout", "-1"),
        ] {
            let r = build(vec![client("c", "/b").with_option(k, val)]);
            assert!(
                matches!(r, Err(VolfileError::BadOption { .. })),
                "{k} {val}"
            );
        }
        let r = build(vec![Xlator::new("c", "protocol/client")]);
        assert!(matches!(r, Err(VolfileError::Topology { .. })));
        let r = build(vec![client("c", "/b").with_option("remote-port", "0")]).unwrap();
        assert_eq!(r.clients()[0].remote_port, None);
    }

    #[test]
    fn unsupported_and_malformed_trees() {
        let r = build(vec![
            client("c0", "/b0"),
            Xlator::new("ec", "cluster/disperse").with_subvolume("c0"),
        ]);
        assert!(
            matches!(&r, Err(VolfileError::Unsupported { xlator_type, .. }) if xlator_type == "cluster/disperse")
        );
        let r = build(vec![
            client("c0", "/b0"),
            Xlator::new("p", "storage/posix").with_subvolume("c0"),
        ]);
        assert!(matches!(r, Err(VolfileError::Unsupported { .. })));
        // A pass-through with no child.
        let r = build(vec![Xlator::new("wb", "performance/write-behind")]);
        assert!(matches!(r, Err(VolfileError::Topology { .. })));
        // A shared child (DAG, not a tree).
        let r = build(vec![
            client("c0", "/b0"),
            Xlator::new("a", "performance/a").with_subvolume("c0"),
            Xlator::new("b", "performance/b").with_subvolume("c0"),
            Xlator::new("d", "cluster/distribute")
                .with_subvolume("a")
                .with_subvolume("b"),
        ]);
        assert!(matches!(r, Err(VolfileError::Topology { .. })));
        // A client with children.
        let r = build(vec![
            client("c0", "/b0"),
            client("c1", "/b1").with_subvolume("c0"),
        ]);
        assert!(matches!(r, Err(VolfileError::Topology { .. })));
    }

    #[test]
    fn layers_below_distribute_are_attached_to_the_child() {
        let v = build(vec![
            client("c0", "/b0"),
            Xlator::new("rda", "performance/readdir-ahead")
                .with_option("rda-cache-limit", "10MB")
                .with_subvolume("c0"),
            Xlator::new("dht", "cluster/distribute").with_subvolume("rda"),
            Xlator::new("top", "debug/io-stats").with_subvolume("dht"),
        ])
        .unwrap();
        assert_eq!(v.layers().len(), 1);
        let d = v.distribute().unwrap();
        assert!(d.lookup_optimize().unwrap());
        assert_eq!(d.min_free_disk(), "10%");
        assert_eq!(d.rsync_hash_regex(), Some(r"^\.(.+)\.[^.]+$"));
        assert_eq!(d.extra_hash_regex(), None);
        let child = &d.children[0];
        assert_eq!(child.layers()[0].name, "rda");
        assert_eq!(
            child.layers()[0].options.get("rda-cache-limit"),
            Some("10MB")
        );
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed() {
        let mut vols = vec![client("c", "/b")];
        for i in 0..100 {
            let prev = vols.last().unwrap().name.clone();
            vols.push(Xlator::new(format!("d{i}"), "cluster/distribute").with_subvolume(prev));
        }
        assert!(matches!(build(vols), Err(VolfileError::Topology { .. })));
        // Long pass-through chains are fine.
        let mut vols = vec![client("c", "/b")];
        for i in 0..50_000 {
            let prev = vols.last().unwrap().name.clone();
            vols.push(Xlator::new(format!("p{i}"), "performance/x").with_subvolume(prev));
        }
        assert_eq!(build(vols).unwrap().layers().len(), 50_000);
    }
}
