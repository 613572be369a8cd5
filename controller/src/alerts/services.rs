//! Gathers what the service check rule (`rules/services.rs`, pure) needs: each check in
//! effect, the agents that run it and their newest results. Note that this uses blocking I/O.

use super::rules::{services, Condition};
use crate::context::Context;
use std::collections::BTreeMap;
use unity_shared::model::service::ServiceCheckResult;
use unity_shared::proto::AgentId;

/// The service checks' conditions at `now_ms`.
pub fn conditions(ctx: &Context, now_ms: i64) -> anyhow::Result<Vec<Condition>> {
    let mut by_check: BTreeMap<String, Vec<(AgentId, ServiceCheckResult)>> = BTreeMap::new();
    for stored in ctx.store.service_checks.results()? {
        by_check
            .entry(stored.result.name.clone())
            .or_default()
            .push((stored.agent_id, stored.result));
    }
    let mut conditions = Vec::new();
    for defined in crate::service_checks::defined(ctx)? {
        let definition = &defined.definition;
        let agents = crate::service_checks::agents_of(ctx, definition)?;
        let results = by_check
            .get(&definition.check.name)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let state = services::CheckState {
            name: &definition.check.name,
            interval_secs: definition.check.interval_secs,
            tls_warning_days: definition.tls_warning_days,
            results: results
                .iter()
                .filter(|(agent, _)| agents.contains(agent))
                .map(|(agent, result)| (agent, result))
                .collect(),
        };
        conditions.extend(services::conditions(&state, now_ms));
    }
    Ok(conditions)
}
