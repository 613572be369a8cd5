//! Notifiers against a real HTTP receiver on loopback (an in-process axum server that records
//! what it gets and fails the first request, to exercise the retry).

use super::*;
use crate::alerts::config::RawAlerts;
use crate::alerts::EventKind;
use crate::storage::alerts::AlertRecord;
use axum::http::{HeaderMap, StatusCode, Uri};
use std::sync::Mutex;

#[derive(Debug, Clone)]
struct Received {
    path: String,
    headers: HeaderMap,
    body: String,
}

#[derive(Clone, Default)]
struct Receiver {
    received: Arc<Mutex<Vec<Received>>>,
    n_requests: Arc<Mutex<u32>>,
}

async fn receive(
    axum::extract::State(receiver): axum::extract::State<Receiver>,
    uri: Uri,
    headers: HeaderMap,
    body: String,
) -> StatusCode {
    let mut n_requests = receiver.n_requests.lock().unwrap();
    *n_requests += 1;
    if *n_requests == 1 {
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    receiver.received.lock().unwrap().push(Received {
        path: uri.path().to_owned(),
        headers,
        body,
    });
    StatusCode::OK
}

async fn start_receiver() -> (std::net::SocketAddr, Receiver) {
    let receiver = Receiver::default();
    let app = axum::Router::new()
        .fallback(axum::routing::post(receive))
        .with_state(receiver.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, receiver)
}

fn event(kind: EventKind, severity: Severity) -> Event {
    Event {
        kind,
        hostname: "nas01".into(),
        alert: AlertRecord {
            key: "pool/nas/tank".into(),
            agent_id: AgentId::new("nas").unwrap(),
            severity,
            summary: "tank: DEGRADED, 1 of 12 disks FAULTED".into(),
            details: vec!["One or more devices has been removed.".into()],
            opened_at_ms: 1000,
            last_seen_ms: 2000,
            resolved_at_ms: (kind == EventKind::Resolved).then_some(3000),
        },
    }
}

#[test]
fn backoff_doubles_and_is_capped() {
    let first = Duration::from_secs(2);
    assert_eq!(backoff(first, 0), Duration::from_secs(2));
    assert_eq!(backoff(first, 3), Duration::from_secs(16));
    assert_eq!(backoff(first, 20), MAX_DELAY);
    assert_eq!(backoff(first, 200), MAX_DELAY);
    assert!(NotifyError::Status(503).is_retryable() && !NotifyError::Status(404).is_retryable());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_and_ntfy_deliver_in_order_with_retry() {
    let (addr, receiver) = start_receiver().await;
    let raw: RawAlerts = toml::from_str(&format!(
        "dashboard_url = \"http://dash.example\"\n\
         [[webhook]]\nurl = \"http://{addr}/hook?token=s3cret\"\n\
         [[ntfy]]\nserver = \"http://{addr}\"\ntopic = \"nas-alerts\"\ntoken = \"tk_secret\"\n\
         min_severity = \"critical\"\n"
    ))
    .unwrap();
    let config = AlertsConfig::from_raw(raw, Duration::from_secs(60)).unwrap();
    let dispatcher = Dispatcher::with_backoff(&config, Duration::from_millis(20)).unwrap();
    dispatcher.dispatch(&[
        event(EventKind::Opened, Severity::Critical),
        event(EventKind::Opened, Severity::Warning),
        event(EventKind::Resolved, Severity::Critical),
    ]);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    // Webhook: 3 events; ntfy: the 2 critical ones; one request failed and was retried.
    while receiver.received.lock().unwrap().len() < 5 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{:?}",
            receiver.received.lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let received = receiver.received.lock().unwrap().clone();
    assert_eq!(received.len(), 5, "{received:?}");
    let hooks: Vec<serde_json::Value> = received
        .iter()
        .filter(|r| r.path == "/hook")
        .map(|r| serde_json::from_str(&r.body).unwrap())
        .collect();
    let kinds: Vec<(&str, &str)> = hooks
        .iter()
        .map(|h| {
            (
                h["event"].as_str().unwrap(),
                h["severity"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("opened", "critical"),
            ("opened", "warning"),
            ("resolved", "critical")
        ]
    );
    assert_eq!(hooks[0]["summary"], "tank: DEGRADED, 1 of 12 disks FAULTED");
    assert_eq!(hooks[0]["hostname"], "nas01");
    assert_eq!(hooks[0]["url"], "http://dash.example/hosts/nas");
    assert_eq!(hooks[2]["resolved_at_ms"], 3000);
    let ntfy: Vec<&Received> = received
        .iter()
        .filter(|r| r.path == "/nas-alerts")
        .collect();
    assert_eq!(
        ntfy.len(),
        2,
        "warnings are below this receiver's min_severity"
    );
    assert_eq!(ntfy[0].headers["title"], "CRITICAL on nas01");
    assert_eq!(ntfy[0].headers["priority"], "urgent");
    assert_eq!(ntfy[0].headers["tags"], "rotating_light");
    assert_eq!(ntfy[0].headers["click"], "http://dash.example/hosts/nas");
    assert_eq!(ntfy[0].headers["authorization"], "Bearer tk_secret");
    assert!(
        ntfy[0].body.starts_with("tank: DEGRADED"),
        "{}",
        ntfy[0].body
    );
    assert_eq!(ntfy[1].headers["title"], "Resolved on nas01");
    assert_eq!(ntfy[1].headers["tags"], "white_check_mark");
}

#[tokio::test]
async fn a_dead_receiver_does_not_block_dispatch() {
    // Nothing listens on this port: connection refused, retried in the worker only.
    let raw: RawAlerts = toml::from_str("[[webhook]]\nurl = \"http://127.0.0.1:9/x\"\n").unwrap();
    let config = AlertsConfig::from_raw(raw, Duration::from_secs(60)).unwrap();
    let dispatcher = Dispatcher::with_backoff(&config, Duration::from_secs(3600)).unwrap();
    let started = std::time::Instant::now();
    for _ in 0..(QUEUE_LEN + 10) {
        dispatcher.dispatch(&[event(EventKind::Opened, Severity::Critical)]);
    }
    assert!(started.elapsed() < Duration::from_secs(1));
}
