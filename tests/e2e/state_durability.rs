//! Issue 13, §5: a report's typed state (here: the container inventory and its events) is
//! durable once the report is acknowledged. The controller runs as a real process and is
//! killed with SIGKILL right after each acknowledgement; the store, reopened, must hold the
//! newest state and every acknowledged event.

use std::path::Path;
use std::time::Duration;
use unity_controller::storage::agents::StateKind;
use unity_controller::storage::series::SeriesOptions;
use unity_controller::storage::Store;
use unity_shared::model::container::{ContainerEvent, ContainerEventKind, ContainerInventory};
use unity_shared::proto::{
    AgentId, AgentMessage, ControllerMessage, Hello, HostFacts, InstanceId, Report,
    PROTOCOL_VERSION,
};
use unity_tests::*;

const BINARY: &str = env!("CARGO_BIN_EXE_unity-e2e-controller");
const MAX_FRAME: usize = 1 << 20;

fn report(seq: u64, marker: &str) -> Report {
    Report {
        seq,
        collected_at_ms: 1_700_000_000_000 + seq as i64 * 1000,
        samples: vec![],
        dropped_reports: 0,
        storage: None,
        databases: None,
        containers: Some(Box::new(ContainerInventory {
            engine: None,
            containers: vec![],
            events: vec![ContainerEvent {
                at_ms: 1_700_000_000_000 + seq as i64 * 1000,
                container_id: marker.to_owned(),
                name: Some(marker.to_owned()),
                kind: ContainerEventKind::Start,
            }],
            error: Some(marker.to_owned()),
        })),
        plugin_series: None,
        plugin_sources: None,
        checks: None,
        certificates: None,
        image_scans: None,
        service_checks: None,
    }
}

/// Connects as the enrolled agent in `agent_dir`, says hello, sends one report and waits for
/// its acknowledgement.
async fn send_and_wait_for_ack(agent_dir: &Path, address: std::net::SocketAddr, report: Report) {
    let identity = unity_agent::identity::load(agent_dir).unwrap();
    let endpoint = unity_agent::transport::client_endpoint(address).unwrap();
    let connection = unity_agent::transport::connect(
        &endpoint,
        unity_agent::transport::client_config(&identity).unwrap(),
        address,
    )
    .await
    .unwrap();
    let (mut send, mut recv) = connection.open_bi().await.unwrap();
    let hello = AgentMessage::Hello(Hello {
        protocol_version: PROTOCOL_VERSION,
        agent_version: "test".into(),
        host: HostFacts::default(),
        instance_id: InstanceId::from_bytes([7; 16]),
        install: unity_shared::proto::InstallKind::File,
    });
    unity_shared::wire::write(&mut send, &hello, MAX_FRAME)
        .await
        .unwrap();
    let welcome: Option<ControllerMessage> = unity_shared::wire::read(&mut recv, MAX_FRAME)
        .await
        .unwrap();
    assert!(
        matches!(welcome, Some(ControllerMessage::Welcome(_))),
        "{welcome:?}"
    );
    let seq = report.seq;
    unity_shared::wire::write(&mut send, &AgentMessage::Report(report), MAX_FRAME)
        .await
        .unwrap();
    // The acknowledgement, past the release keys the controller sends after the welcome.
    loop {
        let answer: Option<ControllerMessage> = unity_shared::wire::read(&mut recv, MAX_FRAME)
            .await
            .unwrap();
        match answer {
            Some(ControllerMessage::ReleaseKeys(_)) => continue,
            Some(ControllerMessage::Ack(ack)) => {
                assert_eq!(ack.seq, seq);
                break;
            }
            other => panic!("expected the ack of {seq}, got {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_state_and_events_survive_sigkill_right_after_the_ack() {
    init_logging();
    let dir = tempfile::tempdir().unwrap();
    let controller_dir = dir.path().join("controller");
    let agent_dir = dir.path().join("agent");
    let address = free_udp_address();
    let mut process = ControllerProcess::start(Path::new(BINARY), &controller_dir, address).await;
    let agent_id: AgentId = process.enroll(&agent_dir).await;

    // sled flushes on its own every half second: kill within milliseconds of each ack, five
    // times, so a missing flush before the ack cannot pass by luck.
    for round in 1..=5u64 {
        if round > 1 {
            process = ControllerProcess::start(Path::new(BINARY), &controller_dir, address).await;
        }
        let marker = format!("acknowledged-{round}");
        send_and_wait_for_ack(&agent_dir, address, report(round, &marker)).await;
        process.kill();

        let database = controller_dir.join("db");
        let (latest, events) = tokio::task::spawn_blocking({
            let agent_id = agent_id.clone();
            move || {
                let store = Store::open(&database, SeriesOptions::default()).unwrap();
                let latest = store
                    .agents
                    .latest::<ContainerInventory>(&agent_id, StateKind::Containers)
                    .unwrap();
                let events = store.containers.recent_events(&agent_id, 100).unwrap();
                (latest, events)
            }
        })
        .await
        .unwrap();
        let (_, inventory) = latest.unwrap_or_else(|| panic!("round {round}: no state at all"));
        assert_eq!(
            inventory.error.as_deref(),
            Some(marker.as_str()),
            "round {round}: the acknowledged state was lost"
        );
        let stored: Vec<&str> = events.iter().map(|e| e.container_id.as_str()).collect();
        for earlier in 1..=round {
            let wanted = format!("acknowledged-{earlier}");
            assert!(
                stored.contains(&wanted.as_str()),
                "round {round}: acknowledged event {wanted} lost; stored {stored:?}"
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
