//! The certificate loop: at start and then every `certificates.interval`, take the inventory
//! (files and TLS ports) and spool it as one report's typed state.

use super::state::AgentState;
use crate::clock::now_ms;
use crate::collect::certificates;
use crate::spool::TypedState;
use std::sync::Arc;
use tokio::sync::watch;

pub(super) async fn collector_loop(state: Arc<AgentState>, mut shutdown: watch::Receiver<bool>) {
    let config = state.config.certificates.clone();
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
        let inventory = match certificates::collect(&config).await {
            Ok(inventory) => inventory,
            Err(error) => {
                tracing::warn!(
                    error = format!("{error:#}"),
                    "Certificate inventory failed."
                );
                continue;
            }
        };
        tracing::debug!(
            n_certificates = inventory.certificates.len(),
            n_problems = inventory.problems.len(),
            files = inventory.files_scanned,
            ports = inventory.ports_probed,
            "Certificate inventory taken."
        );
        let typed = TypedState {
            certificates: Some(inventory),
            ..TypedState::default()
        };
        if let Err(error) = state.spool_report(now_ms(), Vec::new(), typed).await {
            tracing::error!(
                error = format!("{error:#}"),
                "Spooling the certificate inventory failed."
            );
        }
    }
}
