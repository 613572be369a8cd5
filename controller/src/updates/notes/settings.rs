//! The `[updates.release_notes]` section: where release notes are fetched from, how long they
//! are cached, how much of them is kept, the tokens (names of secrets in the secrets store) and
//! the recommendations' settling age. Defaults are in `packaging/controller.toml` and
//! `docs/updates.md`, "Release notes".

use crate::config::error::ConfigError;
use serde::Deserialize;
use std::time::Duration;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawReleaseNotes {
    /// Fetch release notes for pending updates; default true.
    pub enabled: Option<bool>,
    /// GitHub's API, default `https://api.github.com`.
    pub github_api_url: Option<String>,
    /// Hosts that are GitLab instances; default `["gitlab.com"]`.
    pub gitlab_hosts: Option<Vec<String>>,
    /// Hosts that are Gitea or Forgejo instances; default `["codeberg.org", "gitea.com"]`.
    pub gitea_hosts: Option<Vec<String>>,
    /// Names of secrets (in the secrets store) holding an API token; unset by default.
    pub github_token_secret: Option<String>,
    pub gitlab_token_secret: Option<String>,
    pub gitea_token_secret: Option<String>,
    /// How long a repository's releases are reused; default "6h".
    pub cache_ttl: Option<String>,
    /// Per request; default "10s".
    pub timeout: Option<String>,
    /// Releases kept per update (newest first); default 20.
    pub max_releases: Option<usize>,
    /// Bytes kept of each release body; default 16384.
    pub max_body_bytes: Option<usize>,
    /// A minor or major release younger than this is recommended to wait; default "3d".
    pub settle_age: Option<String>,
}

/// The validated section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotesSettings {
    pub enabled: bool,
    pub github_api_url: String,
    pub gitlab_hosts: Vec<String>,
    pub gitea_hosts: Vec<String>,
    pub github_token_secret: Option<String>,
    pub gitlab_token_secret: Option<String>,
    pub gitea_token_secret: Option<String>,
    pub cache_ttl: Duration,
    pub timeout: Duration,
    pub max_releases: usize,
    pub max_body_bytes: usize,
    pub settle_age: Duration,
}

impl Default for NotesSettings {
    fn default() -> Self {
        NotesSettings {
            enabled: true,
            github_api_url: "https://api.github.com".into(),
            gitlab_hosts: vec!["gitlab.com".into()],
            gitea_hosts: vec!["codeberg.org".into(), "gitea.com".into()],
            github_token_secret: None,
            gitlab_token_secret: None,
            gitea_token_secret: None,
            cache_ttl: Duration::from_secs(6 * 3600),
            timeout: Duration::from_secs(10),
            max_releases: 20,
            max_body_bytes: 16 * 1024,
            settle_age: Duration::from_secs(3 * 86400),
        }
    }
}

/// Parses a duration, naming `key` when it does not.
pub fn duration(
    key: &'static str,
    value: Option<String>,
    default: Duration,
) -> Result<Duration, ConfigError> {
    match value {
        None => Ok(default),
        Some(text) => humantime::parse_duration(&text).map_err(|error| ConfigError::Invalid {
            key,
            value: text,
            message: error.to_string(),
        }),
    }
}

/// An `http(s)://` URL, or the error naming `key`.
pub fn http_url(key: &'static str, value: String) -> Result<String, ConfigError> {
    if value.starts_with("https://") || value.starts_with("http://") {
        Ok(value.trim_end_matches('/').to_owned())
    } else {
        Err(ConfigError::Invalid {
            key,
            value,
            message: "must be an http:// or https:// URL".into(),
        })
    }
}

impl NotesSettings {
    pub fn from_raw(raw: RawReleaseNotes) -> Result<NotesSettings, ConfigError> {
        let defaults = NotesSettings::default();
        let hosts = |hosts: Option<Vec<String>>, default: Vec<String>| {
            hosts.map_or(default, |hosts| {
                hosts
                    .iter()
                    .map(|host| host.trim().to_ascii_lowercase())
                    .collect()
            })
        };
        Ok(NotesSettings {
            enabled: raw.enabled.unwrap_or(defaults.enabled),
            github_api_url: match raw.github_api_url {
                Some(url) => http_url("updates.release_notes.github_api_url", url)?,
                None => defaults.github_api_url,
            },
            gitlab_hosts: hosts(raw.gitlab_hosts, defaults.gitlab_hosts),
            gitea_hosts: hosts(raw.gitea_hosts, defaults.gitea_hosts),
            github_token_secret: raw.github_token_secret,
            gitlab_token_secret: raw.gitlab_token_secret,
            gitea_token_secret: raw.gitea_token_secret,
            cache_ttl: duration(
                "updates.release_notes.cache_ttl",
                raw.cache_ttl,
                defaults.cache_ttl,
            )?,
            timeout: duration(
                "updates.release_notes.timeout",
                raw.timeout,
                defaults.timeout,
            )?,
            max_releases: raw
                .max_releases
                .unwrap_or(defaults.max_releases)
                .clamp(1, 100),
            max_body_bytes: raw
                .max_body_bytes
                .unwrap_or(defaults.max_body_bytes)
                .clamp(256, 1 << 20),
            settle_age: duration(
                "updates.release_notes.settle_age",
                raw.settle_age,
                defaults.settle_age,
            )?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::updates::summary::settings::{RawSummary, SummarySettings};

    /// The commented `key = value` lines of a section of the packaged file (not the indented
    /// examples of optional keys).
    fn packaged(section: &str) -> String {
        let packaged = include_str!("../../../../packaging/controller.toml");
        packaged
            .split(&format!("# [{section}]\n"))
            .nth(1)
            .unwrap()
            .lines()
            .take_while(|line| line.starts_with('#') && !line.starts_with("# ["))
            .filter_map(|line| line.strip_prefix("# "))
            .filter(|rest| rest.contains(" = ") && !rest.starts_with(' '))
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn issue_17_packaged_sections_are_the_defaults() {
        let raw: RawReleaseNotes = toml::from_str(&packaged("updates.release_notes")).unwrap();
        assert!(
            raw.cache_ttl.is_some() && raw.settle_age.is_some(),
            "keys read"
        );
        assert_eq!(
            NotesSettings::from_raw(raw).unwrap(),
            NotesSettings::default()
        );
        let raw: RawSummary = toml::from_str(&packaged("updates.summary")).unwrap();
        assert!(raw.url.is_some() && raw.enabled == Some(false), "keys read");
        assert_eq!(
            SummarySettings::from_raw(raw).unwrap(),
            SummarySettings::default()
        );
    }

    #[test]
    fn issue_17_bad_values_name_their_key() {
        let raw: RawReleaseNotes = toml::from_str("cache_ttl = \"soon\"").unwrap();
        let error = NotesSettings::from_raw(raw).unwrap_err().to_string();
        assert!(error.contains("updates.release_notes.cache_ttl"), "{error}");
        let raw: RawSummary = toml::from_str("url = \"ftp://model\"").unwrap();
        let error = SummarySettings::from_raw(raw).unwrap_err().to_string();
        assert!(error.contains("updates.summary.url"), "{error}");
        assert!(
            toml::from_str::<RawSummary>("api_key = \"sk-in-the-file\"").is_err(),
            "no key in the file"
        );
        let config: crate::updates::settings::RawUpdates =
            toml::from_str("[release_notes]\nenabled = false\n[summary]\nenabled = true").unwrap();
        let config = crate::updates::settings::UpdatesConfig::from_raw(config).unwrap();
        assert!(!config.release_notes.enabled && config.summary.enabled);
    }
}
