//! What the secrets end-to-end tests of issue 16 share: a controller and one enrolled agent in
//! a temporary directory; the admin socket's secret requests (as `unity-controller secret …`
//! sends them), none of whose answers may carry a value; an agent that probes one database
//! server with a password drawn from the store (`password_secret`, no password file); the
//! controller's latest report of that server; the audit log; and the closing check that no file
//! of either daemon holds a plaintext.

use std::path::{Path, PathBuf};
use std::time::Duration;
use unity_agent::collect::databases::{DatabaseCredentials, DatabaseTarget};
use unity_agent::runtime::RunningAgent;
use unity_controller::admin::{AdminRequest, AdminResponse, SecretAdminRequest};
use unity_controller::domain::audit;
use unity_controller::service::RunningController;
use unity_controller::storage::agents::StateKind;
use unity_shared::model::database::{DatabaseEndpoint, DatabaseEngine, DatabaseInstance};
use unity_shared::model::secret::SecretName;
use unity_shared::proto::AgentId;
use unity_tests::*;

/// How long a probe may take to see a change of the store (it probes every 300 ms).
pub const PROBE_DEADLINE: Duration = Duration::from_secs(60);

/// A controller and an enrolled agent (not started), in one temporary directory.
pub struct SecretsLab {
    pub dir: tempfile::TempDir,
    pub controller_dir: PathBuf,
    pub agent_dir: PathBuf,
    pub controller: RunningController,
    pub agent_id: AgentId,
    /// Values no admin answer may carry.
    plaintexts: Vec<String>,
}

impl SecretsLab {
    /// Starts the controller and enrolls the agent; `plaintexts` must never appear in an admin
    /// answer.
    pub async fn start(plaintexts: &[&str]) -> SecretsLab {
        init_logging();
        let dir = tempfile::tempdir().unwrap();
        let controller_dir = dir.path().join("controller");
        let controller = start_controller(controller_config(&controller_dir)).await;
        let agent_dir = dir.path().join("agent");
        let agent_id = enroll_agent(&controller, &agent_dir).await;
        SecretsLab {
            dir,
            controller_dir,
            agent_dir,
            controller,
            agent_id,
            plaintexts: plaintexts.iter().map(|text| (*text).to_owned()).collect(),
        }
    }

    /// Sends a secret request through the admin socket; fails on an error answer and on an
    /// answer that carries one of the plaintexts.
    pub async fn secret(&self, request: SecretAdminRequest) -> AdminResponse {
        secret_request(&self.controller, &self.plaintexts, request).await
    }

    /// `secret set NAME --kind password` with `value`.
    pub async fn set_password(&self, name: &SecretName, value: &str) {
        self.secret(SecretAdminRequest::Set {
            name: name.to_string(),
            kind: Some("password".into()),
            value_hex: hex::encode(value),
        })
        .await;
    }

    /// `secret scope NAME` with exactly `hosts` (empty: no host).
    pub async fn scope(&self, name: &SecretName, hosts: &[&AgentId]) {
        self.secret(SecretAdminRequest::Scope {
            name: name.to_string(),
            hosts: hosts.iter().map(|host| host.to_string()).collect(),
            groups: vec![],
        })
        .await;
    }

    /// Starts the agent probing `engine` on loopback `port` (every 300 ms, no discovery) as
    /// `user`, its password drawn from secret `name`.
    pub async fn start_probing_agent(
        &self,
        engine: DatabaseEngine,
        port: u16,
        user: Option<&str>,
        name: &SecretName,
    ) -> RunningAgent {
        let mut config = agent_config(
            &self.agent_dir,
            self.controller.local_addr,
            Duration::from_secs(3600),
        );
        config.databases.enabled = true;
        config.databases.discover = false;
        config.databases.interval = Duration::from_millis(300);
        config.databases.targets = vec![DatabaseTarget {
            engine,
            endpoint: DatabaseEndpoint::Tcp {
                host: "127.0.0.1".into(),
                port,
            },
            credentials: Some(DatabaseCredentials {
                user: user.map(str::to_owned),
                database: None,
                password_file: None,
                password_secret: Some(name.clone()),
            }),
        }];
        unity_agent::runtime::start(config).await.unwrap()
    }

    /// The controller's latest report of the server on loopback `port`.
    pub async fn database(&self, port: u16) -> Option<DatabaseInstance> {
        let latest: Option<(i64, Vec<DatabaseInstance>)> = self
            .controller
            .context
            .store
            .agents
            .latest(&self.agent_id, StateKind::Databases)
            .unwrap();
        latest?.1.into_iter().find(|instance| {
            matches!(&instance.endpoint, DatabaseEndpoint::Tcp { port: p, .. } if *p == port)
        })
    }

    /// Waits until the probe of `port` has logged in: a version, health, no error.
    pub async fn until_logged_in(&self, port: u16, what: &str) -> DatabaseInstance {
        self.until_reported(port, what, |instance| {
            instance.version.is_some() && instance.health.is_some() && instance.error.is_none()
        })
        .await
    }

    /// Waits until the probe of `port` reports that it has no value for secret `name` (the
    /// agent holds none: never given, or withdrawn), and has not logged in (no health; a
    /// MariaDB greeting still tells the version).
    pub async fn until_secret_unavailable(
        &self,
        port: u16,
        name: &SecretName,
        what: &str,
    ) -> DatabaseInstance {
        let error = format!("secret {name} not available yet");
        self.until_reported(port, what, |instance| {
            instance.health.is_none()
                && instance
                    .error
                    .as_deref()
                    .is_some_and(|text| text.contains(&error))
        })
        .await
    }

    /// Waits until the latest report of `port` passes `check` (the failure shows the last).
    async fn until_reported(
        &self,
        port: u16,
        what: &str,
        check: impl Fn(&DatabaseInstance) -> bool,
    ) -> DatabaseInstance {
        eventually_explained(what, PROBE_DEADLINE, || async {
            match self.database(port).await {
                Some(instance) if check(&instance) => Ok(instance),
                other => Err(format!("{other:?}")),
            }
        })
        .await
    }

    /// The audit log, newest first, one `actor action target` line per entry.
    pub async fn audit_lines(&self) -> Vec<String> {
        audit_lines(&self.controller).await
    }

    /// Waits until the audit log has a line starting with `prefix`.
    pub async fn until_audited(&self, prefix: &str) {
        eventually(&format!("audited: {prefix}"), PROBE_DEADLINE, || async {
            self.audit_lines()
                .await
                .iter()
                .any(|line| line.starts_with(prefix))
                .then_some(())
        })
        .await;
    }

    /// Stops the agent and the controller (store flushed), then checks that no file of either
    /// holds one of the plaintexts.
    pub async fn finish(self, agent: RunningAgent) {
        agent.stop().await;
        self.controller.context.store.flush().unwrap();
        self.controller.shutdown().await.unwrap();
        for plaintext in &self.plaintexts {
            assert_no_file_contains(&self.controller_dir, plaintext.as_bytes());
            assert_no_file_contains(&self.agent_dir, plaintext.as_bytes());
        }
    }
}

/// Sends a secret request through `controller`'s admin socket; fails on an error answer and
/// on an answer that carries one of `plaintexts`.
pub async fn secret_request(
    controller: &RunningController,
    plaintexts: &[String],
    request: SecretAdminRequest,
) -> AdminResponse {
    let response = admin_request(controller, AdminRequest::Secret(request)).await;
    let json = serde_json::to_string(&response).unwrap();
    for plaintext in plaintexts {
        assert!(
            !json.contains(plaintext.as_str()),
            "an admin answer carries a value: {json}"
        );
    }
    if let AdminResponse::Error(error) = &response {
        panic!("secret request failed: {error}");
    }
    response
}

/// `controller`'s audit log, newest first, one `actor action target` line per entry.
pub async fn audit_lines(controller: &RunningController) -> Vec<String> {
    let ctx = controller.context.clone();
    tokio::task::spawn_blocking(move || audit::recent(&ctx, 500))
        .await
        .unwrap()
        .unwrap()
        .into_iter()
        .map(|entry| format!("{} {} {}", entry.actor, entry.action, entry.target))
        .collect()
}

/// Every byte of every file under `dir` (sled's files, the WAL, the key, the spool).
pub fn assert_no_file_contains(dir: &Path, needle: &[u8]) {
    let mut folders = vec![dir.to_path_buf()];
    let mut files = 0;
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
            } else if let Ok(bytes) = std::fs::read(&path) {
                files += 1;
                assert!(
                    !bytes.windows(needle.len()).any(|window| window == needle),
                    "{} holds the plaintext",
                    path.display()
                );
            }
        }
    }
    assert!(files > 0, "nothing under {}", dir.display());
}
