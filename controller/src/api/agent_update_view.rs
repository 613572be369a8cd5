//! An agent update as the API shows it, in `GET /api/v1/operations` beside container
//! operations (told apart by `action`: `agent_update`) and as the answer to asking for one:
//! documented fields with stable names, times as Unix milliseconds (`*_at_ms`) and RFC 3339
//! (`*_at`), the state and result as words. Built here, not derived from the stored record.
//! See `docs/agent-updates.md`.

use super::operation_view::{rfc3339_ms, OperationView};
use crate::storage::agent_updates::{AgentUpdateRecord, AgentUpdateResult, AgentUpdateState};
use serde::Serialize;
use unity_shared::proto::AgentId;

/// One line of what happened.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AgentUpdateEventView {
    pub at_ms: i64,
    pub at: String,
    pub message: String,
}

/// One agent update.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AgentUpdateView {
    pub id: String,
    pub agent_id: AgentId,
    /// Always `agent_update` (container operations say `update`, `restart`, …).
    pub action: &'static str,
    pub requested_by: String,
    pub requested_at_ms: i64,
    pub requested_at: String,
    pub expires_at_ms: i64,
    pub expires_at: String,
    /// `queued`, `sending`, `awaiting_confirmation` or `finished`.
    pub state: AgentUpdateState,
    /// `succeeded`, `refused`, `rolled_back` or `failed`; `null` until finished.
    pub outcome: Option<AgentUpdateResult>,
    /// The agent's reason for a refusal, or why it failed or was rolled back.
    pub message: Option<String>,
    pub from_version: String,
    pub to_version: String,
    /// The store's name of the build, its architecture and kind.
    pub build: String,
    pub arch: String,
    pub kind: String,
    /// An explicit rollback to an older version.
    pub rollback: bool,
    pub confirm_within_secs: u32,
    pub started_at_ms: Option<i64>,
    pub started_at: Option<String>,
    /// When the agent answered that it restarts into the build.
    pub restarting_at_ms: Option<i64>,
    /// Until when the controller waits for the new version's hello.
    pub confirm_by_ms: Option<i64>,
    pub confirm_by: Option<String>,
    pub finished_at_ms: Option<i64>,
    pub finished_at: Option<String>,
    pub duration_ms: Option<i64>,
    /// Times the build was sent (a lost stream sends it again).
    pub attempts: u32,
    pub events: Vec<AgentUpdateEventView>,
}

impl From<AgentUpdateRecord> for AgentUpdateView {
    fn from(record: AgentUpdateRecord) -> AgentUpdateView {
        AgentUpdateView {
            action: "agent_update",
            requested_at: rfc3339_ms(record.requested_at_ms),
            expires_at: rfc3339_ms(record.expires_at_ms),
            started_at: record.started_at_ms.map(rfc3339_ms),
            confirm_by: record.confirm_by_ms.map(rfc3339_ms),
            finished_at: record.finished_at_ms.map(rfc3339_ms),
            duration_ms: record.duration_ms(),
            events: record
                .events
                .into_iter()
                .map(|event| AgentUpdateEventView {
                    at: rfc3339_ms(event.at_ms),
                    at_ms: event.at_ms,
                    message: event.message,
                })
                .collect(),
            id: record.id,
            agent_id: record.agent_id,
            requested_by: record.requested_by,
            requested_at_ms: record.requested_at_ms,
            expires_at_ms: record.expires_at_ms,
            state: record.state,
            outcome: record.result,
            message: record.message,
            from_version: record.from_version,
            to_version: record.to_version,
            build: record.build,
            arch: record.arch,
            kind: record.kind,
            rollback: record.rollback,
            confirm_within_secs: record.confirm_within_secs,
            started_at_ms: record.started_at_ms,
            restarting_at_ms: record.restarting_at_ms,
            confirm_by_ms: record.confirm_by_ms,
            finished_at_ms: record.finished_at_ms,
            attempts: record.attempts,
        }
    }
}

/// An entry of `GET /api/v1/operations`: a container operation or an agent update, each
/// with its own fields (no wrapping object; `action` tells them apart).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum AnyOperationView {
    Container(Box<OperationView>),
    Agent(Box<AgentUpdateView>),
}

impl AnyOperationView {
    fn requested_at_ms(&self) -> i64 {
        match self {
            AnyOperationView::Container(view) => view.requested_at_ms,
            AnyOperationView::Agent(view) => view.requested_at_ms,
        }
    }

    fn id(&self) -> &str {
        match self {
            AnyOperationView::Container(view) => &view.id,
            AnyOperationView::Agent(view) => &view.id,
        }
    }
}

/// Both kinds, newest first, at most `limit`.
pub fn merge(
    containers: Vec<OperationView>,
    agents: Vec<AgentUpdateView>,
    limit: usize,
) -> Vec<AnyOperationView> {
    let mut all: Vec<AnyOperationView> = containers
        .into_iter()
        .map(|view| AnyOperationView::Container(Box::new(view)))
        .chain(
            agents
                .into_iter()
                .map(|view| AnyOperationView::Agent(Box::new(view))),
        )
        .collect();
    all.sort_by(|a, b| {
        b.requested_at_ms()
            .cmp(&a.requested_at_ms())
            .then_with(|| b.id().cmp(a.id()))
    });
    all.truncate(limit);
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str, requested_at_ms: i64) -> AgentUpdateRecord {
        AgentUpdateRecord {
            id: id.into(),
            agent_id: AgentId::new("nas").unwrap(),
            requested_by: "cli".into(),
            requested_at_ms,
            expires_at_ms: requested_at_ms + 60_000,
            build: "x86_64-binary-0.2.0".into(),
            from_version: "0.1.0".into(),
            to_version: "0.2.0".into(),
            arch: "x86_64".into(),
            kind: "binary".into(),
            rollback: false,
            confirm_within_secs: 300,
            state: AgentUpdateState::Queued,
            started_at_ms: None,
            restarting_at_ms: None,
            confirm_by_ms: None,
            finished_at_ms: None,
            result: None,
            message: None,
            attempts: 0,
            events: vec![],
        }
    }

    #[test]
    fn agent_updates_read_as_words_not_rust_enums() {
        let mut awaiting = record("0001", 1_765_000_000_000);
        awaiting.state = AgentUpdateState::AwaitingConfirmation;
        awaiting.confirm_by_ms = Some(1_765_000_362_000);
        let json = serde_json::to_value(AgentUpdateView::from(awaiting.clone())).unwrap();
        assert_eq!(json["action"], "agent_update");
        assert_eq!(json["state"], "awaiting_confirmation");
        assert_eq!(json["outcome"], serde_json::Value::Null);
        assert_eq!(json["confirm_by"], "2025-12-06T05:52:42.000Z");
        let mut finished = awaiting;
        finished.state = AgentUpdateState::Finished;
        finished.result = Some(AgentUpdateResult::RolledBack);
        let json = serde_json::to_value(AgentUpdateView::from(finished)).unwrap();
        assert_eq!(json["state"], "finished");
        assert_eq!(json["outcome"], "rolled_back");
    }

    #[test]
    fn the_list_merges_both_kinds_newest_first_up_to_the_limit() {
        let views = |records: &[(&str, i64)]| -> Vec<AgentUpdateView> {
            records
                .iter()
                .map(|(id, at)| record(id, *at).into())
                .collect()
        };
        let merged = merge(vec![], views(&[("a", 1), ("c", 3), ("b", 2)]), 2);
        let json = serde_json::to_value(&merged).unwrap();
        let ids: Vec<&str> = json
            .as_array()
            .unwrap()
            .iter()
            .map(|entry| entry["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["c", "b"]);
        // Flat objects, no wrapping enum name.
        assert_eq!(json[0]["action"], "agent_update");
    }
}
