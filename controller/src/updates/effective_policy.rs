//! A container's effective update policy, from its layers: the controller's default
//! (`[updates]`) < the host's override < the container's labels < the container's override.
//! The update watch checks with it, the policy loop takes its probe, and an operator's update
//! does too.

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
