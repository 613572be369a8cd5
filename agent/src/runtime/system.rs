//! The system-metrics loop: every `interval` (or on a collect-now command) read the host with
//! sysinfo and spool one report.

use super::state::{AgentState, CollectRequest};
use crate::clock::now_ms;
use crate::collect::system::{self, SystemCollector};
use crate::spool::TypedState;
use std::sync::Arc;
use tokio::sync::{mpsc, watch};

/// Collects one report and spools it.
async fn collect_once(
    state: &Arc<AgentState>,
    collector: SystemCollector,
) -> (SystemCollector, anyhow::Result<u64>) {
    let collected = tokio::task::spawn_blocking(move || {
        let mut collector = collector;
        let snapshot = collector.snapshot();
        (collector, snapshot)
    })
    .await;
    let (collector, snapshot) = match collected {
        Ok(result) => result,
        Err(error) => return (SystemCollector::new(), Err(error.into())),
    };
    let timestamp_ms = now_ms();
    let samples = system::to_samples(&snapshot, timestamp_ms);
    let result = state
        .spool_report(timestamp_ms, samples, TypedState::default())
        .await;
    if result.is_ok() {
        state.update_status(|status| status.last_collection_ms = timestamp_ms);
    }
    (collector, result)
}

pub(super) async fn collector_loop(
    state: Arc<AgentState>,
    mut requests: mpsc::Receiver<CollectRequest>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut collector = SystemCollector::new();
    // Prime CPU usage so the first report already carries it.
    collector = tokio::task::spawn_blocking(move || {
        collector.snapshot();
        collector
    })
    .await
    .unwrap_or_default();
    let mut tick = tokio::time::interval(state.config.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let reply = tokio::select! {
            _ = shutdown.changed() => return,
            _ = tick.tick() => None,
            request = requests.recv() => request,
        };
        let (next, result) = collect_once(&state, collector).await;
        collector = next;
        if let Err(error) = &result {
            tracing::error!(error = format!("{error:#}"), "Spooling a report failed.");
        }
        if let Some(reply) = reply {
            let _ = reply.send(result);
        }
    }
}
