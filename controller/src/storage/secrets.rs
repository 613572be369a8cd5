//! The secrets store: one postcard record per secret name in the `secrets` tree, holding only
//! the sealed value (what [`crate::sealing::SealingKey::seal`] produced, bound to the name)
//! and metadata: kind, keyed fingerprint, version, times, scope and the last delivery. It
//! never sees a key or a plaintext value.

use super::{decode, encode, StorageError};
use serde::{Deserialize, Serialize};
use unity_shared::proto::AgentId;

const TREE: &str = "secrets";

crate::storage::words::words! {
    /// What a secret is, for the operator's eyes (every kind is bytes to the store).
    pub enum SecretKind ("secret kind") {
        Password => "password",
        Token => "token",
        ApiKey => "api-key",
        /// A file's contents (a key file, a certificate bundle, a config snippet).
        File => "file",
        /// An OpenSSH private key.
        SshKey => "ssh-key",
    }
}

/// One secret: sealed value and metadata.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretRecord {
    pub name: String,
    pub kind: SecretKind,
    /// Version byte, key id, nonce, ciphertext and tag; the name is the associated data.
    pub sealed: Vec<u8>,
    /// Keyed fingerprint of the value (see `SealingKey::fingerprint`), made when it was set.
    pub fingerprint: String,
    /// 1 when created, one more with each new value.
    pub version: u64,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    /// Hosts that may receive it.
    pub scope_hosts: Vec<AgentId>,
    /// Host groups whose hosts may receive it.
    pub scope_groups: Vec<String>,
    /// When it was last delivered to an agent (0: never), and to which.
    pub last_delivered_ms: i64,
    pub last_delivered_to: Option<AgentId>,
}

impl std::fmt::Debug for SecretRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretRecord")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("sealed", &format_args!("<{} bytes>", self.sealed.len()))
            .field("fingerprint", &self.fingerprint)
            .field("version", &self.version)
            .field("scope_hosts", &self.scope_hosts)
            .field("scope_groups", &self.scope_groups)
            .finish_non_exhaustive()
    }
}

/// The `secrets` tree.
pub struct SecretStore {
    tree: sled::Tree,
}

impl SecretStore {
    pub fn open(db: &sled::Db) -> Result<SecretStore, StorageError> {
        Ok(SecretStore {
            tree: db.open_tree(TREE)?,
        })
    }

    /// Inserts or replaces the record for `record.name`.
    pub fn put(&self, record: &SecretRecord) -> Result<(), StorageError> {
        self.tree
            .insert(record.name.as_bytes(), encode(TREE, record)?)?;
        Ok(())
    }

    pub fn get(&self, name: &str) -> Result<Option<SecretRecord>, StorageError> {
        self.tree
            .get(name.as_bytes())?
            .map(|bytes| decode(TREE, &bytes))
            .transpose()
    }

    /// Changes a record in place, retrying when another writer changed it meanwhile (so a
    /// delivery's bookkeeping never undoes a new value). `None` when there is no such record.
    pub fn update(
        &self,
        name: &str,
        mut change: impl FnMut(&mut SecretRecord),
    ) -> Result<Option<SecretRecord>, StorageError> {
        loop {
            let Some(old) = self.tree.get(name.as_bytes())? else {
                return Ok(None);
            };
            let mut record: SecretRecord = decode(TREE, &old)?;
            change(&mut record);
            let new = encode(TREE, &record)?;
            if self
                .tree
                .compare_and_swap(name.as_bytes(), Some(&old), Some(new))?
                .is_ok()
            {
                return Ok(Some(record));
            }
        }
    }

    /// Every record, ordered by name.
    pub fn list(&self) -> Result<Vec<SecretRecord>, StorageError> {
        self.tree
            .iter()
            .values()
            .map(|value| decode(TREE, &value?))
            .collect()
    }

    /// Removes a secret; the removed record, if there was one.
    pub fn remove(&self, name: &str) -> Result<Option<SecretRecord>, StorageError> {
        self.tree
            .remove(name.as_bytes())?
            .map(|bytes| decode(TREE, &bytes))
            .transpose()
    }
}
