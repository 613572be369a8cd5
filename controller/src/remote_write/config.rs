//! `[[remote_write]]`: the endpoints the controller streams its series to, as written
//! ([`RawRemoteWrite`]) and validated ([`RemoteWriteConfig`]). Defaults are documented in
//! docs/remote-write.md and packaging/controller.toml.

use crate::config::error::ConfigError;
use crate::config::secret::Secret;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// Samples per request unless `batch_max_samples` says otherwise (Prometheus' default).
pub const DEFAULT_BATCH_MAX_SAMPLES: usize = 2000;
/// The most `batch_max_samples` may be.
pub const MAX_BATCH_MAX_SAMPLES: usize = 100_000;

/// One `[[remote_write]]` table as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRemoteWrite {
    /// The receiver's write URL, e.g. `http://127.0.0.1:8428/api/v1/write`.
    pub url: String,
    /// Names the endpoint in logs, `/metrics` and its stored position; default: the URL's
    /// host, port and path.
    pub name: Option<String>,
    /// A file holding the bearer token (preferred over `bearer_token`).
    pub bearer_token_file: Option<PathBuf>,
    pub bearer_token: Option<String>,
    /// Basic authentication: the user name, with `password_file` or `password`.
    pub username: Option<String>,
    pub password_file: Option<PathBuf>,
    pub password: Option<String>,
    /// The most samples in one request (default 2000).
    pub batch_max_samples: Option<usize>,
    /// How long one request may take (default "30s").
    pub timeout: Option<String>,
    /// How often the store is checked for new samples once caught up (default "5s").
    pub interval: Option<String>,
    /// The longest wait between two attempts of a failing request (default "30s").
    pub max_backoff: Option<String>,
    /// Static labels added to every series (a series' own label of that name wins).
    pub labels: Option<BTreeMap<String, String>>,
}

/// Where a secret comes from: read from a file when the exporter starts, or given inline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    File(PathBuf),
    Inline(Secret),
}

/// How requests authenticate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    None,
    Bearer(SecretSource),
    Basic {
        username: String,
        password: SecretSource,
    },
}

/// One validated endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteWriteConfig {
    pub name: String,
    /// May hold credentials (`user:pass@`, tokens in the query): never logged.
    pub url: Secret,
    pub auth: Auth,
    pub batch_max_samples: usize,
    pub timeout: Duration,
    pub interval: Duration,
    pub max_backoff: Duration,
    pub labels: BTreeMap<String, String>,
}

fn invalid(key: &'static str, value: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key,
        value: value.to_owned(),
        message: message.into(),
    }
}

fn duration(
    key: &'static str,
    value: Option<&str>,
    default: &str,
) -> Result<Duration, ConfigError> {
    let text = value.unwrap_or(default);
    let parsed = humantime::parse_duration(text).map_err(|e| invalid(key, text, e.to_string()))?;
    if parsed < Duration::from_millis(10) {
        return Err(invalid(key, text, "must be at least 10ms"));
    }
    Ok(parsed)
}

fn secret(
    key: &'static str,
    file: Option<PathBuf>,
    inline: Option<String>,
) -> Result<Option<SecretSource>, ConfigError> {
    match (file, inline) {
        (Some(_), Some(_)) => Err(invalid(
            key,
            "<redacted>",
            "give the file or the value, not both",
        )),
        (Some(path), None) => Ok(Some(SecretSource::File(path))),
        (None, Some(value)) if !value.is_empty() => Ok(Some(SecretSource::Inline(Secret(value)))),
        (None, _) => Ok(None),
    }
}

/// Whether `name` is a valid Prometheus label name that is not reserved.
fn is_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with("__")
}

/// Validates every `[[remote_write]]` table; names must be unique.
pub fn from_raw(raw: Vec<RawRemoteWrite>) -> Result<Vec<RemoteWriteConfig>, ConfigError> {
    let mut endpoints: Vec<RemoteWriteConfig> = Vec::with_capacity(raw.len());
    for table in raw {
        let endpoint = endpoint_from_raw(table)?;
        if endpoints.iter().any(|other| other.name == endpoint.name) {
            return Err(invalid(
                "remote_write.name",
                &endpoint.name,
                "two endpoints have this name; give each its own `name`",
            ));
        }
        endpoints.push(endpoint);
    }
    Ok(endpoints)
}

fn endpoint_from_raw(raw: RawRemoteWrite) -> Result<RemoteWriteConfig, ConfigError> {
    // The URL's text may hold credentials: errors name only what is wrong with it.
    let url = url::Url::parse(&raw.url)
        .map_err(|error| invalid("remote_write.url", "<redacted>", error.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(invalid(
            "remote_write.url",
            "<redacted>",
            "must be an http:// or https:// URL with a host",
        ));
    }
    let name = match raw.name {
        Some(name) if name.chars().any(char::is_control) => {
            return Err(invalid(
                "remote_write.name",
                &name,
                "must not hold control characters",
            ))
        }
        Some(name) if !name.trim().is_empty() => name.trim().to_owned(),
        Some(_) => return Err(invalid("remote_write.name", "", "must not be empty")),
        None => {
            let host = url.host_str().unwrap_or_default();
            match url.port() {
                Some(port) => format!("{host}:{port}{}", url.path()),
                None => format!("{host}{}", url.path()),
            }
        }
    };
    let bearer = secret(
        "remote_write.bearer_token",
        raw.bearer_token_file,
        raw.bearer_token,
    )?;
    let password = secret("remote_write.password", raw.password_file, raw.password)?;
    let auth =
        match (bearer, raw.username, password) {
            (None, None, None) => Auth::None,
            (Some(token), None, None) => Auth::Bearer(token),
            (None, Some(username), Some(password)) => Auth::Basic { username, password },
            (None, Some(_), None) | (None, None, Some(_)) => return Err(invalid(
                "remote_write.username",
                &name,
                "basic authentication needs both `username` and `password_file` (or `password`)",
            )),
            (Some(_), _, _) => {
                return Err(invalid(
                    "remote_write.bearer_token",
                    &name,
                    "choose a bearer token or basic authentication, not both",
                ))
            }
        };
    let batch_max_samples = raw.batch_max_samples.unwrap_or(DEFAULT_BATCH_MAX_SAMPLES);
    if !(1..=MAX_BATCH_MAX_SAMPLES).contains(&batch_max_samples) {
        return Err(invalid(
            "remote_write.batch_max_samples",
            &batch_max_samples.to_string(),
            format!("must be 1..={MAX_BATCH_MAX_SAMPLES}"),
        ));
    }
    let labels = raw.labels.unwrap_or_default();
    for (label, value) in &labels {
        if !is_label_name(label) || matches!(label.as_str(), "host" | "agent_id") {
            return Err(invalid(
                "remote_write.labels",
                label,
                "must match [a-zA-Z_][a-zA-Z0-9_]*, not start with `__`, and not be `host` or `agent_id`",
            ));
        }
        if value.is_empty() {
            return Err(invalid(
                "remote_write.labels",
                label,
                "value must not be empty",
            ));
        }
    }
    Ok(RemoteWriteConfig {
        name,
        url: Secret(raw.url),
        auth,
        batch_max_samples,
        timeout: duration("remote_write.timeout", raw.timeout.as_deref(), "30s")?,
        interval: duration("remote_write.interval", raw.interval.as_deref(), "5s")?,
        max_backoff: duration(
            "remote_write.max_backoff",
            raw.max_backoff.as_deref(),
            "30s",
        )?,
        labels,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Vec<RemoteWriteConfig>, ConfigError> {
        #[derive(Deserialize)]
        struct File {
            remote_write: Vec<RawRemoteWrite>,
        }
        let file: File = toml::from_str(text).unwrap();
        from_raw(file.remote_write)
    }

    #[test]
    fn remote_write_config_defaults_and_auth() {
        let endpoints = parse(
            r#"
            [[remote_write]]
            url = "http://127.0.0.1:8428/api/v1/write"
            [[remote_write]]
            url = "https://user:pw@prometheus.example/api/v1/write?token=x"
            name = "cloud"
            username = "12345"
            password_file = "/etc/unity/grafana-cloud.key"
            labels = { cluster = "home" }
            batch_max_samples = 500
            timeout = "10s"
            "#,
        )
        .unwrap();
        assert_eq!(endpoints[0].name, "127.0.0.1:8428/api/v1/write");
        assert_eq!(endpoints[0].auth, Auth::None);
        assert_eq!(endpoints[0].batch_max_samples, 2000);
        assert_eq!(endpoints[0].timeout, Duration::from_secs(30));
        assert_eq!(endpoints[0].interval, Duration::from_secs(5));
        assert_eq!(endpoints[0].max_backoff, Duration::from_secs(30));
        assert_eq!(endpoints[1].name, "cloud");
        assert_eq!(
            endpoints[1].auth,
            Auth::Basic {
                username: "12345".into(),
                password: SecretSource::File("/etc/unity/grafana-cloud.key".into())
            }
        );
        assert_eq!(endpoints[1].labels["cluster"], "home");
        assert_eq!(endpoints[1].batch_max_samples, 500);
        // The URL holds a password and a token: its Debug form does not show them.
        assert!(!format!("{:?}", endpoints[1]).contains("pw@"));
    }

    /// The commented example in packaging/controller.toml parses once uncommented, and its
    /// values are the defaults (where it shows defaults).
    #[test]
    fn remote_write_packaged_example_parses_with_the_documented_defaults() {
        let packaged = include_str!("../../../packaging/controller.toml");
        let section = packaged.split("# [[remote_write]]").nth(1).unwrap();
        let mut text = String::from("[[remote_write]]\n");
        for line in section.lines().skip(1) {
            let Some(line) = line.strip_prefix("# ") else {
                break;
            };
            // The example shows a bearer token file and basic authentication; keep one.
            if line.contains(" = ") && !line.starts_with("bearer_token_file") {
                text.push_str(line.split("  #").next().unwrap_or(line));
                text.push('\n');
            }
        }
        let endpoint = parse(&text).unwrap().remove(0);
        assert_eq!(endpoint.name, "127.0.0.1:8428/api/v1/write");
        assert_eq!(endpoint.batch_max_samples, DEFAULT_BATCH_MAX_SAMPLES);
        assert_eq!(endpoint.timeout, Duration::from_secs(30));
        assert_eq!(endpoint.interval, Duration::from_secs(5));
        assert_eq!(endpoint.max_backoff, Duration::from_secs(30));
        assert!(matches!(endpoint.auth, Auth::Basic { .. }));
    }

    #[test]
    fn remote_write_config_refuses_bad_tables_without_echoing_secrets() {
        let bad = [
            r#"[[remote_write]]
            url = "ftp://x/y""#,
            r#"[[remote_write]]
            url = "http://a/w"
            username = "u""#,
            r#"[[remote_write]]
            url = "http://a/w"
            bearer_token = "s3cret"
            bearer_token_file = "/t""#,
            r#"[[remote_write]]
            url = "http://a/w"
            batch_max_samples = 0"#,
            r#"[[remote_write]]
            url = "http://a/w"
            labels = { "bad-name" = "x" }"#,
            r#"[[remote_write]]
            url = "http://a/w"
            labels = { host = "x" }"#,
            r#"[[remote_write]]
            url = "http://a/w"
            [[remote_write]]
            url = "http://a/w""#,
        ];
        for text in bad {
            let error = parse(text).unwrap_err().to_string();
            assert!(!error.contains("s3cret"), "{error}");
        }
        let error = parse("[[remote_write]]\nurl = \"http://u:s3cret@a b/\"")
            .unwrap_err()
            .to_string();
        assert!(!error.contains("s3cret"), "{error}");
    }
}
