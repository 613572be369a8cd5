//! Per-registry credentials, sealed with the controller's one sealing key
//! ([`crate::sealing::SealingKey`], `registry-credentials.key`, 0600, created on first use).
//! The store keeps only the sealed bytes; the registry host is the associated data, so a
//! sealed record moved to another registry's row does not open.
//!
//! Secrets never appear in `Debug` output or logs.

pub use crate::sealing::KEY_FILE;
use crate::sealing::{SealingError, SealingKey};
use std::fmt;
use std::path::Path;

/// A username and password or token for one registry.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    /// The password or access token.
    pub secret: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// Where the registry client gets credentials from; implemented by the controller's store
/// (which decrypts with a [`CredentialKey`]) and by plain maps in tests.
pub trait CredentialSource: Send + Sync {
    /// Credentials for a normalised registry host (`docker.io`, `ghcr.io`, `127.0.0.1:5000`).
    fn credentials(&self, registry: &str) -> Option<Credentials>;
}

impl CredentialSource for std::collections::HashMap<String, Credentials> {
    fn credentials(&self, registry: &str) -> Option<Credentials> {
        self.get(registry).cloned()
    }
}

/// What stands in a registry credential's secret when it names a secret of the store instead
/// (`\0` cannot be typed into a password field or a JSON body by accident).
pub const SECRET_REFERENCE: &str = "\0unity-secret:";

impl Credentials {
    /// The store secret these credentials name instead of holding a password, if any.
    pub fn secret_reference(&self) -> Option<&str> {
        self.secret.strip_prefix(SECRET_REFERENCE)
    }
}

/// Credentials whose secret names a secret of the store get that secret's value (opened with
/// `key`); others are returned as they are. Only for the controller's own registry requests
/// (update checks): no host receives the value, so no host scope applies. An update that an
/// agent pulls draws the secret through the store's delivery path instead (`dispatch`).
///
/// Note that this uses blocking I/O.
pub fn resolve(
    store: &crate::storage::Store,
    key: &SealingKey,
    registry: &str,
    mut credentials: Credentials,
) -> Result<Credentials, CredentialError> {
    let Some(name) = credentials.secret_reference().map(str::to_owned) else {
        return Ok(credentials);
    };
    let missing = || CredentialError::MissingSecret {
        registry: registry.to_owned(),
        name: name.clone(),
    };
    let record = store
        .secrets
        .get(&name)
        .map_err(|_| missing())?
        .ok_or_else(missing)?;
    let value = key
        .open(&crate::sealing::secret_aad(&name), &record.sealed)
        .map_err(|_| missing())?;
    credentials.secret = String::from_utf8(value).map_err(|_| missing())?;
    Ok(credentials)
}

/// Errors sealing or opening credentials.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    /// The key could not be loaded, or sealing failed.
    #[error(transparent)]
    Sealing(#[from] SealingError),
    /// The sealed bytes are damaged, from another key, or for another registry.
    #[error("sealed credentials for {0} do not open (wrong key or corrupted)")]
    Open(String),
    /// The credentials name a secret of the store that is missing, or not text.
    #[error("the credentials of {registry} name secret {name}, which is missing or not text")]
    MissingSecret { registry: String, name: String },
}

/// The key that seals credentials: the controller's [`SealingKey`] with the credentials'
/// plaintext layout (u32 BE username length, username, secret).
pub struct CredentialKey(SealingKey);

impl fmt::Debug for CredentialKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CredentialKey(<redacted>)")
    }
}

impl CredentialKey {
    /// Loads the controller's sealing key, creating it (0600) on first use.
    ///
    /// Note that this uses blocking I/O.
    pub fn open_or_create(data_dir: &Path) -> Result<CredentialKey, CredentialError> {
        Ok(CredentialKey(SealingKey::open_or_create(data_dir)?))
    }

    /// A key from raw bytes (tests), `None` unless exactly 32 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Option<CredentialKey> {
        SealingKey::from_bytes(bytes).map(CredentialKey)
    }

    /// The sealing key underneath.
    pub fn sealing(&self) -> &SealingKey {
        &self.0
    }

    /// Seals credentials for `registry` (the associated data).
    pub fn seal(
        &self,
        registry: &str,
        credentials: &Credentials,
    ) -> Result<Vec<u8>, CredentialError> {
        seal_credentials(&self.0, registry, credentials)
    }

    /// Opens what [`CredentialKey::seal`] produced for the same `registry`.
    pub fn open(&self, registry: &str, sealed: &[u8]) -> Result<Credentials, CredentialError> {
        open_credentials(&self.0, registry, sealed)
    }
}

/// Seals credentials with `key`, bound to `place` (a registry host, an ACME provider).
pub fn seal_credentials(
    key: &SealingKey,
    place: &str,
    credentials: &Credentials,
) -> Result<Vec<u8>, CredentialError> {
    let mut plain = Vec::with_capacity(4 + credentials.username.len() + credentials.secret.len());
    plain.extend_from_slice(&(credentials.username.len() as u32).to_be_bytes());
    plain.extend_from_slice(credentials.username.as_bytes());
    plain.extend_from_slice(credentials.secret.as_bytes());
    Ok(key.seal(place.as_bytes(), &plain)?)
}

/// Opens what [`seal_credentials`] produced for the same `place`.
pub fn open_credentials(
    key: &SealingKey,
    place: &str,
    sealed: &[u8],
) -> Result<Credentials, CredentialError> {
    let fail = || CredentialError::Open(place.to_string());
    let plain = key.open(place.as_bytes(), sealed).map_err(|_| fail())?;
    let (length, rest) = plain.split_first_chunk::<4>().ok_or_else(fail)?;
    let length = u32::from_be_bytes(*length) as usize;
    if rest.len() < length {
        return Err(fail());
    }
    let (username, secret) = rest.split_at(length);
    Ok(Credentials {
        username: String::from_utf8(username.to_vec()).map_err(|_| fail())?,
        secret: String::from_utf8(secret.to_vec()).map_err(|_| fail())?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn credentials() -> Credentials {
        Credentials {
            username: "alice".into(),
            secret: "s3cret-token".into(),
        }
    }

    #[test]
    fn seal_and_open() {
        let dir = tempfile::tempdir().unwrap();
        let key = CredentialKey::open_or_create(dir.path()).unwrap();
        let sealed = key.seal("ghcr.io", &credentials()).unwrap();
        assert!(
            !sealed.windows(6).any(|w| w == b"s3cret"),
            "plaintext leaked"
        );
        assert_eq!(key.open("ghcr.io", &sealed).unwrap(), credentials());
        // Bound to the registry, and tamper-evident.
        assert!(key.open("docker.io", &sealed).is_err());
        let mut damaged = sealed.clone();
        let last = damaged.len() - 1;
        damaged[last] ^= 1;
        assert!(key.open("ghcr.io", &damaged).is_err());
        assert!(key.open("ghcr.io", &[]).is_err());
        // The same key file opens it again; a new file would not.
        let again = CredentialKey::open_or_create(dir.path()).unwrap();
        assert_eq!(again.open("ghcr.io", &sealed).unwrap(), credentials());
        let other = CredentialKey::open_or_create(tempfile::tempdir().unwrap().path()).unwrap();
        assert!(other.open("ghcr.io", &sealed).is_err());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    /// Bytes the version 1 code (before the one sealing mechanism) sealed with key `[7; 32]`
    /// for `ghcr.io`: users' disks hold such records, and they must keep opening.
    const VERSION_1_SEALED: &str = "0146c608ee988de643d8ae98392764832b92fe2988281cc4a679f89e669c8960e8e874390b54449b43019a777c8c2573";

    #[test]
    fn issue_16_version_1_records_still_open() {
        let key = CredentialKey::from_bytes(&[7; 32]).unwrap();
        let sealed = hex::decode(VERSION_1_SEALED).unwrap();
        let opened = key.open("ghcr.io", &sealed).unwrap();
        assert_eq!(opened.username, "alice");
        assert_eq!(opened.secret, "hunter2-v1");
        assert!(key.open("docker.io", &sealed).is_err());
        let other = CredentialKey::from_bytes(&[8; 32]).unwrap();
        assert!(other.open("ghcr.io", &sealed).is_err());
    }

    #[test]
    fn secrets_stay_out_of_debug() {
        let text = format!("{:?}", credentials());
        assert!(text.contains("alice") && !text.contains("s3cret"), "{text}");
        let key = CredentialKey::from_bytes(&[7; 32]).unwrap();
        assert_eq!(format!("{key:?}"), "CredentialKey(<redacted>)");
        assert!(CredentialKey::from_bytes(&[7; 31]).is_none());
    }

    #[test]
    /// The store keeps only what [`CredentialKey::seal`] produced, never the secret. Reads
    /// sled's raw tree to prove it, so this test names sled.
    #[allow(clippy::disallowed_types)]
    fn stores_only_sealed_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::Config::new().temporary(true).open().unwrap();
        let store = crate::storage::credentials::CredentialStore::open(&db).unwrap();
        let key = CredentialKey::open_or_create(dir.path()).unwrap();
        let credentials = Credentials {
            username: "alice".into(),
            secret: "hunter2-secret".into(),
        };
        let record = crate::storage::credentials::CredentialRecord {
            registry: "ghcr.io".into(),
            sealed: key.seal("ghcr.io", &credentials).unwrap(),
            plain_http: false,
            updated_at_ms: 1,
        };
        store.put(&record).unwrap();
        let raw = db
            .open_tree("registry_credentials")
            .unwrap()
            .get("ghcr.io")
            .unwrap()
            .unwrap();
        assert!(!raw.windows(7).any(|w| w == b"hunter2"));
        let loaded = store.get("ghcr.io").unwrap().unwrap();
        assert_eq!(key.open("ghcr.io", &loaded.sealed).unwrap(), credentials);
        assert!(!format!("{loaded:?}").contains("hunter2"));
        assert_eq!(store.list().unwrap().len(), 1);
        assert!(store.remove("ghcr.io").unwrap());
        assert_eq!(store.get("ghcr.io").unwrap(), None);
    }
}
