//! The storage-health loop: every `storage.interval`, run the SMART, ZFS and md RAID collectors
//! side by side and spool one report carrying their typed state (and its series).

use super::{now_ms, AgentState};
use crate::collect::{mdraid, smart, zfs};
use std::sync::Arc;
use tokio::sync::watch;
use unity_shared::proto::StorageState;

/// Runs the three storage collectors once. Never fails: missing tools are reported inside.
pub async fn collect(config: &crate::config::StorageConfig) -> StorageState {
    let (smart, zfs, raid) = tokio::join!(
        smart::collect(&config.smart),
        zfs::collect(&config.zfs),
        mdraid::collect(&config.raid)
    );
    StorageState { smart, zfs, raid }
}

pub(super) async fn collector_loop(state: Arc<AgentState>, mut shutdown: watch::Receiver<bool>) {
    let config = state.config.storage.clone();
    if !config.enabled {
        return;
    }
    let mut tick = tokio::time::interval(config.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = tick.tick() => {}
        }
        let storage = collect(&config).await;
        let timestamp_ms = now_ms();
        let samples = Vec::new();
        let spooled = state
            .with_spool(move |spool| spool.append_with(timestamp_ms, samples, Some(storage), None))
            .await
            .and_then(|appended| Ok(appended?));
        match spooled {
            Ok(_) => state.spooled.notify_one(),
            Err(error) => {
                tracing::error!(error = format!("{error:#}"), "Spooling storage health failed.")
            }
        }
    }
}
