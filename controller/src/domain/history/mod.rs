//! A host's stored history: which series it has, and queries over a time range with label
//! matchers, downsampled to a point budget. The charts (through the REST API) and the CLI
//! (through the admin socket) read it here. A chart's query reads the tier its range needs
//! (raw samples, 5-minute or 1-hour rollups: `storage::series::choose_tier`), so it never
//! reads more than about [`READ_BUDGET`] points per series; the answer names the tier.

use super::error::DomainError;
use super::hosts::require_known;
use crate::context::Context;
use crate::storage::series::{choose_tier, Point, SeriesKey, Tier, TimeRange};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;
use unity_shared::proto::AgentId;

/// Longest range a query may cover (the 1-hour tier keeps 5 years by default).
pub const MAX_RANGE: Duration = Duration::from_secs(3660 * 86400);
/// Points per series a query reads at most, for the tier choice (raw counted at 15 s).
pub const READ_BUDGET: i64 = 10_000;
/// Points per series a query returns at most, and by default.
pub const MAX_POINTS: usize = 10_000;
pub const DEFAULT_POINTS: usize = 1_000;

/// A query as a caller writes it: the time range as a duration back from now or as bounds,
/// label matchers as `name=value,...`, a point budget.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueryParams {
    pub metric: String,
    /// A duration back from now, e.g. `1h`, `24h`, `30d`. Default `1h`.
    pub range: Option<String>,
    /// Start and end in Unix milliseconds, instead of `range`.
    pub from: Option<i64>,
    pub to: Option<i64>,
    /// Only series with these labels: `name=value,name=value`.
    pub labels: Option<String>,
    /// Downsample to at most this many points per series (default 1000, at most 10000).
    pub max_points: Option<usize>,
}

/// One series a host has.
#[derive(Debug, Serialize)]
pub struct SeriesDescription {
    pub metric: String,
    pub labels: BTreeMap<String, String>,
}

/// A query's answer.
#[derive(Debug, Serialize)]
pub struct QueryResult {
    pub agent_id: AgentId,
    pub metric: String,
    pub from_ms: i64,
    pub to_ms: i64,
    /// The tier read: `raw`, `5m` or `1h`. For a rollup tier each point is a bucket's
    /// start and its average (its last value for counters, `*_total`).
    pub tier: &'static str,
    pub series: Vec<QuerySeries>,
}

/// One series of a query's answer.
#[derive(Debug, Serialize)]
pub struct QuerySeries {
    pub labels: BTreeMap<String, String>,
    /// `[timestamp_ms, value]` pairs, time-ordered.
    pub points: Vec<(i64, f64)>,
}

/// One series with its points, undownsampled (what the CLI prints).
#[derive(Debug, Clone)]
pub struct RawSeries {
    pub metric: String,
    pub labels: Vec<(String, String)>,
    pub points: Vec<(i64, f64)>,
}

/// Parses a `range` duration such as `6h`, bounded by [`MAX_RANGE`].
pub fn parse_duration(text: &str) -> Result<Duration, DomainError> {
    let bad = || {
        DomainError::Invalid(format!(
            "bad range {text:?}: expected a duration such as 1h, 6h, 24h, 7d or 30d"
        ))
    };
    let duration = humantime::parse_duration(text).map_err(|_| bad())?;
    if duration < Duration::from_secs(60) || duration > MAX_RANGE {
        return Err(DomainError::Invalid(format!(
            "bad range {text:?}: must be between 1m and 3660d"
        )));
    }
    Ok(duration)
}

/// The half-open range a query covers.
pub fn time_range(params: &QueryParams, now_ms: i64) -> Result<TimeRange, DomainError> {
    match (&params.range, params.from, params.to) {
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) => Err(DomainError::Invalid(
            "bad time range: give either `range` or `from` and `to`, not both".into(),
        )),
        (None, Some(from_ms), Some(to_ms)) => {
            if from_ms < 0 || from_ms >= to_ms {
                return Err(DomainError::Invalid(format!(
                    "bad time range: from ({from_ms}) must be at least 0 and before to ({to_ms})"
                )));
            }
            if (to_ms - from_ms) as u128 > MAX_RANGE.as_millis() {
                return Err(DomainError::Invalid(
                    "bad time range: at most 3660 days".into(),
                ));
            }
            Ok(TimeRange { from_ms, to_ms })
        }
        (None, Some(_), None) | (None, None, Some(_)) => Err(DomainError::Invalid(
            "bad time range: `from` and `to` go together (Unix milliseconds)".into(),
        )),
        (range, None, None) => {
            let duration = parse_duration(range.as_deref().unwrap_or("1h"))?;
            let to_ms = now_ms + 1;
            Ok(TimeRange {
                from_ms: to_ms - duration.as_millis() as i64,
                to_ms,
            })
        }
    }
}

/// Parses `name=value,name=value`.
pub fn parse_matchers(text: Option<&str>) -> Result<Vec<(String, String)>, DomainError> {
    let Some(text) = text.filter(|text| !text.is_empty()) else {
        return Ok(Vec::new());
    };
    text.split(',')
        .map(|pair| {
            pair.split_once('=')
                .map(|(name, value)| (name.trim().to_owned(), value.to_owned()))
                .ok_or_else(|| {
                    DomainError::Invalid(format!(
                        "bad labels {text:?}: expected name=value,name=value"
                    ))
                })
        })
        .collect()
}

/// Reduces `points` to at most `max_points` buckets of equal width over `range`: the mean of
/// each bucket, or its last value for counters (`*_total`), at the bucket's last timestamp.
pub fn downsample(
    points: Vec<(i64, f64)>,
    range: TimeRange,
    max_points: usize,
    counter: bool,
) -> Vec<(i64, f64)> {
    if points.len() <= max_points || max_points == 0 {
        return points;
    }
    let width = ((range.to_ms - range.from_ms) / max_points as i64).max(1);
    let mut result: Vec<(i64, f64)> = Vec::with_capacity(max_points + 1);
    let mut bucket = i64::MIN;
    let (mut sum, mut n, mut last) = (0.0, 0u32, (0, 0.0));
    for point in points {
        let this_bucket = (point.0 - range.from_ms) / width;
        if this_bucket != bucket && n > 0 {
            result.push((last.0, if counter { last.1 } else { sum / f64::from(n) }));
            sum = 0.0;
            n = 0;
        }
        bucket = this_bucket;
        sum += point.1;
        n += 1;
        last = point;
    }
    if n > 0 {
        result.push((last.0, if counter { last.1 } else { sum / f64::from(n) }));
    }
    result
}

fn labels_map(labels: Vec<(String, String)>) -> BTreeMap<String, String> {
    labels.into_iter().collect()
}

/// Runs a history query for a known host. Note that this uses blocking I/O.
pub fn query(
    ctx: &Context,
    agent_id: &AgentId,
    params: &QueryParams,
    now_ms: i64,
) -> Result<QueryResult, DomainError> {
    let range = time_range(params, now_ms)?;
    let matchers = parse_matchers(params.labels.as_deref())?;
    let max_points = params.max_points.unwrap_or(DEFAULT_POINTS);
    if max_points == 0 || max_points > MAX_POINTS {
        return Err(DomainError::Invalid(format!(
            "bad max_points {max_points}: must be 1 to {MAX_POINTS}"
        )));
    }
    require_known(ctx, agent_id)?;
    let counter = params.metric.ends_with("_total");
    let tier = choose_tier(range.to_ms - range.from_ms, READ_BUDGET);
    let store = &ctx.store.series;
    let series = if tier == Tier::Raw {
        store
            .query(agent_id.as_str(), &params.metric, &matchers, range)?
            .into_iter()
            .map(|series| (series.series, series.points))
            .collect::<Vec<_>>()
    } else {
        store
            .query_tier(agent_id.as_str(), &params.metric, &matchers, range, tier)?
            .into_iter()
            .map(|series| {
                let points = series
                    .aggregates
                    .iter()
                    .map(|a| (a.start_ms, if counter { a.last } else { a.average() }))
                    .collect();
                (series.series, points)
            })
            .collect()
    };
    let series = series
        .into_iter()
        .map(|(key, points)| QuerySeries {
            labels: labels_map(key.labels),
            points: downsample(points, range, max_points, counter),
        })
        .collect();
    Ok(QueryResult {
        agent_id: agent_id.clone(),
        metric: params.metric.clone(),
        from_ms: range.from_ms,
        to_ms: range.to_ms,
        tier: tier.name(),
        series,
    })
}

/// Every point of the matching series in `range`, not downsampled, for any agent id (none for
/// an unknown one). Note that this uses blocking I/O.
pub fn raw_query(
    ctx: &Context,
    agent_id: &AgentId,
    metric: &str,
    matchers: &[(String, String)],
    range: TimeRange,
) -> Result<Vec<RawSeries>, DomainError> {
    if range.from_ms >= range.to_ms {
        return Err(DomainError::Invalid(
            "empty time range: from must be before to".into(),
        ));
    }
    Ok(ctx
        .store
        .series
        .query(agent_id.as_str(), metric, matchers, range)?
        .into_iter()
        .map(|series| RawSeries {
            metric: series.series.metric,
            labels: series.series.labels,
            points: series.points,
        })
        .collect())
}

/// The series a host has, known or not (none for an unknown one). Note that this uses
/// blocking I/O.
pub fn series_of(ctx: &Context, agent_id: &AgentId) -> Result<Vec<RawSeries>, DomainError> {
    Ok(ctx
        .store
        .series
        .series(agent_id.as_str())?
        .into_iter()
        .map(|key| RawSeries {
            metric: key.metric,
            labels: key.labels,
            points: Vec::new(),
        })
        .collect())
}

/// The newest point of every series a host has (none for an unknown one). Note that this
/// uses blocking I/O.
pub fn latest(ctx: &Context, agent_id: &AgentId) -> Result<Vec<(SeriesKey, Point)>, DomainError> {
    Ok(ctx.store.series.latest(agent_id.as_str())?)
}

/// The series of a known host. Note that this uses blocking I/O.
pub fn describe_series(
    ctx: &Context,
    agent_id: &AgentId,
) -> Result<Vec<SeriesDescription>, DomainError> {
    require_known(ctx, agent_id)?;
    Ok(series_of(ctx, agent_id)?
        .into_iter()
        .map(|series| SeriesDescription {
            metric: series.metric,
            labels: labels_map(series.labels),
        })
        .collect())
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tier_tests;
