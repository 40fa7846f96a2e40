//! `gluster://HOST[:PORT]/VOLUME/PATH` URLs (the form qemu uses for GlusterFS).

use crate::{GraphError, Server};

/// A parsed URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeUrl {
    pub server: Server,
    pub volume: String,
    /// Path inside the volume, always starting with `/`.
    pub path: String,
}

/// Parse `gluster://HOST[:PORT]/VOLUME[/PATH]` (also `gluster+tcp://`).
pub fn parse_url(url: &str) -> Result<VolumeUrl, GraphError> {
    let bad = |reason: &str| GraphError::BadUrl {
        url: url.to_string(),
        reason: reason.to_string(),
    };
    let rest = url
        .strip_prefix("gluster://")
        .or_else(|| url.strip_prefix("gluster+tcp://"))
        .ok_or_else(|| bad("must start with gluster://"))?;
    let (authority, path) = rest.split_once('/').ok_or_else(|| bad("no volume"))?;
    if authority.is_empty() {
        return Err(bad("no host"));
    }
    let (host, port) = if let Some(h) = authority.strip_prefix('[') {
        let (h, p) = h.split_once(']').ok_or_else(|| bad("unclosed ["))?;
        (h.to_string(), p.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), Some(p)),
            None => (authority.to_string(), None),
        }
    };
    let port = match port {
        Some(p) => p.parse::<u16>().map_err(|_| bad("bad port"))?,
        None => client::mgmt::GLUSTERD_PORT,
    };
    let (volume, p) = match path.split_once('/') {
        Some((v, p)) => (v, p),
        None => (path, ""),
    };
    if volume.is_empty() {
        return Err(bad("no volume"));
    }
    Ok(VolumeUrl {
        server: Server::new(host, port),
        volume: volume.to_string(),
        path: format!("/{}", p.trim_end_matches('/')),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u = parse_url("gluster://vm/vol/a/b/").unwrap();
        assert_eq!(u.server, Server::new("vm", 24007));
        assert_eq!(u.volume, "vol");
        assert_eq!(u.path, "/a/b");
        let u = parse_url("gluster://h:1234/v").unwrap();
        assert_eq!(u.server.port, 1234);
        assert_eq!(u.path, "/");
        let u = parse_url("gluster://[::1]:24007/v/x").unwrap();
        assert_eq!(u.server.host, "::1");
        for bad in [
            "http://x/v",
            "gluster://",
            "gluster:///v",
            "gluster://h",
            "gluster://h:99999/v",
            "gluster://h/",
        ] {
            assert!(parse_url(bad).is_err(), "{bad}");
        }
    }
}
