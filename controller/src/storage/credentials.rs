//! Registry credentials, sealed: the store holds only what
//! [`crate::updates::credentials::CredentialKey::seal`] produced, one postcard record per
//! normalised registry host. It never sees a key or a plaintext secret.

use super::StorageError;
use serde::{Deserialize, Serialize};

/// One registry's sealed credentials.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialRecord {
    /// Normalised registry host (`docker.io`, `ghcr.io`, `127.0.0.1:5000`).
    pub registry: String,
    /// Version byte, nonce, ciphertext and tag.
    pub sealed: Vec<u8>,
    /// Speak plain HTTP to this registry (a LAN registry without TLS).
    pub plain_http: bool,
    /// Unix milliseconds of the last change.
    pub updated_at_ms: i64,
}

impl std::fmt::Debug for CredentialRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialRecord")
            .field("registry", &self.registry)
            .field("sealed", &format_args!("<{} bytes>", self.sealed.len()))
            .field("plain_http", &self.plain_http)
            .field("updated_at_ms", &self.updated_at_ms)
            .finish()
    }
}

/// The `registry_credentials` tree.
pub struct CredentialStore {
    tree: sled::Tree,
}

const TREE: &str = "registry_credentials";

fn decode(bytes: &[u8]) -> Result<CredentialRecord, StorageError> {
    postcard::from_bytes(bytes).map_err(|error| StorageError::Corrupt {
        tree: TREE,
        message: error.to_string(),
    })
}

impl CredentialStore {
    pub fn open(db: &sled::Db) -> Result<CredentialStore, StorageError> {
        Ok(CredentialStore {
            tree: db.open_tree(TREE)?,
        })
    }

    /// Inserts or replaces the record for `record.registry`.
    pub fn put(&self, record: &CredentialRecord) -> Result<(), StorageError> {
        let bytes = postcard::to_allocvec(record).map_err(|error| StorageError::Corrupt {
            tree: TREE,
            message: error.to_string(),
        })?;
        self.tree.insert(record.registry.as_bytes(), bytes)?;
        Ok(())
    }

    pub fn get(&self, registry: &str) -> Result<Option<CredentialRecord>, StorageError> {
        self.tree
            .get(registry.as_bytes())?
            .map(|bytes| decode(&bytes))
            .transpose()
    }

    /// Every record, ordered by registry.
    pub fn list(&self) -> Result<Vec<CredentialRecord>, StorageError> {
        self.tree
            .iter()
            .values()
            .map(|value| decode(&value?))
            .collect()
    }

    /// Removes a registry's record; `true` if there was one.
    pub fn remove(&self, registry: &str) -> Result<bool, StorageError> {
        Ok(self.tree.remove(registry.as_bytes())?.is_some())
    }
}
