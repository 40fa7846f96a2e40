//! Shared harness of the integration tests: real GlusterFS volumes made with scripts/dev-cluster, real
//! mounts, and guards that tear them down even when a test fails.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The `gluster-rs` binary built for this test run.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_gluster-rs"))
}

pub fn hostname() -> String {
    let out = Command::new("hostname").output().expect("hostname");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Run a command, panic with its output if it fails; return stdout.
pub fn sh(cmd: &str) -> String {
    let out = Command::new("bash")
        .arg("-c")
        .arg(cmd)
        .output()
        .expect("bash");
    assert!(
        out.status.success(),
        "command failed: {cmd}\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Run a command, return (success, stdout, stderr).
pub fn try_sh(cmd: &str) -> (bool, String, String) {
    let out = Command::new("bash")
        .arg("-c")
        .arg(cmd)
        .output()
        .expect("bash");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

static SEQ: AtomicU32 = AtomicU32::new(0);

/// A unique short name for this process and test.
pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}{}x{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::SeqCst)
    )
}

/// A started GlusterFS volume on this host; stopped and deleted on drop.
pub struct TestVolume {
    pub name: String,
    pub host: String,
    pub bricks: Vec<PathBuf>,
}

impl TestVolume {
    /// `shape` is DxR as scripts/dev-cluster takes it (1x1, 2x1, 1x3, 2x3).
    pub fn new(prefix: &str, shape: &str) -> Self {
        Self::with_options(prefix, shape, &[])
    }

    /// Create, apply `gluster volume set` options, then start.
    pub fn with_options(prefix: &str, shape: &str, options: &[(&str, &str)]) -> Self {
        let name = unique(prefix);
        let script = repo().join("scripts/dev-cluster");
        sh(&format!("{} up {name} {shape}", script.display()));
        let bricks = sh(&format!("{} bricks {name}", script.display()))
            .lines()
            .map(PathBuf::from)
            .collect();
        let v = TestVolume {
            name,
            host: hostname(),
            bricks,
        };
        for (k, val) in options {
            sh(&format!(
                "gluster --mode=script volume set {} {k} {val}",
                v.name
            ));
        }
        v
    }

    /// `gluster://HOST/VOL` URL of a path in this volume.
    pub fn url(&self, path: &str) -> String {
        format!(
            "gluster://{}/{}/{}",
            self.host,
            self.name,
            path.trim_start_matches('/')
        )
    }

    /// Mount with gluster-rs (`mount -t gluster-rs`, with `-o options` unless empty).
    pub fn mount_rs(&self, options: &str) -> Mount {
        let dir = tempdir("rsmnt");
        let mut cmd = format!(
            "mount -t gluster-rs {}:/{} {}",
            self.host,
            self.name,
            dir.display()
        );
        if !options.is_empty() {
            cmd.push_str(&format!(" -o {options}"));
        }
        let (ok, out, err) = try_sh(&cmd);
        if !ok {
            let _ = std::fs::remove_dir(&dir);
            panic!("{cmd} failed\nstdout: {out}\nstderr: {err}");
        }
        Mount { dir }
    }

    /// Mount with the GlusterFS C client.
    pub fn mount_c_client(&self) -> Mount {
        let dir = tempdir("cmnt");
        sh(&format!(
            "mount -t glusterfs {}:/{} {}",
            self.host,
            self.name,
            dir.display()
        ));
        Mount { dir }
    }

    /// PID of the brick process serving `brick` (from `gluster volume status`).
    pub fn brick_pid(&self, brick: &Path) -> u32 {
        let out = sh(&format!(
            "gluster volume status {} {}:{} --xml",
            self.name,
            self.host,
            brick.display()
        ));
        let start = out.find("<pid>").expect("pid in status") + 5;
        let end = out[start..].find("</pid>").expect("pid end") + start;
        out[start..end].trim().parse().expect("pid number")
    }

    /// Kill one brick process with `signal` (TERM, STOP, CONT...).
    pub fn signal_brick(&self, brick: &Path, signal: &str) {
        let pid = self.brick_pid(brick);
        sh(&format!("kill -{signal} {pid}"));
    }

    /// Restart dead bricks.
    pub fn start_force(&self) {
        sh(&format!(
            "gluster --mode=script volume start {} force",
            self.name
        ));
    }
}

impl Drop for TestVolume {
    fn drop(&mut self) {
        // Resume any brick a test stopped, so `volume stop` does not hang on it.
        for b in &self.bricks {
            if let Ok(out) = Command::new("bash")
                .arg("-c")
                .arg(format!(
                    "gluster volume status {} {}:{} --xml 2>/dev/null | sed -n 's:.*<pid>\\([0-9]*\\)</pid>.*:\\1:p' | head -1",
                    self.name, self.host, b.display()
                ))
                .output()
            {
                let pid = String::from_utf8_lossy(&out.stdout).trim().to_string();
                if !pid.is_empty() && pid != "-1" {
                    let _ = Command::new("kill").args(["-CONT", &pid]).status();
                }
            }
        }
        let script = repo().join("scripts/dev-cluster");
        let _ = Command::new(script).args(["down", &self.name]).status();
    }
}

/// Fail early, saying how to fix it, when the mount helper `mount -t gluster-rs` runs is missing.
pub fn helper_installed() {
    assert!(
        Path::new("/sbin/mount.gluster-rs").exists(),
        "/sbin/mount.gluster-rs is missing: run scripts/install-mount-helper.sh (scripts/test.sh does)"
    );
}

/// A mounted directory; unmounted (lazily if busy) and removed on drop.
pub struct Mount {
    pub dir: PathBuf,
}

impl Mount {
    pub fn path(&self, p: &str) -> PathBuf {
        self.dir.join(p.trim_start_matches('/'))
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let ok = Command::new("umount")
            .arg(&self.dir)
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if !ok {
            let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
        }
        let _ = std::fs::remove_dir(&self.dir);
    }
}

/// A fresh empty directory under /tmp.
pub fn tempdir(prefix: &str) -> PathBuf {
    let d = std::env::temp_dir().join(unique(&format!("gluster-rs-{prefix}-")));
    std::fs::create_dir_all(&d).expect("mkdir");
    d
}

/// Read an xattr of a file on a brick as hex (without 0x), None if absent.
pub fn brick_xattr(path: &Path, name: &str) -> Option<String> {
    let (ok, out, _) = try_sh(&format!(
        "getfattr --absolute-names -e hex -n {name} '{}' 2>/dev/null",
        path.display()
    ));
    if !ok {
        return None;
    }
    out.lines().find_map(|l| {
        l.split_once('=')
            .map(|(_, v)| v.trim_start_matches("0x").to_string())
    })
}

/// The gfid of a file on a brick, as a uuid string.
pub fn brick_gfid(path: &Path) -> Option<String> {
    let h = brick_xattr(path, "trusted.gfid")?;
    if h.len() != 32 {
        return None;
    }
    Some(format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    ))
}

/// Like [`TestVolume::new`], but the bricks live on a tmpfs of `size` (e.g. "64M") that
/// scripts/dev-cluster mounts for the volume (all bricks share it) and removes on `down`.
pub fn tmpfs_volume(prefix: &str, shape: &str, size: &str) -> TestVolume {
    let name = unique(prefix);
    let script = repo().join("scripts/dev-cluster");
    sh(&format!(
        "{} up {name} {shape} --tmpfs {size}",
        script.display()
    ));
    let mut v = TestVolume {
        name,
        host: hostname(),
        bricks: Vec::new(),
    };
    // Built before asking for the bricks, so a failure below still tears the volume down.
    v.bricks = sh(&format!("{} bricks {}", script.display(), v.name))
        .lines()
        .map(PathBuf::from)
        .collect();
    v
}
