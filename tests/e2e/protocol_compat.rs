//! Protocol compatibility with a real older build (issue 20 §2): the agent of commit f2a0759
//! (protocol 10, built by `scripts/build-older-agent`, path in `UNITY_OLDER_AGENT`) enrolls
//! with and reports to this controller; this agent, meeting a controller that serves only
//! protocol 10, says once to update the controller and keeps its spool until it can deliver;
//! an agent offering protocol 9 is told to update.
//!
//! The older controller is played by this controller's own TLS configuration with its ALPN
//! cut down to `unity/10` (what the controller of f2a0759 offers; a test hook on the test side,
//! not a build of the older controller).

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::time::Duration;
use unity_shared::proto::compat;
use unity_shared::proto::{error_code, InstallKind, Ping};
use unity_tests::{controller_config, eventually, free_udp_address, query, start_controller};

/// An agent process, killed when dropped; its standard error goes to `log`.
struct AgentProcess {
    child: Child,
    log: PathBuf,
}

impl AgentProcess {
    fn start(binary: &Path, config: &Path, log: &Path) -> AgentProcess {
        let stderr = std::fs::File::create(log).unwrap();
        #[allow(clippy::disallowed_methods)]
        let child = std::process::Command::new(binary)
            .arg("--config")
            .arg(config)
            .arg("run")
            .env("UNITY_LOG", "info")
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("agent process starts");
        AgentProcess {
            child,
            log: log.to_owned(),
        }
    }

    fn log(&self) -> String {
        let mut text = String::new();
        std::fs::File::open(&self.log)
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        text
    }
}

impl Drop for AgentProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs an agent binary's CLI to the end; its exit code and output.
fn run_cli(binary: &Path, config: &Path, args: &[&str]) -> (Option<i32>, String) {
    #[allow(clippy::disallowed_methods)]
    let output = std::process::Command::new(binary)
        .arg("--config")
        .arg(config)
        .args(args)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.code(), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_protocol_10_agent_enrolls_reports_and_takes_commands() {
    let binary = unity_tests::prebuilt_agents::older_agent();
    let dir = tempfile::tempdir().unwrap();
    let controller = start_controller(controller_config(&dir.path().join("controller"))).await;
    let token = unity_tests::create_token(&controller, Duration::from_secs(60)).await;
    let agent_dir = dir.path().join("agent");
    std::fs::create_dir_all(&agent_dir).unwrap();
    let config =
        unity_tests::prebuilt_agents::system_only_config(&agent_dir, controller.local_addr);
    let (code, output) = run_cli(
        &binary,
        &config,
        &[
            "enroll",
            "--controller",
            &controller.local_addr.to_string(),
            "--token",
            &token,
            "--ca-hash",
            &controller.context.ca.ca_hash(),
        ],
    );
    assert_eq!(code, Some(0), "the protocol-10 agent enrolls: {output}");
    let records = controller.context.store.agents.agents().unwrap();
    assert_eq!(records.len(), 1, "one agent enrolled");
    let agent_id = records[0].agent_id.clone();

    let agent = AgentProcess::start(&binary, &config, &agent_dir.join("agent.log"));
    let series = eventually(
        "samples of the protocol-10 agent stored",
        Duration::from_secs(30),
        || {
            let (controller, agent_id) = (&controller, &agent_id);
            async move {
                let series = query(controller, agent_id, "memory_used_bytes").await;
                let points: usize = series.iter().map(|s| s.points.len()).sum();
                (points >= 3).then_some(series)
            }
        },
    )
    .await;
    assert!(series[0].points.iter().all(|point| point.1 > 0.0));

    // Its hello was read in the protocol-10 layout: version and host recorded, install unknown.
    let record = controller
        .context
        .store
        .agents
        .agent(&agent_id)
        .unwrap()
        .unwrap();
    assert_eq!(record.agent_version, "0.1.0");
    assert_eq!(record.install, InstallKind::Unknown);
    assert!(!record.host.hostname.is_empty());

    // Commands reach it, and its answers are read.
    let pong = controller
        .context
        .hub
        .request(&agent_id, Ping { nonce: 1010 }, Duration::from_secs(10))
        .await
        .expect("the protocol-10 agent answers a ping");
    assert_eq!(pong.nonce, 1010);
    let log = agent.log();
    assert!(
        !log.contains("ERROR"),
        "the protocol-10 agent logged errors:\n{log}"
    );
    drop(agent);
    controller.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn this_agent_tells_to_update_an_older_controller_and_keeps_its_spool() {
    let dir = tempfile::tempdir().unwrap();
    let address = free_udp_address();
    let mut config = controller_config(&dir.path().join("controller"));
    config.listen = address;
    let controller = start_controller(config.clone()).await;
    let agent_dir = dir.path().join("agent");
    std::fs::create_dir_all(&agent_dir).unwrap();
    let agent_config = unity_tests::prebuilt_agents::system_only_config(&agent_dir, address);
    let agent_id = unity_tests::enroll_agent(&controller, &agent_dir.join("data")).await;

    // The "older controller": the same CA and server certificate, offering only unity/10.
    let mut tls = unity_controller::ca::verifier::server_config(
        &controller.context.ca,
        controller.context.revocations.clone(),
    )
    .unwrap();
    tls.alpn_protocols = vec![compat::alpn(10)];
    controller.shutdown().await.unwrap();
    let quic = Arc::new(quinn::crypto::rustls::QuicServerConfig::try_from(tls).unwrap());
    // The stopped controller's socket goes away with its last task.
    let older =
        eventually(
            "the controller's address free again",
            Duration::from_secs(20),
            || {
                let quic = quic.clone();
                async move {
                    quinn::Endpoint::server(quinn::ServerConfig::with_crypto(quic), address).ok()
                }
            },
        )
        .await;
    let accepting = tokio::spawn({
        let older = older.clone();
        async move {
            while let Some(incoming) = older.accept().await {
                tokio::spawn(async move {
                    if let Ok(connection) = incoming.await {
                        connection.closed().await;
                    }
                });
            }
        }
    });

    let binary = Path::new(env!("CARGO_BIN_EXE_unity-e2e-agent"));
    let agent = AgentProcess::start(binary, &agent_config, &agent_dir.join("agent.log"));
    let status = eventually(
        "the agent finds the controller too old and spools",
        Duration::from_secs(30),
        || async {
            let (_, text) = run_cli(binary, &agent_config, &["status", "--json"]);
            let status: serde_json::Value = serde_json::from_str(&text).ok()?;
            let spooled = status["spool_depth"].as_u64().unwrap_or(0);
            (status["connection"] == "incompatible" && spooled >= 4).then_some(status)
        },
    )
    .await;
    let last_error = status["last_error"].as_str().unwrap_or_default().to_owned();
    assert!(
        last_error.contains("the controller speaks protocol 10")
            && last_error.contains("update the controller first"),
        "{status}"
    );
    let log = agent.log();
    let told = log
        .lines()
        .filter(|line| line.contains("ERROR") && line.contains("update the controller first"))
        .count();
    assert_eq!(told, 1, "said once, not at every retry:\n{log}");

    // The controller is updated: every spooled report arrives.
    older.close(0u32.into(), b"updated");
    older.wait_idle().await;
    accepting.abort();
    drop(older);
    let controller = start_controller(config).await;
    eventually(
        "the spooled reports delivered to the updated controller",
        Duration::from_secs(60),
        || async {
            let (_, text) = run_cli(binary, &agent_config, &["status", "--json"]);
            let status: serde_json::Value = serde_json::from_str(&text).ok()?;
            (status["connection"] == "connected" && status["spool_depth"] == 0).then_some(())
        },
    )
    .await;
    let series = query(&controller, &agent_id, "memory_used_bytes").await;
    let points: usize = series.iter().map(|s| s.points.len()).sum();
    let spooled = status["spool_depth"].as_u64().unwrap() as usize;
    assert!(
        points >= spooled,
        "{points} points stored, {spooled} reports were spooled while incompatible"
    );
    drop(agent);
    controller.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_protocol_9_agent_is_told_to_update() {
    let dir = tempfile::tempdir().unwrap();
    let controller = start_controller(controller_config(&dir.path().join("controller"))).await;
    let mut tls =
        unity_shared::tls::enrollment_client_config(&controller.context.ca.ca_hash()).unwrap();
    tls.alpn_protocols = vec![b"unity/9".to_vec()];
    let quic = quinn::crypto::rustls::QuicClientConfig::try_from(tls).unwrap();
    let endpoint = quinn::Endpoint::client("127.0.0.1:0".parse().unwrap()).unwrap();
    let connection = endpoint
        .connect_with(
            quinn::ClientConfig::new(Arc::new(quic)),
            controller.local_addr,
            unity_shared::proto::CONTROLLER_SERVER_NAME,
        )
        .unwrap()
        .await
        .expect("the handshake of an old agent succeeds, so it can be told why it is refused");
    let closed = tokio::time::timeout(Duration::from_secs(10), connection.closed())
        .await
        .expect("the controller closes the connection");
    match closed {
        quinn::ConnectionError::ApplicationClosed(close) => {
            assert_eq!(
                close.error_code,
                quinn::VarInt::from_u32(error_code::UPGRADE_REQUIRED)
            );
            assert_eq!(
                String::from_utf8_lossy(&close.reason),
                "agent protocol 9 is too old for this controller (serves 10–11): update the agent package"
            );
        }
        other => panic!("closed without a reason: {other:?}"),
    }
    controller.shutdown().await.unwrap();
}
