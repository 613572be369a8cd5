//! Why an offered update is not applied now (pure): the one function the Updates page and
//! `GET /api/v1/updates` (`waiting`) take their reason from, recomputed at each view from the
//! newest check, the failed mark and the plan. In order: the candidate failed on this
//! container; its cooldown (minimum image age) has not passed, with a countdown ("eligible in
//! 2h 13m"; an image whose build time is unknown is counted from when Unity first saw it,
//! so it defers too); and the plan's reason for an `auto` update (maintenance window,
//! approval, staged rollout, dependency order).

use super::offer::FailedMark;
use super::rollout::Decision;
use crate::storage::containers::DetectedUpdate;
use std::time::{Duration, SystemTime};

/// What `held_back` says while a candidate's cooldown runs: written by the watch, read back
/// here for the countdown.
const COOLDOWN_PREFIX: &str = "cooldown: offered from ";

/// The `held_back` text for a cooldown ending at `until`.
pub fn cooldown_text(until: SystemTime) -> String {
    format!(
        "{COOLDOWN_PREFIX}{}",
        humantime::format_rfc3339_seconds(until)
    )
}

/// When a cooldown ends, from its `held_back` text.
pub fn cooldown_until(held_back: &str) -> Option<SystemTime> {
    humantime::parse_rfc3339(held_back.strip_prefix(COOLDOWN_PREFIX)?).ok()
}

/// A short countdown for people, the one formatter of every remaining time Unity shows
/// (this reason and the cooldown of `scan::countdown`): `2h 13m`, `3d 4h`, `12m`, `45s`, the
/// two largest units, rounded *up* (to the second, then to the minute past a minute), so
/// that nothing still waiting ever reads `0s` or `0m`.
pub fn countdown(left: Duration) -> String {
    let seconds = left.as_millis().div_ceil(1000);
    if seconds < 60 {
        return format!("{seconds}s");
    }
    let minutes = seconds.div_ceil(60);
    let (days, hours, minutes) = (minutes / 1440, minutes / 60 % 24, minutes % 60);
    match (days, hours) {
        (0, 0) => format!("{minutes}m"),
        (0, hours) => format!("{hours}h {minutes}m"),
        (days, hours) => format!("{days}d {hours}h"),
    }
}

/// Why `update` waits now, or `None` when it is offered and not held (a `notify` update
/// waits for its operator, which is not a reason to show). `decision` is the plan's for an
/// `auto` update.
pub fn reason(
    update: &DetectedUpdate,
    failed: Option<&FailedMark>,
    decision: Option<&Decision>,
    now: SystemTime,
) -> Option<String> {
    if failed.is_some() {
        return Some("failed on this container: not applied automatically".to_owned());
    }
    if let Some(held_back) = &update.held_back {
        let Some(until) = cooldown_until(held_back) else {
            return Some(held_back.clone());
        };
        let age = match update.candidate_created_ms {
            Some(_) => "minimum image age",
            None => "image age unknown, counted from when it was first seen",
        };
        let at = humantime::format_rfc3339_seconds(until);
        return Some(match until.duration_since(now) {
            Ok(left) if !left.is_zero() => {
                format!("cooldown ({age}): eligible in {} ({at})", countdown(left))
            }
            _ => format!("cooldown ({age}) passed at {at}: offered at the next check"),
        });
    }
    match decision? {
        Decision::Dispatch(_) => None,
        Decision::Wait(reason) => Some(reason.to_string()),
        Decision::Skip(reason) => Some(reason.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::containers::{UpdateKind, UpdateMode};
    use crate::updates::rollout::WaitReason;

    fn at(text: &str) -> SystemTime {
        humantime::parse_rfc3339(text).unwrap()
    }

    fn update(held_back: Option<String>, created: Option<i64>) -> DetectedUpdate {
        DetectedUpdate {
            kind: UpdateKind::Patch,
            current_tag: Some("1.0.0".into()),
            current_digest: None,
            candidate_tag: "1.0.1".into(),
            candidate_digest: "sha256:00".into(),
            candidate_created_ms: created,
            first_seen_ms: 0,
            mode: UpdateMode::Auto,
            offered: held_back.is_none(),
            held_back,
        }
    }

    #[test]
    fn issue_17_a_cooldown_shows_its_countdown() {
        let now = at("2026-12-07T09:45:00Z");
        let until = at("2026-12-07T11:58:30Z");
        let held = update(Some(cooldown_text(until)), Some(1));
        assert_eq!(
            cooldown_until(held.held_back.as_deref().unwrap()),
            Some(until)
        );
        assert_eq!(
            reason(&held, None, None, now).unwrap(),
            "cooldown (minimum image age): eligible in 2h 14m (2026-12-07T11:58:30Z)"
        );
        let unknown_age = update(Some(cooldown_text(until)), None);
        assert_eq!(
            reason(&unknown_age, None, None, now).unwrap(),
            "cooldown (image age unknown, counted from when it was first seen): eligible in \
             2h 14m (2026-12-07T11:58:30Z)"
        );
        let passed = reason(&held, None, None, at("2026-12-07T12:00:00Z")).unwrap();
        assert!(passed.contains("passed"), "{passed}");
    }

    #[test]
    fn issue_17_countdowns_read_at_a_glance() {
        assert_eq!(countdown(Duration::from_secs(45)), "45s");
        // Rounded up: a countdown never reads less than what is left.
        assert_eq!(countdown(Duration::from_secs(13 * 60 + 59)), "14m");
        assert_eq!(countdown(Duration::from_secs(61)), "2m");
        assert_eq!(countdown(Duration::from_secs(12 * 60)), "12m");
        assert_eq!(countdown(Duration::from_secs(2 * 3600 + 13 * 60)), "2h 13m");
        assert_eq!(
            countdown(Duration::from_secs(3 * 86_400 + 4 * 3600 + 5)),
            "3d 4h"
        );
    }

    #[test]
    fn issue_17_a_countdown_still_waiting_never_reads_zero() {
        assert_eq!(countdown(Duration::from_millis(1)), "1s");
        assert_eq!(countdown(Duration::from_millis(59_001)), "1m");
        assert_eq!(countdown(Duration::from_secs(3600 - 1)), "1h 0m");
        assert_eq!(countdown(Duration::ZERO), "0s");
    }

    #[test]
    fn issue_17_the_failed_mark_comes_first_then_the_plan() {
        let now = at("2026-12-07T09:45:00Z");
        let offered = update(None, Some(1));
        let mark = FailedMark {
            at_ms: 1,
            reason: "health check failed".into(),
        };
        let window = Decision::Wait(WaitReason::OutsideWindow {
            next: Some("Sat 02:00 UTC".into()),
        });
        assert_eq!(
            reason(&offered, Some(&mark), Some(&window), now).unwrap(),
            "failed on this container: not applied automatically"
        );
        assert_eq!(
            reason(&offered, None, Some(&window), now).unwrap(),
            "outside the maintenance window, next Sat 02:00 UTC"
        );
        let stopped = Decision::Wait(WaitReason::RolloutStopped {
            host: "nas".into(),
            canary: true,
        });
        assert_eq!(
            reason(&offered, None, Some(&stopped), now).unwrap(),
            "canary failed on nas: rollout stopped"
        );
        let dependency = Decision::Wait(WaitReason::DependencyFailed {
            dependency: "db".into(),
        });
        assert!(reason(&offered, None, Some(&dependency), now)
            .unwrap()
            .contains("db"));
        assert_eq!(
            reason(
                &offered,
                None,
                Some(&Decision::Dispatch(crate::updates::rollout::Stage::Canary)),
                now
            ),
            None
        );
        assert_eq!(reason(&offered, None, None, now), None);
    }
}
