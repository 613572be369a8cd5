//! Issue 18's footprint target for service checks: what 50 checks (25 HTTP with a keyword, 25
//! TCP) add to the agent's resident memory against none, measured in one process with the
//! agent's own runner (`service_checks::run_one`, 16 at once as the daemon's loop runs them),
//! each round's results turned into series and a postcard report as the spool writes it.
//! The servers answer from one plain thread started before the baseline. Rounds run back to
//! back (the interval only spaces them). Prints figures (BENCHMARKS.md, "Service checks").
//!
//!     cargo bench -p unity-agent --bench service_checks_footprint

#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

use futures_util::stream::{self, StreamExt};
use std::io::{Read, Write};
use std::net::TcpListener;
use unity_agent::collect::series::Sink;
use unity_agent::service_checks::{run_one, samples, tls::Roots, Runner};
use unity_shared::model::service::{ServiceCheck, ServiceCheckKind};

fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// One thread answering every connection with a small page.
fn server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut request = [0u8; 1024];
            let _ = stream.read(&mut request);
            let _ = stream.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Length: 26\r\n\r\n<h1>Welcome to the NAS</h1>",
            );
        }
    });
    port
}

fn checks(port: u16) -> Vec<ServiceCheck> {
    (0..50)
        .map(|n| ServiceCheck {
            name: format!("check-{n}"),
            kind: if n % 2 == 0 {
                ServiceCheckKind::Http {
                    url: format!("http://127.0.0.1:{port}/status/{n}"),
                    status_min: 200,
                    status_max: 399,
                    keyword: Some("Welcome".into()),
                    tls_verify: true,
                }
            } else {
                ServiceCheckKind::Tcp {
                    host: "127.0.0.1".into(),
                    port,
                }
            },
            interval_secs: 30,
            timeout_ms: 5_000,
        })
        .collect()
}

fn main() {
    let port = server();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .max_blocking_threads(2)
        .build()
        .unwrap();
    let runner = Runner {
        roots: Roots::system(),
    };
    let checks = checks(port);
    runtime.block_on(async {
        // Warm the runtime and the allocator with what every agent has: none.
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    });
    let before = status_kib("VmRSS:");
    let mut report_bytes = 0;
    let mut after = Vec::new();
    for round in 1..=40 {
        let results: Vec<_> = runtime.block_on(
            stream::iter(&checks)
                .map(|check| run_one(&runner, check, 0))
                .buffered(16)
                .collect(),
        );
        assert!(results.iter().all(|result| result.up), "{results:?}");
        let mut sink = Sink {
            timestamp_ms: 0,
            samples: Vec::new(),
        };
        samples(&mut sink, &results);
        report_bytes = postcard::to_allocvec(&(sink.samples, results))
            .unwrap()
            .len();
        if [1, 10, 40].contains(&round) {
            after.push((round, status_kib("VmRSS:")));
        }
    }
    let peak = status_kib("VmHWM:");
    println!("service checks: 50 (25 http with keyword, 25 tcp), 16 at once");
    println!("RSS before (no checks): {before} KiB");
    for (round, rss) in &after {
        println!(
            "RSS after round {round}: {rss} KiB (+{} KiB)",
            rss.saturating_sub(before)
        );
    }
    println!(
        "peak RSS: {peak} KiB (+{} KiB)",
        peak.saturating_sub(before)
    );
    println!("one round's series and results as postcard: {report_bytes} bytes");
}
