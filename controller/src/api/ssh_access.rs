//! Managed SSH access over the REST API (`/api/v1/ssh/...`): viewers list people and keys,
//! grants, each host's status and drift; admins add and remove people, keys and grants, set a
//! host's mode and drift policy, restore or adopt a hand edit and clear adopted lines (all
//! audited). Thin handlers
//! over [`crate::domain::ssh_access`]; the routes are added to the API's table by [`routes`].

use crate::domain::access::{Need, Right};
use crate::domain::hosts::parse_agent_id;
use crate::domain::ssh_access::views::{DriftView, HostAccessView};
use crate::domain::ssh_access::{
    self as ssh, apply, drift, GrantView, KeyView, NewGrant, PersonView,
};
use crate::http::auth::Caller;
use crate::http::error::ApiError;
use crate::http::extract::{blocking, ApiJson, ApiPath};
use crate::http::routes::Routes;
use crate::http::state::AppState;
use crate::storage::ssh_access::GrantOptions;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use unity_shared::model::ssh::UnixUser;

/// Adds the SSH access routes to the API's table.
pub fn routes(routes: Routes) -> Routes {
    use Need::AllHosts;
    use Right::{Administer, View};
    routes
        .get("/api/v1/ssh/people", AllHosts(View), people)
        .post("/api/v1/ssh/people", AllHosts(Administer), add_person)
        .delete(
            "/api/v1/ssh/people/{name}",
            AllHosts(Administer),
            remove_person,
        )
        .post(
            "/api/v1/ssh/people/{name}/keys",
            AllHosts(Administer),
            add_key,
        )
        .post("/api/v1/ssh/keys/delete", AllHosts(Administer), remove_key)
        .get("/api/v1/ssh/grants", AllHosts(View), grants)
        .post("/api/v1/ssh/grants", AllHosts(Administer), add_grant)
        .delete(
            "/api/v1/ssh/grants/{id}",
            AllHosts(Administer),
            remove_grant,
        )
        .get("/api/v1/ssh/hosts", AllHosts(View), hosts)
        .put(
            "/api/v1/ssh/hosts/{agent_id}",
            AllHosts(Administer),
            set_host,
        )
        .get("/api/v1/ssh/drift", AllHosts(View), drift_list)
        .post(
            "/api/v1/ssh/hosts/{agent_id}/restore",
            AllHosts(Administer),
            restore,
        )
        .post(
            "/api/v1/ssh/hosts/{agent_id}/adopt",
            AllHosts(Administer),
            adopt,
        )
        .post(
            "/api/v1/ssh/hosts/{agent_id}/clear-adopted",
            AllHosts(Administer),
            clear_adopted,
        )
}

/// `GET /api/v1/ssh/people`.
pub async fn people(
    State(state): State<AppState>,
    _caller: Caller,
) -> Result<Json<Vec<PersonView>>, ApiError> {
    blocking(&state.ctx, ssh::people).await.map(Json)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersonBody {
    pub name: String,
}

/// `POST /api/v1/ssh/people`.
pub async fn add_person(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<PersonBody>,
) -> Result<(StatusCode, Json<PersonView>), ApiError> {
    blocking(&state.ctx, move |ctx| {
        ssh::add_person(ctx, &caller.actor(), &body.name)
    })
    .await
    .map(|view| (StatusCode::CREATED, Json(view)))
}

/// `DELETE /api/v1/ssh/people/{name}`.
pub async fn remove_person(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(name): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    blocking(&state.ctx, move |ctx| {
        ssh::remove_person(ctx, &caller.actor(), &name)
    })
    .await
    .map(|()| StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyBody {
    /// The text of the `.pub` file.
    pub public_key: String,
}

/// `POST /api/v1/ssh/people/{name}/keys`.
pub async fn add_key(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(name): ApiPath<String>,
    ApiJson(body): ApiJson<KeyBody>,
) -> Result<(StatusCode, Json<KeyView>), ApiError> {
    blocking(&state.ctx, move |ctx| {
        ssh::add_key(ctx, &caller.actor(), &name, &body.public_key)
    })
    .await
    .map(|view| (StatusCode::CREATED, Json(view)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FingerprintBody {
    pub fingerprint: String,
}

/// `POST /api/v1/ssh/keys/delete` (a fingerprint holds `/` and `+`, so it is not a path).
pub async fn remove_key(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<FingerprintBody>,
) -> Result<StatusCode, ApiError> {
    blocking(&state.ctx, move |ctx| {
        ssh::remove_key(ctx, &caller.actor(), &body.fingerprint)
    })
    .await
    .map(|()| StatusCode::NO_CONTENT)
}

/// `GET /api/v1/ssh/grants`.
pub async fn grants(
    State(state): State<AppState>,
    _caller: Caller,
) -> Result<Json<Vec<GrantView>>, ApiError> {
    blocking(&state.ctx, ssh::grants).await.map(Json)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrantBody {
    pub person: String,
    pub key: Option<String>,
    pub users: Vec<String>,
    pub host: Option<String>,
    pub group: Option<String>,
    /// From now, e.g. `30d`.
    pub expires_in: Option<String>,
    #[serde(default)]
    pub from: Vec<String>,
    pub command: Option<String>,
    #[serde(default)]
    pub no_port_forwarding: bool,
    #[serde(default)]
    pub no_agent_forwarding: bool,
    #[serde(default)]
    pub no_pty: bool,
}

/// `POST /api/v1/ssh/grants`.
pub async fn add_grant(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<GrantBody>,
) -> Result<(StatusCode, Json<GrantView>), ApiError> {
    let new = NewGrant {
        person: body.person,
        key: body.key,
        users: body.users,
        host: body.host,
        group: body.group,
        expires_in: body.expires_in,
        options: GrantOptions {
            from: body.from,
            command: body.command,
            no_port_forwarding: body.no_port_forwarding,
            no_agent_forwarding: body.no_agent_forwarding,
            no_pty: body.no_pty,
        },
    };
    blocking(&state.ctx, move |ctx| {
        ssh::add_grant(ctx, &caller.actor(), new)
    })
    .await
    .map(|view| (StatusCode::CREATED, Json(view)))
}

/// `DELETE /api/v1/ssh/grants/{id}`.
pub async fn remove_grant(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<u64>,
) -> Result<StatusCode, ApiError> {
    blocking(&state.ctx, move |ctx| {
        ssh::remove_grant(ctx, &caller.actor(), id)
    })
    .await
    .map(|()| StatusCode::NO_CONTENT)
}

/// `GET /api/v1/ssh/hosts`: each host's mode, drift policy, generation and last answer.
pub async fn hosts(
    State(state): State<AppState>,
    _caller: Caller,
) -> Result<Json<Vec<HostAccessView>>, ApiError> {
    blocking(&state.ctx, apply::status).await.map(Json)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostBody {
    /// `block` or `file`.
    pub mode: Option<String>,
    /// `report` or `restore`.
    pub on_drift: Option<String>,
}

/// `PUT /api/v1/ssh/hosts/{agent_id}`.
pub async fn set_host(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(agent_id): ApiPath<String>,
    ApiJson(body): ApiJson<HostBody>,
) -> Result<StatusCode, ApiError> {
    blocking(&state.ctx, move |ctx| {
        let agent_id = parse_agent_id(&agent_id)?;
        let mode = body.mode.as_deref().map(ssh::parse_mode).transpose()?;
        let on_drift = body
            .on_drift
            .as_deref()
            .map(ssh::parse_drift_action)
            .transpose()?;
        ssh::set_host(ctx, &caller.actor(), &agent_id, mode, on_drift)
    })
    .await
    .map(|()| StatusCode::NO_CONTENT)
}

/// `GET /api/v1/ssh/drift`: hand edits found and left, with what Unity expects.
pub async fn drift_list(
    State(state): State<AppState>,
    _caller: Caller,
) -> Result<Json<Vec<DriftView>>, ApiError> {
    blocking(&state.ctx, drift::list).await.map(Json)
}

/// `POST /api/v1/ssh/hosts/{agent_id}/restore`: writes Unity's keys back now.
pub async fn restore(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(agent_id): ApiPath<String>,
) -> Result<Json<HostAccessView>, ApiError> {
    let agent_id = parse_agent_id(&agent_id)?;
    Ok(Json(
        drift::restore(&state.ctx, &caller.actor(), &agent_id).await?,
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdoptBody {
    pub user: String,
}

fn unix_user(name: String) -> Result<UnixUser, ApiError> {
    UnixUser::new(name).map_err(|error| {
        ApiError::from(crate::domain::error::DomainError::Invalid(
            error.to_string(),
        ))
    })
}

/// `POST /api/v1/ssh/hosts/{agent_id}/adopt`: keeps a user's hand edit.
pub async fn adopt(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(agent_id): ApiPath<String>,
    ApiJson(body): ApiJson<AdoptBody>,
) -> Result<Json<HostAccessView>, ApiError> {
    let agent_id = parse_agent_id(&agent_id)?;
    let user = unix_user(body.user)?;
    Ok(Json(
        drift::adopt(&state.ctx, &caller.actor(), &agent_id, &user).await?,
    ))
}

/// `POST /api/v1/ssh/hosts/{agent_id}/clear-adopted`: drops the lines adopted for a user.
pub async fn clear_adopted(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(agent_id): ApiPath<String>,
    ApiJson(body): ApiJson<AdoptBody>,
) -> Result<Json<HostAccessView>, ApiError> {
    let agent_id = parse_agent_id(&agent_id)?;
    let user = unix_user(body.user)?;
    Ok(Json(
        drift::clear(&state.ctx, &caller.actor(), &agent_id, &user).await?,
    ))
}
