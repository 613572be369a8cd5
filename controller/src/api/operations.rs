//! Container operations over the API: ask for an update, rollback, restart, backup or
//! restore of one container (admins, CSRF-checked, audited; answered 202 with the queued
//! operation), and read operations with their live progress and results (any user). Thin
//! handlers over [`crate::domain::operations`].

use super::operation_view::OperationView;
use crate::domain::hosts::parse_agent_id;
use crate::domain::operations::{self, OperationRequest, DEFAULT_EXPIRY};
use crate::domain::tokens::parse_ttl;
use crate::http::auth::Caller;
use crate::http::error::ApiError;
use crate::http::extract::{blocking, ApiJson, ApiPath, ApiQuery};
use crate::http::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperationBody {
    /// Updates: the image to pull and run; default: the newest detected candidate.
    pub image: Option<String>,
    /// Updates: apply even if this image failed for this container before.
    #[serde(default)]
    pub force: bool,
    /// Restores: the backup's file name, as listed in a backup's result.
    pub backup: Option<String>,
    /// How long to wait for an offline agent, e.g. "1h" (default "24h").
    pub expires_in: Option<String>,
}

/// `POST /api/v1/hosts/{agent_id}/containers/{name}/{verb}` where verb is `update`,
/// `rollback`, `restart`, `backup` or `restore`; the body is a JSON object (`{}` for none).
pub async fn operate(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((agent_id, container, verb)): ApiPath<(String, String, String)>,
    ApiJson(body): ApiJson<OperationBody>,
) -> Result<(StatusCode, Json<OperationView>), ApiError> {
    blocking(&state.ctx, move |ctx| {
        let agent_id = parse_agent_id(&agent_id)?;
        let kind = operations::parse_kind(&verb)?;
        let request = OperationRequest {
            expires_in: match &body.expires_in {
                Some(text) => parse_ttl(text)?,
                None => DEFAULT_EXPIRY,
            },
            image: body.image,
            force: body.force,
            backup: body.backup,
        };
        operations::submit(ctx, &caller.actor(), &agent_id, &container, kind, &request)
    })
    .await
    .map(|record| (StatusCode::ACCEPTED, Json(record.into())))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperationsQuery {
    pub agent_id: Option<String>,
    /// At most this many, newest first (default 50, at most 1000).
    pub limit: Option<usize>,
}

/// `GET /api/v1/operations?agent_id=&limit=`.
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<OperationsQuery>,
) -> Result<Json<Vec<OperationView>>, ApiError> {
    let limit = query.limit.unwrap_or(50).clamp(1, 1000);
    blocking(&state.ctx, move |ctx| {
        let visible = crate::domain::access::visible(ctx, &caller.access)?;
        let mut records = operations::recent(ctx, query.agent_id.as_deref(), limit)?;
        records.retain(|record| visible.sees(&record.agent_id));
        Ok::<_, ApiError>(records.into_iter().map(OperationView::from).collect())
    })
    .await
    .map(Json)
}

/// `GET /api/v1/operations/{id}`.
pub async fn get(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<OperationView>, ApiError> {
    blocking(&state.ctx, move |ctx| operations::get(ctx, &id))
        .await
        .map(|record| Json(record.into()))
}
