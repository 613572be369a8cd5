//! What every container command works with and shares: the [`OperationContext`] (engine,
//! journal, data directory, settings), the progress [`Log`], `Stop` (a command that ends
//! early, with its outcome), and the steps several commands take (inspecting, journaling a
//! step, the backup before a change, keeping the old image after one, capturing a failed new
//! container's evidence).

use std::path::Path;
use std::time::Duration;

use bollard::models::{ContainerInspectResponse, ImageInspect};
use unity_shared::model::update::{
    CommandResult, FailureEvidence, LogLine, OperationId, Outcome, Stage, UpdateRequest,
    EVIDENCE_LOG_BYTES, EVIDENCE_LOG_LINES,
};

use super::backup::{self, BackupFile};
use super::engine::Engine;
use super::journal::{Journal, Record, Step};
use super::{data_restore, dump, env_exclude, evidence, failed, failed_images, kept, volumes};
use crate::clock;
use unity_shared::model::database_image::{database_of, BACKUP_LABEL};

/// What every container command works with.
pub struct OperationContext<'a, E> {
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
    /// Together, one container's backups hold at most this many bytes (the newest one always
    /// stays); `None`: no cap.
    pub backup_max_bytes: Option<u64>,
    /// Where a rollback puts a database's data back from.
    pub data_restore: data_restore::Policy,
    /// The vulnerability scanners for an update's gate (off unless the runtime sets them).
    pub scan: super::scan::ScanSettings,
    /// How long a failed candidate image (one this agent pulled) stays for inspection before
    /// it is removed.
    pub failed_image_retention: Duration,
    /// Environment variables (glob-ish name patterns, see [`env_exclude`]) whose values stay
    /// on the host: left out of the backup's copy for the controller.
    pub backup_env_exclude: Vec<String>,
}

impl<'a, E> OperationContext<'a, E> {
    /// A context with the defaults: 10 backups per container, 10 s to stop, old images and
    /// failed candidate images kept for 7 days, [`env_exclude::DEFAULT_PATTERNS`].
    pub fn new(engine: &'a E, journal: &'a Journal, data_dir: &'a Path) -> OperationContext<'a, E> {
        OperationContext {
            engine,
            journal,
            data_dir,
            keep_backups: 10,
            stop_grace: Duration::from_secs(10),
            keep_old_image: Duration::from_secs(7 * 24 * 3600),
            backup_max_bytes: None,
            data_restore: data_restore::Policy::Auto,
            scan: super::scan::ScanSettings::off(data_dir),
            failed_image_retention: Duration::from_secs(7 * 24 * 3600),
            backup_env_exclude: env_exclude::DEFAULT_PATTERNS
                .iter()
                .map(|pattern| (*pattern).to_owned())
                .collect(),
        }
    }
}

impl<E> OperationContext<'_, E> {
    /// What a rollback needs to put a database's data back (`data_rollback.rs`).
    pub fn data_settings(&self) -> super::data_rollback::Settings<'_> {
        super::data_rollback::Settings {
            data_dir: self.data_dir,
            policy: self.data_restore,
            stop_grace: self.stop_grace,
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

/// A command that stops early: its outcome and why. A step returns `Result<T, Stop>`, so that
/// `?` ends the command.
pub(super) struct Stop(pub(super) Outcome, pub(super) String);

/// Stops the command as refused.
pub(super) fn refuse<T>(message: impl Into<String>) -> Result<T, Stop> {
    Err(Stop(Outcome::Refused, message.into()))
}

/// A blank result for `id` on `container` (failed, without a message) that a command fills in.
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
        data_restored: None,
        log: Vec::new(),
        evidence: None,
    }
}

pub(super) fn journal_step<E>(
    ctx: &OperationContext<'_, E>,
    record: &mut Record,
    step: Step,
) -> Result<(), Stop> {
    ctx.journal
        .advance(record, step)
        .map_err(|error| Stop(Outcome::Refused, error.to_string()))
}

/// Records the old container's id and state, then `BackedUp`.
pub(super) fn prepare<E>(
    ctx: &OperationContext<'_, E>,
    record: &mut Record,
    old: &ContainerInspectResponse,
) -> Result<(), Stop> {
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
    ctx: &OperationContext<'_, E>,
    name: &str,
) -> Result<ContainerInspectResponse, Stop> {
    match ctx.engine.inspect_container(name).await {
        Ok(Some(container)) => Ok(container),
        Ok(None) => refuse(format!("no container named {name}")),
        Err(error) => refuse(error.to_string()),
    }
}

pub(super) async fn inspect_image<E: Engine>(
    ctx: &OperationContext<'_, E>,
    reference: &str,
) -> Result<Option<ImageInspect>, Stop> {
    ctx.engine
        .inspect_image(reference)
        .await
        .map_err(|error| Stop(Outcome::Refused, error.to_string()))
}

/// The image a container runs (by id); an image gone from the host yields an empty inspect,
/// so that nothing counts as an image default.
pub(super) async fn image_of<E: Engine>(
    ctx: &OperationContext<'_, E>,
    container: &ContainerInspectResponse,
) -> Result<ImageInspect, Stop> {
    let id = container.image.clone().unwrap_or_default();
    let found = inspect_image(ctx, &id).await?;
    Ok(found.unwrap_or(ImageInspect {
        id: Some(id),
        ..ImageInspect::default()
    }))
}

/// Backs the container up (and its volumes, with a size limit; a database also with its dump,
/// see `dump.rs`: a dump that fails refuses the command and leaves nothing behind); the
/// backup's file name goes to the result.
pub(super) async fn take_backup<E: Engine>(
    ctx: &OperationContext<'_, E>,
    container: &ContainerInspectResponse,
    image: &ImageInspect,
    archive_limit: Option<u64>,
    result: &mut CommandResult,
    log: &mut Log<'_>,
) -> Result<BackupFile, Stop> {
    log.say(Stage::BackingUp, "saving the container's configuration");
    let name = result.container.clone();
    let inspect = serde_json::to_value(container)
        .map_err(|error| Stop(Outcome::Refused, format!("backup: {error}")))?;
    // A bad `unity.update.data_restore` label refuses before anything changes: a rollback
    // must know where the data comes back from.
    data_restore::policy_for(ctx.data_restore, &inspect)
        .map_err(|why| Stop(Outcome::Refused, format!("{why}; nothing was changed")))?;
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
    let image_ref = container
        .config
        .as_ref()
        .and_then(|config| config.image.clone())
        .unwrap_or_default();
    let database = database_of(&image_ref, backup_label(container));
    let dir = backup::dir(ctx.data_dir, &name)
        .map_err(|error| Stop(Outcome::Refused, format!("backup: {error}")))?;
    if archive_limit.is_some() || database.is_some() {
        std::fs::create_dir_all(&dir).map_err(|error| {
            Stop(
                Outcome::Refused,
                format!("backup: {}: {error}", dir.display()),
            )
        })?;
    }
    let mut volume_archives = Vec::new();
    if let Some(limit) = archive_limit {
        log.say(Stage::BackingUp, "archiving the container's volumes");
        volume_archives = volumes::archive(ctx.engine, &dir, taken_at_ms, container, limit)
            .await
            .map_err(|error| Stop(Outcome::Refused, format!("volume archive: {error}")))?;
    }
    let running = container
        .state
        .as_ref()
        .and_then(|state| state.running)
        .unwrap_or(false);
    let mut taken = None;
    match database {
        Some(kind) if running => {
            log.say(
                Stage::BackingUp,
                &format!("dumping the {} database inside the container", kind.word()),
            );
            match dump::take(ctx.engine, container, kind, &dir, taken_at_ms).await {
                Ok(dump) => {
                    log.say(
                        Stage::BackingUp,
                        &format!(
                            "dump {}: {} bytes in {} ms, complete",
                            dump.dump.file, dump.dump.size_bytes, dump.dump.duration_ms
                        ),
                    );
                    taken = Some(dump);
                }
                Err(why) => {
                    for archive in &volume_archives {
                        let _ = std::fs::remove_file(dir.join(archive));
                    }
                    return refuse(format!(
                        "the {} dump failed, so nothing was changed: {why}",
                        kind.word()
                    ));
                }
            }
        }
        Some(kind) => log.say(
            Stage::BackingUp,
            &format!(
                "no {} dump: the container is not running (its data is not in use)",
                kind.word()
            ),
        ),
        None => {}
    }
    let saved = BackupFile {
        container: name.clone(),
        taken_at_ms,
        image_ref,
        image_id: image.id.clone().unwrap_or_default(),
        inspect,
        volume_archives,
        dump: taken.as_ref().map(|taken| taken.dump.clone()),
        rdb_target: taken.and_then(|taken| taken.rdb_target),
    };
    if let Err(error) = backup::save(ctx.data_dir, &saved) {
        let beside = saved
            .volume_archives
            .iter()
            .chain(saved.dump.iter().map(|dump| &dump.file));
        for file in beside {
            let _ = std::fs::remove_file(dir.join(file));
        }
        return refuse(format!("backup: {error}"));
    }
    let (keep, max_bytes) = (ctx.keep_backups.max(1), ctx.backup_max_bytes);
    if let Err(error) = backup::prune(ctx.data_dir, &name, keep, max_bytes) {
        tracing::warn!(container = %name, %error, "Cannot prune old backups.");
    }
    result.backup = Some(saved.file_name());
    result.backup_taken = Some(saved.to_wire(&ctx.backup_env_exclude));
    Ok(saved)
}

/// The container's `unity.update.backup` label, when set.
fn backup_label(container: &ContainerInspectResponse) -> Option<&str> {
    container
        .config
        .as_ref()
        .and_then(|config| config.labels.as_ref())
        .and_then(|labels| labels.get(BACKUP_LABEL))
        .map(String::as_str)
}

/// Refuses an image that failed for this container before, unless the request forces it.
pub(super) fn refuse_failed_candidate<E>(
    ctx: &OperationContext<'_, E>,
    request: &UpdateRequest,
    new_id: &str,
) -> Result<(), Stop> {
    let already_failed = failed::is_failed(ctx.data_dir, &request.container, new_id)
        .map_err(|error| Stop(Outcome::Refused, format!("failed-candidate list: {error}")))?;
    if already_failed && !request.force {
        return refuse(format!(
            "{new_id} failed before for {}; not retried without force",
            request.container
        ));
    }
    Ok(())
}

/// Keeps the old image for the configured time and removes the kept images whose time is over.
pub(super) async fn keep_old_image<E: Engine>(ctx: &OperationContext<'_, E>, image_id: &str) {
    let now = u64::try_from(clock::now_ms()).unwrap_or(0);
    let keep_ms = u64::try_from(ctx.keep_old_image.as_millis()).unwrap_or(u64::MAX);
    if let Err(error) = kept::keep(ctx.data_dir, image_id, now.saturating_add(keep_ms)) {
        tracing::warn!(image = image_id, %error, "Cannot record the kept old image.");
    }
    if let Err(error) = kept::prune(ctx.engine, ctx.data_dir, now).await {
        tracing::warn!(%error, "Cannot prune kept images.");
    }
}

/// Scans the current and the candidate image and refuses the update when the gate says so
/// (issue 17 §2; `docs/updates.md`, "Vulnerability gate"). The current image is given to the
/// scanner by a repo digest when it has one, the candidate by the reference it was pulled by.
pub(super) async fn vulnerability_gate<E>(
    ctx: &OperationContext<'_, E>,
    gate: &unity_shared::model::scan::VulnerabilityGate,
    old_image: &ImageInspect,
    new_image: &ImageInspect,
    pull_ref: &str,
    log: &mut Log<'_>,
) -> Result<(), Stop> {
    let old_id = old_image.id.clone().unwrap_or_default();
    let old_digests = old_image.repo_digests.clone().unwrap_or_default();
    let old_ref = old_digests
        .first()
        .cloned()
        .unwrap_or_else(|| old_id.clone());
    let new_id = new_image.id.clone().unwrap_or_default();
    let new_digests = new_image.repo_digests.clone().unwrap_or_default();
    log.say(
        Stage::Pulling,
        "scanning the current and the candidate image",
    );
    let current = super::scan::gate::Image {
        id: &old_id,
        repo_digests: &old_digests,
        reference: &old_ref,
    };
    let candidate = super::scan::gate::Image {
        id: &new_id,
        repo_digests: &new_digests,
        reference: pull_ref,
    };
    let checked = super::scan::gate::check(&ctx.scan, gate, current, candidate).await;
    log.say(Stage::Pulling, &checked.line);
    match checked.action {
        unity_shared::model::scan::GateAction::Block(reason) => refuse(reason),
        unity_shared::model::scan::GateAction::Apply
        | unity_shared::model::scan::GateAction::Warn(_) => Ok(()),
    }
}

/// What the new container (at fault for `why`) left behind: read before it is removed.
pub(super) async fn capture<E: Engine>(
    ctx: &OperationContext<'_, E>,
    new_container: &str,
    why: &str,
    probe_failure: Option<String>,
) -> FailureEvidence {
    let logs = ctx
        .engine
        .container_logs(new_container, EVIDENCE_LOG_LINES, EVIDENCE_LOG_BYTES)
        .await
        .map_err(|error| error.to_string());
    let inspect = match ctx.engine.inspect_container(new_container).await {
        Ok(Some(container)) => serde_json::to_value(container).ok(),
        _ => None,
    };
    evidence::assemble(why, logs, inspect.as_ref(), probe_failure)
}

/// Records a failed candidate image for removal after the retention, unless the host had it
/// before the update (`present_before`: the image id the pulled reference named then).
pub(super) fn record_failed_image<E>(
    ctx: &OperationContext<'_, E>,
    container: &str,
    image_id: &str,
    present_before: Option<&str>,
) {
    if present_before == Some(image_id) {
        tracing::info!(
            image = image_id,
            "Failed candidate image was on the host before: kept."
        );
        return;
    }
    let now = u64::try_from(clock::now_ms()).unwrap_or(0);
    let keep_ms = u64::try_from(ctx.failed_image_retention.as_millis()).unwrap_or(u64::MAX);
    let until = now.saturating_add(keep_ms);
    if let Err(error) = failed_images::record(ctx.data_dir, image_id, container, until) {
        tracing::warn!(image = image_id, %error, "Cannot record the failed candidate image.");
    }
}

/// Removes the failed candidate images whose retention is over.
pub(super) async fn prune_failed_images<E: Engine>(ctx: &OperationContext<'_, E>) {
    let now = u64::try_from(clock::now_ms()).unwrap_or(0);
    if let Err(error) = failed_images::prune(ctx.engine, ctx.data_dir, now).await {
        tracing::warn!(%error, "Cannot prune failed candidate images.");
    }
}
