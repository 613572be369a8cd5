//! Tests of the scanner parsers on real outputs (testdata/SOURCES.md) and of scans through
//! fake `trivy` and `grype` programs in the test's directory that replay those outputs, fail,
//! or hang.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use unity_shared::model::scan::{
    GateAction, GateThreshold, ImageScan, Scanner, ScannerState, Severity, VulnerabilityGate,
};

use super::gate::{check, Image};
use super::{
    cache, grype, scan, scan_now, scanner_state, trivy, ScanError, ScanMode, ScanSettings,
};

const TRIVY_BUSTER: &str = include_str!("testdata/trivy-image-debian-buster.json");
const TRIVY_UBUNTU: &str = include_str!("testdata/trivy-image-ubuntu-18.04.json");
const TRIVY_ALPINE: &str = include_str!("testdata/trivy-image-alpine-3.10-os-vulns.json");
const TRIVY_SPRING: &str =
    include_str!("testdata/trivy-image-spring4shell-jre11-jar-and-custom.json");
const TRIVY_NO_RESULTS: &str = include_str!("testdata/trivy-image-alpine-3.9-skip-no-results.json");
const GRYPE_IMAGE: &str = include_str!("testdata/grype-image-presenter-snapshot.json");
const GRYPE_EMPTY: &str = include_str!("testdata/grype-empty-presenter-snapshot.json");

fn summary(scanner: Scanner, findings: Vec<(String, Severity)>) -> ImageScan {
    ImageScan::from_findings(scanner, "sha256:x".into(), 0, findings)
}

#[test]
fn issue_17_trivy_reports_count_distinct_ids_by_severity() {
    let buster = trivy::parse(TRIVY_BUSTER.as_bytes()).unwrap();
    assert_eq!(buster.version.as_deref(), Some("dev"));
    let buster = summary(Scanner::Trivy, buster.findings);
    assert_eq!((buster.counts.critical, buster.counts.low), (1, 1));
    assert_eq!(buster.findings[0].id, "CVE-2019-18224");
    assert_eq!(buster.findings[0].severity, Severity::Critical);

    // The same CVE in four packages counts once.
    let ubuntu = summary(
        Scanner::Trivy,
        trivy::parse(TRIVY_UBUNTU.as_bytes()).unwrap().findings,
    );
    assert_eq!((ubuntu.counts.medium, ubuntu.counts.low), (1, 1));
    assert_eq!(ubuntu.counts.total(), 2);

    let alpine = summary(
        Scanner::Trivy,
        trivy::parse(TRIVY_ALPINE.as_bytes()).unwrap().findings,
    );
    assert_eq!(alpine.counts.medium, 2);

    // An os-pkgs result without `Vulnerabilities`, a jar with Spring4Shell, a custom result.
    let spring = summary(
        Scanner::Trivy,
        trivy::parse(TRIVY_SPRING.as_bytes()).unwrap().findings,
    );
    assert_eq!(spring.counts.critical, 1);
    assert_eq!(spring.findings[0].id, "CVE-2022-22965");
}

#[test]
fn issue_17_trivy_report_without_results_is_a_clean_scan() {
    let parsed = trivy::parse(TRIVY_NO_RESULTS.as_bytes()).unwrap();
    assert!(parsed.findings.is_empty());
    assert_eq!(summary(Scanner::Trivy, parsed.findings).counts.total(), 0);
}

#[test]
fn issue_17_stray_json_is_not_a_clean_scan() {
    assert!(trivy::parse(b"{}").is_err());
    assert!(trivy::parse(b"not json").is_err());
    assert!(trivy::parse(br#"{"SchemaVersion": 1}"#).is_err());
    assert!(grype::parse(b"{}").is_err());
    assert!(grype::parse(TRIVY_BUSTER.as_bytes()).is_err());
}

#[test]
fn issue_17_grype_documents_parse() {
    let parsed = grype::parse(GRYPE_IMAGE.as_bytes()).unwrap();
    assert_eq!(parsed.version.as_deref(), Some("[not provided]"));
    let scan = summary(Scanner::Grype, parsed.findings);
    assert_eq!((scan.counts.critical, scan.counts.low), (1, 1));
    assert_eq!(scan.findings[0].id, "CVE-1999-0002");
    let empty = grype::parse(GRYPE_EMPTY.as_bytes()).unwrap();
    assert!(empty.findings.is_empty());
}

/// A directory with fake scanners: each prints `output` to stdout and exits with `status`,
/// after sleeping `sleep` seconds.
struct FakeScanners {
    dir: tempfile::TempDir,
}

impl FakeScanners {
    fn new() -> FakeScanners {
        FakeScanners {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// `trivy`/`grype` replaying `output`; the argument lines go to `<program>.args`.
    fn install(&self, program: &str, output: &str, status: i32, sleep_seconds: u32) {
        use std::os::unix::fs::PermissionsExt as _;
        let replay = self.dir.path().join(format!("{program}.out"));
        std::fs::write(&replay, output).unwrap();
        let args = self.dir.path().join(format!("{program}.args"));
        let script = format!(
            "#!/bin/sh\nprintf '%s\\n' \"$@\" >> '{}'\necho \"$TRIVY_CACHE_DIR $GRYPE_DB_CACHE_DIR\" > '{}.env'\nsleep {sleep_seconds}\ncat '{}'\nexit {status}\n",
            args.display(),
            args.display(),
            replay.display()
        );
        let path = self.dir.path().join(program);
        std::fs::write(&path, script).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    fn args(&self, program: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(format!("{program}.args"))).unwrap_or_default()
    }

    fn settings(&self) -> ScanSettings {
        ScanSettings {
            timeout: Duration::from_secs(5),
            search_path: Some(self.dir.path().as_os_str().to_owned()),
            ..ScanSettings::defaults(self.dir.path())
        }
    }

    fn cache_file(&self) -> PathBuf {
        self.settings().cache_file
    }
}

fn image<'a>(id: &'a str, digests: &'a [String]) -> Image<'a> {
    Image {
        id,
        repo_digests: digests,
        reference: id,
    }
}

#[tokio::test]
async fn issue_17_scanner_detection_says_which_or_none() {
    let fakes = FakeScanners::new();
    assert_eq!(scanner_state(&fakes.settings()), ScannerState::NotInstalled);
    fakes.install("grype", GRYPE_EMPTY, 0, 0);
    assert_eq!(
        scanner_state(&fakes.settings()),
        ScannerState::Available(Scanner::Grype)
    );
    fakes.install("trivy", TRIVY_BUSTER, 0, 0);
    assert_eq!(
        scanner_state(&fakes.settings()),
        ScannerState::Available(Scanner::Trivy)
    );
    let off = ScanSettings {
        mode: ScanMode::Off,
        ..fakes.settings()
    };
    assert_eq!(scanner_state(&off), ScannerState::Off);
    let error = scan_now(&off, "sha256:a", &[], "sha256:a")
        .await
        .unwrap_err();
    assert!(matches!(error, ScanError::NoScanner));
}

#[tokio::test]
async fn issue_17_fake_trivy_replays_a_real_report_and_is_cached() {
    let fakes = FakeScanners::new();
    fakes.install("trivy", TRIVY_BUSTER, 0, 0);
    let digests = vec!["registry.lan/app@sha256:abc".to_owned()];
    let scanned = scan(
        &fakes.settings(),
        "sha256:old",
        &digests,
        "registry.lan/app@sha256:abc",
    )
    .await
    .unwrap();
    assert_eq!(scanned.counts.critical, 1);
    assert!(scanned.is_of("sha256:abc"));
    assert_eq!(
        fakes.args("trivy"),
        "image\n--format\njson\n--scanners\nvuln\n--quiet\nregistry.lan/app@sha256:abc\n"
    );
    let env = std::fs::read_to_string(fakes.dir.path().join("trivy.args.env")).unwrap();
    let databases = fakes.dir.path().join("scanner-databases");
    assert_eq!(
        env.trim(),
        format!("{0}/trivy {0}/grype", databases.display())
    );
    // From the cache now: the fake is not run again.
    let again = scan(&fakes.settings(), "sha256:old", &digests, "x")
        .await
        .unwrap();
    assert_eq!(again, scanned);
    assert_eq!(fakes.args("trivy").lines().count(), 7);
    assert_eq!(cache::load(&fakes.cache_file()).scans, vec![scanned]);
}

#[tokio::test]
async fn issue_17_fake_grype_without_matches_is_clean() {
    let fakes = FakeScanners::new();
    fakes.install("grype", GRYPE_EMPTY, 0, 0);
    let scanned = scan_now(&fakes.settings(), "sha256:a", &[], "sha256:a")
        .await
        .unwrap();
    assert_eq!(scanned.scanner, Scanner::Grype);
    assert_eq!(scanned.counts.total(), 0);
    assert_eq!(fakes.args("grype"), "-o\njson\n-q\nsha256:a\n");
}

#[tokio::test]
async fn issue_17_a_failing_scanner_is_an_error_kept_in_the_cache() {
    let fakes = FakeScanners::new();
    fakes.install("trivy", "", 2, 0);
    let error = scan(&fakes.settings(), "sha256:a", &[], "sha256:a")
        .await
        .unwrap_err();
    assert!(matches!(error, ScanError::Exit { .. }), "{error}");
    assert!(error.to_string().contains("status 2"), "{error}");
    let cached = cache::load(&fakes.cache_file());
    assert!(cached.scans.is_empty());
    assert_eq!(cached.failures[0].image_id, "sha256:a");
}

#[tokio::test]
async fn issue_17_a_hung_scanner_is_killed_at_the_timeout() {
    let fakes = FakeScanners::new();
    fakes.install("trivy", TRIVY_BUSTER, 0, 600);
    let settings = ScanSettings {
        timeout: Duration::from_millis(500),
        ..fakes.settings()
    };
    let started = Instant::now();
    let error = scan_now(&settings, "sha256:a", &[], "sha256:a")
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(matches!(error, ScanError::Exec(_)), "{error}");
    assert!(error.to_string().contains("did not finish"), "{error}");
}

#[tokio::test]
async fn issue_17_output_past_the_cap_fails_the_scan() {
    let fakes = FakeScanners::new();
    fakes.install("trivy", TRIVY_UBUNTU, 0, 0);
    let settings = ScanSettings {
        max_output_bytes: 1024,
        ..fakes.settings()
    };
    let error = scan_now(&settings, "sha256:a", &[], "sha256:a")
        .await
        .unwrap_err();
    assert!(matches!(error, ScanError::TooLarge { .. }), "{error}");
}

/// Two fake trivys in one: the candidate's reference gets `candidate`, everything else
/// `current`.
fn install_pair(fakes: &FakeScanners, current: &str, candidate: &str) {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = fakes.dir.path();
    std::fs::write(dir.join("current.json"), current).unwrap();
    std::fs::write(dir.join("candidate.json"), candidate).unwrap();
    let script = format!(
        "#!/bin/sh\nfor last; do :; done\nif [ \"$last\" = sha256:new ]; then cat '{0}/candidate.json'; else cat '{0}/current.json'; fi\n",
        dir.display()
    );
    std::fs::write(dir.join("trivy"), script).unwrap();
    std::fs::set_permissions(dir.join("trivy"), std::fs::Permissions::from_mode(0o755)).unwrap();
}

const AUTOMATIC: VulnerabilityGate = VulnerabilityGate {
    threshold: GateThreshold::Critical,
    automatic: true,
};

#[tokio::test]
async fn issue_17_gate_blocks_an_automatic_update_with_more_critical() {
    let fakes = FakeScanners::new();
    // ubuntu 18.04 has no critical; debian buster has one.
    install_pair(&fakes, TRIVY_UBUNTU, TRIVY_BUSTER);
    let checked = check(
        &fakes.settings(),
        &AUTOMATIC,
        image("sha256:old", &[]),
        image("sha256:new", &[]),
    )
    .await;
    assert_eq!(
        checked.action,
        GateAction::Block("vulnerability gate: 1 more critical".into())
    );
    let manual = VulnerabilityGate {
        automatic: false,
        ..AUTOMATIC
    };
    let checked = check(
        &fakes.settings(),
        &manual,
        image("sha256:old", &[]),
        image("sha256:new", &[]),
    )
    .await;
    assert!(matches!(checked.action, GateAction::Warn(_)), "{checked:?}");
    assert!(checked.line.contains("applied anyway"), "{}", checked.line);
}

#[tokio::test]
async fn issue_17_gate_passes_a_candidate_that_fixes_critical() {
    let fakes = FakeScanners::new();
    install_pair(&fakes, TRIVY_SPRING, TRIVY_NO_RESULTS);
    let checked = check(
        &fakes.settings(),
        &AUTOMATIC,
        image("sha256:old", &[]),
        image("sha256:new", &[]),
    )
    .await;
    assert_eq!(checked.action, GateAction::Apply);
    assert_eq!(
        checked.line,
        "vulnerability gate passed: 1 fewer critical; fixes 1 critical"
    );
}

#[tokio::test]
async fn issue_17_gate_blocks_an_automatic_update_when_the_scan_fails_and_skips_without_scanner() {
    let fakes = FakeScanners::new();
    let checked = check(
        &fakes.settings(),
        &AUTOMATIC,
        image("sha256:old", &[]),
        image("sha256:new", &[]),
    )
    .await;
    assert_eq!(checked.action, GateAction::Apply);
    assert!(
        checked.line.contains("neither trivy nor grype"),
        "{}",
        checked.line
    );

    fakes.install("trivy", "", 1, 0);
    let checked = check(
        &fakes.settings(),
        &AUTOMATIC,
        image("sha256:old", &[]),
        image("sha256:new", &[]),
    )
    .await;
    let GateAction::Block(reason) = checked.action else {
        panic!("{checked:?}")
    };
    assert!(
        reason.starts_with("scan failed: current image: trivy exited"),
        "{reason}"
    );
}

#[test]
fn issue_17_cache_keeps_the_newest_per_image_and_ages() {
    let mut stored = cache::ScanCache::default();
    let mut scan = summary(Scanner::Trivy, vec![]);
    scan.scanned_at_ms = 1_000;
    stored.fail("sha256:x", 500, "hung".into());
    stored.put(scan.clone());
    assert!(stored.failures.is_empty());
    assert_eq!(stored.fresh("sha256:x", 1_500, 1_000), Some(scan));
    assert_eq!(stored.fresh("sha256:x", 2_000, 1_000), None);
    assert_eq!(stored.fresh("sha256:y", 1_500, 1_000), None);
}
