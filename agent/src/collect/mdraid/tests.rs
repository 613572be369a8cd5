//! Golden (snapshot) tests over every fixture in `testdata/`, expected verdicts, and
//! never-panic tests over garbage and every prefix of every fixture.
//!
//! Snapshots live next to the fixtures as `testdata/<fixture>.expect.json`; refresh them with
//! `UPDATE_EXPECT=1 cargo test -p unity-agent --lib collect::mdraid`.

#![allow(clippy::indexing_slicing)]

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use unity_shared::model::storage::{ParseWarning, VerdictStatus};

use super::{array_verdict, detail_verdict, parse_detail, parse_mdstat};

pub(super) fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src/collect/mdraid/testdata")
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

/// The snapshot: the same `{model, verdict, warnings}` shape `unity-agent parse` prints.
#[derive(serde::Serialize)]
struct Snapshot<'a, M, V> {
    model: &'a M,
    verdict: &'a V,
    warnings: &'a [ParseWarning],
}

fn snapshot(file_name: &str, input: &str) -> Result<String, String> {
    if file_name.starts_with("proc-mdstat-") {
        let (mdstat, warnings) = parse_mdstat(input).map_err(|e| e.to_string())?;
        let verdicts: Vec<_> = mdstat
            .arrays
            .iter()
            .map(|a| array_verdict(a, None))
            .collect();
        Ok(serde_json::to_string_pretty(&Snapshot {
            model: &mdstat,
            verdict: &verdicts,
            warnings: &warnings,
        })
        .unwrap())
    } else if file_name.starts_with("mdadm-detail-") {
        let (detail, warnings) = parse_detail(input).map_err(|e| e.to_string())?;
        Ok(serde_json::to_string_pretty(&Snapshot {
            model: &detail,
            verdict: &detail_verdict(&detail),
            warnings: &warnings,
        })
        .unwrap())
    } else {
        Err(format!("no parser for fixture {file_name}"))
    }
}

#[test]
fn golden_every_fixture() {
    let fixtures = fixtures();
    assert!(
        fixtures.len() >= 29,
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
fn check_mdstat(file: &str, expected: &[VerdictStatus]) {
    let (mdstat, warnings) = parse_mdstat(&read(&testdata().join(file))).unwrap();
    assert!(warnings.is_empty(), "{file}: {warnings:?}");
    let statuses: Vec<_> = mdstat
        .arrays
        .iter()
        .map(|a| array_verdict(a, None).status)
        .collect();
    assert_eq!(statuses, expected, "{file}");
}

#[track_caller]
fn check_detail(file: &str, expected: VerdictStatus) {
    let (detail, warnings) = parse_detail(&read(&testdata().join(file))).unwrap();
    assert!(warnings.is_empty(), "{file}: {warnings:?}");
    assert_eq!(detail_verdict(&detail).status, expected, "{file}");
}

#[test]
fn expected_array_verdicts() {
    use VerdictStatus::*;
    check_mdstat("proc-mdstat-empty.txt", &[]);
    check_mdstat("proc-mdstat-raid0-loop.txt", &[Passed]);
    check_mdstat("proc-mdstat-raid1-x3-raid5-10disk.txt", &[Passed; 4]);
    check_mdstat("proc-mdstat-raid10-check-in-progress.txt", &[Passed; 3]);
    check_mdstat(
        "proc-mdstat-imsm-container-auto-read-only.txt",
        &[Passed; 3],
    );
    check_mdstat("proc-mdstat-raid1-6way-degraded-failed.txt", &[Warning]);
    check_mdstat("proc-mdstat-raid5-recovery-degraded.txt", &[Failing]);
    check_mdstat("proc-mdstat-raid5-missing-member-no-F.txt", &[Failing]);
    check_mdstat("proc-mdstat-raid5-inactive.txt", &[Failing]);
    check_mdstat(
        "proc-mdstat-raid6-raid1-unindented-status.txt",
        &[Passed; 4],
    );
    check_mdstat(
        "proc-mdstat-raid5-degraded-3of4-5space-indent.txt",
        &[Failing],
    );
    check_mdstat(
        "proc-mdstat-raid5-degraded-unindented-derived.txt",
        &[Failing],
    );
    check_mdstat("proc-mdstat-raid4-degraded-reshape-loop.txt", &[Failing]);
    check_mdstat(
        "proc-mdstat-procfs-18-arrays-degraded-reshape-imsm.txt",
        &[
            Passed, Passed, Passed, Failing, Failing, Passed, Passed, Warning, Warning, Passed,
            Warning, Passed, Passed, Passed, Passed, Passed, Passed, Failing,
        ],
    );
    check_detail("mdadm-detail-raid5-ok.txt", Passed);
    check_detail("mdadm-detail-raid1-with-spare.txt", Passed);
    check_detail("mdadm-detail-raid1-resyncing.txt", Passed);
    check_detail("mdadm-detail-ddf-container-root.txt", Passed);
    check_detail("mdadm-detail-raid1-faulty-degraded.txt", Failing);
    check_detail("mdadm-detail-raid1-rebuild-failfast.txt", Failing);
}

#[test]
fn mdadm_detail_refines_mdstat() {
    let (mdstat, _) = parse_mdstat(&read(
        &testdata().join("proc-mdstat-raid10-check-in-progress.txt"),
    ))
    .unwrap();
    let (detail, _) = parse_detail(&read(
        &testdata().join("mdadm-detail-raid1-faulty-degraded.txt"),
    ))
    .unwrap();
    assert_eq!(
        array_verdict(&mdstat.arrays[1], None).status,
        VerdictStatus::Passed
    );
    let verdict = array_verdict(&mdstat.arrays[1], Some(&detail));
    assert_eq!(verdict.status, VerdictStatus::Failing, "{verdict:?}");
}

#[test]
fn empty_and_garbage_are_errors() {
    for input in ["", " \n", "hello", "md0 is great", "{}"] {
        assert!(parse_mdstat(input).is_err(), "{input:?}");
        assert!(parse_detail(input).is_err(), "{input:?}");
    }
}

#[test]
fn every_prefix_of_every_fixture() {
    for path in fixtures() {
        let input = read(&path);
        for (end, _) in input.char_indices().chain([(input.len(), ' ')]) {
            let prefix = &input[..end];
            if let Ok((mdstat, _)) = parse_mdstat(prefix) {
                for array in &mdstat.arrays {
                    let _ = array_verdict(array, None);
                }
            }
            if let Ok((detail, _)) = parse_detail(prefix) {
                let _ = detail_verdict(&detail);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_text_never_panics(input in "\\PC{0,300}") {
        let _ = parse_mdstat(&input);
        let _ = parse_detail(&input);
    }

    #[test]
    fn mdstat_like_lines_never_panic(
        lines in proptest::collection::vec(
            prop_oneof![
                Just("Personalities : [raid1] [raid5]".to_owned()),
                Just("unused devices: <none>".to_owned()),
                "md[0-9_a-z]{1,4} : (in)?active( \\((auto-)?read-only\\))?( raid[0-9]{1,2})?( [a-z]{2,4}[0-9]?\\[[0-9]{1,2}\\](\\([FSWJR]\\))?){0,4}",
                "      [0-9]{1,12} blocks( super [0-9.]{1,4})?( [0-9]{1,4}[kK] chunks?)?( \\[[0-9]{1,2}/[0-9]{1,2}\\])?( \\[[U_]{0,6}\\])?",
                "      \\[[=>.]{0,20}\\]  (recovery|resync|check|reshape) = [0-9.]{1,5}% \\([0-9/]{0,20}\\) finish=[0-9.]{0,5}min speed=[0-9]{0,6}K/sec",
                "      bitmap: [0-9/]{0,6} pages \\[[0-9]{0,4}KB\\], [0-9]{0,6}KB chunk",
                "[ ]{0,12}[A-Za-z ]{0,15} : [ -~]{0,20}",
                "[ ]{0,7}[0-9-]{1,2} +[0-9-]{1,3} +[0-9-]{1,3} +[0-9-]{1,2}[ a-z/]{0,30}",
            ],
            0..20,
        )
    ) {
        let input = lines.join("\n");
        if let Ok((mdstat, _)) = parse_mdstat(&input) {
            for array in &mdstat.arrays {
                let _ = array_verdict(array, None);
            }
        }
        if let Ok((detail, _)) = parse_detail(&input) {
            let _ = detail_verdict(&detail);
        }
    }
}

mod run_side {
    //! The run side end to end with a fake mdstat file and a fake `mdadm`.

    use std::os::unix::fs::PermissionsExt;
    use std::path::{Path, PathBuf};
    use std::time::Duration;

    use unity_shared::model::storage::{CollectorOutcome, VerdictStatus};

    use super::testdata;
    use crate::collect::mdraid::{collect, RaidConfig};

    fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    #[tokio::test]
    async fn mdstat_with_mdadm_details() {
        let dir = tempfile::tempdir().unwrap();
        let mdadm = script(
            dir.path(),
            "mdadm",
            &format!(
                r#"case "$*" in
  "--detail /dev/md1") cat '{faulty}' ;;
  *) echo "mdadm: cannot open $2: No such file or directory" >&2; exit 1 ;;
esac
"#,
                faulty = testdata()
                    .join("mdadm-detail-raid1-faulty-degraded.txt")
                    .display()
            ),
        );
        let config = RaidConfig {
            mdstat_path: testdata().join("proc-mdstat-raid10-check-in-progress.txt"),
            mdadm_path: Some(mdadm),
            timeout: Duration::from_secs(10),
        };
        let collection = collect(&config).await;
        assert_eq!(collection.outcome, CollectorOutcome::Ok);
        let statuses: Vec<_> = collection.arrays.iter().map(|a| a.verdict.status).collect();
        assert_eq!(
            statuses,
            [
                VerdictStatus::Passed,
                VerdictStatus::Failing,
                VerdictStatus::Passed
            ]
        );
        assert!(collection.arrays[1].detail.is_some());
        // md2 and md0 have no details: mdadm failed for them, which is recorded.
        assert_eq!(collection.errors.len(), 2, "{:?}", collection.errors);
    }

    #[tokio::test]
    async fn no_mdstat_is_not_installed_and_no_mdadm_is_fine() {
        let dir = tempfile::tempdir().unwrap();
        let missing = collect(&RaidConfig {
            mdstat_path: dir.path().join("mdstat"),
            mdadm_path: None,
            timeout: Duration::from_secs(1),
        })
        .await;
        assert!(matches!(
            missing.outcome,
            CollectorOutcome::NotInstalled { .. }
        ));

        let collection = collect(&RaidConfig {
            mdstat_path: testdata().join("proc-mdstat-raid5-recovery-degraded.txt"),
            mdadm_path: Some(dir.path().join("no-mdadm-here")),
            timeout: Duration::from_secs(1),
        })
        .await;
        assert_eq!(collection.outcome, CollectorOutcome::Ok);
        assert!(collection.errors.is_empty(), "{:?}", collection.errors);
        assert_eq!(collection.arrays[0].verdict.status, VerdictStatus::Failing);
    }

    #[tokio::test]
    async fn hanging_mdadm_times_out() {
        let dir = tempfile::tempdir().unwrap();
        let mdadm = script(dir.path(), "mdadm", "exec sleep 5\n");
        let collection = collect(&RaidConfig {
            mdstat_path: testdata().join("proc-mdstat-raid0-loop.txt"),
            mdadm_path: Some(mdadm),
            timeout: Duration::from_millis(300),
        })
        .await;
        assert_eq!(collection.outcome, CollectorOutcome::Ok);
        assert_eq!(collection.arrays[0].verdict.status, VerdictStatus::Passed);
        assert!(
            collection.errors[0].contains("did not finish"),
            "{:?}",
            collection.errors
        );
    }
}
