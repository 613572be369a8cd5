//! Issue 13, §3: two machines with one identity (a cloned VM, a copied or restored data
//! directory). The copy notices it is a copy (new instance), the controller refuses it while
//! the original is online and raises an alert naming both, the original is never kicked off,
//! no report of one is acknowledged as a duplicate of the other's, and `unity-agent enroll`
//! gives the copy an identity of its own (without `--force`), under which its spooled reports
//! are stored. A data directory restored on new hardware takes over once the old machine is
//! silent, and its reports are renumbered, not dropped.

use std::collections::BTreeSet;
use std::time::Duration;
use unity_agent::runtime::RunningAgent;
use unity_controller::storage::instances::InstanceStatus;
use unity_shared::proto::AgentId;
use unity_tests::*;

fn status(agent: &RunningAgent) -> (String, Option<String>, i64) {
    let status = agent.state.status.lock().unwrap();
    (
        status.connection.clone(),
        status.last_error.clone(),
        status.connection_since_ms,
    )
}

async fn wait_status(agent: &RunningAgent, wanted: &str, within: Duration) {
    eventually_explained(&format!("the agent {wanted}"), within, || async {
        let (state, error, _) = status(agent);
        if state == wanted {
            Ok(())
        } else {
            Err(format!("{state}, last error {error:?}"))
        }
    })
    .await
}

/// Timestamps of the stored `memory_total_bytes` points (one per report).
async fn stored(
    controller: &unity_controller::service::RunningController,
    agent_id: &AgentId,
) -> Vec<i64> {
    query(controller, agent_id, "memory_total_bytes")
        .await
        .first()
        .map(|series| series.points.iter().map(|(t, _)| *t).collect())
        .unwrap_or_default()
}

/// `collected_at_ms` of every report waiting in the agent's spool.
fn spooled(agent: &RunningAgent) -> BTreeSet<i64> {
    let mut spool = agent.state.spool.lock().unwrap();
    spool
        .pending_after(None, usize::MAX)
        .into_iter()
        .filter_map(|seq| spool.read(seq).unwrap())
        .map(|report| report.collected_at_ms)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clone_is_refused_alerted_and_enrolled_anew_without_disturbing_the_original() {
    init_logging();
    let dir = tempfile::tempdir().unwrap();
    let controller = start_controller(controller_config(&dir.path().join("controller"))).await;
    let (original_dir, clone_dir) = (dir.path().join("original"), dir.path().join("clone"));
    let interval = Duration::from_millis(200);
    let (agent_id, original) = enrolled_agent(&controller, &original_dir, interval).await;
    wait_status(&original, "connected", Duration::from_secs(20)).await;
    eventually("reports stored", Duration::from_secs(20), || async {
        (stored(&controller, &agent_id).await.len() >= 5).then_some(())
    })
    .await;

    // Clone the running agent's data directory and start the clone beside it.
    copy_dir(&original_dir, &clone_dir);
    let clone =
        unity_agent::runtime::start(agent_config(&clone_dir, controller.local_addr, interval))
            .await
            .unwrap();
    assert_ne!(clone.state.instance.id, original.state.instance.id);
    assert!(clone.state.instance.copied_note().is_some());
    wait_status(&clone, "refused", Duration::from_secs(20)).await;
    let (_, error, _) = status(&clone);
    assert!(
        error
            .as_deref()
            .is_some_and(|e| e.contains("identity conflict") && e.contains("unity-agent enroll")),
        "{error:?}"
    );

    // The original stays connected on one connection while the clone retries.
    let (_, _, original_since) = status(&original);
    tokio::time::sleep(Duration::from_secs(4)).await;
    let (state, error, since) = status(&original);
    assert_eq!(
        (state.as_str(), since),
        ("connected", original_since),
        "the original was disturbed: {error:?}"
    );

    // An alert names both machines.
    let context = controller.context.clone();
    let alerts = tokio::task::spawn_blocking(move || {
        unity_controller::alerts::evaluate_once(&context, 0, now_ms()).unwrap();
        context.store.alerts.open_alerts().unwrap()
    })
    .await
    .unwrap();
    let instances = controller
        .context
        .store
        .instances
        .of_agent(&agent_id)
        .unwrap();
    let statuses: Vec<InstanceStatus> = instances.iter().map(|i| i.status).collect();
    assert_eq!(
        statuses,
        vec![InstanceStatus::Active, InstanceStatus::Conflict]
    );
    let conflict = alerts
        .iter()
        .find(|alert| alert.key.starts_with(&format!("identity/{agent_id}/")))
        .unwrap_or_else(|| panic!("no identity alert in {alerts:?}"));
    for instance in &instances {
        assert!(
            conflict.summary.contains(&instance.address),
            "{} does not name {}",
            conflict.summary,
            instance.address
        );
    }

    // Nothing the clone collected was stored (or acknowledged) under the original's identity.
    let clone_reports = spooled(&clone);
    original.stop().await;
    let original_stored: BTreeSet<i64> = stored(&controller, &agent_id).await.into_iter().collect();
    let clone_own: BTreeSet<i64> = clone_reports
        .iter()
        .filter(|at| !original_stored.contains(at))
        .copied()
        .collect();
    assert!(
        !clone_own.is_empty(),
        "the clone spooled reports of its own"
    );
    clone.stop().await;

    // Enrolling the copy gives it its own identity (no --force on a copy) ...
    let token = create_token(&controller, Duration::from_secs(60)).await;
    let clone_id = enroll(
        &clone_dir,
        controller.local_addr,
        &token,
        &controller.context.ca.ca_hash(),
    )
    .await
    .expect("a copied data directory enrolls without --force");
    assert_ne!(clone_id, agent_id);
    // ... while the original's own directory still refuses without it.
    let token = create_token(&controller, Duration::from_secs(60)).await;
    let refused = enroll(
        &original_dir,
        controller.local_addr,
        &token,
        &controller.context.ca.ca_hash(),
    )
    .await;
    assert!(refused.is_err(), "the original needs --force");

    // ... under which everything it spooled is stored.
    let clone = unity_agent::runtime::start(agent_config(
        &clone_dir,
        controller.local_addr,
        Duration::from_secs(3600),
    ))
    .await
    .unwrap();
    wait_status(&clone, "connected", Duration::from_secs(20)).await;
    eventually(
        "the clone's spool drained",
        Duration::from_secs(30),
        || async { spooled(&clone).is_empty().then_some(()) },
    )
    .await;
    let clone_stored: BTreeSet<i64> = stored(&controller, &clone_id).await.into_iter().collect();
    let missing: Vec<&i64> = clone_own.difference(&clone_stored).collect();
    assert!(missing.is_empty(), "clone reports lost: {missing:?}");
    clone.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restored_data_directory_takes_over_and_its_reports_are_renumbered_not_dropped() {
    init_logging();
    let dir = tempfile::tempdir().unwrap();
    let mut config = controller_config(&dir.path().join("controller"));
    config.identity_takeover_after = Duration::from_secs(3);
    let controller = start_controller(config).await;
    let (old_dir, new_dir) = (dir.path().join("old"), dir.path().join("new"));
    let interval = Duration::from_millis(200);
    let (agent_id, old) = enrolled_agent(&controller, &old_dir, interval).await;
    eventually("reports stored", Duration::from_secs(20), || async {
        (stored(&controller, &agent_id).await.len() >= 3).then_some(())
    })
    .await;
    old.stop().await;

    // A backup of the data directory, then the old machine runs on and stores more.
    copy_dir(&old_dir, &new_dir);
    let old = unity_agent::runtime::start(agent_config(&old_dir, controller.local_addr, interval))
        .await
        .unwrap();
    let before = stored(&controller, &agent_id).await.len();
    eventually("more reports stored", Duration::from_secs(20), || async {
        (stored(&controller, &agent_id).await.len() >= before + 5).then_some(())
    })
    .await;
    old.stop().await;

    // The backup is restored on new hardware: its sequence numbers were used since.
    let new = unity_agent::runtime::start(agent_config(&new_dir, controller.local_addr, interval))
        .await
        .unwrap();
    wait_status(&new, "refused", Duration::from_secs(20)).await;
    let waiting = spooled(&new);
    assert!(!waiting.is_empty());
    wait_status(&new, "connected", Duration::from_secs(30)).await;
    eventually(
        "the new machine's spool drained",
        Duration::from_secs(30),
        || async { spooled(&new).is_empty().then_some(()) },
    )
    .await;
    let stored_now = stored(&controller, &agent_id).await;
    assert!(
        stored_now.windows(2).all(|pair| pair[0] < pair[1]),
        "disorder"
    );
    let stored_set: BTreeSet<i64> = stored_now.into_iter().collect();
    let lost: Vec<&i64> = waiting.difference(&stored_set).collect();
    assert!(
        lost.is_empty(),
        "reports acknowledged as duplicates but never stored: {lost:?}"
    );

    // The old machine coming back is now the one refused.
    let old = unity_agent::runtime::start(agent_config(&old_dir, controller.local_addr, interval))
        .await
        .unwrap();
    wait_status(&old, "refused", Duration::from_secs(20)).await;
    old.stop().await;
    new.stop().await;
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}
