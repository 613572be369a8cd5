//! The rollout plan: windows, approvals, the canary, failures, per-container and per-host
//! limits, each as a small table of pending updates and attempts.

use super::*;
use crate::updates::window::{MaintenanceWindow, WindowSet};
use jiff::SignedDuration;

const NOW: &str = "2025-06-07T12:00:00Z"; // Saturday noon UTC

pub(super) fn now() -> Timestamp {
    NOW.parse().unwrap()
}

fn closed() -> WindowState {
    let window = MaintenanceWindow::parse("Sun 02:00-05:00 UTC").unwrap();
    WindowSet::new(vec![window]).state(now())
}

fn open() -> WindowState {
    let window = MaintenanceWindow::parse("Sat 11:00-13:00 UTC").unwrap();
    WindowSet::new(vec![window]).state(now())
}

/// `"host/container image@digest mode"` with optional `window=closed|open` and
/// `approval=window|now|force`; the host name doubles as the agent id.
pub(super) fn pending(spec: &str) -> PendingUpdate {
    let mut words = spec.split_whitespace();
    let (host, container) = words.next().unwrap().split_once('/').unwrap();
    let (repository, digest) = words.next().unwrap().split_once('@').unwrap();
    let mode = match words.next().unwrap() {
        "auto" => UpdateMode::Auto,
        "notify" => UpdateMode::Notify,
        "off" => UpdateMode::Off,
        other => panic!("mode {other}"),
    };
    let mut update = PendingUpdate {
        agent_id: AgentId::new(format!("agent-{host}")).unwrap(),
        host_name: host.to_owned(),
        container: container.to_owned(),
        repository: repository.to_owned(),
        candidate_digest: digest.to_owned(),
        mode,
        window: WindowState::Unrestricted,
        approval: None,
    };
    for word in words {
        match word {
            "window=closed" => update.window = closed(),
            "window=open" => update.window = open(),
            "approval=window" => update.approval = Some(Approval::InWindow),
            "approval=now" => update.approval = Some(Approval::Now),
            "approval=force" => update.approval = Some(Approval::Force),
            other => panic!("{other}"),
        }
    }
    update
}

/// `"host/container image@digest running|succeeded|failed"`, started `minutes` before now.
pub(super) fn attempt(spec: &str, minutes: i64) -> Attempt {
    let words: Vec<&str> = spec.split_whitespace().collect();
    let (host, container) = words[0].split_once('/').unwrap();
    let (repository, digest) = words[1].split_once('@').unwrap();
    Attempt {
        agent_id: AgentId::new(format!("agent-{host}")).unwrap(),
        host_name: host.to_owned(),
        container: container.to_owned(),
        repository: repository.to_owned(),
        candidate_digest: digest.to_owned(),
        started: now() - SignedDuration::from_mins(minutes),
        outcome: match words[2] {
            "running" => AttemptOutcome::Running,
            "succeeded" => AttemptOutcome::Succeeded,
            "failed" => AttemptOutcome::Failed,
            other => panic!("{other}"),
        },
    }
}

#[track_caller]
fn check_with(
    max_per_host: usize,
    pending_specs: &[&str],
    history: &[(&str, i64)],
    expect: &[&str],
) {
    let pending: Vec<PendingUpdate> = pending_specs.iter().map(|s| pending(s)).collect();
    let history: Vec<Attempt> = history.iter().map(|(s, m)| attempt(s, *m)).collect();
    let decisions = plan_with(&RolloutOptions { max_per_host }, &pending, &history, now());
    let shown: Vec<String> = decisions.iter().map(|d| d.to_string()).collect();
    assert_eq!(shown, expect, "{pending_specs:#?}");
}

#[track_caller]
fn check(pending: &[&str], history: &[(&str, i64)], expect: &[&str]) {
    check_with(1, pending, history, expect);
}

#[test]
fn modes_windows_and_approvals() {
    check(
        &[
            "nas/a img@d1 auto",
            "nas2/b img@d2 auto window=open",
            "nas3/c img@d3 auto window=closed",
            "nas4/d img@d4 notify",
            "nas5/e img@d5 notify approval=window window=closed",
            "nas6/f img@d6 notify approval=window window=open",
            "nas7/g img@d7 notify approval=now window=closed",
            "nas8/h img@d8 auto approval=now window=closed",
            "nas9/i img@d9 off approval=force",
        ],
        &[],
        &[
            "dispatch (canary)",
            "dispatch (canary)",
            "wait: outside the maintenance window, next Sun 02:00 UTC",
            "wait: waiting for approval",
            "wait: outside the maintenance window, next Sun 02:00 UTC",
            "dispatch (canary)",
            "dispatch (canary)",
            "dispatch (canary)",
            "skip: policy mode is off",
        ],
    );
}

#[test]
fn a_window_that_never_opens_again() {
    let mut update = pending("nas/a img@d1 auto");
    update.window = WindowState::Closed { next: None };
    let decisions = plan(&[update], &[], now());
    assert_eq!(
        decisions[0].to_string(),
        "wait: outside the maintenance window, which does not open again"
    );
}

#[test]
fn the_canary_goes_first() {
    // nas has one container of the image, box two: nas is the canary, everyone else waits,
    // the canary's host included.
    check(
        &[
            "box/web1 nginx@n1 auto",
            "box/web2 nginx@n1 auto",
            "nas/web nginx@n1 auto",
            "pi/web nginx@n1 auto",
        ],
        &[],
        &[
            "wait: canary host nas running",
            "wait: canary host nas running",
            "dispatch (canary)",
            "wait: canary host nas running",
        ],
    );
    // Ties go by agent id, then container.
    check(
        &["pi/web nginx@n1 auto", "nas/web nginx@n1 auto"],
        &[],
        &["wait: canary host nas running", "dispatch (canary)"],
    );
    // Another digest of the same repository is a separate rollout.
    check(
        &["nas/web nginx@n1 auto", "pi/web nginx@n2 auto"],
        &[],
        &["dispatch (canary)", "dispatch (canary)"],
    );
}

#[test]
fn a_blocked_candidate_does_not_hold_the_canary() {
    // nas would be the canary but its window is closed: pi goes first.
    check(
        &[
            "nas/web nginx@n1 auto window=closed",
            "pi/web nginx@n1 auto",
            "zed/web nginx@n1 auto",
        ],
        &[],
        &[
            "wait: outside the maintenance window, next Sun 02:00 UTC",
            "dispatch (canary)",
            "wait: canary host pi running",
        ],
    );
    // nas is busy with another update: pi is the canary.
    check(
        &["nas/web nginx@n1 auto", "pi/web nginx@n1 auto"],
        &[("nas/db postgres@p1 running", 5)],
        &[
            "wait: host nas already runs 1 update(s), the limit",
            "dispatch (canary)",
        ],
    );
}

#[test]
fn the_rest_follow_a_passed_canary() {
    let pending = [
        "box/web1 nginx@n1 auto",
        "box/web2 nginx@n1 auto",
        "pi/web nginx@n1 auto",
    ];
    check(
        &pending,
        &[("nas/web nginx@n1 running", 3)],
        &[
            "wait: canary host nas running",
            "wait: canary host nas running",
            "wait: canary host nas running",
        ],
    );
    // One per host at a time.
    check(
        &pending,
        &[("nas/web nginx@n1 succeeded", 30)],
        &[
            "dispatch",
            "wait: host box already runs 1 update(s), the limit",
            "dispatch",
        ],
    );
    check_with(
        2,
        &pending,
        &[("nas/web nginx@n1 succeeded", 30)],
        &["dispatch", "dispatch", "dispatch"],
    );
    // Followers still running do not stop the rest once the canary passed.
    check(
        &["box/web2 nginx@n1 auto", "pi/web nginx@n1 auto"],
        &[
            ("nas/web nginx@n1 succeeded", 30),
            ("box/web1 nginx@n1 running", 2),
        ],
        &[
            "wait: host box already runs 1 update(s), the limit",
            "dispatch",
        ],
    );
    // The earliest running attempt is the canary named.
    check(
        &["pi/web nginx@n1 auto"],
        &[
            ("zed/web nginx@n1 running", 1),
            ("nas/web nginx@n1 running", 9),
        ],
        &["wait: canary host nas running"],
    );
}

#[test]
fn a_failure_stops_the_rollout() {
    let pending = [
        "box/web nginx@n1 auto",
        "pi/web nginx@n1 notify approval=now",
        "nas/web nginx@n1 auto",
        "zed/web nginx@n1 notify approval=force",
    ];
    check(
        &pending,
        &[("nas/web nginx@n1 failed", 10)],
        &[
            "wait: canary failed on nas: rollout stopped",
            "wait: canary failed on nas: rollout stopped",
            // Not retried automatically on the canary either.
            "wait: canary failed on nas: rollout stopped",
            "dispatch (forced)",
        ],
    );
    // A follower failing after the canary passed stops the rest too.
    check(
        &["pi/web nginx@n1 auto"],
        &[
            ("nas/web nginx@n1 succeeded", 60),
            ("box/web nginx@n1 failed", 10),
        ],
        &["wait: update failed on box: rollout stopped"],
    );
    // Left out of the history (an operator dismissed it), the failure no longer counts.
    check(
        &["pi/web nginx@n1 auto"],
        &[("nas/web nginx@n1 succeeded", 60)],
        &["dispatch"],
    );
}

#[test]
fn approvals_follow_the_canary_unless_forced() {
    check(
        &[
            "nas/web nginx@n1 auto",
            "pi/web nginx@n1 notify approval=now",
            "box/web nginx@n1 notify approval=window",
        ],
        &[],
        // Operator approvals are considered first, so pi is the canary.
        &[
            "wait: canary host pi running",
            "dispatch (canary)",
            "wait: canary host pi running",
        ],
    );
    check(
        &[
            "pi/web nginx@n1 notify approval=now",
            "box/web nginx@n1 auto approval=force",
        ],
        &[("nas/web nginx@n1 running", 5)],
        &["wait: canary host nas running", "dispatch (forced)"],
    );
    // A forced update with no attempts yet is the canary for the rest.
    check(
        &[
            "box/web nginx@n1 auto",
            "zed/web nginx@n1 notify approval=force window=closed",
        ],
        &[],
        &["wait: canary host zed running", "dispatch (forced)"],
    );
}

#[test]
fn one_update_per_container() {
    check(
        &["nas/web nginx@n2 auto approval=force"],
        &[("nas/web nginx@n1 running", 5)],
        &["wait: another update of this container is running"],
    );
    check(
        &["nas/web nginx@n1 auto", "nas/web nginx@n2 auto"],
        &[],
        &["dispatch (canary)", "skip: listed twice"],
    );
    check(
        &["nas/web nginx@n1 auto"],
        &[("nas/web nginx@n1 succeeded", 60)],
        &["skip: already updated to this candidate"],
    );
    // Forcing re-applies.
    check(
        &["nas/web nginx@n1 auto approval=force"],
        &[("nas/web nginx@n1 succeeded", 60)],
        &["dispatch (forced)"],
    );
}

#[test]
fn host_capacity_counts_every_candidate() {
    check_with(
        2,
        &[
            "nas/a img-a@a1 auto",
            "nas/b img-b@b1 auto",
            "nas/c img-c@c1 auto",
        ],
        &[("nas/x img-x@x1 running", 1)],
        &[
            "dispatch (canary)",
            "wait: host nas already runs 2 update(s), the limit",
            "wait: host nas already runs 2 update(s), the limit",
        ],
    );
    // Forced and approved-now updates take the host first.
    check(
        &["nas/a img-a@a1 auto", "nas/b img-b@b1 notify approval=now"],
        &[],
        &[
            "wait: host nas already runs 1 update(s), the limit",
            "dispatch (canary)",
        ],
    );
}
