//! The secrets store as an operator and an agent see it: named secrets sealed with the
//! controller's key ([`crate::sealing`]), the name as associated data; a keyed fingerprint;
//! a scope of hosts and host groups (empty: no host). Values are write-only: no function
//! here returns one except [`deliver`], which gives it to a host in its scope (and not
//! revoked) and audits it, as it audits every refusal. Changing a value, narrowing a scope or
//! removing a secret tells the connected hosts that may hold it to forget it
//! (`SecretsWithdrawn`). See `docs/secrets.md`.

use super::audit::{self, AuditAction};
use super::error::DomainError;
use crate::clock::now_ms;
use crate::context::Context;
use crate::domain::actor::Actor;
use crate::sealing::SealingKey;
use crate::storage::access::{HostGroupRecord, ALL_HOSTS};
use crate::storage::secrets::{SecretKind, SecretRecord};
use serde::{Deserialize, Serialize};
use unity_shared::model::secret::{SecretName, SecretValue, SecretsWithdrawn};
use unity_shared::proto::{AgentId, ControllerMessage};

/// The largest value the store takes (a file or a key, not a disk image).
pub const MAX_VALUE_BYTES: usize = 64 * 1024;

/// A secret as the faces show it: metadata and fingerprint, never the value.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SecretView {
    pub name: String,
    pub kind: SecretKind,
    pub fingerprint: String,
    pub version: u64,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    pub scope_hosts: Vec<AgentId>,
    pub scope_groups: Vec<String>,
    /// 0: never delivered.
    pub last_delivered_ms: i64,
    pub last_delivered_to: Option<AgentId>,
}

impl From<SecretRecord> for SecretView {
    fn from(record: SecretRecord) -> SecretView {
        SecretView {
            name: record.name,
            kind: record.kind,
            fingerprint: record.fingerprint,
            version: record.version,
            created_at_ms: record.created_at_ms,
            updated_at_ms: record.updated_at_ms,
            scope_hosts: record.scope_hosts,
            scope_groups: record.scope_groups,
            last_delivered_ms: record.last_delivered_ms,
            last_delivered_to: record.last_delivered_to,
        }
    }
}

/// A secret name, or why the text is not one.
pub fn parse_name(text: &str) -> Result<SecretName, DomainError> {
    SecretName::new(text).map_err(|error| DomainError::Invalid(error.to_string()))
}

/// A secret kind (`password`, `token`, `api-key`, `file`, `ssh-key`), or why not.
pub fn parse_kind(text: &str) -> Result<SecretKind, DomainError> {
    SecretKind::parse(text).ok_or_else(|| {
        let words: Vec<&str> = SecretKind::ALL.iter().map(|kind| kind.as_str()).collect();
        DomainError::Invalid(format!(
            "unknown secret kind {text:?}: expected one of {}",
            words.join(", ")
        ))
    })
}

fn key(ctx: &Context) -> Result<SealingKey, DomainError> {
    SealingKey::open_or_create(&ctx.config.data_dir).map_err(DomainError::internal)
}

/// The associated data a secret's value is sealed with: its name.
pub fn associated_data(name: &str) -> Vec<u8> {
    crate::sealing::secret_aad(name)
}

/// Every secret, ordered by name. Note that this uses blocking I/O.
pub fn list(ctx: &Context) -> Result<Vec<SecretView>, DomainError> {
    Ok(ctx
        .store
        .secrets
        .list()?
        .into_iter()
        .map(SecretView::from)
        .collect())
}

/// One secret's metadata. Note that this uses blocking I/O.
pub fn show(ctx: &Context, name: &SecretName) -> Result<SecretView, DomainError> {
    ctx.store
        .secrets
        .get(name.as_str())?
        .map(SecretView::from)
        .ok_or_else(|| no_secret(name))
}

fn no_secret(name: &SecretName) -> DomainError {
    DomainError::NotFound(format!("no secret named {name}"))
}

/// Creates a secret or replaces its value (a new version; scope kept; `kind` kept unless
/// given), on behalf of `actor`. Hosts that may hold the old value are told to forget it.
/// Note that this uses blocking I/O.
pub fn set(
    ctx: &Context,
    actor: &Actor,
    name: &SecretName,
    kind: Option<SecretKind>,
    value: &SecretValue,
) -> Result<SecretView, DomainError> {
    if value.expose().is_empty() {
        return Err(DomainError::Invalid("the value is empty".into()));
    }
    if value.expose().len() > MAX_VALUE_BYTES {
        return Err(DomainError::Invalid(format!(
            "the value is larger than {MAX_VALUE_BYTES} bytes"
        )));
    }
    let key = key(ctx)?;
    let sealed = key
        .seal(&associated_data(name.as_str()), value.expose())
        .map_err(DomainError::internal)?;
    let fingerprint = key.fingerprint(name.as_str().as_bytes(), value.expose());
    let now = now_ms();
    let previous = ctx.store.secrets.get(name.as_str())?;
    let record = match &previous {
        Some(old) => SecretRecord {
            kind: kind.unwrap_or(old.kind),
            sealed,
            fingerprint,
            version: old.version + 1,
            updated_at_ms: now,
            ..old.clone()
        },
        None => SecretRecord {
            name: name.to_string(),
            kind: kind.unwrap_or(SecretKind::Password),
            sealed,
            fingerprint,
            version: 1,
            created_at_ms: now,
            updated_at_ms: now,
            scope_hosts: Vec::new(),
            scope_groups: Vec::new(),
            last_delivered_ms: 0,
            last_delivered_to: None,
        },
    };
    ctx.store.secrets.put(&record)?;
    ctx.store.flush()?;
    audit::record(
        ctx,
        actor,
        AuditAction::SecretSet,
        &format!("{name} version {}", record.version),
    )?;
    if let Some(old) = previous {
        withdraw(ctx, name, &holders(ctx, &old)?);
    }
    super::agentless::secret_changed(ctx, name);
    Ok(record.into())
}

/// Removes a secret on behalf of `actor`; hosts that may hold it are told to forget it. Note
/// that this uses blocking I/O.
pub fn delete(ctx: &Context, actor: &Actor, name: &SecretName) -> Result<(), DomainError> {
    let removed = ctx
        .store
        .secrets
        .remove(name.as_str())?
        .ok_or_else(|| no_secret(name))?;
    ctx.store.flush()?;
    audit::record(ctx, actor, AuditAction::SecretDelete, name.as_str())?;
    withdraw(ctx, name, &holders(ctx, &removed)?);
    super::agentless::secret_changed(ctx, name);
    Ok(())
}

/// Sets which hosts may receive a secret: `hosts` and the hosts of `groups` (empty: none),
/// on behalf of `actor`. Hosts that leave the scope are told to forget the value. Note that
/// this uses blocking I/O.
pub fn set_scope(
    ctx: &Context,
    actor: &Actor,
    name: &SecretName,
    mut hosts: Vec<AgentId>,
    mut groups: Vec<String>,
) -> Result<SecretView, DomainError> {
    for group in &groups {
        if group != ALL_HOSTS && ctx.store.access.host_group(group)?.is_none() {
            return Err(DomainError::NotFound(format!(
                "no host group named {group}"
            )));
        }
    }
    for host in &hosts {
        if ctx.store.agents.agent(host)?.is_none() {
            return Err(DomainError::no_host(host));
        }
    }
    hosts.sort();
    hosts.dedup();
    groups.sort();
    groups.dedup();
    let old = ctx
        .store
        .secrets
        .get(name.as_str())?
        .ok_or_else(|| no_secret(name))?;
    let before = holders(ctx, &old)?;
    let (scope_hosts, scope_groups) = (hosts.clone(), groups.clone());
    let record = ctx
        .store
        .secrets
        .update(name.as_str(), |record| {
            record.scope_hosts = scope_hosts.clone();
            record.scope_groups = scope_groups.clone();
        })?
        .ok_or_else(|| no_secret(name))?;
    ctx.store.flush()?;
    let words: Vec<String> = hosts
        .iter()
        .map(|host| format!("host {host}"))
        .chain(groups.iter().map(|group| format!("group {group}")))
        .collect();
    let scope = if words.is_empty() {
        "no host".to_owned()
    } else {
        words.join(", ")
    };
    audit::record(
        ctx,
        actor,
        AuditAction::SecretScopeSet,
        &format!("{name}: {scope}"),
    )?;
    let after = holders(ctx, &record)?;
    let left: Vec<AgentId> = before
        .into_iter()
        .filter(|host| !after.contains(host))
        .collect();
    withdraw(ctx, name, &left);
    super::agentless::secret_changed(ctx, name);
    Ok(record.into())
}

/// Whether `host`, carrying `labels`, is in the secret's scope: listed itself, or a member of
/// a listed host group (`all` is every host). Pure.
pub fn in_scope(
    record: &SecretRecord,
    host: &AgentId,
    labels: &[(String, String)],
    host_groups: &[HostGroupRecord],
) -> bool {
    record.scope_hosts.contains(host)
        || record.scope_groups.iter().any(|name| {
            name == ALL_HOSTS
                || host_groups
                    .iter()
                    .any(|group| &group.name == name && group.contains(host, labels))
        })
}

fn host_in_scope(
    ctx: &Context,
    record: &SecretRecord,
    host: &AgentId,
) -> Result<bool, DomainError> {
    if record.scope_hosts.contains(host) {
        return Ok(true);
    }
    if record.scope_groups.is_empty() {
        return Ok(false);
    }
    let labels = ctx.store.access.labels(host)?;
    let groups = ctx.store.access.host_groups()?;
    Ok(in_scope(record, host, &labels, &groups))
}

/// The connected hosts in the secret's scope now: those that may hold its value.
fn holders(ctx: &Context, record: &SecretRecord) -> Result<Vec<AgentId>, DomainError> {
    let mut hosts = Vec::new();
    for (host, _) in ctx.hub.snapshot() {
        if host_in_scope(ctx, record, &host)? {
            hosts.push(host);
        }
    }
    Ok(hosts)
}

/// Tells `hosts` (the connected ones) to forget `name`'s value.
fn withdraw(ctx: &Context, name: &SecretName, hosts: &[AgentId]) {
    for host in hosts {
        let message = ControllerMessage::SecretsWithdrawn(SecretsWithdrawn {
            names: vec![name.clone()],
        });
        if !ctx.hub.push(host, message) {
            tracing::debug!(%host, secret = %name, "The host is not connected; it forgets the value when it reconnects.");
        }
    }
}

/// The value of secret `name` for `host` (an agent asking over its session, or the
/// controller acting for it: a proxy agent's SSH key, the registry credentials of an update it
/// pulls), when the secret exists, its scope includes the host and the
/// host is not revoked; `None` otherwise. Every value given and every refusal is audited
/// (the host as actor, the secret and `purpose`). Note that this uses blocking I/O.
pub fn deliver(
    ctx: &Context,
    name: &SecretName,
    host: &AgentId,
    purpose: &str,
) -> Result<Option<SecretValue>, DomainError> {
    let actor = Actor::Agent(host.clone());
    let refuse = |why: &str| -> Result<Option<SecretValue>, DomainError> {
        audit::record(
            ctx,
            &actor,
            AuditAction::SecretRefused,
            &format!("{name} for {purpose}: {why}"),
        )?;
        Ok(None)
    };
    let revoked = ctx.revocations.is_revoked(host)
        || ctx
            .store
            .agents
            .agent(host)?
            .is_none_or(|agent| agent.revoked_at.is_some());
    if revoked {
        return refuse("unknown or revoked host");
    }
    let Some(record) = ctx.store.secrets.get(name.as_str())? else {
        return refuse("no such secret");
    };
    if !host_in_scope(ctx, &record, host)? {
        return refuse("host not in scope");
    }
    let value = key(ctx)?
        .open(&associated_data(name.as_str()), &record.sealed)
        .map_err(DomainError::internal)?;
    audit::record(
        ctx,
        &actor,
        AuditAction::SecretDelivered,
        &format!("{name} version {} for {purpose}", record.version),
    )?;
    let now = now_ms();
    ctx.store.secrets.update(name.as_str(), |record| {
        record.last_delivered_ms = now;
        record.last_delivered_to = Some(host.clone());
    })?;
    Ok(Some(SecretValue::new(value)))
}

#[cfg(test)]
mod delivery_tests;
#[cfg(test)]
mod tests;
