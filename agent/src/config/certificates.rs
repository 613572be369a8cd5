//! The `[certificates]` table: what the certificate inventory walks and probes, how often, and
//! its caps. Defaults are documented in `packaging/agent.toml` (docs/certificates/inventory.md).

use super::{duration, ConfigError};
use crate::collect::certificates::{Caps, CertificatesConfig};
use serde::Deserialize;
use std::path::PathBuf;

/// The `[certificates]` table.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCertificatesConfig {
    /// Take the inventory at all (default true).
    pub enabled: Option<bool>,
    /// How often, e.g. "1h" (the first round runs at start).
    pub interval: Option<String>,
    /// The paths walked, replacing the defaults.
    pub paths: Option<Vec<PathBuf>>,
    /// Paths walked besides `paths`.
    pub extra_paths: Option<Vec<PathBuf>>,
    /// Shake hands with the host's listening TCP ports (default true).
    pub probe_ports: Option<bool>,
    /// Per port: connect and handshake, e.g. "2s".
    pub probe_timeout: Option<String>,
    /// Handshakes at once.
    pub probe_concurrency: Option<usize>,
    /// Ports tried per round.
    pub max_ports: Option<usize>,
    /// Files read per round.
    pub max_files: Option<u32>,
    /// A larger file is not read.
    pub max_file_bytes: Option<u64>,
    /// Directory levels below each path.
    pub max_depth: Option<u32>,
    /// Certificates kept per round.
    pub max_certificates: Option<u32>,
}

/// The typed `[certificates]` settings.
pub fn from_raw(raw: RawCertificatesConfig) -> Result<CertificatesConfig, ConfigError> {
    let defaults = CertificatesConfig::default();
    let caps = Caps {
        max_files: raw.max_files.unwrap_or(defaults.caps.max_files),
        max_file_bytes: raw.max_file_bytes.unwrap_or(defaults.caps.max_file_bytes),
        max_depth: raw.max_depth.unwrap_or(defaults.caps.max_depth),
        max_certificates: raw
            .max_certificates
            .unwrap_or(defaults.caps.max_certificates),
        max_ports: raw.max_ports.unwrap_or(defaults.caps.max_ports),
        probe_timeout: duration(
            "certificates.probe_timeout",
            raw.probe_timeout.as_deref(),
            "2s",
        )?,
        probe_concurrency: raw
            .probe_concurrency
            .unwrap_or(defaults.caps.probe_concurrency)
            .max(1),
    };
    let paths = raw.paths.unwrap_or(defaults.paths);
    let extra_paths = raw.extra_paths.unwrap_or_default();
    if let Some(path) = paths
        .iter()
        .chain(&extra_paths)
        .find(|path| !path.is_absolute())
    {
        return Err(ConfigError::Invalid {
            key: "certificates.paths",
            value: path.display().to_string(),
            message: "must be an absolute path".into(),
        });
    }
    Ok(CertificatesConfig {
        enabled: raw.enabled.unwrap_or(defaults.enabled),
        interval: duration("certificates.interval", raw.interval.as_deref(), "1h")?,
        paths,
        extra_paths,
        probe_ports: raw.probe_ports.unwrap_or(defaults.probe_ports),
        caps,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, RawConfig};
    use std::time::Duration;

    #[test]
    fn issue_15_certificates_section_defaults_and_errors() {
        let config = Config::from_raw(RawConfig::default()).unwrap();
        assert_eq!(config.certificates, CertificatesConfig::default());
        assert_eq!(config.certificates.interval, Duration::from_secs(3600));
        let raw: RawConfig = toml::from_str(
            "[certificates]\ninterval = \"30m\"\nextra_paths = [\"/srv/certs\"]\nprobe_ports = false\nmax_files = 10",
        )
        .unwrap();
        let config = Config::from_raw(raw).unwrap();
        assert_eq!(config.certificates.interval, Duration::from_secs(1800));
        assert_eq!(
            config.certificates.extra_paths,
            vec![PathBuf::from("/srv/certs")]
        );
        assert!(!config.certificates.probe_ports);
        assert_eq!(config.certificates.caps.max_files, 10);
        let raw: RawConfig = toml::from_str("[certificates]\npaths = [\"certs\"]").unwrap();
        let error = Config::from_raw(raw).unwrap_err().to_string();
        assert!(error.contains("certificates.paths"), "{error}");
        assert!(toml::from_str::<RawConfig>("[certificates]\npath = []").is_err());
    }

    #[test]
    fn issue_15_packaged_certificates_section_is_the_default() {
        let text = crate::config::packaged_uncommented();
        let raw: RawConfig = toml::from_str(&text).unwrap();
        let mut config = Config::from_raw(raw).unwrap().certificates;
        assert_eq!(config.extra_paths, vec![PathBuf::from("/srv/certs")]);
        config.extra_paths.clear();
        assert_eq!(config, CertificatesConfig::default());
    }
}
