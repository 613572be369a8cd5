//! The `[backup]` section: scheduled backups of the controller to a directory, off by default
//! (defaults in `packaging/controller.toml`; see docs/backup.md).

use super::error::ConfigError;
use super::values::{duration, invalid};
use serde::Deserialize;
use std::path::PathBuf;
use std::time::Duration;

/// `[backup]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBackup {
    /// Where scheduled archives go (created 0700 if missing); unset: no scheduled backups.
    pub dir: Option<PathBuf>,
    /// How often, e.g. "1d" (default), "6h"; at least a minute.
    pub interval: Option<String>,
    /// How many archives to keep (default 7, at least 1); older ones are deleted after a
    /// backup succeeded, never after one failed.
    pub keep: Option<usize>,
    /// A file holding the passphrase the archives are encrypted with (its first line);
    /// unset: archives are not encrypted.
    pub passphrase_file: Option<PathBuf>,
}

/// The validated `[backup]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupConfig {
    /// `None`: scheduled backups are off.
    pub dir: Option<PathBuf>,
    pub interval: Duration,
    pub keep: usize,
    pub passphrase_file: Option<PathBuf>,
}

impl Default for BackupConfig {
    fn default() -> BackupConfig {
        BackupConfig {
            dir: None,
            interval: Duration::from_secs(86_400),
            keep: 7,
            passphrase_file: None,
        }
    }
}

impl BackupConfig {
    pub fn from_raw(raw: RawBackup) -> Result<BackupConfig, ConfigError> {
        let defaults = BackupConfig::default();
        let interval = duration("backup.interval", raw.interval.as_deref(), "1d")?;
        if interval < Duration::from_secs(60) {
            return Err(invalid(
                "backup.interval",
                raw.interval.unwrap_or_default(),
                "must be at least 1m",
            ));
        }
        let keep = raw.keep.unwrap_or(defaults.keep);
        if keep == 0 {
            return Err(invalid("backup.keep", "0", "must be at least 1"));
        }
        if let Some(dir) = &raw.dir {
            if !dir.is_absolute() {
                return Err(invalid(
                    "backup.dir",
                    dir.display().to_string(),
                    "must be an absolute path",
                ));
            }
        }
        Ok(BackupConfig {
            dir: raw.dir,
            interval,
            keep,
            passphrase_file: raw.passphrase_file,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<BackupConfig, ConfigError> {
        BackupConfig::from_raw(toml::from_str(text).unwrap())
    }

    #[test]
    fn off_by_default_with_documented_defaults() {
        let config = parse("").unwrap();
        assert_eq!(config, BackupConfig::default());
        assert_eq!(config.dir, None);
        assert_eq!(config.interval, Duration::from_secs(86_400));
        assert_eq!(config.keep, 7);
    }

    #[test]
    fn values_are_checked() {
        let config = parse("dir = \"/var/backups/unity\"\ninterval = \"6h\"\nkeep = 3").unwrap();
        assert_eq!(config.interval, Duration::from_secs(6 * 3600));
        assert_eq!(config.keep, 3);
        assert!(parse("keep = 0").is_err());
        assert!(parse("interval = \"10s\"").is_err());
        assert!(parse("dir = \"relative\"").is_err());
        assert!(toml::from_str::<RawBackup>("directory = \"/x\"").is_err());
    }
}
