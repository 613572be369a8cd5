//! The container commands, the top of the update module: [`execute`] runs one command from the
//! controller; [`update`] (pull, back up, swap with health gate and automatic rollback, mark a
//! failed candidate, keep the old image; a service of a compose project whose file is on this
//! host goes through [`super::compose_update`] instead) is here, and, re-exported from
//! [`super::manual`], [`rollback`] (to the newest backup, with the image kept locally),
//! [`restore`] (to one backup), [`restart`] and [`backup`]. Each runs at most once per
//! operation id: a retry gets the stored result from the journal (an interrupted one is
//! recovered first). Each ends with a [`CommandResult`] and never panics.

use unity_shared::model::update::{
    CommandResult, ContainerCommand, HealthPolicy, Outcome, Stage, UpdateRequest,
};

use super::context::{
    container, image_of, inspect_image, journal_step, keep_old_image, prepare, prune_failed_images,
    record_failed_image, refuse, refuse_failed_candidate, result, take_backup, vulnerability_gate,
    Log, OperationContext, Stop,
};
use super::engine::Engine;
use super::journal::{Record, Step};
use super::operation::{begin, end};
use super::pinned::Pinned;
use super::swap::swap;
use super::{compose, compose_update, failed, failed_images, plan};

pub use super::manual::{backup, restart, restore, rollback};

/// Runs one command from the controller, handing each progress line to `progress`. A restore
/// uses the default health gate.
pub async fn execute<E: Engine>(
    ctx: &OperationContext<'_, E>,
    command: &ContainerCommand,
    progress: impl FnMut(Stage, &str) + Send,
) -> CommandResult {
    match command {
        ContainerCommand::Update(request) => update(ctx, request, progress).await,
        ContainerCommand::Rollback { id, container } => {
            rollback(ctx, id, container, progress).await
        }
        ContainerCommand::Restart { id, container } => restart(ctx, id, container, progress).await,
        ContainerCommand::Backup { id, container } => backup(ctx, id, container, progress).await,
        ContainerCommand::Restore {
            id,
            container,
            backup,
        } => {
            let policy = HealthPolicy::default();
            restore(ctx, id, container, backup, policy, progress).await
        }
    }
}

/// The container a command is about.
pub fn container_of(command: &ContainerCommand) -> &str {
    match command {
        ContainerCommand::Update(request) => &request.container,
        ContainerCommand::Rollback { container, .. }
        | ContainerCommand::Restart { container, .. }
        | ContainerCommand::Backup { container, .. }
        | ContainerCommand::Restore { container, .. } => container,
    }
}

/// The answer to a command that cannot run at all (no journal, no engine): refused, and not
/// stored, so that a retry may run.
pub fn refused(command: &ContainerCommand, message: String) -> CommandResult {
    let mut refused = result(command.id(), container_of(command));
    refused.outcome = Outcome::Refused;
    refused.message = message;
    refused
}

/// Updates one container (steps 1 to 6 of `docs/container-updates.md`).
pub async fn update<E: Engine>(
    ctx: &OperationContext<'_, E>,
    request: &UpdateRequest,
    mut progress: impl FnMut(Stage, &str) + Send,
) -> CommandResult {
    let mut log = Log {
        progress: &mut progress,
        lines: Vec::new(),
    };
    let mut result = result(&request.id, &request.container);
    let mut record = match begin(ctx, &request.id, &request.container, &mut log).await {
        Ok(record) => record,
        Err(done) => return done,
    };
    let outcome = update_steps(ctx, request, &mut record, &mut result, &mut log).await;
    end(ctx, record, result, outcome, log)
}

async fn update_steps<E: Engine>(
    ctx: &OperationContext<'_, E>,
    request: &UpdateRequest,
    record: &mut Record,
    result: &mut CommandResult,
    log: &mut Log<'_>,
) -> Result<String, Stop> {
    journal_step(ctx, record, Step::Planned)?;
    let old = container(ctx, &request.container).await?;
    if let Some(project) = compose::project(&old) {
        let files = project.files_present();
        if !files.is_empty() {
            let compose = (&old, &project, files);
            return compose_update::update(ctx, request, record, result, log, compose).await;
        }
        log.say(
            Stage::Pulling,
            "compose project without its file on this host: cloned through the API",
        );
    }
    let old_image = image_of(ctx, &old).await?;
    result.old_image_id = old_image.id.clone();
    if old_image.config.is_none() {
        log.say(
            Stage::Pulling,
            "the old image is gone: its defaults cannot be told from the user's and are kept",
        );
    }

    let pinned = Pinned::parse(&request.image);
    let pull_ref = pinned.pull_ref();
    log.say(Stage::Pulling, &format!("pulling {pull_ref}"));
    let present_before = inspect_image(ctx, &pull_ref)
        .await?
        .and_then(|image| image.id);
    let digest_present = pinned.digest.is_some() && present_before.is_some();
    if !digest_present {
        if let Err(error) = ctx.engine.pull(&pull_ref, request.auth.as_ref()).await {
            match inspect_image(ctx, &pull_ref).await? {
                Some(_) => log.say(
                    Stage::Pulling,
                    &format!("pull failed ({error}); using the local image"),
                ),
                None => return refuse(format!("pull failed: {error}")),
            }
        }
    }
    let Some(new_image) = inspect_image(ctx, &pull_ref).await? else {
        return refuse(format!("{pull_ref} is not present after the pull"));
    };
    if !pinned.matches(&new_image) {
        return refuse(format!(
            "the image pulled as {pull_ref} is not that digest (repo digests {:?})",
            new_image.repo_digests.clone().unwrap_or_default()
        ));
    }
    let new_id = new_image.id.clone().unwrap_or_default();
    result.new_image_id = Some(new_id.clone());
    if new_image.id == old_image.id {
        return Err(Stop(
            Outcome::Succeeded,
            format!("{} already runs {}", request.container, request.image),
        ));
    }
    refuse_failed_candidate(ctx, request, &new_id)?;
    if let Some(gate) = &request.vulnerability_gate {
        vulnerability_gate(ctx, gate, &old_image, &new_image, &pull_ref, log).await?;
    }
    let run_ref = pinned.run_ref();
    let mut plan = plan::plan(&old, &old_image, &new_image, &run_ref)
        .map_err(|error| Stop(Outcome::Refused, error.to_string()))?;
    plan.image_id = Some(new_id.clone());
    journal_step(ctx, record, Step::Pulled)?;

    let saved = take_backup(
        ctx,
        &old,
        &old_image,
        request.volume_archive_limit_bytes,
        result,
        log,
    )
    .await?;
    let tagged = pinned.digest.is_some() && pinned.tag.is_some();
    if tagged {
        // The tag names what was checked; it moves only now, just before the create.
        log.say(Stage::Pulling, &format!("tagging {new_id} as {run_ref}"));
        ctx.engine
            .tag_image(&new_id, &run_ref)
            .await
            .map_err(|error| Stop(Outcome::Refused, format!("cannot tag: {error}")))?;
    }
    record.backup = Some(saved.file_name());
    prepare(ctx, record, &old)?;
    let swapped = swap(ctx, record, plan, &request.health, log, Some(&saved)).await;
    result.data_restored = swapped.data_restored;
    result.evidence.clone_from(&swapped.evidence);
    if swapped.new_failed {
        if let Err(error) = failed::mark(ctx.data_dir, &request.container, &new_id) {
            tracing::warn!(%error, "Cannot record a failed candidate.");
        }
        record_failed_image(ctx, &request.container, &new_id, present_before.as_deref());
    } else if swapped.outcome == Outcome::Succeeded {
        // Applied after all (forced): the image is the container's now.
        if let Err(error) = failed_images::forget(ctx.data_dir, &new_id) {
            tracing::warn!(%error, "Cannot update the failed candidate images.");
        }
    }
    prune_failed_images(ctx).await;
    if swapped.outcome == Outcome::Succeeded {
        keep_old_image(ctx, old_image.id.as_deref().unwrap_or_default()).await;
    } else if tagged
        && old_image
            .repo_tags
            .iter()
            .flatten()
            .any(|tag| *tag == run_ref)
    {
        // The tag goes back to the image it named before this operation.
        let old_id = old_image.id.as_deref().unwrap_or_default();
        if let Err(error) = ctx.engine.tag_image(old_id, &run_ref).await {
            tracing::warn!(%error, "Cannot tag the old image back.");
        }
    }
    match swapped.outcome {
        Outcome::Succeeded => Ok(swapped.message),
        outcome => Err(Stop(outcome, swapped.message)),
    }
}
