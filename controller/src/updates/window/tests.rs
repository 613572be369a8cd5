//! Maintenance windows: the grammar and its errors, weekly windows, windows crossing
//! midnight, window sets. Daylight saving, cron windows and properties: `time_tests.rs`.

use super::*;

pub(super) fn at(utc: &str) -> Timestamp {
    utc.parse().unwrap()
}

pub(super) fn window(text: &str) -> MaintenanceWindow {
    MaintenanceWindow::parse(text).unwrap_or_else(|e| panic!("{text:?}: {e}"))
}

pub(super) fn show(occurrence: &Occurrence) -> String {
    let format = "%a %Y-%m-%d %H:%M %Z";
    format!(
        "{} .. {}",
        occurrence.start.strftime(format),
        occurrence.end.strftime(format)
    )
}

/// Whether `text` is open at each instant (UTC) given.
#[track_caller]
pub(super) fn check_open(text: &str, cases: &[(&str, bool)]) {
    let window = window(text);
    for (now, expect) in cases {
        assert_eq!(window.is_open(at(now)), *expect, "{text:?} at {now}");
    }
}

/// The occurrence `next_open` returns at `now` (UTC), shown in the window's zone.
#[track_caller]
pub(super) fn check_next(text: &str, now: &str, expect: &str) {
    let window = window(text);
    let found = window.next_open(at(now)).map(|o| show(&o));
    assert_eq!(
        found.as_deref().unwrap_or("none"),
        expect,
        "{text:?} at {now}"
    );
}

#[track_caller]
fn check_err(text: &str, expect: &str) {
    match MaintenanceWindow::parse(text) {
        Ok(window) => panic!("{text:?} parsed as {window:?}"),
        Err(error) => assert_eq!(error.to_string(), expect, "{text:?}"),
    }
}

#[test]
fn accepted_forms() {
    for text in [
        "Sat 02:00-05:00 Europe/Berlin",
        "Mon-Fri 01:00-03:30 UTC",
        "daily 03:00-04:00 America/New_York",
        "Sun 23:00-01:00 Europe/Berlin",
        "cron: 0 3 * * 6 duration 2h tz Europe/Berlin",
        "  sat 2:00-05:00 europe/berlin  ",
        "SATURDAY 02:00 - 05:00 UTC",
        "Sat 02:00–05:00 UTC",
        "Mon - Wed , Fri 00:00-24:00 UTC",
        "Fri-Mon 22:00-00:00 Asia/Kolkata",
        "CRON: */15 1-3 1,15 jan-mar,oct MON-FRI tz UTC duration 1h 30m",
        "cron:0 0 1 * * duration 7d tz UTC",
        "cron: 0 3 * * 7 duration 90m tz Australia/Lord_Howe",
        "cron: */30 1-4 1,15 * * duration 20m tz UTC",
    ] {
        window(text);
    }
    assert_eq!(
        window("  Sat 02:00-05:00 UTC ").to_string(),
        "Sat 02:00-05:00 UTC"
    );
}

#[test]
fn errors_name_the_word_and_what_was_expected() {
    check_err("", "empty maintenance window (expected e.g. \"Sat 02:00-05:00 Europe/Berlin\" or \"cron: 0 3 * * 6 duration 2h tz UTC\")");
    check_err(
        "Sta 02:00-05:00 UTC",
        "days \"Sta\": unknown day \"Sta\"; expected daily, a day (Mon … Sun), a range such as Mon-Fri, or a list such as Sat,Sun",
    );
    check_err(
        "0 3 * * 6 duration 2h tz UTC",
        "days \"0\": unknown day \"0\"; expected daily, a day (Mon … Sun), a range such as Mon-Fri, or a list such as Sat,Sun (a cron window starts with `cron:`)",
    );
    check_err(
        "02:00-05:00 UTC",
        "days \"02:00-05:00\": a time where the days belong; expected daily, a day (Mon … Sun), a range such as Mon-Fri, or a list such as Sat,Sun",
    );
    check_err(
        "Sat 25:00-05:00 UTC",
        "time range \"25:00-05:00\": \"25:00\": hour 25 is out of range (00-23)",
    );
    check_err(
        "Sat 02:00-24:30 UTC",
        "time range \"02:00-24:30\": \"24:30\": hour 24 is out of range (00-23, or 24:00 as an end)",
    );
    check_err(
        "Sat 02:60-05:00 UTC",
        "time range \"02:60-05:00\": \"02:60\": minute 60 is out of range (00-59)",
    );
    check_err(
        "Sat 2-5 UTC",
        "time range \"2-5\": \"2\" is not a time HH:MM; expected a time range HH:MM-HH:MM, e.g. 02:00-05:00",
    );
    check_err(
        "Sat 02:00 UTC",
        "time range \"02:00\": expected a time range HH:MM-HH:MM, e.g. 02:00-05:00",
    );
    check_err(
        "Sat 02:00-02:00 UTC",
        "time range \"02:00-02:00\" is empty (for a whole day write 00:00-24:00)",
    );
    check_err(
        "Sat",
        "missing time range: expected a time range HH:MM-HH:MM, e.g. 02:00-05:00",
    );
    check_err(
        "Sat 02:00-05:00",
        "missing time zone: expected an IANA time zone such as Europe/Berlin, or UTC, after the time range",
    );
    check_err(
        "Sat 02:00-05:00 Mars/Olympus",
        "unknown time zone \"Mars/Olympus\" (expected an IANA name such as Europe/Berlin or America/New_York, or UTC)",
    );
    check_err(
        "Sat 02:00-05:00 ../../etc/passwd",
        "unknown time zone \"../../etc/passwd\" (expected an IANA name such as Europe/Berlin or America/New_York, or UTC)",
    );
    check_err(
        "Sat 02:00-05:00 UTC weekly",
        "unexpected \"weekly\" after the time zone (nothing may follow it)",
    );
}

#[test]
fn cron_errors() {
    check_err(
        "cron: 0 3 * * 6 tz UTC",
        "missing duration: a cron window needs `duration`, e.g. duration 2h",
    );
    check_err(
        "cron: 0 3 * * 6 duration 2h",
        "missing time zone: a cron window needs `tz` and a time zone, e.g. tz Europe/Berlin or tz UTC",
    );
    check_err(
        "cron: 0 3 * * duration 2h tz UTC",
        "day-of-week \"duration\": expected five cron fields (minute hour day-of-month month day-of-week) before duration and tz",
    );
    check_err(
        "cron: 0 3",
        "missing day-of-month: expected five cron fields: minute hour day-of-month month day-of-week",
    );
    check_err(
        "cron: 60 3 * * 6 duration 2h tz UTC",
        "minute \"60\": 60 is out of range (0-59)",
    );
    check_err(
        "cron: 0 3 * foo 6 duration 2h tz UTC",
        "month \"foo\": \"foo\" is not a number or a name (jan, feb, mar, apr, may, jun, jul, aug, sep, oct, nov, dec)",
    );
    check_err(
        "cron: 0 3 * * 5-1 duration 2h tz UTC",
        "day-of-week \"5-1\": range 5-1 runs backwards (write the smaller value first)",
    );
    check_err(
        "cron: */0 3 * * * duration 2h tz UTC",
        "minute \"*/0\": step \"0\" must be a number from 1",
    );
    check_err(
        "cron: 0 3 30 2 * duration 1h tz UTC",
        "cron window never opens: day-of-month \"30\" never occurs in month \"2\"",
    );
    check_err(
        "cron: 0 3 * * 6 duration 0m tz UTC",
        "duration \"0m\": a window must last at least 1m",
    );
    check_err(
        "cron: 0 3 * * 6 duration 8d tz UTC",
        "duration \"8d\": too long (at most 7d)",
    );
    check_err(
        "cron: 0 3 * * 6 duration 2 tz UTC",
        "duration \"2\": expected a length such as 2h, 90m, 1h30m or 1d (units d, h, m)",
    );
    check_err(
        "cron: 0 3 * * 6 duration tz UTC",
        "missing duration: expected a length after `duration`, e.g. 2h, 90m or 1h30m",
    );
    check_err(
        "cron: 0 3 * * 6 duration 2h tz UTC extra",
        "unexpected \"extra\" after the time zone (nothing may follow it)",
    );
    check_err(
        "cron: 0 3 * * 6 every 2h tz UTC",
        "cron window \"every\": expected `duration` (e.g. duration 2h) after the five cron fields",
    );
}

#[test]
fn weekly_window() {
    // Saturday 7 June 2025, summer time (UTC+2).
    let text = "Sat 02:00-05:00 Europe/Berlin";
    check_open(
        text,
        &[
            ("2025-06-06T23:59:59Z", false),
            ("2025-06-07T00:00:00Z", true),
            ("2025-06-07T02:59:59Z", true),
            ("2025-06-07T03:00:00Z", false),
            ("2025-06-08T00:30:00Z", false),
        ],
    );
    check_next(
        text,
        "2025-06-07T03:00:00Z",
        "Sat 2025-06-14 02:00 CEST .. Sat 2025-06-14 05:00 CEST",
    );
    check_next(
        text,
        "2025-06-07T01:00:00Z",
        "Sat 2025-06-07 02:00 CEST .. Sat 2025-06-07 05:00 CEST",
    );
    // Winter: the same wall-clock times, an hour later in UTC.
    check_next(
        text,
        "2025-01-01T00:00:00Z",
        "Sat 2025-01-04 02:00 CET .. Sat 2025-01-04 05:00 CET",
    );
    check_open(
        "Mon-Fri 01:00-03:30 UTC",
        &[
            ("2025-06-02T01:00:00Z", true),  // Monday
            ("2025-06-06T03:29:00Z", true),  // Friday
            ("2025-06-07T02:00:00Z", false), // Saturday
            ("2025-06-08T02:00:00Z", false), // Sunday
        ],
    );
    check_open(
        "Fri-Mon 10:00-11:00 UTC",
        &[
            ("2025-06-06T10:30:00Z", true),  // Friday
            ("2025-06-09T10:30:00Z", true),  // Monday
            ("2025-06-10T10:30:00Z", false), // Tuesday
        ],
    );
    check_next(
        "daily 03:00-04:00 America/New_York",
        "2025-06-07T12:00:00Z",
        "Sun 2025-06-08 03:00 EDT .. Sun 2025-06-08 04:00 EDT",
    );
    check_next(
        "Mon 00:00-24:00 UTC",
        "2025-06-07T12:00:00Z",
        "Mon 2025-06-09 00:00 UTC .. Tue 2025-06-10 00:00 UTC",
    );
}

#[test]
fn crossing_midnight() {
    // Sunday 8 June 2025 23:00 CEST is 21:00Z; it closes Monday 01:00 CEST.
    let text = "Sun 23:00-01:00 Europe/Berlin";
    check_open(
        text,
        &[
            ("2025-06-08T20:59:00Z", false),
            ("2025-06-08T21:00:00Z", true),
            ("2025-06-08T22:30:00Z", true), // Monday 00:30 local
            ("2025-06-08T23:00:00Z", false),
            // Monday 00:30 local after a Saturday: the days name where a window starts.
            ("2025-06-09T22:30:00Z", false),
        ],
    );
    check_next(
        text,
        "2025-06-08T22:00:00Z",
        "Sun 2025-06-08 23:00 CEST .. Mon 2025-06-09 01:00 CEST",
    );
    // Saturday's window is open early on Sunday, not on Monday.
    check_open(
        "Sat 23:00-01:00 UTC",
        &[
            ("2025-06-08T00:30:00Z", true),
            ("2025-06-09T00:30:00Z", false),
        ],
    );
    check_next(
        "Fri 22:00-00:00 UTC",
        "2025-06-06T23:00:00Z",
        "Fri 2025-06-06 22:00 UTC .. Sat 2025-06-07 00:00 UTC",
    );
}

#[test]
fn window_sets() {
    let now = at("2025-06-07T12:00:00Z"); // Saturday noon UTC
    let empty = WindowSet::default();
    assert!(empty.is_open(now));
    assert_eq!(empty.next_open(now), None);
    assert_eq!(empty.state(now), WindowState::Unrestricted);

    let set = WindowSet::parse_all(&["Sun 02:00-05:00 UTC", "Sat 11:00-13:00 UTC"]).unwrap();
    assert!(set.is_open(now));
    let WindowState::Open { occurrence } = set.state(now) else {
        panic!("{:?}", set.state(now));
    };
    assert_eq!(
        show(&occurrence),
        "Sat 2025-06-07 11:00 UTC .. Sat 2025-06-07 13:00 UTC"
    );

    let later = at("2025-06-07T14:00:00Z");
    assert!(!set.is_open(later));
    let WindowState::Closed { next: Some(next) } = set.state(later) else {
        panic!("{:?}", set.state(later));
    };
    assert_eq!(
        show(&next),
        "Sun 2025-06-08 02:00 UTC .. Sun 2025-06-08 05:00 UTC"
    );
    assert_eq!(next.start_label(later), "Sun 02:00 UTC");
    let berlin = window("Sat 02:00-05:00 Europe/Berlin");
    let next = berlin.next_open(at("2025-01-06T00:00:00Z")).unwrap();
    assert_eq!(
        next.start_label(at("2025-01-06T00:00:00Z")),
        "Sat 02:00 CET"
    );
    assert_eq!(
        next.start_label(at("2024-12-01T00:00:00Z")),
        "Sat 2025-01-11 02:00 CET"
    );

    let error = WindowSet::parse_all(&["daily 01:00-02:00 UTC", "Sat 02:00"]).unwrap_err();
    assert_eq!(error.index, 2);
    assert_eq!(
        error.to_string(),
        "maintenance window 2 (\"Sat 02:00\"): time range \"02:00\": expected a time range HH:MM-HH:MM, e.g. 02:00-05:00"
    );
}
