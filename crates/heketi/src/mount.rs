//! Mounting a volume from Heketi's mount information.
//!
//! Heketi answers `mount.glusterfs` with `device` (`host:volname`) and the
//! other hosts as `options["backup-volfile-servers"]`, comma separated.
//! The mount helpers take that option colon separated (the kubelet's
//! glusterfs plugin converts it the same way), so the command is
//! `mount -t gluster-rs host:volname DIR -o backup-volfile-servers=h2:h3`.

use crate::api::GlusterFsMount;
use crate::HeketiError;

/// File system type of our FUSE client's mount helper (`mount.gluster-rs`).
pub const FSTYPE: &str = "gluster-rs";

/// Heketi's comma-separated backup volfile servers, colon separated.
pub fn backup_servers_option(m: &GlusterFsMount) -> Option<String> {
    let list: Vec<&str> = m
        .options
        .get("backup-volfile-servers")
        .map(|s| {
            s.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default();
    if list.is_empty() {
        None
    } else {
        Some(list.join(":"))
    }
}

/// `mount` arguments (after the program name) for `fstype`.
pub fn mount_args(m: &GlusterFsMount, dir: &str, fstype: &str) -> Result<Vec<String>, HeketiError> {
    if m.device.is_empty() || !m.device.contains(':') {
        return Err(HeketiError::Mount(format!(
            "server returned no usable mount device ({:?})",
            m.device
        )));
    }
    let mut a = vec![
        "-t".to_string(),
        fstype.to_string(),
        m.device.clone(),
        dir.to_string(),
    ];
    if let Some(b) = backup_servers_option(m) {
        a.push("-o".into());
        a.push(format!("backup-volfile-servers={b}"));
    }
    Ok(a)
}

/// Mount the volume on `dir` (created if missing) with `mount -t fstype`.
pub async fn mount(m: &GlusterFsMount, dir: &str, fstype: &str) -> Result<(), HeketiError> {
    std::fs::create_dir_all(dir).map_err(|e| HeketiError::Mount(format!("{dir}: {e}")))?;
    let args = mount_args(m, dir, fstype)?;
    let out = tokio::time::timeout(
        std::time::Duration::from_secs(120),
        tokio::process::Command::new("mount")
            .args(&args)
            .kill_on_drop(true)
            .output(),
    )
    .await
    .map_err(|_| HeketiError::Mount(format!("mount {} timed out", args.join(" "))))?
    .map_err(|e| HeketiError::Mount(format!("mount: {e}")))?;
    if !out.status.success() {
        return Err(HeketiError::Mount(format!(
            "mount {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(dev: &str, backup: &str) -> GlusterFsMount {
        let mut m = GlusterFsMount {
            device: dev.into(),
            ..Default::default()
        };
        m.options
            .insert("backup-volfile-servers".into(), backup.into());
        m
    }

    #[test]
    fn commas_become_colons() {
        let x = m("127.0.0.1:vol_a", "127.0.0.2,127.0.0.3");
        assert_eq!(
            backup_servers_option(&x).as_deref(),
            Some("127.0.0.2:127.0.0.3")
        );
        assert_eq!(
            mount_args(&x, "/mnt/a", FSTYPE).unwrap().join(" "),
            "-t gluster-rs 127.0.0.1:vol_a /mnt/a -o backup-volfile-servers=127.0.0.2:127.0.0.3"
        );
    }

    #[test]
    fn no_backup_servers() {
        let x = m("h:v", "");
        assert_eq!(backup_servers_option(&x), None);
        assert_eq!(
            mount_args(&x, "/d", "glusterfs").unwrap().join(" "),
            "-t glusterfs h:v /d"
        );
        assert!(mount_args(&m("", ""), "/d", FSTYPE).is_err());
    }
}
