//! A container operation as stored: what was asked, by whom, for which container and image,
//! where it is ([`OperationState`]), its progress lines and its result. Laid out in sled by
//! `layout.rs`.

use crate::storage::words::words;
use serde::{Deserialize, Serialize};
use unity_shared::model::update::{CommandResult, ContainerCommand, LogLine};
use unity_shared::proto::AgentId;

words! {
    /// What an operation does to its container; stored as its word, as the `String` before it.
    pub enum OperationKind ("operation kind") {
        /// Pull an image and replace the container with one running it.
        Update => "update",
        /// Go back to the image the container ran before its last update.
        Rollback => "rollback",
        Restart => "restart",
        /// Save the container's configuration (and, with a limit, its volumes).
        Backup => "backup",
        /// Recreate the container from a backup.
        Restore => "restore",
    }
}

/// Where an operation is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OperationState {
    /// Waiting for the agent (offline, or its turn has not come).
    Queued,
    /// Sent to the agent; progress arrives.
    Running,
    /// Ended: see `result` (the agent's) or `error` (expired, refused before it ran).
    Finished,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OperationRecord {
    pub id: String,
    pub agent_id: AgentId,
    pub container: String,
    pub action: OperationKind,
    pub command: ContainerCommand,
    /// The user (or `auto` for the update policy) who asked.
    pub requested_by: String,
    pub requested_at_ms: i64,
    /// A queued operation not started by then fails as expired.
    pub expires_at_ms: i64,
    /// The image the container ran when asked (reference, and digest when known).
    pub from_image: Option<String>,
    /// The image asked for (updates).
    pub to_image: Option<String>,
    /// The candidate digest an update was for (so a rolled-back one is not retried).
    pub to_digest: Option<String>,
    pub state: OperationState,
    pub started_at_ms: Option<i64>,
    pub finished_at_ms: Option<i64>,
    /// Progress lines as they arrived.
    pub progress: Vec<LogLine>,
    pub result: Option<CommandResult>,
    pub error: Option<String>,
    /// Dispatch attempts (a lost connection puts a running operation back in the queue).
    pub attempts: u32,
}

impl OperationRecord {
    /// Milliseconds from start to end, when both are known.
    pub fn duration_ms(&self) -> Option<i64> {
        Some(self.finished_at_ms? - self.started_at_ms?)
    }
}
