//! Container updates over the API: the newest check of every container (any user), "check
//! now", update-policy overrides per host and per container, maintenance windows, and registry
//! credentials (admins only, CSRF-checked, audited). Credentials are write-only: no endpoint
//! returns a secret. Thin handlers over [`crate::domain::updates`],
//! [`crate::domain::update_policies`] and [`crate::domain::registries`].

use crate::domain::actor::Actor;
use crate::domain::hosts::parse_agent_id;
use crate::domain::registries::{self, NewCredentials, RegistryView};
use crate::domain::update_policies::{self, PolicyView, WindowsView};
use crate::domain::updates::{self, parse_check_filter};
use crate::http::auth::Caller;
use crate::http::error::ApiError;
use crate::http::extract::{blocking, ApiJson, ApiPath, ApiQuery};
use crate::http::state::AppState;
use crate::storage::containers::PolicyScope;
use crate::updates::watch::RunSummary;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdatesQuery {
    /// `update` (default: only containers with an update), `error`, or `all`.
    pub status: Option<String>,
}

/// `GET /api/v1/updates?status=update|error|all`: of the hosts the caller may view.
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<UpdatesQuery>,
) -> Result<Json<Vec<updates::CheckView>>, ApiError> {
    let filter = parse_check_filter(query.status.as_deref())?;
    blocking(&state.ctx, move |ctx| {
        let visible = crate::domain::access::visible(ctx, &caller.access)?;
        let mut checks = updates::checks(ctx, filter)?;
        checks.retain(|check| visible.sees(&check.record.agent_id));
        Ok::<_, ApiError>(checks)
    })
    .await
    .map(Json)
}

/// `POST /api/v1/updates/check`: checks every container now and waits for the result.
pub async fn check_now(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<RunSummary>, ApiError> {
    Ok(Json(updates::check_now(&state.ctx, &caller.actor()).await?))
}

/// An override's settings as JSON: `{"mode": "notify", "level": "patch", "pin": "true"}`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyBody {
    pub settings: BTreeMap<String, String>,
}

async fn get_policy(state: &AppState, scope: PolicyScope) -> Result<Json<PolicyView>, ApiError> {
    blocking(&state.ctx, move |ctx| update_policies::view(ctx, &scope))
        .await
        .map(Json)
}

async fn put_policy(
    state: &AppState,
    actor: Actor,
    scope: PolicyScope,
    body: PolicyBody,
) -> Result<Json<PolicyView>, ApiError> {
    blocking(&state.ctx, move |ctx| {
        update_policies::put(ctx, &actor, scope.clone(), &body.settings)?;
        update_policies::view(ctx, &scope)
    })
    .await
    .map(Json)
}

/// `GET /api/v1/hosts/{agent_id}/update-policy`.
pub async fn host_policy(
    State(state): State<AppState>,
    _caller: Caller,
    ApiPath(agent_id): ApiPath<String>,
) -> Result<Json<PolicyView>, ApiError> {
    let agent_id = parse_agent_id(&agent_id)?;
    get_policy(&state, PolicyScope::Host { agent_id }).await
}

/// `PUT /api/v1/hosts/{agent_id}/update-policy`; empty settings remove the override.
pub async fn set_host_policy(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(agent_id): ApiPath<String>,
    ApiJson(body): ApiJson<PolicyBody>,
) -> Result<Json<PolicyView>, ApiError> {
    let agent_id = parse_agent_id(&agent_id)?;
    put_policy(&state, caller.actor(), PolicyScope::Host { agent_id }, body).await
}

/// `GET /api/v1/hosts/{agent_id}/containers/{name}/update-policy`.
pub async fn container_policy(
    State(state): State<AppState>,
    _caller: Caller,
    ApiPath((agent_id, container)): ApiPath<(String, String)>,
) -> Result<Json<PolicyView>, ApiError> {
    let scope = PolicyScope::Container {
        agent_id: parse_agent_id(&agent_id)?,
        container,
    };
    get_policy(&state, scope).await
}

/// `PUT /api/v1/hosts/{agent_id}/containers/{name}/update-policy`.
pub async fn set_container_policy(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((agent_id, container)): ApiPath<(String, String)>,
    ApiJson(body): ApiJson<PolicyBody>,
) -> Result<Json<PolicyView>, ApiError> {
    let scope = PolicyScope::Container {
        agent_id: parse_agent_id(&agent_id)?,
        container,
    };
    put_policy(&state, caller.actor(), scope, body).await
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowsBody {
    /// E.g. `["Sat 02:00-05:00 Europe/Berlin", "cron: 0 3 * * 1 duration 1h tz UTC"]`;
    /// empty: the host follows its group's or the controller's windows.
    pub windows: Vec<String>,
}

/// `GET /api/v1/hosts/{agent_id}/maintenance-windows`.
pub async fn host_windows(
    State(state): State<AppState>,
    _caller: Caller,
    ApiPath(agent_id): ApiPath<String>,
) -> Result<Json<WindowsView>, ApiError> {
    let agent_id = parse_agent_id(&agent_id)?;
    blocking(&state.ctx, move |ctx| {
        update_policies::windows(ctx, &agent_id)
    })
    .await
    .map(Json)
}

/// `PUT /api/v1/hosts/{agent_id}/maintenance-windows`.
pub async fn set_host_windows(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(agent_id): ApiPath<String>,
    ApiJson(body): ApiJson<WindowsBody>,
) -> Result<StatusCode, ApiError> {
    let agent_id = parse_agent_id(&agent_id)?;
    blocking(&state.ctx, move |ctx| {
        update_policies::set_windows(ctx, &caller.actor(), &agent_id, &body.windows)
    })
    .await
    .map(|()| StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryBody {
    pub username: String,
    /// The password or access token; never returned or logged.
    #[serde(default)]
    pub secret: String,
    /// Or the name of a secret of the store that holds it.
    #[serde(default)]
    pub secret_name: Option<String>,
    #[serde(default)]
    pub plain_http: bool,
}

/// `GET /api/v1/registries`: registries with stored credentials.
pub async fn registries(
    State(state): State<AppState>,
) -> Result<Json<Vec<RegistryView>>, ApiError> {
    blocking(&state.ctx, registries::list).await.map(Json)
}

/// `PUT /api/v1/registries/{registry}`: stores (replaces) a registry's credentials, sealed.
pub async fn set_registry(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(registry): ApiPath<String>,
    ApiJson(body): ApiJson<RegistryBody>,
) -> Result<StatusCode, ApiError> {
    let registry = registries::parse_registry(&registry)?;
    let new = NewCredentials {
        username: body.username,
        secret: body.secret,
        secret_name: body.secret_name,
        plain_http: body.plain_http,
    };
    blocking(&state.ctx, move |ctx| {
        registries::set(ctx, &caller.actor(), &registry, new)
    })
    .await
    .map(|()| StatusCode::NO_CONTENT)
}

/// `DELETE /api/v1/registries/{registry}`.
pub async fn delete_registry(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(registry): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    blocking(&state.ctx, move |ctx| {
        registries::delete(ctx, &caller.actor(), &registry)
    })
    .await
    .map(|()| StatusCode::NO_CONTENT)
}
