//! The text form of a maintenance window (pure): words in, [`MaintenanceWindow`] out, with an
//! error naming the word and what was expected there. Cron fields are read in `cron.rs`. The grammar is documented on
//! [`super`] and in `docs/updates.md`.

use super::cron::parse_cron;
use super::zone::parse_zone;
use super::{MaintenanceWindow, Schedule, WeeklySchedule, WindowError};
use jiff::tz::TimeZone;

const DAYS_EXPECTED: &str =
    "expected daily, a day (Mon … Sun), a range such as Mon-Fri, or a list such as Sat,Sun";
const RANGE_EXPECTED: &str = "expected a time range HH:MM-HH:MM, e.g. 02:00-05:00";
const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const FULL_DAY_NAMES: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// Splits into words, first joining `-` and `,` with their neighbours (`Mon - Fri` is
/// `Mon-Fri`) and reading an en dash as `-`.
fn words(text: &str) -> Vec<String> {
    let mut joined = String::with_capacity(text.len());
    let mut pending_space = false;
    for c in text.chars() {
        let c = if c == '–' { '-' } else { c };
        if c.is_whitespace() {
            pending_space = true;
            continue;
        }
        let glue = c == '-' || c == ',' || joined.ends_with(['-', ',']);
        if pending_space && !glue && !joined.is_empty() {
            joined.push(' ');
        }
        pending_space = false;
        joined.push(c);
    }
    joined
        .split(' ')
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

pub(super) fn parse(text: &str) -> Result<MaintenanceWindow, WindowError> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(WindowError::Empty);
    }
    let (schedule, time_zone) = match strip_prefix_ignore_case(trimmed, "cron:") {
        Some(rest) => {
            let (cron, time_zone) = parse_cron(&words(rest))?;
            (Schedule::Cron(cron), time_zone)
        }
        None => {
            let (weekly, time_zone) = parse_weekly(&words(trimmed))?;
            (Schedule::Weekly(weekly), time_zone)
        }
    };
    Ok(MaintenanceWindow {
        text: trimmed.to_owned(),
        schedule,
        time_zone,
    })
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

fn parse_weekly(words: &[String]) -> Result<(WeeklySchedule, TimeZone), WindowError> {
    let missing = |field, expected| WindowError::Missing { field, expected };
    let days_word = words
        .first()
        .ok_or_else(|| missing("days", DAYS_EXPECTED))?;
    let days = parse_days(days_word)?;
    let range_word = words
        .get(1)
        .ok_or_else(|| missing("time range", RANGE_EXPECTED))?;
    let (start, end) = parse_range(range_word)?;
    let zone_word = words.get(2).ok_or_else(|| {
        missing(
            "time zone",
            "expected an IANA time zone such as Europe/Berlin, or UTC, after the time range",
        )
    })?;
    let time_zone = parse_zone(zone_word)?;
    if let Some(extra) = words.get(3) {
        return Err(WindowError::Trailing {
            token: extra.clone(),
        });
    }
    Ok((WeeklySchedule { days, start, end }, time_zone))
}

fn parse_day(name: &str) -> Option<usize> {
    let lower = name.to_ascii_lowercase();
    DAY_NAMES
        .iter()
        .position(|d| *d == lower)
        .or_else(|| FULL_DAY_NAMES.iter().position(|d| *d == lower))
}

/// Days as a Monday-first mask.
fn parse_days(word: &str) -> Result<[bool; 7], WindowError> {
    let lower = word.to_ascii_lowercase();
    if lower == "daily" {
        return Ok([true; 7]);
    }
    if lower.contains(':') {
        return Err(WindowError::token(
            "days",
            word,
            format!("a time where the days belong; {DAYS_EXPECTED}"),
        ));
    }
    let looks_like_cron = word
        .bytes()
        .all(|b| b.is_ascii_digit() || b"*/,-".contains(&b));
    let hint = if looks_like_cron {
        " (a cron window starts with `cron:`)"
    } else {
        ""
    };
    let mut days = [false; 7];
    for item in word.split(',') {
        let unknown = |name: &str| {
            WindowError::token(
                "days",
                word,
                format!("unknown day {name:?}; {DAYS_EXPECTED}{hint}"),
            )
        };
        match item.split_once('-') {
            Some((first, last)) => {
                let first = parse_day(first).ok_or_else(|| unknown(first))?;
                let last = parse_day(last).ok_or_else(|| unknown(last))?;
                // A range may wrap past Sunday: Fri-Mon is Fri, Sat, Sun, Mon.
                let mut day = first;
                loop {
                    days[day] = true;
                    if day == last {
                        break;
                    }
                    day = (day + 1) % 7;
                }
            }
            None => days[parse_day(item).ok_or_else(|| unknown(item))?] = true,
        }
    }
    Ok(days)
}

/// `HH:MM-HH:MM` as minutes since midnight; the end may be `24:00` (1440).
fn parse_range(word: &str) -> Result<(u16, u16), WindowError> {
    let (start, end) = word
        .split_once('-')
        .ok_or_else(|| WindowError::token("time range", word, RANGE_EXPECTED))?;
    let start = parse_clock(word, start, false)?;
    let end = parse_clock(word, end, true)?;
    if start == end {
        return Err(WindowError::EmptyRange {
            token: word.to_owned(),
        });
    }
    Ok((start, end))
}

fn parse_clock(word: &str, clock: &str, allow_24: bool) -> Result<u16, WindowError> {
    let bad = |message: String| WindowError::token("time range", word, message);
    let (hours, minutes) = clock
        .split_once(':')
        .ok_or_else(|| bad(format!("{clock:?} is not a time HH:MM; {RANGE_EXPECTED}")))?;
    let number = |digits: &str, max_len: usize| -> Option<u16> {
        let ok = !digits.is_empty()
            && digits.len() <= max_len
            && digits.bytes().all(|b| b.is_ascii_digit());
        ok.then(|| digits.parse().ok()).flatten()
    };
    let hours = number(hours, 2)
        .ok_or_else(|| bad(format!("{clock:?} is not a time HH:MM; {RANGE_EXPECTED}")))?;
    let minutes = (minutes.len() == 2)
        .then(|| number(minutes, 2))
        .flatten()
        .ok_or_else(|| bad(format!("{clock:?}: minutes must be two digits 00-59")))?;
    if minutes > 59 {
        return Err(bad(format!(
            "{clock:?}: minute {minutes} is out of range (00-59)"
        )));
    }
    match hours {
        0..=23 => Ok(hours * 60 + minutes),
        24 if allow_24 && minutes == 0 => Ok(1440),
        _ => Err(bad(format!(
            "{clock:?}: hour {hours} is out of range (00-23{})",
            if allow_24 { ", or 24:00 as an end" } else { "" }
        ))),
    }
}
