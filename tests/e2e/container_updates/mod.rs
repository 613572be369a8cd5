//! Issue 8, container updates end to end with real parts on loopback: Debian's dockerd, a
//! `docker-registry`, a controller and an enrolled agent over QUIC. Images are built locally
//! (busybox base, HEALTHCHECK, ENV) and pushed to the registry with `docker push`; the
//! controller detects the candidates, the operations go over the command channel, the agent
//! applies them with its health gate and rollback, and the history is read back from the API.
//!
//! Crash recovery at every journal state, Podman, volume archives and the planner's rules are
//! covered by the agent's own live tests (`agent/src/update/live_tests.rs`).
//!
//! Here: update, rollback, restart and the offline queue with dockerd; `auto` policies with
//! maintenance windows and a canary ([`auto`]); an agent killed mid-update ([`restart`]);
//! Podman's health checks and rollback ([`podman`]); a compose PostgreSQL whose agent is killed
//! mid-update gets its old data back when the agent restarts ([`compose_data`]).

mod auto;
mod compose_data;
mod order;
mod podman;
mod restart;

use serde_json::Value;
use std::time::Duration;
use unity_testbed::engine::{ContainerEngine, Dockerd, EngineKind};
use unity_testbed::image::ImportBusybox as _;
use unity_testbed::image::{build, ImageBuild};
use unity_testbed::registry::{Auth, Registry};
use unity_tests::http::HttpClient;
use unity_tests::lab::{
    container_agent, container_agent_config, containers_of, controller_config_with_updates,
    same_session, wait_for_containers,
};
use unity_tests::*;

/// How long an agent's first container inventory may take to reach the controller.
const INVENTORY: Duration = Duration::from_secs(30);

/// Builds a tiny web-ish image and pushes it as `registry/lab/app:tag`.
fn push_app(
    docker: &dyn ContainerEngine,
    registry: &Registry,
    tag: &str,
    foo_value: &str,
    healthy: bool,
) -> String {
    let reference = format!("{}/lab/app:{tag}", registry.host());
    let check = if healthy { "test -f /tmp/ok" } else { "false" };
    build(
        docker,
        &ImageBuild::new(&reference)
            .env("FOO", foo_value)
            .file("/etc/app-version", tag.as_bytes())
            .healthcheck(check, "1s")
            .cmd(&["sh", "-c", "touch /tmp/ok; exec sleep 3600"]),
    )
    .unwrap();
    match docker.kind() {
        EngineKind::Docker => docker.cli(&["push", &reference]).unwrap(),
        EngineKind::Podman => docker
            .cli(&["push", "--tls-verify=false", &reference])
            .unwrap(),
    };
    reference
}

fn inspect(docker: &dyn ContainerEngine, name: &str) -> Value {
    let text = docker.cli(&["inspect", name]).unwrap();
    serde_json::from_str::<Value>(&text).unwrap()[0].clone()
}

fn env_of(container: &Value) -> Vec<String> {
    container["Config"]["Env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry.as_str().unwrap().to_owned())
        .collect()
}

/// Posts an operation and waits until it finished; returns the operation record.
async fn operate(
    client: &HttpClient,
    addr: std::net::SocketAddr,
    agent_id: &str,
    verb: &str,
    body: Value,
    timeout: Duration,
) -> Value {
    let mut poster = same_session(client, addr);
    let response = poster
        .post_json(
            &format!("/api/v1/hosts/{agent_id}/containers/web/{verb}"),
            &body,
        )
        .await;
    assert_eq!(response.status, 202, "{verb}: {}", response.text());
    let id = response.json()["id"].as_str().unwrap().to_owned();
    let what = format!("the {verb} operation finishes");
    let record = operation_finished(client, addr, &id, &what, timeout).await;
    // The next operation needs an inventory taken after this one (mid-swap ones lack `web`).
    let finished_at = record["finished_at_ms"].as_i64().unwrap_or(0);
    wait_for_containers(
        client,
        addr,
        agent_id,
        "an inventory after the operation",
        Duration::from_secs(30),
        |view| {
            let fresh = view["collected_at_ms"].as_i64() > Some(finished_at);
            fresh && containers_of(view).iter().any(|c| c["name"] == "web")
        },
    )
    .await;
    record
}

/// Waits up to `timeout` until operation `id` finished; returns its record.
pub(crate) async fn operation_finished(
    client: &HttpClient,
    addr: std::net::SocketAddr,
    id: &str,
    what: &str,
    timeout: Duration,
) -> Value {
    eventually(what, timeout, || {
        let mut client = same_session(client, addr);
        let path = format!("/api/v1/operations/{id}");
        async move {
            let record = client.get(&path).await.json();
            (record["state"] == "finished").then_some(record)
        }
    })
    .await
}

async fn start_agent(
    controller: &unity_controller::service::RunningController,
    agent_dir: &std::path::Path,
    engine: &dyn ContainerEngine,
) -> unity_agent::runtime::RunningAgent {
    let config = container_agent_config(agent_dir, controller.local_addr, engine.socket_path());
    unity_agent::runtime::start(config).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_rollback_and_offline_queue_with_dockerd() {
    init_logging();
    let registry = Registry::start(Auth::Anonymous);
    let docker = Dockerd::start();
    docker.import_busybox().unwrap();
    let v1 = push_app(&docker, &registry, "1.0.0", "old", true);
    let v101 = push_app(&docker, &registry, "1.0.1", "new", true);
    let _v110_broken = push_app(&docker, &registry, "1.1.0", "broken", false);
    docker.cli(&["rmi", &v101]).unwrap(); // the update must pull it
    docker.create_network("backend").unwrap();
    docker
        .cli(&[
            "run",
            "-d",
            "--name",
            "web",
            "-e",
            "BAR=x",
            "-e",
            "DB_PASSWORD=hunter2",
            "-p",
            "127.0.0.1::80",
            "-v",
            "webdata:/data",
            "--restart",
            "unless-stopped",
            &v1,
        ])
        .unwrap();
    docker
        .cli(&["network", "connect", "--alias", "api", "backend", "web"])
        .unwrap();
    let original = inspect(&docker, "web");

    let dir = tempfile::tempdir().unwrap();
    let controller = start_controller(controller_config_with_updates(
        &dir.path().join("controller"),
        "health_timeout = \"30s\"\nhealth_start_grace = \"4s\"\nhealth_stability = \"3s\"",
    ))
    .await;
    let agent_dir = dir.path().join("agent");
    let (agent_id, running) = container_agent(&controller, &agent_dir, docker.socket_path()).await;
    let addr = controller.api_addr;
    let password = add_user(&controller, "admin", "admin").await;
    let mut client = logged_in_client(&controller, "admin", &password).await;
    let agent = agent_id;
    wait_for_containers(
        &client,
        addr,
        &agent,
        "the inventory arrives",
        INVENTORY,
        |view| {
            containers_of(view)
                .iter()
                .any(|c| c["name"] == "web" && c["health"] == "healthy")
        },
    )
    .await;

    // Detection offers 1.1.0 (minor, the default level): its HEALTHCHECK fails, so the
    // update is rolled back automatically and the old container serves again, unchanged.
    let summary = client
        .post_json("/api/v1/updates/check", &serde_json::json!({}))
        .await;
    assert_eq!(summary.status, 200, "{}", summary.text());
    let rolled = operate(
        &client,
        addr,
        &agent,
        "update",
        serde_json::json!({}),
        Duration::from_secs(120),
    )
    .await;
    assert_eq!(rolled["result"]["outcome"], "rolled_back", "{rolled:#}");
    assert!(
        rolled["to_image"]
            .as_str()
            .unwrap()
            .ends_with("lab/app:1.1.0"),
        "{rolled:#}"
    );
    let stages: Vec<&str> = rolled["progress"]
        .as_array()
        .unwrap()
        .iter()
        .map(|line| line["stage"].as_str().unwrap())
        .collect();
    for stage in ["pulling", "backing_up", "health_checking", "rolling_back"] {
        assert!(stages.contains(&stage), "{stage} streamed: {rolled:#}");
    }
    let after_rollback = inspect(&docker, "web");
    assert_eq!(
        after_rollback["Id"], original["Id"],
        "the old container itself is back"
    );
    assert_eq!(after_rollback["State"]["Running"], true);
    assert_eq!(
        after_rollback["Config"]["Image"],
        original["Config"]["Image"]
    );
    assert_eq!(env_of(&after_rollback), env_of(&original));
    assert_eq!(
        after_rollback["HostConfig"]["PortBindings"],
        original["HostConfig"]["PortBindings"]
    );
    assert_eq!(after_rollback["Mounts"], original["Mounts"]);
    assert_eq!(
        after_rollback["NetworkSettings"]["Networks"]["backend"]["Aliases"],
        original["NetworkSettings"]["Networks"]["backend"]["Aliases"]
    );
    // The failed candidate is not retried automatically.
    let again = operate(
        &client,
        addr,
        &agent,
        "update",
        serde_json::json!({}),
        Duration::from_secs(60),
    )
    .await;
    assert_eq!(again["result"]["outcome"], "refused", "{again:#}");

    // A healthy version, asked by name: validated, the old container removed; the image's
    // ENV changed (FOO) and the user's (BAR) is kept: no stale env from the old image.
    let updated = operate(
        &client,
        addr,
        &agent,
        "update",
        serde_json::json!({ "image": v101 }),
        Duration::from_secs(120),
    )
    .await;
    assert_eq!(updated["result"]["outcome"], "succeeded", "{updated:#}");
    let new = inspect(&docker, "web");
    assert_eq!(new["Config"]["Image"], v101.as_str());
    let env = env_of(&new);
    assert!(
        env.contains(&"FOO=new".to_owned()) && env.contains(&"BAR=x".to_owned()),
        "{env:?}"
    );
    assert!(!env.contains(&"FOO=old".to_owned()), "{env:?}");
    assert_eq!(new["HostConfig"]["RestartPolicy"]["Name"], "unless-stopped");
    assert_eq!(new["Mounts"][0]["Name"], "webdata");
    let aliases = new["NetworkSettings"]["Networks"]["backend"]["Aliases"].to_string();
    assert!(aliases.contains("\"api\""), "{aliases}");
    assert_eq!(
        docker
            .cli(&["ps", "-a", "--format", "{{.Names}}"])
            .unwrap()
            .lines()
            .count(),
        1,
        "no parked container left"
    );

    // A manual rollback goes back to 1.0.0 (the kept image, no registry needed).
    let back = operate(
        &client,
        addr,
        &agent,
        "rollback",
        serde_json::json!({}),
        Duration::from_secs(120),
    )
    .await;
    assert_eq!(back["result"]["outcome"], "succeeded", "{back:#}");
    assert_eq!(inspect(&docker, "web")["Config"]["Image"], v1.as_str());

    // Backups reach the controller with the results and can be diffed: the one taken before
    // the manual rollback (1.0.1 running) against the first (1.0.0 running).
    let backups = client
        .get(&format!("/api/v1/hosts/{agent}/containers/web/backups"))
        .await
        .json();
    let backups = backups.as_array().unwrap();
    assert!(backups.len() >= 3, "{backups:#?}");
    let newest = backups[0]["backup"].as_str().unwrap();
    let oldest = backups[backups.len() - 1]["backup"].as_str().unwrap();
    assert_eq!(backups[0]["image_ref"], v101.as_str());
    assert_eq!(backups[0]["inspect"]["Name"], "/web");
    // Issue 17: an excluded variable's value never reaches the controller (its name does), and
    // the operations API shows backups sealed.
    assert_eq!(
        backups[0]["excluded_env"],
        serde_json::json!(["DB_PASSWORD"])
    );
    assert!(!backups.iter().any(|b| b.to_string().contains("hunter2")));
    let operations = client
        .get(&format!("/api/v1/operations?agent_id={agent}"))
        .await
        .text();
    assert!(
        !operations.contains("hunter2") && !operations.contains("BAR=x"),
        "{operations}"
    );
    assert!(operations.contains("unity-sealed:1:"), "{operations}");
    let changes = client
        .get(&format!(
            "/api/v1/hosts/{agent}/containers/web/backups/diff?from={oldest}&to={newest}"
        ))
        .await
        .json();
    let paths: Vec<&str> = changes
        .as_array()
        .unwrap()
        .iter()
        .map(|change| change["path"].as_str().unwrap())
        .collect();
    assert!(paths.contains(&"image_ref"), "{changes:#}");
    assert!(
        paths.iter().any(|path| path.starts_with("Config.Env")),
        "{changes:#}"
    );

    // An operation for an offline agent waits and runs when it returns.
    running.stop().await;
    let response = same_session(&client, addr)
        .post_json(
            &format!("/api/v1/hosts/{agent}/containers/web/restart"),
            &serde_json::json!({}),
        )
        .await;
    assert_eq!(response.status, 202, "{}", response.text());
    let id = response.json()["id"].as_str().unwrap().to_owned();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let waiting = client.get(&format!("/api/v1/operations/{id}")).await.json();
    assert_eq!(waiting["state"], "queued", "{waiting:#}");
    let running = start_agent(&controller, &agent_dir, &docker).await;
    let restarted = operation_finished(
        &client,
        addr,
        &id,
        "the queued restart runs",
        Duration::from_secs(60),
    )
    .await;
    assert_eq!(restarted["result"]["outcome"], "succeeded", "{restarted:#}");

    // The history: who asked, from what to what, outcome, duration, logs.
    let history = client
        .get(&format!("/api/v1/operations?agent_id={agent}"))
        .await
        .json();
    let history = history.as_array().unwrap();
    assert_eq!(history.len(), 5, "{history:#?}");
    for record in history {
        assert_eq!(record["requested_by"], "admin");
        assert!(
            record["finished_at_ms"].as_i64().unwrap() >= record["started_at_ms"].as_i64().unwrap()
        );
        assert!(record["from_image"].as_str().is_some());
    }
    let page = client.get("/updates").await.text();
    assert!(
        page.contains("id=\"operations\"") && page.contains("rolled back"),
        "{page}"
    );
    let host_page = client.get(&format!("/hosts/{agent}")).await.text();
    assert!(host_page.contains("data-op=\"rollback\""), "{host_page}");
    running.stop().await;
}
