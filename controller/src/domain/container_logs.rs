//! A container's newest log lines, read through its agent on demand (issue 19 §4). Nothing
//! here stores them: they go from the agent's answer to the caller and are dropped. Reading
//! is audited once per request ([`read`]) or once per follow ([`Follow::start`]); the follow's
//! polls are not, so the audit log is not flooded by one open page.
//!
//! The agent is not trusted: its answer is bounded again here to [`MAX_LOG_LINES`] and
//! [`MAX_LOG_BYTES`] whatever it sent.

use super::agents::audited_target;
use super::audit::AuditAction;
use super::error::DomainError;
use super::hosts::require_known;
use crate::context::Context;
use crate::domain::actor::Actor;
use crate::transport::hub::CommandError;
use std::sync::Arc;
use std::time::Duration;
use unity_shared::model::container_logs::{
    ContainerLogs, ReadContainerLogs, MAX_LOG_BYTES, MAX_LOG_LINES,
};
use unity_shared::proto::{AgentId, CommandResponse};

/// How long the agent may take to read a log.
const READ_TIMEOUT: Duration = Duration::from_secs(15);

/// Lines shown when the caller names no number.
pub const DEFAULT_LINES: u32 = 200;

/// A number of lines the caller asked for, within 1..=[`MAX_LOG_LINES`].
pub fn lines_wanted(asked: Option<u32>) -> Result<u32, DomainError> {
    match asked {
        None => Ok(DEFAULT_LINES),
        Some(lines) if (1..=MAX_LOG_LINES).contains(&lines) => Ok(lines),
        Some(lines) => Err(DomainError::Invalid(format!(
            "{lines} lines: between 1 and {MAX_LOG_LINES} can be shown"
        ))),
    }
}

/// What the audit log names: `host/container`.
fn target(agent_id: &AgentId, container: &str) -> String {
    format!("{agent_id}/{container}")
}

/// The error for people: an offline host says so plainly.
fn unavailable(agent_id: &AgentId, error: CommandError) -> DomainError {
    match error {
        CommandError::Offline(_) => offline(agent_id),
        CommandError::Refused(CommandResponse::Failed { message }) => {
            DomainError::Unavailable(format!("the agent could not read the log: {message}"))
        }
        other => DomainError::Unavailable(format!("the agent did not answer: {other}")),
    }
}

fn offline(agent_id: &AgentId) -> DomainError {
    DomainError::Unavailable(format!(
        "{agent_id} is offline: logs are read from its agent while it is connected, and the controller keeps none"
    ))
}

/// Asks the agent once; the answer bounded.
async fn ask(
    ctx: &Context,
    agent_id: &AgentId,
    container: &str,
    lines: u32,
    after_ns: Option<i64>,
) -> Result<ContainerLogs, DomainError> {
    let request = ReadContainerLogs {
        container: container.to_owned(),
        lines: lines.clamp(1, MAX_LOG_LINES),
        after_ns,
    };
    let logs = ctx
        .hub
        .request(agent_id, request, READ_TIMEOUT)
        .await
        .map_err(|error| unavailable(agent_id, error))?;
    Ok(logs.bounded(lines as usize, MAX_LOG_BYTES as usize))
}

/// Checks the host, that it is connected, and records the read.
async fn begin(
    ctx: &Arc<Context>,
    actor: &Actor,
    agent_id: &AgentId,
    container: &str,
    action: AuditAction,
) -> Result<(), DomainError> {
    {
        let (ctx, agent_id) = (ctx.clone(), agent_id.clone());
        tokio::task::spawn_blocking(move || require_known(&ctx, &agent_id))
            .await
            .map_err(DomainError::internal)??;
    }
    if !ctx.hub.is_connected(agent_id) {
        return Err(offline(agent_id));
    }
    audited_target(ctx, actor, action, target(agent_id, container)).await
}

/// The newest `lines` of the container's log, read now (audited).
pub async fn read(
    ctx: &Arc<Context>,
    actor: &Actor,
    agent_id: &AgentId,
    container: &str,
    lines: u32,
) -> Result<ContainerLogs, DomainError> {
    begin(ctx, actor, agent_id, container, AuditAction::ContainerLogs).await?;
    ask(ctx, agent_id, container, lines, None).await
}

/// A log being followed: each [`Follow::next`] asks for the lines after the newest one seen.
#[derive(Debug)]
pub struct Follow {
    agent_id: AgentId,
    container: String,
    lines: u32,
    after_ns: Option<i64>,
}

impl Follow {
    /// Starts following from after `after_ns` (the newest line the page shows; `None`: from
    /// now), audited once.
    pub async fn start(
        ctx: &Arc<Context>,
        actor: &Actor,
        agent_id: &AgentId,
        container: &str,
        after_ns: Option<i64>,
    ) -> Result<Follow, DomainError> {
        begin(
            ctx,
            actor,
            agent_id,
            container,
            AuditAction::ContainerLogsFollow,
        )
        .await?;
        let after_ns = after_ns.or_else(|| Some(crate::clock::now_ms().saturating_mul(1_000_000)));
        Ok(Follow {
            agent_id: agent_id.clone(),
            container: container.to_owned(),
            lines: MAX_LOG_LINES,
            after_ns,
        })
    }

    /// The lines that came since the last call, oldest first.
    pub async fn next(&mut self, ctx: &Context) -> Result<ContainerLogs, DomainError> {
        let logs = ask(
            ctx,
            &self.agent_id,
            &self.container,
            self.lines,
            self.after_ns,
        )
        .await?;
        let newest = logs.lines.iter().filter_map(|line| line.at_ns).max();
        if let Some(newest) = newest {
            self.after_ns = Some(self.after_ns.map_or(newest, |after| after.max(newest)));
        }
        Ok(logs)
    }
}
