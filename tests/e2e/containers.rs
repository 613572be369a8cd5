//! Issue 7, containers end to end with real parts on loopback: Debian's dockerd and Podman,
//! and Debian's `docker-registry` (anonymous, and with Basic auth). Images are pushed through
//! the registry API (a static busybox layer makes them runnable), pulled and run by the engine;
//! a real agent inventories the engine over its API socket and streams its events; the
//! controller checks the registries and records what each container's policy allows.
//!
//! Bearer-token registries, 429 handling and the full policy matrix are covered against real
//! registries by the controller's own tests (`controller/src/updates/live_tests.rs`); here the
//! point is the whole path: engine → agent → QUIC → store → registry check → API and pages.

use serde_json::Value;
use std::time::Duration;
use unity_testbed::engine::{ContainerEngine, Dockerd, Podman};
use unity_testbed::registry::{Auth, ImageSpec, Registry};
use unity_tests::http::HttpClient;
use unity_tests::lab::{container_agent, containers_of, wait_for_containers};
use unity_tests::*;

const OLD: &str = "2026-01-01T00:00:00Z";
const NEW: &str = "2026-06-01T00:00:00Z";

async fn put_json(client: &mut HttpClient, path: &str, body: &Value) -> (u16, String) {
    let response = client
        .request(
            "PUT",
            path,
            &[],
            Some(("application/json", serde_json::to_vec(body).unwrap())),
        )
        .await
        .unwrap();
    (response.status, response.text())
}

/// The newest check of each container, by name.
async fn checks(client: &mut HttpClient) -> serde_json::Map<String, Value> {
    let response = client.get("/api/v1/updates?status=all").await;
    assert_eq!(response.status, 200, "{}", response.text());
    response
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|record| {
            (
                record["container"].as_str().unwrap().to_owned(),
                record["outcome"].clone(),
            )
        })
        .collect()
}

fn pull_and_run(engine: &dyn ContainerEngine, name: &str, image: &str, labels: &[&str]) {
    engine.cli(&["pull", "-q", image]).unwrap();
    let mut args = vec!["run", "-d", "--name", name];
    for label in labels {
        args.extend(["--label", label]);
    }
    args.extend([image, "sleep", "3600"]);
    engine.cli(&args).unwrap();
}

/// Waits until the controller has `names` in the agent's inventory, each with its digests.
async fn wait_for_inventory(
    client: &HttpClient,
    addr: std::net::SocketAddr,
    agent_id: &str,
    names: &[&str],
) -> Value {
    let what = "the controller has the agent's container inventory";
    wait_for_containers(
        client,
        addr,
        agent_id,
        what,
        Duration::from_secs(30),
        |view| {
            let containers = containers_of(view);
            names.iter().all(|name| {
                containers.iter().any(|c| {
                    c["name"] == *name
                        && !c["repo_digests"].as_array().is_some_and(|d| d.is_empty())
                })
            })
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_inventory_events_and_update_detection_end_to_end() {
    init_logging();
    let open = Registry::start(Auth::Anonymous);
    let locked = Registry::start(Auth::Basic {
        user: "lab".into(),
        pass: "secret-pass".into(),
    });
    let doomed = Registry::start(Auth::Anonymous);
    let repo = "lab/app";
    for registry in [&open, &locked, &doomed] {
        registry
            .push_image(repo, "1.0.0", &ImageSpec::new("1.0.0", OLD).with_busybox())
            .await
            .unwrap();
    }
    // A two-platform index whose arm64 half will be rebuilt later.
    let amd64 = ImageSpec::new("multi 1.0.0", OLD).with_busybox();
    open.push_index(
        "lab/multi",
        "1.0.0",
        &[
            amd64.clone(),
            ImageSpec::new("multi arm64", OLD).platform("arm64", Some("v8")),
        ],
    )
    .await
    .unwrap();

    let docker = Dockerd::start();
    let docker_config = tempfile::tempdir().unwrap();
    let app = |registry: &Registry| format!("{}/{repo}:1.0.0", registry.host());
    // The default policy (notify, minor), and labels for the others.
    pull_and_run(&docker, "web", &app(&open), &[]);
    pull_and_run(
        &docker,
        "patchy",
        &app(&open),
        &["unity.update.level=patch"],
    );
    pull_and_run(
        &docker,
        "majory",
        &app(&open),
        &["unity.update.level=major"],
    );
    pull_and_run(
        &docker,
        "rebuilt",
        &app(&open),
        &["unity.update.level=digest"],
    );
    pull_and_run(&docker, "pinned", &app(&open), &["unity.update.pin=true"]);
    pull_and_run(&docker, "typo", &app(&open), &["unity.update.levle=major"]);
    pull_and_run(
        &docker,
        "multi",
        &format!("{}/lab/multi:1.0.0", open.host()),
        &[],
    );
    pull_and_run(&docker, "gone", &app(&doomed), &[]);
    // The Basic-auth registry needs a login to pull (into a private client config).
    let login = |docker: &Dockerd| {
        let mut command = docker.command();
        command.env("DOCKER_CONFIG", docker_config.path()).args([
            "login",
            "-u",
            "lab",
            "--password-stdin",
            &locked.host(),
        ]);
        command.stdin(std::process::Stdio::piped());
        let mut child = command.spawn().unwrap();
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(b"secret-pass")
            .unwrap();
        assert!(child.wait().unwrap().success(), "docker login");
        let mut pull = docker.command();
        let output = pull
            .env("DOCKER_CONFIG", docker_config.path())
            .args(["pull", "-q", &app(&locked)])
            .output()
            .unwrap();
        assert!(output.status.success(), "{output:?}");
    };
    login(&docker);
    docker
        .cli(&[
            "run",
            "-d",
            "--name",
            "private",
            &app(&locked),
            "sleep",
            "3600",
        ])
        .unwrap();
    docker
        .cli(&[
            "run",
            "-d",
            "--name",
            "private-pinned",
            &app(&locked),
            "sleep",
            "3600",
        ])
        .unwrap();
    drop(doomed); // its container stays, its registry is gone: "unreachable"

    let dir = tempfile::tempdir().unwrap();
    let controller = start_controller(controller_config(&dir.path().join("controller"))).await;
    let (agent_id, agent) =
        container_agent(&controller, &dir.path().join("agent"), docker.socket_path()).await;

    let password = add_user(&controller, "admin", "admin").await;
    let mut client = logged_in_client(&controller, "admin", &password).await;
    let names = [
        "web",
        "patchy",
        "majory",
        "rebuilt",
        "pinned",
        "typo",
        "multi",
        "gone",
        "private",
        "private-pinned",
    ];
    let view = wait_for_inventory(&client, controller.api_addr, &agent_id, &names).await;
    let web = view["inventory"]["containers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "web")
        .unwrap()
        .clone();
    assert_eq!(web["image"], app(&open));
    assert_eq!(web["state"], "running");
    assert_eq!(view["inventory"]["engine"]["kind"], "docker");

    // Events are streamed: stopping a container reaches the controller within seconds.
    docker.cli(&["stop", "-t", "1", "typo"]).unwrap();
    wait_for_containers(
        &client,
        controller.api_addr,
        &agent_id,
        "the die event reaches the controller",
        Duration::from_secs(15),
        |view| {
            view["recent_events"].as_array().is_some_and(|events| {
                events
                    .iter()
                    .any(|event| event["name"] == "typo" && event["kind"].get("die").is_some())
            })
        },
    )
    .await;

    // Credentials for the Basic-auth registry, stored sealed; never returned.
    let (status, body) = put_json(
        &mut client,
        &format!("/api/v1/registries/{}", locked.host()),
        &serde_json::json!({"username": "lab", "secret": "secret-pass"}),
    )
    .await;
    assert_eq!(status, 204, "{body}");
    let listed = client.get("/api/v1/registries").await.text();
    assert!(
        listed.contains("\"username\":\"lab\"") && !listed.contains("secret-pass"),
        "{listed}"
    );
    // A per-container policy override through the API (wins over labels), and a bad value.
    let (status, body) = put_json(
        &mut client,
        &format!("/api/v1/hosts/{agent_id}/containers/private-pinned/update-policy"),
        &serde_json::json!({"settings": {"pin": "true"}}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = put_json(
        &mut client,
        &format!("/api/v1/hosts/{agent_id}/update-policy"),
        &serde_json::json!({"settings": {"level": "enormous"}}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("enormous"), "{body}");

    // Nothing newer yet.
    let summary = client
        .post_json("/api/v1/updates/check", &serde_json::json!({}))
        .await;
    assert_eq!(summary.status, 200, "{}", summary.text());
    let first = checks(&mut client).await;
    for name in ["web", "patchy", "majory", "rebuilt", "multi", "private"] {
        assert_eq!(first[name], "up_to_date", "{name}: {:#?}", first[name]);
    }

    // New versions, a rebuild of 1.0.0, and an index whose only change is arm64's manifest.
    for (tag, marker) in [
        ("1.0.1", "1.0.1"),
        ("1.1.0", "1.1.0"),
        ("2.0.0", "2.0.0"),
        ("1.0.0", "1.0.0 rebuilt"),
    ] {
        open.push_image(repo, tag, &ImageSpec::new(marker, NEW).with_busybox())
            .await
            .unwrap();
    }
    locked
        .push_image(repo, "1.0.1", &ImageSpec::new("1.0.1", NEW).with_busybox())
        .await
        .unwrap();
    open.push_index(
        "lab/multi",
        "1.0.0",
        &[
            amd64,
            ImageSpec::new("multi arm64 rebuilt", NEW).platform("arm64", Some("v8")),
        ],
    )
    .await
    .unwrap();

    let summary = client
        .post_json("/api/v1/updates/check", &serde_json::json!({}))
        .await;
    assert_eq!(summary.status, 200, "{}", summary.text());
    let found = checks(&mut client).await;
    let update = |name: &str| -> (String, String) {
        let update = &found[name]["update"];
        assert!(update.is_object(), "{name}: {:#?}", found[name]);
        (
            update["kind"].as_str().unwrap().to_owned(),
            update["candidate_tag"].as_str().unwrap().to_owned(),
        )
    };
    assert_eq!(update("web"), ("minor".into(), "1.1.0".into()));
    assert_eq!(update("patchy"), ("patch".into(), "1.0.1".into()));
    assert_eq!(update("majory"), ("major".into(), "2.0.0".into()));
    assert_eq!(update("rebuilt"), ("digest".into(), "1.0.0".into()));
    // The Basic-auth registry, with the stored credentials: the default policy (minor).
    assert_eq!(update("private"), ("patch".into(), "1.0.1".into()));
    assert_eq!(
        found["multi"], "up_to_date",
        "only arm64 changed: {:#?}",
        found["multi"]
    );
    assert_eq!(
        found["pinned"]["skipped"]["reason"], "pinned",
        "{:#?}",
        found["pinned"]
    );
    assert_eq!(found["private-pinned"]["skipped"]["reason"], "pinned");
    let typo = found["typo"]["error"]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(typo.contains("unity.update.levle"), "{typo}");
    let gone = found["gone"]["error"]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(gone.contains("unreachable"), "{gone}");
    let web_update = &found["web"]["update"];
    assert_eq!(web_update["current_tag"], "1.0.0");
    assert_eq!(web_update["mode"], "notify");
    assert!(web_update["first_seen_ms"].as_i64().unwrap() > 0);
    assert!(web_update["candidate_created_ms"].as_i64().is_some());

    // Wrong credentials: a clear per-container error, the others still checked.
    let (status, _) = put_json(
        &mut client,
        &format!("/api/v1/registries/{}", locked.host()),
        &serde_json::json!({"username": "lab", "secret": "wrong"}),
    )
    .await;
    assert_eq!(status, 204);
    client
        .post_json("/api/v1/updates/check", &serde_json::json!({}))
        .await;
    let again = checks(&mut client).await;
    let private = again["private"]["error"]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(
        private.contains("refused the credentials"),
        "{:#?}",
        again["private"]
    );
    assert_eq!(again["web"]["update"]["candidate_tag"], "1.1.0");

    // The dashboard shows them.
    let page = client.get("/updates").await.text();
    assert!(
        page.contains("id=\"updates\"") && page.contains("1.1.0"),
        "{page}"
    );
    assert!(page.contains("refused the credentials"), "{page}");
    let host_page = client.get(&format!("/hosts/{agent_id}")).await.text();
    assert!(host_page.contains("id=\"containers\""), "{host_page}");
    assert!(host_page.contains("data-container=\"web\""), "{host_page}");

    agent.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn podman_inventory_and_update_detection_end_to_end() {
    init_logging();
    let open = Registry::start(Auth::Anonymous);
    open.push_image(
        "lab/app",
        "1.0.0",
        &ImageSpec::new("1.0.0", OLD).with_busybox(),
    )
    .await
    .unwrap();
    let podman = Podman::start();
    let image = format!("{}/lab/app:1.0.0", open.host());
    podman
        .cli(&["pull", "-q", "--tls-verify=false", &image])
        .unwrap();
    podman
        .cli(&["run", "-d", "--name", "web", &image, "sleep", "3600"])
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let controller = start_controller(controller_config(&dir.path().join("controller"))).await;
    let (agent_id, agent) =
        container_agent(&controller, &dir.path().join("agent"), podman.socket_path()).await;
    let password = add_user(&controller, "admin", "admin").await;
    let mut client = logged_in_client(&controller, "admin", &password).await;
    let view = wait_for_inventory(&client, controller.api_addr, &agent_id, &["web"]).await;
    assert_eq!(view["inventory"]["engine"]["kind"], "podman");

    client
        .post_json("/api/v1/updates/check", &serde_json::json!({}))
        .await;
    assert_eq!(checks(&mut client).await["web"], "up_to_date");
    open.push_image(
        "lab/app",
        "1.0.1",
        &ImageSpec::new("1.0.1", NEW).with_busybox(),
    )
    .await
    .unwrap();
    open.push_image(
        "lab/app",
        "1.0.0",
        &ImageSpec::new("1.0.0 rebuilt", NEW).with_busybox(),
    )
    .await
    .unwrap();
    client
        .post_json("/api/v1/updates/check", &serde_json::json!({}))
        .await;
    let found = checks(&mut client).await;
    // Tag updates beat digest updates: the default (minor) policy offers 1.0.1.
    assert_eq!(
        found["web"]["update"]["candidate_tag"], "1.0.1",
        "{:#?}",
        found["web"]
    );
    assert_eq!(found["web"]["update"]["kind"], "patch");
    agent.stop().await;
}
