//! Agent configuration: `RawConfig` is the TOML file (every key optional, defaults
//! documented in `packaging/agent.toml`); [`Config`] is the validated form.

use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::collect::certificates::CertificatesConfig;
use crate::collect::containers::{ContainersConfig, SocketSetting};
use crate::collect::databases::run::{DatabasesConfig, RawDatabasesConfig};
use crate::collect::mdraid::RaidConfig;
use crate::collect::plugins::PluginsConfig;
use crate::collect::smart::SmartConfig;
use crate::collect::zfs::ZfsConfig;

pub mod certificates;
pub mod delivery;
pub mod plugins;
pub mod ssh_keys;
pub mod sshd;
pub mod updates;

pub const DEFAULT_CONFIG_PATH: &str = "/etc/unity/agent.toml";
pub const DEFAULT_DATA_DIR: &str = "/var/lib/unity-agent";

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// Controller `HOST:PORT`; defaults to the address used at enrollment.
    pub controller: Option<String>,
    /// Identity, spool and status live here.
    pub data_dir: Option<PathBuf>,
    /// How often to collect, e.g. "15s".
    pub interval: Option<String>,
    /// How often to send a heartbeat when idle, e.g. "30s".
    pub heartbeat: Option<String>,
    /// How long a report or heartbeat may wait for the controller's answer before the agent
    /// drops the connection and reconnects, e.g. "20s".
    pub controller_timeout: Option<String>,
    /// Upper bound of the on-disk spool in bytes; the oldest reports go first past it.
    pub spool_max_bytes: Option<u64>,
    /// Disks (SMART), ZFS pools and md RAID arrays.
    #[serde(default)]
    pub storage: RawStorageConfig,
    /// Database discovery and probes.
    #[serde(default)]
    pub databases: RawDatabasesConfig,
    /// The Docker or Podman container inventory.
    #[serde(default)]
    pub containers: RawContainersConfig,
    /// Textfiles, local exporters and check scripts.
    #[serde(default)]
    pub plugins: plugins::RawPluginsConfig,
    /// The certificate inventory (files and TLS ports).
    #[serde(default)]
    pub certificates: certificates::RawCertificatesConfig,
    /// Managed certificates: where they may be written, which reloads may run.
    #[serde(default)]
    pub delivery: delivery::RawDeliveryConfig,
    /// The SSH CA's sshd drop-in: host keys, Unity's files, `sshd -t`, the reload.
    #[serde(default)]
    pub sshd: sshd::RawSshdConfig,
    /// Managed SSH authorized keys: where they are written, which users may be managed.
    #[serde(default)]
    pub ssh_keys: ssh_keys::RawSshKeysConfig,
    /// The optional vulnerability scanners for the update gate.
    #[serde(default)]
    pub updates: updates::RawUpdatesConfig,
}

/// The `[containers]` table.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawContainersConfig {
    /// Collect the container inventory at all (default true; hosts without an engine report
    /// "no container engine socket found").
    pub enabled: Option<bool>,
    /// `"auto"` (default: `DOCKER_HOST` if `unix://`, then the well-known Docker and Podman
    /// sockets) or a socket path.
    pub socket: Option<String>,
    /// How often to take a full inventory with resource usage, e.g. "60s".
    pub interval: Option<String>,
    /// Longest one API call may take, e.g. "10s".
    pub timeout: Option<String>,
    /// Read CPU and memory use of running containers (default true).
    pub stats: Option<bool>,
    /// How long to gather events before reporting them, e.g. "1s".
    pub event_debounce: Option<String>,
    /// Updates: how long the previous image is kept after an update, e.g. "7d".
    pub keep_old_image: Option<String>,
    /// Updates: backups kept per container (default 10).
    pub keep_backups: Option<usize>,
    /// Updates: bytes one container's backups may hold together (default 10 GiB).
    pub backup_max_bytes: Option<u64>,
    /// Updates: `auto` (default), `volume`, `dump` or `off`.
    pub data_restore: Option<String>,
    /// Updates: how long a failed candidate image is kept for inspection, e.g. "7d".
    pub failed_image_retention: Option<String>,
    /// Updates: environment variables (name patterns, `*` and `?`) whose values are not sent
    /// to the controller with a backup.
    pub backup_env_exclude: Option<Vec<String>>,
}

fn containers_from_raw(raw: RawContainersConfig) -> Result<ContainersConfig, ConfigError> {
    let defaults = ContainersConfig::default();
    let socket = match raw.socket.as_deref().map(str::trim) {
        None | Some("auto") => SocketSetting::Auto,
        Some(path) => {
            let path = path.strip_prefix("unix://").unwrap_or(path);
            if !path.starts_with('/') {
                return Err(ConfigError::Invalid {
                    key: "containers.socket",
                    value: path.to_owned(),
                    message: "must be \"auto\" or an absolute socket path".into(),
                });
            }
            SocketSetting::Path(PathBuf::from(path))
        }
    };
    Ok(ContainersConfig {
        enabled: raw.enabled.unwrap_or(defaults.enabled),
        socket,
        interval: duration("containers.interval", raw.interval.as_deref(), "60s")?,
        timeout: duration("containers.timeout", raw.timeout.as_deref(), "10s")?,
        stats: raw.stats.unwrap_or(defaults.stats),
        event_debounce: duration(
            "containers.event_debounce",
            raw.event_debounce.as_deref(),
            "1s",
        )?,
        keep_old_image: duration(
            "containers.keep_old_image",
            raw.keep_old_image.as_deref(),
            "7d",
        )?,
        keep_backups: raw.keep_backups.unwrap_or(defaults.keep_backups).max(1),
        backup_max_bytes: raw.backup_max_bytes.unwrap_or(defaults.backup_max_bytes),
        data_restore: match raw.data_restore.as_deref().map(str::trim) {
            None => defaults.data_restore,
            Some(word @ ("auto" | "volume" | "dump" | "off")) => word.to_owned(),
            Some(other) => {
                return Err(ConfigError::Invalid {
                    key: "containers.data_restore",
                    value: other.to_owned(),
                    message: "must be \"auto\", \"volume\", \"dump\" or \"off\"".into(),
                })
            }
        },
        failed_image_retention: duration(
            "containers.failed_image_retention",
            raw.failed_image_retention.as_deref(),
            "7d",
        )?,
        backup_env_exclude: raw
            .backup_env_exclude
            .unwrap_or(defaults.backup_env_exclude),
    })
}

/// The `[storage]` table.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStorageConfig {
    /// Collect storage health at all.
    pub enabled: Option<bool>,
    /// How often, e.g. "5m" (SMART reads are cheap but not free; standby disks are skipped).
    pub interval: Option<String>,
    /// Per tool invocation.
    pub timeout: Option<String>,
    pub smartctl: Option<PathBuf>,
    pub zpool: Option<PathBuf>,
    pub zfs: Option<PathBuf>,
    pub mdadm: Option<PathBuf>,
    pub mdstat: Option<PathBuf>,
}

/// Typed storage collection settings.
#[derive(Debug, Clone)]
pub struct StorageConfig {
    pub enabled: bool,
    pub interval: Duration,
    pub smart: SmartConfig,
    pub zfs: ZfsConfig,
    pub raid: RaidConfig,
}

impl StorageConfig {
    fn from_raw(raw: RawStorageConfig) -> Result<StorageConfig, ConfigError> {
        let timeout = duration("storage.timeout", raw.timeout.as_deref(), "30s")?;
        let mut smart = SmartConfig {
            timeout,
            ..SmartConfig::default()
        };
        if let Some(path) = raw.smartctl {
            smart.smartctl_path = path;
        }
        let mut zfs = ZfsConfig {
            timeout,
            ..ZfsConfig::default()
        };
        if let Some(path) = raw.zpool {
            zfs.zpool_path = path;
        }
        if let Some(path) = raw.zfs {
            zfs.zfs_path = path;
        }
        let mut raid = RaidConfig {
            timeout,
            ..RaidConfig::default()
        };
        if let Some(path) = raw.mdadm {
            raid.mdadm_path = Some(path);
        }
        if let Some(path) = raw.mdstat {
            raid.mdstat_path = path;
        }
        Ok(StorageConfig {
            enabled: raw.enabled.unwrap_or(true),
            interval: duration("storage.interval", raw.interval.as_deref(), "5m")?,
            smart,
            zfs,
            raid,
        })
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub controller: Option<String>,
    pub data_dir: PathBuf,
    pub interval: Duration,
    pub heartbeat: Duration,
    pub controller_timeout: Duration,
    pub spool_max_bytes: u64,
    pub storage: StorageConfig,
    pub databases: DatabasesConfig,
    pub containers: ContainersConfig,
    pub plugins: PluginsConfig,
    pub certificates: CertificatesConfig,
    pub delivery: delivery::DeliveryConfig,
    pub sshd: sshd::SshdConfig,
    pub ssh_keys: ssh_keys::SshKeysConfig,
    /// `[updates]`: the vulnerability scanners.
    pub updates: updates::UpdatesConfig,
    /// Where the machine fingerprint is read (not in the file; tests point it elsewhere).
    pub machine: crate::instance::MachineSources,
}

/// A configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("reading {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML or has unknown keys.
    #[error("parsing {path}: {message}")]
    Parse { path: PathBuf, message: String },
    /// A section is invalid as a whole; the message names the key.
    #[error("{0}")]
    Section(String),
    /// A value has the wrong form.
    #[error("{key} = {value:?}: {message}")]
    Invalid {
        key: &'static str,
        value: String,
        message: String,
    },
}

pub(crate) fn duration(
    key: &'static str,
    value: Option<&str>,
    default: &str,
) -> Result<Duration, ConfigError> {
    let text = value.unwrap_or(default);
    let parsed = humantime::parse_duration(text).map_err(|error| ConfigError::Invalid {
        key,
        value: text.to_owned(),
        message: error.to_string(),
    })?;
    if parsed < Duration::from_millis(100) {
        return Err(ConfigError::Invalid {
            key,
            value: text.to_owned(),
            message: "must be at least 100ms".into(),
        });
    }
    Ok(parsed)
}

impl RawConfig {
    /// Reads `path`; a missing file is fine unless the user named it explicitly.
    pub fn load(path: &Path, required: bool) -> Result<RawConfig, ConfigError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound && !required => {
                return Ok(RawConfig::default())
            }
            Err(source) => {
                return Err(ConfigError::Read {
                    path: path.to_owned(),
                    source,
                })
            }
        };
        toml::from_str(&text).map_err(|error| ConfigError::Parse {
            path: path.to_owned(),
            message: error.to_string(),
        })
    }
}

impl Config {
    pub fn from_raw(raw: RawConfig) -> Result<Config, ConfigError> {
        let data_dir = raw
            .data_dir
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
        Ok(Config {
            controller: raw.controller,
            delivery: delivery::from_raw(raw.delivery, &data_dir)?,
            ssh_keys: ssh_keys::from_raw(raw.ssh_keys, &data_dir)?,
            updates: updates::from_raw(raw.updates)?,
            data_dir,
            interval: duration("interval", raw.interval.as_deref(), "15s")?,
            heartbeat: duration("heartbeat", raw.heartbeat.as_deref(), "30s")?,
            controller_timeout: duration(
                "controller_timeout",
                raw.controller_timeout.as_deref(),
                "20s",
            )?,
            spool_max_bytes: raw.spool_max_bytes.unwrap_or(256 * 1024 * 1024),
            storage: StorageConfig::from_raw(raw.storage)?,
            databases: DatabasesConfig::from_raw(raw.databases)
                .map_err(|error| ConfigError::Section(error.to_string()))?,
            containers: containers_from_raw(raw.containers)?,
            plugins: plugins::from_raw(raw.plugins, raw.interval.as_deref().unwrap_or("15s"))?,
            certificates: certificates::from_raw(raw.certificates)?,
            sshd: sshd::from_raw(raw.sshd)?,
            machine: crate::instance::MachineSources::default(),
        })
    }

    /// Defaults with the given data directory (tests, quickstart).
    pub fn with_data_dir(data_dir: PathBuf) -> Config {
        let raw = RawConfig {
            data_dir: Some(data_dir),
            ..RawConfig::default()
        };
        match Config::from_raw(raw) {
            Ok(config) => config,
            Err(error) => unreachable!("the defaults are valid: {error}"),
        }
    }

    /// What to log at startup.
    pub fn redacted(&self) -> String {
        format!(
            "controller={} data_dir={} interval={:?} heartbeat={:?} controller_timeout={:?} spool_max_bytes={} storage={} every {:?} containers={} every {:?} socket={}",
            self.controller.as_deref().unwrap_or("(from enrollment)"),
            self.data_dir.display(),
            self.interval,
            self.heartbeat,
            self.controller_timeout,
            self.spool_max_bytes,
            if self.storage.enabled { "on" } else { "off" },
            self.storage.interval,
            if self.containers.enabled { "on" } else { "off" },
            self.containers.interval,
            match &self.containers.socket {
                SocketSetting::Auto => "auto".to_owned(),
                SocketSetting::Path(path) => path.display().to_string(),
            },
        )
    }
}

/// The packaged `agent.toml` with every commented `key = value` and `[section]` line
/// enabled: what an owner gets by uncommenting the examples.
#[cfg(test)]
pub(crate) fn packaged_uncommented() -> String {
    include_str!("../../../packaging/agent.toml")
        .lines()
        .map(|line| {
            line.strip_prefix("# ")
                .filter(|rest| rest.contains(" = ") || rest.starts_with('['))
                .unwrap_or(line)
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packaged_config_parses_to_the_defaults() {
        let raw: RawConfig = toml::from_str(include_str!("../../../packaging/agent.toml")).unwrap();
        let config = Config::from_raw(raw).unwrap();
        let defaults = Config::with_data_dir(PathBuf::from(DEFAULT_DATA_DIR));
        assert_eq!(config.data_dir, defaults.data_dir);
        assert_eq!(config.interval, defaults.interval);
        assert_eq!(config.spool_max_bytes, defaults.spool_max_bytes);
    }

    #[test]
    fn issue_17_packaged_containers_section_is_the_default() {
        let text = crate::config::packaged_uncommented();
        let raw: RawConfig = toml::from_str(&text).unwrap();
        let config = Config::from_raw(raw).unwrap().containers;
        let defaults = ContainersConfig::default();
        assert_eq!(config.keep_backups, defaults.keep_backups);
        assert_eq!(config.backup_max_bytes, defaults.backup_max_bytes);
        assert_eq!(config.data_restore, defaults.data_restore);
        assert_eq!(config.keep_old_image, defaults.keep_old_image);
        let raw: RawConfig = toml::from_str("[containers]\ndata_restore = \"tape\"").unwrap();
        let error = Config::from_raw(raw).unwrap_err().to_string();
        assert!(error.contains("containers.data_restore"), "{error}");
    }

    #[test]
    fn a_key_appended_to_the_packaged_config_is_top_level() {
        // Owners (and the package upgrade test) append settings at the end: no section header
        // may be left active there to swallow them.
        let text = format!(
            "{}\ninterval = \"30s\"\n",
            include_str!("../../../packaging/agent.toml")
        );
        let raw: RawConfig = toml::from_str(&text).unwrap();
        let config = Config::from_raw(raw).unwrap();
        assert_eq!(config.interval, Duration::from_secs(30));
    }

    #[test]
    fn issue_17_the_whole_packaged_containers_section_is_the_default() {
        let text = crate::config::packaged_uncommented();
        let raw: RawConfig = toml::from_str(&text).unwrap();
        let config = Config::from_raw(raw).unwrap();
        assert_eq!(config.containers, ContainersConfig::default());
    }

    #[test]
    fn packaged_config_examples_parse_when_uncommented() {
        // Every commented `key = value` line of the packaged file must be valid when enabled.
        let text = crate::config::packaged_uncommented();
        let raw: RawConfig = toml::from_str(&text).unwrap();
        let config = Config::from_raw(raw).unwrap();
        // A password file example and a secrets-store example (issue 16).
        assert_eq!(config.databases.targets.len(), 2);
        let secret = config.databases.targets[1].credentials.as_ref().unwrap();
        assert_eq!(
            secret.password_secret.as_ref().map(|name| name.as_str()),
            Some("pg-monitor")
        );
        assert_eq!(config.storage.interval, Duration::from_secs(300));
        assert_eq!(config.containers, ContainersConfig::default());
        // The plugin defaults as written, plus the one example exporter.
        let mut plugins = config.plugins.clone();
        assert_eq!(plugins.exporters.len(), 1);
        plugins.exporters.clear();
        assert_eq!(plugins, crate::collect::plugins::PluginsConfig::default());
        assert_eq!(
            config.delivery,
            delivery::DeliveryConfig::defaults(Path::new(DEFAULT_DATA_DIR))
        );
        assert_eq!(config.sshd, sshd::SshdConfig::default());
        assert_eq!(
            config.ssh_keys,
            ssh_keys::SshKeysConfig::defaults(Path::new(DEFAULT_DATA_DIR))
        );
        assert_eq!(config.updates, updates::UpdatesConfig::default());
    }

    #[test]
    fn containers_section() {
        let config = Config::from_raw(RawConfig::default()).unwrap();
        assert_eq!(config.containers, ContainersConfig::default());
        let raw: RawConfig = toml::from_str(
            "[containers]\nsocket = \"unix:///run/podman/podman.sock\"\ninterval = \"2m\"\nstats = false\n\
             keep_old_image = \"2d\"\nkeep_backups = 3\nbackup_max_bytes = 1000\ndata_restore = \"dump\"\n\
             failed_image_retention = \"1h\"\nbackup_env_exclude = [\"MY_*\"]",
        )
        .unwrap();
        let config = Config::from_raw(raw).unwrap();
        assert_eq!(
            config.containers.keep_old_image,
            Duration::from_secs(2 * 86400)
        );
        assert_eq!(config.containers.keep_backups, 3);
        assert_eq!(config.containers.backup_max_bytes, 1000);
        assert_eq!(config.containers.data_restore, "dump");
        assert_eq!(
            config.containers.failed_image_retention,
            Duration::from_secs(3600)
        );
        assert_eq!(config.containers.backup_env_exclude, ["MY_*"]);
        assert_eq!(
            config.containers.socket,
            SocketSetting::Path(PathBuf::from("/run/podman/podman.sock"))
        );
        assert_eq!(config.containers.interval, Duration::from_secs(120));
        assert!(!config.containers.stats);
        let raw: RawConfig = toml::from_str("[containers]\nsocket = \"docker.sock\"").unwrap();
        let error = Config::from_raw(raw).unwrap_err().to_string();
        assert!(error.contains("containers.socket"), "{error}");
        assert!(toml::from_str::<RawConfig>("[containers]\nsockett = \"auto\"").is_err());
    }

    #[test]
    fn defaults_and_errors() {
        let config = Config::from_raw(RawConfig::default()).unwrap();
        assert_eq!(config.interval, Duration::from_secs(15));
        assert!(toml::from_str::<RawConfig>("intervall = \"1s\"").is_err());
        let raw: RawConfig = toml::from_str("interval = \"0s\"").unwrap();
        assert!(Config::from_raw(raw)
            .unwrap_err()
            .to_string()
            .contains("interval"));
    }
}
