//! Per-registry credentials, sealed with ChaCha20-Poly1305 under a key file in the controller's
//! data directory (`registry-credentials.key`, 0600, created on first use). The store keeps
//! only the sealed bytes; the registry host is the associated data, so a sealed record moved
//! to another registry's row does not open.
//!
//! Secrets never appear in `Debug` output or logs.

use ring::aead::{self, LessSafeKey, Nonce, UnboundKey, CHACHA20_POLY1305, NONCE_LEN};
use ring::rand::{SecureRandom, SystemRandom};
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The key file's name inside the data directory.
pub const KEY_FILE: &str = "registry-credentials.key";
const FORMAT_VERSION: u8 = 1;
const KEY_LEN: usize = 32;

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

/// Errors sealing or opening credentials.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    /// The key file could not be read or created.
    #[error("credential key file {path}: {source}")]
    KeyFile {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The key file exists but does not hold a 32-byte key.
    #[error("credential key file {0} is not a 32-byte key")]
    BadKey(PathBuf),
    /// The sealed bytes are damaged, from another key, or for another registry.
    #[error("sealed credentials for {0} do not open (wrong key or corrupted)")]
    Open(String),
    /// The system random generator failed.
    #[error("random generator failed")]
    Random,
}

/// The key that seals credentials.
pub struct CredentialKey {
    key: LessSafeKey,
    random: SystemRandom,
}

impl fmt::Debug for CredentialKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CredentialKey(<redacted>)")
    }
}

impl CredentialKey {
    /// Loads `data_dir/registry-credentials.key`, creating it (0600) on first use.
    ///
    /// Note that this uses blocking I/O.
    pub fn open_or_create(data_dir: &Path) -> Result<CredentialKey, CredentialError> {
        let path = data_dir.join(KEY_FILE);
        let io_error = |source| CredentialError::KeyFile {
            path: path.clone(),
            source,
        };
        let random = SystemRandom::new();
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                let mut key = [0u8; KEY_LEN];
                random.fill(&mut key).map_err(|_| CredentialError::Random)?;
                match create_private(&path, &key) {
                    Ok(()) => key.to_vec(),
                    // Another process created it first: use theirs.
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        std::fs::read(&path).map_err(io_error)?
                    }
                    Err(e) => return Err(io_error(e)),
                }
            }
            Err(error) => return Err(io_error(error)),
        };
        CredentialKey::from_bytes(&bytes).ok_or(CredentialError::BadKey(path))
    }

    /// A key from raw bytes (tests), `None` unless exactly 32 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Option<CredentialKey> {
        let unbound = UnboundKey::new(&CHACHA20_POLY1305, bytes).ok()?;
        Some(CredentialKey {
            key: LessSafeKey::new(unbound),
            random: SystemRandom::new(),
        })
    }

    /// Seals credentials for `registry`: version byte, random nonce, ciphertext and tag.
    pub fn seal(
        &self,
        registry: &str,
        credentials: &Credentials,
    ) -> Result<Vec<u8>, CredentialError> {
        let mut nonce = [0u8; NONCE_LEN];
        self.random
            .fill(&mut nonce)
            .map_err(|_| CredentialError::Random)?;
        // Plaintext: u32 BE username length, username, secret.
        let mut in_out =
            Vec::with_capacity(8 + credentials.username.len() + credentials.secret.len());
        in_out.extend_from_slice(&(credentials.username.len() as u32).to_be_bytes());
        in_out.extend_from_slice(credentials.username.as_bytes());
        in_out.extend_from_slice(credentials.secret.as_bytes());
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                aead::Aad::from(registry.as_bytes()),
                &mut in_out,
            )
            .map_err(|_| CredentialError::Random)?;
        let mut sealed = Vec::with_capacity(1 + NONCE_LEN + in_out.len());
        sealed.push(FORMAT_VERSION);
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&in_out);
        Ok(sealed)
    }

    /// Opens what [`CredentialKey::seal`] produced for the same `registry`.
    pub fn open(&self, registry: &str, sealed: &[u8]) -> Result<Credentials, CredentialError> {
        let fail = || CredentialError::Open(registry.to_string());
        let (&version, rest) = sealed.split_first().ok_or_else(fail)?;
        if version != FORMAT_VERSION || rest.len() < NONCE_LEN {
            return Err(fail());
        }
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| fail())?;
        let mut in_out = ciphertext.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, aead::Aad::from(registry.as_bytes()), &mut in_out)
            .map_err(|_| fail())?;
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
}

fn create_private(path: &Path, key: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(key)?;
    file.sync_all()
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
