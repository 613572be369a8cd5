//! `auto` update policies across two hosts: maintenance windows and a canary host first.

use serde_json::Value;
use std::time::Duration;
use unity_testbed::engine::{ContainerEngine, Dockerd};
use unity_testbed::image::ImportBusybox as _;
use unity_testbed::registry::{Auth, Registry};
use unity_tests::http::HttpClient;
use unity_tests::lab::{
    container_agent, containers_of, controller_config_with_updates, same_session,
    wait_for_containers,
};
use unity_tests::*;

use super::{inspect, push_app, INVENTORY};

/// The newest operations of one host.
async fn operations_of(client: &HttpClient, addr: std::net::SocketAddr, agent: &str) -> Vec<Value> {
    let mut client = same_session(client, addr);
    client
        .get(&format!("/api/v1/operations?agent_id={agent}"))
        .await
        .json()
        .as_array()
        .unwrap()
        .clone()
}

/// Waits until one of `agent`'s operations finished (an automatic update); returns it.
async fn finished_operation(client: &HttpClient, addr: std::net::SocketAddr, agent: &str) -> Value {
    let what = format!("{agent}'s automatic update finishes");
    eventually(&what, Duration::from_secs(90), || {
        let client = same_session(client, addr);
        let agent = agent.to_owned();
        async move {
            let operations = operations_of(&client, addr, &agent).await;
            operations
                .iter()
                .find(|op| op["state"] == "finished")
                .cloned()
        }
    })
    .await
}

async fn check_now(client: &HttpClient, addr: std::net::SocketAddr) {
    let response = same_session(client, addr)
        .post_json("/api/v1/updates/check", &serde_json::json!({}))
        .await;
    assert_eq!(response.status, 200, "{}", response.text());
}

/// `auto` policies: two hosts run the same image; one host's maintenance window is closed.
/// The open host goes first (the canary), the closed one waits; once its window opens (and the
/// canary passed), it follows. `notify` containers are never applied by policy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_updates_follow_windows_and_the_canary() {
    init_logging();
    let registry = Registry::start(Auth::Anonymous);
    let (docker_a, docker_b) = (Dockerd::start(), Dockerd::start());
    docker_a.import_busybox().unwrap();
    let v1 = push_app(&docker_a, &registry, "1.0.0", "one", true);
    for docker in [&docker_a, &docker_b] {
        docker
            .cli(&[
                "run",
                "-d",
                "--name",
                "web",
                "--label",
                "unity.update.mode=auto",
                &v1,
            ])
            .unwrap();
        docker
            .cli(&["run", "-d", "--name", "side", &v1]) // notify (the default): never by policy
            .unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let controller = start_controller(controller_config_with_updates(
        &dir.path().join("controller"),
        "health_timeout = \"30s\"\nhealth_start_grace = \"4s\"\nhealth_stability = \"3s\"",
    ))
    .await;
    let addr = controller.api_addr;
    let (a, agent_a) =
        container_agent(&controller, &dir.path().join("a"), docker_a.socket_path()).await;
    let (b, agent_b) =
        container_agent(&controller, &dir.path().join("b"), docker_b.socket_path()).await;
    let password = add_user(&controller, "admin", "admin").await;
    let client = logged_in_client(&controller, "admin", &password).await;
    // Host a: a window that is (almost) never open — 29 February, one minute.
    let closed = serde_json::json!({"windows": ["cron: 0 3 29 2 * duration 1m tz UTC"]});
    let response = same_session(&client, addr)
        .request(
            "PUT",
            &format!("/api/v1/hosts/{a}/maintenance-windows"),
            &[],
            Some(("application/json", serde_json::to_vec(&closed).unwrap())),
        )
        .await
        .unwrap();
    assert_eq!(response.status, 204, "{}", response.text());
    let view = same_session(&client, addr)
        .get(&format!("/api/v1/hosts/{a}/maintenance-windows"))
        .await
        .json();
    assert_eq!(view["state"], "closed", "{view:#}");
    assert_eq!(view["source"], "host");
    for agent in [&a, &b] {
        wait_for_containers(
            &client,
            addr,
            agent,
            "the inventory arrives",
            INVENTORY,
            |view| containers_of(view).len() == 2,
        )
        .await;
    }
    let v101 = push_app(&docker_a, &registry, "1.0.1", "two", true);
    check_now(&client, addr).await;
    // b is the canary (a's window is closed); a waits; `side` is never applied by policy.
    let on_b = finished_operation(&client, addr, &b).await;
    assert_eq!(on_b["requested_by"], "policy", "{on_b:#}");
    assert_eq!(on_b["container"], "web");
    assert_eq!(on_b["result"]["outcome"], "succeeded", "{on_b:#}");
    assert_eq!(inspect(&docker_b, "web")["Config"]["Image"], v101.as_str());
    assert_eq!(inspect(&docker_b, "side")["Config"]["Image"], v1.as_str());
    assert!(
        operations_of(&client, addr, &a).await.is_empty(),
        "a waits for its window"
    );
    let page = same_session(&client, addr).get("/updates").await.text();
    assert!(page.contains("data-window=\"closed\""), "{page}");

    // a's window opens: it follows the canary.
    let open = serde_json::json!({"windows": ["daily 00:00-24:00 UTC"]});
    let response = same_session(&client, addr)
        .request(
            "PUT",
            &format!("/api/v1/hosts/{a}/maintenance-windows"),
            &[],
            Some(("application/json", serde_json::to_vec(&open).unwrap())),
        )
        .await
        .unwrap();
    assert_eq!(response.status, 204, "{}", response.text());
    check_now(&client, addr).await;
    let on_a = finished_operation(&client, addr, &a).await;
    assert_eq!(on_a["result"]["outcome"], "succeeded", "{on_a:#}");
    assert_eq!(inspect(&docker_a, "web")["Config"]["Image"], v101.as_str());
    assert_eq!(inspect(&docker_a, "side")["Config"]["Image"], v1.as_str());
    agent_a.stop().await;
    agent_b.stop().await;
}
