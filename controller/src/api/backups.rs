//! A container's backups as the controller received them with its operations' results (the
//! agent backs up before every update, and on request): listed with their image, and diffed
//! field by field ([`crate::updates::backups::diff`]: image reference and id, then the inspect
//! without its runtime state).

use super::auth::Caller;
use super::read::parse_agent_id;
use super::{blocking, ApiError, ApiPath, ApiQuery, AppState};
use crate::context::Context;
use crate::updates::backups::{diff, inspect};
use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use unity_shared::model::update::Backup;

#[derive(Debug, Serialize)]
pub struct BackupView {
    /// The backup's file name on the agent (what `restore` takes).
    pub backup: String,
    /// The operation whose result carried it.
    pub operation_id: String,
    pub taken_at_ms: u64,
    pub image_ref: String,
    pub image_id: String,
    /// The container's full inspect at the time.
    pub inspect: Value,
    /// The backup as received, for diffs.
    #[serde(skip)]
    pub backup_record: Backup,
}

/// The container's backups the controller has, newest first. Note that this uses blocking I/O.
pub fn backups_of(
    ctx: &Context,
    agent_id: &str,
    container: &str,
) -> Result<Vec<BackupView>, ApiError> {
    let agent_id = parse_agent_id(agent_id)?;
    let mut backups = Vec::new();
    for record in ctx
        .store
        .operations
        .recent(Some(agent_id.as_str()), usize::MAX)?
    {
        if record.container != container {
            continue;
        }
        let Some(result) = record.result else {
            continue;
        };
        let (Some(name), Some(backup)) = (result.backup, result.backup_taken) else {
            continue;
        };
        backups.push(BackupView {
            backup: name,
            operation_id: record.id,
            taken_at_ms: backup.taken_at_ms,
            image_ref: backup.image_ref.clone(),
            image_id: backup.image_id.clone(),
            inspect: inspect(&backup),
            backup_record: backup,
        });
    }
    Ok(backups)
}

/// `GET /api/v1/hosts/{agent_id}/containers/{name}/backups`.
pub async fn list(
    State(state): State<AppState>,
    _caller: Caller,
    ApiPath((agent_id, container)): ApiPath<(String, String)>,
) -> Result<Json<Vec<BackupView>>, ApiError> {
    blocking(&state.ctx, move |ctx| {
        backups_of(ctx, &agent_id, &container)
    })
    .await
    .map(Json)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiffQuery {
    /// A backup's file name (the older one).
    pub from: String,
    /// Another backup's file name.
    pub to: String,
}

#[derive(Debug, Serialize)]
pub struct FieldChange {
    /// `image_ref`, `image_id`, or a path into the inspect (`Config.Env`, `HostConfig.Binds`).
    pub path: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

fn find<'a>(backups: &'a [BackupView], name: &str) -> Result<&'a Backup, ApiError> {
    backups
        .iter()
        .find(|backup| backup.backup == name)
        .map(|view| &view.backup_record)
        .ok_or_else(|| ApiError::NotFound(format!("no backup {name:?} of this container")))
}

/// `GET /api/v1/hosts/{agent_id}/containers/{name}/backups/diff?from=&to=`.
pub async fn diff_handler(
    State(state): State<AppState>,
    _caller: Caller,
    ApiPath((agent_id, container)): ApiPath<(String, String)>,
    ApiQuery(query): ApiQuery<DiffQuery>,
) -> Result<Json<Vec<FieldChange>>, ApiError> {
    blocking(&state.ctx, move |ctx| {
        let backups = backups_of(ctx, &agent_id, &container)?;
        let (from, to) = (find(&backups, &query.from)?, find(&backups, &query.to)?);
        Ok(diff(from, to)
            .into_iter()
            .map(|change| FieldChange {
                path: change.path,
                before: change.before,
                after: change.after,
            })
            .collect())
    })
    .await
    .map(Json)
}
