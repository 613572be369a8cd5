//! The receivers of the `[alerts]` section: `[[alerts.receiver]]` (by URL, checked in
//! `alerts::notify::receivers`) and the older `[[alerts.webhook]]` and `[[alerts.ntfy]]`
//! sections, all made [`ReceiverConfig`]s with unique names.

use super::{http_url, invalid, severity};
use crate::alerts::notify::receivers::{self as notify_receivers, RawReceiver, ReceiverConfig};
use crate::alerts::notify::url::Channel;
use crate::config::error::ConfigError;
use crate::config::secret::Secret;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWebhook {
    /// Where the JSON is POSTed; may carry a token, so it is never logged.
    pub url: String,
    /// "warning" (default) or "critical".
    pub min_severity: Option<String>,
    /// The HMAC-SHA256 key for the `X-Unity-Signature` header; default: unsigned.
    pub secret: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNtfy {
    /// The ntfy server; default `https://ntfy.sh`.
    pub server: Option<String>,
    pub topic: String,
    /// An access token (`Authorization: Bearer`), never logged.
    pub token: Option<String>,
    /// "warning" (default) or "critical".
    pub min_severity: Option<String>,
}

/// Every receiver: `[[alerts.receiver]]`s first, then the webhook and ntfy sections.
pub(super) fn all(
    receiver: Vec<RawReceiver>,
    webhook: Vec<RawWebhook>,
    ntfy: Vec<RawNtfy>,
) -> Result<Vec<ReceiverConfig>, ConfigError> {
    let mut all_receivers: Vec<ReceiverConfig> = receiver
        .into_iter()
        .enumerate()
        .map(|(i, raw)| notify_receivers::receiver(raw, i + 1))
        .collect::<Result<_, ConfigError>>()?;
    for (i, webhook) in webhook.into_iter().enumerate() {
        http_url("alerts.webhook.url", &webhook.url)?;
        all_receivers.push(notify_receivers::legacy(
            format!("webhook section {}", i + 1),
            Channel::Webhook {
                url: Secret(webhook.url),
            },
            severity(
                "alerts.webhook.min_severity",
                webhook.min_severity.as_deref(),
            )?,
            webhook
                .secret
                .filter(|secret| !secret.is_empty())
                .map(Secret),
        ));
    }
    for (i, ntfy) in ntfy.into_iter().enumerate() {
        all_receivers.push({
            let topic = ntfy.topic.trim_matches('/');
            if topic.is_empty() || topic.contains(['/', '?', '#', ' ']) {
                return Err(invalid(
                    "alerts.ntfy.topic",
                    "<redacted>",
                    "expected a topic name",
                ));
            }
            let server = ntfy.server.as_deref().unwrap_or("https://ntfy.sh");
            http_url("alerts.ntfy.server", server)?;
            notify_receivers::legacy(
                format!("ntfy section {}", i + 1),
                Channel::Ntfy {
                    url: Secret(format!("{}/{topic}", server.trim_end_matches('/'))),
                    token: ntfy.token.filter(|token| !token.is_empty()).map(Secret),
                },
                severity("alerts.ntfy.min_severity", ntfy.min_severity.as_deref())?,
                None,
            )
        });
    }
    notify_receivers::check_names(&all_receivers)?;
    Ok(all_receivers)
}
