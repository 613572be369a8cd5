//! Container updates with Podman: its health checks and its automatic rollback.

use std::time::Duration;
use unity_testbed::engine::{ContainerEngine, Podman};
use unity_testbed::image::ImportBusybox as _;
use unity_testbed::registry::{Auth, Registry};
use unity_tests::lab::{
    container_agent, containers_of, controller_config_with_updates, wait_for_containers,
};
use unity_tests::*;

use super::{env_of, inspect, operate, push_app, INVENTORY};

/// Podman behaves differently where it matters here: health checks run only when triggered
/// (the agent triggers them through the libpod API) and its compatible API differs in details.
/// A failing HEALTHCHECK is rolled back, a healthy version is validated.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn podman_update_and_automatic_rollback() {
    init_logging();
    let registry = Registry::start(Auth::Anonymous);
    let podman = Podman::start();
    podman.import_busybox().unwrap();
    let v1 = push_app(&podman, &registry, "1.0.0", "old", true);
    let v101 = push_app(&podman, &registry, "1.0.1", "new", true);
    let broken = push_app(&podman, &registry, "1.0.2", "broken", false);
    podman
        .cli(&["run", "-d", "--name", "web", "-e", "BAR=x", &v1])
        .unwrap();
    let original = inspect(&podman, "web");

    let dir = tempfile::tempdir().unwrap();
    let controller = start_controller(controller_config_with_updates(
        &dir.path().join("controller"),
        "health_timeout = \"30s\"\nhealth_start_grace = \"4s\"\nhealth_stability = \"3s\"",
    ))
    .await;
    let addr = controller.api_addr;
    let agent_dir = dir.path().join("agent");
    let (agent, running) = container_agent(&controller, &agent_dir, podman.socket_path()).await;
    let password = add_user(&controller, "admin", "admin").await;
    let client = logged_in_client(&controller, "admin", &password).await;
    wait_for_containers(
        &client,
        addr,
        &agent,
        "the inventory arrives",
        INVENTORY,
        |view| !containers_of(view).is_empty(),
    )
    .await;

    let rolled = operate(
        &client,
        addr,
        &agent,
        "update",
        serde_json::json!({ "image": broken }),
        Duration::from_secs(120),
    )
    .await;
    assert_eq!(rolled["result"]["outcome"], "rolled_back", "{rolled:#}");
    let back = inspect(&podman, "web");
    assert_eq!(back["Id"], original["Id"]);
    assert_eq!(back["State"]["Running"], true);

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
    let new = inspect(&podman, "web");
    let env = env_of(&new);
    assert!(
        env.contains(&"FOO=new".to_owned()) && env.contains(&"BAR=x".to_owned()),
        "{env:?}"
    );
    running.stop().await;
}
