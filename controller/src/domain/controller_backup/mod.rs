//! The controller's own backup and restore as operations (issue 20, docs/backup.md): a backup
//! of the running store (asked for over the admin socket, or made by the schedule in
//! `schedule.rs`), audited and counted for `/metrics`; a restore into a data directory no
//! controller runs on, audited in the restored store. The work is `crate::backup`'s.

pub mod schedule;

use super::audit::{self, AuditAction};
use super::error::DomainError;
use crate::backup::crypt::{KdfCost, Passphrase};
use crate::backup::{
    self, BackupError, BackupOptions, BackupReport, RestoreOptions, RestoreReport,
};
use crate::clock::now_ms;
use crate::config::Config;
use crate::context::Context;
use crate::domain::actor::Actor;
use std::path::{Path, PathBuf};

/// A backup error in the domain's words: a target that exists is a conflict, a wrong or short
/// passphrase invalid, the rest internal with its message.
fn domain_error(error: BackupError) -> DomainError {
    match error {
        BackupError::Exists(_) | BackupError::NotEmpty(_) | BackupError::KeyRotated => {
            DomainError::Conflict(error.to_string())
        }
        BackupError::Crypt(_) | BackupError::NeedsPassphrase | BackupError::Outside(_) => {
            DomainError::Invalid(error.to_string())
        }
        other => DomainError::Internal(other.to_string()),
    }
}

/// Backs up the controller into the archive `target` (which must not exist, given as an
/// absolute path: the daemon writes it), encrypted when a passphrase is given. Audited,
/// failures too. Note that this uses blocking I/O; ingest pauses while the database is copied.
pub fn create(
    ctx: &Context,
    actor: &Actor,
    target: &Path,
    passphrase: Option<Passphrase>,
) -> Result<BackupReport, DomainError> {
    if !target.is_absolute() {
        return Err(DomainError::Invalid(format!(
            "{} is not an absolute path",
            target.display()
        )));
    }
    let options = BackupOptions {
        data_dir: ctx.config.data_dir.clone(),
        database_dir: ctx.config.database_dir(),
        target: target.to_path_buf(),
        passphrase,
        kdf: KdfCost::DEFAULT,
        exclude: ctx.config.backup.dir.iter().cloned().collect(),
        now_ms: now_ms(),
    };
    match backup::create(&ctx.store, &options) {
        Ok(report) => {
            ctx.backup.succeeded(report.created_at_ms, report.bytes);
            let target = format!(
                "{} ({} bytes, {})",
                report.path.display(),
                report.bytes,
                if report.encrypted {
                    "encrypted"
                } else {
                    "not encrypted"
                }
            );
            audit::record(ctx, actor, AuditAction::ControllerBackup, &target)?;
            tracing::info!(path = %report.path.display(), bytes = report.bytes, n_files = report.n_files, encrypted = report.encrypted, "Backup made.");
            Ok(report)
        }
        Err(error) => {
            ctx.backup.failed(now_ms());
            let target = format!("{}: {error}", target.display());
            audit::record(ctx, actor, AuditAction::ControllerBackupFailed, &target)?;
            Err(domain_error(error))
        }
    }
}

/// Reads a passphrase file: its first line, without the line end.
pub fn read_passphrase_file(path: &Path) -> Result<Passphrase, DomainError> {
    let text = std::fs::read_to_string(path).map_err(|error| {
        DomainError::Invalid(format!(
            "reading the passphrase file {}: {error}",
            path.display()
        ))
    })?;
    passphrase(text.lines().next().unwrap_or_default())
}

/// A passphrase as typed (at least 8 characters).
pub fn passphrase(text: &str) -> Result<Passphrase, DomainError> {
    Passphrase::new(text.to_owned()).map_err(|error| DomainError::Invalid(error.to_string()))
}

/// Checks an archive through and through without writing anything; returns its manifest.
/// Note that this uses blocking I/O.
pub fn verify(
    archive: &Path,
    passphrase: Option<&Passphrase>,
) -> Result<backup::manifest::Manifest, DomainError> {
    backup::verify(archive, passphrase).map_err(domain_error)
}

/// Whether the archive needs a passphrase.
pub fn is_encrypted(archive: &Path) -> Result<bool, DomainError> {
    backup::is_encrypted(archive).map_err(domain_error)
}

/// Restores `archive` into the data directory of `config` (no controller may run on it: the
/// caller checks), then records the restore in the restored audit log. Note that this uses
/// blocking I/O.
pub fn restore(
    config: &Config,
    archive: &Path,
    passphrase: Option<Passphrase>,
    force: bool,
) -> Result<RestoreReport, DomainError> {
    let options = RestoreOptions {
        archive: archive.to_path_buf(),
        data_dir: config.data_dir.clone(),
        database_dir: config.database_dir(),
        passphrase,
        force,
        now_ms: now_ms(),
    };
    let report = backup::restore(&options).map_err(domain_error)?;
    let store = crate::storage::Store::open(
        &config.database_dir(),
        crate::storage::series::SeriesOptions::default(),
    )?;
    let target = format!(
        "{} made {} by controller {}",
        archive.display(),
        report.manifest.created_at,
        report.manifest.controller_version
    );
    audit::record_in(
        &store,
        now_ms(),
        &Actor::Cli,
        AuditAction::ControllerRestore,
        &target,
    )?;
    store.series.checkpoint()?;
    store.flush()?;
    Ok(report)
}

/// An archive path the daemon can use: relative paths are taken from `cwd`.
pub fn absolute(path: &Path, cwd: &Path) -> PathBuf {
    match path.is_absolute() {
        true => path.to_path_buf(),
        false => cwd.join(path),
    }
}
