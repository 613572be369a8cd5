//! Tests of the Home Assistant entity set over real data: drives parsed by the agent's
//! smartctl parser from committed fixtures (one healthy, one FAILED) with the agent's own
//! verdict, containers in the shape the engines report; then what changes between two sets.

use super::mqtt_entities::{changes, host_entities, messages, HostEntities, Topics};
use std::collections::BTreeMap;
use unity_agent::collect::smart;
use unity_shared::model::container::{Container, ContainerInventory, HealthStatus, RunState};
use unity_shared::model::storage::{SmartDeviceResult, VerdictStatus};
use unity_shared::proto::StorageState;

const HEALTHY: &str = "scrutiny-sat-hdd-wd140edfz-7.0.json";
const FAILED: &str = "linuxhw-ata-hp-mb1000gcehh-realloc-FAILED-7.1.txt";

fn topics() -> Topics {
    Topics {
        discovery_prefix: "homeassistant".into(),
        base_topic: "unity".into(),
    }
}

fn drive(device: &str, fixture: &str) -> SmartDeviceResult {
    let path = format!(
        "{}/../agent/src/collect/smart/testdata/{fixture}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap();
    let report = smart::parse(&text).unwrap().0;
    let verdict = smart::verdict(&report, &Default::default());
    SmartDeviceResult {
        device: device.to_owned(),
        device_type: None,
        report: Some(report),
        verdict: Some(verdict),
        warnings: vec![],
        error: None,
    }
}

fn storage(devices: Vec<SmartDeviceResult>) -> StorageState {
    let mut state: StorageState = serde_json::from_str(
        r#"{"smart":{"outcome":"ok","devices":[]},
            "zfs":{"outcome":"ok","pools":[],"capacity":[],"datasets":[],"warnings":[],"errors":[]},
            "raid":{"outcome":"ok","arrays":[],"warnings":[],"errors":[]},
            "stack":{"drives":[],"unlinked":[]}}"#,
    )
    .unwrap();
    state.smart.devices = devices;
    state
}

fn container(name: &str, state: RunState, health: Option<HealthStatus>) -> Container {
    serde_json::from_value(serde_json::json!({
        "id": format!("id-{name}"), "name": name, "image": "lab/app:1", "image_id": "sha256:a",
        "repo_digests": [], "platform": null, "image_created_ms": null, "state": state,
        "health": health, "exit_code": null, "restart_policy": "unless-stopped", "restart_count": 0,
        "created_ms": null, "started_ms": null, "ports": [], "mounts": [], "networks": [],
        "labels": [], "compose": null, "usage": null,
    }))
    .unwrap()
}

fn inventory(containers: Vec<Container>) -> ContainerInventory {
    ContainerInventory {
        engine: None,
        containers,
        events: vec![],
        error: None,
    }
}

pub(super) fn nas(online: bool, web: RunState) -> HostEntities {
    host_entities(
        "nas",
        "nas01",
        online,
        2,
        Some(&storage(vec![
            drive("/dev/sda", HEALTHY),
            drive("/dev/sdb", FAILED),
        ])),
        Some(&inventory(vec![
            container("web", web, Some(HealthStatus::Healthy)),
            container("db", RunState::Exited, None),
        ])),
    )
}

fn json(messages: &BTreeMap<String, String>, topic: &str) -> serde_json::Value {
    let payload = messages
        .get(topic)
        .unwrap_or_else(|| panic!("{topic} missing from {:#?}", messages.keys()));
    serde_json::from_str(payload).unwrap()
}

#[test]
fn issue_18_entities_read_disks_by_serial_with_verdict_and_temperature() {
    let host = nas(true, RunState::Running);
    assert_eq!(host.disks.len(), 2);
    let healthy = &host.disks[0];
    assert_eq!(healthy.verdict, Some(VerdictStatus::Passed));
    assert!(healthy.temperature_celsius.is_some(), "{healthy:?}");
    assert!(
        healthy.label.starts_with("/dev/sda ") && healthy.id != "/dev/sda",
        "named by serial: {healthy:?}"
    );
    assert_eq!(host.disks[1].verdict, Some(VerdictStatus::Failing));
    // A drive that could not be read at all still gets its entities, as unknown.
    let unread = host_entities(
        "nas",
        "nas01",
        true,
        0,
        Some(&storage(vec![SmartDeviceResult {
            device: "/dev/sdc".into(),
            device_type: None,
            report: None,
            verdict: None,
            warnings: vec![],
            error: Some("open failed".into()),
        }])),
        None,
    );
    let messages = messages(&topics(), &[unread], None);
    assert_eq!(
        messages["unity/entities/nas/disk__dev_sdc_health/state"],
        "unknown"
    );
    assert_eq!(
        messages["unity/entities/nas/disk__dev_sdc_problem/state"],
        "ON"
    );
}

#[test]
fn issue_18_entities_have_discovery_state_availability_and_one_device_per_host() {
    let host = nas(true, RunState::Running);
    let serial = host.disks[1].id.clone();
    let messages = messages(&topics(), &[host], Some("https://unity.lan/"));
    // Host: 2, each disk: 3, each container: 2; each entity a config and a state.
    assert_eq!(messages.len(), 2 * (2 + 2 * 3 + 2 * 2));

    let online = json(
        &messages,
        "homeassistant/binary_sensor/unity_entities_nas/online/config",
    );
    assert_eq!(online["device_class"], "connectivity");
    assert_eq!(online["unique_id"], "unity_nas_online");
    assert_eq!(online["availability_topic"], "unity/entities/status");
    assert_eq!(online["device"]["identifiers"][0], "unity_nas");
    assert_eq!(online["device"]["name"], "nas01");
    assert_eq!(
        online["device"]["configuration_url"],
        "https://unity.lan/hosts/nas"
    );
    assert_eq!(messages["unity/entities/nas/online/state"], "ON");
    assert_eq!(messages["unity/entities/nas/open_alerts/state"], "2");

    let object = format!("disk_{}", super::mqtt::object_id(&serial));
    let problem = json(
        &messages,
        &format!("homeassistant/binary_sensor/unity_entities_nas/{object}_problem/config"),
    );
    assert_eq!(problem["device_class"], "problem");
    assert_eq!(problem["device"]["identifiers"][0], "unity_nas");
    assert_eq!(
        messages[&format!("unity/entities/nas/{object}_problem/state")],
        "ON"
    );
    assert_eq!(
        messages[&format!("unity/entities/nas/{object}_health/state")],
        "failing"
    );
    let temperature = json(
        &messages,
        &format!("homeassistant/sensor/unity_entities_nas/{object}_temperature/config"),
    );
    assert_eq!(temperature["unit_of_measurement"], "°C");

    assert_eq!(
        messages["unity/entities/nas/container_web_running/state"],
        "ON"
    );
    assert_eq!(
        messages["unity/entities/nas/container_web_health/state"],
        "healthy"
    );
    assert_eq!(
        messages["unity/entities/nas/container_db_running/state"],
        "OFF"
    );
    assert_eq!(
        messages["unity/entities/nas/container_db_health/state"],
        "none"
    );
    // Every config names a distinct unique_id, and every topic is recognised as ours.
    let topics = topics();
    let mut ids = std::collections::BTreeSet::new();
    for (topic, payload) in &messages {
        assert!(topics.is_ours(topic), "{topic}");
        if topic.ends_with("/config") {
            let config: serde_json::Value = serde_json::from_str(payload).unwrap();
            assert!(ids.insert(config["unique_id"].to_string()), "{topic}");
        }
    }
    // The per-alert entities of `mqtt` and the availability topic are not.
    assert!(!topics.is_ours("homeassistant/binary_sensor/unity_nas/pool_nas_tank/config"));
    assert!(!topics.is_ours("unity/nas/pool_nas_tank/state"));
    assert!(!topics.is_ours("unity/entities/status"));
}

#[test]
fn issue_18_only_what_changed_is_published_and_what_is_gone_is_cleared() {
    let topics = topics();
    let before = messages(&topics, &[nas(true, RunState::Running)], None);
    // Nothing held yet (first connection): everything, configs first.
    let first = changes(&BTreeMap::new(), &before);
    assert_eq!(first.len(), before.len());
    let first_state = first
        .iter()
        .position(|(topic, _)| !topic.ends_with("/config"))
        .unwrap();
    assert!(first[first_state..]
        .iter()
        .all(|(topic, _)| !topic.ends_with("/config")));
    // The same state again: nothing.
    assert!(changes(&before, &before).is_empty());

    // The host goes offline and `web` stops: two states change, nothing else.
    let after = messages(&topics, &[nas(false, RunState::Exited)], None);
    assert_eq!(
        changes(&before, &after),
        [
            (
                "unity/entities/nas/container_web_running/state".to_owned(),
                "OFF".to_owned()
            ),
            (
                "unity/entities/nas/online/state".to_owned(),
                "OFF".to_owned()
            ),
        ]
    );

    // `db` is removed: its configs and states get empty retained messages, states first.
    let mut without_db = nas(false, RunState::Exited);
    without_db
        .containers
        .retain(|container| container.name != "db");
    let removed = changes(&after, &messages(&topics, &[without_db], None));
    assert_eq!(removed.len(), 4, "{removed:#?}");
    assert!(removed
        .iter()
        .all(|(topic, payload)| payload.is_empty() && topic.contains("container_db_")));
    assert!(!removed[0].0.ends_with("/config") && removed[3].0.ends_with("/config"));

    // A whole host removed: all of its messages are cleared.
    let gone = changes(&after, &BTreeMap::new());
    assert_eq!(gone.len(), after.len());
    assert!(gone.iter().all(|(_, payload)| payload.is_empty()));
}
