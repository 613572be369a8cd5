//! A newer build that starts but never reaches the controller: the agent installs it and
//! exits 75; while it restarts the controller is down (stopped, as a controller upgrade or a
//! network cut would leave it), so the new process runs without a confirmation until its
//! deadline, puts the previous binary back and exits 75 again; the old version comes back
//! when the controller does, and the operation reads rolled back.

use super::agent_update::{
    newer_agent, points_grow, restart_controller, version_of, wait_for_state, Lab,
};
use std::time::Duration;
use unity_controller::storage::agent_updates::{AgentUpdateResult, AgentUpdateState};
use unity_tests::eventually;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_build_that_never_reaches_the_controller_is_rolled_back_by_the_agent() {
    let newer = newer_agent();
    let new_version = version_of(&newer);
    let lab = Lab::start().await;
    let old_version = version_of(&lab.exe);
    points_grow(&lab.controller, &lab.agent_id, 1).await;
    lab.add_build(&newer, &new_version, std::env::consts::ARCH)
        .await;
    // Hold the restart (a slow RestartSec) until the controller is gone.
    lab.agent.hold_restarts(true);
    let id = lab.update(10).await.id;
    let Lab {
        dir,
        controller,
        agent_id,
        exe,
        agent,
        ..
    } = lab;
    let awaiting = wait_for_state(
        &controller,
        &id,
        AgentUpdateState::AwaitingConfirmation,
        Duration::from_secs(60),
    )
    .await;
    assert_eq!(awaiting.confirm_within_secs, 10);
    let supervised = &agent;
    eventually(
        "the agent exits to restart",
        Duration::from_secs(10),
        || async move { (supervised.exits() == vec![Some(75)]).then_some(()) },
    )
    .await;
    assert_eq!(version_of(&exe), new_version, "the new build is in place");

    let config = controller.context.config.clone();
    let address = controller.local_addr;
    controller.shutdown().await.unwrap();
    agent.hold_restarts(false);
    // The new process runs, cannot confirm, and at its deadline puts the old binary back.
    eventually(
        "the new build rolls back at its deadline",
        Duration::from_secs(40),
        || async move { (supervised.exits().len() >= 2).then_some(()) },
    )
    .await;
    assert_eq!(
        agent.exits(),
        vec![Some(75), Some(75)],
        "{}",
        agent.log_text()
    );
    assert_eq!(version_of(&exe), old_version, "the previous binary is back");
    assert!(
        agent
            .log_text()
            .contains("no confirmation from the controller before the deadline"),
        "{}",
        agent.log_text()
    );

    let controller = restart_controller(config, address).await;
    let record = wait_for_state(
        &controller,
        &id,
        AgentUpdateState::Finished,
        Duration::from_secs(60),
    )
    .await;
    assert_eq!(
        record.result,
        Some(AgentUpdateResult::RolledBack),
        "{record:?}"
    );
    let message = record.message.unwrap_or_default();
    assert!(
        message.contains(&format!("running {old_version}, not {new_version}")),
        "{message}"
    );
    let stored = controller
        .context
        .store
        .agents
        .agent(&agent_id)
        .unwrap()
        .unwrap();
    assert_eq!(stored.agent_version, old_version);
    // The old agent reports again.
    let n = super::agent_update::n_points(&controller, &agent_id).await;
    points_grow(&controller, &agent_id, n).await;
    assert!(!dir
        .path()
        .join("agent/data/self-update-trial.json")
        .exists());
    drop(agent);
    controller.shutdown().await.unwrap();
}
