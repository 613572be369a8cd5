//! Registry credentials: stored sealed with the controller's key (see
//! `updates::credentials`), write-only (no function returns a secret), audited. The update
//! watch and the dispatch loop open them per request.

use super::audit::{self, AuditAction};
use super::error::DomainError;
use crate::clock::now_ms;
use crate::context::Context;
use crate::domain::actor::Actor;
use crate::storage::credentials::CredentialRecord;
use crate::updates::credentials::{CredentialKey, Credentials, SECRET_REFERENCE};
use crate::updates::reference::normalize_registry;
use serde::Serialize;

/// A registry's stored credentials, without the secret.
#[derive(Debug, Serialize)]
pub struct RegistryView {
    pub registry: String,
    pub username: Option<String>,
    /// The store secret that holds the password, when the credentials name one.
    pub secret_name: Option<String>,
    pub plain_http: bool,
    pub updated_at_ms: i64,
}

/// New credentials for one registry.
pub struct NewCredentials {
    pub username: String,
    /// The password or access token; never returned or logged. Empty with `secret_name`.
    pub secret: String,
    /// A secret of the store holding the password instead (resolved when the controller
    /// talks to the registry or sends an update).
    pub secret_name: Option<String>,
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
        .map(|record| {
            let opened = key.open(&record.registry, &record.sealed).ok();
            (record, opened)
        })
        .map(|(record, opened)| RegistryView {
            secret_name: opened
                .as_ref()
                .and_then(|credentials| credentials.secret_reference().map(str::to_owned)),
            username: opened.map(|credentials| credentials.username),
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
    actor: &Actor,
    registry: &str,
    new: NewCredentials,
) -> Result<(), DomainError> {
    let secret = match (&new.secret_name, new.secret.is_empty()) {
        (Some(_), false) => {
            return Err(DomainError::Invalid(
                "give a secret or a secret_name, not both".into(),
            ))
        }
        (Some(name), true) => {
            let name = super::secrets::parse_name(name)?;
            if ctx.store.secrets.get(name.as_str())?.is_none() {
                return Err(DomainError::NotFound(format!("no secret named {name}")));
            }
            format!("{SECRET_REFERENCE}{name}")
        }
        (None, _) => new.secret,
    };
    if new.username.is_empty() || secret.is_empty() {
        return Err(DomainError::Invalid(
            "username and secret (or secret_name) are required".into(),
        ));
    }
    let key = key(ctx)?;
    let credentials = Credentials {
        username: new.username,
        secret,
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
pub fn delete(ctx: &Context, actor: &Actor, registry: &str) -> Result<(), DomainError> {
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
