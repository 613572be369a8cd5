//! Applying one evaluation to the stored alerts (issue 18 §2): each change of
//! [`super::diff_with_hosts`] is stored with its notification status, and
//! [`super::lifecycle::notification`] says whether the receivers hear of it, given the
//! alert's acknowledgement and the silences in force. Expired silences are pruned here.
//!
//! What was told is stored before the events are handed to the notifiers, so after a
//! restart (even a SIGKILL) nothing already told is told again: open alerts are refreshed,
//! not reopened, and a reminder waits for its interval from the last message.
//!
//! Note that this uses blocking I/O.

use super::lifecycle::{self, Step};
use super::rules::Condition;
use super::{diff_with_hosts, Change, Event, EventKind};
use crate::context::Context;
use crate::storage::alert_lifecycle::{ack_of, status_of, AlertStatus};
use crate::storage::alert_silences::SilenceRecord;
use crate::storage::alerts::AlertRecord;
use std::collections::{BTreeMap, BTreeSet};
use unity_shared::proto::AgentId;

/// The key of a host's offline alert.
pub fn offline_key(agent_id: &AgentId) -> String {
    format!("host/{agent_id}/offline")
}

/// The silences in force and the host labels they need.
pub struct SilenceSet {
    silences: Vec<SilenceRecord>,
    labels: BTreeMap<AgentId, Vec<(String, String)>>,
}

impl SilenceSet {
    /// Prunes expired silences and reads the others, the config file's first. Note that
    /// this uses blocking I/O.
    pub fn load(ctx: &Context, now_ms: i64) -> anyhow::Result<SilenceSet> {
        ctx.store.alert_silences.prune(now_ms)?;
        let silences = crate::domain::alert_actions::in_force(ctx, now_ms)?;
        let labels = if silences.iter().any(|silence| silence.label.is_some()) {
            ctx.store.access.all_labels()?.into_iter().collect()
        } else {
            BTreeMap::new()
        };
        Ok(SilenceSet { silences, labels })
    }

    /// The ids of the silences muting alert `key` of `agent_id` at `now_ms`.
    pub fn muting(&self, key: &str, agent_id: &AgentId, now_ms: i64) -> Vec<u64> {
        let labels = self.labels.get(agent_id).map_or(&[][..], Vec::as_slice);
        self.silences
            .iter()
            .filter(|silence| lifecycle::silences(silence, key, agent_id, labels, now_ms))
            .map(|silence| silence.id)
            .collect()
    }
}

/// Stores the outcome of one evaluation and returns what to tell. Not flushed here.
pub fn apply(
    ctx: &Context,
    open: &[AlertRecord],
    active: &[Condition],
    hostname: &dyn Fn(&AgentId) -> String,
    now_ms: i64,
) -> anyhow::Result<Vec<Event>> {
    let config = &ctx.config.alerts;
    let store = &ctx.store.alerts;
    let statuses = ctx.store.alert_lifecycle.statuses()?;
    let acks = ctx.store.alert_lifecycle.acks()?;
    let silences = SilenceSet::load(ctx, now_ms)?;
    let repeat_ms = i64::try_from(config.repeat_interval.as_millis()).unwrap_or(i64::MAX);
    let resolve_after_ms = i64::try_from(config.resolve_after.as_millis()).unwrap_or(i64::MAX);
    let offline: BTreeSet<&AgentId> = active
        .iter()
        .filter(|condition| condition.key == offline_key(&condition.agent_id))
        .map(|condition| &condition.agent_id)
        .collect();
    let unknown: BTreeSet<&str> = statuses
        .iter()
        .filter(|(_, status)| status.unknown_since_ms.is_some())
        .map(|(key, _)| key.as_str())
        .collect();
    let open_by_key: BTreeMap<&str, &AlertRecord> = open
        .iter()
        .map(|record| (record.key.as_str(), record))
        .collect();
    let silenced = |record: &AlertRecord| {
        !silences
            .muting(&record.key, &record.agent_id, now_ms)
            .is_empty()
    };
    let mut events = Vec::new();
    let mut tell = |kind: EventKind, record: AlertRecord| {
        events.push(Event {
            kind,
            hostname: hostname(&record.agent_id),
            alert: record,
        });
    };
    let changes = diff_with_hosts(open, &unknown, active, &offline, now_ms, resolve_after_ms);
    for change in changes {
        match change {
            Change::Open(record) => {
                store.put_open(&record)?;
                let mut status = AlertStatus::default();
                let kind = lifecycle::notification(
                    Step::Opened,
                    &status,
                    record.severity,
                    false,
                    silenced(&record),
                    now_ms,
                    repeat_ms,
                );
                tracing::info!(key = %record.key, severity = record.severity.as_str(), told = kind.is_some(), "Alert opened.");
                if kind.is_some() {
                    status.notified_at_ms = Some(now_ms);
                }
                ctx.store.alert_lifecycle.set_status(&record.key, &status)?;
                if let Some(kind) = kind {
                    tell(kind, record);
                }
            }
            Change::Refresh { record, escalated } => {
                store.put_open(&record)?;
                let stored = statuses.get(&record.key).copied();
                let mut status = status_of(&statuses, &record.key, record.opened_at_ms);
                status.unknown_since_ms = None;
                let kind = lifecycle::notification(
                    Step::Seen { escalated },
                    &status,
                    record.severity,
                    ack_of(&acks, &record.key, record.opened_at_ms).is_some(),
                    silenced(&record),
                    now_ms,
                    repeat_ms,
                );
                if kind.is_some() {
                    status.notified_at_ms = Some(now_ms);
                }
                if stored != Some(status) {
                    ctx.store.alert_lifecycle.set_status(&record.key, &status)?;
                }
                if let Some(kind) = kind {
                    tell(kind, record);
                }
            }
            Change::Unknown { key } => {
                if let Some(record) = open_by_key.get(key.as_str()) {
                    let mut status = status_of(&statuses, &record.key, record.opened_at_ms);
                    if status.unknown_since_ms.is_none() {
                        status.unknown_since_ms = Some(now_ms);
                        ctx.store.alert_lifecycle.set_status(&key, &status)?;
                        tracing::info!(%key, "Alert unknown while its host is offline.");
                    }
                }
            }
            Change::Recheck { record } => {
                let mut status = status_of(&statuses, &record.key, record.opened_at_ms);
                status.unknown_since_ms = None;
                store.put_open(&record)?;
                ctx.store.alert_lifecycle.set_status(&record.key, &status)?;
            }
            Change::Resolve { key } => {
                let Some(before) = open_by_key.get(key.as_str()) else {
                    continue;
                };
                let status = status_of(&statuses, &before.key, before.opened_at_ms);
                let was_silenced = silenced(before);
                if let Some(record) = store.resolve(&key, now_ms)? {
                    ctx.store.alert_lifecycle.forget(&key)?;
                    let kind = lifecycle::notification(
                        Step::Resolved,
                        &status,
                        record.severity,
                        false,
                        was_silenced,
                        now_ms,
                        repeat_ms,
                    );
                    tracing::info!(key = %record.key, told = kind.is_some(), "Alert resolved.");
                    if let Some(kind) = kind {
                        tell(kind, record);
                    }
                }
            }
        }
    }
    Ok(events)
}
