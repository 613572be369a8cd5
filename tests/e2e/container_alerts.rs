//! Issue 18 §1, container alerts end to end with real parts: real containers under Debian's
//! dockerd (busybox imported, no registry), a real agent inventorying the engine and streaming
//! its events over QUIC, and the controller's alert loop raising each condition, read through
//! the API: a health check that starts failing, a restart loop, a crash the restart policy gave
//! up on, an OOM kill under a memory limit and a container removed outside Unity; and the
//! quiet twins (a stopped container, an opted-out one) that must raise nothing.

use serde_json::Value;
use std::time::Duration;
use unity_testbed::engine::{ContainerEngine, Dockerd};
use unity_testbed::image::{ImportBusybox as _, BUSYBOX};
use unity_tests::http::HttpClient;
use unity_tests::lab::{container_agent, containers_of, wait_for_containers};
use unity_tests::*;

async fn open_alerts(client: &mut HttpClient) -> Vec<Value> {
    let response = client.get("/api/v1/alerts?state=open").await;
    assert_eq!(response.status, 200, "{}", response.text());
    response.json().as_array().cloned().unwrap_or_default()
}

/// Waits until an alert with `key` is open; returns it.
async fn wait_for_alert(client: &HttpClient, addr: std::net::SocketAddr, key: &str) -> Value {
    eventually(&format!("alert {key}"), Duration::from_secs(90), || {
        let mut client = unity_tests::lab::same_session(client, addr);
        let key = key.to_owned();
        async move {
            open_alerts(&mut client)
                .await
                .into_iter()
                .find(|alert| alert["key"] == key.as_str())
        }
    })
    .await
}

fn run(docker: &Dockerd, args: &[&str]) {
    let mut all = vec!["run", "-d"];
    all.extend_from_slice(args);
    docker.cli(&all).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_18_real_containers_raise_unhealthy_loop_exit_oom_and_gone_alerts() {
    init_logging();
    let docker = tokio::task::spawn_blocking(|| {
        let docker = Dockerd::start();
        docker.import_busybox().unwrap();
        docker
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut config = controller_config(&dir.path().join("controller"));
    config.alerts.interval = Duration::from_millis(300);
    config.alerts.resolve_after = Duration::from_secs(1);
    // The test removes a container a few seconds after creating it.
    config.alerts.containers.gone_min_age_ms = 0;
    let controller = start_controller(config).await;
    let addr = controller.api_addr;
    let (agent_id, _agent) =
        container_agent(&controller, &dir.path().join("agent"), docker.socket_path()).await;
    let password = add_user(&controller, "watcher", "viewer").await;
    let mut client = logged_in_client(&controller, "watcher", &password).await;

    #[rustfmt::skip]
    let health = ["--health-cmd", "test ! -f /tmp/bad", "--health-interval", "1s", "--health-retries", "2"];
    let mut sick = vec!["--name", "sick"];
    sick.extend(health);
    sick.extend([BUSYBOX, "sleep", "3600"]);
    run(&docker, &sick);
    let mut quiet = vec!["--name", "quiet", "--label", "unity.alerts=false"];
    quiet.extend(health);
    quiet.extend([BUSYBOX, "sleep", "3600"]);
    run(&docker, &quiet);
    run(
        &docker,
        &[
            "--name",
            "stopped",
            "--restart",
            "unless-stopped",
            BUSYBOX,
            "sleep",
            "3600",
        ],
    );
    run(&docker, &["--name", "doomed", BUSYBOX, "sleep", "3600"]);
    wait_for_containers(
        &client,
        addr,
        &agent_id,
        "sick and quiet healthy, doomed running",
        Duration::from_secs(60),
        |view| {
            let containers = containers_of(view);
            let healthy = |name: &str| {
                containers
                    .iter()
                    .any(|c| c["name"] == name && c["health"] == "healthy")
            };
            healthy("sick")
                && healthy("quiet")
                && containers
                    .iter()
                    .any(|c| c["name"] == "doomed" && c["state"] == "running")
        },
    )
    .await;
    // Only the containers' alerts: the host's own (a test machine's full disk) are not this
    // test's business.
    let open: Vec<Value> = open_alerts(&mut client)
        .await
        .into_iter()
        .filter(|alert| {
            alert["key"]
                .as_str()
                .is_some_and(|key| key.starts_with("container/"))
        })
        .collect();
    assert!(
        open.is_empty(),
        "nothing is wrong with the containers yet: {open:?}"
    );

    // The health check starts failing (in both; `quiet` opted out).
    docker.cli(&["exec", "sick", "touch", "/tmp/bad"]).unwrap();
    docker.cli(&["exec", "quiet", "touch", "/tmp/bad"]).unwrap();
    // A restart loop, a crash on-failure gave up on, a container removed, one stopped by hand.
    run(
        &docker,
        &[
            "--name",
            "looper",
            "--restart",
            "always",
            BUSYBOX,
            "sh",
            "-c",
            "sleep 1; exit 3",
        ],
    );
    run(
        &docker,
        &[
            "--name",
            "crashy",
            "--restart",
            "on-failure:1",
            BUSYBOX,
            "sh",
            "-c",
            "exit 5",
        ],
    );
    docker.cli(&["rm", "-f", "doomed"]).unwrap();
    docker.cli(&["stop", "-t", "1", "stopped"]).unwrap();

    let unhealthy = wait_for_alert(
        &client,
        addr,
        &format!("container/{agent_id}/sick/unhealthy"),
    )
    .await;
    assert_eq!(unhealthy["severity"], "warning");
    let looping = wait_for_alert(
        &client,
        addr,
        &format!("container/{agent_id}/looper/restart_loop"),
    )
    .await;
    assert_eq!(looping["severity"], "critical");
    let exited = wait_for_alert(
        &client,
        addr,
        &format!("container/{agent_id}/crashy/exited"),
    )
    .await;
    assert!(
        exited["summary"].as_str().unwrap().contains("code 5"),
        "{exited}"
    );
    let gone = wait_for_alert(&client, addr, &format!("container/{agent_id}/doomed/gone")).await;
    assert_eq!(gone["agent_id"], agent_id.as_str());

    // Out of memory under an 8 MiB limit. The kernel's OOM notification can come late under
    // load, so a missed one is tried again with a new container.
    let mut oom = None;
    for attempt in 0..3 {
        let name = format!("hog{attempt}");
        #[rustfmt::skip]
        run(&docker, &[
            "--name", &name, "-m", "8m", "--memory-swap", "8m",
            BUSYBOX, "sh", "-c", "dd if=/dev/zero of=/dev/null bs=64M count=1",
        ]);
        let key = format!("container/{agent_id}/{name}/oom");
        let found =
            tokio::time::timeout(Duration::from_secs(20), wait_for_alert(&client, addr, &key))
                .await;
        if let Ok(alert) = found {
            oom = Some(alert);
            break;
        }
    }
    let oom = oom.expect("an OOM alert in three attempts");
    assert!(
        oom["summary"].as_str().unwrap().contains("OOM killer"),
        "{oom}"
    );

    // The quiet twins raised nothing.
    let open = open_alerts(&mut client).await;
    let keys: Vec<&str> = open.iter().filter_map(|a| a["key"].as_str()).collect();
    for silent in [
        "quiet",
        "stopped",
        "sick/restart_loop",
        "crashy/restart_loop",
    ] {
        assert!(
            !keys.iter().any(|key| key.contains(&format!("/{silent}"))),
            "{silent}: {keys:#?}"
        );
    }

    // Healthy again: the unhealthy alert resolves.
    docker.cli(&["exec", "sick", "rm", "/tmp/bad"]).unwrap();
    let key = format!("container/{agent_id}/sick/unhealthy");
    eventually(
        "the unhealthy alert resolves",
        Duration::from_secs(60),
        || {
            let mut client = unity_tests::lab::same_session(&client, addr);
            let key = key.clone();
            async move {
                let response = client.get("/api/v1/alerts?state=resolved").await;
                response
                    .json()
                    .as_array()
                    .is_some_and(|alerts| alerts.iter().any(|a| a["key"] == key.as_str()))
                    .then_some(())
            }
        },
    )
    .await;
}
