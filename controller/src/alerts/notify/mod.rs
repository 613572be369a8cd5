//! Notifications: a [`Notifier`] per configured receiver ([`webhook`], [`ntfy`]), each with its
//! own worker task and bounded queue, so a slow or dead receiver delays only itself and never
//! the evaluation loop. Deliveries are retried with exponential backoff; events for one
//! receiver are delivered in order.
//!
//! Receiver URLs and tokens may hold secrets: logs name a receiver by kind and number only,
//! and HTTP errors are logged without their URL.

pub mod ntfy;
pub mod webhook;

use super::config::AlertsConfig;
use super::Event;
use crate::storage::alerts::Severity;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use unity_shared::proto::AgentId;

/// Events waiting per receiver; beyond this, new events are dropped (and logged).
const QUEUE_LEN: usize = 256;
/// The longest wait between two attempts.
const MAX_DELAY: Duration = Duration::from_secs(300);

/// Why a delivery failed.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// The HTTP client could not be built (TLS setup).
    #[error("HTTP client: {0}")]
    Client(String),
    /// The request could not be sent or no answer came (the URL is left out).
    #[error("request failed: {0}")]
    Transport(String),
    /// The receiver answered with an error status.
    #[error("receiver answered HTTP {0}")]
    Status(u16),
}

impl NotifyError {
    /// Whether trying again may help (network trouble, overload, server errors).
    pub fn is_retryable(&self) -> bool {
        match self {
            NotifyError::Client(_) => false,
            NotifyError::Transport(_) => true,
            NotifyError::Status(status) => *status == 429 || *status >= 500,
        }
    }

    fn from_reqwest(error: reqwest::Error) -> NotifyError {
        NotifyError::Transport(error.without_url().to_string())
    }
}

/// A receiver of alert events.
pub trait Notifier: Send + Sync + 'static {
    /// For logs: kind and number, e.g. "webhook 1"; never the URL.
    fn name(&self) -> &str;
    /// Alerts less severe than this are not sent.
    fn min_severity(&self) -> Severity;
    /// Delivers one event once (the worker retries).
    fn send(&self, event: &Event) -> impl Future<Output = Result<(), NotifyError>> + Send;
}

/// Sends a response's error status as an error.
async fn check_status(response: reqwest::Response) -> Result<(), NotifyError> {
    let status = response.status();
    if status.is_success() {
        Ok(())
    } else {
        Err(NotifyError::Status(status.as_u16()))
    }
}

/// The link to the alert's host on the dashboard, when its address is configured.
pub fn host_link(dashboard_url: Option<&str>, agent_id: &AgentId) -> Option<String> {
    dashboard_url.map(|url| format!("{}/hosts/{agent_id}", url.trim_end_matches('/')))
}

/// The HTTP client: rustls with ring and the platform's trust store (no second TLS stack).
pub fn http_client() -> Result<reqwest::Client, NotifyError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = rustls_platform_verifier::Verifier::new(provider.clone())
        .map_err(|error| NotifyError::Client(error.to_string()))?;
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| NotifyError::Client(error.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .timeout(Duration::from_secs(15))
        .connect_timeout(Duration::from_secs(5))
        .user_agent(concat!("unity-controller/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(NotifyError::from_reqwest)
}

/// The queues of the notifier workers.
#[derive(Default)]
pub struct Dispatcher {
    queues: Vec<(String, mpsc::Sender<Arc<Event>>)>,
}

impl Dispatcher {
    /// Starts one worker per configured receiver. Must run inside a Tokio runtime.
    pub fn start(config: &AlertsConfig) -> Result<Dispatcher, NotifyError> {
        Dispatcher::with_backoff(config, Duration::from_secs(2))
    }

    /// Like [`Dispatcher::start`], with the first retry after `first_delay`.
    pub fn with_backoff(
        config: &AlertsConfig,
        first_delay: Duration,
    ) -> Result<Dispatcher, NotifyError> {
        let mut dispatcher = Dispatcher::default();
        if config.n_notifiers() == 0 {
            return Ok(dispatcher);
        }
        let client = http_client()?;
        let retry = Retry {
            attempts: config.notify_attempts,
            first_delay,
        };
        let dashboard_url = config.dashboard_url.as_deref();
        for (i, webhook) in config.webhooks.iter().enumerate() {
            let notifier = webhook::Webhook::new(client.clone(), i + 1, webhook, dashboard_url);
            dispatcher.add(notifier, retry);
        }
        for (i, ntfy) in config.ntfy.iter().enumerate() {
            let notifier = ntfy::Ntfy::new(client.clone(), i + 1, ntfy, dashboard_url);
            dispatcher.add(notifier, retry);
        }
        Ok(dispatcher)
    }

    fn add<N: Notifier>(&mut self, notifier: N, retry: Retry) {
        let (sender, receiver) = mpsc::channel(QUEUE_LEN);
        self.queues.push((notifier.name().to_owned(), sender));
        tokio::spawn(worker(notifier, receiver, retry));
    }

    /// Queues `events` for every receiver; never waits.
    pub fn dispatch(&self, events: &[Event]) {
        for event in events {
            let event = Arc::new(event.clone());
            for (name, queue) in &self.queues {
                if queue.try_send(event.clone()).is_err() {
                    tracing::warn!(notifier = %name, key = %event.alert.key, "Notification queue full; event dropped.");
                }
            }
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Retry {
    attempts: u32,
    first_delay: Duration,
}

/// The wait before attempt `attempt + 1` (0-based): doubling from `first`, capped.
pub fn backoff(first: Duration, attempt: u32) -> Duration {
    first
        .checked_mul(1u32.checked_shl(attempt).unwrap_or(u32::MAX))
        .unwrap_or(MAX_DELAY)
        .min(MAX_DELAY)
}

async fn worker<N: Notifier>(notifier: N, mut queue: mpsc::Receiver<Arc<Event>>, retry: Retry) {
    while let Some(event) = queue.recv().await {
        if event.alert.severity < notifier.min_severity() {
            continue;
        }
        let mut attempt = 0;
        loop {
            match notifier.send(&event).await {
                Ok(()) => {
                    tracing::debug!(notifier = notifier.name(), key = %event.alert.key, "Notification sent.");
                    break;
                }
                Err(error) if error.is_retryable() && attempt + 1 < retry.attempts => {
                    let delay = backoff(retry.first_delay, attempt);
                    tracing::warn!(notifier = notifier.name(), %error, ?delay, "Notification failed; retrying.");
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
                Err(error) => {
                    tracing::error!(notifier = notifier.name(), key = %event.alert.key, %error, "Notification failed; giving up.");
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
