//! Service checks over the REST API (issue 18; docs/services.md): any signed-in user lists the
//! checks with each visible agent's state, latency, reason and TLS days and the uptime over
//! 24 h, 7 d and 30 d; administrators define (PUT, the same fields as `[[services.check]]`)
//! and delete the stored ones, audited. The JSON is designed here, field by field. Thin
//! handlers over [`crate::domain::services`].

use crate::config::service_checks::RawServiceCheck;
use crate::domain::services::{self, CheckView};
use crate::http::auth::Caller;
use crate::http::error::ApiError;
use crate::http::extract::{blocking, ApiJson, ApiPath};
use crate::http::state::AppState;
use crate::service_checks::Origin;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

/// `GET /api/v1/services`.
pub async fn list(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    blocking(&state.ctx, move |ctx| {
        let visible = crate::domain::access::visible(ctx, &caller.access)?;
        let checks = services::list(ctx, &visible, crate::clock::now_ms())?;
        Ok::<_, ApiError>(json!({"checks": checks.iter().map(check_json).collect::<Vec<_>>()}))
    })
    .await
    .map(Json)
}

/// The JSON of one check.
pub fn check_json(check: &CheckView) -> Value {
    let origin = match &check.origin {
        Origin::File => json!({"kind": "file"}),
        Origin::Stored { updated_by, at_ms } => {
            json!({"kind": "stored", "updated_by": updated_by, "updated_at_ms": at_ms})
        }
    };
    json!({
        "name": check.name,
        "kind": check.kind,
        "target": check.target,
        "state": check.state(),
        "interval_secs": check.interval_secs,
        "timeout_ms": check.timeout_ms,
        "tls_warning_days": check.tls_warning_days,
        "groups": check.groups,
        "origin": origin,
        "definition": check.raw,
        "uptime": check.uptime.iter().map(|(window, ratio)| (window.to_string(), json!(ratio))).collect::<serde_json::Map<_, _>>(),
        "agents": check.agents.iter().map(|agent| {
            let result = agent.result.as_ref();
            json!({
                "agent_id": agent.agent_id.as_str(),
                "hostname": agent.hostname,
                "up": result.map(|r| r.up),
                "latency_ms": result.and_then(|r| r.latency_ms),
                "reason": result.and_then(|r| r.reason.clone()),
                "tls_days_left": result.and_then(|r| r.tls_days_left),
                "checked_at_ms": result.map(|r| r.checked_at_ms),
            })
        }).collect::<Vec<_>>(),
    })
}

/// `PUT /api/v1/services/{name}`: the body's `name` must be the path's.
pub async fn set(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(name): ApiPath<String>,
    ApiJson(raw): ApiJson<RawServiceCheck>,
) -> Result<StatusCode, ApiError> {
    if raw.name != name {
        return Err(ApiError::from(crate::domain::error::DomainError::Invalid(
            format!("the body names {:?}, the path {name:?}", raw.name),
        )));
    }
    blocking(&state.ctx, move |ctx| {
        services::set(ctx, &caller.actor(), raw)
    })
    .await?;
    services::assign_all(&state.ctx);
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /api/v1/services/{name}`.
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(name): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    blocking(&state.ctx, move |ctx| {
        services::delete(ctx, &caller.actor(), &name)
    })
    .await?;
    services::assign_all(&state.ctx);
    Ok(StatusCode::NO_CONTENT)
}
