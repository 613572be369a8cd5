//! Commands sent to a connected agent (operate on that host, audited): ping, collect now. Thin handlers
//! over [`crate::domain::agents`].

use crate::domain::agents;
use crate::domain::hosts::parse_agent_id;
use crate::http::auth::Caller;
use crate::http::error::ApiError;
use crate::http::extract::ApiPath;
use crate::http::state::AppState;
use axum::extract::State;
use axum::Json;
use serde::Serialize;
use unity_shared::proto::AgentId;

#[derive(Debug, Serialize)]
pub struct PingResult {
    pub agent_id: AgentId,
    pub round_trip_ms: f64,
}

/// `POST /api/v1/hosts/{agent_id}/ping`.
pub async fn ping(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(agent_id): ApiPath<String>,
) -> Result<Json<PingResult>, ApiError> {
    let agent_id = parse_agent_id(&agent_id)?;
    let round_trip_ms = agents::ping(&state.ctx, &caller.actor(), &agent_id).await?;
    Ok(Json(PingResult {
        agent_id,
        round_trip_ms,
    }))
}

#[derive(Debug, Serialize)]
pub struct CollectResult {
    pub agent_id: AgentId,
    /// The sequence number of the report the collection produced.
    pub seq: u64,
}

/// `POST /api/v1/hosts/{agent_id}/collect`.
pub async fn collect_now(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(agent_id): ApiPath<String>,
) -> Result<Json<CollectResult>, ApiError> {
    let agent_id = parse_agent_id(&agent_id)?;
    let seq = agents::collect_now(&state.ctx, &caller.actor(), &agent_id).await?;
    Ok(Json(CollectResult { agent_id, seq }))
}
