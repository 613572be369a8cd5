//! What happens to open alerts beyond their condition (issue 18 §2), kept beside
//! [`super::alerts`] so its records stay as they were: acknowledgements (who, when, a note),
//! each open alert's notification status (when it was last told, since when its host is
//! offline), and the `for` clocks of the operator's rules (when a condition was first seen).
//! All postcard; a missing status reads as "told when opened", which is what alerts stored
//! before this file got.

use super::{decode, encode, StorageError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use unity_shared::proto::AgentId;

/// Who did something, as stored: the same cases as `domain::actor::Actor` (storage does not
/// depend on the domain), written by position, so variants are only appended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ActorRecord {
    User(String),
    Token { id: String, owner: String },
    Cli,
    Agent(AgentId),
    Controller(String),
}

impl std::fmt::Display for ActorRecord {
    /// As the audit log shows an actor: `ada`, `ada via API token 3f2a9c1d`, `cli`.
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ActorRecord::User(name) | ActorRecord::Controller(name) => formatter.write_str(name),
            ActorRecord::Token { id, owner } => write!(formatter, "{owner} via API token {id}"),
            ActorRecord::Cli => formatter.write_str("cli"),
            ActorRecord::Agent(id) => write!(formatter, "agent:{id}"),
        }
    }
}

/// Someone said "I know" about an open alert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Acknowledgement {
    pub by: ActorRecord,
    pub at_ms: i64,
    pub note: String,
}

/// An open alert's notification status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AlertStatus {
    /// When a problem message (opened, escalated, reminder) was last sent; `None` while none
    /// was (opened under a silence), so no lone recovery message is sent either.
    pub notified_at_ms: Option<i64>,
    /// Since when the alert's host is offline and its condition cannot be checked.
    pub unknown_since_ms: Option<i64>,
}

/// The status of the open alert `key` opened at `opened_at_ms`; one stored before issue 18
/// has none and was told when it opened.
pub fn status_of(
    statuses: &BTreeMap<String, AlertStatus>,
    key: &str,
    opened_at_ms: i64,
) -> AlertStatus {
    statuses.get(key).copied().unwrap_or(AlertStatus {
        notified_at_ms: Some(opened_at_ms),
        unknown_since_ms: None,
    })
}

/// The acknowledgement of the open alert `key` opened at `opened_at_ms`, if given after it
/// opened (an older one belongs to an earlier alert with the same key).
pub fn ack_of<'a>(
    acks: &'a BTreeMap<String, Acknowledgement>,
    key: &str,
    opened_at_ms: i64,
) -> Option<&'a Acknowledgement> {
    acks.get(key).filter(|ack| ack.at_ms >= opened_at_ms)
}

pub struct AlertLifecycle {
    acks: sled::Tree,
    status: sled::Tree,
    pending: sled::Tree,
}

impl AlertLifecycle {
    pub fn open(db: &sled::Db) -> Result<AlertLifecycle, StorageError> {
        Ok(AlertLifecycle {
            acks: db.open_tree("alerts_acks")?,
            status: db.open_tree("alerts_status")?,
            pending: db.open_tree("alerts_pending")?,
        })
    }

    /// Every acknowledgement by alert key.
    pub fn acks(&self) -> Result<BTreeMap<String, Acknowledgement>, StorageError> {
        self.acks
            .iter()
            .map(|item| {
                let (key, value) = item?;
                Ok((
                    String::from_utf8_lossy(&key).into_owned(),
                    decode("alerts_acks", &value)?,
                ))
            })
            .collect()
    }

    /// Sets (`Some`) or removes the acknowledgement of alert `key`. Not flushed here.
    pub fn set_ack(&self, key: &str, ack: Option<&Acknowledgement>) -> Result<(), StorageError> {
        match ack {
            Some(ack) => self
                .acks
                .insert(key.as_bytes(), encode("alerts_acks", ack)?)?,
            None => self.acks.remove(key.as_bytes())?,
        };
        Ok(())
    }

    /// Every stored status by alert key.
    pub fn statuses(&self) -> Result<BTreeMap<String, AlertStatus>, StorageError> {
        self.status
            .iter()
            .map(|item| {
                let (key, value) = item?;
                Ok((
                    String::from_utf8_lossy(&key).into_owned(),
                    decode("alerts_status", &value)?,
                ))
            })
            .collect()
    }

    /// Stores alert `key`'s status. Not flushed here.
    pub fn set_status(&self, key: &str, status: &AlertStatus) -> Result<(), StorageError> {
        self.status
            .insert(key.as_bytes(), encode("alerts_status", status)?)?;
        Ok(())
    }

    /// Forgets everything about alert `key` (it resolved). Not flushed here.
    pub fn forget(&self, key: &str) -> Result<(), StorageError> {
        self.acks.remove(key.as_bytes())?;
        self.status.remove(key.as_bytes())?;
        Ok(())
    }

    /// When each pending rule condition was first seen, by condition key.
    pub fn pending(&self) -> Result<BTreeMap<String, i64>, StorageError> {
        self.pending
            .iter()
            .map(|item| {
                let (key, value) = item?;
                Ok((
                    String::from_utf8_lossy(&key).into_owned(),
                    decode("alerts_pending", &value)?,
                ))
            })
            .collect()
    }

    /// Replaces the pending clocks with `pending`, writing only what changed. Not flushed.
    pub fn set_pending(&self, pending: &BTreeMap<String, i64>) -> Result<(), StorageError> {
        let stored = self.pending()?;
        for key in stored.keys().filter(|key| !pending.contains_key(*key)) {
            self.pending.remove(key.as_bytes())?;
        }
        for (key, since) in pending {
            if stored.get(key) != Some(since) {
                self.pending
                    .insert(key.as_bytes(), encode("alerts_pending", since)?)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acks_statuses_and_pending_clocks_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let db = crate::storage::open_test_db(dir.path());
        let lifecycle = AlertLifecycle::open(&db).unwrap();
        let ack = Acknowledgement {
            by: ActorRecord::Token {
                id: "3f2a".into(),
                owner: "ada".into(),
            },
            at_ms: 5,
            note: "replacing the disk".into(),
        };
        lifecycle.set_ack("pool/a/tank", Some(&ack)).unwrap();
        assert_eq!(lifecycle.acks().unwrap()["pool/a/tank"], ack);
        assert_eq!(ack.by.to_string(), "ada via API token 3f2a");
        let status = AlertStatus {
            notified_at_ms: Some(1),
            unknown_since_ms: None,
        };
        lifecycle.set_status("pool/a/tank", &status).unwrap();
        assert_eq!(lifecycle.statuses().unwrap()["pool/a/tank"], status);
        lifecycle.forget("pool/a/tank").unwrap();
        assert!(lifecycle.acks().unwrap().is_empty());
        assert!(lifecycle.statuses().unwrap().is_empty());
        let mut pending = BTreeMap::from([("a".to_owned(), 1), ("b".to_owned(), 2)]);
        lifecycle.set_pending(&pending).unwrap();
        pending.remove("a");
        pending.insert("c".into(), 3);
        lifecycle.set_pending(&pending).unwrap();
        assert_eq!(lifecycle.pending().unwrap(), pending);
    }
}
