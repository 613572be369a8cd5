//! Tests of the rollup tiers on a real store (`rollup_store.rs`, `tier_query.rs`,
//! `retention_store.rs`): built as raw buckets end, identical after every restart, rebuilt
//! after a crash between sealing and rolling up, updated (never doubled) by late samples,
//! and retention per tier and metric family under a driven clock.

use std::path::Path;

use super::retention::{FamilyRetention, MetricPattern, RetentionPolicy, TierRetention};
use super::rollup::{coarsen, rollup, Aggregate, Tier};
use super::rollup_store::tier_dir;
use super::tests::open;
use super::{IngestReport, Point, Sample, SeriesKey, SeriesOptions, SeriesStore, TimeRange};

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;
/// 2026-11-01T00:00:00Z.
const T0: i64 = 1_793_491_200_000;
const EVERYTHING: TimeRange = TimeRange {
    from_ms: T0 - DAY,
    to_ms: T0 + 400 * DAY,
};

fn cpu() -> SeriesKey {
    SeriesKey::new("cpu_usage_ratio", vec![("cpu".into(), "total".into())])
}

fn smart() -> SeriesKey {
    SeriesKey::new(
        "smart_power_on_hours",
        vec![("device".into(), "/dev/sda".into())],
    )
}

/// Scrapes every `step` from `from` (inclusive) to `to` (exclusive), with a 3-hour gap on
/// day 2: the CPU as a two-decimal gauge, the power-on hours as a counter.
fn scrapes(from: i64, to: i64, step: i64) -> Vec<(i64, f64, f64)> {
    let gap = (T0 + 2 * DAY + 5 * HOUR)..(T0 + 2 * DAY + 8 * HOUR);
    (0..)
        .map(|k| from + k * step)
        .take_while(|&ts| ts < to)
        .filter(|ts| !gap.contains(ts))
        .map(|ts| {
            let k = (ts - T0) / step;
            let load = ((k % 97) as f64 * 1.7 + (k % 13) as f64).round() / 100.0;
            (ts, load, 1000.0 + ((ts - T0) / HOUR) as f64)
        })
        .collect()
}

fn ingest(store: &SeriesStore, agent: &str, seq: &mut u64, scrapes: &[(i64, f64, f64)]) {
    for batch in scrapes.chunks(100) {
        let reports: Vec<IngestReport> = batch
            .iter()
            .map(|&(ts, load, hours)| {
                *seq += 1;
                IngestReport {
                    agent: agent.into(),
                    seq: *seq,
                    samples: vec![
                        Sample {
                            series: cpu(),
                            timestamp_ms: ts,
                            value: load,
                        },
                        Sample {
                            series: smart(),
                            timestamp_ms: ts,
                            value: hours,
                        },
                    ],
                }
            })
            .collect();
        store.ingest(&reports).unwrap();
    }
}

fn expected(points: &[Point], tier: Tier) -> Vec<Aggregate> {
    let five = rollup(points, Tier::FiveMinutes.step_ms());
    match tier {
        Tier::OneHour => coarsen(&five, tier.step_ms()),
        _ => five,
    }
}

fn bits(aggregates: &[Aggregate]) -> Vec<[u64; 6]> {
    aggregates
        .iter()
        .map(|a| {
            let f = f64::to_bits;
            let start = a.start_ms as u64;
            [start, f(a.min), f(a.max), f(a.sum), a.count, f(a.last)]
        })
        .collect()
}

fn tier_of(store: &SeriesStore, agent: &str, key: &SeriesKey, tier: Tier) -> Vec<Aggregate> {
    let found = store
        .query_tier(agent, &key.metric, &key.labels, EVERYTHING, tier)
        .unwrap();
    found
        .into_iter()
        .find(|series| &series.series == key)
        .map(|series| series.aggregates)
        .unwrap_or_default()
}

#[track_caller]
fn check_tiers(store: &SeriesStore, agent: &str, sent: &[(i64, f64, f64)]) {
    let cpu_points: Vec<Point> = sent.iter().map(|s| (s.0, s.1)).collect();
    let smart_points: Vec<Point> = sent.iter().map(|s| (s.0, s.2)).collect();
    for tier in Tier::ROLLUPS {
        assert_eq!(
            bits(&tier_of(store, agent, &cpu(), tier)),
            bits(&expected(&cpu_points, tier)),
            "cpu, {tier:?}"
        );
        assert_eq!(
            bits(&tier_of(store, agent, &smart(), tier)),
            bits(&expected(&smart_points, tier)),
            "smart, {tier:?}"
        );
    }
}

fn n_files(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map(|entries| entries.flatten().count())
        .unwrap_or(0)
}

#[test]
fn rollups_are_exact_across_restarts_and_rebuilt_after_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let chunks = dir.path().join("chunks");
    let mut sent = Vec::new();
    let mut seq = 0;
    for day in 0..5 {
        let (db, store) = open(dir.path(), SeriesOptions::default());
        // What was rolled up before the restart answers the same.
        check_tiers(&store, "nas", &sent);
        let today = scrapes(T0 + day * DAY, T0 + (day + 1) * DAY, MINUTE);
        for quarter in today.chunks(360) {
            ingest(&store, "nas", &mut seq, quarter);
            sent.extend_from_slice(quarter);
            store.checkpoint().unwrap();
            // Rolled-up buckets, raw buckets and heads together: every sample once.
            check_tiers(&store, "nas", &sent);
        }
        drop(store);
        drop(db);
        match day {
            // A crash after the 5-minute files were written, before the 1-hour ones.
            1 => {
                let hour_dir = tier_dir(&chunks, Tier::OneHour);
                for entry in std::fs::read_dir(&hour_dir).unwrap().flatten() {
                    std::fs::remove_file(entry.path()).unwrap();
                }
            }
            // A crash between sealing and rolling up at all.
            2 => {
                for tier in Tier::ROLLUPS {
                    std::fs::remove_dir_all(tier_dir(&chunks, tier)).unwrap();
                }
            }
            // A rewrite cut short: the older file of a period is still there.
            3 => {
                let five_dir = tier_dir(&chunks, Tier::FiveMinutes);
                let newest = std::fs::read_dir(&five_dir)
                    .unwrap()
                    .flatten()
                    .map(|entry| entry.path())
                    .max()
                    .unwrap();
                let name = newest.file_name().unwrap().to_str().unwrap();
                let (period, number) = name.split_once('_').unwrap();
                assert_ne!(number, "0.chunks");
                let older = five_dir.join(format!("{period}_0.chunks"));
                std::fs::copy(&newest, &older).unwrap();
                std::fs::write(five_dir.join("9_99.chunks.tmp"), b"torn").unwrap();
            }
            _ => {}
        }
    }
    let (_db, store) = open(dir.path(), SeriesOptions::default());
    store.checkpoint().unwrap();
    check_tiers(&store, "nas", &sent);
    // Five days: one 5-minute file per day, the current one included; one 1-hour file.
    assert!(n_files(&tier_dir(&chunks, Tier::FiveMinutes)) >= 4);
    assert!((1..=2).contains(&n_files(&tier_dir(&chunks, Tier::OneHour))));
    // Everything but the newest buckets is served from the files.
    let files = store.read_state().files.clone();
    let stale = store.stale_buckets(&files);
    assert!(stale.is_empty(), "{stale:?}");
}

#[test]
fn late_samples_roll_up_again_without_double_counting() {
    let dir = tempfile::tempdir().unwrap();
    let (db, store) = open(dir.path(), SeriesOptions::default());
    let mut seq = 0;
    let sent = scrapes(T0, T0 + 3 * DAY, MINUTE);
    ingest(&store, "nas", &mut seq, &sent);
    store.checkpoint().unwrap();
    check_tiers(&store, "nas", &sent);
    // A host that was offline sends its spooled day 1 now: its buckets have ended and
    // were rolled up without it.
    let mut late_seq = 0;
    let late = scrapes(T0 + DAY, T0 + DAY + 6 * HOUR, MINUTE);
    ingest(&store, "laptop", &mut late_seq, &late);
    store.checkpoint().unwrap();
    check_tiers(&store, "laptop", &late);
    check_tiers(&store, "nas", &sent);
    let files = store.read_state().files.clone();
    assert!(store.stale_buckets(&files).is_empty());
    // And after a restart.
    drop(store);
    drop(db);
    let (_db, store) = open(dir.path(), SeriesOptions::default());
    check_tiers(&store, "laptop", &late);
    check_tiers(&store, "nas", &sent);
}

#[test]
fn retention_per_tier_and_family_follows_the_clock() {
    let dir = tempfile::tempdir().unwrap();
    let (db, store) = open(dir.path(), SeriesOptions::default());
    let mut seq = 0;
    let sent = scrapes(T0, T0 + 12 * DAY, 5 * MINUTE);
    ingest(&store, "nas", &mut seq, &sent);
    for _ in 0..4 {
        store.checkpoint().unwrap();
    }
    let keep = |raw: i64, five: i64, hour: i64| TierRetention {
        raw_ms: raw * DAY,
        five_minutes_ms: five * DAY,
        one_hour_ms: hour * DAY,
    };
    let policy = RetentionPolicy {
        default: keep(2, 5, 30),
        families: vec![FamilyRetention {
            pattern: MetricPattern::parse("smart_*"),
            keep: keep(6, 8, 30),
        }],
    };
    let raw_first = |key: &SeriesKey| {
        store
            .query("nas", &key.metric, &key.labels, EVERYTHING)
            .unwrap()[0]
            .points[0]
            .0
    };
    let first_of = |key: &SeriesKey, tier| tier_of(&store, "nas", key, tier)[0].start_ms;
    let now = T0 + 12 * DAY;
    store.apply_retention_policy(&policy, now).unwrap();
    // Raw: CPU kept 2 days (whole 2 h buckets), SMART 6 days.
    assert_eq!(raw_first(&cpu()), now - 2 * DAY);
    assert_eq!(raw_first(&smart()), now - 6 * DAY);
    // The 5-minute tier keeps CPU 5 days (whole days), every bucket intact; the 1-hour tier
    // still holds everything, the hours whose raw samples are gone included.
    let cpu_points: Vec<Point> = sent.iter().map(|s| (s.0, s.1)).collect();
    let mut recent = expected(&cpu_points, Tier::FiveMinutes);
    recent.retain(|a| a.start_ms >= T0 + 7 * DAY);
    assert_eq!(
        bits(&tier_of(&store, "nas", &cpu(), Tier::FiveMinutes)),
        bits(&recent)
    );
    assert_eq!(first_of(&smart(), Tier::FiveMinutes), T0 + 4 * DAY);
    assert_eq!(
        bits(&tier_of(&store, "nas", &cpu(), Tier::OneHour)),
        bits(&expected(&cpu_points, Tier::OneHour))
    );
    // Later: the 5-minute tier keeps CPU 5 days, SMART 8.
    let now = T0 + 14 * DAY;
    store.apply_retention_policy(&policy, now).unwrap();
    assert_eq!(first_of(&cpu(), Tier::FiveMinutes), T0 + 9 * DAY);
    assert_eq!(first_of(&smart(), Tier::FiveMinutes), T0 + 6 * DAY);
    assert_eq!(first_of(&cpu(), Tier::OneHour), T0);
    // Reopened: the same.
    drop(store);
    drop(db);
    let (_db, store) = open(dir.path(), SeriesOptions::default());
    let first_of = |key: &SeriesKey, tier| tier_of(&store, "nas", key, tier)[0].start_ms;
    assert_eq!(first_of(&cpu(), Tier::FiveMinutes), T0 + 9 * DAY);
    assert_eq!(first_of(&smart(), Tier::FiveMinutes), T0 + 6 * DAY);
    // Past every tier's retention: nothing.
    store
        .apply_retention_policy(&policy, T0 + 60 * DAY)
        .unwrap();
    assert!(tier_of(&store, "nas", &smart(), Tier::OneHour).is_empty());
}
