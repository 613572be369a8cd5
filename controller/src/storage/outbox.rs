//! The notification outbox: every event a receiver should get is stored here (in the same
//! flush as the alert change that caused it) before anything is sent, and removed once it was
//! delivered or finally failed, so a controller killed at any moment neither loses nor repeats
//! a notification (a send that succeeded in the last milliseconds before the kill is the one
//! exception, at most once per receiver). Beside it: each receiver's delivery status and the
//! outcomes of "send test" requests.
//!
//! Keys: outbox `<receiver> 0x00 <id, big-endian>` (so each receiver's entries sort in the order
//! they were queued); status `<receiver>`; tests `<id, big-endian>`. Values are postcard;
//! fields are only appended.

use super::alerts::AlertRecord;
use super::{decode, encode, StorageError};
use serde::{Deserialize, Serialize};

/// An event as queued: what the notifier formats.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxEvent {
    /// The event kind's word ("opened", "resolved", …).
    pub kind: String,
    pub hostname: String,
    pub alert: AlertRecord,
}

/// One pending delivery to one receiver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxEntry {
    pub event: OutboxEvent,
    /// Failed attempts so far.
    pub attempts: u32,
    /// Not to be sent before this (Unix ms): backoff, Retry-After or quiet hours.
    pub not_before_ms: i64,
    /// Set for a "send test": the id its outcome is stored under.
    pub test_id: Option<u64>,
}

/// A receiver's delivery record, shown on the dashboard.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryStatus {
    pub last_success_ms: Option<i64>,
    /// The last failure (retryable or not), without URLs or secrets.
    pub last_error: Option<String>,
    pub last_error_ms: Option<i64>,
    pub delivered: u64,
    /// Notifications given up on (a 4xx, or out of attempts).
    pub failed: u64,
}

/// The outcome of a "send test": `None` error means delivered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestOutcome {
    pub at_ms: i64,
    pub error: Option<String>,
}

/// The outbox trees. Cheap to clone (sled trees are handles).
#[derive(Clone)]
pub struct Outbox {
    db: sled::Db,
    entries: sled::Tree,
    status: sled::Tree,
    tests: sled::Tree,
}

fn entry_key(receiver: &str, id: u64) -> Vec<u8> {
    let mut key = Vec::with_capacity(receiver.len() + 9);
    key.extend_from_slice(receiver.as_bytes());
    key.push(0);
    key.extend_from_slice(&id.to_be_bytes());
    key
}

fn prefix(receiver: &str) -> Vec<u8> {
    let mut key = receiver.as_bytes().to_vec();
    key.push(0);
    key
}

fn id_of(key: &[u8]) -> Option<u64> {
    let tail: [u8; 8] = key.get(key.len().checked_sub(8)?..)?.try_into().ok()?;
    Some(u64::from_be_bytes(tail))
}

impl Outbox {
    pub fn open(db: &sled::Db) -> Result<Outbox, StorageError> {
        Ok(Outbox {
            db: db.clone(),
            entries: db.open_tree("notify_outbox")?,
            status: db.open_tree("notify_status")?,
            tests: db.open_tree("notify_tests")?,
        })
    }

    /// A fresh id (for entries and tests), increasing across restarts.
    pub fn new_id(&self) -> Result<u64, StorageError> {
        Ok(self.db.generate_id()?)
    }

    /// Queues `entry` for `receiver`; returns its id. Not durable until the next flush.
    pub fn push(&self, receiver: &str, entry: &OutboxEntry) -> Result<u64, StorageError> {
        let id = self.new_id()?;
        self.entries
            .insert(entry_key(receiver, id), encode("notify_outbox", entry)?)?;
        Ok(id)
    }

    /// The oldest queued entry of `receiver`.
    pub fn first(&self, receiver: &str) -> Result<Option<(u64, OutboxEntry)>, StorageError> {
        for item in self.entries.scan_prefix(prefix(receiver)) {
            let (key, value) = item?;
            let entry: OutboxEntry = decode("notify_outbox", &value)?;
            if let Some(id) = id_of(&key) {
                return Ok(Some((id, entry)));
            }
        }
        Ok(None)
    }

    /// Every queued entry of `receiver`, oldest first.
    pub fn queued(&self, receiver: &str) -> Result<Vec<(u64, OutboxEntry)>, StorageError> {
        let mut entries = Vec::new();
        for item in self.entries.scan_prefix(prefix(receiver)) {
            let (key, value) = item?;
            if let Some(id) = id_of(&key) {
                entries.push((id, decode("notify_outbox", &value)?));
            }
        }
        Ok(entries)
    }

    /// How many entries `receiver` has queued.
    pub fn pending(&self, receiver: &str) -> usize {
        self.entries.scan_prefix(prefix(receiver)).count()
    }

    /// Replaces a queued entry (after a failed attempt) and makes it durable.
    pub fn update(&self, receiver: &str, id: u64, entry: &OutboxEntry) -> Result<(), StorageError> {
        self.entries
            .insert(entry_key(receiver, id), encode("notify_outbox", entry)?)?;
        self.entries.flush()?;
        Ok(())
    }

    /// Removes a delivered (or given up) entry, records the outcome, and makes both durable
    /// before returning, so the entry is never sent again.
    pub fn finish(
        &self,
        receiver: &str,
        id: u64,
        entry: &OutboxEntry,
        now_ms: i64,
        error: Option<String>,
    ) -> Result<(), StorageError> {
        self.entries.remove(entry_key(receiver, id))?;
        let mut status = self.status(receiver)?;
        match &error {
            None => {
                status.last_success_ms = Some(now_ms);
                status.delivered += 1;
            }
            Some(message) => {
                status.last_error = Some(message.clone());
                status.last_error_ms = Some(now_ms);
                status.failed += 1;
            }
        }
        self.status
            .insert(receiver.as_bytes(), encode("notify_status", &status)?)?;
        if let Some(test_id) = entry.test_id {
            let outcome = TestOutcome {
                at_ms: now_ms,
                error,
            };
            self.tests
                .insert(test_id.to_be_bytes(), encode("notify_tests", &outcome)?)?;
        }
        self.db.flush()?;
        Ok(())
    }

    /// Notes a failed attempt that will be retried.
    pub fn note_error(&self, receiver: &str, now_ms: i64, error: &str) -> Result<(), StorageError> {
        let mut status = self.status(receiver)?;
        status.last_error = Some(error.to_owned());
        status.last_error_ms = Some(now_ms);
        self.status
            .insert(receiver.as_bytes(), encode("notify_status", &status)?)?;
        Ok(())
    }

    pub fn status(&self, receiver: &str) -> Result<DeliveryStatus, StorageError> {
        match self.status.get(receiver.as_bytes())? {
            Some(bytes) => decode("notify_status", &bytes),
            None => Ok(DeliveryStatus::default()),
        }
    }

    /// The outcome of the "send test" `test_id`, once there is one.
    pub fn test_outcome(&self, test_id: u64) -> Result<Option<TestOutcome>, StorageError> {
        match self.tests.get(test_id.to_be_bytes())? {
            Some(bytes) => Ok(Some(decode("notify_tests", &bytes)?)),
            None => Ok(None),
        }
    }

    /// Drops test outcomes older than `cutoff_ms`.
    pub fn prune_tests(&self, cutoff_ms: i64) -> Result<(), StorageError> {
        for item in self.tests.iter() {
            let (key, value) = item?;
            let outcome: TestOutcome = decode("notify_tests", &value)?;
            if outcome.at_ms < cutoff_ms {
                self.tests.remove(key)?;
            }
        }
        Ok(())
    }

    /// Makes every change durable.
    pub fn flush(&self) -> Result<(), StorageError> {
        self.db.flush()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use unity_shared::proto::AgentId;

    fn entry(summary: &str) -> OutboxEntry {
        OutboxEntry {
            event: OutboxEvent {
                kind: "opened".into(),
                hostname: "nas01".into(),
                alert: AlertRecord {
                    key: "host/nas/offline".into(),
                    agent_id: AgentId::new("nas").unwrap(),
                    severity: super::super::alerts::Severity::Critical,
                    summary: summary.into(),
                    details: vec![],
                    opened_at_ms: 1,
                    last_seen_ms: 1,
                    resolved_at_ms: None,
                },
            },
            attempts: 0,
            not_before_ms: 0,
            test_id: None,
        }
    }

    #[test]
    fn issue_18_outbox_survives_reopen_and_keeps_order_per_receiver() {
        let dir = tempfile::tempdir().unwrap();
        {
            let db = super::super::open_test_db(dir.path());
            let outbox = Outbox::open(&db).unwrap();
            outbox.push("a", &entry("one")).unwrap();
            outbox.push("ab", &entry("other receiver")).unwrap();
            outbox.push("a", &entry("two")).unwrap();
            outbox.flush().unwrap();
        }
        let db = super::super::open_test_db(dir.path());
        let outbox = Outbox::open(&db).unwrap();
        assert_eq!((outbox.pending("a"), outbox.pending("ab")), (2, 1));
        let (id, first) = outbox.first("a").unwrap().unwrap();
        assert_eq!(first.event.alert.summary, "one");
        outbox.finish("a", id, &first, 10, None).unwrap();
        let (id, second) = outbox.first("a").unwrap().unwrap();
        assert_eq!(second.event.alert.summary, "two");
        outbox
            .finish("a", id, &second, 11, Some("HTTP 404".into()))
            .unwrap();
        assert!(outbox.first("a").unwrap().is_none());
        let status = outbox.status("a").unwrap();
        assert_eq!((status.delivered, status.failed), (1, 1));
        assert_eq!(status.last_success_ms, Some(10));
        assert_eq!(status.last_error.as_deref(), Some("HTTP 404"));
        assert_eq!(
            outbox.first("ab").unwrap().unwrap().1.event.alert.summary,
            "other receiver"
        );
    }
}
