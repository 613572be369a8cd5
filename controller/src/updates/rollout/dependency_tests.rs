//! Rule 4a: a host's updates follow its dependency order; a failed dependency stops its
//! dependents; a cycle waits with its name; a forced update goes anyway.

use super::tests::{attempt, now, pending};
use super::*;

/// `"host/container needs a,b"` entries; `failed` are `"host/container"`.
fn dependencies(
    needs: &[(&str, &[&str])],
    failed: &[&str],
    cycles: &[(&str, &str)],
) -> HostDependencies {
    let key = |spec: &str| {
        let (host, container) = spec.split_once('/').unwrap();
        (
            AgentId::new(format!("agent-{host}")).unwrap(),
            container.to_owned(),
        )
    };
    HostDependencies {
        needs: needs
            .iter()
            .map(|(spec, names)| (key(spec), names.iter().map(|n| n.to_string()).collect()))
            .collect(),
        cycles: cycles
            .iter()
            .map(|(spec, text)| (key(spec), text.to_string()))
            .collect(),
        failed: failed.iter().map(|spec| key(spec)).collect(),
    }
}

#[track_caller]
fn check(
    max_per_host: usize,
    pending_specs: &[&str],
    history: &[(&str, i64)],
    dependencies: &HostDependencies,
    expect: &[&str],
) {
    let pending: Vec<PendingUpdate> = pending_specs.iter().map(|s| pending(s)).collect();
    let history: Vec<Attempt> = history.iter().map(|(s, m)| attempt(s, *m)).collect();
    let decisions = plan_ordered(
        &RolloutOptions { max_per_host },
        &pending,
        &history,
        dependencies,
        now(),
    );
    let shown: Vec<String> = decisions.iter().map(|d| d.to_string()).collect();
    assert_eq!(shown, expect, "{pending_specs:#?}");
}

#[test]
fn issue_17_the_dependency_goes_first_even_with_room_for_both() {
    let deps = dependencies(&[("a/app", &["db"])], &[], &[]);
    // The app's repository sorts first, and the host has room for two: the db still goes first.
    let pending = ["a/app aaa/app@new auto", "a/db zzz/db@new auto"];
    check(
        2,
        &pending,
        &[],
        &deps,
        &[
            "wait: waits for db, which it depends on, to update first",
            "dispatch (canary)",
        ],
    );
    // The db's update runs (its health gate too): the app still waits.
    check(
        2,
        &pending[..1],
        &[("a/db zzz/db@new running", 1)],
        &deps,
        &["wait: waits for the update of db, which it depends on, to finish and pass its health check"],
    );
    // The db passed: the app goes.
    check(
        2,
        &pending[..1],
        &[("a/db zzz/db@new succeeded", 1)],
        &deps,
        &["dispatch (canary)"],
    );
    // Still listed as pending but already applied: no reason to wait.
    check(
        1,
        &pending,
        &[("a/db zzz/db@new succeeded", 1)],
        &deps,
        &[
            "dispatch (canary)",
            "skip: already updated to this candidate",
        ],
    );
}

#[test]
fn issue_17_a_failed_dependency_stops_its_dependents() {
    let deps = dependencies(
        &[("a/app", &["db"]), ("a/web", &["app", "db"])],
        &["a/db"],
        &[],
    );
    check(
        2,
        &["a/app aaa/app@new auto", "a/web www/web@new auto", "a/other ooo/other@new auto"],
        &[("a/db zzz/db@new failed", 1)],
        &deps,
        &[
            "wait: the update of db, which it depends on, failed: updates of what depends on it stopped",
            "wait: the update of db, which it depends on, failed: updates of what depends on it stopped",
            "dispatch (canary)",
        ],
    );
    // An operator may force one anyway.
    check(
        1,
        &["a/app aaa/app@new auto approval=force"],
        &[],
        &deps,
        &["dispatch (forced)"],
    );
}

#[test]
fn issue_17_dependencies_are_per_host_and_mode_off_does_not_hold_anyone() {
    let deps = dependencies(&[("a/app", &["db"])], &[], &[]);
    check(
        1,
        // b's db is not a's db; a's db is off, so it will not update.
        &[
            "a/app aaa/app@new auto",
            "b/db zzz/db@new auto",
            "a/db zzz/db@new off",
        ],
        &[],
        &deps,
        &[
            "dispatch (canary)",
            "dispatch (canary)",
            "skip: policy mode is off",
        ],
    );
}

#[test]
fn issue_17_a_cycle_waits_with_its_name() {
    let text = "dependency cycle a → b → a: change …";
    let deps = dependencies(
        &[("h/a", &["b"]), ("h/b", &["a"])],
        &[],
        &[("h/a", text), ("h/b", text)],
    );
    check(
        2,
        &["h/a aaa/a@new auto", "h/b bbb/b@new auto"],
        &[],
        &deps,
        &[&format!("wait: {text}"), &format!("wait: {text}")],
    );
}
