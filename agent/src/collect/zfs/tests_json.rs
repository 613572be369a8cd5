//! Tests of the `zpool status -j` path: golden snapshots of every `testdata/status-json-*.json`
//! fixture, key facts, never-panic over garbage and every prefix, and the run side's choice
//! between JSON and text.
//!
//! Snapshots live next to the fixtures as `testdata/<fixture>.expect.json`; refresh them with
//! `UPDATE_EXPECT=1 cargo test -p unity-agent --lib collect::zfs`.
//!
//! Inputs written inline below are hand-written from the field names OpenZFS documents and
//! other parsers read; they test the mapping of single fields and are not captures. The real
//! captures are the fixtures, listed in `testdata/SOURCES.md`.

#![allow(clippy::indexing_slicing)]

use std::path::PathBuf;

use proptest::prelude::*;
use unity_shared::model::storage::{
    ParseWarning, ScanKind, ScanState, VdevKind, VdevState, VerdictStatus,
};

use super::tests::{name, read, testdata};
use super::{parse_ctime, parse_status_json, verdict, ZfsThresholds};

fn json_fixtures() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(testdata())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| {
            let file_name = name(path);
            file_name.starts_with("status-json-")
                && file_name.ends_with(".json")
                && !file_name.ends_with(".expect.json")
        })
        .collect();
    files.sort();
    files
}

#[derive(serde::Serialize)]
struct Snapshot<'a, M, V> {
    model: &'a M,
    verdict: &'a V,
    warnings: &'a [ParseWarning],
}

#[test]
fn golden_every_json_fixture() {
    let fixtures = json_fixtures();
    assert!(!fixtures.is_empty(), "no status-json-*.json fixtures");
    for path in fixtures {
        let file_name = name(&path);
        let (status, warnings) =
            parse_status_json(&read(&path)).unwrap_or_else(|e| panic!("{file_name}: {e}"));
        let verdicts: Vec<_> = status
            .pools
            .iter()
            .map(|pool| verdict(pool, &ZfsThresholds::default(), None))
            .collect();
        let text = serde_json::to_string_pretty(&Snapshot {
            model: &status,
            verdict: &verdicts,
            warnings: &warnings,
        })
        .unwrap()
            + "\n";
        let expect_path = testdata().join(format!("{file_name}.expect.json"));
        expect_test::expect_file![expect_path].assert_eq(&text);
    }
}

#[test]
fn manpage_example_key_facts() {
    let input = read(&testdata().join("status-json-raidz1-dedup-special-manpage.json"));
    let (status, warnings) = parse_status_json(&input).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(status.pools.len(), 1);
    let pool = &status.pools[0];
    assert_eq!(pool.name, "tank");
    assert_eq!(pool.state, VdevState::Online);
    assert_eq!(pool.status, None, "`OK` is no status paragraph");
    assert_eq!(pool.scan, None);
    assert_eq!(pool.root.kind, VdevKind::Root);
    assert_eq!(pool.root.name, "tank");
    assert_eq!(
        pool.root.state,
        VdevState::Online,
        "root takes the pool state"
    );
    assert_eq!(pool.root.read_errors, Some(0));
    let raidz = &pool.root.children[0];
    assert_eq!(pool.root.children.len(), 1);
    assert_eq!(raidz.name, "raidz1-0");
    assert_eq!(raidz.kind, VdevKind::Raidz { parity: 1 });
    assert_eq!(raidz.state, VdevState::Online, "HEALTHY reads as ONLINE");
    let leaves: Vec<&str> = raidz.children.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(
        leaves,
        [
            "ca1eb824-c371-491d-ac13-37637e35c683",
            "97cd98fb-8fb8-4ac4-bc84-bd8950a7ace7",
            "e9ddba5f-f948-4734-a472-cb8aa5f0ff65"
        ],
        "vdevs keep the printed order"
    );
    assert!(raidz
        .children
        .iter()
        .all(|d| d.kind == VdevKind::Disk && d.checksum_errors == Some(0)));
    assert_eq!(pool.dedup.len(), 1);
    assert_eq!(pool.dedup[0].kind, VdevKind::Mirror);
    assert_eq!(pool.dedup[0].children.len(), 2);
    assert_eq!(pool.special.len(), 1);
    assert_eq!(pool.special[0].kind, VdevKind::Disk);
    assert!(pool.logs.is_empty() && pool.cache.is_empty() && pool.spares.is_empty());
    let errors = pool.errors.as_ref().unwrap();
    assert!(errors.no_known_errors);
    assert_eq!(errors.text, "No known data errors");
    let verdict = verdict(pool, &ZfsThresholds::default(), None);
    assert_eq!(verdict.status, VerdictStatus::Passed, "{verdict:?}");
}

/// A text and a JSON picture of the same pool yield the same verdict. No public capture pairs
/// both outputs of one pool, so the JSON side here is the man page pool and the text side is
/// written to match it row for row.
#[test]
fn text_and_json_of_the_same_pool_agree() {
    let text = "  pool: tank
 state: ONLINE
config:

\tNAME                                      STATE     READ WRITE CKSUM
\ttank                                      ONLINE       0     0     0
\t  raidz1-0                                ONLINE       0     0     0
\t    ca1eb824-c371-491d-ac13-37637e35c683  ONLINE       0     0     0
\t    97cd98fb-8fb8-4ac4-bc84-bd8950a7ace7  ONLINE       0     0     0
\t    e9ddba5f-f948-4734-a472-cb8aa5f0ff65  ONLINE       0     0     0
\tdedup
\t  mirror-2                                ONLINE       0     0     0
\t    db017360-d8e9-4163-961b-144ca75293a3  ONLINE       0     0     0
\t    952c3baf-b08a-4a8c-b7fa-33a07af5fe6f  ONLINE       0     0     0
\tspecial
\t  25d418f8-92bd-4327-b59f-7ef5d5f50d81    ONLINE       0     0     0

errors: No known data errors
";
    let (from_text, _) = super::parse_status(text).unwrap();
    let input = read(&testdata().join("status-json-raidz1-dedup-special-manpage.json"));
    let (from_json, _) = parse_status_json(&input).unwrap();
    assert_eq!(from_json, from_text);
    let thresholds = ZfsThresholds::default();
    assert_eq!(
        verdict(&from_json.pools[0], &thresholds, Some(1_700_000_000)),
        verdict(&from_text.pools[0], &thresholds, Some(1_700_000_000))
    );
}

const HEADER: &str =
    r#"{"output_version":{"command":"zpool status","vers_major":0,"vers_minor":1},"pools":"#;

#[track_caller]
fn parse_pools(pools: &str) -> unity_shared::model::storage::ZpoolStatus {
    let (status, warnings) = parse_status_json(&format!("{HEADER}{pools}}}")).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    status
}

#[test]
fn json_int_resilver_in_progress_with_replacing() {
    let status = parse_pools(
        r#"{"tank":{"name":"tank","state":"DEGRADED","pool_guid":1,
        "status":"One or more devices is currently being resilvered.",
        "action":"Wait for the resilver to complete.",
        "scan_stats":{"function":"RESILVER","state":"SCANNING","start_time":1729445374,
          "end_time":0,"to_examine":1000,"examined":600,"skipped":0,"processed":50,"errors":0,
          "issued":250},
        "vdevs":{"tank":{"name":"tank","vdev_type":"root","state":"DEGRADED",
          "read_errors":0,"write_errors":0,"checksum_errors":0,"vdevs":{
          "mirror-0":{"name":"mirror-0","vdev_type":"mirror","state":"DEGRADED",
            "read_errors":0,"write_errors":0,"checksum_errors":0,"vdevs":{
            "sda":{"name":"sda","vdev_type":"disk","state":"ONLINE",
              "read_errors":0,"write_errors":0,"checksum_errors":0},
            "replacing-1":{"name":"replacing-1","vdev_type":"replacing","state":"DEGRADED",
              "read_errors":0,"write_errors":0,"checksum_errors":0,"vdevs":{
              "123":{"name":"123","vdev_type":"disk","state":"UNAVAIL","was":"/dev/sdb1",
                "read_errors":4,"write_errors":1,"checksum_errors":0},
              "sdc":{"name":"sdc","vdev_type":"disk","state":"ONLINE",
                "read_errors":0,"write_errors":0,"checksum_errors":0}}}}}}}},
        "error_count":0}}"#,
    );
    let pool = &status.pools[0];
    assert_eq!(pool.state, VdevState::Degraded);
    assert_eq!(
        pool.status.as_deref(),
        Some("One or more devices is currently being resilvered.")
    );
    let scan = pool.scan.as_ref().unwrap();
    assert_eq!(scan.kind, ScanKind::Resilver);
    assert_eq!(scan.state, ScanState::InProgress);
    assert_eq!(scan.percent_done, Some(25.0));
    assert_eq!(scan.started_at.as_deref(), Some("Sun Oct 20 17:29:34 2024"));
    assert_eq!(scan.finished_unix, None);
    assert_eq!(
        (scan.scanned_bytes, scan.issued_bytes, scan.total_bytes),
        (Some(600), Some(250), Some(1000))
    );
    let replacing = &pool.root.children[0].children[1];
    assert_eq!(replacing.kind, VdevKind::Replacing);
    assert_eq!(replacing.children[0].read_errors, Some(4));
    assert_eq!(replacing.children[0].note.as_deref(), Some("was /dev/sdb1"));
    let verdict = verdict(pool, &ZfsThresholds::default(), None);
    assert_eq!(verdict.status, VerdictStatus::Warning, "{verdict:?}");
}

#[test]
fn string_numbers_finished_scrub_and_data_errors() {
    let status = parse_pools(
        r#"{"p":{"name":"p","state":"ONLINE",
        "scan_stats":{"function":"SCRUB","state":"FINISHED","start_time":"1729441774",
          "end_time":"1729445374","to_examine":"1.66T","examined":"1.66T","processed":"1M",
          "errors":"0","issued":"1.66T"},
        "vdevs":{"p":{"name":"p","vdev_type":"root","state":"ONLINE","read_errors":"0",
          "write_errors":"0","checksum_errors":"0","vdevs":{
          "raidz2-0":{"name":"raidz2-0","vdev_type":"raidz","state":"ONLINE","read_errors":"0",
            "write_errors":"0","checksum_errors":"11.7K","vdevs":{}}}}},
        "spares":{"sdz":{"name":"sdz","vdev_type":"disk","state":"AVAIL"}},
        "l2cache":{"nvme0n1":{"name":"nvme0n1","vdev_type":"disk","state":"ONLINE"}},
        "error_count":"3"}}"#,
    );
    let pool = &status.pools[0];
    let scan = pool.scan.as_ref().unwrap();
    assert_eq!(
        (scan.kind, scan.state),
        (ScanKind::Scrub, ScanState::Finished)
    );
    assert_eq!(scan.finished_unix, parse_ctime("Sun Oct 20 17:29:34 2024"));
    assert_eq!(scan.duration_seconds, Some(3600));
    assert_eq!(scan.repaired_bytes, Some(1 << 20));
    assert_eq!(
        scan.text,
        "scrub repaired 1M in 01:00:00 with 0 errors on Sun Oct 20 17:29:34 2024"
    );
    assert_eq!(
        pool.root.children[0].kind,
        VdevKind::Raidz { parity: 2 },
        "parity from the name"
    );
    assert_eq!(pool.root.children[0].checksum_errors, Some(11_981));
    assert_eq!(pool.spares[0].state, VdevState::Avail);
    assert_eq!(pool.cache[0].name, "nvme0n1");
    let errors = pool.errors.as_ref().unwrap();
    assert_eq!(errors.data_errors, Some(3));
    assert!(!errors.no_known_errors);
    let verdict = verdict(pool, &ZfsThresholds::default(), None);
    assert_eq!(verdict.status, VerdictStatus::Failing, "{verdict:?}");
}

#[test]
fn no_scan_and_empty_pools() {
    let status = parse_pools(
        r#"{"p":{"name":"p","state":"ONLINE","scan_stats":{"function":"NONE","state":"NONE"},
        "vdevs":{"p":{"name":"p","vdev_type":"root","state":"ONLINE"}}}}"#,
    );
    assert_eq!(status.pools[0].scan, None);
    assert_eq!(status.pools[0].errors, None);
    assert!(parse_pools("{}").pools.is_empty());
}

#[test]
fn odd_members_are_warnings() {
    let (status, warnings) = parse_status_json(&format!(
        r#"{HEADER}{{"a":1,"b":{{"name":"b","state":"ONLINE","vdevs":{{"b":{{"vdevs":{{"x":[]}}}},"c":{{}}}}}}}}}}"#
    ))
    .unwrap();
    assert_eq!(status.pools.len(), 1);
    assert_eq!(status.pools[0].root.children.len(), 1, "{status:?}");
    let messages: Vec<&str> = warnings.iter().map(|w| w.line.as_str()).collect();
    assert_eq!(
        messages,
        ["/pools/a", "/pools/b/vdevs/b/vdevs/x", "/pools/b/vdevs"]
    );
}

#[test]
fn empty_garbage_and_text_are_errors() {
    for input in [
        "",
        " \n",
        "hello",
        "[]",
        "42",
        r#"{"output_version":{}}"#,
        "  pool: tank\n state: ONLINE\n",
        "zpool: invalid option 'j'",
    ] {
        assert!(parse_status_json(input).is_err(), "{input:?}");
    }
}

#[test]
fn every_prefix_of_every_json_fixture() {
    for path in json_fixtures() {
        let input = read(&path);
        for (end, _) in input.char_indices() {
            if let Ok((status, _)) = parse_status_json(&input[..end]) {
                for pool in &status.pools {
                    let _ = verdict(pool, &ZfsThresholds::default(), Some(0));
                }
            }
        }
    }
}

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<u64>().prop_map(serde_json::Value::from),
        prop_oneof![
            Just("ONLINE".to_owned()),
            Just("SCRUB".to_owned()),
            Just("SCANNING".to_owned()),
            Just("FINISHED".to_owned()),
            Just("raidz".to_owned()),
            Just("11.7K".to_owned()),
            "[ -~]{0,12}",
        ]
        .prop_map(serde_json::Value::from),
    ];
    let keys = prop_oneof![
        Just("pools".to_owned()),
        Just("vdevs".to_owned()),
        Just("name".to_owned()),
        Just("state".to_owned()),
        Just("vdev_type".to_owned()),
        Just("scan_stats".to_owned()),
        Just("function".to_owned()),
        Just("start_time".to_owned()),
        Just("end_time".to_owned()),
        Just("to_examine".to_owned()),
        Just("issued".to_owned()),
        Just("error_count".to_owned()),
        Just("errors".to_owned()),
        Just("read_errors".to_owned()),
        Just("logs".to_owned()),
        "[a-z0-9-]{1,8}",
    ];
    leaf.prop_recursive(5, 64, 6, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            proptest::collection::vec((keys.clone(), inner), 0..6)
                .prop_map(|members| serde_json::Value::Object(members.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_text_never_panics(input in "\\PC{0,300}") {
        let _ = parse_status_json(&input);
    }

    #[test]
    fn arbitrary_json_never_panics(pools in json_value()) {
        let input = format!("{HEADER}{pools}}}");
        if let Ok((status, _)) = parse_status_json(&input) {
            for pool in &status.pools {
                let _ = verdict(pool, &ZfsThresholds::default(), Some(1_700_000_000));
            }
        }
        let _ = parse_status_json(&pools.to_string());
    }
}

mod run_side {
    //! The run side prefers `zpool status -j` and falls back to the text output.

    use std::os::unix::fs::PermissionsExt;
    use std::path::{Path, PathBuf};
    use std::time::Duration;

    use unity_shared::model::storage::{CollectorOutcome, VdevKind, VerdictStatus};

    use super::testdata;
    use crate::collect::zfs::run::collect_at;
    use crate::collect::zfs::{ZfsConfig, ZfsThresholds};

    fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    fn fixture(name: &str) -> String {
        testdata().join(name).display().to_string()
    }

    fn config(zpool: PathBuf, zfs: PathBuf) -> ZfsConfig {
        ZfsConfig {
            zpool_path: zpool,
            zfs_path: zfs,
            timeout: Duration::from_secs(10),
            thresholds: ZfsThresholds::default(),
        }
    }

    fn fake_zpool(dir: &Path, json_branch: &str) -> PathBuf {
        script(
            dir,
            "zpool",
            &format!(
                r#"case "$*" in
  "status -j --json-int -p") {json_branch} ;;
  "status -p") cat '{text}' ;;
  list*) exit 0 ;;
  *) echo "unexpected: $*" >&2; exit 2 ;;
esac
"#,
                text = fixture("status-degraded-device-removed.txt"),
            ),
        )
    }

    #[tokio::test]
    async fn uses_json_where_zpool_offers_it() {
        let dir = tempfile::tempdir().unwrap();
        let zpool = fake_zpool(
            dir.path(),
            &format!(
                "cat '{}'",
                fixture("status-json-raidz1-dedup-special-manpage.json")
            ),
        );
        let zfs = script(dir.path(), "zfs", "exit 0\n");
        let collection = collect_at(&config(zpool, zfs), None).await;
        assert_eq!(collection.outcome, CollectorOutcome::Ok, "{collection:?}");
        assert!(collection.warnings.is_empty(), "{:?}", collection.warnings);
        assert_eq!(collection.pools.len(), 1);
        let pool = &collection.pools[0];
        assert_eq!(pool.status.name, "tank");
        assert_eq!(pool.status.dedup[0].kind, VdevKind::Mirror);
        assert_eq!(pool.verdict.status, VerdictStatus::Passed);
    }

    #[tokio::test]
    async fn falls_back_to_text_when_j_is_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let zpool = fake_zpool(
            dir.path(),
            "echo \"invalid option 'j'\" >&2; echo usage: >&2; exit 2",
        );
        let zfs = script(dir.path(), "zfs", "exit 0\n");
        let collection = collect_at(&config(zpool, zfs), None).await;
        assert_eq!(collection.outcome, CollectorOutcome::Ok, "{collection:?}");
        assert!(collection.warnings.is_empty(), "{:?}", collection.warnings);
        assert_eq!(collection.pools[0].verdict.status, VerdictStatus::Failing);
    }

    #[tokio::test]
    async fn falls_back_to_text_when_json_is_unreadable() {
        let dir = tempfile::tempdir().unwrap();
        let zpool = fake_zpool(dir.path(), "echo '{\"output_version\":'");
        let zfs = script(dir.path(), "zfs", "exit 0\n");
        let collection = collect_at(&config(zpool, zfs), None).await;
        assert_eq!(collection.outcome, CollectorOutcome::Ok, "{collection:?}");
        assert_eq!(collection.pools.len(), 1);
        assert_eq!(collection.warnings.len(), 1, "{:?}", collection.warnings);
        assert!(collection.warnings[0].message.contains("text output"));
    }

    #[tokio::test]
    async fn no_pools_in_json() {
        let dir = tempfile::tempdir().unwrap();
        let zpool = fake_zpool(
            dir.path(),
            r#"echo '{"output_version":{"command":"zpool status","vers_major":0,"vers_minor":1},"pools":{}}'"#,
        );
        let zfs = script(dir.path(), "zfs", "exit 0\n");
        let collection = collect_at(&config(zpool, zfs), None).await;
        assert_eq!(collection.outcome, CollectorOutcome::Ok, "{collection:?}");
        assert!(collection.pools.is_empty());
    }
}
