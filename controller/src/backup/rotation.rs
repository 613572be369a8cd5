//! Scheduled backups' names, when the next one is due and which old ones to delete (pure).
//! An archive is named `unity-controller-YYYYMMDDTHHMMSSZ.ubak` after its creation time (UTC),
//! so names sort by age and the newest tells when the last good backup was made: a failed
//! backup leaves no archive, never deletes one, and is tried again sooner.

/// The prefix and suffix of a scheduled archive's name.
const PREFIX: &str = "unity-controller-";
const SUFFIX: &str = ".ubak";

/// The name of a scheduled archive made at `at_ms` (Unix milliseconds).
pub fn archive_name(at_ms: i64) -> String {
    let time = jiff::Timestamp::from_millisecond(at_ms).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    format!("{PREFIX}{}{SUFFIX}", time.strftime("%Y%m%dT%H%M%SZ"))
}

/// When the archive named `name` was made (Unix milliseconds), if it is one of ours.
pub fn archive_time_ms(name: &str) -> Option<i64> {
    let stamp = name.strip_prefix(PREFIX)?.strip_suffix(SUFFIX)?;
    let time = jiff::civil::DateTime::strptime("%Y%m%dT%H%M%SZ", stamp).ok()?;
    let timestamp = jiff::tz::TimeZone::UTC.to_timestamp(time).ok()?;
    Some(timestamp.as_millisecond())
}

/// The archives to delete so that the newest `keep` of ours remain (other files are never
/// touched). `keep` is at least 1: the newest good backup is never deleted.
pub fn to_delete(names: &[String], keep: usize) -> Vec<String> {
    let mut ours: Vec<(i64, &String)> = names
        .iter()
        .filter_map(|name| archive_time_ms(name).map(|at| (at, name)))
        .collect();
    ours.sort();
    let n_delete = ours.len().saturating_sub(keep.max(1));
    ours.into_iter()
        .take(n_delete)
        .map(|(_, name)| name.clone())
        .collect()
}

/// When the next backup is due: `interval` after the newest good one, now when there is
/// none, and never later than `retry` after a failure at `failed_at_ms`.
pub fn next_due_ms(
    newest_ms: Option<i64>,
    failed_at_ms: Option<i64>,
    interval_ms: i64,
    retry_ms: i64,
    now_ms: i64,
) -> i64 {
    match failed_at_ms {
        Some(failed) if newest_ms.is_none_or(|newest| failed >= newest) => {
            failed.saturating_add(retry_ms.min(interval_ms))
        }
        _ => newest_ms.map_or(now_ms, |newest| newest.saturating_add(interval_ms)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000;
    const AT: i64 = 1_796_670_000_000;

    #[test]
    fn names_carry_their_time() {
        let name = archive_name(AT);
        assert_eq!(name, "unity-controller-20261207T190000Z.ubak");
        assert_eq!(archive_time_ms(&name), Some(AT));
        assert_eq!(archive_time_ms("unity-controller-2026.ubak"), None);
        assert_eq!(
            archive_time_ms(".unity-controller-20261207T190000Z.ubak.tmp-1"),
            None
        );
        assert_eq!(archive_time_ms("notes.txt"), None);
    }

    #[test]
    fn rotation_keeps_the_newest_and_ignores_other_files() {
        let names: Vec<String> = (0..5)
            .map(|day| archive_name(AT + day * DAY))
            .chain(["notes.txt".to_owned(), "x.ubak".to_owned()])
            .rev()
            .collect();
        let deleted = to_delete(&names, 3);
        assert_eq!(deleted, vec![archive_name(AT), archive_name(AT + DAY)]);
        assert!(to_delete(&names, 5).is_empty());
        assert!(to_delete(&names, 10).is_empty());
        // keep 0 is taken as 1: the newest good backup stays.
        assert_eq!(to_delete(&names, 0).len(), 4);
        assert!(!to_delete(&names, 0).contains(&archive_name(AT + 4 * DAY)));
    }

    #[test]
    fn the_next_backup_is_due_after_the_interval_or_sooner_after_a_failure() {
        let hour = 3_600_000;
        assert_eq!(next_due_ms(None, None, DAY, hour, AT), AT);
        assert_eq!(next_due_ms(Some(AT), None, DAY, hour, AT + 5), AT + DAY);
        // Failed after the last good one: retried an hour later.
        assert_eq!(
            next_due_ms(Some(AT), Some(AT + DAY), DAY, hour, AT + DAY),
            AT + DAY + hour
        );
        assert_eq!(next_due_ms(None, Some(AT), DAY, hour, AT), AT + hour);
        // A failure older than the newest good backup does not matter.
        assert_eq!(next_due_ms(Some(AT), Some(AT - 1), DAY, hour, AT), AT + DAY);
        // An interval shorter than the retry: retried after the interval.
        assert_eq!(next_due_ms(None, Some(AT), 60_000, hour, AT), AT + 60_000);
    }
}
