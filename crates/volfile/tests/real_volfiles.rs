//! Volfiles captured from glusterd 10.3 with `gluster system:: getspec VOL` (see
//! tests/data/README.md for how each volume was made).

use volfile::{ClientVolume, FavoriteChildPolicy, Graph, Node, Quorum, VolfileError};

fn data(name: &str) -> String {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// `io_threads`: glusterd 10 puts performance/io-threads into the client graph of pure
/// distribute volumes only.
fn check_common(vol: &ClientVolume, name: &str, bricks: &[String], io_threads: bool) {
    assert_eq!(vol.name, name);
    let clients = vol.clients();
    assert_eq!(clients.len(), bricks.len());
    for (i, (c, brick)) in clients.iter().zip(bricks).enumerate() {
        assert_eq!(c.name, format!("{name}-client-{i}"));
        assert_eq!(&c.remote_subvolume, brick);
        assert_eq!(c.remote_host.as_deref(), Some("vm"));
        assert_eq!(c.transport_type, "tcp");
        assert_eq!(c.address_family.as_deref(), Some("inet"));
        assert_eq!(c.remote_port, None);
        // The trusted volfile (what GETSPEC returns) carries the SETVOLUME credentials.
        assert_eq!(c.username.as_deref().map(str::len), Some(36));
        assert_eq!(c.password.as_deref().map(str::len), Some(36));
        assert_eq!(c.options.get("send-gids"), Some("true"));
        assert!(c.layers.is_empty());
    }
    // io-stats at the top, then the performance translators, then features/utime above DHT.
    let layers: Vec<(&str, &str)> = vol
        .layers()
        .iter()
        .map(|l| (l.name.as_str(), l.xlator_type.as_str()))
        .collect();
    let mut stack = vec![("", "debug/io-stats")];
    if io_threads {
        stack.push(("-io-threads", "performance/io-threads"));
    }
    stack.extend([
        ("-md-cache", "performance/md-cache"),
        ("-quick-read", "performance/quick-read"),
        ("-open-behind", "performance/open-behind"),
        ("-write-behind", "performance/write-behind"),
        ("-utime", "features/utime"),
    ]);
    let names: Vec<String> = stack.iter().map(|(s, _)| format!("{name}{s}")).collect();
    let expected: Vec<(&str, &str)> = names
        .iter()
        .zip(&stack)
        .map(|(n, (_, t))| (n.as_str(), *t))
        .collect();
    assert_eq!(layers, expected);
    assert_eq!(vol.layers()[0].options.get("log-level"), Some("INFO"));
    let d = vol.distribute().expect("glusterd always puts DHT on top");
    assert_eq!(d.name, format!("{name}-dht"));
    assert_eq!(d.options.get("lock-migration"), Some("off"));
}

fn bricks(root: &str, name: &str, n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("{root}/{name}/b{i}")).collect()
}

#[test]
fn one_by_one() {
    let vol = ClientVolume::parse(&data("vfh11.vol")).unwrap();
    check_common(&vol, "vfh11", &bricks("/srv/gluster-rs", "vfh11", 1), true);
    let Node::Distribute(d) = &vol.root else {
        panic!("{:?}", vol.root)
    };
    assert_eq!(d.children.len(), 1);
    assert!(matches!(d.children[0], Node::Client(_)));
    assert!(vol.replicates().is_empty());
    assert_eq!(vol.clients()[0].ping_timeout_secs, 42);
}

#[test]
fn two_by_one_with_ping_timeout() {
    let vol = ClientVolume::parse(&data("vfh21.vol")).unwrap();
    check_common(&vol, "vfh21", &bricks("/srv/gluster-rs", "vfh21", 2), true);
    let d = vol.distribute().unwrap();
    assert_eq!(d.children.len(), 2);
    assert!(d.children.iter().all(|c| matches!(c, Node::Client(_))));
    // `gluster volume set vfh21 network.ping-timeout 7`
    assert!(vol.clients().iter().all(|c| c.ping_timeout_secs == 7));
    // `gluster volume set vfh21 cluster.min-free-disk 5%`
    assert_eq!(d.min_free_disk(), "5%");
    assert!(d.lookup_optimize().unwrap());
}

#[test]
fn one_by_three_with_fixed_quorum() {
    let vol = ClientVolume::parse(&data("vfh13.vol")).unwrap();
    check_common(&vol, "vfh13", &bricks("/srv/vfh-alt", "vfh13", 3), false);
    let d = vol.distribute().unwrap();
    assert_eq!(d.children.len(), 1);
    let reps = vol.replicates();
    assert_eq!(reps.len(), 1);
    let r = reps[0];
    assert_eq!(r.name, "vfh13-replicate-0");
    assert_eq!(r.children.len(), 3);
    // quorum-type fixed, quorum-count 2, data-self-heal off were set on this volume.
    assert_eq!(r.quorum, Quorum::Fixed(2));
    assert_eq!(r.options.get("quorum-type"), Some("fixed"));
    assert_eq!(r.data_self_heal(), "off");
    assert_eq!(
        r.pending_xattrs,
        vec![
            "trusted.afr.vfh13-client-0",
            "trusted.afr.vfh13-client-1",
            "trusted.afr.vfh13-client-2"
        ]
    );
    assert_eq!(r.volume_id.as_deref().map(str::len), Some(36));
    assert_eq!(r.arbiter_count, 0);
    assert_eq!(r.thin_arbiter, None);
    assert!(r.bool_option_or("granular-entry-heal", false).unwrap());
}

#[test]
fn two_by_three_with_default_quorum() {
    let vol = ClientVolume::parse(&data("vfh23.vol")).unwrap();
    check_common(&vol, "vfh23", &bricks("/srv/vfh-alt", "vfh23", 6), false);
    let d = vol.distribute().unwrap();
    assert_eq!(d.children.len(), 2);
    // `gluster volume set vfh23 cluster.lookup-optimize off`
    assert!(!d.lookup_optimize().unwrap());
    let reps = vol.replicates();
    assert_eq!(reps.len(), 2);
    for (i, r) in reps.iter().enumerate() {
        assert_eq!(r.name, format!("vfh23-replicate-{i}"));
        let names: Vec<&str> = r.clients().iter().map(|c| c.name.as_str()).collect();
        let want: Vec<String> = (0..3)
            .map(|k| format!("vfh23-client-{}", 3 * i + k))
            .collect();
        assert_eq!(names, want);
        let xattrs: Vec<String> = want.iter().map(|n| format!("trusted.afr.{n}")).collect();
        assert_eq!(r.pending_xattrs, xattrs);
        // No quorum-type in the volfile: AFR turns on auto quorum for 3 children.
        assert!(!r.options.contains_key("quorum-type"));
        assert_eq!(r.quorum, Quorum::Auto);
        assert_eq!(r.favorite_child_policy, FavoriteChildPolicy::Mtime);
        assert!(r.bool_option_or("eager-lock", true).unwrap());
    }
    assert_eq!(reps[0].volume_id, reps[1].volume_id);
}

#[test]
fn on_disk_volfiles_match_getspec() {
    let spec = Graph::parse(&data("vfh23.vol")).unwrap();
    let trusted = Graph::parse(&data("trusted-vfh23.tcp-fuse.vol")).unwrap();
    assert_eq!(spec, trusted);
    // The untrusted file is the same graph without the credentials.
    let plain = ClientVolume::parse(&data("vfh23.tcp-fuse.vol")).unwrap();
    assert_eq!(plain.clients().len(), 6);
    assert!(plain
        .clients()
        .iter()
        .all(|c| c.username.is_none() && c.password.is_none()));
}

#[test]
fn graph_level_view() {
    let g = Graph::parse(&data("vfh23.vol")).unwrap();
    assert_eq!(g.len(), 6 + 2 + 1 + 5 + 1);
    assert_eq!(g.top().name, "vfh23");
    assert_eq!(g.top().xlator_type, "debug/io-stats");
    assert_eq!(g.roots().len(), 1);
    assert_eq!(g.volumes()[0].line, 1);
    assert_eq!(g.get("vfh23-dht").unwrap().subvolumes.len(), 2);
    // Printing and re-parsing gives the same graph, and printing is a fixpoint.
    let text = g.to_string();
    let g2 = Graph::parse(&text).unwrap();
    assert_eq!(g, g2);
    assert_eq!(text, g2.to_string());
    // glusterd's own layout is what Display produces (modulo the trailing newline the CLI adds).
    assert_eq!(text.trim_end(), data("vfh23.vol").trim_end());
}

#[test]
fn disperse_is_reported_unsupported() {
    let text = data("vfhec-disperse.vol");
    let g = Graph::parse(&text).unwrap();
    assert_eq!(
        g.get("vfhec-disperse-0").unwrap().options.get("redundancy"),
        Some("1")
    );
    match ClientVolume::from_graph(&g) {
        Err(VolfileError::Unsupported {
            volume,
            xlator_type,
            line,
            ..
        }) => {
            assert_eq!(volume, "vfhec-disperse-0");
            assert_eq!(xlator_type, "cluster/disperse");
            assert_eq!(line, g.get("vfhec-disperse-0").unwrap().line);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn json_view() {
    let vol = ClientVolume::parse(&data("vfh13.vol")).unwrap();
    let j = serde_json::to_value(&vol).unwrap();
    assert_eq!(j["name"], "vfh13");
    assert_eq!(j["root"]["kind"], "distribute");
    let afr = &j["root"]["children"][0];
    assert_eq!(afr["kind"], "replicate");
    assert_eq!(
        afr["quorum"],
        serde_json::json!({"type": "fixed", "count": 2})
    );
    assert_eq!(
        afr["children"][2]["remote_subvolume"],
        "/srv/vfh-alt/vfh13/b3"
    );
    assert_eq!(afr["children"][2]["kind"], "client");
}

#[test]
fn every_fixture_roundtrips() {
    let dir = format!("{}/tests/data", env!("CARGO_MANIFEST_DIR"));
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("vol") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let g = Graph::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(
            Graph::parse(&g.to_string()).unwrap(),
            g,
            "{}",
            path.display()
        );
        n += 1;
    }
    assert_eq!(n, 7);
}
