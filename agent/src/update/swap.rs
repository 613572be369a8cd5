//! The container swap shared by update, rollback and restore (steps 4 to 6 of an update): park
//! the old container under another name and stop it, create and start the new one from a
//! [`Plan`], run the health gate, then remove the old one, or on any failure put the old one
//! back. Every step is journaled before the next one starts. A new container at fault leaves
//! its evidence (last log lines, the engine's health check runs, the probe's failure) in the
//! result: read before the rollback removes it.

use bollard::models::{RestartPolicy, RestartPolicyNameEnum};
use unity_shared::model::update::{DataSource, FailureEvidence, HealthPolicy, Outcome, Stage};

use super::backup::BackupFile;
use super::context::{capture, Log, OperationContext};
use super::data_rollback::DataRollback;
use super::engine::Engine;
use super::health::{self, Verdict};
use super::journal::{Record, Step};
use super::plan::Plan;
use super::recovery;

/// How a swap ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Swapped {
    pub outcome: Outcome,
    pub message: String,
    /// True when the new container (not the engine or the agent) was at fault, so the image
    /// counts as a failed candidate.
    pub new_failed: bool,
    /// Where the data was put back from after the new container ran, when it was.
    pub data_restored: Option<DataSource>,
    /// What the failed new container left behind, when it was at fault and existed.
    pub evidence: Option<FailureEvidence>,
}

/// Runs the swap for `record` (at `BackedUp`, old id and running state filled in). `data` is
/// the backup taken before it: a rollback after the new container ran puts its data back (see
/// `data_restore.rs`).
pub async fn swap<E: Engine>(
    ctx: &OperationContext<'_, E>,
    record: &mut Record,
    plan: Plan,
    policy: &HealthPolicy,
    log: &mut Log<'_>,
    data: Option<&BackupFile>,
) -> Swapped {
    let name = record.container.clone();
    log.say(
        Stage::Stopping,
        &format!("parking {name} as {} and stopping it", record.parked_name),
    );
    if let Err(error) = ctx.engine.rename(&name, &record.parked_name).await {
        return refused(format!("cannot rename {name}: {error}"));
    }
    if let Err(error) = ctx.journal.advance(record, Step::OldRenamed) {
        return roll_back(ctx, record, log, data, format!("journal: {error}"), false).await;
    }
    if let Err(error) = ctx.engine.stop(&record.parked_name, ctx.stop_grace).await {
        return roll_back(
            ctx,
            record,
            log,
            data,
            format!("cannot stop the old container: {error}"),
            false,
        )
        .await;
    }

    if let Some(policy) = record
        .old_restart_policy
        .clone()
        .filter(recovery::is_restarting)
    {
        let parked = RestartPolicy {
            name: Some(RestartPolicyNameEnum::NO),
            maximum_retry_count: None,
        };
        if let Err(error) = ctx
            .engine
            .set_restart_policy(&record.parked_name, parked)
            .await
        {
            return roll_back(
                ctx,
                record,
                log,
                data,
                format!("cannot park the old container: {error}"),
                false,
            )
            .await;
        }
        tracing::debug!(restart = ?policy.name, "Restart policy of the parked container set to no.");
    }

    log.say(
        Stage::Starting,
        &format!(
            "creating {name} from {}",
            plan.create.image.as_deref().unwrap_or("?")
        ),
    );
    for note in &plan.notes {
        log.say(Stage::Starting, note);
    }
    match ctx.engine.create(&name, plan.create).await {
        Ok(id) => record.new_id = Some(id),
        Err(error) => {
            return roll_back(
                ctx,
                record,
                log,
                data,
                format!("cannot create the new container: {error}"),
                true,
            )
            .await
        }
    }
    if let Err(error) = ctx.journal.advance(record, Step::NewCreated) {
        return roll_back(ctx, record, log, data, format!("journal: {error}"), false).await;
    }
    if let Some(wanted) = &plan.image_id {
        let runs = match ctx.engine.inspect_container(&name).await {
            Ok(created) => created.and_then(|created| created.image),
            Err(error) => Some(error.to_string()),
        };
        if runs.as_deref() != Some(wanted.as_str()) {
            let why = format!("the new container runs {runs:?}, not the checked image {wanted}");
            return roll_back(ctx, record, log, data, why, false).await;
        }
    }
    for (network, settings) in plan.connect {
        if let Err(error) = ctx.engine.connect_network(&network, &name, settings).await {
            return roll_back(
                ctx,
                record,
                log,
                data,
                format!("cannot connect network {network}: {error}"),
                true,
            )
            .await;
        }
    }
    if record.old_was_running {
        if let Some(failed) = start_and_validate(ctx, record, policy, log, data).await {
            return failed;
        }
    } else {
        log.say(
            Stage::Starting,
            "not started: the old container was not running either",
        );
    }
    if let Err(error) = ctx.journal.advance(record, Step::Validated) {
        tracing::warn!(operation = %record.id, %error, "Journal write failed after validation.");
    }
    if let Err(error) = recovery::finish(ctx.engine, record).await {
        log.say(
            Stage::Done,
            &format!("the old container stays as {}: {error}", record.parked_name),
        );
    }
    if let Err(error) = ctx.journal.advance(record, Step::OldRemoved) {
        tracing::warn!(operation = %record.id, %error, "Journal write failed after the swap.");
    }
    Swapped {
        outcome: Outcome::Succeeded,
        message: match record.old_was_running {
            true => format!("{name} runs the new container, validated"),
            false => format!("{name} was recreated and left stopped, as it was"),
        },
        new_failed: false,
        data_restored: None,
        evidence: None,
    }
}

/// Starts the new container and runs the health gate; `Some` when it failed (rolled back).
async fn start_and_validate<E: Engine>(
    ctx: &OperationContext<'_, E>,
    record: &mut Record,
    policy: &HealthPolicy,
    log: &mut Log<'_>,
    data: Option<&BackupFile>,
) -> Option<Swapped> {
    let name = record.container.clone();
    // Journaled before the start: from then on the new version may touch the data, and a
    // rollback (or the recovery after a crash) puts it back.
    record.new_ran = true;
    if let Err(error) = ctx.journal.save(record) {
        record.new_ran = false;
        return Some(roll_back(ctx, record, log, data, format!("journal: {error}"), false).await);
    }
    if let Err(error) = ctx.engine.start(&name).await {
        return Some(
            roll_back(
                ctx,
                record,
                log,
                data,
                format!("cannot start the new container: {error}"),
                true,
            )
            .await,
        );
    }
    if let Err(error) = ctx.journal.advance(record, Step::NewStarted) {
        return Some(roll_back(ctx, record, log, data, format!("journal: {error}"), false).await);
    }

    log.say(Stage::HealthChecking, "waiting for the health gate");
    match health::watch_reporting(ctx.engine, &name, policy).await {
        Ok((Verdict::Healthy(why), _)) => {
            log.say(Stage::HealthChecking, &format!("healthy: {why}"))
        }
        Ok((Verdict::Failed(why), probe_failure)) => {
            let why = format!("the new container {why}");
            return Some(roll_back_after(ctx, record, log, data, why, true, probe_failure).await);
        }
        Ok((Verdict::Pending, probe_failure)) => {
            let why = "no health verdict".to_owned();
            return Some(roll_back_after(ctx, record, log, data, why, true, probe_failure).await);
        }
        Err(error) => {
            return Some(
                roll_back(
                    ctx,
                    record,
                    log,
                    data,
                    format!("health gate: {error}"),
                    false,
                )
                .await,
            )
        }
    }
    None
}

fn refused(message: String) -> Swapped {
    Swapped {
        outcome: Outcome::Refused,
        message,
        new_failed: false,
        data_restored: None,
        evidence: None,
    }
}

/// Puts the old container back after `why`, with its data as it was when the new container
/// ran (it may have migrated it) and the backup has what the policy restores from.
async fn roll_back<E: Engine>(
    ctx: &OperationContext<'_, E>,
    record: &mut Record,
    log: &mut Log<'_>,
    data: Option<&BackupFile>,
    why: String,
    new_failed: bool,
) -> Swapped {
    roll_back_after(ctx, record, log, data, why, new_failed, None).await
}

/// Puts the old container back after `why`, keeping the new one's evidence first when it
/// was at fault.
async fn roll_back_after<E: Engine>(
    ctx: &OperationContext<'_, E>,
    record: &mut Record,
    log: &mut Log<'_>,
    data: Option<&BackupFile>,
    why: String,
    new_failed: bool,
    probe_failure: Option<String>,
) -> Swapped {
    let evidence = match (&record.new_id, new_failed) {
        (Some(new_id), true) => {
            log.say(
                Stage::RollingBack,
                "keeping the new container's logs and health output",
            );
            Some(capture(ctx, new_id, &why, probe_failure).await)
        }
        _ => None,
    };
    log.say(
        Stage::RollingBack,
        &format!("{why}; restoring the old container"),
    );
    let new_ran = record.new_ran || record.step >= Step::NewStarted;
    if let Err(error) = ctx.journal.advance(record, Step::RollingBack) {
        tracing::warn!(operation = %record.id, %error, "Journal write failed while rolling back.");
    }
    let mut data_rollback =
        DataRollback::plan(&ctx.data_settings(), &record.container, data, new_ran);
    let mut say = |line: &str| log.say(Stage::RollingBack, line);
    data_rollback
        .before(
            ctx.engine,
            Some(&record.container),
            &record.parked_name,
            &mut say,
        )
        .await;
    if let Err(error) = recovery::undo(ctx.engine, record).await {
        tracing::error!(operation = %record.id, container = %record.container, %error, "Rollback failed.");
        return Swapped {
            outcome: Outcome::Failed,
            message: format!(
                "{why}; the rollback failed too ({error}); the old container may be parked as {}",
                record.parked_name
            ),
            new_failed,
            data_restored: None,
            evidence,
        };
    }
    data_rollback
        .after(ctx.engine, &record.container, &mut say)
        .await;
    if let Err(error) = ctx.journal.advance(record, Step::RolledBack) {
        tracing::warn!(operation = %record.id, %error, "Journal write failed after rolling back.");
    }
    log.say(Stage::RollingBack, "the old container runs again");
    if let Err(problem) = data_rollback.outcome() {
        log.say(
            Stage::RollingBack,
            &format!("the data was not put back: {problem}"),
        );
    }
    let (outcome, message) = data_rollback.ending(&why);
    Swapped {
        outcome,
        message,
        new_failed,
        data_restored: data_rollback.outcome().ok().flatten(),
        evidence,
    }
}
