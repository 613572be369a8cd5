//! An agent killed in the middle of an update finishes or undoes it when it restarts.

use std::time::Duration;
use unity_testbed::engine::{ContainerEngine, Dockerd};
use unity_testbed::image::ImportBusybox as _;
use unity_testbed::image::{build, ImageBuild};
use unity_testbed::registry::{Auth, Registry};
use unity_tests::lab::{
    containers_of, controller_config_with_updates, same_session, wait_for_containers,
};
use unity_tests::*;

use super::{inspect, operation_finished, push_app, INVENTORY};

const AGENT: &str = env!("CARGO_BIN_EXE_unity-e2e-agent");

/// An agent process, killed when dropped (also when the test fails).
pub(super) struct AgentProcess(std::process::Child);

impl AgentProcess {
    pub(super) fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for AgentProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The agent as its own process (so it can be killed with SIGKILL).
pub(super) fn agent_process(config: &std::path::Path) -> AgentProcess {
    #[allow(clippy::disallowed_methods)]
    let child = std::process::Command::new(AGENT)
        .arg("--config")
        .arg(config)
        .arg("run")
        .stdin(std::process::Stdio::null())
        .spawn()
        .unwrap();
    AgentProcess(child)
}

/// The agent is SIGKILLed while the new container is being health-checked (the old one is
/// parked under another name, the new one runs as `web`). Restarted, it undoes the half-done
/// update from its journal: exactly one `web`, the old one, running; nothing parked; and the
/// controller's operation ends with the agent's stored result.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_killed_mid_update_recovers_on_restart() {
    init_logging();
    let registry = Registry::start(Auth::Anonymous);
    let docker = Dockerd::start();
    docker.import_busybox().unwrap();
    let v1 = push_app(&docker, &registry, "1.0.0", "one", true);
    // 1.0.1 becomes healthy only after 60 s: the kill lands during the health gate.
    let slow = format!("{}/lab/app:1.0.1", registry.host());
    build(
        &docker,
        &ImageBuild::new(&slow)
            .healthcheck("test -f /tmp/ok", "1s")
            .cmd(&["sh", "-c", "sleep 60; touch /tmp/ok; exec sleep 3600"]),
    )
    .unwrap();
    docker.cli(&["push", &slow]).unwrap();
    docker
        .cli(&["run", "-d", "--name", "web", "-e", "BAR=x", &v1])
        .unwrap();
    let original = inspect(&docker, "web");

    let dir = tempfile::tempdir().unwrap();
    let controller = start_controller(controller_config_with_updates(
        &dir.path().join("controller"),
        "health_timeout = \"120s\"",
    ))
    .await;
    let addr = controller.api_addr;
    let agent_dir = dir.path().join("agent");
    let agent = enroll_agent(&controller, &agent_dir).await.to_string();
    let config = dir.path().join("agent.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = \"{}\"\ncontroller = \"{}\"\ninterval = \"30s\"\n\n[storage]\nenabled = false\n\n\
[databases]\nenabled = false\n\n[containers]\nsocket = \"{}\"\ninterval = \"2s\"\n",
            agent_dir.display(),
            controller.local_addr,
            docker.socket_path().display()
        ),
    )
    .unwrap();
    let mut process = agent_process(&config);
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
    let response = same_session(&client, addr)
        .post_json(
            &format!("/api/v1/hosts/{agent}/containers/web/update"),
            &serde_json::json!({ "image": slow }),
        )
        .await;
    assert_eq!(response.status, 202, "{}", response.text());
    let id = response.json()["id"].as_str().unwrap().to_owned();
    eventually("the health gate runs", Duration::from_secs(60), || {
        let mut client = same_session(&client, addr);
        let id = id.clone();
        async move {
            let record = client.get(&format!("/api/v1/operations/{id}")).await.json();
            record["progress"]
                .as_array()?
                .iter()
                .any(|line| line["stage"] == "health_checking")
                .then_some(())
        }
    })
    .await;
    process.kill();
    let names = docker.cli(&["ps", "-a", "--format", "{{.Names}}"]).unwrap();
    assert!(
        names.contains("web-unity-old-"),
        "the old one is parked: {names}"
    );

    let mut process = agent_process(&config);
    let finished = operation_finished(
        &client,
        addr,
        &id,
        "the interrupted operation ends",
        Duration::from_secs(60),
    )
    .await;
    let names = docker.cli(&["ps", "-a", "--format", "{{.Names}}"]).unwrap();
    assert_eq!(
        names.trim(),
        "web",
        "nothing parked, nothing missing: {names}\n{finished:#}"
    );
    let web = inspect(&docker, "web");
    assert_eq!(web["Id"], original["Id"], "the old container is back");
    assert_eq!(web["State"]["Running"], true);
    assert!(
        ["rolled_back", "failed"].contains(&finished["result"]["outcome"].as_str().unwrap_or("")),
        "{finished:#}"
    );
    assert!(finished["attempts"].as_u64().unwrap() >= 2, "{finished:#}");
    process.kill();
}
