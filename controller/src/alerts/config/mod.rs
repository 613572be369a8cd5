//! The `[alerts]` section of the controller's TOML: [`RawAlerts`] as written (every key
//! optional, defaults documented in `docs/alerts.md` and `packaging/controller.toml`), and
//! [`AlertsConfig`], validated and typed. The receivers (`receivers.rs`), the condition
//! thresholds (`conditions.rs`) and the silences (`silences.rs`) have their own files; the
//! operator's rules are checked by the one validator every face uses
//! ([`crate::config::alert_rule`]).

mod conditions;
mod receivers;
pub mod silences;
#[cfg(test)]
mod tests;

pub use self::conditions::{ContainerRuleConfig, DiskTrendConfig, UpdateRuleConfig};
pub use self::receivers::{RawNtfy, RawWebhook};
pub use self::silences::RawSilence;
pub use crate::config::alert_rule::{RawSeriesRule, SeriesRule, Threshold};

use super::notify::receivers::{RawReceiver, ReceiverConfig};
use crate::config::alert_rule::RuleError;
use crate::config::error::ConfigError;
use crate::storage::alert_silences::SilenceRecord;
use crate::storage::alerts::Severity;
use serde::Deserialize;
use std::time::Duration;

/// File systems that are full by design (read-only images) or mirror another one (overlay).
pub const DEFAULT_IGNORED_FS_TYPES: &[&str] =
    &["squashfs", "iso9660", "udf", "erofs", "cramfs", "overlay"];

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAlerts {
    /// How often the rules run, e.g. "30s".
    pub interval: Option<String>,
    /// How long a condition must stay absent before its alert resolves, e.g. "2m".
    pub resolve_after: Option<String>,
    /// A host not heard from for this long is offline; default: `stale_after`.
    pub offline_after: Option<String>,
    /// Filesystem use (percent) that raises a warning; default 90.
    pub filesystem_warning_percent: Option<f64>,
    /// Filesystem use (percent) that raises a critical alert; default 95.
    pub filesystem_critical_percent: Option<f64>,
    /// Filesystem types never checked for fullness.
    pub filesystem_ignore_types: Option<Vec<String>>,
    /// Days before a certificate's expiry at which an alert opens: the largest raises a
    /// warning, the smallest a critical alert; default [21, 7]. Expired is always critical.
    pub certificate_expiry_days: Option<Vec<u32>>,
    /// How long resolved alerts are kept, e.g. "90d".
    pub history_retention: Option<String>,
    /// How many resolved alerts are kept at most.
    pub history_max: Option<usize>,
    /// The dashboard's address as people reach it, for links in notifications.
    pub dashboard_url: Option<String>,
    /// Delivery attempts per notification before giving up.
    pub notify_attempts: Option<u32>,
    /// Container exits within `restart_loop_window` that make a restart loop; default 3.
    pub restart_loop_count: Option<usize>,
    /// Default "10m".
    pub restart_loop_window: Option<String>,
    /// How long a container's `oom` or `destroy` event keeps its alert; default "24h".
    pub container_event_window: Option<String>,
    /// A container removed sooner than this after its creation is a one-off job, not "gone";
    /// default "10m".
    pub container_gone_min_age: Option<String>,
    /// Drive temperature limit for drives that report none of their own; default 60.
    pub temperature_limit_celsius: Option<i64>,
    /// How long a drive must stay over its limit; default "5m".
    pub temperature_for: Option<String>,
    /// The period new container updates are batched in (one alert per host); default "1d",
    /// "0s" for no "updates available" alerts.
    pub updates_available_batch: Option<String>,
    /// How long an applied or failed update keeps its alert; default "30m".
    pub update_event_window: Option<String>,
    #[serde(default)]
    pub webhook: Vec<RawWebhook>,
    #[serde(default)]
    pub ntfy: Vec<RawNtfy>,
    /// Receivers by URL (`docs/notifications.md`): `[[alerts.receiver]]`.
    #[serde(default)]
    pub receiver: Vec<RawReceiver>,
    /// Rules of your own over any series (plugin series included): `[[alerts.rule]]`.
    #[serde(default)]
    pub rule: Vec<RawSeriesRule>,
    /// Silences kept in the file: `[[alerts.silence]]`.
    #[serde(default)]
    pub silence: Vec<RawSilence>,
    /// How often an unacknowledged critical alert is sent again while open, e.g. "4h";
    /// "0" never.
    pub repeat_interval: Option<String>,
}

/// `[alerts] certificate_expiry_days` when not set.
pub const DEFAULT_CERTIFICATE_EXPIRY_DAYS: [u32; 2] = [21, 7];

#[derive(Debug, Clone)]
pub struct AlertsConfig {
    pub interval: Duration,
    pub resolve_after: Duration,
    pub offline_after: Duration,
    pub filesystem_warning_percent: f64,
    pub filesystem_critical_percent: f64,
    pub filesystem_ignore_types: Vec<String>,
    /// Certificate expiry thresholds in days, largest first.
    pub certificate_expiry_days: Vec<u32>,
    pub history_retention: Duration,
    pub history_max: usize,
    pub dashboard_url: Option<String>,
    pub notify_attempts: u32,
    /// Every receiver: `[[alerts.receiver]]`s first, then the older webhook and ntfy sections.
    pub receivers: Vec<ReceiverConfig>,
    pub series_rules: Vec<SeriesRule>,
    /// `[[alerts.silence]]`: id 0, made by "configuration", never stored.
    pub silences: Vec<SilenceRecord>,
    /// Issue 18 §1: container, update and disk-trend rules.
    pub containers: ContainerRuleConfig,
    pub disk_trends: DiskTrendConfig,
    pub updates: UpdateRuleConfig,
    /// Zero: never repeated.
    pub repeat_interval: Duration,
}

fn invalid(key: &'static str, value: impl Into<String>, message: &str) -> ConfigError {
    ConfigError::Invalid {
        key,
        value: value.into(),
        message: message.to_owned(),
    }
}

fn duration(
    key: &'static str,
    value: Option<&str>,
    default: &str,
) -> Result<Duration, ConfigError> {
    let text = value.unwrap_or(default);
    humantime::parse_duration(text).map_err(|error| invalid(key, text, &error.to_string()))
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

fn severity(key: &'static str, value: Option<&str>) -> Result<Severity, ConfigError> {
    match value.unwrap_or("warning") {
        "warning" => Ok(Severity::Warning),
        "critical" => Ok(Severity::Critical),
        other => Err(invalid(key, other, "expected \"warning\" or \"critical\"")),
    }
}

/// Checks that `text` is an absolute http(s) URL. The value is not echoed: it may hold a token.
fn http_url(key: &'static str, text: &str) -> Result<(), ConfigError> {
    match reqwest::Url::parse(text) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => Ok(()),
        Ok(_) => Err(invalid(
            key,
            "<redacted>",
            "expected an http:// or https:// URL",
        )),
        Err(error) => Err(invalid(key, "<redacted>", &format!("not a URL: {error}"))),
    }
}

/// A rule's error as the config file's: the key of the field, the same words.
fn rule_error(error: RuleError) -> ConfigError {
    let key = error.field().config_key();
    match error {
        RuleError::Invalid { value, message, .. } => invalid(key, value, &message),
    }
}

impl AlertsConfig {
    pub fn from_raw(raw: RawAlerts, stale_after: Duration) -> Result<AlertsConfig, ConfigError> {
        let interval = duration("alerts.interval", raw.interval.as_deref(), "30s")?;
        if interval < Duration::from_millis(100) {
            return Err(invalid(
                "alerts.interval",
                format!("{interval:?}"),
                "must be at least 100ms",
            ));
        }
        let warning = raw.filesystem_warning_percent.unwrap_or(90.0);
        let critical = raw.filesystem_critical_percent.unwrap_or(95.0);
        if !(0.0..=100.0).contains(&warning)
            || !(0.0..=100.0).contains(&critical)
            || warning > critical
        {
            return Err(invalid(
                "alerts.filesystem_warning_percent",
                format!("{warning} / {critical}"),
                "percentages between 0 and 100, warning at most critical",
            ));
        }
        if let Some(url) = &raw.dashboard_url {
            http_url("alerts.dashboard_url", url)?;
        }
        let mut certificate_expiry_days = raw
            .certificate_expiry_days
            .unwrap_or_else(|| DEFAULT_CERTIFICATE_EXPIRY_DAYS.to_vec());
        certificate_expiry_days.sort_unstable_by(|a, b| b.cmp(a));
        certificate_expiry_days.dedup();
        if certificate_expiry_days.contains(&0) {
            return Err(invalid(
                "alerts.certificate_expiry_days",
                format!("{certificate_expiry_days:?}"),
                "days must be at least 1 (an expired certificate always raises an alert)",
            ));
        }
        let all_receivers = receivers::all(raw.receiver, raw.webhook, raw.ntfy)?;
        let series_rules: Vec<SeriesRule> = raw
            .rule
            .into_iter()
            .map(|raw| SeriesRule::check(&raw).map_err(rule_error))
            .collect::<Result<_, ConfigError>>()?;
        let mut names = std::collections::BTreeSet::new();
        if let Some(twice) = series_rules.iter().find(|rule| !names.insert(&rule.name)) {
            return Err(invalid("alerts.rule.name", &twice.name, "used twice"));
        }
        Ok(AlertsConfig {
            interval,
            resolve_after: duration("alerts.resolve_after", raw.resolve_after.as_deref(), "2m")?,
            offline_after: match raw.offline_after.as_deref() {
                Some(text) => duration("alerts.offline_after", Some(text), "")?,
                None => stale_after,
            },
            filesystem_warning_percent: warning,
            filesystem_critical_percent: critical,
            filesystem_ignore_types: raw.filesystem_ignore_types.unwrap_or_else(|| {
                DEFAULT_IGNORED_FS_TYPES
                    .iter()
                    .map(|t| (*t).to_owned())
                    .collect()
            }),
            certificate_expiry_days,
            history_retention: duration(
                "alerts.history_retention",
                raw.history_retention.as_deref(),
                "90d",
            )?,
            history_max: raw.history_max.unwrap_or(1000),
            dashboard_url: raw.dashboard_url,
            notify_attempts: raw.notify_attempts.unwrap_or(6).max(1),
            receivers: all_receivers,
            series_rules,
            silences: silences::checked(raw.silence)?,
            containers: ContainerRuleConfig {
                restart_loop_count: raw.restart_loop_count.unwrap_or(3),
                restart_loop_window_ms: millis(duration(
                    "alerts.restart_loop_window",
                    raw.restart_loop_window.as_deref(),
                    "10m",
                )?),
                event_window_ms: millis(duration(
                    "alerts.container_event_window",
                    raw.container_event_window.as_deref(),
                    "24h",
                )?),
                gone_min_age_ms: millis(duration(
                    "alerts.container_gone_min_age",
                    raw.container_gone_min_age.as_deref(),
                    "10m",
                )?),
            },
            disk_trends: DiskTrendConfig {
                temperature_limit_celsius: raw.temperature_limit_celsius.unwrap_or(60),
                temperature_for_ms: millis(duration(
                    "alerts.temperature_for",
                    raw.temperature_for.as_deref(),
                    "5m",
                )?),
            },
            updates: UpdateRuleConfig {
                available_batch_ms: millis(duration(
                    "alerts.updates_available_batch",
                    raw.updates_available_batch.as_deref(),
                    "1d",
                )?),
                event_window_ms: millis(duration(
                    "alerts.update_event_window",
                    raw.update_event_window.as_deref(),
                    "30m",
                )?),
            },
            repeat_interval: duration(
                "alerts.repeat_interval",
                raw.repeat_interval.as_deref(),
                "4h",
            )?,
        })
    }

    /// How many notifiers are configured, for the startup log (no URLs: they may hold tokens).
    pub fn n_notifiers(&self) -> usize {
        self.receivers.len()
    }
}
