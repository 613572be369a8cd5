//! ntfy (<https://ntfy.sh> or a self-hosted server): `POST <server>/<topic>` with the summary
//! and details as the message and `Title`, `Priority`, `Tags` (and `Click`, when the
//! dashboard's address is configured) headers.

use super::{check_status, host_link, Notifier, NotifyError};
use crate::alerts::config::NtfyConfig;
use crate::alerts::{Event, EventKind};
use crate::storage::alerts::Severity;

pub struct Ntfy {
    client: reqwest::Client,
    name: String,
    url: String,
    token: Option<String>,
    min_severity: Severity,
    dashboard_url: Option<String>,
}

impl Ntfy {
    pub fn new(
        client: reqwest::Client,
        number: usize,
        config: &NtfyConfig,
        dashboard_url: Option<&str>,
    ) -> Ntfy {
        Ntfy {
            client,
            name: format!("ntfy {number}"),
            url: config.url.0.clone(),
            token: config.token.as_ref().map(|token| token.0.clone()),
            min_severity: config.min_severity,
            dashboard_url: dashboard_url.map(str::to_owned),
        }
    }
}

/// The message: title, priority, tags and body.
pub struct Message {
    pub title: String,
    pub priority: &'static str,
    pub tags: &'static str,
    pub body: String,
}

pub fn message(event: &Event) -> Message {
    let alert = &event.alert;
    let (title, priority, tags) = match (event.kind, alert.severity) {
        (EventKind::Resolved, _) => (
            format!("Resolved on {}", event.hostname),
            "default",
            "white_check_mark",
        ),
        (_, Severity::Critical) => (
            format!("CRITICAL on {}", event.hostname),
            "urgent",
            "rotating_light",
        ),
        (_, Severity::Warning) => (format!("Warning on {}", event.hostname), "high", "warning"),
    };
    let mut body = alert.summary.clone();
    for detail in &alert.details {
        body.push('\n');
        body.push_str(detail);
    }
    Message {
        title,
        priority,
        tags,
        body,
    }
}

/// A header value: ASCII as is, anything else as an RFC 2047 encoded word (which ntfy reads).
pub fn header_text(text: &str) -> String {
    let clean: String = text.chars().filter(|c| !c.is_control()).collect();
    if clean.is_ascii() {
        return clean;
    }
    format!("=?UTF-8?B?{}?=", base64(clean.as_bytes()))
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

impl Notifier for Ntfy {
    fn name(&self) -> &str {
        &self.name
    }

    fn min_severity(&self) -> Severity {
        self.min_severity
    }

    async fn send(&self, event: &Event) -> Result<(), NotifyError> {
        let message = message(event);
        let mut request = self
            .client
            .post(&self.url)
            .header("Title", header_text(&message.title))
            .header("Priority", message.priority)
            .header("Tags", message.tags)
            .body(message.body);
        if let Some(link) = host_link(self.dashboard_url.as_deref(), &event.alert.agent_id) {
            request = request.header("Click", header_text(&link));
        }
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.map_err(NotifyError::from_reqwest)?;
        check_status(response).await
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64_matches_rfc4648() {
        for (input, expect) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(super::base64(input.as_bytes()), expect);
        }
        assert_eq!(super::header_text("nas01"), "nas01");
        assert_eq!(super::header_text("ü"), "=?UTF-8?B?w7w=?=");
    }
}
