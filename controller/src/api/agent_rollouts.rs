//! Fleet rollouts of an agent version over the API (docs/agent-updates.md):
//! `GET /api/v1/agent-rollout` (the newest, host by host), `POST /api/v1/agent-rollout` to start
//! one, and `POST /api/v1/agent-rollout/{halt,resume,cancel}`. Administering every host is
//! required for all but reading (one rule per route, in `api::routes`). Thin handlers over
//! [`crate::domain::agent_rollouts`].

use crate::domain::agent_rollouts::{self, RolloutRequest, RolloutView};
use crate::http::auth::Caller;
use crate::http::error::ApiError;
use crate::http::extract::{blocking, ApiJson};
use crate::http::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartBody {
    /// The version every host should run.
    pub version: String,
    /// The host updated first (agent id or hostname); default: chosen.
    pub canary: Option<String>,
    /// Host groups in order; hosts in none come last.
    #[serde(default)]
    pub stages: Vec<String>,
    /// How many at once after the canary (default 1).
    pub parallel: Option<u32>,
    /// How long each new agent has to reach the controller, e.g. "5m" (default "5m").
    pub confirm_within: Option<String>,
}

/// `GET /api/v1/agent-rollout`: the newest rollout; 404 when there never was one.
pub async fn current(State(state): State<AppState>) -> Result<Json<RolloutView>, ApiError> {
    blocking(&state.ctx, agent_rollouts::current)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound("no agent rollout yet".into()))
}

/// `POST /api/v1/agent-rollout`: answered 201 with the rollout.
pub async fn start(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<StartBody>,
) -> Result<(StatusCode, Json<RolloutView>), ApiError> {
    blocking(&state.ctx, move |ctx| {
        let confirm_within = match &body.confirm_within {
            Some(text) => crate::domain::agent_updates::parse_confirm_within(text)?,
            None => crate::domain::agent_updates::DEFAULT_CONFIRM_WITHIN,
        };
        let request = RolloutRequest {
            version: body.version,
            canary: body.canary,
            stages: body.stages,
            max_parallel: body.parallel.unwrap_or(1),
            confirm_within_secs: confirm_within.as_secs(),
        };
        agent_rollouts::start(ctx, &caller.actor(), &request)
    })
    .await
    .map(|view| (StatusCode::CREATED, Json(view)))
}

/// `POST /api/v1/agent-rollout/halt`.
pub async fn halt(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<RolloutView>, ApiError> {
    blocking(&state.ctx, move |ctx| {
        agent_rollouts::halt(ctx, &caller.actor())
    })
    .await
    .map(Json)
}

/// `POST /api/v1/agent-rollout/resume`.
pub async fn resume(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<RolloutView>, ApiError> {
    blocking(&state.ctx, move |ctx| {
        agent_rollouts::resume(ctx, &caller.actor())
    })
    .await
    .map(Json)
}

/// `POST /api/v1/agent-rollout/cancel`.
pub async fn cancel(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<RolloutView>, ApiError> {
    blocking(&state.ctx, move |ctx| {
        agent_rollouts::cancel(ctx, &caller.actor())
    })
    .await
    .map(Json)
}
