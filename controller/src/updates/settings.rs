//! The `[updates]` section of the controller's TOML: how often containers are checked and the
//! controller-wide default policy (the lowest layer; hosts, labels and per-container settings
//! override it). Defaults are documented in `docs/updates.md` and `packaging/controller.toml`.

use super::policy::PolicyLayer;
use super::window::WindowSet;
use crate::config::error::ConfigError;
use serde::Deserialize;
use std::collections::HashSet;
use std::time::Duration;
use unity_shared::model::update::HealthPolicy;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawUpdates {
    /// Check containers for updates at all; default true.
    pub enabled: Option<bool>,
    /// How often every container is checked, e.g. "6h" (default).
    pub check_interval: Option<String>,
    /// The first check after start, e.g. "2m" (default).
    pub first_check_after: Option<String>,
    /// Each repository's check starts after a random delay below this; default "30s".
    pub jitter: Option<String>,
    /// Repositories checked at the same time; default 4.
    pub concurrency: Option<usize>,
    /// Registries (`host[:port]`) spoken to over plain HTTP although not on loopback.
    pub plain_http: Option<Vec<String>>,
    /// The default policy: `auto`, `notify` (default) or `off`.
    pub mode: Option<String>,
    /// `digest`, `patch`, `minor` (default) or `major`.
    pub level: Option<String>,
    /// Only tags matching this regex are candidates.
    pub include: Option<String>,
    /// Tags matching this regex are never candidates.
    pub exclude: Option<String>,
    /// A regex whose first capture group is the version in a tag (`^v?(\d+\.\d+\.\d+)-alpine$`).
    pub transform: Option<String>,
    /// Minimum image age before an update is offered, e.g. "3d"; default "0s".
    pub cooldown: Option<String>,
    /// Pin everything (detect nothing); default false.
    pub pin: Option<bool>,
    /// The vulnerability gate: `critical` (default), `high` or `off` (issue 17 §2).
    pub vulnerabilities: Option<String>,
    /// Applying an update: the longest wait for the new container's health verdict ("2m").
    pub health_timeout: Option<String>,
    /// `unhealthy` is tolerated this long after the new container starts ("30s").
    pub health_start_grace: Option<String>,
    /// Without a HEALTHCHECK, the new container must run this long without a restart ("20s").
    pub health_stability: Option<String>,
    /// Archive the container's named volumes with the backup taken before an update when
    /// together they are at most this many bytes; unset (default): no volume archive.
    pub volume_archive_max_bytes: Option<u64>,
    /// Maintenance windows for every host without its own or a group's, e.g.
    /// `["Sat 02:00-05:00 Europe/Berlin"]`; empty (default): always open.
    pub windows: Option<Vec<String>>,
    /// Host groups sharing maintenance windows.
    #[serde(default)]
    pub group: Vec<RawGroup>,
    /// `[updates.release_notes]`: release notes and recommendations.
    pub release_notes: Option<super::notes::settings::RawReleaseNotes>,
    /// `[updates.summary]`: the optional language-model summary.
    pub summary: Option<super::summary::settings::RawSummary>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGroup {
    pub name: String,
    /// Agent ids or host names.
    pub hosts: Vec<String>,
    pub windows: Vec<String>,
}

/// Hosts sharing maintenance windows.
#[derive(Debug, Clone)]
pub struct HostGroup {
    pub name: String,
    pub hosts: Vec<String>,
    pub windows: WindowSet,
}

#[derive(Debug, Clone)]
pub struct UpdatesConfig {
    pub enabled: bool,
    pub check_interval: Duration,
    pub first_check_after: Duration,
    pub jitter: Duration,
    pub concurrency: usize,
    pub plain_http: HashSet<String>,
    /// The controller-wide policy layer.
    pub default_policy: PolicyLayer,
    /// The health gate sent with every update.
    pub health: HealthPolicy,
    /// Default maintenance windows (empty: always open).
    pub windows: WindowSet,
    /// Volume archives with update backups, up to this size (`None`: off).
    pub volume_archive_max_bytes: Option<u64>,
    pub groups: Vec<HostGroup>,
    /// Release notes and recommendations.
    pub release_notes: super::notes::settings::NotesSettings,
    /// The optional language-model summary of release notes.
    pub summary: super::summary::settings::SummarySettings,
}

impl Default for UpdatesConfig {
    fn default() -> Self {
        UpdatesConfig {
            enabled: true,
            check_interval: Duration::from_secs(6 * 3600),
            first_check_after: Duration::from_secs(120),
            jitter: Duration::from_secs(30),
            concurrency: 4,
            plain_http: HashSet::new(),
            default_policy: PolicyLayer::default(),
            health: HealthPolicy::default(),
            windows: WindowSet::default(),
            volume_archive_max_bytes: None,
            groups: Vec::new(),
            release_notes: Default::default(),
            summary: Default::default(),
        }
    }
}

fn windows(key: &'static str, texts: &[String]) -> Result<WindowSet, ConfigError> {
    WindowSet::parse_all(texts).map_err(|error| ConfigError::Invalid {
        key,
        value: texts.join(", "),
        message: error.to_string(),
    })
}

fn duration(
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

impl UpdatesConfig {
    pub fn from_raw(raw: RawUpdates) -> Result<UpdatesConfig, ConfigError> {
        let defaults = UpdatesConfig::default();
        let check_interval = duration(
            "updates.check_interval",
            raw.check_interval,
            defaults.check_interval,
        )?;
        if check_interval < Duration::from_secs(60) {
            return Err(ConfigError::Invalid {
                key: "updates.check_interval",
                value: format!("{check_interval:?}"),
                message: "must be at least 1m (registries rate-limit)".into(),
            });
        }
        let mut default_policy = PolicyLayer::default();
        let pin = raw.pin.map(|pin| pin.to_string());
        for (key, value) in [
            ("mode", raw.mode),
            ("level", raw.level),
            ("include", raw.include),
            ("exclude", raw.exclude),
            ("transform", raw.transform),
            ("cooldown", raw.cooldown),
            ("pin", pin),
            ("vulnerabilities", raw.vulnerabilities),
        ] {
            if let Some(value) = value {
                default_policy
                    .set(key, &value)
                    .map_err(|error| ConfigError::Invalid {
                        key: "updates",
                        value,
                        message: error.to_string(),
                    })?;
            }
        }
        let groups = raw
            .group
            .iter()
            .map(|group| {
                Ok(HostGroup {
                    name: group.name.clone(),
                    hosts: group.hosts.clone(),
                    windows: windows("updates.group.windows", &group.windows)?,
                })
            })
            .collect::<Result<Vec<_>, ConfigError>>()?;
        Ok(UpdatesConfig {
            release_notes: super::notes::settings::NotesSettings::from_raw(
                raw.release_notes.unwrap_or_default(),
            )?,
            summary: super::summary::settings::SummarySettings::from_raw(
                raw.summary.unwrap_or_default(),
            )?,
            windows: windows("updates.windows", &raw.windows.unwrap_or_default())?,
            groups,
            volume_archive_max_bytes: raw.volume_archive_max_bytes,
            enabled: raw.enabled.unwrap_or(defaults.enabled),
            check_interval,
            first_check_after: duration(
                "updates.first_check_after",
                raw.first_check_after,
                defaults.first_check_after,
            )?,
            jitter: duration("updates.jitter", raw.jitter, defaults.jitter)?,
            concurrency: raw.concurrency.unwrap_or(defaults.concurrency).max(1),
            plain_http: raw
                .plain_http
                .unwrap_or_default()
                .iter()
                .map(|host| super::reference::normalize_registry(host))
                .collect(),
            default_policy,
            health: HealthPolicy {
                timeout_ms: duration(
                    "updates.health_timeout",
                    raw.health_timeout,
                    Duration::from_millis(defaults.health.timeout_ms),
                )?
                .as_millis() as u64,
                start_grace_ms: duration(
                    "updates.health_start_grace",
                    raw.health_start_grace,
                    Duration::from_millis(defaults.health.start_grace_ms),
                )?
                .as_millis() as u64,
                stability_ms: duration(
                    "updates.health_stability",
                    raw.health_stability,
                    Duration::from_millis(defaults.health.stability_ms),
                )?
                .as_millis() as u64,
                ..defaults.health
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::containers::UpdateMode;
    use crate::updates::policy::{Level, Policy};

    #[test]
    fn defaults_and_policy_keys() {
        let config = UpdatesConfig::from_raw(RawUpdates::default()).unwrap();
        assert!(config.enabled);
        assert_eq!(config.check_interval, Duration::from_secs(6 * 3600));
        let raw: RawUpdates = toml::from_str(
            "mode = \"auto\"\nlevel = \"patch\"\ncooldown = \"3d\"\nplain_http = [\"NAS.lan:5000\"]",
        )
        .unwrap();
        let config = UpdatesConfig::from_raw(raw).unwrap();
        let policy = Policy::resolve(&[&config.default_policy]);
        assert_eq!(policy.mode, UpdateMode::Auto);
        assert_eq!(policy.level, Level::Patch);
        assert_eq!(policy.cooldown, Duration::from_secs(3 * 86400));
        assert!(
            config.plain_http.contains("nas.lan:5000"),
            "{:?}",
            config.plain_http
        );
    }

    #[test]
    fn windows_and_groups() {
        let raw: RawUpdates = toml::from_str(
            "windows = [\"Sat 02:00-05:00 Europe/Berlin\"]\n\
             [[group]]\nname = \"media\"\nhosts = [\"nas\"]\nwindows = [\"daily 03:00-04:00 UTC\"]",
        )
        .unwrap();
        let config = UpdatesConfig::from_raw(raw).unwrap();
        assert_eq!(config.windows.windows().len(), 1);
        assert_eq!(config.groups[0].hosts, ["nas"]);
        let raw: RawUpdates = toml::from_str("windows = [\"Sat 25:00-26:00 UTC\"]").unwrap();
        let error = UpdatesConfig::from_raw(raw).unwrap_err().to_string();
        assert!(
            error.contains("updates.windows") && error.contains("25"),
            "{error}"
        );
    }

    #[test]
    fn bad_values_name_the_key() {
        let raw: RawUpdates = toml::from_str("level = \"huge\"").unwrap();
        let error = UpdatesConfig::from_raw(raw).unwrap_err().to_string();
        assert!(error.contains("level") && error.contains("huge"), "{error}");
        let raw: RawUpdates = toml::from_str("check_interval = \"5s\"").unwrap();
        assert!(UpdatesConfig::from_raw(raw).is_err());
        assert!(toml::from_str::<RawUpdates>("levle = \"minor\"").is_err());
    }
}
