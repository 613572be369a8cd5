//! Text and JSON output of the same device must give the same verdict. The pairs are the
//! `- Twin:` lines of `testdata/SOURCES.md` (real pairs where a public capture of both exists,
//! a derived twin otherwise), so a new pair is tested by naming it there.
//!
//! Regression for the review finding "the JSON path always builds an (empty) SCSI health
//! section": a SCSI RAID virtual disk without health data read as passed from JSON and as
//! "warning: no health data" from text.

#![allow(clippy::indexing_slicing)]

use unity_shared::model::storage::{ReasonKind, SmartReport, VerdictStatus};

use super::tests::{read, testdata};
use super::{parse_json, parse_text, verdict, SmartThresholds};

/// `(text fixture, JSON fixture)` for every `- Twin:` line in SOURCES.md, each pair once.
fn twins() -> Vec<(String, String)> {
    let sources = read(&testdata().join("SOURCES.md"));
    let mut pairs = Vec::new();
    let mut current: Option<String> = None;
    for line in sources.lines() {
        let quoted = |prefix: &str| {
            line.strip_prefix(prefix)
                .map(|rest| rest.trim().trim_matches('`').to_owned())
        };
        if let Some(name) = quoted("### ") {
            current = Some(name);
        } else if let Some(twin) = quoted("- Twin:") {
            let name = current
                .clone()
                .expect("a Twin line outside a fixture section");
            let pair = if name.ends_with(".txt") {
                (name, twin)
            } else {
                (twin, name)
            };
            assert!(
                pair.0.ends_with(".txt") && pair.1.ends_with(".json"),
                "a twin pair is one text and one JSON fixture: {pair:?}"
            );
            if !pairs.contains(&pair) {
                pairs.push(pair);
            }
        }
    }
    pairs
}

#[test]
fn twins_are_named_both_ways_and_exist() {
    let pairs = twins();
    assert!(pairs.len() >= 3, "{pairs:?}");
    let sources = read(&testdata().join("SOURCES.md"));
    for (text, json) in &pairs {
        assert!(testdata().join(text).is_file(), "{text}");
        assert!(testdata().join(json).is_file(), "{json}");
        for (file, twin) in [(text, json), (json, text)] {
            let section = sources
                .split("### `")
                .find(|s| s.starts_with(&format!("{file}`")))
                .unwrap_or_else(|| panic!("no SOURCES.md section for {file}"));
            assert!(
                section.contains(&format!("- Twin: `{twin}`")),
                "{file} does not name {twin} as its twin"
            );
        }
    }
}

#[test]
fn text_and_json_of_the_same_device_agree() {
    for (text_file, json_file) in twins() {
        let (text, _) = parse_text(&read(&testdata().join(&text_file))).unwrap();
        let (json, _) = parse_json(&read(&testdata().join(&json_file))).unwrap();
        let thresholds = SmartThresholds::default();
        let (text_verdict, json_verdict) =
            (verdict(&text, &thresholds), verdict(&json, &thresholds));
        assert_eq!(
            text_verdict.status, json_verdict.status,
            "{text_file} vs {json_file}: {text_verdict:?} vs {json_verdict:?}"
        );
        assert_eq!(text_verdict, json_verdict, "{text_file} vs {json_file}");
        assert_eq!(text.device.model, json.device.model);
        assert_eq!(text.device.serial, json.device.serial);
        assert_eq!(text.device.wwn, json.device.wwn);
        assert_eq!(text.device.capacity_bytes, json.device.capacity_bytes);
        assert_eq!(text.device.protocol, json.device.protocol);
        assert_eq!(text.self_assessment_passed, json.self_assessment_passed);
        assert_eq!(
            text.scsi.is_some(),
            json.scsi.is_some(),
            "{text_file} vs {json_file}: one has a SCSI health section, the other not"
        );
        // Counters moved on between the two captures; compare what verdicts read.
        let health = |r: &SmartReport| {
            r.nvme.as_ref().map(|n| {
                (
                    n.critical_warning,
                    n.available_spare_percent,
                    n.available_spare_threshold_percent,
                    n.percentage_used,
                    n.media_errors,
                    n.temperature_celsius,
                )
            })
        };
        assert_eq!(health(&text), health(&json));
        let ids = |r: &SmartReport| {
            r.ata.as_ref().map(|a| {
                a.attributes
                    .iter()
                    // Power-on hours moved on by one between the two captures.
                    .map(|x| {
                        (
                            x.id,
                            x.value,
                            x.worst,
                            x.thresh,
                            x.when_failed,
                            (x.id != 9).then_some(x.raw.value),
                        )
                    })
                    .collect::<Vec<_>>()
            })
        };
        assert_eq!(ids(&text), ids(&json));
    }
}

#[test]
fn scsi_raid_volume_without_health_data_is_a_warning() {
    for file in [
        "checkmk-scsi-perc-h740p-mini-virtual-disk-7.3.json",
        "checkmk-scsi-perc-h740p-mini-virtual-disk-7.3-derived.txt",
        "pysmart-scsi-megaraid-virtual-drive-rs3dc080.txt",
    ] {
        let input = read(&testdata().join(file));
        let (report, warnings) = super::parse(&input).unwrap();
        assert!(warnings.is_empty(), "{file}: {warnings:?}");
        assert_eq!(report.scsi, None, "{file}: no health field was read");
        assert_eq!(
            report.temperature.current_celsius, None,
            "{file}: SCSI 0 °C means not reported"
        );
        let verdict = verdict(&report, &SmartThresholds::default());
        assert_eq!(
            verdict.status,
            VerdictStatus::Warning,
            "{file}: {verdict:?}"
        );
        assert!(verdict
            .reasons
            .iter()
            .all(|r| r.kind == ReasonKind::NoHealthData || r.status == VerdictStatus::Passed));
    }
}

#[test]
fn scsi_json_health_fields_still_make_a_health_section() {
    // Hand-written from smartctl's JSON field names (scsiprint.cpp): one health field is
    // enough for a section, as one health line is in text.
    let input = r#"{"smartctl":{"version":[7,3],"exit_status":0},
        "device":{"name":"/dev/sdb","type":"scsi","protocol":"SCSI"},
        "scsi_grown_defect_list":12,
        "temperature":{"current":41},"scsi_temperature":{"drive_trip":60}}"#;
    let (report, warnings) = parse_json(input).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(report.scsi.as_ref().and_then(|s| s.grown_defects), Some(12));
    assert_eq!(report.temperature.current_celsius, Some(41));
    assert_eq!(
        report.temperature.critical_limit_celsius,
        Some(60),
        "7.3 prints the trip temperature as scsi_temperature.drive_trip"
    );
    assert_eq!(
        verdict(&report, &SmartThresholds::default()).status,
        VerdictStatus::Warning
    );
}
