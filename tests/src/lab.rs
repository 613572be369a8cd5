//! Helpers for the container tests: a controller with an `[updates]` section, an agent that
//! inventories one engine socket (enrolled and started), and another connection of a logged-in
//! session (an [`HttpClient`] serves one task at a time, polling loops need their own).

use crate::http::HttpClient;
use serde_json::Value;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;
use unity_agent::collect::containers::SocketSetting;
use unity_agent::runtime::RunningAgent;
use unity_controller::config::{Config, RawConfig};
use unity_controller::service::RunningController;

/// Controller configuration for tests with `updates_toml` as its `[updates]` section.
pub fn controller_config_with_updates(data_dir: &Path, updates_toml: &str) -> Config {
    let updates = toml::from_str(updates_toml).expect("a valid [updates] section");
    Config::from_raw(RawConfig {
        data_dir: Some(data_dir.to_owned()),
        listen: Some("127.0.0.1:0".into()),
        advertise: Some("127.0.0.1:0".into()),
        api_listen: Some("127.0.0.1:0".into()),
        updates: Some(updates),
        ..RawConfig::default()
    })
    .expect("a valid test configuration")
}

/// Agent configuration that inventories the engine on `socket` every 2 s (and nothing else).
pub fn container_agent_config(
    agent_dir: &Path,
    controller: SocketAddr,
    socket: &Path,
) -> unity_agent::config::Config {
    let mut config = crate::agent_config(agent_dir, controller, Duration::from_secs(30));
    config.containers.enabled = true;
    config.containers.socket = SocketSetting::Path(socket.to_owned());
    config.containers.interval = Duration::from_secs(2);
    config
}

/// Enrolls an agent in `agent_dir` and starts it on the engine `socket`; returns its id.
pub async fn container_agent(
    controller: &RunningController,
    agent_dir: &Path,
    socket: &Path,
) -> (String, RunningAgent) {
    let agent_id = crate::enroll_agent(controller, agent_dir).await;
    let agent = unity_agent::runtime::start(container_agent_config(
        agent_dir,
        controller.local_addr,
        socket,
    ))
    .await
    .expect("agent starts");
    (agent_id.to_string(), agent)
}

/// Another connection with the same session cookie and CSRF token.
pub fn same_session(client: &HttpClient, addr: SocketAddr) -> HttpClient {
    let mut copy = HttpClient::new(addr);
    copy.cookies = client.cookies.clone();
    copy.csrf = client.csrf.clone();
    copy
}

/// The containers of a host's view (`GET /api/v1/hosts/{agent_id}/containers`); none while
/// there is no inventory.
pub fn containers_of(view: &Value) -> &[Value] {
    view["inventory"]["containers"]
        .as_array()
        .map_or(&[], Vec::as_slice)
}

/// Waits up to `timeout` until the controller's view of `agent_id`'s containers satisfies
/// `ready`; returns that view.
pub async fn wait_for_containers(
    client: &HttpClient,
    addr: SocketAddr,
    agent_id: &str,
    what: &str,
    timeout: Duration,
    ready: impl Fn(&Value) -> bool,
) -> Value {
    let path = format!("/api/v1/hosts/{agent_id}/containers");
    crate::eventually(what, timeout, || {
        let mut client = same_session(client, addr);
        let (path, ready) = (path.clone(), &ready);
        async move {
            let view = client.get(&path).await.json();
            ready(&view).then_some(view)
        }
    })
    .await
}
