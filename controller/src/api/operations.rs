//! Container operations over the API: ask for an update, rollback, restart, backup or
//! restore of one container (admins, CSRF-checked, audited; answered 202 with the queued
//! operation), and read operations with their live progress and results (any user). Thin
//! handlers over [`crate::domain::operations`].

use super::agent_update_view::{self, AgentUpdateView, AnyOperationView};
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

/// `GET /api/v1/operations?agent_id=&limit=`: container operations and agent updates
/// (`action: "agent_update"`), newest first.
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<OperationsQuery>,
) -> Result<Json<Vec<AnyOperationView>>, ApiError> {
    let limit = query.limit.unwrap_or(50).clamp(1, 1000);
    blocking(&state.ctx, move |ctx| {
        let visible = crate::domain::access::visible(ctx, &caller.access)?;
        let agent_id = query.agent_id.as_deref();
        let mut records = operations::recent(ctx, agent_id, limit)?;
        records.retain(|record| visible.sees(&record.agent_id));
        let mut updates = crate::domain::agent_updates::recent(ctx, agent_id, limit)?;
        updates.retain(|record| visible.sees(&record.agent_id));
        Ok::<_, ApiError>(agent_update_view::merge(
            records.into_iter().map(OperationView::from).collect(),
            updates.into_iter().map(AgentUpdateView::from).collect(),
            limit,
        ))
    })
    .await
    .map(Json)
}

/// `GET /api/v1/operations/{id}`: a container operation or an agent update.
pub async fn get(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<AnyOperationView>, ApiError> {
    blocking(&state.ctx, move |ctx| {
        if let Some(update) = crate::domain::agent_updates::find(ctx, &id)? {
            return Ok(AnyOperationView::Agent(Box::new(update.into())));
        }
        operations::get(ctx, &id).map(|record| AnyOperationView::Container(Box::new(record.into())))
    })
    .await
    .map(Json)
}
