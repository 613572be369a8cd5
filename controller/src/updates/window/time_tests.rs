//! Maintenance windows over time: daylight saving changes (Europe/Berlin 2025: spring
//! forward Sun 30 March 02:00 CET -> 03:00 CEST at 01:00Z, fall back Sun 26 October
//! 03:00 CEST -> 02:00 CET at 01:00Z), cron windows, and properties over many zones.

use super::tests::{at, check_next, check_open, show, window};
use super::*;
use proptest::prelude::*;

#[test]
fn spring_forward() {
    // A start in the skipped hour opens at the change (03:00 CEST = 01:00Z).
    let text = "Sun 02:30-04:00 Europe/Berlin";
    check_next(
        text,
        "2025-03-29T12:00:00Z",
        "Sun 2025-03-30 03:00 CEST .. Sun 2025-03-30 04:00 CEST",
    );
    check_open(
        text,
        &[
            ("2025-03-30T00:59:59Z", false), // 01:59:59 CET
            ("2025-03-30T01:00:00Z", true),  // 03:00 CEST
            ("2025-03-30T01:59:59Z", true),
            ("2025-03-30T02:00:00Z", false), // 04:00 CEST
        ],
    );
    // A week later, as usual.
    check_next(
        text,
        "2025-03-30T02:00:00Z",
        "Sun 2025-04-06 02:30 CEST .. Sun 2025-04-06 04:00 CEST",
    );
    // An end in the skipped hour closes at the change.
    check_next(
        "Sun 01:00-02:30 Europe/Berlin",
        "2025-03-29T12:00:00Z",
        "Sun 2025-03-30 01:00 CET .. Sun 2025-03-30 03:00 CEST",
    );
    // A window wholly inside the skipped hour does not happen that day.
    check_next(
        "Sun 02:15-02:45 Europe/Berlin",
        "2025-03-29T12:00:00Z",
        "Sun 2025-04-06 02:15 CEST .. Sun 2025-04-06 02:45 CEST",
    );
    check_open(
        "Sun 02:15-02:45 Europe/Berlin",
        &[("2025-03-30T01:00:00Z", false)],
    );
    // New York skips 02:00-03:00 on 9 March 2025 (07:00Z).
    check_next(
        "daily 02:30-03:30 America/New_York",
        "2025-03-09T06:00:00Z",
        "Sun 2025-03-09 03:00 EDT .. Sun 2025-03-09 03:30 EDT",
    );
    // Cron: 02:00 and 02:30 both fall into the gap and open once, at the change.
    let cron = window("cron: 0,30 2 * * * duration 1h tz Europe/Berlin");
    let next = cron.next_open(at("2025-03-29T12:00:00Z")).unwrap();
    assert_eq!(
        show(&next),
        "Sun 2025-03-30 03:00 CEST .. Sun 2025-03-30 04:00 CEST"
    );
    let after = cron.next_open(at("2025-03-30T02:00:00Z")).unwrap();
    assert_eq!(
        show(&after),
        "Mon 2025-03-31 02:00 CEST .. Mon 2025-03-31 03:00 CEST"
    );
}

#[test]
fn fall_back() {
    // 02:00-03:00 is read twice on 26 October 2025: first CEST (00:00Z-01:00Z), then CET.
    // A start in the repeated hour opens the first time; the window stays open through the
    // repetition.
    let text = "Sun 02:30-04:00 Europe/Berlin";
    check_next(
        text,
        "2025-10-25T12:00:00Z",
        "Sun 2025-10-26 02:30 CEST .. Sun 2025-10-26 04:00 CET",
    );
    check_open(
        text,
        &[
            ("2025-10-26T00:29:59Z", false),
            ("2025-10-26T00:30:00Z", true), // 02:30 CEST
            ("2025-10-26T01:15:00Z", true), // 02:15 CET, read the second time
            ("2025-10-26T02:59:59Z", true),
            ("2025-10-26T03:00:00Z", false), // 04:00 CET
        ],
    );
    // An end in the repeated hour closes the first time the clock reads it.
    check_next(
        "Sun 01:00-02:30 Europe/Berlin",
        "2025-10-25T12:00:00Z",
        "Sun 2025-10-26 01:00 CEST .. Sun 2025-10-26 02:30 CEST",
    );
    check_open(
        "Sun 01:00-02:30 Europe/Berlin",
        &[("2025-10-26T01:15:00Z", false)],
    );
    // Cron fires once, not again when the clock reads 02:30 a second time.
    let text = "cron: 30 2 * * * duration 30m tz Europe/Berlin";
    check_next(
        text,
        "2025-10-25T12:00:00Z",
        "Sun 2025-10-26 02:30 CEST .. Sun 2025-10-26 02:00 CET",
    );
    check_open(text, &[("2025-10-26T01:45:00Z", false)]);
    check_next(
        text,
        "2025-10-26T01:00:00Z",
        "Mon 2025-10-27 02:30 CET .. Mon 2025-10-27 03:00 CET",
    );
    // Cron durations are elapsed time: 3 h from 01:00 CEST ends at 03:00 CET.
    check_next(
        "cron: 0 1 26 10 * duration 3h tz Europe/Berlin",
        "2025-10-01T00:00:00Z",
        "Sun 2025-10-26 01:00 CEST .. Sun 2025-10-26 03:00 CET",
    );
}

#[test]
fn cron_windows() {
    let text = "cron: 0 3 * * 6 duration 2h tz Europe/Berlin";
    check_next(
        text,
        "2025-06-02T00:00:00Z",
        "Sat 2025-06-07 03:00 CEST .. Sat 2025-06-07 05:00 CEST",
    );
    check_open(
        text,
        &[
            ("2025-06-07T01:00:00Z", true),
            ("2025-06-07T03:00:00Z", false),
        ],
    );
    // Both day fields restricted: either matches (1 June 2025 is a Sunday, 2 June a Monday).
    check_open(
        "cron: 0 3 1 * 1 duration 1h tz UTC",
        &[
            ("2025-06-01T03:30:00Z", true),
            ("2025-06-02T03:30:00Z", true),
            ("2025-06-03T03:30:00Z", false),
        ],
    );
    // Day-of-month starting with `*` restricts together with the weekday.
    check_open(
        "cron: 0 3 */2 * 1 duration 1h tz UTC",
        &[
            ("2025-06-09T03:30:00Z", true),  // Monday the 9th
            ("2025-06-02T03:30:00Z", false), // Monday the 2nd
            ("2025-06-01T03:30:00Z", false), // Sunday the 1st
        ],
    );
    // Rare dates: 29 February.
    check_next(
        "cron: 0 3 29 feb * duration 1h tz UTC",
        "2025-01-01T00:00:00Z",
        "Tue 2028-02-29 03:00 UTC .. Tue 2028-02-29 04:00 UTC",
    );
    // A long duration: open for a week from the 1st.
    check_open(
        "cron: 0 0 1 * * duration 7d tz UTC",
        &[
            ("2025-06-06T12:00:00Z", true),
            ("2025-06-07T23:59:59Z", true),
            ("2025-06-08T00:00:00Z", false),
        ],
    );
    // Overlapping occurrences: always open; the one that started last is returned.
    check_next(
        "cron: 0 * * * * duration 2h tz UTC",
        "2025-06-07T10:30:00Z",
        "Sat 2025-06-07 10:00 UTC .. Sat 2025-06-07 12:00 UTC",
    );
    // Steps and names.
    check_open(
        "cron: */20 22-23 * * sat,sun duration 5m tz UTC",
        &[
            ("2025-06-07T22:40:00Z", true),
            ("2025-06-07T22:45:00Z", false),
            ("2025-06-09T22:40:00Z", false),
        ],
    );
}

const ZONES: [&str; 7] = [
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "Australia/Lord_Howe", // half-hour DST
    "Asia/Kolkata",
    "Pacific/Chatham",
    "America/Santiago", // changes at midnight
];

fn weekly_text() -> impl Strategy<Value = String> {
    let days = prop::sample::select(vec!["daily", "Sat", "Sun", "Mon-Fri", "Fri-Mon", "Sat,Sun"]);
    (
        days,
        0..24u16,
        0..4u16,
        0..25u16,
        0..4u16,
        prop::sample::select(ZONES.to_vec()),
    )
        .prop_filter_map("empty range", |(days, h1, q1, h2, q2, zone)| {
            let (start, end) = (h1 * 60 + q1 * 15, (h2 * 60 + q2 * 15).min(1440));
            (start != end).then(|| {
                format!(
                    "{days} {:02}:{:02}-{:02}:{:02} {zone}",
                    start / 60,
                    start % 60,
                    end / 60,
                    end % 60
                )
            })
        })
}

fn cron_text() -> impl Strategy<Value = String> {
    let pick = |items: &[&'static str]| prop::sample::select(items.to_vec());
    (
        pick(&["0", "30", "*/15", "5,45", "0-10/5"]),
        pick(&["3", "*/6", "0-2", "23", "1,2,3", "2"]),
        pick(&["*", "1", "15", "29", "31", "1-7"]),
        pick(&["*", "3", "10", "*/3"]),
        pick(&["*", "0", "6", "1-5", "sun"]),
        pick(&["1m", "2h", "90m", "1d", "7d", "25h"]),
        pick(&ZONES),
    )
        .prop_map(|(minute, hour, dom, month, dow, duration, zone)| {
            format!("cron: {minute} {hour} {dom} {month} {dow} duration {duration} tz {zone}")
        })
}

/// Instants from 2020 to 2035, half of them near a DST change in Europe or the US.
fn instant() -> impl Strategy<Value = Timestamp> {
    let changes = vec![
        "2025-03-30T01:00:00Z",
        "2025-10-26T01:00:00Z",
        "2025-03-09T07:00:00Z",
        "2025-11-02T06:00:00Z",
        "2026-04-05T15:30:00Z", // Lord Howe
    ];
    prop_oneof![
        (1_577_836_800i64..2_082_758_400).prop_map(|s| Timestamp::from_second(s).unwrap()),
        (prop::sample::select(changes), -3 * 86_400i64..3 * 86_400).prop_map(|(change, delta)| at(
            change
        )
        .checked_add(SignedDuration::from_secs(delta))
        .unwrap()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn parse_never_panics(text in "\\PC{0,60}") {
        let _ = MaintenanceWindow::parse(&text);
    }

    #[test]
    fn parse_never_panics_on_near_misses(words in prop::collection::vec(prop::sample::select(vec![
        "cron:", "Sat", "Mon-Fri", "daily", "02:00-05:00", "24:00-01:00", "9:5-", "-", ",", "*",
        "*/0", "0", "61", "1-31/7", "duration", "tz", "2h", "0m", "99999999999999999999d",
        "Europe/Berlin", "UTC", "Fri-", "sun", "Z", "é", "",
    ]), 0..10)) {
        let _ = MaintenanceWindow::parse(&words.join(" "));
    }

    #[test]
    fn is_open_agrees_with_next_open(
        text in prop_oneof![weekly_text(), cron_text()],
        now in instant(),
    ) {
        let window = window(&text);
        let next = window.next_open(now);
        if window.is_open(now) {
            let occurrence = next.expect("open windows have a current occurrence");
            prop_assert!(occurrence.contains(now), "{text} at {now}: {occurrence:?}");
        } else if let Some(occurrence) = next {
            let (start, end) = (occurrence.start.timestamp(), occurrence.end.timestamp());
            prop_assert!(start > now && start < end, "{text} at {now}: {occurrence:?}");
            // Open at its start and just before its end, closed until it starts.
            prop_assert!(window.is_open(start), "{text}: not open at {start}");
            prop_assert!(window.is_open(end - SignedDuration::from_secs(1)), "{text}: end {end}");
            let midway = now + SignedDuration::from_secs(start.duration_since(now).as_secs() / 2);
            prop_assert!(!window.is_open(midway), "{text}: open at {midway} before {start}");
        }
    }
}
