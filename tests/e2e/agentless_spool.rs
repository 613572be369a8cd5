//! Issue 16, story 6: data is sacred for agentless hosts too. The controller (a real child
//! process) is killed while the proxy collects an agentless host over the real sshd; the proxy
//! agent is restarted during the outage; when the controller is back, every report collected
//! during the outage is stored, once.

use crate::agentless::{add_nas_request, fingerprint_of, remote_host};
use std::path::Path;
use std::time::Duration;
use unity_agent::agentless::spools::{self, Spools};
use unity_controller::admin::{AdminRequest, AdminResponse, AgentlessRequest};
use unity_controller::domain::agentless::AgentlessView;
use unity_shared::proto::AgentId;
use unity_tests::*;

const BINARY: &str = env!("CARGO_BIN_EXE_unity-e2e-controller");

async fn agentless(process: &ControllerProcess, request: AgentlessRequest) -> AgentlessView {
    match process.call(AdminRequest::Agentless(request)).await {
        AdminResponse::Agentless(mut views) if views.len() == 1 => views.remove(0),
        other => panic!("unexpected answer: {other:?}"),
    }
}

/// `(seq, collected_at_ms)` of the host's reports spooled by the (stopped) proxy.
fn spooled(agent_dir: &Path, host: &AgentId) -> Vec<(u64, i64)> {
    let mut spools = Spools::open(&spools::root_dir(agent_dir), u64::MAX).unwrap();
    spools
        .pending(host, None, usize::MAX)
        .unwrap()
        .into_iter()
        .map(|report| (report.seq, report.collected_at_ms))
        .collect()
}

/// The timestamps of one of the host's `load_average` series (one point per report).
async fn stored_timestamps(process: &ControllerProcess, host: &AgentId) -> Vec<i64> {
    match process.call(query_request(host, "load_average")).await {
        AdminResponse::Series(series) => series
            .first()
            .map(|s| s.points.iter().map(|(t, _)| *t).collect())
            .unwrap_or_default(),
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_16_agentless_reports_of_an_outage_survive_a_proxy_restart_and_arrive_once() {
    init_logging();
    let dir = tempfile::tempdir().unwrap();
    let sshd = remote_host(dir.path());
    let controller_dir = dir.path().join("controller");
    let address = free_udp_address();
    let mut process = ControllerProcess::start(Path::new(BINARY), &controller_dir, address).await;
    let agent_dir = dir.path().join("agent");
    let proxy = process.enroll(&agent_dir).await;
    // The proxy's own reports are rare: this test is about its agentless host's.
    let config = || agent_config(&agent_dir, address, Duration::from_secs(3600));
    let agent = unity_agent::runtime::start(config()).await.unwrap();
    let nas = AgentId::new("nas").unwrap();
    let view = agentless(&process, add_nas_request(sshd.port, &proxy, "system", None)).await;
    let public = view.public_key.unwrap();
    std::fs::write(dir.path().join("authorized_keys"), format!("{public}\n")).unwrap();
    let show = || agentless(&process, AgentlessRequest::Show { name: "nas".into() });
    eventually(
        "the host key to confirm",
        Duration::from_secs(30),
        || async { (show().await.state.as_deref() == Some("host_key_to_confirm")).then_some(()) },
    )
    .await;
    let fingerprint = fingerprint_of(&sshd.host_key.with_extension("pub"));
    agentless(
        &process,
        AgentlessRequest::Confirm {
            name: "nas".into(),
            fingerprint: Some(fingerprint),
        },
    )
    .await;
    eventually("reports of nas stored", Duration::from_secs(30), || async {
        (stored_timestamps(&process, &nas).await.len() >= 2).then_some(())
    })
    .await;

    // The controller dies; the proxy keeps collecting nas into its spool.
    process.kill();
    eventually(
        "reports of nas spooled",
        Duration::from_secs(30),
        || async { (spools::depth_of(&agent_dir, &nas) >= 3).then_some(()) },
    )
    .await;
    agent.stop().await;
    let outage = spooled(&agent_dir, &nas);
    assert!(
        outage.len() >= 2,
        "reports of nas piled up on disk while the controller was down: {outage:?}"
    );
    assert!(outage
        .windows(2)
        .all(|w| w[0].0 < w[1].0 && w[0].1 < w[1].1));

    // The proxy restarts while the controller is still down: nothing spooled is lost.
    let agent = unity_agent::runtime::start(config()).await.unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    agent.stop().await;
    let after_restart = spooled(&agent_dir, &nas);
    assert_eq!(
        after_restart, outage,
        "the spool survived the restart whole"
    );
    let agent = unity_agent::runtime::start(config()).await.unwrap();

    // The controller is back: every report of the outage arrives, once.
    let process = ControllerProcess::start(Path::new(BINARY), &controller_dir, address).await;
    let stored = eventually(
        "every report of the outage stored",
        Duration::from_secs(60),
        || async {
            let stored = stored_timestamps(&process, &nas).await;
            outage
                .iter()
                .all(|(_, at)| stored.contains(at))
                .then_some(stored)
        },
    )
    .await;
    assert!(
        stored.windows(2).all(|w| w[0] < w[1]),
        "duplicates or disorder: {stored:?}"
    );
    // The replayed reports are acknowledged and leave the spool; collection goes on.
    eventually(
        "the outage's reports acknowledged",
        Duration::from_secs(30),
        || async {
            let pending = spooled_while_running(&agent_dir, &nas);
            outage
                .iter()
                .all(|(seq, _)| !pending.contains(seq))
                .then_some(())
        },
    )
    .await;
    let newest = *outage.last().map(|(_, at)| at).unwrap();
    eventually(
        "new reports after the outage",
        Duration::from_secs(30),
        || async {
            let stored = stored_timestamps(&process, &nas).await;
            (stored.last().is_some_and(|at| *at > newest)).then_some(())
        },
    )
    .await;
    agent.stop().await;
    let stored = stored_timestamps(&process, &nas).await;
    assert!(
        stored.windows(2).all(|w| w[0] < w[1]),
        "duplicates or disorder: {stored:?}"
    );
}

/// The sequence numbers of the report files in the host's spool, read without opening the
/// spool (the running proxy owns it).
fn spooled_while_running(agent_dir: &Path, host: &AgentId) -> Vec<u64> {
    std::fs::read_dir(spools::root_dir(agent_dir).join(host.as_str()))
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter_map(|entry| {
                    let name = entry.file_name().to_string_lossy().into_owned();
                    name.strip_suffix(".report")?.parse().ok()
                })
                .collect()
        })
        .unwrap_or_default()
}
