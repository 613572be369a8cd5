//! Rotating the sealing key ([`crate::sealing`]): a new key, every sealed record re-sealed
//! with it (secrets, registry credentials, agentless hosts' generated keys, the configured ACME
//! providers' accounts, container backups), then the
//! old key forgotten. Crash-safe: the old key stays in `registry-credentials.key.old`, and is
//! loaded beside the new one, until every record is re-sealed and flushed; running the
//! rotation again after a crash resumes it. Audited.

use super::audit::{self, AuditAction};
use super::error::DomainError;
use super::secrets::associated_data;
use crate::agentless::keys as agentless_keys;
use crate::context::Context;
use crate::domain::actor::Actor;
use crate::sealing::{self, SealingKey};
use crate::storage::agentless::AgentlessKey;
use crate::updates::backup_sealing;
use crate::updates::credentials::{open_credentials, seal_credentials};
use serde::{Deserialize, Serialize};

/// What a rotation did.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RotationReport {
    /// A new key was made (`false`: an interrupted rotation was resumed).
    pub new_key: bool,
    pub secrets: usize,
    pub registry_credentials: usize,
    /// Agentless hosts' generated login keys.
    pub agentless_keys: usize,
    pub acme_accounts: usize,
    /// Container backups (their inspect, environment included) stored with operations.
    #[serde(default)]
    pub backups: usize,
    /// Sealed account files of providers no longer in `[acme]`: they cannot be re-sealed
    /// (their associated data names the provider's directory) and are re-registered if the
    /// provider comes back.
    pub acme_accounts_skipped: Vec<String>,
}

/// Rotates the sealing key on behalf of `actor`. Note that this uses blocking I/O.
pub fn rotate_key(ctx: &Context, actor: &Actor) -> Result<RotationReport, DomainError> {
    let data_dir = &ctx.config.data_dir;
    let mut report = RotationReport {
        new_key: sealing::begin_rotation(data_dir).map_err(DomainError::internal)?,
        ..RotationReport::default()
    };
    let key = SealingKey::open_or_create(data_dir).map_err(DomainError::internal)?;
    report.secrets = reseal_secrets(ctx, &key)?;
    for record in ctx.store.credentials.list()? {
        if key.is_current(&record.sealed) {
            continue;
        }
        let credentials = open_credentials(&key, &record.registry, &record.sealed)
            .map_err(DomainError::internal)?;
        let sealed = seal_credentials(&key, &record.registry, &credentials)
            .map_err(DomainError::internal)?;
        ctx.store
            .credentials
            .put(&crate::storage::credentials::CredentialRecord { sealed, ..record })?;
        report.registry_credentials += 1;
    }
    report.agentless_keys = reseal_agentless_keys(ctx, &key)?;
    report.backups = reseal_backups(ctx, &key)?;
    let mut known = Vec::new();
    for provider in &ctx.config.acme.providers {
        known.push(ctx.acme_accounts.path(provider));
        if ctx
            .acme_accounts
            .reseal(provider, &key)
            .map_err(DomainError::internal)?
        {
            report.acme_accounts += 1;
        }
    }
    report.acme_accounts_skipped = ctx
        .acme_accounts
        .stored_files()
        .into_iter()
        .filter(|path| !known.contains(path))
        .map(|path| path.display().to_string())
        .collect();
    // Every record is re-sealed and durable: only now may the old key go.
    ctx.store.flush()?;
    sealing::finish_rotation(data_dir).map_err(DomainError::internal)?;
    audit::record(
        ctx,
        actor,
        AuditAction::SealingKeyRotate,
        &format!(
            "{} secrets, {} registry credentials, {} agentless keys, {} ACME accounts, {} \
             backups re-sealed",
            report.secrets,
            report.registry_credentials,
            report.agentless_keys,
            report.acme_accounts,
            report.backups
        ),
    )?;
    Ok(report)
}

/// Re-seals the backups stored with operation results not sealed with the current key (and
/// seals those stored before backups were sealed); how many.
fn reseal_backups(ctx: &Context, key: &SealingKey) -> Result<usize, DomainError> {
    let mut count = 0;
    for record in ctx.store.operations.all()? {
        let Some(mut backup) = record.result.and_then(|result| result.backup_taken) else {
            continue;
        };
        let agent_id = record.agent_id.as_str();
        if !backup_sealing::reseal(key, agent_id, &mut backup).map_err(|error| {
            DomainError::Internal(format!("backup of operation {}: {error}", record.id))
        })? {
            continue;
        }
        let old = record.id.clone();
        ctx.store.operations.update(&old, |record| {
            if let Some(result) = record.result.as_mut() {
                result.backup_taken = Some(backup.clone());
            }
        })?;
        count += 1;
    }
    Ok(count)
}

/// Re-seals the agentless hosts' generated keys not sealed with the current key; how many.
fn reseal_agentless_keys(ctx: &Context, key: &SealingKey) -> Result<usize, DomainError> {
    let mut count = 0;
    for record in ctx.store.agentless.all()? {
        let AgentlessKey::Generated { sealed_private, .. } = &record.key else {
            continue;
        };
        let Some(resealed) = agentless_keys::reseal(key, &record.host, sealed_private)
            .map_err(DomainError::internal)?
        else {
            continue;
        };
        let old = sealed_private.clone();
        ctx.store.agentless.update(&record.host, |record| {
            if let AgentlessKey::Generated { sealed_private, .. } = &mut record.key {
                if *sealed_private == old {
                    *sealed_private = resealed.clone();
                }
            }
        })?;
        count += 1;
    }
    Ok(count)
}

/// Re-seals the secrets not sealed with the current key; how many.
pub fn reseal_secrets(ctx: &Context, key: &SealingKey) -> Result<usize, DomainError> {
    let mut count = 0;
    for record in ctx.store.secrets.list()? {
        if key.is_current(&record.sealed) {
            continue;
        }
        let aad = associated_data(&record.name);
        let value = key
            .open(&aad, &record.sealed)
            .map_err(|error| DomainError::Internal(format!("secret {}: {error}", record.name)))?;
        let sealed = key.seal(&aad, &value).map_err(DomainError::internal)?;
        let old = record.sealed.clone();
        // Only if the value did not change meanwhile (a new value is sealed with the new key).
        ctx.store.secrets.update(&record.name, |record| {
            if record.sealed == old {
                record.sealed = sealed.clone();
            }
        })?;
        count += 1;
    }
    Ok(count)
}
