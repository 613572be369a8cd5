//! Helpers for the container tests: a controller with an `[updates]` section, an agent that
//! inventories one engine socket (enrolled and started), and another connection of a logged-in
//! session (an [`HttpClient`] serves one task at a time, polling loops need their own).

use crate::http::HttpClient;
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
    let token = crate::create_token(controller, Duration::from_secs(60)).await;
    let agent_id = crate::enroll(
        agent_dir,
        controller.local_addr,
        &token,
        &controller.context.ca.ca_hash(),
    )
    .await
    .expect("enrollment succeeds");
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
