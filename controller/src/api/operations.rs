//! Container operations over the API: ask for an update, rollback, restart, backup or
//! restore of one container (admins, CSRF-checked, audited; answered 202 with the queued
//! operation), and read operations with their live progress and results (any user).

use super::auth::{Admin, Caller};
use super::read::parse_agent_id;
use super::write::{audit, parse_ttl};
use super::{blocking, ApiError, ApiJson, ApiPath, ApiQuery, AppState};
use crate::context::Context;
use crate::storage::containers::CheckOutcome;
use crate::storage::operations::OperationRecord;
use crate::storage::registry::StateKind;
use crate::updates::dispatch::{with_tag, Action, NewOperation};
use crate::updates::watch::policy_for;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use std::time::Duration;
use unity_shared::model::container::{Container, ContainerInventory};

/// How long an operation waits for an offline agent by default.
pub const DEFAULT_EXPIRY: Duration = Duration::from_secs(24 * 3600);

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperationBody {
    /// Updates: the image to pull and run; default: the newest detected candidate.
    pub image: Option<String>,
    /// Updates: apply even if this image failed for this container before.
    #[serde(default)]
    pub force: bool,
    /// Restores: the backup's file name, as listed in a backup's result.
    pub backup: Option<String>,
    /// How long to wait for an offline agent, e.g. "1h" (default "24h").
    pub expires_in: Option<String>,
}

/// The action a path names, with the body's details.
fn action_of(
    ctx: &Context,
    verb: &str,
    agent_id: &unity_shared::proto::AgentId,
    running: &Container,
    body: &OperationBody,
) -> Result<Action, ApiError> {
    let container = running.name.as_str();
    Ok(match verb {
        "update" => {
            let check = ctx.store.containers.check(agent_id, container)?;
            let detected = match check.as_ref().map(|check| &check.outcome) {
                Some(CheckOutcome::Update(update)) => Some(update),
                _ => None,
            };
            let image = match (&body.image, detected, &check) {
                (Some(image), _, _) => image.clone(),
                (None, Some(update), Some(check)) => with_tag(&check.image, &update.candidate_tag),
                _ => {
                    return Err(ApiError::Conflict(format!(
                        "no update is known for {container}; check for updates or pass \"image\""
                    )))
                }
            };
            let digest = match (&body.image, detected) {
                (None, Some(update)) => Some(update.candidate_digest.clone()),
                _ => None,
            };
            let probe = match policy_for(ctx, agent_id.as_str(), running)? {
                Ok(policy) => policy.probe,
                Err(error) => return Err(ApiError::Conflict(format!("update policy: {error}"))),
            };
            Action::Update {
                image,
                digest,
                force: body.force,
                probe,
            }
        }
        "rollback" => Action::Rollback,
        "restart" => Action::Restart,
        "backup" => Action::Backup,
        "restore" => Action::Restore {
            backup: body.backup.clone().ok_or_else(|| {
                ApiError::BadRequest("restore needs \"backup\": a backup's file name".into())
            })?,
        },
        _ => {
            return Err(ApiError::NotFound(format!(
                "no container operation {verb:?}: update, rollback, restart, backup or restore"
            )))
        }
    })
}

/// Queues an operation on a known container. Note that this uses blocking I/O.
pub fn submit(
    ctx: &Context,
    actor: &str,
    agent_id: &str,
    container: &str,
    verb: &str,
    body: &OperationBody,
) -> Result<OperationRecord, ApiError> {
    let agent_id = parse_agent_id(agent_id)?;
    if ctx.store.registry.agent(&agent_id)?.is_none() {
        return Err(ApiError::NotFound(format!(
            "no host with agent id {agent_id}"
        )));
    }
    let inventory: Option<(i64, ContainerInventory)> = ctx
        .store
        .registry
        .latest(&agent_id, StateKind::Containers)?;
    let running = inventory
        .as_ref()
        .and_then(|(_, inventory)| inventory.containers.iter().find(|c| c.name == container));
    let Some(running) = running else {
        return Err(ApiError::NotFound(format!(
            "host {agent_id} has reported no container named {container:?}"
        )));
    };
    let expires_in = match &body.expires_in {
        Some(text) => parse_ttl(text)?,
        None => DEFAULT_EXPIRY,
    };
    let action = action_of(ctx, verb, &agent_id, running, body)?;
    let from_image = Some(match running.repo_digests.first() {
        Some(digest) => format!("{} ({digest})", running.image),
        None => running.image.clone(),
    });
    let record = crate::updates::dispatch::submit(
        ctx,
        NewOperation {
            agent_id: agent_id.clone(),
            container: container.to_owned(),
            action,
            requested_by: actor.to_owned(),
            expires_in,
            from_image,
        },
    )
    .map_err(|error| ApiError::Internal(format!("{error:#}")))?;
    audit(
        ctx,
        actor,
        &format!("container.{verb}"),
        &format!("{agent_id}/{container}"),
    )?;
    Ok(record)
}

/// `POST /api/v1/hosts/{agent_id}/containers/{name}/{verb}` where verb is `update`,
/// `rollback`, `restart`, `backup` or `restore`; the body is a JSON object (`{}` for none).
pub async fn operate(
    State(state): State<AppState>,
    Admin(caller): Admin,
    ApiPath((agent_id, container, verb)): ApiPath<(String, String, String)>,
    ApiJson(body): ApiJson<OperationBody>,
) -> Result<(StatusCode, Json<OperationRecord>), ApiError> {
    blocking(&state.ctx, move |ctx| {
        submit(ctx, &caller.user, &agent_id, &container, &verb, &body)
    })
    .await
    .map(|record| (StatusCode::ACCEPTED, Json(record)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperationsQuery {
    pub agent_id: Option<String>,
    /// At most this many, newest first (default 50, at most 1000).
    pub limit: Option<usize>,
}

/// `GET /api/v1/operations?agent_id=&limit=`.
pub async fn list(
    State(state): State<AppState>,
    _caller: Caller,
    ApiQuery(query): ApiQuery<OperationsQuery>,
) -> Result<Json<Vec<OperationRecord>>, ApiError> {
    let limit = query.limit.unwrap_or(50).clamp(1, 1000);
    blocking(&state.ctx, move |ctx| {
        Ok(ctx
            .store
            .operations
            .recent(query.agent_id.as_deref(), limit)?)
    })
    .await
    .map(Json)
}

/// `GET /api/v1/operations/{id}`.
pub async fn get(
    State(state): State<AppState>,
    _caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<OperationRecord>, ApiError> {
    blocking(&state.ctx, move |ctx| {
        ctx.store
            .operations
            .get(&id)?
            .ok_or_else(|| ApiError::NotFound(format!("no operation {id}")))
    })
    .await
    .map(Json)
}
