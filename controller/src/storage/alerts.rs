//! Alerts: the open ones (one record per condition key) and a bounded history of resolved
//! ones, postcard-encoded. Resolving moves a record from one tree to the other atomically.
//!
//! History keys are `resolved_at_ms` (big-endian, so they sort by time) followed by the
//! condition key, so the newest are at the end and retention removes from the front.

use super::StorageError;
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use sled::transaction::{ConflictableTransactionError, TransactionError, Transactional};
use unity_shared::proto::AgentId;

/// How bad an alert is. Ordered: `Warning < Critical`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Needs a look soon (a warning verdict, a filesystem filling up).
    Warning,
    /// Act now: data or availability at risk.
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

/// One alert: a condition that was active at some point. Stored fields are appended to,
/// never reordered (postcard is positional).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertRecord {
    /// The condition's stable key, e.g. `pool/nas01/tank`.
    pub key: String,
    pub agent_id: AgentId,
    pub severity: Severity,
    /// One line for people, e.g. "tank: DEGRADED, 1 of 12 disks FAULTED".
    pub summary: String,
    /// The findings behind it.
    pub details: Vec<String>,
    /// Unix milliseconds when the condition was first seen.
    pub opened_at_ms: i64,
    /// Unix milliseconds of the last evaluation that saw the condition.
    pub last_seen_ms: i64,
    /// Unix milliseconds when the alert was resolved; `None` while open.
    pub resolved_at_ms: Option<i64>,
}

pub struct Alerts {
    open: sled::Tree,
    history: sled::Tree,
}

fn encode<T: Serialize>(record: &T) -> Result<Vec<u8>, StorageError> {
    postcard::to_allocvec(record).map_err(|error| StorageError::Corrupt {
        tree: "alerts",
        message: error.to_string(),
    })
}

fn decode<T: DeserializeOwned>(tree: &'static str, bytes: &[u8]) -> Result<T, StorageError> {
    postcard::from_bytes(bytes).map_err(|error| StorageError::Corrupt {
        tree,
        message: error.to_string(),
    })
}

fn history_key(resolved_at_ms: i64, key: &str) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(8 + key.len());
    bytes.extend_from_slice(&(resolved_at_ms.max(0) as u64).to_be_bytes());
    bytes.extend_from_slice(key.as_bytes());
    bytes
}

impl Alerts {
    pub fn open(db: &sled::Db) -> Result<Alerts, StorageError> {
        Ok(Alerts {
            open: db.open_tree("alerts_open")?,
            history: db.open_tree("alerts_history")?,
        })
    }

    /// Every open alert, ordered by key.
    pub fn open_alerts(&self) -> Result<Vec<AlertRecord>, StorageError> {
        self.open
            .iter()
            .values()
            .map(|value| decode("alerts_open", &value?))
            .collect()
    }

    /// Inserts or replaces the open alert with `record.key`. Not flushed here.
    pub fn put_open(&self, record: &AlertRecord) -> Result<(), StorageError> {
        self.open.insert(record.key.as_bytes(), encode(record)?)?;
        Ok(())
    }

    /// Moves the open alert `key` to the history as resolved at `resolved_at_ms`, atomically.
    /// `None` when no alert with that key is open. Not flushed here.
    pub fn resolve(
        &self,
        key: &str,
        resolved_at_ms: i64,
    ) -> Result<Option<AlertRecord>, StorageError> {
        let result = (&self.open, &self.history).transaction(|(open, history)| {
            let Some(bytes) = open.remove(key.as_bytes())? else {
                return Ok(None);
            };
            let mut record: AlertRecord =
                decode("alerts_open", &bytes).map_err(ConflictableTransactionError::Abort)?;
            record.resolved_at_ms = Some(resolved_at_ms);
            let encoded = encode(&record).map_err(ConflictableTransactionError::Abort)?;
            history.insert(history_key(resolved_at_ms, key), encoded)?;
            Ok(Some(record))
        });
        match result {
            Ok(record) => Ok(record),
            Err(TransactionError::Abort(error)) => Err(error),
            Err(TransactionError::Storage(error)) => Err(error.into()),
        }
    }

    /// Resolved alerts, newest first, at most `limit`.
    pub fn history(&self, limit: usize) -> Result<Vec<AlertRecord>, StorageError> {
        self.history
            .iter()
            .rev()
            .take(limit)
            .map(|item| decode("alerts_history", &item?.1))
            .collect()
    }

    /// Drops resolved alerts resolved before `cutoff_ms`, then the oldest beyond
    /// `max_entries`. Returns how many were removed. Not flushed here.
    pub fn prune_history(&self, cutoff_ms: i64, max_entries: usize) -> Result<usize, StorageError> {
        let mut removed = 0;
        let cutoff = (cutoff_ms.max(0) as u64).to_be_bytes();
        for key in self.history.range(..cutoff.as_slice()).keys() {
            self.history.remove(key?)?;
            removed += 1;
        }
        let excess = self.history.len().saturating_sub(max_entries);
        let oldest: Vec<sled::IVec> = self
            .history
            .iter()
            .keys()
            .take(excess)
            .collect::<Result<_, _>>()?;
        for key in oldest {
            self.history.remove(key)?;
            removed += 1;
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn alerts() -> (tempfile::TempDir, Alerts) {
        let dir = tempfile::tempdir().unwrap();
        let db = crate::storage::open_test_db(dir.path());
        (dir, Alerts::open(&db).unwrap())
    }

    fn record(key: &str, at: i64) -> AlertRecord {
        AlertRecord {
            key: key.to_owned(),
            agent_id: AgentId::new("a1").unwrap(),
            severity: Severity::Critical,
            summary: format!("{key} is broken"),
            details: vec!["because".into()],
            opened_at_ms: at,
            last_seen_ms: at,
            resolved_at_ms: None,
        }
    }

    #[test]
    fn resolve_moves_an_alert_to_the_history() {
        let (_dir, alerts) = alerts();
        alerts.put_open(&record("pool/a1/tank", 10)).unwrap();
        alerts.put_open(&record("host/a1/offline", 20)).unwrap();
        assert_eq!(alerts.open_alerts().unwrap().len(), 2);
        let resolved = alerts.resolve("pool/a1/tank", 30).unwrap().unwrap();
        assert_eq!(resolved.resolved_at_ms, Some(30));
        assert_eq!(alerts.resolve("pool/a1/tank", 31).unwrap(), None);
        assert_eq!(alerts.open_alerts().unwrap().len(), 1);
        assert_eq!(alerts.history(10).unwrap(), vec![resolved]);
    }

    #[derive(Debug, Clone)]
    enum Op {
        Put(u8, i64),
        Resolve(u8, i64),
        Prune(i64, usize),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0u8..6, 0i64..1000).prop_map(|(key, at)| Op::Put(key, at)),
            (0u8..6, 0i64..1000).prop_map(|(key, at)| Op::Resolve(key, at)),
            (0i64..1000, 0usize..8).prop_map(|(cutoff, max)| Op::Prune(cutoff, max)),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// The store behaves like a map of open alerts plus a sorted list of resolved ones.
        #[test]
        fn behaves_like_a_model(ops in proptest::collection::vec(op(), 1..40)) {
            let (_dir, alerts) = alerts();
            let mut open: BTreeMap<String, AlertRecord> = BTreeMap::new();
            let mut history: BTreeMap<(i64, String), AlertRecord> = BTreeMap::new();
            for op in ops {
                match op {
                    Op::Put(key, at) => {
                        let record = record(&format!("k{key}"), at);
                        alerts.put_open(&record).unwrap();
                        open.insert(record.key.clone(), record);
                    }
                    Op::Resolve(key, at) => {
                        let key = format!("k{key}");
                        let expected = open.remove(&key).map(|mut record| {
                            record.resolved_at_ms = Some(at);
                            history.insert((at, key.clone()), record.clone());
                            record
                        });
                        prop_assert_eq!(alerts.resolve(&key, at).unwrap(), expected);
                    }
                    Op::Prune(cutoff, max) => {
                        let before = history.len();
                        history.retain(|(at, _), _| *at >= cutoff);
                        while history.len() > max {
                            history.pop_first();
                        }
                        let removed = alerts.prune_history(cutoff, max).unwrap();
                        prop_assert_eq!(removed, before - history.len());
                    }
                }
                let stored_open: Vec<AlertRecord> = alerts.open_alerts().unwrap();
                prop_assert_eq!(stored_open, open.values().cloned().collect::<Vec<_>>());
                let stored_history = alerts.history(usize::MAX).unwrap();
                let model_history: Vec<AlertRecord> = history.values().rev().cloned().collect();
                prop_assert_eq!(stored_history, model_history);
            }
        }
    }
}
