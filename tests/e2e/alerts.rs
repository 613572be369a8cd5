//! Issue 5, alerts end to end: a real agent whose fake `smartctl` replays a failing drive
//! raises a critical disk alert that shows in the API, on the overview and in `/metrics`, and
//! reaches a webhook receiver (a real HTTP peer on loopback); the agent stopping raises a
//! host-offline alert after the (short) configured time, and its return resolves it.

use serde_json::Value;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader};
use unity_controller::alerts::notify::receivers;
use unity_controller::alerts::notify::url::Channel;
use unity_controller::config::Secret;
use unity_controller::storage::alerts::Severity;
use unity_tests::*;

pub(crate) type Received = Arc<Mutex<Vec<Value>>>;

/// A minimal HTTP/1.1 server that records every JSON body POSTed to it and answers 200.
pub(crate) async fn webhook_receiver() -> (SocketAddr, Received) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let received: Received = Arc::default();
    let sink = received.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let sink = sink.clone();
            tokio::spawn(async move {
                let mut reader = BufReader::new(stream);
                loop {
                    let Some((request_line, body)) = read_request(&mut reader).await else {
                        return;
                    };
                    assert!(
                        request_line.starts_with("POST /hook?token=t "),
                        "{request_line}"
                    );
                    sink.lock()
                        .unwrap()
                        .push(serde_json::from_slice(&body).unwrap_or(Value::Null));
                    let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
                    if reader.get_mut().write_all(ok).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (addr, received)
}

/// Reads one HTTP/1.1 request (request line, headers, a `content-length` body); none when the
/// peer closed the connection or sent less than it announced.
pub(crate) async fn read_request<R: AsyncBufRead + AsyncRead + Unpin>(
    reader: &mut R,
) -> Option<(String, Vec<u8>)> {
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).await.unwrap_or(0) == 0 {
        return None;
    }
    let mut length = 0;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).await.unwrap_or(0) == 0 {
            return None;
        }
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).await.ok()?;
    Some((request_line, body))
}

pub(crate) fn hook_events(received: &Received) -> Vec<(String, String)> {
    received
        .lock()
        .unwrap()
        .iter()
        .map(|event| {
            (
                event["event"].as_str().unwrap_or("").to_owned(),
                event["key"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

async fn alerts(client: &mut http::HttpClient, state: &str) -> Vec<Value> {
    let response = client.get(&format!("/api/v1/alerts?state={state}")).await;
    assert_eq!(response.status, 200, "{}", response.text());
    response.json().as_array().unwrap().clone()
}

fn find<'a>(alerts: &'a [Value], key: &str) -> Option<&'a Value> {
    alerts.iter().find(|alert| alert["key"] == key)
}

/// Polls `GET /api/v1/alerts?state=<state>` until an alert matches.
async fn wait_for_alert(
    client: &mut http::HttpClient,
    state: &str,
    what: &str,
    matches: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(alert) = alerts(client, state).await.into_iter().find(&matches) {
            return alert;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_disk_and_offline_host_raise_alerts_that_notify_and_resolve() {
    init_logging();
    let dir = tempfile::tempdir().unwrap();
    let (hook_addr, received) = webhook_receiver().await;
    let mut config = controller_config(&dir.path().join("controller"));
    config.stale_after = Duration::from_secs(2);
    config.alerts.interval = Duration::from_millis(200);
    config.alerts.offline_after = Duration::from_secs(2);
    config.alerts.resolve_after = Duration::from_secs(1);
    config.alerts.receivers = vec![receivers::legacy(
        "webhook 1".into(),
        Channel::Webhook {
            url: Secret(format!("http://{hook_addr}/hook?token=t")),
        },
        Severity::Warning,
        None,
    )];
    let controller = start_controller(config).await;
    let password = add_user(&controller, "watcher", "viewer").await;
    let mut client = logged_in_client(&controller, "watcher", &password).await;

    let agent_dir = dir.path().join("agent");
    let agent_id = enroll_agent(&controller, &agent_dir).await;
    let config_path = crate::storage::fake_host(dir.path());
    let raw: unity_agent::config::RawConfig =
        toml::from_str(&std::fs::read_to_string(&config_path).unwrap()).unwrap();
    let mut agent_config = unity_agent::config::Config::from_raw(raw).unwrap();
    agent_config.data_dir = agent_dir.clone();
    agent_config.controller = Some(controller.local_addr.to_string());
    agent_config.interval = Duration::from_millis(300);
    agent_config.heartbeat = Duration::from_millis(300);
    let agent = unity_agent::runtime::start(agent_config.clone())
        .await
        .unwrap();

    // The failing SATA drive: a critical disk alert in the API, with a summary people read.
    let disk = wait_for_alert(&mut client, "open", "a critical disk alert", |alert| {
        alert["key"].as_str().unwrap_or("").starts_with("disk/") && alert["severity"] == "critical"
    })
    .await;
    let disk_key = disk["key"].as_str().unwrap().to_owned();
    let summary = disk["summary"].as_str().unwrap().to_owned();
    assert!(disk_key.ends_with("/smart"), "{disk}");
    assert!(
        summary.contains("/dev/sda") && summary.contains("failing"),
        "{disk}"
    );
    assert_eq!(disk["agent_id"], agent_id.as_str());
    let open = alerts(&mut client, "open").await;
    assert!(
        open.iter().any(|alert| alert["key"]
            .as_str()
            .unwrap()
            .starts_with(&format!("pool/{agent_id}/"))),
        "the degraded pool: {open:#?}"
    );
    assert!(find(&open, &format!("host/{agent_id}/offline")).is_none());

    // On the overview, and in /metrics.
    let overview = client.get("/").await.text();
    assert!(overview.contains("id=\"alerts\""), "{overview}");
    assert!(
        overview.contains(&format!("data-key=\"{disk_key}\"")),
        "{overview}"
    );
    assert!(overview.contains("is failing"), "{overview}");
    let metrics = client.get("/metrics").await.text();
    assert!(
        metrics.lines().any(
            |line| line.starts_with("unity_alerts_open{severity=\"critical\"}")
                && !line.ends_with(" 0")
        ),
        "{metrics}"
    );

    // The webhook got it.
    eventually(
        "the disk alert at the webhook",
        Duration::from_secs(10),
        || {
            let found = hook_events(&received).contains(&("opened".into(), disk_key.clone()));
            async move { found.then_some(()) }
        },
    )
    .await;

    // The agent stops: after offline_after, a host-offline alert, notified too.
    agent.stop().await;
    let offline_key = format!("host/{agent_id}/offline");
    let offline = wait_for_alert(&mut client, "open", "a host-offline alert", |alert| {
        alert["key"] == offline_key.as_str()
    })
    .await;
    assert_eq!(offline["severity"], "critical", "{offline}");
    eventually(
        "the offline alert at the webhook",
        Duration::from_secs(10),
        || {
            let found = hook_events(&received).contains(&("opened".into(), offline_key.clone()));
            async move { found.then_some(()) }
        },
    )
    .await;

    // It comes back: the alert resolves (after resolve_after) and the webhook hears of it.
    let agent = unity_agent::runtime::start(agent_config).await.unwrap();
    let resolved = wait_for_alert(
        &mut client,
        "resolved",
        "the offline alert resolved",
        |alert| alert["key"] == offline_key.as_str(),
    )
    .await;
    assert!(
        resolved["resolved_at_ms"].as_i64().unwrap() >= resolved["opened_at_ms"].as_i64().unwrap()
    );
    assert!(find(&alerts(&mut client, "open").await, &offline_key).is_none());
    assert!(
        find(&alerts(&mut client, "open").await, &disk_key).is_some(),
        "the disk is still failing"
    );
    eventually(
        "the resolution at the webhook",
        Duration::from_secs(10),
        || {
            let found = hook_events(&received).contains(&("resolved".into(), offline_key.clone()));
            async move { found.then_some(()) }
        },
    )
    .await;
    let bad = client.get("/api/v1/alerts?state=closed").await;
    assert_eq!(bad.status, 400);

    agent.stop().await;
    controller.shutdown().await.unwrap();
}
