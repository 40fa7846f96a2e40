//! `mount.gluster-rs`: the mount(8) helper of gluster-rs.
//!
//! `mount -t gluster-rs SERVER:/VOLUME DIR -o OPTS` runs `/sbin/mount.gluster-rs SERVER:/VOLUME DIR
//! -o OPTS`. This crate parses that command line the way GlusterFS's `mount.glusterfs` does
//! ([`parse_args`], [`parse_spec`], [`parse_options`]), checks the mount point
//! ([`preflight`]), and runs the client as a daemon that reports back once the mount answers
//! ([`run`]). The client itself is behind the [`Client`] trait; [`wiring`] is where the real one
//! is plugged in.

pub mod args;
pub mod client;
pub mod daemon;
pub mod error;
pub mod logging;
pub mod options;
pub mod plan;
pub mod preflight;
pub mod spec;
pub mod wiring;

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use tokio::runtime::Runtime;

pub use args::{parse_args, Command, HelperFlags, Invocation};
pub use client::{
    connect_first, mount_and_serve, Client, Shutdown, ShutdownTrigger, VolfileTarget,
};
pub use error::{one_line, Error, EXIT_FAIL, EXIT_SYSERR, EXIT_USAGE};
pub use options::{
    parse_options, parse_options_with, AtimeMode, KernelOptions, LogLevel, MountOptions, Transport,
    XlatorOption,
};
pub use plan::{default_log_file, MountPlan, VolfileServer};
pub use spec::{parse_spec, VolumeSpec};

/// The helper's version line.
pub fn version() -> String {
    format!(
        "mount.gluster-rs (gluster-rs) {}",
        env!("CARGO_PKG_VERSION")
    )
}

/// `--help` text.
pub fn help() -> String {
    format!(
        "{usage}

Mounts a GlusterFS volume with gluster-rs, the native Rust client.
SERVER may be a comma-separated list; SERVER:/snaps/SNAP/VOLUME mounts a snapshot read-only.

Flags: -f fake (check everything, mount nothing)  -v verbose  -n no mtab (accepted)
       -s sloppy (ignore unknown options with a warning)  -t TYPE  -h help  -V version

Options (-o, comma separated; those of GlusterFS 10's mount.glusterfs):
  backup-volfile-servers=H1:H2:[V6]  backupvolfile-server=H  server-port=N  transport=tcp
  volume-id=VOL  subdir-mount=/DIR  fetch-attempts=N
  log-level=TRACE|DEBUG|INFO|WARNING|ERROR|CRITICAL|NONE  log-file=PATH  localtime-logging
  attribute-timeout=S  entry-timeout=S  negative-timeout=S  gid-timeout=S
  lru-limit=N  invalidate-limit=N  inode-table-size=N  background-qlen=N  congestion-threshold=N
  direct-io-mode=enable|disable|auto  use-readdirp=BOOL  kernel-writeback-cache=BOOL
  fopen-keep-cache[=BOOL]  reader-thread-count=1..64  auto-invalidation=BOOL
  open-behind=BOOL  quick-read=BOOL  write-behind=BOOL (gluster-rs, default on)
  attr-times-granularity=NS  enable-ino32  resolve-gids  xlator-option=XL.KEY=VALUE
  halo-max-latency=N  halo-max-replicas=N  halo-min-replicas=N  oom-score-adj=N
  ro  rw  acl  selinux  worm  aux-gfid-mount  no-root-squash=BOOL  root-squash=BOOL
  [no]dev  [no]exec  [no]suid  [no]atime  [no]relatime  [no]strictatime  [no]diratime
  [no]lazytime ([no]lazyatime)  auto_unmount  context=CTX fscontext= defcontext= rootcontext=  fuse-mountopts=O
  auto  noauto  _netdev  nofail  defaults  x-* (ignored)
Accepted for compatibility, no effect (a warning is printed): async sync dirsync mand nomand
  silent loud iversion noiversion mem-accounting thin-client global-threading event-history
  fuse-flush-handle-interrupt fuse-setlk-handle-interrupt fuse-handle-copy_file_range
  volfile-check fuse-dev-eperm-ratelimit-ns volume-name process-name io-engine dump-fuse
gluster-rs options:
  first-ack=BOOL       acknowledge a replicated write when the first replica has it (on, the
                       client default) or only when all up replicas have it (off)
  connect-timeout=S    time one volfile server gets to deliver a usable volume (default 30)
  mount-timeout=S      time mount waits for a usable mount (default: servers x connect-timeout + 30)
  worker-threads=N     client runtime threads
  allow-overmount      mount over an existing gluster mount
BOOL is on/off, yes/no, true/false, enable/disable or 1/0; S is seconds (decimals allowed).
Logs go to /var/log/gluster-rs/<mount point with / as ->.log unless log-file= says otherwise.",
        usage = args::USAGE
    )
}

/// Build the daemon's async runtime (only ever after the fork).
pub fn build_runtime(options: &MountOptions) -> Result<Runtime, Error> {
    let mut b = tokio::runtime::Builder::new_multi_thread();
    b.enable_all().thread_name("gluster-rs");
    if let Some(n) = options.worker_threads {
        b.worker_threads(n);
    }
    b.build()
        .map_err(|e| Error::system("starting the client runtime", e))
}

/// SIGTERM or SIGINT ask the daemon to unmount and exit.
async fn watch_signals(trigger: ShutdownTrigger) {
    use tokio::signal::unix::{signal, SignalKind};
    match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(mut term), Ok(mut int)) => {
            let name = tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = int.recv() => "SIGINT",
            };
            tracing::info!(signal = name, "signal received; unmounting");
            trigger.trigger();
        }
        (Err(e), _) | (_, Err(e)) => {
            tracing::warn!(error = %e, "cannot watch SIGTERM/SIGINT; stop the client with umount");
            // Keep the trigger alive: a dropped trigger must not look like a request.
            std::future::pending::<()>().await;
            drop(trigger);
        }
    }
}

fn apply_oom_score_adj(options: &MountOptions) {
    if let Some(n) = options.oom_score_adj {
        if let Err(e) = std::fs::write("/proc/self/oom_score_adj", n.to_string()) {
            tracing::warn!(value = n, error = %e, "cannot set oom_score_adj");
        }
    }
}

/// The daemon side after the fork: detach, start the runtime, mount with the client from
/// `make_client`, report to the parent, serve. Returns the exit status.
pub fn daemon_main<C: Client>(
    plan: &MountPlan,
    reporter: daemon::Reporter,
    make_client: impl FnOnce(&MountPlan) -> C,
) -> u8 {
    if let Err(e) = daemon::detach() {
        tracing::error!(error = %e, "cannot detach");
        reporter.failed(&e);
        return e.exit_code();
    }
    apply_oom_score_adj(&plan.options);
    let rt = match build_runtime(&plan.options) {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!(error = %e, "cannot start");
            reporter.failed(&e);
            return e.exit_code();
        }
    };
    let (trigger, shutdown) = Shutdown::new();
    rt.spawn(watch_signals(trigger));
    let mut client = make_client(plan);
    let mut reporter = Some(reporter);
    let result = mount_and_serve(&mut client, &rt, plan, shutdown, || {
        if let Some(r) = reporter.take() {
            r.ready();
        }
    });
    let code = match result {
        Ok(()) => 0,
        Err(e) => {
            tracing::error!(error = %e, "mount of {} failed", plan.fsname);
            if let Some(r) = reporter.take() {
                r.failed(&e);
            }
            e.exit_code()
        }
    };
    drop(client);
    rt.shutdown_timeout(Duration::from_secs(5));
    code
}

/// What [`run`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Help or version was printed.
    Printed,
    /// `-f`: everything checked, nothing mounted.
    Fake(Box<MountPlan>),
    /// Mounted; the daemon has this pid.
    Mounted { pid: i32, mountpoint: PathBuf },
}

/// The whole helper: parse `args` (without argv[0]), check, fork, and in the parent return once
/// the daemon reports the mount usable. `prog` prefixes warnings. The daemon (child) never
/// returns from here: it exits with its status when the file system is unmounted.
///
/// Must be called while the process is single-threaded (it forks).
pub fn run<C: Client>(
    args: impl IntoIterator<Item = OsString>,
    prog: &str,
    make_client: impl FnOnce(&MountPlan) -> C,
) -> Result<Outcome, Error> {
    let inv = match parse_args(args)? {
        Command::Help => {
            println!("{}", help());
            return Ok(Outcome::Printed);
        }
        Command::Version => {
            println!("{}", version());
            return Ok(Outcome::Printed);
        }
        Command::Mount(inv) => *inv,
    };
    for ig in &inv.options.ignored {
        eprintln!("{prog}: warning: '{}': {}", one_line(&ig.option), ig.reason);
    }
    let canon = preflight::check_mountpoint(&inv.mountpoint, &inv.options)?;
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
    let plan = MountPlan::new(inv, canon, &cwd);
    let verbose = plan.flags.verbose;
    if verbose {
        eprintln!("{prog}: {}", one_line(&plan.summary()));
    }
    if plan.flags.fake {
        if verbose {
            eprintln!("{prog}: fake mount (-f): nothing contacted, nothing mounted");
        }
        return Ok(Outcome::Fake(Box::new(plan)));
    }

    logging::init(&plan.log_file, plan.options.log_level)?;
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        fsname = %plan.fsname,
        mountpoint = %plan.mountpoint.display(),
        "mount requested: {}",
        plan.summary()
    );
    for ig in &plan.options.ignored {
        tracing::warn!(option = %ig.option, "{}", ig.reason);
    }
    let mounts_before = preflight::read_mountinfo()
        .map(|m| preflight::mounts_at(&m, &plan.mountpoint).len())
        .unwrap_or(0);

    match daemon::fork_daemon()? {
        daemon::Forked::Parent(d) => {
            match d.wait_ready(
                plan.mount_timeout(),
                &plan.mountpoint,
                mounts_before,
                &plan.log_file,
            ) {
                Ok(pid) => {
                    if verbose {
                        eprintln!(
                            "{prog}: mounted {} on {} (client pid {pid})",
                            plan.fsname,
                            plan.mountpoint.display()
                        );
                    }
                    Ok(Outcome::Mounted {
                        pid: pid.as_raw(),
                        mountpoint: plan.mountpoint.clone(),
                    })
                }
                Err(e) => {
                    tracing::error!(error = %e, "mount of {} on {} failed", plan.fsname, plan.mountpoint.display());
                    Err(e)
                }
            }
        }
        daemon::Forked::Child(reporter) => {
            let code = daemon_main(&plan, reporter, make_client);
            std::process::exit(i32::from(code));
        }
    }
}
