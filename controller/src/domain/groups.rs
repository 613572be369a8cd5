//! User groups and their rights, host groups, and host labels: creating, changing and
//! deleting them (audited), and listing them with the rights matrix the settings page shows.

use super::access::Right;
use super::audit::{self, AuditAction};
use super::error::DomainError;
use super::hosts::require_known;
use super::users::check_name;
use crate::clock::now_ms;
use crate::context::Context;
use crate::domain::actor::Actor;
use crate::storage::access::{GrantRecord, GroupRecord, HostGroupRecord, ADMINS, ALL_HOSTS};
use serde::{Deserialize, Serialize};
use unity_shared::proto::AgentId;

/// A user group as listed: its rights per host group and its members.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GroupView {
    pub name: String,
    pub description: String,
    /// `(host group, right)`, e.g. `("media", "operate")`.
    pub rights: Vec<(String, Right)>,
    pub members: Vec<String>,
}

/// A host group as listed, with the hosts it holds now.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HostGroupView {
    pub name: String,
    /// `name=value` selectors a host must all carry.
    pub labels: Vec<(String, String)>,
    /// Hosts listed by id.
    pub hosts: Vec<AgentId>,
    /// Every host in it now (by label or by list).
    pub members: Vec<AgentId>,
}

/// Parses a right: `view`, `operate` or `administer` (`none` is `None`).
pub fn parse_right(text: &str) -> Result<Option<Right>, DomainError> {
    if text == "none" {
        return Ok(None);
    }
    Right::parse(text).map(Some).ok_or_else(|| {
        DomainError::Invalid(format!(
            "bad right {text:?}: expected view, operate, administer or none"
        ))
    })
}

/// Parses `name=value` labels (names 1 to 64 of `[a-z0-9_.-]`, values up to 128 characters).
pub fn parse_labels(pairs: &[String]) -> Result<Vec<(String, String)>, DomainError> {
    pairs
        .iter()
        .map(|pair| {
            let (name, value) = pair.split_once('=').ok_or_else(|| {
                DomainError::Invalid(format!("bad label {pair:?}: expected name=value"))
            })?;
            let (name, value) = (name.trim(), value.trim());
            let good_name = !name.is_empty()
                && name.len() <= 64
                && name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_.-".contains(c));
            if !good_name || value.len() > 128 || value.chars().any(char::is_control) {
                return Err(DomainError::Invalid(format!(
                    "bad label {pair:?}: a name of a-z, 0-9, '_', '.', '-' and a value up to 128 characters"
                )));
            }
            Ok((name.to_owned(), value.to_owned()))
        })
        .collect()
}

/// Every user group with its rights and members. Note that this uses blocking I/O.
pub fn list(ctx: &Context) -> Result<Vec<GroupView>, DomainError> {
    let users = ctx.store.auth.users()?;
    Ok(ctx
        .store
        .access
        .groups()?
        .into_iter()
        .map(|group| GroupView {
            members: users
                .iter()
                .filter(|user| user.groups.contains(&group.name))
                .map(|user| user.name.clone())
                .collect(),
            rights: group
                .grants
                .into_iter()
                .map(|grant| (grant.host_group, grant.right))
                .collect(),
            name: group.name,
            description: group.description,
        })
        .collect())
}

/// Adds a user group without rights. Note that this uses blocking I/O.
pub fn create(
    ctx: &Context,
    actor: &Actor,
    name: &str,
    description: &str,
) -> Result<(), DomainError> {
    check_name("group", name)?;
    let record = GroupRecord {
        name: name.to_owned(),
        description: description.chars().take(200).collect(),
        grants: vec![],
        created_at_ms: now_ms(),
    };
    if !ctx.store.access.create_group(&record)? {
        return Err(DomainError::Conflict(format!(
            "a group named {name:?} exists"
        )));
    }
    audit::record(ctx, actor, AuditAction::GroupCreate, name)?;
    ctx.store.flush()?;
    Ok(())
}

/// Deletes a user group (never `admins`); its members lose its rights. Note that this uses
/// blocking I/O.
pub fn delete(ctx: &Context, actor: &Actor, name: &str) -> Result<(), DomainError> {
    if name == ADMINS {
        return Err(DomainError::Conflict(
            "the admins group cannot be deleted".into(),
        ));
    }
    if !ctx.store.access.delete_group(name)? {
        return Err(DomainError::NotFound(format!("no group named {name:?}")));
    }
    for mut user in ctx.store.auth.users()? {
        if user.groups.iter().any(|group| group == name) {
            user.groups.retain(|group| group != name);
            ctx.store.auth.put_user(&user)?;
        }
    }
    audit::record(ctx, actor, AuditAction::GroupDelete, name)?;
    ctx.store.flush()?;
    Ok(())
}

/// Sets (or with `None` removes) a user group's right on a host group. The `admins` group
/// keeps administer on all hosts. Note that this uses blocking I/O.
pub fn set_right(
    ctx: &Context,
    actor: &Actor,
    group_name: &str,
    host_group: &str,
    right: Option<Right>,
) -> Result<(), DomainError> {
    if host_group != ALL_HOSTS && ctx.store.access.host_group(host_group)?.is_none() {
        return Err(DomainError::NotFound(format!(
            "no host group named {host_group:?}"
        )));
    }
    if group_name == ADMINS && host_group == ALL_HOSTS && right != Some(Right::Administer) {
        return Err(DomainError::Conflict(
            "the admins group keeps administer on all hosts".into(),
        ));
    }
    let mut group = ctx
        .store
        .access
        .group(group_name)?
        .ok_or_else(|| DomainError::NotFound(format!("no group named {group_name:?}")))?;
    group.grants.retain(|grant| grant.host_group != host_group);
    if let Some(right) = right {
        group.grants.push(GrantRecord {
            host_group: host_group.to_owned(),
            right,
        });
        group.grants.sort_by(|a, b| a.host_group.cmp(&b.host_group));
    }
    ctx.store.access.put_group(&group)?;
    let word = right.map_or("none", Right::as_str);
    audit::record(
        ctx,
        actor,
        AuditAction::GroupRightSet,
        &format!("{group_name} on {host_group}: {word}"),
    )?;
    ctx.store.flush()?;
    Ok(())
}

/// Every host group (the built-in `all` first) with its members now. Note that this uses
/// blocking I/O.
pub fn host_groups(ctx: &Context) -> Result<Vec<HostGroupView>, DomainError> {
    let hosts: Vec<AgentId> = ctx
        .store
        .agents
        .agents()?
        .into_iter()
        .map(|agent| agent.agent_id)
        .collect();
    let labels: std::collections::BTreeMap<_, _> =
        ctx.store.access.all_labels()?.into_iter().collect();
    let labels_of = |agent_id: &AgentId| labels.get(agent_id).map_or(&[][..], Vec::as_slice);
    let mut views = vec![HostGroupView {
        name: ALL_HOSTS.to_owned(),
        labels: vec![],
        hosts: vec![],
        members: hosts.clone(),
    }];
    for group in ctx.store.access.host_groups()? {
        views.push(HostGroupView {
            members: hosts
                .iter()
                .filter(|agent_id| group.contains(agent_id, labels_of(agent_id)))
                .cloned()
                .collect(),
            name: group.name,
            labels: group.labels,
            hosts: group.hosts,
        });
    }
    Ok(views)
}

/// Adds or replaces a host group: hosts with all of `labels`, plus `hosts`. Note that this
/// uses blocking I/O.
pub fn put_host_group(
    ctx: &Context,
    actor: &Actor,
    name: &str,
    labels: Vec<(String, String)>,
    hosts: Vec<AgentId>,
) -> Result<(), DomainError> {
    check_name("host group", name)?;
    if name == ALL_HOSTS {
        return Err(DomainError::Conflict("\"all\" is built in".into()));
    }
    let created_at_ms = ctx
        .store
        .access
        .host_group(name)?
        .map_or_else(now_ms, |old| old.created_at_ms);
    let target = format!(
        "{name}: labels {}, hosts {}",
        labels
            .iter()
            .map(|(key, value)| format!("{key}={value}"))
            .collect::<Vec<_>>()
            .join(","),
        hosts
            .iter()
            .map(AgentId::as_str)
            .collect::<Vec<_>>()
            .join(",")
    );
    ctx.store.access.put_host_group(&HostGroupRecord {
        name: name.to_owned(),
        labels,
        hosts,
        created_at_ms,
    })?;
    audit::record(ctx, actor, AuditAction::HostGroupSet, &target)?;
    ctx.store.flush()?;
    Ok(())
}

/// Deletes a host group and every right on it. Note that this uses blocking I/O.
pub fn delete_host_group(ctx: &Context, actor: &Actor, name: &str) -> Result<(), DomainError> {
    if !ctx.store.access.delete_host_group(name)? {
        return Err(DomainError::NotFound(format!(
            "no host group named {name:?}"
        )));
    }
    for mut group in ctx.store.access.groups()? {
        let before = group.grants.len();
        group.grants.retain(|grant| grant.host_group != name);
        if group.grants.len() != before {
            ctx.store.access.put_group(&group)?;
        }
    }
    audit::record(ctx, actor, AuditAction::HostGroupDelete, name)?;
    ctx.store.flush()?;
    Ok(())
}

/// A host's labels. Note that this uses blocking I/O.
pub fn labels(ctx: &Context, agent_id: &AgentId) -> Result<Vec<(String, String)>, DomainError> {
    require_known(ctx, agent_id)?;
    Ok(ctx.store.access.labels(agent_id)?)
}

/// Replaces a host's labels. Note that this uses blocking I/O.
pub fn set_labels(
    ctx: &Context,
    actor: &Actor,
    agent_id: &AgentId,
    labels: &[(String, String)],
) -> Result<(), DomainError> {
    require_known(ctx, agent_id)?;
    ctx.store.access.set_labels(agent_id, labels)?;
    let words: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    audit::record(
        ctx,
        actor,
        AuditAction::HostLabelsSet,
        &format!("{agent_id}: {}", words.join(",")),
    )?;
    ctx.store.flush()?;
    Ok(())
}
