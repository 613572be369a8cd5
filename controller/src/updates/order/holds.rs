//! The dependency holds of queued updates, read from the store: each host's newest
//! inventory gives its [`DependencyGraph`], its recent operations the updates that came
//! before; [`super::queue::hold`] decides.

use super::{queue, DependencyGraph};

/// The dependency holds of the queued updates among `unfinished`, by operation id (none for
/// other operations, or when a host's containers or operations cannot be read). Note that
/// this uses blocking I/O.
pub fn holds(
    ctx: &crate::context::Context,
    unfinished: &[crate::storage::operations::OperationRecord],
) -> std::collections::HashMap<String, queue::Hold> {
    use crate::storage::agents::StateKind;
    use crate::storage::operations::{OperationKind, OperationState};
    use unity_shared::model::container::ContainerInventory;
    let queued: Vec<_> = unfinished
        .iter()
        .filter(|r| r.action == OperationKind::Update && r.state == OperationState::Queued)
        .collect();
    let mut holds = std::collections::HashMap::new();
    let mut agents: Vec<_> = queued.iter().map(|r| &r.agent_id).collect();
    agents.sort();
    agents.dedup();
    for agent_id in agents {
        let inventory: Option<(i64, ContainerInventory)> = ctx
            .store
            .agents
            .latest(agent_id, StateKind::Containers)
            .ok()
            .flatten();
        let Some((_, inventory)) = inventory else {
            continue;
        };
        let Ok(recent) = ctx.store.operations.recent(Some(agent_id.as_str()), 200) else {
            continue;
        };
        let graph = DependencyGraph::of(&inventory.containers);
        let others: Vec<queue::HostUpdate<'_>> = recent
            .iter()
            .filter(|r| r.action == OperationKind::Update)
            .map(|r| queue::HostUpdate {
                id: &r.id,
                container: &r.container,
                requested_at_ms: r.requested_at_ms,
                finished_at_ms: r
                    .finished_at_ms
                    .filter(|_| r.state == OperationState::Finished),
                succeeded: r.result.as_ref().is_some_and(|result| {
                    result.outcome == unity_shared::model::update::Outcome::Succeeded
                }),
            })
            .collect();
        for record in queued.iter().filter(|r| &r.agent_id == agent_id) {
            let this = queue::HostUpdate {
                id: &record.id,
                container: &record.container,
                requested_at_ms: record.requested_at_ms,
                finished_at_ms: None,
                succeeded: false,
            };
            let hold = queue::hold(&this, &others, &graph.needs(&record.container));
            holds.insert(record.id.clone(), hold);
        }
    }
    holds
}
