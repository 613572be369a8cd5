//! Reading a backup archive: tells a plain one (gzip) from an encrypted one, opens it, and
//! walks its entries with each one's size and SHA-256 checked against the manifest at the
//! end. The walk reads the archive to its very end, so a gzip trailer or a last encrypted
//! chunk that is missing is an error too.
//!
//! Note that this uses blocking I/O.

use super::crypt::{crypt_error, Decryptor, Passphrase, MAGIC as ENCRYPTED_MAGIC};
use super::manifest::{entry_target, Manifest, ManifestError, MANIFEST_NAME};
use super::{io_error, BackupError};
use flate2::read::GzDecoder;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

/// The manifest is small; more is damage.
const MAX_MANIFEST: u64 = 64 << 20;

/// Whether the archive at `path` is encrypted (needs a passphrase).
pub fn is_encrypted(path: &Path) -> Result<bool, BackupError> {
    let mut reader = BufReader::new(File::open(path).map_err(io_error(path))?);
    let head = reader.fill_buf().map_err(io_error(path))?;
    Ok(head.starts_with(ENCRYPTED_MAGIC))
}

fn open(path: &Path, passphrase: Option<&Passphrase>) -> Result<Box<dyn Read>, BackupError> {
    let mut reader = BufReader::with_capacity(1 << 20, File::open(path).map_err(io_error(path))?);
    let head = reader.fill_buf().map_err(io_error(path))?;
    if head.starts_with(ENCRYPTED_MAGIC) {
        let passphrase = passphrase.ok_or(BackupError::NeedsPassphrase)?;
        return Ok(Box::new(Decryptor::new(reader, passphrase)?));
    }
    if head.starts_with(&[0x1f, 0x8b]) {
        return Ok(Box::new(reader));
    }
    Err(BackupError::NotABackup(path.to_path_buf()))
}

/// Turns a read error into what it says: a crypt error, or damage.
fn read_error(error: io::Error) -> BackupError {
    if let Some(crypt) = crypt_error(&error) {
        return BackupError::Damaged(crypt.to_string());
    }
    BackupError::Damaged(error.to_string())
}

/// Hashes what is read through it.
struct Hashing<R> {
    inner: R,
    hasher: Sha256,
    n: u64,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buffer)?;
        self.hasher.update(&buffer[..n]);
        self.n += n as u64;
        Ok(n)
    }
}

/// One entry as the visitor gets it.
pub struct Entry<'a> {
    /// `None` for the database dump, else the path in the data directory.
    pub target: Option<PathBuf>,
    pub mode: u32,
    pub reader: &'a mut dyn Read,
}

/// Walks every entry of the archive, calling `visit` for each before the manifest (the
/// visitor may read all, part or none of it), and checks sizes and checksums against the
/// manifest. Returns the manifest; any mismatch, damage or wrong passphrase is an error.
pub fn walk(
    path: &Path,
    passphrase: Option<&Passphrase>,
    mut visit: impl FnMut(Entry<'_>) -> Result<(), BackupError>,
) -> Result<Manifest, BackupError> {
    let mut archive = tar::Archive::new(GzDecoder::new(open(path, passphrase)?));
    let mut seen: BTreeMap<String, (u64, String)> = BTreeMap::new();
    let mut manifest = None;
    for entry in archive.entries().map_err(read_error)? {
        let mut entry = entry.map_err(read_error)?;
        let name = entry
            .path()
            .map_err(read_error)?
            .to_string_lossy()
            .into_owned();
        if manifest.is_some() {
            return Err(ManifestError::Unlisted(name).into());
        }
        if !entry.header().entry_type().is_file() {
            return Err(ManifestError::BadPath(name).into());
        }
        if name == MANIFEST_NAME {
            let mut bytes = Vec::new();
            (&mut entry)
                .take(MAX_MANIFEST)
                .read_to_end(&mut bytes)
                .map_err(read_error)?;
            manifest = Some(Manifest::parse(&bytes)?);
            continue;
        }
        let target = entry_target(&name)?;
        if seen.contains_key(&name) {
            return Err(ManifestError::Duplicate(name).into());
        }
        let mode = entry.header().mode().map_err(read_error)? & 0o777;
        let mut reader = Hashing {
            inner: &mut entry,
            hasher: Sha256::new(),
            n: 0,
        };
        visit(Entry {
            target,
            mode,
            reader: &mut reader,
        })?;
        io::copy(&mut reader, &mut io::sink()).map_err(read_error)?;
        seen.insert(name, (reader.n, hex::encode(reader.hasher.finalize())));
    }
    // Read to the end: the gzip trailer's CRC and the last encrypted chunk are checked there.
    let mut rest = archive.into_inner();
    io::copy(&mut rest, &mut io::sink()).map_err(read_error)?;
    let manifest = manifest.ok_or(ManifestError::NoManifest)?;
    manifest.check(&seen)?;
    Ok(manifest)
}

/// Reads the whole archive and checks it; writes nothing.
pub fn verify(path: &Path, passphrase: Option<&Passphrase>) -> Result<Manifest, BackupError> {
    walk(path, passphrase, |_| Ok(()))
}
