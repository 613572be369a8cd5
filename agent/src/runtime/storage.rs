//! The storage-health loop: every `storage.interval`, run the SMART, ZFS and md RAID collectors
//! side by side, link them into one picture of the storage stack, and spool one report carrying
//! their typed state and their series.
//!
//! Drives seen before are remembered in `drives.json` in the data directory, so a drive that
//! vanishes is reported as missing — also after an agent restart — instead of silently gone.

use super::state::AgentState;
use crate::clock::now_ms;
use crate::collect::{mdraid, smart, stack, zfs};
use crate::config::StorageConfig;
use crate::spool::TypedState;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::sync::watch;
use unity_shared::model::storage::stack::DriveIdentity;
use unity_shared::proto::{Sample, StorageState};

/// Where the kernel lists drives by stable names, and the mount table.
const BY_ID_DIR: &str = "/dev/disk/by-id";
const MOUNTS: &str = "/proc/self/mounts";

/// Runs the three storage collectors once and links them. Never fails: missing tools are
/// reported inside.
pub async fn collect(config: &StorageConfig, previous: &[DriveIdentity]) -> StorageState {
    let (smart, zfs, raid, by_id, mounts) = tokio::join!(
        smart::collect(&config.smart),
        zfs::collect(&config.zfs),
        mdraid::collect(&config.raid),
        stack::read_links(Path::new(BY_ID_DIR)),
        stack::read_mounts(Path::new(MOUNTS)),
    );
    let stack = stack::link(&smart, &zfs, &raid, &by_id, &mounts, previous);
    StorageState {
        smart,
        zfs,
        raid,
        stack,
    }
}

/// The series of one storage state.
pub fn to_samples(state: &StorageState, timestamp_ms: i64) -> Vec<Sample> {
    crate::collect::storage_samples(state, timestamp_ms)
}

/// Where the daemon remembers the drives it has seen.
pub fn drives_file(data_dir: &Path) -> PathBuf {
    data_dir.join("drives.json")
}

/// The drives seen before (empty when none were recorded).
pub async fn load_drives(path: &Path) -> Vec<DriveIdentity> {
    match tokio::fs::read(path).await {
        Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|error| {
            tracing::warn!(path = %path.display(), %error, "Ignoring unreadable drive list.");
            Vec::new()
        }),
        Err(_) => Vec::new(),
    }
}

async fn save_drives(path: &Path, drives: &[DriveIdentity]) {
    let tmp = path.with_extension("json.tmp");
    let Ok(bytes) = serde_json::to_vec(drives) else {
        return;
    };
    let written = async {
        tokio::fs::write(&tmp, bytes).await?;
        tokio::fs::rename(&tmp, path).await
    };
    if let Err(error) = written.await {
        tracing::warn!(path = %path.display(), %error, "Could not remember the drives seen.");
    }
}

pub(super) async fn collector_loop(state: Arc<AgentState>, mut shutdown: watch::Receiver<bool>) {
    let config = state.config.storage.clone();
    if !config.enabled {
        return;
    }
    let drives_path = drives_file(&state.config.data_dir);
    let mut previous = load_drives(&drives_path).await;
    let mut tick = tokio::time::interval(config.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = tick.tick() => {}
        }
        let storage = collect(&config, &previous).await;
        let identities = storage.stack.identities();
        if identities != previous {
            save_drives(&drives_path, &identities).await;
            previous = identities;
        }
        let timestamp_ms = now_ms();
        let samples = to_samples(&storage, timestamp_ms);
        let typed = TypedState {
            storage: Some(storage),
            ..TypedState::default()
        };
        if let Err(error) = state.spool_report(timestamp_ms, samples, typed).await {
            tracing::error!(
                error = format!("{error:#}"),
                "Spooling storage health failed."
            );
        }
    }
}
