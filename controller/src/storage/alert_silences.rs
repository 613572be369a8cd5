//! Silences and the operator's rules made in the dashboard or API (issue 18 §2, §1 "user
//! rules"), postcard records appended to, never reordered.
//!
//! A silence mutes notifications about the alerts it matches (by host, alert key prefix
//! and/or host label) until it expires; expired ones are pruned by the alert loop. Silences
//! are keyed by id (big-endian, so they list in creation order), rules by name.

use super::alert_lifecycle::ActorRecord;
use super::alerts::Severity;
use super::{decode, encode, StorageError};
use serde::{Deserialize, Serialize};
use unity_shared::proto::AgentId;

/// One silence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SilenceRecord {
    /// Given by [`Silences::create`].
    pub id: u64,
    /// Only this host's alerts.
    pub host: Option<AgentId>,
    /// Only alerts whose key starts with this (`disk/`, `rule/nas01/cpu`).
    pub key_prefix: Option<String>,
    /// Only alerts of hosts with this label (`name`, `value`).
    pub label: Option<(String, String)>,
    /// Why, in the operator's words.
    pub comment: String,
    pub created_by: ActorRecord,
    pub created_at_ms: i64,
    /// Unix milliseconds after which it no longer applies.
    pub expires_at_ms: i64,
}

impl SilenceRecord {
    /// Whether it mutes the alert `key` of host `agent_id` (carrying `labels`) at `now_ms`.
    /// Every matcher it has must match; a silence without matchers mutes nothing.
    pub fn mutes(
        &self,
        key: &str,
        agent_id: &AgentId,
        labels: &[(String, String)],
        now_ms: i64,
    ) -> bool {
        let has_matcher = self.host.is_some() || self.key_prefix.is_some() || self.label.is_some();
        has_matcher
            && now_ms < self.expires_at_ms
            && self.host.as_ref().is_none_or(|host| host == agent_id)
            && self
                .key_prefix
                .as_deref()
                .is_none_or(|prefix| key.starts_with(prefix))
            && self
                .label
                .as_ref()
                .is_none_or(|label| labels.contains(label))
    }
}

/// The threshold of a stored rule (as `alerts::config::Threshold`, which storage does not
/// know).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum ThresholdRecord {
    Above(f64),
    Below(f64),
    OlderThanMs(u64),
}

/// One rule made in the dashboard or API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserRuleRecord {
    pub name: String,
    pub metric: String,
    pub labels: Vec<(String, String)>,
    pub threshold: ThresholdRecord,
    pub severity: Severity,
    pub summary: Option<String>,
    /// How long the threshold must hold before the alert opens; 0 = at once.
    pub for_ms: u64,
    /// Only hosts in these host groups (none: every host).
    pub groups: Vec<String>,
    /// Only these hosts, by agent id (none: every host).
    pub hosts: Vec<String>,
    pub updated_by: ActorRecord,
    pub updated_at_ms: i64,
}

pub struct Silences {
    db: sled::Db,
    silences: sled::Tree,
    rules: sled::Tree,
}

impl Silences {
    pub fn open(db: &sled::Db) -> Result<Silences, StorageError> {
        Ok(Silences {
            db: db.clone(),
            silences: db.open_tree("alerts_silences")?,
            rules: db.open_tree("alerts_user_rules")?,
        })
    }

    /// Stores `record` under a new id, which it returns. Flushed.
    pub fn create(&self, mut record: SilenceRecord) -> Result<SilenceRecord, StorageError> {
        record.id = self.db.generate_id()? + 1;
        self.silences
            .insert(record.id.to_be_bytes(), encode("alerts_silences", &record)?)?;
        self.silences.flush()?;
        Ok(record)
    }

    /// Every silence, oldest first (expired ones until pruned).
    pub fn list(&self) -> Result<Vec<SilenceRecord>, StorageError> {
        self.silences
            .iter()
            .values()
            .map(|value| decode("alerts_silences", &value?))
            .collect()
    }

    /// Removes silence `id`; false when there was none. Flushed.
    pub fn delete(&self, id: u64) -> Result<bool, StorageError> {
        let removed = self.silences.remove(id.to_be_bytes())?.is_some();
        self.silences.flush()?;
        Ok(removed)
    }

    /// Removes the silences expired at `now_ms`; returns how many. Not flushed here.
    pub fn prune(&self, now_ms: i64) -> Result<usize, StorageError> {
        let mut removed = 0;
        for silence in self.list()? {
            if silence.expires_at_ms <= now_ms {
                self.silences.remove(silence.id.to_be_bytes())?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// Every stored rule, by name.
    pub fn rules(&self) -> Result<Vec<UserRuleRecord>, StorageError> {
        self.rules
            .iter()
            .values()
            .map(|value| decode("alerts_user_rules", &value?))
            .collect()
    }

    /// Inserts or replaces the rule with `record.name`. Flushed.
    pub fn put_rule(&self, record: &UserRuleRecord) -> Result<(), StorageError> {
        self.rules
            .insert(record.name.as_bytes(), encode("alerts_user_rules", record)?)?;
        self.rules.flush()?;
        Ok(())
    }

    /// Removes rule `name`; false when there was none. Flushed.
    pub fn delete_rule(&self, name: &str) -> Result<bool, StorageError> {
        let removed = self.rules.remove(name.as_bytes())?.is_some();
        self.rules.flush()?;
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn silence(expires_at_ms: i64) -> SilenceRecord {
        SilenceRecord {
            id: 0,
            host: Some(AgentId::new("nas").unwrap()),
            key_prefix: None,
            label: None,
            comment: "maintenance".into(),
            created_by: ActorRecord::Cli,
            created_at_ms: 0,
            expires_at_ms,
        }
    }

    #[test]
    fn silences_get_ids_list_delete_and_prune() {
        let dir = tempfile::tempdir().unwrap();
        let db = crate::storage::open_test_db(dir.path());
        let silences = Silences::open(&db).unwrap();
        let first = silences.create(silence(100)).unwrap();
        let second = silences.create(silence(300)).unwrap();
        assert!(first.id > 0 && second.id > first.id);
        assert_eq!(silences.list().unwrap(), [first.clone(), second.clone()]);
        assert_eq!(silences.prune(100).unwrap(), 1);
        assert_eq!(silences.list().unwrap(), std::slice::from_ref(&second));
        assert!(silences.delete(second.id).unwrap());
        assert!(!silences.delete(second.id).unwrap());
        let rule = UserRuleRecord {
            name: "hot".into(),
            metric: "cpu_usage_ratio".into(),
            labels: vec![],
            threshold: ThresholdRecord::Above(0.9),
            severity: Severity::Warning,
            summary: None,
            for_ms: 600_000,
            groups: vec!["nas".into()],
            hosts: vec![],
            updated_by: ActorRecord::User("ada".into()),
            updated_at_ms: 1,
        };
        silences.put_rule(&rule).unwrap();
        assert_eq!(silences.rules().unwrap(), [rule]);
        assert!(silences.delete_rule("hot").unwrap());
        assert!(silences.rules().unwrap().is_empty());
    }
}
