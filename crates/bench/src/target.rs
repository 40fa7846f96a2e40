//! What `gluster-rs bench TARGET` measures.

use crate::BenchError;
use std::path::PathBuf;

/// A benchmark target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A directory of any mounted file system.
    Local(PathBuf),
    /// `gluster://HOST[:PORT]/VOLUME[/SUBDIR]`: a volume through the native library, without FUSE.
    Gluster {
        host: String,
        volume: String,
        subdir: String,
    },
}

impl Target {
    pub fn parse(text: &str) -> Result<Self, BenchError> {
        let Some(rest) = text.strip_prefix("gluster://") else {
            if text.is_empty() {
                return Err(BenchError::Args("the target directory is empty".into()));
            }
            return Ok(Target::Local(PathBuf::from(text)));
        };
        let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
        let path = path.trim_matches('/');
        let (volume, subdir) = path.split_once('/').unwrap_or((path, ""));
        if host.is_empty() || volume.is_empty() {
            return Err(BenchError::Args(format!(
                "invalid target {text:?}: expected gluster://HOST/VOLUME"
            )));
        }
        Ok(Target::Gluster {
            host: host.to_string(),
            volume: volume.to_string(),
            subdir: subdir.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_directories_and_gluster_urls() {
        assert_eq!(
            Target::parse("/mnt/x").unwrap(),
            Target::Local(PathBuf::from("/mnt/x"))
        );
        assert_eq!(
            Target::parse("gluster://vm/vol").unwrap(),
            Target::Gluster {
                host: "vm".into(),
                volume: "vol".into(),
                subdir: String::new()
            }
        );
        assert_eq!(
            Target::parse("gluster://vm:24007/vol/a/b/").unwrap(),
            Target::Gluster {
                host: "vm:24007".into(),
                volume: "vol".into(),
                subdir: "a/b".into()
            }
        );
    }

    #[test]
    fn rejects_incomplete_urls() {
        assert!(Target::parse("gluster://vm").is_err());
        assert!(Target::parse("gluster://vm/").is_err());
        assert!(Target::parse("gluster:///vol").is_err());
        assert!(Target::parse("").is_err());
    }
}
