//! Enrolled agents: revocation (recorded durably, refused at every later handshake, the live
//! connection closed) and the commands an operator sends a connected agent (ping, collect
//! now), each audited.

use super::audit::{self, AuditAction};
use super::error::DomainError;
use super::hosts::require_known;
use crate::clock::now_ms;
use crate::context::Context;
use crate::domain::actor::Actor;
use crate::transport::hub::CommandError;
use std::sync::Arc;
use std::time::Duration;
use unity_shared::proto::{error_code, AgentId, CollectNow, Ping};

/// How long a command may take before the controller gives up.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(10);

/// Revokes an agent without an audit entry (the operator's CLI); returns whether it was
/// connected. Note that this uses blocking I/O.
pub fn revoke(ctx: &Context, agent_id: &AgentId) -> Result<bool, DomainError> {
    let now = now_ms() / 1000;
    let updated = ctx.store.agents.update_agent(agent_id, |record| {
        record.revoked_at.get_or_insert(now);
    })?;
    if updated.is_none() {
        return Err(DomainError::NotFound(format!(
            "no agent with id {agent_id}; see `unity-controller hosts`"
        )));
    }
    // A retired host's certificates leave the fleet's list.
    ctx.store
        .agents
        .remove_latest(agent_id, crate::storage::agents::StateKind::Certificates)?;
    ctx.store.flush()?;
    ctx.revocations.revoke(agent_id.clone());
    Ok(ctx
        .hub
        .disconnect(agent_id, error_code::REVOKED, "certificate revoked"))
}

/// Revokes a known agent on behalf of `actor`, audited; returns whether it was connected.
/// Note that this uses blocking I/O.
pub fn revoke_audited(
    ctx: &Context,
    actor: &Actor,
    agent_id: &AgentId,
) -> Result<bool, DomainError> {
    require_known(ctx, agent_id)?;
    let was_connected = revoke(ctx, agent_id)?;
    audit::record(ctx, actor, AuditAction::AgentRevoke, agent_id.as_str())?;
    Ok(was_connected)
}

fn command_error(error: CommandError) -> DomainError {
    DomainError::Unavailable(error.to_string())
}

/// Records the command in the audit log before it is sent (off the async threads).
async fn audited(
    ctx: &Arc<Context>,
    actor: &Actor,
    action: AuditAction,
    agent_id: &AgentId,
) -> Result<(), DomainError> {
    audited_target(ctx, actor, action, agent_id.to_string()).await
}

/// Records `action` on `target` in the audit log (off the async threads).
pub(super) async fn audited_target(
    ctx: &Arc<Context>,
    actor: &Actor,
    action: AuditAction,
    target: String,
) -> Result<(), DomainError> {
    let (ctx, actor) = (ctx.clone(), actor.to_owned());
    tokio::task::spawn_blocking(move || audit::record(&ctx, &actor, action, &target))
        .await
        .map_err(|error| DomainError::Internal(format!("blocking task failed: {error}")))?
}

/// Pings a connected agent; returns the round trip in milliseconds.
pub async fn ping(
    ctx: &Arc<Context>,
    actor: &Actor,
    agent_id: &AgentId,
) -> Result<f64, DomainError> {
    audited(ctx, actor, AuditAction::AgentPing, agent_id).await?;
    let started = tokio::time::Instant::now();
    let nonce: u64 = rand::random();
    let pong = ctx
        .hub
        .request(agent_id, Ping { nonce }, COMMAND_TIMEOUT)
        .await
        .map_err(command_error)?;
    if pong.nonce != nonce {
        return Err(DomainError::Unavailable(
            "the agent answered with a wrong nonce".into(),
        ));
    }
    Ok(started.elapsed().as_secs_f64() * 1000.0)
}

/// Asks a connected agent to collect now; returns the sequence number of the report it made.
pub async fn collect_now(
    ctx: &Arc<Context>,
    actor: &Actor,
    agent_id: &AgentId,
) -> Result<u64, DomainError> {
    audited(ctx, actor, AuditAction::AgentCollect, agent_id).await?;
    let collected = ctx
        .hub
        .request(agent_id, CollectNow, COMMAND_TIMEOUT)
        .await
        .map_err(command_error)?;
    Ok(collected.seq)
}
