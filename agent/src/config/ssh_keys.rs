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
    /// In file mode, make sshd read the managed files through a drop-in (default true).
    pub configure_sshd: Option<bool>,
    /// That drop-in (default `/etc/ssh/sshd_config.d/10-unity-authorized-keys.conf`).
    pub sshd_drop_in: Option<PathBuf>,
}

/// The validated `[ssh_keys]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshKeysConfig {
    pub enabled: bool,
    pub authorized_keys_file: String,
    pub managed_dir: PathBuf,
    pub users: Vec<String>,
    pub min_uid: u32,
    pub configure_sshd: bool,
    pub sshd_drop_in: PathBuf,
    /// What the agent remembers of the blocks it wrote (`<data_dir>/ssh-access.json`).
    pub state_file: PathBuf,
    /// A passwd-format file to read users from instead of NSS (`getpwnam_r`); not in the
    /// file, `None` outside tests.
    pub passwd_file: Option<PathBuf>,
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
            configure_sshd: true,
            sshd_drop_in: PathBuf::from("/etc/ssh/sshd_config.d/10-unity-authorized-keys.conf"),
            state_file: data_dir.join("ssh-access.json"),
            passwd_file: None,
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
    let sshd_drop_in = raw.sshd_drop_in.unwrap_or(defaults.sshd_drop_in);
    if !sshd_drop_in.is_absolute() || sshd_drop_in.parent().is_none() {
        return Err(ConfigError::Invalid {
            key: "ssh_keys.sshd_drop_in",
            value: sshd_drop_in.display().to_string(),
            message: "must be absolute and not /".into(),
        });
    }
    if managed_dir.to_string_lossy().contains(char::is_control) {
        return Err(ConfigError::Invalid {
            key: "ssh_keys.managed_dir",
            value: managed_dir.display().to_string(),
            message: "must not contain control characters (it goes into an sshd drop-in)".into(),
        });
    }
    Ok(SshKeysConfig {
        enabled: raw.enabled.unwrap_or(true),
        configure_sshd: raw.configure_sshd.unwrap_or(true),
        sshd_drop_in,
        authorized_keys_file,
        managed_dir,
        users: raw.users.unwrap_or(defaults.users),
        min_uid: raw.min_uid.unwrap_or(defaults.min_uid),
        ..defaults
    })
}
