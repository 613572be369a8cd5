//! A host's newest typed state, as the host page and the REST API show it: storage (SMART,
//! ZFS, md RAID and how they stack), databases, containers with their recent runtime
//! events and update checks, and plugins (textfile and exporter sources, check results). Field names are those of the shared model
//! (`unity_shared::model`).

use super::error::DomainError;
use super::hosts::require_known;
use crate::context::Context;
use crate::storage::agents::StateKind;
use crate::storage::containers::UpdateCheckRecord;
use serde::Serialize;
use unity_shared::model::container::{ContainerEvent, ContainerInventory};
use unity_shared::model::database::DatabaseInstance;
use unity_shared::model::plugin::{CheckResult, SourceStatus};
use unity_shared::proto::{AgentId, StorageState};

/// Runtime events returned with a host's containers.
pub const RECENT_EVENTS: usize = 100;

/// A typed state with the time the agent collected it; both `null` when never reported.
#[derive(Debug, Serialize)]
pub struct Collected<T> {
    pub collected_at_ms: Option<i64>,
    pub state: Option<T>,
}

impl<T> From<Option<(i64, T)>> for Collected<T> {
    fn from(stored: Option<(i64, T)>) -> Self {
        match stored {
            Some((collected_at_ms, state)) => Collected {
                collected_at_ms: Some(collected_at_ms),
                state: Some(state),
            },
            None => Collected {
                collected_at_ms: None,
                state: None,
            },
        }
    }
}

/// A host's containers with their recent events and update checks.
#[derive(Debug, Serialize)]
pub struct ContainersView {
    pub collected_at_ms: Option<i64>,
    pub inventory: Option<ContainerInventory>,
    /// Newest first.
    pub recent_events: Vec<ContainerEvent>,
    /// The newest update check per container.
    pub update_checks: Vec<UpdateCheckRecord>,
}

/// A known host's newest storage state. Note that this uses blocking I/O.
pub fn storage(ctx: &Context, agent_id: &AgentId) -> Result<Collected<StorageState>, DomainError> {
    require_known(ctx, agent_id)?;
    let stored: Option<(i64, StorageState)> =
        ctx.store.agents.latest(agent_id, StateKind::Storage)?;
    Ok(Collected::from(stored))
}

/// A known host's newest database states. Note that this uses blocking I/O.
pub fn databases(
    ctx: &Context,
    agent_id: &AgentId,
) -> Result<Collected<Vec<DatabaseInstance>>, DomainError> {
    require_known(ctx, agent_id)?;
    let stored: Option<(i64, Vec<DatabaseInstance>)> =
        ctx.store.agents.latest(agent_id, StateKind::Databases)?;
    Ok(Collected::from(stored))
}

/// A known host's containers, recent events and update checks. Note that this uses blocking
/// I/O.
pub fn containers(ctx: &Context, agent_id: &AgentId) -> Result<ContainersView, DomainError> {
    require_known(ctx, agent_id)?;
    let stored: Option<(i64, ContainerInventory)> =
        ctx.store.agents.latest(agent_id, StateKind::Containers)?;
    let (collected_at_ms, inventory) = match stored {
        Some((at, inventory)) => (Some(at), Some(inventory)),
        None => (None, None),
    };
    Ok(ContainersView {
        collected_at_ms,
        inventory,
        recent_events: ctx
            .store
            .containers
            .recent_events(agent_id, RECENT_EVENTS)?,
        // As they stand now: an update applied since the check is up to date.
        update_checks: crate::updates::current::checks(ctx)?
            .into_iter()
            .map(|current| current.record)
            .filter(|record| record.agent_id == *agent_id)
            .collect(),
    })
}

/// A host's plugin sources (textfiles, exporters) and local check results, each as of its
/// newest collection.
#[derive(Debug, Serialize)]
pub struct PluginsView {
    pub sources: Collected<Vec<SourceStatus>>,
    pub checks: Collected<Vec<CheckResult>>,
}

/// A known host's plugin sources and check results. Note that this uses blocking I/O.
pub fn plugins(ctx: &Context, agent_id: &AgentId) -> Result<PluginsView, DomainError> {
    require_known(ctx, agent_id)?;
    let sources: Option<(i64, Vec<SourceStatus>)> = ctx
        .store
        .agents
        .latest(agent_id, StateKind::PluginSources)?;
    let checks: Option<(i64, Vec<CheckResult>)> =
        ctx.store.agents.latest(agent_id, StateKind::Checks)?;
    Ok(PluginsView {
        sources: Collected::from(sources),
        checks: Collected::from(checks),
    })
}
