//! Updates of a container whose compose file is on this host, through the compose CLI
//! (`docker compose`, else `docker-compose`) against the agent's engine socket, so that what
//! only the compose file knows (`configs:`, `env_file`, `depends_on`) is kept. Only a new image
//! behind the same reference can be applied (the same tag pulled again, or a digest of the same
//! repository tagged as that reference): a new tag needs the user's compose file changed, which
//! the agent never does; a service running from Unity's override is updated by rewriting the
//! override with the new digest, its earlier text journaled. Rollback tags the old image back
//! as the reference (or writes the override's earlier text back) and runs `up` again, with the
//! data put back by the swap's own data step (`data_rollback.rs`).

use std::path::PathBuf;

use bollard::models::ContainerInspectResponse;
use unity_shared::model::update::{CommandResult, Outcome, Stage, UpdateRequest};

use super::backup::BackupFile;
use super::compose::{ComposeService, Project};
use super::compose_cli::{Cli, ComposeError};
use super::compose_files::{new_tag_message, read_override_before, write_override};
use super::context::{
    capture, container, image_of, inspect_image, journal_step, keep_old_image, prepare, refuse,
    refuse_failed_candidate, take_backup, vulnerability_gate, Log, OperationContext, Stop,
};
use super::data_rollback::DataRollback;
use super::engine::{split_tag, Engine};
use super::failed;
use super::health::{self, Verdict};
use super::journal::{Record, Step};
use super::pinned::{override_path, override_refusal, Pinned};
use super::recovery::{restore_override, undo_compose};

pub use super::compose_files::{image_line, override_yaml};

/// Updates `old`, a service of `project` whose compose `files` are on this host.
pub(super) async fn update<E: Engine>(
    ctx: &OperationContext<'_, E>,
    request: &UpdateRequest,
    record: &mut Record,
    result: &mut CommandResult,
    log: &mut Log<'_>,
    (old, project, files): (&ContainerInspectResponse, &Project, Vec<PathBuf>),
) -> Result<String, Stop> {
    let name = &request.container;
    let image_ref = old
        .config
        .as_ref()
        .and_then(|config| config.image.clone())
        .unwrap_or_default();
    let first_file = files.first().cloned().unwrap_or_default();
    let own_override = override_path(ctx.data_dir, &project.project, &project.service);
    // A service that runs from Unity's override (an earlier update by digest) is updated by
    // rewriting the override with the new digest; a rollback puts its earlier text back.
    let from_override = image_ref.contains('@') && files.contains(&own_override);
    let (repository, owner_tag) = match from_override {
        true => (Pinned::parse(&image_ref).repository, None),
        false => {
            let (repository, tag) = split_tag(&image_ref);
            (repository.to_owned(), tag)
        }
    };
    let pinned = Pinned::parse(&request.image);
    let by_digest = pinned.digest.is_some()
        && pinned.repository == repository
        && (from_override || pinned.tag.is_none() || pinned.tag.as_deref() == owner_tag);
    // A digest without the file's tag runs from the digest: the file's tag keeps its image.
    let pinned_run = by_digest && (pinned.tag.is_none() || from_override);
    if from_override && !by_digest {
        let owner_files: Vec<PathBuf> = files
            .iter()
            .filter(|file| **file != own_override)
            .cloned()
            .collect();
        return refuse(override_refusal(
            name,
            &project.service,
            &own_override,
            &owner_files,
            &image_ref,
            &request.image,
        ));
    }
    if image_ref.is_empty()
        || (image_ref.contains('@') && !from_override)
        || (request.image != image_ref && !by_digest)
    {
        return refuse(new_tag_message(name, &files, &image_ref, &request.image).await);
    }
    let old_image = image_of(ctx, old).await?;
    let old_image_id = old_image.id.clone().unwrap_or_default();
    result.old_image_id = old_image.id.clone();
    // Read before anything changes, whole or not at all: what a rollback writes back.
    let override_before = match pinned_run {
        true => match read_override_before(&own_override) {
            Ok(text) => text,
            Err(why) => return refuse(format!("{why}; nothing was changed")),
        },
        false => None,
    };
    let cli = match ctx.engine.socket_path() {
        Some(socket) => Cli::detect(&socket).await,
        None => Err(ComposeError::NoSocket),
    }
    .map_err(|error| Stop(Outcome::Refused, error.to_string()))?;
    let service = ComposeService {
        project: project.project.clone(),
        service: project.service.clone(),
        working_dir: project
            .working_dir
            .clone()
            .or_else(|| first_file.parent().map(PathBuf::from)),
        files,
        image_ref: image_ref.clone(),
        old_image_id: old_image_id.clone(),
        override_file: pinned_run.then(|| own_override.clone()),
        override_before,
    };
    log.say(
        Stage::Pulling,
        &format!(
            "{name} is service {} of compose project {} ({}): updating through {}",
            service.service,
            service.project,
            first_file.display(),
            cli.name()
        ),
    );
    // Saved before the pull: pulling moves the tag the compose file names.
    record.compose = Some(service.clone());
    journal_step(ctx, record, Step::Planned)?;

    let prepared = pull_and_back_up(ctx, &cli, request, &service, result, log, by_digest).await;
    let mut up_service = service.clone();
    let (new_id, saved) = match prepared {
        Ok(Some(prepared)) => prepared,
        Ok(None) => {
            return Err(Stop(
                Outcome::Succeeded,
                format!("{name} already runs {}", request.image),
            ))
        }
        Err(stop) => {
            if from_override {
                return Err(stop);
            }
            if let Err(error) = ctx.engine.tag_image(&old_image_id, &image_ref).await {
                tracing::warn!(%error, "Cannot tag the old image back.");
            }
            return Err(stop);
        }
    };
    record.backup = Some(saved.file_name());
    if pinned_run {
        let file = write_override(ctx, &service, &first_file, &pinned.pull_ref())
            .await
            .map_err(|error| Stop(Outcome::Refused, format!("compose override: {error}")))?;
        log.say(
            Stage::Pulling,
            &format!(
                "{image_ref} keeps its image; {} runs {} through {}",
                service.service,
                pinned.pull_ref(),
                file.display()
            ),
        );
        if !up_service.files.contains(&file) {
            up_service.files.push(file);
        }
    }
    // Journaled (with the backup) before `up`: from then on the new version may touch the
    // data, and a rollback, even the recovery's after a crash, puts it back.
    record.new_ran = true;
    if let Err(stop) = prepare(ctx, record, old) {
        // Nothing ran: the override goes back to what it said, and the file's tag (moved by
        // the pull) to the old image, so the owner's next `compose up` does not apply it.
        if let Err(error) = restore_override(&service) {
            tracing::warn!(%error, "Cannot put the compose override back.");
        }
        if !from_override {
            if let Err(error) = ctx.engine.tag_image(&old_image_id, &image_ref).await {
                tracing::warn!(%error, "Cannot tag the old image back.");
            }
        }
        return Err(stop);
    }

    let up = cli.up_args(&up_service);
    log.say(
        Stage::Stopping,
        &format!("recreating {name} through `{}`", cli.display(&up)),
    );
    let rolling = (&cli, &service, &saved);
    if let Err(error) = cli.run(&up_service, &up).await {
        return roll_back(ctx, rolling, record, result, log, error.to_string()).await;
    }
    journal_step(ctx, record, Step::NewStarted)?;
    match ctx.engine.inspect_container(name).await {
        Ok(Some(new)) if new.image.as_deref() == Some(new_id.as_str()) => {
            log.say(Stage::Starting, &format!("{name} was recreated by compose"));
        }
        Ok(Some(_)) => log.say(
            Stage::Starting,
            &format!("{name} does not run {new_id} after compose up"),
        ),
        Ok(None) => {
            let why = format!("no container named {name} after compose up");
            return roll_back(ctx, rolling, record, result, log, why).await;
        }
        Err(error) => {
            let why = error.to_string();
            return roll_back(ctx, rolling, record, result, log, why).await;
        }
    }

    log.say(Stage::HealthChecking, "waiting for the health gate");
    let (why, new_failed) = match health::watch_reporting(ctx.engine, name, &request.health).await {
        Ok((Verdict::Healthy(why), _)) => {
            log.say(Stage::HealthChecking, &format!("healthy: {why}"));
            journal_step(ctx, record, Step::Validated)?;
            if let Err(error) = ctx.journal.advance(record, Step::OldRemoved) {
                tracing::warn!(operation = %record.id, %error, "Journal write failed after the update.");
            }
            keep_old_image(ctx, &old_image_id).await;
            return Ok(format!(
                "{name} runs {} through {}, validated",
                request.image,
                cli.name()
            ));
        }
        Ok((Verdict::Failed(why), probe_failure)) => {
            let why = format!("the new container {why}");
            result.evidence = Some(capture(ctx, name, &why, probe_failure).await);
            (why, true)
        }
        Ok((Verdict::Pending, probe_failure)) => {
            let why = "no health verdict".to_owned();
            result.evidence = Some(capture(ctx, name, &why, probe_failure).await);
            (why, true)
        }
        Err(error) => (format!("health gate: {error}"), false),
    };
    let rolled = roll_back(ctx, rolling, record, result, log, why).await;
    if new_failed {
        if let Err(error) = failed::mark(ctx.data_dir, name, &new_id) {
            tracing::warn!(%error, "Cannot record a failed candidate.");
        }
    }
    rolled
}

/// Pulls (moving the compose file's tag), refuses a failed candidate, backs up; the new image
/// id and the backup, or `None` when the service already runs it.
async fn pull_and_back_up<E: Engine>(
    ctx: &OperationContext<'_, E>,
    cli: &Cli,
    request: &UpdateRequest,
    service: &ComposeService,
    result: &mut CommandResult,
    log: &mut Log<'_>,
    by_digest: bool,
) -> Result<Option<(String, BackupFile)>, Stop> {
    let pinned = Pinned::parse(&request.image);
    let pull_ref = pinned.pull_ref();
    let pulled = if by_digest || request.auth.is_some() {
        // The compose CLI takes credentials only from a config file; one-time credentials
        // (and a digest) go through the engine API instead.
        log.say(
            Stage::Pulling,
            &format!("pulling {pull_ref} through the engine API"),
        );
        let present = by_digest && inspect_image(ctx, &pull_ref).await?.is_some();
        match present {
            true => Ok(()),
            false => ctx
                .engine
                .pull(&pull_ref, request.auth.as_ref())
                .await
                .map_err(|error| error.to_string()),
        }
    } else {
        let pull = ["pull".to_owned(), service.service.clone()];
        log.say(
            Stage::Pulling,
            &format!("pulling through `{}`", cli.display(&pull)),
        );
        cli.run(service, &pull)
            .await
            .map(|_| ())
            .map_err(|error| error.to_string())
    };
    if let Err(error) = pulled {
        log.say(
            Stage::Pulling,
            &format!("pull failed ({error}); using the local image"),
        );
    }
    let Some(new_image) = inspect_image(ctx, &pull_ref).await? else {
        return refuse(format!("{pull_ref} is not present after the pull"));
    };
    if !pinned.matches(&new_image) {
        return refuse(format!("the image pulled as {pull_ref} is not that digest"));
    }
    let new_id = new_image.id.clone().unwrap_or_default();
    result.new_image_id = Some(new_id.clone());
    if new_id == service.old_image_id {
        return Ok(None);
    }
    refuse_failed_candidate(ctx, request, &new_id)?;
    let old = container(ctx, &request.container).await?;
    let old_image = image_of(ctx, &old).await?;
    if let Some(gate) = &request.vulnerability_gate {
        vulnerability_gate(ctx, gate, &old_image, &new_image, &pull_ref, log).await?;
    }
    let saved = take_backup(
        ctx,
        &old,
        &old_image,
        request.volume_archive_limit_bytes,
        result,
        log,
    )
    .await?;
    if by_digest && pinned.tag.is_some() && !service.image_ref.contains('@') {
        // The file's tag, checked at this digest in the registry, is moved to it: what a
        // `compose pull` would do, pinned to what was checked.
        ctx.engine
            .tag_image(&new_id, &service.image_ref)
            .await
            .map_err(|error| Stop(Outcome::Refused, error.to_string()))?;
    }
    Ok(Some((new_id, saved)))
}

/// Tags the old image back as the compose file's reference (or puts Unity's override back)
/// and runs `up` again, with the data put back when the new version ran (`data_rollback.rs`,
/// the swap's data step); the old image must then run.
async fn roll_back<E: Engine>(
    ctx: &OperationContext<'_, E>,
    (cli, service, saved): (&Cli, &ComposeService, &BackupFile),
    record: &mut Record,
    result: &mut CommandResult,
    log: &mut Log<'_>,
    why: String,
) -> Result<String, Stop> {
    log.say(
        Stage::RollingBack,
        &format!(
            "{why}; putting {} back as {} and recreating through {}",
            service.old_image_id,
            service.image_ref,
            cli.name()
        ),
    );
    if let Err(error) = ctx.journal.advance(record, Step::RollingBack) {
        tracing::warn!(operation = %record.id, %error, "Journal write failed while rolling back.");
    }
    let settings = ctx.data_settings();
    let mut data = DataRollback::plan(&settings, &record.container, Some(saved), record.new_ran);
    let mut say = |line: &str| log.say(Stage::RollingBack, line);
    let undone = undo_compose(
        ctx.engine,
        cli,
        &record.container,
        service,
        &mut data,
        &mut say,
    );
    if let Err(error) = undone.await {
        tracing::error!(operation = %record.id, container = %record.container, %error, "Rollback failed.");
        return Err(Stop(
            Outcome::Failed,
            format!(
                "{why}; the rollback through {} failed too ({error})",
                cli.name()
            ),
        ));
    }
    if let Err(error) = ctx.journal.advance(record, Step::RolledBack) {
        tracing::warn!(operation = %record.id, %error, "Journal write failed after rolling back.");
    }
    log.say(Stage::RollingBack, "the old image runs again");
    if let Err(problem) = data.outcome() {
        log.say(
            Stage::RollingBack,
            &format!("the data was not put back: {problem}"),
        );
    }
    result.data_restored = data.outcome().ok().flatten();
    let (outcome, message) = data.ending(&why);
    Err(Stop(outcome, message))
}
