//! Managed SSH access (docs/ssh.md): people and their public keys, grants (a person's keys may
//! log in as chosen UNIX users on a host or a host group, until an expiry, with options), and
//! per host the mode and drift policy. The desired keys per host are computed by
//! [`desired`] and sent by [`apply`] (on change, every `[ssh] reconcile_interval`, on
//! connect); the agents' answers are kept for the status and drift views. Every change is
//! audited with its actor.

pub mod apply;
pub mod desired;
pub mod drift;
pub mod events;
pub mod keys;
pub mod lines;
pub mod views;

use super::audit::{self, AuditAction};
use super::error::DomainError;
use crate::clock::now_ms;
use crate::context::Context;
use crate::domain::actor::Actor;
use crate::storage::ssh_access::{
    GrantOptions, GrantRecord, GrantTarget, PersonRecord, SshKeyRecord,
};
use events::SshAccessEvent;
use std::time::Duration;
use unity_shared::model::ssh::{AuthorizedKeysMode, DriftAction, UnixUser};
use unity_shared::proto::AgentId;
pub use views::{GrantView, KeyView, PersonView};

fn audited(
    ctx: &Context,
    actor: &Actor,
    event: SshAccessEvent,
    target: &str,
) -> Result<(), DomainError> {
    audit::record(ctx, actor, AuditAction::SshAccess(event), target)
}

/// Checks a person's name: 1 to 64 characters of letters, digits, `.`, `_`, `-`, `@`.
pub fn check_person(name: &str) -> Result<(), DomainError> {
    let valid = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-@".contains(c));
    if valid {
        Ok(())
    } else {
        Err(DomainError::Invalid(format!(
            "invalid person name {name:?}: expected 1 to 64 letters, digits, '.', '_', '-' or '@'"
        )))
    }
}

/// Parses `block` or `file`.
pub fn parse_mode(text: &str) -> Result<AuthorizedKeysMode, DomainError> {
    match text {
        "block" => Ok(AuthorizedKeysMode::Block),
        "file" => Ok(AuthorizedKeysMode::File),
        other => Err(DomainError::Invalid(format!(
            "mode {other:?}: expected block or file"
        ))),
    }
}

/// Parses `report` or `restore`.
pub fn parse_drift_action(text: &str) -> Result<DriftAction, DomainError> {
    match text {
        "report" => Ok(DriftAction::Report),
        "restore" => Ok(DriftAction::Restore),
        other => Err(DomainError::Invalid(format!(
            "drift action {other:?}: expected report or restore"
        ))),
    }
}

/// Every person with their keys. Note that this uses blocking I/O.
pub fn people(ctx: &Context) -> Result<Vec<PersonView>, DomainError> {
    Ok(ctx
        .store
        .ssh_access
        .people()?
        .iter()
        .map(views::person)
        .collect())
}

/// Adds a person (without keys yet). Note that this uses blocking I/O.
pub fn add_person(ctx: &Context, actor: &Actor, name: &str) -> Result<PersonView, DomainError> {
    check_person(name)?;
    let record = PersonRecord {
        name: name.to_owned(),
        keys: vec![],
        added_by: actor.to_string(),
        added_at_ms: now_ms(),
    };
    if !ctx.store.ssh_access.insert_person(&record)? {
        return Err(DomainError::Conflict(format!(
            "person {name:?} exists already"
        )));
    }
    audited(ctx, actor, SshAccessEvent::PersonAdd, name)?;
    Ok(views::person(&record))
}

/// Removes a person, their keys and their grants (everywhere within one reconcile). Note that
/// this uses blocking I/O.
pub fn remove_person(ctx: &Context, actor: &Actor, name: &str) -> Result<(), DomainError> {
    if !ctx.store.ssh_access.remove_person(name)? {
        return Err(DomainError::NotFound(format!("no person {name:?}")));
    }
    audited(ctx, actor, SshAccessEvent::PersonRemove, name)?;
    apply::changed();
    Ok(())
}

/// Adds a public key (the text of a `.pub` file) to a person. Note that this uses blocking I/O.
pub fn add_key(
    ctx: &Context,
    actor: &Actor,
    person: &str,
    text: &str,
) -> Result<KeyView, DomainError> {
    let parsed = keys::parse(text).map_err(|error| DomainError::Invalid(error.to_string()))?;
    let mut record = ctx
        .store
        .ssh_access
        .person(person)?
        .ok_or_else(|| DomainError::NotFound(format!("no person {person:?}")))?;
    let people = ctx.store.ssh_access.people()?;
    if let Some(owner) = people.iter().find(|other| {
        other
            .keys
            .iter()
            .any(|key| key.fingerprint == parsed.fingerprint)
    }) {
        return Err(DomainError::Conflict(format!(
            "key {} is registered already (for {:?})",
            parsed.fingerprint, owner.name
        )));
    }
    let key = SshKeyRecord {
        fingerprint: parsed.fingerprint,
        algorithm: parsed.algorithm,
        bits: parsed.bits,
        public_key: parsed.public_key,
        comment: parsed.comment,
        added_by: actor.to_string(),
        added_at_ms: now_ms(),
    };
    record.keys.push(key.clone());
    ctx.store.ssh_access.put_person(&record)?;
    audited(
        ctx,
        actor,
        SshAccessEvent::KeyAdd,
        &format!("{person} {}", key.fingerprint),
    )?;
    apply::changed();
    Ok(views::key(person, &key))
}

/// Removes a key by its fingerprint (from whoever has it). Note that this uses blocking I/O.
pub fn remove_key(ctx: &Context, actor: &Actor, fingerprint: &str) -> Result<(), DomainError> {
    for mut person in ctx.store.ssh_access.people()? {
        let before = person.keys.len();
        person.keys.retain(|key| key.fingerprint != fingerprint);
        if person.keys.len() != before {
            ctx.store.ssh_access.put_person(&person)?;
            audited(
                ctx,
                actor,
                SshAccessEvent::KeyRemove,
                &format!("{} {fingerprint}", person.name),
            )?;
            apply::changed();
            return Ok(());
        }
    }
    Err(DomainError::NotFound(format!("no key {fingerprint}")))
}

/// What a new grant says, as typed by the operator (parsed here).
#[derive(Debug, Clone, Default)]
pub struct NewGrant {
    pub person: String,
    /// One key's fingerprint; `None`: all the person's keys.
    pub key: Option<String>,
    pub users: Vec<String>,
    pub host: Option<String>,
    pub group: Option<String>,
    /// How long from now, e.g. `30d`.
    pub expires_in: Option<String>,
    pub options: GrantOptions,
}

/// Adds a grant. Note that this uses blocking I/O.
pub fn add_grant(ctx: &Context, actor: &Actor, new: NewGrant) -> Result<GrantView, DomainError> {
    let person = ctx
        .store
        .ssh_access
        .person(&new.person)?
        .ok_or_else(|| DomainError::NotFound(format!("no person {:?}", new.person)))?;
    if let Some(key) = &new.key {
        if !person.keys.iter().any(|known| known.fingerprint == *key) {
            return Err(DomainError::NotFound(format!(
                "{:?} has no key {key}",
                new.person
            )));
        }
    }
    if new.users.is_empty() {
        return Err(DomainError::Invalid(
            "name at least one UNIX user to log in as".into(),
        ));
    }
    let users = new
        .users
        .iter()
        .map(|user| {
            UnixUser::new(user.as_str()).map_err(|error| DomainError::Invalid(error.to_string()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let target = match (&new.host, &new.group) {
        (Some(host), None) => {
            let agent_id = AgentId::new(host.as_str())
                .map_err(|error| DomainError::Invalid(error.to_string()))?;
            if ctx.store.agents.agent(&agent_id)?.is_none() {
                return Err(DomainError::no_host(&agent_id));
            }
            GrantTarget::Host(agent_id)
        }
        (None, Some(group)) => {
            if !super::groups::host_groups(ctx)?
                .iter()
                .any(|known| known.name == *group)
            {
                return Err(DomainError::NotFound(format!("no host group {group:?}")));
            }
            GrantTarget::HostGroup(group.clone())
        }
        _ => {
            return Err(DomainError::Invalid(
                "name either a host or a host group".into(),
            ))
        }
    };
    lines::check_options(&new.options).map_err(DomainError::Invalid)?;
    let now = now_ms();
    let expires_at_ms = match &new.expires_in {
        None => None,
        Some(text) => {
            let duration: Duration = humantime::parse_duration(text)
                .map_err(|error| DomainError::Invalid(format!("expiry {text:?}: {error}")))?;
            let millis = i64::try_from(duration.as_millis())
                .map_err(|_| DomainError::Invalid(format!("expiry {text:?} is too far away")))?;
            Some(now.saturating_add(millis))
        }
    };
    let record = ctx.store.ssh_access.insert_grant(GrantRecord {
        id: 0,
        person: new.person,
        key: new.key,
        users,
        target,
        expires_at_ms,
        options: new.options,
        added_by: actor.to_string(),
        added_at_ms: now,
    })?;
    let view = views::grant(&record, now);
    audited(
        ctx,
        actor,
        SshAccessEvent::GrantAdd,
        &views::grant_summary(&view),
    )?;
    apply::changed();
    Ok(view)
}

/// Every grant, expired ones included (marked). Note that this uses blocking I/O.
pub fn grants(ctx: &Context) -> Result<Vec<GrantView>, DomainError> {
    let now = now_ms();
    Ok(ctx
        .store
        .ssh_access
        .grants()?
        .iter()
        .map(|grant| views::grant(grant, now))
        .collect())
}

/// Removes a grant. Note that this uses blocking I/O.
pub fn remove_grant(ctx: &Context, actor: &Actor, id: u64) -> Result<(), DomainError> {
    let record = ctx
        .store
        .ssh_access
        .remove_grant(id)?
        .ok_or_else(|| DomainError::NotFound(format!("no grant {id}")))?;
    let view = views::grant(&record, now_ms());
    audited(
        ctx,
        actor,
        SshAccessEvent::GrantRemove,
        &views::grant_summary(&view),
    )?;
    apply::changed();
    Ok(())
}

/// Sets a host's mode and drift policy (`None`: unchanged). Note that this uses blocking I/O.
pub fn set_host(
    ctx: &Context,
    actor: &Actor,
    agent_id: &AgentId,
    mode: Option<AuthorizedKeysMode>,
    on_drift: Option<DriftAction>,
) -> Result<(), DomainError> {
    if ctx.store.agents.agent(agent_id)?.is_none() {
        return Err(DomainError::no_host(agent_id));
    }
    if let Some(mode) = mode {
        ctx.store.ssh_access.choose_mode(agent_id, mode)?;
    }
    let record = ctx.store.ssh_access.update_host(agent_id, |record| {
        if let Some(on_drift) = on_drift {
            record.on_drift = on_drift;
        }
    })?;
    audited(
        ctx,
        actor,
        SshAccessEvent::HostSet,
        &format!(
            "{agent_id} mode={} on_drift={}",
            views::mode_word(record.mode),
            views::drift_word(record.on_drift)
        ),
    )?;
    apply::changed();
    Ok(())
}

#[cfg(test)]
mod tests;
