//! Agent configuration: `RawConfig` is the TOML file (every key optional, defaults
//! documented in `packaging/agent.toml`); [`Config`] is the validated form.

use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

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
    /// Upper bound of the on-disk spool in bytes; the oldest reports go first past it.
    pub spool_max_bytes: Option<u64>,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub controller: Option<String>,
    pub data_dir: PathBuf,
    pub interval: Duration,
    pub heartbeat: Duration,
    pub spool_max_bytes: u64,
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
    /// A value has the wrong form.
    #[error("{key} = {value:?}: {message}")]
    Invalid {
        key: &'static str,
        value: String,
        message: String,
    },
}

fn duration(key: &'static str, value: Option<&str>, default: &str) -> Result<Duration, ConfigError> {
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
        Ok(Config {
            controller: raw.controller,
            data_dir: raw
                .data_dir
                .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR)),
            interval: duration("interval", raw.interval.as_deref(), "15s")?,
            heartbeat: duration("heartbeat", raw.heartbeat.as_deref(), "30s")?,
            spool_max_bytes: raw.spool_max_bytes.unwrap_or(256 * 1024 * 1024),
        })
    }

    /// Defaults with the given data directory (tests, quickstart).
    pub fn with_data_dir(data_dir: PathBuf) -> Config {
        Config {
            controller: None,
            data_dir,
            interval: Duration::from_secs(15),
            heartbeat: Duration::from_secs(30),
            spool_max_bytes: 256 * 1024 * 1024,
        }
    }

    /// What to log at startup.
    pub fn redacted(&self) -> String {
        format!(
            "controller={} data_dir={} interval={:?} heartbeat={:?} spool_max_bytes={}",
            self.controller.as_deref().unwrap_or("(from enrollment)"),
            self.data_dir.display(),
            self.interval,
            self.heartbeat,
            self.spool_max_bytes
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_errors() {
        let config = Config::from_raw(RawConfig::default()).unwrap();
        assert_eq!(config.interval, Duration::from_secs(15));
        assert!(toml::from_str::<RawConfig>("intervall = \"1s\"").is_err());
        let raw: RawConfig = toml::from_str("interval = \"0s\"").unwrap();
        assert!(Config::from_raw(raw).unwrap_err().to_string().contains("interval"));
    }
}
