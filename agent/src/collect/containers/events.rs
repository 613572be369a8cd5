//! The engine's event stream: container lifecycle and health changes as they happen.
//!
//! [`to_event`] is pure: one event message in, a [`ContainerEvent`] out, or `None` for noise
//! (every health check is an `exec_*` event, Podman adds `init`, `sync`, `cleanup`, ...).
//! [`forward`] follows the stream until it ends (the engine restarted) or fails.
//!
//! Docker is asked for the interesting actions only. Podman's compatible endpoint matches the
//! `event` filter against its own action names (`died`, not `die`), so there only the `type`
//! filter is sent and the noise is dropped here.

use std::collections::HashMap;

use bollard::models::{EventMessage, EventMessageTypeEnum};
use bollard::query_parameters::EventsOptionsBuilder;
use futures_util::StreamExt as _;
use tokio::sync::mpsc;
use unity_shared::model::container::{
    ContainerEvent, ContainerEventKind, EngineKind, HealthStatus,
};

use super::socket::{Client, ClientError};

/// How long the event subscription may wait for the engine's answer to begin.
const QUIET_ENGINE: std::time::Duration = std::time::Duration::from_secs(7 * 24 * 3600);

/// The actions asked for (Docker) and kept (both engines).
pub const ACTIONS: [&str; 11] = [
    "start",
    "die",
    "health_status",
    "oom",
    "stop",
    "restart",
    "create",
    "destroy",
    "pause",
    "unpause",
    "kill",
];

fn health_status(text: &str) -> Option<HealthStatus> {
    match text.trim() {
        "starting" => Some(HealthStatus::Starting),
        "healthy" => Some(HealthStatus::Healthy),
        "unhealthy" => Some(HealthStatus::Unhealthy),
        "" => None,
        _ => Some(HealthStatus::Unknown),
    }
}

fn attribute<'a>(attributes: Option<&'a HashMap<String, String>>, key: &str) -> Option<&'a str> {
    attributes?.get(key).map(String::as_str)
}

/// The event kind of an action; `None` for actions that are not lifecycle or health changes.
pub fn kind(
    action: &str,
    attributes: Option<&HashMap<String, String>>,
) -> Option<ContainerEventKind> {
    // Docker: "health_status: healthy"; Podman: "health_status" (no status anywhere).
    let (verb, detail) = match action.split_once(':') {
        Some((verb, detail)) => (verb.trim(), Some(detail)),
        None => (action.trim(), None),
    };
    Some(match verb {
        "start" => ContainerEventKind::Start,
        "die" | "died" => ContainerEventKind::Die {
            exit_code: attribute(attributes, "exitCode").and_then(|code| code.parse().ok()),
        },
        "health_status" => ContainerEventKind::HealthStatus {
            status: detail
                .or_else(|| attribute(attributes, "health_status"))
                .and_then(health_status),
        },
        "oom" => ContainerEventKind::Oom,
        "stop" => ContainerEventKind::Stop,
        "restart" => ContainerEventKind::Restart,
        "create" => ContainerEventKind::Create,
        "destroy" | "remove" => ContainerEventKind::Destroy,
        "pause" => ContainerEventKind::Pause,
        "unpause" => ContainerEventKind::Unpause,
        "kill" => ContainerEventKind::Kill,
        _ => return None,
    })
}

/// A container event from an event message; `None` for other object types and noise.
pub fn to_event(message: &EventMessage) -> Option<ContainerEvent> {
    if !matches!(message.typ, Some(EventMessageTypeEnum::CONTAINER) | None) {
        return None;
    }
    let actor = message.actor.as_ref()?;
    let attributes = actor.attributes.as_ref();
    let kind = kind(message.action.as_deref()?, attributes)?;
    let at_ms = message
        .time_nano
        .map(|nanos| nanos / 1_000_000)
        .or_else(|| message.time.map(|seconds| seconds.saturating_mul(1000)))
        .unwrap_or(0);
    Some(ContainerEvent {
        at_ms,
        container_id: actor.id.clone().unwrap_or_default(),
        name: attribute(attributes, "name").map(str::to_owned),
        kind,
    })
}

/// The events query for an engine, replaying from `since_seconds` (Unix time) when given.
fn options(
    kind: EngineKind,
    since_seconds: Option<i64>,
) -> bollard::query_parameters::EventsOptions {
    let mut filters: HashMap<&str, Vec<&str>> = HashMap::new();
    filters.insert("type", vec!["container"]);
    if kind == EngineKind::Docker {
        filters.insert("event", ACTIONS.to_vec());
    }
    let mut builder = EventsOptionsBuilder::default().filters(&filters);
    if let Some(since) = since_seconds {
        builder = builder.since(&since.to_string());
    }
    builder.build()
}

/// Follows the engine's event stream and sends each container event to `events` until the
/// stream ends (`Ok`: the engine went away) or fails; returns early when the receiver is gone.
///
/// With `since_seconds`, the engine first replays what happened since then (Docker keeps the
/// last events in memory, Podman in its event log), so nothing is lost between subscribing
/// and the engine registering the subscription, or across a reconnect. Replayed events the
/// caller has already seen come again; the caller drops them.
pub async fn forward(
    client: &Client,
    since_seconds: Option<i64>,
    events: &mpsc::Sender<ContainerEvent>,
) -> Result<(), ClientError> {
    let query = options(client.info.kind, since_seconds);
    // Podman 4 sends the response headers only with the first event, so a quiet engine would
    // trip the per-call timeout (which bollard applies until the headers arrive). The stream
    // ends anyway when the engine stops: its socket closes.
    let docker = client.docker.clone().with_timeout(QUIET_ENGINE);
    let mut stream = Box::pin(docker.events(Some(query)));
    while let Some(item) = stream.next().await {
        let message = item.map_err(|source| ClientError::Api {
            path: client.socket.clone(),
            source,
        })?;
        let event = to_event(&message);
        tracing::debug!(
            action = message.action.as_deref().unwrap_or(""),
            mapped = ?event,
            "Engine event."
        );
        if let Some(event) = event {
            if events.send(event).await.is_err() {
                return Ok(());
            }
        }
    }
    Ok(())
}
