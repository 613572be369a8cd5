//! One container of a host as its page shows it (issue 19 §4): the newest inventory entry,
//! its events (state and health history), its newest update check, its operations and the
//! backups the controller keeps. Everything comes from what is stored; nothing asks the agent.

use super::backups;
use super::error::DomainError;
use super::hosts::require_known;
use crate::context::Context;
use crate::storage::containers::UpdateCheckRecord;
use crate::storage::operations::OperationRecord;
use unity_shared::model::container::{Container, ContainerEvent, ContainerInventory};
use unity_shared::proto::AgentId;

/// Events of the host read to find this container's (newest first).
const EVENTS_READ: usize = 1000;

/// Events kept for the page.
pub const EVENTS_SHOWN: usize = 50;

/// Operations of the host read to find this container's.
const OPERATIONS_READ: usize = 500;

/// Operations kept for the page.
pub const OPERATIONS_SHOWN: usize = 20;

/// What the container page shows.
#[derive(Debug)]
pub struct ContainerDetail {
    pub agent_id: AgentId,
    /// The name asked for (also when the newest inventory no longer has it).
    pub name: String,
    /// The newest inventory's entry; `None`: not (or no longer) reported.
    pub container: Option<Container>,
    /// When that inventory was collected.
    pub collected_at_ms: Option<i64>,
    /// The engine's description, from the same inventory.
    pub engine: Option<unity_shared::model::container::EngineInfo>,
    /// Its runtime events, newest first.
    pub events: Vec<ContainerEvent>,
    pub update_check: Option<UpdateCheckRecord>,
    /// Its operations, newest first.
    pub operations: Vec<OperationRecord>,
    /// Backups the controller keeps, and when the newest was taken.
    pub n_backups: usize,
    pub newest_backup_ms: Option<i64>,
    /// The host's agent is connected now (logs can be read).
    pub connected: bool,
}

/// The container `name` of a known host. Note that this uses blocking I/O.
pub fn detail(
    ctx: &Context,
    agent_id: &AgentId,
    name: &str,
) -> Result<ContainerDetail, DomainError> {
    require_known(ctx, agent_id)?;
    let stored: Option<(i64, ContainerInventory)> = ctx
        .store
        .agents
        .latest(agent_id, crate::storage::agents::StateKind::Containers)?;
    let (collected_at_ms, inventory) = match stored {
        Some((at, inventory)) => (Some(at), Some(inventory)),
        None => (None, None),
    };
    let container = inventory
        .as_ref()
        .and_then(|inventory| inventory.containers.iter().find(|c| c.name == name))
        .cloned();
    let id = container.as_ref().map(|c| c.id.as_str());
    let events = ctx
        .store
        .containers
        .recent_events(agent_id, EVENTS_READ)?
        .into_iter()
        .filter(|event| {
            event.name.as_deref() == Some(name) || Some(event.container_id.as_str()) == id
        })
        .take(EVENTS_SHOWN)
        .collect();
    let update_check = crate::updates::current::checks(ctx)?
        .into_iter()
        .map(|current| current.record)
        .find(|record| record.agent_id == *agent_id && record.container == name);
    let operations = ctx
        .store
        .operations
        .recent(Some(agent_id.as_str()), OPERATIONS_READ)?
        .into_iter()
        .filter(|record| record.container == name)
        .take(OPERATIONS_SHOWN)
        .collect();
    let backups = backups::of_container(ctx, agent_id, name)?;
    Ok(ContainerDetail {
        agent_id: agent_id.clone(),
        name: name.to_owned(),
        container,
        collected_at_ms,
        engine: inventory.and_then(|inventory| inventory.engine),
        events,
        update_check,
        operations,
        n_backups: backups.len(),
        newest_backup_ms: backups.iter().map(|backup| backup.taken_at_ms as i64).max(),
        connected: ctx.hub.is_connected(agent_id),
    })
}
