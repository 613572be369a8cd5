//! Alerts as the faces list them: open ones (most severe, then newest first) and resolved
//! ones (newest first), optionally for one host, with the host's name; and the open count per
//! severity for `/metrics`. The alert loop itself (`crate::alerts`) opens and resolves them.

use super::error::DomainError;
use crate::context::Context;
use crate::storage::alerts::{AlertRecord, Severity};
use serde::Serialize;
use std::collections::BTreeMap;
use unity_shared::proto::AgentId;

/// Resolved alerts a list returns at most, and by default.
pub const MAX_LIMIT: usize = 1000;
pub const DEFAULT_LIMIT: usize = 100;

/// Which alerts a list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    Open,
    Resolved,
    All,
}

/// Whether an alert is still open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertState {
    /// Its condition holds, or has been gone for less than `resolve_after`.
    Open,
    /// Its condition has been gone for `resolve_after`.
    Resolved,
}

impl AlertState {
    /// The word the API and the pages show: `open` or `resolved`.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Open => "open",
            AlertState::Resolved => "resolved",
        }
    }
}

impl std::fmt::Display for AlertState {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// One alert as the faces list it.
#[derive(Debug, Clone, Serialize)]
pub struct AlertView {
    pub key: String,
    pub agent_id: AgentId,
    pub hostname: String,
    pub state: AlertState,
    pub severity: Severity,
    pub summary: String,
    pub details: Vec<String>,
    pub opened_at_ms: i64,
    pub last_seen_ms: i64,
    pub resolved_at_ms: Option<i64>,
}

/// Parses `open` (the default), `resolved` or `all`.
pub fn parse_which(text: Option<&str>) -> Result<Which, DomainError> {
    match text.unwrap_or("open") {
        "open" => Ok(Which::Open),
        "resolved" => Ok(Which::Resolved),
        "all" => Ok(Which::All),
        other => Err(DomainError::Invalid(format!(
            "bad state {other:?}: expected open, resolved or all"
        ))),
    }
}

/// Open alerts (most severe first, then newest first), then resolved ones (newest first).
/// Note that this uses blocking I/O.
pub fn list(
    ctx: &Context,
    which: Which,
    host: Option<&str>,
    limit: usize,
) -> Result<Vec<AlertView>, DomainError> {
    let hostnames: BTreeMap<AgentId, String> = ctx
        .store
        .agents
        .agents()?
        .into_iter()
        .map(|agent| (agent.agent_id, agent.hostname))
        .collect();
    let mut records: Vec<AlertRecord> = Vec::new();
    if which != Which::Resolved {
        let mut open = ctx.store.alerts.open_alerts()?;
        open.sort_by(|a, b| {
            b.severity
                .cmp(&a.severity)
                .then(b.opened_at_ms.cmp(&a.opened_at_ms))
                .then(a.key.cmp(&b.key))
        });
        records.extend(open);
    }
    if which != Which::Open {
        records.extend(ctx.store.alerts.history(limit.min(MAX_LIMIT))?);
    }
    Ok(records
        .into_iter()
        .filter(|record| host.is_none_or(|host| record.agent_id.as_str() == host))
        .map(|record| AlertView {
            hostname: hostnames
                .get(&record.agent_id)
                .cloned()
                .unwrap_or_else(|| record.agent_id.to_string()),
            state: if record.resolved_at_ms.is_some() {
                AlertState::Resolved
            } else {
                AlertState::Open
            },
            key: record.key,
            agent_id: record.agent_id,
            severity: record.severity,
            summary: record.summary,
            details: record.details,
            opened_at_ms: record.opened_at_ms,
            last_seen_ms: record.last_seen_ms,
            resolved_at_ms: record.resolved_at_ms,
        })
        .collect())
}

/// Open alerts per severity, for `/metrics`. Note that this uses blocking I/O.
pub fn open_counts(ctx: &Context) -> Result<[(Severity, usize); 2], DomainError> {
    let open = ctx.store.alerts.open_alerts()?;
    let count = |severity| open.iter().filter(|a| a.severity == severity).count();
    Ok([
        (Severity::Warning, count(Severity::Warning)),
        (Severity::Critical, count(Severity::Critical)),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn record(key: &str, agent_id: &str, severity: Severity, opened_at_ms: i64) -> AlertRecord {
        AlertRecord {
            key: key.into(),
            agent_id: AgentId::new(agent_id).unwrap(),
            severity,
            summary: format!("{key} summary"),
            details: vec![],
            opened_at_ms,
            last_seen_ms: opened_at_ms,
            resolved_at_ms: None,
        }
    }

    #[tokio::test]
    async fn lists_open_and_resolved_alerts_for_viewers() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = crate::service::offline_context(Config::with_data_dir(dir.path().into()))
            .await
            .unwrap();
        let alerts = &ctx.store.alerts;
        alerts
            .put_open(&record("fs/a/x", "a", Severity::Warning, 30))
            .unwrap();
        alerts
            .put_open(&record("pool/a/tank", "a", Severity::Critical, 10))
            .unwrap();
        alerts
            .put_open(&record("host/b/offline", "b", Severity::Critical, 20))
            .unwrap();
        alerts
            .put_open(&record("disk/a/1/smart", "a", Severity::Critical, 5))
            .unwrap();
        alerts.resolve("disk/a/1/smart", 40).unwrap();
        let keys = |which, host, limit| -> Vec<String> {
            list(&ctx, which, host, limit)
                .unwrap()
                .into_iter()
                .map(|alert| format!("{} {}", alert.state, alert.key))
                .collect()
        };
        assert_eq!(
            keys(Which::Open, None, 100),
            ["open host/b/offline", "open pool/a/tank", "open fs/a/x"]
        );
        assert_eq!(
            keys(Which::All, Some("a"), 100),
            ["open pool/a/tank", "open fs/a/x", "resolved disk/a/1/smart"]
        );
        assert_eq!(
            keys(Which::Resolved, None, 100),
            ["resolved disk/a/1/smart"]
        );
        assert_eq!(
            open_counts(&ctx).unwrap(),
            [(Severity::Warning, 1), (Severity::Critical, 2)]
        );
        assert!(parse_which(Some("closed")).is_err());
        assert_eq!(parse_which(None).unwrap(), Which::Open);
    }
}
