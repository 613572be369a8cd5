//! Issue 16, story 5 with container registries: a real Basic-auth `docker-registry` whose
//! password exists only in the controller's secrets store, named by the registry's
//! credentials (`secret_name`). The controller's own update check uses it; an update that the
//! agent pulls through real dockerd gets it only through the store's delivery: while the
//! secret's scope leaves the host out, the operation fails naming the secret and the refusal
//! is audited; once the host is in scope, the pull succeeds and the delivery is audited with
//! the host and the operation.

use crate::container_updates::operation_finished;
use crate::secrets_setup::{assert_no_file_contains, audit_lines, secret_request};
use serde_json::Value;
use std::time::Duration;
use unity_controller::admin::SecretAdminRequest;
use unity_testbed::engine::{ContainerEngine, Dockerd};
use unity_testbed::registry::{Auth, ImageSpec, Registry};
use unity_tests::http::HttpClient;
use unity_tests::lab::{
    container_agent, containers_of, controller_config_with_updates, same_session,
    wait_for_containers,
};
use unity_tests::*;

const TOKEN: &str = "registry-token-only-in-the-store";

/// Posts an update of container `web` and waits until the operation finished.
async fn update(client: &HttpClient, addr: std::net::SocketAddr, agent_id: &str) -> Value {
    let mut poster = same_session(client, addr);
    let response = poster
        .post_json(
            &format!("/api/v1/hosts/{agent_id}/containers/web/update"),
            &serde_json::json!({}),
        )
        .await;
    assert_eq!(response.status, 202, "{}", response.text());
    let id = response.json()["id"].as_str().unwrap().to_owned();
    let what = "the update finishes";
    operation_finished(client, addr, &id, what, Duration::from_secs(120)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_16_an_update_pulls_with_a_registry_secret_only_when_scoped_to_its_host() {
    init_logging();
    let locked = Registry::start(Auth::Basic {
        user: "lab".into(),
        pass: TOKEN.into(),
    });
    let created = [
        ("1.0.0", "2026-01-01T00:00:00Z"),
        ("1.0.1", "2026-06-01T00:00:00Z"),
    ];
    for (tag, at) in created {
        locked
            .push_image("lab/app", tag, &ImageSpec::new(tag, at).with_busybox())
            .await
            .unwrap();
    }
    let image = |tag: &str| format!("{}/lab/app:{tag}", locked.host());
    // The first image is pulled with a login in a private client configuration; the
    // update's pull has only what the controller sends.
    let docker = Dockerd::start();
    let docker_config = tempfile::tempdir().unwrap();
    let mut login = docker.command();
    login
        .env("DOCKER_CONFIG", docker_config.path())
        .args(["login", "-u", "lab", "--password-stdin", &locked.host()])
        .stdin(std::process::Stdio::piped());
    let mut child = login.spawn().unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), TOKEN.as_bytes()).unwrap();
    assert!(child.wait().unwrap().success(), "docker login");
    let pulled = docker
        .command()
        .env("DOCKER_CONFIG", docker_config.path())
        .args(["pull", "-q", &image("1.0.0")])
        .output()
        .unwrap();
    assert!(pulled.status.success(), "{pulled:?}");
    docker
        .cli(&["run", "-d", "--name", "web", &image("1.0.0")])
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let controller_dir = dir.path().join("controller");
    let controller = start_controller(controller_config_with_updates(
        &controller_dir,
        "health_timeout = \"30s\"\nhealth_start_grace = \"1s\"\nhealth_stability = \"2s\"",
    ))
    .await;
    let (agent_id, agent) =
        container_agent(&controller, &dir.path().join("agent"), docker.socket_path()).await;
    let addr = controller.api_addr;
    let password = add_user(&controller, "admin", "admin").await;
    let mut client = logged_in_client(&controller, "admin", &password).await;
    wait_for_containers(
        &client,
        addr,
        &agent_id,
        "the inventory",
        Duration::from_secs(30),
        |view| containers_of(view).iter().any(|c| c["name"] == "web"),
    )
    .await;

    // The password only in the store; the registry's credentials name it.
    secret_request(
        &controller,
        &[TOKEN.to_owned()],
        SecretAdminRequest::Set {
            name: "registry-token".into(),
            kind: Some("token".into()),
            value_hex: hex::encode(TOKEN),
        },
    )
    .await;
    let put = client
        .request(
            "PUT",
            &format!("/api/v1/registries/{}", locked.host()),
            &[],
            Some((
                "application/json",
                serde_json::to_vec(
                    &serde_json::json!({"username": "lab", "secret_name": "registry-token"}),
                )
                .unwrap(),
            )),
        )
        .await
        .unwrap();
    assert_eq!(put.status, 204, "{}", put.text());
    // The controller's own check logs in with it and finds 1.0.1.
    let check = client
        .post_json("/api/v1/updates/check", &serde_json::json!({}))
        .await;
    assert_eq!(check.status, 200, "{}", check.text());
    assert!(
        check.json()["n_updates"].as_u64() >= Some(1),
        "{}",
        check.text()
    );

    // Not in the secret's scope: no credentials for this host, the update fails saying why.
    let refused = update(&client, addr, &agent_id).await;
    let error = refused["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("registry-token") && error.contains("scope does not include host"),
        "{refused:#}"
    );
    let purpose = format!(
        "for registry credentials of {} for operation",
        locked.host()
    );
    let lines = audit_lines(&controller).await;
    assert!(
        lines.iter().any(|line| line.starts_with(&format!(
            "agent:{agent_id} secret.refused registry-token {purpose}"
        ))),
        "{lines:#?}"
    );

    // In scope: the agent pulls 1.0.1 with the delivered credentials, audited.
    secret_request(
        &controller,
        &[TOKEN.to_owned()],
        SecretAdminRequest::Scope {
            name: "registry-token".into(),
            hosts: vec![agent_id.clone()],
            groups: vec![],
        },
    )
    .await;
    let updated = update(&client, addr, &agent_id).await;
    assert_eq!(updated["result"]["outcome"], "succeeded", "{updated:#}");
    let running = docker
        .cli(&["inspect", "--format", "{{.Config.Image}}", "web"])
        .unwrap();
    assert_eq!(running.trim(), image("1.0.1"));
    let lines = audit_lines(&controller).await;
    assert!(
        lines.iter().any(|line| line.starts_with(&format!(
            "agent:{agent_id} secret.deliver registry-token version 1 {purpose}"
        ))),
        "{lines:#?}"
    );

    agent.stop().await;
    controller.context.store.flush().unwrap();
    controller.shutdown().await.unwrap();
    assert_no_file_contains(&controller_dir, TOKEN.as_bytes());
}
