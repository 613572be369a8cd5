//! Container operations (update, rollback, restart, backup, restore) and their history: who
//! asked, when, from which image to which, every progress line, the outcome and duration.
//!
//! Operation ids start with the request time in hex, so iterating the tree is chronological.
//! The stored command never carries registry credentials: they are attached at dispatch.

mod layout;
mod layout_v2;
mod record;

pub use record::{OperationKind, OperationRecord, OperationState};

use super::StorageError;
use layout::{decode, encode};

pub struct Operations {
    tree: sled::Tree,
}

impl Operations {
    pub fn open(db: &sled::Db) -> Result<Operations, StorageError> {
        Ok(Operations {
            tree: db.open_tree("operations")?,
        })
    }

    /// Stores (or replaces) a record and flushes: a queued operation must survive a restart,
    /// and a finished one is history.
    pub fn put(&self, record: &OperationRecord) -> Result<(), StorageError> {
        self.tree.insert(record.id.as_bytes(), encode(record)?)?;
        self.tree.flush()?;
        Ok(())
    }

    /// Stores bytes as an older controller wrote them (tests of other layers).
    #[cfg(test)]
    pub fn put_raw(&self, id: &str, bytes: &[u8]) -> Result<(), StorageError> {
        self.tree.insert(id.as_bytes(), bytes)?;
        Ok(())
    }

    pub fn get(&self, id: &str) -> Result<Option<OperationRecord>, StorageError> {
        self.tree
            .get(id.as_bytes())?
            .map(|b| decode(&b))
            .transpose()
    }

    /// Applies `change` to a stored record atomically; `None` if unknown.
    pub fn update(
        &self,
        id: &str,
        change: impl Fn(&mut OperationRecord),
    ) -> Result<Option<OperationRecord>, StorageError> {
        let record = super::cas::update(&self.tree, id.as_bytes(), decode, encode, change)?;
        if record.is_some() {
            self.tree.flush()?;
        }
        Ok(record)
    }

    /// The newest `limit` operations (newest first), optionally of one agent.
    pub fn recent(
        &self,
        agent_id: Option<&str>,
        limit: usize,
    ) -> Result<Vec<OperationRecord>, StorageError> {
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

    /// Operations not finished yet, oldest first.
    pub fn unfinished(&self) -> Result<Vec<OperationRecord>, StorageError> {
        let mut records = Vec::new();
        for value in self.tree.iter().values() {
            let record = decode(&value?)?;
            if record.state != OperationState::Finished {
                records.push(record);
            }
        }
        Ok(records)
    }

    /// Every operation, oldest first (for the rollout history).
    pub fn all(&self) -> Result<Vec<OperationRecord>, StorageError> {
        self.tree.iter().values().map(|v| decode(&v?)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use unity_shared::model::update::{ContainerCommand, OperationId};

    fn record(id: &str, agent: &str) -> OperationRecord {
        OperationRecord {
            id: id.into(),
            agent_id: unity_shared::proto::AgentId::new(agent).unwrap(),
            container: "web".into(),
            action: OperationKind::Restart,
            command: ContainerCommand::Restart {
                id: OperationId(id.into()),
                container: "web".into(),
            },
            requested_by: "admin".into(),
            requested_at_ms: 1,
            expires_at_ms: 2,
            from_image: None,
            to_image: None,
            to_digest: None,
            state: OperationState::Queued,
            started_at_ms: None,
            finished_at_ms: None,
            progress: vec![],
            result: None,
            error: None,
            attempts: 0,
        }
    }

    #[test]
    fn records_are_listed_newest_first_and_updated_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let db = crate::storage::open_test_db(dir.path());
        let operations = Operations::open(&db).unwrap();
        operations.put(&record("0001-a", "a")).unwrap();
        operations.put(&record("0002-b", "b")).unwrap();
        operations.put(&record("0003-a", "a")).unwrap();
        let ids = |records: Vec<OperationRecord>| -> Vec<String> {
            records.into_iter().map(|r| r.id).collect()
        };
        assert_eq!(
            ids(operations.recent(None, 10).unwrap()),
            ["0003-a", "0002-b", "0001-a"]
        );
        assert_eq!(ids(operations.recent(Some("a"), 1).unwrap()), ["0003-a"]);
        let updated = operations
            .update("0002-b", |record| {
                record.state = OperationState::Finished;
                record.started_at_ms = Some(10);
                record.finished_at_ms = Some(25);
            })
            .unwrap()
            .unwrap();
        assert_eq!(updated.duration_ms(), Some(15));
        assert_eq!(ids(operations.unfinished().unwrap()), ["0001-a", "0003-a"]);
        assert!(operations.update("nope", |_| {}).unwrap().is_none());
        assert_eq!(operations.get("0002-b").unwrap().unwrap(), updated);
        assert_eq!(operations.all().unwrap().len(), 3);
    }
}
