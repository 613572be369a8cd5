//! Round-trip and robustness properties of the chunk codec.

use super::codec::{decode, encode, header, MAX_CHUNK_SAMPLES};
use proptest::prelude::*;

#[track_caller]
fn check_round_trip(points: &[(i64, f64)]) -> Vec<u8> {
    let mut bytes = Vec::new();
    encode(points, true, &mut bytes);
    let mut decoded = Vec::new();
    decode(points[0].0, &bytes, &mut decoded).unwrap();
    let bits = |p: &[(i64, f64)]| p.iter().map(|&(t, v)| (t, v.to_bits())).collect::<Vec<_>>();
    assert_eq!(bits(&decoded), bits(points), "bytes {bytes:02x?}");
    assert_eq!(header(&bytes).unwrap().n_samples, points.len());
    bytes
}

fn regular(values: &[f64]) -> Vec<(i64, f64)> {
    values
        .iter()
        .enumerate()
        .map(|(i, &v)| (1_704_067_200_000 + 15_000 * i as i64, v))
        .collect()
}

#[test]
fn special_floats_round_trip() {
    let specials = [
        f64::NAN,
        -f64::NAN,
        f64::from_bits(0x7FF0_0000_0000_0001),
        f64::INFINITY,
        f64::NEG_INFINITY,
        0.0,
        -0.0,
        f64::MIN_POSITIVE,
        f64::from_bits(1),
        -f64::from_bits(0x000F_FFFF_FFFF_FFFF),
        f64::MAX,
        f64::MIN,
        1e300,
        0.1,
        9.223_372_036_854_776e18,
    ];
    check_round_trip(&regular(&specials));
    for &value in &specials {
        check_round_trip(&regular(&[value]));
        check_round_trip(&regular(&[value, value, value]));
        check_round_trip(&regular(&[value, 1.5, value]));
    }
}

#[test]
fn extreme_timestamps_round_trip() {
    check_round_trip(&[(i64::MIN, 1.0), (i64::MAX, 2.0)]);
    check_round_trip(&[(i64::MIN, 1.0), (-1, 2.0), (0, 3.0), (i64::MAX, 4.0)]);
    check_round_trip(&[(i64::MAX - 1, 1.0), (i64::MAX, 1.0)]);
    check_round_trip(&[(-5, 0.5), (-4, 0.25), (1 << 62, 0.125)]);
}

#[test]
fn decimal_edges_round_trip() {
    // Huge integers, alternating extremes, nanosecond counters in seconds.
    let huge = 2_305_843_009_213_693_952.0;
    check_round_trip(&regular(&[huge, -huge, huge, -huge]));
    check_round_trip(&regular(&[4.6e18, -4.6e18, 4.6e18]));
    check_round_trip(&regular(&[
        1_704_067_215_003_123_456.0 / 1e9,
        1_704_067_230_001_999_999.0 / 1e9,
    ]));
    check_round_trip(&regular(&[0.1, 0.2, 0.30000000000000004, 0.4]));
    check_round_trip(&regular(&[21.5, 21.6, 21.5, 21.7, 80.1]));
}

#[test]
fn compact_on_typical_series() {
    let n = 240;
    let constant = check_round_trip(&regular(&vec![1.0; n]));
    assert!(constant.len() <= 8, "{} bytes", constant.len());
    let counter: Vec<f64> = (0..n).map(|i| 1_000_000.0 + 1_500.0 * i as f64).collect();
    let counter_bytes = check_round_trip(&regular(&counter));
    assert!(counter_bytes.len() <= 16, "{} bytes", counter_bytes.len());
    let temperatures: Vec<f64> = (0..n)
        .map(|i| f64::from(400 + (i as i32 * 7) % 13) / 10.0)
        .collect();
    let temperature_bytes = check_round_trip(&regular(&temperatures));
    assert!(
        temperature_bytes.len() <= n,
        "{} bytes",
        temperature_bytes.len()
    );
}

fn value_strategy() -> impl Strategy<Value = Vec<f64>> {
    prop_oneof![
        prop::collection::vec(any::<f64>(), 1..300),
        prop::collection::vec(
            prop_oneof![Just(f64::NAN), Just(-0.0), Just(f64::INFINITY), Just(1.0)],
            1..50
        ),
        (
            0u32..19,
            prop::collection::vec(-1_000_000_000i64..1_000_000_000, 1..300)
        )
            .prop_map(|(k, ints)| ints
                .into_iter()
                .map(|i| i as f64 / 10f64.powi(k as i32))
                .collect()),
        (
            any::<i64>(),
            -5000i64..5000,
            prop::collection::vec(-3i64..4, 1..300)
        )
            .prop_map(|(start, step, noise)| {
                let mut v = (start >> 12) as f64;
                noise
                    .into_iter()
                    .map(|n| {
                        v += (step + n) as f64;
                        v
                    })
                    .collect()
            }),
        prop::collection::vec(
            prop::sample::select(vec![0.0, 1.0, 2.5, 1e-300, f64::MIN_POSITIVE / 3.0]),
            1..300
        ),
    ]
}

fn timestamps(n: usize, start: i64, steps: &[u64]) -> Option<Vec<i64>> {
    let mut ts = vec![start];
    for i in 1..n {
        let step = steps[i % steps.len()].max(1);
        ts.push(ts[i - 1].checked_add_unsigned(step)?);
    }
    Some(ts)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn round_trip(
        values in value_strategy(),
        start in any::<i64>(),
        steps in prop::collection::vec(prop_oneof![Just(15_000u64), 1u64..100_000, 1u64..(1 << 62)], 1..8),
    ) {
        if let Some(ts) = timestamps(values.len(), start, &steps) {
            let points: Vec<(i64, f64)> = ts.into_iter().zip(values).collect();
            check_round_trip(&points);
        }
    }

    #[test]
    fn garbage_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..64), first in any::<i64>()) {
        let mut out = Vec::new();
        let _ = decode(first, &bytes, &mut out);
        prop_assert!(out.len() <= MAX_CHUNK_SAMPLES);
    }

    #[test]
    fn damaged_chunks_never_panic(values in value_strategy(), flip in any::<prop::sample::Index>(), bit in 0u8..8) {
        let points = regular(&values);
        let mut bytes = Vec::new();
        encode(&points, false, &mut bytes);
        // Every prefix with RUN_SLOW_TESTS, else about 16 of them.
        let step = if std::env::var_os("RUN_SLOW_TESTS").is_some() { 1 } else { bytes.len() / 16 + 1 };
        for len in (0..bytes.len()).step_by(step) {
            let _ = decode(points[0].0, &bytes[..len], &mut Vec::new());
        }
        if !bytes.is_empty() {
            let at = flip.index(bytes.len());
            bytes[at] ^= 1 << bit;
            let _ = decode(points[0].0, &bytes, &mut Vec::new());
        }
    }
}

#[test]
fn negative_zero_then_decimal() {
    check_round_trip(&[(143, -0.0), (258, -0.0), (310, 19.1)]);
}
