//! Service check definitions (issue 18 §1; docs/services.md): `[[services.check]]` in the
//! file and the same fields in the API's JSON, validated here into what agents run
//! ([`ServiceCheck`]) plus what only the controller needs (TLS warning days, which agents and
//! host groups run it). Pure: the same validation for the file, the API and the dashboard.

use serde::{Deserialize, Serialize};
use std::time::Duration;
use unity_shared::model::service::{ServiceCheck, ServiceCheckKind};
use unity_shared::proto::AgentId;

/// The shortest interval a check may have.
pub const MIN_INTERVAL: Duration = Duration::from_secs(10);
/// The interval when none is given.
pub const DEFAULT_INTERVAL: &str = "60s";
/// The timeout when none is given.
pub const DEFAULT_TIMEOUT: &str = "10s";
/// The HTTP status range when none is given.
pub const DEFAULT_EXPECTED_STATUS: &str = "200-399";
/// Days before a served certificate's expiry that raise a warning, when not given.
pub const DEFAULT_TLS_WARNING_DAYS: u32 = 14;

/// `[services]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawServices {
    /// `[[services.check]]`: checks defined in the file (read-only in the dashboard).
    pub check: Option<Vec<RawServiceCheck>>,
}

/// One check as written in the file or sent to the API.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawServiceCheck {
    pub name: String,
    /// `http` (also for https URLs), `tcp`, `icmp` or `dns`.
    pub kind: String,
    /// http: the URL.
    pub url: Option<String>,
    /// http: `"200"` or `"200-399"` (default).
    pub expected_status: Option<String>,
    /// http: a text the body's first 64 KiB must contain.
    pub keyword: Option<String>,
    /// http: verify the certificate against the agent's trust store (default true).
    pub tls_verify: Option<bool>,
    /// http: warn this many days before the served certificate expires (default 14).
    pub tls_warning_days: Option<u32>,
    /// tcp, icmp: the host name or address.
    pub host: Option<String>,
    /// tcp: the port.
    pub port: Option<u16>,
    /// dns: the name to resolve.
    pub query: Option<String>,
    /// dns: an address the name must resolve to.
    pub expected_address: Option<String>,
    /// dns: a server to ask (an IP address, optionally with :port) instead of the agent's
    /// resolver.
    pub server: Option<String>,
    /// Between two runs, e.g. "60s" (default; at least 10s).
    pub interval: Option<String>,
    /// One run is down after this long, e.g. "10s" (default; at most the interval).
    pub timeout: Option<String>,
    /// Agents (host ids) that run it.
    #[serde(default)]
    pub agents: Vec<String>,
    /// Host groups whose agents run it.
    #[serde(default)]
    pub groups: Vec<String>,
}

/// A validated check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceDefinition {
    pub check: ServiceCheck,
    pub tls_warning_days: u32,
    pub agents: Vec<AgentId>,
    pub groups: Vec<String>,
}

fn duration(name: &str, key: &str, value: Option<&str>, default: &str) -> Result<Duration, String> {
    let text = value.unwrap_or(default);
    humantime::parse_duration(text)
        .map_err(|error| format!("check {name:?}: {key} = {text:?}: {error}"))
}

/// `"200"` or `"200-399"`, within 100..=599.
fn status_range(name: &str, text: &str) -> Result<(u16, u16), String> {
    let bad = || format!("check {name:?}: expected_status = {text:?}: write 200 or 200-399");
    let (min, max) = match text.split_once('-') {
        Some((min, max)) => (min.trim(), max.trim()),
        None => (text.trim(), text.trim()),
    };
    let min: u16 = min.parse().map_err(|_| bad())?;
    let max: u16 = max.parse().map_err(|_| bad())?;
    if !(100..=599).contains(&min) || !(100..=599).contains(&max) || min > max {
        return Err(bad());
    }
    Ok((min, max))
}

fn required(name: &str, kind: &str, key: &str, value: &Option<String>) -> Result<String, String> {
    match value.as_deref().map(str::trim) {
        Some(value) if !value.is_empty() => Ok(value.to_owned()),
        _ => Err(format!("check {name:?}: a {kind} check needs {key}")),
    }
}

/// A host name or address: no spaces, no scheme, no port.
fn host_name(name: &str, key: &str, host: &str) -> Result<String, String> {
    let valid = !host.is_empty()
        && host.len() <= 253
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':'));
    if !valid || host.contains("://") {
        return Err(format!(
            "check {name:?}: {key} = {host:?} is not a host name or address"
        ));
    }
    Ok(host.to_owned())
}

/// Validates one check.
pub fn validate(raw: &RawServiceCheck) -> Result<ServiceDefinition, String> {
    let name = raw.name.trim();
    if name.is_empty()
        || name.len() > 64
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(format!(
            "check name {:?}: 1 to 64 letters, digits, '-', '_' or '.'",
            raw.name
        ));
    }
    let kind = match raw.kind.as_str() {
        "http" | "https" => {
            let url = required(name, "http", "url", &raw.url)?;
            let parsed = url::Url::parse(&url)
                .map_err(|error| format!("check {name:?}: url = {url:?}: {error}"))?;
            if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
                return Err(format!(
                    "check {name:?}: url = {url:?}: an http:// or https:// URL with a host"
                ));
            }
            let (status_min, status_max) = status_range(
                name,
                raw.expected_status
                    .as_deref()
                    .unwrap_or(DEFAULT_EXPECTED_STATUS),
            )?;
            ServiceCheckKind::Http {
                url,
                status_min,
                status_max,
                keyword: raw.keyword.clone().filter(|keyword| !keyword.is_empty()),
                tls_verify: raw.tls_verify.unwrap_or(true),
            }
        }
        "tcp" => {
            let host = host_name(name, "host", &required(name, "tcp", "host", &raw.host)?)?;
            match raw.port {
                Some(port) if port > 0 => ServiceCheckKind::Tcp { host, port },
                _ => return Err(format!("check {name:?}: a tcp check needs port (1-65535)")),
            }
        }
        "icmp" => ServiceCheckKind::Icmp {
            host: host_name(name, "host", &required(name, "icmp", "host", &raw.host)?)?,
        },
        "dns" => {
            let server = raw.server.as_deref().map(str::trim);
            if let Some(server) = server {
                let is_address = server.parse::<std::net::SocketAddr>().is_ok()
                    || server
                        .trim_start_matches('[')
                        .trim_end_matches(']')
                        .parse::<std::net::IpAddr>()
                        .is_ok();
                if !is_address {
                    return Err(format!(
                        "check {name:?}: server = {server:?}: an IP address, optionally with \
                         :port (e.g. 192.168.1.1 or 192.168.1.1:5353 or [fd00::1]:53)"
                    ));
                }
            }
            let query = host_name(name, "query", &required(name, "dns", "query", &raw.query)?)?;
            if let Some(address) = &raw.expected_address {
                address.parse::<std::net::IpAddr>().map_err(|error| {
                    format!("check {name:?}: expected_address = {address:?}: {error}")
                })?;
            }
            ServiceCheckKind::Dns {
                name: query,
                expected_address: raw.expected_address.clone(),
                server: server.map(str::to_owned),
            }
        }
        other => {
            return Err(format!(
                "check {name:?}: kind = {other:?}: one of http, tcp, icmp, dns"
            ))
        }
    };
    let interval = duration(name, "interval", raw.interval.as_deref(), DEFAULT_INTERVAL)?;
    if interval < MIN_INTERVAL {
        return Err(format!("check {name:?}: interval must be at least 10s"));
    }
    let timeout = duration(name, "timeout", raw.timeout.as_deref(), DEFAULT_TIMEOUT)?;
    if timeout.is_zero() || timeout > interval {
        return Err(format!(
            "check {name:?}: timeout must be above 0 and at most the interval"
        ));
    }
    let agents = raw
        .agents
        .iter()
        .map(|agent| {
            AgentId::new(agent.clone())
                .map_err(|error| format!("check {name:?}: agent {agent:?}: {error}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if agents.is_empty() && raw.groups.is_empty() {
        return Err(format!(
            "check {name:?}: assign it to at least one agent or host group"
        ));
    }
    Ok(ServiceDefinition {
        check: ServiceCheck {
            name: name.to_owned(),
            kind,
            interval_secs: u32::try_from(interval.as_secs()).unwrap_or(u32::MAX),
            timeout_ms: u32::try_from(timeout.as_millis()).unwrap_or(u32::MAX),
        },
        tls_warning_days: raw.tls_warning_days.unwrap_or(DEFAULT_TLS_WARNING_DAYS),
        agents,
        groups: raw.groups.clone(),
    })
}

/// Validates the file's checks: each valid, names unique.
pub fn from_raw(raw: RawServices) -> Result<Vec<ServiceDefinition>, String> {
    let mut definitions: Vec<ServiceDefinition> = Vec::new();
    for check in raw.check.unwrap_or_default() {
        let definition = validate(&check)?;
        if definitions
            .iter()
            .any(|other| other.check.name == definition.check.name)
        {
            return Err(format!(
                "check {:?} is defined twice",
                definition.check.name
            ));
        }
        definitions.push(definition);
    }
    Ok(definitions)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(toml_text: &str) -> Result<Vec<ServiceDefinition>, String> {
        let raw: RawServices = toml::from_str(toml_text).map_err(|error| error.to_string())?;
        from_raw(raw)
    }

    #[test]
    fn issue_18_checks_from_the_file_with_defaults() {
        let checks = raw(r#"
            [[check]]
            name = "web"
            kind = "http"
            url = "https://nas.home.arpa/"
            agents = ["nas-1"]
            [[check]]
            name = "ssh"
            kind = "tcp"
            host = "nas.home.arpa"
            port = 22
            interval = "30s"
            timeout = "2s"
            groups = ["lan"]
        "#)
        .unwrap();
        let web = &checks[0];
        assert_eq!(
            (web.check.interval_secs, web.check.timeout_ms),
            (60, 10_000)
        );
        assert_eq!(web.tls_warning_days, 14);
        assert!(matches!(
            web.check.kind,
            ServiceCheckKind::Http {
                status_min: 200,
                status_max: 399,
                tls_verify: true,
                ..
            }
        ));
        assert_eq!(checks[1].groups, vec!["lan".to_owned()]);
        assert_eq!(checks[1].check.interval_secs, 30);
    }

    #[test]
    fn issue_18_a_dns_check_names_its_server() {
        for server in ["192.168.1.1", "127.0.0.1:5353", "[fd00::1]:53", "fd00::1"] {
            let checks = raw(&format!(
                "[[check]]\nname = \"dns\"\nkind = \"dns\"\nquery = \"nas.home.arpa\"\n\
                 server = \"{server}\"\nagents = [\"nas-1\"]\n"
            ))
            .unwrap();
            assert_eq!(
                checks[0].check.kind,
                ServiceCheckKind::Dns {
                    name: "nas.home.arpa".into(),
                    expected_address: None,
                    server: Some(server.to_owned()),
                }
            );
        }
    }

    #[track_caller]
    fn refused(fields: &str, says: &str) {
        let text = format!("[[check]]\nname = \"x\"\nagents = [\"a\"]\n{fields}");
        let error = raw(&text).unwrap_err();
        assert!(error.contains(says), "{fields}: {error}");
    }

    /// The commented `[[services.check]]` of `packaging/controller.toml` is a valid check whose
    /// optional values are the defaults.
    #[test]
    fn issue_18_the_packaged_example_states_the_defaults() {
        let packaged = include_str!("../../../packaging/controller.toml");
        let section: String = packaged
            .split("# [[services.check]]")
            .nth(1)
            .unwrap()
            .split("# [[")
            .next()
            .unwrap()
            .lines()
            .filter_map(|line| line.strip_prefix("# ").filter(|rest| rest.contains(" = ")))
            .map(|line| line.split("  #").next().unwrap_or(line).trim_end())
            .filter(|line| {
                !["host", "port", "query", "expected_address"]
                    .iter()
                    .any(|k| line.starts_with(k))
            })
            .collect::<Vec<_>>()
            .join("\n");
        let raw: RawServiceCheck = toml::from_str(&section).unwrap();
        let definition = validate(&raw).unwrap();
        let defaults = validate(&RawServiceCheck {
            expected_status: None,
            tls_verify: None,
            tls_warning_days: None,
            interval: None,
            timeout: None,
            ..raw.clone()
        })
        .unwrap();
        assert_eq!(definition, defaults);
        assert_eq!(
            raw.expected_status.as_deref(),
            Some(DEFAULT_EXPECTED_STATUS)
        );
        assert_eq!(raw.interval.as_deref(), Some(DEFAULT_INTERVAL));
        assert_eq!(raw.timeout.as_deref(), Some(DEFAULT_TIMEOUT));
    }

    #[test]
    fn issue_18_bad_definitions_are_refused_clearly() {
        refused(
            "kind = \"http\"\nurl = \"nas.home.arpa\"",
            "relative URL without a base",
        );
        refused(
            "kind = \"http\"\nurl = \"ftp://nas/\"",
            "an http:// or https:// URL",
        );
        refused(
            "kind = \"http\"\nurl = \"http://nas:70000/\"",
            "invalid port number",
        );
        refused("kind = \"http\"", "a http check needs url");
        refused(
            "kind = \"http\"\nurl = \"http://x/\"\nexpected_status = \"abc\"",
            "write 200 or 200-399",
        );
        refused(
            "kind = \"http\"\nurl = \"http://x/\"\nexpected_status = \"400-200\"",
            "write 200",
        );
        refused("kind = \"tcp\"\nhost = \"nas\"", "needs port");
        refused("kind = \"tcp\"\nhost = \"nas\"\nport = 0", "needs port");
        refused(
            "kind = \"tcp\"\nhost = \"http://nas\"\nport = 22",
            "not a host name",
        );
        refused("kind = \"tcp\"\nhost = \"nas\"\nport = 70000", "");
        refused("kind = \"icmp\"\nhost = \"a b\"", "not a host name");
        refused(
            "kind = \"dns\"\nquery = \"x\"\nserver = \"dns.example\"",
            "an IP address, optionally with :port",
        );
        refused(
            "kind = \"dns\"\nquery = \"x\"\nexpected_address = \"999.1.1.1\"",
            "invalid IP",
        );
        refused("kind = \"smtp\"", "one of http, tcp, icmp, dns");
        refused(
            "kind = \"icmp\"\nhost = \"x\"\ninterval = \"5s\"",
            "at least 10s",
        );
        refused(
            "kind = \"icmp\"\nhost = \"x\"\ntimeout = \"2m\"",
            "at most the interval",
        );
        refused(
            "kind = \"icmp\"\nhost = \"x\"\ninterval = \"soon\"",
            "interval = \"soon\"",
        );
        let error = raw("[[check]]\nname = \"x\"\nkind = \"icmp\"\nhost = \"h\"").unwrap_err();
        assert!(error.contains("at least one agent"));
        let error = raw("[[check]]\nname = \"bad name!\"\nkind = \"icmp\"").unwrap_err();
        assert!(error.contains("letters, digits"));
        let twice = "[[check]]\nname = \"x\"\nkind = \"icmp\"\nhost = \"h\"\nagents = [\"a\"]\n";
        assert!(raw(&format!("{twice}{twice}"))
            .unwrap_err()
            .contains("defined twice"));
    }
}
