//! Read endpoints for a host's newest typed state, as the host page shows it: storage (SMART,
//! ZFS, md RAID and how they stack), databases, and containers with their recent runtime events
//! and update checks. Field names are those of the shared model (`unity_shared::model`).

use super::auth::Caller;
use super::read::parse_agent_id;
use super::{blocking, ApiError, ApiPath, AppState};
use crate::context::Context;
use crate::storage::containers::UpdateCheckRecord;
use crate::storage::registry::StateKind;
use axum::extract::State;
use axum::Json;
use serde::Serialize;
use unity_shared::model::container::{ContainerEvent, ContainerInventory};
use unity_shared::model::database::DatabaseInstance;
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

#[derive(Debug, Serialize)]
pub struct ContainersView {
    pub collected_at_ms: Option<i64>,
    pub inventory: Option<ContainerInventory>,
    /// Newest first.
    pub recent_events: Vec<ContainerEvent>,
    /// The newest update check per container.
    pub update_checks: Vec<UpdateCheckRecord>,
}

/// Fails with 404 for an agent the controller does not know.
fn known_agent(ctx: &Context, agent_id: &AgentId) -> Result<(), ApiError> {
    match ctx.store.registry.agent(agent_id)? {
        Some(_) => Ok(()),
        None => Err(ApiError::NotFound(format!(
            "no host with agent id {agent_id}"
        ))),
    }
}

/// The host's containers, recent events and update checks. Note that this uses blocking I/O.
pub fn containers_view(ctx: &Context, agent_id: &AgentId) -> Result<ContainersView, ApiError> {
    let stored: Option<(i64, ContainerInventory)> =
        ctx.store.registry.latest(agent_id, StateKind::Containers)?;
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
        update_checks: ctx.store.containers.checks_of(agent_id)?,
    })
}

/// `GET /api/v1/hosts/{agent_id}/storage`.
pub async fn storage(
    State(state): State<AppState>,
    _caller: Caller,
    ApiPath(agent_id): ApiPath<String>,
) -> Result<Json<Collected<StorageState>>, ApiError> {
    let agent_id = parse_agent_id(&agent_id)?;
    blocking(&state.ctx, move |ctx| {
        known_agent(ctx, &agent_id)?;
        let stored: Option<(i64, StorageState)> =
            ctx.store.registry.latest(&agent_id, StateKind::Storage)?;
        Ok(Collected::from(stored))
    })
    .await
    .map(Json)
}

/// `GET /api/v1/hosts/{agent_id}/databases`.
pub async fn databases(
    State(state): State<AppState>,
    _caller: Caller,
    ApiPath(agent_id): ApiPath<String>,
) -> Result<Json<Collected<Vec<DatabaseInstance>>>, ApiError> {
    let agent_id = parse_agent_id(&agent_id)?;
    blocking(&state.ctx, move |ctx| {
        known_agent(ctx, &agent_id)?;
        let stored: Option<(i64, Vec<DatabaseInstance>)> =
            ctx.store.registry.latest(&agent_id, StateKind::Databases)?;
        Ok(Collected::from(stored))
    })
    .await
    .map(Json)
}

/// `GET /api/v1/hosts/{agent_id}/containers`.
pub async fn containers(
    State(state): State<AppState>,
    _caller: Caller,
    ApiPath(agent_id): ApiPath<String>,
) -> Result<Json<ContainersView>, ApiError> {
    let agent_id = parse_agent_id(&agent_id)?;
    blocking(&state.ctx, move |ctx| {
        known_agent(ctx, &agent_id)?;
        containers_view(ctx, &agent_id)
    })
    .await
    .map(Json)
}
