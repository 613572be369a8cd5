//! Instances of agent identities: every installation that presented an identity (see
//! `unity_shared::proto::InstanceId`), which one is active, and the ones refused because
//! another machine holds the identity. One record per (agent, instance) in the `instances`
//! tree.

use super::StorageError;
use serde::{Deserialize, Serialize};
use unity_shared::proto::{AgentId, InstanceId};

/// Where an instance stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum InstanceStatus {
    /// Its reports are stored; commands go to it.
    Active,
    /// Refused while the active instance was silent (the data directory may have moved here);
    /// takes over once the active one has been silent for `identity_takeover_after`.
    Waiting,
    /// Refused while the active instance was online: two machines hold one identity (a clone).
    /// Never takes over by itself.
    Conflict,
    /// Was active until another instance took over.
    Retired,
}

impl InstanceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            InstanceStatus::Active => "active",
            InstanceStatus::Waiting => "waiting",
            InstanceStatus::Conflict => "conflict",
            InstanceStatus::Retired => "retired",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceRecord {
    pub instance_id: InstanceId,
    pub status: InstanceStatus,
    pub first_seen_ms: i64,
    /// The last hello (accepted or refused).
    pub last_seen_ms: i64,
    /// The address of the last hello.
    pub address: String,
    /// The host name the instance reported.
    pub hostname: String,
    /// The identity's last stored sequence number when this instance became active; while
    /// nothing newer is stored, its hellos are answered with `new_instance` so it renumbers
    /// its spool (see the agent's spool).
    pub admitted_at_seq: Option<u64>,
    /// How many hellos were refused.
    pub n_refused: u64,
}

pub struct Instances {
    tree: sled::Tree,
}

fn key(agent_id: &AgentId, instance_id: &InstanceId) -> Vec<u8> {
    let mut key = agent_id.as_str().as_bytes().to_vec();
    key.push(0);
    key.extend_from_slice(instance_id.as_bytes());
    key
}

fn prefix(agent_id: &AgentId) -> Vec<u8> {
    let mut prefix = agent_id.as_str().as_bytes().to_vec();
    prefix.push(0);
    prefix
}

fn decode(bytes: &[u8]) -> Result<InstanceRecord, StorageError> {
    postcard::from_bytes(bytes).map_err(|error| StorageError::Corrupt {
        tree: "instances",
        message: error.to_string(),
    })
}

impl Instances {
    pub fn open(db: &sled::Db) -> Result<Instances, StorageError> {
        Ok(Instances {
            tree: db.open_tree("instances")?,
        })
    }

    /// Every instance of the agent, oldest first.
    pub fn of_agent(&self, agent_id: &AgentId) -> Result<Vec<InstanceRecord>, StorageError> {
        let mut records = self
            .tree
            .scan_prefix(prefix(agent_id))
            .values()
            .map(|value| decode(&value?))
            .collect::<Result<Vec<_>, _>>()?;
        records.sort_by_key(|record| (record.first_seen_ms, record.instance_id));
        Ok(records)
    }

    /// Stores the records of one agent's instances in one atomic batch (a takeover changes
    /// two at once).
    pub fn put(&self, agent_id: &AgentId, records: &[InstanceRecord]) -> Result<(), StorageError> {
        let mut batch = sled::Batch::default();
        for record in records {
            let bytes = postcard::to_allocvec(record).map_err(|error| StorageError::Corrupt {
                tree: "instances",
                message: error.to_string(),
            })?;
            batch.insert(key(agent_id, &record.instance_id), bytes);
        }
        self.tree.apply_batch(batch)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_per_agent() {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let instances = Instances::open(&db).unwrap();
        let agent = AgentId::new("nas").unwrap();
        let other = AgentId::new("nas-2").unwrap();
        let record = |byte: u8, first_seen_ms: i64| InstanceRecord {
            instance_id: InstanceId::from_bytes([byte; 16]),
            status: InstanceStatus::Active,
            first_seen_ms,
            last_seen_ms: first_seen_ms,
            address: "192.0.2.1:4000".into(),
            hostname: "nas".into(),
            admitted_at_seq: None,
            n_refused: 0,
        };
        instances
            .put(&agent, &[record(2, 20), record(1, 10)])
            .unwrap();
        instances.put(&other, &[record(3, 5)]).unwrap();
        let stored = instances.of_agent(&agent).unwrap();
        assert_eq!(stored, vec![record(1, 10), record(2, 20)]);
        assert_eq!(instances.of_agent(&other).unwrap().len(), 1);
    }
}
