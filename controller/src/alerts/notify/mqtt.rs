//! MQTT with Home Assistant discovery: each host is a device, each alert's subject (the host
//! itself, a disk, a pool, a container, …: what the alert key names) a `binary_sensor` of
//! class `problem` on it, and the host's newest alert a `sensor`. Every publish is retained at
//! QoS 1, so Home Assistant sees the state after its own restart. [`publications`] is the pure
//! part (topics and payloads); [`send`] connects with `rumqttc`, publishes, waits for every
//! acknowledgement and disconnects.

use super::message::Message;
use super::NotifyError;
use crate::alerts::Event;
use crate::config::secret::Secret;
use rumqttc::{
    AsyncClient, ConnectReturnCode, ConnectionError, Event as MqttEvent, MqttOptions, Packet, QoS,
    Transport,
};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

/// An MQTT receiver's settings, borrowed from its [`super::url::Channel::Mqtt`].
pub struct Mqtt<'a> {
    pub host: &'a str,
    pub port: u16,
    pub tls: bool,
    pub username: Option<&'a str>,
    pub password: Option<&'a Secret>,
    pub discovery_prefix: &'a str,
    pub base_topic: &'a str,
}

/// A topic word Home Assistant accepts in ids: `[a-zA-Z0-9_-]`.
pub fn object_id(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The retained messages for `event`: `(topic, payload)`.
pub fn publications(mqtt: &Mqtt, event: &Event, message: &Message) -> Vec<(String, String)> {
    let alert = &event.alert;
    let agent = object_id(&alert.agent_id.to_string());
    let subject: Vec<&str> = alert.key.split('/').collect();
    // Keys are `<kind>/<agent>/<rest…>`: the entity's name is the kind and the rest.
    let name: Vec<&str> = subject
        .iter()
        .enumerate()
        .filter(|(i, part)| *i != 1 && !part.is_empty())
        .map(|(_, part)| *part)
        .collect();
    let object = object_id(&alert.key);
    let base = format!("{}/{agent}/{object}", mqtt.base_topic);
    let mut device = json!({
        "identifiers": [format!("unity_{agent}")],
        "name": event.hostname,
        "manufacturer": "Unity",
    });
    if let Some(link) = &message.link {
        device["configuration_url"] = json!(link);
    }
    let problem = json!({
        "name": name.join(" "),
        "unique_id": format!("unity_{object}"),
        "object_id": format!("unity_{object}"),
        "device_class": "problem",
        "state_topic": format!("{base}/state"),
        "json_attributes_topic": format!("{base}/attributes"),
        "payload_on": "ON",
        "payload_off": "OFF",
        "device": device,
    });
    let last_topic = format!("{}/{agent}/last_alert", mqtt.base_topic);
    let last = json!({
        "name": "Last alert",
        "unique_id": format!("unity_{agent}_last_alert"),
        "object_id": format!("unity_{agent}_last_alert"),
        "icon": "mdi:bell-alert",
        "state_topic": last_topic,
        "device": device,
    });
    let attributes = json!({
        "severity": alert.severity.as_str(),
        "summary": alert.summary,
        "details": alert.details,
        "opened_at_ms": alert.opened_at_ms,
        "resolved_at_ms": alert.resolved_at_ms,
        "url": message.link,
    });
    let title: String = message.title.chars().take(255).collect();
    vec![
        (
            format!(
                "{}/binary_sensor/unity_{agent}/{object}/config",
                mqtt.discovery_prefix
            ),
            problem.to_string(),
        ),
        (
            format!(
                "{}/sensor/unity_{agent}/last_alert/config",
                mqtt.discovery_prefix
            ),
            last.to_string(),
        ),
        (format!("{base}/attributes"), attributes.to_string()),
        (
            format!("{base}/state"),
            if message.resolved { "OFF" } else { "ON" }.to_owned(),
        ),
        (last_topic, title),
    ]
}

pub(super) fn connection_error(error: ConnectionError) -> NotifyError {
    let retryable = !matches!(
        error,
        ConnectionError::ConnectionRefused(
            ConnectReturnCode::BadUserNamePassword | ConnectReturnCode::NotAuthorized
        ) | ConnectionError::Tls(_)
    );
    NotifyError::Mqtt {
        message: error.to_string(),
        retryable,
    }
}

pub(super) fn tls_config() -> Result<rumqttc::TlsConfiguration, NotifyError> {
    let config = crate::outbound::tls_config(Vec::new())
        .map_err(|error| NotifyError::Client(error.to_string()))?;
    Ok(rumqttc::TlsConfiguration::Rustls(Arc::new(config)))
}

/// Publishes `event`'s messages and waits until the broker acknowledged each.
pub async fn send(
    mqtt: &Mqtt<'_>,
    event: &Event,
    message: &Message,
    txn: u64,
) -> Result<(), NotifyError> {
    let mut options = MqttOptions::new(format!("unity-{txn}"), mqtt.host, mqtt.port);
    options.set_keep_alive(Duration::from_secs(10));
    if let (Some(user), Some(password)) = (mqtt.username, mqtt.password) {
        options.set_credentials(user, password.0.clone());
    }
    if mqtt.tls {
        options.set_transport(Transport::tls_with_config(tls_config()?));
    }
    let publications = publications(mqtt, event, message);
    let (client, mut eventloop) = AsyncClient::new(options, publications.len() + 2);
    for (topic, payload) in &publications {
        client
            .publish(topic, QoS::AtLeastOnce, true, payload.as_bytes().to_vec())
            .await
            .map_err(|error| NotifyError::Mqtt {
                message: error.to_string(),
                retryable: true,
            })?;
    }
    let delivered = async {
        let mut acknowledged = 0;
        while acknowledged < publications.len() {
            let event = eventloop.poll().await.map_err(connection_error)?;
            if let MqttEvent::Incoming(Packet::PubAck(_)) = event {
                acknowledged += 1;
            }
        }
        Ok::<(), NotifyError>(())
    };
    match tokio::time::timeout(Duration::from_secs(20), delivered).await {
        Ok(result) => result?,
        Err(_) => {
            return Err(NotifyError::Mqtt {
                message: "the broker did not acknowledge within 20 s".into(),
                retryable: true,
            })
        }
    }
    // A clean goodbye; the messages are delivered either way.
    let _ = client.disconnect().await;
    let _ = tokio::time::timeout(Duration::from_secs(2), eventloop.poll()).await;
    Ok(())
}
