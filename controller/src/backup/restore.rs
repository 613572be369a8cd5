//! Restoring a backup into a data directory: the whole archive is read and checked against
//! its manifest first (nothing written), then extracted into a temporary directory beside the
//! target (the database rebuilt from its dump, files with their modes), checked again as it
//! goes, fsynced, and renamed into place. A data directory that already holds something is
//! refused unless forced, and then moved aside (`<dir>.before-restore-<time>`), never
//! deleted. Any failure removes the temporary directory and leaves the target as it was.
//!
//! The caller makes sure no controller runs on the target (the CLI asks the admin socket).
//!
//! Note that this uses blocking I/O.

use super::crypt::Passphrase;
use super::manifest::Manifest;
use super::read::{self, Entry};
use super::{io_error, BackupError};
use crate::storage::backup::restore_database;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// What to restore where.
#[derive(Debug, Clone)]
pub struct RestoreOptions {
    pub archive: PathBuf,
    pub data_dir: PathBuf,
    /// Where the database goes (inside `data_dir`, as the configuration says).
    pub database_dir: PathBuf,
    pub passphrase: Option<Passphrase>,
    /// Replace a data directory that holds something (it is moved aside).
    pub force: bool,
    pub now_ms: i64,
}

/// What a restore did.
#[derive(Debug, Clone)]
pub struct RestoreReport {
    pub manifest: Manifest,
    /// Where the previous contents of the data directory went, if there were any.
    pub moved_aside: Option<PathBuf>,
    pub n_records: u64,
}

/// Whether `dir` exists and holds anything.
pub fn holds_something(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|mut entries| entries.next().is_some())
}

/// Restores the archive; see the module documentation.
pub fn restore(options: &RestoreOptions) -> Result<RestoreReport, BackupError> {
    let data_dir = &options.data_dir;
    if holds_something(data_dir) && !options.force {
        return Err(BackupError::NotEmpty(data_dir.clone()));
    }
    let database = options
        .database_dir
        .strip_prefix(data_dir)
        .map_err(|_| BackupError::Outside(options.database_dir.clone()))?
        .to_path_buf();
    read::verify(&options.archive, options.passphrase.as_ref())?;

    let name = data_dir
        .file_name()
        .ok_or_else(|| BackupError::Outside(data_dir.clone()))?
        .to_string_lossy()
        .into_owned();
    let parent = match data_dir.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).map_err(io_error(&parent))?;
    let temporary = parent.join(format!(".{name}.restore-{}", std::process::id()));
    if temporary.exists() {
        std::fs::remove_dir_all(&temporary).map_err(io_error(&temporary))?;
    }
    make_dir(&temporary)?;
    let result = extract(options, &temporary, &database).and_then(|(manifest, n_records)| {
        let moved_aside = swap_in(data_dir, &temporary, &parent, &name, options.now_ms)?;
        Ok(RestoreReport {
            manifest,
            moved_aside,
            n_records,
        })
    });
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&temporary);
    }
    result
}

fn make_dir(path: &Path) -> Result<(), BackupError> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
        .map_err(io_error(path))
}

/// The second pass: every entry written under `into`, checked again against the manifest.
fn extract(
    options: &RestoreOptions,
    into: &Path,
    database: &Path,
) -> Result<(Manifest, u64), BackupError> {
    let mut n_records = 0;
    let mut written_dirs = vec![into.to_path_buf()];
    let manifest = read::walk(&options.archive, options.passphrase.as_ref(), |entry| {
        let Entry {
            target,
            mode,
            reader,
        } = entry;
        match target {
            None => {
                let db_dir = into.join(database);
                (_, n_records) = restore_database(&db_dir, reader)?;
                written_dirs.push(db_dir);
            }
            Some(relative) => {
                let path = into.join(&relative);
                if let Some(dir) = path.parent() {
                    make_dir(dir)?;
                    written_dirs.push(dir.to_path_buf());
                }
                let mut file = OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(mode & 0o777)
                    .open(&path)
                    .map_err(io_error(&path))?;
                std::io::copy(reader, &mut file).map_err(|error| {
                    BackupError::Damaged(format!("{}: {error}", relative.display()))
                })?;
                file.flush().map_err(io_error(&path))?;
                file.sync_all().map_err(io_error(&path))?;
            }
        }
        Ok(())
    })?;
    written_dirs.sort();
    written_dirs.dedup();
    for dir in written_dirs {
        sync_dir(&dir)?;
    }
    Ok((manifest, n_records))
}

/// Moves an existing data directory aside and the restored one into its place.
fn swap_in(
    data_dir: &Path,
    temporary: &Path,
    parent: &Path,
    name: &str,
    now_ms: i64,
) -> Result<Option<PathBuf>, BackupError> {
    let mut moved_aside = None;
    if data_dir.exists() {
        let aside = parent.join(format!("{name}.before-restore-{}", now_ms / 1000));
        std::fs::rename(data_dir, &aside).map_err(io_error(data_dir))?;
        moved_aside = Some(aside);
    }
    std::fs::rename(temporary, data_dir).map_err(io_error(data_dir))?;
    sync_dir(parent)?;
    Ok(moved_aside)
}

fn sync_dir(dir: &Path) -> Result<(), BackupError> {
    File::open(dir)
        .and_then(|dir| dir.sync_all())
        .map_err(io_error(dir))
}
