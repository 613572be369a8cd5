//! Read endpoints (GET, any authenticated user): hosts, a host's latest values and series,
//! history queries with time ranges and downsampling, join tokens, users, API tokens, and the
//! audit log (admins only).

use super::auth::Caller;
use super::{blocking, ApiError, ApiPath, ApiQuery, AppState};
use crate::admin::{self, HostView, TokenSummary};
use crate::clock::now_ms;
use crate::context::Context;
use crate::storage::auth::Role;
use crate::storage::series::TimeRange;
use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;
use unity_shared::proto::AgentId;

/// The longest history a query may span.
pub const MAX_RANGE: Duration = Duration::from_secs(400 * 86400);
/// Points per series a query returns at most, and by default.
pub const MAX_POINTS: usize = 10_000;
pub const DEFAULT_POINTS: usize = 1_000;

/// Sections of the host page filled by collectors that other issues add; a host "reports" one
/// when it has a series whose metric starts with one of the prefixes.
pub const SECTIONS: &[(&str, &[&str])] = &[
    ("disks", &["smart_", "disk_"]),
    ("pools", &["zfs_", "pool_"]),
    ("arrays", &["md_", "mdraid_", "array_"]),
    ("databases", &["database_", "db_"]),
    ("containers", &["container_"]),
];

#[derive(Debug, Serialize)]
pub struct LatestValue {
    pub metric: String,
    pub labels: BTreeMap<String, String>,
    pub timestamp_ms: i64,
    pub value: f64,
}

#[derive(Debug, Serialize)]
pub struct SectionView {
    pub name: &'static str,
    pub reported: bool,
    pub n_series: usize,
}

#[derive(Debug, Serialize)]
pub struct HostDetail {
    pub host: HostView,
    pub latest: Vec<LatestValue>,
    pub sections: Vec<SectionView>,
}

#[derive(Debug, Serialize)]
pub struct SeriesDescription {
    pub metric: String,
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Serialize)]
pub struct QueryResult {
    pub agent_id: String,
    pub metric: String,
    pub from_ms: i64,
    pub to_ms: i64,
    pub series: Vec<QuerySeries>,
}

#[derive(Debug, Serialize)]
pub struct QuerySeries {
    pub labels: BTreeMap<String, String>,
    /// `[timestamp_ms, value]` pairs, time-ordered.
    pub points: Vec<(i64, f64)>,
}

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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitParams {
    pub limit: Option<usize>,
}

pub fn parse_agent_id(text: &str) -> Result<AgentId, ApiError> {
    AgentId::new(text)
        .map_err(|error| ApiError::BadRequest(format!("bad agent id {text:?}: {error}")))
}

/// Parses a `range` duration such as `6h`, bounded by [`MAX_RANGE`].
pub fn parse_duration(text: &str) -> Result<Duration, ApiError> {
    let bad = || {
        ApiError::BadRequest(format!(
            "bad range {text:?}: expected a duration such as 1h, 6h, 24h, 7d or 30d"
        ))
    };
    let duration = humantime::parse_duration(text).map_err(|_| bad())?;
    if duration < Duration::from_secs(60) || duration > MAX_RANGE {
        return Err(ApiError::BadRequest(format!(
            "bad range {text:?}: must be between 1m and 400d"
        )));
    }
    Ok(duration)
}

/// The half-open range a query covers.
pub fn time_range(params: &QueryParams, now_ms: i64) -> Result<TimeRange, ApiError> {
    match (&params.range, params.from, params.to) {
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) => Err(ApiError::BadRequest(
            "bad time range: give either `range` or `from` and `to`, not both".into(),
        )),
        (None, Some(from_ms), Some(to_ms)) => {
            if from_ms < 0 || from_ms >= to_ms {
                return Err(ApiError::BadRequest(format!(
                    "bad time range: from ({from_ms}) must be at least 0 and before to ({to_ms})"
                )));
            }
            if (to_ms - from_ms) as u128 > MAX_RANGE.as_millis() {
                return Err(ApiError::BadRequest(
                    "bad time range: at most 400 days".into(),
                ));
            }
            Ok(TimeRange { from_ms, to_ms })
        }
        (None, Some(_), None) | (None, None, Some(_)) => Err(ApiError::BadRequest(
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
pub fn parse_matchers(text: Option<&str>) -> Result<Vec<(String, String)>, ApiError> {
    let Some(text) = text.filter(|text| !text.is_empty()) else {
        return Ok(Vec::new());
    };
    text.split(',')
        .map(|pair| {
            pair.split_once('=')
                .map(|(name, value)| (name.trim().to_owned(), value.to_owned()))
                .ok_or_else(|| {
                    ApiError::BadRequest(format!(
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

/// One host with its latest values and which collector sections it reports.
pub fn host_detail(ctx: &Context, agent_id: &AgentId) -> Result<HostDetail, ApiError> {
    let host = admin::hosts(ctx)?
        .into_iter()
        .find(|host| host.agent_id == agent_id.as_str())
        .ok_or_else(|| ApiError::NotFound(format!("no host with agent id {agent_id}")))?;
    let latest: Vec<LatestValue> = ctx
        .store
        .series
        .latest(agent_id.as_str())?
        .into_iter()
        .map(|(key, (timestamp_ms, value))| LatestValue {
            metric: key.metric,
            labels: labels_map(key.labels),
            timestamp_ms,
            value,
        })
        .collect();
    let sections = sections(&latest);
    Ok(HostDetail {
        host,
        latest,
        sections,
    })
}

/// Which collector sections the latest values show (pure).
pub fn sections(latest: &[LatestValue]) -> Vec<SectionView> {
    SECTIONS
        .iter()
        .map(|(name, prefixes)| {
            let n_series = latest
                .iter()
                .filter(|value| {
                    prefixes
                        .iter()
                        .any(|prefix| value.metric.starts_with(prefix))
                })
                .count();
            SectionView {
                name,
                reported: n_series > 0,
                n_series,
            }
        })
        .collect()
}

/// Runs a history query for a known host.
pub fn run_query(
    ctx: &Context,
    agent_id: &AgentId,
    params: &QueryParams,
    now_ms: i64,
) -> Result<QueryResult, ApiError> {
    let range = time_range(params, now_ms)?;
    let matchers = parse_matchers(params.labels.as_deref())?;
    let max_points = params.max_points.unwrap_or(DEFAULT_POINTS);
    if max_points == 0 || max_points > MAX_POINTS {
        return Err(ApiError::BadRequest(format!(
            "bad max_points {max_points}: must be 1 to {MAX_POINTS}"
        )));
    }
    if ctx.store.registry.agent(agent_id)?.is_none() {
        return Err(ApiError::NotFound(format!(
            "no host with agent id {agent_id}"
        )));
    }
    let counter = params.metric.ends_with("_total");
    let series = ctx
        .store
        .series
        .query(agent_id.as_str(), &params.metric, &matchers, range)?
        .into_iter()
        .map(|series| QuerySeries {
            labels: labels_map(series.series.labels),
            points: downsample(series.points, range, max_points, counter),
        })
        .collect();
    Ok(QueryResult {
        agent_id: agent_id.to_string(),
        metric: params.metric.clone(),
        from_ms: range.from_ms,
        to_ms: range.to_ms,
        series,
    })
}

/// `GET /api/v1/hosts`.
pub async fn hosts(
    State(state): State<AppState>,
    _caller: Caller,
) -> Result<Json<Vec<HostView>>, ApiError> {
    blocking(&state.ctx, |ctx| Ok(admin::hosts(ctx)?))
        .await
        .map(Json)
}

/// `GET /api/v1/hosts/{agent_id}`.
pub async fn host(
    State(state): State<AppState>,
    _caller: Caller,
    ApiPath(agent_id): ApiPath<String>,
) -> Result<Json<HostDetail>, ApiError> {
    let agent_id = parse_agent_id(&agent_id)?;
    blocking(&state.ctx, move |ctx| host_detail(ctx, &agent_id))
        .await
        .map(Json)
}

/// `GET /api/v1/hosts/{agent_id}/series`.
pub async fn series(
    State(state): State<AppState>,
    _caller: Caller,
    ApiPath(agent_id): ApiPath<String>,
) -> Result<Json<Vec<SeriesDescription>>, ApiError> {
    let agent_id = parse_agent_id(&agent_id)?;
    blocking(&state.ctx, move |ctx| {
        if ctx.store.registry.agent(&agent_id)?.is_none() {
            return Err(ApiError::NotFound(format!(
                "no host with agent id {agent_id}"
            )));
        }
        Ok(ctx
            .store
            .series
            .series(agent_id.as_str())?
            .into_iter()
            .map(|key| SeriesDescription {
                metric: key.metric,
                labels: labels_map(key.labels),
            })
            .collect())
    })
    .await
    .map(Json)
}

/// `GET /api/v1/hosts/{agent_id}/query?metric=...&range=...`.
pub async fn query(
    State(state): State<AppState>,
    _caller: Caller,
    ApiPath(agent_id): ApiPath<String>,
    ApiQuery(params): ApiQuery<QueryParams>,
) -> Result<Json<QueryResult>, ApiError> {
    let agent_id = parse_agent_id(&agent_id)?;
    // Validate before touching the store, so a bad range is a 400 even for unknown hosts.
    time_range(&params, now_ms())?;
    blocking(&state.ctx, move |ctx| {
        run_query(ctx, &agent_id, &params, now_ms())
    })
    .await
    .map(Json)
}

/// Join tokens, newest first (never their secrets).
pub fn join_token_list(ctx: &Context) -> Result<Vec<TokenSummary>, ApiError> {
    let mut tokens: Vec<TokenSummary> = ctx
        .store
        .registry
        .tokens()?
        .into_iter()
        .map(|token| TokenSummary {
            token_id: token.token_id,
            created_at: token.created_at,
            expires_at: token.expires_at,
            used_at: token.used_at,
            used_by: token.used_by.map(|id| id.to_string()),
        })
        .collect();
    tokens.sort_by_key(|token| std::cmp::Reverse(token.created_at));
    Ok(tokens)
}

/// `GET /api/v1/join-tokens`.
pub async fn join_tokens(
    State(state): State<AppState>,
    _caller: Caller,
) -> Result<Json<Vec<TokenSummary>>, ApiError> {
    blocking(&state.ctx, join_token_list).await.map(Json)
}

#[derive(Debug, Serialize)]
pub struct UserView {
    pub name: String,
    pub role: &'static str,
    pub created_at_ms: i64,
}

pub fn user_list(ctx: &Context) -> Result<Vec<UserView>, ApiError> {
    Ok(ctx
        .store
        .auth
        .users()?
        .into_iter()
        .map(|user| UserView {
            name: user.name,
            role: user.role.as_str(),
            created_at_ms: user.created_at_ms,
        })
        .collect())
}

/// `GET /api/v1/users`.
pub async fn users(
    State(state): State<AppState>,
    _caller: Caller,
) -> Result<Json<Vec<UserView>>, ApiError> {
    blocking(&state.ctx, user_list).await.map(Json)
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ApiTokenView {
    pub token_id: String,
    pub owner: String,
    pub name: String,
    pub created_at_ms: i64,
    /// `read` or `admin`.
    pub scope: String,
    /// Unix milliseconds; `null`: never.
    pub expires_at_ms: Option<i64>,
    pub expired: bool,
    /// Unix milliseconds, to the minute; `null`: never used.
    pub last_used_ms: Option<i64>,
}

/// Every API token, oldest first, as of `now_ms`.
pub fn api_token_views(ctx: &Context, now_ms: i64) -> Result<Vec<ApiTokenView>, ApiError> {
    Ok(ctx
        .store
        .auth
        .api_tokens()?
        .into_iter()
        .map(|token| ApiTokenView {
            expired: token.is_expired(now_ms),
            scope: token.scope.as_str().to_owned(),
            token_id: token.token_id,
            owner: token.owner,
            name: token.name,
            created_at_ms: token.created_at_ms,
            expires_at_ms: token.expires_at_ms,
            last_used_ms: token.last_used_ms,
        })
        .collect())
}

/// API tokens `caller` may see: all for admins, their own for viewers.
pub fn api_token_list(ctx: &Context, caller: &Caller) -> Result<Vec<ApiTokenView>, ApiError> {
    Ok(api_token_views(ctx, now_ms())?
        .into_iter()
        .filter(|token| caller.role == Role::Admin || token.owner == caller.user)
        .collect())
}

/// `GET /api/v1/api-tokens`.
pub async fn api_tokens(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<ApiTokenView>>, ApiError> {
    blocking(&state.ctx, move |ctx| api_token_list(ctx, &caller))
        .await
        .map(Json)
}

#[derive(Debug, Serialize)]
pub struct AuditView {
    pub at_ms: i64,
    pub actor: String,
    pub action: String,
    pub target: String,
}

/// `GET /api/v1/audit?limit=N` (admins only), newest first.
pub async fn audit(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(params): ApiQuery<LimitParams>,
) -> Result<Json<Vec<AuditView>>, ApiError> {
    caller.require_admin()?;
    let limit = params.limit.unwrap_or(200).clamp(1, 1000);
    blocking(&state.ctx, move |ctx| {
        Ok(ctx
            .store
            .auth
            .audit_log(limit)?
            .into_iter()
            .map(|record| AuditView {
                at_ms: record.at_ms,
                actor: record.actor,
                action: record.action,
                target: record.target,
            })
            .collect())
    })
    .await
    .map(Json)
}
