//! Known-answer tests against GlusterFS 10.3's own C code.
//!
//! The vector files were produced by a throw-away C harness (not in this
//! repository) that called `gf_dm_hashfn` from the installed
//! `libglusterfs.so.0` (and, as a cross-check, libglusterfs/src/hashfn.c
//! compiled with gcc on x86_64), and glibc `regcomp`/`regexec` with the
//! default `cluster.rsync-hash-regex` under `LC_ALL=C.UTF-8` and `LC_ALL=C`.

use hashing::{dm_hash, munge_name, name_hash, HashOptions, RegexLocale};

fn unhex(s: &str) -> Vec<u8> {
    assert_eq!(s.len() % 2, 0, "odd hex {s:?}");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn data_lines(file: &str) -> Vec<String> {
    let path = format!("{}/tests/data/{file}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(str::to_owned)
        .collect()
}

#[test]
fn dm_hash_matches_libglusterfs() {
    let lines = data_lines("dm_hash_vectors.txt");
    assert!(lines.len() >= 700, "only {} vectors", lines.len());
    let mut lengths = std::collections::BTreeSet::new();
    for line in &lines {
        let (hash, name) = line.split_once(' ').unwrap_or((line.as_str(), ""));
        let want = u32::from_str_radix(hash, 16).unwrap();
        let name = unhex(name);
        lengths.insert(name.len());
        assert_eq!(dm_hash(&name), want, "name {name:02x?}");
    }
    // Every length from 0 to 300 is covered.
    assert!((0..=300).all(|n| lengths.contains(&n)));
}

#[test]
fn name_hash_matches_dht_hash_compute() {
    let lines = data_lines("name_hash_vectors.txt");
    assert!(lines.len() >= 300, "only {} vectors", lines.len());
    let utf8 = HashOptions::default();
    let bytes = HashOptions {
        locale: RegexLocale::Bytes,
        ..HashOptions::default()
    };
    let mut munged = [0usize; 2];
    for line in &lines {
        let f: Vec<&str> = line.split(' ').collect();
        assert_eq!(f.len(), 5, "bad line {line:?}");
        let name = unhex(f[4]);
        for (k, (opts, hash, group)) in [(&utf8, f[0], f[1]), (&bytes, f[2], f[3])]
            .into_iter()
            .enumerate()
        {
            let want = u32::from_str_radix(hash, 16).unwrap();
            assert_eq!(
                name_hash(&name, opts),
                want,
                "name {name:02x?} locale {:?}",
                opts.locale
            );
            let got = munge_name(&name, opts);
            if group == "-" {
                let cstr = name.split(|&b| b == 0).next().unwrap_or(&[]);
                assert_eq!(
                    got, cstr,
                    "name {name:02x?} should not munge ({:?})",
                    opts.locale
                );
            } else {
                assert_eq!(
                    got,
                    unhex(group).as_slice(),
                    "name {name:02x?} ({:?})",
                    opts.locale
                );
                munged[k] += 1;
            }
        }
    }
    // The set exercises both outcomes in both locales, and the locales differ.
    assert!(munged[0] > 20 && munged[1] > munged[0], "{munged:?}");
}
