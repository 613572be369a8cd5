//! Dashboard benchmark (issue 5): fills a controller with 500 hosts x 30 days of history, then
//! measures real HTTP requests: overview page, host page, the history API, plus the store's
//! 30-day query for one 15 s series without HTTP.
//!
//! Data: per host 20 system series at 5-minute resolution (8,640 points each over 30 days:
//! CPU total and two cores, memory x3, swap x2, load x3, uptime, one filesystem x3, network
//! x4, one temperature), and host 0's CPU total at 15 s (172,800 points) for the 30-day query.
//! That is 86.6 M samples, written through `SeriesStore::ingest` as the ingest writer does.
//!
//! Issue 19: the overview draws a card per host with four sparklines from the live feed's
//! rings; the bench fills each host's ring with the last hour at 30 s (as a running controller
//! has it) before measuring. Then the live channel: 100 browsers (100 sessions) hold
//! `/events/overview` open while reports flow through the real ingest writer; it prints the
//! controller's extra RSS (this process's VmRSS, the controller runs in it) and how long a
//! report takes to reach all 100 streams.
//!
//! Run: `cargo run --release -p unity-tests --bin unity-dashboard-bench`
//! (`UNITY_BENCH_HOSTS`, `UNITY_BENCH_DAYS`, `UNITY_BENCH_REQUESTS` scale it down for a try).

#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};
use unity_controller::storage::agents::AgentRecord;
use unity_controller::storage::series::{IngestReport, Sample, SeriesKey, TimeRange};
use unity_shared::proto::{AgentId, HostFacts};
use unity_tests::http::HttpClient;

/// mimalloc, as the packaged controller uses (see `controller/src/main.rs`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const STEP_MS: i64 = 5 * 60 * 1000;
const FINE_STEP_MS: i64 = 15 * 1000;

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

fn host_series() -> Vec<SeriesKey> {
    let key = |metric: &str, labels: &[(&str, &str)]| {
        SeriesKey::new(
            metric,
            labels
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    };
    let fs = [("device", "/dev/sda1"), ("fstype", "ext4"), ("mount", "/")];
    vec![
        key("cpu_usage_ratio", &[("cpu", "0")]),
        key("cpu_usage_ratio", &[("cpu", "1")]),
        key("memory_total_bytes", &[]),
        key("memory_available_bytes", &[]),
        key("memory_used_bytes", &[]),
        key("swap_total_bytes", &[]),
        key("swap_used_bytes", &[]),
        key("load_average", &[("period", "1m")]),
        key("load_average", &[("period", "5m")]),
        key("load_average", &[("period", "15m")]),
        key("uptime_seconds", &[]),
        key("filesystem_size_bytes", &fs),
        key("filesystem_available_bytes", &fs),
        key("filesystem_used_bytes", &fs),
        key("network_receive_bytes_total", &[("interface", "eth0")]),
        key("network_transmit_bytes_total", &[("interface", "eth0")]),
        key("network_receive_packets_total", &[("interface", "eth0")]),
        key("network_transmit_packets_total", &[("interface", "eth0")]),
        key("temperature_celsius", &[("sensor", "cpu")]),
    ]
}

/// A plausible value for series `index` of host `host` at step `step`.
fn value(index: usize, host: usize, step: i64) -> f64 {
    let phase = (step as f64 / 288.0 + host as f64 / 7.0) * std::f64::consts::TAU;
    match index {
        0 | 1 => (0.3 + 0.2 * phase.sin()).clamp(0.0, 1.0),
        2 | 5 | 11 => 16.0 * 1024.0 * 1024.0 * 1024.0,
        3 | 12 => 8e9 + 2e9 * phase.cos(),
        4 | 6 | 13 => 6e9 + 2e9 * phase.sin(),
        7..=9 => 1.0 + phase.sin().abs(),
        10 => (step * 300) as f64,
        14..=17 => (step as f64) * 1.5e6 * (1.0 + (host % 5) as f64),
        _ => 45.0 + 5.0 * phase.sin(),
    }
}

fn percentiles(mut samples: Vec<Duration>) -> (f64, f64, f64) {
    samples.sort();
    let at = |q: f64| {
        samples[((samples.len() as f64 - 1.0) * q).round() as usize].as_secs_f64() * 1000.0
    };
    (at(0.5), at(0.95), at(1.0))
}

async fn measure(client: &mut HttpClient, label: &str, paths: &[String]) {
    let mut times = Vec::with_capacity(paths.len());
    let mut bytes = 0;
    for path in paths {
        let started = Instant::now();
        let response = client.get(path).await;
        times.push(started.elapsed());
        assert_eq!(response.status, 200, "{path}: {}", response.text());
        bytes = response.body.len();
    }
    let (p50, p95, max) = percentiles(times);
    println!("{label:<44} p50 {p50:>7.2} ms   p95 {p95:>7.2} ms   max {max:>7.2} ms   ({} requests, {bytes} B each)", paths.len());
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n_hosts = env_or("UNITY_BENCH_HOSTS", 500);
    let n_days = env_or("UNITY_BENCH_DAYS", 30);
    let n_requests = env_or("UNITY_BENCH_REQUESTS", 200);
    let dir = tempfile::tempdir().unwrap();
    let controller = unity_tests::start_controller(unity_tests::controller_config(
        &dir.path().join("controller"),
    ))
    .await;
    let ctx = controller.context.clone();
    let now = unity_controller::clock::now_ms();
    let n_steps = (n_days as i64 * 86_400_000) / STEP_MS;
    let start_ms = now - n_steps * STEP_MS;
    let series = host_series();
    println!("data: {n_hosts} hosts x {} series x {n_steps} steps of 5 min ({n_days} d), host 0 CPU total at 15 s", series.len() + 1);

    let fill_started = Instant::now();
    let fill_ctx = ctx.clone();
    let n_samples = tokio::task::spawn_blocking(move || {
        let ctx = fill_ctx;
        let agents: Vec<String> = (0..n_hosts)
            .map(|host| format!("bench-{host:03}"))
            .collect();
        for (host, agent) in agents.iter().enumerate() {
            ctx.store
                .agents
                .put_agent(&AgentRecord {
                    agent_id: AgentId::new(agent.clone()).unwrap(),
                    hostname: format!("host-{host:03}"),
                    host: HostFacts {
                        hostname: format!("host-{host:03}"),
                        os: "Debian GNU/Linux".into(),
                        os_version: "12".into(),
                        kernel: "6.1.0".into(),
                        arch: "x86_64".into(),
                        cpu_model: "bench".into(),
                        n_cpus: 2,
                        memory_bytes: 16 << 30,
                    },
                    enrolled_at: start_ms / 1000,
                    certificate_serial: "00".into(),
                    certificate_not_after: now / 1000 + 86400 * 30,
                    revoked_at: None,
                    last_seen_ms: now - 60_000,
                    agent_version: "0.1.0".into(),
                    dropped_reports: 0,
                    install: unity_shared::proto::InstallKind::Deb,
                })
                .unwrap();
        }
        let fine = SeriesKey::new("cpu_usage_ratio", vec![("cpu".into(), "total".into())]);
        let mut n_samples: u64 = 0;
        let steps_per_call: i64 = 12;
        let mut step = 0;
        while step < n_steps {
            let mut reports = Vec::with_capacity(n_hosts * steps_per_call as usize);
            for offset in 0..steps_per_call.min(n_steps - step) {
                let this_step = step + offset;
                let timestamp_ms = start_ms + this_step * STEP_MS;
                for (host, agent) in agents.iter().enumerate() {
                    let mut samples: Vec<Sample> = series
                        .iter()
                        .enumerate()
                        .map(|(index, key)| Sample {
                            series: key.clone(),
                            timestamp_ms,
                            value: value(index, host, this_step),
                        })
                        .collect();
                    if host == 0 {
                        for fine_step in 0..(STEP_MS / FINE_STEP_MS) {
                            samples.push(Sample {
                                series: fine.clone(),
                                timestamp_ms: timestamp_ms + fine_step * FINE_STEP_MS,
                                value: value(0, 0, this_step) + fine_step as f64 / 100.0,
                            });
                        }
                    } else {
                        samples.push(Sample {
                            series: fine.clone(),
                            timestamp_ms,
                            value: value(0, host, this_step),
                        });
                    }
                    n_samples += samples.len() as u64;
                    reports.push(IngestReport {
                        agent: agent.clone(),
                        seq: this_step as u64 + 1,
                        samples,
                    });
                }
            }
            ctx.store.series.ingest(&reports).unwrap();
            step += steps_per_call;
            if step % (steps_per_call * 24 * 12) == 0 {
                ctx.store.series.checkpoint().unwrap();
            }
        }
        ctx.store.series.checkpoint().unwrap();
        ctx.store.flush().unwrap();
        n_samples
    })
    .await
    .unwrap();
    let fill_secs = fill_started.elapsed().as_secs_f64();
    println!(
        "filled {n_samples} samples in {fill_secs:.0} s ({:.2} M samples/s), database {:.0} MiB",
        n_samples as f64 / fill_secs / 1e6,
        ctx.store.size_on_disk().unwrap() as f64 / 1048576.0
    );

    // The live feed's rings, as an hour of 30 s reports leaves them.
    let series = host_series();
    for host in 0..n_hosts {
        let agent = format!("bench-{host:03}");
        for step in (0..120).rev() {
            let timestamp_ms = now - step * 30_000;
            let samples = live_samples(&series, host, timestamp_ms);
            ctx.ingest.live.observe(&agent, &samples);
        }
    }
    ctx.ingest.live.take_changed();

    // Authenticate as a browser would: an admin session cookie.
    let password = unity_tests::add_user(&controller, "bench", "admin").await;
    let mut client = unity_tests::logged_in_client(&controller, "bench", &password).await;
    let pick = |n: usize| format!("bench-{:03}", (n * 7919) % n_hosts);
    // Warm up: one of each.
    client.get("/").await;
    client.get(&format!("/hosts/{}", pick(1))).await;

    measure(
        &mut client,
        "overview page (GET /)",
        &vec!["/".to_owned(); n_requests.min(100)],
    )
    .await;
    let host_pages: Vec<String> = (0..n_requests)
        .map(|n| format!("/hosts/{}?range=30d", pick(n)))
        .collect();
    measure(&mut client, "host page (GET /hosts/{id})", &host_pages).await;
    let charts_24h: Vec<String> = (0..n_requests)
        .map(|n| {
            format!(
                "/api/v1/hosts/{}/query?metric=load_average&range=24h&max_points=600",
                pick(n)
            )
        })
        .collect();
    measure(
        &mut client,
        "chart data, 3 series x 24 h (API)",
        &charts_24h,
    )
    .await;
    let charts_30d: Vec<String> = (0..n_requests)
        .map(|n| {
            format!(
                "/api/v1/hosts/{}/query?metric=memory_used_bytes&range=30d&max_points=600",
                pick(n)
            )
        })
        .collect();
    measure(
        &mut client,
        "chart data, 1 series x 30 d at 5 min (API)",
        &charts_30d,
    )
    .await;
    let fine_30d = vec![
        "/api/v1/hosts/bench-000/query?metric=cpu_usage_ratio&labels=cpu=total&range=30d&max_points=1000".to_owned();
        n_requests.min(50)
    ];
    measure(
        &mut client,
        "chart data, 1 series x 30 d at 15 s (API)",
        &fine_30d,
    )
    .await;

    let query_ctx = ctx.clone();
    let (times, n_points) = tokio::task::spawn_blocking(move || {
        let range = TimeRange {
            from_ms: now - n_days as i64 * 86_400_000,
            to_ms: now + 1,
        };
        let matchers = vec![("cpu".to_owned(), "total".to_owned())];
        let mut times = Vec::new();
        let mut n_points = 0;
        for _ in 0..20 {
            let started = Instant::now();
            let result = query_ctx
                .store
                .series
                .query("bench-000", "cpu_usage_ratio", &matchers, range)
                .unwrap();
            times.push(started.elapsed());
            n_points = result[0].points.len();
        }
        (times, n_points)
    })
    .await
    .unwrap();
    let (p50, p95, max) = percentiles(times);
    println!(
        "{:<44} p50 {p50:>7.2} ms   p95 {p95:>7.2} ms   max {max:>7.2} ms   ({n_points} points)",
        "store query, 30 d of one 15 s series"
    );
    live_channel(&controller, n_hosts, n_steps as u64).await;
    controller.shutdown().await.unwrap();
}

/// One report's system samples for `host` at `timestamp_ms` (CPU total, memory, the
/// filesystem, network counters, temperature, uptime).
fn live_samples(series: &[SeriesKey], host: usize, timestamp_ms: i64) -> Vec<Sample> {
    let step = timestamp_ms / 30_000;
    let mut samples: Vec<Sample> = series
        .iter()
        .enumerate()
        .map(|(index, key)| Sample {
            series: key.clone(),
            timestamp_ms,
            value: value(index, host, step / 10),
        })
        .collect();
    samples.push(Sample {
        series: SeriesKey::new("cpu_usage_ratio", vec![("cpu".into(), "total".into())]),
        timestamp_ms,
        value: value(0, host, step),
    });
    samples
}

/// This process's resident set in KiB (`VmRSS`).
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// 100 browsers on `/events/overview` while reports flow: extra RSS and delivery time.
async fn live_channel(
    controller: &unity_controller::service::RunningController,
    n_hosts: usize,
    first_seq: u64,
) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    const N_CLIENTS: usize = 100;
    const N_ROUNDS: u64 = 20;
    let ctx = controller.context.clone();
    let password = unity_tests::add_user(controller, "live", "admin").await;
    let mut cookies = Vec::with_capacity(N_CLIENTS);
    for _ in 0..N_CLIENTS {
        let client = unity_tests::logged_in_client(controller, "live", &password).await;
        let cookie: Vec<String> = client
            .cookies
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect();
        cookies.push(cookie.join("; "));
    }
    let rss_before = rss_kib();
    let marker_seen = Arc::new(AtomicUsize::new(0));
    let mut streams = Vec::with_capacity(N_CLIENTS);
    for cookie in &cookies {
        let mut stream =
            unity_tests::sse::EventStream::open(controller.api_addr, "/events/overview", cookie)
                .await
                .unwrap();
        let seen = marker_seen.clone();
        streams.push(tokio::spawn(async move {
            let mut pending = String::new();
            while let Ok(text) = stream.next_text().await {
                pending.push_str(&text);
                while let Some(end) = pending.find("\n\n") {
                    if pending[..end].contains("data-agent=\"bench-000\"") {
                        seen.fetch_add(1, Ordering::SeqCst);
                    }
                    pending.drain(..end + 2);
                }
            }
        }));
    }
    let mut delivery = Vec::new();
    let mut n_reports = 0;
    let series = host_series();
    for (round, seq) in (0..N_ROUNDS).zip(first_seq + 1..) {
        // A burst: a quarter of the fleet reports, host 0 among them.
        let started = Instant::now();
        for host in (0..n_hosts).filter(|host| host % 4 == (round as usize) % 4 || *host == 0) {
            let report = IngestReport {
                agent: format!("bench-{host:03}"),
                seq,
                samples: live_samples(&series, host, unity_controller::clock::now_ms()),
            };
            // Not waiting for the durable acknowledgement: only the cards' arrival is timed.
            let _acknowledgement = ctx.ingest.submit(report, false).await;
            n_reports += 1;
        }
        let want = N_CLIENTS * (round as usize + 1);
        while marker_seen.load(Ordering::SeqCst) < want {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "round {round}: cards did not arrive"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        delivery.push(started.elapsed());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let rss_after = rss_kib();
    let (p50, p95, max) = percentiles(delivery);
    println!(
        "live channel: {N_CLIENTS} streams, {n_reports} reports in {N_ROUNDS} bursts; report burst -> card on all {N_CLIENTS} streams p50 {p50:.0} ms p95 {p95:.0} ms max {max:.0} ms"
    );
    println!(
        "live channel: controller RSS {:.1} MiB before the streams, {:.1} MiB with them open: {:.1} MiB extra",
        rss_before as f64 / 1024.0,
        rss_after as f64 / 1024.0,
        (rss_after as f64 - rss_before as f64) / 1024.0
    );
    for stream in streams {
        stream.abort();
    }
}
