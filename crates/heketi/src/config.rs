//! heketi.json, the server configuration Heketi users already have.
//!
//! Field names follow heketi's `server/config/config.go` and
//! `apps/glusterfs/app_config.go` (Heketi v10); unknown fields (including
//! Heketi's `_comment` keys) are ignored. Environment overrides as Heketi's
//! `setWithEnvVariables`: `HEKETI_USER_KEY`, `HEKETI_ADMIN_KEY`,
//! `HEKETI_HTTP_PORT`, plus `HEKETI_JWT_IAT_LEEWAY_SECONDS`.
//!
//! Extensions of gluster-rs (ignored by Heketi): `listen` (bind address,
//! default all addresses as Heketi), `glusterfs.brick_mounts_dir` (where
//! bricks of block devices are mounted, default `/var/lib/heketi/mounts`).

use serde::{Deserialize, Deserializer};

use crate::HeketiError;

fn string_or_number<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let v = serde_json::Value::deserialize(d)?;
    match v {
        serde_json::Value::String(s) => Ok(s),
        serde_json::Value::Number(n) => Ok(n.to_string()),
        serde_json::Value::Null => Ok(String::new()),
        other => Err(serde::de::Error::custom(format!(
            "expected a string or a number, found {other}"
        ))),
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Issuer {
    #[serde(default)]
    pub key: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct JwtConfig {
    #[serde(default)]
    pub admin: Issuer,
    #[serde(default)]
    pub user: Issuer,
}

/// `glusterfs.sshexec` (also used for `kubeexec`-like options we honour).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct SshConfig {
    #[serde(default)]
    pub keyfile: String,
    #[serde(default)]
    pub user: String,
    #[serde(default, deserialize_with = "string_or_number")]
    pub port: String,
    #[serde(default)]
    pub mountopts: String,
    #[serde(default)]
    pub rebalance_on_expansion: bool,
    #[serde(default, deserialize_with = "string_or_number")]
    pub gluster_cli_timeout: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct GlusterFsConfig {
    #[serde(default)]
    pub db: String,
    #[serde(default)]
    pub executor: String,
    #[serde(default)]
    pub sshexec: SshConfig,
    #[serde(default)]
    pub loglevel: String,
    #[serde(default)]
    pub brick_max_size_gb: u64,
    #[serde(default)]
    pub brick_min_size_gb: u64,
    #[serde(default)]
    pub max_bricks_per_volume: usize,
    #[serde(default)]
    pub zone_checking: String,
    #[serde(default)]
    pub pre_request_volume_options: String,
    #[serde(default)]
    pub post_request_volume_options: String,
    /// gluster-rs extension.
    #[serde(default)]
    pub brick_mounts_dir: String,
}

/// The whole heketi.json.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Config {
    #[serde(default, deserialize_with = "string_or_number")]
    pub port: String,
    #[serde(default)]
    pub use_auth: bool,
    #[serde(default)]
    pub jwt: JwtConfig,
    #[serde(default)]
    pub enable_tls: bool,
    #[serde(default)]
    pub glusterfs: GlusterFsConfig,
    /// gluster-rs extension: address to bind (default: all addresses).
    #[serde(default)]
    pub listen: String,
}

/// Default database path of Heketi.
pub const DEFAULT_DB: &str = "/var/lib/heketi/heketi.db";
/// Default mount root of brick file systems (Heketi's `paths.VarLibHeketi`).
pub const DEFAULT_MOUNTS_DIR: &str = "/var/lib/heketi/mounts";

impl Config {
    /// Parse heketi.json text.
    pub fn parse(text: &str) -> Result<Config, HeketiError> {
        serde_json::from_str(text)
            .map_err(|e| HeketiError::Config(format!("unable to parse configuration: {e}")))
    }

    /// Read and parse a heketi.json file.
    pub fn read(path: &std::path::Path) -> Result<Config, HeketiError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            HeketiError::Config(format!(
                "unable to open config file {}: {e}",
                path.display()
            ))
        })?;
        Config::parse(&text)
    }

    /// Apply Heketi's environment overrides, with `get` standing for
    /// `std::env::var` (so tests can pass a map).
    pub fn apply_env(&mut self, get: impl Fn(&str) -> Option<String>) {
        if let Some(v) = get("HEKETI_USER_KEY").filter(|v| !v.is_empty()) {
            self.jwt.user.key = v;
        }
        if let Some(v) = get("HEKETI_ADMIN_KEY").filter(|v| !v.is_empty()) {
            self.jwt.admin.key = v;
        }
        if let Some(v) = get("HEKETI_HTTP_PORT").filter(|v| !v.is_empty()) {
            self.port = v;
        }
    }

    /// TCP port (Heketi's default 8080).
    pub fn port(&self) -> Result<u16, HeketiError> {
        if self.port.is_empty() {
            return Ok(8080);
        }
        self.port
            .trim()
            .parse()
            .map_err(|_| HeketiError::Config(format!("invalid port {:?}", self.port)))
    }

    pub fn db_path(&self) -> String {
        if self.glusterfs.db.is_empty() {
            DEFAULT_DB.to_string()
        } else {
            self.glusterfs.db.clone()
        }
    }

    pub fn mounts_dir(&self) -> String {
        if self.glusterfs.brick_mounts_dir.is_empty() {
            DEFAULT_MOUNTS_DIR.to_string()
        } else {
            self.glusterfs.brick_mounts_dir.clone()
        }
    }

    /// Whether JWT authentication is on. Heketi 10 always authenticates
    /// unless started with `--disable-auth` (`use_auth` is deprecated there);
    /// older Heketi honoured `use_auth`. We authenticate when `use_auth` is
    /// true or keys are configured, and refuse `use_auth` without keys.
    pub fn auth_enabled(&self, disable_auth: bool) -> Result<bool, HeketiError> {
        if disable_auth {
            return Ok(false);
        }
        let have_keys = !self.jwt.admin.key.is_empty() && !self.jwt.user.key.is_empty();
        if self.use_auth && !have_keys {
            return Err(HeketiError::Config(
                "Missing JWT information in config file (jwt.admin.key and jwt.user.key)".into(),
            ));
        }
        Ok(self.use_auth || have_keys)
    }

    /// Log level filter for tracing (Heketi: none, critical, error, warning,
    /// info, debug; default warning).
    pub fn log_filter(&self) -> &'static str {
        match self.glusterfs.loglevel.as_str() {
            "none" => "off",
            "critical" | "error" => "error",
            "info" => "info",
            "debug" => "debug",
            _ => "warn",
        }
    }

    /// Gluster CLI timeout in seconds (sshexec `gluster_cli_timeout`,
    /// default 120 as glusterd's own CLI timeout).
    pub fn gluster_cli_timeout(&self) -> u64 {
        self.glusterfs
            .sshexec
            .gluster_cli_timeout
            .trim()
            .parse()
            .ok()
            .filter(|v| *v > 0)
            .unwrap_or(120)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"{
      "_port_comment": "Heketi Server Port Number",
      "port": "8080",
      "use_auth": true,
      "jwt": {
        "_admin": "Admin has access to all APIs",
        "admin": { "key": "My Secret" },
        "user": { "key": "My Other Secret" }
      },
      "glusterfs": {
        "executor": "ssh",
        "sshexec": { "keyfile": "/etc/heketi/heketi_key", "user": "root", "port": "22",
                     "fstab": "/etc/fstab" },
        "db": "/var/lib/heketi/heketi.db",
        "loglevel" : "debug",
        "brick_max_size_gb": 1024,
        "some_future_option": [1, 2, 3]
      }
    }"#;

    #[test]
    fn parses_stock_heketi_json() {
        let c = Config::parse(SAMPLE).unwrap();
        assert_eq!(c.port().unwrap(), 8080);
        assert!(c.use_auth);
        assert_eq!(c.jwt.admin.key, "My Secret");
        assert_eq!(c.jwt.user.key, "My Other Secret");
        assert_eq!(c.db_path(), "/var/lib/heketi/heketi.db");
        assert_eq!(c.glusterfs.executor, "ssh");
        assert_eq!(c.glusterfs.sshexec.port, "22");
        assert_eq!(c.log_filter(), "debug");
        assert_eq!(c.glusterfs.brick_max_size_gb, 1024);
        assert!(c.auth_enabled(false).unwrap());
        assert!(!c.auth_enabled(true).unwrap());
    }

    #[test]
    fn numeric_port_defaults_and_env() {
        let mut c = Config::parse(r#"{"port": 9090}"#).unwrap();
        assert_eq!(c.port().unwrap(), 9090);
        assert_eq!(c.db_path(), DEFAULT_DB);
        assert_eq!(c.mounts_dir(), DEFAULT_MOUNTS_DIR);
        assert_eq!(c.log_filter(), "warn");
        assert!(!c.auth_enabled(false).unwrap());
        c.apply_env(|k| match k {
            "HEKETI_ADMIN_KEY" => Some("a".into()),
            "HEKETI_USER_KEY" => Some("u".into()),
            "HEKETI_HTTP_PORT" => Some("8181".into()),
            _ => None,
        });
        assert_eq!(c.port().unwrap(), 8181);
        assert!(c.auth_enabled(false).unwrap());
    }

    #[test]
    fn errors() {
        assert!(Config::parse("{not json").is_err());
        assert!(Config::parse(r#"{"port": "http"}"#)
            .unwrap()
            .port()
            .is_err());
        let c = Config::parse(r#"{"use_auth": true}"#).unwrap();
        assert!(c.auth_enabled(false).is_err());
    }
}
