//! Issue 2, test 1: two agents enroll with tokens; their metrics are stored and queryable;
//! the command channel carries ping and collect-now end to end.

use std::time::Duration;
use unity_controller::admin::{AdminRequest, AdminResponse};
use unity_shared::proto::{CollectNow, Ping};
use unity_tests::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_agents_enroll_and_their_metrics_are_stored_and_queryable() {
    init_logging();
    let dir = tempfile::tempdir().unwrap();
    let controller = start_controller(controller_config(&dir.path().join("controller"))).await;
    let interval = Duration::from_millis(200);
    let (first_id, first) = enrolled_agent(&controller, &dir.path().join("a1"), interval).await;
    let (second_id, second) = enrolled_agent(&controller, &dir.path().join("a2"), interval).await;
    assert_ne!(first_id, second_id);

    for agent_id in [&first_id, &second_id] {
        let series = eventually("three reports stored", Duration::from_secs(20), || async {
            let series = query(&controller, agent_id, "memory_total_bytes").await;
            (series.first().map_or(0, |s| s.points.len()) >= 3).then_some(series)
        })
        .await;
        assert_eq!(series.len(), 1);
        let points = &series[0].points;
        assert!(
            points.windows(2).all(|w| w[0].0 < w[1].0),
            "time-ordered, no duplicates"
        );
        assert!(points.iter().all(|(_, value)| *value > 0.0));
        let load = query(&controller, agent_id, "load_average").await;
        let periods: Vec<_> = load.iter().map(|s| s.labels.clone()).collect();
        assert_eq!(load.len(), 3, "{periods:?}");
    }

    match admin_request(&controller, AdminRequest::Hosts).await {
        AdminResponse::Hosts(hosts) => {
            assert_eq!(hosts.len(), 2);
            assert!(
                hosts.iter().all(|host| host.status == "online"),
                "{hosts:?}"
            );
            assert!(hosts
                .iter()
                .all(|host| host.agent_version == env!("CARGO_PKG_VERSION")));
        }
        other => panic!("{other:?}"),
    }

    // The command channel: the controller opens a stream to the agent.
    let hub = &controller.context.hub;
    let pong = hub
        .request(&first_id, Ping { nonce: 42 }, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(pong.nonce, 42);
    let collected = hub
        .request(&second_id, CollectNow, Duration::from_secs(5))
        .await
        .unwrap();
    let seq = collected.seq;
    eventually(
        "the collect-now report stored",
        Duration::from_secs(10),
        || async {
            let stored = controller
                .context
                .store
                .series
                .last_seq(second_id.as_str())
                .unwrap();
            (stored >= Some(seq)).then_some(())
        },
    )
    .await;

    first.stop().await;
    second.stop().await;
    controller.shutdown().await.unwrap();
}
