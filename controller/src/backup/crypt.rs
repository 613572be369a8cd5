//! Passphrase encryption of a backup archive: Argon2id derives the key, ChaCha20-Poly1305
//! (ring, as the sealing key) seals the archive in chunks of 1 MiB, in the STREAM
//! construction (Hoang, Reyhanitabar, Rogaway, Vizár 2015): each chunk's nonce is a random
//! prefix, the chunk's number and a flag for the last one, so chunks cannot be reordered,
//! dropped or the archive cut short without the opening failing.
//!
//! Layout: the header `UNITYENC`, version (1), Argon2id memory KiB, passes, lanes (u32 LE
//! each), salt (16), nonce prefix (7), key check (16); then chunks of 1 MiB + 16-byte tag,
//! the last one shorter (possibly empty). Every chunk's associated data is the whole header,
//! so a changed header fails too. The key check (from the same Argon2 output as the key)
//! tells a wrong passphrase apart from a damaged archive.
//!
//! Works over any `Read`/`Write`; no file system, no clock.

use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, CHACHA20_POLY1305};
use sha2::{Digest, Sha256};
use std::fmt;
use std::io::{self, Read, Write};

/// The first bytes of an encrypted archive.
pub const MAGIC: &[u8; 8] = b"UNITYENC";
const VERSION: u8 = 1;
const SALT_LEN: usize = 16;
const PREFIX_LEN: usize = 7;
const CHECK_LEN: usize = 16;
const TAG_LEN: usize = 16;
const HEADER_LEN: usize = 8 + 1 + 12 + SALT_LEN + PREFIX_LEN + CHECK_LEN;
/// Plaintext bytes per chunk.
const CHUNK: usize = 1 << 20;

/// A passphrase; never printed.
#[derive(Clone)]
pub struct Passphrase(String);

impl Passphrase {
    /// A passphrase of at least 8 characters (a trailing newline of a file is not part of
    /// it; the caller strips it).
    pub fn new(text: String) -> Result<Passphrase, CryptError> {
        if text.chars().count() < 8 {
            return Err(CryptError::WeakPassphrase);
        }
        Ok(Passphrase(text))
    }

    /// The text, to send it to the daemon over the admin socket.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Passphrase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Passphrase(<redacted>)")
    }
}

/// Argon2id's cost. [`KdfCost::DEFAULT`] is 64 MiB, 3 passes, 1 lane (RFC 9106's second
/// recommended option); archives say what they used, within [`KdfCost::MAX_MEMORY_KIB`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KdfCost {
    pub memory_kib: u32,
    pub passes: u32,
    pub lanes: u32,
}

impl KdfCost {
    pub const DEFAULT: KdfCost = KdfCost {
        memory_kib: 64 * 1024,
        passes: 3,
        lanes: 1,
    };
    /// A header asking for more is refused (1 GiB; guards the allocation).
    pub const MAX_MEMORY_KIB: u32 = 1024 * 1024;
    const MAX_PASSES: u32 = 64;
    const MAX_LANES: u32 = 16;
}

/// Why an archive cannot be encrypted or opened.
#[derive(Debug, thiserror::Error)]
pub enum CryptError {
    /// The passphrase is too short to protect CA keys.
    #[error("the passphrase must have at least 8 characters")]
    WeakPassphrase,
    /// The passphrase does not open this archive.
    #[error("wrong passphrase for this backup")]
    WrongPassphrase,
    /// The header is not one this version writes.
    #[error("the encrypted backup's header is damaged or from a newer version ({0})")]
    BadHeader(String),
    /// A chunk does not open: changed, reordered or cut.
    #[error("the encrypted backup is damaged or was tampered with (chunk {chunk} does not open)")]
    Damaged { chunk: u32 },
    /// The archive ends before its last chunk.
    #[error("the encrypted backup is cut short (after chunk {chunk})")]
    Truncated { chunk: u32 },
    /// Too many chunks for the nonce counter (4 PiB).
    #[error("the archive is too large to encrypt")]
    TooLarge,
    /// Argon2 refused the parameters.
    #[error("key derivation: {0}")]
    Kdf(String),
    /// The system's random source failed.
    #[error("no random bytes from the system")]
    Random,
}

impl From<CryptError> for io::Error {
    fn from(error: CryptError) -> io::Error {
        io::Error::other(error)
    }
}

/// The [`CryptError`] inside an I/O error from [`Decryptor`] or [`Encryptor`], if any.
pub fn crypt_error(error: &io::Error) -> Option<&CryptError> {
    error.get_ref().and_then(|inner| inner.downcast_ref())
}

struct Keys {
    key: LessSafeKey,
    check: [u8; CHECK_LEN],
}

fn derive(passphrase: &Passphrase, salt: &[u8], cost: KdfCost) -> Result<Keys, CryptError> {
    let params = argon2::Params::new(cost.memory_kib, cost.passes, cost.lanes, Some(64))
        .map_err(|error| CryptError::Kdf(error.to_string()))?;
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let mut output = [0u8; 64];
    argon
        .hash_password_into(passphrase.0.as_bytes(), salt, &mut output)
        .map_err(|error| CryptError::Kdf(error.to_string()))?;
    let key = UnboundKey::new(&CHACHA20_POLY1305, &output[..32])
        .map_err(|_| CryptError::Kdf("key length".into()))?;
    let digest = Sha256::new()
        .chain_update(b"unity backup key check")
        .chain_update(&output[32..])
        .finalize();
    let mut check = [0; CHECK_LEN];
    check.copy_from_slice(&digest[..CHECK_LEN]);
    Ok(Keys {
        key: LessSafeKey::new(key),
        check,
    })
}

fn nonce(prefix: &[u8; PREFIX_LEN], counter: u32, last: bool) -> Nonce {
    let mut bytes = [0u8; 12];
    bytes[..PREFIX_LEN].copy_from_slice(prefix);
    bytes[PREFIX_LEN..11].copy_from_slice(&counter.to_be_bytes());
    bytes[11] = u8::from(last);
    Nonce::assume_unique_for_key(bytes)
}

/// Encrypts what is written to it into `inner`; call [`Encryptor::finish`] at the end (a
/// dropped encryptor leaves an archive that is refused as cut short).
pub struct Encryptor<W: Write> {
    inner: W,
    key: LessSafeKey,
    header: Vec<u8>,
    prefix: [u8; PREFIX_LEN],
    counter: u32,
    buffer: Vec<u8>,
}

impl<W: Write> Encryptor<W> {
    /// Derives the key (slow by design) and writes the header.
    pub fn new(mut inner: W, passphrase: &Passphrase, cost: KdfCost) -> Result<Self, io::Error> {
        use ring::rand::{SecureRandom, SystemRandom};
        let random = SystemRandom::new();
        let mut salt = [0u8; SALT_LEN];
        let mut prefix = [0u8; PREFIX_LEN];
        random.fill(&mut salt).map_err(|_| CryptError::Random)?;
        random.fill(&mut prefix).map_err(|_| CryptError::Random)?;
        let keys = derive(passphrase, &salt, cost)?;
        let mut header = Vec::with_capacity(HEADER_LEN);
        header.extend_from_slice(MAGIC);
        header.push(VERSION);
        for value in [cost.memory_kib, cost.passes, cost.lanes] {
            header.extend_from_slice(&value.to_le_bytes());
        }
        header.extend_from_slice(&salt);
        header.extend_from_slice(&prefix);
        header.extend_from_slice(&keys.check);
        inner.write_all(&header)?;
        Ok(Encryptor {
            inner,
            key: keys.key,
            header,
            prefix,
            counter: 0,
            buffer: Vec::with_capacity(CHUNK + TAG_LEN),
        })
    }

    fn seal_buffer(&mut self, last: bool) -> io::Result<()> {
        let aad = Aad::from(self.header.as_slice());
        let nonce = nonce(&self.prefix, self.counter, last);
        self.key
            .seal_in_place_append_tag(nonce, aad, &mut self.buffer)
            .map_err(|_| CryptError::TooLarge)?;
        self.inner.write_all(&self.buffer)?;
        self.buffer.clear();
        self.counter = self.counter.checked_add(1).ok_or(CryptError::TooLarge)?;
        Ok(())
    }

    /// Seals the last chunk and returns the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        // The last chunk is always shorter than a full one (empty when the archive ends on
        // a chunk boundary): that is how the reader knows it is the last.
        if self.buffer.len() == CHUNK {
            self.seal_buffer(false)?;
        }
        self.seal_buffer(true)?;
        self.inner.flush()?;
        Ok(self.inner)
    }
}

impl<W: Write> Write for Encryptor<W> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        if self.buffer.len() == CHUNK {
            self.seal_buffer(false)?;
        }
        let n = bytes.len().min(CHUNK - self.buffer.len());
        self.buffer.extend_from_slice(&bytes[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Opens an archive written by [`Encryptor`], chunk by chunk: what it yields has been
/// authenticated, and the end comes only after the last chunk opened.
pub struct Decryptor<R: Read> {
    inner: R,
    key: LessSafeKey,
    header: Vec<u8>,
    prefix: [u8; PREFIX_LEN],
    counter: u32,
    buffer: Vec<u8>,
    position: usize,
    done: bool,
}

impl<R: Read> Decryptor<R> {
    /// Reads the header and derives the key (slow by design); a wrong passphrase is
    /// [`CryptError::WrongPassphrase`].
    pub fn new(mut inner: R, passphrase: &Passphrase) -> Result<Self, CryptError> {
        let mut header = vec![0u8; HEADER_LEN];
        read_full(&mut inner, &mut header)
            .map_err(|error| CryptError::BadHeader(error.to_string()))
            .and_then(|n| match n == HEADER_LEN {
                true => Ok(()),
                false => Err(CryptError::BadHeader("cut short".into())),
            })?;
        if &header[..8] != MAGIC {
            return Err(CryptError::BadHeader(
                "not an encrypted Unity backup".into(),
            ));
        }
        if header[8] != VERSION {
            return Err(CryptError::BadHeader(format!("version {}", header[8])));
        }
        let field = |at: usize| {
            u32::from_le_bytes([header[at], header[at + 1], header[at + 2], header[at + 3]])
        };
        let cost = KdfCost {
            memory_kib: field(9),
            passes: field(13),
            lanes: field(17),
        };
        if cost.memory_kib > KdfCost::MAX_MEMORY_KIB
            || cost.passes > KdfCost::MAX_PASSES
            || cost.lanes > KdfCost::MAX_LANES
        {
            return Err(CryptError::BadHeader(format!(
                "key derivation cost {cost:?}"
            )));
        }
        let salt = &header[21..21 + SALT_LEN];
        let mut prefix = [0u8; PREFIX_LEN];
        prefix.copy_from_slice(&header[21 + SALT_LEN..21 + SALT_LEN + PREFIX_LEN]);
        let keys = derive(passphrase, salt, cost)?;
        if keys.check[..] != header[HEADER_LEN - CHECK_LEN..] {
            return Err(CryptError::WrongPassphrase);
        }
        Ok(Decryptor {
            inner,
            key: keys.key,
            header,
            prefix,
            counter: 0,
            buffer: Vec::with_capacity(CHUNK + TAG_LEN),
            position: 0,
            done: false,
        })
    }

    fn next_chunk(&mut self) -> io::Result<()> {
        self.buffer.resize(CHUNK + TAG_LEN, 0);
        let n = read_full(&mut self.inner, &mut self.buffer)?;
        self.buffer.truncate(n);
        let last = n < CHUNK + TAG_LEN;
        if n < TAG_LEN {
            return Err(CryptError::Truncated {
                chunk: self.counter,
            }
            .into());
        }
        let aad = Aad::from(self.header.as_slice());
        let nonce = nonce(&self.prefix, self.counter, last);
        let opened = self
            .key
            .open_in_place(nonce, aad, &mut self.buffer)
            .map_err(|_| CryptError::Damaged {
                chunk: self.counter,
            })?
            .len();
        self.buffer.truncate(opened);
        self.position = 0;
        self.done = last;
        self.counter = self.counter.checked_add(1).ok_or(CryptError::TooLarge)?;
        Ok(())
    }
}

impl<R: Read> Read for Decryptor<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.position == self.buffer.len() {
            if self.done {
                return Ok(0);
            }
            self.next_chunk()?;
        }
        let n = out.len().min(self.buffer.len() - self.position);
        out[..n].copy_from_slice(&self.buffer[self.position..self.position + n]);
        self.position += n;
        Ok(n)
    }
}

/// Reads until `buffer` is full or the input ends; returns the bytes read.
fn read_full(input: &mut impl Read, buffer: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buffer.len() {
        match input.read(&mut buffer[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHEAP: KdfCost = KdfCost {
        memory_kib: 64,
        passes: 1,
        lanes: 1,
    };

    fn passphrase(text: &str) -> Passphrase {
        Passphrase::new(text.into()).unwrap()
    }

    fn encrypt(plain: &[u8]) -> Vec<u8> {
        let mut encryptor =
            Encryptor::new(Vec::new(), &passphrase("correct horse"), CHEAP).unwrap();
        encryptor.write_all(plain).unwrap();
        encryptor.finish().unwrap()
    }

    fn decrypt(sealed: &[u8], text: &str) -> Result<Vec<u8>, String> {
        let mut decryptor =
            Decryptor::new(sealed, &passphrase(text)).map_err(|error| error.to_string())?;
        let mut plain = Vec::new();
        decryptor
            .read_to_end(&mut plain)
            .map_err(|error| crypt_error(&error).map_or(error.to_string(), |e| e.to_string()))?;
        Ok(plain)
    }

    fn sample(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 % 251) as u8).collect()
    }

    #[test]
    fn round_trips_at_every_chunk_boundary() {
        for len in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK, 2 * CHUNK + 5] {
            let plain = sample(len);
            let sealed = encrypt(&plain);
            assert_eq!(decrypt(&sealed, "correct horse").unwrap(), plain, "{len}");
        }
    }

    #[test]
    fn a_wrong_passphrase_is_told_apart_from_damage() {
        let sealed = encrypt(&sample(100));
        let error = decrypt(&sealed, "wrong horse!").unwrap_err();
        assert_eq!(error, "wrong passphrase for this backup");
    }

    #[test]
    fn tampering_anywhere_fails() {
        let sealed = encrypt(&sample(CHUNK + 100));
        for at in [
            0,
            8,
            9,
            12,
            30,
            HEADER_LEN - 1,
            HEADER_LEN,
            HEADER_LEN + CHUNK + 3,
            sealed.len() - 1,
        ] {
            let mut changed = sealed.clone();
            changed[at] ^= 1;
            assert!(decrypt(&changed, "correct horse").is_err(), "byte {at}");
        }
    }

    #[test]
    fn an_archive_cut_short_fails_even_at_a_chunk_boundary() {
        let sealed = encrypt(&sample(2 * CHUNK + 10));
        let boundary = HEADER_LEN + 2 * (CHUNK + TAG_LEN);
        for cut in [
            3,
            HEADER_LEN,
            HEADER_LEN + 10,
            HEADER_LEN + CHUNK + TAG_LEN,
            boundary,
            sealed.len() - 1,
        ] {
            let error = decrypt(&sealed[..cut], "correct horse").unwrap_err();
            assert!(
                error.contains("cut short") || error.contains("damaged"),
                "cut at {cut}: {error}"
            );
        }
    }

    #[test]
    fn short_passphrases_and_greedy_headers_are_refused() {
        assert!(matches!(
            Passphrase::new("short".into()),
            Err(CryptError::WeakPassphrase)
        ));
        let mut sealed = encrypt(b"x");
        sealed[9..13].copy_from_slice(&u32::MAX.to_le_bytes());
        let error = decrypt(&sealed, "correct horse").unwrap_err();
        assert!(error.contains("key derivation cost"), "{error}");
        assert!(format!("{:?}", passphrase("correct horse")).contains("redacted"));
    }
}
