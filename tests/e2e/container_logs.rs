//! Issue 19 §4, a container's log on demand end to end with real parts: Debian's dockerd, and
//! Podman's API service, each run a busybox container that prints known lines (HTML, a
//! terminal colour escape, invalid UTF-8 among them); a real agent reads them through the
//! engine's logs endpoint when an administrator opens the log page on a real controller. A
//! viewer is refused; once the agent stops, the page says the host is offline. The container
//! page links the log. (Following it in a browser: `container_logs_follow.rs`.)

use std::time::Duration;
use unity_testbed::engine::{ContainerEngine, Dockerd, Podman};
use unity_testbed::image::{ImportBusybox as _, BUSYBOX};
use unity_tests::lab::{container_agent, containers_of, wait_for_containers};
use unity_tests::*;

/// Prints the known lines once, then one line per second (for following).
const SCRIPT: &str = "echo 'hello from the log'; \
    echo '<script>alert(1)</script>'; \
    printf '\\033[31mred\\033[0m\\n'; \
    printf 'bad \\377\\376 bytes\\n'; \
    echo 'to stderr' >&2; \
    i=0; while true; do i=$((i+1)); echo tick-$i; sleep 1; done";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_19_container_logs_on_demand_through_the_agent_escaped_admin_only() {
    init_logging();
    let docker = Dockerd::start();
    logs_on_demand(&docker).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_19_podman_container_logs_on_demand_through_the_agent() {
    init_logging();
    let podman = Podman::start();
    logs_on_demand(&podman).await;
}

/// The whole path against one engine: lines, stderr, hostile text escaped, admin only,
/// audited without the text, offline said plainly.
async fn logs_on_demand(engine: &impl ContainerEngine) {
    engine.import_busybox().unwrap();
    engine
        .cli(&["run", "-d", "--name", "talker", BUSYBOX, "sh", "-c", SCRIPT])
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let controller = start_controller(controller_config(&dir.path().join("controller"))).await;
    let (agent_id, agent) =
        container_agent(&controller, &dir.path().join("agent"), engine.socket_path()).await;
    let password = add_user(&controller, "admin", "admin").await;
    let mut admin = logged_in_client(&controller, "admin", &password).await;
    wait_for_containers(
        &admin,
        controller.api_addr,
        &agent_id,
        "the inventory has the talker",
        Duration::from_secs(30),
        |view| containers_of(view).iter().any(|c| c["name"] == "talker"),
    )
    .await;

    // The container page: reported state, and the way to its log.
    let page = admin
        .get(&format!("/hosts/{agent_id}/containers/talker"))
        .await;
    assert_eq!(page.status, 200, "{}", page.text());
    let html = page.text();
    assert!(html.contains("id=\"logs-form\""), "{html}");
    assert!(html.contains("running"), "{html}");

    // The log, read through the agent now.
    let logs_path = format!("/hosts/{agent_id}/containers/talker/logs?lines=100");
    let html = eventually(
        "the log has the known lines",
        Duration::from_secs(20),
        || {
            let mut admin = admin.clone();
            let path = logs_path.clone();
            async move {
                let page = admin.get(&path).await;
                let html = page.text();
                (page.status == 200 && html.contains("tick-2")).then_some(html)
            }
        },
    )
    .await;
    assert!(html.contains("hello from the log"), "{html}");
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{html}"
    );
    assert!(!html.contains("<script>alert(1)"), "{html}");
    assert!(
        html.contains(">red</span>"),
        "colour escapes removed: {html}"
    );
    assert!(!html.contains('\u{1b}'), "{html}");
    assert!(html.contains("bad \u{fffd}\u{fffd} bytes"), "{html}");
    assert!(html.contains("data-stream=\"stderr\""), "{html}");
    assert!(html.contains("data-follow="), "{html}");
    let too_many = admin
        .get(&format!(
            "/hosts/{agent_id}/containers/talker/logs?lines=5000"
        ))
        .await;
    assert_eq!(too_many.status, 400, "{}", too_many.text());

    // Audited, and nothing of the log kept in the audit log.
    let audit = admin.get("/api/v1/audit?limit=50").await;
    let audit = audit.text();
    assert!(audit.contains("container.logs"), "{audit}");
    assert!(!audit.contains("hello from the log"), "{audit}");

    // A viewer may see the container page but not the log.
    let viewer_password = add_user(&controller, "vera", "viewer").await;
    let mut viewer = logged_in_client(&controller, "vera", &viewer_password).await;
    let refused = viewer.get(&logs_path).await;
    assert_eq!(refused.status, 403, "{}", refused.text());

    // Offline: said plainly.
    agent.stop().await;
    let html = eventually(
        "the page says the host is offline",
        Duration::from_secs(20),
        || {
            let mut admin = admin.clone();
            let path = logs_path.clone();
            async move {
                let page = admin.get(&path).await;
                (page.status == 503).then(|| page.text())
            }
        },
    )
    .await;
    assert!(html.contains("is offline"), "{html}");
}
