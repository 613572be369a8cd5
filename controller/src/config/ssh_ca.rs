//! The `[ssh_ca]` section: the SSH certificate authority, off by default (defaults in
//! `packaging/controller.toml`, see docs/ssh-ca.md).

use super::error::ConfigError;
use super::values::{duration, invalid};
use serde::Deserialize;
use std::time::Duration;

/// `[ssh_ca]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSshCa {
    /// Run the SSH CA at all (default false): its key is made on `ssh ca init` or first use.
    pub enabled: Option<bool>,
    /// Validity of host certificates in days (renewed at two thirds).
    pub host_certificate_days: Option<u64>,
    /// Longest validity a user certificate may ask for, e.g. "24h".
    pub max_user_ttl: Option<String>,
    /// Validity of a user certificate that names none, e.g. "8h".
    pub default_user_ttl: Option<String>,
    /// Domains the `@cert-authority` known_hosts line is restricted to (`*.home.arpa`);
    /// empty: `*`.
    pub known_hosts_domains: Option<Vec<String>>,
    /// How often the renewal loop looks for hosts due, e.g. "60s".
    pub check_interval: Option<String>,
}

/// The validated `[ssh_ca]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshCaConfig {
    pub enabled: bool,
    pub host_certificate_days: u64,
    pub max_user_ttl: Duration,
    pub default_user_ttl: Duration,
    pub known_hosts_domains: Vec<String>,
    pub check_interval: Duration,
}

impl Default for SshCaConfig {
    fn default() -> SshCaConfig {
        SshCaConfig {
            enabled: false,
            host_certificate_days: 30,
            max_user_ttl: Duration::from_secs(24 * 3600),
            default_user_ttl: Duration::from_secs(8 * 3600),
            known_hosts_domains: Vec::new(),
            check_interval: Duration::from_secs(60),
        }
    }
}

impl SshCaConfig {
    pub fn from_raw(raw: RawSshCa) -> Result<SshCaConfig, ConfigError> {
        let defaults = SshCaConfig::default();
        let days = raw
            .host_certificate_days
            .unwrap_or(defaults.host_certificate_days);
        if !(1..=3650).contains(&days) {
            return Err(invalid(
                "ssh_ca.host_certificate_days",
                days.to_string(),
                "must be 1 to 3650",
            ));
        }
        let max_user_ttl = duration("ssh_ca.max_user_ttl", raw.max_user_ttl.as_deref(), "24h")?;
        let default_user_ttl = duration(
            "ssh_ca.default_user_ttl",
            raw.default_user_ttl.as_deref(),
            "8h",
        )?;
        if default_user_ttl > max_user_ttl {
            return Err(invalid(
                "ssh_ca.default_user_ttl",
                humantime::format_duration(default_user_ttl).to_string(),
                "must not be longer than max_user_ttl",
            ));
        }
        let known_hosts_domains = raw.known_hosts_domains.unwrap_or_default();
        for domain in &known_hosts_domains {
            let valid = !domain.is_empty()
                && domain
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'*'));
            if !valid {
                return Err(invalid(
                    "ssh_ca.known_hosts_domains",
                    domain.clone(),
                    "must be a domain (letters, digits, '.', '-', '*')",
                ));
            }
        }
        Ok(SshCaConfig {
            enabled: raw.enabled.unwrap_or(defaults.enabled),
            host_certificate_days: days,
            max_user_ttl,
            default_user_ttl,
            known_hosts_domains,
            check_interval: duration(
                "ssh_ca.check_interval",
                raw.check_interval.as_deref(),
                "60s",
            )?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_packaged_keys_are_the_defaults() {
        let packaged = include_str!("../../../packaging/controller.toml");
        let section = packaged
            .split("# [ssh_ca]")
            .nth(1)
            .unwrap()
            .split("# [certificates]")
            .next()
            .unwrap()
            .lines()
            .filter_map(|line| line.strip_prefix("# ").filter(|rest| rest.contains(" = ")))
            .filter(|line| !line.starts_with("known_hosts_domains"))
            .collect::<Vec<_>>()
            .join("\n");
        let raw: RawSshCa = toml::from_str(&section).unwrap();
        assert_eq!(SshCaConfig::from_raw(raw).unwrap(), SshCaConfig::default());
        assert_eq!(
            SshCaConfig::from_raw(RawSshCa::default()).unwrap(),
            SshCaConfig::default()
        );
    }

    #[test]
    fn bad_values_name_their_key() {
        let parse = |text: &str| SshCaConfig::from_raw(toml::from_str(text).unwrap());
        let error = parse("host_certificate_days = 0").unwrap_err().to_string();
        assert!(error.contains("host_certificate_days"), "{error}");
        let error = parse("max_user_ttl = \"1h\"").unwrap_err().to_string();
        assert!(error.contains("default_user_ttl"), "{error}");
        let error = parse("known_hosts_domains = [\"a b\"]")
            .unwrap_err()
            .to_string();
        assert!(error.contains("known_hosts_domains"), "{error}");
    }
}
