//! How operation records are laid out in sled, and reading the layouts of earlier versions.
//!
//! Records are positional postcard, so a changed wire type inside them (here the result's
//! backup) changes their layout. Since layout 2 every record starts with [`TAG`] and its
//! layout number; a layout-1 record starts with the length of its id (under 128 bytes, so
//! never `0xFF`), which tells the two apart without guessing.
//!
//! | layout | result's backup |
//! |---|---|
//! | 1 | `backup_json: Option<String>`: the agent's backup file as JSON text |
//! | 2 | `backup_taken: Option<Backup>`: the typed wire value (protocol 4) |
//! | 3 | JSON (issue 17): self-describing, so a field appended to a wire type inside a record |
//!
//! Layout 3 ends the need for a new layout with every appended wire field: a field appended
//! with `#[serde(default)]` reads from records written before it (tested below). Only a
//! renamed or retyped field needs layout 4. Layouts 1 and 2 are read through field-for-field
//! mirrors of the types as they were (`layout_v2.rs`; issue 17 appended `vulnerability_gate`
//! to the update request, `data_restored` and `evidence` to the result, `dump` and
//! `excluded_env` to the backup).

use super::layout_v2::CommandV2;
use super::record::{OperationKind, OperationRecord, OperationState};
use crate::storage::StorageError;
use serde::Deserialize;
use unity_shared::model::update::{Backup, CommandResult, LogLine, OperationId, Outcome};
use unity_shared::proto::AgentId;

/// First byte of every record written since layout 2.
const TAG: u8 = 0xFF;
/// The layout written now.
const LAYOUT: u8 = 3;

fn corrupt(message: impl ToString) -> StorageError {
    StorageError::Corrupt {
        tree: "operations",
        message: message.to_string(),
    }
}

pub fn encode(record: &OperationRecord) -> Result<Vec<u8>, StorageError> {
    let mut bytes = vec![TAG, LAYOUT];
    serde_json::to_writer(&mut bytes, record).map_err(corrupt)?;
    Ok(bytes)
}

pub fn decode(bytes: &[u8]) -> Result<OperationRecord, StorageError> {
    match bytes {
        [TAG, LAYOUT, rest @ ..] => serde_json::from_slice(rest).map_err(corrupt),
        [TAG, 2, rest @ ..] => postcard::from_bytes::<super::layout_v2::RecordV2>(rest)
            .map_err(corrupt)
            .map(super::layout_v2::RecordV2::upgrade),
        [TAG, layout, ..] => Err(corrupt(format!(
            "layout {layout} is newer than this controller (it writes {LAYOUT})"
        ))),
        _ => postcard::from_bytes::<RecordV1>(bytes)
            .map_err(corrupt)
            .map(RecordV1::upgrade),
    }
}

/// Layout 1 of [`OperationRecord`], field for field.
#[derive(Deserialize)]
struct RecordV1 {
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
    result: Option<ResultV1>,
    error: Option<String>,
    attempts: u32,
}

/// Layout 1 of [`CommandResult`].
#[derive(Deserialize)]
struct ResultV1 {
    id: OperationId,
    container: String,
    outcome: Outcome,
    message: String,
    old_image_id: Option<String>,
    new_image_id: Option<String>,
    backup: Option<String>,
    log: Vec<LogLine>,
    backup_json: Option<String>,
}

/// The agent's backup file, as layout 1 carried it.
#[derive(Deserialize)]
struct BackupFileV1 {
    container: String,
    taken_at_ms: u64,
    image_ref: String,
    image_id: String,
    inspect: serde_json::Value,
    #[serde(default)]
    volume_archives: Vec<String>,
}

impl RecordV1 {
    fn upgrade(self) -> OperationRecord {
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
            result: self.result.map(ResultV1::upgrade),
            error: self.error,
            attempts: self.attempts,
        }
    }
}

impl ResultV1 {
    fn upgrade(self) -> CommandResult {
        // A backup that does not parse is dropped; the rest of the result stays.
        let backup_taken = self
            .backup_json
            .and_then(|json| serde_json::from_str::<BackupFileV1>(&json).ok())
            .map(|file| Backup {
                container: file.container,
                taken_at_ms: file.taken_at_ms,
                image_ref: file.image_ref,
                image_id: file.image_id,
                inspect_json: file.inspect.to_string(),
                volume_archives: file.volume_archives,
                dump: None,
                excluded_env: Vec::new(),
            });
        CommandResult {
            id: self.id,
            container: self.container,
            outcome: self.outcome,
            message: self.message,
            old_image_id: self.old_image_id,
            new_image_id: self.new_image_id,
            backup: self.backup,
            log: self.log,
            backup_taken,
            data_restored: None,
            evidence: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use unity_shared::model::update::{ContainerCommand, Stage};

    /// Bytes of a layout-1 record, written through a field-for-field mirror of the structs
    /// before protocol 4: a finished backup operation carrying its backup as JSON text.
    fn layout_1_bytes() -> Vec<u8> {
        #[derive(serde::Serialize)]
        struct Record<'a> {
            id: &'a str,
            agent_id: &'a str,
            container: &'a str,
            action: &'a str,
            command: ContainerCommand,
            requested_by: &'a str,
            requested_at_ms: i64,
            expires_at_ms: i64,
            from_image: Option<&'a str>,
            to_image: Option<&'a str>,
            to_digest: Option<&'a str>,
            state: OperationState,
            started_at_ms: Option<i64>,
            finished_at_ms: Option<i64>,
            progress: Vec<LogLine>,
            result: Option<Result<'a>>,
            error: Option<&'a str>,
            attempts: u32,
        }
        #[derive(serde::Serialize)]
        struct Result<'a> {
            id: OperationId,
            container: &'a str,
            outcome: Outcome,
            message: &'a str,
            old_image_id: Option<&'a str>,
            new_image_id: Option<&'a str>,
            backup: Option<&'a str>,
            log: Vec<LogLine>,
            backup_json: Option<&'a str>,
        }
        let line = LogLine {
            stage: Stage::Pulling,
            at_ms: 5,
            message: "pulling".into(),
        };
        let record = Record {
            id: "0000018c-op",
            agent_id: "nas-1a2b3c",
            container: "web",
            action: "backup",
            command: ContainerCommand::Backup {
                id: OperationId("0000018c-op".into()),
                container: "web".into(),
            },
            requested_by: "ada",
            requested_at_ms: 1,
            expires_at_ms: 2,
            from_image: Some("nginx:1"),
            to_image: None,
            to_digest: None,
            state: OperationState::Finished,
            started_at_ms: Some(3),
            finished_at_ms: Some(4),
            progress: vec![line.clone()],
            result: Some(Result {
                id: OperationId("0000018c-op".into()),
                container: "web",
                outcome: Outcome::Succeeded,
                message: "backed up",
                old_image_id: Some("sha256:1"),
                new_image_id: None,
                backup: Some("1700000000000.json"),
                log: vec![line],
                backup_json: Some(
                    r#"{"container":"web","taken_at_ms":1700000000000,"image_ref":"nginx:1","image_id":"sha256:1","inspect":{"Name":"/web","Config":{"Env":["A=1"]}},"volume_archives":[]}"#,
                ),
            }),
            error: None,
            attempts: 1,
        };
        postcard::to_allocvec(&record).unwrap()
    }

    #[test]
    fn layout_1_records_still_read_with_their_backup_typed() {
        let record = decode(&layout_1_bytes()).unwrap();
        assert_eq!(record.id, "0000018c-op");
        assert_eq!(record.attempts, 1);
        let result = record.result.clone().unwrap();
        assert_eq!(result.backup.as_deref(), Some("1700000000000.json"));
        let backup = result.backup_taken.unwrap();
        assert_eq!(backup.taken_at_ms, 1_700_000_000_000);
        assert_eq!(backup.image_ref, "nginx:1");
        let inspect: serde_json::Value = serde_json::from_str(&backup.inspect_json).unwrap();
        assert_eq!(inspect["Config"]["Env"][0], "A=1");
        // Written back, it is layout 2 and reads the same.
        let rewritten = encode(&record).unwrap();
        assert_eq!(&rewritten[..2], &[TAG, LAYOUT]);
        assert_eq!(decode(&rewritten).unwrap(), record);
    }

    #[test]
    fn a_newer_layout_is_refused_with_a_reason() {
        let error = decode(&[TAG, 9, 0, 0]).unwrap_err().to_string();
        assert!(error.contains("newer"), "{error}");
    }
}
