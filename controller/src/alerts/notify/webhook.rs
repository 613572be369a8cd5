//! The generic webhook: each event is POSTed as one JSON object. The field names are a stable,
//! documented format (`docs/alerts.md`, `docs/notifications.md`):
//!
//! ```json
//! {"event": "opened", "key": "pool/nas/tank", "agent_id": "nas", "hostname": "nas01",
//!  "severity": "critical", "summary": "tank: DEGRADED, 1 of 12 disks FAULTED",
//!  "details": ["..."], "opened_at_ms": 1700000000000, "resolved_at_ms": null, "url": null}
//! ```
//!
//! With a `secret`, two headers let the receiver check the sender: `X-Unity-Timestamp` (Unix
//! seconds) and `X-Unity-Signature: sha256=<hex>`, the HMAC-SHA256 under the secret of
//! `<timestamp>.<body>` (reject old timestamps to stop replays).

use super::http::{Body, Method, Request};
use super::message::host_link;
use crate::alerts::Event;
use crate::config::secret::Secret;
use hmac::{Hmac, Mac};

/// The timestamp header's name.
pub const TIMESTAMP_HEADER: &str = "X-Unity-Timestamp";
/// The signature header's name.
pub const SIGNATURE_HEADER: &str = "X-Unity-Signature";

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

/// `sha256=<hex of HMAC-SHA256(secret, "<timestamp>.<body>")>`.
pub fn signature(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let mut mac = match Hmac::<sha2::Sha256>::new_from_slice(secret) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC takes keys of any length"),
    };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// The POST for `event`, signed when there is a secret.
pub fn request(
    url: &Secret,
    secret: Option<&Secret>,
    event: &Event,
    dashboard_url: Option<&str>,
    now_s: i64,
) -> Request {
    let body = body(event, dashboard_url).to_string();
    let mut headers = Vec::new();
    if let Some(secret) = secret {
        headers.push((TIMESTAMP_HEADER.to_owned(), now_s.to_string()));
        headers.push((
            SIGNATURE_HEADER.to_owned(),
            signature(secret.0.as_bytes(), now_s, body.as_bytes()),
        ));
    }
    Request {
        method: Method::Post,
        url: url.0.clone(),
        headers,
        body: Body::RawJson(body),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn issue_18_signature_matches_a_known_hmac() {
        // HMAC-SHA256("key", "1700000000.{}") computed with Python's hmac module.
        assert_eq!(
            super::signature(b"key", 1_700_000_000, b"{}"),
            "sha256=9d713ed406bb7076d4123f0dc2c39d2df5c654ed4b0cd56b52c8b4c940bd63ae"
        );
    }
}
