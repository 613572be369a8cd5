//! Memory per active series (issue 20 §6): ingests the benchmark data set copied onto many
//! agents (default 100 agents x 300 series = 30,000 series) for several hours of 15 s scrapes,
//! checkpointing every hour of data as the controller does, and prints the heap the store
//! holds per series at points along the way (the open heads fill for an hour, then are
//! sealed and start again, so the steady state is the average over an hour, not the first
//! seconds).
//!
//! Memory is the process' resident set (`VmRSS` in `/proc/self/status`, as the issue's
//! figures) now minus before the store was opened, read when no report is alive; so it is the
//! store's memory (series index, open heads, pending chunks, chunk file and rollup maps,
//! sled), not the whole controller's. The open heads' heap is also printed exactly
//! (`SeriesStats::head_bytes`). A global counting allocator would be exact, but the workspace
//! forbids `unsafe` code, benches included.
//!
//! Run: `MIMALLOC_PURGE_DELAY=0 cargo bench -p unity-controller --bench series_memory`;
//! `UNITY_BENCH_COPIES` (agents per host of the data set, default 10) and `UNITY_BENCH_HOURS`
//! (default 3) change the size. Without `MIMALLOC_PURGE_DELAY=0` mimalloc hands the memory
//! freed while the data set is read back to the system only later, during the ingest, and the
//! figures come out negative (2026-12-08: -3.2 KiB per series).
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

mod bench_data;
use bench_data::{locate, read_index, read_samples, Series};
use unity_controller::storage::series::{IngestReport, Sample, SeriesOptions, SeriesStore};

/// mimalloc, as the packaged controller uses (see `controller/src/main.rs`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The resident set in bytes.
fn rss_bytes() -> i64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    let kib: i64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024
}

const SCRAPE_MS: i64 = 15_000;
/// Scrapes per ingest call (each agent's report of a scrape is one report).
const STEPS_PER_CALL: usize = 2;
/// A checkpoint per hour of data.
const STEPS_PER_CHECKPOINT: usize = 240;

/// sled as `storage::Store::open` configures it (the bench measures the engine as it runs).
#[allow(clippy::disallowed_types)]
fn open_sled(path: &std::path::Path) -> sled::Db {
    sled::Config::new()
        .path(path)
        .cache_capacity(64 * 1024 * 1024)
        .open()
        .unwrap()
}

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let copies = env_or("UNITY_BENCH_COPIES", 10);
    let hours = env_or("UNITY_BENCH_HOURS", 3);
    let (csv, index) = locate();
    let mut series = read_index(&index);
    read_samples(&csv, &mut series);
    let n_steps = (hours * 3_600_000 / SCRAPE_MS as usize)
        .min(series.iter().map(|s| s.points.len()).min().unwrap_or(0));
    for s in &mut series {
        s.points.truncate(n_steps);
        s.points.shrink_to_fit();
    }
    // One agent per host and copy, each with its own copy of the host's series.
    let mut agents: Vec<(String, Vec<&Series>)> = Vec::new();
    for copy in 0..copies {
        let mut by_host: std::collections::BTreeMap<&str, Vec<&Series>> = Default::default();
        for s in &series {
            by_host.entry(&s.agent).or_default().push(s);
        }
        agents.extend(
            by_host
                .into_iter()
                .map(|(host, members)| (format!("{host}-copy{copy}"), members)),
        );
    }
    let n_series: usize = agents.iter().map(|(_, members)| members.len()).sum();
    println!(
        "{} agents x {} series = {n_series} series, {n_steps} scrapes of 15 s ({hours} h)",
        agents.len(),
        n_series / agents.len().max(1)
    );

    let root = tempfile::tempdir().unwrap();
    let before = rss_bytes();
    let db = open_sled(&root.path().join("db"));
    let store = SeriesStore::open(
        &db,
        SeriesOptions {
            wal_dir: Some(root.path().join("db-wal")),
            chunk_dir: Some(root.path().join("db-chunks")),
            ..SeriesOptions::default()
        },
    )
    .unwrap();
    let marks = [2, 10, 60, 120, 239, 240, 360, 480, 600, 719, 720];
    let mut seq = 0;
    let started = Instant::now();
    let mut sum_per_series = 0.0;
    let mut n_measured = 0usize;
    println!("scrapes  samples/series in heads  RSS bytes/series  open heads' heap bytes/series");
    for step in (0..n_steps).step_by(STEPS_PER_CALL) {
        let end = (step + STEPS_PER_CALL).min(n_steps);
        {
            let mut reports = Vec::new();
            for k in step..end {
                seq += 1;
                for (agent, members) in &agents {
                    reports.push(IngestReport {
                        agent: agent.clone(),
                        seq,
                        samples: members
                            .iter()
                            .map(|s| Sample {
                                series: s.key.clone(),
                                timestamp_ms: s.points[k].0,
                                value: s.points[k].1,
                            })
                            .collect(),
                    });
                }
            }
            store.ingest(&reports).unwrap();
        }
        if end / STEPS_PER_CHECKPOINT != step / STEPS_PER_CHECKPOINT {
            store.checkpoint().unwrap();
        }
        let per_series = (rss_bytes() - before) as f64 / n_series as f64;
        // The steady state: every scrape of the hours after the first.
        if end > STEPS_PER_CHECKPOINT {
            sum_per_series += per_series;
            n_measured += 1;
        }
        if marks.iter().any(|&mark| (step..end).contains(&(mark - 1))) || end == n_steps {
            let stats = store.stats();
            println!(
                "{end:>7}  {:>24.1}  {per_series:>16.0}  {:>8.0}",
                stats.head_samples as f64 / n_series as f64,
                stats.head_bytes as f64 / n_series as f64
            );
        }
    }
    println!(
        "ingest: {:.1} s for {} samples (with checkpoints; the machine is shared, timings are noisy)",
        started.elapsed().as_secs_f64(),
        n_steps * n_series
    );
    if n_measured > 0 {
        println!(
            "steady state (mean after every call past the first hour): {:.0} bytes = {:.2} KiB per series",
            sum_per_series / n_measured as f64,
            sum_per_series / n_measured as f64 / 1024.0
        );
    }
}
