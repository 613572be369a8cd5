//! The `[ssh_keys]` table: whether the controller may manage SSH authorized keys here, where
//! they are written, and which users it may manage at all (the agent's defence against a
//! compromised controller: by default root and regular users, never system accounts).
//! Defaults documented in `packaging/agent.toml`; see docs/ssh.md.

use super::ConfigError;
use crate::ssh_access::paths;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// The `[ssh_keys]` table as written.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSshKeysConfig {
    /// Accept managed keys at all (default true).
    pub enabled: Option<bool>,
    /// The file holding a user's managed block (`%h` home, `%u` user, `%%`).
    pub authorized_keys_file: Option<String>,
    /// The directory of the per-user files of the `File` mode.
    pub managed_dir: Option<PathBuf>,
    /// Users that may be managed whatever their uid (default `["root"]`).
    pub users: Option<Vec<String>>,
    /// Users with at least this uid may be managed too (default 1000).
    pub min_uid: Option<u32>,
}

/// The validated `[ssh_keys]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshKeysConfig {
    pub enabled: bool,
    pub authorized_keys_file: String,
    pub managed_dir: PathBuf,
    pub users: Vec<String>,
    pub min_uid: u32,
    /// What the agent remembers of the blocks it wrote (`<data_dir>/ssh-access.json`).
    pub state_file: PathBuf,
    /// The passwd database (not in the file; tests point it elsewhere).
    pub passwd_file: PathBuf,
}

impl SshKeysConfig {
    /// The defaults for an agent whose data lives in `data_dir`.
    pub fn defaults(data_dir: &Path) -> SshKeysConfig {
        SshKeysConfig {
            enabled: true,
            authorized_keys_file: "%h/.ssh/authorized_keys".into(),
            managed_dir: PathBuf::from("/etc/ssh/unity/authorized_keys"),
            users: vec!["root".into()],
            min_uid: 1000,
            state_file: data_dir.join("ssh-access.json"),
            passwd_file: PathBuf::from("/etc/passwd"),
        }
    }
}

/// Validates the table.
pub fn from_raw(raw: RawSshKeysConfig, data_dir: &Path) -> Result<SshKeysConfig, ConfigError> {
    let defaults = SshKeysConfig::defaults(data_dir);
    let authorized_keys_file = raw
        .authorized_keys_file
        .unwrap_or(defaults.authorized_keys_file);
    paths::check_pattern(&authorized_keys_file).map_err(|message| ConfigError::Invalid {
        key: "ssh_keys.authorized_keys_file",
        value: authorized_keys_file.clone(),
        message,
    })?;
    let managed_dir = raw.managed_dir.unwrap_or(defaults.managed_dir);
    if !managed_dir.is_absolute() || managed_dir.parent().is_none() {
        return Err(ConfigError::Invalid {
            key: "ssh_keys.managed_dir",
            value: managed_dir.display().to_string(),
            message: "must be absolute and not /".into(),
        });
    }
    Ok(SshKeysConfig {
        enabled: raw.enabled.unwrap_or(true),
        authorized_keys_file,
        managed_dir,
        users: raw.users.unwrap_or(defaults.users),
        min_uid: raw.min_uid.unwrap_or(defaults.min_uid),
        ..defaults
    })
}
