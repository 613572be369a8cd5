//! The `[plugins]` table: textfile directories, exporters to scrape, the checks directory, and
//! the caps that bound each source. Defaults are documented in `packaging/agent.toml`.

use super::{duration, ConfigError};
use crate::collect::plugins::{exporters, Caps, PluginsConfig};
use serde::Deserialize;
use std::path::PathBuf;

/// The `[plugins]` table.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPluginsConfig {
    /// Collect plugins at all (default true).
    pub enabled: Option<bool>,
    /// How often textfiles are read and exporters scraped, e.g. "15s" (default: the agent's
    /// `interval`).
    pub interval: Option<String>,
    /// The longest one exporter scrape may take, e.g. "5s".
    pub timeout: Option<String>,
    /// Directories whose `*.prom` files are read.
    pub textfile_dirs: Option<Vec<PathBuf>>,
    /// Exporters on this host to scrape (loopback URLs only).
    #[serde(default)]
    pub exporters: Vec<RawExporter>,
    /// Also scrape exporters listening on well-known exporter ports (default false).
    pub discover_exporters: Option<bool>,
    /// Where the check executables are.
    pub checks_dir: Option<PathBuf>,
    /// How often the checks run, e.g. "60s".
    pub checks_interval: Option<String>,
    /// The longest one check may run, e.g. "10s"; its whole process group is then killed.
    pub checks_timeout: Option<String>,
    /// The user checks run as: a name, "UID:GID", or "" for the agent's own user.
    pub user: Option<String>,
    /// Checks run at once.
    pub max_concurrent_checks: Option<usize>,
    /// Per source: bytes read (textfile, exporter body, check output).
    pub max_bytes: Option<u64>,
    /// Per source: series taken.
    pub max_series: Option<u32>,
    /// Per sample: labels.
    pub max_labels: Option<usize>,
    /// Per label: bytes of its name or value.
    pub max_label_bytes: Option<usize>,
    /// Per sample: bytes of its line.
    pub max_sample_bytes: Option<usize>,
}

/// One `[[plugins.exporters]]` entry.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawExporter {
    /// `http://127.0.0.1:PORT/PATH`.
    pub url: String,
    /// The name its series' `source` label gets (`exporter/<name>`); default: the
    /// well-known exporter of its port, or `port-<port>`.
    pub name: Option<String>,
    /// A file holding a bearer token to send.
    pub bearer_token_file: Option<PathBuf>,
}

fn invalid(key: &'static str, value: impl ToString, message: impl ToString) -> ConfigError {
    ConfigError::Invalid {
        key,
        value: value.to_string(),
        message: message.to_string(),
    }
}

/// The typed `[plugins]` settings; `agent_interval` is the default of `interval`.
pub fn from_raw(raw: RawPluginsConfig, agent_interval: &str) -> Result<PluginsConfig, ConfigError> {
    let defaults = PluginsConfig::default();
    let interval = duration("plugins.interval", raw.interval.as_deref(), agent_interval)?;
    let timeout = duration("plugins.timeout", raw.timeout.as_deref(), "5s")?;
    let checks_interval = duration(
        "plugins.checks_interval",
        raw.checks_interval.as_deref(),
        "60s",
    )?;
    let checks_timeout = duration(
        "plugins.checks_timeout",
        raw.checks_timeout.as_deref(),
        "10s",
    )?;
    if checks_timeout >= checks_interval {
        return Err(invalid(
            "plugins.checks_timeout",
            format!("{checks_timeout:?}"),
            format!("must be shorter than checks_interval ({checks_interval:?})"),
        ));
    }
    let mut exporters: Vec<exporters::Target> = Vec::new();
    for entry in raw.exporters {
        let target =
            exporters::configured(&entry.url, entry.name.as_deref(), entry.bearer_token_file)
                .map_err(|message| invalid("plugins.exporters.url", &entry.url, message))?;
        if exporters.iter().any(|other| other.name == target.name) {
            return Err(invalid(
                "plugins.exporters.name",
                &target.name,
                "two exporters have this name; give one a `name`",
            ));
        }
        exporters.push(target);
    }
    let check_user = match raw.user {
        None => defaults.check_user,
        Some(user) if user.trim().is_empty() => None,
        Some(user) => Some(user.trim().to_owned()),
    };
    let caps = Caps {
        max_bytes: raw.max_bytes.unwrap_or(defaults.caps.max_bytes),
        max_series: raw.max_series.unwrap_or(defaults.caps.max_series),
        max_labels: raw.max_labels.unwrap_or(defaults.caps.max_labels),
        max_label_bytes: raw.max_label_bytes.unwrap_or(defaults.caps.max_label_bytes),
        max_sample_bytes: raw
            .max_sample_bytes
            .unwrap_or(defaults.caps.max_sample_bytes),
        max_errors: defaults.caps.max_errors,
    };
    if caps.max_bytes == 0 || caps.max_series == 0 {
        return Err(invalid(
            "plugins.max_bytes / max_series",
            format!("{} / {}", caps.max_bytes, caps.max_series),
            "must be at least 1",
        ));
    }
    Ok(PluginsConfig {
        enabled: raw.enabled.unwrap_or(defaults.enabled),
        interval,
        timeout,
        textfile_dirs: raw.textfile_dirs.unwrap_or(defaults.textfile_dirs),
        exporters,
        discover_exporters: raw
            .discover_exporters
            .unwrap_or(defaults.discover_exporters),
        checks_dir: raw.checks_dir.unwrap_or(defaults.checks_dir),
        checks_interval,
        checks_timeout,
        check_user,
        max_concurrent_checks: raw
            .max_concurrent_checks
            .unwrap_or(defaults.max_concurrent_checks)
            .max(1),
        caps,
        passwd_file: defaults.passwd_file,
        proc_dir: defaults.proc_dir,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn parse(text: &str) -> Result<PluginsConfig, ConfigError> {
        let raw: RawPluginsConfig = toml::from_str(text).map_err(|error| ConfigError::Parse {
            path: "test".into(),
            message: error.to_string(),
        })?;
        from_raw(raw, "15s")
    }

    #[test]
    fn defaults() {
        let config = parse("").unwrap();
        assert_eq!(config, PluginsConfig::default());
        assert_eq!(config.check_user.as_deref(), Some("nobody"));
    }

    #[test]
    fn exporters_users_and_caps() {
        let config = parse(
            r#"
            interval = "30s"
            user = ""
            max_series = 500
            [[exporters]]
            url = "http://127.0.0.1:9100/metrics"
            [[exporters]]
            url = "http://localhost:8123/api/prometheus"
            name = "hass"
            bearer_token_file = "/etc/unity/hass.token"
            "#,
        )
        .unwrap();
        assert_eq!(config.interval, Duration::from_secs(30));
        assert_eq!(config.check_user, None);
        assert_eq!(config.caps.max_series, 500);
        let names: Vec<String> = config.exporters.iter().map(|t| t.source()).collect();
        assert_eq!(names, ["exporter/node", "exporter/hass"]);
    }

    #[test]
    fn errors_name_the_key() {
        for (text, key) in [
            ("[[exporters]]\nurl = \"http://192.168.1.1:9100/metrics\"", "plugins.exporters.url"),
            (
                "[[exporters]]\nurl = \"http://127.0.0.1:9100/\"\n[[exporters]]\nurl = \"http://127.0.0.1:9100/x\"",
                "plugins.exporters.name",
            ),
            ("checks_interval = \"10s\"\nchecks_timeout = \"10s\"", "plugins.checks_timeout"),
            ("max_series = 0", "max_series"),
        ] {
            let error = parse(text).unwrap_err().to_string();
            assert!(error.contains(key), "{text}: {error}");
        }
        assert!(
            parse("textfile_dir = []").is_err(),
            "unknown keys are refused"
        );
    }
}
