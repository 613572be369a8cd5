//! Agentless hosts (issue 16): how to reach each one over SSH, which agent is its proxy, its
//! login key (sealed; the store never holds it in the clear), its pinned and presented host
//! keys and the proxy's newest word on it. The host itself is an ordinary agent record with no
//! certificate, so every list, page and alert takes it like any host; this tree is what makes
//! it agentless. Positional postcard: append fields at the end.

use super::StorageError;
use serde::{Deserialize, Serialize};
use unity_shared::model::agentless::{AgentlessCollectors, AgentlessOutcome};
use unity_shared::proto::AgentId;

/// Where an agentless host's login key comes from.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AgentlessKey {
    /// An ed25519 key the controller generated: the OpenSSH private key sealed with the
    /// controller's sealing key (associated data `agentless <host>`), and the public half as
    /// an `authorized_keys` line.
    Generated {
        sealed_private: Vec<u8>,
        public: String,
    },
    /// A secret of the store (an OpenSSH private key), delivered to the proxy only while the
    /// secret's scope includes the proxy host; every delivery is audited by the store.
    Secret { name: String },
}

impl std::fmt::Debug for AgentlessKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AgentlessKey::Generated { public, .. } => f
                .debug_struct("Generated")
                .field("public", public)
                .field("sealed_private", &"<sealed>")
                .finish(),
            AgentlessKey::Secret { name } => f.debug_struct("Secret").field("name", name).finish(),
        }
    }
}

/// One agentless host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentlessRecord {
    pub host: AgentId,
    pub address: String,
    pub port: u16,
    pub user: String,
    /// The agent that logs in to it and collects.
    pub proxy: AgentId,
    pub key: AgentlessKey,
    /// The pinned host key (`type base64`); `None` until the owner confirms one.
    pub host_key: Option<String>,
    /// The key the host presented while none was pinned (or another than the pinned one).
    pub presented_key: Option<String>,
    pub collectors: AgentlessCollectors,
    pub interval_secs: u32,
    pub command_timeout_secs: u32,
    pub created_at_ms: i64,
    /// The proxy's newest outcome for this host, and when.
    pub status: Option<(i64, AgentlessOutcome)>,
}

pub struct AgentlessStore {
    hosts: sled::Tree,
}

fn encode(record: &AgentlessRecord) -> Result<Vec<u8>, StorageError> {
    postcard::to_allocvec(record).map_err(|error| StorageError::Corrupt {
        tree: "agentless",
        message: error.to_string(),
    })
}

fn decode(bytes: &[u8]) -> Result<AgentlessRecord, StorageError> {
    postcard::from_bytes(bytes).map_err(|error| StorageError::Corrupt {
        tree: "agentless",
        message: error.to_string(),
    })
}

impl AgentlessStore {
    pub fn open(db: &sled::Db) -> Result<AgentlessStore, StorageError> {
        Ok(AgentlessStore {
            hosts: db.open_tree("agentless")?,
        })
    }

    pub fn put(&self, record: &AgentlessRecord) -> Result<(), StorageError> {
        self.hosts
            .insert(record.host.as_str().as_bytes(), encode(record)?)?;
        Ok(())
    }

    pub fn get(&self, host: &AgentId) -> Result<Option<AgentlessRecord>, StorageError> {
        self.hosts
            .get(host.as_str().as_bytes())?
            .map(|bytes| decode(&bytes))
            .transpose()
    }

    pub fn all(&self) -> Result<Vec<AgentlessRecord>, StorageError> {
        self.hosts
            .iter()
            .values()
            .map(|value| decode(&value?))
            .collect()
    }

    /// The hosts `proxy` collects.
    pub fn of_proxy(&self, proxy: &AgentId) -> Result<Vec<AgentlessRecord>, StorageError> {
        let mut records = self.all()?;
        records.retain(|record| record.proxy == *proxy);
        Ok(records)
    }

    pub fn remove(&self, host: &AgentId) -> Result<bool, StorageError> {
        Ok(self.hosts.remove(host.as_str().as_bytes())?.is_some())
    }

    /// Changes a record in place (compare and swap); `None` when there is none.
    pub fn update(
        &self,
        host: &AgentId,
        change: impl Fn(&mut AgentlessRecord),
    ) -> Result<Option<AgentlessRecord>, StorageError> {
        let key = host.as_str().as_bytes();
        loop {
            let Some(current) = self.hosts.get(key)? else {
                return Ok(None);
            };
            let mut record = decode(&current)?;
            change(&mut record);
            let swapped =
                self.hosts
                    .compare_and_swap(key, Some(current), Some(encode(&record)?))?;
            if swapped.is_ok() {
                return Ok(Some(record));
            }
        }
    }
}
