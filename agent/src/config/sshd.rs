//! The `[sshd]` table: where the host's sshd keeps its host keys and main configuration, where
//! the SSH CA's pieces go (Unity's directory and drop-in), how the configuration is checked and
//! how sshd is reloaded. Every path comes from here, never from the controller; defaults
//! documented in `packaging/agent.toml`.

use super::{duration, ConfigError};
use serde::Deserialize;
use std::path::PathBuf;
use std::time::Duration;

/// The `[sshd]` table as written.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSshdConfig {
    /// Accept the SSH CA's commands at all (default true).
    pub enabled: Option<bool>,
    /// The host public keys to have signed: paths, `*` allowed in the file name only
    /// (default `["/etc/ssh/ssh_host_*_key.pub"]`).
    pub host_keys: Option<Vec<String>>,
    /// Unity's own directory for certificates, the trusted user CA file and principals files
    /// (default `/etc/ssh/unity`).
    pub unity_dir: Option<PathBuf>,
    /// The drop-in the main configuration includes
    /// (default `/etc/ssh/sshd_config.d/50-unity.conf`).
    pub drop_in: Option<PathBuf>,
    /// The sshd binary, for `sshd -t` (default `/usr/sbin/sshd`).
    pub sshd: Option<PathBuf>,
    /// sshd's main configuration (default `/etc/ssh/sshd_config`).
    pub config: Option<PathBuf>,
    /// The reload command, argv (default `["systemctl", "reload", "ssh"]`).
    pub reload: Option<Vec<String>>,
    /// The longest `sshd -t` or the reload may take, e.g. "30s".
    pub timeout: Option<String>,
}

/// The validated `[sshd]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshdConfig {
    pub enabled: bool,
    pub host_keys: Vec<String>,
    pub unity_dir: PathBuf,
    pub drop_in: PathBuf,
    pub sshd: PathBuf,
    pub config: PathBuf,
    pub reload: Vec<String>,
    pub timeout: Duration,
}

impl Default for SshdConfig {
    fn default() -> SshdConfig {
        SshdConfig {
            enabled: true,
            host_keys: vec!["/etc/ssh/ssh_host_*_key.pub".into()],
            unity_dir: PathBuf::from("/etc/ssh/unity"),
            drop_in: PathBuf::from("/etc/ssh/sshd_config.d/50-unity.conf"),
            sshd: PathBuf::from("/usr/sbin/sshd"),
            config: PathBuf::from("/etc/ssh/sshd_config"),
            reload: vec!["systemctl".into(), "reload".into(), "ssh".into()],
            timeout: Duration::from_secs(30),
        }
    }
}

fn absolute(key: &'static str, path: PathBuf) -> Result<PathBuf, ConfigError> {
    if path.is_absolute() && path.parent().is_some() {
        Ok(path)
    } else {
        Err(ConfigError::Invalid {
            key,
            value: path.display().to_string(),
            message: "must be absolute and not /".into(),
        })
    }
}

/// Validates the table: absolute paths, `*` only in a host key's file name, a reload command.
pub fn from_raw(raw: RawSshdConfig) -> Result<SshdConfig, ConfigError> {
    let defaults = SshdConfig::default();
    let host_keys = raw.host_keys.unwrap_or(defaults.host_keys);
    for pattern in &host_keys {
        let path = std::path::Path::new(pattern);
        let parent_has_star = path
            .parent()
            .is_some_and(|parent| parent.to_string_lossy().contains('*'));
        if !path.is_absolute() || parent_has_star || !pattern.ends_with(".pub") {
            return Err(ConfigError::Invalid {
                key: "sshd.host_keys",
                value: pattern.clone(),
                message: "must be an absolute path ending in .pub, '*' only in the file name"
                    .into(),
            });
        }
    }
    let reload = raw.reload.unwrap_or(defaults.reload);
    if reload.is_empty() || reload[0].is_empty() {
        return Err(ConfigError::Invalid {
            key: "sshd.reload",
            value: format!("{reload:?}"),
            message: "must name a program".into(),
        });
    }
    Ok(SshdConfig {
        enabled: raw.enabled.unwrap_or(defaults.enabled),
        host_keys,
        unity_dir: absolute(
            "sshd.unity_dir",
            raw.unity_dir.unwrap_or(defaults.unity_dir),
        )?,
        drop_in: absolute("sshd.drop_in", raw.drop_in.unwrap_or(defaults.drop_in))?,
        sshd: raw.sshd.unwrap_or(defaults.sshd),
        config: absolute("sshd.config", raw.config.unwrap_or(defaults.config))?,
        reload,
        timeout: duration("sshd.timeout", raw.timeout.as_deref(), "30s")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_bad_values() {
        assert_eq!(
            from_raw(RawSshdConfig::default()).unwrap(),
            SshdConfig::default()
        );
        for bad in [
            "ssh_host_*_key.pub",
            "/etc/*/ssh_host_key.pub",
            "/etc/ssh/key",
        ] {
            let raw = RawSshdConfig {
                host_keys: Some(vec![bad.into()]),
                ..RawSshdConfig::default()
            };
            assert!(from_raw(raw).is_err(), "{bad}");
        }
        let raw = RawSshdConfig {
            reload: Some(Vec::new()),
            ..RawSshdConfig::default()
        };
        assert!(from_raw(raw).is_err());
    }
}
