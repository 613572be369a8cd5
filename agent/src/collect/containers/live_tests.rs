//! Real engines, started by these tests through `unity-testbed` (dockerd from Debian's
//! `docker.io`, `podman system service` from `podman`), each test with its own: a running
//! container with published ports, a volume, a bind mount, two networks, compose labels and a
//! health check that becomes healthy; an exited container that was restarted once by its
//! policy; a missing socket. Events: `live_event_tests.rs`.
//!
//! A missing program fails the test with the package to install.

#![allow(clippy::indexing_slicing)]

use std::path::PathBuf;
use std::time::{Duration, Instant};
use unity_testbed::image::ImportBusybox as _;

use unity_shared::model::container::{
    Container, ContainerInventory, EngineKind, HealthStatus, RunState,
};
use unity_testbed::engine::{ContainerEngine, Dockerd, Podman};
use unity_testbed::image::{self, ImageBuild};

use super::{collect, published_ports, ContainersConfig, SocketSetting, StatsMemory};

pub(super) fn config_for(engine: &dyn ContainerEngine) -> ContainersConfig {
    ContainersConfig {
        socket: SocketSetting::Path(engine.socket_path().to_owned()),
        ..ContainersConfig::default()
    }
}

/// Runs blocking testbed calls without starving the runtime.
pub(super) fn blocking<T>(f: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(f)
}

#[track_caller]
fn wait_for(engine: &dyn ContainerEngine, container: &str, format: &str, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut last = String::new();
    while Instant::now() < deadline {
        last = engine
            .cli(&["inspect", "-f", format, container])
            .unwrap_or_else(|error| error.to_string());
        if last == want {
            return;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("{container}: {format} is {last:?}, not {want:?}");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Sets up the scenario; returns the published host port and the bind-mount source.
fn scenario(engine: &dyn ContainerEngine) -> (u16, PathBuf) {
    engine.import_busybox().unwrap();
    image::build(
        engine,
        &ImageBuild::new("localhost/web:1.0")
            .file("/www/index.html", b"hello\n")
            .label("org.opencontainers.image.title", "web")
            .healthcheck("test -f /tmp/ok", "1s")
            .cmd(&["httpd", "-f", "-p", "8080", "-h", "/www"]),
    )
    .unwrap();
    engine.create_network("front").unwrap();
    engine.create_network("back").unwrap();
    engine.cli(&["volume", "create", "data"]).unwrap();
    let bind = engine.dir().join("bind");
    std::fs::create_dir_all(&bind).unwrap();
    let port = free_port();
    let publish = format!("127.0.0.1:{port}:8080");
    let mount = format!("{}:/srv:ro", bind.display());
    #[rustfmt::skip]
    engine.cli(&[
        "create", "--name", "web", "--network", "front", "-p", &publish,
        "-v", "data:/data", "-v", &mount, "--restart", "unless-stopped",
        "--label", "com.docker.compose.project=lab",
        "--label", "com.docker.compose.service=web",
        "--label", "com.docker.compose.project.working_dir=/srv/lab",
        "--label", "tier=frontend",
        "localhost/web:1.0",
    ]).unwrap();
    engine
        .cli(&["network", "connect", "--alias", "web-back", "back", "web"])
        .unwrap();
    engine.cli(&["start", "web"]).unwrap();
    engine.cli(&["exec", "web", "touch", "/tmp/ok"]).unwrap();
    if engine.kind() == unity_testbed::engine::EngineKind::Podman {
        engine.cli(&["healthcheck", "run", "web"]).unwrap();
    }
    wait_for(engine, "web", "{{.State.Health.Status}}", "healthy");
    #[rustfmt::skip]
    engine.cli(&[
        "run", "-d", "--name", "job", "--restart", "on-failure:1",
        "localhost/busybox", "sh", "-c", "exit 3",
    ]).unwrap();
    wait_for(
        engine,
        "job",
        "{{.RestartCount}} {{.State.Status}}",
        "1 exited",
    );
    (port, bind)
}

#[track_caller]
pub(super) fn find<'a>(inventory: &'a ContainerInventory, name: &str) -> &'a Container {
    inventory
        .containers
        .iter()
        .find(|container| container.name == name)
        .unwrap_or_else(|| panic!("no {name}: {inventory:#?}"))
}

fn oci_architecture() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

#[track_caller]
fn assert_inventory(
    engine: &dyn ContainerEngine,
    inventory: &ContainerInventory,
    port: u16,
    bind: &std::path::Path,
) {
    let info = inventory.engine.as_ref().expect("engine answered");
    let kind = match engine.kind() {
        unity_testbed::engine::EngineKind::Docker => EngineKind::Docker,
        unity_testbed::engine::EngineKind::Podman => EngineKind::Podman,
    };
    assert_eq!(info.kind, kind);
    assert!(!info.version.is_empty());
    assert_eq!(info.socket, engine.socket_path().display().to_string());
    assert_eq!(inventory.error, None, "{inventory:#?}");
    assert_eq!(inventory.containers.len(), 2, "{inventory:#?}");

    let web = find(inventory, "web");
    assert_eq!(
        web.id,
        engine.cli(&["inspect", "-f", "{{.Id}}", "web"]).unwrap()
    );
    assert_eq!(web.image, "localhost/web:1.0");
    // The CLI prints `sha256:HEX` (Docker) or `HEX` (Podman); the API always the former.
    let image_id = engine.cli(&["inspect", "-f", "{{.Image}}", "web"]).unwrap();
    assert_eq!(
        web.image_id,
        format!("sha256:{}", image_id.trim_start_matches("sha256:"))
    );
    // Built here, never pushed: Docker has no repo digest; Podman has one for its local
    // manifest (`localhost/web@sha256:...`).
    match engine.kind() {
        unity_testbed::engine::EngineKind::Docker => assert!(web.repo_digests.is_empty()),
        unity_testbed::engine::EngineKind::Podman => assert!(
            web.repo_digests.len() == 1 && web.repo_digests[0].starts_with("localhost/web@sha256:"),
            "{web:#?}"
        ),
    }
    let platform = web.platform.as_ref().expect("platform");
    assert_eq!(
        (platform.os.as_str(), platform.architecture.as_str()),
        ("linux", oci_architecture())
    );
    let now = crate::clock::now_ms();
    let recent = |ms: Option<i64>| ms.is_some_and(|ms| ms > now - 600_000 && ms <= now + 5_000);
    assert!(recent(web.image_created_ms), "{web:#?}");
    assert!(recent(web.created_ms) && recent(web.started_ms), "{web:#?}");
    assert!(web.started_ms >= web.created_ms);
    assert_eq!(web.state, RunState::Running);
    assert_eq!(web.health, Some(HealthStatus::Healthy));
    assert_eq!(web.exit_code, None);
    assert_eq!(web.restart_policy.as_deref(), Some("unless-stopped"));
    assert_eq!(web.restart_count, 0);
    let published = web
        .ports
        .iter()
        .find(|mapping| mapping.container_port == 8080)
        .expect("8080 published");
    assert_eq!(published.protocol, "tcp");
    assert_eq!(published.host_ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(published.host_port, Some(port));
    let volume = web
        .mounts
        .iter()
        .find(|mount| mount.kind == "volume")
        .expect("volume");
    assert_eq!(
        (
            volume.source.as_str(),
            volume.destination.as_str(),
            volume.read_only
        ),
        ("data", "/data", false)
    );
    let bound = web
        .mounts
        .iter()
        .find(|mount| mount.kind == "bind")
        .expect("bind mount");
    assert_eq!(bound.source, bind.display().to_string());
    assert_eq!(
        (bound.destination.as_str(), bound.read_only),
        ("/srv", true)
    );
    let networks: Vec<&str> = web
        .networks
        .iter()
        .map(|network| network.name.as_str())
        .collect();
    assert_eq!(networks, vec!["back", "front"]);
    assert!(
        web.networks
            .iter()
            .all(|network| network.ip_address.is_some()),
        "{web:#?}"
    );
    assert!(
        web.networks[0].aliases.contains(&"web-back".to_owned()),
        "{web:#?}"
    );
    assert_eq!(web.label("tier"), Some("frontend"));
    assert_eq!(
        web.label("org.opencontainers.image.title"),
        Some("web"),
        "image labels too"
    );
    let compose = web.compose.as_ref().expect("compose labels");
    assert_eq!(
        (compose.project.as_str(), compose.service.as_str()),
        ("lab", "web")
    );
    assert_eq!(compose.working_dir.as_deref(), Some("/srv/lab"));
    assert_eq!(compose.config_files, None);
    let usage = web.usage.as_ref().expect("stats of a running container");
    assert!(
        usage.memory_bytes.is_some_and(|bytes| bytes > 0),
        "{usage:#?}"
    );
    assert!(
        usage.cpu_percent.is_some_and(|cpu| cpu >= 0.0),
        "{usage:#?}"
    );
    assert!(usage.pids.is_some_and(|pids| pids >= 1), "{usage:#?}");

    let job = find(inventory, "job");
    // As written (Docker), or normalized with the tag (Podman).
    assert!(
        ["localhost/busybox", "localhost/busybox:latest"].contains(&job.image.as_str()),
        "{job:#?}"
    );
    assert_eq!(job.state, RunState::Exited);
    assert_eq!(job.exit_code, Some(3));
    assert_eq!(job.health, None);
    assert_eq!(job.restart_policy.as_deref(), Some("on-failure"));
    assert_eq!(job.restart_count, 1);
    assert_eq!(job.usage, None);
    assert!(job.compose.is_none());

    let ports = published_ports(&inventory.containers);
    assert_eq!(ports.len(), 1);
    assert!(ports[0]
        .published
        .iter()
        .any(|published| published.host_port == port));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_inventory_has_every_field() {
    let engine = blocking(Dockerd::start);
    let (port, bind) = blocking(|| scenario(&engine));
    let inventory = collect(&config_for(&engine), &mut StatsMemory::default()).await;
    blocking(|| assert_inventory(&engine, &inventory, port, &bind));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn podman_inventory_has_every_field() {
    let engine = blocking(Podman::start);
    let (port, bind) = blocking(|| scenario(&engine));
    let inventory = collect(&config_for(&engine), &mut StatsMemory::default()).await;
    blocking(|| assert_inventory(&engine, &inventory, port, &bind));
}

#[tokio::test]
async fn missing_socket_is_a_clear_error() {
    let config = ContainersConfig {
        socket: SocketSetting::Path(PathBuf::from("/nonexistent/unity/docker.sock")),
        ..ContainersConfig::default()
    };
    let inventory = collect(&config, &mut StatsMemory::default()).await;
    assert_eq!(inventory.engine, None);
    assert!(inventory.containers.is_empty());
    assert_eq!(
        inventory.error.as_deref(),
        Some("container engine socket /nonexistent/unity/docker.sock does not exist")
    );
    // A file that is not a socket: nothing listens there.
    let file = tempfile::NamedTempFile::new().unwrap();
    let config = ContainersConfig {
        socket: SocketSetting::Path(file.path().to_owned()),
        ..ContainersConfig::default()
    };
    let inventory = collect(&config, &mut StatsMemory::default()).await;
    let error = inventory.error.unwrap();
    assert!(
        error.starts_with(&format!("cannot connect to {}", file.path().display())),
        "{error}"
    );
}
