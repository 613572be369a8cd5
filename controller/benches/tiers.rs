//! History tiers benchmark (issue 20 §3): the rollup tiers' bytes on the benchmark data,
//! the storage cost of a host kept 5 years (raw 30 d, 5-minute rollups 1 y, 1-hour rollups
//! 5 y, computed from the measured sizes per day), and the time of a 1-year chart query of
//! one series from the 1-hour tier.
//!
//! Run: `cargo bench -p unity-controller --bench tiers` (data as for the storage bench).
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::Instant;

mod bench_data;
use bench_data::{locate, read_index, read_samples, Series};
use unity_controller::storage::series::{
    IngestReport, Sample, SeriesOptions, SeriesStore, Tier, TimeRange,
};

const DAY_MS: i64 = 86_400_000;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let (csv, index) = locate();
    let mut series = read_index(&index);
    read_samples(&csv, &mut series);
    let n_hosts = {
        let mut agents: Vec<&str> = series.iter().map(|s| s.agent.as_str()).collect();
        agents.sort_unstable();
        agents.dedup();
        agents.len()
    };
    let n_samples: usize = series.iter().map(|s| s.points.len()).sum();
    println!(
        "data set:                 {} series on {n_hosts} hosts, {n_samples} samples",
        series.len()
    );
    day_costs(&series, n_hosts, n_samples);
    year_query(&series);
}

/// Ingests the day with a checkpoint per hour of data, then measures what each tier costs
/// per host and day, and extrapolates a 5-year host.
fn day_costs(series: &[Series], n_hosts: usize, n_samples: usize) {
    let root = tempfile::tempdir().unwrap();
    let (_db, store) = open(root.path());
    let n_steps = series.iter().map(|s| s.points.len()).max().unwrap_or(0);
    let mut seq = 0;
    let started = Instant::now();
    for step in (0..n_steps).step_by(20) {
        let mut reports = Vec::new();
        for k in step..(step + 20).min(n_steps) {
            seq += 1;
            let mut by_agent: std::collections::BTreeMap<&str, Vec<Sample>> = Default::default();
            for s in series {
                if let Some(&(timestamp_ms, value)) = s.points.get(k) {
                    by_agent.entry(&s.agent).or_default().push(Sample {
                        series: s.key.clone(),
                        timestamp_ms,
                        value,
                    });
                }
            }
            for (agent, samples) in by_agent {
                reports.push(IngestReport {
                    agent: agent.to_owned(),
                    seq,
                    samples,
                });
            }
        }
        store.ingest(&reports).unwrap();
        if (step + 20) % 240 == 0 {
            store.checkpoint().unwrap();
        }
    }
    store.checkpoint().unwrap();
    let ingest_secs = started.elapsed().as_secs_f64();
    let chunks = root.path().join("chunks");
    let five = dir_size(&chunks.join("rollups-5m"));
    let hour = dir_size(&chunks.join("rollups-1h"));
    let raw = dir_size(&chunks) - five - hour;
    // Buckets rolled up: all but the newest two 2 h buckets of the day.
    let first = series.iter().map(|s| s.points[0].0).min().unwrap_or(0);
    let last = series
        .iter()
        .map(|s| s.points[s.points.len() - 1].0)
        .max()
        .unwrap_or(0);
    let rolled_hours = {
        let span = 2 * 3_600_000;
        let (first_bucket, newest_bucket) = (first / span, last / span);
        ((newest_bucket - 1 - first_bucket).max(1) * 2) as f64
    };
    let per_host_day = |bytes: u64, hours: f64| bytes as f64 / n_hosts as f64 * 24.0 / hours;
    let raw_day = per_host_day(raw, (last - first) as f64 / 3_600_000.0);
    let five_day = per_host_day(five, rolled_hours);
    let hour_day = per_host_day(hour, rolled_hours);
    println!("ingest incl. checkpoints and rollups: {ingest_secs:.1} s");
    println!(
        "raw chunk files:          {raw} bytes = {:.3} bytes/sample = {:.0} bytes per host-day",
        raw as f64 / n_samples as f64,
        raw_day
    );
    println!("5-minute rollup files:    {five} bytes over {rolled_hours} h = {five_day:.0} bytes per host-day");
    println!("1-hour rollup files:      {hour} bytes over {rolled_hours} h = {hour_day:.0} bytes per host-day");
    let mib = |bytes: f64| bytes / (1024.0 * 1024.0);
    let (raw_5y, five_5y, hour_5y) = (raw_day * 30.0, five_day * 365.0, hour_day * 1826.0);
    println!(
        "a 5-year host ({} series): raw 30 d {:.1} MiB + 5m 1 y {:.1} MiB + 1h 5 y {:.1} MiB = {:.1} MiB",
        series.len() / n_hosts,
        mib(raw_5y),
        mib(five_5y),
        mib(hour_5y),
        mib(raw_5y + five_5y + hour_5y)
    );
    println!(
        "  without raw (rollups only): {:.1} MiB",
        mib(five_5y + hour_5y)
    );
}

/// A store holding one host's 32 CPU series for 365 days (the day repeated, at 60 s to keep
/// the build short: the 1-hour tier is the same size at any scrape interval), then a 1-year
/// chart query of one series from the 1-hour tier.
fn year_query(series: &[Series]) {
    const DAYS: i64 = 365;
    let probe = &series[0];
    let members: Vec<&Series> = series
        .iter()
        .filter(|s| s.agent == probe.agent && s.key.metric == probe.key.metric)
        .collect();
    let root = tempfile::tempdir().unwrap();
    let (_db, store) = open(root.path());
    let n_steps = members.iter().map(|s| s.points.len()).min().unwrap_or(0);
    let first = probe.points[0].0;
    let started = Instant::now();
    let mut seq = 0;
    for day in 0..DAYS {
        let reports: Vec<IngestReport> = (0..n_steps)
            .step_by(4)
            .map(|k| {
                seq += 1;
                IngestReport {
                    agent: probe.agent.clone(),
                    seq,
                    samples: members
                        .iter()
                        .map(|s| Sample {
                            series: s.key.clone(),
                            timestamp_ms: s.points[k].0 + day * DAY_MS,
                            value: s.points[k].1,
                        })
                        .collect(),
                }
            })
            .collect();
        store.ingest(&reports).unwrap();
        store.checkpoint().unwrap();
    }
    for _ in 0..2 {
        store.checkpoint().unwrap();
    }
    println!(
        "1-year store:             {} series x {DAYS} days ({:.1} s to build with rollups)",
        members.len(),
        started.elapsed().as_secs_f64()
    );
    let end = first + DAYS * DAY_MS;
    let range = TimeRange {
        from_ms: end - 365 * DAY_MS,
        to_ms: end,
    };
    let tier = unity_controller::storage::series::choose_tier(range.to_ms - range.from_ms, 10_000);
    assert_eq!(tier, Tier::OneHour);
    let mut times = Vec::new();
    let mut n_points = 0;
    for _ in 0..5 {
        let started = Instant::now();
        let result = store
            .query_tier(
                &probe.agent,
                &probe.key.metric,
                &probe.key.labels,
                range,
                tier,
            )
            .unwrap();
        times.push(started.elapsed().as_secs_f64() * 1e3);
        n_points = result
            .iter()
            .find(|s| s.series == probe.key)
            .map_or(0, |s| s.aggregates.len());
    }
    println!(
        "query 1 series x 1 year (1h tier): first {:.2} ms, then {:.2} ms ({n_points} buckets)",
        times[0],
        times[1..].iter().copied().fold(f64::MAX, f64::min)
    );
}

/// The engine with its own sled, as the storage bench opens it.
#[allow(clippy::disallowed_types)]
fn open(root: &Path) -> (sled::Db, SeriesStore) {
    let db = sled::Config::new().path(root.join("db")).open().unwrap();
    let options = SeriesOptions {
        wal_dir: Some(root.join("wal")),
        chunk_dir: Some(root.join("chunks")),
        ..SeriesOptions::default()
    };
    let store = SeriesStore::open(&db, options).unwrap();
    (db, store)
}

fn dir_size(path: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(path) else {
        return 0;
    };
    entries
        .flatten()
        .map(|entry| {
            let metadata = entry.metadata().unwrap();
            if metadata.is_dir() {
                dir_size(&entry.path())
            } else {
                metadata.len()
            }
        })
        .sum()
}
