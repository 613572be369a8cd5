//! Issue 13, §2: agents come back soon after a controller crash, and say the truth meanwhile.
//!
//! - SIGKILL, restart: the controller keeps its stateless-reset key in its data directory, so
//!   the agent's next keep-alive draws a reset it recognises and it reconnects at once instead
//!   of waiting out its 45 s idle timeout. The test prints the figure (BENCHMARKS.md).
//! - SIGSTOP (a hung controller: no answers, no resets): the agent gives up on the connection
//!   after `controller_timeout` and `status` says "disconnected" with the reason, instead of
//!   "connected" while its spool grows.

use std::path::Path;
use std::time::{Duration, Instant};
use unity_agent::runtime::RunningAgent;
use unity_tests::*;

const BINARY: &str = env!("CARGO_BIN_EXE_unity-e2e-controller");

/// The agent's connection state and since when (Unix ms).
fn connection(agent: &RunningAgent) -> (String, i64, Option<String>) {
    let status = agent.state.status.lock().unwrap();
    (
        status.connection.clone(),
        status.connection_since_ms,
        status.last_error.clone(),
    )
}

async fn wait_connected(agent: &RunningAgent, after_ms: i64, within: Duration) {
    eventually_explained("the agent connected", within, || async {
        let (state, since, error) = connection(agent);
        if state == "connected" && since >= after_ms {
            Ok(())
        } else {
            Err(format!("{state} since {since}, last error {error:?}"))
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_reconnect_within_seconds_of_a_crashed_controllers_restart() {
    init_logging();
    let dir = tempfile::tempdir().unwrap();
    let controller_dir = dir.path().join("controller");
    let agent_dir = dir.path().join("agent");
    let address = free_udp_address();
    let mut process = ControllerProcess::start(Path::new(BINARY), &controller_dir, address).await;
    process.enroll(&agent_dir).await;
    // The daemon's defaults: reports every 15 s, heartbeats every 30 s, so after the restart
    // only keep-alives can draw the reset.
    let mut config = agent_config(&agent_dir, address, Duration::from_secs(15));
    config.heartbeat = Duration::from_secs(30);
    let agent = unity_agent::runtime::start(config).await.unwrap();
    wait_connected(&agent, 0, Duration::from_secs(20)).await;

    // Restarted at once, and after systemd's RestartSec=5s.
    let mut figures = Vec::new();
    for (round, down) in [0, 5, 0, 5].into_iter().enumerate() {
        process.kill();
        tokio::time::sleep(Duration::from_secs(down)).await;
        process = ControllerProcess::start(Path::new(BINARY), &controller_dir, address).await;
        let restarted = Instant::now();
        let restarted_ms = now_ms();
        wait_connected(&agent, restarted_ms, Duration::from_secs(30)).await;
        let took = restarted.elapsed();
        eprintln!(
            "crash-restart reconnect, round {}: down {down} s, reconnected {took:.2?} after the controller was ready",
            round + 1
        );
        figures.push(took);
    }
    let worst = figures.iter().max().copied().unwrap_or_default();
    eprintln!("crash-restart reconnect: worst {worst:.2?} of {figures:.2?} (target: 5 s)");
    // Generous against a loaded CI machine; the figure itself goes to BENCHMARKS.md.
    assert!(
        worst < Duration::from_secs(12),
        "reconnects took {figures:?}: the reset key is not kept, or the agent waits out its idle timeout"
    );
    agent.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_controller_is_reported_disconnected_and_rejoined_when_it_wakes() {
    init_logging();
    let dir = tempfile::tempdir().unwrap();
    let controller_dir = dir.path().join("controller");
    let agent_dir = dir.path().join("agent");
    let address = free_udp_address();
    let process = ControllerProcess::start(Path::new(BINARY), &controller_dir, address).await;
    process.enroll(&agent_dir).await;
    let mut config = agent_config(&agent_dir, address, Duration::from_millis(300));
    config.controller_timeout = Duration::from_secs(2);
    let agent = unity_agent::runtime::start(config).await.unwrap();
    wait_connected(&agent, 0, Duration::from_secs(20)).await;

    process.signal("STOP");
    let stopped_ms = now_ms();
    eventually_explained(
        "status to say the controller stopped answering",
        Duration::from_secs(10),
        || async {
            let (state, since, error) = connection(&agent);
            let told = state == "disconnected"
                && since >= stopped_ms
                && error
                    .as_deref()
                    .is_some_and(|e| e.contains("did not answer"));
            if told {
                Ok(())
            } else {
                Err(format!("{state} since {since}, last error {error:?}"))
            }
        },
    )
    .await;
    let spooled = agent.state.spool.lock().unwrap().depth();
    assert!(spooled > 0, "reports wait in the spool");

    process.signal("CONT");
    let woke_ms = now_ms();
    wait_connected(&agent, woke_ms, Duration::from_secs(90)).await;
    eventually("the spool drained", Duration::from_secs(30), || async {
        (agent.state.spool.lock().unwrap().depth() == 0).then_some(())
    })
    .await;
    agent.stop().await;
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}
