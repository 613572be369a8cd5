//! The `[delivery]` table: where the controller may have this agent write managed
//! certificates, which reload programs it may have it run, and where pending keys wait. The
//! agent's defence against a compromised controller; defaults documented in
//! `packaging/agent.toml`.

use super::{duration, ConfigError};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Directories certificate files may be written under, by default.
pub const DEFAULT_ALLOWED_DIRS: &[&str] = &[
    "/etc/unity/certs",
    "/etc/ssl/unity",
    "/etc/nginx",
    "/etc/caddy",
    "/etc/haproxy",
    "/etc/lighttpd",
    "/etc/apache2",
    "/etc/httpd",
    "/etc/traefik",
    "/etc/postfix",
    "/etc/dovecot",
];

/// Reload programs (`argv[0]` exactly) the controller may ask for, by default.
pub const DEFAULT_RELOAD_PROGRAMS: &[&str] = &[
    "systemctl",
    "service",
    "nginx",
    "apachectl",
    "apache2ctl",
    "caddy",
    "haproxy",
];

/// The `[delivery]` table as written.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDeliveryConfig {
    /// Accept managed certificates at all (default true).
    pub enabled: Option<bool>,
    /// Absolute directories the controller may have files written under.
    pub allowed_dirs: Option<Vec<PathBuf>>,
    /// Programs (`argv[0]`, compared exactly: a bare name is looked up on the clean PATH) a
    /// reload may run.
    pub reload_programs: Option<Vec<String>>,
    /// Where keys wait for their certificate (default `<data_dir>/certificate-keys`, 0700).
    pub key_dir: Option<PathBuf>,
    /// The longest a reload may take, e.g. "30s".
    pub reload_timeout: Option<String>,
}

/// The validated `[delivery]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryConfig {
    pub enabled: bool,
    pub allowed_dirs: Vec<PathBuf>,
    pub reload_programs: Vec<String>,
    pub key_dir: PathBuf,
    pub reload_timeout: Duration,
}

impl DeliveryConfig {
    /// The defaults for an agent whose data lives in `data_dir`.
    pub fn defaults(data_dir: &Path) -> DeliveryConfig {
        DeliveryConfig {
            enabled: true,
            allowed_dirs: DEFAULT_ALLOWED_DIRS.iter().map(PathBuf::from).collect(),
            reload_programs: DEFAULT_RELOAD_PROGRAMS
                .iter()
                .map(|program| (*program).to_owned())
                .collect(),
            key_dir: data_dir.join("certificate-keys"),
            reload_timeout: Duration::from_secs(30),
        }
    }
}

/// Validates the table; relative directories are refused.
pub fn from_raw(raw: RawDeliveryConfig, data_dir: &Path) -> Result<DeliveryConfig, ConfigError> {
    let defaults = DeliveryConfig::defaults(data_dir);
    let allowed_dirs = raw.allowed_dirs.unwrap_or(defaults.allowed_dirs);
    for dir in &allowed_dirs {
        if !dir.is_absolute() || dir.parent().is_none() {
            return Err(ConfigError::Invalid {
                key: "delivery.allowed_dirs",
                value: dir.display().to_string(),
                message: "must be absolute and not /".into(),
            });
        }
    }
    let key_dir = raw.key_dir.unwrap_or(defaults.key_dir);
    if !key_dir.is_absolute() && key_dir != data_dir.join("certificate-keys") {
        return Err(ConfigError::Invalid {
            key: "delivery.key_dir",
            value: key_dir.display().to_string(),
            message: "must be absolute".into(),
        });
    }
    Ok(DeliveryConfig {
        enabled: raw.enabled.unwrap_or(true),
        allowed_dirs,
        reload_programs: raw.reload_programs.unwrap_or(defaults.reload_programs),
        key_dir,
        reload_timeout: duration(
            "delivery.reload_timeout",
            raw.reload_timeout.as_deref(),
            "30s",
        )?,
    })
}
