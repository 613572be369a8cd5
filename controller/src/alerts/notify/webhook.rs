//! A generic webhook: each event is POSTed as one JSON object. The field names are a stable,
//! documented format (`docs/alerts.md`):
//!
//! ```json
//! {"event": "opened", "key": "pool/nas/tank", "agent_id": "nas", "hostname": "nas01",
//!  "severity": "critical", "summary": "tank: DEGRADED, 1 of 12 disks FAULTED",
//!  "details": ["..."], "opened_at_ms": 1700000000000, "resolved_at_ms": null, "url": null}
//! ```

use super::{check_status, host_link, Notifier, NotifyError};
use crate::alerts::config::WebhookConfig;
use crate::alerts::Event;
use crate::storage::alerts::Severity;

pub struct Webhook {
    client: reqwest::Client,
    name: String,
    url: String,
    min_severity: Severity,
    dashboard_url: Option<String>,
}

impl Webhook {
    pub fn new(
        client: reqwest::Client,
        number: usize,
        config: &WebhookConfig,
        dashboard_url: Option<&str>,
    ) -> Webhook {
        Webhook {
            client,
            name: format!("webhook {number}"),
            url: config.url.0.clone(),
            min_severity: config.min_severity,
            dashboard_url: dashboard_url.map(str::to_owned),
        }
    }
}

/// The JSON body for `event`.
pub fn body(event: &Event, dashboard_url: Option<&str>) -> serde_json::Value {
    let alert = &event.alert;
    serde_json::json!({
        "event": event.kind.as_str(),
        "key": alert.key,
        "agent_id": alert.agent_id,
        "hostname": event.hostname,
        "severity": alert.severity.as_str(),
        "summary": alert.summary,
        "details": alert.details,
        "opened_at_ms": alert.opened_at_ms,
        "resolved_at_ms": alert.resolved_at_ms,
        "url": host_link(dashboard_url, &alert.agent_id),
    })
}

impl Notifier for Webhook {
    fn name(&self) -> &str {
        &self.name
    }

    fn min_severity(&self) -> Severity {
        self.min_severity
    }

    async fn send(&self, event: &Event) -> Result<(), NotifyError> {
        let response = self
            .client
            .post(&self.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body(event, self.dashboard_url.as_deref()).to_string())
            .send()
            .await
            .map_err(NotifyError::from_reqwest)?;
        check_status(response).await
    }
}
