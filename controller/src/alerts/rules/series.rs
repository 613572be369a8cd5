//! The operator's own rules over series (pure), `[[alerts.rule]]`: a threshold on the newest
//! value of every series with the rule's metric name and labels. This is how plugin series (a
//! backup script's textfile, an exporter's gauge, a check's extra lines) raise alerts; Unity's
//! own series work the same way. One alert per matching series,
//! `rule/<agent>/<name>/<its labels>`, so two UPSes or two backup jobs alert apart.
//!
//! A series whose newest point is older than `stale_ms` is left alone: its source stopped
//! giving it, which the source's own status (and the offline alert) already says.

use super::{duration_text, Condition};
use crate::alerts::config::{SeriesRule, Threshold};
use crate::storage::series::{Point, SeriesKey};
use unity_shared::proto::AgentId;

fn matches(rule: &SeriesRule, key: &SeriesKey) -> bool {
    key.metric == rule.metric
        && rule
            .labels
            .iter()
            .all(|wanted| key.labels.iter().any(|label| label == wanted))
}

fn series_text(key: &SeriesKey) -> String {
    let labels: Vec<String> = key
        .labels
        .iter()
        .map(|(name, value)| format!("{name}=\"{value}\""))
        .collect();
    format!("{}{{{}}}", key.metric, labels.join(","))
}

/// Whether the value breaks the threshold, and how to say so.
fn broken(threshold: Threshold, value: f64, now_ms: i64) -> Option<String> {
    match threshold {
        Threshold::Above(limit) if value > limit => Some(format!("{value} is above {limit}")),
        Threshold::Below(limit) if value < limit => Some(format!("{value} is below {limit}")),
        Threshold::OlderThan(age) => {
            let age_ms = i64::try_from(age.as_millis()).unwrap_or(i64::MAX);
            let value_ms = value * 1000.0;
            let then_ms = if value_ms.is_finite() {
                value_ms as i64
            } else {
                0
            };
            (now_ms.saturating_sub(then_ms) > age_ms).then(|| {
                format!(
                    "{} old, older than {}",
                    duration_text(now_ms.saturating_sub(then_ms)),
                    duration_text(age_ms)
                )
            })
        }
        _ => None,
    }
}

/// The conditions the rules find in a host's newest series.
pub fn conditions(
    agent: &AgentId,
    rules: &[SeriesRule],
    latest: &[(SeriesKey, Point)],
    stale_ms: i64,
    now_ms: i64,
) -> Vec<Condition> {
    let mut conditions = Vec::new();
    for rule in rules {
        for (key, (at_ms, value)) in latest.iter().filter(|(key, _)| matches(rule, key)) {
            if now_ms.saturating_sub(*at_ms) > stale_ms {
                continue;
            }
            let Some(why) = broken(rule.threshold, *value, now_ms) else {
                continue;
            };
            let series = series_text(key);
            let labels: Vec<String> = key
                .labels
                .iter()
                .map(|(name, value)| format!("{name}={value}"))
                .collect();
            conditions.push(Condition {
                key: format!("rule/{agent}/{}/{}", rule.name, labels.join(",")),
                agent_id: agent.clone(),
                severity: rule.severity,
                summary: match &rule.summary {
                    Some(summary) => summary.clone(),
                    None => format!("{series}: {why}"),
                },
                details: vec![format!("Rule {}: {series}: {why}.", rule.name)],
            });
        }
    }
    conditions
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::alerts::Severity;
    use std::time::Duration;

    const NOW: i64 = 1_700_000_000_000;

    fn rule(threshold: Threshold, labels: &[(&str, &str)]) -> SeriesRule {
        SeriesRule {
            name: "r".into(),
            metric: "m".into(),
            labels: labels
                .iter()
                .map(|(name, value)| ((*name).into(), (*value).into()))
                .collect(),
            threshold,
            severity: Severity::Critical,
            summary: None,
            for_duration: Duration::ZERO,
            groups: vec![],
            hosts: vec![],
        }
    }

    fn series(metric: &str, labels: &[(&str, &str)], at_ms: i64, value: f64) -> (SeriesKey, Point) {
        (
            SeriesKey {
                metric: metric.into(),
                labels: labels
                    .iter()
                    .map(|(name, value)| ((*name).into(), (*value).into()))
                    .collect(),
            },
            (at_ms, value),
        )
    }

    #[track_caller]
    fn check(rule: SeriesRule, latest: &[(SeriesKey, Point)], expect: &[&str]) {
        let agent = AgentId::new("host-1").unwrap();
        let found: Vec<String> = conditions(&agent, &[rule], latest, 300_000, NOW)
            .into_iter()
            .map(|condition| format!("{} | {}", condition.key, condition.summary))
            .collect();
        assert_eq!(found, expect);
    }

    #[test]
    fn above_and_below_per_series() {
        let latest = [
            series("m", &[("source", "exporter/nut"), ("ups", "a")], NOW, 30.0),
            series("m", &[("source", "exporter/nut"), ("ups", "b")], NOW, 80.0),
            series("other", &[("source", "exporter/nut")], NOW, 1.0),
        ];
        check(
            rule(Threshold::Below(50.0), &[("source", "exporter/nut")]),
            &latest,
            &["rule/host-1/r/source=exporter/nut,ups=a | m{source=\"exporter/nut\",ups=\"a\"}: 30 is below 50"],
        );
        check(
            rule(Threshold::Above(50.0), &[]),
            &latest,
            &["rule/host-1/r/source=exporter/nut,ups=b | m{source=\"exporter/nut\",ups=\"b\"}: 80 is above 50"],
        );
        check(rule(Threshold::Above(50.0), &[("ups", "c")]), &latest, &[]);
        check(rule(Threshold::Above(80.0), &[]), &latest, &[]);
    }

    #[test]
    fn older_than_reads_the_value_as_a_unix_time() {
        let day_ago = (NOW / 1000 - 86_400) as f64;
        let latest = [series("m", &[], NOW, day_ago)];
        check(
            rule(Threshold::OlderThan(Duration::from_secs(3600)), &[]),
            &latest,
            &["rule/host-1/r/ | m{}: 24 h old, older than 60 min"],
        );
        check(
            rule(Threshold::OlderThan(Duration::from_secs(26 * 3600)), &[]),
            &latest,
            &[],
        );
    }

    #[test]
    fn a_stale_series_raises_nothing_and_a_summary_is_used() {
        let stale = [series("m", &[], NOW - 600_000, 100.0)];
        check(rule(Threshold::Above(1.0), &[]), &stale, &[]);
        let mut with_summary = rule(Threshold::Above(1.0), &[]);
        with_summary.summary = Some("Too hot".into());
        check(
            with_summary,
            &[series("m", &[], NOW, 2.0)],
            &["rule/host-1/r/ | Too hot"],
        );
    }
}
