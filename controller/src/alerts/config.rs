//! The `[alerts]` section of the controller's TOML: [`RawAlerts`] as written (every key
//! optional, defaults documented in `docs/alerts.md` and `packaging/controller.toml`), and
//! [`AlertsConfig`], validated and typed.

use super::notify::receivers::{self, RawReceiver, ReceiverConfig};
use super::notify::url::Channel;
use crate::config::error::ConfigError;
use crate::config::secret::Secret;
use crate::storage::alerts::Severity;
use serde::Deserialize;
use std::collections::BTreeMap;
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
    /// How often an unacknowledged critical alert is sent again while open, e.g. "4h";
    /// "0" never.
    pub repeat_interval: Option<String>,
}

/// One `[[alerts.rule]]`: a threshold on the newest value of a series.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSeriesRule {
    /// A word for the alert key, `rule/<agent>/<name>/<labels>`.
    pub name: String,
    /// The series' metric name as stored (`backup_last_success_timestamp_seconds`).
    pub metric: String,
    /// Labels the series must have, e.g. `{ source = "textfile/backup.prom" }`.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Active when the value is over this.
    pub above: Option<f64>,
    /// Active when the value is under this.
    pub below: Option<f64>,
    /// Active when the value, a Unix time in seconds, is older than this, e.g. "26h".
    pub older_than: Option<String>,
    /// "warning" (default) or "critical".
    pub severity: Option<String>,
    /// The alert's one line; default: the series, its value and the threshold.
    pub summary: Option<String>,
    /// How long the threshold must hold before the alert opens, e.g. "10m"; default at once.
    #[serde(rename = "for")]
    pub for_duration: Option<String>,
    /// Only hosts in these host groups; default every host.
    #[serde(default)]
    pub groups: Vec<String>,
    /// Only these hosts (agent ids); default every host.
    #[serde(default)]
    pub hosts: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWebhook {
    /// Where the JSON is POSTed; may carry a token, so it is never logged.
    pub url: String,
    /// "warning" (default) or "critical".
    pub min_severity: Option<String>,
    /// The HMAC-SHA256 key for the `X-Unity-Signature` header; default: unsigned.
    pub secret: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNtfy {
    /// The ntfy server; default `https://ntfy.sh`.
    pub server: Option<String>,
    pub topic: String,
    /// An access token (`Authorization: Bearer`), never logged.
    pub token: Option<String>,
    /// "warning" (default) or "critical".
    pub min_severity: Option<String>,
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
    /// Issue 18 §1: container, update and disk-trend rules.
    pub containers: ContainerRuleConfig,
    pub disk_trends: DiskTrendConfig,
    pub updates: UpdateRuleConfig,
    /// Zero: never repeated.
    pub repeat_interval: Duration,
}

/// A validated `[[alerts.rule]]`.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesRule {
    pub name: String,
    pub metric: String,
    pub labels: Vec<(String, String)>,
    pub threshold: Threshold,
    pub severity: Severity,
    pub summary: Option<String>,
    /// How long the threshold must hold before the alert opens; zero: at once.
    pub for_duration: Duration,
    /// Only hosts in these host groups (empty: every host).
    pub groups: Vec<String>,
    /// Only these hosts, by agent id (empty: every host).
    pub hosts: Vec<String>,
}

impl SeriesRule {
    /// Whether the rule applies to the host `agent_id` in `host_groups`.
    pub fn applies_to(&self, agent_id: &str, host_groups: &[&str]) -> bool {
        (self.hosts.is_empty() || self.hosts.iter().any(|host| host == agent_id))
            && (self.groups.is_empty()
                || self
                    .groups
                    .iter()
                    .any(|group| host_groups.contains(&group.as_str())))
    }
}

impl SeriesRule {
    /// The rule as stored rules are, for the faces that list both (`by` = "config file").
    pub fn as_stored(&self) -> crate::storage::alert_silences::UserRuleRecord {
        crate::storage::alert_silences::UserRuleRecord {
            name: self.name.clone(),
            metric: self.metric.clone(),
            labels: self.labels.clone(),
            threshold: self.threshold.as_stored(),
            severity: self.severity,
            summary: self.summary.clone(),
            for_ms: u64::try_from(self.for_duration.as_millis()).unwrap_or(u64::MAX),
            groups: self.groups.clone(),
            hosts: self.hosts.clone(),
            updated_by: crate::storage::alert_lifecycle::ActorRecord::Controller(
                "config file".into(),
            ),
            updated_at_ms: 0,
        }
    }
}

/// When a [`SeriesRule`] is active.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Threshold {
    Above(f64),
    Below(f64),
    /// The value is a Unix time in seconds older than this.
    OlderThan(Duration),
}

impl Threshold {
    /// The threshold as stored rules keep it.
    pub fn as_stored(self) -> crate::storage::alert_silences::ThresholdRecord {
        use crate::storage::alert_silences::ThresholdRecord;
        match self {
            Threshold::Above(value) => ThresholdRecord::Above(value),
            Threshold::Below(value) => ThresholdRecord::Below(value),
            Threshold::OlderThan(age) => {
                ThresholdRecord::OlderThanMs(u64::try_from(age.as_millis()).unwrap_or(u64::MAX))
            }
        }
    }
}

fn series_rule(raw: RawSeriesRule) -> Result<SeriesRule, ConfigError> {
    let name = raw.name.trim();
    if name.is_empty() || name.contains(['/', ' ']) {
        return Err(invalid(
            "alerts.rule.name",
            name,
            "expected a word without blanks or slashes",
        ));
    }
    if raw.metric.trim().is_empty() {
        return Err(invalid(
            "alerts.rule.metric",
            &raw.metric,
            "expected a metric name",
        ));
    }
    let older_than = match raw.older_than.as_deref() {
        Some(text) => Some(duration("alerts.rule.older_than", Some(text), "")?),
        None => None,
    };
    let threshold = match (raw.above, raw.below, older_than) {
        (Some(value), None, None) if value.is_finite() => Threshold::Above(value),
        (None, Some(value), None) if value.is_finite() => Threshold::Below(value),
        (None, None, Some(age)) => Threshold::OlderThan(age),
        _ => {
            return Err(invalid(
                "alerts.rule",
                name,
                "expected exactly one of above, below (finite numbers) or older_than",
            ))
        }
    };
    let for_duration = match raw.for_duration.as_deref() {
        Some(text) => duration("alerts.rule.for", Some(text), "")?,
        None => Duration::ZERO,
    };
    if for_duration > Duration::from_secs(7 * 86_400) {
        return Err(invalid(
            "alerts.rule.for",
            raw.for_duration.unwrap_or_default(),
            "at most 7 days",
        ));
    }
    for word in raw.groups.iter().chain(&raw.hosts) {
        if word.trim().is_empty() {
            return Err(invalid(
                "alerts.rule.groups",
                word,
                "expected host group names and agent ids, not empty words",
            ));
        }
    }
    Ok(SeriesRule {
        name: name.to_owned(),
        metric: raw.metric.trim().to_owned(),
        labels: raw.labels.into_iter().collect(),
        threshold,
        severity: severity("alerts.rule.severity", raw.severity.as_deref())?,
        summary: raw.summary.filter(|summary| !summary.trim().is_empty()),
        for_duration,
        groups: raw.groups,
        hosts: raw.hosts,
    })
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
        let mut all_receivers: Vec<ReceiverConfig> = raw
            .receiver
            .into_iter()
            .enumerate()
            .map(|(i, raw)| receivers::receiver(raw, i + 1))
            .collect::<Result<_, ConfigError>>()?;
        for (i, webhook) in raw.webhook.into_iter().enumerate() {
            http_url("alerts.webhook.url", &webhook.url)?;
            all_receivers.push(receivers::legacy(
                format!("webhook section {}", i + 1),
                Channel::Webhook {
                    url: Secret(webhook.url),
                },
                severity(
                    "alerts.webhook.min_severity",
                    webhook.min_severity.as_deref(),
                )?,
                webhook
                    .secret
                    .filter(|secret| !secret.is_empty())
                    .map(Secret),
            ));
        }
        for (i, ntfy) in raw.ntfy.into_iter().enumerate() {
            all_receivers.push({
                let topic = ntfy.topic.trim_matches('/');
                if topic.is_empty() || topic.contains(['/', '?', '#', ' ']) {
                    return Err(invalid(
                        "alerts.ntfy.topic",
                        "<redacted>",
                        "expected a topic name",
                    ));
                }
                let server = ntfy.server.as_deref().unwrap_or("https://ntfy.sh");
                http_url("alerts.ntfy.server", server)?;
                receivers::legacy(
                    format!("ntfy section {}", i + 1),
                    Channel::Ntfy {
                        url: Secret(format!("{}/{topic}", server.trim_end_matches('/'))),
                        token: ntfy.token.filter(|token| !token.is_empty()).map(Secret),
                    },
                    severity("alerts.ntfy.min_severity", ntfy.min_severity.as_deref())?,
                    None,
                )
            });
        }
        receivers::check_names(&all_receivers)?;
        let series_rules: Vec<SeriesRule> = raw
            .rule
            .into_iter()
            .map(series_rule)
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

/// The thresholds of the container rules (`[alerts]` keys of the same names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContainerRuleConfig {
    /// Exits within the window that make a restart loop.
    pub restart_loop_count: usize,
    pub restart_loop_window_ms: i64,
    /// How long an `oom` or `destroy` event keeps its condition active.
    pub event_window_ms: i64,
    /// A container destroyed less than this after it was created is a one-off job (`docker
    /// run --rm`), not a watched container that went away.
    pub gone_min_age_ms: i64,
}

impl Default for ContainerRuleConfig {
    fn default() -> ContainerRuleConfig {
        ContainerRuleConfig {
            restart_loop_count: 3,
            restart_loop_window_ms: 10 * 60 * 1000,
            event_window_ms: 24 * 60 * 60 * 1000,
            gone_min_age_ms: 10 * 60 * 1000,
        }
    }
}

/// The thresholds of the trend rules (`[alerts]` keys of the same names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiskTrendConfig {
    /// For drives that report no warning limit of their own.
    pub temperature_limit_celsius: i64,
    /// How long a drive must stay above its limit.
    pub temperature_for_ms: i64,
}

impl Default for DiskTrendConfig {
    fn default() -> DiskTrendConfig {
        DiskTrendConfig {
            temperature_limit_celsius: 60,
            temperature_for_ms: 5 * 60 * 1000,
        }
    }
}

/// The thresholds of the update rules (`[alerts]` keys of the same names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpdateRuleConfig {
    /// The period new updates are batched in (0: no "available" alerts).
    pub available_batch_ms: i64,
    /// How long a finished update keeps its condition.
    pub event_window_ms: i64,
}

impl Default for UpdateRuleConfig {
    fn default() -> UpdateRuleConfig {
        UpdateRuleConfig {
            available_batch_ms: 24 * 60 * 60 * 1000,
            event_window_ms: 30 * 60 * 1000,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<AlertsConfig, ConfigError> {
        let raw: RawAlerts = toml::from_str(text).unwrap();
        AlertsConfig::from_raw(raw, Duration::from_secs(120))
    }

    #[test]
    fn defaults() {
        let config = parse("").unwrap();
        assert_eq!(config.interval, Duration::from_secs(30));
        assert_eq!(config.resolve_after, Duration::from_secs(120));
        assert_eq!(config.offline_after, Duration::from_secs(120));
        assert_eq!(
            (
                config.filesystem_warning_percent,
                config.filesystem_critical_percent
            ),
            (90.0, 95.0)
        );
        assert_eq!(config.n_notifiers(), 0);
        assert_eq!(config.certificate_expiry_days, vec![21, 7]);
    }

    #[test]
    fn issue_15_certificate_expiry_days() {
        let config = parse("certificate_expiry_days = [7, 30, 14, 7]").unwrap();
        assert_eq!(config.certificate_expiry_days, vec![30, 14, 7]);
        assert!(parse("certificate_expiry_days = [0]").is_err());
        let config = parse("certificate_expiry_days = []").unwrap();
        assert!(config.certificate_expiry_days.is_empty());
    }

    #[test]
    fn issue_18_repeat_interval_and_rules_with_for_and_scope() {
        assert_eq!(
            parse("").unwrap().repeat_interval,
            Duration::from_secs(4 * 3600)
        );
        assert_eq!(
            parse("repeat_interval = \"0\"").unwrap().repeat_interval,
            Duration::ZERO
        );
        assert!(parse("repeat_interval = \"often\"").is_err());
        let config = parse(
            "[[rule]]\nname = \"hot\"\nmetric = \"cpu_usage_ratio\"\nabove = 0.9\nfor = \"10m\"\ngroups = [\"nas\"]\nhosts = [\"n1\"]\n",
        )
        .unwrap();
        let rule = &config.series_rules[0];
        assert_eq!(rule.for_duration, Duration::from_secs(600));
        assert!(rule.applies_to("n1", &["nas"]));
        assert!(!rule.applies_to("n1", &["web"]));
        assert!(!rule.applies_to("n2", &["nas"]));
        for bad in ["for = \"soon\"", "for = \"30d\"", "groups = [\"\"]"] {
            let text = format!("[[rule]]\nname = \"a\"\nmetric = \"m\"\nabove = 1\n{bad}\n");
            let error = parse(&text).unwrap_err().to_string();
            assert!(error.contains("alerts.rule"), "{bad}: {error}");
        }
    }

    #[test]
    fn issue_22_series_rules_are_checked() {
        let config = parse(
            "[[rule]]\nname = \"backup_stale\"\nmetric = \"backup_last_success_timestamp_seconds\"\nlabels = { source = \"textfile/backup.prom\" }\nolder_than = \"26h\"\nseverity = \"critical\"\n[[rule]]\nname = \"ups\"\nmetric = \"ups_battery_charge\"\nbelow = 50\n",
        )
        .unwrap();
        assert_eq!(
            config.series_rules[0],
            SeriesRule {
                name: "backup_stale".into(),
                metric: "backup_last_success_timestamp_seconds".into(),
                labels: vec![("source".into(), "textfile/backup.prom".into())],
                threshold: Threshold::OlderThan(Duration::from_secs(26 * 3600)),
                severity: Severity::Critical,
                summary: None,
                for_duration: Duration::ZERO,
                groups: vec![],
                hosts: vec![],
            }
        );
        assert_eq!(config.series_rules[1].threshold, Threshold::Below(50.0));
        assert_eq!(config.series_rules[1].severity, Severity::Warning);
        for (text, key) in [
            ("name = \"a\"\nmetric = \"m\"\n", "alerts.rule"),
            (
                "name = \"a\"\nmetric = \"m\"\nabove = 1\nbelow = 0\n",
                "alerts.rule",
            ),
            (
                "name = \"a b\"\nmetric = \"m\"\nabove = 1\n",
                "alerts.rule.name",
            ),
            (
                "name = \"a\"\nmetric = \"\"\nabove = 1\n",
                "alerts.rule.metric",
            ),
            (
                "name = \"a\"\nmetric = \"m\"\nolder_than = \"soon\"\n",
                "alerts.rule.older_than",
            ),
            (
                "name = \"a\"\nmetric = \"m\"\nabove = 1\nseverity = \"page\"\n",
                "alerts.rule.severity",
            ),
        ] {
            match parse(&format!("[[rule]]\n{text}")) {
                Err(ConfigError::Invalid { key: got, .. }) => assert_eq!(got, key, "{text}"),
                other => panic!("{text}: {other:?}"),
            }
        }
        let twice = "[[rule]]\nname = \"a\"\nmetric = \"m\"\nabove = 1\n";
        assert!(parse(&format!("{twice}{twice}")).is_err());
    }

    #[test]
    fn the_packaged_rule_example_parses_when_uncommented() {
        let packaged = include_str!("../../../packaging/controller.toml");
        let example: String = packaged
            .lines()
            .skip_while(|line| *line != "# [[alerts.rule]]")
            .take_while(|line| !line.is_empty())
            .map(|line| line.trim_start_matches("# "))
            .collect::<Vec<_>>()
            .join("\n");
        assert!(example.contains("older_than"), "{example}");
        let raw: crate::config::RawConfig = toml::from_str(&example).unwrap();
        let config = crate::config::Config::from_raw(raw).unwrap();
        assert_eq!(config.alerts.series_rules[0].name, "backup_stale");
    }

    #[test]
    fn the_section_in_the_controller_file() {
        let raw: crate::config::RawConfig = toml::from_str(
            "stale_after = \"5m\"\n[alerts]\nresolve_after = \"10m\"\n[[alerts.webhook]]\nurl = \"http://x/\"\n",
        )
        .unwrap();
        let config = crate::config::Config::from_raw(raw).unwrap();
        assert_eq!(config.alerts.offline_after, Duration::from_secs(300));
        assert_eq!(config.alerts.resolve_after, Duration::from_secs(600));
        assert_eq!(config.alerts.receivers.len(), 1);
    }

    #[test]
    fn notifiers_and_bad_values() {
        let config = parse(
            "[[webhook]]\nurl = \"https://hooks.example/x?token=s3cret\"\n\
             [[ntfy]]\ntopic = \"nas-alerts\"\ntoken = \"tk_1\"\nmin_severity = \"critical\"\n",
        )
        .unwrap();
        let ntfy = &config.receivers[1];
        assert!(
            matches!(&ntfy.channel, Channel::Ntfy { url, .. } if url.0 == "https://ntfy.sh/nas-alerts")
        );
        assert_eq!(ntfy.min_severity, Severity::Critical);
        assert_eq!(ntfy.name, "ntfy section 1");
        assert!(
            !format!("{config:?}").contains("s3cret"),
            "secrets stay out of Debug"
        );
        let error = parse("[[webhook]]\nurl = \"ftp://x/s3cret\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("alerts.webhook.url") && !error.contains("s3cret"),
            "{error}"
        );
        assert!(parse("filesystem_warning_percent = 97.0").is_err());
        assert!(parse("[[ntfy]]\ntopic = \"\"\n").is_err());
        assert!(parse("[[webhook]]\nurl = \"http://x\"\nmin_severity = \"info\"\n").is_err());
        assert!(toml::from_str::<RawAlerts>("intervall = \"1s\"").is_err());
    }

    #[test]
    fn issue_18_the_packaged_condition_keys_are_the_defaults() {
        let packaged = include_str!("../../../packaging/controller.toml");
        let keys = [
            "restart_loop_count",
            "restart_loop_window",
            "container_event_window",
            "container_gone_min_age",
            "temperature_limit_celsius",
            "temperature_for",
            "updates_available_batch",
            "update_event_window",
        ];
        let section: Vec<&str> = packaged
            .lines()
            .filter_map(|line| line.strip_prefix("# "))
            .filter(|line| {
                keys.iter()
                    .any(|key| line.starts_with(&format!("{key} = ")))
            })
            .collect();
        assert_eq!(section.len(), keys.len(), "{section:?}");
        let packaged = parse(&section.join("\n")).unwrap();
        let default = parse("").unwrap();
        assert_eq!(packaged.containers, default.containers);
        assert_eq!(packaged.disk_trends, default.disk_trends);
        assert_eq!(packaged.updates, default.updates);
        assert_eq!(default.containers, ContainerRuleConfig::default());
        assert_eq!(default.disk_trends, DiskTrendConfig::default());
        assert_eq!(default.updates, UpdateRuleConfig::default());
        let custom = parse("restart_loop_count = 5\nrestart_loop_window = \"1h\"\nupdates_available_batch = \"0s\"").unwrap();
        assert_eq!(custom.containers.restart_loop_count, 5);
        assert_eq!(custom.containers.restart_loop_window_ms, 3_600_000);
        assert_eq!(custom.updates.available_batch_ms, 0);
        assert!(parse("temperature_for = \"soon\"").is_err());
    }
}
