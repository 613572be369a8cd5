//! Housekeeping, once a minute: record each connected agent's last-seen time, and every few
//! minutes checkpoint the series store (which rolls finished raw buckets up into the 5-minute
//! and 1-hour tiers), purge expired sessions and, hourly, apply each tier's retention.

use crate::clock::now_ms;
use crate::context::Context;
use std::sync::Arc;
use std::time::Duration;

/// Starts the housekeeping loop; the task runs until aborted.
pub fn spawn(ctx: Arc<Context>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(run(ctx))
}

/// Periodic work: persist heads (checkpoint), apply retention, record last-seen times.
async fn run(ctx: Arc<Context>) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut n_ticks: u64 = 0;
    loop {
        tick.tick().await;
        n_ticks += 1;
        let ctx = ctx.clone();
        let result = tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
            for (agent_id, last_ms) in ctx.hub.snapshot() {
                ctx.store
                    .agents
                    .update_agent(&agent_id, |record| record.last_seen_ms = last_ms)?;
            }
            if n_ticks.is_multiple_of(5) {
                ctx.store.series.checkpoint()?;
                ctx.store.auth.purge_sessions(now_ms())?;
            }
            if n_ticks % 60 == 1 {
                // Per tier and metric family (storage::series::RetentionPolicy decides).
                let report = ctx
                    .store
                    .series
                    .apply_retention_policy(&ctx.config.history, now_ms())?;
                tracing::info!(?report, "Applied retention.");
            }
            Ok(())
        })
        .await;
        match result {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::warn!(error = format!("{error:#}"), "Housekeeping failed."),
            Err(error) => tracing::error!(%error, "Housekeeping panicked."),
        }
    }
}
