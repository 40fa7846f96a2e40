//! The mount source: `SERVER:/VOLUME`, `SERVER:VOLUME`, `SERVER:/VOLUME/SUBDIR`, with
//! `SERVER` a host name, an IPv4 address, an IPv6 address (bare as mount.glusterfs allows, or in
//! brackets), or a comma-separated list of those (mount.glusterfs's `parse_volfile_servers`).
//! `SERVER:/snaps/SNAPNAME/VOLUME` mounts a snapshot, read-only, as mount.glusterfs does.
//!
//! Follows `main()` of `xlators/mount/fuse/utils/mount.glusterfs.in` (server = everything before
//! the last `:` that precedes the path; volume = first path component; the rest is the
//! subdirectory) and the volume-name rules of `cli_validate_volname` (cli/src/cli-cmd-parser.c).

use crate::error::Error;

/// Longest host name accepted (mount.glusterfs's HOST_NAME_MAX).
pub const HOST_NAME_MAX: usize = 255;
/// Longest volume name glusterd accepts (GD_VOLUME_NAME_MAX = NAME_MAX + 1).
pub const VOLUME_NAME_MAX: usize = 256;

/// A parsed mount source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeSpec {
    /// Volfile servers named in the spec, in order (brackets of IPv6 addresses removed).
    pub servers: Vec<String>,
    /// The volume name (for a snapshot: the snapshot's volume).
    pub volume: String,
    /// What to ask glusterd's GETSPEC for: the volume name, or `/snaps/SNAP/VOLUME`.
    pub volfile_id: String,
    /// Subdirectory of the volume to mount, normalized (no leading or trailing `/`, no empty,
    /// `.` or `..` components); `None` for the volume root.
    pub subdir: Option<String>,
    /// Snapshot name when the spec was `SERVER:/snaps/SNAP/VOLUME`.
    pub snapshot: Option<String>,
}

impl VolumeSpec {
    /// The source as shown in /proc/mounts: `FIRST_SERVER:/VOLUME[/SUBDIR]` (or the snapshot path).
    pub fn fsname(&self) -> String {
        let server = self.servers.first().map(String::as_str).unwrap_or_default();
        let server = if server.contains(':') {
            format!("[{server}]")
        } else {
            server.to_string()
        };
        let path = if self.snapshot.is_some() {
            self.volfile_id.clone()
        } else {
            format!("/{}", self.volume)
        };
        match &self.subdir {
            Some(s) => format!("{server}:{path}/{s}"),
            None => format!("{server}:{path}"),
        }
    }
}

/// Check one host name or address; returns it as given.
pub fn validate_host(h: &str) -> Result<String, String> {
    if h.is_empty() {
        return Err("empty server name".into());
    }
    if h.len() > HOST_NAME_MAX {
        return Err(format!(
            "server name longer than {HOST_NAME_MAX} characters"
        ));
    }
    // mount.glusterfs's server class is [a-zA-Z0-9:%,.-]; '_' is allowed as well since resolvers
    // accept it in practice.
    if let Some(c) = h
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '%' | '_')))
    {
        return Err(format!(
            "invalid character '{}' in server name",
            c.escape_debug()
        ));
    }
    if h.starts_with('-') {
        return Err("server name starts with '-'".into());
    }
    Ok(h.to_string())
}

/// Check a volume name as glusterd's CLI does.
pub fn validate_volume_name(v: &str) -> Result<(), String> {
    if v.is_empty() {
        return Err("empty volume name".into());
    }
    if v.len() > VOLUME_NAME_MAX {
        return Err(format!(
            "volume name longer than {VOLUME_NAME_MAX} characters"
        ));
    }
    if v.starts_with('-') {
        return Err("volume name starts with '-'".into());
    }
    if let Some(c) = v
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-')))
    {
        return Err(format!(
            "invalid character '{}' in volume name",
            c.escape_debug()
        ));
    }
    Ok(())
}

/// Normalize a subdirectory path: `/a//b/` becomes `a/b`; `""` or `/` is the root (`None`);
/// `.` and `..` components and control characters are refused.
pub fn normalize_subdir(s: &str) -> Result<Option<String>, String> {
    let mut parts = Vec::new();
    for comp in s.split('/') {
        match comp {
            "" => {}
            "." | ".." => return Err(format!("'{comp}' is not allowed in a subdirectory")),
            c if c.chars().any(char::is_control) => {
                return Err("control character in subdirectory".into())
            }
            c if c.len() > 255 => return Err("path component longer than 255 bytes".into()),
            c => parts.push(c),
        }
    }
    if parts.is_empty() {
        Ok(None)
    } else {
        Ok(Some(parts.join("/")))
    }
}

fn bad(spec: &str, reason: impl Into<String>) -> Error {
    Error::InvalidSpec {
        spec: spec.to_string(),
        reason: reason.into(),
    }
}

/// Parse the comma-separated server part; IPv6 addresses may be bracketed.
fn parse_servers(spec: &str, part: &str) -> Result<Vec<String>, Error> {
    let mut out = Vec::new();
    for s in part.split(',') {
        let s = match s.strip_prefix('[') {
            Some(inner) => inner
                .strip_suffix(']')
                .ok_or_else(|| bad(spec, format!("unclosed '[' in server '{s}'")))?,
            None => s,
        };
        out.push(validate_host(s).map_err(|r| bad(spec, r))?);
    }
    Ok(out)
}

/// Parse `SERVER:/VOLUME[/SUBDIR]`.
pub fn parse_spec(spec: &str) -> Result<VolumeSpec, Error> {
    if spec.is_empty() {
        return Err(bad(spec, "empty; expected SERVER:/VOLUME"));
    }
    // Server part: up to the last ':' before the path (bracketed IPv6 addresses contain no '/',
    // so this also finds the ':' after their ']').
    let path_start = spec.find('/').unwrap_or(spec.len());
    let colon = spec[..path_start].rfind(':').ok_or_else(|| {
        bad(
            spec,
            "no ':' between server and volume; expected SERVER:/VOLUME",
        )
    })?;
    let (server_part, path) = (&spec[..colon], &spec[colon + 1..]);
    if server_part.is_empty() {
        return Err(bad(spec, "no server; expected SERVER:/VOLUME"));
    }
    let servers = parse_servers(spec, server_part)?;

    let trimmed = path.strip_prefix('/').unwrap_or(path);
    let (first, rest) = match trimmed.split_once('/') {
        Some((f, r)) => (f, r),
        None => (trimmed, ""),
    };
    if first.is_empty() {
        return Err(bad(spec, "no volume name; expected SERVER:/VOLUME"));
    }

    if first == "snaps" {
        // /snaps/SNAPNAME/VOLUME: glusterd's get_snap_volname_and_volinfo.
        let comps: Vec<&str> = rest.split('/').filter(|c| !c.is_empty()).collect();
        let [snap, vol] = comps.as_slice() else {
            return Err(bad(
                spec,
                "a snapshot is mounted as SERVER:/snaps/SNAPNAME/VOLUME",
            ));
        };
        validate_volume_name(snap).map_err(|r| bad(spec, format!("snapshot name: {r}")))?;
        validate_volume_name(vol).map_err(|r| bad(spec, r))?;
        return Ok(VolumeSpec {
            servers,
            volume: vol.to_string(),
            volfile_id: format!("/snaps/{snap}/{vol}"),
            subdir: None,
            snapshot: Some(snap.to_string()),
        });
    }

    validate_volume_name(first).map_err(|r| bad(spec, r))?;
    let subdir = normalize_subdir(rest).map_err(|r| bad(spec, r))?;
    Ok(VolumeSpec {
        servers,
        volume: first.to_string(),
        volfile_id: first.to_string(),
        subdir,
        snapshot: None,
    })
}
