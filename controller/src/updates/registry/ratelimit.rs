//! Rate limits per registry: a `429` backs the whole registry off until its `Retry-After`
//! (60 s when absent), and Docker Hub's `ratelimit-remaining` (`"76;w=21600"`) is recorded
//! for display.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

/// What is known about a registry's rate limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RateLimitStatus {
    /// Requests left in the current window, from the last `ratelimit-remaining` header.
    pub remaining: Option<u64>,
    /// The window's length in seconds (`w=`), when given.
    pub window_seconds: Option<u64>,
    /// No requests are sent to this registry before this time.
    pub limited_until: Option<SystemTime>,
}

/// Rate-limit state of every registry the client talked to.
#[derive(Debug, Default)]
pub struct Limits {
    registries: Mutex<HashMap<String, RateLimitStatus>>,
}

/// When no `Retry-After` is given with a `429`.
pub const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(60);

impl Limits {
    /// `Some(until)` while `registry` is backing off at `now`.
    pub fn limited_until(&self, registry: &str, now: SystemTime) -> Option<SystemTime> {
        let registries = self.registries.lock().unwrap_or_else(|p| p.into_inner());
        registries
            .get(registry)
            .and_then(|status| status.limited_until)
            .filter(|until| *until > now)
    }

    /// Records a response's `ratelimit-remaining` header.
    pub fn record_remaining(&self, registry: &str, header: &str) {
        let Some((remaining, window)) = parse_remaining(header) else {
            return;
        };
        let mut registries = self.registries.lock().unwrap_or_else(|p| p.into_inner());
        let status = registries.entry(registry.to_string()).or_default();
        status.remaining = Some(remaining);
        status.window_seconds = window.or(status.window_seconds);
    }

    /// Records a `429`: backs off until `now + retry_after` and returns that time.
    pub fn record_429(
        &self,
        registry: &str,
        retry_after: Option<&str>,
        now: SystemTime,
    ) -> SystemTime {
        let delay = retry_after
            .and_then(|value| parse_retry_after(value, now))
            .unwrap_or(DEFAULT_RETRY_AFTER);
        let until = now + delay;
        let mut registries = self.registries.lock().unwrap_or_else(|p| p.into_inner());
        registries
            .entry(registry.to_string())
            .or_default()
            .limited_until = Some(until);
        until
    }

    /// The status of one registry.
    pub fn status(&self, registry: &str) -> RateLimitStatus {
        let registries = self.registries.lock().unwrap_or_else(|p| p.into_inner());
        registries.get(registry).copied().unwrap_or_default()
    }
}

/// `"76;w=21600"` → (76, Some(21600)); `"100"` → (100, None).
pub fn parse_remaining(header: &str) -> Option<(u64, Option<u64>)> {
    let mut parts = header.split(';');
    let remaining = parts.next()?.trim().parse().ok()?;
    let window = parts
        .filter_map(|part| part.trim().strip_prefix("w="))
        .find_map(|w| w.trim().parse().ok());
    Some((remaining, window))
}

/// `Retry-After` as seconds or an HTTP date (`Wed, 21 Oct 2015 07:28:00 GMT`), relative to
/// `now`. A date in the past means "now".
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let format = time::format_description::well_known::Rfc2822;
    let date = time::OffsetDateTime::parse(value, &format)
        .or_else(|_| time::OffsetDateTime::parse(&value.replace("GMT", "+0000"), &format))
        .ok()?;
    Some(
        SystemTime::from(date)
            .duration_since(now)
            .unwrap_or(Duration::ZERO),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers() {
        assert_eq!(parse_remaining("76;w=21600"), Some((76, Some(21600))));
        assert_eq!(parse_remaining(" 0 "), Some((0, None)));
        assert_eq!(parse_remaining("x"), None);
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_470);
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now),
            Some(Duration::from_secs(10))
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn back_off() {
        let limits = Limits::default();
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1000);
        assert_eq!(limits.limited_until("r", now), None);
        let until = limits.record_429("r", Some("30"), now);
        assert_eq!(until, now + Duration::from_secs(30));
        assert_eq!(limits.limited_until("r", now), Some(until));
        assert_eq!(limits.limited_until("other", now), None);
        assert_eq!(limits.limited_until("r", until), None);
        assert_eq!(limits.record_429("r", None, now), now + DEFAULT_RETRY_AFTER);
        limits.record_remaining("r", "5;w=60");
        assert_eq!(limits.status("r").remaining, Some(5));
    }
}
