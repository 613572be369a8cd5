//! Golden (snapshot) tests over every fixture in `testdata/`, text/JSON parity, and
//! never-panic property tests over garbage and every prefix of every fixture.
//!
//! Snapshots live next to the fixtures as `testdata/<fixture>.expect.json`; refresh them with
//! `UPDATE_EXPECT=1 cargo test -p unity-agent --lib collect::smart`.

#![allow(clippy::indexing_slicing)]

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use unity_shared::model::storage::{ReasonKind, VerdictStatus};

use super::{parse, parse_json, parse_text, verdict, SmartThresholds};

pub(super) fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src/collect/smart/testdata")
}

/// Every fixture (not SOURCES.md, not snapshots), sorted.
pub(super) fn fixtures() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(testdata())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_file())
        .filter(|path| {
            let name = name(path);
            (name.ends_with(".txt") || name.ends_with(".json")) && !name.ends_with(".expect.json")
        })
        .collect();
    files.sort();
    files
}

/// Fixtures are bytes (some are Latin-1 with CRLF); the run side reads stdout the same way.
pub(super) fn read(path: &Path) -> String {
    String::from_utf8_lossy(&std::fs::read(path).unwrap()).into_owned()
}

pub(super) fn name(path: &Path) -> String {
    path.file_name().unwrap().to_string_lossy().into_owned()
}

/// The snapshot: the same `{model, verdict, warnings}` shape `unity-agent parse` prints, with
/// fields in declaration order.
#[derive(serde::Serialize)]
struct Snapshot<'a> {
    model: &'a unity_shared::model::storage::SmartReport,
    verdict: &'a unity_shared::model::storage::Verdict,
    warnings: &'a [unity_shared::model::storage::ParseWarning],
}

fn status_of(file: &str) -> VerdictStatus {
    let (report, _) = parse(&read(&testdata().join(file))).unwrap();
    verdict(&report, &SmartThresholds::default()).status
}

#[test]
fn golden_every_fixture() {
    let fixtures = fixtures();
    assert!(
        fixtures.len() >= 48,
        "found only {} fixtures",
        fixtures.len()
    );
    for path in fixtures {
        let input = read(&path);
        let (report, warnings) =
            parse(&input).unwrap_or_else(|error| panic!("{}: {error}", name(&path)));
        let verdict = verdict(&report, &SmartThresholds::default());
        let snapshot = Snapshot {
            model: &report,
            verdict: &verdict,
            warnings: &warnings,
        };
        let text = serde_json::to_string_pretty(&snapshot).unwrap() + "\n";
        let expect_path = testdata().join(format!("{}.expect.json", name(&path)));
        expect_test::expect_file![expect_path].assert_eq(&text);
    }
}

#[track_caller]
fn check_status(file: &str, expected: VerdictStatus) {
    assert_eq!(status_of(file), expected, "{file}");
}

#[test]
fn failed_drives_are_failing() {
    for file in [
        "linuxfabrik-ata-seagate-ironwolf-st12000vn0007-FAILED-7.0.txt",
        "linuxhw-ata-hgst-he12-huh721212aln604-helium-FAILED-7.0.txt",
        "linuxhw-ata-hp-mb1000gcehh-realloc-FAILED-7.1.txt",
        "linuxhw-nvme-samsung-970evoplus-FAILED-readonly-7.1.txt",
        "smartctl-exporter-nvme-samsung-mzwll3t2hajq-FAILED-crit16.json",
    ] {
        check_status(file, VerdictStatus::Failing);
    }
}

#[test]
fn realloc_304_is_not_passed() {
    check_status(
        "smartctl-exporter-sat-seagate-st3500418as-realloc304.json",
        VerdictStatus::Failing,
    );
}

#[test]
fn error_log_entries_warn() {
    check_status(
        "smartctl-exporter-sat-hgst-hus724020ale640-exit64.json",
        VerdictStatus::Warning,
    );
}

#[test]
fn open_failed_and_standby() {
    check_status(
        "scrutiny-windows-open-failed-exit2.json",
        VerdictStatus::Warning,
    );
    check_status("telegraf-standby-7.4.txt", VerdictStatus::Passed);
}

#[test]
fn healthy_drives_pass() {
    for file in [
        "pysmart-ata-hdd-wd-hc550-wuh721816ale6l4-windows-7.3.txt",
        "pysmart-ata-hdd-wd-hc550-windows-7.3.json",
        "pysmart-nvme-wd-black-sn770-windows-7.3.txt",
        "pysmart-nvme-wd-black-sn770-windows-7.3.json",
        "scrutiny-sat-ssd-samsung-860evo-7.0-x.json",
        "pysmart-nvme-samsung-970evoplus-7.2-pve.txt",
        "linuxfabrik-sas-hp-eg1200jemda-7.0-x.txt",
        "scrutiny-scsi-sas-seagate-st1200mm0088-6.7.json",
    ] {
        check_status(file, VerdictStatus::Passed);
    }
}

#[test]
fn self_test_failure_is_reported() {
    let (report, _) = parse(&read(
        &testdata().join("linuxhw-ata-hgst-hms5c4040ble640-selftest-read-failure-7.1.txt"),
    ))
    .unwrap();
    let verdict = verdict(&report, &SmartThresholds::default());
    assert!(verdict
        .reasons
        .iter()
        .any(|r| r.kind == ReasonKind::SelfTestFailed));
    assert_ne!(verdict.status, VerdictStatus::Passed);
}

#[test]
fn empty_and_garbage_are_errors() {
    for input in [
        "",
        "\n\n",
        "{}",
        "[1,2]",
        "{\"a\": 1}",
        "not smartctl at all",
        "{ nope",
    ] {
        assert!(parse(input).is_err(), "{input:?}");
    }
}

/// Prefixes of every fixture parse to a value or an error, never a panic. By default a sample
/// of about 100 cut points per fixture (the first 40 bytes, then evenly spaced); with
/// `RUN_SLOW_TESTS=1`, every prefix.
#[test]
fn prefixes_of_every_fixture() {
    let every = std::env::var_os("RUN_SLOW_TESTS").is_some();
    for path in fixtures() {
        let input = read(&path);
        let mut ends: Vec<usize> = input.char_indices().map(|(at, _)| at).collect();
        ends.push(input.len());
        let step = if every { 1 } else { (ends.len() / 60).max(1) };
        for (n, end) in ends.iter().enumerate() {
            if n >= 40 && n % step != 0 && n != ends.len() - 1 {
                continue;
            }
            let prefix = input.get(..*end).unwrap();
            let _ = parse_text(prefix);
            let _ = parse_json(prefix);
            if let Ok((report, _)) = parse(prefix) {
                let _ = verdict(&report, &SmartThresholds::default());
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_text_never_panics(input in "\\PC{0,400}") {
        let _ = parse_text(&input);
        let _ = parse_json(&input);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let input = String::from_utf8_lossy(&bytes);
        if let Ok((report, _)) = parse(&input) {
            let _ = verdict(&report, &SmartThresholds::default());
        }
    }

    #[test]
    fn smartctl_like_lines_never_panic(
        lines in proptest::collection::vec(
            prop_oneof![
                Just("smartctl 7.3 2022-02-28 r5338".to_owned()),
                Just("=== START OF INFORMATION SECTION ===".to_owned()),
                Just("=== START OF READ SMART DATA SECTION ===".to_owned()),
                Just("Vendor Specific SMART Attributes with Thresholds:".to_owned()),
                Just("SMART/Health Information (NVMe Log 0x02)".to_owned()),
                Just("Error counter log:".to_owned()),
                Just("SMART Extended Self-test Log Version: 1 (1 sectors)".to_owned()),
                Just("SMART Error Log Version: 1".to_owned()),
                "[0-9]{1,3} [A-Za-z_]{1,12} [-POSRCK0x]{1,6} [0-9-]{1,3} [0-9-]{1,3} [0-9-]{1,3} [A-Za-z_-]{1,6} [ -~]{0,20}",
                "# ?[0-9]{1,2} [ -~]{0,60}",
                "[A-Za-z ]{1,30}: [ -~]{0,30}",
                "(read|write|verify): [0-9 .,]{0,40}",
            ],
            0..30,
        )
    ) {
        let input = lines.join("\n");
        if let Ok((report, _)) = parse_text(&input) {
            let _ = verdict(&report, &SmartThresholds::default());
        }
    }
}

mod run_side {
    //! The run side end to end against a fake `smartctl` that replays fixtures with their real
    //! exit codes.

    use std::os::unix::fs::PermissionsExt;
    use std::path::{Path, PathBuf};
    use std::time::Duration;

    use unity_shared::model::storage::{CollectorOutcome, VerdictStatus};

    use super::testdata;
    use crate::collect::smart::{collect, SmartConfig};

    /// Writes an executable shell script `name` into `dir`.
    pub(crate) fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    fn fixture(name: &str) -> String {
        testdata().join(name).display().to_string()
    }

    fn config(smartctl: PathBuf) -> SmartConfig {
        SmartConfig {
            smartctl_path: smartctl,
            timeout: Duration::from_secs(10),
            ..SmartConfig::default()
        }
    }

    #[tokio::test]
    async fn json_path_with_real_exit_codes() {
        let dir = tempfile::tempdir().unwrap();
        let body = format!(
            r#"case "$*" in
  --version) echo "smartctl 7.3 2022-02-28 r5338 [x86_64-linux-6.1.0] (local build)" ;;
  --scan-open) printf '/dev/sda -d sat # /dev/sda [SAT], ATA device\n# /dev/sdx -d scsi # /dev/sdx, open failed\n/dev/sdb -d sat # /dev/sdb [SAT], ATA device\n/dev/nvme0 -d nvme # /dev/nvme0, NVMe device\n' ;;
  *-j*/dev/sda) cat '{a}'; exit 64 ;;
  *-j*/dev/sdb) cat '{b}'; exit 0 ;;
  *-j*/dev/nvme0) cat '{c}'; exit 8 ;;
  *) echo "unexpected: $*" >&2; exit 1 ;;
esac
"#,
            a = fixture("smartctl-exporter-sat-hgst-hus724020ale640-exit64.json"),
            b = fixture("smartctl-exporter-sat-seagate-st3500418as-realloc304.json"),
            c = fixture("smartctl-exporter-nvme-samsung-mzwll3t2hajq-FAILED-crit16.json"),
        );
        let smartctl = script(dir.path(), "smartctl", &body);
        let collection = collect(&config(smartctl)).await;
        assert_eq!(collection.outcome, CollectorOutcome::Ok);
        let summary: Vec<(String, Option<VerdictStatus>, Option<u8>)> = collection
            .devices
            .iter()
            .map(|d| {
                assert!(d.error.is_none(), "{d:?}");
                (
                    d.device.clone(),
                    d.verdict.as_ref().map(|v| v.status),
                    d.report
                        .as_ref()
                        .and_then(|r| r.smartctl.exit_status)
                        .map(|s| s.raw),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                (
                    "/dev/sda".to_owned(),
                    Some(VerdictStatus::Warning),
                    Some(64)
                ),
                ("/dev/sdb".to_owned(), Some(VerdictStatus::Failing), Some(0)),
                (
                    "/dev/nvme0".to_owned(),
                    Some(VerdictStatus::Failing),
                    Some(8)
                ),
            ]
        );
        let sda = collection.devices[0].report.as_ref().unwrap();
        assert!(sda.smartctl.exit_status.unwrap().error_log_has_errors);
    }

    #[tokio::test]
    async fn old_smartctl_uses_text_and_bad_json_falls_back_to_text() {
        let dir = tempfile::tempdir().unwrap();
        let text = fixture("linuxhw-ata-hp-mb1000gcehh-realloc-FAILED-7.1.txt");
        let old = script(
            dir.path(),
            "smartctl-6.5",
            &format!(
                r#"case "$*" in
  --version) echo "smartctl 6.5 2016-01-24 r4214 [x86_64-linux-4.4.0] (local build)" ;;
  --scan-open) echo "/dev/sda -d sat # /dev/sda [SAT], ATA device" ;;
  *-j*) echo "unexpected JSON request" >&2; exit 1 ;;
  *) cat '{text}'; exit 24 ;;
esac
"#
            ),
        );
        let collection = collect(&config(old)).await;
        let device = &collection.devices[0];
        assert_eq!(
            device.verdict.as_ref().unwrap().status,
            VerdictStatus::Failing
        );
        let status = device
            .report
            .as_ref()
            .unwrap()
            .smartctl
            .exit_status
            .unwrap();
        assert!(status.disk_failing && status.prefail_below_threshold);

        let broken_json = script(
            dir.path(),
            "smartctl-broken-json",
            &format!(
                r#"case "$*" in
  --version) echo "smartctl 7.4 2023-08-01 r5530 [x86_64-linux] (local build)" ;;
  --scan-open) echo "/dev/sda -d sat # /dev/sda [SAT], ATA device" ;;
  *-j*) echo '{{"smartctl": ' ;;
  *) cat '{text}'; exit 24 ;;
esac
"#
            ),
        );
        let collection = collect(&config(broken_json)).await;
        let device = &collection.devices[0];
        assert!(device.error.is_none(), "{device:?}");
        assert_eq!(
            device.verdict.as_ref().unwrap().status,
            VerdictStatus::Failing
        );
    }

    #[tokio::test]
    async fn missing_smartctl_is_not_installed() {
        let collection = collect(&config(PathBuf::from("/nonexistent/unity-test/smartctl"))).await;
        assert!(
            matches!(collection.outcome, CollectorOutcome::NotInstalled { .. }),
            "{collection:?}"
        );
        assert!(collection.devices.is_empty());
    }

    #[tokio::test]
    async fn hanging_device_times_out_without_failing_the_others() {
        let dir = tempfile::tempdir().unwrap();
        let body = format!(
            r#"case "$*" in
  --version) echo "smartctl 7.3 2022-02-28 r5338" ;;
  --scan-open) printf '/dev/sda -d sat # a\n/dev/sdb -d sat # b\n' ;;
  */dev/sda) exec sleep 5 ;;
  */dev/sdb) cat '{b}' ;;
esac
"#,
            b = fixture("pysmart-ata-hdd-wd-hc550-windows-7.3.json"),
        );
        let smartctl = script(dir.path(), "smartctl", &body);
        let config = SmartConfig {
            timeout: Duration::from_millis(300),
            ..config(smartctl)
        };
        let collection = collect(&config).await;
        assert_eq!(collection.outcome, CollectorOutcome::Ok);
        let error = collection.devices[0].error.as_deref().unwrap_or("");
        assert!(error.contains("did not finish"), "{error}");
        assert_eq!(
            collection.devices[1].verdict.as_ref().unwrap().status,
            VerdictStatus::Passed
        );
    }
}
