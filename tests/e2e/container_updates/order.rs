//! Issue 17 §4 end to end: an app that depends on its database (`unity.update.after=db`),
//! both `auto`, both with updates, on a real dockerd. The database is updated (and passes its
//! health gate) before the app's update starts; when the database's next update fails its
//! health gate and is rolled back, the app is not updated and says why.

use serde_json::Value;
use std::net::SocketAddr;
use std::time::Duration;
use unity_testbed::engine::{ContainerEngine, Dockerd};
use unity_testbed::image::ImportBusybox as _;
use unity_testbed::image::{build, ImageBuild};
use unity_testbed::registry::{Auth, Registry};
use unity_tests::http::HttpClient;
use unity_tests::lab::{
    container_agent, containers_of, controller_config_with_updates, same_session,
    wait_for_containers,
};
use unity_tests::*;

use super::{inspect, INVENTORY};

/// Builds `registry/lab/<name>:<tag>` (healthy or failing its health check) and pushes it.
fn push(docker: &Dockerd, registry: &Registry, name: &str, tag: &str, healthy: bool) -> String {
    let reference = format!("{}/lab/{name}:{tag}", registry.host());
    let check = if healthy { "test -f /tmp/ok" } else { "false" };
    build(
        docker,
        &ImageBuild::new(&reference)
            .file("/etc/version", tag.as_bytes())
            .healthcheck(check, "1s")
            .cmd(&["sh", "-c", "touch /tmp/ok; exec sleep 3600"]),
    )
    .unwrap();
    docker.cli(&["push", &reference]).unwrap();
    reference
}

async fn operations(client: &HttpClient, addr: SocketAddr, agent: &str) -> Vec<Value> {
    same_session(client, addr)
        .get(&format!("/api/v1/operations?agent_id={agent}"))
        .await
        .json()
        .as_array()
        .unwrap()
        .clone()
}

/// The finished update of `container` to `tag`, once there is one.
async fn finished(
    client: &HttpClient,
    addr: SocketAddr,
    agent: &str,
    container: &str,
    tag: &str,
) -> Value {
    let what = format!("the update of {container} to {tag} finishes");
    eventually(&what, Duration::from_secs(120), || {
        let client = same_session(client, addr);
        let (agent, container, tag) = (agent.to_owned(), container.to_owned(), tag.to_owned());
        async move {
            operations(&client, addr, &agent)
                .await
                .into_iter()
                .find(|op| {
                    op["container"] == container.as_str()
                        && op["state"] == "finished"
                        && op["to_image"]
                            .as_str()
                            .is_some_and(|i| i.ends_with(&format!(":{tag}")))
                })
        }
    })
    .await
}

async fn check_now(client: &HttpClient, addr: SocketAddr) {
    let response = same_session(client, addr)
        .post_json("/api/v1/updates/check", &serde_json::json!({}))
        .await;
    assert_eq!(response.status, 200, "{}", response.text());
}

/// The `waiting` reason the API gives for `container`'s update.
async fn waiting(client: &HttpClient, addr: SocketAddr, container: &str) -> Option<String> {
    let checks = same_session(client, addr)
        .get("/api/v1/updates")
        .await
        .json();
    checks
        .as_array()
        .unwrap()
        .iter()
        .find(|check| check["container"] == container)
        .and_then(|check| check["waiting"].as_str().map(str::to_owned))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_17_a_database_is_updated_before_the_app_that_depends_on_it() {
    init_logging();
    let registry = Registry::start(Auth::Anonymous);
    let docker = Dockerd::start();
    docker.import_busybox().unwrap();
    let db1 = push(&docker, &registry, "db", "1.0.0", true);
    let app1 = push(&docker, &registry, "app", "1.0.0", true);
    docker
        .cli(&[
            "run",
            "-d",
            "--name",
            "db",
            "--label",
            "unity.update.mode=auto",
            &db1,
        ])
        .unwrap();
    docker
        .cli(&[
            "run",
            "-d",
            "--name",
            "app",
            "--label",
            "unity.update.mode=auto",
            "--label",
            "unity.update.after=db",
            &app1,
        ])
        .unwrap();
    // Shares the database's network namespace; `notify`, so never updated by policy.
    docker
        .cli(&[
            "run",
            "-d",
            "--name",
            "sidecar",
            "--network",
            "container:db",
            &app1,
        ])
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let controller = start_controller(controller_config_with_updates(
        &dir.path().join("controller"),
        "health_timeout = \"20s\"\nhealth_start_grace = \"3s\"\nhealth_stability = \"3s\"",
    ))
    .await;
    let addr = controller.api_addr;
    let (a, agent) =
        container_agent(&controller, &dir.path().join("a"), docker.socket_path()).await;
    let password = add_user(&controller, "admin", "admin").await;
    let client = logged_in_client(&controller, "admin", &password).await;
    let view = wait_for_containers(
        &client,
        addr,
        &a,
        "the inventory arrives",
        INVENTORY,
        |view| containers_of(view).len() == 3,
    )
    .await;
    let db_id = inspect(&docker, "db")["Id"].as_str().unwrap().to_owned();
    let sidecar = containers_of(&view)
        .iter()
        .find(|c| c["name"] == "sidecar")
        .unwrap();
    assert_eq!(
        sidecar["network_mode"],
        format!("container:{db_id}"),
        "{sidecar:#}"
    );

    // The app's policy in effect, each value with its source; `unity.update.after` is no typo.
    let policy = same_session(&client, addr)
        .get(&format!("/api/v1/hosts/{a}/containers/app/update-policy"))
        .await
        .json();
    let mode = policy["effective"]
        .as_array()
        .unwrap()
        .iter()
        .find(|setting| setting["key"] == "mode")
        .unwrap()
        .clone();
    assert_eq!(
        mode,
        serde_json::json!({"key": "mode", "value": "auto", "source": "label"})
    );
    assert_eq!(policy["labels_known"], true, "{policy:#}");

    // Both have updates: the database goes first, the app after it passed its health gate.
    let db2 = push(&docker, &registry, "db", "1.0.1", true);
    let app2 = push(&docker, &registry, "app", "1.0.1", true);
    check_now(&client, addr).await;
    let db_op = finished(&client, addr, &a, "db", "1.0.1").await;
    assert_eq!(db_op["outcome"], "succeeded", "{db_op:#}");
    assert_eq!(db_op["requested_by"], "policy");
    check_now(&client, addr).await; // plans again at once rather than within the minute
    let app_op = finished(&client, addr, &a, "app", "1.0.1").await;
    assert_eq!(app_op["outcome"], "succeeded", "{app_op:#}");
    assert!(
        app_op["started_at_ms"].as_i64().unwrap() >= db_op["finished_at_ms"].as_i64().unwrap(),
        "the app started after the database's update finished:\n{db_op:#}\n{app_op:#}"
    );
    assert!(
        app_op["requested_at_ms"].as_i64().unwrap() >= db_op["finished_at_ms"].as_i64().unwrap(),
        "the app was not even queued while the database updated"
    );
    assert_eq!(inspect(&docker, "db")["Config"]["Image"], db2.as_str());
    assert_eq!(inspect(&docker, "app")["Config"]["Image"], app2.as_str());

    // The database's next update fails its health gate: the app is not updated, and says why.
    push(&docker, &registry, "db", "1.0.2", false);
    push(&docker, &registry, "app", "1.0.2", true);
    check_now(&client, addr).await;
    let failed = finished(&client, addr, &a, "db", "1.0.2").await;
    assert_eq!(failed["outcome"], "rolled_back", "{failed:#}");
    // The reason appears once the controller has seen the failure; it never dispatches the app.
    let reason = eventually_explained("the app says why it waits", Duration::from_secs(60), || {
        let client = same_session(&client, addr);
        let a = a.clone();
        async move {
            check_now(&client, addr).await;
            match waiting(&client, addr, "app").await {
                Some(reason) if reason.contains("failed") => Ok(reason),
                other => {
                    let checks = same_session(&client, addr)
                        .get("/api/v1/updates")
                        .await
                        .text();
                    let ops: Vec<Value> = operations(&client, addr, &a).await;
                    let ops: Vec<String> = ops
                        .iter()
                        .map(|op| {
                            format!(
                                "{} {} {} {}",
                                op["container"], op["to_image"], op["state"], op["outcome"]
                            )
                        })
                        .collect();
                    Err(format!(
                        "app waiting: {other:?}; checks: {checks}; operations: {ops:?}"
                    ))
                }
            }
        }
    })
    .await;
    assert!(
        reason.contains("db") && reason.contains("depends on"),
        "{reason}"
    );
    tokio::time::sleep(Duration::from_secs(5)).await;
    check_now(&client, addr).await;
    let app_updates: Vec<Value> = operations(&client, addr, &a)
        .await
        .into_iter()
        .filter(|op| {
            op["container"] == "app"
                && op["to_image"]
                    .as_str()
                    .is_some_and(|i| i.ends_with(":1.0.2"))
        })
        .collect();
    assert!(
        app_updates.is_empty(),
        "the app was not updated: {app_updates:#?}"
    );
    assert_eq!(inspect(&docker, "app")["Config"]["Image"], app2.as_str());
    let page = same_session(&client, addr).get("/updates").await.text();
    assert!(page.contains("which it depends on, failed"), "{page}");
    agent.stop().await;
}
