//! The pure parts of history queries: time ranges, label matchers, downsampling.

use super::{downsample, parse_matchers, time_range, QueryParams};
use crate::storage::series::TimeRange;

fn params(range: Option<&str>, from: Option<i64>, to: Option<i64>) -> QueryParams {
    QueryParams {
        metric: "m".into(),
        range: range.map(str::to_owned),
        from,
        to,
        labels: None,
        max_points: None,
    }
}

#[track_caller]
fn check_range(
    range: Option<&str>,
    from: Option<i64>,
    to: Option<i64>,
    expect: Result<(i64, i64), &str>,
) {
    let now = 10_000_000_000;
    let actual = time_range(&params(range, from, to), now)
        .map(|range| (range.from_ms, range.to_ms))
        .map_err(|error| error.to_string());
    match (actual, expect) {
        (Ok(actual), Ok(expect)) => assert_eq!(actual, expect),
        (Err(actual), Err(expect)) => {
            assert!(actual.contains(expect), "{actual:?} lacks {expect:?}")
        }
        (actual, expect) => panic!("{actual:?} vs {expect:?}"),
    }
}

#[test]
fn time_ranges() {
    let now = 10_000_000_000 + 1;
    check_range(None, None, None, Ok((now - 3_600_000, now)));
    check_range(Some("30d"), None, None, Ok((now - 30 * 86_400_000, now)));
    check_range(None, Some(5), Some(10), Ok((5, 10)));
    check_range(Some("soon"), None, None, Err("bad range \"soon\""));
    check_range(Some("1s"), None, None, Err("between 1m and 3660d"));
    check_range(Some("4000d"), None, None, Err("between 1m and 3660d"));
    check_range(None, Some(10), Some(5), Err("before to"));
    check_range(None, Some(-1), Some(5), Err("at least 0"));
    check_range(None, Some(10), None, Err("go together"));
    check_range(Some("1h"), Some(1), Some(2), Err("not both"));
    check_range(
        None,
        Some(0),
        Some(5000 * 86_400_000),
        Err("at most 3660 days"),
    );
}

#[test]
fn matchers() {
    assert_eq!(parse_matchers(None).unwrap(), vec![]);
    assert_eq!(
        parse_matchers(Some("cpu=total,mount=/a=b")).unwrap(),
        vec![
            ("cpu".into(), "total".into()),
            ("mount".into(), "/a=b".into())
        ]
    );
    assert!(parse_matchers(Some("cpu"))
        .unwrap_err()
        .to_string()
        .contains("name=value"));
}

#[test]
fn downsampling_keeps_short_series_and_buckets_long_ones() {
    let range = TimeRange {
        from_ms: 0,
        to_ms: 1000,
    };
    let points: Vec<(i64, f64)> = (0..1000).map(|t| (t, t as f64)).collect();
    assert_eq!(downsample(points.clone(), range, 1000, false), points);
    let gauge = downsample(points.clone(), range, 10, false);
    assert_eq!(gauge.len(), 10);
    assert_eq!(gauge[0], (99, 49.5));
    let counter = downsample(points, range, 10, true);
    assert_eq!(counter[9], (999, 999.0));
}
