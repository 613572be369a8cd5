//! Delivery against a real HTTP receiver on loopback (an in-process axum server that records
//! each request and answers from a script): retries on 500 and 429 with `Retry-After`, no
//! retry on 404, an unreachable receiver, and the outbox surviving a controller that dies
//! with undelivered notifications (its runtime torn down mid-flight, the database reopened).

use super::worker::{pick, Pick};
use super::*;
use crate::alerts::config::{AlertsConfig, RawAlerts};
use crate::storage::alerts::{AlertRecord, Severity};
use crate::storage::outbox::{Outbox, OutboxEntry, OutboxEvent};
use axum::http::{HeaderMap, Method as HttpMethod, StatusCode, Uri};
use axum::response::IntoResponse;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use unity_shared::proto::AgentId;

#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    pub path_and_query: String,
    pub headers: HeaderMap,
    pub body: String,
    pub answered: u16,
}

/// Answers to give, in order: status and `Retry-After`.
pub type Script = VecDeque<(u16, Option<&'static str>)>;

/// A receiver that answers from `script` (then 200) and records everything.
#[derive(Clone, Default)]
pub struct Receiver {
    pub received: Arc<Mutex<Vec<Received>>>,
    pub script: Arc<Mutex<Script>>,
}

impl Receiver {
    pub fn delivered(&self) -> Vec<Received> {
        let received = self.received.lock().unwrap();
        received
            .iter()
            .filter(|r| r.answered < 300)
            .cloned()
            .collect()
    }
}

async fn receive(
    axum::extract::State(receiver): axum::extract::State<Receiver>,
    method: HttpMethod,
    uri: Uri,
    headers: HeaderMap,
    body: String,
) -> axum::response::Response {
    let (status, retry_after) = receiver
        .script
        .lock()
        .unwrap()
        .pop_front()
        .unwrap_or((200, None));
    receiver.received.lock().unwrap().push(Received {
        method: method.to_string(),
        path_and_query: uri
            .path_and_query()
            .map(|p| p.to_string())
            .unwrap_or_default(),
        headers,
        body,
        answered: status,
    });
    let mut response = (StatusCode::from_u16(status).unwrap(), "{}").into_response();
    if let Some(seconds) = retry_after {
        response
            .headers_mut()
            .insert("retry-after", seconds.parse().unwrap());
    }
    response
}

pub async fn start_receiver() -> (std::net::SocketAddr, Receiver) {
    let receiver = Receiver::default();
    let app = axum::Router::new()
        .fallback(receive)
        .with_state(receiver.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, receiver)
}

pub fn event(summary: &str) -> Event {
    Event {
        kind: EventKind::Opened,
        hostname: "nas01".into(),
        alert: AlertRecord {
            key: "pool/nas/tank".into(),
            agent_id: AgentId::new("nas").unwrap(),
            severity: Severity::Critical,
            summary: summary.into(),
            details: vec!["One or more devices has been removed.".into()],
            opened_at_ms: 1000,
            last_seen_ms: 2000,
            resolved_at_ms: None,
        },
    }
}

fn entry(summary: &str) -> OutboxEntry {
    let event = event(summary);
    OutboxEntry {
        event: OutboxEvent {
            kind: event.kind.as_str().into(),
            hostname: event.hostname,
            alert: event.alert,
        },
        attempts: 0,
        not_before_ms: 0,
        test_id: None,
    }
}

fn config(text: &str) -> AlertsConfig {
    let raw: RawAlerts = toml::from_str(text).unwrap();
    AlertsConfig::from_raw(raw, Duration::from_secs(60)).unwrap()
}

fn sender() -> Sender {
    Sender::new(Some("http://dash.example".into())).unwrap()
}

async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while !done() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[test]
fn backoff_doubles_and_is_capped() {
    let first = Duration::from_secs(2);
    assert_eq!(backoff(first, 0), Duration::from_secs(2));
    assert_eq!(backoff(first, 3), Duration::from_secs(16));
    assert_eq!(backoff(first, 20), MAX_DELAY);
    assert_eq!(backoff(first, 200), MAX_DELAY);
    let status = |status| NotifyError::Status {
        status,
        retry_after: None,
    };
    assert!(status(503).is_retryable() && status(429).is_retryable());
    assert!(!status(404).is_retryable() && !status(400).is_retryable());
    assert_eq!(http::retry_after(Some(" 7 ")), Some(Duration::from_secs(7)));
    assert_eq!(
        http::retry_after(Some("Wed, 21 Oct 2015 07:28:00 GMT")),
        None
    );
}

#[test]
fn issue_18_a_retried_entry_holds_back_later_ones_but_quiet_hours_do_not() {
    let held = |attempts, not_before_ms| OutboxEntry {
        attempts,
        not_before_ms,
        ..entry("x")
    };
    let due = entry("due");
    assert_eq!(
        pick(vec![(1, held(0, 5000)), (2, due.clone())], 1000),
        Pick::Deliver(2, Box::new(due.clone()))
    );
    assert_eq!(
        pick(vec![(1, held(1, 1300)), (2, due)], 1000),
        Pick::Wait(300)
    );
    assert_eq!(pick(vec![], 1000), Pick::Wait(1000));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_18_retries_on_500_and_429_with_retry_after_and_gives_up_on_404() {
    let (addr, receiver) = start_receiver().await;
    receiver.script.lock().unwrap().extend([
        (500, None),
        (429, Some("1")),
        (200, None),
        (404, None),
    ]);
    let config = config(&format!(
        "[[receiver]]\nurl = \"http://{addr}/hook?token=s3cret\"\nname = \"hook\"\nsecret = \"k\"\n"
    ));
    let dir = tempfile::tempdir().unwrap();
    let db = crate::storage::open_test_db(dir.path());
    let outbox = Outbox::open(&db).unwrap();
    let started = std::time::Instant::now();
    let _dispatcher =
        Dispatcher::with(&config, outbox.clone(), sender(), Duration::from_millis(20));
    outbox.push("hook", &entry("first")).unwrap();
    outbox.push("hook", &entry("second")).unwrap();
    eventually("both entries finished", || outbox.pending("hook") == 0).await;
    let received = receiver.received.lock().unwrap().clone();
    let answers: Vec<u16> = received.iter().map(|r| r.answered).collect();
    assert_eq!(
        answers,
        [500, 429, 200, 404],
        "one retry each, none after the 404"
    );
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After was honoured"
    );
    let body: serde_json::Value = serde_json::from_str(&received[2].body).unwrap();
    assert_eq!(body["summary"], "first");
    assert_eq!(body["url"], "http://dash.example/hosts/nas");
    let timestamp: i64 = received[2].headers["x-unity-timestamp"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        received[2].headers["x-unity-signature"].to_str().unwrap(),
        webhook::signature(b"k", timestamp, received[2].body.as_bytes())
    );
    let status = outbox.status("hook").unwrap();
    assert_eq!((status.delivered, status.failed), (1, 1));
    assert_eq!(
        status.last_error.as_deref(),
        Some("receiver answered HTTP 404")
    );
    assert!(!format!("{status:?}").contains("s3cret"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_18_an_unreachable_receiver_fails_without_blocking_the_others() {
    let (addr, receiver) = start_receiver().await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let config = config(&format!(
        "notify_attempts = 2\n[[receiver]]\nurl = \"http://{closed}/x\"\nname = \"dead\"\n[[receiver]]\nurl = \"http://{addr}/y\"\nname = \"alive\"\n"
    ));
    let dir = tempfile::tempdir().unwrap();
    let db = crate::storage::open_test_db(dir.path());
    let outbox = Outbox::open(&db).unwrap();
    let _dispatcher =
        Dispatcher::with(&config, outbox.clone(), sender(), Duration::from_millis(20));
    outbox.push("dead", &entry("lost")).unwrap();
    outbox.push("alive", &entry("fine")).unwrap();
    eventually("the live receiver's delivery", || {
        receiver.delivered().len() == 1
    })
    .await;
    eventually("the dead receiver giving up", || {
        outbox.pending("dead") == 0
    })
    .await;
    let status = outbox.status("dead").unwrap();
    assert_eq!(status.failed, 1);
    let error = status.last_error.unwrap();
    assert!(error.starts_with("request failed"), "{error}");
    assert!(!error.contains("/x"), "{error}");
}

/// Phase one: a controller whose receiver takes the first notification and then fails, killed
/// (its runtime dropped mid-retry). Phase two: the same database reopened, the receiver well:
/// the two undelivered arrive once each, the delivered one never again.
#[test]
fn issue_18_undelivered_notifications_survive_a_crash_and_are_sent_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (addr, receiver) = runtime.block_on(start_receiver());
    receiver.script.lock().unwrap().extend(
        [(200, None)]
            .into_iter()
            .chain(std::iter::repeat_n((503, None), 50)),
    );
    let config = config(&format!(
        "notify_attempts = 100\n[[receiver]]\nurl = \"http://{addr}/hook\"\nname = \"hook\"\n"
    ));
    let controller = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    {
        let db = crate::storage::open_test_db(dir.path().join("db"));
        let outbox = Outbox::open(&db).unwrap();
        for summary in ["one", "two", "three"] {
            outbox.push("hook", &entry(summary)).unwrap();
        }
        outbox.flush().unwrap();
        controller.block_on(async {
            let _dispatcher =
                Dispatcher::with(&config, outbox.clone(), sender(), Duration::from_millis(50));
            eventually("the first delivery and a failed retry", || {
                receiver.received.lock().unwrap().len() >= 3
            })
            .await;
        });
        controller.shutdown_timeout(Duration::from_secs(5));
    }
    assert_eq!(receiver.delivered().len(), 1);
    receiver.script.lock().unwrap().clear();

    let db = crate::storage::open_test_db(dir.path().join("db"));
    let outbox = Outbox::open(&db).unwrap();
    assert_eq!(outbox.pending("hook"), 2);
    runtime.block_on(async {
        let _dispatcher =
            Dispatcher::with(&config, outbox.clone(), sender(), Duration::from_millis(50));
        eventually("the rest delivered", || outbox.pending("hook") == 0).await;
        tokio::time::sleep(Duration::from_millis(1500)).await;
    });
    let summaries: Vec<String> = receiver
        .delivered()
        .iter()
        .map(|r| {
            serde_json::from_str::<serde_json::Value>(&r.body).unwrap()["summary"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(summaries, ["one", "two", "three"]);
}

#[test]
fn every_event_kind_reads_back_from_its_word() {
    for kind in crate::alerts::EventKind::ALL {
        assert_eq!(
            crate::alerts::EventKind::from_word(kind.as_str()),
            Some(kind)
        );
    }
    assert_eq!(crate::alerts::EventKind::from_word("opened\u{0}"), None);
}
