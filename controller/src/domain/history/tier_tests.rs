//! The chart API's tier choice (issue 20 §3) on a real store: a year of history is answered
//! from the 1-hour tier, a month from the 5-minute tier, a day from raw samples, each answer
//! naming its tier, with the newest hours (not rolled up yet) included seamlessly.

use super::{query, QueryParams};
use crate::config::Config;
use crate::storage::agents::AgentRecord;
use crate::storage::series::{IngestReport, Sample, SeriesKey};
use unity_shared::proto::AgentId;

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;

fn params(range: &str) -> QueryParams {
    QueryParams {
        metric: "temp_celsius".into(),
        range: Some(range.into()),
        from: None,
        to: None,
        labels: None,
        max_points: Some(10_000),
    }
}

#[tokio::test]
async fn issue_20_a_year_is_read_from_the_one_hour_tier() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = crate::service::offline_context(Config::with_data_dir(dir.path().into()))
        .await
        .unwrap();
    let nas = AgentId::new("nas").unwrap();
    ctx.store
        .agents
        .put_agent(&AgentRecord::enrolled_for_tests(nas.clone(), "nas"))
        .unwrap();
    // 370 days, one sample per 30 minutes: 20 + (hour of day) degrees.
    let now = 1_796_644_800_000;
    let first = now - 370 * DAY;
    let mut seq = 0;
    let timestamps: Vec<i64> = (0..)
        .map(|k| first + k * 30 * MINUTE)
        .take_while(|&t| t < now)
        .collect();
    for (batch_number, batch) in timestamps.chunks(96).enumerate() {
        let reports: Vec<IngestReport> = batch
            .iter()
            .map(|&ts| {
                seq += 1;
                IngestReport {
                    agent: "nas".into(),
                    seq,
                    samples: vec![Sample {
                        series: SeriesKey::new("temp_celsius", Vec::new()),
                        timestamp_ms: ts,
                        value: 20.0 + (ts.rem_euclid(DAY) / HOUR) as f64,
                    }],
                }
            })
            .collect();
        ctx.store.series.ingest(&reports).unwrap();
        if batch_number % 2 == 0 {
            ctx.store.series.checkpoint().unwrap();
        }
    }
    for _ in 0..4 {
        ctx.store.series.checkpoint().unwrap();
    }

    let year = query(&ctx, &nas, &params("365d"), now).unwrap();
    assert_eq!(year.tier, "1h");
    let points = &year.series[0].points;
    // One point per hour of the year: rolled-up hours and the newest hours from raw alike.
    assert_eq!(points.len() as i64, 365 * 24);
    assert!(points.windows(2).all(|pair| pair[1].0 - pair[0].0 == HOUR));
    // Each hour averages its two samples, which share the hour's value.
    assert!(points
        .iter()
        .all(|&(start, value)| value == 20.0 + (start.rem_euclid(DAY) / HOUR) as f64));
    assert_eq!(points.last().unwrap().0, now - HOUR);

    let month = query(&ctx, &nas, &params("30d"), now).unwrap();
    assert_eq!(month.tier, "5m");
    assert_eq!(month.series[0].points.len() as i64, 30 * 48);

    let day = query(&ctx, &nas, &params("24h"), now).unwrap();
    assert_eq!(day.tier, "raw");
    // From the sample after `now - 24h` (the range ends at `now + 1`) to the newest.
    assert_eq!(day.series[0].points.len(), 47);
}
