//! Golden (snapshot) tests over every fixture in `testdata/`, text/JSON parity, and
//! never-panic property tests over garbage and every prefix of every fixture.
//!
//! Snapshots live next to the fixtures as `testdata/<fixture>.expect.json`; refresh them with
//! `UPDATE_EXPECT=1 cargo test -p unity-agent --lib collect::smart`.

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use unity_shared::model::storage::{ReasonKind, VerdictStatus};

use super::{parse, parse_json, parse_text, verdict, SmartThresholds};

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src/collect/smart/testdata")
}

/// Every fixture (not SOURCES.md, not snapshots), sorted.
fn fixtures() -> Vec<PathBuf> {
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
fn read(path: &Path) -> String {
    String::from_utf8_lossy(&std::fs::read(path).unwrap()).into_owned()
}

fn name(path: &Path) -> String {
    path.file_name().unwrap().to_string_lossy().into_owned()
}

fn status_of(file: &str) -> VerdictStatus {
    let (report, _) = parse(&read(&testdata().join(file))).unwrap();
    verdict(&report, &SmartThresholds::default()).status
}

#[test]
fn golden_every_fixture() {
    let fixtures = fixtures();
    assert!(fixtures.len() >= 46, "found only {} fixtures", fixtures.len());
    for path in fixtures {
        let input = read(&path);
        let (report, warnings) = parse(&input)
            .unwrap_or_else(|error| panic!("{}: {error}", name(&path)));
        let verdict = verdict(&report, &SmartThresholds::default());
        let snapshot = serde_json::json!({
            "model": report,
            "verdict": verdict,
            "warnings": warnings,
        });
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
    check_status("scrutiny-windows-open-failed-exit2.json", VerdictStatus::Warning);
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

/// Text and JSON output of the same drive (pairs named in testdata/SOURCES.md) agree.
#[test]
fn text_and_json_of_the_same_drive_agree() {
    let pairs = [
        (
            "pysmart-ata-hdd-wd-hc550-wuh721816ale6l4-windows-7.3.txt",
            "pysmart-ata-hdd-wd-hc550-windows-7.3.json",
        ),
        (
            "pysmart-nvme-wd-black-sn770-windows-7.3.txt",
            "pysmart-nvme-wd-black-sn770-windows-7.3.json",
        ),
    ];
    for (text_file, json_file) in pairs {
        let (text, _) = parse_text(&read(&testdata().join(text_file))).unwrap();
        let (json, _) = parse_json(&read(&testdata().join(json_file))).unwrap();
        let thresholds = SmartThresholds::default();
        assert_eq!(
            verdict(&text, &thresholds),
            verdict(&json, &thresholds),
            "{text_file} vs {json_file}"
        );
        assert_eq!(text.device.model, json.device.model);
        assert_eq!(text.device.serial, json.device.serial);
        assert_eq!(text.device.wwn, json.device.wwn);
        assert_eq!(text.device.capacity_bytes, json.device.capacity_bytes);
        assert_eq!(text.device.protocol, json.device.protocol);
        assert_eq!(text.self_assessment_passed, json.self_assessment_passed);
        assert_eq!(text.nvme, json.nvme);
        let ids = |r: &unity_shared::model::storage::SmartReport| {
            r.ata.as_ref().map(|a| {
                a.attributes
                    .iter()
                    // Power-on hours moved on by one between the two captures.
                    .map(|x| (x.id, x.value, x.worst, x.thresh, x.when_failed, (x.id != 9).then_some(x.raw.value)))
                    .collect::<Vec<_>>()
            })
        };
        assert_eq!(ids(&text), ids(&json));
    }
}

#[test]
fn self_test_failure_is_reported() {
    let (report, _) = parse(&read(&testdata().join(
        "linuxhw-ata-hgst-hms5c4040ble640-selftest-read-failure-7.1.txt",
    )))
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
    for input in ["", "\n\n", "{}", "[1,2]", "{\"a\": 1}", "not smartctl at all", "{ nope"] {
        assert!(parse(input).is_err(), "{input:?}");
    }
}

/// Every prefix of every fixture parses to a value or an error, never a panic.
#[test]
fn every_prefix_of_every_fixture() {
    for path in fixtures() {
        let input = read(&path);
        let mut ends: Vec<usize> = input.char_indices().map(|(at, _)| at).collect();
        ends.push(input.len());
        // Every line boundary plus a sample of byte positions keeps this fast.
        let step = (ends.len() / 400).max(1);
        for (n, end) in ends.iter().enumerate() {
            let at_line_end = input.get(..*end).is_some_and(|p| p.ends_with('\n'));
            if n % step == 0 || at_line_end {
                let prefix = input.get(..*end).unwrap();
                let _ = parse_text(prefix);
                let _ = parse_json(prefix);
                if let Ok((report, _)) = parse(prefix) {
                    let _ = verdict(&report, &SmartThresholds::default());
                }
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
