//! The local checks' rule (pure). A check's newest result that is not ok raises
//! `check/<agent>/<name>`: warning for warning, critical for critical, warning for unknown
//! (the check could not tell, or could not run). A check whose newest result is overdue (two
//! intervals and a minute old) is unknown too, unless the whole host is silent: the offline
//! alert says that once instead of once per check. Ok, or a check removed from the host,
//! resolves it (after `resolve_after`, like every alert).

use super::{duration_text, Condition};
use crate::storage::alerts::Severity;
use unity_shared::model::plugin::{CheckResult, CheckStatus};
use unity_shared::proto::AgentId;

/// The conditions of a host's checks. `host_silent`: the host is offline (or never spoke).
pub fn conditions(
    agent: &AgentId,
    results: &[CheckResult],
    host_silent: bool,
    now_ms: i64,
) -> Vec<Condition> {
    let mut conditions = Vec::new();
    for result in results {
        let overdue = !host_silent && now_ms > result.overdue_at_ms();
        let (status, severity) = match result.status {
            _ if overdue => (CheckStatus::Unknown, Severity::Warning),
            CheckStatus::Ok => continue,
            CheckStatus::Warning | CheckStatus::Unknown => (result.status, Severity::Warning),
            CheckStatus::Critical => (CheckStatus::Critical, Severity::Critical),
        };
        let name = &result.name;
        let mut details = Vec::new();
        let summary = if overdue {
            details.push(format!(
                "The check runs every {}; its newest result ({}: {}) is {} old. The agent may be stuck on it, or the script was removed while the agent stopped reporting checks.",
                duration_text(i64::try_from(result.interval_ms).unwrap_or(i64::MAX)),
                result.status.as_str(),
                result.message,
                duration_text(now_ms - result.started_at_ms),
            ));
            format!(
                "Check {name} is unknown: no result for {}",
                duration_text(now_ms - result.started_at_ms)
            )
        } else {
            details.push(result.message.clone());
            if let Some(error) = &result.error {
                details.push(error.clone());
            }
            match result.exit_code {
                Some(code) => details.push(format!("Exit code {code}.")),
                None => details.push("No exit code: the check was killed or never started.".into()),
            }
            format!("Check {name} is {}: {}", status.as_str(), result.message)
        };
        conditions.push(Condition {
            key: format!("check/{agent}/{name}"),
            agent_id: agent.clone(),
            severity,
            summary,
            details,
        });
    }
    conditions
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_700_000_000_000;

    fn result(name: &str, status: CheckStatus, age_ms: i64) -> CheckResult {
        CheckResult {
            name: name.into(),
            status,
            message: format!("{} said so", status.as_str()),
            exit_code: Some(status.value() as i32),
            started_at_ms: NOW - age_ms,
            duration_ms: 5,
            interval_ms: 60_000,
            error: None,
            n_series: 0,
            n_dropped: 0,
            errors: vec![],
        }
    }

    fn check(results: &[CheckResult], host_silent: bool, expect: &[&str]) {
        let agent = AgentId::new("nas").unwrap();
        let got: Vec<String> = conditions(&agent, results, host_silent, NOW)
            .iter()
            .map(|c| format!("{} | {} | {}", c.key, c.severity.as_str(), c.summary))
            .collect();
        assert_eq!(got, expect);
    }

    #[test]
    fn each_status_and_a_stale_result() {
        let results = [
            result("a_ok", CheckStatus::Ok, 1000),
            result("b_warning", CheckStatus::Warning, 1000),
            result("c_critical", CheckStatus::Critical, 1000),
            result("d_unknown", CheckStatus::Unknown, 1000),
            result("e_stale_ok", CheckStatus::Ok, 181_000),
            result("f_fresh_enough", CheckStatus::Ok, 180_000),
        ];
        check(
            &results,
            false,
            &[
                "check/nas/b_warning | warning | Check b_warning is warning: warning said so",
                "check/nas/c_critical | critical | Check c_critical is critical: critical said so",
                "check/nas/d_unknown | warning | Check d_unknown is unknown: unknown said so",
                "check/nas/e_stale_ok | warning | Check e_stale_ok is unknown: no result for 3 min",
            ],
        );
    }

    #[test]
    fn a_silent_host_does_not_make_every_check_stale() {
        let results = [
            result("stale_ok", CheckStatus::Ok, 3_600_000),
            result("stale_critical", CheckStatus::Critical, 3_600_000),
        ];
        check(
            &results,
            true,
            &["check/nas/stale_critical | critical | Check stale_critical is critical: critical said so"],
        );
    }
}
