//! The pure mappings over real API answers captured from this project's test machines
//! (`testdata/docker-20.10/`, `testdata/podman-4.3/`; how they were made is in
//! `testdata/SOURCES.md`). Each mapped container is a snapshot next to its fixtures; refresh
//! with `UPDATE_EXPECT=1 cargo test -p unity-agent --lib collect::containers`.

#![allow(clippy::indexing_slicing)]

use std::path::{Path, PathBuf};

use bollard::models::{
    ContainerInspectResponse, ContainerStatsResponse, ContainerSummary, EventMessage, ImageInspect,
    SystemVersion,
};
use expect_test::{expect_file, ExpectFile};
use unity_shared::model::container::{
    Container, ContainerEventKind, ContainerInventory, EngineKind, HealthStatus, RunState,
};

use super::events::to_event;
use super::inventory::{from_inspect, from_summary, time_ms};
use super::socket::{api_version, candidate_sockets, engine_kind, engine_version, find_socket};
use super::stats::{cpu_reading, usage};
use super::{published_ports, samples, SocketSetting};

fn testdata(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src/collect/containers/testdata")
        .join(file)
}

fn load<T: serde::de::DeserializeOwned>(file: &str) -> T {
    let text = std::fs::read_to_string(testdata(file)).unwrap();
    serde_json::from_str(&text).unwrap_or_else(|error| panic!("{file}: {error}"))
}

fn events(file: &str) -> Vec<EventMessage> {
    std::fs::read_to_string(testdata(file))
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

#[track_caller]
fn check(inspect: &str, image: Option<&str>, stats: Option<&str>, expect: ExpectFile) -> Container {
    let inspect: ContainerInspectResponse = load(inspect);
    let image: Option<ImageInspect> = image.map(load);
    let usage = stats.map(|file| usage(&load::<ContainerStatsResponse>(file), None));
    let container = from_inspect(&inspect, image.as_ref(), usage);
    expect.assert_eq(&serde_json::to_string_pretty(&container).unwrap());
    container
}

#[test]
fn docker_running_container_with_everything() {
    let web = check(
        "docker-20.10/inspect-web.json",
        Some("docker-20.10/image-web.json"),
        Some("docker-20.10/stats-web.json"),
        expect_file!["testdata/docker-20.10/web.expect.json"],
    );
    assert_eq!(web.name, "web");
    assert_eq!(web.image, "localhost/web:1.0");
    assert_eq!(web.state, RunState::Running);
    assert_eq!(web.health, Some(HealthStatus::Healthy));
    assert_eq!(web.exit_code, None);
    assert_eq!(web.restart_policy.as_deref(), Some("unless-stopped"));
    assert_eq!(web.compose.as_ref().unwrap().project, "lab");
    assert_eq!(web.compose.as_ref().unwrap().service, "web");
    assert_eq!(web.label("tier"), Some("frontend"));
    let published: Vec<_> = web
        .ports
        .iter()
        .map(|p| (p.container_port, p.host_port))
        .collect();
    assert_eq!(published, vec![(8080, Some(18080)), (9090, Some(32769))]);
    let networks: Vec<_> = web.networks.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(networks, vec!["back", "front"]);
    assert_eq!(web.networks[0].aliases, vec!["web-back"]);
    let kinds: Vec<_> = web
        .mounts
        .iter()
        .map(|m| (m.kind.as_str(), m.source.as_str(), m.read_only))
        .collect();
    assert!(kinds.contains(&("volume", "data", false)), "{kinds:?}");
    assert!(kinds
        .iter()
        .any(|(kind, _, read_only)| *kind == "bind" && *read_only));
    let usage = web.usage.unwrap();
    // Docker's `stream=false` answer carries its own earlier reading.
    assert!(usage.cpu_percent.is_some());
    // 622592 usage, 0 inactive file: nothing to subtract.
    assert_eq!(usage.memory_bytes, Some(622_592));
}

#[test]
fn docker_pulled_image_has_repo_digest_and_platform() {
    let pulled = check(
        "docker-20.10/inspect-pulled.json",
        Some("docker-20.10/image-pulled.json"),
        None,
        expect_file!["testdata/docker-20.10/pulled.expect.json"],
    );
    assert_eq!(pulled.image, "127.0.0.1:15055/lab/web:1.0");
    assert_eq!(
        pulled.repo_digests,
        vec!["127.0.0.1:15055/lab/web@sha256:2d06a182ac033c4067bfab488ac51e0943573b0237829325eb63747967660f71"]
    );
    assert_eq!(pulled.platform.unwrap().to_string(), "linux/amd64");
    assert_eq!(pulled.restart_policy.as_deref(), Some("always"));
    assert!(pulled.image_created_ms.is_some());
}

#[test]
fn docker_exited_and_oom_killed() {
    let job = check(
        "docker-20.10/inspect-job.json",
        Some("docker-20.10/image-busybox.json"),
        None,
        expect_file!["testdata/docker-20.10/job.expect.json"],
    );
    assert_eq!(job.state, RunState::Exited);
    assert_eq!(job.exit_code, Some(3));
    assert_eq!(job.restart_policy.as_deref(), Some("on-failure"));
    assert_eq!(job.restart_count, 3);
    assert_eq!(job.health, None);
    assert!(job.ports.is_empty());
    let oom = check(
        "docker-20.10/inspect-oom.json",
        None,
        None,
        expect_file!["testdata/docker-20.10/oom.expect.json"],
    );
    assert_eq!(oom.exit_code, Some(137));
    assert_eq!(oom.restart_policy.as_deref(), Some("no"));
}

#[test]
fn podman_running_and_exited() {
    let web = check(
        "podman-4.3/inspect-web.json",
        Some("podman-4.3/image-web.json"),
        Some("podman-4.3/stats-web.json"),
        expect_file!["testdata/podman-4.3/web.expect.json"],
    );
    assert_eq!(web.health, Some(HealthStatus::Healthy));
    assert_eq!(web.compose.as_ref().unwrap().service, "web");
    assert_eq!(web.networks.len(), 2);
    assert_eq!(web.ports.len(), 2);
    // Podman never sends `precpu_stats` for `stream=false`: no CPU share from one answer.
    assert_eq!(web.usage.as_ref().unwrap().cpu_percent, None);
    assert_eq!(web.usage.as_ref().unwrap().memory_bytes, Some(274_432));
    let job = check(
        "podman-4.3/inspect-job.json",
        None,
        None,
        expect_file!["testdata/podman-4.3/job.expect.json"],
    );
    assert_eq!(job.exit_code, Some(3));
    // Podman sends `"Health": {"Status": ""}` for a container without a health check.
    assert_eq!(job.health, None);
}

#[test]
fn summaries_are_the_fallback() {
    for file in ["docker-20.10/list.json", "podman-4.3/list.json"] {
        let list: Vec<ContainerSummary> = load(file);
        let web = list
            .iter()
            .map(from_summary)
            .find(|container| container.name == "web")
            .unwrap();
        assert_eq!(web.state, RunState::Running, "{file}");
        assert_eq!(web.image, "localhost/web:1.0", "{file}");
        assert_eq!(web.compose.unwrap().project, "lab", "{file}");
        assert!(
            web.ports
                .iter()
                .any(|p| p.host_port == Some(18080) || p.host_port == Some(18081)),
            "{file}"
        );
    }
}

#[test]
fn cpu_percent_from_an_earlier_reading() {
    // Two answers one second apart from Docker: `stream=false`, then `one-shot`.
    let first: ContainerStatsResponse = load("docker-20.10/stats-web.json");
    let second: ContainerStatsResponse = load("docker-20.10/stats-web-oneshot.json");
    assert!(second
        .precpu_stats
        .as_ref()
        .and_then(|cpu| cpu.system_cpu_usage)
        .is_none());
    assert_eq!(usage(&second, None).cpu_percent, None);
    let before = cpu_reading(&first).unwrap();
    let percent = usage(&second, Some(&before)).cpu_percent.unwrap();
    // (172824896 - 156175212) / (22121260000000 - 22119250000000) * 2 * 100
    assert!((percent - 1.6566).abs() < 0.001, "{percent}");
    // Podman's streamed first frame carries a reading from a few milliseconds before.
    let podman: ContainerStatsResponse = load("podman-4.3/stats-web-stream-first.json");
    assert!(usage(&podman, None).cpu_percent.is_some());
}

#[test]
fn events_docker() {
    let mapped: Vec<_> = events("docker-20.10/events.jsonl")
        .iter()
        .filter_map(to_event)
        .collect();
    let kinds: Vec<_> = mapped
        .iter()
        .map(|event| (event.name.as_deref().unwrap(), event.kind.clone()))
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("ev", ContainerEventKind::Create),
            ("ev", ContainerEventKind::Start),
            (
                "ev",
                ContainerEventKind::HealthStatus {
                    status: Some(HealthStatus::Healthy)
                }
            ),
            (
                "ev",
                ContainerEventKind::HealthStatus {
                    status: Some(HealthStatus::Unhealthy)
                }
            ),
            ("ev", ContainerEventKind::Kill),
            (
                "ev",
                ContainerEventKind::Die {
                    exit_code: Some(137)
                }
            ),
            ("oom", ContainerEventKind::Create),
            ("oom", ContainerEventKind::Start),
            ("oom", ContainerEventKind::Oom),
            (
                "oom",
                ContainerEventKind::Die {
                    exit_code: Some(137)
                }
            ),
        ]
    );
    let first = &mapped[0];
    assert_eq!(first.container_id.len(), 64);
    // `timeNano` to milliseconds: 2026-11-26.
    assert_eq!(first.at_ms / 1000, 1_795_707_508);
}

#[test]
fn events_podman() {
    let mapped: Vec<_> = events("podman-4.3/events.jsonl")
        .iter()
        .filter_map(to_event)
        .collect();
    let kinds: Vec<_> = mapped.iter().map(|event| event.kind.clone()).collect();
    assert_eq!(
        kinds,
        vec![
            ContainerEventKind::Create,
            ContainerEventKind::Start,
            // Podman's compatible API leaves the status out.
            ContainerEventKind::HealthStatus { status: None },
            ContainerEventKind::Kill,
            ContainerEventKind::Die {
                exit_code: Some(137)
            },
            ContainerEventKind::Die {
                exit_code: Some(137)
            },
        ]
    );
}

#[test]
fn engine_detection() {
    let docker: SystemVersion = load("docker-20.10/version.json");
    let podman: SystemVersion = load("podman-4.3/version.json");
    assert_eq!(engine_kind(&docker), EngineKind::Docker);
    assert_eq!(engine_kind(&podman), EngineKind::Podman);
    assert_eq!(
        engine_version(&docker, EngineKind::Docker),
        "20.10.24+dfsg1"
    );
    assert_eq!(engine_version(&podman, EngineKind::Podman), "4.3.1");
    assert_eq!(api_version(&docker).to_string(), "1.41");
    assert_eq!(api_version(&podman).to_string(), "1.41");
}

#[test]
fn socket_candidates() {
    let auto = candidate_sockets(
        &SocketSetting::Auto,
        Some("unix:///srv/d.sock"),
        Some("/run/user/1000"),
    );
    let auto: Vec<_> = auto.iter().map(|path| path.display().to_string()).collect();
    assert_eq!(
        auto,
        vec![
            "/srv/d.sock",
            "/var/run/docker.sock",
            "/run/docker.sock",
            "/run/podman/podman.sock",
            "/run/user/1000/podman/podman.sock"
        ]
    );
    // TCP DOCKER_HOST values are not ours to use (no TLS client in the agent).
    let tcp = candidate_sockets(&SocketSetting::Auto, Some("tcp://10.0.0.1:2376"), None);
    assert_eq!(tcp.len(), 3);
    let explicit = SocketSetting::Path(PathBuf::from("/nowhere/docker.sock"));
    assert_eq!(
        candidate_sockets(&explicit, Some("unix:///srv/d.sock"), None).len(),
        1
    );
    assert_eq!(
        find_socket(&explicit, &[]).unwrap(),
        PathBuf::from("/nowhere/docker.sock")
    );
    let none = find_socket(&SocketSetting::Auto, &[PathBuf::from("/nowhere/a.sock")]).unwrap_err();
    assert!(none.to_string().contains("/nowhere/a.sock"), "{none}");
}

#[test]
fn times() {
    assert_eq!(time_ms("0001-01-01T00:00:00Z"), None);
    assert_eq!(
        time_ms("2026-11-26T15:38:01.745896085Z"),
        Some(1_795_707_481_745)
    );
    assert_eq!(
        time_ms("2026-11-26T16:38:01.745+01:00"),
        Some(1_795_707_481_745)
    );
    assert_eq!(time_ms("yesterday"), None);
}

#[test]
fn series_and_published_ports() {
    let mapped = |inspect: &str, stats: Option<&str>| {
        let inspect: ContainerInspectResponse = load(inspect);
        let usage = stats.map(|file| usage(&load::<ContainerStatsResponse>(file), None));
        from_inspect(&inspect, None, usage)
    };
    let web = mapped(
        "docker-20.10/inspect-web.json",
        Some("docker-20.10/stats-web.json"),
    );
    let job = mapped("docker-20.10/inspect-job.json", None);
    let inventory = ContainerInventory {
        containers: vec![job, web],
        ..ContainerInventory::default()
    };
    let rendered: Vec<String> = samples::to_samples(&inventory, 7, true)
        .iter()
        .map(|sample| {
            let labels: Vec<String> = sample
                .labels
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            format!("{}{{{}}} {}", sample.metric, labels.join(","), sample.value)
        })
        .collect();
    expect_test::expect![[r#"
        container_running{container=job} 0
        container_restart_count{container=job} 3
        container_running{compose_project=lab,compose_service=web,container=web} 1
        container_restart_count{compose_project=lab,compose_service=web,container=web} 0
        container_healthy{compose_project=lab,compose_service=web,container=web} 1
        container_cpu_percent{compose_project=lab,compose_service=web,container=web} 0
        container_memory_bytes{compose_project=lab,compose_service=web,container=web} 622592"#]]
    .assert_eq(&rendered.join("\n"));
    let without_usage = samples::to_samples(&inventory, 7, false);
    assert!(without_usage
        .iter()
        .all(|sample| !sample.metric.contains("cpu")));
    let ports = published_ports(&inventory.containers);
    assert_eq!(ports.len(), 1);
    assert_eq!(ports[0].name.as_deref(), Some("web"));
    assert_eq!(ports[0].published.len(), 2);
}

#[test]
fn garbage_never_panics() {
    for text in [
        "{}",
        "{\"State\": {}}",
        "{\"NetworkSettings\": {\"Ports\": {\"x/tcp\": null}}}",
    ] {
        let inspect: ContainerInspectResponse = serde_json::from_str(text).unwrap();
        let container = from_inspect(&inspect, None, None);
        assert_eq!(container.state, RunState::Unknown);
    }
    let stats: ContainerStatsResponse = serde_json::from_str("{}").unwrap();
    assert_eq!(usage(&stats, None), Default::default());
    let event: EventMessage =
        serde_json::from_str("{\"Action\": \"exec_die\", \"Actor\": {}}").unwrap();
    assert_eq!(to_event(&event), None);
}
