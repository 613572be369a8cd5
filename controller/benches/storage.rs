//! Storage engine benchmark: ingests the realistic host-metrics data set (10 hosts x 300
//! series x 24 h at 15 s) through `SeriesStore` and prints throughput, bytes on disk per
//! sample and query latency, and reads every series back to check it bit for bit.
//!
//! Data: `$UNITY_BENCH_DATA` (a directory holding `hostmetrics.csv.gz` and
//! `hostmetrics-series.csv`), else `target/bench-data/`, generated on first use with
//! `python3 $UNITY_BENCH_GENERATOR` (default `../shared/bench/gen_hostmetrics.py` from the
//! workspace root). Run: `cargo bench -p unity-controller --bench storage`.
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

mod bench_data;
use bench_data::{read_index, read_samples, Series};
use unity_controller::storage::series::{
    IngestReport, Sample, SeriesOptions, SeriesStore, TimeRange,
};

/// Scrapes (15 s steps) per ingest call; 10 hosts each, so 200 reports = 60,000 samples.
const STEPS_PER_CALL: usize = 20;
/// Checkpoint every hour of data by default (`UNITY_BENCH_CHECKPOINT_STEPS`), as the
/// controller does periodically.
const STEPS_PER_CHECKPOINT: usize = 240;

/// mimalloc, as the packaged controller uses (see `controller/src/main.rs`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let (csv, index) = bench_data::locate();

    let started = Instant::now();
    let mut series = read_index(&index);
    read_samples(&csv, &mut series);
    let n_samples: usize = series.iter().map(|s| s.points.len()).sum();
    println!(
        "data set:                 {} series, {n_samples} samples ({:.1} s to load)",
        series.len(),
        started.elapsed().as_secs_f64()
    );
    let series_options = SeriesOptions::default();
    let max_chunk_samples = std::env::var("UNITY_BENCH_CHUNK_SAMPLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(series_options.max_chunk_samples);
    let max_chunk_span_ms = std::env::var("UNITY_BENCH_CHUNK_HOURS")
        .ok()
        .and_then(|v| v.parse::<i64>().ok())
        .map_or(series_options.max_chunk_span_ms, |hours| hours * 3_600_000);
    let root = tempfile::tempdir().unwrap();
    let db_path = root.path().join("db");
    let wal_path = root.path().join("db-wal");
    let chunk_path = root.path().join("db-chunks");
    let options = SeriesOptions {
        wal_dir: Some(wal_path.clone()),
        chunk_dir: Some(chunk_path.clone()),
        max_chunk_samples,
        max_chunk_span_ms,
        ..series_options
    };
    println!(
        "chunk cut rule:           {} samples or {} h",
        options.max_chunk_samples,
        options.max_chunk_span_ms / 3_600_000
    );

    let db = sled_config(&db_path).open().unwrap();
    let store = SeriesStore::open(&db, options.clone()).unwrap();

    // One report per host per scrape, grouped into ingest calls.
    let mut hosts: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (position, s) in series.iter().enumerate() {
        hosts.entry(s.agent.as_str()).or_default().push(position);
    }
    let n_steps = series.iter().map(|s| s.points.len()).max().unwrap_or(0);
    let steps_per_checkpoint = std::env::var("UNITY_BENCH_CHECKPOINT_STEPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(STEPS_PER_CHECKPOINT);
    println!("checkpoint every:         {steps_per_checkpoint} scrapes");
    let mut ingest_time = Duration::ZERO;
    let mut checkpoint_time = Duration::ZERO;
    let mut n_calls = 0;
    let mut largest_wal = 0;
    let mut largest_heads = 0;
    let mut step = 0;
    while step < n_steps {
        let end = (step + STEPS_PER_CALL).min(n_steps);
        let mut reports = Vec::new();
        for k in step..end {
            for (agent, members) in &hosts {
                let samples = members
                    .iter()
                    .filter_map(|&position| {
                        let s = &series[position];
                        s.points.get(k).map(|&(timestamp_ms, value)| Sample {
                            series: s.key.clone(),
                            timestamp_ms,
                            value,
                        })
                    })
                    .collect();
                reports.push(IngestReport {
                    agent: (*agent).to_owned(),
                    seq: k as u64 + 1,
                    samples,
                });
            }
        }
        let started = Instant::now();
        store.ingest(&reports).unwrap();
        ingest_time += started.elapsed();
        n_calls += 1;
        let stats = store.stats();
        largest_wal = largest_wal.max(stats.wal_bytes);
        largest_heads = largest_heads.max(stats.head_samples);
        if end / steps_per_checkpoint != step / steps_per_checkpoint {
            let started = Instant::now();
            store.checkpoint().unwrap();
            checkpoint_time += started.elapsed();
        }
        step = end;
    }
    let started = Instant::now();
    store.checkpoint().unwrap();
    db.flush().unwrap();
    checkpoint_time += started.elapsed();

    let stats = store.stats();
    assert_eq!(stats.n_samples as usize, n_samples, "every sample stored");
    let total = ingest_time + checkpoint_time;
    println!(
        "ingest calls:             {n_calls} x {} reports ({} samples each)",
        STEPS_PER_CALL * hosts.len(),
        STEPS_PER_CALL * series.len()
    );
    println!(
        "ingest (fsynced):         {:.2} s = {:.0} samples/s",
        ingest_time.as_secs_f64(),
        n_samples as f64 / ingest_time.as_secs_f64()
    );
    println!(
        "ingest + checkpoints:     {:.2} s = {:.0} samples/s",
        total.as_secs_f64(),
        n_samples as f64 / total.as_secs_f64()
    );
    let sled_bytes = dir_size(&db_path);
    let wal_bytes = dir_size(&wal_path);
    // The rollup tiers live in the chunk directory too; the raw figure leaves them out.
    let rollup_bytes =
        dir_size(&chunk_path.join("rollups-5m")) + dir_size(&chunk_path.join("rollups-1h"));
    let chunk_file_bytes = dir_size(&chunk_path) - rollup_bytes;
    let per_sample = |bytes: u64| bytes as f64 / n_samples as f64;
    println!(
        "sled directory:           {sled_bytes} bytes = {:.3} bytes/sample ({} files, {} bytes allocated)",
        per_sample(sled_bytes),
        count_files(&db_path),
        allocated(&db_path)
    );
    for entry in std::fs::read_dir(&db_path).unwrap() {
        let entry = entry.unwrap();
        println!(
            "  {:<22}  {} bytes",
            entry.file_name().to_string_lossy(),
            dir_size_or_len(&entry.path())
        );
    }
    println!(
        "WAL directory:            {wal_bytes} bytes = {:.3} bytes/sample ({} samples in open heads)",
        per_sample(wal_bytes),
        stats.head_samples
    );
    println!(
        "chunk files:              {chunk_file_bytes} bytes = {:.3} bytes/sample ({} files)",
        per_sample(chunk_file_bytes),
        count_files(&chunk_path)
    );
    println!(
        "rollup files (5m + 1h):   {rollup_bytes} bytes (not in the raw figures; see the tiers bench)"
    );
    let total_bytes = sled_bytes + wal_bytes + chunk_file_bytes;
    println!(
        "on disk in total:         {total_bytes} bytes = {:.3} bytes/sample",
        per_sample(total_bytes)
    );
    println!(
        "largest WAL during run:   {largest_wal} bytes; most samples in open heads: {largest_heads}"
    );
    println!(
        "chunk values:             {} bytes in {} chunks = {:.3} bytes/sample",
        stats.chunk_bytes,
        stats.n_chunks,
        stats.chunk_bytes as f64 / n_samples as f64
    );

    // Query one series over 24 h (timed; every series is checked below).
    let probe = &series[0];
    let range = TimeRange {
        from_ms: probe.points[0].0,
        to_ms: probe.points[probe.points.len() - 1].0 + 1,
    };
    let matchers = probe.key.labels.clone();
    let started = Instant::now();
    let result = store
        .query(&probe.agent, &probe.key.metric, &matchers, range)
        .unwrap();
    let query_time = started.elapsed();
    let got = &result
        .iter()
        .find(|s| s.series == probe.key)
        .unwrap()
        .points;
    let bits = |p: &[(i64, f64)]| p.iter().map(|&(t, v)| (t, v.to_bits())).collect::<Vec<_>>();
    assert_eq!(bits(got), bits(&probe.points), "query returns the input");
    println!(
        "query 1 series x 24 h:    {:.3} ms ({} points), first query after the ingest",
        query_time.as_secs_f64() * 1e3,
        got.len()
    );
    let started = Instant::now();
    let again = store
        .query(&probe.agent, &probe.key.metric, &matchers, range)
        .unwrap();
    println!(
        "  again (warm):            {:.3} ms ({} series)",
        started.elapsed().as_secs_f64() * 1e3,
        again.len()
    );
    let started = Instant::now();
    let all = store
        .query(&probe.agent, "node_cpu_seconds_total", &[], range)
        .unwrap();
    println!(
        "query 32 series x 24 h:   {:.3} ms ({} points)",
        started.elapsed().as_secs_f64() * 1e3,
        all.iter().map(|s| s.points.len()).sum::<usize>()
    );

    verify_every_series(&store, &series);

    drop(store);
    drop(db);
    let started = Instant::now();
    let db = sled_config(&db_path).open().unwrap();
    let store = SeriesStore::open(&db, options.clone()).unwrap();
    println!(
        "reopen:                   {:.2} s ({} samples)",
        started.elapsed().as_secs_f64(),
        store.stats().n_samples
    );
    drop(store);
    drop(db);
    if std::env::var("UNITY_BENCH_30D").as_deref() != Ok("0") {
        month_query(&series, probe, options);
    }
}

/// Reads every series back over its whole day and checks it against the input bit for bit
/// (timestamps, and values as their f64 bit patterns: NaN payloads and -0.0 included).
fn verify_every_series(store: &SeriesStore, series: &[Series]) {
    let started = Instant::now();
    let mut n_points = 0;
    for s in series {
        let (Some(&(first, _)), Some(&(last, _))) = (s.points.first(), s.points.last()) else {
            continue;
        };
        let range = TimeRange {
            from_ms: first,
            to_ms: last + 1,
        };
        let result = store
            .query(&s.agent, &s.key.metric, &s.key.labels, range)
            .unwrap();
        let got = &result
            .iter()
            .find(|found| found.series == s.key)
            .unwrap_or_else(|| panic!("{} {:?} is missing", s.agent, s.key))
            .points;
        assert_eq!(
            got.len(),
            s.points.len(),
            "{} {:?}: point count",
            s.agent,
            s.key
        );
        for (got, want) in got.iter().zip(&s.points) {
            assert!(
                got.0 == want.0 && got.1.to_bits() == want.1.to_bits(),
                "{} {:?}: {got:?} instead of {want:?}",
                s.agent,
                s.key
            );
        }
        n_points += got.len();
    }
    println!(
        "verified bit for bit:     every series ({} series, {n_points} points) in {:.2} s",
        series.len(),
        started.elapsed().as_secs_f64()
    );
}

/// Repeats the probe host's 32 CPU series over 30 days (its day shifted by 24 h each
/// time, 5.5 M samples) in a store of its own, then queries one of them over 30 days
/// (360 buckets of 2 h). Skipped with `UNITY_BENCH_30D=0`.
fn month_query(series: &[Series], probe: &Series, options: SeriesOptions) {
    const DAYS: i64 = 30;
    // 200 scrapes of 32 series = 6,400 samples per ingest call.
    const MONTH_STEPS_PER_CALL: usize = 200;
    const DAY_MS: i64 = 86_400_000;
    let members: Vec<&Series> = series
        .iter()
        .filter(|s| s.agent == probe.agent && s.key.metric == probe.key.metric)
        .collect();
    let root = tempfile::tempdir().unwrap();
    let db = sled_config(&root.path().join("db")).open().unwrap();
    let options = SeriesOptions {
        wal_dir: Some(root.path().join("db-wal")),
        chunk_dir: Some(root.path().join("db-chunks")),
        ..options
    };
    let store = SeriesStore::open(&db, options).unwrap();
    let n_steps = members.iter().map(|s| s.points.len()).min().unwrap_or(0);
    let started = Instant::now();
    let mut seq = 0;
    for day in 0..DAYS {
        for step in (0..n_steps).step_by(MONTH_STEPS_PER_CALL) {
            let end = (step + MONTH_STEPS_PER_CALL).min(n_steps);
            let reports: Vec<IngestReport> = (step..end)
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
            if end / STEPS_PER_CHECKPOINT != step / STEPS_PER_CHECKPOINT {
                store.checkpoint().unwrap();
            }
        }
    }
    store.checkpoint().unwrap();
    let ingest_secs = started.elapsed().as_secs_f64();
    let first = probe.points[0].0;
    let timed = |days: i64| {
        let range = TimeRange {
            from_ms: first,
            to_ms: first + days * DAY_MS,
        };
        let started = Instant::now();
        let result = store
            .query(&probe.agent, &probe.key.metric, &probe.key.labels, range)
            .unwrap();
        let elapsed = started.elapsed();
        let n_points: usize = result.iter().map(|s| s.points.len()).sum();
        (elapsed.as_secs_f64() * 1e3, n_points)
    };
    let (day_ms, day_points) = timed(1);
    let (month_ms, month_points) = timed(DAYS);
    assert_eq!(
        month_points,
        DAYS as usize * n_steps,
        "every point of 30 days"
    );
    println!(
        "30-day store:             {} series x {DAYS} days = {} samples ({ingest_secs:.1} s to build)",
        members.len(),
        store.stats().n_samples
    );
    println!("  query 1 series x 24 h:  {day_ms:.3} ms ({day_points} points)");
    println!("  query 1 series x 30 d:  {month_ms:.3} ms ({month_points} points)");
}

/// sled as `storage::Store::open` configures it; `UNITY_BENCH_SLED_SEGMENT` overrides
/// sled's segment size (bytes, a power of two; default 512 KiB). The benchmark measures the
/// storage engine under its own configuration, so it names sled here.
#[allow(clippy::disallowed_types)]
fn sled_config(path: &Path) -> sled::Config {
    let config = sled::Config::new()
        .path(path)
        .cache_capacity(64 * 1024 * 1024);
    match std::env::var("UNITY_BENCH_SLED_SEGMENT")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        Some(segment_size) => config.segment_size(segment_size),
        None => config,
    }
}

fn dir_size_or_len(path: &Path) -> u64 {
    if path.is_dir() {
        dir_size(path)
    } else {
        std::fs::metadata(path).unwrap().len()
    }
}

/// Files under `path`, recursively.
fn count_files(path: &Path) -> u64 {
    std::fs::read_dir(path)
        .unwrap()
        .map(|entry| {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_dir() {
                count_files(&entry.path())
            } else {
                1
            }
        })
        .sum()
}

/// Bytes of disk blocks allocated under `path`, recursively.
fn allocated(path: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::read_dir(path)
        .unwrap()
        .map(|entry| {
            let entry = entry.unwrap();
            let metadata = entry.metadata().unwrap();
            if metadata.is_dir() {
                allocated(&entry.path())
            } else {
                metadata.blocks() * 512
            }
        })
        .sum()
}

fn dir_size(path: &Path) -> u64 {
    let mut total = 0;
    for entry in std::fs::read_dir(path).unwrap() {
        let entry = entry.unwrap();
        let metadata = entry.metadata().unwrap();
        total += if metadata.is_dir() {
            dir_size(&entry.path())
        } else {
            metadata.len()
        };
    }
    total
}
