//! Putting containers back. [`undo`] and [`finish`] end a journaled swap one way or the other
//! (the old container back under its name, or the parked old one removed); [`undo_compose`] puts
//! a compose service back on its old image. A failing swap or compose update calls them, and so
//! does [`recover`] at agent start: it finishes every operation that reached `Validated` and
//! undoes every other unfinished one, so a container is never left missing.
//!
//! A step is journaled *after* it happened, so after a crash the engine may be one step ahead of
//! the journal; [`undo`] and [`finish`] therefore look at the engine (container ids), not only at
//! the step. Above the journal, below the operations that use it.

use bollard::models::{RestartPolicy, RestartPolicyNameEnum};
use unity_shared::model::update::{CommandResult, Outcome};

use super::backup;
use super::compose::ComposeService;
use super::compose_cli::{Cli, ComposeError};
use super::data_rollback::{DataRollback, Settings};
use super::engine::{Engine, EngineError};
use super::journal::{Journal, JournalError, Record, Step};

/// Why an interrupted operation could not be recovered.
#[derive(Debug, thiserror::Error)]
pub enum RecoveryError {
    /// The journal could not be read or written.
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// The engine (or the compose CLI) could not finish or undo the operation; it stays
    /// unfinished until the next attempt.
    #[error(transparent)]
    Engine(#[from] EngineError),
}

/// Puts the old container back: removes whatever else holds its name (the new container),
/// renames it back from its parked name, starts it if it ran before, and checks that it is
/// there (and running). Safe to repeat.
pub async fn undo<E: Engine>(engine: &E, record: &Record) -> Result<(), EngineError> {
    let current = engine.inspect_container(&record.container).await?;
    let current_is_old = current
        .as_ref()
        .is_some_and(|current| current.id == record.old_id);
    if let (Some(current), false) = (&current, current_is_old) {
        let id = current
            .id
            .clone()
            .unwrap_or_else(|| record.container.clone());
        engine.remove(&id).await?;
    }
    if engine
        .inspect_container(&record.parked_name)
        .await?
        .is_some()
    {
        engine
            .rename(&record.parked_name, &record.container)
            .await?;
    }
    if let Some(policy) = record.old_restart_policy.clone().filter(is_restarting) {
        engine.set_restart_policy(&record.container, policy).await?;
    }
    let Some(old) = engine.inspect_container(&record.container).await? else {
        return Err(EngineError::Socket {
            operation: format!("restore {}", record.container),
            message: "the old container is gone".to_owned(),
        });
    };
    let running = old
        .state
        .as_ref()
        .and_then(|state| state.running)
        .unwrap_or(false);
    if record.old_was_running && !running {
        engine.start(&record.container).await?;
        let state = engine
            .inspect_container(&record.container)
            .await?
            .and_then(|old| old.state);
        if !state.and_then(|state| state.running).unwrap_or(false) {
            return Err(EngineError::Socket {
                operation: format!("restore {}", record.container),
                message: "the old container does not stay running".to_owned(),
            });
        }
    }
    Ok(())
}

/// Whether a restart policy brings a container back by itself.
pub fn is_restarting(policy: &RestartPolicy) -> bool {
    !matches!(
        policy.name,
        None | Some(RestartPolicyNameEnum::NO | RestartPolicyNameEnum::EMPTY)
    )
}

/// Completes a validated swap: removes the parked old container. Safe to repeat.
pub async fn finish<E: Engine>(engine: &E, record: &Record) -> Result<(), EngineError> {
    engine.remove(&record.parked_name).await
}

/// Puts a compose service back: tags the old image as the reference (a reference by digest,
/// from Unity's override, needs no tag), puts the override's earlier text back, runs `up -d
/// --no-deps <service>`, and checks that `container` runs the old image. When `data` is to be
/// put back, the old container is created without starting (`up --no-start`), its files go
/// back, then it starts and takes its dump: the same data step as the swap's rollback. Safe
/// to repeat.
pub async fn undo_compose<E: Engine>(
    engine: &E,
    cli: &Cli,
    container: &str,
    service: &ComposeService,
    data: &mut DataRollback<'_>,
    say: &mut (dyn FnMut(&str) + Send),
) -> Result<(), EngineError> {
    let failed = |message: String| EngineError::Socket {
        operation: format!("restore {container} through {}", cli.name()),
        message,
    };
    if !service.image_ref.contains('@') {
        engine
            .tag_image(&service.old_image_id, &service.image_ref)
            .await?;
    }
    restore_override(service).map_err(|error| failed(format!("compose override: {error}")))?;
    if data.source().is_some() {
        cli.run(service, &cli.create_args(service))
            .await
            .map_err(|error| failed(error.to_string()))?;
        data.before(engine, Some(container), container, say).await;
        engine.start(container).await?;
    } else {
        cli.run(service, &cli.up_args(service))
            .await
            .map_err(|error| failed(error.to_string()))?;
    }
    let Some(now) = engine.inspect_container(container).await? else {
        return Err(failed("the container is gone".to_owned()));
    };
    let running = now.state.and_then(|state| state.running).unwrap_or(false);
    if now.image.as_deref() != Some(service.old_image_id.as_str()) || !running {
        return Err(failed(format!(
            "it does not run {} (running: {running})",
            service.old_image_id
        )));
    }
    data.after(engine, container, say).await;
    Ok(())
}

/// Puts Unity's compose override for the service back as it was before the update (its
/// earlier text, or no file when there was none). Nothing when the update wrote none. Note
/// that this uses blocking file I/O (one small file, fsynced).
pub fn restore_override(service: &ComposeService) -> std::io::Result<()> {
    let Some(file) = &service.override_file else {
        return Ok(());
    };
    match &service.override_before {
        Some(text) => crate::fsutil::replace_file(file, text.as_bytes(), 0o644),
        None => match std::fs::remove_file(file) {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(error),
            _ => Ok(()),
        },
    }
}

/// Recovery of an interrupted compose update (at agent start): from `Validated` on it is done;
/// before, the old image is tagged back (and Unity's override put back), and the service
/// recreated, with its data, if it may have changed.
async fn recover_compose<E: Engine>(
    engine: &E,
    record: &Record,
    service: &ComposeService,
    data: &mut DataRollback<'_>,
) -> Result<(Outcome, String, Step), EngineError> {
    if matches!(record.step, Step::Validated | Step::OldRemoved) {
        return Ok((
            Outcome::Succeeded,
            "the agent restarted after the new container was validated".to_owned(),
            Step::OldRemoved,
        ));
    }
    let no_cli = |error: ComposeError| EngineError::Socket {
        operation: format!("restore {}", record.container),
        message: error.to_string(),
    };
    if record.step < Step::BackedUp {
        if !service.image_ref.contains('@') {
            engine
                .tag_image(&service.old_image_id, &service.image_ref)
                .await?;
        }
        restore_override(service).map_err(|error| EngineError::Socket {
            operation: format!("restore {}", record.container),
            message: format!("compose override: {error}"),
        })?;
        return Ok((
            Outcome::Refused,
            "the agent restarted before the container was changed; nothing was changed".to_owned(),
            Step::RolledBack,
        ));
    }
    let socket = engine
        .socket_path()
        .ok_or_else(|| no_cli(ComposeError::NoSocket))?;
    let cli = Cli::detect(&socket).await.map_err(no_cli)?;
    let mut say = |line: &str| tracing::info!(container = %record.container, line, "Recovery.");
    undo_compose(engine, &cli, &record.container, service, data, &mut say).await?;
    let (outcome, message) =
        data.ending("the agent restarted mid-update; the old image runs again through compose");
    Ok((outcome, message, Step::RolledBack))
}

/// A manual restore's change of Unity's compose override, settled by how the swap ended: the
/// restored version's text when it was validated, the earlier text when it was undone.
fn settle_override(record: &Record, kept: bool) -> Result<(), EngineError> {
    let Some(change) = &record.override_change else {
        return Ok(());
    };
    super::compose_files::settle(change, kept).map_err(|error| EngineError::Socket {
        operation: format!("restore {}", record.container),
        message: format!("compose override {}: {error}", change.file.display()),
    })
}

/// Undoes an interrupted swap (before `Validated`), with the data put back when the new
/// version ran: into the parked old container before it starts when it is still parked,
/// else into the old container stopped again.
async fn recover_swap<E: Engine>(
    engine: &E,
    record: &Record,
    data: &mut DataRollback<'_>,
) -> Result<(), EngineError> {
    let mut say = |line: &str| tracing::info!(container = %record.container, line, "Recovery.");
    let parked = engine
        .inspect_container(&record.parked_name)
        .await?
        .is_some();
    if parked {
        data.before(
            engine,
            Some(&record.container),
            &record.parked_name,
            &mut say,
        )
        .await;
    }
    undo(engine, record).await?;
    if !parked && data.source().is_some() {
        data.before(engine, Some(&record.container), &record.container, &mut say)
            .await;
        if record.old_was_running {
            engine.start(&record.container).await?;
        }
    }
    data.after(engine, &record.container, &mut say).await;
    Ok(())
}

/// Finishes or undoes every interrupted operation (at agent start); returns the results it
/// stored. An operation that cannot be recovered now is logged and left for the next start.
pub async fn recover<E: Engine>(
    engine: &E,
    journal: &Journal,
    settings: &Settings<'_>,
) -> Result<Vec<CommandResult>, JournalError> {
    let mut results = Vec::new();
    for record in journal.unfinished()? {
        let id = record.id.clone();
        if journal.is_running(&id) {
            continue;
        }
        match recover_one(engine, journal, record, settings).await {
            Ok(result) => results.push(result),
            Err(RecoveryError::Engine(error)) => {
                tracing::warn!(operation = %id, %error, "Recovery failed.");
            }
            Err(RecoveryError::Journal(error)) => return Err(error),
        }
    }
    Ok(results)
}

/// Finishes (from `Validated` on) or undoes (before) one interrupted operation and stores its
/// result; an undo after the new version ran puts the data back from the backup the journal
/// names (as the operation's own rollback would have).
pub async fn recover_one<E: Engine>(
    engine: &E,
    journal: &Journal,
    record: Record,
    settings: &Settings<'_>,
) -> Result<CommandResult, RecoveryError> {
    // One recovery at a time; read again once it is this one's turn: the recovery at start and
    // a retried command's may both have found the record unfinished, and the first to run
    // ends it (the second returns its result instead of putting the data back twice at once).
    let _turn = journal.recovery_turn().await;
    let mut record = match journal.load(&record.id)? {
        Some(Record {
            result: Some(result),
            ..
        }) => return Ok(result),
        Some(current) => current,
        None => record,
    };
    let (saved, unreadable) = match record.backup.as_deref() {
        None => (None, None),
        Some(name) => match backup::load(settings.data_dir, &record.container, name) {
            Ok(saved) => (Some(saved), None),
            Err(error) => {
                tracing::warn!(operation = %record.id, %error, "Cannot read the operation's backup.");
                let problem = format!("the operation's backup {name} cannot be read: {error}");
                (None, Some(problem))
            }
        },
    };
    let mut data = DataRollback::plan(settings, &record.container, saved.as_ref(), record.new_ran);
    if let Some(problem) = unreadable {
        data.backup_unreadable(record.new_ran, problem);
    }
    let (outcome, message) = if let Some(service) = record.compose.clone() {
        let (outcome, message, step) =
            recover_compose(engine, &record, &service, &mut data).await?;
        record.step = step;
        (outcome, message)
    } else if matches!(record.step, Step::Validated | Step::OldRemoved) {
        finish(engine, &record).await?;
        settle_override(&record, true)?;
        record.step = Step::OldRemoved;
        (
            Outcome::Succeeded,
            "the agent restarted after the new container was validated; the old one is removed"
                .to_owned(),
        )
    } else {
        let untouched = record.step <= Step::BackedUp && !record.new_ran;
        recover_swap(engine, &record, &mut data).await?;
        settle_override(&record, false)?;
        record.step = Step::RolledBack;
        match untouched {
            true => (
                Outcome::Refused,
                "the agent restarted before the container was changed; nothing was changed"
                    .to_owned(),
            ),
            false => data.ending("the agent restarted mid-update; the old container was restored"),
        }
    };
    let result = CommandResult {
        id: record.id.clone(),
        container: record.container.clone(),
        outcome,
        message,
        old_image_id: None,
        new_image_id: None,
        backup: record.backup.clone(),
        backup_taken: None,
        data_restored: data.outcome().ok().flatten(),
        log: Vec::new(),
        evidence: None,
    };
    tracing::info!(operation = %record.id, container = %record.container, ?outcome, "Recovered an interrupted operation.");
    record.result = Some(result.clone());
    journal.save(&record)?;
    Ok(result)
}
