//! The hosts' newest image scans from the store, as a [`Fleet`]. Note that this uses blocking
//! I/O.

use super::Fleet;
use crate::context::Context;
use crate::storage::agents::StateKind;
use crate::storage::StorageError;
use unity_shared::model::scan::ImageScans;

/// Every enrolled host's newest [`ImageScans`] (hosts that never reported any are left out).
pub fn fleet(ctx: &Context) -> Result<Fleet, StorageError> {
    let mut hosts = Vec::new();
    for agent in ctx.store.agents.agents()? {
        let latest: Option<(i64, ImageScans)> = ctx
            .store
            .agents
            .latest(&agent.agent_id, StateKind::ImageScans)?;
        if let Some((_, scans)) = latest {
            hosts.push((agent.agent_id, scans));
        }
    }
    Ok(Fleet { hosts })
}
