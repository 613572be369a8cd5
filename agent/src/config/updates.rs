//! The `[updates]` table: the optional vulnerability scanners (Trivy, Grype) the agent uses
//! for the vulnerability gate and the scans it reports (issue 17 §2). Defaults documented in
//! `packaging/agent.toml`; see docs/updates.md, "Vulnerability gate".

use super::{duration, ConfigError};
use serde::Deserialize;
use std::time::Duration;

/// The `[updates]` table as written.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawUpdatesConfig {
    /// `auto` (default: scan when `trivy` or `grype` is on the PATH) or `off`.
    pub vulnerability_scan: Option<String>,
    /// The longest one scan may take ("10m").
    pub scan_timeout: Option<String>,
    /// How often the running containers' images are scanned again ("24h"); a scan younger
    /// than this is taken from the cache.
    pub scan_interval: Option<String>,
}

/// The validated `[updates]` (the runtime makes `update::scan::ScanSettings` of it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdatesConfig {
    /// `vulnerability_scan = "auto"`: scan when a scanner is installed.
    pub vulnerability_scan: bool,
    pub scan_timeout: Duration,
    pub scan_interval: Duration,
}

impl Default for UpdatesConfig {
    fn default() -> UpdatesConfig {
        UpdatesConfig {
            vulnerability_scan: true,
            scan_timeout: Duration::from_secs(600),
            scan_interval: Duration::from_secs(24 * 3600),
        }
    }
}

/// Validates the table.
pub fn from_raw(raw: RawUpdatesConfig) -> Result<UpdatesConfig, ConfigError> {
    let vulnerability_scan = match raw.vulnerability_scan.as_deref().map(str::trim) {
        None | Some("auto") => true,
        Some("off") => false,
        Some(other) => {
            return Err(ConfigError::Invalid {
                key: "updates.vulnerability_scan",
                value: other.to_owned(),
                message: "expected \"auto\" or \"off\"".into(),
            })
        }
    };
    Ok(UpdatesConfig {
        vulnerability_scan,
        scan_timeout: duration("updates.scan_timeout", raw.scan_timeout.as_deref(), "10m")?,
        scan_interval: duration("updates.scan_interval", raw.scan_interval.as_deref(), "24h")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue_17_updates_table_reads_the_scan_switch() {
        assert_eq!(
            from_raw(RawUpdatesConfig::default()).unwrap(),
            UpdatesConfig::default()
        );
        let raw = RawUpdatesConfig {
            vulnerability_scan: Some("off".into()),
            scan_timeout: Some("2m".into()),
            scan_interval: Some("6h".into()),
        };
        let settings = from_raw(raw).unwrap();
        assert!(!settings.vulnerability_scan);
        assert_eq!(settings.scan_timeout, Duration::from_secs(120));
        assert_eq!(settings.scan_interval, Duration::from_secs(6 * 3600));
        let bad = RawUpdatesConfig {
            vulnerability_scan: Some("yes".into()),
            ..RawUpdatesConfig::default()
        };
        assert!(from_raw(bad).is_err());
    }
}
