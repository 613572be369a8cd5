//! Events through the daemon's path, against real engines (see `live_tests.rs`): a container
//! started after the report loop subscribed reports `start`, a health status and `die` with
//! its exit code within seconds, each in a report whose inventory already shows the change;
//! Docker also reports `oom`; and the subscription resumes when the engine restarts.

#![allow(clippy::indexing_slicing)]

use std::time::Duration;
use unity_testbed::image::ImportBusybox as _;

use tokio::sync::{mpsc, watch};
use unity_shared::model::container::{ContainerEvent, ContainerEventKind, HealthStatus, RunState};
use unity_testbed::engine::{ContainerEngine, Dockerd, Podman};

use super::live_tests::{blocking, config_for, find};
use super::ContainersConfig;
use crate::runtime::containers::{report_loop, ContainerReport};

/// Starts the daemon's report loop on `engine`, waits for its first (full) report, runs
/// `trigger`, and returns every event reported within 30 s after it until `done` says so,
/// with the report that carried the last one.
async fn events_through_reports(
    engine: &dyn ContainerEngine,
    trigger: impl FnOnce(),
    done: impl Fn(&[ContainerEvent]) -> bool,
) -> (Vec<ContainerEvent>, ContainerReport, Duration) {
    match try_events_through_reports(engine, trigger, done, Duration::from_secs(30)).await {
        Ok(found) => found,
        Err(events) => panic!("events so far: {events:#?}"),
    }
}

/// Like [`events_through_reports`], but gives up after `wait` with the events seen so far.
async fn try_events_through_reports(
    engine: &dyn ContainerEngine,
    trigger: impl FnOnce(),
    done: impl Fn(&[ContainerEvent]) -> bool,
    wait: Duration,
) -> Result<(Vec<ContainerEvent>, ContainerReport, Duration), Vec<ContainerEvent>> {
    let config = ContainersConfig {
        interval: Duration::from_secs(3600),
        event_debounce: Duration::from_millis(300),
        ..config_for(engine)
    };
    let (reports, mut received) = mpsc::channel(16);
    let (stop, shutdown) = watch::channel(false);
    let task = tokio::spawn(report_loop(config, reports, shutdown));
    let first = tokio::time::timeout(Duration::from_secs(30), received.recv())
        .await
        .expect("first report")
        .expect("report");
    assert!(first.full && first.inventory.engine.is_some(), "{first:#?}");
    blocking(trigger);
    let deadline = tokio::time::Instant::now() + wait;
    let mut events = Vec::new();
    loop {
        let Ok(report) = tokio::time::timeout_at(deadline, received.recv()).await else {
            let _ = stop.send(true);
            let _ = task.await;
            return Err(events);
        };
        let report = report.expect("report");
        assert!(!report.full, "only event reports in between");
        events.extend(report.inventory.events.iter().cloned());
        if done(&events) {
            let delay = Duration::from_millis(
                u64::try_from(crate::clock::now_ms() - events.last().unwrap().at_ms).unwrap_or(0),
            );
            let _ = stop.send(true);
            let _ = task.await;
            return Ok((events, report, delay));
        }
    }
}

fn died(events: &[ContainerEvent]) -> bool {
    events.iter().any(|event| {
        event.name.as_deref() == Some("ev") && matches!(event.kind, ContainerEventKind::Die { .. })
    })
}

#[track_caller]
fn assert_lifecycle(
    events: &[ContainerEvent],
    report: &ContainerReport,
    health: Option<HealthStatus>,
    delay: Duration,
) {
    let kinds: Vec<ContainerEventKind> = events
        .iter()
        .filter(|event| event.name.as_deref() == Some("ev"))
        .map(|event| event.kind.clone())
        .collect();
    let position = |wanted: &ContainerEventKind| kinds.iter().position(|kind| kind == wanted);
    let start = position(&ContainerEventKind::Start).unwrap_or_else(|| panic!("{kinds:?}"));
    let healthy = position(&ContainerEventKind::HealthStatus { status: health })
        .unwrap_or_else(|| panic!("{kinds:?}"));
    let die = position(&ContainerEventKind::Die { exit_code: Some(7) })
        .unwrap_or_else(|| panic!("{kinds:?}"));
    assert!(start < healthy && healthy < die, "{kinds:?}");
    assert!(events
        .iter()
        .all(|event| event.container_id.len() == 64 && event.at_ms > 0));
    // Reported about a second after it happened (debounce 300 ms plus one inventory).
    assert!(delay < Duration::from_secs(5), "{delay:?}");
    let ev = find(&report.inventory, "ev");
    assert_eq!(
        (ev.state, ev.exit_code),
        (RunState::Exited, Some(7)),
        "{ev:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_events_reach_reports() {
    let engine = blocking(Dockerd::start);
    blocking(|| engine.import_busybox().unwrap());
    let (events, report, delay) = events_through_reports(
        &engine,
        || {
            #[rustfmt::skip]
            engine.cli(&[
                "run", "-d", "--name", "ev", "--health-cmd", "true", "--health-interval", "1s",
                "localhost/busybox", "sh", "-c", "sleep 3; exit 7",
            ]).unwrap();
        },
        died,
    )
    .await;
    assert_lifecycle(&events, &report, Some(HealthStatus::Healthy), delay);

    // Out of memory: Docker reports `oom` (Podman 4 does not). containerd sends the OOM and the
    // exit separately, and under load an OOM notification can come late or not at all, so
    // each attempt waits for both and a missed one is tried again with a new container.
    let mut seen = Vec::new();
    for attempt in 0..3 {
        let name = format!("oom{attempt}");
        let found = try_events_through_reports(
            &engine,
            || {
                #[rustfmt::skip]
                let _ = engine.cli(&[
                    "run", "--name", &name, "-m", "8m", "--memory-swap", "8m",
                    "localhost/busybox", "sh", "-c", "dd if=/dev/zero of=/dev/null bs=64M count=1",
                ]);
            },
            |events| {
                events.iter().any(|event| {
                    event.name.as_deref() == Some(name.as_str())
                        && event.kind == ContainerEventKind::Oom
                })
            },
            Duration::from_secs(15),
        )
        .await;
        match found {
            Ok(_) => return,
            Err(events) => seen.push(events),
        }
    }
    panic!("no oom event in three attempts: {seen:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn podman_events_reach_reports() {
    let engine = blocking(Podman::start);
    blocking(|| engine.import_busybox().unwrap());
    let (events, report, delay) = events_through_reports(
        &engine,
        || {
            #[rustfmt::skip]
            engine.cli(&[
                "run", "-d", "--name", "ev", "--health-cmd", "true", "--health-interval", "1s",
                "localhost/busybox", "sh", "-c", "sleep 3; exit 7",
            ]).unwrap();
            // Podman runs health checks from systemd timers; there are none here.
            engine.healthcheck_run("ev").unwrap();
        },
        died,
    )
    .await;
    // Podman's health events carry no status.
    assert_lifecycle(&events, &report, None, delay);
}

/// Points `link` at `target`, atomically.
fn repoint(link: &std::path::Path, target: &std::path::Path) {
    let staging = link.with_extension("new");
    let _ = std::fs::remove_file(&staging);
    std::os::unix::fs::symlink(target, &staging).unwrap();
    std::fs::rename(&staging, link).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_resume_after_the_engine_restarts() {
    // The loop follows a symlink to the engine socket; "restarting the engine" is stopping
    // one dockerd after pointing the link at another.
    let links = tempfile::tempdir().unwrap();
    let link = links.path().join("docker.sock");
    let first_engine = blocking(Dockerd::start);
    repoint(&link, first_engine.socket_path());
    let config = ContainersConfig {
        socket: super::SocketSetting::Path(link.clone()),
        interval: Duration::from_secs(3600),
        event_debounce: Duration::from_millis(300),
        ..ContainersConfig::default()
    };
    let (reports, mut received) = mpsc::channel(16);
    let (stop, shutdown) = watch::channel(false);
    let task = tokio::spawn(report_loop(config, reports, shutdown));
    let first = tokio::time::timeout(Duration::from_secs(30), received.recv())
        .await
        .expect("first report")
        .expect("report");
    assert!(first.inventory.engine.is_some(), "{first:#?}");

    let second_engine = blocking(Dockerd::start);
    blocking(|| second_engine.import_busybox().unwrap());
    repoint(&link, second_engine.socket_path());
    // The event stream ends with the first engine; the loop reconnects (to the second).
    blocking(move || drop(first_engine));
    blocking(|| {
        #[rustfmt::skip]
        second_engine.cli(&["run", "-d", "--name", "after", "localhost/busybox", "sleep", "60"]).unwrap();
    });
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let mut events = Vec::new();
    while !events.iter().any(|event: &ContainerEvent| {
        event.name.as_deref() == Some("after") && event.kind == ContainerEventKind::Start
    }) {
        let report = tokio::time::timeout_at(deadline, received.recv())
            .await
            .unwrap_or_else(|_| panic!("no start after the restart: {events:#?}"))
            .expect("report");
        events.extend(report.inventory.events.iter().cloned());
    }
    let _ = stop.send(true);
    let _ = task.await;
}
