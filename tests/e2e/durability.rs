//! Issue 2, test 4: the controller is killed (SIGKILL) while agents are sending. Every
//! acknowledged sample survives; after reconnection every collected sample is stored exactly
//! once.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;
use unity_agent::spool::Spool;
use unity_controller::admin::AdminResponse;
use unity_shared::proto::AgentId;
use unity_tests::*;

const BINARY: &str = env!("CARGO_BIN_EXE_unity-e2e-controller");

/// How many reports the agent made (`next_seq - 1`), and the timestamps of those still
/// spooled, i.e. not acknowledged.
fn spool_state(agent_dir: &Path) -> (u64, BTreeSet<i64>) {
    let mut spool = Spool::open(&unity_agent::identity::spool_dir(agent_dir), u64::MAX).unwrap();
    let pending = spool.pending_after(None, usize::MAX);
    let unacked: BTreeSet<i64> = pending
        .iter()
        .filter_map(|seq| spool.read(*seq).unwrap())
        .map(|report| report.collected_at_ms)
        .collect();
    let made = spool.next_seq() - 1;
    (made, unacked)
}

async fn stored_timestamps(process: &ControllerProcess, agent_id: &AgentId) -> Vec<i64> {
    match process
        .call(query_request(agent_id, "memory_total_bytes"))
        .await
    {
        AdminResponse::Series(series) => series
            .first()
            .map(|s| s.points.iter().map(|(t, _)| *t).collect())
            .unwrap_or_default(),
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_samples_survive_sigkill_and_replay_stores_everything_once() {
    init_logging();
    let dir = tempfile::tempdir().unwrap();
    let controller_dir = dir.path().join("controller");
    let address = free_udp_address();
    let mut process = ControllerProcess::start(Path::new(BINARY), &controller_dir, address).await;

    let mut agents = Vec::new();
    for name in ["a1", "a2"] {
        let agent_dir = dir.path().join(name);
        let agent_id = process.enroll(&agent_dir).await;
        let agent = unity_agent::runtime::start(agent_config(
            &agent_dir,
            address,
            Duration::from_millis(50),
        ))
        .await
        .unwrap();
        agents.push((agent_id, agent_dir, agent));
    }
    for (agent_id, _, _) in &agents {
        eventually("reports flowing", Duration::from_secs(20), || async {
            (stored_timestamps(&process, agent_id).await.len() >= 10).then_some(())
        })
        .await;
    }

    // Kill the controller mid-stream; the agents keep collecting into their spools.
    process.kill();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut acked_before_kill = Vec::new();
    let mut stopped = Vec::new();
    for (agent_id, agent_dir, agent) in agents {
        agent.stop().await;
        let (made, unacked) = spool_state(&agent_dir);
        assert!(
            !unacked.is_empty(),
            "reports piled up while the controller was down"
        );
        acked_before_kill.push((made, unacked.len()));
        stopped.push((agent_id, agent_dir));
    }

    // Restarted on the same data: everything acknowledged is there.
    let process = ControllerProcess::start(Path::new(BINARY), &controller_dir, address).await;
    for ((agent_id, agent_dir), (made, n_unacked)) in stopped.iter().zip(&acked_before_kill) {
        let stored = stored_timestamps(&process, agent_id).await;
        let (_, unacked) = spool_state(agent_dir);
        let acked = *made as usize - n_unacked;
        let stored_and_acked = stored.iter().filter(|t| !unacked.contains(t)).count();
        assert!(
            stored_and_acked >= acked,
            "{agent_id}: {acked} reports acknowledged but only {stored_and_acked} stored"
        );
    }

    // Agents return and replay: every collected report is stored exactly once.
    let mut restarted = Vec::new();
    for (agent_id, agent_dir) in &stopped {
        let agent = unity_agent::runtime::start(agent_config(
            agent_dir,
            address,
            Duration::from_secs(3600),
        ))
        .await
        .unwrap();
        restarted.push((agent_id.clone(), agent_dir.clone(), agent));
    }
    for (_, agent_dir, _) in &restarted {
        eventually("the spool drained", Duration::from_secs(30), || async {
            (unity_agent::spool::depth_of(&unity_agent::identity::spool_dir(agent_dir)) == 0)
                .then_some(())
        })
        .await;
    }
    for (agent_id, agent_dir, agent) in restarted {
        agent.stop().await;
        let (made, _) = spool_state(&agent_dir);
        let stored = stored_timestamps(&process, &agent_id).await;
        assert!(
            stored.windows(2).all(|w| w[0] < w[1]),
            "duplicates or disorder"
        );
        // Every report carries one memory_total_bytes sample (the first has none only if the
        // spool renumbered, which it must not here).
        assert_eq!(
            stored.len() as u64,
            made,
            "{agent_id}: {made} reports made, {} stored",
            stored.len()
        );
    }
}
