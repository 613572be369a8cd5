//! The storage drill-down pages (issue 19): one page per disk (`/hosts/{id}/disks/{drive}`),
//! ZFS pool (`/hosts/{id}/pools/{name}`) and md array (`/hosts/{id}/arrays/{name}`), linked
//! from the host page and from each other. The handlers here gather the host's newest storage
//! state and the stored series the pages draw as trends and history; `disk.rs`, `pool.rs` and
//! `array.rs` render them (pure), `find.rs` links the layers, `risk.rs` puts a verdict in
//! plain words, `history.rs` reads scrub and resync runs from the series.

pub mod array;
pub mod disk;
pub mod find;
mod history;
mod parts;
pub mod pool;
mod risk;

use super::chart_range;
use super::PageCaller;
use crate::clock::now_ms;
use crate::context::Context;
use crate::domain::history::{downsample, raw_query, RawSeries};
use crate::domain::host_state;
use crate::domain::hosts::{parse_agent_id, require_known};
use crate::http::error::ApiError;
use crate::http::extract::{blocking, ApiPath, ApiQuery};
use crate::http::state::AppState;
use crate::storage::series::TimeRange;
use axum::extract::State;
use maud::Markup;
use serde::Deserialize;
use std::collections::BTreeMap;
use unity_shared::proto::{AgentId, StorageState};

/// How far back the trend sparklines and the scrub/resync history look.
const TREND_MS: i64 = 30 * 24 * 3_600_000;
/// Points per sparkline.
const TREND_POINTS: usize = 60;

/// The drive series shown as trends next to the NVMe and SCSI fields.
const DRIVE_METRICS: &[&str] = &[
    "smart_temperature_celsius",
    "smart_error_log_entries_total",
    "smart_nvme_critical_warning",
    "smart_nvme_percentage_used",
    "smart_nvme_available_spare_ratio",
    "smart_nvme_media_errors_total",
    "smart_nvme_unsafe_shutdowns_total",
    "smart_nvme_data_read_bytes_total",
    "smart_nvme_data_written_bytes_total",
    "smart_scsi_grown_defects",
    "smart_scsi_errors_uncorrected_total",
    "smart_scsi_errors_corrected_total",
    "smart_scsi_non_medium_errors_total",
    "smart_scsi_percentage_used_endurance",
];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RangeParams {
    pub range: Option<String>,
}

fn wanted_range(params: &RangeParams) -> Result<Option<&'static str>, ApiError> {
    match params.range.as_deref() {
        None => Ok(None),
        Some(text) => chart_range::parse(text).map(Some).ok_or_else(|| {
            let offered: Vec<&str> = chart_range::RANGES.iter().map(|(name, _)| *name).collect();
            ApiError::BadRequest(format!(
                "bad range \"{text}\": expected one of {}",
                offered.join(", ")
            ))
        }),
    }
}

/// The host's name, newest storage state and its time; 404 without one.
fn host_storage(
    ctx: &Context,
    agent_id: &AgentId,
) -> Result<(String, Option<i64>, StorageState), ApiError> {
    let record = require_known(ctx, agent_id)?;
    let stored = host_state::storage(ctx, agent_id)?;
    let state = stored.state.ok_or_else(|| {
        ApiError::NotFound(format!(
            "{} has not reported its storage yet",
            record.hostname
        ))
    })?;
    Ok((record.hostname, stored.collected_at_ms, state))
}

fn last_30_days(now: i64) -> TimeRange {
    TimeRange {
        from_ms: now - TREND_MS,
        to_ms: now + 1,
    }
}

/// The matching series of `metric` over the last 30 days, downsampled for a sparkline.
fn trend_series(
    ctx: &Context,
    agent_id: &AgentId,
    metric: &str,
    matchers: &[(String, String)],
    now: i64,
) -> Result<Vec<RawSeries>, ApiError> {
    let range = last_30_days(now);
    let counter = metric.ends_with("_total");
    Ok(raw_query(ctx, agent_id, metric, matchers, range)?
        .into_iter()
        .map(|series| RawSeries {
            points: downsample(series.points, range, TREND_POINTS, counter),
            ..series
        })
        .collect())
}

fn label<'a>(series: &'a RawSeries, name: &str) -> Option<&'a str> {
    series
        .labels
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

/// The range the page's charts open on: the one asked for, else the smallest holding `points`.
fn chart_range_for(wanted: Option<&'static str>, first_ms: Option<i64>, now: i64) -> &'static str {
    wanted.unwrap_or_else(|| chart_range::default_range(first_ms, now))
}

/// `GET /hosts/{agent_id}/disks/{drive}`.
pub async fn disk_page(
    State(state): State<AppState>,
    caller: PageCaller,
    ApiPath((agent_id, drive)): ApiPath<(String, String)>,
    ApiQuery(params): ApiQuery<RangeParams>,
) -> Result<Markup, ApiError> {
    let wanted = wanted_range(&params)?;
    let agent_id = parse_agent_id(&agent_id)?;
    let now = now_ms();
    let view = blocking(&state.ctx, move |ctx| {
        let (hostname, collected_at_ms, storage) = host_storage(ctx, &agent_id)?;
        let device = find::device(&storage, &drive)
            .ok_or_else(|| ApiError::NotFound(format!("no drive {drive} on {hostname}")))?;
        let mut attribute_trends = BTreeMap::new();
        let mut metric_trends = BTreeMap::new();
        if let Some(matcher) = find::series_matcher(device) {
            let matchers = [matcher];
            for series in trend_series(ctx, &agent_id, "smart_attribute_raw", &matchers, now)? {
                if let Some(id) = label(&series, "id").and_then(|id| id.parse::<u8>().ok()) {
                    attribute_trends.insert(id, series.points);
                }
            }
            for metric in DRIVE_METRICS {
                if let Some(series) = trend_series(ctx, &agent_id, metric, &matchers, now)?
                    .into_iter()
                    .next()
                {
                    metric_trends.insert((*metric).to_owned(), series.points);
                }
            }
        }
        let first = metric_trends
            .get("smart_temperature_celsius")
            .and_then(|points: &Vec<(i64, f64)>| points.first().map(|(at, _)| *at));
        Ok::<_, ApiError>(disk::DiskPageView {
            agent_id,
            hostname,
            collected_at_ms,
            state: storage,
            drive,
            attribute_trends,
            metric_trends,
            range: chart_range_for(wanted, first, now),
        })
    })
    .await?;
    Ok(disk::render(&view, &caller.0, now))
}

/// A series' points with the value of the label they are grouped by.
type LabelledPoints = (String, Vec<(i64, f64)>);

/// The series of `metric` with `name_label=name`, grouped by `by` (e.g. the scan kind).
fn history_by(
    ctx: &Context,
    agent_id: &AgentId,
    metric: &str,
    matcher: (&str, &str),
    by: &str,
    now: i64,
) -> Result<Vec<LabelledPoints>, ApiError> {
    let matchers = [(matcher.0.to_owned(), matcher.1.to_owned())];
    Ok(
        raw_query(ctx, agent_id, metric, &matchers, last_30_days(now))?
            .into_iter()
            .map(|series| (label(&series, by).unwrap_or("").to_owned(), series.points))
            .collect(),
    )
}

/// `GET /hosts/{agent_id}/pools/{name}`.
pub async fn pool_page(
    State(state): State<AppState>,
    caller: PageCaller,
    ApiPath((agent_id, name)): ApiPath<(String, String)>,
    ApiQuery(params): ApiQuery<RangeParams>,
) -> Result<Markup, ApiError> {
    let wanted = wanted_range(&params)?;
    let agent_id = parse_agent_id(&agent_id)?;
    let now = now_ms();
    let view = blocking(&state.ctx, move |ctx| {
        let (hostname, collected_at_ms, storage) = host_storage(ctx, &agent_id)?;
        if find::pool(&storage, &name).is_none() {
            return Err(ApiError::NotFound(format!("no pool {name} on {hostname}")));
        }
        let scrubs = history_by(
            ctx,
            &agent_id,
            "zfs_last_scrub_timestamp_seconds",
            ("pool", &name),
            "pool",
            now,
        )?;
        let scan_points = history_by(
            ctx,
            &agent_id,
            "zfs_scan_progress_ratio",
            ("pool", &name),
            "kind",
            now,
        )?;
        let allocated = history_by(
            ctx,
            &agent_id,
            "zfs_pool_allocated_bytes",
            ("pool", &name),
            "pool",
            now,
        )?;
        let first = allocated
            .first()
            .and_then(|(_, points)| points.first())
            .map(|(at, _)| *at);
        Ok(pool::PoolPageView {
            agent_id,
            hostname,
            collected_at_ms,
            state: storage,
            last_scrub_points: scrubs.into_iter().flat_map(|(_, points)| points).collect(),
            scan_points,
            name,
            range: chart_range_for(wanted, first, now),
        })
    })
    .await?;
    Ok(pool::render(&view, &caller.0, now))
}

/// `GET /hosts/{agent_id}/arrays/{name}`.
pub async fn array_page(
    State(state): State<AppState>,
    caller: PageCaller,
    ApiPath((agent_id, name)): ApiPath<(String, String)>,
    ApiQuery(params): ApiQuery<RangeParams>,
) -> Result<Markup, ApiError> {
    let wanted = wanted_range(&params)?;
    let agent_id = parse_agent_id(&agent_id)?;
    let now = now_ms();
    let view = blocking(&state.ctx, move |ctx| {
        let (hostname, collected_at_ms, storage) = host_storage(ctx, &agent_id)?;
        if find::array(&storage, &name).is_none() {
            return Err(ApiError::NotFound(format!("no array {name} on {hostname}")));
        }
        let sync_points = history_by(
            ctx,
            &agent_id,
            "md_sync_progress_ratio",
            ("array", &name),
            "action",
            now,
        )?;
        let degraded = history_by(
            ctx,
            &agent_id,
            "md_array_degraded",
            ("array", &name),
            "array",
            now,
        )?;
        let first = degraded
            .first()
            .and_then(|(_, points)| points.first())
            .map(|(at, _)| *at);
        Ok(array::ArrayPageView {
            agent_id,
            hostname,
            collected_at_ms,
            state: storage,
            name,
            sync_points,
            range: chart_range_for(wanted, first, now),
        })
    })
    .await?;
    Ok(array::render(&view, &caller.0, now))
}
