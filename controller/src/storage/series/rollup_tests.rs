//! Tests of the pure rollups (`rollup.rs`) and retention decisions (`retention.rs`).

use proptest::prelude::*;

use super::retention::{FamilyRetention, Fate, MetricPattern, RetentionPolicy, TierRetention};
use super::rollup::{
    choose_tier, coarsen, decode_block, encode_block, merge, rollup, Aggregate, Tier,
};
use super::Point;

const MINUTE: i64 = 60_000;
const FIVE: i64 = 5 * MINUTE;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;
/// 2026-11-01T00:00:00Z.
const T0: i64 = 1_793_491_200_000;

/// A day of a CPU-like gauge at 15 s, with a scrape gap of 40 minutes and a few jittered
/// timestamps, values with two decimals as agents report them.
fn gauge_day() -> Vec<Point> {
    (0..5760i64)
        .filter(|k| !(1000..1160).contains(k))
        .map(|k| {
            let jitter = (k * 7919) % 400;
            let value = ((k as f64 / 240.0).sin() * 30.0 + 40.0 + (k % 7) as f64).round() / 100.0;
            (T0 + k * 15_000 + jitter, value)
        })
        .collect()
}

fn bits(aggregates: &[Aggregate]) -> Vec<(i64, u64, u64, u64, u64, u64)> {
    aggregates
        .iter()
        .map(|a| {
            let f = f64::to_bits;
            (a.start_ms, f(a.min), f(a.max), f(a.sum), a.count, f(a.last))
        })
        .collect()
}

#[test]
fn five_minute_buckets_summarise_their_samples() {
    let points = gauge_day();
    let aggregates = rollup(&points, FIVE);
    // 288 buckets less the gap (160 scrapes = 40 min: 8 whole buckets).
    assert_eq!(aggregates.len(), 280);
    assert_eq!(aggregates.iter().map(|a| a.count).sum::<u64>(), 5600);
    for aggregate in &aggregates {
        let inside: Vec<f64> = points
            .iter()
            .filter(|p| p.0 >= aggregate.start_ms && p.0 < aggregate.start_ms + FIVE)
            .map(|p| p.1)
            .collect();
        assert_eq!(aggregate.count as usize, inside.len());
        assert_eq!(
            aggregate.min,
            inside.iter().copied().fold(f64::MAX, f64::min)
        );
        assert_eq!(
            aggregate.max,
            inside.iter().copied().fold(f64::MIN, f64::max)
        );
        assert_eq!(aggregate.last, *inside.last().unwrap());
        assert_eq!(aggregate.sum, inside.iter().sum::<f64>());
        assert_eq!(aggregate.start_ms % FIVE, 0);
    }
}

#[test]
fn nan_is_left_out_and_infinities_are_values() {
    let points = [
        (T0, f64::NAN),
        (T0 + 15_000, 2.0),
        (T0 + 30_000, f64::INFINITY),
        (T0 + 45_000, f64::NAN),
        (T0 + FIVE, f64::NAN),
        (T0 + 2 * FIVE, f64::NEG_INFINITY),
        (T0 + 2 * FIVE + 1, 1.0),
    ];
    let aggregates = rollup(&points, FIVE);
    // The bucket of NaN only does not exist.
    assert_eq!(aggregates.len(), 2);
    let first = aggregates[0];
    assert_eq!((first.count, first.min, first.max), (2, 2.0, f64::INFINITY));
    assert_eq!(first.last, f64::INFINITY, "the newest non-NaN value");
    let second = aggregates[1];
    assert_eq!(
        (second.min, second.max, second.last),
        (f64::NEG_INFINITY, 1.0, 1.0)
    );
    assert_eq!(second.sum, f64::NEG_INFINITY);
    // Encoded and decoded bit for bit.
    let block = encode_block(&aggregates, T0 - T0 % DAY);
    assert_eq!(
        bits(&decode_block(&block, T0 - T0 % DAY).unwrap()),
        bits(&aggregates)
    );
}

#[test]
fn one_hour_from_five_minutes_matches_one_hour_from_samples() {
    let points = gauge_day();
    let direct = rollup(&points, HOUR);
    let coarse = coarsen(&rollup(&points, FIVE), HOUR);
    assert_eq!(direct.len(), coarse.len());
    for (a, b) in direct.iter().zip(&coarse) {
        assert_eq!((a.start_ms, a.count), (b.start_ms, b.count));
        assert_eq!((a.min, a.max, a.last), (b.min, b.max, b.last));
        assert!((a.sum - b.sum).abs() <= 1e-9 * a.sum.abs().max(1.0));
    }
}

#[test]
fn every_block_decodes_to_what_was_encoded() {
    let aggregates = rollup(&gauge_day(), FIVE);
    let base = T0 - T0 % DAY;
    let block = encode_block(&aggregates, base);
    assert_eq!(
        bits(&decode_block(&block, base).unwrap()),
        bits(&aggregates)
    );
    assert_eq!(super::rollup::block_len(&block), aggregates.len() as u64);
    // Five columns of decimals and integers: a few bytes per bucket, not 40.
    assert!(block.len() < aggregates.len() * 8, "{} bytes", block.len());
    assert!(decode_block(&encode_block(&[], base), base)
        .unwrap()
        .is_empty());
    // Truncated and garbage input is an error, never a panic.
    for len in 0..block.len() {
        let _ = decode_block(&block[..len], base);
    }
    assert!(decode_block(&[5, 0, 200], base).is_err());
    let mut extra = block.clone();
    extra.push(0);
    assert!(decode_block(&extra, base).is_err());
}

#[test]
fn the_tier_follows_the_range() {
    let check = |range_ms: i64, tier: Tier| assert_eq!(choose_tier(range_ms, 10_000), tier);
    check(HOUR, Tier::Raw);
    check(DAY, Tier::Raw);
    check(41 * HOUR, Tier::Raw);
    check(7 * DAY, Tier::FiveMinutes);
    check(30 * DAY, Tier::FiveMinutes);
    check(90 * DAY, Tier::OneHour);
    check(365 * DAY, Tier::OneHour);
    check(5 * 365 * DAY, Tier::OneHour);
}

fn points_strategy() -> impl Strategy<Value = Vec<Point>> {
    let value = prop_oneof![
        8 => (0i64..10_000).prop_map(|v| v as f64 / 100.0),
        1 => Just(f64::NAN),
        1 => Just(f64::INFINITY),
        1 => any::<f64>(),
    ];
    prop::collection::vec((1i64..200_000, value), 1..400).prop_map(|steps| {
        let mut ts = T0 - 3 * FIVE;
        steps
            .into_iter()
            .map(|(step, value)| {
                ts += step;
                (ts, value)
            })
            .collect()
    })
}

proptest! {
    /// A bucket straddling a chunk boundary (or the edge of what was rolled up) merges to
    /// exactly what the whole gives.
    #[test]
    fn parts_merge_to_the_whole(points in points_strategy(), cuts in prop::collection::vec(0usize..400, 0..4)) {
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % (points.len() + 1)).collect();
        cuts.sort_unstable();
        cuts.push(points.len());
        let mut parts = Vec::new();
        let mut from = 0;
        for cut in cuts {
            parts.push(rollup(&points[from..cut], FIVE));
            from = cut;
        }
        let whole = rollup(&points, FIVE);
        let merged = merge(parts);
        prop_assert_eq!(merged.len(), whole.len());
        for (a, b) in merged.iter().zip(&whole) {
            prop_assert_eq!((a.start_ms, a.count), (b.start_ms, b.count));
            prop_assert_eq!((a.min.to_bits(), a.max.to_bits(), a.last.to_bits()), (b.min.to_bits(), b.max.to_bits(), b.last.to_bits()));
            let close = a.sum == b.sum || (a.sum.is_nan() && b.sum.is_nan())
                || (a.sum - b.sum).abs() <= 1e-6 * a.sum.abs().max(b.sum.abs()).max(1.0);
            prop_assert!(close, "{} vs {}", a.sum, b.sum);
        }
        let block = encode_block(&whole, T0);
        prop_assert_eq!(bits(&decode_block(&block, T0).unwrap()), bits(&whole));
    }
}

fn policy() -> RetentionPolicy {
    let keep = |raw, five, hour| TierRetention {
        raw_ms: raw * DAY,
        five_minutes_ms: five * DAY,
        one_hour_ms: hour * DAY,
    };
    RetentionPolicy {
        default: keep(30, 365, 1825),
        families: vec![
            FamilyRetention {
                pattern: MetricPattern::parse("smart_*"),
                keep: keep(365, 730, 3650),
            },
            FamilyRetention {
                pattern: MetricPattern::parse("container_*"),
                keep: keep(7, 365, 1825),
            },
        ],
    }
}

#[test]
fn retention_deletes_keeps_or_filters_by_age() {
    let policy = policy();
    let now = T0 + 1000 * DAY;
    let fate = |tier, age_days: i64| policy.fate(tier, now - age_days * DAY, now);
    assert_eq!(fate(Tier::Raw, 1), Fate::Keep);
    // Older than container_*'s 7 days: rewritten without them.
    assert_eq!(fate(Tier::Raw, 8), Fate::Filter);
    assert_eq!(fate(Tier::Raw, 100), Fate::Filter);
    // Older than the longest raw retention (smart_*: 365 d): deleted whole.
    assert_eq!(fate(Tier::Raw, 365), Fate::Delete);
    assert_eq!(fate(Tier::FiveMinutes, 364), Fate::Keep);
    assert_eq!(fate(Tier::FiveMinutes, 365), Fate::Filter);
    assert_eq!(fate(Tier::FiveMinutes, 730), Fate::Delete);
    assert_eq!(fate(Tier::OneHour, 1824), Fate::Keep);
    assert_eq!(fate(Tier::OneHour, 3650), Fate::Delete);
    let end = now - 100 * DAY;
    assert!(policy.keeps("smart_power_on_hours", Tier::Raw, end, now));
    assert!(!policy.keeps("cpu_usage_ratio", Tier::Raw, end, now));
    assert!(!policy.keeps("container_cpu_ratio", Tier::Raw, now - 8 * DAY, now));
    assert!(policy.keeps("cpu_usage_ratio", Tier::Raw, now - 8 * DAY, now));
    assert_eq!(policy.cutoff_ms(Tier::Raw, now), now - 365 * DAY);
    // No families: keep or delete, never filter.
    let plain = RetentionPolicy {
        families: Vec::new(),
        ..policy
    };
    assert_eq!(plain.fate(Tier::Raw, now - 29 * DAY, now), Fate::Keep);
    assert_eq!(plain.fate(Tier::Raw, now - 30 * DAY, now), Fate::Delete);
}
