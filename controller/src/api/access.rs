//! Who may do what, over the API: user groups and their rights per host group, host groups
//! (label selectors and lists), host labels, and a user's groups. Reading needs view on every
//! host, changing administer on every host (a host's labels: administer on that host); every
//! change is audited. Thin handlers over [`crate::domain::groups`] and [`crate::domain::users`].

use crate::domain::groups::{self, GroupView, HostGroupView};
use crate::domain::hosts::parse_agent_id;
use crate::domain::users;
use crate::http::auth::Caller;
use crate::http::error::ApiError;
use crate::http::extract::{blocking, ApiJson, ApiPath};
use crate::http::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};

/// `GET /api/v1/groups`.
pub async fn groups(State(state): State<AppState>) -> Result<Json<Vec<GroupView>>, ApiError> {
    blocking(&state.ctx, groups::list).await.map(Json)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewGroup {
    pub name: String,
    #[serde(default)]
    pub description: String,
}

/// `POST /api/v1/groups`: a group without rights.
pub async fn create_group(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<NewGroup>,
) -> Result<StatusCode, ApiError> {
    blocking(&state.ctx, move |ctx| {
        groups::create(ctx, &caller.actor(), &body.name, &body.description)
    })
    .await
    .map(|()| StatusCode::CREATED)
}

/// `DELETE /api/v1/groups/{name}`.
pub async fn delete_group(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(name): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    blocking(&state.ctx, move |ctx| {
        groups::delete(ctx, &caller.actor(), &name)
    })
    .await
    .map(|()| StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RightBody {
    /// `view`, `operate`, `administer` or `none`.
    pub right: String,
}

/// `PUT /api/v1/groups/{name}/rights/{host_group}`.
pub async fn set_right(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((name, host_group)): ApiPath<(String, String)>,
    ApiJson(body): ApiJson<RightBody>,
) -> Result<StatusCode, ApiError> {
    let right = groups::parse_right(&body.right)?;
    blocking(&state.ctx, move |ctx| {
        groups::set_right(ctx, &caller.actor(), &name, &host_group, right)
    })
    .await
    .map(|()| StatusCode::NO_CONTENT)
}

/// `GET /api/v1/host-groups`.
pub async fn host_groups(
    State(state): State<AppState>,
) -> Result<Json<Vec<HostGroupView>>, ApiError> {
    blocking(&state.ctx, groups::host_groups).await.map(Json)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostGroupBody {
    /// `name=value` selectors a host must all carry.
    #[serde(default)]
    pub labels: Vec<String>,
    /// Agent ids.
    #[serde(default)]
    pub hosts: Vec<String>,
}

/// `PUT /api/v1/host-groups/{name}`: adds or replaces a host group.
pub async fn put_host_group(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(name): ApiPath<String>,
    ApiJson(body): ApiJson<HostGroupBody>,
) -> Result<StatusCode, ApiError> {
    let labels = groups::parse_labels(&body.labels)?;
    let hosts = body
        .hosts
        .iter()
        .map(|host| parse_agent_id(host))
        .collect::<Result<Vec<_>, _>>()?;
    blocking(&state.ctx, move |ctx| {
        groups::put_host_group(ctx, &caller.actor(), &name, labels, hosts)
    })
    .await
    .map(|()| StatusCode::NO_CONTENT)
}

/// `DELETE /api/v1/host-groups/{name}`.
pub async fn delete_host_group(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(name): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    blocking(&state.ctx, move |ctx| {
        groups::delete_host_group(ctx, &caller.actor(), &name)
    })
    .await
    .map(|()| StatusCode::NO_CONTENT)
}

/// A host's labels as JSON: `{"labels": ["role=media"]}`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabelsBody {
    pub labels: Vec<String>,
}

/// `GET /api/v1/hosts/{agent_id}/labels`.
pub async fn labels(
    State(state): State<AppState>,
    ApiPath(agent_id): ApiPath<String>,
) -> Result<Json<LabelsBody>, ApiError> {
    let agent_id = parse_agent_id(&agent_id)?;
    let labels = blocking(&state.ctx, move |ctx| groups::labels(ctx, &agent_id)).await?;
    Ok(Json(LabelsBody {
        labels: labels
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect(),
    }))
}

/// `PUT /api/v1/hosts/{agent_id}/labels`: replaces the host's labels.
pub async fn set_labels(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(agent_id): ApiPath<String>,
    ApiJson(body): ApiJson<LabelsBody>,
) -> Result<StatusCode, ApiError> {
    let agent_id = parse_agent_id(&agent_id)?;
    let labels = groups::parse_labels(&body.labels)?;
    blocking(&state.ctx, move |ctx| {
        groups::set_labels(ctx, &caller.actor(), &agent_id, &labels)
    })
    .await
    .map(|()| StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserGroupsBody {
    pub groups: Vec<String>,
}

/// `PUT /api/v1/users/{name}/groups`: replaces a user's groups.
pub async fn set_user_groups(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(name): ApiPath<String>,
    ApiJson(body): ApiJson<UserGroupsBody>,
) -> Result<StatusCode, ApiError> {
    blocking(&state.ctx, move |ctx| {
        users::set_groups(ctx, &caller.actor(), &name, &body.groups)
    })
    .await
    .map(|()| StatusCode::NO_CONTENT)
}
