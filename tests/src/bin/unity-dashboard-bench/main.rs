//! Dashboard benchmark (issue 5): fills a controller with 500 hosts x 30 days of history, then
//! measures real HTTP requests: overview page, host page, the history API, plus the store's
//! 30-day query for one 15 s series without HTTP.
//!
//! Data (`fill.rs`): per host 20 system series at 5-minute resolution (8,640 points each over
//! 30 days: CPU total and two cores, memory x3, swap x2, load x3, uptime, one filesystem x3,
//! network x4, one temperature), and host 0's CPU total at 15 s (172,800 points) for the
//! 30-day query. That is 86.6 M samples, written through `SeriesStore::ingest` as the ingest
//! writer does.
//!
//! Issue 19: the overview draws a card per host with four sparklines from the live feed's
//! rings; the bench fills each host's ring with the last hour at 30 s (as a running controller
//! has it) before measuring. Pages are requested as a browser does, accepting gzip: the
//! overview's weight is printed both as sent (gzip) and uncompressed. Then the live channel
//! (`live_channel.rs`): 100 browsers hold `/events/overview` open while reports flow.
//!
//! Run: `cargo run --release -p unity-tests --bin unity-dashboard-bench` (`--help` for the
//! options that scale it down for a try).

#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

mod fill;
mod live_channel;

use clap::Parser;
use std::io::Read;
use std::time::{Duration, Instant};
use unity_controller::storage::series::TimeRange;
use unity_tests::http::{HttpClient, HttpResponse};

/// mimalloc, as the packaged controller uses (see `controller/src/main.rs`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Measures the dashboard of an in-process controller filled with a fleet's history: page and
/// API latencies, the overview's weight (gzip and uncompressed), and 100 live-channel streams'
/// memory and delivery time. Figures go to BENCHMARKS.md ("Dashboard").
#[derive(Parser)]
#[command(name = "unity-dashboard-bench")]
struct Args {
    /// Hosts in the fleet (each with 20 series and an overview card).
    #[arg(long, env = "UNITY_BENCH_HOSTS", default_value_t = 500)]
    hosts: usize,
    /// Days of 5-minute history per host (the host page asks for 30 days).
    #[arg(long, env = "UNITY_BENCH_DAYS", default_value_t = 30)]
    days: usize,
    /// Requests per measured page or API call (the overview: at most 100).
    #[arg(long, env = "UNITY_BENCH_REQUESTS", default_value_t = 200)]
    requests: usize,
}

/// p50, p95 and max in milliseconds.
pub fn percentiles(mut samples: Vec<Duration>) -> (f64, f64, f64) {
    samples.sort();
    let at = |q: f64| {
        samples[((samples.len() as f64 - 1.0) * q).round() as usize].as_secs_f64() * 1000.0
    };
    (at(0.5), at(0.95), at(1.0))
}

/// A response's body as the page it is: gunzipped when it came compressed.
fn decoded(response: &HttpResponse) -> Vec<u8> {
    if response.header("content-encoding") != Some("gzip") {
        return response.body.clone();
    }
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(&response.body[..])
        .read_to_end(&mut out)
        .expect("a gzip body that decodes");
    out
}

/// Requests `paths` in turn (accepting gzip when `gzip`), prints the latencies and the last
/// response's size as sent and uncompressed; returns both sizes.
async fn measure(
    client: &mut HttpClient,
    label: &str,
    paths: &[String],
    gzip: bool,
) -> (usize, usize) {
    let accept: &[(&str, &str)] = if gzip {
        &[("Accept-Encoding", "gzip, deflate, br")]
    } else {
        &[]
    };
    let mut times = Vec::with_capacity(paths.len());
    let (mut sent, mut raw) = (0, 0);
    for path in paths {
        let started = Instant::now();
        let response = client.request("GET", path, accept, None).await.unwrap();
        times.push(started.elapsed());
        assert_eq!(response.status, 200, "{path}: {}", response.text());
        sent = response.body.len();
        raw = decoded(&response).len();
    }
    let (p50, p95, max) = percentiles(times);
    let size = if sent == raw {
        format!("{raw} B each")
    } else {
        format!("{sent} B gzip, {raw} B raw")
    };
    println!(
        "{label:<44} p50 {p50:>7.2} ms   p95 {p95:>7.2} ms   max {max:>7.2} ms   ({} requests, {size})",
        paths.len()
    );
    (sent, raw)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args = Args::parse();
    let (n_hosts, n_days, n_requests) = (args.hosts, args.days, args.requests);
    let dir = tempfile::tempdir().unwrap();
    let controller = unity_tests::start_controller(unity_tests::controller_config(
        &dir.path().join("controller"),
    ))
    .await;
    let ctx = controller.context.clone();
    let now = unity_controller::clock::now_ms();
    let n_steps = (n_days as i64 * 86_400_000) / fill::STEP_MS;
    println!("data: {n_hosts} hosts x {} series x {n_steps} steps of 5 min ({n_days} d), host 0 CPU total at 15 s", fill::host_series().len() + 1);

    let fill_started = Instant::now();
    let fill_ctx = ctx.clone();
    let n_samples =
        tokio::task::spawn_blocking(move || fill::history(&fill_ctx, n_hosts, n_steps, now))
            .await
            .unwrap();
    let fill_secs = fill_started.elapsed().as_secs_f64();
    println!(
        "filled {n_samples} samples in {fill_secs:.0} s ({:.2} M samples/s), database {:.0} MiB",
        n_samples as f64 / fill_secs / 1e6,
        ctx.store.size_on_disk().unwrap() as f64 / 1048576.0
    );

    fill::live_rings(&ctx, n_hosts, now);

    // Authenticate as a browser would: an admin session cookie.
    let password = unity_tests::add_user(&controller, "bench", "admin").await;
    let mut client = unity_tests::logged_in_client(&controller, "bench", &password).await;
    let pick = |n: usize| format!("bench-{:03}", (n * 7919) % n_hosts);
    // Warm up: one of each.
    client.get("/").await;
    client.get(&format!("/hosts/{}", pick(1))).await;

    let overview = vec!["/".to_owned(); n_requests.min(100)];
    let (gzip, raw) = measure(&mut client, "overview page (GET /, gzip)", &overview, true).await;
    measure(
        &mut client,
        "overview page (GET /, uncompressed)",
        &overview,
        false,
    )
    .await;
    println!(
        "overview weight, {n_hosts} hosts: {:.0} KB gzip (as sent to browsers), {:.0} KB uncompressed",
        gzip as f64 / 1000.0,
        raw as f64 / 1000.0
    );
    let host_pages: Vec<String> = (0..n_requests)
        .map(|n| format!("/hosts/{}?range=30d", pick(n)))
        .collect();
    measure(
        &mut client,
        "host page (GET /hosts/{id}, gzip)",
        &host_pages,
        true,
    )
    .await;
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
        true,
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
        true,
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
        true,
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
    live_channel::measure(&controller, n_hosts, n_steps as u64).await;
    controller.shutdown().await.unwrap();
}
