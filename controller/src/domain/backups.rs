//! A container's backups as the controller received them with its operations' results (the
//! agent backs up before every update, and on request): listed with their image, and diffed
//! field by field ([`crate::updates::backups::diff`]: image reference and id, then the
//! configuration part of the inspect). The inspect is stored sealed
//! ([`crate::updates::backup_sealing`]) and opened here.

use super::error::DomainError;
use crate::context::Context;
use crate::sealing::SealingKey;
use crate::updates::backup_sealing;
use crate::updates::backups::{diff, inspect};
use serde::Serialize;
use serde_json::Value;
use unity_shared::model::update::Backup;
use unity_shared::proto::AgentId;

/// One backup as listed.
#[derive(Debug, Serialize)]
pub struct BackupView {
    /// The backup's file name on the agent (what `restore` takes).
    pub backup: String,
    /// The operation whose result carried it.
    pub operation_id: String,
    pub taken_at_ms: u64,
    pub image_ref: String,
    pub image_id: String,
    /// The container's full inspect at the time (opened: it is stored sealed), without the
    /// environment variables the agent left out (`excluded_env`).
    pub inspect: Value,
    /// Environment variables whose values stayed on the host (the agent's
    /// `backup_env_exclude`); a restore uses the agent's copy, which has them.
    pub excluded_env: Vec<String>,
    /// The backup as received, for diffs.
    #[serde(skip)]
    pub backup_record: Backup,
}

/// One field that differs between two backups.
#[derive(Debug, Serialize)]
pub struct FieldChange {
    /// `image_ref`, `image_id`, or a path into the inspect (`Config.Env`, `HostConfig.Binds`).
    pub path: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

/// The container's backups the controller has, newest first. Note that this uses blocking I/O.
pub fn of_container(
    ctx: &Context,
    agent_id: &AgentId,
    container: &str,
) -> Result<Vec<BackupView>, DomainError> {
    let mut backups = Vec::new();
    let mut key = None;
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
        let (Some(name), Some(sealed)) = (result.backup, result.backup_taken) else {
            continue;
        };
        let backup = match backup_sealing::is_sealed(&sealed) {
            false => sealed,
            true => {
                if key.is_none() {
                    key = Some(
                        SealingKey::open_or_create(&ctx.config.data_dir)
                            .map_err(DomainError::internal)?,
                    );
                }
                let opened = key
                    .as_ref()
                    .map(|key| backup_sealing::open(key, agent_id.as_str(), &sealed));
                match opened {
                    Some(Ok(backup)) => backup,
                    _ => Backup {
                        inspect_json: "\"sealed with a key this controller no longer has\""
                            .to_owned(),
                        ..sealed
                    },
                }
            }
        };
        backups.push(BackupView {
            backup: name,
            operation_id: record.id,
            taken_at_ms: backup.taken_at_ms,
            image_ref: backup.image_ref.clone(),
            image_id: backup.image_id.clone(),
            inspect: inspect(&backup),
            excluded_env: backup.excluded_env.clone(),
            backup_record: backup,
        });
    }
    Ok(backups)
}

fn find<'a>(backups: &'a [BackupView], name: &str) -> Result<&'a Backup, DomainError> {
    backups
        .iter()
        .find(|backup| backup.backup == name)
        .map(|view| &view.backup_record)
        .ok_or_else(|| DomainError::NotFound(format!("no backup {name:?} of this container")))
}

/// What changed from backup `from` to backup `to` of one container. Note that this uses
/// blocking I/O.
pub fn changes(
    ctx: &Context,
    agent_id: &AgentId,
    container: &str,
    from: &str,
    to: &str,
) -> Result<Vec<FieldChange>, DomainError> {
    let backups = of_container(ctx, agent_id, container)?;
    let (from, to) = (find(&backups, from)?, find(&backups, to)?);
    Ok(diff(from, to)
        .into_iter()
        .map(|change| FieldChange {
            path: change.path,
            before: change.before,
            after: change.after,
        })
        .collect())
}

/// A backup and what changed from the next older one (`None` for the oldest).
pub type BackupWithChanges = (BackupView, Option<Vec<FieldChange>>);

/// The container's backups, newest first, each with what changed from the next older one
/// (`None` for the oldest). Note that this uses blocking I/O.
pub fn with_changes(
    ctx: &Context,
    agent_id: &AgentId,
    container: &str,
) -> Result<Vec<BackupWithChanges>, DomainError> {
    let list = of_container(ctx, agent_id, container)?;
    let mut changes: Vec<Option<Vec<FieldChange>>> = Vec::with_capacity(list.len());
    for (index, backup) in list.iter().enumerate() {
        changes.push(list.get(index + 1).map(|older| {
            diff(&older.backup_record, &backup.backup_record)
                .into_iter()
                .map(|change| FieldChange {
                    path: change.path,
                    before: change.before,
                    after: change.after,
                })
                .collect()
        }));
    }
    Ok(list.into_iter().zip(changes).collect())
}

/// The backup "roll back" restores: the one the container's newest successful update took
/// (the version before it). Note that this uses blocking I/O.
pub fn rollback_target(
    ctx: &Context,
    agent_id: &AgentId,
    container: &str,
) -> Result<Option<String>, DomainError> {
    Ok(crate::updates::current::rollback_backup(
        ctx, agent_id, container,
    )?)
}
