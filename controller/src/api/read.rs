//! Read endpoints (GET): hosts (those the caller may view), a host's latest values and series,
//! history queries with time ranges and downsampling, join tokens, users, API tokens (one's
//! own; all for admins), and the audit log. What each needs is in `api::routes`. Each is a
//! thin handler over [`crate::domain`].

use crate::clock::now_ms;
use crate::domain::access;
use crate::domain::api_tokens::{self, ApiTokenView};
use crate::domain::audit::{self, AuditView};
use crate::domain::history::{self, QueryParams, QueryResult, SeriesDescription};
use crate::domain::hosts::{self, parse_agent_id, Host, HostDetail};
use crate::domain::tokens::{self, JoinTokenSummary};
use crate::domain::users::{self, UserView};
use crate::http::auth::Caller;
use crate::http::error::ApiError;
use crate::http::extract::{blocking, ApiPath, ApiQuery};
use crate::http::state::AppState;
use axum::extract::State;
use axum::Json;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitParams {
    pub limit: Option<usize>,
}

/// `GET /api/v1/hosts`: the hosts the caller may view.
pub async fn hosts(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<Host>>, ApiError> {
    blocking(&state.ctx, move |ctx| {
        let visible = access::visible(ctx, &caller.access)?;
        let mut hosts = hosts::list(ctx)?;
        hosts.retain(|host| visible.sees(&host.agent_id));
        Ok::<_, ApiError>(hosts)
    })
    .await
    .map(Json)
}

/// `GET /api/v1/hosts/{agent_id}`.
pub async fn host(
    State(state): State<AppState>,
    _caller: Caller,
    ApiPath(agent_id): ApiPath<String>,
) -> Result<Json<HostDetail>, ApiError> {
    let agent_id = parse_agent_id(&agent_id)?;
    blocking(&state.ctx, move |ctx| hosts::detail(ctx, &agent_id))
        .await
        .map(Json)
}

/// `GET /api/v1/hosts/{agent_id}/series`.
pub async fn series(
    State(state): State<AppState>,
    _caller: Caller,
    ApiPath(agent_id): ApiPath<String>,
) -> Result<Json<Vec<SeriesDescription>>, ApiError> {
    let agent_id = parse_agent_id(&agent_id)?;
    blocking(&state.ctx, move |ctx| {
        history::describe_series(ctx, &agent_id)
    })
    .await
    .map(Json)
}

/// `GET /api/v1/hosts/{agent_id}/query?metric=...&range=...`.
pub async fn query(
    State(state): State<AppState>,
    _caller: Caller,
    ApiPath(agent_id): ApiPath<String>,
    ApiQuery(params): ApiQuery<QueryParams>,
) -> Result<Json<QueryResult>, ApiError> {
    let agent_id = parse_agent_id(&agent_id)?;
    // Validate before touching the store, so a bad range is a 400 even for unknown hosts.
    history::time_range(&params, now_ms())?;
    blocking(&state.ctx, move |ctx| {
        history::query(ctx, &agent_id, &params, now_ms())
    })
    .await
    .map(Json)
}

/// `GET /api/v1/join-tokens`.
pub async fn join_tokens(
    State(state): State<AppState>,
    _caller: Caller,
) -> Result<Json<Vec<JoinTokenSummary>>, ApiError> {
    blocking(&state.ctx, tokens::newest_first).await.map(Json)
}

/// `GET /api/v1/users`.
pub async fn users(
    State(state): State<AppState>,
    _caller: Caller,
) -> Result<Json<Vec<UserView>>, ApiError> {
    blocking(&state.ctx, users::list).await.map(Json)
}

/// `GET /api/v1/api-tokens`: all for admins, their own for viewers.
pub async fn api_tokens(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<ApiTokenView>>, ApiError> {
    blocking(&state.ctx, move |ctx| {
        api_tokens::visible_to(ctx, &caller.user, caller.is_admin())
    })
    .await
    .map(Json)
}

/// `GET /api/v1/audit?limit=N`, newest first.
pub async fn audit(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<LimitParams>,
) -> Result<Json<Vec<AuditView>>, ApiError> {
    let limit = params.limit.unwrap_or(200).clamp(1, 1000);
    blocking(&state.ctx, move |ctx| audit::recent(ctx, limit))
        .await
        .map(Json)
}
