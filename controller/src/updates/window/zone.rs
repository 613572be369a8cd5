//! The time-zone word of a maintenance window (weekly or cron): `UTC` or an IANA name the
//! system's time-zone database knows.

use super::WindowError;
use jiff::tz::TimeZone;

/// The time zone `word` names.
pub(super) fn parse_zone(word: &str) -> Result<TimeZone, WindowError> {
    if word.eq_ignore_ascii_case("utc") {
        return Ok(TimeZone::UTC);
    }
    let looks_like_name = word
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/_-+".contains(c));
    if !looks_like_name {
        return Err(WindowError::UnknownTimeZone {
            name: word.to_owned(),
        });
    }
    // Note that this reads the system time-zone database (cached by jiff) on first use.
    jiff::tz::db()
        .get(word)
        .map_err(|_| WindowError::UnknownTimeZone {
            name: word.to_owned(),
        })
}
