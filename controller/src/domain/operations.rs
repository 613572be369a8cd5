//! Container operations an operator asks for: update (to the detected candidate or a given
//! image), rollback, restart, backup or restore of one container a host reported, queued for
//! the dispatch loop and audited; and reading operations with their progress and results.

use super::audit::{self, AuditAction};
use super::error::DomainError;
use super::hosts::require_known;
use crate::context::Context;
use crate::domain::actor::Actor;
use crate::storage::agents::StateKind;
use crate::storage::containers::CheckOutcome;
use crate::storage::operations::{OperationKind, OperationRecord};
use crate::updates::dispatch::{self, with_tag, Action, NewOperation};
use crate::updates::effective_policy::{self, PolicyLookupError};
use std::time::Duration;
use unity_shared::model::container::{Container, ContainerInventory};
use unity_shared::model::database_image::major_version_change;
use unity_shared::proto::AgentId;

/// How long an operation waits for an offline agent by default.
pub const DEFAULT_EXPIRY: Duration = Duration::from_secs(24 * 3600);

/// The details an operation request may carry besides its verb.
#[derive(Debug, Clone)]
pub struct OperationRequest {
    /// Updates: the image to pull and run; default: the newest detected candidate.
    pub image: Option<String>,
    /// Updates: apply even if this image failed for this container before.
    pub force: bool,
    /// Restores: the backup's file name, as listed in a backup's result.
    pub backup: Option<String>,
    /// How long to wait for an offline agent.
    pub expires_in: Duration,
}

impl Default for OperationRequest {
    fn default() -> Self {
        OperationRequest {
            image: None,
            force: false,
            backup: None,
            expires_in: DEFAULT_EXPIRY,
        }
    }
}

/// Parses the operation a path names: `update`, `rollback`, `restart`, `backup` or
/// `restore`.
pub fn parse_kind(verb: &str) -> Result<OperationKind, DomainError> {
    OperationKind::parse(verb).ok_or_else(|| {
        DomainError::NotFound(format!(
            "no container operation {verb:?}: update, rollback, restart, backup or restore"
        ))
    })
}

/// The action of `kind`, with the request's details.
fn action_of(
    ctx: &Context,
    kind: OperationKind,
    agent_id: &AgentId,
    running: &Container,
    request: &OperationRequest,
) -> Result<Action, DomainError> {
    let container = running.name.as_str();
    Ok(match kind {
        OperationKind::Update => {
            let check = ctx.store.containers.check(agent_id, container)?;
            let detected = match check.as_ref().map(|check| &check.outcome) {
                Some(CheckOutcome::Update(update)) => Some(update),
                _ => None,
            };
            let image = match (&request.image, detected, &check) {
                (Some(image), _, _) => image.clone(),
                (None, Some(update), Some(check)) => with_tag(&check.image, &update.candidate_tag),
                _ => {
                    return Err(DomainError::Conflict(format!(
                        "no update is known for {container}; check for updates or pass \"image\""
                    )))
                }
            };
            // A database's major version changes only by hand, and only with force.
            let current = check
                .as_ref()
                .map_or(running.image.as_str(), |check| &check.image);
            if let (Some(change), false) = (major_version_change(current, &image), request.force) {
                return Err(DomainError::Conflict(format!(
                    "{}; this update is applied only with force",
                    change.reason()
                )));
            }
            let digest = match (&request.image, detected) {
                (None, Some(update)) => Some(update.candidate_digest.clone()),
                _ => None,
            };
            let policy = match effective_policy::of(ctx, agent_id, running) {
                Ok(policy) => policy,
                Err(PolicyLookupError::Invalid(error)) => {
                    return Err(DomainError::Conflict(format!("update policy: {error}")))
                }
                Err(PolicyLookupError::Storage(error)) => return Err(error.into()),
            };
            Action::Update {
                image,
                digest,
                force: request.force,
                probe: policy.probe,
                // A manual update is applied whatever the scans show; the result says.
                gate: policy.vulnerabilities.map(|threshold| {
                    unity_shared::model::scan::VulnerabilityGate {
                        threshold,
                        automatic: false,
                    }
                }),
            }
        }
        // "Roll back" goes to the version before the last successful update: the backup that
        // update took. The agent's own `Rollback` restores its newest backup, which after a
        // failed (and rolled back) update is the version already running; it is used only
        // when no successful update with a backup is known.
        OperationKind::Rollback => {
            match crate::updates::current::rollback_backup(ctx, agent_id, container)? {
                Some(backup) => Action::Restore { backup },
                None => Action::Rollback,
            }
        }
        OperationKind::Restart => Action::Restart,
        OperationKind::Backup => Action::Backup,
        OperationKind::Restore => Action::Restore {
            backup: request.backup.clone().ok_or_else(|| {
                DomainError::Invalid("restore needs \"backup\": a backup's file name".into())
            })?,
        },
    })
}

/// Queues an operation on a container the host reported, on behalf of `actor`. Note that this
/// uses blocking I/O.
pub fn submit(
    ctx: &Context,
    actor: &Actor,
    agent_id: &AgentId,
    container: &str,
    kind: OperationKind,
    request: &OperationRequest,
) -> Result<OperationRecord, DomainError> {
    require_known(ctx, agent_id)?;
    let inventory: Option<(i64, ContainerInventory)> =
        ctx.store.agents.latest(agent_id, StateKind::Containers)?;
    let running = inventory
        .as_ref()
        .and_then(|(_, inventory)| inventory.containers.iter().find(|c| c.name == container));
    let Some(running) = running else {
        return Err(DomainError::NotFound(format!(
            "host {agent_id} has reported no container named {container:?}"
        )));
    };
    let action = action_of(ctx, kind, agent_id, running, request)?;
    let from_image = Some(match running.repo_digests.first() {
        Some(digest) => format!("{} ({digest})", running.image),
        None => running.image.clone(),
    });
    let record = dispatch::submit(
        ctx,
        NewOperation {
            agent_id: agent_id.clone(),
            container: container.to_owned(),
            action,
            requested_by: actor.to_string(),
            expires_in: request.expires_in,
            from_image,
        },
    )
    .map_err(DomainError::internal)?;
    audit::record(
        ctx,
        actor,
        AuditAction::Container(kind),
        &format!("{agent_id}/{container}"),
    )?;
    Ok(record)
}

/// The newest `limit` operations, of one host or all. Note that this uses blocking I/O.
pub fn recent(
    ctx: &Context,
    agent_id: Option<&str>,
    limit: usize,
) -> Result<Vec<OperationRecord>, DomainError> {
    Ok(ctx.store.operations.recent(agent_id, limit)?)
}

/// One operation. Note that this uses blocking I/O.
pub fn get(ctx: &Context, id: &str) -> Result<OperationRecord, DomainError> {
    ctx.store
        .operations
        .get(id)?
        .ok_or_else(|| DomainError::NotFound(format!("no operation {id}")))
}

/// The host of an operation or agent update (for the route guard). Note that this uses
/// blocking I/O.
pub fn host_of(ctx: &Context, id: &str) -> Result<AgentId, DomainError> {
    if let Some(update) = ctx.store.agent_updates.get(id)? {
        return Ok(update.agent_id);
    }
    get(ctx, id).map(|record| record.agent_id)
}
