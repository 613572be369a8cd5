//! Making a backup: the store's consistent snapshot ([`Store::snapshot`]) plus every other
//! file of the data directory (CA keys, the sealing key, the services and SSH CAs, ACME
//! accounts, the QUIC reset key), written as one gzip-compressed tar, optionally encrypted
//! ([`super::crypt`]), with the manifest as its last entry. The archive is written to a
//! temporary file beside the target, fsynced and renamed into place, so a target is either
//! a whole backup or absent; a failure removes the temporary file and touches no older
//! backup.
//!
//! Note that this uses blocking I/O.

use super::crypt::{Encryptor, KdfCost, Passphrase};
use super::manifest::{self, Manifest, ManifestFile, DATABASE_DUMP_NAME, MANIFEST_NAME};
use super::{io_error, BackupError};
use crate::storage::Store;
use flate2::write::GzEncoder;
use sha2::{Digest, Sha256};
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The staging directories' name prefix inside the data directory (never backed up).
pub const STAGING_PREFIX: &str = ".backup-staging-";

/// What to back up and where.
#[derive(Debug, Clone)]
pub struct BackupOptions {
    pub data_dir: PathBuf,
    /// sled's directory (backed up as a dump, not as files).
    pub database_dir: PathBuf,
    /// The archive to write; must not exist.
    pub target: PathBuf,
    pub passphrase: Option<Passphrase>,
    pub kdf: KdfCost,
    /// Paths inside the data directory left out (a backup directory kept there).
    pub exclude: Vec<PathBuf>,
    pub now_ms: i64,
}

/// What was written.
#[derive(Debug, Clone)]
pub struct BackupReport {
    pub path: PathBuf,
    pub bytes: u64,
    pub n_files: usize,
    pub n_records: u64,
    pub encrypted: bool,
    pub created_at_ms: i64,
}

/// One file to put in the archive: where its bytes are now, how many, with what mode.
struct Staged {
    name: String,
    path: PathBuf,
    len: u64,
    mode: u32,
}

/// Removes a directory or file when dropped (the staging directory, a temporary archive).
struct Cleanup(Option<PathBuf>);

impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            let _ = match path.is_dir() {
                true => std::fs::remove_dir_all(&path),
                false => std::fs::remove_file(&path),
            };
        }
    }
}

/// Makes a backup of the controller whose store is `store`.
pub fn create(store: &Store, options: &BackupOptions) -> Result<BackupReport, BackupError> {
    if options.target.exists() {
        return Err(BackupError::Exists(options.target.clone()));
    }
    let staging = options.data_dir.join(format!(
        "{STAGING_PREFIX}{}-{}",
        std::process::id(),
        options.now_ms
    ));
    std::fs::create_dir(&staging).map_err(io_error(&staging))?;
    let _staging_cleanup = Cleanup(Some(staging.clone()));
    let keys_before = sealing_keys(&options.data_dir)?;
    let snapshot = store.snapshot(&staging)?;
    if sealing_keys(&options.data_dir)? != keys_before {
        return Err(BackupError::KeyRotated);
    }
    let mut staged = vec![Staged {
        name: DATABASE_DUMP_NAME.to_owned(),
        len: file_len(&snapshot.database_dump)?,
        path: snapshot.database_dump.clone(),
        mode: 0o600,
    }];
    for file in &snapshot.files {
        let relative = relative_to(&options.data_dir, &file.source)?;
        staged.push(Staged {
            name: entry_name(&relative)?,
            path: file.staged.clone(),
            len: file.len,
            mode: 0o600,
        });
    }
    let mut skip: Vec<PathBuf> = vec![options.database_dir.clone(), staging.clone()];
    skip.extend(snapshot.series_dirs.iter().cloned());
    skip.extend(options.exclude.iter().cloned());
    let others = staging.join("other");
    std::fs::create_dir(&others).map_err(io_error(&others))?;
    stage_others(options, &options.data_dir, &skip, &others, &mut staged)?;
    let report = write_archive(options, &staged)?;
    Ok(BackupReport {
        n_records: snapshot.n_records,
        ..report
    })
}

/// The sealing key files' bytes: read before and after the snapshot, so a key rotated
/// meanwhile (records sealed with a key the archive would not hold) fails the backup.
fn sealing_keys(data_dir: &Path) -> Result<Vec<Option<Vec<u8>>>, BackupError> {
    [crate::sealing::KEY_FILE, crate::sealing::OLD_KEY_FILE]
        .iter()
        .map(|name| {
            let path = data_dir.join(name);
            match std::fs::read(&path) {
                Ok(bytes) => Ok(Some(bytes)),
                Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
                Err(error) => Err(io_error(&path)(error)),
            }
        })
        .collect()
}

/// Copies the data directory's other regular files into `into` (they are small: keys,
/// certificates, account files), so each is read once, whole, at one moment.
fn stage_others(
    options: &BackupOptions,
    dir: &Path,
    skip: &[PathBuf],
    into: &Path,
    staged: &mut Vec<Staged>,
) -> Result<(), BackupError> {
    let entries = std::fs::read_dir(dir).map_err(io_error(dir))?;
    let mut paths: Vec<PathBuf> = entries
        .map(|entry| entry.map(|entry| entry.path()))
        .collect::<Result<_, _>>()
        .map_err(io_error(dir))?;
    paths.sort();
    for path in paths {
        let is_staging = path
            .file_name()
            .and_then(|name| name.to_str())
            .is_some_and(|name| name.starts_with(STAGING_PREFIX));
        if is_staging || skip.iter().any(|skipped| path.starts_with(skipped)) {
            continue;
        }
        let meta = std::fs::symlink_metadata(&path).map_err(io_error(&path))?;
        if meta.is_dir() {
            stage_others(options, &path, skip, into, staged)?;
        } else if meta.is_file() {
            let copy = into.join(staged.len().to_string());
            let len = std::fs::copy(&path, &copy).map_err(io_error(&path))?;
            let relative = relative_to(&options.data_dir, &path)?;
            staged.push(Staged {
                name: entry_name(&relative)?,
                path: copy,
                len,
                mode: meta.permissions().mode() & 0o777,
            });
        }
        // Sockets (admin.sock), symbolic links and devices are not state.
    }
    Ok(())
}

fn relative_to(data_dir: &Path, path: &Path) -> Result<PathBuf, BackupError> {
    path.strip_prefix(data_dir)
        .map(Path::to_path_buf)
        .map_err(|_| BackupError::Outside(path.to_path_buf()))
}

fn entry_name(relative: &Path) -> Result<String, BackupError> {
    manifest::data_entry_name(relative).ok_or_else(|| BackupError::Outside(relative.to_path_buf()))
}

fn file_len(path: &Path) -> Result<u64, BackupError> {
    Ok(std::fs::metadata(path).map_err(io_error(path))?.len())
}

/// Where the archive's bytes go: the file, directly or through the encryption.
enum Sink {
    Plain(BufWriter<File>),
    Sealed(Box<Encryptor<BufWriter<File>>>),
}

impl Write for Sink {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        match self {
            Sink::Plain(out) => out.write(bytes),
            Sink::Sealed(out) => out.write(bytes),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Sink::Plain(out) => out.flush(),
            Sink::Sealed(out) => out.flush(),
        }
    }
}

impl Sink {
    fn finish(self) -> io::Result<File> {
        let out = match self {
            Sink::Plain(out) => out,
            Sink::Sealed(out) => (*out).finish()?,
        };
        out.into_inner().map_err(|error| error.into_error())
    }
}

/// Counts and hashes what passes through.
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

fn write_archive(options: &BackupOptions, staged: &[Staged]) -> Result<BackupReport, BackupError> {
    let target = &options.target;
    let parent = match target.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let file_name = target
        .file_name()
        .ok_or_else(|| BackupError::Outside(target.clone()))?
        .to_string_lossy();
    let temporary = parent.join(format!(".{file_name}.tmp-{}", std::process::id()));
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&temporary)
        .map_err(io_error(&temporary))?;
    let mut cleanup = Cleanup(Some(temporary.clone()));
    let out = BufWriter::with_capacity(1 << 20, file);
    let sink = match &options.passphrase {
        Some(passphrase) => Sink::Sealed(Box::new(
            Encryptor::new(out, passphrase, options.kdf).map_err(io_error(&temporary))?,
        )),
        None => Sink::Plain(out),
    };
    let mut tar = tar::Builder::new(GzEncoder::new(sink, flate2::Compression::new(3)));
    let mtime = u64::try_from(options.now_ms / 1000).unwrap_or(0);
    let mut files = Vec::with_capacity(staged.len());
    for entry in staged {
        let source = File::open(&entry.path).map_err(io_error(&entry.path))?;
        let mut reader = Hashing {
            inner: source.take(entry.len),
            hasher: Sha256::new(),
            n: 0,
        };
        let mut header = header(entry.len, entry.mode, mtime);
        tar.append_data(&mut header, &entry.name, &mut reader)
            .map_err(io_error(&temporary))?;
        if reader.n != entry.len {
            return Err(BackupError::Changed(entry.name.clone()));
        }
        files.push(ManifestFile {
            path: entry.name.clone(),
            size: entry.len,
            mode: entry.mode,
            sha256: hex::encode(reader.hasher.finalize()),
        });
    }
    let created_at = jiff::Timestamp::from_millisecond(options.now_ms)
        .map(|time| time.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default();
    let manifest = Manifest {
        format: manifest::FORMAT_VERSION,
        controller_version: env!("CARGO_PKG_VERSION").to_owned(),
        created_at,
        created_at_ms: options.now_ms,
        encrypted: options.passphrase.is_some(),
        files,
    };
    let manifest_bytes = serde_json::to_vec_pretty(&manifest)
        .map_err(|error| BackupError::Damaged(error.to_string()))?;
    let mut header = header(manifest_bytes.len() as u64, 0o600, mtime);
    tar.append_data(&mut header, MANIFEST_NAME, manifest_bytes.as_slice())
        .map_err(io_error(&temporary))?;
    let file = tar
        .into_inner()
        .and_then(|gzip| gzip.finish())
        .and_then(Sink::finish)
        .map_err(io_error(&temporary))?;
    file.sync_all().map_err(io_error(&temporary))?;
    let bytes = file.metadata().map_err(io_error(&temporary))?.len();
    drop(file);
    if target.exists() {
        return Err(BackupError::Exists(target.clone()));
    }
    std::fs::rename(&temporary, target).map_err(io_error(target))?;
    cleanup.0 = None;
    File::open(&parent)
        .and_then(|dir| dir.sync_all())
        .map_err(io_error(&parent))?;
    Ok(BackupReport {
        path: target.clone(),
        bytes,
        n_files: manifest.files.len(),
        n_records: 0,
        encrypted: manifest.encrypted,
        created_at_ms: options.now_ms,
    })
}

fn header(len: u64, mode: u32, mtime: u64) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(tar::EntryType::Regular);
    header.set_size(len);
    header.set_mode(mode);
    header.set_mtime(mtime);
    header
}
