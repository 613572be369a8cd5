//! The entity publisher ([`super::mqtt_live::run`]) against a real mosquitto with a password
//! (TESTBED-2 §2), read back by real `mosquitto_sub` subscribers: discovery and state topics
//! of a host, a disk and a container; a state change republished to a subscriber already
//! listening; a removed container's config cleared; the will marking the controller offline;
//! and a restarted publisher clearing what went away while it was down.
#![allow(clippy::disallowed_methods)] // The broker and the subscribers are real processes.

use super::live_tests::{mosquitto, Server};
use super::mqtt_entities::{HostEntities, Topics};
use super::mqtt_entities_tests::nas;
use super::mqtt_live::{run, Broker};
use crate::config::secret::Secret;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use unity_shared::model::container::RunState;

/// Up to `count` messages on `topic` within `wait_s` seconds, in arrival order, as
/// `topic payload` lines (retained ones first).
async fn listen(port: u16, topic: &str, count: usize, wait_s: u32) -> Vec<String> {
    let topic = topic.to_owned();
    tokio::task::spawn_blocking(move || {
        let output = Command::new("mosquitto_sub")
            .args(["-h", "127.0.0.1", "-p", &port.to_string()])
            .args(["-u", "ha", "-P", "s3cret", "-v"])
            .args(["-W", &wait_s.to_string(), "-C", &count.to_string()])
            .args(["-t", &topic])
            .output()
            .unwrap();
        String::from_utf8(output.stdout)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    })
    .await
    .unwrap()
}

fn broker(port: u16) -> Broker {
    Broker {
        host: "127.0.0.1".into(),
        port,
        tls: false,
        username: Some("ha".into()),
        password: Some(Secret("s3cret".into())),
        topics: Topics {
            discovery_prefix: "homeassistant".into(),
            base_topic: "unity".into(),
        },
        link: Some("https://unity.lan".into()),
    }
}

fn start(port: u16, state: &Arc<Mutex<Vec<HostEntities>>>) -> tokio::task::JoinHandle<()> {
    let state = state.clone();
    tokio::spawn(run(
        "ha".into(),
        broker(port),
        Duration::from_millis(200),
        move || Ok(state.lock().unwrap().clone()),
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_18_every_host_disk_and_container_reaches_a_real_broker_and_changes_follow() {
    let dir = tempfile::tempdir().unwrap();
    let (_broker, port): (Server, u16) = mosquitto(dir.path()).await;
    let host = nas(true, RunState::Running);
    let disk = format!("disk_{}", super::mqtt::object_id(&host.disks[1].id));
    let state = Arc::new(Mutex::new(vec![host]));
    let publisher = start(port, &state);

    // A fresh subscriber gets the retained discovery configs and states.
    let config = |component: &str, object: &str| {
        format!("homeassistant/{component}/unity_entities_nas/{object}/config")
    };
    let host_config = listen(port, &config("binary_sensor", "online"), 1, 10).await;
    assert_eq!(host_config.len(), 1, "{host_config:?}");
    let (_, payload) = host_config[0].split_once(' ').unwrap();
    let online: serde_json::Value = serde_json::from_str(payload).unwrap();
    assert_eq!(online["state_topic"], "unity/entities/nas/online/state");
    assert_eq!(online["availability_topic"], "unity/entities/status");
    assert_eq!(online["device"]["identifiers"][0], "unity_nas");
    for (component, object) in [
        ("binary_sensor", format!("{disk}_problem")),
        ("sensor", format!("{disk}_temperature")),
        ("binary_sensor", "container_web_running".to_owned()),
    ] {
        let got = listen(port, &config(component, &object), 1, 5).await;
        assert_eq!(got.len(), 1, "{component}/{object}: {got:?}");
        assert!(got[0].contains("\"device\":{"), "{got:?}");
    }
    assert_eq!(
        listen(port, "unity/entities/status", 1, 5).await,
        ["unity/entities/status online"]
    );
    let states = listen(port, "unity/entities/nas/+/state", 100, 2).await;
    for expected in [
        "unity/entities/nas/online/state ON".to_owned(),
        "unity/entities/nas/open_alerts/state 2".to_owned(),
        format!("unity/entities/nas/{disk}_problem/state ON"),
        format!("unity/entities/nas/{disk}_health/state failing"),
        "unity/entities/nas/container_web_running/state ON".to_owned(),
        "unity/entities/nas/container_web_health/state healthy".to_owned(),
    ] {
        assert!(states.contains(&expected), "{expected} not in {states:#?}");
    }
    // Nothing is republished while nothing changes: a listener gets the retained copy only.
    let quiet = listen(port, "unity/entities/nas/online/state", 2, 2).await;
    assert_eq!(quiet, ["unity/entities/nas/online/state ON"]);

    // `web` stops: a subscriber already listening gets the new state.
    let listener = tokio::spawn(listen(
        port,
        "unity/entities/nas/container_web_running/state",
        2,
        10,
    ));
    tokio::time::sleep(Duration::from_millis(700)).await;
    state.lock().unwrap()[0] = nas(true, RunState::Exited);
    assert_eq!(
        listener.await.unwrap(),
        [
            "unity/entities/nas/container_web_running/state ON",
            "unity/entities/nas/container_web_running/state OFF",
        ]
    );

    // `db` is removed: its retained config is cleared.
    state.lock().unwrap()[0]
        .containers
        .retain(|container| container.name != "db");
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert!(
        listen(port, &config("binary_sensor", "container_db_running"), 1, 1)
            .await
            .is_empty()
    );
    assert_eq!(
        listen(
            port,
            &config("binary_sensor", "container_web_running"),
            1,
            2
        )
        .await
        .len(),
        1
    );

    // The controller goes away without a goodbye: the broker publishes its will.
    publisher.abort();
    let _ = publisher.await;
    let mut status = Vec::new();
    for _ in 0..20 {
        status = listen(port, "unity/entities/status", 1, 2).await;
        if status == ["unity/entities/status offline"] {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(status, ["unity/entities/status offline"]);

    // While it was down, `web` went away too; the restarted publisher reads back what it
    // published before and clears it, and says it is online again.
    state.lock().unwrap()[0].containers.clear();
    let _publisher = start(port, &state);
    let mut cleared = false;
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        if listen(
            port,
            &config("binary_sensor", "container_web_running"),
            1,
            1,
        )
        .await
        .is_empty()
        {
            cleared = true;
            break;
        }
    }
    assert!(cleared, "the removed container's config is still retained");
    assert_eq!(
        listen(port, "unity/entities/status", 1, 5).await,
        ["unity/entities/status online"]
    );
    assert_eq!(
        listen(port, &config("binary_sensor", "online"), 1, 5)
            .await
            .len(),
        1
    );
}
