//! `gluster-rs heketi ...`: heketi-cli's commands and flags.
//!
//! Server, user and key come from `--server/-s`, `--user`, `--secret`, or
//! `HEKETI_CLI_SERVER`, `HEKETI_CLI_USER`, `HEKETI_CLI_KEY` (heketi-cli's
//! `client/cli/go/cmds/root.go`); `--json` prints the server's JSON.
//! Text output follows heketi-cli's formats.

use std::fmt::Write as _;
use std::time::Duration;

use clap::{ArgAction, Args, Subcommand};

use crate::api::*;
use crate::client::{ClientOptions, HeketiClient};
use crate::config::Config;
use crate::topology::{self, TopologyFile};
use crate::HeketiError;

/// `gluster-rs heketi` arguments.
#[derive(Debug, Args)]
pub struct HeketiArgs {
    /// Heketi server URL.
    #[arg(
        short = 's',
        long,
        global = true,
        env = "HEKETI_CLI_SERVER",
        default_value = "http://localhost:8080"
    )]
    pub server: String,
    /// Heketi user (JWT issuer: admin or user).
    #[arg(long, global = true, env = "HEKETI_CLI_USER", default_value = "")]
    pub user: String,
    /// Secret key of the user.
    #[arg(
        long,
        global = true,
        env = "HEKETI_CLI_KEY",
        default_value = "",
        hide_env_values = true
    )]
    pub secret: String,
    /// Seconds to wait for an asynchronous operation.
    #[arg(long, global = true, default_value_t = 600)]
    pub timeout: u64,
    /// Print response as JSON.
    #[arg(long)]
    pub json: bool,
    #[command(subcommand)]
    pub cmd: Cmd,
}

#[derive(Debug, Default, Args)]
pub struct Out {
    /// Print response as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Run the Heketi-compatible server.
    Serve(ServeArgs),
    /// Heketi cluster management.
    Cluster {
        #[command(subcommand)]
        cmd: ClusterCmd,
    },
    /// Heketi node management.
    Node {
        #[command(subcommand)]
        cmd: NodeCmd,
    },
    /// Heketi device management.
    Device {
        #[command(subcommand)]
        cmd: DeviceCmd,
    },
    /// Heketi topology management.
    Topology {
        #[command(subcommand)]
        cmd: TopologyCmd,
    },
    /// Heketi volume management.
    Volume {
        #[command(subcommand)]
        cmd: VolumeCmd,
    },
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// heketi.json.
    #[arg(long)]
    pub config: std::path::PathBuf,
    /// Disable JWT authentication.
    #[arg(long)]
    pub disable_auth: bool,
}

#[derive(Debug, Subcommand)]
pub enum ClusterCmd {
    /// Create a cluster.
    Create {
        /// Allow block volumes.
        #[arg(long, action = ArgAction::Set, num_args = 0..=1, default_value_t = true, default_missing_value = "true")]
        block: bool,
        /// Allow file volumes.
        #[arg(long, action = ArgAction::Set, num_args = 0..=1, default_value_t = true, default_missing_value = "true")]
        file: bool,
        #[command(flatten)]
        out: Out,
    },
    /// Set the flags of a cluster.
    Setflags {
        id: String,
        #[arg(long)]
        block: Option<bool>,
        #[arg(long)]
        file: Option<bool>,
    },
    /// List clusters.
    List {
        #[command(flatten)]
        out: Out,
    },
    /// Cluster information.
    Info {
        id: String,
        #[command(flatten)]
        out: Out,
    },
    /// Delete a cluster.
    Delete { id: String },
}

#[derive(Debug, Subcommand)]
pub enum NodeCmd {
    /// Add a node.
    Add {
        #[arg(long, default_value_t = 0)]
        zone: i64,
        #[arg(long)]
        cluster: String,
        #[arg(long = "management-host-name")]
        management_host_name: String,
        #[arg(long = "storage-host-name")]
        storage_host_name: String,
        #[command(flatten)]
        out: Out,
    },
    /// Node information.
    Info {
        id: String,
        #[command(flatten)]
        out: Out,
    },
    /// List nodes.
    List,
    /// Delete a node.
    Delete { id: String },
    /// Allow allocation on a node.
    Enable { id: String },
    /// Disallow allocation on a node.
    Disable { id: String },
    /// Move all bricks off a node (state failed).
    Remove { id: String },
}

#[derive(Debug, Subcommand)]
pub enum DeviceCmd {
    /// Add a device (block device or directory) to a node.
    Add {
        #[arg(long)]
        name: String,
        #[arg(long)]
        node: String,
        #[arg(long = "destroy-existing-data")]
        destroy_existing_data: bool,
    },
    /// Device information.
    Info {
        id: String,
        #[command(flatten)]
        out: Out,
    },
    /// Delete a (removed) device.
    Delete {
        id: String,
        #[arg(long = "force-forget")]
        force_forget: bool,
    },
    /// Allow allocation on a device.
    Enable { id: String },
    /// Disallow allocation on a device.
    Disable { id: String },
    /// Move all bricks off a device (state failed).
    Remove { id: String },
    /// Refresh a device's capacity.
    Resync { id: String },
}

#[derive(Debug, Subcommand)]
pub enum TopologyCmd {
    /// Add clusters, nodes and devices from a topology.json.
    Load {
        /// topology.json.
        #[arg(short = 'j', long = "json")]
        json: String,
    },
    /// Show the topology.
    Info {
        #[command(flatten)]
        out: Out,
    },
}

#[derive(Debug, Subcommand)]
pub enum VolumeCmd {
    /// Create a volume.
    Create(VolumeCreateArgs),
    /// List volumes.
    List {
        #[command(flatten)]
        out: Out,
    },
    /// Volume information.
    Info {
        id: String,
        #[command(flatten)]
        out: Out,
    },
    /// Add space to a volume.
    Expand {
        /// Volume id (or --volume).
        id: Option<String>,
        #[arg(long)]
        volume: Option<String>,
        /// GiB to add.
        #[arg(long = "expand-size")]
        expand_size: i64,
        #[command(flatten)]
        out: Out,
    },
    /// Delete a volume.
    Delete { id: String },
}

#[derive(Debug, Args)]
pub struct VolumeCreateArgs {
    /// Size in GiB.
    #[arg(long)]
    pub size: i64,
    /// Group id of the brick directories.
    #[arg(long, default_value_t = 0)]
    pub gid: i64,
    /// Volume name (default vol_<id>).
    #[arg(long, default_value = "")]
    pub name: String,
    /// none, replicate or disperse.
    #[arg(long, default_value = "replicate")]
    pub durability: String,
    /// Replica count (replicate).
    #[arg(long, default_value_t = 3)]
    pub replica: i64,
    /// Data bricks (disperse).
    #[arg(long = "disperse-data", default_value_t = 4)]
    pub disperse_data: i64,
    /// Redundancy bricks (disperse).
    #[arg(long, default_value_t = 2)]
    pub redundancy: i64,
    /// Snapshot reserve factor (>1 enables snapshots).
    #[arg(long = "snapshot-factor", default_value_t = 1.0)]
    pub snapshot_factor: f32,
    /// Comma-separated cluster ids to create the volume in.
    #[arg(long, default_value = "")]
    pub clusters: String,
    /// Comma-separated "key value" gluster volume options.
    #[arg(long = "gluster-volume-options", default_value = "")]
    pub gluster_volume_options: String,
    /// Mount the new volume on this directory.
    #[arg(long)]
    pub mount: Option<String>,
    /// File system type for --mount.
    #[arg(long = "mount-type", default_value = crate::mount::FSTYPE)]
    pub mount_type: String,
    #[command(flatten)]
    pub out: Out,
}

impl VolumeCreateArgs {
    /// The request heketi-cli would send for these flags.
    pub fn request(&self) -> Result<VolumeCreateRequest, HeketiError> {
        let mut r = VolumeCreateRequest {
            size: self.size,
            name: self.name.clone(),
            gid: self.gid,
            ..Default::default()
        };
        match self.durability.as_str() {
            DURABILITY_REPLICATE => {
                r.durability.kind = DURABILITY_REPLICATE.into();
                r.durability.replicate.replica = self.replica;
            }
            DURABILITY_DISPERSE => {
                r.durability.kind = DURABILITY_DISPERSE.into();
                r.durability.disperse.data = self.disperse_data;
                r.durability.disperse.redundancy = self.redundancy;
            }
            DURABILITY_NONE => r.durability.kind = DURABILITY_NONE.into(),
            other => {
                return Err(HeketiError::Usage(format!(
                    "Unknown durability type {other}"
                )))
            }
        }
        if self.snapshot_factor > 1.0 {
            r.snapshot.enable = true;
            r.snapshot.factor = self.snapshot_factor;
        }
        if !self.clusters.is_empty() {
            r.clusters = self
                .clusters
                .split(',')
                .map(|s| s.trim().to_string())
                .collect();
        }
        if !self.gluster_volume_options.is_empty() {
            r.glustervolumeoptions = self
                .gluster_volume_options
                .split(',')
                .map(|s| s.trim().to_string())
                .collect();
        }
        Ok(r)
    }
}

fn gib(kib: u64) -> u64 {
    kib / (1024 * 1024)
}

fn json<T: serde::Serialize>(v: &T) -> Result<String, HeketiError> {
    serde_json::to_string(v).map_err(|e| HeketiError::Protocol(e.to_string()))
}

/// heketi-cli's volume text (`VolumeInfoResponse.String`).
pub fn volume_text(v: &VolumeInfoResponse) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        "Name: {}\nSize: {}\nVolume Id: {}\nCluster Id: {}\nMount: {}\n\
         Mount Options: backup-volfile-servers={}\nBlock: {}\nFree Size: {}\n\
         Reserved Size: {}\nBlock Hosting Restriction: {}\nBlock Volumes: [{}]\n\
         Durability Type: {}\n",
        v.name,
        v.size,
        v.id,
        v.cluster,
        v.mount.glusterfs.device,
        v.mount
            .glusterfs
            .options
            .get("backup-volfile-servers")
            .map(String::as_str)
            .unwrap_or(""),
        v.block,
        v.blockinfo.freesize,
        v.blockinfo.reservedsize,
        if v.blockinfo.restriction.is_empty() {
            "(none)"
        } else {
            &v.blockinfo.restriction
        },
        v.blockinfo.blockvolume.join(" "),
        v.durability.kind,
    );
    match v.durability.kind.as_str() {
        DURABILITY_DISPERSE => {
            let _ = write!(
                s,
                "Disperse Data: {}\nDisperse Redundancy: {}\n",
                v.durability.disperse.data, v.durability.disperse.redundancy
            );
        }
        DURABILITY_REPLICATE => {
            let _ = writeln!(s, "Distributed+Replica: {}", v.durability.replicate.replica);
        }
        _ => {}
    }
    if v.snapshot.enable {
        let _ = writeln!(s, "Snapshot Factor: {:.2}", v.snapshot.factor);
    }
    s
}

/// heketi-cli's node text.
pub fn node_text(n: &NodeInfoResponse) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        "Node Id: {}\nState: {}\nCluster Id: {}\nZone: {}\nManagement Hostname: {}\nStorage Hostname: {}\n",
        n.id,
        n.state.as_str(),
        n.cluster,
        n.zone,
        n.hostnames.manage.first().map(String::as_str).unwrap_or(""),
        n.hostnames.storage.first().map(String::as_str).unwrap_or(""),
    );
    if !n.tags.is_empty() {
        s.push_str("Tags:\n");
        for (k, v) in &n.tags {
            let _ = writeln!(s, "  {k}: {v}");
        }
    }
    s.push_str("Devices:\n");
    for d in &n.devices {
        let _ = writeln!(
            s,
            "Id:{:<35}Name:{:<20}State:{:<10}Size (GiB):{:<8}Used (GiB):{:<8}Free (GiB):{:<8}Bricks:{:<8}",
            d.id,
            d.name,
            d.state.as_str(),
            gib(d.storage.total),
            gib(d.storage.used),
            gib(d.storage.free),
            d.bricks.len()
        );
    }
    s
}

/// heketi-cli's device text.
pub fn device_text(d: &DeviceInfoResponse) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        "Device Id: {}\nState: {}\nSize (GiB): {}\nUsed (GiB): {}\nFree (GiB): {}\n\
         Create Path: {}\nPhysical Volume UUID: {}\nKnown Paths: {}\n",
        d.id,
        d.state.as_str(),
        gib(d.storage.total),
        gib(d.storage.used),
        gib(d.storage.free),
        d.name,
        d.pv_uuid,
        d.paths.join(" ")
    );
    if !d.tags.is_empty() {
        s.push_str("Tags:\n");
        for (k, v) in &d.tags {
            let _ = writeln!(s, "  {k}: {v}");
        }
    }
    s.push_str("Bricks:\n");
    for b in &d.bricks {
        let _ = writeln!(
            s,
            "Id:{:<35}Size (GiB):{:<8}Path: {}",
            b.id,
            gib(b.size),
            b.path
        );
    }
    s
}

/// heketi-cli's default `topology info` template.
pub fn topology_text(t: &TopologyInfoResponse) -> String {
    let mut s = String::new();
    for c in &t.clusters {
        let _ = write!(
            s,
            "\nCluster Id: {}\n\n    File:  {}\n    Block: {}\n\n    Volumes:\n\n",
            c.id, c.file, c.block
        );
        for v in &c.volumes {
            let opts: String = v
                .mount
                .glusterfs
                .options
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            let _ = write!(
                s,
                "\tName: {}\n\tSize: {}\n\tId: {}\n\tCluster Id: {}\n\tMount: {}\n\tMount Options: {}\n\tDurability Type: {}\n",
                v.name, v.size, v.id, v.cluster, v.mount.glusterfs.device, opts, v.durability.kind
            );
            match v.durability.kind.as_str() {
                DURABILITY_REPLICATE => {
                    let _ = writeln!(s, "\tReplica: {}", v.durability.replicate.replica);
                }
                DURABILITY_DISPERSE => {
                    let _ = write!(
                        s,
                        "\tDisperse Data: {}\n\tDisperse Redundancy: {}\n",
                        v.durability.disperse.data, v.durability.disperse.redundancy
                    );
                }
                _ => {}
            }
            if v.snapshot.enable {
                let _ = write!(
                    s,
                    "\tSnapshot: Enabled\n\tSnapshot Factor: {:.2}\n\n",
                    v.snapshot.factor
                );
            } else {
                s.push_str("\tSnapshot: Disabled\n\n");
            }
            s.push_str("\t\tBricks:\n");
            for b in &v.bricks {
                let _ = write!(
                    s,
                    "\t\t\tId: {}\n\t\t\tPath: {}\n\t\t\tSize (GiB): {}\n\t\t\tNode: {}\n\t\t\tDevice: {}\n\n",
                    b.id,
                    b.path,
                    gib(b.size),
                    b.node,
                    b.device
                );
            }
        }
        s.push_str("\n    Nodes:\n\n");
        for n in &c.nodes {
            let _ = write!(
                s,
                "\tNode Id: {}\n\tState: {}\n\tCluster Id: {}\n\tZone: {}\n\tManagement Hostnames: {}\n\tStorage Hostnames: {}\n",
                n.id,
                n.state.as_str(),
                n.cluster,
                n.zone,
                n.hostnames.manage.join(", "),
                n.hostnames.storage.join(", ")
            );
            s.push_str("\tDevices:\n");
            for d in &n.devices {
                let _ = write!(
                    s,
                    "\t\tId:{:<35}State:{:<10}Size (GiB):{:<8}Used (GiB):{:<8}Free (GiB):{:<8}\n\t\t\tKnown Paths: {}\n\n\t\t\tBricks:\n",
                    d.id,
                    d.state.as_str(),
                    gib(d.storage.total),
                    gib(d.storage.used),
                    gib(d.storage.free),
                    if d.paths.is_empty() { d.name.clone() } else { d.paths.join(" ") }
                );
                for b in &d.bricks {
                    let _ = writeln!(
                        s,
                        "\t\t\t\tId:{:<35}Size (GiB):{:<8}Path: {}",
                        b.id,
                        gib(b.size),
                        b.path
                    );
                }
            }
            s.push('\n');
        }
    }
    s
}

fn client(a: &HeketiArgs) -> Result<HeketiClient, HeketiError> {
    HeketiClient::new(ClientOptions {
        server: a.server.clone(),
        user: a.user.clone(),
        key: a.secret.clone(),
        op_timeout: Duration::from_secs(a.timeout.max(1)),
        progress: true,
    })
}

/// Load a topology file through the client, as heketi-cli's `topology load`.
/// Returns the text heketi-cli prints.
pub async fn topology_load(c: &HeketiClient, file: &TopologyFile) -> Result<String, HeketiError> {
    let mut out = String::new();
    let existing = c
        .topology_info()
        .await
        .map_err(|e| HeketiError::Usage(format!("Unable to get topology information: {e}")))?;
    for spec in &file.clusters {
        let mut cluster_id: Option<String> = None;
        let mut created: Option<String> = None;
        for n in &spec.nodes {
            let manage = n.node.hostnames.manage.first().cloned().unwrap_or_default();
            let node_id;
            if let Some((cid, nid)) = topology::find_node(&existing, &manage) {
                let _ = writeln!(out, "\tFound node {manage} on cluster {cid}");
                cluster_id = Some(cid);
                node_id = nid;
            } else {
                if cluster_id.is_none() {
                    out.push_str("Creating cluster ... ");
                    let flags = ClusterFlags {
                        file: spec.file.unwrap_or(true),
                        block: spec.block.unwrap_or(true),
                    };
                    let ci = c.cluster_create(flags).await?;
                    let _ = writeln!(out, "ID: {}", ci.id);
                    if flags.file {
                        out.push_str("\tAllowing file volumes on cluster.\n");
                    }
                    if flags.block {
                        out.push_str("\tAllowing block volumes on cluster.\n");
                    }
                    created = Some(ci.id.clone());
                    cluster_id = Some(ci.id);
                }
                let _ = write!(out, "\tCreating node {manage} ... ");
                let mut req = n.node.clone();
                req.cluster = cluster_id.clone().unwrap_or_default();
                match c.node_add(&req).await {
                    Ok(ni) => {
                        let _ = writeln!(out, "ID: {}", ni.id);
                        node_id = ni.id;
                    }
                    Err(e) => {
                        let _ = writeln!(out, "Unable to create node: {e}");
                        continue;
                    }
                }
            }
            for d in &n.devices {
                if topology::has_device(&existing, &manage, &d.name) {
                    let _ = writeln!(out, "\t\tFound device {}", d.name);
                    continue;
                }
                let _ = write!(out, "\t\tAdding device {} ... ", d.name);
                let req = DeviceAddRequest {
                    name: d.name.clone(),
                    tags: d.tags.clone(),
                    node: node_id.clone(),
                    destroydata: d.destroydata,
                };
                match c.device_add(&req).await {
                    Ok(()) => out.push_str("OK\n"),
                    Err(e) => {
                        let _ = writeln!(out, "Unable to add device: {e}");
                    }
                }
            }
        }
        // Delete a cluster we created if nothing ended up in it.
        if let Some(id) = created {
            if let Ok(ci) = c.cluster_info(&id).await {
                if ci.nodes.is_empty() && ci.volumes.is_empty() {
                    let _ = c.cluster_delete(&id).await;
                }
            }
        }
    }
    Ok(out)
}

fn init_logging(filter: &str) {
    let f = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(filter));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(f)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Run one invocation.
pub async fn run(a: HeketiArgs) -> Result<(), HeketiError> {
    let top_json = a.json;
    let js = |o: &Out| o.json || top_json;
    match &a.cmd {
        Cmd::Serve(s) => {
            let mut cfg = Config::read(&s.config)?;
            cfg.apply_env(|k| std::env::var(k).ok());
            init_logging(cfg.log_filter());
            crate::server::serve(cfg, s.disable_auth).await
        }
        Cmd::Cluster { cmd } => {
            let c = client(&a)?;
            match cmd {
                ClusterCmd::Create { block, file, out } => {
                    let ci = c
                        .cluster_create(ClusterFlags {
                            block: *block,
                            file: *file,
                        })
                        .await?;
                    if js(out) {
                        println!("{}", json(&ci)?);
                    } else {
                        println!("Cluster id: {}", ci.id);
                    }
                }
                ClusterCmd::Setflags { id, block, file } => {
                    let cur = c.cluster_info(id).await?;
                    let flags = ClusterFlags {
                        block: block.unwrap_or(cur.block),
                        file: file.unwrap_or(cur.file),
                    };
                    c.cluster_set_flags(id, flags).await?;
                    println!("Cluster {id} flags updated");
                }
                ClusterCmd::List { out } => {
                    let l = c.cluster_list().await?;
                    if js(out) {
                        println!("{}", json(&l)?);
                    } else {
                        println!("Clusters:");
                        for id in &l.clusters {
                            let ci = c.cluster_info(id).await?;
                            let mut u = String::new();
                            if ci.file {
                                u.push_str("[file]");
                            }
                            if ci.block {
                                u.push_str("[block]");
                            }
                            if u.is_empty() {
                                u.push_str("[]");
                            }
                            println!("Id:{id} {u}");
                        }
                    }
                }
                ClusterCmd::Info { id, out } => {
                    let ci = c.cluster_info(id).await?;
                    if js(out) {
                        println!("{}", json(&ci)?);
                    } else {
                        println!(
                            "Cluster id: {}\nNodes:\n{}\nVolumes:\n{}\nBlock: {}\n\nFile: {}",
                            ci.id,
                            ci.nodes.join("\n"),
                            ci.volumes.join("\n"),
                            ci.block,
                            ci.file
                        );
                    }
                }
                ClusterCmd::Delete { id } => {
                    c.cluster_delete(id).await?;
                    println!("Cluster {id} deleted");
                }
            }
            Ok(())
        }
        Cmd::Node { cmd } => {
            let c = client(&a)?;
            match cmd {
                NodeCmd::Add {
                    zone,
                    cluster,
                    management_host_name,
                    storage_host_name,
                    out,
                } => {
                    let req = NodeAddRequest {
                        zone: *zone,
                        hostnames: HostAddresses {
                            manage: vec![management_host_name.clone()],
                            storage: vec![storage_host_name.clone()],
                        },
                        cluster: cluster.clone(),
                        tags: Tags::new(),
                    };
                    let n = c.node_add(&req).await?;
                    if js(out) {
                        println!("{}", json(&n)?);
                    } else {
                        print!("Node information:\n{}", node_text(&n));
                    }
                }
                NodeCmd::Info { id, out } => {
                    let n = c.node_info(id).await?;
                    if js(out) {
                        println!("{}", json(&n)?);
                    } else {
                        print!("{}", node_text(&n));
                    }
                }
                NodeCmd::List => {
                    for cid in c.cluster_list().await?.clusters {
                        for nid in c.cluster_info(&cid).await?.nodes {
                            println!("Id:{nid}\tCluster:{cid}");
                        }
                    }
                }
                NodeCmd::Delete { id } => {
                    c.node_delete(id).await?;
                    println!("Node {id} deleted");
                }
                NodeCmd::Enable { id } => {
                    c.node_state(id, EntryState::Online).await?;
                    println!("Node {id} is now online");
                }
                NodeCmd::Disable { id } => {
                    c.node_state(id, EntryState::Offline).await?;
                    println!("Node {id} is now offline");
                }
                NodeCmd::Remove { id } => {
                    c.node_state(id, EntryState::Failed).await?;
                    println!("Node {id} is now removed");
                }
            }
            Ok(())
        }
        Cmd::Device { cmd } => {
            let c = client(&a)?;
            match cmd {
                DeviceCmd::Add {
                    name,
                    node,
                    destroy_existing_data,
                } => {
                    c.device_add(&DeviceAddRequest {
                        name: name.clone(),
                        node: node.clone(),
                        destroydata: *destroy_existing_data,
                        tags: Tags::new(),
                    })
                    .await?;
                    println!("Device added successfully");
                }
                DeviceCmd::Info { id, out } => {
                    let d = c.device_info(id).await?;
                    if js(out) {
                        println!("{}", json(&d)?);
                    } else {
                        print!("{}", device_text(&d));
                    }
                }
                DeviceCmd::Delete { id, force_forget } => {
                    c.device_delete(id, *force_forget).await?;
                    println!("Device {id} deleted");
                }
                DeviceCmd::Enable { id } => {
                    c.device_state(id, EntryState::Online).await?;
                    println!("Device {id} is now online");
                }
                DeviceCmd::Disable { id } => {
                    c.device_state(id, EntryState::Offline).await?;
                    println!("Device {id} is now offline");
                }
                DeviceCmd::Remove { id } => {
                    c.device_state(id, EntryState::Failed).await?;
                    println!("Device {id} is now removed");
                }
                DeviceCmd::Resync { id } => {
                    c.device_resync(id).await?;
                    println!("Device {id} updated");
                }
            }
            Ok(())
        }
        Cmd::Topology { cmd } => {
            let c = client(&a)?;
            match cmd {
                TopologyCmd::Load { json: file } => {
                    let text = std::fs::read_to_string(file).map_err(|e| {
                        HeketiError::Usage(format!("Unable to open config file {file}: {e}"))
                    })?;
                    let t = TopologyFile::parse(&text)?;
                    print!("{}", topology_load(&c, &t).await?);
                }
                TopologyCmd::Info { out } => {
                    let t = c.topology_info().await?;
                    if js(out) {
                        println!("{}", json(&t)?);
                    } else {
                        print!("{}", topology_text(&t));
                    }
                }
            }
            Ok(())
        }
        Cmd::Volume { cmd } => {
            let c = client(&a)?;
            match cmd {
                VolumeCmd::Create(v) => {
                    let req = v.request()?;
                    let info = c.volume_create(&req).await?;
                    if js(&v.out) {
                        println!("{}", json(&info)?);
                    } else {
                        print!("{}", volume_text(&info));
                    }
                    if let Some(dir) = &v.mount {
                        crate::mount::mount(&info.mount.glusterfs, dir, &v.mount_type).await?;
                        if !js(&v.out) {
                            println!("Mounted {} on {dir}", info.mount.glusterfs.device);
                        }
                    }
                }
                VolumeCmd::List { out } => {
                    let l = c.volume_list().await?;
                    if js(out) {
                        println!("{}", json(&l)?);
                    } else {
                        for id in &l.volumes {
                            let v = c.volume_info(id).await?;
                            let block = if v.block { " [block]" } else { "" };
                            println!(
                                "Id:{:<35} Cluster:{:<35} Name:{}{}",
                                v.id, v.cluster, v.name, block
                            );
                        }
                    }
                }
                VolumeCmd::Info { id, out } => {
                    let v = c.volume_info(id).await?;
                    if js(out) {
                        println!("{}", json(&v)?);
                    } else {
                        print!("{}", volume_text(&v));
                    }
                }
                VolumeCmd::Expand {
                    id,
                    volume,
                    expand_size,
                    out,
                } => {
                    let vid = volume
                        .clone()
                        .or_else(|| id.clone())
                        .ok_or_else(|| HeketiError::Usage("Missing volume id".into()))?;
                    let v = c.volume_expand(&vid, *expand_size).await?;
                    if js(out) {
                        println!("{}", json(&v)?);
                    } else {
                        print!("{}", volume_text(&v));
                    }
                }
                VolumeCmd::Delete { id } => {
                    c.volume_delete(id).await?;
                    println!("Volume {id} deleted");
                }
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct T {
        #[command(flatten)]
        a: HeketiArgs,
    }

    #[test]
    fn parses_heketi_cli_style_commands() {
        let t = T::try_parse_from([
            "x",
            "--server",
            "http://127.0.0.1:1",
            "--user",
            "admin",
            "--secret",
            "k",
            "volume",
            "create",
            "--size=1",
            "--replica=3",
            "--name",
            "v1",
            "--json",
        ])
        .unwrap();
        assert_eq!(t.a.server, "http://127.0.0.1:1");
        let Cmd::Volume {
            cmd: VolumeCmd::Create(v),
        } = &t.a.cmd
        else {
            panic!()
        };
        let r = v.request().unwrap();
        assert_eq!(r.size, 1);
        assert_eq!(r.durability.kind, "replicate");
        assert_eq!(r.durability.replicate.replica, 3);
        assert!(v.out.json);

        let t = T::try_parse_from([
            "x",
            "topology",
            "load",
            "--json=topo.json",
            "-s",
            "http://h:1",
        ])
        .unwrap();
        let Cmd::Topology {
            cmd: TopologyCmd::Load { json },
        } = &t.a.cmd
        else {
            panic!()
        };
        assert_eq!(json, "topo.json");

        let t = T::try_parse_from(["x", "--json", "topology", "info"]).unwrap();
        assert!(t.a.json);

        let t = T::try_parse_from(["x", "cluster", "create", "--block=false"]).unwrap();
        let Cmd::Cluster {
            cmd: ClusterCmd::Create { block, file, .. },
        } = &t.a.cmd
        else {
            panic!()
        };
        assert!(!block && *file);

        let t = T::try_parse_from(["x", "volume", "expand", "--volume=abc", "--expand-size=2"])
            .unwrap();
        assert!(matches!(
            t.a.cmd,
            Cmd::Volume {
                cmd: VolumeCmd::Expand { expand_size: 2, .. }
            }
        ));
    }

    #[test]
    fn volume_text_matches_heketi_cli() {
        let mut v = VolumeInfoResponse {
            name: "vol_a".into(),
            size: 1,
            id: "a".into(),
            cluster: "c".into(),
            ..Default::default()
        };
        v.durability.kind = "replicate".into();
        v.durability.replicate.replica = 3;
        v.mount.glusterfs.device = "h1:vol_a".into();
        v.mount
            .glusterfs
            .options
            .insert("backup-volfile-servers".into(), "h2,h3".into());
        let t = volume_text(&v);
        assert!(
            t.starts_with("Name: vol_a\nSize: 1\nVolume Id: a\nCluster Id: c\nMount: h1:vol_a\n")
        );
        assert!(t.contains("Mount Options: backup-volfile-servers=h2,h3\n"));
        assert!(t.ends_with("Durability Type: replicate\nDistributed+Replica: 3\n"));
    }
}
