//! Registry credentials: stored sealed with the controller's key (see
//! `updates::credentials`), write-only (no function returns a secret), audited. The update
//! watch and the dispatch loop open them per request.

use super::audit::{self, AuditAction};
use super::error::DomainError;
use crate::clock::now_ms;
use crate::context::Context;
use crate::storage::credentials::CredentialRecord;
use crate::updates::credentials::{CredentialKey, Credentials};
use crate::updates::reference::normalize_registry;
use serde::Serialize;

/// A registry's stored credentials, without the secret.
#[derive(Debug, Serialize)]
pub struct RegistryView {
    pub registry: String,
    pub username: Option<String>,
    pub plain_http: bool,
    pub updated_at_ms: i64,
}

/// New credentials for one registry.
pub struct NewCredentials {
    pub username: String,
    /// The password or access token; never returned or logged.
    pub secret: String,
    pub plain_http: bool,
}

fn key(ctx: &Context) -> Result<CredentialKey, DomainError> {
    CredentialKey::open_or_create(&ctx.config.data_dir)
        .map_err(|error| DomainError::Internal(error.to_string()))
}

/// Registries with stored credentials. Note that this uses blocking I/O.
pub fn list(ctx: &Context) -> Result<Vec<RegistryView>, DomainError> {
    let key = key(ctx)?;
    Ok(ctx
        .store
        .credentials
        .list()?
        .into_iter()
        .map(|record| RegistryView {
            username: key
                .open(&record.registry, &record.sealed)
                .ok()
                .map(|credentials| credentials.username),
            registry: record.registry,
            plain_http: record.plain_http,
            updated_at_ms: record.updated_at_ms,
        })
        .collect())
}

/// The registry's `host[:port]` as stored, or why it is not one.
pub fn parse_registry(text: &str) -> Result<String, DomainError> {
    let registry = normalize_registry(text);
    if registry.is_empty() || registry.contains('/') {
        return Err(DomainError::Invalid(format!(
            "bad registry {registry:?}: expected host[:port], e.g. ghcr.io"
        )));
    }
    Ok(registry)
}

/// Stores (replaces) a registry's credentials, sealed, on behalf of `actor`. Note that this
/// uses blocking I/O.
pub fn set(
    ctx: &Context,
    actor: &str,
    registry: &str,
    new: NewCredentials,
) -> Result<(), DomainError> {
    if new.username.is_empty() || new.secret.is_empty() {
        return Err(DomainError::Invalid(
            "username and secret are required".into(),
        ));
    }
    let key = key(ctx)?;
    let credentials = Credentials {
        username: new.username,
        secret: new.secret,
    };
    let sealed = key
        .seal(registry, &credentials)
        .map_err(|error| DomainError::Internal(error.to_string()))?;
    ctx.store.credentials.put(&CredentialRecord {
        registry: registry.to_owned(),
        sealed,
        plain_http: new.plain_http,
        updated_at_ms: now_ms(),
    })?;
    audit::record(ctx, actor, AuditAction::RegistryCredentialsSet, registry)
}

/// Removes a registry's credentials on behalf of `actor`. Note that this uses blocking I/O.
pub fn delete(ctx: &Context, actor: &str, registry: &str) -> Result<(), DomainError> {
    let registry = normalize_registry(registry);
    if !ctx.store.credentials.remove(&registry)? {
        return Err(DomainError::NotFound(format!(
            "no credentials stored for {registry}"
        )));
    }
    audit::record(
        ctx,
        actor,
        AuditAction::RegistryCredentialsDelete,
        &registry,
    )
}
