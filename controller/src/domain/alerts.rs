//! Alerts as the faces list them: open ones (most severe, then newest first) and resolved
//! ones (newest first), optionally for one host, with the host's name; and the open count per
//! severity for `/metrics`. The alert loop itself (`crate::alerts`) opens and resolves them.
//!
//! Issue 18: each view says whether the alert is acknowledged (by whom, when, why), silenced
//! (by which silences) or unknown (its host is offline); [`page`] filters by state,
//! severity, host, text and time and pages through the open ones and the bounded history.

use super::error::DomainError;
use crate::clock::now_ms;
use crate::context::Context;
use crate::storage::alert_lifecycle::{ack_of, status_of, Acknowledgement, AlertStatus};
use crate::storage::alert_silences::SilenceRecord;
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

/// Where an alert is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertState {
    /// Its condition holds, or has been gone for less than `resolve_after`.
    Open,
    /// Its condition has been gone for `resolve_after`.
    Resolved,
    /// Open, and someone acknowledged it (issue 18).
    Acknowledged,
    /// Open, and a silence mutes it.
    Silenced,
    /// Open, and its host is offline: whether the condition still holds is not known.
    Unknown,
}

impl AlertState {
    /// The word the API and the pages show.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Open => "open",
            AlertState::Resolved => "resolved",
            AlertState::Acknowledged => "acknowledged",
            AlertState::Silenced => "silenced",
            AlertState::Unknown => "unknown",
        }
    }

    /// Every state, in the order the filters offer them.
    pub const ALL: [AlertState; 5] = [
        AlertState::Open,
        AlertState::Acknowledged,
        AlertState::Silenced,
        AlertState::Unknown,
        AlertState::Resolved,
    ];
}

/// An acknowledgement as the faces show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AckView {
    /// Who: `ada`, `ada via API token 3f2a9c1d`, `cli`.
    pub by: String,
    pub at_ms: i64,
    pub note: String,
}

impl AckView {
    fn of(ack: &Acknowledgement) -> AckView {
        AckView {
            by: ack.by.to_string(),
            at_ms: ack.at_ms,
            note: ack.note.clone(),
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
    /// Who acknowledged it, when and why (open alerts).
    pub acknowledged: Option<AckView>,
    /// The silences muting it (open alerts).
    pub silenced_by: Vec<u64>,
    /// Since when its host is offline (open alerts).
    pub unknown_since_ms: Option<i64>,
}

/// What the lifecycle adds to open alerts: acknowledgements, statuses, silences.
struct Lifecycle {
    acks: BTreeMap<String, Acknowledgement>,
    statuses: BTreeMap<String, AlertStatus>,
    silences: Vec<SilenceRecord>,
    labels: BTreeMap<AgentId, Vec<(String, String)>>,
    now_ms: i64,
}

impl Lifecycle {
    fn load(ctx: &Context) -> Result<Lifecycle, DomainError> {
        let now_ms = now_ms();
        let silences: Vec<SilenceRecord> = super::alert_actions::in_force(ctx, now_ms)?;
        let labels = if silences.iter().any(|silence| silence.label.is_some()) {
            ctx.store.access.all_labels()?.into_iter().collect()
        } else {
            BTreeMap::new()
        };
        Ok(Lifecycle {
            acks: ctx.store.alert_lifecycle.acks()?,
            statuses: ctx.store.alert_lifecycle.statuses()?,
            silences,
            labels,
            now_ms,
        })
    }

    fn view(&self, record: AlertRecord, hostname: String) -> AlertView {
        let (acknowledged, silenced_by, unknown_since_ms) = if record.resolved_at_ms.is_some() {
            (None, Vec::new(), None)
        } else {
            let labels = self
                .labels
                .get(&record.agent_id)
                .map_or(&[][..], Vec::as_slice);
            (
                ack_of(&self.acks, &record.key, record.opened_at_ms).map(AckView::of),
                self.silences
                    .iter()
                    .filter(|silence| {
                        silence.mutes(&record.key, &record.agent_id, labels, self.now_ms)
                    })
                    .map(|silence| silence.id)
                    .collect(),
                status_of(&self.statuses, &record.key, record.opened_at_ms).unknown_since_ms,
            )
        };
        let state = if record.resolved_at_ms.is_some() {
            AlertState::Resolved
        } else if unknown_since_ms.is_some() {
            AlertState::Unknown
        } else if !silenced_by.is_empty() {
            AlertState::Silenced
        } else if acknowledged.is_some() {
            AlertState::Acknowledged
        } else {
            AlertState::Open
        };
        AlertView {
            hostname,
            state,
            key: record.key,
            agent_id: record.agent_id,
            severity: record.severity,
            summary: record.summary,
            details: record.details,
            opened_at_ms: record.opened_at_ms,
            last_seen_ms: record.last_seen_ms,
            resolved_at_ms: record.resolved_at_ms,
            acknowledged,
            silenced_by,
            unknown_since_ms,
        }
    }
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
    list_up_to(ctx, which, host, limit.min(MAX_LIMIT))
}

/// [`list`] with at most `limit` resolved alerts, however many.
fn list_up_to(
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
        records.extend(ctx.store.alerts.history(limit)?);
    }
    let lifecycle = Lifecycle::load(ctx)?;
    Ok(records
        .into_iter()
        .filter(|record| host.is_none_or(|host| record.agent_id.as_str() == host))
        .map(|record| {
            let hostname = hostnames
                .get(&record.agent_id)
                .cloned()
                .unwrap_or_else(|| record.agent_id.to_string());
            lifecycle.view(record, hostname)
        })
        .collect())
}

/// What the Alerts page and `GET /api/v1/alerts` filter by; `None` = any.
#[derive(Debug, Clone, Default)]
pub struct AlertFilter {
    /// `open` means any unresolved state.
    pub state: Option<AlertState>,
    pub severity: Option<Severity>,
    /// An agent id.
    pub host: Option<String>,
    /// Found in the key, summary, details, host name or acknowledgement note (any case).
    pub text: Option<String>,
    /// Alerts open at some time in `[since_ms, until_ms]`.
    pub since_ms: Option<i64>,
    pub until_ms: Option<i64>,
}

impl AlertFilter {
    /// Whether `alert` passes.
    pub fn passes(&self, alert: &AlertView) -> bool {
        let state_ok = match self.state {
            None => true,
            Some(AlertState::Open) => alert.state != AlertState::Resolved,
            Some(state) => alert.state == state,
        };
        let text_ok = self.text.as_deref().is_none_or(|text| {
            let text = text.to_lowercase();
            let has = |field: &str| field.to_lowercase().contains(&text);
            has(&alert.key)
                || has(&alert.summary)
                || has(&alert.hostname)
                || alert.details.iter().any(|detail| has(detail))
                || alert
                    .acknowledged
                    .as_ref()
                    .is_some_and(|ack| has(&ack.note))
        });
        state_ok
            && text_ok
            && self
                .severity
                .is_none_or(|severity| alert.severity == severity)
            && self
                .host
                .as_deref()
                .is_none_or(|host| alert.agent_id.as_str() == host)
            && self
                .until_ms
                .is_none_or(|until| alert.opened_at_ms <= until)
            && self
                .since_ms
                .is_none_or(|since| alert.resolved_at_ms.is_none_or(|at| at >= since))
    }
}

/// Parses a state word (`open` = any unresolved), a severity word.
pub fn parse_state(text: &str) -> Result<AlertState, DomainError> {
    AlertState::ALL
        .into_iter()
        .find(|state| state.as_str() == text)
        .ok_or_else(|| {
            DomainError::Invalid(format!(
                "bad state {text:?}: expected open, acknowledged, silenced, unknown or resolved"
            ))
        })
}

pub fn parse_severity(text: &str) -> Result<Severity, DomainError> {
    match text {
        "warning" => Ok(Severity::Warning),
        "critical" => Ok(Severity::Critical),
        other => Err(DomainError::Invalid(format!(
            "bad severity {other:?}: expected warning or critical"
        ))),
    }
}

/// One page of alerts.
#[derive(Debug, Clone, Serialize)]
pub struct AlertPage {
    /// How many pass the filter in all.
    pub total: usize,
    pub offset: usize,
    pub limit: usize,
    pub alerts: Vec<AlertView>,
}

/// The alerts passing `filter` that `visible` lets the caller see: open ones first (most
/// severe, newest), then the history (newest first, at most `history_max`); `limit` of them
/// from `offset`. Note that this uses blocking I/O.
pub fn page(
    ctx: &Context,
    filter: &AlertFilter,
    visible: &super::access::Visible,
    offset: usize,
    limit: usize,
) -> Result<AlertPage, DomainError> {
    let limit = limit.clamp(1, MAX_LIMIT);
    let which = match filter.state {
        Some(AlertState::Resolved) => Which::Resolved,
        Some(_) => Which::Open,
        None => Which::All,
    };
    let history = ctx.config.alerts.history_max.max(1);
    let passing: Vec<AlertView> = list_up_to(ctx, which, filter.host.as_deref(), history)?
        .into_iter()
        .filter(|alert| visible.sees(&alert.agent_id) && filter.passes(alert))
        .collect();
    Ok(AlertPage {
        total: passing.len(),
        offset,
        limit,
        alerts: passing.into_iter().skip(offset).take(limit).collect(),
    })
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
