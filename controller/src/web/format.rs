//! How values read on a page: relative and absolute times, a metric's latest value in its
//! unit, and percent-encoded URL path segments. Plain text out; the templates escape it.

use std::fmt::Write as _;

/// Percent-encodes a path segment. Attribute values are escaped by the templates; a segment
/// also needs this so `/`, `?` or `#` in an agent id or container name stay inside it.
pub fn url_segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(byte as char);
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

/// "12 s ago", "3 h ago", "never".
pub fn ago(then_ms: i64, now_ms: i64) -> String {
    if then_ms <= 0 {
        return "never".into();
    }
    let seconds = (now_ms - then_ms).max(0) / 1000;
    match seconds {
        0..=119 => format!("{seconds} s ago"),
        120..=7199 => format!("{} min ago", seconds / 60),
        7200..=172_799 => format!("{} h ago", seconds / 3600),
        _ => format!("{} d ago", seconds / 86400),
    }
}

/// A UTC date and time for tables.
pub fn datetime(unix_ms: i64) -> String {
    if unix_ms <= 0 {
        return "never".into();
    }
    let time = std::time::UNIX_EPOCH + std::time::Duration::from_millis(unix_ms as u64);
    let text = humantime::format_rfc3339_seconds(time).to_string();
    text.replace('T', " ").replace('Z', " UTC")
}

/// A short moment for "offline since …": the UTC time ("02:41 UTC") on the day of `now_ms`,
/// the date ("2026-12-01") before it, "never" for no moment.
pub fn since(then_ms: i64, now_ms: i64) -> String {
    if then_ms <= 0 {
        return "never".into();
    }
    let text = datetime(then_ms);
    let same_day = text
        .get(..10)
        .is_some_and(|day| datetime(now_ms).starts_with(day));
    match (same_day, text.get(11..16), text.get(..10)) {
        (true, Some(time), _) => format!("{time} UTC"),
        (_, _, Some(day)) => day.to_owned(),
        _ => text,
    }
}

/// A metric's latest value in its unit (the table in [`super::metric_names`]).
pub fn human_value(metric: &str, value: f64, now_ms: i64) -> String {
    super::metric_names::format_value(metric, value, now_ms)
}

/// The value, or a dash when there is none.
pub fn or_dash<T: std::fmt::Display>(value: Option<T>) -> String {
    value.map_or_else(|| "–".to_owned(), |value| value.to_string())
}

/// The first 12 hex digits of a digest (`sha256:` dropped), as `docker images` shows them.
pub fn short_digest(digest: &str) -> &str {
    let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
    hex.get(..12).unwrap_or(hex)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_for_people() {
        assert_eq!(url_segment("a b/../c"), "a%20b%2F..%2Fc");
        assert_eq!(ago(0, 5), "never");
        assert_eq!(ago(1000, 13_000), "12 s ago");
        assert_eq!(
            human_value("memory_used_bytes", 3.0 * 1024.0 * 1024.0, 0),
            "3.00 MiB"
        );
        assert_eq!(human_value("cpu_usage_ratio", 0.25, 0), "25.0 %");
        assert_eq!(datetime(1_000), "1970-01-01 00:00:01 UTC");
        assert_eq!(or_dash(None::<u64>), "–");
        // 2026-12-08 02:41:05 UTC, seen at 03:10 the same day and two days later.
        let then = 1_796_697_665_000;
        assert_eq!(datetime(then), "2026-12-08 02:41:05 UTC");
        assert_eq!(since(then, then + 29 * 60_000), "02:41 UTC");
        assert_eq!(since(then, then + 2 * 86_400_000), "2026-12-08");
        assert_eq!(since(0, then), "never");
        assert_eq!(short_digest("sha256:0123456789abcdef"), "0123456789ab");
        assert_eq!(short_digest("sha256:é"), "é");
    }
}
