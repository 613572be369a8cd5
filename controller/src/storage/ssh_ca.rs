//! The SSH CA's records: the hosts it is enabled for (which pieces, extra names, the login
//! users whose principals files it writes) with where their configuration stands, the
//! certificate serial counter (unique and increasing across host and user certificates), and
//! every user certificate signed (serial, key id, principals, validity, the certified public
//! key) with its revocation. No key material: the CA key is a file of its own (`ca::ssh`).

use super::{decode, encode, StorageError};
use serde::{Deserialize, Serialize};
use unity_shared::proto::AgentId;

/// Where a host's sshd configuration stands.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SshHostState {
    /// When the agent last answered `SshdConfigured`.
    pub configured_at_ms: Option<i64>,
    /// Validity of the installed host certificates (Unix seconds).
    pub valid_after: Option<u64>,
    pub valid_before: Option<u64>,
    /// Serials of the installed host certificates.
    pub serials: Vec<u64>,
    pub last_error: Option<String>,
    pub last_error_at_ms: Option<i64>,
    /// Failures in a row.
    pub failures: u32,
    /// Not before this time after a failure.
    pub retry_at_ms: Option<i64>,
}

/// One host the SSH CA is enabled for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SshCaHostRecord {
    pub agent_id: AgentId,
    /// Sign the host's keys and install `HostCertificate`s.
    pub host_certificates: bool,
    /// Install `TrustedUserCAKeys` (user certificates log in).
    pub trust_user_ca: bool,
    /// Host principals besides the host name (FQDNs, addresses).
    pub extra_names: Vec<String>,
    /// Login users that get a principals file (their name and `name@<agent id>`).
    pub users: Vec<String>,
    pub enabled_by: String,
    pub enabled_at_ms: i64,
    pub state: SshHostState,
}

/// Who revoked a certificate, when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SshRevocation {
    pub revoked_at_ms: i64,
    pub revoked_by: String,
}

/// A user certificate the CA signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedUserCertificate {
    pub serial: u64,
    pub key_id: String,
    /// The person it is for.
    pub for_user: String,
    pub signed_by: String,
    pub signed_at_ms: i64,
    pub principals: Vec<String>,
    /// Unix seconds.
    pub valid_after: u64,
    pub valid_before: u64,
    /// The certified public key (`ssh-ed25519 AAAA…`), what hosts refuse once revoked.
    pub public_key: String,
    pub key_fingerprint: String,
    pub revoked: Option<SshRevocation>,
}

/// The `ssh_ca_hosts`, `ssh_ca_meta` and `ssh_ca_issued` trees.
pub struct SshCaStore {
    hosts: sled::Tree,
    meta: sled::Tree,
    issued: sled::Tree,
}

const HOSTS_TREE: &str = "ssh_ca_hosts";
const ISSUED_TREE: &str = "ssh_ca_issued";
const META_TREE: &str = "ssh_ca_meta";
const SERIAL_KEY: &[u8] = b"serial";

impl SshCaStore {
    pub fn open(db: &sled::Db) -> Result<SshCaStore, StorageError> {
        Ok(SshCaStore {
            hosts: db.open_tree(HOSTS_TREE)?,
            meta: db.open_tree(META_TREE)?,
            issued: db.open_tree(ISSUED_TREE)?,
        })
    }

    /// The next certificate serial: unique and increasing, durable before it is used.
    pub fn next_serial(&self) -> Result<u64, StorageError> {
        let value = self.meta.update_and_fetch(SERIAL_KEY, |old| {
            let current = old
                .and_then(|bytes| <[u8; 8]>::try_from(bytes).ok())
                .map_or(0, u64::from_be_bytes);
            Some((current + 1).to_be_bytes().to_vec())
        })?;
        self.meta.flush()?;
        Ok(value
            .and_then(|bytes| <[u8; 8]>::try_from(bytes.as_ref()).ok())
            .map_or(1, u64::from_be_bytes))
    }

    pub fn put_host(&self, record: &SshCaHostRecord) -> Result<(), StorageError> {
        self.hosts.insert(
            record.agent_id.as_str().as_bytes(),
            encode(HOSTS_TREE, record)?,
        )?;
        self.hosts.flush()?;
        Ok(())
    }

    pub fn host(&self, agent_id: &AgentId) -> Result<Option<SshCaHostRecord>, StorageError> {
        self.hosts
            .get(agent_id.as_str().as_bytes())?
            .map(|bytes| decode(HOSTS_TREE, &bytes))
            .transpose()
    }

    pub fn hosts(&self) -> Result<Vec<SshCaHostRecord>, StorageError> {
        self.hosts
            .iter()
            .values()
            .map(|bytes| decode(HOSTS_TREE, &bytes?))
            .collect()
    }

    /// Forgets a host; `false` when it was not enabled.
    pub fn delete_host(&self, agent_id: &AgentId) -> Result<bool, StorageError> {
        let removed = self.hosts.remove(agent_id.as_str().as_bytes())?.is_some();
        self.hosts.flush()?;
        Ok(removed)
    }

    /// Records (or replaces) a signed user certificate, by serial.
    pub fn put_issued(&self, record: &IssuedUserCertificate) -> Result<(), StorageError> {
        self.issued
            .insert(record.serial.to_be_bytes(), encode(ISSUED_TREE, record)?)?;
        self.issued.flush()?;
        Ok(())
    }

    pub fn issued(&self, serial: u64) -> Result<Option<IssuedUserCertificate>, StorageError> {
        self.issued
            .get(serial.to_be_bytes())?
            .map(|bytes| decode(ISSUED_TREE, &bytes))
            .transpose()
    }

    /// Every recorded user certificate, newest (highest serial) first.
    pub fn all_issued(&self) -> Result<Vec<IssuedUserCertificate>, StorageError> {
        self.issued
            .iter()
            .rev()
            .map(|entry| decode(ISSUED_TREE, &entry?.1))
            .collect()
    }

    /// Forgets a recorded certificate (pruning after it expired).
    pub fn delete_issued(&self, serial: u64) -> Result<(), StorageError> {
        self.issued.remove(serial.to_be_bytes())?;
        self.issued.flush()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serials_increase_and_hosts_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let db = crate::storage::open_test_db(dir.path().join("db"));
        let store = SshCaStore::open(&db).unwrap();
        assert_eq!(store.next_serial().unwrap(), 1);
        assert_eq!(store.next_serial().unwrap(), 2);
        let record = SshCaHostRecord {
            agent_id: AgentId::new("nas").unwrap(),
            host_certificates: true,
            trust_user_ca: true,
            extra_names: vec!["nas.home.arpa".into()],
            users: vec!["root".into()],
            enabled_by: "cli".into(),
            enabled_at_ms: 1,
            state: SshHostState::default(),
        };
        store.put_host(&record).unwrap();
        assert_eq!(store.hosts().unwrap(), vec![record.clone()]);
        assert_eq!(store.host(&record.agent_id).unwrap(), Some(record.clone()));
        assert!(store.delete_host(&record.agent_id).unwrap());
        assert!(store.host(&record.agent_id).unwrap().is_none());
        drop(store);
        let store = SshCaStore::open(&db).unwrap();
        assert_eq!(store.next_serial().unwrap(), 3);
    }

    #[test]
    fn issued_certificates_list_newest_first() {
        let dir = tempfile::tempdir().unwrap();
        let db = crate::storage::open_test_db(dir.path().join("db"));
        let store = SshCaStore::open(&db).unwrap();
        let issued = |serial| IssuedUserCertificate {
            serial,
            key_id: format!("k{serial}"),
            for_user: "alice".into(),
            signed_by: "admin".into(),
            signed_at_ms: 1,
            principals: vec!["root".into()],
            valid_after: 0,
            valid_before: 10,
            public_key: "ssh-ed25519 AAAA".into(),
            key_fingerprint: "SHA256:x".into(),
            revoked: None,
        };
        for serial in [2, 300, 1] {
            store.put_issued(&issued(serial)).unwrap();
        }
        let serials: Vec<u64> = store
            .all_issued()
            .unwrap()
            .iter()
            .map(|c| c.serial)
            .collect();
        assert_eq!(serials, vec![300, 2, 1]);
        store.delete_issued(2).unwrap();
        assert!(store.issued(2).unwrap().is_none());
        assert_eq!(store.issued(300).unwrap(), Some(issued(300)));
    }
}
