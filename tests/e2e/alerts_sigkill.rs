//! Issue 18 §2, "survives a controller restart without re-sending", with the real controller
//! binary killed by SIGKILL in the middle of an incident. A webhook receiver (a real HTTP peer
//! in the test, answering 500 to its first request) hears of a host-offline alert; the
//! controller is killed after that failed first attempt (the notification sits in the
//! outbox), restarted on the same data directory, and delivers it exactly once; killed again
//! once it is delivered, restarted, and must neither re-send it nor forget the open alert;
//! the host comes back, and the recovery is sent exactly once.

use crate::alerts::read_request;
use serde_json::Value;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncWriteExt, BufReader};
use unity_controller::storage::series::SeriesOptions;
use unity_controller::storage::Store;
use unity_shared::proto::{
    AgentMessage, ControllerMessage, Hello, HostFacts, InstanceId, Report, PROTOCOL_VERSION,
};
use unity_tests::*;

const BINARY: &str = env!("CARGO_BIN_EXE_unity-e2e-controller");
const MAX_FRAME: usize = 1 << 20;

/// Every request the receiver got: the status it answered and the JSON body.
#[derive(Default)]
struct Sink {
    requests: Mutex<Vec<(u16, Value)>>,
    /// Answer 500 to this many requests first.
    failures_left: AtomicUsize,
}

impl Sink {
    /// `(event, key)` of the requests answered with `status`.
    fn answered(&self, status: u16) -> Vec<(String, String)> {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .filter(|(answered, _)| *answered == status)
            .map(|(_, body)| {
                (
                    body["event"].as_str().unwrap_or("").to_owned(),
                    body["key"].as_str().unwrap_or("").to_owned(),
                )
            })
            .collect()
    }

    fn count(&self) -> usize {
        self.requests.lock().unwrap().len()
    }
}

async fn webhook_receiver(sink: Arc<Sink>) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let sink = sink.clone();
            tokio::spawn(async move {
                let mut reader = BufReader::new(stream);
                loop {
                    let Some((_, body)) = read_request(&mut reader).await else {
                        return;
                    };
                    let fail = sink
                        .failures_left
                        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
                            left.checked_sub(1)
                        })
                        .is_ok();
                    let status = if fail { 500 } else { 200 };
                    sink.requests
                        .lock()
                        .unwrap()
                        .push((status, serde_json::from_slice(&body).unwrap_or(Value::Null)));
                    let answer = format!(
                        "HTTP/1.1 {status} {}\r\ncontent-length: 0\r\n\r\n",
                        if fail { "Internal Server Error" } else { "OK" }
                    );
                    if reader.get_mut().write_all(answer.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

fn report(seq: u64) -> Report {
    Report {
        seq,
        collected_at_ms: unity_controller::clock::now_ms(),
        samples: vec![],
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
    }
}

/// The enrolled agent in `agent_dir`, connected: says hello, then sends a report every 300 ms
/// (from `first_seq` on) for as long as the task runs. Each report is acknowledged.
async fn report_until_stopped(agent_dir: PathBuf, address: SocketAddr, first_seq: u64) {
    let identity = unity_agent::identity::load(&agent_dir).unwrap();
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
    assert!(matches!(welcome, Some(ControllerMessage::Welcome(_))));
    for seq in first_seq.. {
        unity_shared::wire::write(&mut send, &AgentMessage::Report(report(seq)), MAX_FRAME)
            .await
            .unwrap();
        // Skip whatever else the controller sends until the acknowledgement.
        loop {
            let message: Option<ControllerMessage> = unity_shared::wire::read(&mut recv, MAX_FRAME)
                .await
                .unwrap();
            match message {
                Some(ControllerMessage::Ack(ack)) if ack.seq == seq => break,
                Some(_) => continue,
                None => panic!("the controller closed the stream"),
            }
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// The open alerts' keys in the (stopped) controller's store.
async fn open_alerts(data_dir: &Path) -> Vec<String> {
    let database = data_dir.join("db");
    tokio::task::spawn_blocking(move || {
        let store = Store::open(&database, SeriesOptions::default()).unwrap();
        let open = store.alerts.open_alerts().unwrap();
        open.into_iter().map(|alert| alert.key).collect()
    })
    .await
    .unwrap()
}

async fn start(config: &Path, data_dir: &Path, address: SocketAddr) -> ControllerProcess {
    let log = data_dir.with_extension("log");
    ControllerProcess::start_configured(Path::new(BINARY), config, data_dir, address, Some(&log))
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_18_sigkill_mid_incident_neither_loses_nor_resends_a_notification() {
    init_logging();
    let dir = tempfile::tempdir().unwrap();
    let controller_dir = dir.path().join("controller");
    let agent_dir = dir.path().join("agent");
    let sink = Arc::new(Sink::default());
    sink.failures_left.store(1, Ordering::SeqCst);
    let hook = webhook_receiver(sink.clone()).await;
    let config = dir.path().join("controller.toml");
    std::fs::write(
        &config,
        format!(
            "[alerts]\ninterval = \"200ms\"\noffline_after = \"2s\"\nresolve_after = \"1s\"\n\
             repeat_interval = \"1h\"\n\n[[alerts.receiver]]\nurl = \"http://{hook}/hook\"\n"
        ),
    )
    .unwrap();
    let address = free_udp_address();
    let mut process = start(&config, &controller_dir, address).await;
    let agent_id = process.enroll(&agent_dir).await;
    let offline_key = format!("host/{agent_id}/offline");
    let opened = ("opened".to_owned(), offline_key.clone());
    let resolved = ("resolved".to_owned(), offline_key.clone());

    // The host reports for a moment, then goes silent: after offline_after, an alert.
    let reporting = tokio::spawn(report_until_stopped(agent_dir.clone(), address, 1));
    tokio::time::sleep(Duration::from_secs(1)).await;
    reporting.abort();
    let _ = reporting.await;

    // The receiver fails the first attempt; the controller dies before its retry.
    eventually("the first attempt", Duration::from_secs(15), || {
        let tried = sink.count() >= 1;
        async move { tried.then_some(()) }
    })
    .await;
    process.kill();
    assert_eq!(sink.answered(500), std::slice::from_ref(&opened));
    assert!(sink.answered(200).is_empty());
    assert!(open_alerts(&controller_dir).await.contains(&offline_key));

    // Restarted, it delivers the queued notification, once.
    process = start(&config, &controller_dir, address).await;
    eventually(
        "the delivery after the restart",
        Duration::from_secs(15),
        || {
            let delivered = !sink.answered(200).is_empty();
            async move { delivered.then_some(()) }
        },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(sink.answered(200), std::slice::from_ref(&opened));

    // Killed again, now that it is delivered: the alert is still open, and after the restart
    // (many evaluation rounds, well within the repeat interval) nothing is sent again.
    process.kill();
    assert!(open_alerts(&controller_dir).await.contains(&offline_key));
    let before = sink.count();
    process = start(&config, &controller_dir, address).await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(sink.count(), before, "re-sent after the restart");

    // The host comes back: the recovery is sent exactly once.
    let reporting = tokio::spawn(report_until_stopped(agent_dir.clone(), address, 100));
    eventually("the recovery", Duration::from_secs(15), || {
        let recovered = sink.answered(200).contains(&resolved);
        async move { recovered.then_some(()) }
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(sink.answered(200), [opened, resolved]);
    reporting.abort();
    process.kill();
    assert!(!open_alerts(&controller_dir).await.contains(&offline_key));
}
