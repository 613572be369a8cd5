//! The outbox's two ends: [`enqueue`] (called by the evaluation, before its flush) stores
//! each event for every receiver whose severity, routing and quiet hours let it through; the
//! [`Dispatcher`]'s workers, one per receiver, deliver the stored entries in order, retrying
//! and recording outcomes. Entries queued by a "send test" from the dashboard are found by
//! the same workers (they look at the outbox at least every second).

use super::receivers::{ReceiverConfig, Routed};
use super::{backoff, NotifyError, Sender};
use crate::alerts::config::AlertsConfig;
use crate::alerts::{Event, EventKind};
use crate::clock::now_ms;
use crate::storage::outbox::{Outbox, OutboxEntry, OutboxEvent};
use crate::storage::{StorageError, Store};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// How often an idle worker looks for entries it was not woken for (tests from the dashboard).
const IDLE_POLL: Duration = Duration::from_secs(1);

/// Stores `events` in the outbox for each receiver that should get them. Durable with the
/// caller's next flush.
///
/// Note that this uses blocking I/O.
pub fn enqueue(
    store: &Store,
    config: &AlertsConfig,
    events: &[Event],
    now_ms: i64,
) -> Result<(), StorageError> {
    if events.is_empty() || config.receivers.is_empty() {
        return Ok(());
    }
    let needs_groups = config
        .receivers
        .iter()
        .any(|receiver| !receiver.groups.is_empty());
    let groups = if needs_groups {
        store.access.host_groups()?
    } else {
        Vec::new()
    };
    for event in events {
        let host_groups: Vec<String> = if needs_groups {
            let labels = store.access.labels(&event.alert.agent_id)?;
            groups
                .iter()
                .filter(|group| group.contains(&event.alert.agent_id, &labels))
                .map(|group| group.name.clone())
                .collect()
        } else {
            Vec::new()
        };
        let routed = Routed {
            severity: event.alert.severity,
            key: &event.alert.key,
            host_groups: &host_groups,
            resolved_problem_opened_ms: (event.kind == EventKind::Resolved)
                .then_some(event.alert.opened_at_ms),
        };
        for receiver in &config.receivers {
            if let Some(not_before_ms) = receiver.plan(&routed, now_ms) {
                store.outbox.push(
                    &receiver.name,
                    &OutboxEntry {
                        event: stored(event),
                        attempts: 0,
                        not_before_ms,
                        test_id: None,
                    },
                )?;
            }
        }
    }
    Ok(())
}

fn stored(event: &Event) -> OutboxEvent {
    OutboxEvent {
        kind: event.kind.as_str().to_owned(),
        hostname: event.hostname.clone(),
        alert: event.alert.clone(),
    }
}

/// The workers' wake-up bells.
#[derive(Default)]
pub struct Dispatcher {
    bells: Vec<Arc<Notify>>,
}

impl Dispatcher {
    /// Starts one worker per configured receiver. Must run inside a Tokio runtime.
    pub fn start(config: &AlertsConfig, outbox: Outbox) -> Result<Dispatcher, NotifyError> {
        let sender = Sender::new(config.dashboard_url.clone())?;
        Ok(Dispatcher::with(
            config,
            outbox,
            sender,
            Duration::from_secs(2),
        ))
    }

    /// Like [`Dispatcher::start`] with a given sender and first retry delay.
    pub fn with(
        config: &AlertsConfig,
        outbox: Outbox,
        sender: Sender,
        first_delay: Duration,
    ) -> Dispatcher {
        let mut bells = Vec::new();
        for receiver in &config.receivers {
            let bell = Arc::new(Notify::new());
            bells.push(bell.clone());
            let worker = Worker {
                receiver: receiver.clone(),
                outbox: outbox.clone(),
                sender: sender.clone(),
                attempts: config.notify_attempts,
                first_delay,
                bell,
            };
            tokio::spawn(worker.run());
        }
        Dispatcher { bells }
    }

    /// Tells the workers that new entries were stored; never waits.
    pub fn dispatch(&self, events: &[Event]) {
        if !events.is_empty() {
            for bell in &self.bells {
                bell.notify_one();
            }
        }
    }
}

/// What a worker does next.
#[derive(Debug, PartialEq)]
pub enum Pick {
    Deliver(u64, Box<OutboxEntry>),
    /// Nothing due; look again in this many milliseconds at the latest.
    Wait(i64),
}

/// The next entry to deliver: the oldest that is due. An entry being retried holds back the
/// ones after it (so a recovery never overtakes its problem); one held by quiet hours does not
/// (alerts severe enough to pass the quiet hours go out at once).
pub fn pick(entries: Vec<(u64, OutboxEntry)>, now_ms: i64) -> Pick {
    let mut wait = IDLE_POLL.as_millis() as i64;
    for (id, entry) in entries {
        if entry.not_before_ms <= now_ms {
            return Pick::Deliver(id, Box::new(entry));
        }
        wait = wait.min(entry.not_before_ms - now_ms);
        if entry.attempts > 0 {
            break;
        }
    }
    Pick::Wait(wait)
}

struct Worker {
    receiver: ReceiverConfig,
    outbox: Outbox,
    sender: Sender,
    attempts: u32,
    first_delay: Duration,
    bell: Arc<Notify>,
}

/// Runs a storage call off the async threads.
async fn blocking<T: Send + 'static>(
    outbox: &Outbox,
    call: impl FnOnce(&Outbox) -> Result<T, StorageError> + Send + 'static,
) -> Result<T, String> {
    let outbox = outbox.clone();
    match tokio::task::spawn_blocking(move || call(&outbox)).await {
        Ok(result) => result.map_err(|error| error.to_string()),
        Err(error) => Err(error.to_string()),
    }
}

impl Worker {
    async fn idle(&self, wait: Duration) {
        tokio::select! {
            _ = self.bell.notified() => {}
            _ = tokio::time::sleep(wait.min(IDLE_POLL)) => {}
        }
    }

    async fn run(self) {
        let name = self.receiver.name.clone();
        loop {
            let next = {
                let name = name.clone();
                blocking(&self.outbox, move |outbox| outbox.queued(&name)).await
            };
            let (id, mut entry) = match next.map(|entries| pick(entries, now_ms())) {
                Ok(Pick::Deliver(id, entry)) => (id, *entry),
                Ok(Pick::Wait(ms)) => {
                    self.idle(Duration::from_millis(ms.max(1) as u64)).await;
                    continue;
                }
                Err(error) => {
                    tracing::error!(receiver = %name, %error, "Notification outbox unreadable.");
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    continue;
                }
            };
            let result = match EventKind::from_word(&entry.event.kind) {
                Some(kind) => {
                    let event = Event {
                        kind,
                        hostname: entry.event.hostname.clone(),
                        alert: entry.event.alert.clone(),
                    };
                    self.sender.send(&self.receiver, &event, id).await
                }
                None => Err(NotifyError::Client(format!(
                    "unknown event kind {:?}",
                    entry.event.kind
                ))),
            };
            let now = now_ms();
            let outcome = match result {
                Ok(()) => {
                    tracing::debug!(receiver = %name, key = %entry.event.alert.key, "Notification sent.");
                    None
                }
                Err(error) if error.is_retryable() && entry.attempts + 1 < self.attempts => {
                    let delay = backoff(self.first_delay, entry.attempts)
                        .max(error.retry_after().unwrap_or_default());
                    tracing::warn!(receiver = %name, %error, ?delay, "Notification failed; retrying.");
                    entry.attempts += 1;
                    entry.not_before_ms = now + delay.as_millis() as i64;
                    let message = error.to_string();
                    let (name, entry) = (name.clone(), entry.clone());
                    let stored = blocking(&self.outbox, move |outbox| {
                        outbox.note_error(&name, now, &message)?;
                        outbox.update(&name, id, &entry)
                    })
                    .await;
                    if let Err(error) = stored {
                        tracing::error!(receiver = %self.receiver.name, %error, "Notification outbox not writable.");
                        tokio::time::sleep(Duration::from_secs(5)).await;
                    }
                    continue;
                }
                Err(error) => {
                    tracing::error!(receiver = %name, key = %entry.event.alert.key, %error, "Notification failed; giving up.");
                    Some(error.to_string())
                }
            };
            let finished = {
                let name = name.clone();
                blocking(&self.outbox, move |outbox| {
                    outbox.finish(&name, id, &entry, now, outcome)
                })
                .await
            };
            if let Err(error) = finished {
                tracing::error!(receiver = %name, %error, "Notification outbox not writable.");
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
        }
    }
}
