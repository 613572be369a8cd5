//! The `[ssh]` section's managed-keys settings: how often every connected host is sent its
//! desired keys again (which is also how often hand edits are found). Defaults in
//! `packaging/controller.toml`; see docs/ssh.md.

use super::error::ConfigError;
use serde::Deserialize;
use std::time::Duration;

/// `[ssh]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSsh {
    /// How often every connected host is sent its managed keys again, e.g. "1m".
    pub reconcile_interval: Option<String>,
}

/// The validated `[ssh]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshConfig {
    pub reconcile_interval: Duration,
}

impl Default for SshConfig {
    fn default() -> SshConfig {
        SshConfig {
            reconcile_interval: Duration::from_secs(60),
        }
    }
}

impl SshConfig {
    pub fn from_raw(raw: RawSsh) -> Result<SshConfig, ConfigError> {
        let text = raw.reconcile_interval.as_deref().unwrap_or("1m");
        let reconcile_interval =
            humantime::parse_duration(text).map_err(|error| ConfigError::Invalid {
                key: "ssh.reconcile_interval",
                value: text.to_owned(),
                message: error.to_string(),
            })?;
        if reconcile_interval < Duration::from_secs(1) {
            return Err(ConfigError::Invalid {
                key: "ssh.reconcile_interval",
                value: text.to_owned(),
                message: "must be at least 1s".into(),
            });
        }
        Ok(SshConfig { reconcile_interval })
    }
}
