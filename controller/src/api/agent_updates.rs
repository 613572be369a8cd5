//! Agent updates over the API: `POST /api/v1/hosts/{agent_id}/agent-update` queues the build
//! chosen for the host (admins, CSRF-checked for the dashboard's cookie, audited; answered 202
//! with the queued update, which `GET /api/v1/operations/{id}` follows). A thin handler over
//! [`crate::domain::agent_updates`].

use super::agent_update_view::AgentUpdateView;
use crate::domain::agent_updates::{self, AgentUpdateRequest};
use crate::domain::hosts::parse_agent_id;
use crate::domain::tokens::parse_ttl;
use crate::http::auth::Caller;
use crate::http::error::ApiError;
use crate::http::extract::{blocking, ApiJson, ApiPath};
use crate::http::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentUpdateBody {
    /// Exactly this version; default: the newest build for the host.
    pub version: Option<String>,
    /// Go back to an older version.
    #[serde(default)]
    pub rollback: bool,
    /// How long the new process has to reach the controller, e.g. "5m" (default "5m").
    pub confirm_within: Option<String>,
    /// How long to wait for an offline agent, e.g. "1h" (default "24h").
    pub expires_in: Option<String>,
}

/// `POST /api/v1/hosts/{agent_id}/agent-update`; the body is a JSON object (`{}` for the
/// newest build).
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(agent_id): ApiPath<String>,
    ApiJson(body): ApiJson<AgentUpdateBody>,
) -> Result<(StatusCode, Json<AgentUpdateView>), ApiError> {
    blocking(&state.ctx, move |ctx| {
        let agent_id = parse_agent_id(&agent_id)?;
        let defaults = AgentUpdateRequest::default();
        let request = AgentUpdateRequest {
            version: body.version,
            rollback: body.rollback,
            confirm_within: match &body.confirm_within {
                Some(text) => agent_updates::parse_confirm_within(text)?,
                None => defaults.confirm_within,
            },
            expires_in: match &body.expires_in {
                Some(text) => parse_ttl(text)?,
                None => defaults.expires_in,
            },
        };
        agent_updates::submit(ctx, &caller.actor(), &agent_id, &request)
    })
    .await
    .map(|record| (StatusCode::ACCEPTED, Json(record.into())))
}
