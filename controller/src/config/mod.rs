//! Controller configuration: `RawConfig` is what the TOML file says (every key optional, with a
//! documented default); [`Config`] is the validated, typed form the daemon runs on. The
//! `[alerts]` and `[updates]` sections are their subsystems' (`alerts::config`,
//! `updates::settings`); they share [`ConfigError`] and [`Secret`], which live in leaf files
//! (`error.rs`, `secret.rs`) so a section never imports the whole configuration back.

pub mod alert_rule;
pub mod alert_silence;
pub mod auth;
pub mod backup;
pub mod error;
pub mod history;
pub mod managed_certificates;
pub mod secret;
pub mod service_checks;
pub mod ssh_access;
pub mod ssh_ca;
mod values;

pub use error::ConfigError;
pub use secret::Secret;

use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub const DEFAULT_CONFIG_PATH: &str = "/etc/unity/controller.toml";
pub const DEFAULT_DATA_DIR: &str = "/var/lib/unity-controller";
pub const DEFAULT_LISTEN: &str = "0.0.0.0:7443";
pub const DEFAULT_API_LISTEN: &str = "127.0.0.1:7480";

/// The file as written. Unknown keys are an error, so typos do not pass silently.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// Where the CA, the database and the admin socket live.
    pub data_dir: Option<PathBuf>,
    /// UDP address of the QUIC endpoint agents connect to.
    pub listen: Option<String>,
    /// `HOST:PORT` agents use to reach the controller, printed in join commands.
    pub advertise: Option<String>,
    /// TCP address of the HTTP API.
    pub api_listen: Option<String>,
    /// Lifetime of agent certificates, e.g. "30d".
    pub certificate_lifetime: Option<String>,
    /// Default lifetime of join tokens, e.g. "1h".
    pub token_ttl: Option<String>,
    /// How long raw samples are kept, e.g. "30d" (the same as `history.raw_retention`,
    /// which is the newer name).
    pub retention: Option<String>,
    /// A host that sent nothing for this long is "stale".
    pub stale_after: Option<String>,
    /// Largest frame accepted from an agent, in bytes.
    pub max_frame_bytes: Option<usize>,
    /// An agent identity whose data directory turned up on another machine takes over once
    /// the previous machine has been silent this long, e.g. "10m".
    pub identity_takeover_after: Option<String>,
    /// HTTPS for the dashboard and API: "off" (plain HTTP), "self" (a certificate from the
    /// controller's own CA) or unset with `tls_cert` and `tls_key` given.
    pub tls: Option<String>,
    /// PEM certificate chain for the dashboard (with `tls_key`).
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for the dashboard (with `tls_cert`).
    pub tls_key: Option<PathBuf>,
    /// How long a dashboard login lasts, e.g. "12h".
    pub session_ttl: Option<String>,
    /// When set, `/metrics` requires `Authorization: Bearer <this token>`.
    pub metrics_token: Option<String>,
    /// Reverse proxies (addresses or CIDRs) whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Option<Vec<String>>,
    /// Host names the dashboard answers to (the `Host` header); unset or empty: any.
    pub allowed_hosts: Option<Vec<String>>,
    /// Alert rules and notifiers (`[alerts]`); see `docs/alerts.md`.
    pub alerts: Option<crate::alerts::config::RawAlerts>,
    /// Container update detection (`[updates]`); see `docs/updates.md`.
    pub updates: Option<crate::updates::settings::RawUpdates>,
    /// Second factors and OpenID Connect sign-in (`[auth]`); see `docs/auth.md`.
    pub auth: Option<auth::RawAuth>,
    /// ACME providers for public certificates (`[acme]`); see `docs/certificates/acme.md`.
    pub acme: Option<crate::acme::settings::RawAcme>,
    /// The services CA and managed certificates (`[certificates]`); see
    /// `docs/certificates.md`.
    pub certificates: Option<managed_certificates::RawCertificates>,
    /// The SSH certificate authority (`[ssh_ca]`); see `docs/ssh-ca.md`.
    pub ssh_ca: Option<ssh_ca::RawSshCa>,
    /// Managed SSH access (`[ssh]`); see `docs/ssh.md`.
    pub ssh: Option<ssh_access::RawSsh>,
    /// Service checks run by agents (`[[services.check]]`); see `docs/services.md`.
    pub services: Option<service_checks::RawServices>,
    /// Remote write endpoints (`[[remote_write]]`); see `docs/remote-write.md`.
    pub remote_write: Option<Vec<crate::remote_write::config::RawRemoteWrite>>,
    /// Retention of the history tiers (`[history]`); see `docs/storage-model.md`.
    pub history: Option<history::RawHistory>,
    /// Scheduled backups of the controller (`[backup]`); see `docs/backup.md`.
    pub backup: Option<backup::RawBackup>,
}

/// How the dashboard and API are served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiTls {
    /// Plain HTTP.
    Off,
    /// HTTPS with a server certificate issued by the controller's own CA at start.
    SelfIssued,
    /// HTTPS with the operator's certificate chain and key (PEM files).
    Files { cert: PathBuf, key: PathBuf },
}

#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    pub advertise: String,
    pub api_listen: SocketAddr,
    pub certificate_lifetime: Duration,
    pub token_ttl: Duration,
    /// How long each history tier keeps each metric family (`[history]`).
    pub history: crate::storage::series::RetentionPolicy,
    pub stale_after: Duration,
    pub max_frame_bytes: usize,
    pub identity_takeover_after: Duration,
    pub api_tls: ApiTls,
    pub session_ttl: Duration,
    pub metrics_token: Option<Secret>,
    /// Peers whose `X-Forwarded-For` is believed; empty: the header is ignored.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Host names (lower case, no port) requests must name; empty: any.
    pub allowed_hosts: Vec<String>,
    pub alerts: crate::alerts::config::AlertsConfig,
    pub updates: crate::updates::settings::UpdatesConfig,
    pub auth: auth::AuthConfig,
    pub acme: crate::acme::settings::AcmeConfig,
    pub certificates: managed_certificates::CertificatesConfig,
    pub ssh_ca: ssh_ca::SshCaConfig,
    pub ssh: ssh_access::SshConfig,
    /// The service checks of the file (issue 18).
    pub services: Vec<service_checks::ServiceDefinition>,
    /// The remote write endpoints (issue 20).
    pub remote_write: Vec<crate::remote_write::config::RemoteWriteConfig>,
    /// Scheduled backups (issue 20); off unless `dir` is set.
    pub backup: backup::BackupConfig,
}

fn duration(
    key: &'static str,
    value: Option<&str>,
    default: &str,
) -> Result<Duration, ConfigError> {
    let text = value.unwrap_or(default);
    humantime::parse_duration(text).map_err(|error| ConfigError::Invalid {
        key,
        value: text.to_owned(),
        message: error.to_string(),
    })
}

fn address(
    key: &'static str,
    value: Option<&str>,
    default: &str,
) -> Result<SocketAddr, ConfigError> {
    let text = value.unwrap_or(default);
    text.parse()
        .map_err(|error: std::net::AddrParseError| ConfigError::Invalid {
            key,
            value: text.to_owned(),
            message: format!("{error} (expected IP:PORT)"),
        })
}

/// This machine's host name, for defaults such as the advertised address.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_owned())
        .ok()
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

/// Parses `trusted_proxies`: CIDRs (`10.0.0.0/8`) or single addresses (`192.168.1.2`).
fn networks(key: &'static str, values: &[String]) -> Result<Vec<ipnet::IpNet>, ConfigError> {
    values
        .iter()
        .map(|text| {
            let text = text.trim();
            text.parse::<ipnet::IpNet>()
                .or_else(|_| text.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map(|network| network.trunc())
                .map_err(|_| ConfigError::Invalid {
                    key,
                    value: text.to_owned(),
                    message: "expected an address or a CIDR such as 10.0.0.0/8 or fd00::/8".into(),
                })
        })
        .collect()
}

/// The host name of a `Host` header or URI authority, or of an `allowed_hosts` entry: without
/// port and IPv6 brackets, lower case, without a trailing dot. `None` if it has no name.
pub fn host_name(authority: &str) -> Option<String> {
    let authority = authority.trim();
    let name = match authority.strip_prefix('[') {
        Some(rest) => rest.split_once(']').map(|(inside, _)| inside)?,
        None => match authority.split_once(':') {
            Some((name, port)) if !port.contains(':') => name,
            // More than one colon: a bare IPv6 address.
            _ => authority,
        },
    };
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    (!name.is_empty()).then_some(name)
}

/// Parses `allowed_hosts`: names or addresses, without scheme, path or port.
fn host_names(key: &'static str, values: &[String]) -> Result<Vec<String>, ConfigError> {
    values
        .iter()
        .map(|text| {
            let trimmed = text.trim();
            let unbracketed = trimmed
                .strip_prefix('[')
                .and_then(|rest| rest.strip_suffix(']'))
                .unwrap_or(trimmed);
            // Only a bare name survives `host_name` unchanged: a port would be cut off.
            let bare = unbracketed.trim_end_matches('.').to_ascii_lowercase();
            let plain = !bare.contains(['/', '@', '*', '?', '#', ' ']);
            match host_name(trimmed) {
                Some(name) if plain && name == bare => Ok(name),
                _ => Err(ConfigError::Invalid {
                    key,
                    value: text.clone(),
                    message: "expected a host name or address such as unity.lan or 192.168.1.5, without scheme or port".into(),
                }),
            }
        })
        .collect()
}

fn api_tls(
    tls: Option<&str>,
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
) -> Result<ApiTls, ConfigError> {
    let invalid = |message: &str| ConfigError::Invalid {
        key: "tls",
        value: tls.unwrap_or("").to_owned(),
        message: message.to_owned(),
    };
    match (tls, cert, key) {
        (None | Some("off"), None, None) => Ok(ApiTls::Off),
        (Some("self"), None, None) => Ok(ApiTls::SelfIssued),
        (None | Some("files"), Some(cert), Some(key)) => Ok(ApiTls::Files { cert, key }),
        (None | Some("files"), _, _) => Err(invalid("tls_cert and tls_key go together")),
        (Some("off" | "self"), _, _) => Err(invalid("tls_cert and tls_key need tls unset")),
        (Some(_), _, _) => Err(invalid(
            "expected \"off\" or \"self\" (or tls_cert and tls_key)",
        )),
    }
}

impl RawConfig {
    /// Reads `path`; a missing file at the default path means "all defaults".
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
        let listen = address("listen", raw.listen.as_deref(), DEFAULT_LISTEN)?;
        let advertise = raw
            .advertise
            .unwrap_or_else(|| format!("{}:{}", hostname(), listen.port()));
        let max_frame_bytes = raw
            .max_frame_bytes
            .unwrap_or(unity_shared::proto::frame::DEFAULT_MAX_FRAME_LEN);
        if max_frame_bytes < 4096 {
            return Err(ConfigError::Invalid {
                key: "max_frame_bytes",
                value: max_frame_bytes.to_string(),
                message: "must be at least 4096".into(),
            });
        }
        let api_tls = api_tls(raw.tls.as_deref(), raw.tls_cert, raw.tls_key)?;
        let metrics_token = raw
            .metrics_token
            .filter(|token| !token.is_empty())
            .map(Secret);
        let stale_after = duration("stale_after", raw.stale_after.as_deref(), "2m")?;
        let alerts = crate::alerts::config::AlertsConfig::from_raw(
            raw.alerts.unwrap_or_default(),
            stale_after,
        )?;
        let trusted_proxies = networks(
            "trusted_proxies",
            raw.trusted_proxies.as_deref().unwrap_or_default(),
        )?;
        let allowed_hosts = host_names(
            "allowed_hosts",
            raw.allowed_hosts.as_deref().unwrap_or_default(),
        )?;
        let config = Config {
            api_tls,
            allowed_hosts,
            session_ttl: duration("session_ttl", raw.session_ttl.as_deref(), "12h")?,
            metrics_token,
            trusted_proxies,
            data_dir: raw
                .data_dir
                .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR)),
            listen,
            advertise,
            api_listen: address("api_listen", raw.api_listen.as_deref(), DEFAULT_API_LISTEN)?,
            certificate_lifetime: duration(
                "certificate_lifetime",
                raw.certificate_lifetime.as_deref(),
                "30d",
            )?,
            token_ttl: duration("token_ttl", raw.token_ttl.as_deref(), "1h")?,
            history: history::from_raw(raw.history.unwrap_or_default(), raw.retention.as_deref())?,
            stale_after,
            alerts,
            updates: crate::updates::settings::UpdatesConfig::from_raw(
                raw.updates.unwrap_or_default(),
            )?,
            auth: auth::AuthConfig::from_raw(raw.auth.unwrap_or_default())?,
            acme: crate::acme::settings::AcmeConfig::from_raw(raw.acme.unwrap_or_default())?,
            certificates: managed_certificates::CertificatesConfig::from_raw(
                raw.certificates.unwrap_or_default(),
            )?,
            ssh_ca: ssh_ca::SshCaConfig::from_raw(raw.ssh_ca.unwrap_or_default())?,
            ssh: ssh_access::SshConfig::from_raw(raw.ssh.unwrap_or_default())?,
            services: service_checks::from_raw(raw.services.unwrap_or_default()).map_err(
                |message| ConfigError::Invalid {
                    key: "services.check",
                    value: String::new(),
                    message,
                },
            )?,
            remote_write: crate::remote_write::config::from_raw(
                raw.remote_write.unwrap_or_default(),
            )?,
            backup: backup::BackupConfig::from_raw(raw.backup.unwrap_or_default())?,
            max_frame_bytes,
            identity_takeover_after: duration(
                "identity_takeover_after",
                raw.identity_takeover_after.as_deref(),
                "10m",
            )?,
        };
        if config.certificate_lifetime < Duration::from_secs(2) {
            return Err(ConfigError::Invalid {
                key: "certificate_lifetime",
                value: format!("{:?}", config.certificate_lifetime),
                message: "must be at least 2s".into(),
            });
        }
        Ok(config)
    }

    /// Defaults everywhere but the data directory; used by quickstart and tests.
    pub fn with_data_dir(data_dir: PathBuf) -> Config {
        let raw = RawConfig {
            data_dir: Some(data_dir),
            ..RawConfig::default()
        };
        // The defaults are constants known to parse.
        match Config::from_raw(raw) {
            Ok(config) => config,
            Err(error) => unreachable!("default configuration is invalid: {error}"),
        }
    }

    pub fn database_dir(&self) -> PathBuf {
        self.data_dir.join("db")
    }

    pub fn ca_dir(&self) -> PathBuf {
        self.data_dir.join("ca")
    }

    /// The services CA's key and root (apart from the agent CA in [`Config::ca_dir`]).
    pub fn services_ca_dir(&self) -> PathBuf {
        self.data_dir.join("services-ca")
    }

    pub fn admin_socket(&self) -> PathBuf {
        self.data_dir.join("admin.sock")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_parse() {
        let config = Config::from_raw(RawConfig::default()).unwrap();
        assert_eq!(config.certificate_lifetime, Duration::from_secs(30 * 86400));
        assert_eq!(config.listen.port(), 7443);
    }

    #[test]
    fn packaged_config_parses() {
        let raw: RawConfig =
            toml::from_str(include_str!("../../../packaging/controller.toml")).unwrap();
        let config = Config::from_raw(raw).unwrap();
        assert_eq!(config.history.default.raw_ms, 30 * 86_400_000);
        // The commented [certificates] keys are the defaults.
        let packaged = include_str!("../../../packaging/controller.toml");
        let section = packaged
            .split("# [certificates]")
            .nth(1)
            .unwrap()
            .split("# [ssh]")
            .next()
            .unwrap()
            .lines()
            .filter_map(|line| line.strip_prefix("# ").filter(|rest| rest.contains(" = ")))
            .filter(|line| !line.starts_with("domains") && !line.starts_with("ip_ranges"))
            .collect::<Vec<_>>()
            .join("\n");
        let raw: managed_certificates::RawCertificates = toml::from_str(&section).unwrap();
        assert_eq!(
            managed_certificates::CertificatesConfig::from_raw(raw).unwrap(),
            managed_certificates::CertificatesConfig::default()
        );
        // The commented [ssh] keys are the defaults.
        let section = packaged
            .split("# [ssh]")
            .nth(1)
            .unwrap()
            .lines()
            .skip(1)
            .take_while(|line| line.starts_with('#'))
            .filter_map(|line| line.strip_prefix("# ").filter(|rest| rest.contains(" = ")))
            .collect::<Vec<_>>()
            .join("\n");
        let raw: ssh_access::RawSsh = toml::from_str(&section).unwrap();
        assert_eq!(
            ssh_access::SshConfig::from_raw(raw).unwrap(),
            ssh_access::SshConfig::default()
        );
    }

    #[test]
    fn dashboard_tls_modes() {
        let parse = |text: &str| Config::from_raw(toml::from_str(text).unwrap()).map(|c| c.api_tls);
        assert_eq!(parse("").unwrap(), ApiTls::Off);
        assert_eq!(parse("tls = \"self\"").unwrap(), ApiTls::SelfIssued);
        assert!(matches!(
            parse("tls_cert = \"a\"\ntls_key = \"b\"").unwrap(),
            ApiTls::Files { .. }
        ));
        assert!(parse("tls_cert = \"a\"").is_err());
        assert!(parse("tls = \"yes\"").is_err());
    }

    #[test]
    fn trusted_proxies_are_addresses_or_cidrs() {
        let parse = |text: &str| {
            Config::from_raw(toml::from_str(text).unwrap()).map(|config| {
                config
                    .trusted_proxies
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
            })
        };
        assert_eq!(parse("").unwrap(), Vec::<String>::new());
        assert_eq!(
            parse(r#"trusted_proxies = ["10.1.2.3/8", "192.168.1.2", "fd00::/8", "::1"]"#).unwrap(),
            ["10.0.0.0/8", "192.168.1.2/32", "fd00::/8", "::1/128"]
        );
        let error = parse(r#"trusted_proxies = ["proxy.lan"]"#)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("trusted_proxies") && error.contains("CIDR"),
            "{error}"
        );
    }

    #[track_caller]
    fn check_host(authority: &str, expect: Option<&str>) {
        assert_eq!(host_name(authority).as_deref(), expect, "{authority:?}");
    }

    #[test]
    fn host_names_lose_ports_brackets_case_and_the_trailing_dot() {
        check_host("unity.lan", Some("unity.lan"));
        check_host("Unity.LAN:7480", Some("unity.lan"));
        check_host("unity.lan.:443", Some("unity.lan"));
        check_host("192.168.1.5:7480", Some("192.168.1.5"));
        check_host("[::1]:7480", Some("::1"));
        check_host("[fd00::5]", Some("fd00::5"));
        check_host("fd00::5", Some("fd00::5"));
        check_host("", None);
        check_host(":7480", None);
        check_host("[::1", None);
    }

    #[test]
    fn allowed_hosts_are_bare_names_or_addresses() {
        let parse = |text: &str| {
            Config::from_raw(toml::from_str(text).unwrap()).map(|config| config.allowed_hosts)
        };
        assert_eq!(parse("").unwrap(), Vec::<String>::new());
        assert_eq!(
            parse(r#"allowed_hosts = ["Unity.LAN", "192.168.1.5", "[::1]", "fd00::5", "nas."]"#)
                .unwrap(),
            ["unity.lan", "192.168.1.5", "::1", "fd00::5", "nas"]
        );
        for bad in [
            "unity.lan:7480",
            "https://unity.lan",
            "[::1]:7480",
            "",
            "*.lan",
        ] {
            let error = parse(&format!("allowed_hosts = [{bad:?}]"))
                .unwrap_err()
                .to_string();
            assert!(error.contains("allowed_hosts"), "{bad}: {error}");
        }
    }

    #[test]
    fn unknown_keys_and_bad_values_are_errors() {
        assert!(toml::from_str::<RawConfig>("listn = \"x\"").is_err());
        let raw: RawConfig = toml::from_str("retention = \"forever\"").unwrap();
        let error = Config::from_raw(raw).unwrap_err().to_string();
        assert!(error.contains("retention"), "{error}");
    }
}
