//! Issue 22's performance target: parsing a 10,000-series exposition takes under 20 ms, and
//! memory grows by less than 2 MiB while doing it. Prints figures; no harness.
//!
//! `cargo bench -p unity-agent --bench plugins_parse`
//!
//! What is timed is what the agent does per source: parse (Prometheus text format), apply
//! the caps, add the `source` label and intern every string into the report's batch
//! (`collect::plugins::samples::ingest`), then `finish` the batch. The input is generated:
//! node_exporter-like families with `# HELP`/`# TYPE`, counters and gauges with two or three
//! labels, histograms with `le` buckets and summaries with quantiles, some escaped label
//! values, 10,000 sample lines in all. Memory is the process' resident set (`/proc/self/status`):
//! the peak is reset (`/proc/self/clear_refs`) after the input is built, so the growth is the
//! parse's own.

#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};
use unity_agent::collect::plugins::batch::BatchBuilder;
use unity_agent::collect::plugins::parse::Format;
use unity_agent::collect::plugins::samples::{self, Origin};
use unity_agent::collect::plugins::Caps;
use unity_shared::model::plugin::SourceKind;

const N_SERIES: usize = 10_000;

/// A node_exporter-like exposition with exactly `n` sample lines.
fn exposition(n: usize) -> String {
    let mut text = String::new();
    let mut lines = 0;
    let mut family = 0;
    while lines < n {
        let name = format!("node_family_{family}");
        match family % 4 {
            0 => {
                text.push_str(&format!(
                    "# HELP {name}_seconds_total Seconds the CPUs spent in each mode.\n# TYPE {name}_seconds_total counter\n"
                ));
                for cpu in 0..16 {
                    for mode in [
                        "idle", "iowait", "irq", "nice", "softirq", "steal", "system", "user",
                    ] {
                        if lines < n {
                            text.push_str(&format!(
                                "{name}_seconds_total{{cpu=\"{cpu}\",mode=\"{mode}\"}} {}.{:02}\n",
                                lines * 37,
                                lines % 100
                            ));
                            lines += 1;
                        }
                    }
                }
            }
            1 => {
                text.push_str(&format!(
                    "# HELP {name}_bytes Filesystem size in bytes.\n# TYPE {name}_bytes gauge\n"
                ));
                for device in 0..50 {
                    if lines < n {
                        text.push_str(&format!(
                            "{name}_bytes{{device=\"/dev/sd{device}\",fstype=\"ext4\",mountpoint=\"/srv/data \\\"{device}\\\"\"}} {}e+09\n",
                            device + 1
                        ));
                        lines += 1;
                    }
                }
            }
            2 => {
                text.push_str(&format!(
                    "# HELP {name}_duration_seconds Request latency.\n# TYPE {name}_duration_seconds histogram\n"
                ));
                for handler in ["/", "/api", "/metrics", "/login"] {
                    let mut cumulative = 0;
                    for le in [
                        "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5",
                        "10", "+Inf",
                    ] {
                        cumulative += 7;
                        if lines < n {
                            text.push_str(&format!(
                                "{name}_duration_seconds_bucket{{handler=\"{handler}\",le=\"{le}\"}} {cumulative}\n"
                            ));
                            lines += 1;
                        }
                    }
                    for suffix in ["sum", "count"] {
                        if lines < n {
                            text.push_str(&format!(
                                "{name}_duration_seconds_{suffix}{{handler=\"{handler}\"}} {cumulative}\n"
                            ));
                            lines += 1;
                        }
                    }
                }
            }
            _ => {
                text.push_str(&format!(
                    "# HELP {name}_gc_seconds GC pauses.\n# TYPE {name}_gc_seconds summary\n"
                ));
                for quantile in ["0", "0.25", "0.5", "0.75", "1"] {
                    if lines < n {
                        text.push_str(&format!(
                            "{name}_gc_seconds{{quantile=\"{quantile}\"}} 1.5e-05\n"
                        ));
                        lines += 1;
                    }
                }
            }
        }
        family += 1;
    }
    text
}

fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .unwrap()
}

/// One source into a fresh batch, as the agent does it; returns the series taken.
fn ingest_once(text: &[u8], caps: &Caps) -> (u32, usize) {
    let mut batch = BatchBuilder::default();
    let status = samples::ingest(
        &mut batch,
        Origin {
            kind: SourceKind::Exporter,
            source: "exporter/node",
            location: "http://127.0.0.1:9100/metrics",
            line_offset: 0,
        },
        text,
        Format::Prometheus,
        caps,
        1_700_000_000_000,
    );
    assert_eq!(status.n_errors, 0, "{:?}", status.errors);
    let finished = batch.finish();
    (status.n_series, finished.samples.len())
}

fn main() {
    let text = exposition(N_SERIES);
    let caps = Caps::default();
    println!(
        "input: {N_SERIES} series, {} bytes, {} lines",
        text.len(),
        text.lines().count()
    );

    // Memory of the first parse, the one that allocates everything for the first time.
    std::fs::write("/proc/self/clear_refs", "5").expect("resetting the peak RSS (Linux >= 4.0)");
    let rss_before = status_kib("VmRSS:");
    let (n_series, n_samples) = ingest_once(text.as_bytes(), &caps);
    let peak_after = status_kib("VmHWM:");
    let rss_after = status_kib("VmRSS:");
    assert_eq!(n_series as usize, N_SERIES);
    assert_eq!(n_samples, N_SERIES);

    let mut times: Vec<Duration> = (0..200)
        .map(|_| {
            let started = Instant::now();
            let taken = ingest_once(text.as_bytes(), &caps);
            let took = started.elapsed();
            assert_eq!(taken.0 as usize, N_SERIES);
            took
        })
        .collect();
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let rss_end = status_kib("VmRSS:");
    println!(
        "parse + caps + batch of {N_SERIES} series (200 runs): min {:.2} ms, median {:.2} ms, p99 {:.2} ms, max {:.2} ms (target < 20 ms)",
        ms(times[0]),
        ms(times[100]),
        ms(times[197]),
        ms(times[199]),
    );
    println!(
        "RSS: {rss_before} KiB before, peak {peak_after} KiB during the first parse (+{} KiB), {rss_after} KiB after it, {rss_end} KiB after 200 more (target: growth < 2048 KiB)",
        peak_after.saturating_sub(rss_before)
    );
}
