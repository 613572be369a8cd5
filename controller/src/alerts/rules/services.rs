//! The service check rule (pure; issue 18 §1, docs/services.md). For each check, the newest
//! result of each agent that runs it (results older than three intervals plus a minute are
//! not counted: an agent that stopped reporting says nothing about the service):
//!
//! | key | active when | severity |
//! |---|---|---|
//! | `service/<check>/down` | down from one agent while others see it up | warning |
//! | `service/<check>/down` | down from two agents or more, or from every agent that runs it | critical |
//! | `service/<check>/tls` | the served certificate expires within `tls_warning_days` | warning (critical once expired) |
//!
//! "Down from two places" is not "down from one": one agent's view may be its own network's
//! problem; two or all agents agreeing is the service's.

use super::Condition;
use crate::storage::alerts::Severity;
use unity_shared::model::service::ServiceCheckResult;
use unity_shared::proto::AgentId;

/// One check as the rule sees it.
#[derive(Debug, Clone)]
pub struct CheckState<'a> {
    pub name: &'a str,
    pub interval_secs: u32,
    pub tls_warning_days: u32,
    /// The newest result of each agent that runs the check.
    pub results: Vec<(&'a AgentId, &'a ServiceCheckResult)>,
}

/// How old a result may be and still count.
pub fn fresh_ms(interval_secs: u32) -> i64 {
    3 * i64::from(interval_secs) * 1000 + 60_000
}

/// The conditions of one check at `now_ms`.
pub fn conditions(check: &CheckState, now_ms: i64) -> Vec<Condition> {
    let fresh: Vec<(&AgentId, &ServiceCheckResult)> = check
        .results
        .iter()
        .copied()
        .filter(|(_, result)| now_ms - result.checked_at_ms <= fresh_ms(check.interval_secs))
        .collect();
    let mut conditions = Vec::new();
    let down: Vec<&(&AgentId, &ServiceCheckResult)> =
        fresh.iter().filter(|(_, result)| !result.up).collect();
    if let Some((first, _)) = down.first() {
        let severity = if down.len() >= 2 || down.len() == fresh.len() {
            Severity::Critical
        } else {
            Severity::Warning
        };
        let agents: Vec<&str> = down.iter().map(|(agent, _)| agent.as_str()).collect();
        conditions.push(Condition {
            key: format!("service/{}/down", check.name),
            agent_id: (*first).clone(),
            severity,
            summary: format!(
                "Service {} is down from {} of {} agents ({})",
                check.name,
                down.len(),
                fresh.len(),
                agents.join(", ")
            ),
            details: down
                .iter()
                .map(|(agent, result)| {
                    format!("{agent}: {}", result.reason.as_deref().unwrap_or("down"))
                })
                .collect(),
        });
    }
    let soonest = fresh
        .iter()
        .filter_map(|(agent, result)| result.tls_days_left.map(|days| (*agent, days)))
        .min_by(|a, b| a.1.total_cmp(&b.1));
    if let Some((agent, days)) = soonest {
        if days <= f64::from(check.tls_warning_days) {
            let (severity, summary) = if days <= 0.0 {
                (
                    Severity::Critical,
                    format!("Service {}'s TLS certificate has expired", check.name),
                )
            } else {
                (
                    Severity::Warning,
                    format!(
                        "Service {}'s TLS certificate expires in {:.1} days",
                        check.name, days
                    ),
                )
            };
            conditions.push(Condition {
                key: format!("service/{}/tls", check.name),
                agent_id: agent.clone(),
                severity,
                summary,
                details: vec![format!(
                    "warning at {} days before expiry (tls_warning_days)",
                    check.tls_warning_days
                )],
            });
        }
    }
    conditions
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(up: bool, at: i64, tls: Option<f64>) -> ServiceCheckResult {
        ServiceCheckResult {
            name: "web".into(),
            checked_at_ms: at,
            up,
            latency_ms: up.then_some(3),
            reason: (!up).then(|| "connection refused".into()),
            tls_days_left: tls,
        }
    }

    #[track_caller]
    fn check(views: &[(bool, i64, Option<f64>)], now: i64, expect: &[(&str, Severity)]) {
        let agents: Vec<AgentId> = (0..views.len())
            .map(|n| AgentId::new(format!("agent-{n}")).unwrap())
            .collect();
        let results: Vec<ServiceCheckResult> = views
            .iter()
            .map(|&(up, at, tls)| result(up, at, tls))
            .collect();
        let state = CheckState {
            name: "web",
            interval_secs: 30,
            tls_warning_days: 14,
            results: agents.iter().zip(results.iter()).collect(),
        };
        let got: Vec<(String, Severity)> = conditions(&state, now)
            .into_iter()
            .map(|c| (c.key, c.severity))
            .collect();
        let expect: Vec<(String, Severity)> =
            expect.iter().map(|(k, s)| (k.to_string(), *s)).collect();
        assert_eq!(got, expect);
    }

    #[test]
    fn issue_18_down_from_one_place_is_not_down_from_two() {
        let now = 1_000_000;
        check(&[(true, now, None), (true, now, None)], now, &[]);
        check(
            &[(false, now, None), (true, now, None), (true, now, None)],
            now,
            &[("service/web/down", Severity::Warning)],
        );
        check(
            &[(false, now, None), (false, now, None), (true, now, None)],
            now,
            &[("service/web/down", Severity::Critical)],
        );
        // Every agent that runs it (here the only one) agrees.
        check(
            &[(false, now, None)],
            now,
            &[("service/web/down", Severity::Critical)],
        );
        // A stale view does not count: one fresh down of two fresh views.
        let old = now - fresh_ms(30) - 1;
        check(
            &[(false, now, None), (true, now, None), (false, old, None)],
            now,
            &[("service/web/down", Severity::Warning)],
        );
        check(&[(false, old, None)], now, &[]);
    }

    #[test]
    fn issue_18_tls_expiry_warns_then_is_critical() {
        let now = 1_000_000;
        check(&[(true, now, Some(30.0))], now, &[]);
        check(
            &[(true, now, Some(20.0)), (true, now, Some(3.0))],
            now,
            &[("service/web/tls", Severity::Warning)],
        );
        check(
            &[(false, now, Some(-1.0))],
            now,
            &[
                ("service/web/down", Severity::Critical),
                ("service/web/tls", Severity::Critical),
            ],
        );
    }
}
