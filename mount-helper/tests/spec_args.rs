//! The mount source and the helper's argv as util-linux passes it; the resulting plan.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use mount_gluster_rs::{
    default_log_file, parse_args, parse_spec, Command, Error, Invocation, MountPlan, VolfileServer,
};

fn spec_ok(s: &str) -> mount_gluster_rs::VolumeSpec {
    parse_spec(s).unwrap_or_else(|e| panic!("{s:?}: {e}"))
}

fn spec_err(s: &str) -> String {
    match parse_spec(s) {
        Ok(v) => panic!("{s:?} should fail, got {v:?}"),
        Err(e) => {
            assert!(matches!(e, Error::InvalidSpec { .. }), "{e:?}");
            assert!(e.is_usage());
            e.to_string()
        }
    }
}

#[test]
fn spec_forms() {
    let v = spec_ok("host:/vol");
    assert_eq!(v.servers, vec!["host"]);
    assert_eq!(v.volume, "vol");
    assert_eq!(v.volfile_id, "vol");
    assert_eq!(v.subdir, None);
    assert_eq!(v.fsname(), "host:/vol");

    let v = spec_ok("host:vol");
    assert_eq!((v.servers[0].as_str(), v.volume.as_str()), ("host", "vol"));

    let v = spec_ok("host:/vol/a/b");
    assert_eq!(v.subdir.as_deref(), Some("a/b"));
    assert_eq!(v.fsname(), "host:/vol/a/b");
    assert_eq!(spec_ok("host:vol/a").subdir.as_deref(), Some("a"));
    assert_eq!(spec_ok("host:/vol/").subdir, None);
    assert_eq!(spec_ok("host:/vol//a//").subdir.as_deref(), Some("a"));
    // A ':' in the subdirectory does not move the server split.
    let v = spec_ok("host:/vol/a:b");
    assert_eq!(v.servers, vec!["host"]);
    assert_eq!(v.subdir.as_deref(), Some("a:b"));

    let v = spec_ok("10.0.0.1:/gv0");
    assert_eq!(v.servers, vec!["10.0.0.1"]);
    let v = spec_ok("h1,h2,h3:/gv0");
    assert_eq!(v.servers, vec!["h1", "h2", "h3"]);
    assert_eq!(v.fsname(), "h1:/gv0");
}

#[test]
fn spec_ipv6() {
    let v = spec_ok("fe80::1%eth0:/vol");
    assert_eq!(v.servers, vec!["fe80::1%eth0"]);
    assert_eq!(v.volume, "vol");
    let v = spec_ok("[2001:db8::1]:/vol/sub");
    assert_eq!(v.servers, vec!["2001:db8::1"]);
    assert_eq!(v.subdir.as_deref(), Some("sub"));
    assert_eq!(v.fsname(), "[2001:db8::1]:/vol/sub");
    let v = spec_ok("[::1],h2:vol");
    assert_eq!(v.servers, vec!["::1", "h2"]);
}

#[test]
fn spec_snapshot() {
    let v = spec_ok("host:/snaps/snap1/gv0");
    assert_eq!(v.snapshot.as_deref(), Some("snap1"));
    assert_eq!(v.volume, "gv0");
    assert_eq!(v.volfile_id, "/snaps/snap1/gv0");
    assert_eq!(v.fsname(), "host:/snaps/snap1/gv0");
    spec_err("host:/snaps/snap1");
    spec_err("host:/snaps/a/b/c");
    // A volume merely named like "snapsX" is a volume.
    assert_eq!(spec_ok("host:/snapsX/d").subdir.as_deref(), Some("d"));
}

#[test]
fn spec_errors() {
    for (s, needle) in [
        ("", "empty"),
        ("host", "no ':'"),
        ("/vol", "no ':'"),
        (":/vol", "no server"),
        ("host:", "no volume"),
        ("host:/", "no volume"),
        ("host://a", "no volume"),
        ("host:/v@l", "invalid character '@' in volume name"),
        ("host:/-vol", "starts with '-'"),
        ("ho st:/vol", "invalid character ' '"),
        ("h1,,h2:/vol", "empty server"),
        ("[::1:/vol", "unclosed '['"),
        ("host:/vol/../x", "'..' is not allowed"),
        ("host:/vol/./x", "'.' is not allowed"),
        ("-o:/vol", "starts with '-'"),
    ] {
        let msg = spec_err(s);
        assert!(msg.contains(needle), "{s:?}: {msg}");
        assert!(!msg.contains('\n'));
    }
    spec_err(&format!("{}:/vol", "h".repeat(256)));
    spec_err(&format!("h:/{}", "v".repeat(257)));
    spec_ok(&format!("h:/{}", "v".repeat(256)));
}

fn args(list: &[&str]) -> Vec<OsString> {
    list.iter().map(OsString::from).collect()
}

fn inv(list: &[&str]) -> Invocation {
    match parse_args(args(list)) {
        Ok(Command::Mount(i)) => *i,
        other => panic!("{list:?}: {other:?}"),
    }
}

fn args_err(list: &[&str]) -> Error {
    match parse_args(args(list)) {
        Err(e) => e,
        Ok(c) => panic!("{list:?} should fail, got {c:?}"),
    }
}

#[test]
fn util_linux_argv() {
    // What mount(8) runs for `mount -t gluster-rs host:/vol /mnt -o ro,_netdev`.
    let i = inv(&["host:/vol", "/mnt", "-o", "rw,_netdev"]);
    assert_eq!(i.spec.volume, "vol");
    assert_eq!(i.mountpoint, PathBuf::from("/mnt"));
    assert!(i.options.fstab.netdev);
    assert_eq!(i.raw_options, "rw,_netdev");

    // Flags before, between, after; grouped; -t with the helper's types.
    let i = inv(&["-sfnv", "host:/vol", "-t", "gluster-rs", "/mnt", "-o", "ro"]);
    assert!(i.flags.sloppy && i.flags.fake && i.flags.no_mtab && i.flags.verbose);
    assert!(i.options.read_only);
    assert_eq!(i.fstype.as_deref(), Some("gluster-rs"));
    let i = inv(&[
        "host:/vol",
        "/mnt",
        "-f",
        "-n",
        "-v",
        "-s",
        "-t",
        "fuse.glusterfs",
    ]);
    assert!(i.flags.fake && i.flags.verbose);
    for t in ["glusterfs", "fuse.gluster-rs"] {
        inv(&["host:/vol", "/mnt", "-t", t]);
    }
    inv(&["host:/vol", "/mnt", "--types=glusterfs", "--options=ro"]);

    // -o repeated and attached; options joined in order, later wins.
    let i = inv(&[
        "host:/vol",
        "/mnt",
        "-o",
        "log-level=DEBUG",
        "-olog-level=ERROR,ro",
        "-fo",
        "acl",
    ]);
    assert_eq!(i.raw_options, "log-level=DEBUG,log-level=ERROR,ro,acl");
    assert_eq!(i.options.log_level, mount_gluster_rs::LogLevel::Error);
    assert!(i.options.acl && i.flags.fake);

    // "--" ends the flags.
    let i = inv(&["--", "host:/vol", "-weird-dir"]);
    assert_eq!(i.mountpoint, PathBuf::from("-weird-dir"));
}

#[test]
fn argv_errors() {
    let e = args_err(&["host:/vol"]);
    assert!(
        matches!(e, Error::Usage(_))
            && e.to_string()
                .contains("expected a volume and a mount point")
    );
    args_err(&[]);
    let e = args_err(&["host:/vol", "/mnt", "extra"]);
    assert!(e.to_string().contains("unexpected argument 'extra'"));
    let e = args_err(&["host:/vol", "/mnt", "-x"]);
    assert!(e.to_string().contains("unknown flag '-x'"));
    let e = args_err(&["host:/vol", "/mnt", "--frob"]);
    assert!(e.to_string().contains("--frob"));
    let e = args_err(&["host:/vol", "/mnt", "-o"]);
    assert!(e.to_string().contains("-o needs a value"));
    let e = args_err(&["host:/vol", "/mnt", "-t", "nfs"]);
    assert!(e.to_string().contains("'nfs'"));
    let e = args_err(&["host:/vol", "/mnt", "-N", "/proc/1/ns/mnt"]);
    assert!(matches!(e, Error::Unsupported { .. }));
    // An option error is reported before a spec error, like mount.glusterfs.
    let e = args_err(&["nohost", "/mnt", "-o", "bogus"]);
    assert!(matches!(e, Error::UnknownOption(ref n) if n == "bogus"));
    let e = args_err(&["nohost", "/mnt"]);
    assert!(matches!(e, Error::InvalidSpec { .. }));
    let e = args_err(&["host:/vol", ""]);
    assert!(e.to_string().contains("empty mount point"));
    for e in [
        args_err(&["host:/vol", "/mnt", "-o", "bogus"]),
        args_err(&["host:/vol", "/mnt", "-o", "log-level=x"]),
    ] {
        assert_eq!(e.exit_code(), 1);
    }
}

#[test]
fn help_and_version() {
    assert_eq!(parse_args(args(&["-h"])).unwrap(), Command::Help);
    assert_eq!(parse_args(args(&["--help"])).unwrap(), Command::Help);
    assert_eq!(parse_args(args(&["-V"])).unwrap(), Command::Version);
    assert_eq!(
        parse_args(args(&["host:/v", "/m", "-V"])).unwrap(),
        Command::Version
    );
}

#[test]
fn non_utf8_mountpoint_is_kept() {
    let dir = OsString::from_vec(b"/mnt/\xff".to_vec());
    let list = vec![OsString::from("host:/vol"), dir.clone()];
    match parse_args(list) {
        Ok(Command::Mount(i)) => assert_eq!(i.mountpoint.as_os_str(), dir.as_os_str()),
        other => panic!("{other:?}"),
    }
    let bad_spec = vec![
        OsString::from_vec(b"h:/\xff".to_vec()),
        OsString::from("/m"),
    ];
    assert!(matches!(parse_args(bad_spec), Err(Error::Usage(_))));
}

#[test]
fn spec_and_option_agreement() {
    inv(&["h:/gv0", "/m", "-o", "volume-id=gv0"]);
    inv(&["h:/gv0", "/m", "-o", "volume-id=/gv0"]);
    let e = args_err(&["h:/gv0", "/m", "-o", "volume-id=other"]);
    assert!(matches!(e, Error::Conflict(_)) && e.to_string().contains("volume-id=other"));
    let i = inv(&["h:/gv0", "/m", "-o", "subdir-mount=/d1"]);
    assert_eq!(i.subdir(), Some("d1"));
    let i = inv(&["h:/gv0/d1", "/m", "-o", "subdir-mount=d1"]);
    assert_eq!(i.subdir(), Some("d1"));
    let e = args_err(&["h:/gv0/d1", "/m", "-o", "subdir-mount=d2"]);
    assert!(e.to_string().contains("subdir-mount=/d2"));
    // Snapshots are read-only.
    let i = inv(&["h:/snaps/s1/gv0", "/m"]);
    assert!(i.options.read_only);
    args_err(&["h:/snaps/s1/gv0", "/m", "-o", "subdir-mount=x"]);
}

#[test]
fn plan_server_order_and_dedup() {
    // Kubernetes: spec server first, then every endpoint (the first again) as backups.
    let i = inv(&[
        "10.0.0.1:/gv0",
        "/m",
        "-o",
        "backup-volfile-servers=10.0.0.1:10.0.0.2:10.0.0.3",
    ]);
    let p = MountPlan::new(i, PathBuf::from("/m"), Path::new("/"));
    let hosts: Vec<&str> = p.servers.iter().map(|s| s.host.as_str()).collect();
    assert_eq!(hosts, vec!["10.0.0.1", "10.0.0.2", "10.0.0.3"]);
    assert!(p.servers.iter().all(|s| s.port == 24007));

    // The old backupvolfile-server counts only without backup-volfile-servers.
    let i = inv(&[
        "a,b:/gv0",
        "/m",
        "-o",
        "backupvolfile-server=c,server-port=24017",
    ]);
    let p = MountPlan::new(i, PathBuf::from("/m"), Path::new("/"));
    assert_eq!(
        p.servers,
        ["a", "b", "c"]
            .iter()
            .map(|h| VolfileServer {
                host: h.to_string(),
                port: 24017
            })
            .collect::<Vec<_>>()
    );
    let i = inv(&[
        "a:/gv0",
        "/m",
        "-o",
        "backupvolfile-server=c,backup-volfile-servers=d:[::1]",
    ]);
    let p = MountPlan::new(i, PathBuf::from("/m"), Path::new("/"));
    let shown: Vec<String> = p.servers.iter().map(|s| s.to_string()).collect();
    assert_eq!(shown, vec!["a:24007", "d:24007", "[::1]:24007"]);
}

#[test]
fn plan_log_file_and_timeouts() {
    assert_eq!(
        default_log_file(Path::new("/mnt/gluster")),
        PathBuf::from("/var/log/gluster-rs/mnt-gluster.log")
    );
    assert_eq!(
        default_log_file(Path::new("/var/lib/kubelet/pods/x/volumes")),
        PathBuf::from("/var/log/gluster-rs/var-lib-kubelet-pods-x-volumes.log")
    );
    let p = MountPlan::new(
        inv(&["h:/v", "/mnt/g"]),
        PathBuf::from("/mnt/g"),
        Path::new("/"),
    );
    assert_eq!(p.log_file, PathBuf::from("/var/log/gluster-rs/mnt-g.log"));
    assert_eq!(p.mount_timeout(), Duration::from_secs(30 + 30));
    assert_eq!(p.fsname, "h:/v");

    let p = MountPlan::new(
        inv(&[
            "h:/v",
            "/m",
            "-o",
            "log-file=rel/x.log,backup-volfile-servers=a:b,fetch-attempts=2,connect-timeout=5",
        ]),
        PathBuf::from("/m"),
        Path::new("/home/u"),
    );
    assert_eq!(p.log_file, PathBuf::from("/home/u/rel/x.log"));
    assert_eq!(p.mount_timeout(), Duration::from_secs(3 * 2 * 5 + 30));
    let p = MountPlan::new(
        inv(&["h:/v", "/m", "-o", "mount-timeout=7"]),
        PathBuf::from("/m"),
        Path::new("/"),
    );
    assert_eq!(p.mount_timeout(), Duration::from_secs(7));

    let p = MountPlan::new(
        inv(&["h:/v", "/m", "-o", "subdir-mount=/a/b"]),
        PathBuf::from("/m"),
        Path::new("/"),
    );
    assert_eq!(p.subdir.as_deref(), Some("a/b"));
    assert_eq!(p.fsname, "h:/v/a/b");
    assert!(p.summary().contains("subdir /a/b"));
}
