//! Uptime of a service check (pure): the share of its `service_up` samples that are 1 in a
//! window, over every agent that ran it; `None` when there is no sample in the window. Each
//! run counts once, whatever its interval: a check run every 30 s from two agents over a day
//! has 5,760 runs, and 99 % up means 58 of them were down. See docs/services.md.

/// The windows the Services page shows: 24 hours, 7 days, 30 days.
pub const WINDOWS_MS: [(&str, i64); 3] = [
    ("24h", 24 * 3_600_000),
    ("7d", 7 * 24 * 3_600_000),
    ("30d", 30 * 24 * 3_600_000),
];

/// The share (0..=1) of samples at or after `now_ms - window_ms` (and not after `now_ms`)
/// that say up (a value of at least 0.5). `samples` are `(timestamp_ms, value)`.
pub fn ratio(samples: &[(i64, f64)], now_ms: i64, window_ms: i64) -> Option<f64> {
    let from = now_ms.saturating_sub(window_ms);
    let (mut n_up, mut n_all) = (0u64, 0u64);
    for &(at_ms, value) in samples {
        if at_ms < from || at_ms > now_ms || value.is_nan() {
            continue;
        }
        n_all += 1;
        if value >= 0.5 {
            n_up += 1;
        }
    }
    (n_all > 0).then(|| n_up as f64 / n_all as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 24 * 3_600_000;

    #[test]
    fn issue_18_uptime_over_windows() {
        let now = 40 * DAY;
        // One sample an hour for 40 days: down for the whole of day 35 (24 samples) and one
        // hour yesterday.
        let samples: Vec<(i64, f64)> = (0..40 * 24)
            .map(|hour| {
                let at = hour * 3_600_000 + 1;
                let down = (35 * DAY..36 * DAY).contains(&at) || at == 39 * DAY + 3_600_001;
                (at, if down { 0.0 } else { 1.0 })
            })
            .collect();
        let day = ratio(&samples, now, WINDOWS_MS[0].1).unwrap();
        assert!((day - 23.0 / 24.0).abs() < 1e-9, "{day}");
        let week = ratio(&samples, now, WINDOWS_MS[1].1).unwrap();
        assert!((week - (168.0 - 25.0) / 168.0).abs() < 1e-9, "{week}");
        let month = ratio(&samples, now, WINDOWS_MS[2].1).unwrap();
        assert!((month - (720.0 - 25.0) / 720.0).abs() < 1e-9, "{month}");
    }

    #[test]
    fn issue_18_uptime_without_samples_is_unknown_not_zero() {
        assert_eq!(ratio(&[], 1_000, 500), None);
        assert_eq!(ratio(&[(100, 1.0)], 1_000, 500), None, "too old");
        assert_eq!(ratio(&[(2_000, 1.0)], 1_000, 500), None, "in the future");
        assert_eq!(ratio(&[(900, f64::NAN)], 1_000, 500), None);
        assert_eq!(ratio(&[(900, 1.0), (950, 0.0)], 1_000, 500), Some(0.5));
    }
}
