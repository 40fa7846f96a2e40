//! Property tests: the parser never panics, and Display -> parse is the identity.

use proptest::prelude::*;
use volfile::{ClientVolume, Graph, Xlator};

/// Any word volfile syntax can carry: no newline (graph.l cannot express one), may be empty
/// for option values only.
fn word() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9./_-]{1,12}",
        "[^\n]{1,10}",
        Just("volume".to_string()),
        Just("end-volume".to_string()),
        Just("#x".to_string()),
        Just("a\"b\\c`d".to_string()),
    ]
}

fn value() -> impl Strategy<Value = String> {
    prop_oneof![word(), Just(String::new()), Just("a b\tc".to_string())]
}

/// A valid graph: unique names, each volume's subvolumes drawn from the volumes before it.
fn graph() -> impl Strategy<Value = Vec<Xlator>> {
    (
        prop::collection::btree_set(word(), 1..8),
        prop::collection::vec(
            (
                word(),
                prop::collection::vec((word(), value()), 0..4),
                prop::collection::vec(any::<prop::sample::Index>(), 0..4),
            ),
            8,
        ),
    )
        .prop_map(|(names, specs)| {
            let names: Vec<String> = names.into_iter().collect();
            names
                .iter()
                .enumerate()
                .zip(specs)
                .map(|((i, name), (ty, opts, subs))| {
                    let mut x = Xlator::new(name.clone(), ty);
                    for (k, v) in opts {
                        x = x.with_option(k, v);
                    }
                    if i > 0 {
                        for s in subs {
                            let sub = &names[s.index(i)];
                            if !x.subvolumes.contains(sub) {
                                x = x.with_subvolume(sub.clone());
                            }
                        }
                    }
                    x
                })
                .collect()
        })
}

/// Text that looks like a volfile: keywords, words, quotes, comments and backslashes in any
/// order, so the parser's error paths are exercised rather than only the lexer's.
fn volfile_soup() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            Just("volume".to_string()),
            Just("end-volume".to_string()),
            Just("type".to_string()),
            Just("option".to_string()),
            Just("subvolumes".to_string()),
            Just("protocol/client".to_string()),
            Just("cluster/replicate".to_string()),
            Just("cluster/distribute".to_string()),
            Just("performance/x".to_string()),
            Just("remote-subvolume".to_string()),
            Just("quorum-type".to_string()),
            Just("\"".to_string()),
            Just("\\".to_string()),
            Just("#".to_string()),
            Just("\n".to_string()),
            "[a-c]{1,2}",
            "[^\n]{0,4}",
        ],
        0..60,
    )
    .prop_map(|v| v.join(" "))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn parse_never_panics_on_arbitrary_text(s in any::<String>()) {
        let _ = Graph::parse(&s);
        let _ = ClientVolume::parse(&s);
    }

    #[test]
    fn parse_never_panics_on_arbitrary_bytes(b in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = Graph::parse_bytes(&b);
    }

    #[test]
    fn parse_never_panics_on_volfile_soup(s in volfile_soup()) {
        if let Ok(g) = Graph::parse(&s) {
            // Whatever parses must print back to the same graph.
            prop_assert_eq!(Graph::parse(&g.to_string()).unwrap(), g.clone());
            let _ = ClientVolume::from_graph(&g);
        }
    }

    #[test]
    fn display_parse_roundtrip(vols in graph()) {
        let g = Graph::new(vols).unwrap();
        let text = g.to_string();
        let back = Graph::parse(&text).unwrap();
        prop_assert_eq!(&back, &g);
        prop_assert_eq!(back.to_string(), text);
        prop_assert_eq!(back.top().name.as_str(), g.volumes().last().unwrap().name.as_str());
        let _ = ClientVolume::from_graph(&back);
    }

    #[test]
    fn mutated_real_volfile_never_panics(
        cut in any::<prop::sample::Index>(),
        len in 0usize..40,
        insert in "[^\n]{0,8}",
    ) {
        let text = include_str!("data/vfh23.vol");
        let chars: Vec<char> = text.chars().collect();
        let at = cut.index(chars.len());
        let end = (at + len).min(chars.len());
        let mutated: String = chars[..at].iter().chain(insert.chars().collect::<Vec<_>>().iter())
            .chain(chars[end..].iter()).collect();
        if let Ok(g) = Graph::parse(&mutated) {
            prop_assert_eq!(Graph::parse(&g.to_string()).unwrap(), g.clone());
            let _ = ClientVolume::from_graph(&g);
        }
    }
}
