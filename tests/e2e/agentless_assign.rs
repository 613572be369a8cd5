//! Issue 16, story 6: a change to an agentless host made from sync code with no runtime at
//! hand (the CLI's path through `admin::handle`, on a plain thread) reaches the connected proxy
//! promptly, through the controller's push loop, without waiting for a reconnection.

use std::time::Duration;
use unity_controller::admin::{self, AdminRequest, AdminResponse, AgentlessRequest};
use unity_controller::service::RunningController;
use unity_shared::proto::AgentId;
use unity_tests::*;

/// Runs `request` on a plain OS thread (no tokio runtime there) and returns the answer.
fn from_a_plain_thread(controller: &RunningController, request: AgentlessRequest) -> AdminResponse {
    let ctx = controller.context.clone();
    std::thread::spawn(move || admin::handle(&ctx, AdminRequest::Agentless(request)))
        .join()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_16_a_change_from_sync_code_reaches_the_connected_proxy_promptly() {
    init_logging();
    let dir = tempfile::tempdir().unwrap();
    let controller = start_controller(controller_config(&dir.path().join("controller"))).await;
    let (proxy, agent) = enrolled_agent(
        &controller,
        &dir.path().join("agent"),
        Duration::from_secs(3600),
    )
    .await;
    eventually("the proxy connected", Duration::from_secs(20), || async {
        controller.context.hub.is_connected(&proxy).then_some(())
    })
    .await;
    let nas = AgentId::new("nas").unwrap();
    let proxies_hosts = || -> Vec<AgentId> {
        agent
            .state
            .agentless
            .summary()
            .into_iter()
            .map(|summary| summary.host)
            .collect()
    };
    assert!(proxies_hosts().is_empty());

    let added = from_a_plain_thread(
        &controller,
        AgentlessRequest::Add {
            name: "nas".into(),
            address: "127.0.0.1".into(),
            port: free_port(),
            user: "monitor".into(),
            proxy: proxy.to_string(),
            collect: "system".into(),
            interval_secs: 60,
            key_secret: None,
        },
    );
    assert!(matches!(added, AdminResponse::Agentless(_)), "{added:?}");
    eventually(
        "the proxy assigned nas",
        Duration::from_secs(10),
        || async { proxies_hosts().contains(&nas).then_some(()) },
    )
    .await;
    let spool = unity_agent::agentless::spools::root_dir(&dir.path().join("agent")).join("nas");
    assert!(spool.is_dir(), "the proxy keeps a spool for nas");

    let removed = from_a_plain_thread(&controller, AgentlessRequest::Remove { name: "nas".into() });
    assert!(!matches!(removed, AdminResponse::Error(_)), "{removed:?}");
    eventually("the proxy stopped nas", Duration::from_secs(10), || async {
        (!proxies_hosts().contains(&nas)).then_some(())
    })
    .await;
    assert!(
        controller.context.hub.is_connected(&proxy),
        "no reconnection was needed"
    );
    // Its spool on the proxy went with it.
    assert!(!spool.exists(), "{} left behind", spool.display());
}
