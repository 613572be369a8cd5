//! Tests of the update rules: one batched "available" condition per host and period, held-back
//! candidates with their reasons, and finished operations as conditions for a window.

use super::updates::{conditions, PendingUpdate, UpdateRuleConfig};
use super::Condition;
use crate::storage::alerts::Severity;
use crate::storage::operations::{OperationKind, OperationRecord, OperationState};
use unity_shared::model::update::{CommandResult, ContainerCommand, OperationId, Outcome};
use unity_shared::proto::AgentId;

/// 2023-11-14T22:13:20Z.
const NOW: i64 = 1_700_000_000_000;
const MIN: i64 = 60_000;
const DAY: i64 = 24 * 60 * MIN;

fn pending(container: &str, first_seen_ms: i64, waiting: Option<&str>) -> PendingUpdate {
    PendingUpdate {
        container: container.into(),
        current: "1.0.0".into(),
        candidate: "1.1.0".into(),
        first_seen_ms,
        waiting: waiting.map(str::to_owned),
    }
}

fn operation(
    id: &str,
    agent: &str,
    action: OperationKind,
    finished_ms: Option<i64>,
    outcome: Option<Outcome>,
) -> OperationRecord {
    OperationRecord {
        id: id.into(),
        agent_id: AgentId::new(agent).unwrap(),
        container: "web".into(),
        action,
        command: ContainerCommand::Restart {
            id: OperationId(id.into()),
            container: "web".into(),
        },
        requested_by: "admin".into(),
        requested_at_ms: NOW - 60 * MIN,
        expires_at_ms: NOW,
        from_image: Some("lab/web:1.0.0".into()),
        to_image: Some("lab/web:1.1.0".into()),
        to_digest: None,
        state: if finished_ms.is_some() {
            OperationState::Finished
        } else {
            OperationState::Running
        },
        started_at_ms: Some(NOW - 60 * MIN),
        finished_at_ms: finished_ms,
        progress: Vec::new(),
        result: outcome.map(|outcome| {
            serde_json::from_value::<CommandResult>(serde_json::json!({
                "id": id, "container": "web", "outcome": outcome, "message": "health gate failed",
                "old_image_id": null, "new_image_id": null, "backup": null, "log": [],
                "backup_taken": null,
            }))
            .unwrap()
        }),
        error: finished_ms
            .filter(|_| outcome.is_none())
            .map(|_| "expired".to_owned()),
        attempts: 1,
    }
}

fn run(pending: &[PendingUpdate], operations: &[OperationRecord], now: i64) -> Vec<Condition> {
    conditions(
        &AgentId::new("nas").unwrap(),
        pending,
        operations,
        now,
        &UpdateRuleConfig::default(),
    )
}

fn keys(conditions: &[Condition]) -> Vec<&str> {
    conditions.iter().map(|c| c.key.as_str()).collect()
}

#[test]
fn issue_18_thirty_updates_make_one_condition_per_host_and_day() {
    let many: Vec<PendingUpdate> = (0..30)
        .map(|n| pending(&format!("app{n:02}"), NOW - n * MIN, None))
        .collect();
    let found = run(&many, &[], NOW);
    assert_eq!(keys(&found), ["updates/nas/available/2023-11-14"]);
    assert_eq!(found[0].severity, Severity::Warning);
    assert!(found[0]
        .summary
        .starts_with("30 updates available: app00, app01"));
    assert_eq!(found[0].details.len(), 30);
    assert_eq!(found[0].details[0], "app00: 1.0.0 → 1.1.0");
    // The next day, a new one: a new batch (a new notification); without one, the same key.
    let mut next = many.clone();
    next.push(pending("late", NOW + DAY, None));
    assert_eq!(
        keys(&run(&next, &[], NOW + DAY)),
        ["updates/nas/available/2023-11-15"]
    );
    assert_eq!(
        keys(&run(&many, &[], NOW + DAY)),
        ["updates/nas/available/2023-11-14"]
    );
    // Batching off.
    let off = conditions(
        &AgentId::new("nas").unwrap(),
        &many,
        &[],
        NOW,
        &UpdateRuleConfig {
            available_batch_ms: 0,
            ..UpdateRuleConfig::default()
        },
    );
    assert!(off.is_empty());
}

#[test]
fn issue_18_held_back_candidates_say_why_in_one_condition() {
    let updates = [
        pending("web", NOW, None),
        pending(
            "db",
            NOW,
            Some("only by hand, with force: a new major version of PostgreSQL"),
        ),
        pending("cache", NOW, Some("vulnerability gate: 2 new critical")),
        // Waiting its turn is not being held back.
        pending(
            "proxy",
            NOW,
            Some("outside the maintenance window, next Sat 02:00 CET"),
        ),
        pending(
            "app",
            NOW,
            Some("host nas already runs 1 update(s), the limit"),
        ),
    ];
    let found = run(&updates, &[], NOW);
    assert_eq!(
        keys(&found),
        ["updates/nas/available/2023-11-14", "updates/nas/blocked"]
    );
    assert_eq!(found[0].summary, "3 updates available: web, proxy, app");
    assert_eq!(found[1].summary, "2 updates held back: db, cache");
    assert!(found[1].details[0].contains("major version of PostgreSQL"));
    assert!(found[1].details[1].contains("vulnerability gate"));
}

#[test]
fn issue_18_a_finished_update_is_a_condition_for_its_window_only() {
    let ops = [
        operation(
            "op1",
            "nas",
            OperationKind::Update,
            Some(NOW - 5 * MIN),
            Some(Outcome::Succeeded),
        ),
        operation(
            "op2",
            "nas",
            OperationKind::Update,
            Some(NOW - MIN),
            Some(Outcome::RolledBack),
        ),
        operation(
            "op3",
            "nas",
            OperationKind::Update,
            Some(NOW - MIN),
            Some(Outcome::Failed),
        ),
        operation("op4", "nas", OperationKind::Update, Some(NOW - MIN), None),
        // Too old, another host, not an update, not finished.
        operation(
            "op5",
            "nas",
            OperationKind::Update,
            Some(NOW - 31 * MIN),
            Some(Outcome::Failed),
        ),
        operation(
            "op6",
            "other",
            OperationKind::Update,
            Some(NOW),
            Some(Outcome::Failed),
        ),
        operation(
            "op7",
            "nas",
            OperationKind::Restart,
            Some(NOW),
            Some(Outcome::Failed),
        ),
        operation("op8", "nas", OperationKind::Update, None, None),
    ];
    let found = run(&[], &ops, NOW);
    assert_eq!(
        keys(&found),
        [
            "update/nas/web/op1",
            "update/nas/web/op2",
            "update/nas/web/op3",
            "update/nas/web/op4"
        ]
    );
    let severities: Vec<Severity> = found.iter().map(|c| c.severity).collect();
    assert_eq!(
        severities,
        [
            Severity::Warning,
            Severity::Warning,
            Severity::Critical,
            Severity::Critical
        ]
    );
    assert_eq!(found[0].summary, "Update of web to lab/web:1.1.0 applied");
    assert_eq!(
        found[1].summary,
        "Update of web to lab/web:1.1.0 failed and was rolled back"
    );
    assert_eq!(found[1].details[0], "health gate failed");
    assert_eq!(found[3].details[0], "expired");
    // Half an hour later, all are over.
    assert!(run(&[], &ops, NOW + 31 * MIN).is_empty());
}
