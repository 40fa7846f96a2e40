//! Property tests: the parsers never panic; every known option with a good value parses; an
//! unknown key is refused by name; errors are one line.

use std::ffi::OsString;

use mount_gluster_rs::{parse_args, parse_options, parse_options_with, parse_spec, Error};
use proptest::prelude::*;

/// Every option key of mount.glusterfs and gluster-rs, with a generator of good values (`None`
/// for a flag).
fn known() -> Vec<(&'static str, BoxedStrategy<Option<String>>)> {
    let flag = || Just(None::<String>).boxed();
    let boolean = || {
        prop::sample::select(vec![
            "on", "off", "yes", "no", "true", "false", "enable", "disable", "1", "0", "ON", "Yes",
        ])
        .prop_map(|s| Some(s.to_string()))
        .boxed()
    };
    let uint = |lo: u64, hi: u64| (lo..=hi).prop_map(|n| Some(n.to_string())).boxed();
    let secs = || {
        (0u32..100_000, 0u32..1000)
            .prop_map(|(a, b)| Some(format!("{a}.{b:03}")))
            .boxed()
    };
    let pos_secs = || (1u32..100_000).prop_map(|a| Some(format!("{a}"))).boxed();
    let host = || {
        "[a-z][a-z0-9-]{0,20}(\\.[a-z0-9]{1,10}){0,3}"
            .prop_map(Some)
            .boxed()
    };
    let hosts = || {
        prop::collection::vec("[a-z][a-z0-9]{0,10}", 1..5)
            .prop_map(|v| Some(v.join(":")))
            .boxed()
    };
    let path = || "/[a-z0-9_./-]{1,40}".prop_map(Some).boxed();
    let level = || {
        prop::sample::select(vec![
            "TRACE", "DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL", "NONE", "info", "Error",
        ])
        .prop_map(|s| Some(s.to_string()))
        .boxed()
    };
    let word = || "[a-z][a-z0-9_-]{0,20}".prop_map(Some).boxed();
    vec![
        ("backup-volfile-servers", hosts()),
        ("backupvolfile-server", host()),
        ("server-port", uint(1, 65535)),
        ("transport", Just(Some("tcp".to_string())).boxed()),
        (
            "volume-id",
            "[a-zA-Z0-9_][a-zA-Z0-9_-]{0,30}".prop_map(Some).boxed(),
        ),
        (
            "subdir-mount",
            "/?[a-z0-9]{1,10}(/[a-z0-9]{1,10}){0,3}"
                .prop_map(Some)
                .boxed(),
        ),
        ("fetch-attempts", uint(1, 1000)),
        ("log-level", level()),
        ("log-file", path()),
        ("localtime-logging", flag()),
        ("attribute-timeout", secs()),
        ("entry-timeout", secs()),
        ("negative-timeout", secs()),
        ("gid-timeout", uint(0, 100_000)),
        ("lru-limit", uint(0, i32::MAX as u64)),
        ("invalidate-limit", uint(0, i32::MAX as u64)),
        ("inode-table-size", uint(1, i32::MAX as u64)),
        ("background-qlen", uint(1, 65535)),
        ("congestion-threshold", uint(1, 65535)),
        (
            "direct-io-mode",
            prop::sample::select(vec!["enable", "disable", "auto", "on", "off"])
                .prop_map(|s| Some(s.to_string()))
                .boxed(),
        ),
        ("use-readdirp", boolean()),
        ("kernel-writeback-cache", boolean()),
        ("fopen-keep-cache", prop_oneof![flag(), boolean()].boxed()),
        ("reader-thread-count", uint(1, 64)),
        ("auto-invalidation", boolean()),
        ("attr-times-granularity", uint(0, 1_000_000_000)),
        ("enable-ino32", flag()),
        ("resolve-gids", flag()),
        ("ro", flag()),
        ("rw", flag()),
        ("defaults", flag()),
        ("acl", flag()),
        ("selinux", flag()),
        ("worm", flag()),
        ("aux-gfid-mount", flag()),
        ("no-root-squash", boolean()),
        ("root-squash", boolean()),
        (
            "xlator-option",
            "[a-z*][a-z0-9*-]{0,10}\\.[a-z][a-z0-9-]{0,10}=[a-z0-9.=]{1,10}"
                .prop_map(Some)
                .boxed(),
        ),
        ("halo-max-latency", uint(0, 10_000)),
        ("halo-max-replicas", uint(0, 10)),
        ("halo-min-replicas", uint(0, 10)),
        (
            "oom-score-adj",
            (-1000i32..=1000).prop_map(|n| Some(n.to_string())).boxed(),
        ),
        ("dev", flag()),
        ("nodev", flag()),
        ("suid", flag()),
        ("nosuid", flag()),
        ("exec", flag()),
        ("noexec", flag()),
        ("atime", flag()),
        ("noatime", flag()),
        ("relatime", flag()),
        ("norelatime", flag()),
        ("strictatime", flag()),
        ("nostrictatime", flag()),
        ("diratime", flag()),
        ("nodiratime", flag()),
        ("lazytime", flag()),
        ("nolazytime", flag()),
        ("lazyatime", flag()),
        ("nolazyatime", flag()),
        ("auto_unmount", flag()),
        ("context", "[a-z_:0-9]{1,30}".prop_map(Some).boxed()),
        ("fscontext", "[a-z_:0-9]{1,30}".prop_map(Some).boxed()),
        ("defcontext", "[a-z_:0-9]{1,30}".prop_map(Some).boxed()),
        ("rootcontext", "[a-z_:0-9]{1,30}".prop_map(Some).boxed()),
        ("fuse-mountopts", "[a-z_=0-9]{1,30}".prop_map(Some).boxed()),
        ("auto", flag()),
        ("noauto", flag()),
        ("_netdev", flag()),
        ("nofail", flag()),
        ("first-ack", boolean()),
        ("connect-timeout", pos_secs()),
        ("mount-timeout", pos_secs()),
        ("worker-threads", uint(1, 1024)),
        ("allow-overmount", flag()),
        ("async", flag()),
        ("sync", flag()),
        ("dirsync", flag()),
        ("mand", flag()),
        ("nomand", flag()),
        ("silent", flag()),
        ("loud", flag()),
        ("iversion", flag()),
        ("noiversion", flag()),
        ("mem-accounting", flag()),
        ("thin-client", flag()),
        ("global-threading", prop_oneof![flag(), boolean()].boxed()),
        ("event-history", boolean()),
        ("fuse-flush-handle-interrupt", boolean()),
        ("fuse-setlk-handle-interrupt", boolean()),
        ("fuse-handle-copy_file_range", boolean()),
        ("volfile-check", boolean()),
        ("fuse-dev-eperm-ratelimit-ns", uint(0, 1_000_000_000)),
        ("volume-name", word()),
        ("process-name", word()),
        ("io-engine", word()),
        ("dump-fuse", path()),
        ("x-systemd.automount", flag()),
        ("x-anything", prop_oneof![flag(), word()].boxed()),
    ]
}

fn known_option() -> impl Strategy<Value = String> {
    let all: Vec<BoxedStrategy<String>> = known()
        .into_iter()
        .map(|(k, v)| {
            v.prop_map(move |v| match v {
                Some(v) => format!("{k}={v}"),
                None => k.to_string(),
            })
            .boxed()
        })
        .collect();
    prop::strategy::Union::new(all)
}

fn is_known_key(k: &str) -> bool {
    static KEYS: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
    let keys = KEYS.get_or_init(|| known().into_iter().map(|(k, _)| k).collect());
    k.starts_with("x-") || keys.contains(&k)
}

fn one_line(e: &Error) {
    assert!(!e.to_string().contains('\n'), "{e}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn options_never_panic(s in ".{0,200}") {
        if let Err(e) = parse_options(&s) { one_line_prop(&e)?; }
        let _ = parse_options_with(&s, true);
    }

    #[test]
    fn options_of_option_chars_never_panic(s in "[a-z=,.:\\[\\]\"_0-9/ -]{0,120}") {
        if let Err(e) = parse_options(&s) { one_line_prop(&e)?; }
    }

    #[test]
    fn known_options_parse(opts in prop::collection::vec(known_option(), 1..12)) {
        let s = opts.join(",");
        let r = parse_options(&s);
        prop_assert!(r.is_ok(), "{:?}: {:?}", s, r.err().map(|e| e.to_string()));
    }

    #[test]
    fn unknown_key_is_named(
        before in prop::collection::vec(known_option(), 0..4),
        key in "[a-z][a-z0-9_-]{0,15}",
        value in prop::option::of("[a-z0-9]{1,8}"),
    ) {
        prop_assume!(!is_known_key(&key));
        let item = match &value { Some(v) => format!("{key}={v}"), None => key.clone() };
        let mut all = before.clone();
        all.push(item);
        let s = all.join(",");
        match parse_options(&s) {
            Err(Error::UnknownOption(n)) => prop_assert_eq!(n, key),
            other => prop_assert!(false, "{:?}: {:?}", s, other),
        }
        // Sloppy mode accepts it.
        prop_assert!(parse_options_with(&s, true).is_ok());
    }

    #[test]
    fn bad_values_name_the_option(
        key in prop::sample::select(vec![
            "server-port", "fetch-attempts", "log-level", "attribute-timeout", "entry-timeout",
            "negative-timeout", "gid-timeout", "lru-limit", "invalidate-limit", "background-qlen",
            "congestion-threshold", "direct-io-mode", "use-readdirp", "kernel-writeback-cache",
            "fopen-keep-cache", "reader-thread-count", "auto-invalidation", "first-ack",
            "connect-timeout", "mount-timeout", "worker-threads", "oom-score-adj", "transport",
            "attr-times-granularity", "no-root-squash", "halo-max-latency",
        ]),
        junk in "[g-z@#%^&*!~]{1,10}",
    ) {
        // No good value of these options consists of these characters only (none is a level
        // name, boolean word, number or 'tcp'/'auto').
        prop_assume!(parse_options(&format!("{key}={junk}")).is_err());
        let e = parse_options(&format!("{key}={junk}")).unwrap_err();
        let msg = e.to_string();
        prop_assert!(msg.contains(&format!("'{key}'")) || msg.contains(key), "{}", msg);
        prop_assert_eq!(e.exit_code(), 1);
    }

    #[test]
    fn flags_refuse_values(
        key in prop::sample::select(vec![
            "ro", "rw", "acl", "selinux", "nodev", "nosuid", "noexec", "noatime", "auto_unmount",
            "_netdev", "nofail", "auto", "noauto", "allow-overmount", "defaults",
        ]),
        v in "[a-z0-9]{0,5}",
    ) {
        match parse_options(&format!("{key}={v}")) {
            Err(Error::UnexpectedValue(k)) => prop_assert_eq!(k, key),
            other => prop_assert!(false, "{:?}", other),
        }
    }

    #[test]
    fn spec_never_panics(s in ".{0,120}") {
        if let Err(e) = parse_spec(&s) { one_line_prop(&e)?; }
    }

    #[test]
    fn spec_roundtrip(
        servers in prop::collection::vec("[a-z][a-z0-9-]{0,12}(\\.[a-z]{1,5}){0,2}", 1..4),
        vol in "[a-zA-Z0-9_][a-zA-Z0-9_-]{0,20}",
        sub in prop::option::of("[a-z0-9]{1,8}(/[a-z0-9]{1,8}){0,3}"),
        slash in any::<bool>(),
    ) {
        prop_assume!(vol != "snaps");
        let s = format!(
            "{}:{}{}{}",
            servers.join(","),
            if slash { "/" } else { "" },
            vol,
            sub.as_ref().map(|d| format!("/{d}")).unwrap_or_default()
        );
        let v = parse_spec(&s).map_err(|e| TestCaseError::fail(format!("{s}: {e}")))?;
        prop_assert_eq!(v.servers, servers);
        prop_assert_eq!(v.volume, vol);
        prop_assert_eq!(v.subdir, sub);
    }

    #[test]
    fn argv_never_panics(args in prop::collection::vec(".{0,30}", 0..8)) {
        let a: Vec<OsString> = args.into_iter().map(OsString::from).collect();
        if let Err(e) = parse_args(a) { one_line_prop(&e)?; }
    }

    #[test]
    fn argv_of_flag_soup_never_panics(
        args in prop::collection::vec(prop::sample::select(vec![
            "-o", "-t", "-f", "-n", "-s", "-v", "-sfnv", "-oro", "--", "h:/v", "/mnt", "ro",
            "glusterfs", "-N", "--options", "--types=glusterfs", "-", "-x",
        ]), 0..10)
    ) {
        let a: Vec<OsString> = args.into_iter().map(OsString::from).collect();
        let _ = parse_args(a);
    }
}

fn one_line_prop(e: &Error) -> Result<(), TestCaseError> {
    // Messages may quote user input verbatim; the binary escapes control characters before
    // printing (one_line). Here: the message itself adds no line breaks of its own.
    let msg = mount_gluster_rs::one_line(&e.to_string());
    prop_assert!(!msg.contains('\n'));
    Ok(())
}

#[test]
fn known_list_covers_every_documented_key() {
    // Every key listed in --help is in the property list (keeps the two in step).
    let help = mount_gluster_rs::help();
    for (k, _) in known() {
        if k.starts_with("x-") {
            continue;
        }
        let bare = k.trim_start_matches("no");
        assert!(
            help.contains(k) || help.contains(bare),
            "--help does not mention {k}"
        );
    }
    let e = parse_options("ro=1").unwrap_err();
    one_line(&e);
}
