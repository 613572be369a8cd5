//! The exporter against a real VictoriaMetrics and a real Prometheus from Debian on loopback
//! (TESTBED-2 section 7; `scripts/test` installs both): samples ingested through the series
//! store's ingest, the receiver stopped mid-stream while ingest goes on and started again,
//! the controller's store dropped mid-stream (the exporter task aborted as in a crash) and
//! reopened, then the receiver's raw samples compared with every stored sample: none
//! missing, none extra, repeats only as identical samples.
#![allow(clippy::disallowed_methods)] // The receivers are real processes.

use super::config::{self, RawRemoteWrite, RemoteWriteConfig};
use super::encode::{series_labels, SeriesIdentity};
use super::stats::RemoteWriteStats;
use super::worker::Exporter;
use crate::clock::now_ms;
use crate::storage::series::{IngestReport, Sample, SeriesKey, SeriesOptions, TimeRange};
use crate::storage::Store;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

/// Labels (sorted `name=value` pairs) -> the samples a receiver holds, repeats included.
type Stored = BTreeMap<Vec<(String, String)>, Vec<(i64, f64)>>;

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    VictoriaMetrics,
    Prometheus,
}

/// A receiver process over one data directory; killed when the test ends.
struct Receiver {
    kind: Kind,
    dir: PathBuf,
    port: u16,
    child: Option<Child>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Receiver {
    async fn start(kind: Kind, dir: &Path) -> Receiver {
        let mut receiver = Receiver {
            kind,
            dir: dir.to_owned(),
            port: free_port(),
            child: None,
        };
        receiver.restart().await;
        receiver
    }

    fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn write_url(&self) -> String {
        format!("{}/api/v1/write", self.base())
    }

    async fn restart(&mut self) {
        let log = std::fs::File::options()
            .create(true)
            .append(true)
            .open(self.dir.join("receiver.log"))
            .unwrap();
        let listen = format!("127.0.0.1:{}", self.port);
        let mut command = match self.kind {
            Kind::VictoriaMetrics => {
                let mut command = Command::new("victoria-metrics");
                command
                    .arg(format!(
                        "-storageDataPath={}",
                        self.dir.join("data").display()
                    ))
                    .arg(format!("-httpListenAddr={listen}"))
                    .arg("-search.latencyOffset=0s");
                command
            }
            Kind::Prometheus => {
                let config = self.dir.join("prometheus.yml");
                std::fs::write(&config, "global:\n  scrape_interval: 15s\n").unwrap();
                let mut command = Command::new("prometheus");
                command
                    .arg(format!("--config.file={}", config.display()))
                    .arg(format!(
                        "--storage.tsdb.path={}",
                        self.dir.join("data").display()
                    ))
                    .arg(format!("--web.listen-address={listen}"))
                    .arg("--web.enable-remote-write-receiver");
                command
            }
        };
        let child = command
            .stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap();
        self.child = Some(child);
        let ready = match self.kind {
            Kind::VictoriaMetrics => "/health",
            Kind::Prometheus => "/-/ready",
        };
        let client = crate::outbound::http_client(&crate::outbound::HttpOptions::new(
            std::time::Duration::from_secs(15),
        ))
        .unwrap();
        for _ in 0..200 {
            let url = format!("{}{ready}", self.base());
            if let Ok(response) = client.get(url).send().await {
                if response.status().is_success() {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "receiver not ready; see {}",
            self.dir.join("receiver.log").display()
        );
    }

    /// Stops the receiver mid-stream: Prometheus with SIGKILL (its write-ahead log has every
    /// acknowledged write), VictoriaMetrics with SIGTERM (it buffers acknowledged samples in
    /// memory for a second or so, which a SIGKILL would lose: its own durability, not ours).
    fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        match self.kind {
            Kind::Prometheus => child.kill().unwrap(),
            Kind::VictoriaMetrics => {
                let status = Command::new("kill")
                    .args(["-TERM", &child.id().to_string()])
                    .status()
                    .unwrap();
                assert!(status.success());
            }
        }
        child.wait().unwrap();
    }

    /// Every raw sample the receiver holds for `cluster="live"`.
    async fn stored(&self) -> Stored {
        let client = crate::outbound::http_client(&crate::outbound::HttpOptions::new(
            std::time::Duration::from_secs(15),
        ))
        .unwrap();
        let mut stored = Stored::new();
        match self.kind {
            Kind::VictoriaMetrics => {
                let flush = format!("{}/internal/force_flush", self.base());
                client.get(flush).send().await.unwrap();
                let url = with_query(
                    &format!("{}/api/v1/export", self.base()),
                    &[("match[]", "{cluster=\"live\"}")],
                );
                let text = client.get(url).send().await.unwrap().text().await.unwrap();
                for line in text.lines().filter(|line| !line.trim().is_empty()) {
                    let row: serde_json::Value = serde_json::from_str(line).unwrap();
                    let labels = labels_of(&row["metric"]);
                    let values = row["values"].as_array().unwrap();
                    let timestamps = row["timestamps"].as_array().unwrap();
                    let samples = stored.entry(labels).or_default();
                    for (ts, value) in timestamps.iter().zip(values) {
                        samples.push((ts.as_i64().unwrap(), value.as_f64().unwrap()));
                    }
                }
            }
            Kind::Prometheus => {
                let time = format!("{:.3}", now_ms() as f64 / 1000.0 + 60.0);
                let url = with_query(
                    &format!("{}/api/v1/query", self.base()),
                    &[("query", "{cluster=\"live\"}[1d]"), ("time", &time)],
                );
                let text = client.get(url).send().await.unwrap().text().await.unwrap();
                let answer: serde_json::Value = serde_json::from_str(&text).unwrap();
                assert_eq!(answer["status"], "success", "{answer}");
                for row in answer["data"]["result"].as_array().unwrap() {
                    let samples = stored.entry(labels_of(&row["metric"])).or_default();
                    for pair in row["values"].as_array().unwrap() {
                        let ts = (pair[0].as_f64().unwrap() * 1000.0).round() as i64;
                        let value: f64 = pair[1].as_str().unwrap().parse().unwrap();
                        samples.push((ts, value));
                    }
                }
            }
        }
        stored
    }
}

fn with_query(base: &str, pairs: &[(&str, &str)]) -> String {
    let mut url = url::Url::parse(base).unwrap();
    url.query_pairs_mut().extend_pairs(pairs);
    url.to_string()
}

fn labels_of(metric: &serde_json::Value) -> Vec<(String, String)> {
    let mut labels: Vec<(String, String)> = metric
        .as_object()
        .unwrap()
        .iter()
        .map(|(name, value)| (name.clone(), value.as_str().unwrap().to_owned()))
        .collect();
    labels.sort();
    labels
}

/// Two agents, three series each (one name and one label that need sanitising).
fn series_keys() -> Vec<SeriesKey> {
    vec![
        SeriesKey::new("cpu_usage_ratio", vec![("cpu".into(), "0".into())]),
        SeriesKey::new("disk.used-bytes", vec![("mount.point".into(), "/".into())]),
        SeriesKey::new("load1", Vec::new()),
    ]
}

const AGENTS: [&str; 2] = ["agent-a", "agent-b"];

/// Ingests `n_steps` reports per agent, one sample per series each, 5 s apart from
/// `first_ts`; values are exact in binary and in VictoriaMetrics' decimal form.
fn ingest(store: &Store, first_step: i64, n_steps: i64, first_ts: i64) {
    for step in first_step..first_step + n_steps {
        let reports: Vec<IngestReport> = AGENTS
            .iter()
            .enumerate()
            .map(|(agent_index, agent)| IngestReport {
                agent: (*agent).into(),
                seq: step as u64 + 1,
                samples: series_keys()
                    .into_iter()
                    .enumerate()
                    .map(|(series_index, series)| Sample {
                        series,
                        timestamp_ms: first_ts + step * 5_000,
                        value: ((agent_index * 3 + series_index) as f64 * 1000.0 + step as f64)
                            / 4.0,
                    })
                    .collect(),
            })
            .collect();
        store.series.ingest(&reports).unwrap();
    }
}

/// What the receiver must hold: every stored sample under its mapped labels.
fn expected(store: &Store, endpoint: &RemoteWriteConfig) -> Stored {
    let all: Vec<u64> = (0..100).collect();
    let mut expected = Stored::new();
    for series in store.series.series_by_id(&all).unwrap() {
        let labels = series_labels(
            SeriesIdentity {
                metric: &series.key.metric,
                labels: &series.key.labels,
                agent_id: &series.agent,
                host: &series.agent,
                plugin: false,
            },
            &endpoint.labels,
        );
        let labels: Vec<(String, String)> = labels
            .into_iter()
            .map(|label| (label.name, label.value))
            .collect();
        let range = TimeRange {
            from_ms: i64::MIN,
            to_ms: i64::MAX,
        };
        let points = store.series.series_points(series.series_id, range).unwrap();
        expected.insert(labels, points);
    }
    expected
}

fn endpoint(url: &str) -> RemoteWriteConfig {
    let raw = RawRemoteWrite {
        url: url.into(),
        name: Some("live".into()),
        batch_max_samples: Some(10),
        interval: Some("50ms".into()),
        max_backoff: Some("300ms".into()),
        timeout: Some("5s".into()),
        labels: Some([("cluster".to_owned(), "live".to_owned())].into()),
        ..RawRemoteWrite::default()
    };
    config::from_raw(vec![raw]).unwrap().remove(0)
}

async fn wait_for(what: &str, mut condition: impl FnMut() -> bool) {
    for _ in 0..1200 {
        if condition() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("timed out waiting for {what}");
}

async fn survives_receiver_and_controller_restarts(kind: Kind) {
    let dir = tempfile::tempdir().unwrap();
    let receiver_dir = dir.path().join("receiver");
    std::fs::create_dir_all(&receiver_dir).unwrap();
    let mut receiver = Receiver::start(kind, &receiver_dir).await;
    let endpoint = endpoint(&receiver.write_url());
    let db = dir.path().join("db");
    // Recent timestamps: Prometheus takes samples within an hour of its newest only.
    let first_ts = (now_ms() - 30 * 60 * 1000) / 1000 * 1000;

    let store = Arc::new(Store::open(&db, SeriesOptions::default()).unwrap());
    ingest(&store, 0, 100, first_ts);
    let stats = Arc::new(RemoteWriteStats::default());
    let exporter = Exporter::new(store.clone(), endpoint.clone(), stats.clone()).unwrap();
    let task = tokio::spawn(exporter.run());
    let sent = |stats: &RemoteWriteStats| stats.snapshot()["live"].samples_sent;
    wait_for("the first batches", || sent(&stats) >= 60).await;
    // Mid-stream (600 samples in batches of 10): the receiver goes away, ingest goes on.
    receiver.stop();
    ingest(&store, 100, 100, first_ts);
    let failed = |stats: &RemoteWriteStats| stats.snapshot()["live"].samples_failed;
    wait_for("failed attempts", || failed(&stats) > 0).await;
    let sent_while_down = sent(&stats);
    assert!(sent_while_down < 1200, "{sent_while_down}");
    receiver.restart().await;
    wait_for("progress after the receiver's restart", || {
        sent(&stats) >= sent_while_down + 100
    })
    .await;
    // The controller stops mid-stream: the task is aborted wherever it is (a batch may be
    // in flight or delivered but not recorded), the store dropped without a checkpoint.
    task.abort();
    assert!(task.await.unwrap_err().is_cancelled());
    assert!(sent(&stats) < 1200, "the restart must come mid-stream");
    drop(store);

    let store = Arc::new(Store::open(&db, SeriesOptions::default()).unwrap());
    ingest(&store, 200, 50, first_ts);
    let ingested_at = now_ms();
    let stats = Arc::new(RemoteWriteStats::default());
    let exporter = Exporter::new(store.clone(), endpoint.clone(), stats.clone()).unwrap();
    let task = tokio::spawn(exporter.run());
    wait_for("catching up", || {
        stats.snapshot()["live"]
            .caught_up_at_ms
            .is_some_and(|at| at > ingested_at)
    })
    .await;
    assert_eq!(stats.snapshot()["live"].samples_dropped, 0);

    let expected = expected(&store, &endpoint);
    assert_eq!(expected.len(), 6);
    assert!(expected.values().all(|points| points.len() == 250));
    let mut stored = receiver.stored().await;
    for _ in 0..40 {
        if stored.values().map(Vec::len).sum::<usize>() >= 1500 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
        stored = receiver.stored().await;
    }
    assert_eq!(
        stored.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>()
    );
    for (labels, points) in &expected {
        let mut received = stored[labels].clone();
        received.sort_by_key(|sample| sample.0);
        // Repeats only as identical samples.
        for pair in received.windows(2) {
            if pair[0].0 == pair[1].0 {
                assert_eq!(pair[0].1.to_bits(), pair[1].1.to_bits(), "{labels:?}");
            }
        }
        received.dedup_by_key(|sample| sample.0);
        assert_eq!(&received, points, "{labels:?}");
    }
    task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_write_live_victoria_metrics_gets_every_stored_sample_across_restarts() {
    survives_receiver_and_controller_restarts(Kind::VictoriaMetrics).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_write_live_prometheus_gets_every_stored_sample_across_restarts() {
    survives_receiver_and_controller_restarts(Kind::Prometheus).await;
}

/// A receiver that refuses a batch for good (VictoriaMetrics answers 400 on a path it does
/// not serve): the samples are counted as dropped, not retried, and the positions move past
/// them, so the next pass has nothing to send.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_write_live_refused_batches_are_dropped_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let receiver_dir = dir.path().join("receiver");
    std::fs::create_dir_all(&receiver_dir).unwrap();
    let receiver = Receiver::start(Kind::VictoriaMetrics, &receiver_dir).await;
    let endpoint = endpoint(&format!("{}/api/v1/not-a-write-path", receiver.base()));
    let store = Arc::new(Store::open(&dir.path().join("db"), SeriesOptions::default()).unwrap());
    ingest(&store, 0, 30, now_ms() - 600_000);
    let stats = Arc::new(RemoteWriteStats::default());
    let mut exporter = Exporter::new(store.clone(), endpoint, stats.clone()).unwrap();
    exporter.resume().await.unwrap();
    assert_eq!(exporter.pass().await.unwrap(), 180);
    let counters = stats.snapshot()["live"];
    assert_eq!(
        (
            counters.samples_sent,
            counters.samples_failed,
            counters.samples_dropped
        ),
        (0, 0, 180)
    );
    assert_eq!(exporter.pass().await.unwrap(), 0);
    let (positions, in_flight) = store.remote_write.load("live").unwrap();
    assert_eq!(positions.len(), 6);
    assert_eq!(in_flight, None);
    assert!(receiver.stored().await.is_empty());
}
