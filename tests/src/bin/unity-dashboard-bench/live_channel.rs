//! The live channel under load: 100 browsers (100 sessions) hold `/events/overview` open, asking
//! for gzip as browsers do (the stream must come uncompressed, or cards would wait in the
//! compressor), while bursts of reports flow through the real ingest writer. Prints the
//! controller's extra RSS (this process's `VmRSS`; the controller runs in it) and how long a
//! burst takes to reach all 100 streams.

use super::fill::{agent, host_series, live_samples};
use super::percentiles;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use unity_controller::storage::series::IngestReport;

const N_CLIENTS: usize = 100;
const N_ROUNDS: u64 = 20;

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
pub async fn measure(
    controller: &unity_controller::service::RunningController,
    n_hosts: usize,
    first_seq: u64,
) {
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
                agent: agent(host),
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
