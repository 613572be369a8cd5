//! The thin shell around the container, update and disk-trend rules (issue 18 §1): reads what
//! they need from the stores (each host's container inventory and stored events, the pending
//! updates with their waiting reasons, the update operations, each drive's baseline), runs the
//! pure rules and writes back the baselines they changed (first sightings, temperature state).
//!
//! Note that this uses blocking I/O.

use super::config::AlertsConfig;
use super::rules::updates::PendingUpdate;
use super::rules::{containers, disk_trends, updates, Condition};
use crate::context::Context;
use crate::domain::updates::CheckFilter;
use crate::storage::agents::StateKind;
use crate::storage::containers::CheckOutcome;
use crate::storage::operations::OperationRecord;
use std::collections::{BTreeMap, BTreeSet};
use unity_shared::model::container::ContainerInventory;
use unity_shared::proto::{AgentId, StorageState};

/// Stored container events the rules look at per host (the newest).
pub const EVENTS_PER_HOST: usize = 500;

/// Operations looked at per round (the newest, every host).
pub const OPERATIONS_PER_ROUND: usize = 1000;

/// What one round reads once for every host.
#[derive(Debug, Default)]
pub struct Round {
    pending: BTreeMap<AgentId, Vec<PendingUpdate>>,
    operations: Vec<OperationRecord>,
}

/// Reads the pending updates (as the Updates page has them) and the recent operations. A
/// failure is logged and leaves them out: the other rules still run.
pub fn round(ctx: &Context) -> Round {
    let mut round = Round::default();
    match crate::domain::updates::checks(ctx, CheckFilter::Update) {
        Ok(views) => {
            for view in views {
                let CheckOutcome::Update(update) = &view.record.outcome else {
                    continue;
                };
                round
                    .pending
                    .entry(view.record.agent_id.clone())
                    .or_default()
                    .push(PendingUpdate {
                        container: view.record.container.clone(),
                        current: update
                            .current_tag
                            .clone()
                            .unwrap_or_else(|| view.record.image.clone()),
                        candidate: update.candidate_tag.clone(),
                        first_seen_ms: update.first_seen_ms,
                        waiting: view.waiting.clone(),
                    });
            }
        }
        Err(error) => tracing::warn!(%error, "Update alerts skipped this round."),
    }
    match ctx.store.operations.recent(None, OPERATIONS_PER_ROUND) {
        Ok(operations) => round.operations = operations,
        Err(error) => tracing::warn!(%error, "Update operation alerts skipped this round."),
    }
    round
}

/// The container, update and disk-trend conditions of one host.
pub fn host_conditions(
    ctx: &Context,
    agent_id: &AgentId,
    storage: Option<&StorageState>,
    round: &Round,
    now_ms: i64,
    config: &AlertsConfig,
) -> anyhow::Result<Vec<Condition>> {
    let mut active = Vec::new();
    let inventory: Option<(i64, ContainerInventory)> =
        ctx.store.agents.latest(agent_id, StateKind::Containers)?;
    if let Some((_, inventory)) = inventory {
        let events = ctx
            .store
            .containers
            .recent_events(agent_id, EVENTS_PER_HOST)?;
        let operated: BTreeSet<String> = round
            .operations
            .iter()
            .filter(|operation| {
                operation.agent_id == *agent_id
                    && now_ms.saturating_sub(operation.requested_at_ms)
                        <= config.containers.event_window_ms
            })
            .map(|operation| operation.container.clone())
            .collect();
        let state = containers::ContainerState {
            inventory: &inventory,
            events: &events,
            operated: &operated,
        };
        active.extend(containers::conditions(
            agent_id,
            &state,
            now_ms,
            &config.containers,
        ));
    }
    let pending = round
        .pending
        .get(agent_id)
        .map(Vec::as_slice)
        .unwrap_or_default();
    active.extend(updates::conditions(
        agent_id,
        pending,
        &round.operations,
        now_ms,
        &config.updates,
    ));
    if let Some(storage) = storage {
        let baselines = ctx.store.disk_baselines.of_host(agent_id)?;
        let outcome =
            disk_trends::evaluate(agent_id, storage, &baselines, now_ms, &config.disk_trends);
        for (drive, baseline) in &outcome.baselines {
            ctx.store.disk_baselines.put(agent_id, drive, baseline)?;
        }
        active.extend(outcome.conditions);
    }
    Ok(active)
}
