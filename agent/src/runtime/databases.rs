//! The database loop: every `databases.interval`, discover and probe the databases on this host
//! and spool one report carrying the instances and their availability series. Instances seen
//! before are probed again, so a server that stopped is reported down rather than forgotten.

use super::state::AgentState;
use crate::clock::now_ms;
use crate::collect::databases;
use crate::spool::TypedState;
use std::sync::Arc;
use tokio::sync::watch;
use unity_shared::model::database::DatabaseInstance;

pub(super) async fn collector_loop(state: Arc<AgentState>, mut shutdown: watch::Receiver<bool>) {
    let config = state.config.databases.clone();
    if !config.enabled {
        return;
    }
    let mut remembered: Vec<DatabaseInstance> = Vec::new();
    let mut tick = tokio::time::interval(config.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = tick.tick() => {}
        }
        // Containers' published ports, as of the container loop's latest inventory.
        let container_ports = state.container_ports.borrow().clone();
        let secrets = Some(state.secrets.clone());
        let collected =
            databases::run::collect_with_secrets(&config, &container_ports, &remembered, secrets)
                .await;
        let instances = match collected {
            Ok(instances) => instances,
            Err(error) => {
                tracing::warn!(error = format!("{error:#}"), "Database discovery failed.");
                continue;
            }
        };
        remembered = instances.clone();
        let timestamp_ms = now_ms();
        let samples = databases::samples::to_samples(&instances, timestamp_ms);
        let typed = TypedState {
            databases: Some(instances),
            ..TypedState::default()
        };
        if let Err(error) = state.spool_report(timestamp_ms, samples, typed).await {
            tracing::error!(
                error = format!("{error:#}"),
                "Spooling database state failed."
            );
        }
    }
}
