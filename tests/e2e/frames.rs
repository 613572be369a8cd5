//! Issue 2, test 5: malformed and oversized frames from an authenticated peer close that
//! stream only; the controller keeps serving this and other agents.

use std::time::Duration;
use unity_shared::proto::{
    frame, AgentMessage, ControllerMessage, Hello, HostFacts, Report, Sample, PROTOCOL_VERSION,
};
use unity_tests::*;

fn hello() -> AgentMessage {
    AgentMessage::Hello(Hello {
        protocol_version: PROTOCOL_VERSION,
        agent_version: "test".into(),
        host: HostFacts::default(),
        instance_id: unity_shared::proto::InstanceId::from_bytes([1; 16]),
        install: unity_shared::proto::InstallKind::File,
    })
}

/// Writes raw bytes on a new stream and returns how the controller reacted.
async fn send_raw(
    connection: &quinn::Connection,
    bytes: &[u8],
) -> anyhow::Result<Option<ControllerMessage>> {
    let (mut send, mut recv) = connection.open_bi().await?;
    let hello = frame::encode(&hello(), 1 << 20)?;
    send.write_all(&hello).await?;
    let welcome: Option<ControllerMessage> = unity_shared::wire::read(&mut recv, 1 << 20).await?;
    assert!(matches!(welcome, Some(ControllerMessage::Welcome(_))));
    send.write_all(bytes).await?;
    let _ = send.finish();
    // The controller's reaction to `bytes`, past the release keys it sends after the welcome.
    loop {
        match unity_shared::wire::read(&mut recv, 1 << 20).await? {
            Some(ControllerMessage::ReleaseKeys(_)) => continue,
            reaction => return Ok(reaction),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_and_oversized_frames_leave_the_controller_serving() {
    init_logging();
    let dir = tempfile::tempdir().unwrap();
    let controller = start_controller(controller_config(&dir.path().join("controller"))).await;
    let (bystander_id, bystander) = enrolled_agent(
        &controller,
        &dir.path().join("bystander"),
        Duration::from_millis(200),
    )
    .await;
    let agent_dir = dir.path().join("peer");
    let peer_id = enroll_agent(&controller, &agent_dir).await;
    let identity = unity_agent::identity::load(&agent_dir).unwrap();
    let endpoint = unity_agent::transport::client_endpoint(controller.local_addr).unwrap();
    let connection = unity_agent::transport::connect(
        &endpoint,
        unity_agent::transport::client_config(&identity).unwrap(),
        controller.local_addr,
    )
    .await
    .unwrap();

    // Garbage payload with a valid header: undecodable.
    let mut garbage = vec![frame::FRAME_VERSION, 0, 0, 0, 8];
    garbage.extend_from_slice(&[0xff; 8]);
    let reaction = send_raw(&connection, &garbage).await;
    assert!(reaction.is_err(), "garbage answered with {reaction:?}");

    // A header announcing 4 GiB: refused before anything is allocated.
    let oversized = [frame::FRAME_VERSION, 0xff, 0xff, 0xff, 0xff];
    let reaction = send_raw(&connection, &oversized).await;
    assert!(
        reaction.is_err(),
        "oversized frame answered with {reaction:?}"
    );

    // An unknown frame version.
    let reaction = send_raw(&connection, &[0x7f, 0, 0, 0, 1, 0]).await;
    assert!(reaction.is_err(), "bad version answered with {reaction:?}");

    // The same connection still works for a well-formed report.
    let report = AgentMessage::Report(Report {
        seq: 1,
        collected_at_ms: 1_000,
        samples: vec![Sample {
            metric: "probe".into(),
            labels: vec![],
            timestamp_ms: 1_000,
            value: 1.0,
        }],
        dropped_reports: 0,
        storage: None,
        databases: None,
        containers: None,
        plugin_series: None,
        plugin_sources: None,
        checks: None,
        certificates: None,
        image_scans: None,
        service_checks: None,
    });
    let reaction = send_raw(&connection, &frame::encode(&report, 1 << 20).unwrap())
        .await
        .unwrap();
    assert!(
        matches!(reaction, Some(ControllerMessage::Ack(ack)) if ack.seq == 1 && !ack.duplicate),
        "{reaction:?}"
    );
    assert_eq!(
        query(&controller, &peer_id, "probe").await[0].points,
        vec![(1_000, 1.0)]
    );

    // And so does everyone else.
    let before = controller
        .context
        .store
        .series
        .last_seq(bystander_id.as_str())
        .unwrap();
    eventually(
        "the bystander keeps reporting",
        Duration::from_secs(10),
        || async {
            let now = controller
                .context
                .store
                .series
                .last_seq(bystander_id.as_str())
                .unwrap();
            (now > before).then_some(())
        },
    )
    .await;

    bystander.stop().await;
    controller.shutdown().await.unwrap();
}
