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
        assert_eq!(short_digest("sha256:0123456789abcdef"), "0123456789ab");
        assert_eq!(short_digest("sha256:é"), "é");
    }
}
