//! Which range the host page's charts open with: the smallest preset that covers the host's
//! data, at most a day. A host enrolled minutes ago gets "1h" (not a one-pixel sliver at the
//! right edge of a 24 h chart) and a "collecting since" note. Pure decision plus the one read
//! of the series store it needs, and the selector above the charts (`app.js` remembers the
//! range chosen there; "auto" forgets it).

use crate::context::Context;
use crate::domain::hosts::LatestValue;
use crate::storage::series::TimeRange;
use maud::{html, Markup};

/// The ranges the selector offers, and their length.
pub const RANGES: &[(&str, i64)] = &[
    ("1h", 3_600_000),
    ("6h", 6 * 3_600_000),
    ("24h", 24 * 3_600_000),
    ("7d", 7 * 24 * 3_600_000),
    ("30d", 30 * 24 * 3_600_000),
];

/// The range a page opens with when the host has been reporting for long enough.
pub const USUAL: &str = "24h";

/// The length of the usual range.
const USUAL_MS: i64 = 24 * 3_600_000;

/// The named range, if the selector offers it.
pub fn parse(text: &str) -> Option<&'static str> {
    RANGES
        .iter()
        .map(|(name, _)| *name)
        .find(|name| *name == text)
}

/// The default range (pure): the smallest preset covering `first_sample_ms..now`, never more
/// than [`USUAL`]; [`USUAL`] when there is no data at all (its charts say "no data").
pub fn default_range(first_sample_ms: Option<i64>, now_ms: i64) -> &'static str {
    let Some(first) = first_sample_ms else {
        return USUAL;
    };
    let age = (now_ms - first).max(0);
    RANGES
        .iter()
        .find(|(_, length)| *length >= age)
        .map_or(
            USUAL,
            |(name, length)| if *length > USUAL_MS { USUAL } else { name },
        )
}

/// The series that tells how long the host has reported: total CPU when there is one, else
/// the first non-plugin series.
fn probe(latest: &[LatestValue]) -> Option<&LatestValue> {
    latest
        .iter()
        .find(|value| {
            value.metric == "cpu_usage_ratio"
                && value.labels.get("cpu").is_some_and(|cpu| cpu == "total")
        })
        .or_else(|| latest.iter().find(|value| !value.is_plugin()))
}

/// The oldest sample of the probe series within the last day, or `None` without data. A host
/// reporting for longer than a day answers about a day ago, which opens the usual range.
pub fn first_sample_within_a_day(
    ctx: &Context,
    agent_id: &str,
    latest: &[LatestValue],
    now_ms: i64,
) -> Result<Option<i64>, crate::storage::series::SeriesError> {
    let Some(probe) = probe(latest) else {
        return Ok(None);
    };
    let matchers: Vec<(String, String)> = probe
        .labels
        .iter()
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    let range = TimeRange {
        from_ms: now_ms - USUAL_MS,
        to_ms: now_ms + 1,
    };
    let found = ctx
        .store
        .series
        .query(agent_id, &probe.metric, &matchers, range)?;
    Ok(found
        .iter()
        .filter_map(|series| series.points.first().map(|point| point.0))
        .min())
}

/// The range selector above a page's charts: one link per preset (the one in use marked),
/// then "auto", the page's own choice (app.js forgets a remembered range on it).
pub fn selector(range: &str) -> Markup {
    html! {
        nav.ranges #ranges aria-label="Chart range" {
            @for (option, _) in RANGES {
                a href={ "?range=" (option) } data-range=(option)
                    class=[(*option == range).then_some("active")]
                    aria-current=[(*option == range).then_some("true")] { (option) }
            }
            a href="?" data-range="" title="The range that holds the data; forgets a chosen range" { "auto" }
        }
    }
}

/// Whether the host's data is young enough for a "collecting since" note.
pub fn is_young(first_sample_ms: Option<i64>, now_ms: i64) -> bool {
    first_sample_ms.is_some_and(|first| now_ms - first < USUAL_MS - 60_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_796_644_800_000;
    const MINUTE: i64 = 60_000;

    #[test]
    fn issue_19_new_hosts_open_on_the_range_that_has_their_data() {
        assert_eq!(default_range(Some(NOW - 5 * MINUTE), NOW), "1h");
        assert_eq!(default_range(Some(NOW - 60 * MINUTE), NOW), "1h");
        assert_eq!(default_range(Some(NOW - 61 * MINUTE), NOW), "6h");
        assert_eq!(default_range(Some(NOW - 7 * 60 * MINUTE), NOW), "24h");
        // Long-reporting hosts keep the usual day; no data: the usual day too.
        assert_eq!(default_range(Some(NOW - 24 * 60 * MINUTE), NOW), "24h");
        assert_eq!(default_range(Some(NOW - 90 * 24 * 60 * MINUTE), NOW), "24h");
        assert_eq!(default_range(None, NOW), "24h");
        // A sample from a clock ahead of ours is "just now".
        assert_eq!(default_range(Some(NOW + MINUTE), NOW), "1h");
        assert!(is_young(Some(NOW - 5 * MINUTE), NOW));
        assert!(!is_young(Some(NOW - 24 * 60 * MINUTE), NOW));
        assert!(!is_young(None, NOW));
        assert_eq!(parse("7d"), Some("7d"));
        assert_eq!(parse("2d"), None);
    }
}
