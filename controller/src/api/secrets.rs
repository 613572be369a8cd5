//! The secrets store over the REST API, for admins only: create or replace a value, list,
//! read metadata (the fingerprint, never the value), set the scope, delete, rotate the
//! sealing key. Thin handlers over [`crate::domain::secrets`] and [`crate::domain::sealing`];
//! every change is audited there.

use crate::domain::sealing::{self, RotationReport};
use crate::domain::secrets::{self, SecretView};
use crate::http::auth::Caller;
use crate::http::error::ApiError;
use crate::http::extract::{blocking, ApiJson, ApiPath};
use crate::http::state::AppState;
use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use unity_shared::model::secret::SecretValue;
use unity_shared::proto::AgentId;

/// `PUT /api/v1/secrets/{name}`: the value (never returned) and, optionally, the kind.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretBody {
    pub value: String,
    #[serde(default)]
    pub kind: Option<String>,
}

/// `PUT /api/v1/secrets/{name}/scope`: hosts (agent ids) and host groups; both empty: no host.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScopeBody {
    #[serde(default)]
    pub hosts: Vec<AgentId>,
    #[serde(default)]
    pub groups: Vec<String>,
}

/// `GET /api/v1/secrets`.
pub async fn list(
    State(state): State<AppState>,
    _caller: Caller,
) -> Result<Json<Vec<SecretView>>, ApiError> {
    blocking(&state.ctx, secrets::list).await.map(Json)
}

/// `GET /api/v1/secrets/{name}`.
pub async fn show(
    State(state): State<AppState>,
    _caller: Caller,
    ApiPath(name): ApiPath<String>,
) -> Result<Json<SecretView>, ApiError> {
    let name = secrets::parse_name(&name)?;
    blocking(&state.ctx, move |ctx| secrets::show(ctx, &name))
        .await
        .map(Json)
}

/// `PUT /api/v1/secrets/{name}`: create or replace the value.
pub async fn set(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(name): ApiPath<String>,
    ApiJson(body): ApiJson<SecretBody>,
) -> Result<Json<SecretView>, ApiError> {
    let name = secrets::parse_name(&name)?;
    let kind = body.kind.as_deref().map(secrets::parse_kind).transpose()?;
    let value = SecretValue::new(body.value);
    blocking(&state.ctx, move |ctx| {
        secrets::set(ctx, &caller.actor(), &name, kind, &value)
    })
    .await
    .map(Json)
}

/// `PUT /api/v1/secrets/{name}/scope`.
pub async fn set_scope(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(name): ApiPath<String>,
    ApiJson(body): ApiJson<ScopeBody>,
) -> Result<Json<SecretView>, ApiError> {
    let name = secrets::parse_name(&name)?;
    blocking(&state.ctx, move |ctx| {
        secrets::set_scope(ctx, &caller.actor(), &name, body.hosts, body.groups)
    })
    .await
    .map(Json)
}

/// `DELETE /api/v1/secrets/{name}`.
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(name): ApiPath<String>,
) -> Result<axum::http::StatusCode, ApiError> {
    let name = secrets::parse_name(&name)?;
    blocking(&state.ctx, move |ctx| {
        secrets::delete(ctx, &caller.actor(), &name)
    })
    .await
    .map(|()| axum::http::StatusCode::NO_CONTENT)
}

/// `POST /api/v1/secrets/rotate-key`: a new sealing key, every sealed record re-sealed.
pub async fn rotate_key(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<RotationReport>, ApiError> {
    blocking(&state.ctx, move |ctx| {
        sealing::rotate_key(ctx, &caller.actor())
    })
    .await
    .map(Json)
}
