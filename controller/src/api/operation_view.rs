//! A container operation as the API shows it (`GET /api/v1/operations`, `…/{id}`, and the
//! answer to asking for one): documented fields with stable names, every time both as Unix
//! milliseconds (`*_at_ms`) and as RFC 3339 with milliseconds in UTC (`*_at`), the outcome
//! as one word, and each progress stage as its machine word (`backing_up`) with its label
//! (`Backing up`, [`Stage::label`]). Built here, not derived from the stored record, so that
//! the store can change without changing the API. See `docs/container-updates.md`.

use crate::storage::operations::{OperationKind, OperationRecord, OperationState};
use serde::Serialize;
use unity_shared::model::update::{CommandResult, ContainerCommand, Outcome, Stage};
use unity_shared::proto::AgentId;

/// RFC 3339 in UTC with milliseconds (`2026-12-07T09:45:00.123Z`).
pub fn rfc3339_ms(ms: i64) -> String {
    match jiff::Timestamp::from_millisecond(ms) {
        Ok(time) => format!("{time:.3}"),
        Err(_) => String::new(),
    }
}

/// How an operation ended, as one word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OperationOutcome {
    Succeeded,
    /// The new container failed its health gate; the old one runs again.
    RolledBack,
    /// Refused before the container was touched.
    Refused,
    /// Failed and not undone completely: an operator must look.
    Failed,
    /// The controller could not run it (expired before the agent took it, credentials, …):
    /// `error` says why.
    Error,
}

impl From<Outcome> for OperationOutcome {
    fn from(outcome: Outcome) -> OperationOutcome {
        match outcome {
            Outcome::Succeeded => OperationOutcome::Succeeded,
            Outcome::RolledBack => OperationOutcome::RolledBack,
            Outcome::Refused => OperationOutcome::Refused,
            Outcome::Failed => OperationOutcome::Failed,
        }
    }
}

/// One progress line.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProgressView {
    /// The stage's machine word: `pulling`, `backing_up`, `stopping`, `starting`,
    /// `health_checking`, `rolling_back`, `done`.
    pub stage: Stage,
    /// The stage for people: `Backing up`.
    pub stage_label: &'static str,
    pub at_ms: i64,
    pub at: String,
    pub message: String,
}

/// One container operation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OperationView {
    pub id: String,
    pub agent_id: AgentId,
    pub container: String,
    /// `update`, `rollback`, `restart`, `backup` or `restore`.
    pub action: OperationKind,
    /// The user, `token:<name>` for an API token, or `policy` for an automatic update.
    pub requested_by: String,
    pub requested_at_ms: i64,
    pub requested_at: String,
    pub expires_at_ms: i64,
    pub expires_at: String,
    pub started_at_ms: Option<i64>,
    pub started_at: Option<String>,
    pub finished_at_ms: Option<i64>,
    pub finished_at: Option<String>,
    pub duration_ms: Option<i64>,
    /// `queued`, `running` or `finished`.
    pub state: OperationState,
    /// How it ended; `null` until finished.
    pub outcome: Option<OperationOutcome>,
    /// The newest progress stage (`null` before the first), and its label.
    pub stage: Option<Stage>,
    pub stage_label: Option<&'static str>,
    pub from_image: Option<String>,
    pub to_image: Option<String>,
    pub to_digest: Option<String>,
    pub progress: Vec<ProgressView>,
    /// Why the controller could not run it, or why a run was interrupted and retried.
    pub error: Option<String>,
    /// The agent's result: `outcome`, `message`, `log`, the backup taken.
    pub result: Option<CommandResult>,
    /// Times it was sent (a lost connection sends it again).
    pub attempts: u32,
    /// The command as sent, without credentials.
    pub command: CommandView,
}

/// The command an operation sent, as one flat object with its kind as a word (not the wire
/// enum's tagging, `{"Restart": {…}}`): what the agent was asked to do to which container,
/// with the image (updates) or the backup (restores) it was asked for.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CommandView {
    /// `update`, `rollback`, `restart`, `backup` or `restore`.
    pub kind: OperationKind,
    pub container: String,
    /// Updates: the image reference asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Updates: whether the update was forced past its policy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub force: Option<bool>,
    /// Restores: the backup's file name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup: Option<String>,
}

impl From<ContainerCommand> for CommandView {
    fn from(command: ContainerCommand) -> CommandView {
        let plain = |kind: OperationKind, container: String| CommandView {
            kind,
            container,
            image: None,
            force: None,
            backup: None,
        };
        match command {
            ContainerCommand::Update(request) => CommandView {
                image: Some(request.image),
                force: Some(request.force),
                ..plain(OperationKind::Update, request.container)
            },
            ContainerCommand::Rollback { container, .. } => {
                plain(OperationKind::Rollback, container)
            }
            ContainerCommand::Restart { container, .. } => plain(OperationKind::Restart, container),
            ContainerCommand::Backup { container, .. } => plain(OperationKind::Backup, container),
            ContainerCommand::Restore {
                container, backup, ..
            } => CommandView {
                backup: Some(backup),
                ..plain(OperationKind::Restore, container)
            },
        }
    }
}

impl From<OperationRecord> for OperationView {
    fn from(record: OperationRecord) -> OperationView {
        let duration_ms = record.duration_ms();
        let outcome = match (&record.result, record.state) {
            (Some(result), _) => Some(result.outcome.into()),
            (None, OperationState::Finished) => Some(OperationOutcome::Error),
            (None, _) => None,
        };
        let stage = record.progress.last().map(|line| line.stage);
        OperationView {
            requested_at: rfc3339_ms(record.requested_at_ms),
            expires_at: rfc3339_ms(record.expires_at_ms),
            started_at: record.started_at_ms.map(rfc3339_ms),
            finished_at: record.finished_at_ms.map(rfc3339_ms),
            duration_ms,
            outcome,
            stage,
            stage_label: stage.map(Stage::label),
            progress: record
                .progress
                .into_iter()
                .map(|line| {
                    let at_ms = i64::try_from(line.at_ms).unwrap_or(i64::MAX);
                    ProgressView {
                        stage: line.stage,
                        stage_label: line.stage.label(),
                        at_ms,
                        at: rfc3339_ms(at_ms),
                        message: line.message,
                    }
                })
                .collect(),
            id: record.id,
            agent_id: record.agent_id,
            container: record.container,
            action: record.action,
            requested_by: record.requested_by,
            requested_at_ms: record.requested_at_ms,
            expires_at_ms: record.expires_at_ms,
            started_at_ms: record.started_at_ms,
            finished_at_ms: record.finished_at_ms,
            state: record.state,
            from_image: record.from_image,
            to_image: record.to_image,
            to_digest: record.to_digest,
            error: record.error,
            result: record.result,
            attempts: record.attempts,
            command: record.command.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use unity_shared::model::update::{LogLine, OperationId};

    fn record() -> OperationRecord {
        OperationRecord {
            id: "op1".into(),
            agent_id: AgentId::new("agent-a").unwrap(),
            container: "web".into(),
            action: OperationKind::Update,
            command: ContainerCommand::Restart {
                id: OperationId("op1".into()),
                container: "web".into(),
            },
            requested_by: "policy".into(),
            requested_at_ms: 1_796_636_700_123,
            expires_at_ms: 1_796_640_300_123,
            from_image: None,
            to_image: Some("app:2".into()),
            to_digest: None,
            state: OperationState::Running,
            started_at_ms: Some(1_796_636_701_000),
            finished_at_ms: None,
            progress: vec![
                LogLine {
                    stage: Stage::Pulling,
                    at_ms: 1_796_636_702_005,
                    message: "pulling app:2".into(),
                },
                LogLine {
                    stage: Stage::BackingUp,
                    at_ms: 1_796_636_703_000,
                    message: "backup taken".into(),
                },
            ],
            result: None,
            error: None,
            attempts: 1,
        }
    }

    #[test]
    fn issue_17_operations_show_stage_words_labels_and_rfc3339_times() {
        let json = serde_json::to_value(OperationView::from(record())).unwrap();
        assert_eq!(json["requested_at"], "2026-12-07T09:45:00.123Z", "{json:#}");
        assert_eq!(json["started_at"], "2026-12-07T09:45:01.000Z");
        assert_eq!(json["finished_at"], serde_json::Value::Null);
        assert_eq!(json["state"], "running");
        assert_eq!(json["outcome"], serde_json::Value::Null);
        assert_eq!(json["stage"], "backing_up");
        assert_eq!(json["stage_label"], "Backing up");
        assert_eq!(json["action"], "update");
        assert_eq!(json["progress"][0]["stage"], "pulling");
        assert_eq!(json["progress"][0]["stage_label"], "Pulling");
        assert_eq!(json["progress"][0]["at"], "2026-12-07T09:45:02.005Z");
        assert!(!json.to_string().contains("BackingUp"), "{json}");
    }

    /// Every object key in `json`, however deep.
    fn keys(json: &serde_json::Value, out: &mut Vec<String>) {
        match json {
            serde_json::Value::Object(map) => {
                for (key, value) in map {
                    out.push(key.clone());
                    keys(value, out);
                }
            }
            serde_json::Value::Array(items) => items.iter().for_each(|item| keys(item, out)),
            _ => {}
        }
    }

    #[test]
    fn issue_19_operations_json_is_designed_with_no_rust_enum_tagging() {
        let commands = [
            ContainerCommand::Restart {
                id: OperationId("op1".into()),
                container: "web".into(),
            },
            ContainerCommand::Restore {
                id: OperationId("op1".into()),
                container: "web".into(),
                backup: "1796636700.json".into(),
            },
            ContainerCommand::Rollback {
                id: OperationId("op1".into()),
                container: "web".into(),
            },
        ];
        for command in commands {
            let mut record = record();
            record.command = command;
            let json = serde_json::to_value(OperationView::from(record)).unwrap();
            assert_eq!(json["command"]["container"], "web", "{json:#}");
            assert!(json["command"]["kind"].is_string(), "{json:#}");
            let mut all = Vec::new();
            keys(&json, &mut all);
            let tagged: Vec<_> = all
                .iter()
                .filter(|key| key.starts_with(|c: char| c.is_ascii_uppercase()))
                .collect();
            assert!(tagged.is_empty(), "enum tags {tagged:?} in {json:#}");
        }
        let mut record = record();
        record.command = ContainerCommand::Restart {
            id: OperationId("op1".into()),
            container: "web".into(),
        };
        let json = serde_json::to_value(OperationView::from(record)).unwrap();
        assert_eq!(
            json["command"],
            serde_json::json!({ "kind": "restart", "container": "web" })
        );
    }

    #[test]
    fn issue_17_a_finished_operation_without_a_result_is_an_error_outcome() {
        let mut record = record();
        record.state = OperationState::Finished;
        record.finished_at_ms = Some(1_796_636_710_000);
        record.error = Some("expired".into());
        let json = serde_json::to_value(OperationView::from(record)).unwrap();
        assert_eq!(json["outcome"], "error");
        assert_eq!(json["duration_ms"], 9000);
    }
}
