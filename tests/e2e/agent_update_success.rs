//! An agent updated from the controller to a really newer build through the API: it checks
//! and installs the build, exits 75, is restarted by its supervisor into the new binary, and
//! comes back with the new version; the operation reads succeeded in the API and on its page,
//! the previous binary is kept as `<exe>.previous`, and no report is lost across the restart.

use super::agent_update::{newer_agent, points_grow, version_of, wait_for_state, Lab};
use std::time::Duration;
use unity_controller::storage::agent_updates::{AgentUpdateResult, AgentUpdateState};
use unity_tests::{add_user, eventually, logged_in_client};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_is_updated_to_a_newer_build_and_comes_back_with_it() {
    let newer = newer_agent();
    let new_version = version_of(&newer);
    let lab = Lab::start().await;
    let old_version = version_of(&lab.exe);
    assert_ne!(
        old_version, new_version,
        "the newer build reports another version"
    );
    let controller = &lab.controller;
    let before = points_grow(controller, &lab.agent_id, 2).await;
    lab.add_build(&newer, &new_version, std::env::consts::ARCH)
        .await;

    let password = add_user(controller, "alice", "admin").await;
    let mut client = logged_in_client(controller, "alice", &password).await;
    let path = format!("/api/v1/hosts/{}/agent-update", lab.agent_id);
    let response = client
        .post_json(&path, &serde_json::json!({ "confirm_within": "30s" }))
        .await;
    assert_eq!(response.status, 202, "{}", response.text());
    let asked = response.json();
    assert_eq!(asked["action"], "agent_update");
    assert_eq!(asked["state"], "queued");
    assert_eq!(asked["from_version"], old_version.as_str());
    assert_eq!(asked["to_version"], new_version.as_str());
    let id = asked["id"].as_str().unwrap().to_owned();
    // A second update while this one runs is refused.
    let again = client.post_json(&path, &serde_json::json!({})).await;
    assert_eq!(again.status, 409, "{}", again.text());

    let record = wait_for_state(
        controller,
        &id,
        AgentUpdateState::Finished,
        Duration::from_secs(60),
    )
    .await;
    assert_eq!(
        record.result,
        Some(AgentUpdateResult::Succeeded),
        "{record:?}\n{}",
        lab.agent.log_text()
    );
    assert!(record.restarting_at_ms.is_some(), "{record:?}");
    assert_eq!(lab.agent.exits(), vec![Some(75)], "one exit, to restart");
    assert_eq!(lab.agent.starts(), 2);
    assert_eq!(
        version_of(&lab.exe),
        new_version,
        "the new binary is in place"
    );
    let previous = lab.exe.with_file_name("unity-agent.previous");
    assert_eq!(
        version_of(&previous),
        old_version,
        "the previous binary is kept"
    );
    let stored = controller
        .context
        .store
        .agents
        .agent(&lab.agent_id)
        .unwrap()
        .unwrap();
    assert_eq!(stored.agent_version, new_version);
    // The controller records the success at the hello; the agent ends its trial at the
    // welcome that follows.
    let trial = lab.dir.path().join("agent/data/self-update-trial.json");
    eventually(
        "the trial ended with the confirmation",
        Duration::from_secs(10),
        || {
            let trial = trial.clone();
            async move { (!trial.exists()).then_some(()) }
        },
    )
    .await;

    // The new process reports, and every report reached the controller: with only the system
    // collector, one memory point per report, numbered from 1 without a gap.
    let after = points_grow(controller, &lab.agent_id, before + 3).await;
    let agent_id = &lab.agent_id;
    eventually(
        "every report of both processes stored",
        Duration::from_secs(30),
        || async move {
            let n = super::agent_update::n_points(controller, agent_id).await;
            let last_seq = controller
                .context
                .store
                .series
                .last_seq(agent_id.as_str())
                .unwrap()
                .unwrap_or(0);
            (last_seq > 0 && n as u64 == last_seq).then_some(())
        },
    )
    .await;
    assert!(after > before);

    // The operation, as the API lists it and as its page shows it.
    let list = client.get("/api/v1/operations").await;
    assert_eq!(list.status, 200);
    let listed = list.json();
    let entry = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|entry| entry["id"] == id.as_str())
        .expect("the agent update is listed");
    assert_eq!(entry["outcome"], "succeeded");
    assert_eq!(entry["state"], "finished");
    let one = client.get(&format!("/api/v1/operations/{id}")).await;
    assert_eq!(one.json()["outcome"], "succeeded", "{}", one.text());
    let page = client.get(&format!("/operations/{id}")).await;
    assert_eq!(page.status, 200);
    let html = page.text();
    assert!(html.contains("Succeeded"), "{html}");
    assert!(html.contains(&new_version), "{html}");
    let agents = client.get("/agents").await.text();
    assert!(
        agents.contains(&new_version),
        "the agents page shows the version"
    );
    assert!(agents.contains("Update agent"), "and the update button");
}
