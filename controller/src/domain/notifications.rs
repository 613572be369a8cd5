//! Alert receivers as an operator sees them: each configured receiver with its service,
//! routing, quiet hours and delivery status (last success, last error, waiting), never its
//! URL; and "send test", which queues a test message in the outbox for the receiver's worker
//! (the alert loop) and reads back its outcome.

use super::error::DomainError;
use crate::clock::now_ms;
use crate::context::Context;
use crate::storage::alerts::{AlertRecord, Severity};
use crate::storage::outbox::{DeliveryStatus, OutboxEntry, OutboxEvent, TestOutcome};
use unity_shared::proto::AgentId;

/// One receiver on the dashboard.
#[derive(Debug, Clone)]
pub struct ReceiverView {
    pub name: String,
    /// Service and, for servers people run, host and port; no secrets.
    pub description: String,
    pub min_severity: Severity,
    /// "all alerts", or the host groups and rule prefixes.
    pub routing: String,
    /// "22:00-07:00 Europe/Berlin, queue (critical still sent)".
    pub quiet: Option<String>,
    /// Notifications waiting for delivery.
    pub pending: usize,
    pub status: DeliveryStatus,
}

/// Every configured receiver.
///
/// Note that this uses blocking I/O.
pub fn list(ctx: &Context) -> Result<Vec<ReceiverView>, DomainError> {
    let mut views = Vec::new();
    for receiver in &ctx.config.alerts.receivers {
        let mut routing = Vec::new();
        if !receiver.groups.is_empty() {
            routing.push(format!("host groups {}", receiver.groups.join(", ")));
        }
        if !receiver.rules.is_empty() {
            routing.push(format!("rules {}", receiver.rules.join(", ")));
        }
        let quiet = receiver.quiet.as_ref().map(|quiet| {
            format!(
                "{:02}:{:02}-{:02}:{:02} {}, {} ({} still sent)",
                quiet.start_minute / 60,
                quiet.start_minute % 60,
                quiet.end_minute / 60,
                quiet.end_minute % 60,
                quiet.time_zone.iana_name().unwrap_or("UTC"),
                format!("{:?}", quiet.mode).to_lowercase(),
                quiet.min_severity.as_str(),
            )
        });
        views.push(ReceiverView {
            name: receiver.name.clone(),
            description: receiver.channel.redacted(),
            min_severity: receiver.min_severity,
            routing: if routing.is_empty() {
                "all alerts".to_owned()
            } else {
                routing.join("; ")
            },
            quiet,
            pending: ctx.store.outbox.pending(&receiver.name),
            status: ctx.store.outbox.status(&receiver.name)?,
        });
    }
    Ok(views)
}

/// Queues a test message for the receiver `name`; returns the id its outcome is stored under.
///
/// Note that this uses blocking I/O.
pub fn queue_test(ctx: &Context, name: &str) -> Result<u64, DomainError> {
    if !ctx
        .config
        .alerts
        .receivers
        .iter()
        .any(|receiver| receiver.name == name)
    {
        return Err(DomainError::NotFound(format!("no receiver named {name:?}")));
    }
    let now = now_ms();
    let outbox = &ctx.store.outbox;
    let test_id = outbox.new_id()?;
    let agent_id =
        AgentId::new("unity").map_err(|error| DomainError::Invalid(error.to_string()))?;
    let entry = OutboxEntry {
        event: OutboxEvent {
            kind: "opened".into(),
            hostname: "unity".into(),
            alert: AlertRecord {
                key: "test/unity/notification".into(),
                agent_id,
                severity: Severity::Warning,
                summary: "Test notification from Unity".into(),
                details: vec!["If you can read this, this receiver works.".into()],
                opened_at_ms: now,
                last_seen_ms: now,
                resolved_at_ms: None,
            },
        },
        attempts: 0,
        not_before_ms: now,
        test_id: Some(test_id),
    };
    outbox.push(name, &entry)?;
    outbox.flush()?;
    outbox.prune_tests(now - 24 * 3600 * 1000)?;
    Ok(test_id)
}

/// The outcome of a queued test, once its worker has one.
///
/// Note that this uses blocking I/O.
pub fn test_outcome(ctx: &Context, test_id: u64) -> Result<Option<TestOutcome>, DomainError> {
    Ok(ctx.store.outbox.test_outcome(test_id)?)
}
