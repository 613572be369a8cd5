//! Commands sent to a connected agent (admins only, audited): ping, collect now.

use super::auth::Admin;
use super::read::parse_agent_id;
use super::write::audit;
use super::{blocking, ApiError, ApiPath, AppState};
use crate::transport::hub::CommandError;
use axum::extract::State;
use axum::Json;
use serde::Serialize;
use std::time::Duration;
use unity_shared::proto::{CollectNow, Ping};

/// How long a command may take before the API gives up.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(10);

fn command_error(error: CommandError) -> ApiError {
    ApiError::Unavailable(error.to_string())
}

async fn audited(
    state: &AppState,
    actor: String,
    action: &'static str,
    target: String,
) -> Result<(), ApiError> {
    blocking(&state.ctx, move |ctx| audit(ctx, &actor, action, &target)).await
}

#[derive(Debug, Serialize)]
pub struct PingResult {
    pub agent_id: String,
    pub round_trip_ms: f64,
}

/// `POST /api/v1/hosts/{agent_id}/ping`.
pub async fn ping(
    State(state): State<AppState>,
    Admin(caller): Admin,
    ApiPath(agent_id): ApiPath<String>,
) -> Result<Json<PingResult>, ApiError> {
    let agent_id = parse_agent_id(&agent_id)?;
    audited(&state, caller.user, "agent.ping", agent_id.to_string()).await?;
    let started = tokio::time::Instant::now();
    let nonce: u64 = rand::random();
    let pong = state
        .ctx
        .hub
        .request(&agent_id, Ping { nonce }, COMMAND_TIMEOUT)
        .await
        .map_err(command_error)?;
    if pong.nonce != nonce {
        return Err(ApiError::Unavailable(
            "the agent answered with a wrong nonce".into(),
        ));
    }
    Ok(Json(PingResult {
        agent_id: agent_id.to_string(),
        round_trip_ms: started.elapsed().as_secs_f64() * 1000.0,
    }))
}

#[derive(Debug, Serialize)]
pub struct CollectResult {
    pub agent_id: String,
    /// The sequence number of the report the collection produced.
    pub seq: u64,
}

/// `POST /api/v1/hosts/{agent_id}/collect`.
pub async fn collect_now(
    State(state): State<AppState>,
    Admin(caller): Admin,
    ApiPath(agent_id): ApiPath<String>,
) -> Result<Json<CollectResult>, ApiError> {
    let agent_id = parse_agent_id(&agent_id)?;
    audited(&state, caller.user, "agent.collect", agent_id.to_string()).await?;
    let collected = state
        .ctx
        .hub
        .request(&agent_id, CollectNow, COMMAND_TIMEOUT)
        .await
        .map_err(command_error)?;
    Ok(Json(CollectResult {
        agent_id: agent_id.to_string(),
        seq: collected.seq,
    }))
}
