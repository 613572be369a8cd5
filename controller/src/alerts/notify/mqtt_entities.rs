//! Home Assistant entities for every host, disk and container (issue 18 §3), not only for
//! the subjects of alerts: the pure part. [`host_entities`] reads a host's newest stored state
//! into [`HostEntities`]; [`messages`] turns all hosts into the full set of retained MQTT
//! messages (discovery configs and states, topic → payload); [`changes`] compares that set
//! with what the broker holds and gives only what to publish, with an empty payload for every
//! topic that is gone (an empty retained config removes the entity from Home Assistant).
//! [`super::mqtt_live`] is the thin network part.
//!
//! Ids are stable: a disk is named by its serial (or WWN, or device path when the drive tells
//! neither), a container by its name, so an entity survives a reboot or a re-created
//! container. Every entity's node id starts with [`NODE_PREFIX`], which is how the network
//! part tells its own retained configs from the per-alert ones of [`super::mqtt`].

use super::mqtt::object_id;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use unity_shared::model::container::{ContainerInventory, HealthStatus, RunState};
use unity_shared::model::storage::VerdictStatus;
use unity_shared::proto::report::StorageState;

/// The start of every entity's node id (the discovery topic's third level).
pub const NODE_PREFIX: &str = "unity_entities_";

/// Where the messages go: the receiver's discovery prefix and base topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topics {
    pub discovery_prefix: String,
    pub base_topic: String,
}

impl Topics {
    /// The controller's availability topic (`online` / `offline`, the latter as its will).
    pub fn availability(&self) -> String {
        format!("{}/entities/status", self.base_topic)
    }

    /// Whether `topic` is one of this module's retained messages (configs or states).
    pub fn is_ours(&self, topic: &str) -> bool {
        let state = format!("{}/entities/", self.base_topic);
        if let Some(rest) = topic.strip_prefix(&state) {
            return rest != "status";
        }
        let Some(rest) = topic.strip_prefix(&format!("{}/", self.discovery_prefix)) else {
            return false;
        };
        let parts: Vec<&str> = rest.split('/').collect();
        parts.len() == 4 && parts[1].starts_with(NODE_PREFIX) && parts[3] == "config"
    }
}

/// One disk as Home Assistant sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskEntity {
    /// Serial, WWN or device path: what names the drive across reboots.
    pub id: String,
    /// The device path and model, for people.
    pub label: String,
    /// `None` when no verdict could be made (no health data).
    pub verdict: Option<VerdictStatus>,
    pub temperature_celsius: Option<i64>,
}

/// One container as Home Assistant sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerEntity {
    pub name: String,
    pub running: bool,
    /// `None` when the container has no health check.
    pub health: Option<HealthStatus>,
}

/// One host and what is on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostEntities {
    pub agent_id: String,
    pub hostname: String,
    pub online: bool,
    pub open_alerts: usize,
    pub disks: Vec<DiskEntity>,
    pub containers: Vec<ContainerEntity>,
}

/// A host's entities from its newest stored storage and container state.
pub fn host_entities(
    agent_id: &str,
    hostname: &str,
    online: bool,
    open_alerts: usize,
    storage: Option<&StorageState>,
    containers: Option<&ContainerInventory>,
) -> HostEntities {
    let disks = storage
        .map(|storage| {
            storage
                .smart
                .devices
                .iter()
                .map(|device| {
                    let identity = device.report.as_ref().map(|report| &report.device);
                    let id = identity
                        .and_then(|identity| identity.serial.clone().or(identity.wwn.clone()))
                        .unwrap_or_else(|| device.device.clone());
                    let model = identity.and_then(|identity| identity.model.clone());
                    DiskEntity {
                        id,
                        label: match model {
                            Some(model) => format!("{} {model}", device.device),
                            None => device.device.clone(),
                        },
                        verdict: device.verdict.as_ref().map(|verdict| verdict.status),
                        temperature_celsius: device
                            .report
                            .as_ref()
                            .and_then(|report| report.temperature.current_celsius),
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    let containers = containers
        .map(|inventory| {
            inventory
                .containers
                .iter()
                .map(|container| ContainerEntity {
                    name: container.name.clone(),
                    running: container.state == RunState::Running,
                    health: container.health,
                })
                .collect()
        })
        .unwrap_or_default();
    HostEntities {
        agent_id: agent_id.to_owned(),
        hostname: hostname.to_owned(),
        online,
        open_alerts,
        disks,
        containers,
    }
}

/// Builds one entity's config and state.
struct Builder<'a> {
    topics: &'a Topics,
    node: String,
    agent: String,
    device: Value,
    availability: String,
    out: &'a mut BTreeMap<String, String>,
}

impl Builder<'_> {
    /// Adds the entity `component`/`object` with `config` (the common fields are filled in)
    /// and its `state`.
    fn entity(
        &mut self,
        component: &str,
        object: &str,
        name: &str,
        mut config: Value,
        state: &str,
    ) {
        let unique = format!("unity_{}_{object}", self.agent);
        let state_topic = format!(
            "{}/entities/{}/{object}/state",
            self.topics.base_topic, self.agent
        );
        config["name"] = json!(name);
        config["unique_id"] = json!(unique);
        config["object_id"] = json!(unique);
        config["state_topic"] = json!(state_topic);
        config["availability_topic"] = json!(self.availability);
        config["device"] = self.device.clone();
        self.out.insert(
            format!(
                "{}/{component}/{}/{object}/config",
                self.topics.discovery_prefix, self.node
            ),
            config.to_string(),
        );
        self.out.insert(state_topic, state.to_owned());
    }
}

fn on_off(on: bool) -> &'static str {
    if on {
        "ON"
    } else {
        "OFF"
    }
}

fn verdict_word(verdict: Option<VerdictStatus>) -> &'static str {
    match verdict {
        Some(VerdictStatus::Passed) => "passed",
        Some(VerdictStatus::Warning) => "warning",
        Some(VerdictStatus::Failing) => "failing",
        None => "unknown",
    }
}

fn health_word(health: Option<HealthStatus>) -> &'static str {
    match health {
        Some(HealthStatus::Starting) => "starting",
        Some(HealthStatus::Healthy) => "healthy",
        Some(HealthStatus::Unhealthy) => "unhealthy",
        Some(HealthStatus::Unknown) => "unknown",
        None => "none",
    }
}

/// Every retained message for `hosts`: topic → payload. `link` is the dashboard's address.
pub fn messages(
    topics: &Topics,
    hosts: &[HostEntities],
    link: Option<&str>,
) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for host in hosts {
        let agent = object_id(&host.agent_id);
        let mut device = json!({
            "identifiers": [format!("unity_{agent}")],
            "name": host.hostname,
            "manufacturer": "Unity",
        });
        if let Some(link) = link {
            device["configuration_url"] = json!(format!(
                "{}/hosts/{}",
                link.trim_end_matches('/'),
                host.agent_id
            ));
        }
        let mut builder = Builder {
            topics,
            node: format!("{NODE_PREFIX}{agent}"),
            agent,
            device,
            availability: topics.availability(),
            out: &mut out,
        };
        builder.entity(
            "binary_sensor",
            "online",
            "Online",
            json!({"device_class": "connectivity", "payload_on": "ON", "payload_off": "OFF"}),
            on_off(host.online),
        );
        builder.entity(
            "sensor",
            "open_alerts",
            "Open alerts",
            json!({"icon": "mdi:bell-alert", "state_class": "measurement"}),
            &host.open_alerts.to_string(),
        );
        for disk in &host.disks {
            let object = format!("disk_{}", object_id(&disk.id));
            builder.entity(
                "sensor",
                &format!("{object}_health"),
                &format!("Disk {} health", disk.label),
                json!({"icon": "mdi:harddisk"}),
                verdict_word(disk.verdict),
            );
            builder.entity(
                "binary_sensor",
                &format!("{object}_problem"),
                &format!("Disk {} problem", disk.label),
                json!({"device_class": "problem", "payload_on": "ON", "payload_off": "OFF"}),
                on_off(disk.verdict != Some(VerdictStatus::Passed)),
            );
            builder.entity(
                "sensor",
                &format!("{object}_temperature"),
                &format!("Disk {} temperature", disk.label),
                json!({"device_class": "temperature", "unit_of_measurement": "°C",
                       "state_class": "measurement"}),
                &disk
                    .temperature_celsius
                    .map_or_else(|| "unknown".to_owned(), |t| t.to_string()),
            );
        }
        for container in &host.containers {
            let object = format!("container_{}", object_id(&container.name));
            builder.entity(
                "binary_sensor",
                &format!("{object}_running"),
                &format!("Container {} running", container.name),
                json!({"device_class": "running", "payload_on": "ON", "payload_off": "OFF"}),
                on_off(container.running),
            );
            builder.entity(
                "sensor",
                &format!("{object}_health"),
                &format!("Container {} health", container.name),
                json!({"icon": "mdi:docker"}),
                health_word(container.health),
            );
        }
    }
    out
}

/// What to publish to go from `held` (what the broker holds) to `wanted`: new and changed
/// messages (configs before states, so Home Assistant knows an entity before its state), then
/// an empty payload for every topic no longer wanted (states before configs).
pub fn changes(
    held: &BTreeMap<String, String>,
    wanted: &BTreeMap<String, String>,
) -> Vec<(String, String)> {
    let is_config = |topic: &String| topic.ends_with("/config");
    let mut publish: Vec<(String, String)> = wanted
        .iter()
        .filter(|(topic, payload)| held.get(*topic) != Some(*payload))
        .map(|(topic, payload)| (topic.clone(), payload.clone()))
        .collect();
    publish.sort_by_key(|(topic, _)| !is_config(topic));
    let mut removed: Vec<(String, String)> = held
        .keys()
        .filter(|topic| !wanted.contains_key(*topic))
        .map(|topic| (topic.clone(), String::new()))
        .collect();
    removed.sort_by_key(|(topic, _)| is_config(topic));
    publish.extend(removed);
    publish
}
