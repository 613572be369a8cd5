//! Issue 22, exporter discovery end to end: with `discover_exporters` on and no exporter
//! configured, the agent finds a real node_exporter listening on its well-known port (9100) on
//! loopback through `/proc/net/tcp`, scrapes it, and its series reach the controller as
//! `source="exporter/node"`.
//!
//! The test needs port 9100. If something already listens there (a node_exporter the package
//! started, say), that listener is what the agent must discover; otherwise the test starts
//! Debian's `prometheus-node-exporter` on 127.0.0.1:9100 itself.

use std::net::TcpListener;
use std::time::Duration;
use unity_tests::*;

use crate::api::controller_with_admin_config;
use crate::plugins::{node_exporter, open_dir};

const NODE_EXPORTER_PORT: u16 = 9100;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_exporter_on_its_well_known_port_is_discovered_and_scraped() {
    let dir = tempfile::tempdir().unwrap();
    open_dir(dir.path());
    let (controller, password) =
        controller_with_admin_config(controller_config(&dir.path().join("controller"))).await;

    let port_free = TcpListener::bind(("127.0.0.1", NODE_EXPORTER_PORT)).is_ok();
    let _node_exporter = port_free
        .then(|| node_exporter(NODE_EXPORTER_PORT, &open_dir(&dir.path().join("textfile"))));
    eventually(
        "something listening on 127.0.0.1:9100",
        Duration::from_secs(10),
        || async {
            std::net::TcpStream::connect(("127.0.0.1", NODE_EXPORTER_PORT))
                .is_ok()
                .then_some(())
        },
    )
    .await;

    let agent_dir = dir.path().join("agent");
    let agent_id = enroll_agent(&controller, &agent_dir).await;
    let mut agent_config =
        unity_tests::agent_config(&agent_dir, controller.local_addr, Duration::from_secs(1));
    agent_config.plugins.enabled = true;
    agent_config.plugins.interval = Duration::from_millis(500);
    agent_config.plugins.textfile_dirs = Vec::new();
    agent_config.plugins.exporters = Vec::new();
    agent_config.plugins.discover_exporters = true;
    agent_config.plugins.checks_dir = dir.path().join("no-checks.d");
    let agent = unity_agent::runtime::start(agent_config)
        .await
        .expect("agent starts");

    let admin = logged_in_client(&controller, "ada", &password).await;
    let path = format!("/api/v1/hosts/{agent_id}/query?metric=node_load1&range=1h");
    let series = eventually_explained(
        "node_load1 from the discovered node_exporter",
        Duration::from_secs(30),
        || {
            let mut admin = admin.clone();
            let path = path.clone();
            async move {
                let response = admin.get(&path).await;
                let series = response.json()["series"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                if series.is_empty() {
                    Err(format!("{} {}", response.status, response.text()))
                } else {
                    Ok(series)
                }
            }
        },
    )
    .await;
    assert_eq!(series[0]["labels"]["source"], "exporter/node", "{series:?}");

    // The plugins API lists the discovered source with its status.
    let mut admin = admin.clone();
    let plugins = admin
        .get(&format!("/api/v1/hosts/{agent_id}/plugins"))
        .await
        .json();
    let text = plugins.to_string();
    assert!(text.contains("exporter/node"), "{text}");

    agent.stop().await;
}
