//! Container conditions, pure: a host's newest container inventory and its stored runtime
//! events in, conditions out (issue 18 §1). Nothing here keeps state of its own: the events
//! the controller stores per agent (`storage::containers`, bounded, kept across restarts) are
//! the history, so a restart of the controller neither forgets a loop nor re-sends one.
//!
//! | key | active when | severity |
//! |---|---|---|
//! | `container/<agent>/<name>/unhealthy` | running and its health check says unhealthy (after the check's own retries) | warning |
//! | `container/<agent>/<name>/restart_loop` | at least `restart_loop_count` exits (`die` events) within `restart_loop_window` | critical |
//! | `container/<agent>/<name>/exited` | exited with a non-zero code at least 30 s ago although its restart policy (always, unless-stopped, on-failure) says it should run, and nobody stopped it | critical |
//! | `container/<agent>/<name>/oom` | the engine says the last run was OOM-killed, or an `oom` event within `container_event_window` | warning |
//! | `container/<agent>/<name>/gone` | a `destroy` event within `container_event_window` for a name no longer in the inventory, not Unity's own and not a short-lived one | warning |
//!
//! A container labelled `unity.alerts=false` raises none of them.

use super::Condition;
pub use crate::alerts::config::ContainerRuleConfig;
use crate::storage::alerts::Severity;
use std::collections::{BTreeMap, BTreeSet};
use unity_shared::model::container::{
    Container, ContainerEvent, ContainerEventKind, ContainerInventory, HealthStatus, RunState,
};
use unity_shared::proto::AgentId;

/// An exit this recent may still be followed by the engine's restart: no "exited" alert yet.
pub const EXIT_GRACE_MS: i64 = 30_000;

/// The label that switches a container's alerts off.
pub const OPT_OUT_LABEL: &str = "unity.alerts";

/// Everything the container rules look at for one host.
#[derive(Debug, Clone, Copy)]
pub struct ContainerState<'a> {
    pub inventory: &'a ContainerInventory,
    /// The stored runtime events, in any order.
    pub events: &'a [ContainerEvent],
    /// Containers Unity's own operations worked on recently (an update or restore removes and
    /// recreates a container: that is not "gone").
    pub operated: &'a BTreeSet<String>,
}

/// Whether `container` has opted out of alerts with `unity.alerts=false`.
pub fn opted_out(container: &Container) -> bool {
    container
        .label(OPT_OUT_LABEL)
        .is_some_and(|value| matches!(value.trim(), "false" | "no" | "off" | "0"))
}

/// Whether `name` is one Unity gives containers while it swaps them (`<name>-unity-old-<id>`).
fn unity_own(name: &str) -> bool {
    name.contains("-unity-old-") || name.contains("-unity-new-")
}

/// The container rules over one host's containers.
pub fn conditions(
    agent: &AgentId,
    state: &ContainerState,
    now_ms: i64,
    config: &ContainerRuleConfig,
) -> Vec<Condition> {
    let mut by_id: BTreeMap<&str, Vec<&ContainerEvent>> = BTreeMap::new();
    for event in state.events {
        by_id
            .entry(event.container_id.as_str())
            .or_default()
            .push(event);
    }
    for events in by_id.values_mut() {
        events.sort_by_key(|event| event.at_ms);
    }
    let no_events = Vec::new();
    let mut out = Vec::new();
    let mut add = |name: &str, what: &str, severity: Severity, summary: String, details| {
        out.push(Condition {
            key: format!("container/{agent}/{name}/{what}"),
            agent_id: agent.clone(),
            severity,
            summary,
            details,
        })
    };
    for container in &state.inventory.containers {
        if opted_out(container) || unity_own(&container.name) {
            continue;
        }
        let name = container.name.as_str();
        let events = by_id.get(container.id.as_str()).unwrap_or(&no_events);
        if container.state == RunState::Running && container.health == Some(HealthStatus::Unhealthy)
        {
            add(
                name,
                "unhealthy",
                Severity::Warning,
                format!("Container {name} is unhealthy"),
                vec!["Its health check failed as many times in a row as it allows (the check's own retries are spent).".into()],
            );
        }
        let exits = events
            .iter()
            .filter(|event| {
                matches!(event.kind, ContainerEventKind::Die { .. })
                    && now_ms.saturating_sub(event.at_ms) <= config.restart_loop_window_ms
            })
            .count();
        let looping = config.restart_loop_count > 0 && exits >= config.restart_loop_count;
        if looping {
            let last_code = events.iter().rev().find_map(|event| match event.kind {
                ContainerEventKind::Die { exit_code } => exit_code,
                _ => None,
            });
            let mut details = vec![format!(
                "{exits} exits in the last {}; the engine counts {} restarts.",
                super::duration_text(config.restart_loop_window_ms),
                container.restart_count
            )];
            if let Some(code) = last_code {
                details.push(format!("Last exit code: {code}."));
            }
            add(
                name,
                "restart_loop",
                Severity::Critical,
                format!(
                    "Container {name} is restarting in a loop ({exits} exits in {})",
                    super::duration_text(config.restart_loop_window_ms)
                ),
                details,
            );
        }
        let should_run = matches!(
            container.restart_policy.as_deref(),
            Some("always" | "unless-stopped" | "on-failure")
        );
        let stopped_by_someone = events
            .iter()
            .rev()
            .find(|event| {
                matches!(
                    event.kind,
                    ContainerEventKind::Start | ContainerEventKind::Stop
                )
            })
            .is_some_and(|event| event.kind == ContainerEventKind::Stop);
        // Between an exit and the engine's restart the state is briefly `exited` too.
        let just_died = events.iter().any(|event| {
            matches!(event.kind, ContainerEventKind::Die { .. })
                && now_ms.saturating_sub(event.at_ms) < EXIT_GRACE_MS
        });
        if let (RunState::Exited | RunState::Dead, Some(code), true, false) = (
            container.state,
            container.exit_code,
            should_run,
            stopped_by_someone,
        ) {
            if code != 0 && !looping && !just_died {
                let policy = container.restart_policy.as_deref().unwrap_or_default();
                add(
                    name,
                    "exited",
                    Severity::Critical,
                    format!("Container {name} exited with code {code}"),
                    vec![format!("Its restart policy is {policy}, so it should be running; the engine gave up or could not start it.")],
                );
            }
        }
        let oom_event = events.iter().any(|event| {
            event.kind == ContainerEventKind::Oom
                && now_ms.saturating_sub(event.at_ms) <= config.event_window_ms
        });
        if container.oom_killed || oom_event {
            let limit = container
                .usage
                .as_ref()
                .and_then(|usage| usage.memory_limit_bytes)
                .map(|bytes| format!(" Memory limit: {}.", super::bytes_text(bytes as f64)))
                .unwrap_or_default();
            add(
                name,
                "oom",
                Severity::Warning,
                format!("Container {name} was killed by the OOM killer"),
                vec![format!(
                    "The kernel ended its process for lack of memory.{limit}"
                )],
            );
        }
    }
    if state.inventory.engine.is_none() {
        // No answer from the engine: every name would look gone.
        return out;
    }
    let present: BTreeSet<&str> = state
        .inventory
        .containers
        .iter()
        .map(|container| container.name.as_str())
        .collect();
    let mut gone: BTreeMap<&str, i64> = BTreeMap::new();
    for (id, events) in &by_id {
        let Some(destroyed) = events.iter().rev().find(|event| {
            event.kind == ContainerEventKind::Destroy
                && now_ms.saturating_sub(event.at_ms) <= config.event_window_ms
        }) else {
            continue;
        };
        let Some(name) = events.iter().rev().find_map(|event| event.name.as_deref()) else {
            continue;
        };
        let short_lived = events.iter().any(|event| {
            event.kind == ContainerEventKind::Create
                && destroyed.at_ms.saturating_sub(event.at_ms) < config.gone_min_age_ms
        });
        if short_lived
            || present.contains(name)
            || unity_own(name)
            || state.operated.contains(name)
            || id.is_empty()
        {
            continue;
        }
        let at = gone.entry(name).or_insert(destroyed.at_ms);
        *at = (*at).max(destroyed.at_ms);
    }
    for (name, at_ms) in gone {
        add(
            name,
            "gone",
            Severity::Warning,
            format!("Container {name} was removed"),
            vec![format!(
                "It was removed {} ago outside Unity (not by an update or restore) and no container of that name runs now.",
                super::duration_text(now_ms.saturating_sub(at_ms))
            )],
        );
    }
    out
}
