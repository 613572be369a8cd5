//! Update conditions, pure: a host's pending updates (as the Updates page computes them, with
//! [`crate::updates::waiting::reason`]) and its update operations in, conditions out (issue 18
//! §1).
//!
//! | key | active when | severity |
//! |---|---|---|
//! | `updates/<agent>/available/<batch>` | updates are offered by the containers' policies; one condition per host listing them, `<batch>` the `updates_available_batch` period (a UTC day by default) of the newest | warning |
//! | `updates/<agent>/blocked` | candidates held back by a gate (vulnerability gate, cooldown, major-version guard, failed before, rollout stopped…), with the reason of each; an update only waiting its turn (window, canary, dependency first) counts as available | warning |
//! | `update/<agent>/<container>/<operation>` | an update operation finished within `update_event_window`: applied, rolled back, refused or failed | warning (applied, rolled back, refused) / critical (failed) |
//!
//! Applied and failed are events, modelled as conditions that stay active for
//! `update_event_window` after the operation finished: the alert store keeps them open across
//! a controller restart, so each operation notifies once when it ends (and once more when its
//! window closes and the alert resolves), never again after a restart.

use super::Condition;
pub use crate::alerts::config::UpdateRuleConfig;
use crate::storage::alerts::Severity;
use crate::storage::operations::{OperationKind, OperationRecord, OperationState};
use unity_shared::model::update::Outcome;
use unity_shared::proto::AgentId;

/// One pending update of one container, as the Updates page shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingUpdate {
    pub container: String,
    /// What it runs (`1.2.3`, or the image reference).
    pub current: String,
    /// What is offered (`1.3.0`).
    pub candidate: String,
    /// When the controller first saw the candidate.
    pub first_seen_ms: i64,
    /// Why it is not being applied (`updates::waiting::reason`), `None` when it is offered.
    pub waiting: Option<String>,
}

/// The update rules over one host.
pub fn conditions(
    agent: &AgentId,
    pending: &[PendingUpdate],
    operations: &[OperationRecord],
    now_ms: i64,
    config: &UpdateRuleConfig,
) -> Vec<Condition> {
    let mut out = Vec::new();
    let mut add = |key: String, severity: Severity, summary: String, details: Vec<String>| {
        out.push(Condition {
            key,
            agent_id: agent.clone(),
            severity,
            summary,
            details,
        })
    };
    let (available, blocked): (Vec<&PendingUpdate>, Vec<&PendingUpdate>) = pending
        .iter()
        .partition(|update| update.waiting.as_deref().is_none_or(in_course));
    if config.available_batch_ms > 0 && !available.is_empty() {
        let newest = available
            .iter()
            .map(|update| update.first_seen_ms)
            .max()
            .unwrap_or(now_ms);
        let batch = newest.div_euclid(config.available_batch_ms) * config.available_batch_ms;
        let daily = config.available_batch_ms % (24 * 60 * 60 * 1000) == 0;
        let label = batch_label(batch, daily);
        let n = available.len();
        let names: Vec<&str> = available
            .iter()
            .map(|update| update.container.as_str())
            .collect();
        add(
            format!("updates/{agent}/available/{label}"),
            Severity::Warning,
            format!(
                "{n} update{} available: {}",
                if n == 1 { "" } else { "s" },
                names.join(", ")
            ),
            available
                .iter()
                .map(|update| {
                    format!(
                        "{}: {} → {}",
                        update.container, update.current, update.candidate
                    )
                })
                .collect(),
        );
    }
    if !blocked.is_empty() {
        let n = blocked.len();
        let names: Vec<&str> = blocked
            .iter()
            .map(|update| update.container.as_str())
            .collect();
        add(
            format!("updates/{agent}/blocked"),
            Severity::Warning,
            format!(
                "{n} update{} held back: {}",
                if n == 1 { "" } else { "s" },
                names.join(", ")
            ),
            blocked
                .iter()
                .map(|update| {
                    format!(
                        "{} → {}: {}",
                        update.container,
                        update.candidate,
                        update.waiting.as_deref().unwrap_or_default()
                    )
                })
                .collect(),
        );
    }
    for operation in operations {
        if operation.agent_id != *agent
            || operation.action != OperationKind::Update
            || operation.state != OperationState::Finished
        {
            continue;
        }
        let Some(finished_ms) = operation.finished_at_ms else {
            continue;
        };
        if now_ms.saturating_sub(finished_ms) > config.event_window_ms
            || finished_ms > now_ms.saturating_add(60_000)
        {
            continue;
        }
        let container = &operation.container;
        let to = operation.to_image.as_deref().unwrap_or("a new image");
        let (severity, what, message) = match &operation.result {
            Some(result) => {
                let (severity, what) = match result.outcome {
                    Outcome::Succeeded => (Severity::Warning, "applied"),
                    Outcome::RolledBack => (Severity::Warning, "failed and was rolled back"),
                    Outcome::Refused => (Severity::Warning, "was refused"),
                    Outcome::Failed => (Severity::Critical, "failed"),
                };
                (severity, what, result.message.clone())
            }
            None => (
                Severity::Critical,
                "failed",
                operation
                    .error
                    .clone()
                    .unwrap_or_else(|| "no result".to_owned()),
            ),
        };
        add(
            format!("update/{agent}/{container}/{}", operation.id),
            severity,
            format!("Update of {container} to {to} {what}"),
            vec![message, format!("Requested by {}.", operation.requested_by)],
        );
    }
    out
}

/// Waiting reasons that are the normal course of an offered update (its window, its turn, a
/// canary or a dependency going first), not a gate holding it back: such an update counts as
/// available. The texts are `updates::rollout::reasons::WaitReason`'s.
const IN_COURSE: &[&str] = &[
    "outside the maintenance window",
    "waiting for approval",
    "another update of this container is running",
    "canary host ",
    "waits for ",
];

fn in_course(reason: &str) -> bool {
    IN_COURSE.iter().any(|start| reason.starts_with(start))
        || (reason.starts_with("host ") && reason.ends_with("update(s), the limit"))
}

/// `2026-12-07` for a daily batch, `2026-12-07T14:00Z` otherwise.
fn batch_label(batch_ms: i64, daily: bool) -> String {
    let Ok(at) = jiff::Timestamp::from_millisecond(batch_ms) else {
        return batch_ms.to_string();
    };
    if daily {
        at.strftime("%Y-%m-%d").to_string()
    } else {
        at.strftime("%Y-%m-%dT%H:%MZ").to_string()
    }
}
