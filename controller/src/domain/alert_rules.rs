//! The operator's alert rules over series (issue 18 §1 "user rules"): a threshold on a
//! series' newest value, with a duration (`for`) and a scope (host groups, hosts). Those of
//! the config file are listed read-only; those made in the dashboard or API are stored,
//! checked here with messages that say what to fix, and audited.

use super::actor::Actor;
use super::alert_actions::actor_record;
use super::audit::{self, AuditAction};
use super::error::DomainError;
use crate::clock::now_ms;
use crate::context::Context;
use crate::storage::alert_silences::{ThresholdRecord, UserRuleRecord};
use crate::storage::alerts::Severity;
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// Stored rules at most.
pub const MAX_RULES: usize = 200;
/// The longest `for`.
pub const MAX_FOR: Duration = Duration::from_secs(7 * 86_400);

/// A rule as the faces show it.
#[derive(Debug, Clone, Serialize)]
pub struct RuleView {
    pub name: String,
    pub metric: String,
    pub labels: BTreeMap<String, String>,
    /// `above`, `below` or `older_than`.
    pub threshold: &'static str,
    /// The number, or for `older_than` the age in seconds.
    pub value: f64,
    pub severity: Severity,
    pub summary: Option<String>,
    pub for_seconds: u64,
    pub groups: Vec<String>,
    pub hosts: Vec<String>,
    /// `config` (read-only, from the config file) or `stored`.
    pub source: &'static str,
    pub updated_by: String,
    pub updated_at_ms: i64,
}

fn view(record: &UserRuleRecord, source: &'static str) -> RuleView {
    let (threshold, value) = match record.threshold {
        ThresholdRecord::Above(value) => ("above", value),
        ThresholdRecord::Below(value) => ("below", value),
        ThresholdRecord::OlderThanMs(ms) => ("older_than", ms as f64 / 1000.0),
    };
    RuleView {
        name: record.name.clone(),
        metric: record.metric.clone(),
        labels: record.labels.iter().cloned().collect(),
        threshold,
        value,
        severity: record.severity,
        summary: record.summary.clone(),
        for_seconds: record.for_ms / 1000,
        groups: record.groups.clone(),
        hosts: record.hosts.clone(),
        source,
        updated_by: record.updated_by.to_string(),
        updated_at_ms: record.updated_at_ms,
    }
}

/// A rule as a face gives it.
#[derive(Debug, Clone, Default)]
pub struct RuleRequest {
    pub name: String,
    pub metric: String,
    pub labels: BTreeMap<String, String>,
    pub above: Option<f64>,
    pub below: Option<f64>,
    /// e.g. "26h".
    pub older_than: Option<String>,
    /// `warning` (default) or `critical`.
    pub severity: Option<String>,
    pub summary: Option<String>,
    /// e.g. "10m"; default at once.
    pub for_duration: Option<String>,
    pub groups: Vec<String>,
    pub hosts: Vec<String>,
}

fn invalid(message: String) -> DomainError {
    DomainError::Invalid(message)
}

fn word(what: &str, text: &str) -> Result<String, DomainError> {
    let text = text.trim();
    if text.is_empty() || text.len() > 200 || text.chars().any(|c| c.is_control() || c == ' ') {
        return Err(invalid(format!(
            "bad {what} {text:?}: expected a word of 1 to 200 characters without blanks"
        )));
    }
    Ok(text.to_owned())
}

fn duration(what: &str, text: &str) -> Result<Duration, DomainError> {
    humantime::parse_duration(text.trim())
        .map_err(|error| invalid(format!("bad {what} {text:?}: {error} (e.g. \"10m\")")))
}

/// Checks a request into a record.
pub fn checked(
    request: &RuleRequest,
    actor: &Actor,
    now_ms: i64,
) -> Result<UserRuleRecord, DomainError> {
    let name = word("rule name", &request.name)?;
    if name.contains('/') {
        return Err(invalid(format!("bad rule name {name:?}: no slashes")));
    }
    let metric = word("metric", &request.metric)?;
    let older_than = request
        .older_than
        .as_deref()
        .filter(|text| !text.trim().is_empty())
        .map(|text| duration("older_than", text))
        .transpose()?;
    let threshold = match (request.above, request.below, older_than) {
        (Some(value), None, None) if value.is_finite() => ThresholdRecord::Above(value),
        (None, Some(value), None) if value.is_finite() => ThresholdRecord::Below(value),
        (None, None, Some(age)) => {
            ThresholdRecord::OlderThanMs(u64::try_from(age.as_millis()).unwrap_or(u64::MAX))
        }
        _ => {
            return Err(invalid(
                "expected exactly one of above, below (finite numbers) or older_than".into(),
            ))
        }
    };
    let severity = match request.severity.as_deref().unwrap_or("warning") {
        "warning" => Severity::Warning,
        "critical" => Severity::Critical,
        other => {
            return Err(invalid(format!(
                "bad severity {other:?}: expected warning or critical"
            )))
        }
    };
    let for_duration = match request.for_duration.as_deref() {
        Some(text) if !text.trim().is_empty() => duration("for", text)?,
        _ => Duration::ZERO,
    };
    if for_duration > MAX_FOR {
        return Err(invalid("bad for: at most 7 days".into()));
    }
    if request.labels.len() > 20 || request.groups.len() > 50 || request.hosts.len() > 500 {
        return Err(invalid(
            "too many labels (20), groups (50) or hosts (500)".into(),
        ));
    }
    let labels = request
        .labels
        .iter()
        .map(|(name, value)| Ok((word("label name", name)?, value.clone())))
        .collect::<Result<Vec<_>, DomainError>>()?;
    let words = |what: &str, list: &[String]| -> Result<Vec<String>, DomainError> {
        list.iter().map(|text| word(what, text)).collect()
    };
    let summary = request
        .summary
        .as_deref()
        .map(|text| super::alert_actions::checked_note("summary", text))
        .transpose()?
        .filter(|text| !text.is_empty());
    Ok(UserRuleRecord {
        name,
        metric,
        labels,
        threshold,
        severity,
        summary,
        for_ms: u64::try_from(for_duration.as_millis()).unwrap_or(u64::MAX),
        groups: words("group", &request.groups)?,
        hosts: words("host", &request.hosts)?,
        updated_by: actor_record(actor),
        updated_at_ms: now_ms,
    })
}

/// The config file's rules (read-only), then the stored ones. Note that this uses blocking
/// I/O.
pub fn list(ctx: &Context) -> Result<Vec<RuleView>, DomainError> {
    let mut rules: Vec<RuleView> = ctx
        .config
        .alerts
        .series_rules
        .iter()
        .map(|rule| view(&rule.as_stored(), "config"))
        .collect();
    rules.extend(
        ctx.store
            .alert_silences
            .rules()?
            .iter()
            .map(|record| view(record, "stored")),
    );
    Ok(rules)
}

/// Makes or replaces a stored rule, audited. Note that this uses blocking I/O.
pub fn put(ctx: &Context, actor: &Actor, request: &RuleRequest) -> Result<RuleView, DomainError> {
    let record = checked(request, actor, now_ms())?;
    if ctx
        .config
        .alerts
        .series_rules
        .iter()
        .any(|rule| rule.name == record.name)
    {
        return Err(DomainError::Conflict(format!(
            "rule {:?} is defined in the config file, which is read-only here; choose another name",
            record.name
        )));
    }
    let stored = ctx.store.alert_silences.rules()?;
    if stored.len() >= MAX_RULES && !stored.iter().any(|rule| rule.name == record.name) {
        return Err(DomainError::Conflict(format!(
            "{MAX_RULES} rules exist already"
        )));
    }
    ctx.store.alert_silences.put_rule(&record)?;
    audit::record(ctx, actor, AuditAction::AlertRuleSet, &record.name)?;
    Ok(view(&record, "stored"))
}

/// Deletes a stored rule, audited. Note that this uses blocking I/O.
pub fn delete(ctx: &Context, actor: &Actor, name: &str) -> Result<(), DomainError> {
    if ctx
        .config
        .alerts
        .series_rules
        .iter()
        .any(|rule| rule.name == name)
    {
        return Err(DomainError::Conflict(format!(
            "rule {name:?} is defined in the config file; remove it there"
        )));
    }
    if !ctx.store.alert_silences.delete_rule(name)? {
        return Err(DomainError::NotFound(format!("no stored rule {name:?}")));
    }
    audit::record(ctx, actor, AuditAction::AlertRuleDelete, name)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue_18_rules_are_checked_with_clear_errors() {
        let good = RuleRequest {
            name: "hot".into(),
            metric: "cpu_usage_ratio".into(),
            above: Some(0.9),
            for_duration: Some("10m".into()),
            groups: vec!["nas".into()],
            ..RuleRequest::default()
        };
        let record = checked(&good, &Actor::user("ada"), 7).unwrap();
        assert_eq!(record.for_ms, 600_000);
        assert_eq!(record.threshold, ThresholdRecord::Above(0.9));
        let cases: Vec<(RuleRequest, &str)> = vec![
            (
                RuleRequest {
                    name: "a/b".into(),
                    ..good.clone()
                },
                "no slashes",
            ),
            (
                RuleRequest {
                    name: " ".into(),
                    ..good.clone()
                },
                "bad rule name",
            ),
            (
                RuleRequest {
                    below: Some(1.0),
                    ..good.clone()
                },
                "exactly one",
            ),
            (
                RuleRequest {
                    above: Some(f64::NAN),
                    ..good.clone()
                },
                "exactly one",
            ),
            (
                RuleRequest {
                    for_duration: Some("later".into()),
                    ..good.clone()
                },
                "bad for",
            ),
            (
                RuleRequest {
                    for_duration: Some("8d".into()),
                    ..good.clone()
                },
                "at most 7 days",
            ),
            (
                RuleRequest {
                    severity: Some("panic".into()),
                    ..good.clone()
                },
                "bad severity",
            ),
            (
                RuleRequest {
                    groups: vec!["a b".into()],
                    ..good.clone()
                },
                "bad group",
            ),
        ];
        for (request, why) in cases {
            let error = checked(&request, &Actor::Cli, 0).unwrap_err().to_string();
            assert!(error.contains(why), "{why}: {error}");
        }
    }
}
