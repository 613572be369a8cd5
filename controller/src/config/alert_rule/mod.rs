//! The operator's rules over series (issue 18 §1 "user rules"), checked in one place:
//! [`RawSeriesRule`] is a rule as written (a `[[alerts.rule]]` of the config file, the body
//! of `PUT /api/v1/alerts/rules/{name}`, the dashboard's form, the CLI), [`SeriesRule::check`]
//! makes it a typed [`SeriesRule`] or says which field is wrong and why ([`RuleError`]).
//! Every face maps that error to its own form (`alerts.rule.for = ..` in the config file, a
//! 400 in the API) without rewording it. Pure: no I/O.

use crate::storage::alert_lifecycle::ActorRecord;
use crate::storage::alert_silences::{ThresholdRecord, UserRuleRecord};
use crate::storage::alerts::Severity;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// The longest `for`.
pub const MAX_FOR: Duration = Duration::from_secs(7 * 86_400);
/// The longest name, metric, label name, group or host, in bytes.
pub const MAX_WORD: usize = 200;
/// The longest summary, in characters.
pub const MAX_SUMMARY_CHARS: usize = 1000;
/// Labels, groups and hosts a rule has at most.
pub const MAX_LABELS: usize = 20;
pub const MAX_GROUPS: usize = 50;
pub const MAX_HOSTS: usize = 500;

/// A rule as written. `name` may be left out where the face gives it elsewhere (the API's
/// path); [`SeriesRule::check`] requires it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSeriesRule {
    /// A word for the alert key, `rule/<agent>/<name>/<labels>`.
    #[serde(default)]
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

/// A checked rule.
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

/// When a [`SeriesRule`] is active.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Threshold {
    Above(f64),
    Below(f64),
    /// The value is a Unix time in seconds older than this.
    OlderThan(Duration),
}

/// The field of a rule an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleField {
    Name,
    Metric,
    Labels,
    /// `above`, `below` or `older_than` (exactly one).
    Threshold,
    OlderThan,
    Severity,
    Summary,
    For,
    Groups,
    Hosts,
}

impl RuleField {
    /// The field as written in a rule.
    pub fn as_str(self) -> &'static str {
        match self {
            RuleField::Name => "name",
            RuleField::Metric => "metric",
            RuleField::Labels => "labels",
            RuleField::Threshold => "above/below/older_than",
            RuleField::OlderThan => "older_than",
            RuleField::Severity => "severity",
            RuleField::Summary => "summary",
            RuleField::For => "for",
            RuleField::Groups => "groups",
            RuleField::Hosts => "hosts",
        }
    }

    /// The key in the config file.
    pub fn config_key(self) -> &'static str {
        match self {
            RuleField::Name => "alerts.rule.name",
            RuleField::Metric => "alerts.rule.metric",
            RuleField::Labels => "alerts.rule.labels",
            RuleField::Threshold => "alerts.rule",
            RuleField::OlderThan => "alerts.rule.older_than",
            RuleField::Severity => "alerts.rule.severity",
            RuleField::Summary => "alerts.rule.summary",
            RuleField::For => "alerts.rule.for",
            RuleField::Groups => "alerts.rule.groups",
            RuleField::Hosts => "alerts.rule.hosts",
        }
    }
}

/// Why a rule cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RuleError {
    /// A field has a value that cannot be used.
    #[error("bad {} {value:?}: {message}", field.as_str())]
    Invalid {
        field: RuleField,
        value: String,
        message: String,
    },
}

impl RuleError {
    fn new(field: RuleField, value: impl Into<String>, message: impl Into<String>) -> RuleError {
        RuleError::Invalid {
            field,
            value: value.into(),
            message: message.into(),
        }
    }

    /// The field it is about.
    pub fn field(&self) -> RuleField {
        match self {
            RuleError::Invalid { field, .. } => *field,
        }
    }
}

fn word(field: RuleField, text: &str) -> Result<String, RuleError> {
    let text = text.trim();
    if text.is_empty() || text.len() > MAX_WORD || text.chars().any(|c| c.is_control() || c == ' ')
    {
        return Err(RuleError::new(
            field,
            text,
            format!("expected a word of 1 to {MAX_WORD} characters without blanks"),
        ));
    }
    Ok(text.to_owned())
}

fn duration(field: RuleField, text: &str) -> Result<Duration, RuleError> {
    humantime::parse_duration(text.trim())
        .map_err(|error| RuleError::new(field, text, format!("{error} (e.g. \"10m\")")))
}

fn given(text: Option<&str>) -> Option<&str> {
    text.filter(|text| !text.trim().is_empty())
}

impl SeriesRule {
    /// Checks a rule as written; the error names the field and says what to fix.
    pub fn check(raw: &RawSeriesRule) -> Result<SeriesRule, RuleError> {
        let name = word(RuleField::Name, &raw.name)?;
        if name.contains('/') {
            return Err(RuleError::new(RuleField::Name, name, "no slashes"));
        }
        let metric = word(RuleField::Metric, &raw.metric)?;
        let older_than = given(raw.older_than.as_deref())
            .map(|text| duration(RuleField::OlderThan, text))
            .transpose()?;
        let threshold = match (raw.above, raw.below, older_than) {
            (Some(value), None, None) if value.is_finite() => Threshold::Above(value),
            (None, Some(value), None) if value.is_finite() => Threshold::Below(value),
            (None, None, Some(age)) => Threshold::OlderThan(age),
            _ => {
                return Err(RuleError::new(
                    RuleField::Threshold,
                    name,
                    "expected exactly one of above, below (finite numbers) or older_than",
                ))
            }
        };
        let severity = match raw.severity.as_deref().map(str::trim).unwrap_or("warning") {
            "warning" | "" => Severity::Warning,
            "critical" => Severity::Critical,
            other => {
                return Err(RuleError::new(
                    RuleField::Severity,
                    other,
                    "expected warning or critical",
                ))
            }
        };
        let for_duration = given(raw.for_duration.as_deref())
            .map(|text| duration(RuleField::For, text))
            .transpose()?
            .unwrap_or(Duration::ZERO);
        if for_duration > MAX_FOR {
            return Err(RuleError::new(
                RuleField::For,
                raw.for_duration.clone().unwrap_or_default(),
                "at most 7 days",
            ));
        }
        let too_many = |field, n: usize, max: usize| {
            if n > max {
                Err(RuleError::new(
                    field,
                    format!("{n} of them"),
                    format!("at most {max}"),
                ))
            } else {
                Ok(())
            }
        };
        too_many(RuleField::Labels, raw.labels.len(), MAX_LABELS)?;
        too_many(RuleField::Groups, raw.groups.len(), MAX_GROUPS)?;
        too_many(RuleField::Hosts, raw.hosts.len(), MAX_HOSTS)?;
        let labels = raw
            .labels
            .iter()
            .map(|(name, value)| Ok((word(RuleField::Labels, name)?, value.clone())))
            .collect::<Result<Vec<_>, RuleError>>()?;
        let words = |field, list: &[String]| -> Result<Vec<String>, RuleError> {
            list.iter().map(|text| word(field, text)).collect()
        };
        let summary = match given(raw.summary.as_deref()).map(str::trim) {
            Some(text) if text.chars().count() > MAX_SUMMARY_CHARS => {
                return Err(RuleError::new(
                    RuleField::Summary,
                    format!("{} characters", text.chars().count()),
                    format!("at most {MAX_SUMMARY_CHARS} characters"),
                ))
            }
            Some(text) if text.chars().any(|c| c.is_control() && c != '\t') => {
                return Err(RuleError::new(
                    RuleField::Summary,
                    text,
                    "one line without control characters",
                ))
            }
            summary => summary.map(str::to_owned),
        };
        Ok(SeriesRule {
            name,
            metric,
            labels,
            threshold,
            severity,
            summary,
            for_duration,
            groups: words(RuleField::Groups, &raw.groups)?,
            hosts: words(RuleField::Hosts, &raw.hosts)?,
        })
    }

    /// Whether the rule applies to the host `agent_id` in `host_groups`.
    pub fn applies_to(&self, agent_id: &str, host_groups: &[&str]) -> bool {
        (self.hosts.is_empty() || self.hosts.iter().any(|host| host == agent_id))
            && (self.groups.is_empty()
                || self
                    .groups
                    .iter()
                    .any(|group| host_groups.contains(&group.as_str())))
    }

    /// The rule as stored, made by `by` at `at_ms`.
    pub fn to_record(&self, by: ActorRecord, at_ms: i64) -> UserRuleRecord {
        UserRuleRecord {
            name: self.name.clone(),
            metric: self.metric.clone(),
            labels: self.labels.clone(),
            threshold: self.threshold.as_stored(),
            severity: self.severity,
            summary: self.summary.clone(),
            for_ms: u64::try_from(self.for_duration.as_millis()).unwrap_or(u64::MAX),
            groups: self.groups.clone(),
            hosts: self.hosts.clone(),
            updated_by: by,
            updated_at_ms: at_ms,
        }
    }

    /// The rule as the faces that list both kinds show a config file's rule.
    pub fn as_stored(&self) -> UserRuleRecord {
        self.to_record(ActorRecord::Controller("config file".into()), 0)
    }

    /// A stored rule (checked when it was stored) as the evaluation runs it.
    pub fn from_record(record: &UserRuleRecord) -> SeriesRule {
        SeriesRule {
            name: record.name.clone(),
            metric: record.metric.clone(),
            labels: record.labels.clone(),
            threshold: match record.threshold {
                ThresholdRecord::Above(value) => Threshold::Above(value),
                ThresholdRecord::Below(value) => Threshold::Below(value),
                ThresholdRecord::OlderThanMs(ms) => Threshold::OlderThan(Duration::from_millis(ms)),
            },
            severity: record.severity,
            summary: record.summary.clone(),
            for_duration: Duration::from_millis(record.for_ms),
            groups: record.groups.clone(),
            hosts: record.hosts.clone(),
        }
    }
}

impl Threshold {
    /// The threshold as stored rules keep it.
    pub fn as_stored(self) -> ThresholdRecord {
        match self {
            Threshold::Above(value) => ThresholdRecord::Above(value),
            Threshold::Below(value) => ThresholdRecord::Below(value),
            Threshold::OlderThan(age) => {
                ThresholdRecord::OlderThanMs(u64::try_from(age.as_millis()).unwrap_or(u64::MAX))
            }
        }
    }
}

#[cfg(test)]
mod tests;
