//! Hand edits of managed keys and the owner's two answers: [`list`] shows each drifted user
//! with what the block holds against what Unity expects; restoring writes Unity's keys back
//! (once, whatever the host's policy), adopting keeps the lines no grant gives as adopted lines
//! of that user on that host, and clearing drops such adopted lines again (the next apply
//! takes them out). The `request_*` and [`clear_adopted`] forms only record the wish and wake
//! the loop (the CLI's, which has no async runtime at hand); [`restore`], [`adopt`] and
//! [`clear`] also send at once and answer with the agent's outcome. All audited.

use super::apply::{blocking, changed, desired_users, push};
use super::events::SshAccessEvent;
use super::views::{DriftView, HostAccessView};
use crate::context::Context;
use crate::domain::actor::Actor;
use crate::domain::audit::{self, AuditAction};
use crate::domain::error::DomainError;
use crate::storage::ssh_access::AdoptedLines;
use std::collections::BTreeSet;
use std::sync::Arc;
use unity_shared::model::ssh::{AccessOutcome, SshLine, UnixUser};
use unity_shared::proto::AgentId;

/// Every hand edit reported and left in place, with what Unity expects. Note that this uses
/// blocking I/O.
pub fn list(ctx: &Context) -> Result<Vec<DriftView>, DomainError> {
    let mut out = Vec::new();
    for (agent_id, record) in ctx.store.ssh_access.hosts()? {
        let Some(applied) = &record.applied else {
            continue;
        };
        let drifted: Vec<_> = applied
            .users
            .iter()
            .filter_map(|user| match &user.outcome {
                AccessOutcome::Drift { found } => Some((user.user.clone(), found.clone())),
                _ => None,
            })
            .collect();
        if drifted.is_empty() {
            continue;
        }
        let desired = desired_users(ctx, &agent_id, &record, true)?;
        for (user, found) in drifted {
            let expected: Vec<String> = desired
                .iter()
                .find(|keys| keys.user == user)
                .map(|keys| keys.lines.iter().map(ToString::to_string).collect())
                .unwrap_or_default();
            out.push(DriftView {
                host: agent_id.clone(),
                user: user.to_string(),
                added: found
                    .iter()
                    .filter(|line| !expected.contains(line))
                    .cloned()
                    .collect(),
                missing: expected
                    .iter()
                    .filter(|line| !found.contains(line))
                    .cloned()
                    .collect(),
                found,
                expected,
                at_ms: applied.at_ms,
            });
        }
    }
    Ok(out)
}

/// Records that Unity's keys are to be written back over the hand edits on `agent_id` (every
/// drifted user of the host: the command carries one drift policy) the next time it is sent;
/// audited. Note that this uses blocking I/O.
pub fn request_restore(
    ctx: &Context,
    actor: &Actor,
    agent_id: &AgentId,
) -> Result<(), DomainError> {
    if ctx.store.agents.agent(agent_id)?.is_none() {
        return Err(DomainError::no_host(agent_id));
    }
    ctx.store
        .ssh_access
        .update_host(agent_id, |record| record.restore_requested = true)?;
    audit::record(
        ctx,
        actor,
        AuditAction::SshAccess(SshAccessEvent::DriftRestore),
        agent_id.as_str(),
    )?;
    changed();
    Ok(())
}

/// Keeps the hand edit of `user` on `agent_id`: the lines found that no grant gives become
/// adopted lines of that user there (part of the desired keys from now on), and the block is
/// written so the next time it is sent; audited. Note that this uses blocking I/O.
pub fn request_adopt(
    ctx: &Context,
    actor: &Actor,
    agent_id: &AgentId,
    user: &UnixUser,
) -> Result<usize, DomainError> {
    let record = ctx.store.ssh_access.host(agent_id)?;
    let found = record
        .applied
        .as_ref()
        .and_then(|applied| applied.users.iter().find(|outcome| outcome.user == *user))
        .and_then(|outcome| match &outcome.outcome {
            AccessOutcome::Drift { found } => Some(found.clone()),
            _ => None,
        })
        .ok_or_else(|| {
            DomainError::NotFound(format!("no drift reported for {user} on {agent_id}"))
        })?;
    let granted: BTreeSet<String> = desired_users(ctx, agent_id, &record, false)?
        .into_iter()
        .filter(|keys| keys.user == *user)
        .flat_map(|keys| keys.lines.into_iter().map(String::from))
        .collect();
    let lines = found
        .iter()
        .filter(|line| !granted.contains(*line))
        .map(|line| {
            SshLine::new(line.as_str()).map_err(|error| DomainError::Invalid(error.to_string()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let count = lines.len();
    ctx.store.ssh_access.update_host(agent_id, |record| {
        record.adopted.retain(|adopted| adopted.user != *user);
        if !lines.is_empty() {
            record.adopted.push(AdoptedLines {
                user: user.clone(),
                lines: lines.clone(),
            });
        }
        record.restore_requested = true;
    })?;
    audit::record(
        ctx,
        actor,
        AuditAction::SshAccess(SshAccessEvent::DriftAdopt),
        &format!("{user}@{agent_id} ({count} lines adopted)"),
    )?;
    changed();
    Ok(count)
}

/// Drops the lines adopted for `user` on `agent_id` (a hand edit kept earlier): they are no
/// longer desired, so the next apply takes them out of the managed keys; audited. Returns how
/// many lines were dropped. Note that this uses blocking I/O.
pub fn clear_adopted(
    ctx: &Context,
    actor: &Actor,
    agent_id: &AgentId,
    user: &UnixUser,
) -> Result<usize, DomainError> {
    let record = ctx.store.ssh_access.host(agent_id)?;
    let count: usize = record
        .adopted
        .iter()
        .filter(|adopted| adopted.user == *user)
        .map(|adopted| adopted.lines.len())
        .sum();
    if !record.adopted.iter().any(|adopted| adopted.user == *user) {
        return Err(DomainError::NotFound(format!(
            "no adopted lines for {user} on {agent_id}"
        )));
    }
    ctx.store.ssh_access.update_host(agent_id, |record| {
        record.adopted.retain(|adopted| adopted.user != *user);
    })?;
    audit::record(
        ctx,
        actor,
        AuditAction::SshAccess(SshAccessEvent::AdoptedClear),
        &format!("{user}@{agent_id} ({count} adopted lines dropped)"),
    )?;
    changed();
    Ok(count)
}

/// [`request_restore`], then sends now and answers with the agent's outcome.
pub async fn restore(
    ctx: &Arc<Context>,
    actor: &Actor,
    agent_id: &AgentId,
) -> Result<HostAccessView, DomainError> {
    let (id, who) = (agent_id.clone(), actor.to_owned());
    blocking(ctx, move |ctx| request_restore(ctx, &who, &id)).await?;
    push(ctx, agent_id, None).await
}

/// [`clear_adopted`], then sends now and answers with the agent's outcome.
pub async fn clear(
    ctx: &Arc<Context>,
    actor: &Actor,
    agent_id: &AgentId,
    user: &UnixUser,
) -> Result<HostAccessView, DomainError> {
    let (id, who, user) = (agent_id.clone(), actor.to_owned(), user.clone());
    blocking(ctx, move |ctx| clear_adopted(ctx, &who, &id, &user)).await?;
    push(ctx, agent_id, None).await
}

/// [`request_adopt`], then sends now and answers with the agent's outcome.
pub async fn adopt(
    ctx: &Arc<Context>,
    actor: &Actor,
    agent_id: &AgentId,
    user: &UnixUser,
) -> Result<HostAccessView, DomainError> {
    let (id, who, user) = (agent_id.clone(), actor.to_owned(), user.clone());
    blocking(ctx, move |ctx| request_adopt(ctx, &who, &id, &user)).await?;
    push(ctx, agent_id, None).await
}
