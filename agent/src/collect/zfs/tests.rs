//! Golden (snapshot) tests over every fixture in `testdata/`, expected verdicts, and
//! never-panic tests over garbage and every prefix of every fixture.
//!
//! Snapshots live next to the fixtures as `testdata/<fixture>.expect.json`; refresh them with
//! `UPDATE_EXPECT=1 cargo test -p unity-agent --lib collect::zfs`.

#![allow(clippy::indexing_slicing)]

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use unity_shared::model::storage::{ReasonKind, VerdictStatus};

use super::parse_ctime;
use super::{parse_status, parse_zfs_list, parse_zpool_list, verdict, ZfsThresholds};

pub(super) fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src/collect/zfs/testdata")
}

pub(super) fn name(path: &Path) -> String {
    path.file_name().unwrap().to_string_lossy().into_owned()
}

pub(super) fn fixtures() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(testdata())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| name(path).ends_with(".txt"))
        .collect();
    files.sort();
    files
}

pub(super) fn read(path: &Path) -> String {
    String::from_utf8_lossy(&std::fs::read(path).unwrap()).into_owned()
}

/// The snapshot: the same `{model, verdict, warnings}` shape `unity-agent parse` prints, with
/// fields in declaration order.
#[derive(serde::Serialize)]
struct Snapshot<'a, M, V> {
    model: &'a M,
    verdict: &'a V,
    warnings: &'a [unity_shared::model::storage::ParseWarning],
}

fn to_value<M: serde::Serialize, V: serde::Serialize>(
    model: &M,
    verdict: &V,
    warnings: &[unity_shared::model::storage::ParseWarning],
) -> String {
    serde_json::to_string_pretty(&Snapshot {
        model,
        verdict,
        warnings,
    })
    .unwrap()
}

/// Parses a fixture with the parser its name asks for and renders the snapshot.
fn snapshot(file_name: &str, input: &str) -> Result<String, String> {
    let error = |e: unity_shared::model::storage::ParseError| e.to_string();
    if file_name.starts_with("status-") {
        let (status, warnings) = parse_status(input).map_err(error)?;
        let verdicts: Vec<_> = status
            .pools
            .iter()
            .map(|pool| verdict(pool, &ZfsThresholds::default(), None))
            .collect();
        Ok(to_value(&status, &verdicts, &warnings))
    } else if file_name.starts_with("list-") {
        let (pools, warnings) = parse_zpool_list(input).map_err(error)?;
        Ok(to_value(&pools, &(), &warnings))
    } else if file_name.starts_with("zfs-list-") {
        let (datasets, warnings) = parse_zfs_list(input).map_err(error)?;
        Ok(to_value(&datasets, &(), &warnings))
    } else {
        Err(format!("no parser for fixture {file_name}"))
    }
}

#[test]
fn golden_every_fixture() {
    let fixtures = fixtures();
    assert!(
        fixtures.len() >= 23,
        "found only {} fixtures",
        fixtures.len()
    );
    for path in fixtures {
        let file_name = name(&path);
        let text = snapshot(&file_name, &read(&path))
            .unwrap_or_else(|e| panic!("{file_name}: {e}"))
            + "\n";
        let expect_path = testdata().join(format!("{file_name}.expect.json"));
        expect_test::expect_file![expect_path].assert_eq(&text);
    }
}

#[track_caller]
fn check_pools(file: &str, expected: &[VerdictStatus]) {
    let (status, warnings) = parse_status(&read(&testdata().join(file))).unwrap();
    assert!(warnings.is_empty(), "{file}: {warnings:?}");
    let statuses: Vec<_> = status
        .pools
        .iter()
        .map(|pool| verdict(pool, &ZfsThresholds::default(), None).status)
        .collect();
    assert_eq!(statuses, expected, "{file}");
}

#[test]
fn expected_pool_verdicts() {
    use VerdictStatus::*;
    check_pools("status-lifeguard-healthy-mirror-by-path.txt", &[Passed]);
    check_pools(
        "status-two-pools-raidz1-and-nvme-mirror-scrubbed.txt",
        &[Passed, Passed],
    );
    check_pools("status-freenas-two-pools-gptid.txt", &[Passed, Passed]);
    check_pools("status-draid1-online-distributed-spare.txt", &[Passed]);
    check_pools("status-special-allocation-class-mirror.txt", &[Passed]);
    check_pools("status-scrub-in-progress-no-eta.txt", &[Passed]);
    check_pools("status-lifeguard-checksum-errors-11.7K.txt", &[Warning]);
    check_pools(
        "status-lifeguard-resilver-in-progress-replacing.txt",
        &[Warning],
    );
    check_pools("status-degraded-device-removed.txt", &[Failing]);
    check_pools("status-degraded-mirror-cannot-open-solaris.txt", &[Failing]);
    check_pools("status-illumos-degraded-with-log-device.txt", &[Failing]);
    check_pools("status-unavail-permanent-errors-file-list.txt", &[Failing]);
    check_pools(
        "status-two-errors-lines-permission-denied-14-data-errors.txt",
        &[Failing],
    );
}

#[test]
fn tree_shapes() {
    let (status, _) = parse_status(&read(
        &testdata().join("status-lifeguard-resilver-in-progress-replacing.txt"),
    ))
    .unwrap();
    let pool = &status.pools[0];
    let mirror = &pool.root.children[0];
    assert_eq!(mirror.children.len(), 2);
    let replacing = &mirror.children[1];
    assert_eq!(replacing.name, "replacing-1");
    assert_eq!(replacing.children.len(), 2);
    assert_eq!(replacing.children[0].read_errors, Some(4));
    assert_eq!(replacing.children[1].note.as_deref(), Some("(resilvering)"));
    let scan = pool.scan.as_ref().unwrap();
    assert_eq!(scan.percent_done, Some(0.95));

    let (status, _) = parse_status(&read(
        &testdata().join("status-illumos-degraded-with-log-device.txt"),
    ))
    .unwrap();
    assert_eq!(status.pools[0].logs.len(), 1);
    assert_eq!(status.pools[0].root.children.len(), 2);

    let (status, _) = parse_status(&read(
        &testdata().join("status-unavail-permanent-errors-file-list.txt"),
    ))
    .unwrap();
    let errors = status.pools[0].errors.as_ref().unwrap();
    assert_eq!(
        errors.files,
        ["/tank/data/aaa", "/tank/data/bbb", "/tank/data/ccc"]
    );
}

#[test]
fn scrub_overdue_is_configurable() {
    let (status, _) = parse_status(&read(
        &testdata().join("status-degraded-device-removed.txt"),
    ))
    .unwrap();
    let mut pool = status.pools[0].clone();
    pool.state = unity_shared::model::storage::VdevState::Online;
    pool.root.children[0].children[0].state = unity_shared::model::storage::VdevState::Online;
    let finished = parse_ctime("Sun Oct 20 17:29:34 2024").unwrap();
    let thresholds = ZfsThresholds::default();
    let soon = verdict(&pool, &thresholds, Some(finished + 10 * 86_400));
    assert_eq!(soon.status, VerdictStatus::Passed, "{soon:?}");
    let late = verdict(&pool, &thresholds, Some(finished + 40 * 86_400));
    assert_eq!(late.status, VerdictStatus::Warning);
    assert!(late
        .reasons
        .iter()
        .any(|r| r.kind == ReasonKind::ScrubOverdue));
    let disabled = ZfsThresholds {
        scrub_max_age_days: None,
    };
    assert_eq!(
        verdict(&pool, &disabled, Some(finished + 400 * 86_400)).status,
        VerdictStatus::Passed
    );
    // A pool that never finished a scrub is overdue too.
    let (never, _) =
        parse_status(&read(&testdata().join("status-new-pool-never-scanned.txt"))).unwrap();
    let never = verdict(&never.pools[0], &thresholds, Some(finished));
    assert!(never
        .reasons
        .iter()
        .any(|r| r.kind == ReasonKind::ScrubOverdue));
}

#[test]
fn empty_and_garbage_are_errors() {
    for input in ["", "  \n", "hello", "NAME STATE", "\t\t"] {
        assert!(parse_status(input).is_err(), "{input:?}");
        assert!(parse_zpool_list(input).is_err(), "{input:?}");
        assert!(parse_zfs_list(input).is_err(), "{input:?}");
    }
    assert!(parse_status("no pools available\n")
        .unwrap()
        .0
        .pools
        .is_empty());
}

#[test]
fn every_prefix_of_every_fixture() {
    for path in fixtures() {
        let input = read(&path);
        for (end, _) in input.char_indices().chain([(input.len(), ' ')]) {
            let prefix = &input[..end];
            if let Ok((status, _)) = parse_status(prefix) {
                for pool in &status.pools {
                    let _ = verdict(pool, &ZfsThresholds::default(), Some(0));
                }
            }
            let _ = parse_zpool_list(prefix);
            let _ = parse_zfs_list(prefix);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_text_never_panics(input in "\\PC{0,300}") {
        let _ = parse_status(&input);
        let _ = parse_zpool_list(&input);
        let _ = parse_zfs_list(&input);
    }

    #[test]
    fn zpool_like_lines_never_panic(
        lines in proptest::collection::vec(
            prop_oneof![
                Just("  pool: tank".to_owned()),
                Just(" state: DEGRADED".to_owned()),
                Just("config:".to_owned()),
                Just("\tNAME        STATE     READ WRITE CKSUM".to_owned()),
                Just("errors: Permanent errors have been detected in the following files:".to_owned()),
                "  scan: [ -~]{0,60}",
                "[ \t]{0,8}[a-z0-9:-]{1,12} +[A-Z]{0,8} +[0-9.KMG]{0,5} +[0-9.KMG]{0,5} +[0-9.KMG]{0,5}[ -~]{0,10}",
                "\t[0-9.KMGT/B ]{0,20} (scanned|issued|repaired|resilvered|done|total)[ -~]{0,20}",
            ],
            0..25,
        )
    ) {
        let input = lines.join("\n");
        if let Ok((status, _)) = parse_status(&input) {
            for pool in &status.pools {
                let _ = verdict(pool, &ZfsThresholds::default(), Some(1_700_000_000));
            }
        }
    }
}

mod run_side {
    //! The run side end to end against fake `zpool`/`zfs` scripts that replay fixtures.

    use std::os::unix::fs::PermissionsExt;
    use std::path::{Path, PathBuf};
    use std::time::Duration;

    use unity_shared::model::storage::{CollectorOutcome, VerdictStatus};

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

    #[tokio::test]
    async fn replays_status_list_and_datasets() {
        let dir = tempfile::tempdir().unwrap();
        let zpool = script(
            dir.path(),
            "zpool",
            &format!(
                r#"case "$*" in
  "status -p") cat '{status}' ;;
  "list -Hp -o name,health,size,alloc,free,fragmentation,capacity,dedupratio") cat '{list}' ;;
  *) echo "unexpected: $*" >&2; exit 2 ;;
esac
"#,
                status = fixture("status-lifeguard-resilver-in-progress-replacing.txt"),
                list = fixture("list-Hp-four-pools-freenas.txt"),
            ),
        );
        let zfs = script(
            dir.path(),
            "zfs",
            &format!(
                "cat '{}'\n",
                fixture("zfs-list-Hp-freebsd14-dash-values.txt")
            ),
        );
        let collection = collect_at(&config(zpool, zfs), Some(1_600_000_000)).await;
        assert_eq!(collection.outcome, CollectorOutcome::Ok, "{collection:?}");
        assert!(collection.errors.is_empty(), "{:?}", collection.errors);
        assert_eq!(collection.pools.len(), 1);
        assert_eq!(collection.pools[0].verdict.status, VerdictStatus::Warning);
        assert_eq!(collection.capacity.len(), 4);
        assert_eq!(collection.datasets.len(), 14);
        assert_eq!(collection.datasets[0].used_by_snapshots_bytes, None);
    }

    #[tokio::test]
    async fn old_zpool_without_dash_p_and_a_failing_zfs() {
        let dir = tempfile::tempdir().unwrap();
        let zpool = script(
            dir.path(),
            "zpool",
            &format!(
                r#"case "$*" in
  "status -p") echo "invalid option 'p'" >&2; exit 2 ;;
  status) cat '{status}' ;;
  *) exit 1 ;;
esac
"#,
                status = fixture("status-degraded-mirror-cannot-open-solaris.txt"),
            ),
        );
        let zfs = dir.path().join("no-such-zfs");
        let collection = collect_at(&config(zpool, zfs), None).await;
        assert_eq!(collection.outcome, CollectorOutcome::Ok);
        assert_eq!(collection.pools[0].verdict.status, VerdictStatus::Failing);
        assert_eq!(collection.errors.len(), 1, "{:?}", collection.errors);
    }

    #[tokio::test]
    async fn missing_zpool_is_not_installed_and_hanging_zpool_times_out() {
        let dir = tempfile::tempdir().unwrap();
        let missing = collect_at(
            &config(dir.path().join("zpool"), dir.path().join("zfs")),
            None,
        )
        .await;
        assert!(matches!(
            missing.outcome,
            CollectorOutcome::NotInstalled { .. }
        ));
        let hanging = script(dir.path(), "zpool-hangs", "exec sleep 5\n");
        let mut config = config(hanging, dir.path().join("zfs"));
        config.timeout = Duration::from_millis(300);
        let collection = collect_at(&config, None).await;
        match &collection.outcome {
            CollectorOutcome::Failed { message } => assert!(message.contains("did not finish")),
            other => panic!("{other:?}"),
        }
    }
}
