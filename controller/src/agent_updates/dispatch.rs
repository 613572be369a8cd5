//! Agent updates, controller side (the shell around `confirm.rs`): an update is stored as
//! queued, sent when its agent is connected (the signed manifest in `UpdateAgent`, the build's
//! bytes from the store after it), the agent's answer stored, and the loop ends updates whose
//! new process did not come back by their deadline. A stream lost before the answer puts the
//! update back in the queue (the agent refuses a second install of the version it runs, and
//! a hello with the new version ends the update as succeeded).

use super::confirm::{self, Verdict};
use crate::clock::now_ms;
use crate::context::Context;
use crate::storage::agent_builds::BuildStore;
use crate::storage::agent_updates::{AgentUpdateEvent, AgentUpdateRecord, AgentUpdateState};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use unity_shared::model::agent_build::UpdateAgent;
use unity_shared::proto::AgentId;

/// How often the loop looks at unfinished updates.
const POLL: Duration = Duration::from_secs(1);
/// The longest one delivery may take (a build of up to 256 MiB, checked by the agent).
const SEND_TIMEOUT: Duration = Duration::from_secs(600);

/// The build store in the controller's data directory.
pub fn build_store(ctx: &Context) -> BuildStore {
    BuildStore::new(ctx.config.data_dir.join("agent-builds"))
}

/// An update to queue.
#[derive(Debug, Clone)]
pub struct NewAgentUpdate {
    pub agent_id: AgentId,
    pub requested_by: String,
    /// The store's name of the build and what its manifest says.
    pub build: String,
    pub to_version: String,
    pub arch: String,
    pub kind: String,
    pub from_version: String,
    pub rollback: bool,
    pub confirm_within_secs: u32,
    /// A queued update not started within this fails as expired.
    pub expires_in: Duration,
}

fn new_id() -> String {
    format!("{:013x}-{:08x}", now_ms().max(0), rand::random::<u32>())
}

/// Stores a queued update; `Err(id)` when the agent has an unfinished one. Note that this
/// uses blocking I/O.
pub fn submit(
    ctx: &Context,
    new: NewAgentUpdate,
) -> anyhow::Result<Result<AgentUpdateRecord, String>> {
    let now = now_ms();
    let record = AgentUpdateRecord {
        id: new_id(),
        agent_id: new.agent_id,
        requested_by: new.requested_by,
        requested_at_ms: now,
        expires_at_ms: now.saturating_add(new.expires_in.as_millis() as i64),
        build: new.build,
        from_version: new.from_version,
        to_version: new.to_version,
        arch: new.arch,
        kind: new.kind,
        rollback: new.rollback,
        confirm_within_secs: new.confirm_within_secs,
        state: AgentUpdateState::Queued,
        started_at_ms: None,
        restarting_at_ms: None,
        confirm_by_ms: None,
        finished_at_ms: None,
        result: None,
        message: None,
        attempts: 0,
        events: vec![AgentUpdateEvent {
            at_ms: now,
            message: "queued".into(),
        }],
    };
    Ok(ctx.store.agent_updates.insert(&record)?.map(|()| record))
}

/// Stores `verdict` on the update if it is still in `state` (the hello or the loop may have
/// moved it meanwhile).
fn store_verdict(ctx: &Context, id: &str, state: AgentUpdateState, verdict: &Verdict) {
    let now = now_ms();
    let stored = ctx.store.agent_updates.update(id, |record| {
        if record.state == state {
            confirm::apply(record, verdict, now);
        }
    });
    if let Err(error) = stored {
        tracing::error!(operation = %id, %error, "Storing an agent update failed.");
    }
}

/// Reads the build, marks the update as sending. Note that this uses blocking I/O.
fn prepare(
    ctx: &Context,
    record: &AgentUpdateRecord,
) -> anyhow::Result<(UpdateAgent, std::path::PathBuf, u64)> {
    let store = build_store(ctx);
    let build = store.read(&record.build)?;
    store.verify(&build)?;
    let now = now_ms();
    ctx.store.agent_updates.update(&record.id, |record| {
        record.state = AgentUpdateState::Sending;
        record.started_at_ms = record.started_at_ms.or(Some(now));
        record.attempts += 1;
        record.events.push(AgentUpdateEvent {
            at_ms: now,
            message: format!(
                "sending {} ({} bytes), attempt {}",
                record.build, build.manifest.size, record.attempts
            ),
        });
    })?;
    let request = UpdateAgent {
        manifest: build.signed.clone(),
        allow_downgrade: record.rollback,
        confirm_within_secs: record.confirm_within_secs,
    };
    Ok((request, build.path, build.manifest.size))
}

async fn send(ctx: Arc<Context>, record: AgentUpdateRecord) {
    let id = record.id.clone();
    let prepared = {
        let ctx = ctx.clone();
        let record = record.clone();
        tokio::task::spawn_blocking(move || prepare(&ctx, &record)).await
    };
    let (request, path, size) = match prepared {
        Ok(Ok(prepared)) => prepared,
        Ok(Err(error)) => {
            let verdict = Verdict::Finish {
                result: crate::storage::agent_updates::AgentUpdateResult::Failed,
                message: format!("the build cannot be sent: {error:#}"),
            };
            store_verdict(&ctx, &id, AgentUpdateState::Queued, &verdict);
            return;
        }
        Err(error) => {
            tracing::error!(operation = %id, %error, "Preparing an agent update failed.");
            return;
        }
    };
    tracing::info!(operation = %id, agent = %record.agent_id, build = %record.build, "Sending an agent build.");
    let answer = match tokio::fs::File::open(&path).await {
        Ok(file) => {
            ctx.hub
                .agent_update(&record.agent_id, request, file, size, SEND_TIMEOUT)
                .await
        }
        Err(error) => Err(crate::transport::hub::CommandError::BuildRead(error)),
    };
    let ctx_blocking = ctx.clone();
    let stored = tokio::task::spawn_blocking(move || match answer {
        Ok(outcome) => {
            tracing::info!(operation = %id, ?outcome, "The agent answered the update.");
            let verdict = confirm::on_answer(&record, &outcome, now_ms());
            store_verdict(&ctx_blocking, &id, AgentUpdateState::Sending, &verdict);
        }
        Err(crate::transport::hub::CommandError::Unsupported(reason)) => {
            let verdict = Verdict::Finish {
                result: crate::storage::agent_updates::AgentUpdateResult::Failed,
                message: reason,
            };
            store_verdict(&ctx_blocking, &id, AgentUpdateState::Sending, &verdict);
        }
        Err(error) => {
            tracing::warn!(operation = %id, %error, "Agent update interrupted; queued again.");
            let now = now_ms();
            let stored = ctx_blocking.store.agent_updates.update(&id, |record| {
                if record.state == AgentUpdateState::Sending {
                    record.state = AgentUpdateState::Queued;
                    record.message = Some(error.to_string());
                    record.events.push(AgentUpdateEvent {
                        at_ms: now,
                        message: format!("interrupted: {error}"),
                    });
                }
            });
            if let Err(error) = stored {
                tracing::error!(%error, "Storing an agent update failed.");
            }
        }
    })
    .await;
    if let Err(error) = stored {
        tracing::error!(%error, "Storing an agent update's answer failed.");
    }
}

/// One look at every unfinished update: expire, give up, end past deadlines, send.
async fn tick(ctx: &Arc<Context>, running: &Arc<Mutex<HashSet<String>>>) -> anyhow::Result<()> {
    let store_ctx = ctx.clone();
    let unfinished =
        tokio::task::spawn_blocking(move || store_ctx.store.agent_updates.unfinished()).await??;
    let now = now_ms();
    for record in unfinished {
        let busy = running
            .lock()
            .map(|running| running.contains(&record.id))
            .unwrap_or(true);
        if busy {
            continue;
        }
        let connected = ctx.hub.is_connected(&record.agent_id);
        match confirm::on_tick(&record, now, connected) {
            Verdict::Wait => {}
            Verdict::Send => {
                if let Ok(mut running) = running.lock() {
                    running.insert(record.id.clone());
                }
                let ctx = ctx.clone();
                let running = running.clone();
                tokio::spawn(async move {
                    let id = record.id.clone();
                    send(ctx, record).await;
                    if let Ok(mut running) = running.lock() {
                        running.remove(&id);
                    }
                });
            }
            verdict => {
                let ctx = ctx.clone();
                let state = record.state;
                tokio::task::spawn_blocking(move || {
                    store_verdict(&ctx, &record.id, state, &verdict)
                })
                .await?;
            }
        }
    }
    Ok(())
}

/// The agent-update loop, spawned by the service.
pub fn spawn(ctx: Arc<Context>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let running = Arc::new(Mutex::new(HashSet::new()));
        loop {
            if let Err(error) = tick(&ctx, &running).await {
                tracing::warn!(error = format!("{error:#}"), "Agent update loop failed.");
            }
            tokio::time::sleep(POLL).await;
        }
    })
}
