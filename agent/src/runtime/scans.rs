//! The image-scan loop (issue 17 §2): a minute after start and then every
//! `[updates] scan_interval`, scan the images the host's containers run with Trivy or Grype
//! (cached per image id; see `update::scan`) and spool the host's scanner state with the
//! summaries, so the controller can show counts and deltas, or say that no scanner is
//! installed.

use super::state::AgentState;
use crate::clock::now_ms;
use crate::collect::containers::{self, StatsMemory};
use crate::spool::TypedState;
use crate::update::scan::{self, ScanMode, ScanSettings};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use unity_shared::model::scan::{ImageScans, ScannerState};

/// The scanners as the `[updates]` table configures them.
pub(super) fn settings(config: &crate::config::Config) -> ScanSettings {
    settings_from(&config.updates, &config.data_dir)
}

fn settings_from(updates: &crate::config::updates::UpdatesConfig, data_dir: &Path) -> ScanSettings {
    ScanSettings {
        mode: if updates.vulnerability_scan {
            ScanMode::Auto
        } else {
            ScanMode::Off
        },
        timeout: updates.scan_timeout,
        max_age: updates.scan_interval,
        ..ScanSettings::defaults(data_dir)
    }
}

pub(super) async fn scan_loop(state: Arc<AgentState>, mut shutdown: watch::Receiver<bool>) {
    let settings = settings(&state.config);
    let mut containers_config = state.config.containers.clone();
    containers_config.stats = false;
    let first = tokio::time::Instant::now() + Duration::from_secs(60);
    let mut tick = tokio::time::interval_at(first, settings.max_age);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = tick.tick() => {}
        }
        let scanner = scan::scanner_state(&settings);
        if let ScannerState::Available(_) = scanner {
            if containers_config.enabled {
                let inventory =
                    containers::collect(&containers_config, &mut StatsMemory::default()).await;
                let mut images: BTreeMap<String, Vec<String>> = BTreeMap::new();
                for container in inventory.containers {
                    images.insert(container.image_id, container.repo_digests);
                }
                for (image_id, repo_digests) in &images {
                    let reference = repo_digests.first().unwrap_or(image_id);
                    if let Err(error) =
                        scan::scan(&settings, image_id, repo_digests, reference).await
                    {
                        tracing::warn!(image = %image_id, %error, "Image scan failed.");
                    }
                }
            }
        }
        report(&state, &settings).await;
    }
}

/// Spools the host's scanner state and its cached scans (also after an update's gate scanned
/// a candidate, so the controller learns of it at once).
pub(super) async fn report(state: &Arc<AgentState>, settings: &ScanSettings) {
    let cached = scan::cache::load(&settings.cache_file);
    let typed = TypedState {
        image_scans: Some(ImageScans {
            scanner: scan::scanner_state(settings),
            scans: cached.scans,
            failures: cached.failures,
        }),
        ..TypedState::default()
    };
    if let Err(error) = state.spool_report(now_ms(), Vec::new(), typed).await {
        tracing::error!(
            error = format!("{error:#}"),
            "Spooling the image scans failed."
        );
    }
}
