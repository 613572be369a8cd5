//! The operator's alert rules over series (issue 18 §1 "user rules"): a threshold on a
//! series' newest value, with a duration (`for`) and a scope (host groups, hosts). Those of
//! the config file are listed read-only; those made in the dashboard or API are stored,
//! checked by the one validator every face uses ([`crate::config::alert_rule`]), and
//! audited.

use super::actor::Actor;
use super::alert_actions::actor_record;
use super::audit::{self, AuditAction};
use super::error::DomainError;
use crate::clock::now_ms;
use crate::config::alert_rule::{RawSeriesRule, SeriesRule};
use crate::context::Context;
use crate::storage::alert_silences::{ThresholdRecord, UserRuleRecord};
use crate::storage::alerts::Severity;
use serde::Serialize;
use std::collections::BTreeMap;

/// Stored rules at most.
pub const MAX_RULES: usize = 200;

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

/// Checks a rule as a face gives it (the one validator, [`SeriesRule::check`]) into a record
/// made by `actor` at `now_ms`.
pub fn checked(
    request: &RawSeriesRule,
    actor: &Actor,
    now_ms: i64,
) -> Result<UserRuleRecord, DomainError> {
    let rule =
        SeriesRule::check(request).map_err(|error| DomainError::Invalid(error.to_string()))?;
    Ok(rule.to_record(actor_record(actor), now_ms))
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
pub fn put(ctx: &Context, actor: &Actor, request: &RawSeriesRule) -> Result<RuleView, DomainError> {
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
    fn issue_18_cli_rules_of_every_face_get_the_validators_words() {
        let good = RawSeriesRule {
            name: "hot".into(),
            metric: "cpu_usage_ratio".into(),
            above: Some(0.9),
            for_duration: Some("10m".into()),
            ..RawSeriesRule::default()
        };
        let record = checked(&good, &Actor::user("ada"), 7).unwrap();
        assert_eq!(record.for_ms, 600_000);
        assert_eq!(record.updated_at_ms, 7);
        let error = checked(
            &RawSeriesRule {
                for_duration: Some("later".into()),
                ..good
            },
            &Actor::Cli,
            0,
        )
        .unwrap_err();
        assert!(
            matches!(&error, DomainError::Invalid(text) if text.starts_with("bad for \"later\"")),
            "{error}"
        );
    }
}
