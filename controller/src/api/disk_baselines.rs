//! Disk baselines over the API (issue 18 §1): a host's accepted SMART baselines, and "accept
//! as new baseline" for one drive (administer on the host; CSRF-checked with a session cookie
//! by the route guard; audited by the domain).

use crate::domain::disk_baselines;
use crate::domain::hosts::parse_agent_id;
use crate::http::auth::Caller;
use crate::http::error::ApiError;
use crate::http::extract::{blocking, ApiPath};
use crate::http::state::AppState;
use crate::storage::disk_baselines::DiskBaseline;
use axum::extract::State;
use axum::Json;
use std::collections::BTreeMap;

/// `GET /api/v1/hosts/{agent_id}/disks/baselines`: by drive (WWN, serial or device name).
pub async fn list(
    State(state): State<AppState>,
    _caller: Caller,
    ApiPath(agent_id): ApiPath<String>,
) -> Result<Json<BTreeMap<String, DiskBaseline>>, ApiError> {
    blocking(&state.ctx, move |ctx| {
        let agent_id = parse_agent_id(&agent_id)?;
        Ok::<_, ApiError>(disk_baselines::of_host(ctx, &agent_id)?)
    })
    .await
    .map(Json)
}

/// `POST /api/v1/hosts/{agent_id}/disks/{drive}/baseline`: the drive's values of now become
/// its baseline; answers the new baseline.
pub async fn accept(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((agent_id, drive)): ApiPath<(String, String)>,
) -> Result<Json<DiskBaseline>, ApiError> {
    blocking(&state.ctx, move |ctx| {
        let agent_id = parse_agent_id(&agent_id)?;
        Ok::<_, ApiError>(disk_baselines::accept(
            ctx,
            &caller.actor(),
            &agent_id,
            &drive,
        )?)
    })
    .await
    .map(Json)
}
