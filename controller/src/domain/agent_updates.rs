//! Updating an agent from the controller, as operators ask for it (issue 20 §2,
//! docs/agent-updates.md): the host named by id or hostname, the build chosen for its
//! architecture and install kind (`agent_updates::choose`), queued for the agent-update loop
//! and audited; and reading updates back. The CLI, the API and the dashboard all come here.

use super::audit::{self, AuditAction};
use super::error::DomainError;
use crate::agent_updates::build_for::{self, UpdateTerms};
use crate::agent_updates::choose::Wanted;
use crate::agent_updates::dispatch;
use crate::context::Context;
use crate::domain::actor::Actor;
use crate::storage::agent_updates::AgentUpdateRecord;
use std::time::Duration;
use unity_shared::proto::AgentId;

/// How long the new process has to reach the controller by default.
pub const DEFAULT_CONFIRM_WITHIN: Duration = Duration::from_secs(300);
/// The agent refuses deadlines under this (it waits at least 10 s).
pub const MIN_CONFIRM_WITHIN: Duration = Duration::from_secs(10);
/// How long an update waits for an offline agent by default.
pub const DEFAULT_EXPIRY: Duration = Duration::from_secs(24 * 3600);

/// What an operator asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentUpdateRequest {
    /// Exactly this version; default: the newest build for the host.
    pub version: Option<String>,
    /// Go back to an older version (the newest older one by default).
    pub rollback: bool,
    pub confirm_within: Duration,
    pub expires_in: Duration,
}

impl Default for AgentUpdateRequest {
    fn default() -> Self {
        AgentUpdateRequest {
            version: None,
            rollback: false,
            confirm_within: DEFAULT_CONFIRM_WITHIN,
            expires_in: DEFAULT_EXPIRY,
        }
    }
}

/// Reads a confirmation deadline such as `30s`, `5m` (at least [`MIN_CONFIRM_WITHIN`]).
pub fn parse_confirm_within(text: &str) -> Result<Duration, DomainError> {
    let within = humantime::parse_duration(text.trim()).map_err(|_| {
        DomainError::Invalid(format!(
            "bad confirm_within {text:?}: expected a duration such as 30s or 5m"
        ))
    })?;
    if within < MIN_CONFIRM_WITHIN {
        return Err(DomainError::Invalid(format!(
            "confirm_within {text:?}: at least {} s",
            MIN_CONFIRM_WITHIN.as_secs()
        )));
    }
    Ok(within)
}

/// The agent a caller names: its id, or the hostname of exactly one agent. Note that this
/// uses blocking I/O.
pub fn resolve_host(ctx: &Context, text: &str) -> Result<AgentId, DomainError> {
    if let Ok(agent_id) = AgentId::new(text) {
        if ctx.store.agents.agent(&agent_id)?.is_some() {
            return Ok(agent_id);
        }
    }
    let mut named: Vec<AgentId> = ctx
        .store
        .agents
        .agents()?
        .into_iter()
        .filter(|record| record.hostname == text)
        .map(|record| record.agent_id)
        .collect();
    match named.len() {
        1 => Ok(named.remove(0)),
        0 => Err(DomainError::NotFound(format!("no host {text:?}"))),
        n => Err(DomainError::Invalid(format!(
            "{n} hosts are named {text:?}; name one by its agent id"
        ))),
    }
}

/// Chooses the build for `agent_id`, queues the update and audits it. Note that this uses
/// blocking I/O.
pub fn submit(
    ctx: &Context,
    actor: &Actor,
    agent_id: &AgentId,
    request: &AgentUpdateRequest,
) -> Result<AgentUpdateRecord, DomainError> {
    let agent = super::hosts::require_known(ctx, agent_id)?;
    if agent.revoked_at.is_some() {
        return Err(DomainError::Conflict(format!("host {agent_id} is revoked")));
    }
    if request.confirm_within < MIN_CONFIRM_WITHIN {
        return Err(DomainError::Invalid(format!(
            "the confirmation deadline is at least {} s",
            MIN_CONFIRM_WITHIN.as_secs()
        )));
    }
    let builds = build_for::candidates(ctx).map_err(DomainError::internal)?;
    let wanted = Wanted {
        version: request.version.clone(),
        rollback: request.rollback,
    };
    let terms = UpdateTerms {
        requested_by: actor.to_string(),
        confirm_within: request.confirm_within,
        expires_in: request.expires_in,
    };
    let new = build_for::new_update(&agent, &builds, &wanted, &terms)
        .map_err(|no_build| DomainError::Conflict(no_build.to_string()))?;
    let record = dispatch::submit(ctx, new)
        .map_err(DomainError::internal)?
        .map_err(|existing| {
            DomainError::Conflict(format!(
                "host {agent_id} has an unfinished agent update (operation {existing})"
            ))
        })?;
    audit::record(
        ctx,
        actor,
        AuditAction::AgentUpdate,
        &format!(
            "{agent_id} {} -> {} ({}, operation {})",
            record.from_version, record.to_version, record.build, record.id
        ),
    )?;
    Ok(record)
}

/// The newest `limit` agent updates, of one host or all. Note that this uses blocking I/O.
pub fn recent(
    ctx: &Context,
    agent_id: Option<&str>,
    limit: usize,
) -> Result<Vec<AgentUpdateRecord>, DomainError> {
    Ok(ctx.store.agent_updates.recent(agent_id, limit)?)
}

/// One agent update, `None` when no agent update has this id. Note that this uses blocking
/// I/O.
pub fn find(ctx: &Context, id: &str) -> Result<Option<AgentUpdateRecord>, DomainError> {
    Ok(ctx.store.agent_updates.get(id)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confirmation_deadlines_are_durations_of_at_least_ten_seconds() {
        assert_eq!(
            parse_confirm_within("30s").unwrap(),
            Duration::from_secs(30)
        );
        assert_eq!(parse_confirm_within("5m").unwrap(), DEFAULT_CONFIRM_WITHIN);
        assert!(matches!(
            parse_confirm_within("5s"),
            Err(DomainError::Invalid(_))
        ));
        assert!(matches!(
            parse_confirm_within("soon"),
            Err(DomainError::Invalid(_))
        ));
    }
}
