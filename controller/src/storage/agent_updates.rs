//! Agent updates as operations (issue 20 §2, docs/agent-updates.md): which build was sent to
//! which agent, by whom, where it is ([`AgentUpdateState`]) and how it ended
//! ([`AgentUpdateResult`]). Records are JSON (self-describing: a field appended with
//! `#[serde(default)]` reads from older records), keyed by id; ids start with the request time
//! in hex, so iterating is chronological. A second tree holds each agent's unfinished update
//! (at most one), so a hello looks one key up instead of scanning the history.

use super::StorageError;
use serde::{Deserialize, Serialize};
use unity_shared::proto::AgentId;

/// Where an agent update is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentUpdateState {
    /// Waiting for the agent to be connected.
    Queued,
    /// The build is being sent; the agent checks and installs it.
    Sending,
    /// The agent installed the build and restarted: waiting for the new process's hello.
    AwaitingConfirmation,
    /// Ended: see the result.
    Finished,
}

impl AgentUpdateState {
    /// The word the API, the CLI and the pages show.
    pub fn word(self) -> &'static str {
        match self {
            AgentUpdateState::Queued => "queued",
            AgentUpdateState::Sending => "sending",
            AgentUpdateState::AwaitingConfirmation => "awaiting_confirmation",
            AgentUpdateState::Finished => "finished",
        }
    }
}

/// How an agent update ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentUpdateResult {
    /// The agent came back running the new version.
    Succeeded,
    /// The agent refused the build; nothing was changed (the message is its reason).
    Refused,
    /// The new build was installed but did not reach the controller in time; the agent put
    /// the previous binary back (or came back with it).
    RolledBack,
    /// The controller could not run it (expired, no build, the stream failed too often).
    Failed,
}

impl AgentUpdateResult {
    /// The word the API, the CLI and the pages show.
    pub fn word(self) -> &'static str {
        match self {
            AgentUpdateResult::Succeeded => "succeeded",
            AgentUpdateResult::Refused => "refused",
            AgentUpdateResult::RolledBack => "rolled_back",
            AgentUpdateResult::Failed => "failed",
        }
    }
}

/// One line of what happened, for the operation page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentUpdateEvent {
    pub at_ms: i64,
    pub message: String,
}

/// One agent update.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentUpdateRecord {
    pub id: String,
    pub agent_id: AgentId,
    /// Who asked (a user, `token:<name>`, `cli`).
    pub requested_by: String,
    pub requested_at_ms: i64,
    /// A queued update not started by then fails as expired.
    pub expires_at_ms: i64,
    /// The store's name of the build (`x86_64-binary-0.2.0`).
    pub build: String,
    /// The version the agent ran when asked, and the build's.
    pub from_version: String,
    pub to_version: String,
    /// `x86_64`, `aarch64`; `binary`, `deb`, `rpm`.
    pub arch: String,
    pub kind: String,
    /// An explicit rollback: an older version is sent.
    pub rollback: bool,
    /// How long the new process has to reach the controller.
    pub confirm_within_secs: u32,
    pub state: AgentUpdateState,
    pub started_at_ms: Option<i64>,
    /// When the agent answered that it restarts into the build.
    pub restarting_at_ms: Option<i64>,
    /// After this, without the new version's hello, the update reads rolled back.
    pub confirm_by_ms: Option<i64>,
    pub finished_at_ms: Option<i64>,
    pub result: Option<AgentUpdateResult>,
    /// The agent's reason for a refusal, or why it failed or was rolled back.
    pub message: Option<String>,
    /// Times the build was sent (a lost stream sends it again).
    pub attempts: u32,
    pub events: Vec<AgentUpdateEvent>,
}

impl AgentUpdateRecord {
    /// Milliseconds from start to end, when both are known.
    pub fn duration_ms(&self) -> Option<i64> {
        Some(self.finished_at_ms? - self.started_at_ms?)
    }
}

fn corrupt(error: serde_json::Error) -> StorageError {
    StorageError::Corrupt {
        tree: "agent_updates",
        message: error.to_string(),
    }
}

fn encode(record: &AgentUpdateRecord) -> Result<Vec<u8>, StorageError> {
    serde_json::to_vec(record).map_err(corrupt)
}

fn decode(bytes: &[u8]) -> Result<AgentUpdateRecord, StorageError> {
    serde_json::from_slice(bytes).map_err(corrupt)
}

pub struct AgentUpdates {
    tree: sled::Tree,
    /// agent id -> the id of its unfinished update.
    pending: sled::Tree,
}

impl AgentUpdates {
    pub fn open(db: &sled::Db) -> Result<AgentUpdates, StorageError> {
        Ok(AgentUpdates {
            tree: db.open_tree("agent_updates")?,
            pending: db.open_tree("agent_updates_pending")?,
        })
    }

    /// Stores a new update unless the agent has an unfinished one (then returns that one's
    /// id, and stores nothing). Flushed: a queued update survives a restart.
    pub fn insert(&self, record: &AgentUpdateRecord) -> Result<Result<(), String>, StorageError> {
        let agent = record.agent_id.as_str().as_bytes();
        let claimed =
            self.pending
                .compare_and_swap(agent, None::<&[u8]>, Some(record.id.as_bytes()))?;
        if let Err(existing) = claimed {
            let id = existing
                .current
                .map(|id| String::from_utf8_lossy(&id).into_owned())
                .unwrap_or_default();
            return Ok(Err(id));
        }
        self.tree.insert(record.id.as_bytes(), encode(record)?)?;
        self.tree.flush()?;
        self.pending.flush()?;
        Ok(Ok(()))
    }

    pub fn get(&self, id: &str) -> Result<Option<AgentUpdateRecord>, StorageError> {
        self.tree
            .get(id.as_bytes())?
            .map(|bytes| decode(&bytes))
            .transpose()
    }

    /// The agent's unfinished update, if any.
    pub fn pending(&self, agent_id: &AgentId) -> Result<Option<AgentUpdateRecord>, StorageError> {
        match self.pending.get(agent_id.as_str().as_bytes())? {
            Some(id) => self.get(&String::from_utf8_lossy(&id)),
            None => Ok(None),
        }
    }

    /// Applies `change` atomically; a record that ends up finished leaves the agent's pending
    /// slot. `None` if unknown.
    pub fn update(
        &self,
        id: &str,
        change: impl Fn(&mut AgentUpdateRecord),
    ) -> Result<Option<AgentUpdateRecord>, StorageError> {
        let Some(record) = super::cas::update(&self.tree, id.as_bytes(), decode, encode, change)?
        else {
            return Ok(None);
        };
        if record.state == AgentUpdateState::Finished {
            let agent = record.agent_id.as_str().as_bytes();
            let _ =
                self.pending
                    .compare_and_swap(agent, Some(record.id.as_bytes()), None::<&[u8]>)?;
            self.pending.flush()?;
        }
        self.tree.flush()?;
        Ok(Some(record))
    }

    /// The newest `limit` updates (newest first), optionally of one agent.
    pub fn recent(
        &self,
        agent_id: Option<&str>,
        limit: usize,
    ) -> Result<Vec<AgentUpdateRecord>, StorageError> {
        let mut records = Vec::new();
        for value in self.tree.iter().values().rev() {
            let record = decode(&value?)?;
            if agent_id.is_some_and(|agent_id| agent_id != record.agent_id.as_str()) {
                continue;
            }
            records.push(record);
            if records.len() >= limit {
                break;
            }
        }
        Ok(records)
    }

    /// Updates not finished yet, oldest first (one per agent at most).
    pub fn unfinished(&self) -> Result<Vec<AgentUpdateRecord>, StorageError> {
        let mut records = Vec::new();
        for id in self.pending.iter().values() {
            if let Some(record) = self.get(&String::from_utf8_lossy(&id?))? {
                records.push(record);
            }
        }
        records.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(records)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str, agent: &str) -> AgentUpdateRecord {
        AgentUpdateRecord {
            id: id.into(),
            agent_id: AgentId::new(agent).unwrap(),
            requested_by: "cli".into(),
            requested_at_ms: 1,
            expires_at_ms: 2,
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
    fn one_unfinished_update_per_agent_and_finishing_frees_the_slot() {
        let dir = tempfile::tempdir().unwrap();
        let db = crate::storage::open_test_db(dir.path());
        let updates = AgentUpdates::open(&db).unwrap();
        updates.insert(&record("0001", "a")).unwrap().unwrap();
        assert_eq!(
            updates.insert(&record("0002", "a")).unwrap(),
            Err("0001".to_owned())
        );
        updates.insert(&record("0003", "b")).unwrap().unwrap();
        let a = AgentId::new("a").unwrap();
        assert_eq!(updates.pending(&a).unwrap().unwrap().id, "0001");
        assert_eq!(updates.unfinished().unwrap().len(), 2);
        updates
            .update("0001", |record| {
                record.state = AgentUpdateState::Finished;
                record.result = Some(AgentUpdateResult::Succeeded);
            })
            .unwrap()
            .unwrap();
        assert!(updates.pending(&a).unwrap().is_none());
        assert_eq!(updates.unfinished().unwrap().len(), 1);
        updates.insert(&record("0004", "a")).unwrap().unwrap();
        let ids: Vec<String> = updates
            .recent(None, 10)
            .unwrap()
            .into_iter()
            .map(|record| record.id)
            .collect();
        assert_eq!(ids, ["0004", "0003", "0001"]);
        assert_eq!(updates.recent(Some("b"), 10).unwrap().len(), 1);
        assert!(updates.update("nope", |_| {}).unwrap().is_none());
        // The words are serde's names.
        for state in [
            AgentUpdateState::Queued,
            AgentUpdateState::Sending,
            AgentUpdateState::AwaitingConfirmation,
            AgentUpdateState::Finished,
        ] {
            assert_eq!(serde_json::to_value(state).unwrap(), state.word());
        }
        for result in [
            AgentUpdateResult::Succeeded,
            AgentUpdateResult::Refused,
            AgentUpdateResult::RolledBack,
            AgentUpdateResult::Failed,
        ] {
            assert_eq!(serde_json::to_value(result).unwrap(), result.word());
        }
        // The record reads back exactly as stored (JSON, self-describing).
        assert_eq!(updates.get("0003").unwrap().unwrap(), record("0003", "b"));
    }
}
