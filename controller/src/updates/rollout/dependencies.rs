//! Rule 4a of the plan (pure): dependency order on one host. A container's update waits while
//! a container it depends on ([`crate::updates::order`]) has an update to make or one running,
//! and stops while that container's newest update failed; containers on a dependency cycle
//! wait with the cycle named.

use super::{PendingUpdate, WaitReason};
use std::collections::{BTreeSet, HashMap, HashSet};
use unity_shared::proto::AgentId;

/// What the plan knows of each host's dependency order, keyed by (agent, container).
#[derive(Debug, Clone, Default)]
pub struct HostDependencies {
    /// The containers of its host a container follows, directly or through others.
    pub needs: HashMap<(AgentId, String), BTreeSet<String>>,
    /// The dependency cycle a container lies on, for people.
    pub cycles: HashMap<(AgentId, String), String>,
    /// Containers whose newest update verdict is a failure (rolled back or failed), or whose
    /// offered candidate is marked failed.
    pub failed: HashSet<(AgentId, String)>,
}

impl HostDependencies {
    fn needs_of(&self, update: &PendingUpdate) -> Option<&BTreeSet<String>> {
        self.needs
            .get(&(update.agent_id.clone(), update.container.clone()))
    }
}

/// Why `update` must wait for its dependencies, if it must. `to_apply` are the containers
/// (agent, name) with an update to make in this plan, `busy` those with an update running.
pub(super) fn wait_reason(
    update: &PendingUpdate,
    dependencies: &HostDependencies,
    to_apply: &HashSet<(&str, &str)>,
    busy: &HashSet<(&str, &str)>,
) -> Option<WaitReason> {
    let key = (update.agent_id.clone(), update.container.clone());
    if let Some(cycle) = dependencies.cycles.get(&key) {
        return Some(WaitReason::DependencyCycle {
            cycle: cycle.clone(),
        });
    }
    let needs = dependencies.needs_of(update)?;
    let agent = update.agent_id.as_str();
    let first = |test: &dyn Fn(&str) -> bool| needs.iter().find(|name| test(name)).cloned();
    if let Some(dependency) = first(&|name| {
        dependencies
            .failed
            .contains(&(update.agent_id.clone(), name.to_owned()))
    }) {
        return Some(WaitReason::DependencyFailed { dependency });
    }
    if let Some(dependency) = first(&|name| busy.contains(&(agent, name))) {
        return Some(WaitReason::DependencyUpdating { dependency });
    }
    first(&|name| to_apply.contains(&(agent, name)))
        .map(|dependency| WaitReason::DependencyFirst { dependency })
}
