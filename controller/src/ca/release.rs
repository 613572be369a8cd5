//! The release key: an Ed25519 key that signs the agent builds the controller hands out
//! (docs/agent-updates.md). Kept beside the CA the way its key is: `<ca_dir>/release/`
//! (0700) holds `release_ed25519.pk8` (ring's PKCS#8, 0600, written atomically) and
//! `retired.json`, the public halves of earlier keys with until when each still verifies.
//!
//! A rotation first records the current public key as retired (valid for the grace period),
//! then replaces the key file; a crash between the two leaves the current key also listed as
//! retired, which [`ReleaseKeyring::public_keys`] ignores. The private key never leaves this
//! directory; agents get the public halves ([`ReleaseKeyring::public_keys`]) over their
//! mTLS session.

use super::{io_error, write_private, CaError};
use ring::rand::SystemRandom;
use ring::signature::{Ed25519KeyPair, KeyPair as _};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use unity_shared::model::agent_build::{
    signed_payload, AgentBuildManifest, ReleaseKey, SignedManifest,
};

const KEY_FILE: &str = "release_ed25519.pk8";
const RETIRED_FILE: &str = "retired.json";

/// The key id: the first 8 bytes of the public key's SHA-256, in hex.
pub fn key_id(public_key: &[u8]) -> String {
    hex::encode(&Sha256::digest(public_key)[..8])
}

/// An earlier key's public half, as `retired.json` keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct RetiredKey {
    key_id: String,
    /// Hex of the raw 32-byte public key.
    public_key: String,
    valid_until_ms: i64,
}

/// The release key and the retired keys' public halves.
pub struct ReleaseKeyring {
    dir: PathBuf,
    key: Ed25519KeyPair,
    retired: Vec<RetiredKey>,
}

/// The release key's directory under the CA's.
pub fn dir(ca_dir: &Path) -> PathBuf {
    ca_dir.join("release")
}

fn random_error(_: ring::error::Unspecified) -> CaError {
    CaError::Random
}

fn new_key_file(dir: &Path) -> Result<Ed25519KeyPair, CaError> {
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).map_err(random_error)?;
    write_private(&dir.join(KEY_FILE), pkcs8.as_ref())?;
    Ed25519KeyPair::from_pkcs8(pkcs8.as_ref())
        .map_err(|error| CaError::BadCsr(format!("release key: {error}")))
}

impl ReleaseKeyring {
    /// Loads the keyring from `dir`, making the key on first use; `true` when it was made now.
    /// Note that this uses blocking I/O.
    pub fn load_or_create(dir: &Path) -> Result<(ReleaseKeyring, bool), CaError> {
        std::fs::create_dir_all(dir).map_err(io_error(dir))?;
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                .map_err(io_error(dir))?;
        }
        let key_path = dir.join(KEY_FILE);
        let (key, created) = match std::fs::read(&key_path) {
            Ok(bytes) => {
                let key = Ed25519KeyPair::from_pkcs8(&bytes).map_err(|error| {
                    CaError::BadCsr(format!(
                        "{}: not an Ed25519 key: {error}",
                        key_path.display()
                    ))
                })?;
                (key, false)
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                (new_key_file(dir)?, true)
            }
            Err(error) => return Err(io_error(&key_path)(error)),
        };
        let retired = read_retired(dir)?;
        Ok((
            ReleaseKeyring {
                dir: dir.to_owned(),
                key,
                retired,
            },
            created,
        ))
    }

    /// Loads the keyring from `dir`, or `None` when no key was made yet. Note that this uses
    /// blocking I/O.
    pub fn load(dir: &Path) -> Result<Option<ReleaseKeyring>, CaError> {
        if !dir.join(KEY_FILE).exists() {
            return Ok(None);
        }
        ReleaseKeyring::load_or_create(dir).map(|(keyring, _)| Some(keyring))
    }

    /// The current key's id.
    pub fn key_id(&self) -> String {
        key_id(self.key.public_key().as_ref())
    }

    /// Every key an agent should accept at `now_ms`: the current one, then the retired ones
    /// still in their grace period.
    pub fn public_keys(&self, now_ms: i64) -> Vec<ReleaseKey> {
        let current = self.key_id();
        let mut keys = vec![ReleaseKey {
            key_id: current.clone(),
            public_key: self.key.public_key().as_ref().to_vec(),
            valid_until_ms: None,
        }];
        for retired in &self.retired {
            if retired.key_id == current || retired.valid_until_ms <= now_ms {
                continue;
            }
            let Ok(public_key) = hex::decode(&retired.public_key) else {
                continue;
            };
            keys.push(ReleaseKey {
                key_id: retired.key_id.clone(),
                public_key,
                valid_until_ms: Some(retired.valid_until_ms),
            });
        }
        keys
    }

    /// Signs `manifest` with the current key.
    pub fn sign(&self, manifest: &AgentBuildManifest) -> Result<SignedManifest, CaError> {
        let bytes = postcard::to_allocvec(manifest)
            .map_err(|error| CaError::BadCsr(format!("encoding a manifest: {error}")))?;
        let signature = self.key.sign(&signed_payload(&bytes));
        Ok(SignedManifest {
            manifest: bytes,
            key_id: self.key_id(),
            signature: signature.as_ref().to_vec(),
        })
    }

    /// Replaces the key with a new one; the old public half keeps verifying until
    /// `valid_until_ms`, and retired keys past their time are dropped. Note that this uses
    /// blocking I/O.
    pub fn rotate(&mut self, now_ms: i64, valid_until_ms: i64) -> Result<(), CaError> {
        let old = RetiredKey {
            key_id: self.key_id(),
            public_key: hex::encode(self.key.public_key().as_ref()),
            valid_until_ms,
        };
        let mut retired: Vec<RetiredKey> = self
            .retired
            .iter()
            .filter(|key| key.valid_until_ms > now_ms && key.key_id != old.key_id)
            .cloned()
            .collect();
        retired.push(old);
        write_retired(&self.dir, &retired)?;
        self.retired = retired;
        self.key = new_key_file(&self.dir)?;
        Ok(())
    }
}

fn read_retired(dir: &Path) -> Result<Vec<RetiredKey>, CaError> {
    let path = dir.join(RETIRED_FILE);
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map_err(|error| CaError::BadCsr(format!("{}: {error}", path.display()))),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(error) => Err(io_error(&path)(error)),
    }
}

fn write_retired(dir: &Path, retired: &[RetiredKey]) -> Result<(), CaError> {
    let text = serde_json::to_vec_pretty(retired)
        .map_err(|error| CaError::BadCsr(format!("encoding the retired keys: {error}")))?;
    write_private(&dir.join(RETIRED_FILE), &text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::signature::{UnparsedPublicKey, ED25519};
    use unity_shared::model::agent_build::{BuildArch, BuildKind};

    fn manifest() -> AgentBuildManifest {
        AgentBuildManifest {
            version: "0.2.0".into(),
            arch: BuildArch::X86_64,
            kind: BuildKind::Binary,
            size: 3,
            sha256: [1; 32],
            added_at_ms: 5,
        }
    }

    fn verifies(key: &ReleaseKey, signed: &SignedManifest) -> bool {
        UnparsedPublicKey::new(&ED25519, &key.public_key)
            .verify(&signed_payload(&signed.manifest), &signed.signature)
            .is_ok()
    }

    #[test]
    fn the_key_is_made_once_private_and_signs_manifests() {
        let temp = tempfile::tempdir().unwrap();
        let dir = dir(temp.path());
        let (keyring, created) = ReleaseKeyring::load_or_create(&dir).unwrap();
        assert!(created);
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(dir.join(KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let dir_mode = std::fs::metadata(&dir).unwrap().permissions().mode();
        assert_eq!(dir_mode & 0o777, 0o700);
        let (again, created) = ReleaseKeyring::load_or_create(&dir).unwrap();
        assert!(!created);
        assert_eq!(again.key_id(), keyring.key_id());

        let signed = keyring.sign(&manifest()).unwrap();
        let keys = again.public_keys(0);
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].key_id, signed.key_id);
        assert!(verifies(&keys[0], &signed));
        // One flipped bit of the manifest and it no longer verifies.
        let mut forged = signed.clone();
        forged.manifest[0] ^= 1;
        assert!(!verifies(&keys[0], &forged));
        let back: AgentBuildManifest = postcard::from_bytes(&signed.manifest).unwrap();
        assert_eq!(back, manifest());
    }

    #[test]
    fn a_rotated_key_verifies_until_its_grace_period_ends() {
        let temp = tempfile::tempdir().unwrap();
        let dir = dir(temp.path());
        let (mut keyring, _) = ReleaseKeyring::load_or_create(&dir).unwrap();
        let old_signed = keyring.sign(&manifest()).unwrap();
        let old_id = keyring.key_id();
        keyring.rotate(1_000, 10_000).unwrap();
        assert_ne!(keyring.key_id(), old_id);
        let new_signed = keyring.sign(&manifest()).unwrap();

        // Reloaded from disk: the new key and the old public half, until 10 000.
        let (reloaded, created) = ReleaseKeyring::load_or_create(&dir).unwrap();
        assert!(!created);
        let keys = reloaded.public_keys(5_000);
        assert_eq!(keys.len(), 2);
        assert_eq!(keys[0].key_id, new_signed.key_id);
        assert!(verifies(&keys[0], &new_signed));
        assert_eq!(keys[1].key_id, old_id);
        assert_eq!(keys[1].valid_until_ms, Some(10_000));
        assert!(verifies(&keys[1], &old_signed));
        assert!(!verifies(&keys[1], &new_signed));
        // After the grace period only the current key is offered.
        assert_eq!(reloaded.public_keys(10_000).len(), 1);

        // A second rotation after the grace period drops the expired key from the file.
        let mut reloaded = reloaded;
        reloaded.rotate(20_000, 30_000).unwrap();
        let keys = reloaded.public_keys(20_001);
        assert_eq!(keys.len(), 2);
        assert!(keys.iter().all(|key| key.key_id != old_id));
    }

    #[test]
    fn a_damaged_key_file_is_an_error_not_a_new_key() {
        let temp = tempfile::tempdir().unwrap();
        let dir = dir(temp.path());
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(KEY_FILE), b"not a key").unwrap();
        assert!(ReleaseKeyring::load_or_create(&dir).is_err());
        assert_eq!(std::fs::read(dir.join(KEY_FILE)).unwrap(), b"not a key");
    }
}
