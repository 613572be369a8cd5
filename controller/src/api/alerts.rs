//! Alert endpoints (GET, any signed-in user, for the hosts they may view): open alerts,
//! resolved ones, or both, optionally for one host. A thin handler over [`crate::domain::alerts`],
//! which the dashboard and `/metrics` read too.

use crate::domain::alerts::{
    self, parse_severity, parse_state, AlertFilter, AlertView, DEFAULT_LIMIT, MAX_LIMIT,
};
use crate::http::auth::Caller;
use crate::http::error::ApiError;
use crate::http::extract::{blocking, ApiQuery};
use crate::http::state::AppState;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertParams {
    /// `open` (default: any unresolved state), `acknowledged`, `silenced`, `unknown`,
    /// `resolved` or `all`.
    pub state: Option<String>,
    /// Only this host's alerts (agent id).
    pub host: Option<String>,
    /// Alerts returned at most (default 100, at most 1000).
    pub limit: Option<usize>,
    /// Alerts skipped first (paging).
    pub offset: Option<usize>,
    /// `warning` or `critical`.
    pub severity: Option<String>,
    /// Text found in the key, summary, details, host name or acknowledgement note.
    pub q: Option<String>,
    /// Only alerts open at some time in `[since_ms, until_ms]` (Unix milliseconds).
    pub since_ms: Option<i64>,
    pub until_ms: Option<i64>,
}

/// The filter the parameters say.
pub fn filter(params: &AlertParams) -> Result<AlertFilter, ApiError> {
    let state = match params.state.as_deref().unwrap_or("open") {
        "all" => None,
        word => Some(parse_state(word)?),
    };
    if params.q.as_ref().is_some_and(|q| q.len() > 200) {
        return Err(ApiError::BadRequest(
            "q is too long: at most 200 bytes".into(),
        ));
    }
    Ok(AlertFilter {
        state,
        severity: params.severity.as_deref().map(parse_severity).transpose()?,
        host: params.host.clone(),
        text: params.q.clone().filter(|q| !q.trim().is_empty()),
        since_ms: params.since_ms,
        until_ms: params.until_ms,
    })
}

/// `GET /api/v1/alerts?state=..&host=..&severity=..&q=..&since_ms=..&until_ms=..&limit=..&offset=..`:
/// the page's alerts; `X-Total-Count` says how many pass the filter in all.
pub async fn alerts(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(params): ApiQuery<AlertParams>,
) -> Result<(HeaderMap, Json<Vec<AlertView>>), ApiError> {
    let filter = filter(&params)?;
    let limit = params.limit.unwrap_or(DEFAULT_LIMIT);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(ApiError::BadRequest(format!(
            "bad limit {limit}: expected 1 to {MAX_LIMIT}"
        )));
    }
    let offset = params.offset.unwrap_or(0);
    let page = blocking(&state.ctx, move |ctx| {
        let visible = crate::domain::access::visible(ctx, &caller.access)?;
        Ok::<_, ApiError>(alerts::page(ctx, &filter, &visible, offset, limit)?)
    })
    .await?;
    let mut headers = HeaderMap::new();
    headers.insert("x-total-count", page.total.into());
    Ok((headers, Json(page.alerts)))
}

#[cfg(test)]
mod tests {
    use crate::config::Config;
    use crate::storage::alerts::{AlertRecord, Severity};

    #[tokio::test]
    async fn open_alerts_reach_metrics_and_the_document() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = crate::service::offline_context(Config::with_data_dir(dir.path().into()))
            .await
            .unwrap();
        for (key, agent_id, severity) in [
            ("fs/a/x", "a", Severity::Warning),
            ("pool/a/tank", "a", Severity::Critical),
            ("host/b/offline", "b", Severity::Critical),
        ] {
            let record = AlertRecord {
                key: key.into(),
                agent_id: unity_shared::proto::AgentId::new(agent_id).unwrap(),
                severity,
                summary: format!("{key} summary"),
                details: vec![],
                opened_at_ms: 10,
                last_seen_ms: 10,
                resolved_at_ms: None,
            };
            ctx.store.alerts.put_open(&record).unwrap();
        }
        let text = super::super::metrics::render(&ctx).unwrap();
        assert!(
            text.contains("unity_alerts_open{severity=\"critical\"} 2"),
            "{text}"
        );
        let spec = super::super::openapi::spec();
        assert!(spec["paths"]["/api/v1/alerts"]["get"].is_object());
    }
}
