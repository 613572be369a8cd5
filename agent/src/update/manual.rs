//! The manual container commands: [`rollback`] (to the newest backup, with the image kept
//! locally), [`restore`] (to one backup), [`restart`] and [`backup`]. Like an update, each runs
//! at most once per operation id and ends with a [`CommandResult`]. A rollback or restore of a
//! compose service that Unity's override pins rewrites the override for the restored version.

use bollard::models::ContainerInspectResponse;
use unity_shared::model::update::{CommandResult, HealthPolicy, OperationId, Outcome, Stage};

use super::backup as backups;
use super::compose_files;
use super::context::{
    container, image_of, inspect_image, journal_step, prepare, refuse, result, take_backup, Log,
    OperationContext, Stop,
};
use super::data_restore;
use super::engine::Engine;
use super::journal::{Record, Step};
use super::operation::{begin, end};
use super::plan;
use super::swap::swap;

/// Manual rollback: recreates the container from its newest backup (taken before the last
/// change), with the image kept locally (no registry needed).
pub async fn rollback<E: Engine>(
    ctx: &OperationContext<'_, E>,
    id: &OperationId,
    container: &str,
    progress: impl FnMut(Stage, &str) + Send,
) -> CommandResult {
    let newest = backups::list(ctx.data_dir, container)
        .ok()
        .and_then(|names| names.into_iter().next());
    match newest {
        Some(name) => restore(ctx, id, container, &name, HealthPolicy::default(), progress).await,
        None => {
            let mut result = result(id, container);
            result.outcome = Outcome::Refused;
            result.message = format!("no backup of {container} to roll back to");
            result
        }
    }
}

/// Recreates the container from one backup (its configuration and image), with the health gate
/// and automatic rollback of an update.
pub async fn restore<E: Engine>(
    ctx: &OperationContext<'_, E>,
    id: &OperationId,
    container: &str,
    backup_name: &str,
    policy: HealthPolicy,
    mut progress: impl FnMut(Stage, &str) + Send,
) -> CommandResult {
    let mut log = Log {
        progress: &mut progress,
        lines: Vec::new(),
    };
    let mut result = result(id, container);
    let mut record = match begin(ctx, id, container, &mut log).await {
        Ok(record) => record,
        Err(done) => return done,
    };
    let outcome = restore_steps(
        ctx,
        container,
        backup_name,
        &policy,
        &mut record,
        &mut result,
        &mut log,
    )
    .await;
    end(ctx, record, result, outcome, log)
}

async fn restore_steps<E: Engine>(
    ctx: &OperationContext<'_, E>,
    container_name: &str,
    backup_name: &str,
    policy: &HealthPolicy,
    record: &mut Record,
    result: &mut CommandResult,
    log: &mut Log<'_>,
) -> Result<String, Stop> {
    journal_step(ctx, record, Step::Planned)?;
    let saved = backups::load(ctx.data_dir, container_name, backup_name).map_err(|error| {
        let missing = matches!(&error, backups::BackupError::Io { source, .. }
            if source.kind() == std::io::ErrorKind::NotFound);
        let message = match missing {
            // The controller's copy is not enough: it lacks the excluded environment values.
            true => format!(
                "backup {backup_name} of {container_name} is no longer on this host; the \
                 controller's copy cannot be restored from (it lacks the environment variables \
                 left out by backup_env_exclude)"
            ),
            false => error.to_string(),
        };
        Stop(Outcome::Refused, message)
    })?;
    let saved_inspect: ContainerInspectResponse = serde_json::from_value(saved.inspect.clone())
        .map_err(|error| Stop(Outcome::Refused, format!("backup {backup_name}: {error}")))?;
    let Some(image) = inspect_image(ctx, &saved.image_id).await? else {
        return refuse(format!(
            "image {} of backup {backup_name} is no longer on this host",
            saved.image_id
        ));
    };
    // The reference as written, when it still names that image; else the id itself.
    let by_reference = inspect_image(ctx, &saved.image_ref).await?;
    let reference = match by_reference.and_then(|found| found.id) {
        Some(found) if Some(&found) == image.id.as_ref() => saved.image_ref.clone(),
        _ => saved.image_id.clone(),
    };
    let current = container(ctx, container_name).await?;
    let current_image = image_of(ctx, &current).await?;
    result.old_image_id = current_image.id.clone();
    result.new_image_id = image.id.clone();
    let plan = plan::plan(&saved_inspect, &image, &image, &reference)
        .map_err(|error| Stop(Outcome::Refused, error.to_string()))?;
    log.say(
        Stage::Pulling,
        &format!("restoring backup {backup_name} with image {reference} (local)"),
    );
    // A service Unity's compose override pins: the override must name the restored version
    // afterwards, or the owner's next `compose up -d` brings the newer one back. Journaled
    // (by `prepare`) before the swap; written once the restored container is validated.
    record.override_change =
        compose_files::restore_change(ctx.data_dir, &current, &saved_inspect, &saved.image_ref)
            .map_err(|error| Stop(Outcome::Refused, format!("compose override: {error}")))?;
    journal_step(ctx, record, Step::Pulled)?;
    take_backup(ctx, &current, &current_image, None, result, log).await?;
    prepare(ctx, record, &current)?;
    let swapped = swap(ctx, record, plan, policy, log, None).await;
    result.evidence.clone_from(&swapped.evidence);
    if swapped.outcome != Outcome::Succeeded {
        return Err(Stop(swapped.outcome, swapped.message));
    }
    if let Some(change) = &record.override_change {
        compose_files::settle(change, true).map_err(|error| {
            let file = change.file.display();
            Stop(
                Outcome::Failed,
                format!(
                    "{container_name} was restored from backup {backup_name}, but Unity's compose \
                     override {file} could not be rewritten for it: {error}"
                ),
            )
        })?;
        log.say(
            Stage::Starting,
            &format!(
                "Unity's compose override {} now names the restored version",
                change.file.display()
            ),
        );
    }
    // The backup's own `unity.update.data_restore` label (checked when it was taken) over
    // the agent's setting.
    let policy = data_restore::policy_for(ctx.data_restore, &saved.inspect)
        .map_err(|why| Stop(Outcome::Failed, why))?;
    let Some(source) = data_restore::choose(policy, &saved) else {
        return Ok(format!(
            "{container_name} restored from backup {backup_name}"
        ));
    };
    let words = super::data_rollback::source_words(source);
    log.say(
        Stage::Starting,
        &format!("putting the data back from the {words}"),
    );
    let dir = backups::dir(ctx.data_dir, container_name)
        .map_err(|error| Stop(Outcome::Failed, error.to_string()))?;
    match data_restore::restore_into(ctx.engine, container_name, &saved, &dir, source, ctx.stop_grace)
        .await
    {
        Ok(line) => {
            if let Some(line) = line {
                log.say(Stage::Starting, &line);
            }
            result.data_restored = Some(source);
            Ok(format!(
                "{container_name} restored from backup {backup_name}, with its data from the {words}"
            ))
        }
        Err(error) => Err(Stop(
            Outcome::Failed,
            format!(
                "{container_name} was recreated from backup {backup_name}, but its data could not be put back: {error}"
            ),
        )),
    }
}

/// Restarts the container in place.
pub async fn restart<E: Engine>(
    ctx: &OperationContext<'_, E>,
    id: &OperationId,
    container: &str,
    mut progress: impl FnMut(Stage, &str) + Send,
) -> CommandResult {
    let mut log = Log {
        progress: &mut progress,
        lines: Vec::new(),
    };
    let mut record = match begin(ctx, id, container, &mut log).await {
        Ok(record) => record,
        Err(done) => return done,
    };
    let outcome = async {
        journal_step(ctx, &mut record, Step::Planned)?;
        log.say(Stage::Starting, &format!("restarting {container}"));
        match ctx.engine.restart(container, ctx.stop_grace).await {
            Ok(()) => Ok(format!("{container} restarted")),
            Err(error) => Err(Stop(Outcome::Failed, error.to_string())),
        }
    }
    .await;
    end(ctx, record, result(id, container), outcome, log)
}

/// Takes a backup of the container now.
pub async fn backup<E: Engine>(
    ctx: &OperationContext<'_, E>,
    id: &OperationId,
    container_name: &str,
    mut progress: impl FnMut(Stage, &str) + Send,
) -> CommandResult {
    let mut log = Log {
        progress: &mut progress,
        lines: Vec::new(),
    };
    let mut record = match begin(ctx, id, container_name, &mut log).await {
        Ok(record) => record,
        Err(done) => return done,
    };
    let mut result = result(id, container_name);
    let outcome = async {
        journal_step(ctx, &mut record, Step::Planned)?;
        let current = container(ctx, container_name).await?;
        let image = image_of(ctx, &current).await?;
        take_backup(ctx, &current, &image, None, &mut result, &mut log).await?;
        Ok(format!("backup of {container_name} taken"))
    }
    .await;
    end(ctx, record, result, outcome, log)
}
