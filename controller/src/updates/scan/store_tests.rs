//! The gate over the store (issue 17 §2): a host's reported scans reach the Updates view and
//! the API JSON, and a candidate held back by its cooldown is applied automatically when it
//! fixes critical vulnerabilities (and not when it does not); the scans are real Trivy
//! reports parsed by the agent's parser.

use crate::config::Config;
use crate::context::Context;
use crate::storage::agents::{AgentRecord, StateKind};
use crate::storage::containers::{
    CheckOutcome, DetectedUpdate, UpdateCheckRecord, UpdateKind, UpdateMode,
};
use crate::updates::dispatch::Action;
use std::sync::Arc;
use unity_agent::update::scan::trivy;
use unity_shared::model::container::{Container, ContainerInventory, RunState};
use unity_shared::model::scan::{ImageScan, ImageScans, Scanner, ScannerState};
use unity_shared::proto::AgentId;

const DIR: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../agent/src/update/scan/testdata/"
);

fn agent() -> AgentId {
    AgentId::new("nas-1").unwrap()
}

async fn context() -> (tempfile::TempDir, Arc<Context>) {
    let dir = tempfile::tempdir().unwrap();
    let config = Config::with_data_dir(dir.path().into());
    let ctx = crate::service::offline_context(config).await.unwrap();
    ctx.store
        .agents
        .put_agent(&AgentRecord::enrolled_for_tests(agent(), "nas"))
        .unwrap();
    let container = Container {
        id: "id-app".into(),
        name: "app".into(),
        image: "registry.home.arpa/app:1.0".into(),
        image_id: "sha256:image-v1".into(),
        repo_digests: vec!["registry.home.arpa/app@sha256:v1".into()],
        platform: None,
        image_created_ms: None,
        state: RunState::Running,
        health: None,
        exit_code: None,
        restart_policy: None,
        restart_count: 0,
        created_ms: None,
        started_ms: None,
        ports: Vec::new(),
        mounts: Vec::new(),
        networks: Vec::new(),
        labels: vec![
            ("unity.update.cooldown".into(), "3d".into()),
            ("unity.update.mode".into(), "auto".into()),
        ],
        compose: None,
        usage: None,
        network_mode: None,
        oom_killed: false,
    };
    let inventory = ContainerInventory {
        containers: vec![container],
        ..ContainerInventory::default()
    };
    ctx.store
        .agents
        .put_latest(&agent(), StateKind::Containers, 100, &inventory)
        .unwrap();
    // v2 was built an hour ago: inside the 3-day cooldown.
    let created = crate::clock::now_ms() - 3_600_000;
    ctx.store
        .containers
        .put_check(&UpdateCheckRecord {
            agent_id: agent(),
            container: "app".into(),
            image: "registry.home.arpa/app:1.0".into(),
            checked_at_ms: 50,
            outcome: CheckOutcome::Update(DetectedUpdate {
                kind: UpdateKind::Minor,
                current_tag: Some("1.0".into()),
                current_digest: Some("sha256:v1".into()),
                candidate_tag: "1.1".into(),
                candidate_digest: "sha256:v2".into(),
                candidate_created_ms: Some(created),
                first_seen_ms: created,
                mode: UpdateMode::Auto,
                offered: false,
                held_back: Some("cooldown: offered from 2030-01-01T00:00:00Z".into()),
            }),
        })
        .unwrap();
    (dir, ctx)
}

fn scan_of(file: &str, image_id: &str, digest: &str) -> ImageScan {
    let bytes = std::fs::read(format!("{DIR}{file}")).unwrap();
    let findings = trivy::parse(&bytes).unwrap().findings;
    let mut scan = ImageScan::from_findings(Scanner::Trivy, image_id.into(), 10, findings);
    scan.repo_digests = vec![format!("registry.home.arpa/app@{digest}")];
    scan
}

fn report_scans(ctx: &Context, scanner: ScannerState, scans: Vec<ImageScan>) {
    let scans = ImageScans {
        scanner,
        scans,
        failures: Vec::new(),
    };
    ctx.store
        .agents
        .put_latest(&agent(), StateKind::ImageScans, 200, &scans)
        .unwrap();
}

#[tokio::test]
async fn issue_17_a_fixing_candidate_goes_inside_its_cooldown_and_the_api_says_why() {
    let (_dir, ctx) = context().await;
    report_scans(
        &ctx,
        ScannerState::Available(Scanner::Trivy),
        vec![
            scan_of(
                "trivy-image-spring4shell-jre11-jar-and-custom.json",
                "sha256:image-v1",
                "sha256:v1",
            ),
            scan_of(
                "trivy-image-alpine-3.9-skip-no-results.json",
                "sha256:image-v2",
                "sha256:v2",
            ),
        ],
    );
    let views =
        crate::domain::updates::checks(&ctx, crate::domain::updates::CheckFilter::Update).unwrap();
    let json = serde_json::to_value(&views[0]).unwrap();
    let gate = &json["vulnerability_gate"];
    assert_eq!(gate["scanner"], "trivy");
    assert_eq!(gate["verdict"], "fixes");
    assert_eq!(
        gate["summary"],
        "update now: 1 fewer critical; fixes 1 critical"
    );
    assert_eq!(gate["delta"]["fixed_critical"], 1);
    assert_eq!(gate["current"]["critical"], 1);
    let countdown = json["cooldown"]["text"].as_str().unwrap();
    assert!(countdown.starts_with("eligible in 2d 2"), "{countdown}");

    let planned = crate::updates::auto::plan_now(&ctx, jiff::Timestamp::now()).unwrap();
    assert_eq!(planned.len(), 1, "a fix goes inside the cooldown");
    let Action::Update { gate, digest, .. } = &planned[0].action else {
        panic!("{:?}", planned[0].action)
    };
    assert_eq!(digest.as_deref(), Some("sha256:v2"));
    assert!(gate.is_some_and(|gate| gate.automatic));
}

#[tokio::test]
async fn issue_17_a_worse_candidate_waits_and_a_host_without_scanner_is_named() {
    let (_dir, ctx) = context().await;
    report_scans(
        &ctx,
        ScannerState::Available(Scanner::Trivy),
        vec![
            scan_of(
                "trivy-image-ubuntu-18.04.json",
                "sha256:image-v1",
                "sha256:v1",
            ),
            scan_of(
                "trivy-image-debian-buster.json",
                "sha256:image-v2",
                "sha256:v2",
            ),
        ],
    );
    let views =
        crate::domain::updates::checks(&ctx, crate::domain::updates::CheckFilter::Update).unwrap();
    let json = serde_json::to_value(&views[0]).unwrap();
    assert_eq!(json["vulnerability_gate"]["verdict"], "worse");
    assert!(crate::updates::auto::plan_now(&ctx, jiff::Timestamp::now())
        .unwrap()
        .is_empty());

    report_scans(&ctx, ScannerState::NotInstalled, Vec::new());
    let views =
        crate::domain::updates::checks(&ctx, crate::domain::updates::CheckFilter::Update).unwrap();
    let json = serde_json::to_value(&views[0]).unwrap();
    assert_eq!(json["vulnerability_gate"]["scanner"], "not_installed");
    assert_eq!(json["vulnerability_gate"]["verdict"], "no_scanner");
    assert!(crate::updates::auto::plan_now(&ctx, jiff::Timestamp::now())
        .unwrap()
        .is_empty());
}
