//! The container commands: [`update`] (pull, back up, swap with health gate and automatic
//! rollback, mark a failed candidate, keep the old image; a service of a compose project whose
//! file is on this host goes through [`super::compose_update`] instead) here, and, re-exported from
//! [`super::manual`], [`rollback`] (to the newest backup, with the image kept locally),
//! [`restore`] (to one backup), [`restart`] and [`backup`]. Each runs at most once per
//! operation id: a retry gets the stored result from the journal (an interrupted one is
//! recovered first). Each ends with a [`CommandResult`] and never panics.

use unity_shared::model::update::{CommandResult, Outcome, Stage, UpdateRequest};

use super::context::{
    begin, container, end, image_of, inspect_image, journal_step, prepare, refuse, result,
    take_backup, Context, Log, Step2, Stop,
};
use super::engine::Engine;
use super::journal::{Record, Step};
use super::swap::swap;
use super::{compose, compose_update, failed, kept, plan};
use crate::clock;

pub use super::manual::{backup, restart, restore, rollback};

/// Updates one container (steps 1 to 6 of `docs/container-updates.md`).
pub async fn update<E: Engine>(
    ctx: &Context<'_, E>,
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
    ctx: &Context<'_, E>,
    request: &UpdateRequest,
    record: &mut Record,
    result: &mut CommandResult,
    log: &mut Log<'_>,
) -> Step2<String> {
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

    log.say(Stage::Pulling, &format!("pulling {}", request.image));
    let digest_present =
        request.image.contains("@sha256:") && inspect_image(ctx, &request.image).await?.is_some();
    if !digest_present {
        if let Err(error) = ctx.engine.pull(&request.image, request.auth.as_ref()).await {
            match inspect_image(ctx, &request.image).await? {
                Some(_) => log.say(
                    Stage::Pulling,
                    &format!("pull failed ({error}); using the local image"),
                ),
                None => return refuse(format!("pull failed: {error}")),
            }
        }
    }
    let Some(new_image) = inspect_image(ctx, &request.image).await? else {
        return refuse(format!("{} is not present after the pull", request.image));
    };
    let new_id = new_image.id.clone().unwrap_or_default();
    result.new_image_id = Some(new_id.clone());
    if new_image.id == old_image.id {
        return Err(Stop(
            Outcome::Succeeded,
            format!("{} already runs {}", request.container, request.image),
        ));
    }
    let already_failed = failed::is_failed(ctx.data_dir, &request.container, &new_id)
        .map_err(|error| Stop(Outcome::Refused, format!("failed-candidate list: {error}")))?;
    if already_failed && !request.force {
        return refuse(format!(
            "{new_id} failed before for {}; not retried without force",
            request.container
        ));
    }
    let plan = plan::plan(&old, &old_image, &new_image, &request.image)
        .map_err(|error| Stop(Outcome::Refused, error.to_string()))?;
    journal_step(ctx, record, Step::Pulled)?;

    take_backup(
        ctx,
        &old,
        &old_image,
        request.volume_archive_limit_bytes,
        result,
        log,
    )
    .await?;
    prepare(ctx, record, &old)?;
    let swapped = swap(ctx, record, plan, &request.health, log).await;
    if swapped.new_failed {
        if let Err(error) = failed::mark(ctx.data_dir, &request.container, &new_id) {
            tracing::warn!(%error, "Cannot record a failed candidate.");
        }
    }
    if swapped.outcome == Outcome::Succeeded {
        keep_old_image(ctx, old_image.id.as_deref().unwrap_or_default()).await;
    }
    match swapped.outcome {
        Outcome::Succeeded => Ok(swapped.message),
        outcome => Err(Stop(outcome, swapped.message)),
    }
}

/// Keeps the old image for the configured time and removes the kept images whose time is over.
pub(super) async fn keep_old_image<E: Engine>(ctx: &Context<'_, E>, image_id: &str) {
    let now = u64::try_from(clock::now_ms()).unwrap_or(0);
    let keep_ms = u64::try_from(ctx.keep_old_image.as_millis()).unwrap_or(u64::MAX);
    if let Err(error) = kept::keep(ctx.data_dir, image_id, now.saturating_add(keep_ms)) {
        tracing::warn!(image = image_id, %error, "Cannot record the kept old image.");
    }
    if let Err(error) = kept::prune(ctx.engine, ctx.data_dir, now).await {
        tracing::warn!(%error, "Cannot prune kept images.");
    }
}
