//! The network part of [`super::mqtt_entities`]: one long-lived connection per MQTT receiver
//! that keeps every host's, disk's and container's Home Assistant entities on the broker.
//!
//! On each connection it publishes `online` on the availability topic (its will says
//! `offline`), reads back the retained messages it published before (a short subscription
//! to the discovery and state topics, so a restarted controller clears entities that went
//! away meanwhile and does not republish what is unchanged), then every `interval` reads the
//! newest state ([`snapshot`]) and publishes only what changed. The interval is the rate
//! limit: a host reporting every few seconds costs at most one comparison per interval.

use super::mqtt::{connection_error, tls_config};
use super::mqtt_entities::{changes, host_entities, messages, HostEntities, Topics};
use super::url::Channel;
use crate::config::secret::Secret;
use crate::context::Context;
use crate::domain::hosts::{self, HostStatus};
use crate::storage::agents::StateKind;
use rumqttc::{AsyncClient, Event as MqttEvent, LastWill, MqttOptions, Packet, QoS, Transport};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;
use unity_shared::model::container::ContainerInventory;
use unity_shared::proto::report::StorageState;
use unity_shared::proto::AgentId;

/// How often the entities are compared with the newest state (and at most published).
pub const INTERVAL: Duration = Duration::from_secs(15);

/// How long the retained messages of an earlier run are read after connecting.
const LEARN: Duration = Duration::from_secs(1);

/// Where and how to connect, from a receiver's [`Channel::Mqtt`].
#[derive(Clone)]
pub struct Broker {
    pub host: String,
    pub port: u16,
    pub tls: bool,
    pub username: Option<String>,
    pub password: Option<Secret>,
    pub topics: Topics,
    /// The dashboard's address, for each device's link.
    pub link: Option<String>,
}

impl Broker {
    /// The broker of an MQTT receiver; `None` for other channels.
    pub fn of(channel: &Channel, link: Option<String>) -> Option<Broker> {
        match channel {
            Channel::Mqtt {
                host,
                port,
                tls,
                username,
                password,
                discovery_prefix,
                base_topic,
            } => Some(Broker {
                host: host.clone(),
                port: *port,
                tls: *tls,
                username: username.clone(),
                password: password.clone(),
                topics: Topics {
                    discovery_prefix: discovery_prefix.clone(),
                    base_topic: base_topic.clone(),
                },
                link,
            }),
            _ => None,
        }
    }
}

/// Starts one entity publisher per MQTT receiver. Must run inside a Tokio runtime.
pub fn spawn(ctx: Arc<Context>) {
    for receiver in &ctx.config.alerts.receivers {
        let Some(broker) = Broker::of(&receiver.channel, ctx.config.alerts.dashboard_url.clone())
        else {
            continue;
        };
        let ctx = ctx.clone();
        let name = receiver.name.clone();
        let source = move || snapshot(&ctx).map_err(|error| format!("{error:#}"));
        tokio::spawn(run(name, broker, INTERVAL, source));
    }
}

/// Every host's entities from the newest stored state. Revoked hosts are left out (and so
/// their entities removed). Note that this uses blocking I/O.
pub fn snapshot(ctx: &Context) -> anyhow::Result<Vec<HostEntities>> {
    let mut open: BTreeMap<AgentId, usize> = BTreeMap::new();
    for alert in ctx.store.alerts.open_alerts()? {
        *open.entry(alert.agent_id).or_default() += 1;
    }
    let mut out = Vec::new();
    for host in hosts::list(ctx)? {
        if host.status == HostStatus::Revoked {
            continue;
        }
        let id = &host.agent_id;
        let storage: Option<(i64, StorageState)> =
            ctx.store.agents.latest(id, StateKind::Storage)?;
        let containers: Option<(i64, ContainerInventory)> =
            ctx.store.agents.latest(id, StateKind::Containers)?;
        out.push(host_entities(
            &id.to_string(),
            &host.hostname,
            matches!(host.status, HostStatus::Online | HostStatus::Stale),
            open.get(id).copied().unwrap_or(0),
            storage.as_ref().map(|(_, state)| state),
            containers.as_ref().map(|(_, inventory)| inventory),
        ));
    }
    Ok(out)
}

/// What the connection task tells the publisher.
enum Heard {
    Connected,
    Retained(String, String),
    Lost(String),
}

/// Where the publisher is.
enum Phase {
    Down,
    /// Reading back what the broker holds, until the deadline.
    Learning(Instant),
    Ready,
}

/// Keeps `broker` in step with `source` (every host's entities) until the runtime stops.
pub async fn run<F>(name: String, broker: Broker, interval: Duration, source: F)
where
    F: Fn() -> Result<Vec<HostEntities>, String> + Send + Sync + 'static,
{
    let source = Arc::new(source);
    let topics = broker.topics.clone();
    let availability = topics.availability();
    let mut options = MqttOptions::new(
        format!("unity-entities-{}", std::process::id()),
        broker.host.clone(),
        broker.port,
    );
    options.set_keep_alive(Duration::from_secs(30));
    options.set_last_will(LastWill::new(
        &availability,
        "offline",
        QoS::AtLeastOnce,
        true,
    ));
    if let (Some(user), Some(password)) = (&broker.username, &broker.password) {
        options.set_credentials(user, password.0.clone());
    }
    if broker.tls {
        match tls_config() {
            Ok(config) => {
                options.set_transport(Transport::tls_with_config(config));
            }
            Err(error) => {
                tracing::error!(receiver = %name, %error, "MQTT entities are unavailable.");
                return;
            }
        }
    }
    let (client, mut eventloop) = AsyncClient::new(options, 256);
    let (tell, mut heard) = mpsc::unbounded_channel();
    let connection_topics = topics.clone();
    tokio::spawn(async move {
        let mut failures = 0u32;
        loop {
            // When the publisher is gone, so is the connection (without a goodbye: the
            // broker then publishes the will).
            let polled = tokio::select! {
                polled = eventloop.poll() => polled,
                () = tell.closed() => return,
            };
            let message = match polled {
                Ok(MqttEvent::Incoming(Packet::ConnAck(_))) => {
                    failures = 0;
                    Some(Heard::Connected)
                }
                Ok(MqttEvent::Incoming(Packet::Publish(publish)))
                    if connection_topics.is_ours(&publish.topic) =>
                {
                    Some(Heard::Retained(
                        publish.topic.clone(),
                        String::from_utf8_lossy(&publish.payload).into_owned(),
                    ))
                }
                Ok(_) => None,
                Err(error) => Some(Heard::Lost(connection_error(error).to_string())),
            };
            let lost = matches!(message, Some(Heard::Lost(_)));
            if let Some(message) = message {
                if tell.send(message).is_err() {
                    return;
                }
            }
            if lost {
                failures = failures.saturating_add(1);
                tokio::time::sleep(super::backoff(Duration::from_secs(1), failures.min(5))).await;
            }
        }
    });
    let discovery = format!("{}/+/+/+/config", topics.discovery_prefix);
    let states = format!("{}/entities/#", topics.base_topic);
    let mut phase = Phase::Down;
    let mut held: BTreeMap<String, String> = BTreeMap::new();
    let mut next_round = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            message = heard.recv() => match message {
                None => return,
                Some(Heard::Connected) => {
                    tracing::info!(receiver = %name, "MQTT entities: connected.");
                    held.clear();
                    let subscribed = async {
                        client.publish(&availability, QoS::AtLeastOnce, true, "online").await?;
                        client.subscribe(&discovery, QoS::AtLeastOnce).await?;
                        client.subscribe(&states, QoS::AtLeastOnce).await
                    };
                    phase = match subscribed.await {
                        Ok(()) => Phase::Learning(Instant::now() + LEARN),
                        Err(error) => {
                            tracing::warn!(receiver = %name, %error, "MQTT entities: subscribe failed.");
                            Phase::Down
                        }
                    };
                }
                Some(Heard::Retained(topic, payload)) => {
                    if matches!(phase, Phase::Learning(_)) && !payload.is_empty() {
                        held.insert(topic, payload);
                    }
                }
                Some(Heard::Lost(error)) => {
                    if !matches!(phase, Phase::Down) {
                        tracing::warn!(receiver = %name, %error, "MQTT entities: connection lost.");
                    }
                    phase = Phase::Down;
                }
            },
            _ = tick.tick() => {
                if let Phase::Learning(until) = phase {
                    if Instant::now() >= until {
                        let _ = client.unsubscribe(&discovery).await;
                        let _ = client.unsubscribe(&states).await;
                        phase = Phase::Ready;
                        next_round = Instant::now();
                    }
                }
                if !matches!(phase, Phase::Ready) || Instant::now() < next_round {
                    continue;
                }
                next_round = Instant::now() + interval;
                let source = source.clone();
                let hosts = match tokio::task::spawn_blocking(move || source()).await {
                    Ok(Ok(hosts)) => hosts,
                    Ok(Err(error)) => {
                        tracing::warn!(receiver = %name, %error, "MQTT entities: no state to publish.");
                        continue;
                    }
                    Err(error) => {
                        tracing::error!(receiver = %name, %error, "MQTT entities: reading the state panicked.");
                        continue;
                    }
                };
                let wanted = messages(&topics, &hosts, broker.link.as_deref());
                let publish = changes(&held, &wanted);
                if publish.is_empty() {
                    continue;
                }
                tracing::debug!(receiver = %name, n_messages = publish.len(), "MQTT entities: publishing changes.");
                let mut failed = false;
                for (topic, payload) in publish {
                    if let Err(error) = client.publish(&topic, QoS::AtLeastOnce, true, payload).await {
                        tracing::warn!(receiver = %name, %error, "MQTT entities: publish failed.");
                        failed = true;
                        break;
                    }
                }
                if !failed {
                    held = wanted;
                }
            }
        }
    }
}
