//! A container's effective update policy, from its layers: the controller's default
//! (`[updates]`) < the host's override < the container's labels < the container's override.
//! The update watch checks with it, the policy loop takes its probe, and an operator's update
//! does too; the API shows it explained, each setting with the layer it came from.

use super::policy::explain::{explain, EffectiveSetting, Source};
use super::policy::{Policy, PolicyError, PolicyLayer};
use crate::context::Context;
use crate::storage::containers::{PolicyOverride, PolicyScope};
use crate::storage::StorageError;
use unity_shared::model::container::Container;
use unity_shared::proto::AgentId;

/// Why a container has no effective policy.
#[derive(Debug, thiserror::Error)]
pub enum PolicyLookupError {
    /// An override or a label does not parse; the container's checks report it.
    #[error(transparent)]
    Invalid(#[from] PolicyError),
    /// Reading the overrides failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

fn layer_of(policy: Option<PolicyOverride>) -> Result<PolicyLayer, PolicyError> {
    let mut layer = PolicyLayer::default();
    for (key, value) in policy.map(|policy| policy.settings).unwrap_or_default() {
        layer.set(&key, &value)?;
    }
    Ok(layer)
}

/// The effective policy of one container. Note that this uses blocking I/O.
pub fn of(
    ctx: &Context,
    agent_id: &AgentId,
    container: &Container,
) -> Result<Policy, PolicyLookupError> {
    let store = &ctx.store;
    let host = layer_of(store.containers.policy(&PolicyScope::Host {
        agent_id: agent_id.clone(),
    })?);
    let explicit = layer_of(store.containers.policy(&PolicyScope::Container {
        agent_id: agent_id.clone(),
        container: container.name.clone(),
    })?);
    Ok(Policy::for_container(
        &ctx.config.updates.default_policy,
        &host?,
        &container.labels,
        &explicit?,
    )?)
}

/// The policy in effect for a host's containers before their labels and overrides, each
/// setting with where it came from. Note that this uses blocking I/O.
pub fn explain_host(
    ctx: &Context,
    agent_id: &AgentId,
) -> Result<Vec<EffectiveSetting>, PolicyLookupError> {
    let host = layer_of(ctx.store.containers.policy(&PolicyScope::Host {
        agent_id: agent_id.clone(),
    })?)?;
    Ok(explain(&[
        (Source::Controller, &ctx.config.updates.default_policy),
        (Source::Host, &host),
    ]))
}

/// The policy in effect for one container, each setting with where it came from; `labels`
/// are the container's (from its newest inventory; empty when it is not known). Note that
/// this uses blocking I/O.
pub fn explain_container(
    ctx: &Context,
    agent_id: &AgentId,
    container: &str,
    labels: &[(String, String)],
) -> Result<Vec<EffectiveSetting>, PolicyLookupError> {
    let store = &ctx.store;
    let host = layer_of(store.containers.policy(&PolicyScope::Host {
        agent_id: agent_id.clone(),
    })?)?;
    let explicit = layer_of(store.containers.policy(&PolicyScope::Container {
        agent_id: agent_id.clone(),
        container: container.to_owned(),
    })?)?;
    let from_labels = PolicyLayer::from_labels(labels)?;
    Ok(explain(&[
        (Source::Controller, &ctx.config.updates.default_policy),
        (Source::Host, &host),
        (Source::Label, &from_labels),
        (Source::Override, &explicit),
    ]))
}
