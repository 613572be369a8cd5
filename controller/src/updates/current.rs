//! Check records as they stand now: each container's newest check, corrected by what the
//! container runs (its newest report) and its update history ([`super::offer`]): an update
//! applied since the check shows as up to date, a candidate that failed on the container
//! carries its mark. Also the backup "roll back" restores. Note that this uses blocking I/O.

use super::offer::{self, FailedMark, OfferState, PastUpdate, RunningNow};
use crate::context::Context;
use crate::storage::agents::StateKind;
use crate::storage::containers::{CheckOutcome, UpdateCheckRecord};
use crate::storage::operations::OperationRecord;
use crate::storage::StorageError;
use std::collections::HashMap;
use unity_shared::model::container::ContainerInventory;
use unity_shared::proto::AgentId;

/// A check record as it stands now.
#[derive(Debug, Clone, PartialEq)]
pub struct CurrentCheck {
    /// The record; its outcome is `UpToDate` when the update was applied since.
    pub record: UpdateCheckRecord,
    /// The offered candidate failed on this container: manual updates only.
    pub failed: Option<FailedMark>,
}

/// What the container's newest report says it runs (digests without their repository).
fn running_now(
    inventories: &mut HashMap<AgentId, Option<(i64, ContainerInventory)>>,
    ctx: &Context,
    agent_id: &AgentId,
    container: &str,
) -> Result<Option<RunningNow>, StorageError> {
    if !inventories.contains_key(agent_id) {
        let latest = ctx.store.agents.latest(agent_id, StateKind::Containers)?;
        inventories.insert(agent_id.clone(), latest);
    }
    let Some(Some((reported_at_ms, inventory))) = inventories.get(agent_id) else {
        return Ok(None);
    };
    Ok(inventory
        .containers
        .iter()
        .find(|running| running.name == container)
        .map(|running| RunningNow {
            digests: running
                .repo_digests
                .iter()
                .filter_map(|text| text.rsplit_once('@').map(|(_, digest)| digest.to_owned()))
                .collect(),
            reported_at_ms: *reported_at_ms,
        }))
}

/// Every container's update history, from all operations.
fn histories(
    operations: Vec<OperationRecord>,
) -> HashMap<(AgentId, String), Vec<OperationRecord>> {
    let mut by_container: HashMap<(AgentId, String), Vec<OperationRecord>> = HashMap::new();
    for record in operations {
        by_container
            .entry((record.agent_id.clone(), record.container.clone()))
            .or_default()
            .push(record);
    }
    by_container
}

/// The newest check of every container, as it stands now.
pub fn checks(ctx: &Context) -> Result<Vec<CurrentCheck>, StorageError> {
    let records = ctx.store.containers.all_checks()?;
    let by_container = histories(ctx.store.operations.all()?);
    let mut inventories = HashMap::new();
    let mut current = Vec::with_capacity(records.len());
    for mut record in records {
        let mut failed = None;
        if let CheckOutcome::Update(update) = &record.outcome {
            let key = (record.agent_id.clone(), record.container.clone());
            let history: Vec<PastUpdate> = by_container
                .get(&key)
                .map(|records| offer::history_of(records))
                .unwrap_or_default();
            let running = running_now(&mut inventories, ctx, &record.agent_id, &record.container)?;
            match offer::offer_state(&update.candidate_digest, running.as_ref(), &history) {
                OfferState::Applied => record.outcome = CheckOutcome::UpToDate,
                OfferState::Offered { failed: mark } => failed = mark,
            }
        }
        current.push(CurrentCheck { record, failed });
    }
    Ok(current)
}

/// The container's update history (oldest first).
pub fn history(
    ctx: &Context,
    agent_id: &AgentId,
    container: &str,
) -> Result<Vec<PastUpdate>, StorageError> {
    let records: Vec<OperationRecord> = ctx
        .store
        .operations
        .all()?
        .into_iter()
        .filter(|record| record.agent_id == *agent_id && record.container == container)
        .collect();
    Ok(offer::history_of(&records))
}

/// The backup "roll back" restores: the one the newest successful update took.
pub fn rollback_backup(
    ctx: &Context,
    agent_id: &AgentId,
    container: &str,
) -> Result<Option<String>, StorageError> {
    Ok(offer::rollback_target(&history(ctx, agent_id, container)?))
}
