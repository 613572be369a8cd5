//! Managed SSH access: people and their public keys, grants (a person's keys may log in as
//! UNIX users on a host or a host group, until an expiry, with options), and per host the
//! mode, the drift policy, lines adopted from a hand edit, the generation of the desired keys
//! last sent and the agent's last answer. One postcard record per person, grant and host.
//!
//! The mode of a host is the owner's choice (`ssh_host_modes`, written only by
//! [`SshAccessStore::choose_mode`]) or else [`DEFAULT_MODE`]: the `mode` inside a host record is
//! filled from there on every read. Records written before the choice was kept apart carry
//! `Block`, the old default, whether chosen or not; they read as the new default unless the
//! owner chooses again.

use super::{decode, encode, StorageError};
use serde::{Deserialize, Serialize};
use unity_shared::model::ssh::{
    AuthorizedKeysMode, DriftAction, SshLine, UnixUser, UserAccessOutcome,
};
use unity_shared::proto::AgentId;

/// One public key of a person, as validated (no private material ever).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SshKeyRecord {
    /// `SHA256:…`, the key's id.
    pub fingerprint: String,
    /// `ssh-ed25519`, `ecdsa-sha2-nistp256`, `ssh-rsa`, …
    pub algorithm: String,
    /// Bits (RSA) or curve size; 256 for Ed25519.
    pub bits: u32,
    /// The key as `algorithm base64`, without its comment.
    pub public_key: String,
    pub comment: String,
    pub added_by: String,
    pub added_at_ms: i64,
}

/// A person and their keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonRecord {
    pub name: String,
    pub keys: Vec<SshKeyRecord>,
    pub added_by: String,
    pub added_at_ms: i64,
}

/// Where a grant applies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum GrantTarget {
    Host(AgentId),
    HostGroup(String),
}

/// `authorized_keys` options of a grant, as typed values.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantOptions {
    /// `from="…"` patterns or CIDRs; empty: no restriction.
    pub from: Vec<String>,
    /// `command="…"`.
    pub command: Option<String>,
    pub no_port_forwarding: bool,
    pub no_agent_forwarding: bool,
    pub no_pty: bool,
}

/// A person's keys (or one key) may log in as `users` on `target`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantRecord {
    pub id: u64,
    pub person: String,
    /// One key by fingerprint; `None`: all the person's keys.
    pub key: Option<String>,
    pub users: Vec<UnixUser>,
    pub target: GrantTarget,
    pub expires_at_ms: Option<i64>,
    pub options: GrantOptions,
    pub added_by: String,
    pub added_at_ms: i64,
}

/// Lines of a hand edit the owner adopted for one user on one host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdoptedLines {
    pub user: UnixUser,
    pub lines: Vec<SshLine>,
}

/// The agent's last answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppliedRecord {
    pub at_ms: i64,
    pub generation: u64,
    pub users: Vec<UserAccessOutcome>,
    /// The command failed as a whole (disabled on the host, unreadable state).
    pub error: Option<String>,
}

/// One host's SSH access settings and state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SshHostRecord {
    pub mode: AuthorizedKeysMode,
    pub on_drift: DriftAction,
    pub adopted: Vec<AdoptedLines>,
    /// Generation of the desired keys; grows when they change.
    pub generation: u64,
    /// Fingerprint of the desired keys of `generation`.
    pub desired_fingerprint: String,
    pub applied: Option<AppliedRecord>,
    /// The owner asked for Unity's keys to be written back over hand edits, once.
    pub restore_requested: bool,
}

/// The mode of a host whose owner chose none: `File`, which the packaged agent unit allows
/// (docs/ssh.md).
pub const DEFAULT_MODE: AuthorizedKeysMode = AuthorizedKeysMode::File;

/// The `ssh_people`, `ssh_grants`, `ssh_hosts` and `ssh_host_modes` trees.
pub struct SshAccessStore {
    db: sled::Db,
    people: sled::Tree,
    grants: sled::Tree,
    hosts: sled::Tree,
    modes: sled::Tree,
}

const PEOPLE: &str = "ssh_people";
const GRANTS: &str = "ssh_grants";
const HOSTS: &str = "ssh_hosts";
const MODES: &str = "ssh_host_modes";

fn all<T: serde::de::DeserializeOwned>(
    tree: &sled::Tree,
    name: &'static str,
) -> Result<Vec<T>, StorageError> {
    tree.iter()
        .map(|entry| {
            let (_, bytes) = entry?;
            decode(name, &bytes)
        })
        .collect()
}

impl SshAccessStore {
    pub fn open(db: &sled::Db) -> Result<SshAccessStore, StorageError> {
        Ok(SshAccessStore {
            db: db.clone(),
            people: db.open_tree(PEOPLE)?,
            grants: db.open_tree(GRANTS)?,
            hosts: db.open_tree(HOSTS)?,
            modes: db.open_tree(MODES)?,
        })
    }

    /// The mode the owner chose for a host; [`DEFAULT_MODE`] when none.
    pub fn mode(&self, agent_id: &AgentId) -> Result<AuthorizedKeysMode, StorageError> {
        Ok(self
            .modes
            .get(agent_id.as_str().as_bytes())?
            .map(|bytes| decode(MODES, &bytes))
            .transpose()?
            .unwrap_or(DEFAULT_MODE))
    }

    /// Keeps the owner's choice of mode for a host.
    pub fn choose_mode(
        &self,
        agent_id: &AgentId,
        mode: AuthorizedKeysMode,
    ) -> Result<(), StorageError> {
        self.modes
            .insert(agent_id.as_str().as_bytes(), encode(MODES, &mode)?)?;
        Ok(())
    }

    pub fn people(&self) -> Result<Vec<PersonRecord>, StorageError> {
        all(&self.people, PEOPLE)
    }

    pub fn person(&self, name: &str) -> Result<Option<PersonRecord>, StorageError> {
        self.people
            .get(name.as_bytes())?
            .map(|bytes| decode(PEOPLE, &bytes))
            .transpose()
    }

    /// Adds a person; `false` (nothing written) when the name is taken.
    pub fn insert_person(&self, record: &PersonRecord) -> Result<bool, StorageError> {
        let bytes = encode(PEOPLE, record)?;
        let swapped = self.people.compare_and_swap(
            record.name.as_bytes(),
            None as Option<&[u8]>,
            Some(bytes),
        )?;
        Ok(swapped.is_ok())
    }

    pub fn put_person(&self, record: &PersonRecord) -> Result<(), StorageError> {
        self.people
            .insert(record.name.as_bytes(), encode(PEOPLE, record)?)?;
        Ok(())
    }

    /// Removes a person and every grant of theirs; `false` when there was none.
    pub fn remove_person(&self, name: &str) -> Result<bool, StorageError> {
        for grant in self.grants()? {
            if grant.person == name {
                self.grants.remove(grant.id.to_be_bytes())?;
            }
        }
        Ok(self.people.remove(name.as_bytes())?.is_some())
    }

    pub fn grants(&self) -> Result<Vec<GrantRecord>, StorageError> {
        all(&self.grants, GRANTS)
    }

    /// Stores a new grant under a fresh id, which it returns.
    pub fn insert_grant(&self, mut record: GrantRecord) -> Result<GrantRecord, StorageError> {
        record.id = self.db.generate_id()? + 1;
        self.grants
            .insert(record.id.to_be_bytes(), encode(GRANTS, &record)?)?;
        Ok(record)
    }

    pub fn remove_grant(&self, id: u64) -> Result<Option<GrantRecord>, StorageError> {
        self.grants
            .remove(id.to_be_bytes())?
            .map(|bytes| decode(GRANTS, &bytes))
            .transpose()
    }

    pub fn hosts(&self) -> Result<Vec<(AgentId, SshHostRecord)>, StorageError> {
        self.hosts
            .iter()
            .map(|entry| {
                let (key, bytes) = entry?;
                let agent_id =
                    AgentId::new(String::from_utf8_lossy(&key).into_owned()).map_err(|error| {
                        StorageError::Corrupt {
                            tree: HOSTS,
                            message: error.to_string(),
                        }
                    })?;
                let mut record: SshHostRecord = decode(HOSTS, &bytes)?;
                record.mode = self.mode(&agent_id)?;
                Ok((agent_id, record))
            })
            .collect()
    }

    /// A host's record; the defaults when it has none.
    pub fn host(&self, agent_id: &AgentId) -> Result<SshHostRecord, StorageError> {
        let mut record: SshHostRecord = self
            .hosts
            .get(agent_id.as_str().as_bytes())?
            .map(|bytes| decode(HOSTS, &bytes))
            .transpose()?
            .unwrap_or_default();
        record.mode = self.mode(agent_id)?;
        Ok(record)
    }

    /// Changes a host's record in one step (read, `change`, write).
    pub fn update_host(
        &self,
        agent_id: &AgentId,
        change: impl Fn(&mut SshHostRecord),
    ) -> Result<SshHostRecord, StorageError> {
        let key = agent_id.as_str().as_bytes();
        let mode = self.mode(agent_id)?;
        let mut result = None;
        self.hosts.fetch_and_update(key, |old| {
            let mut record: SshHostRecord = old
                .and_then(|bytes| postcard::from_bytes(bytes).ok())
                .unwrap_or_default();
            record.mode = mode;
            change(&mut record);
            let bytes = postcard::to_allocvec(&record).ok();
            result = Some(record);
            bytes
        })?;
        result.ok_or_else(|| StorageError::Corrupt {
            tree: HOSTS,
            message: "host record not updated".into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue_16_people_grants_and_hosts_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let db = crate::storage::open_test_db(dir.path());
        let store = SshAccessStore::open(&db).unwrap();
        let person = PersonRecord {
            name: "alice".into(),
            keys: vec![],
            added_by: "admin".into(),
            added_at_ms: 1,
        };
        assert!(store.insert_person(&person).unwrap());
        assert!(!store.insert_person(&person).unwrap());
        let grant = store
            .insert_grant(GrantRecord {
                id: 0,
                person: "alice".into(),
                key: None,
                users: vec![UnixUser::new("root").unwrap()],
                target: GrantTarget::HostGroup("all".into()),
                expires_at_ms: None,
                options: GrantOptions::default(),
                added_by: "admin".into(),
                added_at_ms: 2,
            })
            .unwrap();
        assert!(grant.id > 0);
        assert_eq!(store.grants().unwrap(), vec![grant.clone()]);
        let host = AgentId::new("nas").unwrap();
        let record = store
            .update_host(&host, |record| record.generation += 1)
            .unwrap();
        assert_eq!(record.generation, 1);
        assert_eq!(store.host(&host).unwrap().generation, 1);
        assert!(store.remove_person("alice").unwrap());
        assert!(store.grants().unwrap().is_empty());
    }

    #[test]
    fn issue_16_hosts_without_a_chosen_mode_get_file_and_a_choice_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let db = crate::storage::open_test_db(dir.path());
        let store = SshAccessStore::open(&db).unwrap();
        let (old, chosen, new) = (
            AgentId::new("old").unwrap(),
            AgentId::new("chosen").unwrap(),
            AgentId::new("new").unwrap(),
        );
        // A record as the previous version wrote it: `Block`, the old default.
        let record = SshHostRecord {
            generation: 3,
            ..SshHostRecord::default()
        };
        assert_eq!(record.mode, AuthorizedKeysMode::Block);
        for id in [&old, &chosen] {
            store
                .hosts
                .insert(id.as_str().as_bytes(), encode(HOSTS, &record).unwrap())
                .unwrap();
        }
        store
            .choose_mode(&chosen, AuthorizedKeysMode::Block)
            .unwrap();
        assert_eq!(store.host(&old).unwrap().mode, AuthorizedKeysMode::File);
        assert_eq!(store.host(&old).unwrap().generation, 3);
        assert_eq!(store.host(&new).unwrap().mode, AuthorizedKeysMode::File);
        assert_eq!(store.host(&chosen).unwrap().mode, AuthorizedKeysMode::Block);
        let updated = store.update_host(&chosen, |r| r.generation += 1).unwrap();
        assert_eq!(updated.mode, AuthorizedKeysMode::Block);
        let all: Vec<_> = store
            .hosts()
            .unwrap()
            .into_iter()
            .map(|(id, record)| (id.as_str().to_owned(), record.mode))
            .collect();
        assert_eq!(
            all,
            [
                ("chosen".to_owned(), AuthorizedKeysMode::Block),
                ("old".to_owned(), AuthorizedKeysMode::File)
            ]
        );
    }
}
