//! Alerts: [`rules`] (pure) turn each host's newest state into active conditions; the
//! evaluation loop here diffs them against the stored alerts (opening new ones, refreshing
//! open ones, resolving those whose condition has been gone for `resolve_after`), stores the
//! result through [`crate::storage::alerts`], and hands opened, escalated and resolved alerts
//! to the [`notify`] workers without waiting for them.
//!
//! The lifecycle (issue 18 §2): [`lifecycle`] (pure) decides what is told given
//! acknowledgements, silences, offline hosts ("unknown" instead of resolved) and the repeat
//! interval; [`apply`] stores each change and its notification status; [`user_rules`] runs the
//! operator's rules (config file and stored) with their scope and `for`.

pub mod apply;
pub mod config;
pub mod inputs;
pub mod lifecycle;
pub mod notify;
pub mod rules;
mod services;
pub mod user_rules;

use crate::clock::now_ms;
use crate::context::Context;
use crate::domain::hosts::{self, HostStatus};
use crate::domain::{certificates, history, host_state};
use crate::storage::alerts::AlertRecord;
use rules::{Condition, HostState, RuleConfig};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use unity_shared::proto::AgentId;

/// What happened to an alert, as notifiers are told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// The condition was seen for the first time.
    Opened,
    /// An open alert became more severe (warning to critical).
    Escalated,
    /// The condition has been gone for `resolve_after`.
    Resolved,
    /// A critical alert still open and unacknowledged after `repeat_interval` (issue 18).
    Reminder,
}

impl EventKind {
    /// Every kind, for reading stored words back ([`notify`]'s outbox). Kinds are appended at
    /// the end, so the last one's discriminant says how many there are: the assertion below
    /// stops the build when a new kind is missing here.
    pub const ALL: [EventKind; 4] = [
        EventKind::Opened,
        EventKind::Escalated,
        EventKind::Resolved,
        EventKind::Reminder,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Opened => "opened",
            EventKind::Escalated => "escalated",
            EventKind::Resolved => "resolved",
            EventKind::Reminder => "reminder",
        }
    }
}

// Stops the build when a kind appended to `EventKind` is missing from `EventKind::ALL`.
const _: () = assert!(EventKind::ALL.len() == EventKind::Reminder as usize + 1);

#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub kind: EventKind,
    pub alert: AlertRecord,
    pub hostname: String,
}

/// One step of applying an evaluation to the stored alerts.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// A new alert.
    Open(AlertRecord),
    /// An open alert seen again (last seen, summary, details and severity refreshed).
    Refresh {
        record: AlertRecord,
        escalated: bool,
    },
    /// An open alert whose condition has been absent for `resolve_after`.
    Resolve { key: String },
    /// An open alert not seen while its host is offline: its state is unknown, it stays open.
    Unknown { key: String },
    /// An unknown alert whose host is back: its resolve countdown starts again from now.
    Recheck { record: AlertRecord },
}

impl RuleConfig {
    pub fn from_config(config: &config::AlertsConfig) -> RuleConfig {
        RuleConfig {
            offline_after_ms: config.offline_after.as_millis() as i64,
            filesystem_warning_percent: config.filesystem_warning_percent,
            filesystem_critical_percent: config.filesystem_critical_percent,
            filesystem_ignore_types: config.filesystem_ignore_types.clone(),
            series_rules: config.series_rules.clone(),
        }
    }
}

/// Compares the active conditions with the open alerts. An alert resolves only once its
/// condition has not been seen for `resolve_after_ms`, so a flapping condition keeps one alert
/// (and sends one notification) instead of many.
pub fn diff(
    open: &[AlertRecord],
    active: &[Condition],
    now_ms: i64,
    resolve_after_ms: i64,
) -> Vec<Change> {
    let no_hosts = BTreeSet::new();
    diff_with_hosts(
        open,
        &BTreeSet::new(),
        active,
        &no_hosts,
        now_ms,
        resolve_after_ms,
    )
}

/// [`diff`], knowing which alerts are `unknown` (by key) and which hosts are `offline`: an
/// alert not seen while its host is offline becomes unknown instead of resolving, and once
/// the host is back its countdown to resolving starts again.
pub fn diff_with_hosts(
    open: &[AlertRecord],
    unknown: &BTreeSet<&str>,
    active: &[Condition],
    offline: &BTreeSet<&AgentId>,
    now_ms: i64,
    resolve_after_ms: i64,
) -> Vec<Change> {
    let open_by_key: BTreeMap<&str, &AlertRecord> = open
        .iter()
        .map(|alert| (alert.key.as_str(), alert))
        .collect();
    let mut changes = Vec::new();
    let mut seen = BTreeSet::new();
    for condition in active {
        if !seen.insert(condition.key.as_str()) {
            continue;
        }
        match open_by_key.get(condition.key.as_str()) {
            Some(alert) => changes.push(Change::Refresh {
                escalated: condition.severity > alert.severity,
                record: AlertRecord {
                    severity: condition.severity,
                    summary: condition.summary.clone(),
                    details: condition.details.clone(),
                    last_seen_ms: now_ms,
                    ..(*alert).clone()
                },
            }),
            None => changes.push(Change::Open(AlertRecord {
                key: condition.key.clone(),
                agent_id: condition.agent_id.clone(),
                severity: condition.severity,
                summary: condition.summary.clone(),
                details: condition.details.clone(),
                opened_at_ms: now_ms,
                last_seen_ms: now_ms,
                resolved_at_ms: None,
            })),
        }
    }
    for alert in open {
        if seen.contains(alert.key.as_str()) {
            continue;
        }
        if offline.contains(&alert.agent_id) {
            changes.push(Change::Unknown {
                key: alert.key.clone(),
            });
        } else if unknown.contains(alert.key.as_str()) {
            changes.push(Change::Recheck {
                record: AlertRecord {
                    last_seen_ms: now_ms,
                    ..alert.clone()
                },
            });
        } else if now_ms - alert.last_seen_ms >= resolve_after_ms {
            changes.push(Change::Resolve {
                key: alert.key.clone(),
            });
        }
    }
    changes
}

/// Runs the rules over every host, stores the outcome and returns what to notify.
/// `started_ms` is when the controller started: hosts get that long to reconnect before they
/// count as offline, unless they were offline already.
///
/// Note that this uses blocking I/O.
pub fn evaluate_once(ctx: &Context, started_ms: i64, now_ms: i64) -> anyhow::Result<Vec<Event>> {
    let config = &ctx.config.alerts;
    let mut rule_config = RuleConfig::from_config(config);
    // The operator's rules run in `user_rules`, with their scope and `for`.
    rule_config.series_rules.clear();
    let user_rules = user_rules::UserRules::load(ctx)?;
    let mut rule_candidates = Vec::new();
    let open = ctx.store.alerts.open_alerts()?;
    let open_keys: BTreeSet<&str> = open.iter().map(|alert| alert.key.as_str()).collect();
    let hosts = hosts::list(ctx)?;
    let round = inputs::round(ctx);
    let mut active = Vec::new();
    for host in &hosts {
        let agent_id = &host.agent_id;
        let storage = host_state::storage(ctx, agent_id)?.state;
        let databases = host_state::databases(ctx, agent_id)?.state;
        let latest = history::latest(ctx, agent_id)?;
        let filesystems = rules::filesystems(&latest);
        let offline_key = format!("host/{agent_id}/offline");
        let last_seen_ms = if host.last_seen_ms <= 0 || open_keys.contains(offline_key.as_str()) {
            host.last_seen_ms
        } else {
            host.last_seen_ms.max(started_ms)
        };
        let instances = hosts::instances(ctx, agent_id)?;
        let checks = host_state::plugins(ctx, agent_id)?
            .checks
            .state
            .unwrap_or_default();
        let state = HostState {
            agent_id,
            revoked: host.status == HostStatus::Revoked,
            last_seen_ms,
            storage: storage.as_ref(),
            databases: databases.as_deref(),
            filesystems: &filesystems,
            instances: &instances,
            checks: &checks,
            latest: &latest,
        };
        active.extend(rules::evaluate(&state, now_ms, &rule_config));
        if !state.revoked {
            active.extend(inputs::host_conditions(
                ctx,
                agent_id,
                storage.as_ref(),
                &round,
                now_ms,
                config,
            )?);
            rule_candidates.extend(user_rules.candidates(
                agent_id,
                &latest,
                rule_config.offline_after_ms.max(rules::SERIES_STALE_MIN_MS),
                now_ms,
            ));
            if let Some((_, inventory)) = certificates::of_host(ctx, agent_id)? {
                active.extend(rules::certificates::conditions(
                    agent_id,
                    &inventory,
                    now_ms,
                    &config.certificate_expiry_days,
                ));
            }
        }
    }
    active.extend(services::conditions(ctx, now_ms)?);
    let hostnames: BTreeMap<&AgentId, &str> = hosts
        .iter()
        .map(|host| (&host.agent_id, host.hostname.as_str()))
        .collect();
    let hostname = |agent_id: &AgentId| {
        hostnames
            .get(agent_id)
            .map_or_else(|| agent_id.to_string(), |name| (*name).to_owned())
    };
    let pending = ctx.store.alert_lifecycle.pending()?;
    let (held, clocks) = lifecycle::held_for(&pending, rule_candidates, now_ms);
    active.extend(held);
    ctx.store.alert_lifecycle.set_pending(&clocks)?;
    let events = apply::apply(ctx, &open, &active, &hostname, now_ms)?;
    let cutoff = now_ms - config.history_retention.as_millis() as i64;
    ctx.store.alerts.prune_history(cutoff, config.history_max)?;
    notify::enqueue(&ctx.store, config, &events, now_ms)?;
    ctx.store.flush()?;
    Ok(events)
}

/// Starts the evaluation loop (every `alerts.interval`) with its notifiers.
pub fn spawn(ctx: Arc<Context>) -> tokio::task::JoinHandle<()> {
    let dispatcher = match notify::Dispatcher::start(&ctx.config.alerts, ctx.store.outbox.clone()) {
        Ok(dispatcher) => dispatcher,
        Err(error) => {
            tracing::error!(%error, "Alert notifications are unavailable.");
            notify::Dispatcher::default()
        }
    };
    notify::mqtt_live::spawn(ctx.clone());
    tracing::info!(
        interval = ?ctx.config.alerts.interval,
        n_notifiers = ctx.config.alerts.n_notifiers(),
        "Alert rules running."
    );
    tokio::spawn(run(ctx, dispatcher))
}

async fn run(ctx: Arc<Context>, dispatcher: notify::Dispatcher) {
    let started_ms = now_ms();
    let mut tick = tokio::time::interval(ctx.config.alerts.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let ctx = ctx.clone();
        let result =
            tokio::task::spawn_blocking(move || evaluate_once(&ctx, started_ms, now_ms())).await;
        match result {
            Ok(Ok(events)) => dispatcher.dispatch(&events),
            Ok(Err(error)) => {
                tracing::warn!(error = format!("{error:#}"), "Alert evaluation failed.")
            }
            Err(error) => tracing::error!(%error, "Alert evaluation panicked."),
        }
    }
}

#[cfg(test)]
mod lifecycle_tests;
#[cfg(test)]
mod tests;
