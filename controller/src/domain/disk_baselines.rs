//! Disk baselines as an operator sees and moves them (issue 18 §1, disk trends): each drive's
//! accepted SMART counter values, and "accept as new baseline", which sets them to the drive's
//! values of now so a grown counter the operator has looked at stops alerting. Audited.

use super::actor::Actor;
use super::audit::{self, AuditAction};
use super::error::DomainError;
use super::hosts::require_known;
use crate::clock::now_ms;
use crate::context::Context;
use crate::storage::agents::StateKind;
use crate::storage::disk_baselines::{baseline_of, drive_id, DiskBaseline};
use std::collections::BTreeMap;
use unity_shared::proto::{AgentId, StorageState};

/// A known host's baselines, by drive. Note that this uses blocking I/O.
pub fn of_host(
    ctx: &Context,
    agent_id: &AgentId,
) -> Result<BTreeMap<String, DiskBaseline>, DomainError> {
    require_known(ctx, agent_id)?;
    Ok(ctx.store.disk_baselines.of_host(agent_id)?)
}

/// Makes the drive's newest SMART values its baseline, on behalf of `actor`, audited.
/// `drive` is the drive's WWN, serial or device name (as alert keys and the host page name
/// it). Note that this uses blocking I/O.
pub fn accept(
    ctx: &Context,
    actor: &Actor,
    agent_id: &AgentId,
    drive: &str,
) -> Result<DiskBaseline, DomainError> {
    require_known(ctx, agent_id)?;
    let storage: Option<(i64, StorageState)> =
        ctx.store.agents.latest(agent_id, StateKind::Storage)?;
    let report = storage.as_ref().and_then(|(_, state)| {
        state
            .smart
            .devices
            .iter()
            .find(|device| drive_id(device) == drive)
            .and_then(|device| device.report.as_ref())
    });
    let Some(report) = report else {
        return Err(DomainError::NotFound(format!(
            "no drive {drive} with SMART data in the host's newest report"
        )));
    };
    let mut baseline = baseline_of(report, now_ms(), Some(actor.to_string()));
    // The temperature state is not the operator's to reset.
    if let Some(previous) = ctx.store.disk_baselines.get(agent_id, drive)? {
        baseline.hot_since_ms = previous.hot_since_ms;
    }
    ctx.store.disk_baselines.put(agent_id, drive, &baseline)?;
    ctx.store.flush()?;
    audit::record(
        ctx,
        actor,
        AuditAction::DiskBaselineAccept,
        &format!("{agent_id} {drive}"),
    )?;
    Ok(baseline)
}
