//! Tests of the container rules over model values: each condition, its quiet twin (the same
//! container in a state that must not alert) and the opt-out label.

use super::containers::{conditions, ContainerRuleConfig, ContainerState};
use super::Condition;
use crate::storage::alerts::Severity;
use std::collections::BTreeSet;
use unity_shared::model::container::{
    Container, ContainerEvent, ContainerEventKind, ContainerInventory, EngineInfo, EngineKind,
    HealthStatus, RunState,
};
use unity_shared::proto::AgentId;

const NOW: i64 = 1_700_000_000_000;
const MIN: i64 = 60_000;

fn container(name: &str, state: RunState) -> Container {
    serde_json::from_value(serde_json::json!({
        "id": format!("id-{name}"), "name": name, "image": "lab/app:1", "image_id": "sha256:a",
        "repo_digests": [], "platform": null, "image_created_ms": null, "state": state,
        "health": null, "exit_code": null, "restart_policy": "unless-stopped", "restart_count": 0,
        "created_ms": null, "started_ms": null, "ports": [], "mounts": [], "networks": [],
        "labels": [], "compose": null, "usage": null,
    }))
    .unwrap()
}

fn event(name: &str, at_ms: i64, kind: ContainerEventKind) -> ContainerEvent {
    ContainerEvent {
        at_ms,
        container_id: format!("id-{name}"),
        name: Some(name.to_owned()),
        kind,
    }
}

fn die(name: &str, at_ms: i64) -> ContainerEvent {
    event(name, at_ms, ContainerEventKind::Die { exit_code: Some(3) })
}

fn inventory(containers: Vec<Container>) -> ContainerInventory {
    ContainerInventory {
        engine: Some(EngineInfo {
            kind: EngineKind::Docker,
            version: "26.1.5".into(),
            socket: "/var/run/docker.sock".into(),
        }),
        containers,
        events: Vec::new(),
        error: None,
    }
}

fn run(
    inventory: &ContainerInventory,
    events: &[ContainerEvent],
    operated: &[&str],
) -> Vec<Condition> {
    let operated: BTreeSet<String> = operated.iter().map(|name| (*name).to_owned()).collect();
    conditions(
        &AgentId::new("nas").unwrap(),
        &ContainerState {
            inventory,
            events,
            operated: &operated,
        },
        NOW,
        &ContainerRuleConfig::default(),
    )
}

fn keys(conditions: &[Condition]) -> Vec<&str> {
    conditions.iter().map(|c| c.key.as_str()).collect()
}

#[test]
fn issue_18_an_unhealthy_running_container_alerts_and_an_opted_out_one_does_not() {
    let mut sick = container("web", RunState::Running);
    sick.health = Some(HealthStatus::Unhealthy);
    let found = run(&inventory(vec![sick.clone()]), &[], &[]);
    assert_eq!(keys(&found), ["container/nas/web/unhealthy"]);
    assert_eq!(found[0].severity, Severity::Warning);
    assert!(found[0].summary.contains("web"), "{found:?}");

    let mut starting = sick.clone();
    starting.health = Some(HealthStatus::Starting);
    assert!(run(&inventory(vec![starting]), &[], &[]).is_empty());

    let mut quiet = sick;
    quiet.labels = vec![("unity.alerts".into(), "false".into())];
    assert!(run(&inventory(vec![quiet]), &[], &[]).is_empty());
}

#[test]
fn issue_18_three_exits_within_ten_minutes_are_a_restart_loop_two_are_not() {
    let mut looping = container("worker", RunState::Restarting);
    looping.restart_count = 7;
    let inv = inventory(vec![looping]);
    let three = [
        die("worker", NOW - 9 * MIN),
        event("worker", NOW - 9 * MIN + 100, ContainerEventKind::Start),
        die("worker", NOW - 5 * MIN),
        die("worker", NOW - MIN),
    ];
    let found = run(&inv, &three, &[]);
    assert_eq!(keys(&found), ["container/nas/worker/restart_loop"]);
    assert_eq!(found[0].severity, Severity::Critical);
    assert!(found[0].details.iter().any(|d| d.contains("7 restarts")));
    assert!(found[0].details.iter().any(|d| d.contains("exit code: 3")));

    // One of them outside the window: two in ten minutes.
    let old = [
        die("worker", NOW - 11 * MIN),
        die("worker", NOW - 5 * MIN),
        die("worker", NOW - MIN),
    ];
    assert!(run(&inv, &old, &[]).is_empty());
    // Another container's exits do not count.
    let mut others = three.to_vec();
    for event in &mut others {
        event.container_id = "id-other".into();
    }
    assert!(run(&inv, &others, &[]).is_empty());
}

#[test]
fn issue_18_a_crashed_container_that_should_run_alerts_a_stopped_one_does_not() {
    let mut crashed = container("db", RunState::Exited);
    crashed.exit_code = Some(1);
    for policy in ["always", "unless-stopped", "on-failure"] {
        crashed.restart_policy = Some(policy.into());
        let found = run(&inventory(vec![crashed.clone()]), &[], &[]);
        assert_eq!(keys(&found), ["container/nas/db/exited"], "{policy}");
        assert!(found[0].summary.contains("code 1"));
    }
    // Just exited: the engine may restart it yet.
    let fresh = [die("db", NOW - 10_000)];
    assert!(run(&inventory(vec![crashed.clone()]), &fresh, &[]).is_empty());
    let mut no_policy = crashed.clone();
    no_policy.restart_policy = Some("no".into());
    assert!(run(&inventory(vec![no_policy]), &[], &[]).is_empty());
    let mut clean = crashed.clone();
    clean.exit_code = Some(0);
    assert!(run(&inventory(vec![clean]), &[], &[]).is_empty());
    // `docker stop` (kill, die, stop) after the last start: someone stopped it.
    let stopped = [
        event("db", NOW - 10 * MIN, ContainerEventKind::Start),
        event("db", NOW - MIN, ContainerEventKind::Kill),
        event(
            "db",
            NOW - MIN + 5,
            ContainerEventKind::Die {
                exit_code: Some(143),
            },
        ),
        event("db", NOW - MIN + 10, ContainerEventKind::Stop),
    ];
    crashed.exit_code = Some(143);
    assert!(run(&inventory(vec![crashed.clone()]), &stopped, &[]).is_empty());
    // Started again after that stop, then crashed: alerts again.
    let mut restarted = stopped.to_vec();
    restarted.push(event("db", NOW - 30_000, ContainerEventKind::Start));
    restarted.push(die("db", NOW - 40_000));
    assert_eq!(
        keys(&run(&inventory(vec![crashed]), &restarted, &[])),
        ["container/nas/db/exited"]
    );
}

#[test]
fn issue_18_an_oom_kill_alerts_from_the_engine_state_or_a_recent_event() {
    let mut killed = container("java", RunState::Exited);
    killed.restart_policy = Some("no".into());
    killed.oom_killed = true;
    let found = run(&inventory(vec![killed.clone()]), &[], &[]);
    assert_eq!(keys(&found), ["container/nas/java/oom"]);

    // Restarted (the engine clears OOMKilled) but the event is recent.
    let mut running = killed.clone();
    running.state = RunState::Running;
    running.oom_killed = false;
    let oom = [event("java", NOW - 30 * MIN, ContainerEventKind::Oom)];
    assert_eq!(
        keys(&run(&inventory(vec![running.clone()]), &oom, &[])),
        ["container/nas/java/oom"]
    );
    let old = [event("java", NOW - 25 * 60 * MIN, ContainerEventKind::Oom)];
    assert!(run(&inventory(vec![running]), &old, &[]).is_empty());
}

#[test]
fn issue_18_a_container_removed_outside_unity_is_gone_unless_recreated_or_a_job() {
    let web = container("web", RunState::Running);
    let removed = [
        event("db", NOW - 3 * 24 * 60 * MIN, ContainerEventKind::Create),
        event("db", NOW - 5 * MIN, ContainerEventKind::Destroy),
    ];
    let found = run(&inventory(vec![web.clone()]), &removed, &[]);
    assert_eq!(keys(&found), ["container/nas/db/gone"]);
    assert_eq!(found[0].severity, Severity::Warning);

    // Recreated under the same name (compose up, an update): present again.
    let db = container("db", RunState::Running);
    assert!(run(&inventory(vec![web.clone(), db]), &removed, &[]).is_empty());
    // Removed by Unity's own operation.
    assert!(run(&inventory(vec![web.clone()]), &removed, &["db"]).is_empty());
    // A one-off job: created and removed within minutes.
    let job = [
        event("backup-run", NOW - 3 * MIN, ContainerEventKind::Create),
        event("backup-run", NOW - MIN, ContainerEventKind::Destroy),
    ];
    assert!(run(&inventory(vec![web.clone()]), &job, &[]).is_empty());
    // Unity's parked old container.
    let parked = [event(
        "db-unity-old-17",
        NOW - MIN,
        ContainerEventKind::Destroy,
    )];
    assert!(run(&inventory(vec![web.clone()]), &parked, &[]).is_empty());
    // Removed long ago: the event window is over.
    let long_ago = [event(
        "db",
        NOW - 25 * 60 * MIN,
        ContainerEventKind::Destroy,
    )];
    assert!(run(&inventory(vec![web.clone()]), &long_ago, &[]).is_empty());
    // The engine did not answer: nothing is known to be gone.
    let mut silent = inventory(vec![]);
    silent.engine = None;
    assert!(run(&silent, &removed, &[]).is_empty());
}

#[test]
fn issue_18_container_rules_take_hostile_values_without_panicking() {
    let mut odd = container("", RunState::Unknown);
    odd.exit_code = Some(i64::MIN);
    odd.restart_policy = Some("always".into());
    odd.state = RunState::Dead;
    let events = [
        ContainerEvent {
            at_ms: i64::MIN,
            container_id: String::new(),
            name: None,
            kind: ContainerEventKind::Destroy,
        },
        event("x", i64::MAX, ContainerEventKind::Die { exit_code: None }),
    ];
    let found = run(&inventory(vec![odd]), &events, &[]);
    assert_eq!(keys(&found), ["container/nas//exited"]);
}
