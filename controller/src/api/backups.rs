//! A container's backups (any user): listed with their image, and diffed field by field. Thin
//! handlers over [`crate::domain::backups`].

use crate::domain::backups::{self, BackupView, FieldChange};
use crate::domain::hosts::parse_agent_id;
use crate::http::auth::Caller;
use crate::http::error::ApiError;
use crate::http::extract::{blocking, ApiPath, ApiQuery};
use crate::http::state::AppState;
use axum::extract::State;
use axum::Json;
use serde::Deserialize;

/// `GET /api/v1/hosts/{agent_id}/containers/{name}/backups`.
pub async fn list(
    State(state): State<AppState>,
    _caller: Caller,
    ApiPath((agent_id, container)): ApiPath<(String, String)>,
) -> Result<Json<Vec<BackupView>>, ApiError> {
    blocking(&state.ctx, move |ctx| {
        let agent_id = parse_agent_id(&agent_id)?;
        backups::of_container(ctx, &agent_id, &container)
    })
    .await
    .map(Json)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiffQuery {
    /// A backup's file name (the older one).
    pub from: String,
    /// Another backup's file name.
    pub to: String,
}

/// `GET /api/v1/hosts/{agent_id}/containers/{name}/backups/diff?from=&to=`.
pub async fn diff_handler(
    State(state): State<AppState>,
    _caller: Caller,
    ApiPath((agent_id, container)): ApiPath<(String, String)>,
    ApiQuery(query): ApiQuery<DiffQuery>,
) -> Result<Json<Vec<FieldChange>>, ApiError> {
    blocking(&state.ctx, move |ctx| {
        let agent_id = parse_agent_id(&agent_id)?;
        backups::changes(ctx, &agent_id, &container, &query.from, &query.to)
    })
    .await
    .map(Json)
}
