//! Notifications: receivers by URL ([`url`], [`receivers`]), one message text for all
//! ([`message`]), the services ([`chat`] over [`http`], [`smtp`], [`mqtt`], with every
//! host, disk and container as Home Assistant entities: [`mqtt_entities`], [`mqtt_live`]), and durable
//! delivery. The evaluation stores each event a receiver should get in the outbox
//! ([`crate::storage::outbox`], [`enqueue`]) in the same flush as the alert change; one worker
//! per receiver delivers its entries in order, retries with exponential backoff on network
//! errors, 5xx and 429 (honouring `Retry-After`), gives up on other answers, and records the
//! outcome, so a slow or dead receiver delays only itself and never the evaluation, and a
//! controller restart neither loses nor repeats notifications.
//!
//! Receiver URLs hold secrets: logs and errors name a receiver by its name only.

pub mod chat;
pub mod http;
pub mod message;
pub mod mqtt;
pub mod mqtt_entities;
pub mod mqtt_live;
pub mod ntfy;
pub mod receivers;
pub mod smtp;
pub mod url;
pub mod webhook;

mod worker;

pub use worker::{enqueue, Dispatcher};

use super::{Event, EventKind};
use chat::Endpoints;
use receivers::ReceiverConfig;
use std::time::Duration;
use url::Channel;

/// The longest wait between two attempts.
pub const MAX_DELAY: Duration = Duration::from_secs(300);

/// Why a delivery failed.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// The HTTP or TLS client could not be set up.
    #[error("client setup: {0}")]
    Client(String),
    /// The request could not be sent or no answer came (the URL is left out).
    #[error("request failed: {0}")]
    Transport(String),
    /// The receiver answered with an error status.
    #[error("receiver answered HTTP {status}")]
    Status {
        status: u16,
        retry_after: Option<Duration>,
    },
    #[error("mail: {message}")]
    Smtp { message: String, retryable: bool },
    #[error("MQTT: {message}")]
    Mqtt { message: String, retryable: bool },
}

impl NotifyError {
    /// Whether trying again may help (network trouble, overload, server errors).
    pub fn is_retryable(&self) -> bool {
        match self {
            NotifyError::Client(_) => false,
            NotifyError::Transport(_) => true,
            NotifyError::Status { status, .. } => *status == 429 || *status >= 500,
            NotifyError::Smtp { retryable, .. } | NotifyError::Mqtt { retryable, .. } => *retryable,
        }
    }

    /// How long the receiver asked us to wait.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            NotifyError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    fn from_reqwest(error: reqwest::Error) -> NotifyError {
        NotifyError::Transport(error.without_url().to_string())
    }
}

/// The wait before attempt `attempt + 1` (0-based): doubling from `first`, capped.
pub fn backoff(first: Duration, attempt: u32) -> Duration {
    first
        .checked_mul(1u32.checked_shl(attempt).unwrap_or(u32::MAX))
        .unwrap_or(MAX_DELAY)
        .min(MAX_DELAY)
}

/// What every delivery needs besides the receiver: the HTTP client, the hosted services'
/// addresses and the dashboard's.
#[derive(Clone)]
pub struct Sender {
    pub client: reqwest::Client,
    pub endpoints: Endpoints,
    pub dashboard_url: Option<String>,
}

impl Sender {
    pub fn new(dashboard_url: Option<String>) -> Result<Sender, NotifyError> {
        Ok(Sender {
            client: http::client()?,
            endpoints: Endpoints::default(),
            dashboard_url,
        })
    }

    /// Delivers `event` to `receiver` once. `txn` identifies the queued notification (the same
    /// on every retry).
    pub async fn send(
        &self,
        receiver: &ReceiverConfig,
        event: &Event,
        txn: u64,
    ) -> Result<(), NotifyError> {
        let message = message::message(event, self.dashboard_url.as_deref());
        match &receiver.channel {
            Channel::Smtp {
                host,
                port,
                tls,
                username,
                password,
                from,
                to,
                ca_file,
            } => {
                let smtp = smtp::Smtp {
                    host,
                    port: *port,
                    tls: *tls,
                    username: username.as_deref(),
                    password: password.as_ref(),
                    from,
                    to,
                    ca_file: ca_file.as_deref(),
                };
                smtp::send(&smtp, &message).await
            }
            Channel::Mqtt {
                host,
                port,
                tls,
                username,
                password,
                discovery_prefix,
                base_topic,
            } => {
                let mqtt = mqtt::Mqtt {
                    host,
                    port: *port,
                    tls: *tls,
                    username: username.as_deref(),
                    password: password.as_ref(),
                    discovery_prefix,
                    base_topic,
                };
                mqtt::send(&mqtt, event, &message, txn).await
            }
            channel => {
                let now_s = crate::clock::now_ms() / 1000;
                let requests = chat::requests(
                    channel,
                    receiver.secret.as_ref(),
                    &message,
                    event,
                    self.dashboard_url.as_deref(),
                    &self.endpoints,
                    txn,
                    now_s,
                )
                .unwrap_or_default();
                for request in requests {
                    http::send(&self.client, request).await?;
                }
                Ok(())
            }
        }
    }
}

impl EventKind {
    /// The kind named by `word` ([`EventKind::as_str`]), as the outbox stores it.
    pub fn from_word(word: &str) -> Option<EventKind> {
        EventKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == word)
    }
}

/// `unity-controller notify test NAME`: one test message to a configured receiver, now.
pub async fn test_receiver(
    receiver: &ReceiverConfig,
    dashboard_url: Option<String>,
) -> Result<String, String> {
    let sender = Sender::new(dashboard_url).map_err(|error| error.to_string())?;
    let event = message::test_event(crate::clock::now_ms());
    let txn = crate::clock::now_ms().max(0) as u64;
    sender
        .send(receiver, &event, txn)
        .await
        .map(|()| receiver.channel.redacted())
        .map_err(|error| format!("{}: {error}", receiver.channel.redacted()))
}

/// `unity-controller notify test URL`: one test message to the receiver `url`, now.
pub async fn test_url(url: &str, dashboard_url: Option<String>) -> Result<String, String> {
    let raw = receivers::RawReceiver {
        url: url.to_owned(),
        name: Some("test".into()),
        min_severity: None,
        groups: Vec::new(),
        rules: Vec::new(),
        quiet_hours: None,
        quiet_mode: None,
        quiet_min_severity: None,
        time_zone: None,
        secret: None,
    };
    let receiver = receivers::receiver(raw, 1).map_err(|error| error.to_string())?;
    test_receiver(&receiver, dashboard_url).await
}

#[cfg(test)]
mod chat_tests;
#[cfg(test)]
mod live_tests;
#[cfg(test)]
mod mqtt_entities_live_tests;
#[cfg(test)]
mod mqtt_entities_tests;
#[cfg(test)]
mod receivers_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod url_tests;
