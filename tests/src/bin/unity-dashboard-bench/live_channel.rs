//! The live channel under load: 100 browsers (100 sessions) hold `/events/overview` open, asking
//! for gzip as browsers do (the stream must come uncompressed, or cards would wait in the
//! compressor), while bursts of reports flow through the real ingest writer. Prints how long a
//! burst takes to reach all 100 streams and the controller's extra memory (this process's
//! resident set; the controller runs in it).
//!
//! The memory baseline is not taken right after the fill: a rehearsal first opens the same 100
//! streams, drives a few bursts and closes them (the renderer, its channel and the writer warm;
//! the allocator reuses what the fill and the page requests freed in exited threads instead of
//! handing it back in the middle of the measurement), then the resident set is read every
//! second until it stops falling. The peak is `VmHWM` after a reset (`/proc/self/clear_refs`)
//! at the baseline. Both include the 100 client ends of the streams, which live in this process
//! too (sockets' user buffers and the bench's parsing tasks), so the extra is an upper bound
//! for the controller's.

use super::fill::{agent, host_series, live_samples};
use super::percentiles;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use unity_controller::storage::series::IngestReport;

const N_CLIENTS: usize = 100;
const N_ROUNDS: u64 = 20;
/// Bursts of the rehearsal before the baseline.
const WARM_ROUNDS: u64 = 4;

/// Resident set figures of this process in KiB, from `/proc/self/status`.
#[derive(Clone, Copy)]
struct Rss {
    /// `VmRSS`.
    total: i64,
    /// `RssAnon`: the heap and stacks.
    anon: i64,
    /// `VmHWM`: the peak since start or since the last [`reset_peak`].
    peak: i64,
}

fn rss() -> Rss {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let field = |name: &str| -> i64 {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap()
    };
    Rss {
        total: field("VmRSS:"),
        anon: field("RssAnon:"),
        peak: field("VmHWM:"),
    }
}

/// Resets `VmHWM` to the current resident set.
fn reset_peak() {
    std::fs::write("/proc/self/clear_refs", "5").unwrap();
}

fn mib(kib: i64) -> f64 {
    kib as f64 / 1024.0
}

/// Reads the resident set every second until it has not fallen by more than 256 KiB over the
/// last five readings (at least 12 s, so idle blocking threads have exited; at most 90 s).
async fn settled_rss(label: &str) -> Rss {
    let started = Instant::now();
    let mut readings = vec![rss()];
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        readings.push(rss());
        let last = readings.len() - 1;
        let stable =
            last >= 5 && readings[last - 5].total - readings[last].total <= 256 && last >= 12;
        if stable || started.elapsed() > Duration::from_secs(90) {
            println!(
                "live channel: RSS settling {label}: {} MiB (read every second for {} s)",
                readings
                    .iter()
                    .map(|r| format!("{:.1}", mib(r.total)))
                    .collect::<Vec<_>>()
                    .join(" "),
                last
            );
            return readings[last];
        }
    }
}

/// Submits one burst: a quarter of the fleet (by `round`) reports, host 0 among them.
async fn burst(ctx: &unity_controller::context::Context, n_hosts: usize, round: u64, seq: u64) {
    let series = host_series();
    for host in (0..n_hosts).filter(|host| host % 4 == (round as usize) % 4 || *host == 0) {
        let report = IngestReport {
            agent: agent(host),
            seq,
            samples: live_samples(&series, host, unity_controller::clock::now_ms()),
        };
        // Not waiting for the durable acknowledgement: only the cards' arrival is timed.
        let _acknowledgement = ctx.ingest.submit(report, false).await;
    }
}

/// Opens one stream per cookie; each counts the `card` events about host 0 into `seen`.
async fn open_streams(
    controller: &unity_controller::service::RunningController,
    cookies: &[String],
    seen: &Arc<AtomicUsize>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let mut streams = Vec::with_capacity(cookies.len());
    for cookie in cookies {
        let mut stream =
            unity_tests::sse::EventStream::open(controller.api_addr, "/events/overview", cookie)
                .await
                .unwrap();
        let seen = seen.clone();
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
    streams
}

/// Runs `n_rounds` bursts and waits after each until host 0's card reached every stream;
/// returns each burst's delivery time and the reports sent.
async fn bursts(
    ctx: &unity_controller::context::Context,
    n_hosts: usize,
    n_streams: usize,
    seen: &AtomicUsize,
    n_rounds: u64,
    seq: &mut u64,
) -> (Vec<Duration>, usize) {
    let mut delivery = Vec::new();
    let mut n_reports = 0;
    for round in 0..n_rounds {
        let started = Instant::now();
        burst(ctx, n_hosts, round, *seq).await;
        *seq += 1;
        n_reports += (0..n_hosts)
            .filter(|host| host % 4 == (round as usize) % 4 || *host == 0)
            .count();
        let want = n_streams * (round as usize + 1);
        while seen.load(Ordering::SeqCst) < want {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "round {round}: cards did not arrive"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        delivery.push(started.elapsed());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    (delivery, n_reports)
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
    let mut seq = first_seq + 1;
    // A rehearsal: the same streams and a few bursts, then closed. It warms the path (the
    // renderer, its channel, the writer) and makes the allocator reuse what the fill and the
    // page requests freed in exited threads, which otherwise it hands back to the system in
    // the middle of the measurement (the first runs read "-45 MiB extra").
    let untouched = settled_rss("before the rehearsal").await;
    let seen = Arc::new(AtomicUsize::new(0));
    let streams = open_streams(controller, &cookies, &seen).await;
    bursts(&ctx, n_hosts, N_CLIENTS, &seen, WARM_ROUNDS, &mut seq).await;
    let rehearsal = rss();
    for stream in streams {
        stream.abort();
    }
    let before = settled_rss("after the rehearsal, streams closed").await;
    reset_peak();

    let seen = Arc::new(AtomicUsize::new(0));
    let streams = open_streams(controller, &cookies, &seen).await;
    let opened = rss();
    let (delivery, n_reports) = bursts(&ctx, n_hosts, N_CLIENTS, &seen, N_ROUNDS, &mut seq).await;
    let after_bursts = rss();
    let settled = settled_rss("with the streams open, after the bursts").await;
    let (p50, p95, max) = percentiles(delivery);
    println!(
        "live channel: {N_CLIENTS} streams, {n_reports} reports in {N_ROUNDS} bursts; report burst -> card on all {N_CLIENTS} streams p50 {p50:.0} ms p95 {p95:.0} ms max {max:.0} ms"
    );
    println!(
        "live channel: rehearsal ({WARM_ROUNDS} bursts) RSS {:.1} -> {:.1} MiB; closed and settled {:.1} MiB",
        mib(untouched.total),
        mib(rehearsal.total),
        mib(before.total)
    );
    let extra = |now: i64| mib(now - before.total);
    println!(
        "live channel: RSS before the streams (settled) {:.1} MiB (anon {:.1}); 100 streams opened {:+.1} MiB; after the bursts {:+.1} MiB (anon {:+.1}); settled with the streams open {:+.1} MiB (anon {:+.1}); peak {:+.1} MiB",
        mib(before.total),
        mib(before.anon),
        extra(opened.total),
        extra(after_bursts.total),
        mib(after_bursts.anon - before.anon),
        extra(settled.total),
        mib(settled.anon - before.anon),
        extra(settled.peak),
    );
    for stream in streams {
        stream.abort();
    }
}
