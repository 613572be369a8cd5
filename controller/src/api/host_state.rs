//! Read endpoints for a host's newest typed state, as the host page shows it: storage (SMART,
//! ZFS, md RAID and how they stack), databases, containers with their recent runtime events
//! and update checks, and plugins (sources and check results; their series are ordinary
//! series, read with the query endpoint). Thin handlers over [`crate::domain::host_state`].

use crate::domain::host_state::{self, Collected, ContainersView, PluginsView};
use crate::domain::hosts::parse_agent_id;
use crate::http::auth::Caller;
use crate::http::error::ApiError;
use crate::http::extract::{blocking, ApiPath};
use crate::http::state::AppState;
use axum::extract::State;
use axum::Json;
use unity_shared::model::database::DatabaseInstance;
use unity_shared::proto::StorageState;

/// `GET /api/v1/hosts/{agent_id}/storage`.
pub async fn storage(
    State(state): State<AppState>,
    _caller: Caller,
    ApiPath(agent_id): ApiPath<String>,
) -> Result<Json<Collected<StorageState>>, ApiError> {
    let agent_id = parse_agent_id(&agent_id)?;
    blocking(&state.ctx, move |ctx| host_state::storage(ctx, &agent_id))
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
    blocking(&state.ctx, move |ctx| host_state::databases(ctx, &agent_id))
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
        host_state::containers(ctx, &agent_id)
    })
    .await
    .map(Json)
}

/// `GET /api/v1/hosts/{agent_id}/plugins`.
pub async fn plugins(
    State(state): State<AppState>,
    _caller: Caller,
    ApiPath(agent_id): ApiPath<String>,
) -> Result<Json<PluginsView>, ApiError> {
    let agent_id = parse_agent_id(&agent_id)?;
    blocking(&state.ctx, move |ctx| host_state::plugins(ctx, &agent_id))
        .await
        .map(Json)
}
