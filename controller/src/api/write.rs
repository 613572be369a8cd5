//! Changes (each route's need in `api::routes`, CSRF-checked for cookie sessions, every one
//! audited): join tokens, agent revocation, users and API tokens. Each is a thin handler over [`crate::domain`], which
//! the dashboard forms and the CLI (through the admin socket) call too.

use crate::domain::api_tokens::{self, NewApiToken};
use crate::domain::hosts::parse_agent_id;
use crate::domain::tokens::{self, JoinToken};
use crate::domain::{agents, users};
use crate::http::auth::Caller;
use crate::http::error::ApiError;
use crate::http::extract::{blocking, ApiJson, ApiPath};
use crate::http::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use unity_shared::proto::AgentId;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateJoinToken {
    /// Lifetime such as `30m` or `2d`; default `token_ttl` from the configuration.
    pub ttl: Option<String>,
}

/// `POST /api/v1/join-tokens`.
pub async fn create_join_token_handler(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<CreateJoinToken>,
) -> Result<(StatusCode, Json<JoinToken>), ApiError> {
    let ttl = match request.ttl.as_deref() {
        Some(text) => tokens::parse_ttl(text)?,
        None => state.ctx.config.token_ttl,
    };
    blocking(&state.ctx, move |ctx| {
        tokens::create(ctx, &caller.actor(), ttl)
    })
    .await
    .map(|token| (StatusCode::CREATED, Json(token)))
}

#[derive(Debug, Serialize)]
pub struct Revoked {
    pub agent_id: AgentId,
    pub was_connected: bool,
}

/// `POST /api/v1/hosts/{agent_id}/revoke`.
pub async fn revoke_agent_handler(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(agent_id): ApiPath<String>,
) -> Result<Json<Revoked>, ApiError> {
    blocking(&state.ctx, move |ctx| {
        let agent_id = parse_agent_id(&agent_id)?;
        let was_connected = agents::revoke_audited(ctx, &caller.actor(), &agent_id)?;
        Ok::<_, ApiError>(Revoked {
            agent_id,
            was_connected,
        })
    })
    .await
    .map(Json)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    pub name: String,
    /// `admin` (the group `admins`) or `viewer` (the group `viewers`); or give `groups`.
    pub role: Option<String>,
    /// User groups; default the role's group.
    pub groups: Option<Vec<String>>,
    /// At least 8 characters; omit to have one generated and returned once.
    pub password: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct CreatedUser {
    pub name: String,
    pub groups: Vec<String>,
    /// Only when it was generated.
    pub password: Option<String>,
}

/// `POST /api/v1/users`.
pub async fn create_user_handler(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<CreateUser>,
) -> Result<(StatusCode, Json<CreatedUser>), ApiError> {
    let groups = match (&request.groups, &request.role) {
        (Some(groups), None) => groups.clone(),
        (None, Some(role)) => users::role_groups(users::parse_role(role)?),
        (None, None) => users::role_groups(users::parse_role("viewer")?),
        (Some(_), Some(_)) => {
            return Err(ApiError::BadRequest("give role or groups, not both".into()))
        }
    };
    let generated = request.password.is_none().then(users::random_password);
    let password = request
        .password
        .or_else(|| generated.clone())
        .unwrap_or_default();
    blocking(&state.ctx, move |ctx| {
        users::create(ctx, &caller.actor(), &request.name, &groups, &password)?;
        Ok::<_, ApiError>(CreatedUser {
            name: request.name,
            groups,
            password: generated,
        })
    })
    .await
    .map(|user| (StatusCode::CREATED, Json(user)))
}

/// `DELETE /api/v1/users/{name}`.
pub async fn delete_user_handler(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(name): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    blocking(&state.ctx, move |ctx| {
        users::delete(ctx, &caller.actor(), &name)
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateApiToken {
    pub name: String,
    /// The user the token acts as; default the caller.
    pub user: Option<String>,
    /// `read` (default: at most view), `operate` (at most operate) or `admin` (the user's
    /// rights).
    pub scope: Option<String>,
    /// Only the hosts of this host group; default every host of the user.
    pub host_group: Option<String>,
    /// Lifetime such as `30d` or `1y`, or `never` (default).
    pub expires_in: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct CreatedApiToken {
    /// Send as `Authorization: Bearer <token>`. Shown once; only its hash is stored.
    pub token: String,
    pub token_id: String,
    pub owner: String,
    pub name: String,
    pub scope: &'static str,
    /// Unix milliseconds; `null`: never.
    pub expires_at_ms: Option<i64>,
    pub host_group: Option<String>,
}

/// `POST /api/v1/api-tokens`.
pub async fn create_api_token_handler(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<CreateApiToken>,
) -> Result<(StatusCode, Json<CreatedApiToken>), ApiError> {
    let scope = api_tokens::parse_scope(request.scope.as_deref().unwrap_or("read"))?;
    let expires_in = api_tokens::parse_lifetime(request.expires_in.as_deref().unwrap_or("never"))?;
    let owner = request.user.unwrap_or_else(|| caller.user.clone());
    blocking(&state.ctx, move |ctx| {
        let new = NewApiToken {
            owner: &owner,
            name: &request.name,
            scope,
            expires_in,
            host_group: request.host_group.as_deref(),
        };
        let (token, record) = api_tokens::create(ctx, &caller.actor(), &new)?;
        Ok::<_, ApiError>(CreatedApiToken {
            token,
            token_id: record.token_id,
            owner: record.owner,
            name: record.name,
            scope: record.scope.as_str(),
            expires_at_ms: record.expires_at_ms,
            host_group: record.host_group,
        })
    })
    .await
    .map(|token| (StatusCode::CREATED, Json(token)))
}

/// `DELETE /api/v1/api-tokens/{token_id}`: revokes the token.
pub async fn delete_api_token_handler(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(token_id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    blocking(&state.ctx, move |ctx| {
        api_tokens::revoke(ctx, &caller.actor(), &token_id)
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
