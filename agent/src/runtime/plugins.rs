//! The plugin loops. Every `plugins.interval`, read the textfiles and scrape the exporters and
//! spool one report with their series and each source's status; every `checks_interval`, run
//! the checks and spool one report with their results and series. Two loops of their own, so
//! a slow exporter or a hung check delays neither the system metrics nor each other.
//!
//! A loop that found nothing (no textfile, no exporter, no check) spools nothing, except once
//! after it had something, so the controller learns that the sources are gone.

use super::state::AgentState;
use crate::collect::plugins::{batch::BatchBuilder, checks, run};
use crate::collect::series::Sink;
use crate::spool::TypedState;
use std::sync::Arc;
use tokio::sync::watch;

pub(super) async fn metrics_loop(state: Arc<AgentState>, mut shutdown: watch::Receiver<bool>) {
    let config = state.config.plugins.clone();
    if !config.enabled {
        return;
    }
    let mut tick = tokio::time::interval(config.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut had_sources = false;
    loop {
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = tick.tick() => {}
        }
        let collected = tokio::select! {
            _ = shutdown.changed() => return,
            collected = run::collect(&config) => collected,
        };
        if collected.sources.is_empty() && !had_sources {
            continue;
        }
        had_sources = !collected.sources.is_empty();
        for source in collected.sources.iter().filter(|s| s.failure.is_some()) {
            tracing::debug!(source = %source.source, failure = source.failure.as_deref().unwrap_or(""), "Plugin source gave nothing.");
        }
        let mut sink = Sink {
            timestamp_ms: collected.collected_at_ms,
            samples: Vec::new(),
        };
        crate::collect::plugins::samples::status_samples(&mut sink, &collected.sources);
        let typed = TypedState {
            plugin_series: Some(collected.batch),
            plugin_sources: Some(collected.sources),
            ..TypedState::default()
        };
        if let Err(error) = state
            .spool_report(collected.collected_at_ms, sink.samples, typed)
            .await
        {
            tracing::error!(
                error = format!("{error:#}"),
                "Spooling plugin series failed."
            );
        }
    }
}

pub(super) async fn checks_loop(state: Arc<AgentState>, mut shutdown: watch::Receiver<bool>) {
    let config = state.config.plugins.clone();
    if !config.enabled {
        return;
    }
    let mut tick = tokio::time::interval(config.checks_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut had_checks = false;
    loop {
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = tick.tick() => {}
        }
        let mut batch = BatchBuilder::default();
        let ran = tokio::select! {
            _ = shutdown.changed() => return,
            ran = checks::run_all(&config, &mut batch) => ran,
        };
        let results = match ran {
            Ok(results) => results,
            Err(error) => {
                tracing::warn!(%error, "Running the checks failed.");
                continue;
            }
        };
        if results.is_empty() && !had_checks {
            continue;
        }
        had_checks = !results.is_empty();
        let collected_at_ms = crate::clock::now_ms();
        let typed = TypedState {
            plugin_series: Some(batch.finish()),
            checks: Some(results),
            ..TypedState::default()
        };
        if let Err(error) = state.spool_report(collected_at_ms, Vec::new(), typed).await {
            tracing::error!(
                error = format!("{error:#}"),
                "Spooling check results failed."
            );
        }
    }
}
