//! The alert lifecycle's endpoints (issue 18 §2), thin handlers over
//! [`crate::domain::alert_actions`] and [`crate::domain::alert_rules`]: acknowledge and
//! un-acknowledge an open alert (operate on its host), silences (list: view every host;
//! create, delete: operate on every host), the operator's rules (list: view every host;
//! put, delete: administer). Bodies are designed JSON objects, unknown fields refused.

use crate::config::alert_rule::RawSeriesRule;
use crate::domain::alert_actions::{self, SilenceRequest, SilenceView};
use crate::domain::alert_rules::{self, RuleView};
use crate::domain::hosts::parse_agent_id;
use crate::http::auth::Caller;
use crate::http::error::ApiError;
use crate::http::extract::{blocking, ApiJson, ApiPath};
use crate::http::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AckBody {
    /// The alert's key, e.g. `pool/nas01/tank`.
    pub key: String,
    /// Why, for the others (at most 1000 characters).
    #[serde(default)]
    pub note: String,
}

/// An acknowledgement as answered.
#[derive(Debug, Serialize)]
pub struct AckAnswer {
    pub key: String,
    pub by: String,
    pub at_ms: i64,
    pub note: String,
}

/// `POST /api/v1/hosts/{agent_id}/alerts/acknowledge` `{"key": .., "note": ..}`.
pub async fn acknowledge(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(agent_id): ApiPath<String>,
    ApiJson(body): ApiJson<AckBody>,
) -> Result<Json<AckAnswer>, ApiError> {
    let agent_id = parse_agent_id(&agent_id)?;
    blocking(&state.ctx, move |ctx| {
        let ack =
            alert_actions::acknowledge(ctx, &caller.actor(), &agent_id, &body.key, &body.note)?;
        Ok::<_, ApiError>(AckAnswer {
            key: body.key,
            by: ack.by.to_string(),
            at_ms: ack.at_ms,
            note: ack.note,
        })
    })
    .await
    .map(Json)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnackBody {
    pub key: String,
}

/// `POST /api/v1/hosts/{agent_id}/alerts/unacknowledge` `{"key": ..}`.
pub async fn unacknowledge(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(agent_id): ApiPath<String>,
    ApiJson(body): ApiJson<UnackBody>,
) -> Result<StatusCode, ApiError> {
    let agent_id = parse_agent_id(&agent_id)?;
    blocking(&state.ctx, move |ctx| {
        alert_actions::unacknowledge(ctx, &caller.actor(), &agent_id, &body.key)
    })
    .await
    .map(|()| StatusCode::NO_CONTENT)
}

/// `GET /api/v1/alerts/silences`: those in force, oldest first.
pub async fn silences(
    State(state): State<AppState>,
    _caller: Caller,
) -> Result<Json<Vec<SilenceView>>, ApiError> {
    blocking(&state.ctx, alert_actions::silences)
        .await
        .map(Json)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SilenceBody {
    /// Only this host's alerts (agent id).
    pub host: Option<String>,
    /// Only alerts of this rule: the first part of their key (`disk`, `container`).
    pub rule: Option<String>,
    /// Only alerts whose key starts with this (not with `rule`).
    pub key_prefix: Option<String>,
    /// Only alerts of hosts with this label, `name=value`.
    pub label: Option<String>,
    #[serde(default)]
    pub comment: String,
    /// How long from now, e.g. "2h" (1 minute to 90 days).
    pub duration: String,
}

/// `POST /api/v1/alerts/silences`.
pub async fn create_silence(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<SilenceBody>,
) -> Result<(StatusCode, Json<SilenceView>), ApiError> {
    let request = SilenceRequest {
        host: body.host,
        rule: body.rule,
        key_prefix: body.key_prefix,
        label: body.label,
        comment: body.comment,
        duration: body.duration,
    };
    blocking(&state.ctx, move |ctx| {
        alert_actions::silence(ctx, &caller.actor(), &request)
    })
    .await
    .map(|view| (StatusCode::CREATED, Json(view)))
}

/// `DELETE /api/v1/alerts/silences/{id}`.
pub async fn delete_silence(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    let id = alert_actions::parse_silence_id(&id)?;
    blocking(&state.ctx, move |ctx| {
        alert_actions::unsilence(ctx, &caller.actor(), id)
    })
    .await
    .map(|()| StatusCode::NO_CONTENT)
}

/// `GET /api/v1/alerts/rules`: the config file's (read-only), then the stored ones.
pub async fn rules(
    State(state): State<AppState>,
    _caller: Caller,
) -> Result<Json<Vec<RuleView>>, ApiError> {
    blocking(&state.ctx, alert_rules::list).await.map(Json)
}

/// `PUT /api/v1/alerts/rules/{name}`: makes or replaces a stored rule. The body is a rule
/// as the config file writes one (`name` may be left out; if given it must be the path's).
pub async fn put_rule(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(name): ApiPath<String>,
    ApiJson(mut body): ApiJson<RawSeriesRule>,
) -> Result<Json<RuleView>, ApiError> {
    if !body.name.is_empty() && body.name != name {
        return Err(ApiError::BadRequest(format!(
            "the body names rule {:?}, the path {name:?}",
            body.name
        )));
    }
    body.name = name;
    blocking(&state.ctx, move |ctx| {
        alert_rules::put(ctx, &caller.actor(), &body)
    })
    .await
    .map(Json)
}

/// `DELETE /api/v1/alerts/rules/{name}`.
pub async fn delete_rule(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(name): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    blocking(&state.ctx, move |ctx| {
        alert_rules::delete(ctx, &caller.actor(), &name)
    })
    .await
    .map(|()| StatusCode::NO_CONTENT)
}
