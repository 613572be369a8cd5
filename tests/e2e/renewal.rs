//! Issue 2, test 6: the agent renews its certificate over the authenticated channel before it
//! expires, and keeps reporting with the new one.

use std::time::Duration;
use unity_tests::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificate_is_renewed_before_expiry() {
    init_logging();
    let dir = tempfile::tempdir().unwrap();
    let mut config = controller_config(&dir.path().join("controller"));
    config.certificate_lifetime = Duration::from_secs(9);
    let controller = start_controller(config).await;
    let agent_dir = dir.path().join("agent");
    let (agent_id, agent) =
        enrolled_agent(&controller, &agent_dir, Duration::from_millis(300)).await;
    let first = unity_agent::identity::load(&agent_dir).unwrap();
    let first_not_after = first.not_after_unix().unwrap();

    let renewed = eventually("a renewed certificate", Duration::from_secs(15), || async {
        let identity = unity_agent::identity::load(&agent_dir).ok()?;
        let not_after = identity.not_after_unix()?;
        (not_after > first_not_after).then_some(identity)
    })
    .await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!(now < first_not_after, "renewed only after expiry");
    assert_ne!(
        renewed.key_der, first.key_der,
        "renewal uses a fresh key pair"
    );
    assert_eq!(renewed.agent_id, agent_id);
    let record = controller
        .context
        .store
        .agents
        .agent(&agent_id)
        .unwrap()
        .unwrap();
    assert_eq!(
        record.certificate_not_after,
        renewed.not_after_unix().unwrap()
    );

    // Reports keep flowing past the first certificate's expiry.
    eventually(
        "reports after the first certificate expired",
        Duration::from_secs(20),
        || async {
            let series = query(&controller, &agent_id, "memory_total_bytes").await;
            let newest = series.first()?.points.last()?.0 / 1000;
            (newest > first_not_after + 1).then_some(())
        },
    )
    .await;

    agent.stop().await;
    controller.shutdown().await.unwrap();
}
