//! Cron-like maintenance windows (pure): the five fields, `duration` and `tz`, and which
//! days and times match.

use super::zone::parse_zone;
use super::{CronSchedule, WindowError};
use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::SignedDuration;

const MONTH_NAMES: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
/// The longest `duration` of a cron window.
const MAX_DURATION: SignedDuration = SignedDuration::from_hours(7 * 24);

pub(super) fn parse_cron(words: &[String]) -> Result<(CronSchedule, TimeZone), WindowError> {
    const FIELDS: [(&str, u8, u8); 5] = [
        ("minute", 0, 59),
        ("hour", 0, 23),
        ("day-of-month", 1, 31),
        ("month", 1, 12),
        ("day-of-week", 0, 7),
    ];
    let mut masks = [0u64; 5];
    let mut stars = [false; 5];
    for (i, (field, min, max)) in FIELDS.into_iter().enumerate() {
        let word = words.get(i).ok_or(WindowError::Missing {
            field,
            expected: "expected five cron fields: minute hour day-of-month month day-of-week",
        })?;
        if is_keyword(word) {
            return Err(WindowError::token(
                field,
                word,
                "expected five cron fields (minute hour day-of-month month day-of-week) before duration and tz",
            ));
        }
        masks[i] = parse_cron_field(field, word, min, max)?;
        stars[i] = word.starts_with('*');
    }
    // Day-of-week 7 is Sunday, like 0.
    if masks[4] & (1 << 7) != 0 {
        masks[4] = (masks[4] | 1) & !(1 << 7);
    }
    let (duration, time_zone) = parse_cron_tail(&words[5.min(words.len())..])?;
    let cron = CronSchedule {
        minutes: masks[0],
        hours: masks[1] as u32,
        days_of_month: masks[2] as u32,
        months: masks[3] as u16,
        days_of_week: masks[4] as u8,
        day_of_month_star: stars[2],
        day_of_week_star: stars[4],
        duration,
    };
    if !cron.can_match() {
        return Err(WindowError::NeverMatches {
            detail: format!(
                "day-of-month {:?} never occurs in month {:?}",
                words[2], words[3]
            ),
        });
    }
    Ok((cron, time_zone))
}

fn is_keyword(word: &str) -> bool {
    word.eq_ignore_ascii_case("duration") || word.eq_ignore_ascii_case("tz")
}

/// `duration D` and `tz ZONE`, in either order, each exactly once.
fn parse_cron_tail(words: &[String]) -> Result<(SignedDuration, TimeZone), WindowError> {
    let mut duration = None;
    let mut time_zone = None;
    let mut i = 0;
    while let Some(word) = words.get(i) {
        if word.eq_ignore_ascii_case("duration") && duration.is_none() {
            // `2h 30m` may be written as two words.
            let mut text = String::new();
            i += 1;
            while let Some(part) = words.get(i).filter(|w| !is_keyword(w)) {
                if !text.is_empty() && parse_duration(part).is_err() {
                    break;
                }
                text.push_str(part);
                i += 1;
            }
            if text.is_empty() {
                return Err(WindowError::Missing {
                    field: "duration",
                    expected: "expected a length after `duration`, e.g. 2h, 90m or 1h30m",
                });
            }
            duration = Some(parse_duration(&text)?);
        } else if word.eq_ignore_ascii_case("tz") && time_zone.is_none() {
            let zone = words.get(i + 1).ok_or(WindowError::Missing {
                field: "time zone",
                expected: "expected an IANA time zone such as Europe/Berlin, or UTC, after `tz`",
            })?;
            time_zone = Some(parse_zone(zone)?);
            i += 2;
        } else if duration.is_some() && time_zone.is_some() {
            return Err(WindowError::Trailing {
                token: word.clone(),
            });
        } else {
            let expected = match (duration.is_some(), time_zone.is_some()) {
                (false, false) => {
                    "expected `duration` (e.g. duration 2h) after the five cron fields"
                }
                (false, true) => "expected `duration` (e.g. duration 2h)",
                _ => "expected `tz` and a time zone (e.g. tz Europe/Berlin)",
            };
            return Err(WindowError::token("cron window", word, expected));
        }
    }
    match (duration, time_zone) {
        (Some(duration), Some(time_zone)) => Ok((duration, time_zone)),
        (None, _) => Err(WindowError::Missing {
            field: "duration",
            expected: "a cron window needs `duration`, e.g. duration 2h",
        }),
        (Some(_), None) => Err(WindowError::Missing {
            field: "time zone",
            expected: "a cron window needs `tz` and a time zone, e.g. tz Europe/Berlin or tz UTC",
        }),
    }
}

/// `2h`, `90m`, `1h30m`, `1d`: between one minute and seven days.
fn parse_duration(word: &str) -> Result<SignedDuration, WindowError> {
    let bad = |message: &str| WindowError::token("duration", word, message);
    let expected = "expected a length such as 2h, 90m, 1h30m or 1d (units d, h, m)";
    let mut total: i64 = 0;
    let mut digits = String::new();
    for c in word.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit: i64 = match c.to_ascii_lowercase() {
            'd' => 24 * 60,
            'h' => 60,
            'm' => 1,
            _ => return Err(bad(expected)),
        };
        let value: i64 = digits.parse().map_err(|_| bad(expected))?;
        total = value
            .checked_mul(unit)
            .and_then(|minutes| total.checked_add(minutes))
            .ok_or_else(|| bad("too long (at most 7d)"))?;
        digits.clear();
    }
    if word.is_empty() || !digits.is_empty() {
        return Err(bad(expected));
    }
    if total < 1 {
        return Err(bad("a window must last at least 1m"));
    }
    let duration = SignedDuration::from_mins(total);
    if duration > MAX_DURATION {
        return Err(bad("too long (at most 7d)"));
    }
    Ok(duration)
}

/// One cron field as a bit mask: `*`, `N`, `A-B`, each optionally `/STEP`, joined by commas.
fn parse_cron_field(field: &'static str, word: &str, min: u8, max: u8) -> Result<u64, WindowError> {
    let names: &[&str] = match field {
        "month" => &MONTH_NAMES,
        "day-of-week" => &["sun", "mon", "tue", "wed", "thu", "fri", "sat"],
        _ => &[],
    };
    let first_name = if field == "month" { 1 } else { 0 };
    let value = |text: &str| -> Result<u8, WindowError> {
        let lower = text.to_ascii_lowercase();
        if let Some(i) = names.iter().position(|n| *n == lower) {
            return Ok(i as u8 + first_name);
        }
        let number: u16 =
            (!text.is_empty() && text.len() <= 3 && text.bytes().all(|b| b.is_ascii_digit()))
                .then(|| text.parse().ok())
                .flatten()
                .ok_or_else(|| {
                    WindowError::token(
                        field,
                        word,
                        format!(
                            "{text:?} is not a number{}",
                            if names.is_empty() {
                                String::new()
                            } else {
                                format!(" or a name ({})", names.join(", "))
                            }
                        ),
                    )
                })?;
        if number < u16::from(min) || number > u16::from(max) {
            return Err(WindowError::token(
                field,
                word,
                format!("{number} is out of range ({min}-{max})"),
            ));
        }
        Ok(number as u8)
    };
    let mut mask = 0u64;
    for item in word.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((range, step)) => {
                let step: u8 = step.parse().ok().filter(|s| *s > 0).ok_or_else(|| {
                    WindowError::token(
                        field,
                        word,
                        format!("step {step:?} must be a number from 1"),
                    )
                })?;
                (range, step)
            }
            None => (item, 1),
        };
        let (low, high) = if range == "*" {
            (min, max)
        } else if let Some((low, high)) = range.split_once('-') {
            let (low, high) = (value(low)?, value(high)?);
            if low > high {
                return Err(WindowError::token(
                    field,
                    word,
                    format!("range {range} runs backwards (write the smaller value first)"),
                ));
            }
            (low, high)
        } else {
            let single = value(range)?;
            // `N/STEP` runs from N to the field's maximum.
            (single, if item.contains('/') { max } else { single })
        };
        let mut n = low;
        while n <= high {
            mask |= 1 << n;
            n = match n.checked_add(step) {
                Some(next) => next,
                None => break,
            };
        }
    }
    Ok(mask)
}

impl CronSchedule {
    pub(super) fn day_matches(&self, date: Date) -> bool {
        if self.months & (1 << date.month()) == 0 {
            return false;
        }
        let day_of_month = self.days_of_month & (1 << date.day()) != 0;
        let day_of_week = self.days_of_week & (1 << date.weekday().to_sunday_zero_offset()) != 0;
        if self.day_of_month_star || self.day_of_week_star {
            day_of_month && day_of_week
        } else {
            day_of_month || day_of_week
        }
    }

    /// The matching times of day, as minutes since midnight, in order.
    pub(super) fn times(&self) -> impl Iterator<Item = u16> + '_ {
        (0..24u16)
            .filter(|hour| self.hours & (1 << hour) != 0)
            .flat_map(move |hour| {
                (0..60u16)
                    .filter(|minute| self.minutes & (1 << minute) != 0)
                    .map(move |minute| hour * 60 + minute)
            })
    }

    /// Whether some date matches at all (a day-of-month that no selected month has, such as
    /// `30 2`, never does unless a day-of-week may match instead).
    pub(super) fn can_match(&self) -> bool {
        if self.day_of_month_star || !self.day_of_week_star {
            // Every day of the month is allowed, or a weekday alone suffices.
            return self.months != 0 && (self.days_of_week != 0 || self.days_of_month != 0);
        }
        const LONGEST: [u8; 13] = [0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
        (1..=12).any(|month| {
            self.months & (1 << month) != 0
                && (1..=LONGEST[month]).any(|day| self.days_of_month & (1 << day) != 0)
        })
    }
}
