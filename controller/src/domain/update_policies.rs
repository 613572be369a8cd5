//! Update-policy overrides per host and per container, and a host's maintenance windows:
//! validated before they are stored, audited, and read back with the windows in effect (the
//! host's own, its group's, or the controller's) and whether they are open now.

use super::audit::{self, AuditAction};
use super::error::DomainError;
use super::hosts::require_known;
use crate::context::Context;
use crate::domain::actor::Actor;
use crate::storage::agents::StateKind;
use crate::storage::containers::{PolicyOverride, PolicyScope};
use crate::updates::effective_policy::{self, PolicyLookupError};
use crate::updates::policy::explain::EffectiveSetting;
use crate::updates::policy::PolicyLayer;
use crate::updates::window::{WindowPhase, WindowSet};
use serde::Serialize;
use std::collections::BTreeMap;
use unity_shared::model::container::ContainerInventory;
use unity_shared::proto::AgentId;

/// A host's maintenance windows as the API shows them.
#[derive(Debug, Serialize)]
pub struct WindowsView {
    /// The host's own windows (empty when it follows its group's or the controller's).
    pub windows: Vec<String>,
    /// The windows in effect and where they come from (`host`, `group NAME`, `controller`).
    pub effective: Vec<String>,
    pub source: String,
    /// `always` (no windows), `open`, or `closed`.
    pub state: WindowPhase,
    /// When the current window ends or the next one starts, for people.
    pub next: Option<String>,
}

/// An override with the policy in effect.
#[derive(Debug, Serialize)]
pub struct PolicyView {
    /// The override stored at this level (empty when none): what `PUT` sets.
    pub settings: BTreeMap<String, String>,
    /// Every setting of the policy in effect, with the layer it came from (`default`,
    /// `controller`, `host`, `label`, `override`). For a host: what its containers get
    /// before their labels and overrides.
    pub effective: Vec<EffectiveSetting>,
    /// For a container: whether its labels were read (false when no inventory names it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub labels_known: Option<bool>,
}

/// The override at `scope` with the policy in effect there. Note that this uses blocking I/O.
pub fn view(ctx: &Context, scope: &PolicyScope) -> Result<PolicyView, DomainError> {
    let settings = get(ctx, scope)?;
    let invalid = |error: PolicyLookupError| match error {
        PolicyLookupError::Invalid(error) => DomainError::Invalid(error.to_string()),
        PolicyLookupError::Storage(error) => error.into(),
    };
    match scope {
        PolicyScope::Host { agent_id } | PolicyScope::HostWindows { agent_id } => Ok(PolicyView {
            settings,
            effective: effective_policy::explain_host(ctx, agent_id).map_err(invalid)?,
            labels_known: None,
        }),
        PolicyScope::Container {
            agent_id,
            container,
        } => {
            let inventory: Option<(i64, ContainerInventory)> =
                ctx.store.agents.latest(agent_id, StateKind::Containers)?;
            let labels = inventory.and_then(|(_, inventory)| {
                inventory
                    .containers
                    .into_iter()
                    .find(|c| &c.name == container)
                    .map(|c| c.labels)
            });
            let effective = effective_policy::explain_container(
                ctx,
                agent_id,
                container,
                labels.as_deref().unwrap_or_default(),
            )
            .map_err(invalid)?;
            Ok(PolicyView {
                settings,
                effective,
                labels_known: Some(labels.is_some()),
            })
        }
    }
}

fn validated(settings: &BTreeMap<String, String>) -> Result<Vec<(String, String)>, DomainError> {
    let mut layer = PolicyLayer::default();
    for (key, value) in settings {
        if key.starts_with("unity.update.") {
            return Err(DomainError::Invalid(format!(
                "{key}: use the bare key ({}) in a policy setting",
                key.trim_start_matches("unity.update.")
            )));
        }
        layer
            .set(key, value)
            .map_err(|error| DomainError::Invalid(error.to_string()))?;
    }
    Ok(settings
        .iter()
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect())
}

/// Stores (replaces) an override for a known host after validating it, audited; empty
/// settings remove it. Returns the settings as given. Note that this uses blocking I/O.
pub fn put(
    ctx: &Context,
    actor: &Actor,
    scope: PolicyScope,
    settings: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, DomainError> {
    let agent_id = match &scope {
        PolicyScope::Host { agent_id }
        | PolicyScope::Container { agent_id, .. }
        | PolicyScope::HostWindows { agent_id } => agent_id,
    };
    require_known(ctx, agent_id)?;
    let (stored, action, target) = match &scope {
        PolicyScope::Host { agent_id } => (
            validated(settings)?,
            AuditAction::UpdatePolicySet,
            agent_id.to_string(),
        ),
        PolicyScope::Container {
            agent_id,
            container,
        } => (
            validated(settings)?,
            AuditAction::UpdatePolicySet,
            format!("{agent_id}/{container}"),
        ),
        PolicyScope::HostWindows { agent_id } => {
            let texts: Vec<&String> = settings.values().collect();
            WindowSet::parse_all(&texts)
                .map_err(|error| DomainError::Invalid(error.to_string()))?;
            (
                settings
                    .values()
                    .map(|text| ("window".to_owned(), text.clone()))
                    .collect(),
                AuditAction::MaintenanceWindowsSet,
                agent_id.to_string(),
            )
        }
    };
    ctx.store.containers.put_policy(&PolicyOverride {
        scope,
        settings: stored,
    })?;
    audit::record(ctx, actor, action, &target)?;
    Ok(settings.clone())
}

/// The override stored for `scope` (empty when none). Note that this uses blocking I/O.
pub fn get(ctx: &Context, scope: &PolicyScope) -> Result<BTreeMap<String, String>, DomainError> {
    Ok(ctx
        .store
        .containers
        .policy(scope)?
        .map(|policy| policy.settings.into_iter().collect())
        .unwrap_or_default())
}

/// Replaces a known host's own maintenance windows (empty: it follows its group's or the
/// controller's), audited. Note that this uses blocking I/O.
pub fn set_windows(
    ctx: &Context,
    actor: &Actor,
    agent_id: &AgentId,
    windows: &[String],
) -> Result<(), DomainError> {
    let settings = windows
        .iter()
        .enumerate()
        .map(|(index, text)| (format!("{index:04}"), text.clone()))
        .collect();
    let scope = PolicyScope::HostWindows {
        agent_id: agent_id.clone(),
    };
    put(ctx, actor, scope, &settings).map(|_| ())
}

/// A known host's maintenance windows: its own, those in effect and whether they are open
/// now. Note that this uses blocking I/O.
pub fn windows(ctx: &Context, agent_id: &AgentId) -> Result<WindowsView, DomainError> {
    let agent = require_known(ctx, agent_id)?;
    let own = crate::updates::auto::host_window_texts(ctx, agent_id)?;
    let (effective, source) = crate::updates::auto::windows_for(ctx, agent_id, &agent.hostname)?;
    let (state, next) = crate::updates::auto::describe(&effective, jiff::Timestamp::now());
    Ok(WindowsView {
        windows: own,
        effective: effective
            .windows()
            .iter()
            .map(|w| w.text().to_owned())
            .collect(),
        source,
        state,
        next,
    })
}

/// Whether a host's windows in effect are open at `now` (`always`, `open`, `closed`) and when
/// that next changes, for people. Note that this uses blocking I/O.
pub fn window_state(
    ctx: &Context,
    agent_id: &AgentId,
    hostname: &str,
    now: jiff::Timestamp,
) -> Result<(WindowPhase, Option<String>), DomainError> {
    let (windows, _) = crate::updates::auto::windows_for(ctx, agent_id, hostname)?;
    Ok(crate::updates::auto::describe(&windows, now))
}
