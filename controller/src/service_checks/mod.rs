//! Service checks on the controller's side (issue 18 §1; docs/services.md): the definitions
//! (the file's `[[services.check]]` and those stored through the API), which agents run each
//! (named agents and the agents of host groups), the assignment each agent is sent when it
//! says hello and whenever a definition changes, and the agents' newest results. Beside
//! `agentless`: it imports the context, the store, the hub and the configuration, never
//! `domain` or a face. The decisions are pure: `uptime.rs`, and the alert rule in
//! `alerts/rules/services.rs`.

pub mod uptime;

use crate::config::service_checks::{self as definitions, RawServiceCheck, ServiceDefinition};
use crate::context::Context;
use crate::storage::StorageError;
use std::collections::BTreeSet;
use std::time::Duration;
use unity_shared::model::service::{AssignServiceChecks, ServiceCheckResult};
use unity_shared::proto::AgentId;

/// How long an agent may take to take its assignment.
const ASSIGN_TIMEOUT: Duration = Duration::from_secs(15);

/// Where a definition comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The configuration file (changed there only).
    File,
    /// The API or the dashboard, by whom and when.
    Stored { updated_by: String, at_ms: i64 },
}

/// A check in effect.
#[derive(Debug, Clone)]
pub struct Defined {
    pub definition: ServiceDefinition,
    /// What was written (for the API's answer and the edit form); `None` for the file's.
    pub raw: Option<RawServiceCheck>,
    pub origin: Origin,
}

/// Every check in effect: the file's, then the stored ones (a stored check whose name the
/// file took, or that no longer validates, is left out and logged). Note that this uses
/// blocking I/O.
pub fn defined(ctx: &Context) -> Result<Vec<Defined>, StorageError> {
    let mut all: Vec<Defined> = ctx
        .config
        .services
        .iter()
        .map(|definition| Defined {
            definition: definition.clone(),
            raw: None,
            origin: Origin::File,
        })
        .collect();
    for stored in ctx.store.service_checks.all()? {
        let parsed = serde_json::from_str::<RawServiceCheck>(&stored.definition_json)
            .map_err(|error| error.to_string())
            .and_then(|raw| definitions::validate(&raw).map(|definition| (raw, definition)));
        match parsed {
            Ok(_) if all.iter().any(|d| d.definition.check.name == stored.name) => {
                tracing::warn!(check = %stored.name, "A stored service check has the name of one in the file; the file's wins.");
            }
            Ok((raw, definition)) => all.push(Defined {
                definition,
                raw: Some(raw),
                origin: Origin::Stored {
                    updated_by: stored.updated_by,
                    at_ms: stored.updated_at_ms,
                },
            }),
            Err(error) => {
                tracing::error!(check = %stored.name, %error, "A stored service check is invalid; left out.")
            }
        }
    }
    Ok(all)
}

/// The agents that run `definition`: those named and those of its host groups (an unknown
/// group names no one). Note that this uses blocking I/O.
pub fn agents_of(
    ctx: &Context,
    definition: &ServiceDefinition,
) -> Result<BTreeSet<AgentId>, StorageError> {
    let mut agents: BTreeSet<AgentId> = definition.agents.iter().cloned().collect();
    if definition.groups.is_empty() {
        return Ok(agents);
    }
    let groups: Vec<_> = definition
        .groups
        .iter()
        .filter_map(|name| ctx.store.access.host_group(name).transpose())
        .collect::<Result<_, _>>()?;
    for record in ctx.store.agents.agents()? {
        if record.revoked_at.is_some() {
            continue;
        }
        let labels = ctx.store.access.labels(&record.agent_id)?;
        if groups
            .iter()
            .any(|group| group.contains(&record.agent_id, &labels))
        {
            agents.insert(record.agent_id);
        }
    }
    Ok(agents)
}

/// Every check `agent` runs. Note that this uses blocking I/O.
pub fn assignment(ctx: &Context, agent: &AgentId) -> Result<AssignServiceChecks, StorageError> {
    let mut checks = Vec::new();
    for defined in defined(ctx)? {
        if agents_of(ctx, &defined.definition)?.contains(agent) {
            checks.push(defined.definition.check);
        }
    }
    Ok(AssignServiceChecks { checks })
}

/// Sends `agent` its checks when it is connected (it gets them at its next hello otherwise).
pub async fn push(ctx: &Context, agent: &AgentId) -> Result<Option<u32>, String> {
    if !ctx.hub.is_connected(agent) {
        return Ok(None);
    }
    let assignment = assignment(ctx, agent).map_err(|error| error.to_string())?;
    match ctx.hub.request(agent, assignment, ASSIGN_TIMEOUT).await {
        Ok(assigned) => {
            tracing::debug!(%agent, checks = assigned.checks, "Service checks assigned.");
            Ok(Some(assigned.checks))
        }
        Err(error) => {
            tracing::warn!(%agent, %error, "Assigning service checks failed.");
            Err(error.to_string())
        }
    }
}

/// Sends every connected agent its checks (after a definition changed), in the background.
pub fn push_all(ctx: &std::sync::Arc<Context>) {
    for (agent, _) in ctx.hub.snapshot() {
        let ctx = ctx.clone();
        tokio::spawn(async move {
            let _ = push(&ctx, &agent).await;
        });
    }
}

/// Keeps an agent's results as the newest of each check (from a stored report).
pub fn record_results(
    ctx: &Context,
    agent: &AgentId,
    results: &[ServiceCheckResult],
) -> Result<(), StorageError> {
    ctx.store.service_checks.put_results(agent, results)
}
