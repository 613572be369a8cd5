//! What every container command shares: the [`Context`] (engine, journal, data directory,
//! settings), the progress [`Log`], and the steps every command begins and ends with (the
//! idempotency check by operation id, storing the result, the backup before a change).

use std::path::Path;
use std::time::Duration;

use bollard::models::{ContainerInspectResponse, ImageInspect};
use unity_shared::model::update::{CommandResult, LogLine, OperationId, Outcome, Stage};

use super::backup::{self, BackupFile};
use super::engine::Engine;
use super::journal::{self, Journal, Record, Step};
use super::volumes;
use crate::clock;

/// What every command works with.
pub struct Context<'a, E> {
    pub engine: &'a E,
    pub journal: &'a Journal,
    /// The agent's data directory (backups, failed candidates).
    pub data_dir: &'a Path,
    /// Backups kept per container.
    pub keep_backups: usize,
    /// How long a container may take to stop before it is killed.
    pub stop_grace: Duration,
    /// How long the old image is kept after a successful update (for a manual rollback without
    /// the registry).
    pub keep_old_image: Duration,
}

impl<'a, E> Context<'a, E> {
    /// A context with the defaults: 10 backups per container, 10 s to stop, old images kept
    /// for 7 days.
    pub fn new(engine: &'a E, journal: &'a Journal, data_dir: &'a Path) -> Context<'a, E> {
        Context {
            engine,
            journal,
            data_dir,
            keep_backups: 10,
            stop_grace: Duration::from_secs(10),
            keep_old_image: Duration::from_secs(7 * 24 * 3600),
        }
    }
}

/// The progress callback plus the lines kept for the result.
pub struct Log<'a> {
    pub(super) progress: &'a mut (dyn FnMut(Stage, &str) + Send),
    pub lines: Vec<LogLine>,
}

impl Log<'_> {
    pub fn say(&mut self, stage: Stage, message: &str) {
        tracing::debug!(?stage, message, "Update progress.");
        (self.progress)(stage, message);
        // The wire keeps update times unsigned; the clock is never negative.
        let at_ms = u64::try_from(clock::now_ms()).unwrap_or(0);
        self.lines.push(LogLine {
            stage,
            at_ms,
            message: message.to_owned(),
        });
    }
}

/// A command that stops early: its outcome and why.
pub(super) struct Stop(pub(super) Outcome, pub(super) String);

pub(super) type Step2<T> = Result<T, Stop>;

pub(super) fn refuse<T>(message: impl Into<String>) -> Step2<T> {
    Err(Stop(Outcome::Refused, message.into()))
}

/// Starts an operation: the stored result when this id ran before (`Err`), a refusal (not
/// stored, so that a retry may run) while this id is running or another operation on the
/// container is unfinished, else a new journal record (and the id claimed until [`end`]).
pub(super) async fn begin<E: Engine>(
    ctx: &Context<'_, E>,
    id: &OperationId,
    container: &str,
    log: &mut Log<'_>,
) -> Result<Record, CommandResult> {
    if !ctx.journal.claim(id) {
        return Err(refusal(
            id,
            container,
            format!("operation {id} is running"),
            log,
        ));
    }
    if let Some(stored) = previous(ctx, id, log).await {
        ctx.journal.release(id);
        return Err(stored);
    }
    let busy = ctx.journal.unfinished().map(|records| {
        records
            .into_iter()
            .find(|record| record.container == container && &record.id != id)
    });
    let message = match busy {
        Ok(None) => return Ok(Record::new(id, container)),
        Ok(Some(other)) => format!("operation {} on {container} is not finished", other.id),
        Err(error) => error.to_string(),
    };
    ctx.journal.release(id);
    Err(refusal(id, container, message, log))
}

/// A refusal that is not stored.
fn refusal(id: &OperationId, container: &str, refusal: String, log: &mut Log<'_>) -> CommandResult {
    log.say(Stage::Done, &refusal);
    let mut result = result(id, container);
    result.outcome = Outcome::Refused;
    result.message = refusal;
    result.log = std::mem::take(&mut log.lines);
    result
}

/// The stored result of an earlier run of this operation id (an interrupted one is recovered
/// first); its message is streamed again as `Done`.
async fn previous<E: Engine>(
    ctx: &Context<'_, E>,
    id: &OperationId,
    log: &mut Log<'_>,
) -> Option<CommandResult> {
    let stored = match ctx.journal.load(id) {
        Ok(Some(Record {
            result: Some(result),
            ..
        })) => result,
        Ok(Some(record)) => match journal::recover_one(ctx.engine, ctx.journal, record).await {
            Ok(Ok(result)) => result,
            Ok(Err(error)) => failure(id, format!("recovering the interrupted operation: {error}")),
            Err(error) => failure(id, error.to_string()),
        },
        Ok(None) => return None,
        Err(error) => failure(id, error.to_string()),
    };
    log.say(Stage::Done, &format!("already done: {}", stored.message));
    Some(stored)
}

pub(super) fn failure(id: &OperationId, message: String) -> CommandResult {
    let mut result = result(id, "");
    result.outcome = Outcome::Failed;
    result.message = message;
    result
}

pub(super) fn result(id: &OperationId, container: &str) -> CommandResult {
    CommandResult {
        id: id.clone(),
        container: container.to_owned(),
        outcome: Outcome::Failed,
        message: String::new(),
        old_image_id: None,
        new_image_id: None,
        backup: None,
        backup_taken: None,
        log: Vec::new(),
    }
}

/// Stores the result in the journal and returns it.
pub(super) fn end<E>(
    ctx: &Context<'_, E>,
    mut record: Record,
    mut result: CommandResult,
    outcome: Step2<String>,
    mut log: Log<'_>,
) -> CommandResult {
    let (kind, message) = match outcome {
        Ok(message) => (Outcome::Succeeded, message),
        Err(Stop(kind, message)) => (kind, message),
    };
    log.say(Stage::Done, &message);
    result.outcome = kind;
    result.message = message;
    result.log = log.lines;
    record.result = Some(result.clone());
    if let Err(error) = ctx.journal.save(&record) {
        tracing::warn!(operation = %record.id, %error, "Cannot store the result.");
    }
    ctx.journal.release(&record.id);
    result
}

pub(super) fn journal_step<E>(ctx: &Context<'_, E>, record: &mut Record, step: Step) -> Step2<()> {
    ctx.journal
        .advance(record, step)
        .map_err(|error| Stop(Outcome::Refused, error.to_string()))
}

/// Records the old container's id and state, then `BackedUp`.
pub(super) fn prepare<E>(
    ctx: &Context<'_, E>,
    record: &mut Record,
    old: &ContainerInspectResponse,
) -> Step2<()> {
    record.old_id = old.id.clone();
    record.old_restart_policy = old
        .host_config
        .as_ref()
        .and_then(|host| host.restart_policy.clone());
    record.old_was_running = old
        .state
        .as_ref()
        .and_then(|state| state.running)
        .unwrap_or(false);
    journal_step(ctx, record, Step::BackedUp)
}

pub(super) async fn container<E: Engine>(
    ctx: &Context<'_, E>,
    name: &str,
) -> Step2<ContainerInspectResponse> {
    match ctx.engine.inspect_container(name).await {
        Ok(Some(container)) => Ok(container),
        Ok(None) => refuse(format!("no container named {name}")),
        Err(error) => refuse(error.to_string()),
    }
}

pub(super) async fn inspect_image<E: Engine>(
    ctx: &Context<'_, E>,
    reference: &str,
) -> Step2<Option<ImageInspect>> {
    ctx.engine
        .inspect_image(reference)
        .await
        .map_err(|error| Stop(Outcome::Refused, error.to_string()))
}

/// The image a container runs (by id); an image gone from the host yields an empty inspect,
/// so that nothing counts as an image default.
pub(super) async fn image_of<E: Engine>(
    ctx: &Context<'_, E>,
    container: &ContainerInspectResponse,
) -> Step2<ImageInspect> {
    let id = container.image.clone().unwrap_or_default();
    let found = inspect_image(ctx, &id).await?;
    Ok(found.unwrap_or(ImageInspect {
        id: Some(id),
        ..ImageInspect::default()
    }))
}

/// Backs the container up (and its volumes, with a size limit); the backup's file name goes to
/// the result.
pub(super) async fn take_backup<E: Engine>(
    ctx: &Context<'_, E>,
    container: &ContainerInspectResponse,
    image: &ImageInspect,
    archive_limit: Option<u64>,
    result: &mut CommandResult,
    log: &mut Log<'_>,
) -> Step2<()> {
    log.say(Stage::BackingUp, "saving the container's configuration");
    let name = result.container.clone();
    let inspect = serde_json::to_value(container)
        .map_err(|error| Stop(Outcome::Refused, format!("backup: {error}")))?;
    let now_ms = u64::try_from(clock::now_ms()).unwrap_or(0);
    let taken_at_ms = match backup::list(ctx.data_dir, &name)
        .ok()
        .and_then(|names| names.into_iter().next())
    {
        // Two backups in the same millisecond must not share a file.
        Some(newest) => {
            now_ms.max(newest.trim_end_matches(".json").parse::<u64>().unwrap_or(0) + 1)
        }
        None => now_ms,
    };
    let mut volume_archives = Vec::new();
    if let Some(limit) = archive_limit {
        log.say(Stage::BackingUp, "archiving the container's volumes");
        let dir = backup::dir(ctx.data_dir, &name)
            .map_err(|error| Stop(Outcome::Refused, format!("backup: {error}")))?;
        std::fs::create_dir_all(&dir).map_err(|error| {
            Stop(
                Outcome::Refused,
                format!("backup: {}: {error}", dir.display()),
            )
        })?;
        volume_archives = volumes::archive(ctx.engine, &dir, taken_at_ms, container, limit)
            .await
            .map_err(|error| Stop(Outcome::Refused, format!("volume archive: {error}")))?;
    }
    let saved = BackupFile {
        container: name.clone(),
        taken_at_ms,
        image_ref: container
            .config
            .as_ref()
            .and_then(|config| config.image.clone())
            .unwrap_or_default(),
        image_id: image.id.clone().unwrap_or_default(),
        inspect,
        volume_archives,
    };
    backup::save(ctx.data_dir, &saved)
        .map_err(|error| Stop(Outcome::Refused, format!("backup: {error}")))?;
    if let Err(error) = backup::prune(ctx.data_dir, &name, ctx.keep_backups.max(1)) {
        tracing::warn!(container = %name, %error, "Cannot prune old backups.");
    }
    result.backup = Some(saved.file_name());
    result.backup_taken = Some(saved.to_wire());
    Ok(())
}
