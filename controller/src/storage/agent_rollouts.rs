//! Fleet rollouts of an agent version (issue 20 §2, docs/agent-updates.md): the version, the
//! canary, the stages (host groups, then every other host), how many at once, the agent
//! updates the rollout queued, and where it stands ([`RolloutState`]). Records are JSON (a
//! field appended with `#[serde(default)]` reads from older records), keyed by id; ids start
//! with the start time in hex, so the newest is the last key. At most one rollout is active
//! (rolling or halted) at a time: [`AgentRollouts::insert`] refuses a second.

use super::agent_updates::AgentUpdateEvent;
use super::StorageError;
use serde::{Deserialize, Serialize};
use unity_shared::proto::AgentId;

/// Where a rollout is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RolloutState {
    /// Updates are sent as the plan allows.
    Rolling,
    /// Stopped by a failed update (or an operator); nothing new is sent until resumed.
    Halted,
    /// Every covered agent runs the version or was skipped.
    Finished,
    /// Stopped by an operator for good.
    Cancelled,
}

impl RolloutState {
    /// The word the API, the CLI and the pages show.
    pub fn word(self) -> &'static str {
        match self {
            RolloutState::Rolling => "rolling",
            RolloutState::Halted => "halted",
            RolloutState::Finished => "finished",
            RolloutState::Cancelled => "cancelled",
        }
    }

    /// Rolling or halted: it may still send updates.
    pub fn is_active(self) -> bool {
        matches!(self, RolloutState::Rolling | RolloutState::Halted)
    }
}

/// An agent update this rollout queued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RolloutUpdate {
    pub agent_id: AgentId,
    /// The agent update's id (`storage::agent_updates`).
    pub update_id: String,
}

/// One fleet rollout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentRolloutRecord {
    pub id: String,
    /// The version every host should run.
    pub version: String,
    /// Updated first, alone.
    pub canary: Option<AgentId>,
    /// Host groups in order; every host in none of them comes last.
    pub stages: Vec<String>,
    pub max_parallel: u32,
    pub confirm_within_secs: u32,
    /// Who started it (a user, `token:<name>`, `cli`).
    pub started_by: String,
    pub started_at_ms: i64,
    pub state: RolloutState,
    pub finished_at_ms: Option<i64>,
    /// Why it halted or how it ended.
    pub message: Option<String>,
    /// The updates it queued, oldest first.
    pub updates: Vec<RolloutUpdate>,
    /// Failed updates an operator dismissed when resuming: they no longer halt the rollout,
    /// and their hosts are tried again.
    #[serde(default)]
    pub dismissed: Vec<String>,
    pub events: Vec<AgentUpdateEvent>,
}

impl AgentRolloutRecord {
    /// Appends a line to its history.
    pub fn note(&mut self, at_ms: i64, message: impl Into<String>) {
        self.events.push(AgentUpdateEvent {
            at_ms,
            message: message.into(),
        });
    }
}

fn corrupt(error: serde_json::Error) -> StorageError {
    StorageError::Corrupt {
        tree: "agent_rollouts",
        message: error.to_string(),
    }
}

fn encode(record: &AgentRolloutRecord) -> Result<Vec<u8>, StorageError> {
    serde_json::to_vec(record).map_err(corrupt)
}

fn decode(bytes: &[u8]) -> Result<AgentRolloutRecord, StorageError> {
    serde_json::from_slice(bytes).map_err(corrupt)
}

pub struct AgentRollouts {
    tree: sled::Tree,
}

impl AgentRollouts {
    pub fn open(db: &sled::Db) -> Result<AgentRollouts, StorageError> {
        Ok(AgentRollouts {
            tree: db.open_tree("agent_rollouts")?,
        })
    }

    /// Stores a new rollout unless one is active (then returns that one's id and stores
    /// nothing). Flushed.
    pub fn insert(&self, record: &AgentRolloutRecord) -> Result<Result<(), String>, StorageError> {
        // Rollouts start by an operator's hand; one at a time, so checking then inserting
        // under sled's transaction keeps two concurrent starts from both succeeding.
        let inserted = self.tree.transaction(|tree| {
            if let Some(active) = tree.get(b"active".as_slice())? {
                return Ok(Err(String::from_utf8_lossy(&active).into_owned()));
            }
            tree.insert(b"active".as_slice(), record.id.as_bytes())?;
            let bytes =
                encode(record).map_err(sled::transaction::ConflictableTransactionError::Abort)?;
            tree.insert(record_key(&record.id), bytes)?;
            Ok(Ok(()))
        });
        let inserted = match inserted {
            Ok(inserted) => inserted,
            Err(sled::transaction::TransactionError::Abort(error)) => return Err(error),
            Err(sled::transaction::TransactionError::Storage(error)) => return Err(error.into()),
        };
        self.tree.flush()?;
        Ok(inserted)
    }

    pub fn get(&self, id: &str) -> Result<Option<AgentRolloutRecord>, StorageError> {
        self.tree
            .get(record_key(id))?
            .map(|bytes| decode(&bytes))
            .transpose()
    }

    /// The active rollout (rolling or halted), if any.
    pub fn active(&self) -> Result<Option<AgentRolloutRecord>, StorageError> {
        match self.tree.get(b"active")? {
            Some(id) => self.get(&String::from_utf8_lossy(&id)),
            None => Ok(None),
        }
    }

    /// The newest rollout, active or not.
    pub fn newest(&self) -> Result<Option<AgentRolloutRecord>, StorageError> {
        match self.tree.scan_prefix(RECORD_PREFIX).values().next_back() {
            Some(bytes) => Ok(Some(decode(&bytes?)?)),
            None => Ok(None),
        }
    }

    /// Applies `change` atomically; a rollout that ends up inactive leaves the active slot.
    /// `None` if unknown.
    pub fn update(
        &self,
        id: &str,
        change: impl Fn(&mut AgentRolloutRecord),
    ) -> Result<Option<AgentRolloutRecord>, StorageError> {
        let key = record_key(id);
        let Some(record) = super::cas::update(&self.tree, &key, decode, encode, change)? else {
            return Ok(None);
        };
        if !record.state.is_active() {
            let _ =
                self.tree
                    .compare_and_swap(b"active", Some(record.id.as_bytes()), None::<&[u8]>)?;
        }
        self.tree.flush()?;
        Ok(Some(record))
    }
}

const RECORD_PREFIX: &[u8] = b"rollout/";

fn record_key(id: &str) -> Vec<u8> {
    [RECORD_PREFIX, id.as_bytes()].concat()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str) -> AgentRolloutRecord {
        AgentRolloutRecord {
            id: id.into(),
            version: "0.2.0".into(),
            canary: None,
            stages: vec!["pis".into()],
            max_parallel: 2,
            confirm_within_secs: 300,
            started_by: "cli".into(),
            started_at_ms: 1,
            state: RolloutState::Rolling,
            finished_at_ms: None,
            message: None,
            updates: vec![],
            dismissed: vec![],
            events: vec![],
        }
    }

    #[test]
    fn one_rollout_is_active_at_a_time_and_survives_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let db = sled::open(dir.path()).unwrap();
            let rollouts = AgentRollouts::open(&db).unwrap();
            assert_eq!(rollouts.insert(&record("01")).unwrap(), Ok(()));
            assert_eq!(rollouts.insert(&record("02")).unwrap(), Err("01".into()));
            assert_eq!(rollouts.get("02").unwrap(), None);
            rollouts
                .update("01", |record| record.state = RolloutState::Halted)
                .unwrap();
            assert_eq!(
                rollouts.active().unwrap().unwrap().id,
                "01",
                "halted is active"
            );
        }
        let db = sled::open(dir.path()).unwrap();
        let rollouts = AgentRollouts::open(&db).unwrap();
        assert_eq!(
            rollouts.active().unwrap().unwrap().state,
            RolloutState::Halted
        );
        rollouts
            .update("01", |record| record.state = RolloutState::Cancelled)
            .unwrap();
        assert_eq!(rollouts.active().unwrap(), None);
        assert_eq!(rollouts.insert(&record("03")).unwrap(), Ok(()));
        assert_eq!(rollouts.newest().unwrap().unwrap().id, "03");
        assert_eq!(rollouts.active().unwrap().unwrap().id, "03");
    }
}
