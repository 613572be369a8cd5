//! Layout 2 of operation records (protocol 4 to 8), positional postcard: the update request
//! without `vulnerability_gate`, [`CommandResult`] without `data_restored` and `evidence`,
//! [`Backup`] without `dump` and `excluded_env` (all appended in issue 17, when records
//! became JSON: layout 3). Read field for field and upgraded with the appended fields empty.

use super::record::{OperationKind, OperationRecord, OperationState};
use serde::Deserialize;
use unity_shared::model::update::{
    Backup, CommandResult, ContainerCommand, HealthPolicy, LogLine, OperationId, Outcome,
    RegistryAuth, UpdateRequest,
};
use unity_shared::proto::AgentId;

/// Layout 2 of [`OperationRecord`], field for field.
#[derive(Deserialize)]
pub(super) struct RecordV2 {
    id: String,
    agent_id: AgentId,
    container: String,
    action: OperationKind,
    command: CommandV2,
    requested_by: String,
    requested_at_ms: i64,
    expires_at_ms: i64,
    from_image: Option<String>,
    to_image: Option<String>,
    to_digest: Option<String>,
    state: OperationState,
    started_at_ms: Option<i64>,
    finished_at_ms: Option<i64>,
    progress: Vec<LogLine>,
    result: Option<ResultV2>,
    error: Option<String>,
    attempts: u32,
}

/// [`ContainerCommand`] as layouts 1 and 2 stored it.
#[derive(Deserialize)]
pub(super) enum CommandV2 {
    Update(UpdateRequestV2),
    Rollback {
        id: OperationId,
        container: String,
    },
    Restart {
        id: OperationId,
        container: String,
    },
    Backup {
        id: OperationId,
        container: String,
    },
    Restore {
        id: OperationId,
        container: String,
        backup: String,
    },
}

/// [`UpdateRequest`] before issue 17 appended `vulnerability_gate`.
#[derive(Deserialize)]
pub(super) struct UpdateRequestV2 {
    id: OperationId,
    container: String,
    image: String,
    auth: Option<RegistryAuth>,
    health: HealthPolicy,
    force: bool,
    volume_archive_limit_bytes: Option<u64>,
}

impl CommandV2 {
    pub(super) fn upgrade(self) -> ContainerCommand {
        match self {
            CommandV2::Update(request) => ContainerCommand::Update(UpdateRequest {
                id: request.id,
                container: request.container,
                image: request.image,
                auth: request.auth,
                health: request.health,
                force: request.force,
                volume_archive_limit_bytes: request.volume_archive_limit_bytes,
                vulnerability_gate: None,
            }),
            CommandV2::Rollback { id, container } => ContainerCommand::Rollback { id, container },
            CommandV2::Restart { id, container } => ContainerCommand::Restart { id, container },
            CommandV2::Backup { id, container } => ContainerCommand::Backup { id, container },
            CommandV2::Restore {
                id,
                container,
                backup,
            } => ContainerCommand::Restore {
                id,
                container,
                backup,
            },
        }
    }
}

/// Layout 2 of [`CommandResult`].
#[derive(Deserialize)]
struct ResultV2 {
    id: OperationId,
    container: String,
    outcome: Outcome,
    message: String,
    old_image_id: Option<String>,
    new_image_id: Option<String>,
    backup: Option<String>,
    log: Vec<LogLine>,
    backup_taken: Option<BackupV2>,
}

/// Layout 2 of [`Backup`].
#[derive(Deserialize)]
struct BackupV2 {
    container: String,
    taken_at_ms: u64,
    image_ref: String,
    image_id: String,
    inspect_json: String,
    volume_archives: Vec<String>,
}

impl RecordV2 {
    pub(super) fn upgrade(self) -> OperationRecord {
        OperationRecord {
            id: self.id,
            agent_id: self.agent_id,
            container: self.container,
            action: self.action,
            command: self.command.upgrade(),
            requested_by: self.requested_by,
            requested_at_ms: self.requested_at_ms,
            expires_at_ms: self.expires_at_ms,
            from_image: self.from_image,
            to_image: self.to_image,
            to_digest: self.to_digest,
            state: self.state,
            started_at_ms: self.started_at_ms,
            finished_at_ms: self.finished_at_ms,
            progress: self.progress,
            result: self.result.map(|result| CommandResult {
                id: result.id,
                container: result.container,
                outcome: result.outcome,
                message: result.message,
                old_image_id: result.old_image_id,
                new_image_id: result.new_image_id,
                backup: result.backup,
                log: result.log,
                backup_taken: result.backup_taken.map(|backup| Backup {
                    container: backup.container,
                    taken_at_ms: backup.taken_at_ms,
                    image_ref: backup.image_ref,
                    image_id: backup.image_id,
                    inspect_json: backup.inspect_json,
                    volume_archives: backup.volume_archives,
                    dump: None,
                    excluded_env: Vec::new(),
                }),
                data_restored: None,
                evidence: None,
            }),
            error: self.error,
            attempts: self.attempts,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::layout::decode;
    use unity_shared::model::update::{ContainerCommand, OperationId, Outcome};

    /// A layout-2 record (a finished backup with its typed backup) through a field-for-field
    /// mirror of the structs before issue 17 reads with the appended fields empty.
    #[test]
    fn issue_17_layout_2_records_still_read() {
        #[derive(serde::Serialize)]
        struct Backup2<'a>(&'a str, u64, &'a str, &'a str, &'a str, Vec<&'a str>);
        #[derive(serde::Serialize)]
        #[allow(clippy::type_complexity)]
        struct Result2<'a>(
            OperationId,
            &'a str,
            Outcome,
            &'a str,
            Option<&'a str>,
            Option<&'a str>,
            Option<&'a str>,
            Vec<unity_shared::model::update::LogLine>,
            Option<Backup2<'a>>,
        );
        let command = ContainerCommand::Backup {
            id: OperationId("op".into()),
            container: "web".into(),
        };
        let mut bytes = vec![0xFF, 2];
        bytes.extend(
            postcard::to_allocvec(&(
                "op",
                "nas-1a2b3c",
                "web",
                "backup",
                command,
                "ada",
                1_i64,
                2_i64,
                None::<&str>,
                None::<&str>,
                None::<&str>,
            ))
            .unwrap(),
        );
        // Postcard tuples are their fields one after the other: the record in two halves.
        bytes.extend(
            postcard::to_allocvec(&(
                super::OperationState::Finished,
                Some(3_i64),
                Some(4_i64),
                Vec::<unity_shared::model::update::LogLine>::new(),
                Some(Result2(
                    OperationId("op".into()),
                    "web",
                    Outcome::Succeeded,
                    "backed up",
                    None,
                    None,
                    Some("1.json"),
                    Vec::new(),
                    Some(Backup2("web", 1, "nginx:1", "sha256:1", "{}", vec!["a"])),
                )),
                None::<&str>,
                1_u32,
            ))
            .unwrap(),
        );
        let record = decode(&bytes).unwrap();
        assert_eq!(record.attempts, 1);
        let result = record.result.unwrap();
        assert_eq!(result.evidence, None);
        let backup = result.backup_taken.unwrap();
        assert_eq!(backup.volume_archives, ["a"]);
        assert!(backup.excluded_env.is_empty());
    }
}
