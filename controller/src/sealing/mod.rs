//! The controller's one sealing mechanism: ChaCha20-Poly1305 (ring) under a key file in the
//! data directory, for everything kept secret at rest (registry credentials, ACME account
//! keys, the secrets store). Each caller binds a sealed record to where it lives with the
//! associated data (a registry host, a provider, a secret's name), so a record moved to
//! another row does not open.
//!
//! Formats: version 1 (`[1][nonce 12][ciphertext+tag]`, what the registry credentials' key
//! wrote before) still opens; version 2 (`[2][key id 8][nonce 12][ciphertext+tag]`) is
//! written now, and names the key that sealed it so a rotation knows what is left to do.
//!
//! The key file (`registry-credentials.key`, its historical name, 0600) must be readable by
//! the daemon's user only: a group- or world-readable key file is refused. Rotation
//! ([`begin_rotation`], then re-sealing every record, then [`finish_rotation`]) keeps the old
//! key as `registry-credentials.key.old` until every record is re-sealed, and a key with an
//! `.old` beside it opens records of either, so a crash at any point leaves every record
//! openable; running the rotation again finishes it. See `docs/secrets.md`.

use ring::aead::{self, LessSafeKey, Nonce, UnboundKey, CHACHA20_POLY1305, NONCE_LEN};
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};
use sha2::{Digest, Sha256};
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The key file's name inside the data directory.
pub const KEY_FILE: &str = "registry-credentials.key";
/// The previous key, kept while a rotation re-seals records.
pub const OLD_KEY_FILE: &str = "registry-credentials.key.old";
/// The next key, written before it replaces the current one.
const NEW_KEY_FILE: &str = "registry-credentials.key.new";
const VERSION_1: u8 = 1;
const VERSION_2: u8 = 2;
const KEY_LEN: usize = 32;
const ID_LEN: usize = 8;

/// The associated data a secret's value in the secrets store is sealed with: its name.
pub fn secret_aad(name: &str) -> Vec<u8> {
    format!("secret {name}").into_bytes()
}

/// Errors loading the key, sealing or opening.
#[derive(Debug, thiserror::Error)]
pub enum SealingError {
    /// The key file could not be read, created or replaced.
    #[error("sealing key file {path}: {source}")]
    KeyFile {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The key file does not hold a 32-byte key.
    #[error("sealing key file {0} is not a 32-byte key")]
    BadKey(PathBuf),
    /// The key file can be read by others than its owner.
    #[error(
        "sealing key file {path} is readable by group or others (mode {mode:o}); \
         run `chmod 600 {path}` and keep it owned by the controller's user"
    )]
    Exposed { path: PathBuf, mode: u32 },
    /// The sealed bytes are damaged, from another key, or bound to other associated data.
    #[error("sealed record does not open (wrong key, wrong place or corrupted)")]
    Open,
    /// The system random generator failed.
    #[error("random generator failed")]
    Random,
}

/// One key: its id, the AEAD key and the key fingerprints are computed with.
struct KeyMaterial {
    id: [u8; ID_LEN],
    aead: LessSafeKey,
    fingerprint: hmac::Key,
}

impl KeyMaterial {
    fn new(bytes: &[u8]) -> Option<KeyMaterial> {
        if bytes.len() != KEY_LEN {
            return None;
        }
        let unbound = UnboundKey::new(&CHACHA20_POLY1305, bytes).ok()?;
        let digest = Sha256::new()
            .chain_update(b"unity sealing key id\0")
            .chain_update(bytes)
            .finalize();
        let mut id = [0u8; ID_LEN];
        id.copy_from_slice(&digest[..ID_LEN]);
        // A key of its own for fingerprints, derived so that it is never the AEAD key.
        let derived = hmac::sign(
            &hmac::Key::new(hmac::HMAC_SHA256, bytes),
            b"unity secret fingerprint v1",
        );
        Some(KeyMaterial {
            id,
            aead: LessSafeKey::new(unbound),
            fingerprint: hmac::Key::new(hmac::HMAC_SHA256, derived.as_ref()),
        })
    }

    fn open(&self, aad: &[u8], nonce: &[u8], ciphertext: &[u8]) -> Option<Vec<u8>> {
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut in_out = ciphertext.to_vec();
        let plain = self
            .aead
            .open_in_place(nonce, aead::Aad::from(aad), &mut in_out)
            .ok()?;
        Some(plain.to_vec())
    }
}

/// The sealing key: the current one, and the previous one while a rotation is under way.
pub struct SealingKey {
    current: KeyMaterial,
    previous: Option<KeyMaterial>,
    random: SystemRandom,
}

impl fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SealingKey(<redacted>)")
    }
}

impl SealingKey {
    /// Loads `data_dir/registry-credentials.key` (and the `.old` key of an unfinished
    /// rotation), creating the key (0600) on first use. Refuses key files others can read.
    ///
    /// Note that this uses blocking I/O.
    pub fn open_or_create(data_dir: &Path) -> Result<SealingKey, SealingError> {
        let path = data_dir.join(KEY_FILE);
        let random = SystemRandom::new();
        let bytes = match read_key_file(&path)? {
            Some(bytes) => bytes,
            None => {
                let key = new_key(&random)?;
                match create_private(&path, &key) {
                    Ok(()) => key.to_vec(),
                    // Another process created it first: use theirs.
                    Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
                        read_key_file(&path)?.ok_or_else(|| SealingError::BadKey(path.clone()))?
                    }
                    Err(source) => return Err(SealingError::KeyFile { path, source }),
                }
            }
        };
        let current = KeyMaterial::new(&bytes).ok_or(SealingError::BadKey(path))?;
        let old_path = data_dir.join(OLD_KEY_FILE);
        let previous = match read_key_file(&old_path)? {
            Some(bytes) => Some(KeyMaterial::new(&bytes).ok_or(SealingError::BadKey(old_path))?),
            None => None,
        };
        Ok(SealingKey {
            current,
            previous,
            random,
        })
    }

    /// A key from raw bytes (tests), `None` unless exactly 32 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Option<SealingKey> {
        Some(SealingKey {
            current: KeyMaterial::new(bytes)?,
            previous: None,
            random: SystemRandom::new(),
        })
    }

    /// Seals `plaintext` bound to `aad`: version 2, key id, random nonce, ciphertext and tag.
    pub fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, SealingError> {
        let mut nonce = [0u8; NONCE_LEN];
        self.random
            .fill(&mut nonce)
            .map_err(|_| SealingError::Random)?;
        let mut in_out = plaintext.to_vec();
        self.current
            .aead
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                aead::Aad::from(aad),
                &mut in_out,
            )
            .map_err(|_| SealingError::Random)?;
        let mut sealed = Vec::with_capacity(1 + ID_LEN + NONCE_LEN + in_out.len());
        sealed.push(VERSION_2);
        sealed.extend_from_slice(&self.current.id);
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&in_out);
        Ok(sealed)
    }

    /// Opens what [`SealingKey::seal`] (or the version 1 sealing) produced for the same `aad`,
    /// with the current key or the previous one of an unfinished rotation.
    pub fn open(&self, aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, SealingError> {
        let (&version, rest) = sealed.split_first().ok_or(SealingError::Open)?;
        let keys = std::iter::once(&self.current).chain(self.previous.as_ref());
        match version {
            VERSION_1 if rest.len() >= NONCE_LEN => {
                let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
                keys.into_iter()
                    .find_map(|key| key.open(aad, nonce, ciphertext))
                    .ok_or(SealingError::Open)
            }
            VERSION_2 if rest.len() >= ID_LEN + NONCE_LEN => {
                let (id, rest) = rest.split_at(ID_LEN);
                let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
                keys.into_iter()
                    .find(|key| key.id == id)
                    .and_then(|key| key.open(aad, nonce, ciphertext))
                    .ok_or(SealingError::Open)
            }
            _ => Err(SealingError::Open),
        }
    }

    /// Whether `sealed` was sealed with the current key (nothing for a rotation to do).
    pub fn is_current(&self, sealed: &[u8]) -> bool {
        sealed.first() == Some(&VERSION_2)
            && sealed.get(1..1 + ID_LEN) == Some(&self.current.id[..])
    }

    /// Whether a previous key is loaded (a rotation has not finished).
    pub fn rotation_pending(&self) -> bool {
        self.previous.is_some()
    }

    /// A short fingerprint of `value` under `context` (a secret's name): HMAC-SHA256 with a
    /// key derived from the sealing key, 12 bytes in hex. Without the key nobody can test
    /// guesses of a weak password against it, as they could against a plain hash.
    pub fn fingerprint(&self, context: &[u8], value: &[u8]) -> String {
        let mut context_tag = hmac::Context::with_key(&self.current.fingerprint);
        context_tag.update(&(context.len() as u64).to_be_bytes());
        context_tag.update(context);
        context_tag.update(value);
        hex::encode(&context_tag.sign().as_ref()[..12])
    }
}

/// Reads a key file, `None` when missing; refuses one that others may read.
fn read_key_file(path: &Path) -> Result<Option<Vec<u8>>, SealingError> {
    let io_error = |source| SealingError::KeyFile {
        path: path.to_path_buf(),
        source,
    };
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(io_error(error)),
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .map_err(io_error)?
            .permissions()
            .mode()
            & 0o777;
        if mode & 0o077 != 0 {
            return Err(SealingError::Exposed {
                path: path.to_path_buf(),
                mode,
            });
        }
    }
    Ok(Some(bytes))
}

fn new_key(random: &SystemRandom) -> Result<[u8; KEY_LEN], SealingError> {
    let mut key = [0u8; KEY_LEN];
    random.fill(&mut key).map_err(|_| SealingError::Random)?;
    Ok(key)
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

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

/// Step one of a rotation: makes a new current key and keeps the old one as `.key.old`. When
/// an earlier rotation did not finish, completes its key swap instead of starting another, so
/// records are never sealed under a key that is not on disk. Returns `true` when a new key
/// was made. Each step is durable before the next: the new key in `.key.new`, the old one
/// copied to `.key.old`, then `.key.new` renamed over `.key`.
///
/// Note that this uses blocking I/O.
pub fn begin_rotation(data_dir: &Path) -> Result<bool, SealingError> {
    let path = data_dir.join(KEY_FILE);
    let old_path = data_dir.join(OLD_KEY_FILE);
    let new_path = data_dir.join(NEW_KEY_FILE);
    let io_error = |path: &Path| {
        let path = path.to_path_buf();
        move |source| SealingError::KeyFile { path, source }
    };
    // Make sure there is a current key to rotate away from.
    SealingKey::open_or_create(data_dir)?;
    let old_exists = read_key_file(&old_path)?.is_some();
    let new_exists = new_path.exists();
    if old_exists {
        if new_exists {
            // Crashed after keeping the old key, before the swap: finish the swap.
            std::fs::rename(&new_path, &path).map_err(io_error(&path))?;
            sync_dir(data_dir).map_err(io_error(data_dir))?;
        }
        return Ok(false);
    }
    if new_exists {
        // Crashed before the old key was kept: that new key never sealed anything.
        std::fs::remove_file(&new_path).map_err(io_error(&new_path))?;
    }
    let old = read_key_file(&path)?.ok_or_else(|| SealingError::BadKey(path.clone()))?;
    let key = new_key(&SystemRandom::new())?;
    create_private(&new_path, &key).map_err(io_error(&new_path))?;
    create_private(&old_path, &old).map_err(io_error(&old_path))?;
    sync_dir(data_dir).map_err(io_error(data_dir))?;
    std::fs::rename(&new_path, &path).map_err(io_error(&path))?;
    sync_dir(data_dir).map_err(io_error(data_dir))?;
    Ok(true)
}

/// The last step of a rotation, once every record is re-sealed and durable: forgets the old
/// key.
///
/// Note that this uses blocking I/O.
pub fn finish_rotation(data_dir: &Path) -> Result<(), SealingError> {
    let old_path = data_dir.join(OLD_KEY_FILE);
    match std::fs::remove_file(&old_path) {
        Ok(()) => {}
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(SealingError::KeyFile {
                path: old_path,
                source,
            })
        }
    }
    sync_dir(data_dir).map_err(|source| SealingError::KeyFile {
        path: data_dir.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests;
