//! The container loop: a full inventory (with resource usage) every `containers.interval`, and
//! in between, the engine's event stream. An event is buffered for `containers.event_debounce`
//! (a compose project restarting is one burst, one report), then a fresh inventory without new
//! stats is reported with the buffered events, so a container that dies is at the controller
//! about a second later.
//!
//! The event stream reconnects with backoff when the engine restarts or is not there yet;
//! each subscription replays from shortly before it, so an event in the gap is not lost, and
//! replayed duplicates are dropped here.
//!
//! [`report_loop`] produces the reports and is what the tests drive; `collector_loop` spools
//! them and hands the published ports to database discovery.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use unity_shared::model::container::{ContainerEvent, ContainerInventory, RunState};
use unity_shared::proto::Sample;

use super::state::AgentState;
use crate::backoff::Backoff;
use crate::clock::{self, now_ms};
use crate::collect::containers::{self, events, socket, ContainersConfig, StatsMemory};
use crate::spool::TypedState;

/// Events remembered to drop replayed duplicates.
const RECENT_EVENTS: usize = 256;

/// One report's worth of container state.
#[derive(Debug)]
pub struct ContainerReport {
    pub timestamp_ms: i64,
    pub inventory: ContainerInventory,
    pub samples: Vec<Sample>,
    /// A scheduled full collection (with stats), not one caused by events.
    pub full: bool,
}

pub(super) async fn collector_loop(state: Arc<AgentState>, shutdown: watch::Receiver<bool>) {
    let config = state.config.containers.clone();
    if !config.enabled {
        return;
    }
    let (reports, mut received) = mpsc::channel(4);
    let producer = tokio::spawn(report_loop(config, reports, shutdown));
    while let Some(report) = received.recv().await {
        state
            .container_ports
            .send_replace(containers::published_ports(&report.inventory.containers));
        let ContainerReport {
            timestamp_ms,
            inventory,
            samples,
            ..
        } = report;
        let typed = TypedState {
            containers: Some(inventory),
            ..TypedState::default()
        };
        if let Err(error) = state.spool_report(timestamp_ms, samples, typed).await {
            tracing::error!(
                error = format!("{error:#}"),
                "Spooling the container inventory failed."
            );
        }
    }
    let _ = producer.await;
}

/// Collects on the interval and after events, and sends each report to `reports`, until
/// `shutdown` or until the receiver is gone.
pub async fn report_loop(
    config: ContainersConfig,
    reports: mpsc::Sender<ContainerReport>,
    mut shutdown: watch::Receiver<bool>,
) {
    let (event_sender, mut event_receiver) = mpsc::channel(256);
    let subscriber = tokio::spawn(event_loop(config.clone(), event_sender, shutdown.clone()));
    let mut memory = StatsMemory::default();
    let mut last_full: Option<ContainerInventory> = None;
    let mut recent: VecDeque<ContainerEvent> = VecDeque::new();
    let mut tick = tokio::time::interval(config.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let mut pending = Vec::new();
        let full = tokio::select! {
            _ = shutdown.changed() => break,
            _ = tick.tick() => true,
            Some(event) = event_receiver.recv() => {
                remember(&mut recent, &mut pending, event);
                let deadline = tokio::time::Instant::now() + config.event_debounce;
                loop {
                    tokio::select! {
                        _ = tokio::time::sleep_until(deadline) => break,
                        Some(event) = event_receiver.recv() => {
                            remember(&mut recent, &mut pending, event);
                        }
                    }
                }
                if pending.is_empty() {
                    continue;
                }
                false
            }
        };
        let mut inventory = if full {
            let inventory = containers::collect(&config, &mut memory).await;
            last_full = Some(inventory.clone());
            inventory
        } else {
            let mut inventory = match socket::connect_with(&config.socket, config.timeout).await {
                Ok(client) => containers::collect_with(&client, false, &mut memory).await,
                Err(error) => containers::run::unreachable_engine(&error),
            };
            carry_usage(&mut inventory, last_full.as_ref());
            inventory
        };
        // Events that arrived while collecting ride along. Without this a collection slower
        // than the interval (stats of many containers on a busy host) left the tick always
        // ready, and `select!` could pick it over queued events for many rounds in a row.
        while let Ok(event) = event_receiver.try_recv() {
            remember(&mut recent, &mut pending, event);
        }
        tracing::debug!(full, n_events = pending.len(), "Container report.");
        inventory.events = pending;
        let timestamp_ms = now_ms();
        let samples = containers::samples::to_samples(&inventory, timestamp_ms, full);
        let report = ContainerReport {
            timestamp_ms,
            inventory,
            samples,
            full,
        };
        if reports.send(report).await.is_err() {
            break;
        }
    }
    subscriber.abort();
}

/// Queues an event unless it is a replayed duplicate.
fn remember(
    recent: &mut VecDeque<ContainerEvent>,
    pending: &mut Vec<ContainerEvent>,
    event: ContainerEvent,
) {
    if recent.contains(&event) {
        return;
    }
    if recent.len() == RECENT_EVENTS {
        recent.pop_front();
    }
    recent.push_back(event.clone());
    pending.push(event);
}

/// Reports caused by events read no stats; running containers keep the last full
/// collection's usage so that the controller's view does not flicker.
fn carry_usage(inventory: &mut ContainerInventory, last_full: Option<&ContainerInventory>) {
    let Some(last_full) = last_full else {
        return;
    };
    let usage: HashMap<&str, _> = last_full
        .containers
        .iter()
        .filter_map(|container| Some((container.id.as_str(), container.usage.as_ref()?)))
        .collect();
    for container in &mut inventory.containers {
        if container.state == RunState::Running {
            container.usage = usage
                .get(container.id.as_str())
                .map(|usage| (*usage).clone());
        }
    }
}

/// Keeps one subscription to the engine's events, reconnecting with backoff.
async fn event_loop(
    config: ContainersConfig,
    events: mpsc::Sender<ContainerEvent>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(60));
    // Replay from a second before: covers the moment between subscribing and the engine
    // registering the subscription (and a clock tick).
    let mut since = clock::now_seconds() - 1;
    let mut failing = false;
    loop {
        let outcome = async {
            let client = socket::connect_with(&config.socket, config.timeout).await?;
            tracing::info!(
                engine = ?client.info.kind,
                version = %client.info.version,
                socket = %client.info.socket,
                "Following container events."
            );
            events::forward(&client, Some(since), &events).await
        };
        let result = tokio::select! {
            _ = shutdown.changed() => return,
            result = outcome => result,
        };
        if events.is_closed() {
            return;
        }
        since = clock::now_seconds() - 1;
        let delay = match result {
            Ok(()) => {
                // The stream ended: the engine stopped or restarted.
                failing = false;
                backoff.reset();
                backoff.next_delay(rand::random::<f64>())
            }
            Err(error) => {
                if !failing {
                    tracing::warn!(%error, "Container events unavailable; retrying.");
                    failing = true;
                } else {
                    tracing::debug!(%error, "Container events still unavailable.");
                }
                backoff.next_delay(rand::random::<f64>())
            }
        };
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = tokio::time::sleep(delay) => {}
        }
    }
}
