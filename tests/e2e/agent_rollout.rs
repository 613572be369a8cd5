//! A fleet rollout over real connections (issue 20 §2, docs/agent-updates.md): two supervised
//! agents (restarted after exit 75 as systemd would), a really newer build
//! (`scripts/build-newer-agent`), a rollout started through the API with the second agent as
//! its canary. The canary is updated alone and confirmed before the other agent is sent the
//! build; then both run the new version, the rollout reads finished in the API and on the
//! Update agents page, and the agents page shows the new versions.

use super::agent_update::{enroll_supervised, newer_agent, version_of, Lab};
use std::time::Duration;
use unity_controller::storage::agent_rollouts::RolloutState;
use unity_controller::storage::agent_updates::AgentUpdateResult;
use unity_tests::{add_user, eventually, logged_in_client};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollout_updates_the_canary_alone_then_the_fleet() {
    let newer = newer_agent();
    let new_version = version_of(&newer);
    let lab = Lab::start().await;
    let controller = &lab.controller;
    let (canary, canary_exe, canary_agent) =
        enroll_supervised(controller, lab.dir.path(), "canary").await;
    lab.add_build(&newer, &new_version, std::env::consts::ARCH)
        .await;

    let password = add_user(controller, "alice", "admin").await;
    let mut client = logged_in_client(controller, "alice", &password).await;
    let started = client
        .post_json(
            "/api/v1/agent-rollout",
            &serde_json::json!({
                "version": new_version,
                "canary": canary.as_str(),
                "parallel": 2,
                "confirm_within": "30s",
            }),
        )
        .await;
    assert_eq!(started.status, 201, "{}", started.text());
    assert_eq!(started.json()["canary"], canary.as_str());
    assert_eq!(started.json()["state"], "rolling");
    // One rollout at a time.
    let again = client
        .post_json(
            "/api/v1/agent-rollout",
            &serde_json::json!({ "version": new_version }),
        )
        .await;
    assert_eq!(again.status, 409, "{}", again.text());

    let context = controller.context.clone();
    let finished = eventually("the rollout finishes", Duration::from_secs(120), || {
        let context = context.clone();
        async move {
            let record = context.store.agent_rollouts.newest().unwrap()?;
            (record.state == RolloutState::Finished).then_some(record)
        }
    })
    .await;
    let updates: Vec<_> = finished
        .updates
        .iter()
        .map(|update| {
            controller
                .context
                .store
                .agent_updates
                .get(&update.update_id)
                .unwrap()
                .unwrap()
        })
        .collect();
    assert_eq!(updates.len(), 2, "{finished:?}");
    assert_eq!(updates[0].agent_id, canary, "the canary goes first");
    assert_eq!(updates[1].agent_id, lab.agent_id);
    for update in &updates {
        assert_eq!(
            update.result,
            Some(AgentUpdateResult::Succeeded),
            "{update:?}\n{}\n{}",
            lab.agent.log_text(),
            canary_agent.log_text()
        );
    }
    let canary_done = updates[0].finished_at_ms.unwrap();
    assert!(
        updates[1].requested_at_ms >= canary_done,
        "the fleet waits for the canary's confirmation: {} < {canary_done}",
        updates[1].requested_at_ms
    );
    assert_eq!(version_of(&canary_exe), new_version);
    assert_eq!(version_of(&lab.exe), new_version);
    assert_eq!(lab.agent.exits(), vec![Some(75)]);
    assert_eq!(canary_agent.exits(), vec![Some(75)]);

    let view = client.get("/api/v1/agent-rollout").await;
    assert_eq!(view.status, 200);
    assert_eq!(view.json()["state"], "finished", "{}", view.text());
    let page = client.get("/agents/rollout").await;
    assert_eq!(page.status, 200);
    let html = page.text();
    assert!(
        html.contains("Finished") && html.contains(&new_version),
        "{html}"
    );
    // Finished: the form is back for the next version.
    assert!(html.contains("Start rollout"), "{html}");
}
