//! `-o` parsing: every option with good and bad values, unknown options, the exact strings the
//! Kubernetes in-tree glusterfs plugin passes.

use std::path::PathBuf;
use std::time::Duration;

use mount_gluster_rs::options::{parse_backup_servers, parse_bool, IgnoredOption};
use mount_gluster_rs::{
    parse_options, parse_options_with, AtimeMode, Error, LogLevel, MountOptions, XlatorOption,
};

fn ok(s: &str) -> MountOptions {
    match parse_options(s) {
        Ok(o) => o,
        Err(e) => panic!("{s:?} should parse: {e}"),
    }
}

fn err(s: &str) -> Error {
    match parse_options(s) {
        Ok(o) => panic!("{s:?} should be refused, got {o:?}"),
        Err(e) => e,
    }
}

/// The error names the option and, for a value error, the value; it is one line.
fn refused(s: &str, option: &str) {
    let e = err(s);
    let msg = e.to_string();
    assert!(msg.contains(&format!("'{option}'")), "{s:?}: {msg}");
    assert!(!msg.contains('\n'), "{s:?}: {msg}");
    assert!(e.is_usage(), "{s:?}: {e:?}");
}

#[test]
fn empty_and_defaults() {
    let o = ok("");
    assert_eq!(o, MountOptions::default());
    assert_eq!(o.fetch_attempts, 1);
    assert_eq!(o.log_level, LogLevel::Info);
    assert_eq!(o.connect_timeout, Duration::from_secs(30));
    assert_eq!(o.first_ack, None);
    assert!(!o.read_only);
    // Stray commas are tolerated.
    assert_eq!(ok(",,ro,"), ok("ro"));
}

#[test]
fn kubernetes_plugin_strings() {
    // pkg/volume/glusterfs/glusterfs.go: readOnly -> "ro", a per-pod log file, log-level=ERROR,
    // backup-volfile-servers with every endpoint IP (the first one again), auto_unmount; joined
    // and sorted by JoinMountOptions.
    let s = "auto_unmount,backup-volfile-servers=10.0.0.1:10.0.0.2:10.0.0.3,\
             log-file=/var/lib/kubelet/plugins/kubernetes.io/glusterfs/pv-data/web-0-glusterfs.log,\
             log-level=ERROR,ro";
    let o = ok(s);
    assert!(o.kernel.auto_unmount);
    assert_eq!(
        o.backup_volfile_servers,
        vec!["10.0.0.1", "10.0.0.2", "10.0.0.3"]
    );
    assert_eq!(
        o.log_file,
        Some(PathBuf::from(
            "/var/lib/kubelet/plugins/kubernetes.io/glusterfs/pv-data/web-0-glusterfs.log"
        ))
    );
    assert_eq!(o.log_level, LogLevel::Error);
    assert!(o.read_only);

    // Unsorted, as older kubelets built it, with user mountOptions and host names.
    let o = ok(
        "ro,log-file=/var/lib/kubelet/plugins/kubernetes.io/glusterfs/vol1/pod-glusterfs.log,\
                log-level=ERROR,backup-volfile-servers=gluster-0.gluster.svc:gluster-1.gluster.svc,\
                auto_unmount,noatime,use-readdirp=no,_netdev",
    );
    assert_eq!(o.backup_volfile_servers.len(), 2);
    assert_eq!(o.kernel.atime, Some(AtimeMode::NoAtime));
    assert_eq!(o.use_readdirp, Some(false));
    assert!(o.fstab.netdev);

    // A single endpoint, read-write (kubelet's mounter passes "rw"? no: nothing; but mount(8)
    // may add it).
    let o = ok("auto_unmount,backup-volfile-servers=192.168.1.10,log-file=/x.log,log-level=ERROR");
    assert_eq!(o.backup_volfile_servers, vec!["192.168.1.10"]);
    assert!(!o.read_only);
    let o = ok("rw,auto_unmount,backup-volfile-servers=192.168.1.10,log-level=ERROR");
    assert!(!o.read_only);
}

#[test]
fn fstab_and_systemd_strings() {
    let o = ok("defaults,_netdev");
    assert!(o.fstab.netdev);
    let o = ok("_netdev,nofail,noauto,x-systemd.automount,x-systemd.idle-timeout=60,x-systemd.requires=network-online.target");
    assert!(o.fstab.nofail);
    assert_eq!(o.fstab.auto, Some(false));
    assert!(o.ignored.is_empty(), "x-* is dropped silently");
    assert_eq!(ok("auto").fstab.auto, Some(true));
    assert_eq!(ok("noauto,auto").fstab.auto, Some(true));
    refused("_netdev=1", "_netdev");
    refused("nofail=yes", "nofail");
}

#[test]
fn volfile_servers() {
    assert_eq!(
        ok("backup-volfile-servers=a:b:c").backup_volfile_servers,
        vec!["a", "b", "c"]
    );
    // IPv6 in brackets, as mount.glusterfs's parse_backup_volfile_servers.
    assert_eq!(
        ok("backup-volfile-servers=h1:[fe80::1%eth0]:[2001:db8::2]:h2").backup_volfile_servers,
        vec!["h1", "fe80::1%eth0", "2001:db8::2", "h2"]
    );
    // Empty entries are skipped as there.
    assert_eq!(
        ok("backup-volfile-servers=a::b:").backup_volfile_servers,
        vec!["a", "b"]
    );
    // Last one wins.
    assert_eq!(
        ok("backup-volfile-servers=a,backup-volfile-servers=b").backup_volfile_servers,
        vec!["b"]
    );
    for bad in [
        "backup-volfile-servers=[fe80::1",
        "backup-volfile-servers=[h1]",
        "backup-volfile-servers=[fe80::1]x",
        "backup-volfile-servers=a]b",
        "backup-volfile-servers=:",
        "backup-volfile-servers=a b",
        "backup-volfile-servers=-x",
        "backup-volfile-servers=a/b",
    ] {
        refused(bad, "backup-volfile-servers");
    }
    refused("backup-volfile-servers", "backup-volfile-servers");
    refused("backup-volfile-servers=", "backup-volfile-servers");
    let long = "h".repeat(256);
    refused(
        &format!("backup-volfile-servers={long}"),
        "backup-volfile-servers",
    );
    assert!(parse_backup_servers(&"h".repeat(255)).is_ok());

    assert_eq!(
        ok("backupvolfile-server=b1")
            .backupvolfile_server
            .as_deref(),
        Some("b1")
    );
    refused("backupvolfile-server=", "backupvolfile-server");
    refused("backupvolfile-server=a/b", "backupvolfile-server");

    assert_eq!(ok("server-port=24008").server_port, Some(24008));
    assert_eq!(ok("server-port=65535").server_port, Some(65535));
    for bad in ["0", "65536", "-1", "24007a", "0x5dc7", " 24007", "+1", ""] {
        refused(&format!("server-port={bad}"), "server-port");
    }
}

#[test]
fn transport() {
    ok("transport=tcp");
    ok("transport=TCP");
    ok("transport=socket");
    let e = err("transport=rdma");
    assert!(matches!(e, Error::Unsupported { .. }), "{e:?}");
    assert!(e.to_string().contains("transport=rdma"), "{e}");
    assert!(e.is_usage());
    refused("transport=udp", "transport");
    refused("transport", "transport");
}

#[test]
fn volume_id_and_subdir() {
    assert_eq!(ok("volume-id=gv0").volume_id.as_deref(), Some("gv0"));
    assert_eq!(ok("volume-id=/gv0").volume_id.as_deref(), Some("gv0"));
    refused("volume-id=a/b", "volume-id");
    refused("volume-id=-x", "volume-id");
    refused("volume-id=", "volume-id");

    assert_eq!(ok("subdir-mount=/a/b").subdir_mount.as_deref(), Some("a/b"));
    assert_eq!(
        ok("subdir-mount=a//b/").subdir_mount.as_deref(),
        Some("a/b")
    );
    assert_eq!(ok("subdir-mount=/").subdir_mount, None);
    refused("subdir-mount=/a/../b", "subdir-mount");
    refused("subdir-mount=./a", "subdir-mount");
    refused("subdir-mount", "subdir-mount");
}

#[test]
fn fetch_attempts() {
    assert_eq!(ok("fetch-attempts=3").fetch_attempts, 3);
    for bad in ["0", "-1", "x", "1001", "1.5"] {
        refused(&format!("fetch-attempts={bad}"), "fetch-attempts");
    }
}

#[test]
fn log_level_and_file() {
    for (s, l) in [
        ("TRACE", LogLevel::Trace),
        ("debug", LogLevel::Debug),
        ("Info", LogLevel::Info),
        ("WARNING", LogLevel::Warning),
        ("error", LogLevel::Error),
        ("CRITICAL", LogLevel::Critical),
        ("none", LogLevel::None),
    ] {
        assert_eq!(ok(&format!("log-level={s}")).log_level, l, "{s}");
    }
    for bad in ["WARN", "ERR", "5", "info ", "verbose"] {
        refused(&format!("log-level={bad}"), "log-level");
    }
    refused("log-level", "log-level");
    refused("log-level=", "log-level");
    assert_eq!(
        ok("log-file=/var/log/x.log").log_file,
        Some(PathBuf::from("/var/log/x.log"))
    );
    assert_eq!(
        ok("log-file=rel.log").log_file,
        Some(PathBuf::from("rel.log"))
    );
    refused("log-file", "log-file");
    refused("log-file=", "log-file");
    assert!(ok("localtime-logging").localtime_logging);
    refused("localtime-logging=1", "localtime-logging");
}

#[test]
fn timeouts() {
    type Get = fn(&MountOptions) -> Option<Duration>;
    let cases: [(&str, Get); 3] = [
        ("attribute-timeout", |o| o.attribute_timeout),
        ("entry-timeout", |o| o.entry_timeout),
        ("negative-timeout", |o| o.negative_timeout),
    ];
    for (key, get) in cases {
        assert_eq!(get(&ok(&format!("{key}=0"))), Some(Duration::ZERO));
        assert_eq!(get(&ok(&format!("{key}=1"))), Some(Duration::from_secs(1)));
        assert_eq!(
            get(&ok(&format!("{key}=0.5"))),
            Some(Duration::from_millis(500))
        );
        assert_eq!(
            get(&ok(&format!("{key}=.25"))),
            Some(Duration::from_millis(250))
        );
        assert_eq!(get(&ok(&format!("{key}=2."))), Some(Duration::from_secs(2)));
        for bad in [
            "-1",
            "x",
            "1e3",
            "inf",
            "NaN",
            "1..2",
            ".",
            "1s",
            "99999999999",
            "",
            " 1",
        ] {
            refused(&format!("{key}={bad}"), key);
        }
        refused(key, key);
    }
    assert_eq!(
        ok("gid-timeout=300").gid_timeout,
        Some(Duration::from_secs(300))
    );
    assert_eq!(ok("gid-timeout=0").gid_timeout, Some(Duration::ZERO));
    for bad in ["-1", "1.5", "x", ""] {
        refused(&format!("gid-timeout={bad}"), "gid-timeout");
    }
}

#[test]
fn integer_limits() {
    assert_eq!(ok("lru-limit=0").lru_limit, Some(0));
    assert_eq!(ok("lru-limit=65536").lru_limit, Some(65536));
    assert_eq!(ok("lru-limit=2147483647").lru_limit, Some(i32::MAX as u32));
    refused("lru-limit=2147483648", "lru-limit");
    refused("lru-limit=-1", "lru-limit");
    refused("lru-limit=1k", "lru-limit");
    assert_eq!(ok("invalidate-limit=16").invalidate_limit, Some(16));
    refused("invalidate-limit=x", "invalidate-limit");
    assert_eq!(ok("inode-table-size=4096").inode_table_size, Some(4096));
    refused("inode-table-size=0", "inode-table-size");
    assert_eq!(ok("background-qlen=64").background_qlen, Some(64));
    assert_eq!(ok("background-qlen=65535").background_qlen, Some(65535));
    refused("background-qlen=0", "background-qlen");
    refused("background-qlen=65536", "background-qlen");
    assert_eq!(ok("congestion-threshold=48").congestion_threshold, Some(48));
    refused("congestion-threshold=0", "congestion-threshold");
    assert_eq!(ok("reader-thread-count=1").reader_thread_count, Some(1));
    assert_eq!(ok("reader-thread-count=64").reader_thread_count, Some(64));
    refused("reader-thread-count=0", "reader-thread-count");
    refused("reader-thread-count=65", "reader-thread-count");
    assert_eq!(
        ok("attr-times-granularity=1000000000").attr_times_granularity,
        Some(1_000_000_000)
    );
    refused(
        "attr-times-granularity=1000000001",
        "attr-times-granularity",
    );
    assert_eq!(ok("oom-score-adj=-1000").oom_score_adj, Some(-1000));
    assert_eq!(ok("oom-score-adj=500").oom_score_adj, Some(500));
    refused("oom-score-adj=1001", "oom-score-adj");
    refused("oom-score-adj=-1001", "oom-score-adj");
    refused("oom-score-adj=x", "oom-score-adj");
}

#[test]
fn booleans() {
    for (t, f) in [
        ("on", "off"),
        ("yes", "no"),
        ("true", "false"),
        ("enable", "disable"),
        ("1", "0"),
        ("ON", "Off"),
    ] {
        assert_eq!(parse_bool(t), Some(true));
        assert_eq!(parse_bool(f), Some(false));
    }
    for bad in ["", "2", "y", "n", "enabled", "maybe"] {
        assert_eq!(parse_bool(bad), None, "{bad}");
    }
    type Get = fn(&MountOptions) -> Option<bool>;
    let cases: [(&str, Get); 3] = [
        ("use-readdirp", |o| o.use_readdirp),
        ("kernel-writeback-cache", |o| o.kernel_writeback_cache),
        ("auto-invalidation", |o| o.auto_invalidation),
    ];
    for (key, get) in cases {
        assert_eq!(get(&ok(&format!("{key}=yes"))), Some(true));
        assert_eq!(get(&ok(&format!("{key}=false"))), Some(false));
        refused(&format!("{key}=maybe"), key);
        refused(&format!("{key}="), key);
        refused(key, key);
    }
    assert_eq!(ok("fopen-keep-cache").fopen_keep_cache, Some(true));
    assert_eq!(ok("fopen-keep-cache=off").fopen_keep_cache, Some(false));
    refused("fopen-keep-cache=2", "fopen-keep-cache");
    assert_eq!(ok("first-ack=on").first_ack, Some(true));
    assert_eq!(ok("first-ack=on,first-ack=off").first_ack, Some(false));
    refused("first-ack", "first-ack");
    refused("first-ack=all", "first-ack");
    assert!(ok("no-root-squash=yes").no_root_squash);
    assert!(!ok("no-root-squash=no").no_root_squash);
    assert!(ok("root-squash=off").no_root_squash);
    assert!(!ok("root-squash=on").no_root_squash);
    refused("root-squash=x", "root-squash");
}

#[test]
fn direct_io_mode() {
    assert_eq!(ok("direct-io-mode=enable").direct_io, Some(true));
    assert_eq!(ok("direct-io-mode=disable").direct_io, Some(false));
    assert_eq!(ok("direct-io-mode=on").direct_io, Some(true));
    assert_eq!(ok("direct-io-mode=auto").direct_io, None);
    assert_eq!(
        ok("direct-io-mode=enable,direct-io-mode=auto").direct_io,
        None
    );
    refused("direct-io-mode=always", "direct-io-mode");
    refused("direct-io-mode", "direct-io-mode");
}

#[test]
fn access_flags() {
    let o = ok("ro,acl,selinux,worm,aux-gfid-mount,enable-ino32,resolve-gids");
    assert!(o.read_only && o.acl && o.selinux && o.worm && o.aux_gfid_mount);
    assert!(o.enable_ino32 && o.resolve_gids);
    // As in mount.glusterfs, rw does not undo ro.
    assert!(ok("ro,rw").read_only);
    for f in [
        "ro",
        "rw",
        "acl",
        "selinux",
        "worm",
        "defaults",
        "auto_unmount",
        "nodev",
    ] {
        refused(&format!("{f}=1"), f);
    }
}

#[test]
fn kernel_flags() {
    let o = ok("nodev,nosuid,noexec,noatime,nodiratime,lazytime,auto_unmount");
    assert!(o.kernel.nodev && o.kernel.nosuid && o.kernel.noexec);
    assert_eq!(o.kernel.atime, Some(AtimeMode::NoAtime));
    assert!(o.kernel.nodiratime && o.kernel.lazytime && o.kernel.auto_unmount);
    assert_eq!(
        o.kernel_mount_options(),
        vec![
            "nodev",
            "nosuid",
            "noexec",
            "noatime",
            "nodiratime",
            "lazytime",
            "auto_unmount"
        ]
    );
    let o = ok("nodev,dev,nosuid,suid,noexec,exec,nodiratime,diratime,lazyatime,nolazyatime");
    assert!(!o.kernel.nodev && !o.kernel.nosuid && !o.kernel.noexec);
    assert!(!o.kernel.nodiratime && !o.kernel.lazytime);
    assert_eq!(ok("relatime").kernel.atime, Some(AtimeMode::Relatime));
    assert_eq!(ok("strictatime").kernel.atime, Some(AtimeMode::StrictAtime));
    assert_eq!(ok("noatime,atime").kernel.atime, None);
    assert_eq!(ok("relatime,norelatime").kernel.atime, None);
    assert_eq!(ok("strictatime,nostrictatime").kernel.atime, None);
    // Clearing another mode leaves the current one.
    assert_eq!(
        ok("noatime,norelatime").kernel.atime,
        Some(AtimeMode::NoAtime)
    );
    assert_eq!(ok("ro,nosuid").kernel_mount_options(), vec!["ro", "nosuid"]);
}

#[test]
fn selinux_contexts_with_commas() {
    let o = ok("context=\"system_u:object_r:container_file_t:s0:c1,c2\",ro");
    assert_eq!(
        o.kernel.selinux_contexts,
        vec![(
            "context".to_string(),
            "system_u:object_r:container_file_t:s0:c1,c2".to_string()
        )]
    );
    assert!(o.read_only);
    let o = ok("fscontext=a_t,defcontext=b_t,rootcontext=c_t,fscontext=d_t");
    assert_eq!(o.kernel.selinux_contexts.len(), 3);
    assert!(o
        .kernel_mount_options()
        .contains(&"fscontext=\"d_t\"".to_string()));
    refused("context=", "context");
    refused("context=\"\"", "context");
    let e = err("context=\"unterminated");
    assert!(e.is_usage());
}

#[test]
fn xlator_options() {
    let o =
        ok("xlator-option=*replicate*.data-self-heal=off,xlator-option=gv0-dht.lookup-optimize=on");
    assert_eq!(
        o.xlator_options,
        vec![
            XlatorOption {
                xlator: "*replicate*".into(),
                key: "data-self-heal".into(),
                value: "off".into()
            },
            XlatorOption {
                xlator: "gv0-dht".into(),
                key: "lookup-optimize".into(),
                value: "on".into()
            },
        ]
    );
    // The value may contain '=' and '.'.
    let o = ok("xlator-option=gv0-client-0.remote-host=a.b=c");
    assert_eq!(o.xlator_options[0].key, "remote-host");
    assert_eq!(o.xlator_options[0].value, "a.b=c");
    assert_eq!(
        o.xlator_options[0].to_string(),
        "gv0-client-0.remote-host=a.b=c"
    );
    for bad in [
        "xlator-option=noDot=1",
        "xlator-option=.key=v",
        "xlator-option=xl.=v",
        "xlator-option=xl.key=",
        "xlator-option=xl.key",
        "xlator-option=",
    ] {
        refused(bad, "xlator-option");
    }
    let o = ok("halo-max-latency=10,halo-min-replicas=2,halo-max-replicas=3");
    assert_eq!(o.xlator_options.len(), 3);
    assert_eq!(
        o.xlator_options[0].to_string(),
        "*replicate*.halo-max-latency=10"
    );
    refused("halo-max-latency=x", "halo-max-latency");
}

#[test]
fn gluster_rs_options() {
    let o = ok("connect-timeout=2.5,mount-timeout=60,worker-threads=4,allow-overmount");
    assert_eq!(o.connect_timeout, Duration::from_millis(2500));
    assert_eq!(o.mount_timeout, Some(Duration::from_secs(60)));
    assert_eq!(o.worker_threads, Some(4));
    assert!(o.allow_overmount);
    refused("connect-timeout=0", "connect-timeout");
    refused("mount-timeout=0", "mount-timeout");
    refused("mount-timeout=-5", "mount-timeout");
    refused("worker-threads=0", "worker-threads");
    refused("worker-threads=1025", "worker-threads");
    refused("allow-overmount=yes", "allow-overmount");
}

#[test]
fn accepted_without_effect() {
    for s in [
        "mem-accounting",
        "thin-client",
        "async",
        "sync",
        "dirsync",
        "mand",
        "nomand",
        "silent",
        "loud",
        "iversion",
        "noiversion",
        "global-threading",
        "global-threading=yes",
        "event-history=on",
        "fuse-flush-handle-interrupt=yes",
        "fuse-setlk-handle-interrupt=no",
        "fuse-handle-copy_file_range=on",
        "volfile-check=on",
        "fuse-dev-eperm-ratelimit-ns=1000",
        "volume-name=gv0-md-cache",
        "process-name=web",
        "io-engine=io_uring",
        "dump-fuse=/tmp/dump",
    ] {
        let o = ok(s);
        assert_eq!(o.ignored.len(), 1, "{s}");
        assert_eq!(o.ignored[0].option, s);
    }
    refused("global-threading=maybe", "global-threading");
    refused("event-history=maybe", "event-history");
    refused(
        "fuse-dev-eperm-ratelimit-ns=1000000001",
        "fuse-dev-eperm-ratelimit-ns",
    );
    refused("process-name=", "process-name");
    refused("mem-accounting=1", "mem-accounting");
}

#[test]
fn fuse_mountopts_pass_through() {
    let o = ok("fuse-mountopts=max_read=131072");
    assert_eq!(o.kernel.fuse_mountopts, vec!["max_read=131072"]);
}

#[test]
fn unknown_options() {
    for (s, name) in [
        ("frobnicate", "frobnicate"),
        ("frob=1", "frob"),
        ("ro,bogus,rw", "bogus"),
        ("remount", "remount"),
        ("user", "user"),
        ("Ro", "Ro"),
        ("log_level=INFO", "log_level"),
    ] {
        let e = err(s);
        assert!(
            matches!(e, Error::UnknownOption(ref n) if n == name),
            "{s}: {e:?}"
        );
        assert_eq!(e.to_string(), format!("unknown option '{name}'"));
        assert_eq!(e.exit_code(), 1);
    }
    let e = err("=x");
    assert!(
        matches!(e, Error::UnknownOption(ref n) if n == "=x"),
        "{e:?}"
    );
}

#[test]
fn sloppy_ignores_unknown_but_not_malformed() {
    let o = parse_options_with("ro,bogus=1,frob", true).expect("sloppy");
    assert!(o.read_only);
    assert_eq!(
        o.ignored,
        vec![
            IgnoredOption {
                option: "bogus=1".into(),
                reason: "unknown option ignored (sloppy mount)"
            },
            IgnoredOption {
                option: "frob".into(),
                reason: "unknown option ignored (sloppy mount)"
            },
        ]
    );
    assert!(parse_options_with("log-level=LOUD", true).is_err());
    assert!(parse_options_with("ro=1", true).is_err());
}

#[test]
fn everything_at_once() {
    let s = "ro,acl,selinux,backup-volfile-servers=b1:b2,backupvolfile-server=old,server-port=24007,\
             transport=tcp,log-level=DEBUG,log-file=/l,volume-id=gv0,subdir-mount=/d,fetch-attempts=2,\
             attribute-timeout=1,entry-timeout=1,negative-timeout=0.1,gid-timeout=2,lru-limit=0,\
             invalidate-limit=0,background-qlen=64,direct-io-mode=disable,use-readdirp=yes,\
             kernel-writeback-cache=yes,fopen-keep-cache,reader-thread-count=4,auto-invalidation=off,\
             xlator-option=a.b=c,nodev,nosuid,noexec,noatime,auto_unmount,auto,_netdev,nofail,x-foo,\
             first-ack=on";
    let o = ok(s);
    assert!(o.read_only && o.acl && o.selinux && o.first_ack == Some(true));
    assert_eq!(o.backupvolfile_server.as_deref(), Some("old"));
    assert_eq!(o.fetch_attempts, 2);
    assert_eq!(o.negative_timeout, Some(Duration::from_millis(100)));
    assert!(o.ignored.is_empty());
}
