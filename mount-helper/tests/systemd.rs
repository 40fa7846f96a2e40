//! `systemd-analyze verify` on the unit files in systemd/ (needs systemd-analyze: on Debian the
//! `systemd` package). The units are copied to a temporary directory first so that only they
//! (and the host's own units) are loaded.

use std::path::{Path, PathBuf};
use std::process::Command;

fn unit_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../systemd")
}

fn units(filter: impl Fn(&str) -> bool) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(unit_dir())
        .expect("systemd/ exists")
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            let is_unit = [
                ".service",
                ".mount",
                ".automount",
                ".socket",
                ".timer",
                ".target",
                ".path",
            ]
            .iter()
            .any(|s| name.ends_with(s));
            is_unit && filter(&name)
        })
        .collect();
    v.sort();
    v
}

/// Copy `files` to a temp dir and verify them together; returns (success, stderr+stdout lines).
fn verify(files: &[PathBuf]) -> (bool, Vec<String>) {
    let tmp = tempfile::tempdir().unwrap();
    let mut args: Vec<PathBuf> = Vec::new();
    for f in files {
        let dst = tmp.path().join(f.file_name().unwrap());
        std::fs::copy(f, &dst).unwrap();
        args.push(dst);
    }
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg("--man=no")
        .args(&args)
        .current_dir(tmp.path())
        .output()
        .expect("systemd-analyze must be installed (apt-get install -y systemd)");
    let mut lines: Vec<String> = String::from_utf8_lossy(&out.stderr)
        .lines()
        .chain(String::from_utf8_lossy(&out.stdout).lines())
        .map(str::to_string)
        .filter(|l| !l.trim().is_empty())
        .collect();
    lines.sort();
    (out.status.success(), lines)
}

#[test]
fn mount_and_automount_units_verify() {
    let files = units(|n| n.ends_with(".mount") || n.ends_with(".automount"));
    let names: Vec<String> = files
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.contains(&"mnt-gluster\\x2drs.mount".to_string()),
        "{names:?}"
    );
    assert!(
        names.contains(&"mnt-gluster\\x2drs.automount".to_string()),
        "{names:?}"
    );
    let (ok, lines) = verify(&files);
    assert!(
        ok && lines.is_empty(),
        "systemd-analyze verify {names:?}:\n{}",
        lines.join("\n")
    );
}

#[test]
fn mount_units_match_their_mount_points() {
    // systemd refuses a mount unit whose name is not the escaped Where=.
    for f in units(|n| n.ends_with(".mount") || n.ends_with(".automount")) {
        let text = std::fs::read_to_string(&f).unwrap();
        let where_ = text
            .lines()
            .find_map(|l| l.strip_prefix("Where="))
            .expect("Where= line");
        let suffix = f.extension().unwrap().to_string_lossy().into_owned();
        let out = Command::new("systemd-escape")
            .args(["-p", &format!("--suffix={suffix}"), where_])
            .output()
            .expect("systemd-escape");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            f.file_name().unwrap().to_string_lossy()
        );
        if suffix == "mount" {
            assert!(text.contains("\nType=gluster-rs\n"), "{}", f.display());
            let opts = text
                .lines()
                .find_map(|l| l.strip_prefix("Options="))
                .unwrap();
            // The unit's options are ones the helper accepts.
            mount_gluster_rs::parse_options(opts).expect("Options= parse");
        }
    }
}

#[test]
fn every_unit_file_verifies() {
    // All units of the project together. A service whose ExecStart binary is not installed on
    // this machine yet is the install step's business, not the unit's: that one message is
    // tolerated; any other finding fails.
    let files = units(|_| true);
    let (ok, lines) = verify(&files);
    let findings: Vec<&String> = lines
        .iter()
        .filter(|l| {
            !(l.contains(": Command /")
                && l.contains("is not executable: No such file or directory"))
        })
        .collect();
    assert!(
        findings.is_empty(),
        "systemd-analyze verify found:\n{}",
        findings
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
    if !ok {
        assert!(!lines.is_empty(), "verify failed without saying why");
    }
}
