//! Agentless hosts on the controller's side of the wire (issue 16): the assignment each proxy
//! agent gets (its targets with their keys opened, sent when the proxy connects and whenever a
//! target changes, through the [`queue`] and the loop [`spawn`] starts) and what the proxy's
//! reports and statuses may touch (only hosts assigned
//! to it). Beside `transport` and `updates`: it imports the context, the store, the hub and
//! the sealing key, never `domain` or a face. See `docs/agentless.md`.

pub mod keys;
pub mod queue;

use crate::context::Context;
use crate::storage::agentless::{AgentlessKey, AgentlessRecord};
use crate::storage::StorageError;
use std::sync::Arc;
use std::time::Duration;
use unity_shared::model::agentless::{
    AgentlessOutcome, AgentlessStatus, AgentlessTarget, AssignAgentless, SshLine, UnixUser,
};
use unity_shared::model::secret::SecretName;
use unity_shared::proto::AgentId;

/// How long the proxy may take to take an assignment.
const ASSIGN_TIMEOUT: Duration = Duration::from_secs(15);

#[derive(Debug, thiserror::Error)]
pub enum AssignError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("the series store: {0}")]
    Series(String),
    #[error(transparent)]
    Key(#[from] keys::KeyError),
    #[error("agentless host {host}: {message}")]
    Invalid { host: AgentId, message: String },
}

fn target(ctx: &Context, record: AgentlessRecord) -> Result<AgentlessTarget, AssignError> {
    let invalid = |message: String| AssignError::Invalid {
        host: record.host.clone(),
        message,
    };
    let private_key = match &record.key {
        AgentlessKey::Generated { sealed_private, .. } => {
            keys::open(&ctx.config.data_dir, &record.host, sealed_private)?
        }
        AgentlessKey::Secret { name } => {
            let name = SecretName::new(name.clone()).map_err(|error| invalid(error.to_string()))?;
            // The store's rules decide (scope includes the proxy, not revoked) and audit.
            crate::transport::secrets::answer(ctx, &record.proxy, vec![name.clone()])
                .into_iter()
                .find_map(|answer| answer.value)
                .ok_or_else(|| {
                    invalid(format!(
                        "secret {name} is unknown or its scope does not include the proxy {}",
                        record.proxy
                    ))
                })?
        }
    };
    let user = UnixUser::new(record.user.clone()).map_err(|error| invalid(error.to_string()))?;
    let host_key = record
        .host_key
        .clone()
        .map(SshLine::new)
        .transpose()
        .map_err(|error| invalid(error.to_string()))?;
    let last_stored_seq = ctx
        .store
        .series
        .last_seq(record.host.as_str())
        .map_err(|error| AssignError::Series(error.to_string()))?;
    Ok(AgentlessTarget {
        host: record.host,
        address: record.address,
        port: record.port,
        user,
        private_key,
        host_key,
        interval_secs: record.interval_secs,
        command_timeout_secs: record.command_timeout_secs,
        collectors: record.collectors,
        last_stored_seq,
    })
}

/// Every target of `proxy`, keys opened. A target whose key does not open is left out (and
/// logged) rather than stopping the others. Note that this uses blocking I/O.
pub fn assignment(ctx: &Context, proxy: &AgentId) -> Result<AssignAgentless, AssignError> {
    let mut targets = Vec::new();
    for record in ctx.store.agentless.of_proxy(proxy)? {
        let host = record.host.clone();
        match target(ctx, record) {
            Ok(target) => targets.push(target),
            Err(error) => {
                tracing::error!(%host, %error, "Agentless host left out of its proxy's assignment.")
            }
        }
    }
    Ok(AssignAgentless { targets })
}

/// Sends `proxy` its whole assignment when it is connected (it gets it again at its next
/// connection otherwise). Returns how many targets the proxy runs.
/// Reads the store (briefly blocking).
pub async fn push(ctx: &Context, proxy: &AgentId) -> Result<Option<u32>, String> {
    if !ctx.hub.is_connected(proxy) {
        return Ok(None);
    }
    let assignment = assignment(ctx, proxy).map_err(|error| error.to_string())?;
    match ctx.hub.request(proxy, assignment, ASSIGN_TIMEOUT).await {
        Ok(assigned) => {
            tracing::info!(%proxy, targets = assigned.targets, "Agentless hosts assigned.");
            Ok(Some(assigned.targets))
        }
        Err(error) => {
            tracing::warn!(%proxy, %error, "Assigning agentless hosts failed.");
            Err(error.to_string())
        }
    }
}

/// The loop that sends proxies their changed assignments, one proxy at a time, when the
/// domain asks ([`queue::AssignmentQueue::push_soon`]). A proxy that is not connected gets its
/// assignment when it connects.
pub fn spawn(ctx: Arc<Context>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            ctx.agentless.woken().await;
            for proxy in ctx.agentless.take() {
                if let Err(error) = push(&ctx, &proxy).await {
                    tracing::warn!(%proxy, %error, "The proxy gets its agentless hosts at its next connection.");
                }
            }
        }
    })
}

/// Whether `host` is an agentless host assigned to `proxy` (the only hosts whose reports and
/// statuses `proxy` may send). Note that this uses blocking I/O.
pub fn is_assigned(ctx: &Context, proxy: &AgentId, host: &AgentId) -> Result<bool, StorageError> {
    Ok(ctx
        .store
        .agentless
        .get(host)?
        .is_some_and(|record| record.proxy == *proxy))
}

/// Keeps a proxy's status for a host assigned to it; a presented host key is kept for the
/// owner to confirm. Note that this uses blocking I/O.
pub fn record_status(
    ctx: &Context,
    proxy: &AgentId,
    status: AgentlessStatus,
) -> Result<bool, StorageError> {
    if !is_assigned(ctx, proxy, &status.host)? {
        return Ok(false);
    }
    let presented = match &status.outcome {
        AgentlessOutcome::HostKeyToConfirm { presented }
        | AgentlessOutcome::HostKeyMismatch { presented } => Some(presented.as_str().to_owned()),
        _ => None,
    };
    ctx.store.agentless.update(&status.host, |record| {
        if let Some(presented) = &presented {
            record.presented_key = Some(presented.clone());
        }
        record.status = Some((status.at_ms, status.outcome.clone()));
    })?;
    Ok(true)
}

/// The word and the message of an outcome.
pub fn outcome_words(outcome: &AgentlessOutcome) -> (&'static str, Option<String>) {
    match outcome {
        AgentlessOutcome::Collected => ("collected", None),
        AgentlessOutcome::HostKeyToConfirm { .. } => (
            "host_key_to_confirm",
            Some("no host key pinned yet: confirm the presented key".into()),
        ),
        AgentlessOutcome::HostKeyMismatch { .. } => (
            "host_key_mismatch",
            Some("the host presented another key than the pinned one: refused, nothing run".into()),
        ),
        AgentlessOutcome::Unreachable { message } => ("unreachable", Some(message.clone())),
        AgentlessOutcome::AuthenticationFailed { message } => {
            ("authentication_failed", Some(message.clone()))
        }
        AgentlessOutcome::CommandFailed { command, message } => {
            ("command_failed", Some(format!("{command}: {message}")))
        }
    }
}
