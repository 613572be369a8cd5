//! The vulnerability gate through the agent's real update path on a real dockerd (issue 17
//! §2): a fake `trivy` in the test's directory replays real Trivy reports (a worse candidate,
//! a fixing one), fails, or hangs.

use std::time::{Duration, Instant};

use unity_shared::model::scan::{GateThreshold, VulnerabilityGate};
use unity_shared::model::update::Outcome;
use unity_testbed::engine::EngineKind;

use super::live_tests::Lab;
use super::scan::ScanSettings;

const WITH_CRITICAL: &str = include_str!("scan/testdata/trivy-image-debian-buster.json");
const WITHOUT_CRITICAL: &str = include_str!("scan/testdata/trivy-image-ubuntu-18.04.json");

/// A `trivy` that prints `candidate` for `localhost/app:2` and `current` for anything else,
/// after sleeping `sleep` seconds, exiting with `status`.
fn fake_trivy(dir: &std::path::Path, current: &str, candidate: &str, status: i32, sleep: u32) {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::write(dir.join("current.json"), current).unwrap();
    std::fs::write(dir.join("candidate.json"), candidate).unwrap();
    let script = format!(
        "#!/bin/sh\nsleep {sleep}\nfor last; do :; done\nif [ \"$last\" = localhost/app:2 ]; then cat '{0}/candidate.json'; else cat '{0}/current.json'; fi\nexit {status}\n",
        dir.display()
    );
    std::fs::write(dir.join("trivy"), script).unwrap();
    std::fs::set_permissions(dir.join("trivy"), std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn settings(dir: &std::path::Path, timeout: Duration) -> ScanSettings {
    ScanSettings {
        timeout,
        search_path: Some(dir.as_os_str().to_owned()),
        ..ScanSettings::defaults(dir)
    }
}

fn gate(automatic: bool) -> VulnerabilityGate {
    VulnerabilityGate {
        threshold: GateThreshold::Critical,
        automatic,
    }
}

async fn image_of(lab: &Lab) -> Option<String> {
    let web = lab.inspect("web").await;
    web.config.and_then(|config| config.image)
}

#[tokio::test(flavor = "multi_thread")]
async fn issue_17_live_gate_blocks_a_worse_candidate_and_warns_a_manual_update() {
    let lab = Lab::start(EngineKind::Docker).await;
    let dir = tempfile::tempdir().unwrap();
    fake_trivy(dir.path(), WITHOUT_CRITICAL, WITH_CRITICAL, 0, 0);

    let result = lab
        .update_gated(
            "gate-1",
            "localhost/app:2",
            gate(true),
            settings(dir.path(), Duration::from_secs(30)),
        )
        .await;
    assert_eq!(result.outcome, Outcome::Refused, "{result:#?}");
    assert_eq!(result.message, "vulnerability gate: 1 more critical");
    assert!(result.backup.is_none(), "nothing was touched: {result:#?}");
    assert_eq!(image_of(&lab).await.as_deref(), Some("localhost/app:1"));

    // A manual update goes on and says what the gate found.
    let result = lab
        .update_gated(
            "gate-2",
            "localhost/app:2",
            gate(false),
            settings(dir.path(), Duration::from_secs(30)),
        )
        .await;
    assert_eq!(result.outcome, Outcome::Succeeded, "{result:#?}");
    assert!(
        result.log.iter().any(|line| line.message
            == "vulnerability gate: 1 more critical (a manual update: applied anyway)"),
        "{:#?}",
        result.log
    );
    assert_eq!(image_of(&lab).await.as_deref(), Some("localhost/app:2"));
}

#[tokio::test(flavor = "multi_thread")]
async fn issue_17_live_gate_lets_a_fixing_candidate_through_and_a_hung_scan_blocks() {
    let lab = Lab::start(EngineKind::Docker).await;
    let hung = tempfile::tempdir().unwrap();
    fake_trivy(hung.path(), WITHOUT_CRITICAL, WITHOUT_CRITICAL, 0, 600);
    let started = Instant::now();
    let result = lab
        .update_gated(
            "gate-3",
            "localhost/app:2",
            gate(true),
            settings(hung.path(), Duration::from_secs(2)),
        )
        .await;
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(result.outcome, Outcome::Refused, "{result:#?}");
    assert!(
        result.message.starts_with("scan failed: current image: `"),
        "{}",
        result.message
    );
    assert!(
        result.message.contains("did not finish"),
        "{}",
        result.message
    );
    assert_eq!(image_of(&lab).await.as_deref(), Some("localhost/app:1"));

    let dir = tempfile::tempdir().unwrap();
    fake_trivy(dir.path(), WITH_CRITICAL, WITHOUT_CRITICAL, 0, 0);
    let result = lab
        .update_gated(
            "gate-4",
            "localhost/app:2",
            gate(true),
            settings(dir.path(), Duration::from_secs(30)),
        )
        .await;
    assert_eq!(result.outcome, Outcome::Succeeded, "{result:#?}");
    assert!(
        result
            .log
            .iter()
            .any(|line| line.message
                == "vulnerability gate passed: 1 fewer critical; fixes 1 critical"),
        "{:#?}",
        result.log
    );
    assert_eq!(image_of(&lab).await.as_deref(), Some("localhost/app:2"));
}
