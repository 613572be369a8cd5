//! Alert endpoints (GET, any signed-in user, for the hosts they may view): open alerts,
//! resolved ones, or both, optionally for one host. A thin handler over [`crate::domain::alerts`],
//! which the dashboard and `/metrics` read too.

use crate::domain::alerts::{self, parse_which, AlertView, DEFAULT_LIMIT, MAX_LIMIT};
use crate::http::auth::Caller;
use crate::http::error::ApiError;
use crate::http::extract::{blocking, ApiQuery};
use crate::http::state::AppState;
use axum::extract::State;
use axum::Json;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertParams {
    /// `open` (default), `resolved` or `all`.
    pub state: Option<String>,
    /// Only this host's alerts (agent id).
    pub host: Option<String>,
    /// Resolved alerts returned at most, newest first (default 100, at most 1000).
    pub limit: Option<usize>,
}

/// `GET /api/v1/alerts?state=open|resolved|all&host=<agent_id>&limit=<n>`.
pub async fn alerts(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(params): ApiQuery<AlertParams>,
) -> Result<Json<Vec<AlertView>>, ApiError> {
    let which = parse_which(params.state.as_deref())?;
    let limit = params.limit.unwrap_or(DEFAULT_LIMIT);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(ApiError::BadRequest(format!(
            "bad limit {limit}: expected 1 to {MAX_LIMIT}"
        )));
    }
    blocking(&state.ctx, move |ctx| {
        let visible = crate::domain::access::visible(ctx, &caller.access)?;
        let mut alerts = alerts::list(ctx, which, params.host.as_deref(), limit)?;
        alerts.retain(|alert| visible.sees(&alert.agent_id));
        Ok::<_, ApiError>(alerts)
    })
    .await
    .map(Json)
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
