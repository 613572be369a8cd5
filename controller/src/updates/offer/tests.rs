//! Unit tests of the offer decision, over plain structs.

use super::*;

fn update(digest: &str, at_ms: i64, result: AttemptResult, backup: Option<&str>) -> PastUpdate {
    PastUpdate {
        to_digest: digest.to_owned(),
        at_ms,
        result,
        backup: backup.map(str::to_owned),
    }
}

fn failed(reason: &str) -> AttemptResult {
    AttemptResult::Failed {
        reason: reason.to_owned(),
    }
}

fn running(digest: &str, reported_at_ms: i64) -> RunningNow {
    RunningNow {
        digests: vec![digest.to_owned()],
        reported_at_ms,
    }
}

#[test]
fn issue_17_a_candidate_the_container_runs_is_not_offered() {
    let state = offer_state("sha256:new", Some(&running("sha256:new", 100)), &[]);
    assert_eq!(state, OfferState::Applied);
}

#[test]
fn issue_17_a_candidate_applied_after_the_newest_report_is_not_offered() {
    let history = [update(
        "sha256:new",
        200,
        AttemptResult::Succeeded,
        Some("1.json"),
    )];
    let state = offer_state("sha256:new", Some(&running("sha256:old", 100)), &history);
    assert_eq!(state, OfferState::Applied);
    // Without any report either.
    assert_eq!(
        offer_state("sha256:new", None, &history),
        OfferState::Applied
    );
}

#[test]
fn issue_17_a_candidate_applied_then_restored_away_is_offered_again() {
    let history = [update(
        "sha256:new",
        200,
        AttemptResult::Succeeded,
        Some("1.json"),
    )];
    let state = offer_state("sha256:new", Some(&running("sha256:old", 300)), &history);
    assert_eq!(state, OfferState::Offered { failed: None });
}

#[test]
fn issue_17_a_failed_candidate_is_marked_with_when_and_why() {
    let history = [update(
        "sha256:new",
        200,
        failed("health check failed"),
        Some("1.json"),
    )];
    let state = offer_state("sha256:new", Some(&running("sha256:old", 300)), &history);
    assert_eq!(
        state,
        OfferState::Offered {
            failed: Some(FailedMark {
                at_ms: 200,
                reason: "health check failed".to_owned()
            })
        }
    );
}

#[test]
fn issue_17_a_success_after_a_failure_clears_the_mark() {
    let history = [
        update("sha256:new", 200, failed("health check failed"), None),
        update("sha256:new", 400, AttemptResult::Succeeded, Some("2.json")),
    ];
    // The report predates the success: applied.
    let state = offer_state("sha256:new", Some(&running("sha256:old", 300)), &history);
    assert_eq!(state, OfferState::Applied);
    assert!(known_bad(&history).is_empty());
}

#[test]
fn issue_17_no_verdict_attempts_neither_mark_nor_apply() {
    let history = [update("sha256:new", 200, AttemptResult::NoVerdict, None)];
    let state = offer_state("sha256:new", Some(&running("sha256:old", 100)), &history);
    assert_eq!(state, OfferState::Offered { failed: None });
    assert!(known_bad(&history).is_empty());
}

#[test]
fn issue_17_other_candidates_failures_do_not_mark_this_one() {
    let history = [update("sha256:bad", 200, failed("crashed"), None)];
    let state = offer_state("sha256:good", Some(&running("sha256:old", 300)), &history);
    assert_eq!(state, OfferState::Offered { failed: None });
    assert_eq!(
        known_bad(&history).into_iter().collect::<Vec<_>>(),
        vec!["sha256:bad".to_owned()]
    );
}

#[test]
fn issue_17_rollback_goes_to_the_backup_of_the_newest_successful_update() {
    // v1 → v2 succeeded (backup of v1), v2 → v3 failed and rolled back (backup of v2, the
    // version running now): roll back restores v1, not the newest backup.
    let history = [
        update("sha256:v2", 100, AttemptResult::Succeeded, Some("v1.json")),
        update(
            "sha256:v3",
            200,
            failed("health check failed"),
            Some("v2.json"),
        ),
    ];
    assert_eq!(rollback_target(&history), Some("v1.json".to_owned()));
    assert_eq!(rollback_target(&history[1..]), None);
    assert_eq!(rollback_target(&[]), None);
}

#[test]
fn issue_17_history_is_sorted_and_known_bad_follows_the_newest_verdict() {
    let history = [
        update("sha256:x", 300, AttemptResult::Succeeded, None),
        update("sha256:x", 100, failed("one"), None),
        update("", 150, failed("given image"), None),
    ];
    assert!(known_bad(&history).is_empty());
    let history = [
        update("sha256:x", 100, AttemptResult::Succeeded, None),
        update("sha256:x", 300, failed("two"), None),
    ];
    assert!(known_bad(&history).contains("sha256:x"));
}

#[test]
fn issue_17_after_a_restore_the_newest_candidate_that_did_not_fail_is_offered() {
    use std::time::Duration;
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
    let past = now - Duration::from_secs(3600);
    let later = now + Duration::from_secs(60);
    // Restored to 1.0: 1.2 failed here, 1.1 is the good version it ran before.
    let candidates = vec![("1.2", past), ("1.1", past)];
    let bad = |tag: &&str| *tag == "1.2";
    assert_eq!(pick(candidates.clone(), bad, now), Picked::Ready("1.1"));
    // Nothing known-bad: the newest.
    assert_eq!(
        pick(candidates.clone(), |_| false, now),
        Picked::Ready("1.2")
    );
    // Only the known-bad one exists: it is still reported (to be marked and offered by hand).
    assert_eq!(
        pick(candidates[..1].to_vec(), bad, now),
        Picked::Ready("1.2")
    );
    // A good candidate in its cooldown is preferred to a known-bad one past it.
    let young = vec![("1.2", past), ("1.1", later)];
    assert_eq!(pick(young, bad, now), Picked::Waiting("1.1", later));
    // The first ready good one wins over an earlier waiting one.
    let mixed = vec![("1.3", later), ("1.1", past)];
    assert_eq!(pick(mixed, bad, now), Picked::Ready("1.1"));
    assert_eq!(
        pick(Vec::<(&str, SystemTime)>::new(), bad, now),
        Picked::None
    );
}
