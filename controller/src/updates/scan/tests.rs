//! The gate's decisions on real scanner outputs (the agent's testdata, parsed by the agent's
//! own parsers) and the cooldown countdown.

use super::*;
use std::time::Duration;
use unity_agent::update::scan::{grype, trivy};
use unity_shared::model::scan::{ImageScan, ScanFailure, Scanner};

const DIR: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../agent/src/update/scan/testdata/"
);

fn trivy_scan(file: &str, image_id: &str, repo_digest: &str) -> ImageScan {
    let bytes = std::fs::read(format!("{DIR}{file}")).unwrap();
    let parsed = trivy::parse(&bytes).unwrap();
    let mut scan =
        ImageScan::from_findings(Scanner::Trivy, image_id.into(), 1_000, parsed.findings);
    scan.repo_digests = vec![format!("registry.lan/app@{repo_digest}")];
    scan
}

fn agent(name: &str) -> AgentId {
    AgentId::new(name).unwrap()
}

fn fleet_with(scans: Vec<ImageScan>) -> Fleet {
    Fleet {
        hosts: vec![(
            agent("nas"),
            ImageScans {
                scanner: ScannerState::Available(Scanner::Trivy),
                scans,
                failures: Vec::new(),
            },
        )],
    }
}

#[test]
fn issue_17_a_candidate_with_more_critical_is_worse_and_not_automatic() {
    // Ubuntu 18.04 (no critical) now, Debian buster (one critical) offered.
    let fleet = fleet_with(vec![
        trivy_scan(
            "trivy-image-ubuntu-18.04.json",
            "sha256:old",
            "sha256:m-old",
        ),
        trivy_scan(
            "trivy-image-debian-buster.json",
            "sha256:new",
            "sha256:m-new",
        ),
    ]);
    let view = view(
        &fleet,
        &agent("nas"),
        Some("sha256:m-old"),
        "sha256:m-new",
        Some(GateThreshold::Critical),
    );
    assert_eq!(view.verdict, GateVerdict::Worse);
    assert_eq!(view.summary, "1 more critical: not applied automatically");
    assert_eq!(view.scanner, "trivy");
    assert_eq!(view.candidate.map(|counts| counts.critical), Some(1));
    assert!(!fixes_inside_cooldown(&view));
    let delta = delta_of(&fleet, &agent("nas"), "sha256:old", "sha256:m-new").unwrap();
    assert_eq!(
        (delta.critical, delta.new_critical, delta.fixed_critical),
        (1, 1, 0)
    );
}

#[test]
fn issue_17_a_candidate_that_fixes_critical_may_go_inside_its_cooldown() {
    // Spring4Shell now; the candidate's scan found nothing (no `Results`).
    let fleet = fleet_with(vec![
        trivy_scan(
            "trivy-image-spring4shell-jre11-jar-and-custom.json",
            "sha256:old",
            "sha256:m-old",
        ),
        trivy_scan(
            "trivy-image-alpine-3.9-skip-no-results.json",
            "sha256:new",
            "sha256:m-new",
        ),
    ]);
    let view = view(
        &fleet,
        &agent("nas"),
        Some("sha256:m-old"),
        "sha256:m-new",
        Some(GateThreshold::High),
    );
    assert_eq!(view.verdict, GateVerdict::Fixes);
    assert_eq!(
        view.summary,
        "update now: 1 fewer critical; fixes 1 critical"
    );
    assert!(fixes_inside_cooldown(&view));
    let delta = view.delta.unwrap();
    assert_eq!(
        (delta.fixed_critical, delta.fixed_total, delta.new_total),
        (1, 1, 0)
    );
}

#[test]
fn issue_17_high_threshold_counts_high_too() {
    // Grype's snapshot: one critical, one low; as current and as candidate with a trivy
    // report of the same critical count but no high: the same at both thresholds.
    let bytes = std::fs::read(format!("{DIR}grype-image-presenter-snapshot.json")).unwrap();
    let grype_scan = ImageScan::from_findings(
        Scanner::Grype,
        "sha256:old".into(),
        1,
        grype::parse(&bytes).unwrap().findings,
    );
    let candidate = trivy_scan(
        "trivy-image-debian-buster.json",
        "sha256:new",
        "sha256:m-new",
    );
    let delta = CveDelta::between(&grype_scan, &candidate);
    assert_eq!((delta.critical, delta.high), (0, 0));
    // Different ids at the same count: one fixed, one new.
    assert_eq!((delta.fixed_critical, delta.new_critical), (1, 1));
    assert!(!delta.worse_at(GateThreshold::High));
}

#[test]
fn issue_17_without_a_scanner_the_page_says_so() {
    let mut fleet = fleet_with(Vec::new());
    fleet.hosts[0].1.scanner = ScannerState::NotInstalled;
    let seen = view(
        &fleet,
        &agent("nas"),
        Some("sha256:a"),
        "sha256:b",
        Some(GateThreshold::Critical),
    );
    assert_eq!(seen.verdict, GateVerdict::NoScanner);
    assert_eq!(seen.scanner, "not_installed");
    assert!(
        seen.summary.contains("install trivy or grype"),
        "{}",
        seen.summary
    );
    let unknown = view(
        &fleet,
        &agent("other"),
        None,
        "sha256:b",
        Some(GateThreshold::Critical),
    );
    assert_eq!(unknown.scanner, "not_reported");

    // With a scanner but no scans: the candidate is scanned before it is applied; a failure
    // is named.
    fleet.hosts[0].1.scanner = ScannerState::Available(Scanner::Grype);
    let pending = view(
        &fleet,
        &agent("nas"),
        Some("sha256:a"),
        "sha256:b",
        Some(GateThreshold::Critical),
    );
    assert_eq!(pending.verdict, GateVerdict::NotScanned);
    assert_eq!(
        pending.summary,
        "the candidate is scanned before it is applied"
    );
    fleet.hosts[0].1.failures.push(ScanFailure {
        image_id: "sha256:a".into(),
        at_ms: 5,
        message: "grype exited with status 1: db".into(),
    });
    let failed = view(
        &fleet,
        &agent("nas"),
        Some("sha256:a"),
        "sha256:b",
        Some(GateThreshold::Critical),
    );
    assert_eq!(
        failed.summary,
        "scan failed: grype exited with status 1: db"
    );
    let off = view(&fleet, &agent("nas"), Some("sha256:a"), "sha256:b", None);
    assert_eq!(off.verdict, GateVerdict::Off);
}

#[test]
fn issue_17_cooldown_countdown() {
    let hour = 3_600_000;
    let built = 1_000 * hour;
    let shown = countdown(
        Some(built),
        built + hour,
        Duration::from_secs(3 * 3600),
        built + 47 * 60_000,
    )
    .unwrap();
    assert_eq!(shown.text, "eligible in 2h 13m");
    assert_eq!(shown.eligible_at_ms, built + 3 * hour);
    assert!(shown.age_known);
    assert_eq!(
        countdown(Some(built), built, Duration::from_secs(3600), built + hour),
        None
    );
    let unknown = countdown(None, built, Duration::from_secs(2 * 86400), built + hour).unwrap();
    assert!(!unknown.age_known);
    assert_eq!(
        unknown.text,
        "image age unknown: deferred, counted from when it was first seen; eligible in 1d 23h"
    );
    // The one formatter (`waiting::countdown`) rounds up: never "0m" while still waiting.
    let one_second_left = countdown(
        Some(built),
        built,
        Duration::from_secs(3600),
        built + hour - 1,
    )
    .unwrap();
    assert_eq!(one_second_left.text, "eligible in 1s");
}
