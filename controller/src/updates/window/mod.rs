//! Maintenance windows (pure): when updates may be applied. Windows gate applying, never
//! detection.
//!
//! # Grammar
//!
//! Words are separated by spaces; case does not matter; spaces around `-` and `,` are
//! ignored (`Mon - Fri` is `Mon-Fri`).
//!
//! ```text
//! window   = weekly | cron
//! weekly   = DAYS RANGE ZONE
//! DAYS     = "daily" | DAY ("," DAY)*          Sat   Mon-Fri   Sat,Sun   Mon-Wed,Fri
//! DAY      = NAME | NAME "-" NAME               Mon … Sun or Monday … Sunday; Fri-Mon wraps
//! RANGE    = HH:MM "-" HH:MM                    02:00-05:00; end may be 24:00
//! ZONE     = an IANA time zone (Europe/Berlin, America/New_York) or UTC
//! cron     = "cron:" MIN HOUR DOM MONTH DOW "duration" LENGTH "tz" ZONE
//!                                               (duration and tz in either order)
//! FIELD    = ITEM ("," ITEM)*;  ITEM = ("*" | N | N "-" N) ["/" STEP]
//!            minute 0-59, hour 0-23, day-of-month 1-31, month 1-12 or jan…dec,
//!            day-of-week 0-7 or sun…sat (0 and 7 are Sunday); N/STEP runs from N to the maximum
//! LENGTH   = NUMBER UNIT ... with units d, h, m: 2h, 90m, 1h30m (1m to 7d)
//! ```
//!
//! Examples: `Sat 02:00-05:00 Europe/Berlin`, `Mon-Fri 01:00-03:30 UTC`,
//! `daily 03:00-04:00 America/New_York`, `Sun 23:00-01:00 Europe/Berlin`,
//! `cron: 0 3 * * 6 duration 2h tz Europe/Berlin`.
//!
//! # Meaning
//!
//! - A weekly window opens on each listed day at the start time. When the end is not later
//!   than the start (`Sun 23:00-01:00`) it closes the next day: the days name where a window
//!   *starts*. `00:00-24:00` is a whole day; a window cannot be empty (`02:00-02:00`).
//! - A cron window opens at each time the five fields match (as cron would start a job) and
//!   stays open for `duration` of elapsed time. As in cron, when both day-of-month and
//!   day-of-week are restricted (neither starts with `*`) a day matches if *either* does.
//! - Times are wall-clock times in the window's zone. Each opening and closing happens at the
//!   first instant the clock reads that time on that day:
//!   - a time skipped by a spring-forward change (02:30 on the last Sunday of March in
//!     Europe/Berlin) happens at the change itself (03:00 CEST), as cron runs a skipped
//!     job right after the change; a window lying wholly in the skipped hour does not happen
//!     that day;
//!   - a time repeated by a fall-back change (02:30 on the last Sunday of October) happens
//!     the first time the clock reads it (02:30 CEST), never twice.
//! - Overlapping occurrences of one window are not merged; [`MaintenanceWindow::next_open`]
//!   returns the one that started last.
//!
//! A [`WindowSet`] is open when any of its windows is. An **empty set is always open**: a
//! host without windows applies `auto` updates whenever they are ready.

use jiff::civil::{Date, DateTime, Time};
use jiff::tz::{AmbiguousOffset, TimeZone};
use jiff::{SignedDuration, Timestamp, ZonedDateTime};
use std::fmt;

mod cron;
mod grammar;
mod zone;

/// A maintenance window: a schedule of wall-clock times in one time zone.
#[derive(Debug, Clone)]
pub struct MaintenanceWindow {
    /// The text it was parsed from, trimmed.
    text: String,
    schedule: Schedule,
    time_zone: TimeZone,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Schedule {
    Weekly(WeeklySchedule),
    Cron(CronSchedule),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct WeeklySchedule {
    /// Monday first.
    days: [bool; 7],
    /// Minutes since midnight, 0..1440.
    start: u16,
    /// Minutes since midnight, 0..=1440; not later than `start` means the next day.
    end: u16,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct CronSchedule {
    /// Bit n: minute n.
    minutes: u64,
    hours: u32,
    /// Bit n: day n (1-31).
    days_of_month: u32,
    /// Bit n: month n (1-12).
    months: u16,
    /// Bit n: weekday n, Sunday 0.
    days_of_week: u8,
    day_of_month_star: bool,
    day_of_week_star: bool,
    duration: SignedDuration,
}

/// Why a window's text was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WindowError {
    /// Nothing but spaces.
    #[error("empty maintenance window (expected e.g. \"Sat 02:00-05:00 Europe/Berlin\" or \"cron: 0 3 * * 6 duration 2h tz UTC\")")]
    Empty,
    /// A word is not what its position needs.
    #[error("{field} {token:?}: {message}")]
    Token {
        /// What the word was read as: `days`, `time range`, `minute`, `duration`, ….
        field: &'static str,
        token: String,
        /// What is wrong and what was expected.
        message: String,
    },
    /// The text ended where more was needed.
    #[error("missing {field}: {expected}")]
    Missing {
        field: &'static str,
        expected: &'static str,
    },
    /// Words after a complete window.
    #[error("unexpected {token:?} after the time zone (nothing may follow it)")]
    Trailing { token: String },
    /// Not a time zone the database knows.
    #[error("unknown time zone {name:?} (expected an IANA name such as Europe/Berlin or America/New_York, or UTC)")]
    UnknownTimeZone { name: String },
    /// Start and end are the same time.
    #[error("time range {token:?} is empty (for a whole day write 00:00-24:00)")]
    EmptyRange { token: String },
    /// A cron window whose day fields can never match.
    #[error("cron window never opens: {detail}")]
    NeverMatches { detail: String },
}

impl WindowError {
    /// The word `token`, read as `field`, is wrong: `message` says how.
    fn token(field: &'static str, token: &str, message: impl Into<String>) -> WindowError {
        WindowError::Token {
            field,
            token: token.to_owned(),
            message: message.into(),
        }
    }
}

/// A refused window of a set, with its position (from 1).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("maintenance window {index} ({text:?}): {source}")]
pub struct WindowSetError {
    pub index: usize,
    pub text: String,
    #[source]
    pub source: WindowError,
}

/// One occurrence of a window: open from `start` (inclusive) to `end` (exclusive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Occurrence {
    pub start: ZonedDateTime,
    pub end: ZonedDateTime,
}

/// Whether a host's windows allow applying an update at some instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WindowState {
    /// The host has no maintenance windows: always open.
    Unrestricted,
    /// Inside a window, until the end of `occurrence`.
    Open { occurrence: Occurrence },
    /// Outside every window; `next` is `None` when no window opens again (within 50 years).
    Closed { next: Option<Occurrence> },
}

impl WindowState {
    /// Which of the three it is, without the occurrence.
    pub fn phase(&self) -> WindowPhase {
        match self {
            WindowState::Unrestricted => WindowPhase::Always,
            WindowState::Open { .. } => WindowPhase::Open,
            WindowState::Closed { .. } => WindowPhase::Closed,
        }
    }
}

/// A [`WindowState`] without its occurrence, as the API and the pages name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WindowPhase {
    /// No windows: updates may be applied at any time.
    Always,
    /// Inside a window.
    Open,
    /// Outside every window.
    Closed,
}

impl WindowPhase {
    /// `always`, `open` or `closed`.
    pub fn as_str(self) -> &'static str {
        match self {
            WindowPhase::Always => "always",
            WindowPhase::Open => "open",
            WindowPhase::Closed => "closed",
        }
    }
}

/// How far [`MaintenanceWindow::next_open`] looks ahead, in days (a cron window on 29
/// February and a weekday can be decades apart).
const HORIZON_DAYS: usize = 366 * 50;

impl MaintenanceWindow {
    /// Parses the text form (see the module documentation).
    ///
    /// Note that the first use of a time zone reads it from the system time-zone database
    /// (`/usr/share/zoneinfo`; a bundled copy when that is missing), cached afterwards.
    pub fn parse(text: &str) -> Result<MaintenanceWindow, WindowError> {
        grammar::parse(text)
    }

    /// The text the window was parsed from, trimmed.
    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn time_zone(&self) -> &TimeZone {
        &self.time_zone
    }

    /// Whether `now` is inside an occurrence.
    pub fn is_open(&self, now: Timestamp) -> bool {
        self.current(now).is_some()
    }

    /// The occurrence containing `now` (the one that started last), else the next one to
    /// start; `None` if none starts within 50 years.
    pub fn next_open(&self, now: Timestamp) -> Option<Occurrence> {
        let (start, end) = self.current(now).or_else(|| self.next_start(now))?;
        Some(Occurrence {
            start: start.to_zoned_datetime(self.time_zone.clone()),
            end: end.to_zoned_datetime(self.time_zone.clone()),
        })
    }

    /// The occurrence with the latest start not after `now`, if it contains `now`. Weekly
    /// occurrences never overlap and cron ones all last as long, so no earlier one can
    /// contain `now` when the latest does not.
    fn current(&self, now: Timestamp) -> Option<(Timestamp, Timestamp)> {
        let lookback_days = match &self.schedule {
            // At most 24 h plus a DST change, starting the day before.
            Schedule::Weekly(_) => 2,
            Schedule::Cron(cron) => cron.duration.as_hours() / 24 + 2,
        };
        let mut date = self.time_zone.to_datetime(now).date();
        for _ in 0..=lookback_days {
            let latest = self
                .occurrences_on(date)
                .into_iter()
                .rev()
                .find(|(start, _)| *start <= now);
            if let Some((start, end)) = latest {
                return (now < end).then_some((start, end));
            }
            date = date.yesterday().ok()?;
        }
        None
    }

    fn next_start(&self, now: Timestamp) -> Option<(Timestamp, Timestamp)> {
        let mut date = self.time_zone.to_datetime(now).date().yesterday().ok()?;
        for _ in 0..HORIZON_DAYS {
            let next = self
                .occurrences_on(date)
                .into_iter()
                .find(|(start, _)| *start > now);
            if next.is_some() {
                return next;
            }
            date = date.tomorrow().ok()?;
        }
        None
    }

    /// The non-empty occurrences starting on `date`, in order.
    fn occurrences_on(&self, date: Date) -> Vec<(Timestamp, Timestamp)> {
        let mut found: Vec<(Timestamp, Timestamp)> = Vec::new();
        match &self.schedule {
            Schedule::Weekly(weekly) => {
                if !weekly.days[date.weekday().to_monday_zero_offset() as usize] {
                    return found;
                }
                let end_date = if weekly.end <= weekly.start {
                    date.tomorrow().ok()
                } else {
                    Some(date)
                };
                let start = self.first_instant(date, weekly.start);
                let end = end_date.and_then(|end_date| self.first_instant(end_date, weekly.end));
                if let (Some(start), Some(end)) = (start, end) {
                    if start < end {
                        found.push((start, end));
                    }
                }
            }
            Schedule::Cron(cron) => {
                if !cron.day_matches(date) {
                    return found;
                }
                for minute_of_day in cron.times() {
                    let Some(start) = self.first_instant(date, minute_of_day) else {
                        continue;
                    };
                    // Several times skipped by a spring-forward all open at the change.
                    if found.last().is_some_and(|(last, _)| *last == start) {
                        continue;
                    }
                    if let Ok(end) = start.checked_add(cron.duration) {
                        found.push((start, end));
                    }
                }
            }
        }
        found
    }

    /// The first instant the wall clock reads `minute_of_day` (up to 1440, the next midnight)
    /// on `date`: at a spring-forward gap, the change itself; in a fall-back fold, the
    /// earlier reading.
    fn first_instant(&self, date: Date, minute_of_day: u16) -> Option<Timestamp> {
        let (date, minute_of_day) = if minute_of_day >= 1440 {
            (date.tomorrow().ok()?, minute_of_day - 1440)
        } else {
            (date, minute_of_day)
        };
        let time = Time::new((minute_of_day / 60) as i8, (minute_of_day % 60) as i8, 0, 0).ok()?;
        let datetime = DateTime::from_parts(date, time);
        match self.time_zone.to_ambiguous_timestamp(datetime).offset() {
            AmbiguousOffset::Unambiguous { offset } => offset.to_timestamp(datetime).ok(),
            AmbiguousOffset::Fold { before, .. } => before.to_timestamp(datetime).ok(),
            AmbiguousOffset::Gap { before, after } => {
                // Read with the later offset the time lies before the change; the change
                // is the next transition from there.
                let early = after.to_timestamp(datetime).ok()?;
                let change = self.time_zone.following(early).next();
                match change {
                    Some(transition) => Some(transition.timestamp()),
                    None => before.to_timestamp(datetime).ok(),
                }
            }
        }
    }
}

impl std::str::FromStr for MaintenanceWindow {
    type Err = WindowError;

    fn from_str(text: &str) -> Result<MaintenanceWindow, WindowError> {
        MaintenanceWindow::parse(text)
    }
}

impl fmt::Display for MaintenanceWindow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Occurrence {
    /// Whether `now` lies in `[start, end)`.
    pub fn contains(&self, now: Timestamp) -> bool {
        self.start.timestamp() <= now && now < self.end.timestamp()
    }

    /// The start for people: `Sat 02:00 CET` when it is less than six days from `now`,
    /// else with the date, `Sat 2025-07-05 02:00 CEST`.
    pub fn start_label(&self, now: Timestamp) -> String {
        let soon = self.start.timestamp().duration_since(now) < SignedDuration::from_hours(6 * 24);
        let format = if soon {
            "%a %H:%M %Z"
        } else {
            "%a %Y-%m-%d %H:%M %Z"
        };
        self.start.strftime(format).to_string()
    }
}

/// The windows of a host (its own and its groups'): open when any is open.
#[derive(Debug, Clone, Default)]
pub struct WindowSet {
    windows: Vec<MaintenanceWindow>,
}

impl WindowSet {
    pub fn new(windows: Vec<MaintenanceWindow>) -> WindowSet {
        WindowSet { windows }
    }

    /// Parses each text; the error names the first bad one.
    pub fn parse_all<S: AsRef<str>>(texts: &[S]) -> Result<WindowSet, WindowSetError> {
        let mut windows = Vec::with_capacity(texts.len());
        for (i, text) in texts.iter().enumerate() {
            let text = text.as_ref();
            windows.push(
                MaintenanceWindow::parse(text).map_err(|source| WindowSetError {
                    index: i + 1,
                    text: text.to_owned(),
                    source,
                })?,
            );
        }
        Ok(WindowSet { windows })
    }

    pub fn windows(&self) -> &[MaintenanceWindow] {
        &self.windows
    }

    pub fn is_empty(&self) -> bool {
        self.windows.is_empty()
    }

    /// Whether any window is open; an empty set is always open.
    pub fn is_open(&self, now: Timestamp) -> bool {
        self.is_empty() || self.windows.iter().any(|window| window.is_open(now))
    }

    /// The open occurrence that ends last, else the one that starts first; `None` for an
    /// empty set (always open: there is no window to show) or when none opens again.
    pub fn next_open(&self, now: Timestamp) -> Option<Occurrence> {
        let occurrences = self
            .windows
            .iter()
            .filter_map(|window| window.next_open(now));
        let (open, closed): (Vec<Occurrence>, Vec<Occurrence>) =
            occurrences.partition(|occurrence| occurrence.contains(now));
        match open
            .into_iter()
            .max_by_key(|occurrence| occurrence.end.timestamp())
        {
            Some(occurrence) => Some(occurrence),
            None => closed
                .into_iter()
                .min_by_key(|occurrence| occurrence.start.timestamp()),
        }
    }

    /// [`WindowSet::is_open`] and [`WindowSet::next_open`] in one.
    pub fn state(&self, now: Timestamp) -> WindowState {
        if self.is_empty() {
            return WindowState::Unrestricted;
        }
        match self.next_open(now) {
            Some(occurrence) if occurrence.contains(now) => WindowState::Open { occurrence },
            next => WindowState::Closed { next },
        }
    }
}

/// Parses one window (the same as [`MaintenanceWindow::parse`]).
pub fn parse(text: &str) -> Result<MaintenanceWindow, WindowError> {
    MaintenanceWindow::parse(text)
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod time_tests;
