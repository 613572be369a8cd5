//! The dates `zpool status` prints, in ctime format (`Sun Oct 20 17:29:34 2024`), read and
//! written: [`parse_ctime`] (and the `date`-style variant some builds print) for the text and
//! JSON parsers, [`ctime_utc`] for the JSON parser's Unix times. Pure.

/// `Sun Oct 20 17:29:34 2024` (ctime format, local time) to seconds since the epoch, reading
/// the time as UTC (good to within a day, which is all scrub-age checks need).
pub fn parse_ctime(text: &str) -> Option<i64> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let [_weekday, month, day, clock, year] = words.as_slice() else {
        return None;
    };
    let month = match *month {
        "Jan" => 1,
        "Feb" => 2,
        "Mar" => 3,
        "Apr" => 4,
        "May" => 5,
        "Jun" => 6,
        "Jul" => 7,
        "Aug" => 8,
        "Sep" => 9,
        "Oct" => 10,
        "Nov" => 11,
        "Dec" => 12,
        _ => return None,
    };
    let day: i64 = day.parse().ok().filter(|d| (1..=31).contains(d))?;
    let year: i64 = year.parse().ok().filter(|y| (1970..=9999).contains(y))?;
    let mut clock_parts = clock.split(':').map(|p| p.parse::<i64>().ok());
    let hours = clock_parts.next()??;
    let minutes = clock_parts.next()??;
    let seconds = clock_parts.next()??;
    Some(days_from_civil(year, month, day) * 86_400 + hours * 3600 + minutes * 60 + seconds)
}

/// Days since 1970-01-01 (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_index = if month > 2 { month - 3 } else { month + 9 };
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// `date`-style times as some builds print them, e.g. `Sun Jan 11 05:31:02 PM EST 2026`: the
/// AM/PM marker is applied and the zone name dropped (the result reads the time as UTC).
pub fn parse_date_output(printed: &str) -> Option<i64> {
    let words: Vec<&str> = printed.split_whitespace().collect();
    let [weekday, month, day, clock, rest @ ..] = words.as_slice() else {
        return None;
    };
    let year = rest.last()?;
    let meridiem = rest.iter().find(|w| matches!(**w, "AM" | "PM")).copied();
    let base = parse_ctime(&format!("{weekday} {month} {day} {clock} {year}"))?;
    let hours: i64 = clock.split(':').next()?.parse().ok()?;
    let shift = match (meridiem, hours) {
        (Some("AM"), 12) => -12 * 3600,
        (Some("PM"), 1..=11) => 12 * 3600,
        _ => 0,
    };
    Some(base + shift)
}

/// Seconds since the epoch as `Sun Oct 20 17:29:34 2024` (UTC).
pub fn ctime_utc(seconds: i64) -> Option<String> {
    const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = seconds.div_euclid(86_400);
    let of_day = seconds.rem_euclid(86_400);
    let weekday = WEEKDAYS.get(usize::try_from(days.rem_euclid(7)).ok()?)?;
    let (year, month, day) = civil_from_days(days);
    let month_name = MONTHS.get(usize::try_from(month - 1).ok()?)?;
    Some(format!(
        "{weekday} {month_name} {day:>2} {:02}:{:02}:{:02} {year}",
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60
    ))
}

/// Howard Hinnant's `civil_from_days`: days since 1970-01-01 to (year, month, day).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ctime() {
        assert_eq!(parse_ctime("Thu Jan  1 00:00:00 1970"), Some(0));
        assert_eq!(parse_ctime("Sun Oct 20 17:29:34 2024"), Some(1_729_445_374));
        assert_eq!(parse_ctime("garbage"), None);
    }

    #[test]
    fn times() {
        assert_eq!(ctime_utc(0).as_deref(), Some("Thu Jan  1 00:00:00 1970"));
        assert_eq!(
            ctime_utc(1_729_445_374).as_deref(),
            Some("Sun Oct 20 17:29:34 2024")
        );
        assert_eq!(
            parse_date_output("Sun Jan 11 05:31:02 PM EST 2026"),
            parse_ctime("Sun Jan 11 17:31:02 2026")
        );
        assert_eq!(
            parse_date_output("Sun Jan 11 12:24:02 AM EST 2026"),
            parse_ctime("Sun Jan 11 00:24:02 2026")
        );
    }
}
