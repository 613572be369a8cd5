//! The `[certificates]` section: the services CA's name constraints and how managed
//! certificates are issued and renewed (defaults in `packaging/controller.toml`, see
//! docs/certificates.md).

use super::error::ConfigError;
use super::values::{duration, invalid};
use serde::Deserialize;
use std::time::Duration;

/// `[certificates]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCertificates {
    /// DNS subtrees the services CA may issue for (`home.arpa` permits `nas.home.arpa`);
    /// empty: any name. A change re-issues the root, which trust stores must then get again.
    pub domains: Option<Vec<String>>,
    /// IP ranges (CIDR) the services CA may issue for; empty with domains set: no IPs.
    pub ip_ranges: Option<Vec<String>>,
    /// Lifetime of a declared certificate that names none, e.g. "90d".
    pub default_lifetime: Option<String>,
    /// Shortest lifetime a declaration may ask for, e.g. "1d" (tests use minutes).
    pub min_lifetime: Option<String>,
    /// Longest lifetime a declaration may ask for, e.g. "398d".
    pub max_lifetime: Option<String>,
    /// Renew when this fraction of the lifetime has passed (default 0.6667: two thirds).
    pub renew_fraction: Option<f64>,
    /// How often the renewal loop looks for certificates due, e.g. "30s".
    pub check_interval: Option<String>,
    /// First wait after a failed issuance; doubles with each failure up to `retry_max`.
    pub retry_min: Option<String>,
    pub retry_max: Option<String>,
}

/// The validated `[certificates]`.
#[derive(Debug, Clone, PartialEq)]
pub struct CertificatesConfig {
    pub domains: Vec<String>,
    pub ip_ranges: Vec<String>,
    pub default_lifetime: Duration,
    pub min_lifetime: Duration,
    pub max_lifetime: Duration,
    pub renew_fraction: f64,
    pub check_interval: Duration,
    pub retry_min: Duration,
    pub retry_max: Duration,
}

fn domain(text: &str) -> Result<String, ConfigError> {
    let domain = text.trim().trim_start_matches('.').to_ascii_lowercase();
    let valid = !domain.is_empty()
        && domain.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    if valid {
        Ok(domain)
    } else {
        Err(invalid("certificates.domains", text, "not a DNS domain"))
    }
}

impl CertificatesConfig {
    pub fn from_raw(raw: RawCertificates) -> Result<CertificatesConfig, ConfigError> {
        let domains = raw
            .domains
            .unwrap_or_default()
            .iter()
            .map(|text| domain(text))
            .collect::<Result<Vec<_>, _>>()?;
        let mut ip_ranges = Vec::new();
        for range in raw.ip_ranges.unwrap_or_default() {
            let network: ipnet::IpNet = range
                .trim()
                .parse()
                .map_err(|_| invalid("certificates.ip_ranges", &range, "expected a CIDR range"))?;
            ip_ranges.push(network.trunc().to_string());
        }
        let renew_fraction = raw.renew_fraction.unwrap_or(0.6667);
        if !(0.1..=0.95).contains(&renew_fraction) {
            return Err(invalid(
                "certificates.renew_fraction",
                renew_fraction.to_string(),
                "must be between 0.1 and 0.95",
            ));
        }
        let config = CertificatesConfig {
            domains,
            ip_ranges,
            default_lifetime: duration(
                "certificates.default_lifetime",
                raw.default_lifetime.as_deref(),
                "90d",
            )?,
            min_lifetime: duration(
                "certificates.min_lifetime",
                raw.min_lifetime.as_deref(),
                "1d",
            )?,
            max_lifetime: duration(
                "certificates.max_lifetime",
                raw.max_lifetime.as_deref(),
                "398d",
            )?,
            renew_fraction,
            check_interval: duration(
                "certificates.check_interval",
                raw.check_interval.as_deref(),
                "30s",
            )?,
            retry_min: duration("certificates.retry_min", raw.retry_min.as_deref(), "1m")?,
            retry_max: duration("certificates.retry_max", raw.retry_max.as_deref(), "6h")?,
        };
        if config.min_lifetime > config.default_lifetime
            || config.default_lifetime > config.max_lifetime
        {
            return Err(invalid(
                "certificates.default_lifetime",
                humantime::format_duration(config.default_lifetime).to_string(),
                "must lie between min_lifetime and max_lifetime",
            ));
        }
        Ok(config)
    }
}

impl Default for CertificatesConfig {
    fn default() -> Self {
        match CertificatesConfig::from_raw(RawCertificates::default()) {
            Ok(config) => config,
            Err(error) => unreachable!("the [certificates] defaults are invalid: {error}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_and_ranges_are_normalised_and_checked() {
        let raw: RawCertificates = toml::from_str(
            "domains = [\"Home.ARPA\", \".lan\"]\nip_ranges = [\"192.168.1.7/24\"]\nmin_lifetime = \"1m\"",
        )
        .unwrap();
        let config = CertificatesConfig::from_raw(raw).unwrap();
        assert_eq!(config.domains, ["home.arpa", "lan"]);
        assert_eq!(config.ip_ranges, ["192.168.1.0/24"]);
        assert_eq!(config.min_lifetime, Duration::from_secs(60));
        for bad in [
            "domains = [\"a b\"]",
            "ip_ranges = [\"lan\"]",
            "renew_fraction = 1.5",
            "default_lifetime = \"1h\"",
        ] {
            let raw: RawCertificates = toml::from_str(bad).unwrap();
            assert!(CertificatesConfig::from_raw(raw).is_err(), "{bad}");
        }
    }
}
