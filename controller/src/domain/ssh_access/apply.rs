//! Sending each host its desired keys and keeping the answer: [`push`] computes the host's
//! [`ApplySshAccess`] (the generation grows when the keys change), sends it through the hub,
//! stores the agent's [`SshAccessApplied`] and audits what was written, removed, restored or
//! found edited. [`spawn`] runs the loop: after every change, every `[ssh]
//! reconcile_interval` (which is how drift is found), when a grant expires and when an agent
//! connects. `drift::restore` and `drift::adopt` are the owner's two answers to drift.

use super::desired;
use super::events::SshAccessEvent;
use super::views::{self, HostAccessView};
use crate::clock::now_ms;
use crate::context::Context;
use crate::domain::actor::Actor;
use crate::domain::audit::{self, AuditAction};
use crate::domain::error::DomainError;
use crate::storage::ssh_access::{AdoptedLines, AppliedRecord, SshHostRecord};
use crate::transport::hub::CommandError;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use unity_shared::model::ssh::{
    AccessOutcome, ApplySshAccess, DriftAction, SshAccessApplied, UserKeys,
};
use unity_shared::proto::{AgentId, CommandResponse};

/// How long an agent may take to write its users' keys.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// How often the loop looks for new connections and changes.
const TICK: Duration = Duration::from_secs(1);

/// Changes to people, keys, grants or host settings so far (the loop sends when it moves).
static CHANGES: AtomicU64 = AtomicU64::new(0);
static WAKE: tokio::sync::Notify = tokio::sync::Notify::const_new();

/// Something the desired keys depend on changed: send soon.
pub fn changed() {
    CHANGES.fetch_add(1, Ordering::SeqCst);
    WAKE.notify_waiters();
}

pub(super) async fn blocking<T: Send + 'static>(
    ctx: &Arc<Context>,
    work: impl FnOnce(&Context) -> Result<T, DomainError> + Send + 'static,
) -> Result<T, DomainError> {
    let ctx = ctx.clone();
    tokio::task::spawn_blocking(move || work(&ctx))
        .await
        .map_err(|error| DomainError::Internal(format!("blocking task failed: {error}")))?
}

/// Starts the loop; the task runs until aborted.
pub fn spawn(ctx: Arc<Context>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let interval = ctx.config.ssh.reconcile_interval;
        let mut seen_changes = None;
        let mut last_full: Option<Instant> = None;
        let mut next_expiry: Option<i64> = None;
        let mut connected: BTreeSet<AgentId> = BTreeSet::new();
        loop {
            let changes = CHANGES.load(Ordering::SeqCst);
            let now_connected: BTreeSet<AgentId> =
                ctx.hub.snapshot().into_iter().map(|(id, _)| id).collect();
            let full = seen_changes != Some(changes)
                || last_full.is_none_or(|at| at.elapsed() >= interval)
                || next_expiry.is_some_and(|at| now_ms() >= at);
            let targets: Vec<AgentId> = if full {
                now_connected.iter().cloned().collect()
            } else {
                now_connected.difference(&connected).cloned().collect()
            };
            if full {
                seen_changes = Some(changes);
                last_full = Some(Instant::now());
                next_expiry = blocking(&ctx, |ctx| {
                    Ok(desired::next_expiry(
                        &ctx.store.ssh_access.grants()?,
                        now_ms(),
                    ))
                })
                .await
                .unwrap_or(None);
            }
            connected = now_connected;
            let mut pushes = tokio::task::JoinSet::new();
            for agent_id in targets {
                let ctx = ctx.clone();
                pushes.spawn(async move {
                    if let Err(error) = push(&ctx, &agent_id, None).await {
                        tracing::warn!(host = %agent_id, %error, "Managed SSH keys not applied.");
                    }
                });
            }
            while pushes.join_next().await.is_some() {}
            tokio::select! {
                () = tokio::time::sleep(TICK) => {}
                () = WAKE.notified() => {}
            }
        }
    })
}

/// The host groups `agent_id` is in now.
fn groups_of(ctx: &Context, agent_id: &AgentId) -> Result<BTreeSet<String>, DomainError> {
    Ok(crate::domain::groups::host_groups(ctx)?
        .into_iter()
        .filter(|group| group.members.contains(agent_id))
        .map(|group| group.name)
        .collect())
}

/// The desired keys of `agent_id` now; `with_adopted: false` leaves adopted lines out.
pub(super) fn desired_users(
    ctx: &Context,
    agent_id: &AgentId,
    record: &SshHostRecord,
    with_adopted: bool,
) -> Result<Vec<UserKeys>, DomainError> {
    let adopted: &[AdoptedLines] = if with_adopted { &record.adopted } else { &[] };
    Ok(desired::user_keys(
        &ctx.store.ssh_access.people()?,
        &ctx.store.ssh_access.grants()?,
        agent_id,
        &groups_of(ctx, agent_id)?,
        adopted,
        now_ms(),
    ))
}

/// The command for `agent_id`, its generation moved on when the keys changed.
fn prepare(
    ctx: &Context,
    agent_id: &AgentId,
    on_drift: Option<DriftAction>,
) -> Result<ApplySshAccess, DomainError> {
    let record = ctx.store.ssh_access.host(agent_id)?;
    let users = desired_users(ctx, agent_id, &record, true)?;
    let fingerprint = desired::fingerprint(&users);
    let restore_requested = record.restore_requested;
    let record = ctx.store.ssh_access.update_host(agent_id, |record| {
        if record.desired_fingerprint != fingerprint {
            record.generation += 1;
            record.desired_fingerprint.clone_from(&fingerprint);
        }
        record.restore_requested = false;
    })?;
    let requested = restore_requested.then_some(DriftAction::Restore);
    Ok(ApplySshAccess {
        generation: record.generation,
        mode: record.mode,
        on_drift: on_drift.or(requested).unwrap_or(record.on_drift),
        users,
    })
}

/// Sends `agent_id` its desired keys (with `on_drift` instead of the host's policy, if
/// given) and stores and audits the answer.
pub async fn push(
    ctx: &Arc<Context>,
    agent_id: &AgentId,
    on_drift: Option<DriftAction>,
) -> Result<HostAccessView, DomainError> {
    let id = agent_id.clone();
    let command = blocking(ctx, move |ctx| prepare(ctx, &id, on_drift)).await?;
    let generation = command.generation;
    let answer = match ctx.hub.request(agent_id, command, REQUEST_TIMEOUT).await {
        Ok(applied) => Ok(applied),
        Err(CommandError::Refused(CommandResponse::Failed { message })) => Err(message),
        Err(CommandError::Offline(_)) => {
            return Err(DomainError::Unavailable(format!(
                "{agent_id} is not connected"
            )))
        }
        Err(other) => Err(other.to_string()),
    };
    let id = agent_id.clone();
    blocking(ctx, move |ctx| record_answer(ctx, &id, generation, answer)).await
}

/// Stores the agent's answer and audits each user's outcome (drift and failures only when
/// they are new, so the reconcile interval does not flood the log).
fn record_answer(
    ctx: &Context,
    agent_id: &AgentId,
    generation: u64,
    answer: Result<SshAccessApplied, String>,
) -> Result<HostAccessView, DomainError> {
    let previous = ctx.store.ssh_access.host(agent_id)?.applied;
    let applied = match answer {
        Ok(applied) => AppliedRecord {
            at_ms: now_ms(),
            generation: applied.generation,
            users: applied.users,
            error: None,
        },
        Err(message) => AppliedRecord {
            at_ms: now_ms(),
            generation,
            users: previous
                .as_ref()
                .map(|p| p.users.clone())
                .unwrap_or_default(),
            error: Some(message),
        },
    };
    let actor = Actor::Agent(agent_id.clone());
    for user in &applied.users {
        let before = previous
            .as_ref()
            .and_then(|p| p.users.iter().find(|old| old.user == user.user))
            .map(|old| &old.outcome);
        let target = format!("{}@{agent_id}", user.user);
        let event = match &user.outcome {
            AccessOutcome::Unchanged => None,
            AccessOutcome::Written { keys } => Some((
                SshAccessEvent::KeysWritten,
                format!("{target} ({keys} keys)"),
            )),
            AccessOutcome::Removed => Some((SshAccessEvent::KeysRemoved, target)),
            AccessOutcome::Restored { found } => Some((
                SshAccessEvent::KeysRestored,
                format!("{target} ({} hand-edited lines replaced)", found.len()),
            )),
            outcome @ AccessOutcome::Drift { found } => (before != Some(outcome)).then(|| {
                (
                    SshAccessEvent::DriftFound,
                    format!("{target} ({} lines found)", found.len()),
                )
            }),
            outcome @ AccessOutcome::Failed { message } => (before != Some(outcome))
                .then(|| (SshAccessEvent::KeysFailed, format!("{target}: {message}"))),
        };
        if let Some((event, target)) = event {
            audit::record(ctx, &actor, AuditAction::SshAccess(event), &target)?;
        }
    }
    let record = ctx.store.ssh_access.update_host(agent_id, |record| {
        record.applied = Some(applied.clone());
    })?;
    Ok(views::host(agent_id, &record))
}

/// Every enrolled host's settings and last answer. Note that this uses blocking I/O.
pub fn status(ctx: &Context) -> Result<Vec<HostAccessView>, DomainError> {
    let mut views = Vec::new();
    for agent in ctx.store.agents.agents()? {
        let record = ctx.store.ssh_access.host(&agent.agent_id)?;
        views.push(views::host(&agent.agent_id, &record));
    }
    Ok(views)
}
