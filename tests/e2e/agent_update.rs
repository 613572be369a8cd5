//! Agents updated from the controller, over a real connection (issue 20 §2,
//! docs/agent-updates.md): a real agent process whose binary is a copy in a temporary
//! directory, restarted by a supervisor after it exits 75 (as systemd's `Restart=on-failure`
//! does), updated to a really newer build (`scripts/build-newer-agent`, path in
//! `UNITY_NEWER_AGENT`: the agent built with `UNITY_BUILD_VERSION`). Shared setup for
//! `agent_update_success.rs`, `agent_update_rollback.rs` and `agent_update_refusals.rs`.

use std::path::{Path, PathBuf};
use std::time::Duration;
use unity_controller::admin::{
    AdminRequest, AdminResponse, AgentBuildsRequest, AgentBuildsResponse, AgentUpdateLine,
};
use unity_controller::config::Config;
use unity_controller::domain::agent_builds::AddBuild;
use unity_controller::service::RunningController;
use unity_controller::storage::agent_updates::{AgentUpdateRecord, AgentUpdateState};
use unity_shared::proto::AgentId;
use unity_tests::supervisor::SupervisedAgent;
use unity_tests::{admin_request, controller_config, eventually, query, start_controller};

pub use unity_tests::prebuilt_agents::newer_agent;

/// What `binary --version` says, without the name.
pub fn version_of(binary: &Path) -> String {
    #[allow(clippy::disallowed_methods)]
    let output = std::process::Command::new(binary)
        .arg("--version")
        .output()
        .unwrap();
    assert!(output.status.success(), "{} --version", binary.display());
    let text = String::from_utf8_lossy(&output.stdout);
    text.trim()
        .strip_prefix("unity-agent ")
        .unwrap_or_else(|| panic!("unexpected --version answer {text:?}"))
        .to_owned()
}

/// A controller, an agent enrolled with it and running from a copy of the e2e agent binary.
pub struct Lab {
    pub dir: tempfile::TempDir,
    pub controller: RunningController,
    pub agent_id: AgentId,
    /// The agent's binary (the copy the supervisor starts).
    pub exe: PathBuf,
    pub agent: SupervisedAgent,
}

/// An agent enrolled with `controller` and started by a supervisor from a copy of the e2e
/// agent binary in `<dir>/<name>/bin`, once it holds the controller's release keys.
pub async fn enroll_supervised(
    controller: &RunningController,
    dir: &Path,
    name: &str,
) -> (AgentId, PathBuf, SupervisedAgent) {
    let agent_dir = dir.join(name);
    std::fs::create_dir_all(agent_dir.join("bin")).unwrap();
    let exe = agent_dir.join("bin/unity-agent");
    std::fs::copy(env!("CARGO_BIN_EXE_unity-e2e-agent"), &exe).unwrap();
    let config =
        unity_tests::prebuilt_agents::system_only_config(&agent_dir, controller.local_addr);
    let token = unity_tests::create_token(controller, Duration::from_secs(60)).await;
    let before: Vec<AgentId> = controller
        .context
        .store
        .agents
        .agents()
        .unwrap()
        .into_iter()
        .map(|agent| agent.agent_id)
        .collect();
    #[allow(clippy::disallowed_methods)]
    let enrolled = std::process::Command::new(&exe)
        .arg("--config")
        .arg(&config)
        .args(["enroll", "--controller", &controller.local_addr.to_string()])
        .args([
            "--token",
            &token,
            "--ca-hash",
            &controller.context.ca.ca_hash(),
        ])
        .output()
        .unwrap();
    assert!(enrolled.status.success(), "{enrolled:?}");
    let agent_id = controller
        .context
        .store
        .agents
        .agents()
        .unwrap()
        .into_iter()
        .map(|agent| agent.agent_id)
        .find(|agent_id| !before.contains(agent_id))
        .expect("the new agent is registered");
    let agent = SupervisedAgent::start(&exe, &config, &agent_dir.join("agent.log"));
    let keys = agent_dir.join("data/release-keys.json");
    eventually(
        "the agent holds the controller's release keys",
        Duration::from_secs(30),
        || {
            let keys = keys.clone();
            async move { keys.is_file().then_some(()) }
        },
    )
    .await;
    (agent_id, exe, agent)
}

impl Lab {
    pub async fn start() -> Lab {
        unity_tests::init_logging();
        let dir = tempfile::tempdir().unwrap();
        let controller = start_controller(controller_config(&dir.path().join("controller"))).await;
        let (agent_id, exe, agent) = enroll_supervised(&controller, dir.path(), "agent").await;
        Lab {
            dir,
            controller,
            agent_id,
            exe,
            agent,
        }
    }

    /// Stores `file` as a binary build of `version` for `arch`.
    pub async fn add_build(&self, file: &Path, version: &str, arch: &str) {
        let add = AddBuild {
            path: file.display().to_string(),
            arch: arch.into(),
            kind: "binary".into(),
            version: version.into(),
        };
        match admin_request(
            &self.controller,
            AdminRequest::AgentBuilds(AgentBuildsRequest::Add(add)),
        )
        .await
        {
            AdminResponse::AgentBuilds(AgentBuildsResponse::Builds(_)) => {}
            other => panic!("adding the build: {other:?}"),
        }
    }

    /// `agents update HOST` as the CLI sends it.
    pub async fn update(&self, confirm_within_secs: u64) -> AgentUpdateLine {
        let request = AgentBuildsRequest::UpdateAgent {
            host: self.agent_id.to_string(),
            version: None,
            rollback: false,
            confirm_within_secs,
        };
        match admin_request(&self.controller, AdminRequest::AgentBuilds(request)).await {
            AdminResponse::AgentBuilds(AgentBuildsResponse::Update(line)) => line,
            other => panic!("asking for the update: {other:?}"),
        }
    }
}

/// The stored update `id` once it is in `state`.
pub async fn wait_for_state(
    controller: &RunningController,
    id: &str,
    state: AgentUpdateState,
    within: Duration,
) -> AgentUpdateRecord {
    eventually(&format!("agent update {id} {state:?}"), within, || {
        let context = controller.context.clone();
        let id = id.to_owned();
        async move {
            let record = context.store.agent_updates.get(&id).unwrap()?;
            (record.state == state).then_some(record)
        }
    })
    .await
}

/// Points of the agent's memory series stored so far.
pub async fn n_points(controller: &RunningController, agent_id: &AgentId) -> usize {
    query(controller, agent_id, "memory_used_bytes")
        .await
        .iter()
        .map(|series| series.points.len())
        .sum()
}

/// Waits until more than `than` points are stored.
pub async fn points_grow(controller: &RunningController, agent_id: &AgentId, than: usize) -> usize {
    eventually(
        "the agent's samples keep flowing",
        Duration::from_secs(30),
        || async move {
            let n = n_points(controller, agent_id).await;
            (n > than).then_some(n)
        },
    )
    .await
}

/// Whether two files hold the same bytes (a binary unchanged byte for byte).
pub fn same_bytes(a: &Path, b: &Path) -> bool {
    std::fs::read(a).unwrap() == std::fs::read(b).unwrap()
}

/// Starts a controller again on `config` at `address` (after a shutdown).
pub async fn restart_controller(
    mut config: Config,
    address: std::net::SocketAddr,
) -> RunningController {
    config.listen = address;
    start_controller(config).await
}
