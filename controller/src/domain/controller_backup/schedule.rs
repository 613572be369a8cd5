//! Scheduled backups (`[backup]`, off unless `dir` is set): every `interval` after the newest
//! archive in `dir` (at once when there is none), a backup named after its time
//! (`backup::rotation`), then the oldest archives beyond `keep` are deleted. A failed backup
//! deletes nothing, is logged as an error, audited, counted in `/metrics`
//! (`unity_backup_failures_total`, `unity_backup_last_failure_timestamp_seconds`), and is
//! tried again after an hour (or the interval, if shorter).

use super::{create, read_passphrase_file};
use crate::backup::rotation::{archive_name, archive_time_ms, next_due_ms, to_delete};
use crate::backup::BackupReport;
use crate::clock::now_ms;
use crate::context::Context;
use crate::domain::actor::Actor;
use crate::domain::error::DomainError;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

const RETRY_MS: i64 = 3_600_000;

/// Starts the schedule when `[backup] dir` is set.
pub fn spawn(ctx: Arc<Context>) -> Option<tokio::task::JoinHandle<()>> {
    let dir = ctx.config.backup.dir.clone()?;
    Some(tokio::spawn(run(ctx, dir)))
}

async fn run(ctx: Arc<Context>, dir: PathBuf) {
    let interval_ms = i64::try_from(ctx.config.backup.interval.as_millis()).unwrap_or(i64::MAX);
    let mut failed_at_ms = None;
    loop {
        let listing = {
            let dir = dir.clone();
            tokio::task::spawn_blocking(move || newest_archive(&dir)).await
        };
        let newest = match listing {
            Ok(newest) => newest,
            Err(error) => {
                tracing::error!(%error, "The backup schedule's listing task failed.");
                None
            }
        };
        if let Some((at_ms, bytes)) = newest {
            ctx.backup.found(at_ms, bytes);
        }
        let now = now_ms();
        let due = next_due_ms(
            newest.map(|(at, _)| at),
            failed_at_ms,
            interval_ms,
            RETRY_MS,
            now,
        );
        if due > now {
            let wait = u64::try_from(due - now).unwrap_or(0);
            tokio::time::sleep(Duration::from_millis(wait)).await;
        }
        let task_ctx = ctx.clone();
        let task_dir = dir.clone();
        let outcome = tokio::task::spawn_blocking(move || once(&task_ctx, &task_dir)).await;
        match outcome {
            Ok(Ok(report)) => {
                failed_at_ms = None;
                tracing::info!(path = %report.path.display(), bytes = report.bytes, "Scheduled backup made.");
            }
            Ok(Err(error)) => {
                failed_at_ms = Some(now_ms());
                tracing::error!(dir = %dir.display(), %error, "Scheduled backup failed; the previous archives are kept. Retrying within the hour.");
            }
            Err(error) => {
                failed_at_ms = Some(now_ms());
                ctx.backup.failed(now_ms());
                tracing::error!(%error, "Scheduled backup task failed.");
            }
        }
    }
}

/// One scheduled backup, then the rotation. Note that this uses blocking I/O.
fn once(ctx: &Context, dir: &Path) -> Result<BackupReport, DomainError> {
    let config = &ctx.config.backup;
    let prepared = std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|error| DomainError::Internal(format!("creating {}: {error}", dir.display())));
    let passphrase = prepared.and_then(|()| {
        config
            .passphrase_file
            .as_deref()
            .map(read_passphrase_file)
            .transpose()
    });
    let passphrase = match passphrase {
        Ok(passphrase) => passphrase,
        Err(error) => {
            // Counted and audited like a failed backup: nothing was written.
            ctx.backup.failed(now_ms());
            let target = format!("{}: {error}", dir.display());
            crate::domain::audit::record(
                ctx,
                &Actor::Controller("backup"),
                crate::domain::audit::AuditAction::ControllerBackupFailed,
                &target,
            )?;
            return Err(error);
        }
    };
    let target = dir.join(archive_name(now_ms()));
    let report = create(ctx, &Actor::Controller("backup"), &target, passphrase)?;
    for name in to_delete(&archive_names(dir), config.keep) {
        let path = dir.join(&name);
        match std::fs::remove_file(&path) {
            Ok(()) => tracing::info!(path = %path.display(), "Old backup deleted (rotation)."),
            Err(error) => {
                tracing::warn!(path = %path.display(), %error, "Could not delete an old backup.")
            }
        }
    }
    Ok(report)
}

/// The names of the files in `dir` (nothing when it cannot be read).
fn archive_names(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|entry| entry.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// The newest scheduled archive in `dir`: its time and size.
fn newest_archive(dir: &Path) -> Option<(i64, u64)> {
    let name = archive_names(dir)
        .into_iter()
        .filter_map(|name| archive_time_ms(&name).map(|at| (at, name)))
        .max()?;
    let bytes = std::fs::metadata(dir.join(&name.1)).map_or(0, |meta| meta.len());
    Some((name.0, bytes))
}
