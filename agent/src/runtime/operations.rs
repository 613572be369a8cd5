//! Container operations from the controller (update, rollback, restart, backup, restore): run
//! by [`crate::update`] against the configured engine, with every progress line sent back on
//! the command stream as it happens and the result last. At start, operations a previous run
//! left half done are finished or undone ([`recover_at_start`]).

use super::state::AgentState;
use crate::collect::containers::socket::{connect, resolve_socket};
use crate::update::{self, Bollard, Journal, OperationContext};
use std::sync::Arc;
use tokio::sync::mpsc;
use unity_shared::model::update::{CommandResult, ContainerCommand, Progress, Stage};
use unity_shared::proto::CommandResponse;
use unity_shared::wire;

/// The biggest progress or result frame sent (results carry the whole log).
const MAX_FRAME: usize = unity_shared::proto::frame::MAX_COMMAND_RESPONSE_FRAME_LEN;

/// The engine the container collector uses.
async fn engine(state: &AgentState) -> Result<Bollard, String> {
    let settings = &state.config.containers;
    let socket = resolve_socket(&settings.socket).map_err(|error| error.to_string())?;
    let client = connect(&socket, settings.timeout)
        .await
        .map_err(|error| error.to_string())?;
    Ok(Bollard::new(client))
}

/// Runs one command, handing each progress line to `progress`.
async fn run(
    state: &Arc<AgentState>,
    command: &ContainerCommand,
    progress: impl FnMut(Stage, &str) + Send,
) -> CommandResult {
    let Some(journal) = state.update_journal.as_ref() else {
        return update::executor::refused(
            command,
            "container operations are unavailable: the update journal could not be opened".into(),
        );
    };
    let bollard = match engine(state).await {
        Ok(bollard) => bollard,
        Err(error) => {
            return update::executor::refused(command, format!("no container engine: {error}"))
        }
    };
    let mut ctx = OperationContext::new(&bollard, journal, &state.config.data_dir);
    ctx.keep_old_image = state.config.containers.keep_old_image;
    ctx.keep_backups = state.config.containers.keep_backups;
    ctx.backup_max_bytes = Some(state.config.containers.backup_max_bytes);
    ctx.data_restore = update::data_restore::Policy::parse(&state.config.containers.data_restore)
        .unwrap_or_default();
    ctx.failed_image_retention = state.config.containers.failed_image_retention;
    ctx.backup_env_exclude
        .clone_from(&state.config.containers.backup_env_exclude);
    ctx.scan = super::scans::settings(&state.config);
    let result = update::execute(&ctx, command, progress).await;
    if matches!(command, ContainerCommand::Update(request) if request.vulnerability_gate.is_some())
    {
        super::scans::report(state, &ctx.scan).await;
    }
    result
}

/// Answers a container command on its stream: progress frames, then the result.
pub(crate) async fn answer(
    state: Arc<AgentState>,
    command: ContainerCommand,
    send: &mut quinn::SendStream,
) {
    let (progress_tx, mut progress_rx) = mpsc::unbounded_channel::<Progress>();
    let id = command.id().clone();
    let operation = {
        let state = state.clone();
        async move {
            let sender_id = id.clone();
            run(&state, &command, move |stage, message| {
                let _ = progress_tx.send(Progress {
                    id: sender_id.clone(),
                    stage,
                    message: message.to_owned(),
                });
            })
            .await
        }
    };
    // The operation runs to its end even if the controller goes away: a lost stream only
    // stops the progress frames (the controller asks again and gets the stored result).
    let task = tokio::spawn(operation);
    let mut stream_open = true;
    while let Some(progress) = progress_rx.recv().await {
        if stream_open {
            let frame = CommandResponse::ContainerProgress(progress);
            if let Err(error) = wire::write(send, &frame, MAX_FRAME).await {
                tracing::debug!(%error, "Progress frame not delivered; the operation goes on.");
                stream_open = false;
            }
        }
    }
    let result = match task.await {
        Ok(result) => result,
        Err(error) => {
            tracing::error!(%error, "A container operation task failed.");
            return;
        }
    };
    tracing::info!(
        operation = %result.id,
        container = %result.container,
        outcome = ?result.outcome,
        "Container operation ended."
    );
    if stream_open {
        let frame = CommandResponse::ContainerResult(Box::new(result));
        if let Err(error) = wire::write(send, &frame, MAX_FRAME).await {
            tracing::debug!(%error, "Result frame not delivered; the controller will ask again.");
        }
    }
}

/// Finishes or undoes operations a previous run left half done (the agent was killed or the
/// host rebooted mid-update), so a container is never left missing.
pub(crate) async fn recover_at_start(state: Arc<AgentState>) {
    if !state.config.containers.enabled {
        return;
    }
    let Some(journal) = state.update_journal.as_ref() else {
        return;
    };
    let unfinished = match journal.unfinished() {
        Ok(unfinished) => unfinished,
        Err(error) => {
            tracing::warn!(%error, "Reading the update journal failed.");
            return;
        }
    };
    if unfinished.is_empty() {
        return;
    }
    let bollard = match engine(&state).await {
        Ok(bollard) => bollard,
        Err(error) => {
            tracing::warn!(%error, "Cannot recover interrupted container operations yet: no engine.");
            return;
        }
    };
    // The data goes back as the interrupted operation's own rollback would have put it.
    let settings = update::data_rollback::Settings {
        data_dir: &state.config.data_dir,
        policy: update::data_restore::Policy::parse(&state.config.containers.data_restore)
            .unwrap_or_default(),
        stop_grace: std::time::Duration::from_secs(10),
    };
    match update::recover(&bollard, journal, &settings).await {
        Ok(results) => {
            for result in results {
                tracing::warn!(
                    operation = %result.id,
                    container = %result.container,
                    outcome = ?result.outcome,
                    message = %result.message,
                    "Recovered an interrupted container operation."
                );
            }
        }
        Err(error) => tracing::error!(%error, "Recovering container operations failed."),
    }
}

/// Opens the journal under the agent's data directory; `None` (logged) when it cannot.
pub(crate) fn open_journal(data_dir: &std::path::Path) -> Option<Journal> {
    match Journal::open(data_dir) {
        Ok(journal) => Some(journal),
        Err(error) => {
            tracing::error!(%error, "Opening the container update journal failed.");
            None
        }
    }
}

/// How often the failed candidate images are looked at (their retention is days).
const FAILED_IMAGES_EVERY: std::time::Duration = std::time::Duration::from_secs(3600);

/// Removes failed candidate images whose retention is over: at start, then hourly (and after
/// every update, in the executor), until shutdown.
pub(crate) async fn failed_images_loop(
    state: Arc<AgentState>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    if !state.config.containers.enabled {
        return;
    }
    loop {
        let pending = update::failed_images::load(&state.config.data_dir)
            .map(|images| !images.is_empty())
            .unwrap_or(true);
        if pending {
            match engine(&state).await {
                Ok(bollard) => {
                    let now = u64::try_from(crate::clock::now_ms()).unwrap_or(0);
                    let dir = &state.config.data_dir;
                    if let Err(error) = update::failed_images::prune(&bollard, dir, now).await {
                        tracing::warn!(%error, "Cannot prune failed candidate images.");
                    }
                }
                Err(error) => tracing::debug!(%error, "No engine to prune failed images with."),
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(FAILED_IMAGES_EVERY) => {}
            _ = shutdown.changed() => return,
        }
    }
}
