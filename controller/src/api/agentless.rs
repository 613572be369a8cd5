//! Agentless hosts over the REST API (issue 16): viewers list and read them (with the
//! public key to authorize and the host key to confirm, by fingerprint); admins add (the
//! controller generates the login key and answers with its public half), confirm a host key
//! and remove (audited). Thin handlers over [`crate::domain::agentless`].

use crate::domain::agentless::{self, AgentlessView, NewAgentless};
use crate::domain::hosts::parse_agent_id;
use crate::http::auth::Caller;
use crate::http::error::ApiError;
use crate::http::extract::{blocking, ApiJson, ApiPath};
use crate::http::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;

/// `POST /api/v1/agentless`'s body.
#[derive(Debug, Deserialize)]
pub struct AddBody {
    pub name: String,
    pub address: String,
    #[serde(default = "default_port")]
    pub port: u16,
    pub user: String,
    pub proxy: String,
    /// Any of `system,smart,zfs,raid` (all by default).
    #[serde(default = "default_collect")]
    pub collect: String,
    /// E.g. `1m` (the default).
    #[serde(default = "default_interval")]
    pub interval: String,
    /// Log in with this secret of the store instead of a generated key.
    #[serde(default)]
    pub key_secret: Option<String>,
}

fn default_port() -> u16 {
    22
}

fn default_collect() -> String {
    "system,smart,zfs,raid".into()
}

fn default_interval() -> String {
    "1m".into()
}

/// `POST /api/v1/agentless/{name}/confirm`'s body.
#[derive(Debug, Default, Deserialize)]
pub struct ConfirmBody {
    /// The SHA256 fingerprint the owner checked; the presented key is pinned only if it is
    /// this one.
    pub fingerprint: Option<String>,
}

/// `GET /api/v1/agentless`.
pub async fn list(
    State(state): State<AppState>,
    _caller: Caller,
) -> Result<Json<Vec<AgentlessView>>, ApiError> {
    blocking(&state.ctx, agentless::list).await.map(Json)
}

/// `POST /api/v1/agentless`.
pub async fn add(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<AddBody>,
) -> Result<(StatusCode, Json<AgentlessView>), ApiError> {
    blocking(&state.ctx, move |ctx| {
        let collectors = agentless::parse_collectors(&body.collect)?;
        let interval_secs = agentless::parse_interval(&body.interval)?;
        agentless::add(
            ctx,
            &caller.actor(),
            NewAgentless {
                name: body.name,
                address: body.address,
                port: body.port,
                user: body.user,
                proxy: body.proxy,
                collectors,
                interval_secs,
                key_secret: body.key_secret,
            },
        )
    })
    .await
    .map(|view| (StatusCode::CREATED, Json(view)))
}

/// `GET /api/v1/agentless/{name}`.
pub async fn show(
    State(state): State<AppState>,
    _caller: Caller,
    ApiPath(name): ApiPath<String>,
) -> Result<Json<AgentlessView>, ApiError> {
    blocking(&state.ctx, move |ctx| {
        agentless::show(ctx, &parse_agent_id(&name)?)
    })
    .await
    .map(Json)
}

/// `POST /api/v1/agentless/{name}/confirm`.
pub async fn confirm(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(name): ApiPath<String>,
    ApiJson(body): ApiJson<ConfirmBody>,
) -> Result<Json<AgentlessView>, ApiError> {
    blocking(&state.ctx, move |ctx| {
        let host = parse_agent_id(&name)?;
        agentless::confirm(ctx, &caller.actor(), &host, body.fingerprint.as_deref())
    })
    .await
    .map(Json)
}

/// `DELETE /api/v1/agentless/{name}`.
pub async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(name): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    blocking(&state.ctx, move |ctx| {
        agentless::remove(ctx, &caller.actor(), &parse_agent_id(&name)?)
    })
    .await
    .map(|()| StatusCode::NO_CONTENT)
}
