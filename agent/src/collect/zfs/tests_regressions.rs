//! Regression tests for two review findings, on real and derived fixtures (see
//! `testdata/SOURCES.md`):
//!
//! - `zpool list -v` section rows (`logs`, `cache`, `spares`, `special`, `dedup`, every column
//!   `-`) were read as pools, and their devices attached to them.
//! - `zpool status` with two `errors:` lines stored the second ("N data errors, use '-v' …") as
//!   a damaged file name and lost the count; the JSON path read the file list from a key
//!   `zpool status -j` never prints (`errors` instead of `errlist`).

#![allow(clippy::indexing_slicing)]

use unity_shared::model::storage::{PoolCapacity, ReasonKind, VerdictStatus};

use super::tests::{read, testdata};
use super::{parse_status, parse_status_json, parse_zpool_list, verdict, ZfsThresholds};

/// The pool's `zpool list -v` rows grouped by section: `("", data vdevs)` first, then one entry
/// per section row, each with `(name, depth)` of the rows under it.
fn sections(pool: &PoolCapacity) -> Vec<(String, Vec<(String, u32)>)> {
    let mut groups = vec![(String::new(), Vec::new())];
    for vdev in &pool.vdevs {
        if vdev.depth == 0 {
            groups.push((vdev.name.clone(), Vec::new()));
        } else if let Some((_, rows)) = groups.last_mut() {
            rows.push((vdev.name.clone(), vdev.depth));
        }
    }
    groups
}

fn rows(names: &[(&str, u32)]) -> Vec<(String, u32)> {
    names.iter().map(|(n, d)| ((*n).to_owned(), *d)).collect()
}

#[test]
fn list_v_section_rows_are_sections_of_the_pool() {
    let (pools, warnings) =
        parse_zpool_list(&read(&testdata().join("list-p-v-logs-cache-degraded.txt"))).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    let names: Vec<&str> = pools.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["rpool"], "section rows must never be pools");
    let rpool = &pools[0];
    assert_eq!(rpool.size_bytes, Some(9_981_503_995_904));
    assert_eq!(
        sections(rpool),
        [
            (
                String::new(),
                rows(&[("mirror-0", 1), ("sdc2", 2), ("sdd2", 2)])
            ),
            (
                "logs".to_owned(),
                rows(&[("mirror-1", 1), ("sdb1", 2), ("14807975228228307538", 2)])
            ),
            (
                "cache".to_owned(),
                rows(&[("sdb2", 1), ("wwn-0x500151795954c095-part2", 1)])
            ),
        ]
    );
    let section_row = rpool.vdevs.iter().find(|v| v.name == "logs").unwrap();
    assert_eq!(
        (
            section_row.size_bytes,
            section_row.allocated_bytes,
            section_row.free_bytes,
            &section_row.health
        ),
        (None, None, None, &None),
        "a section row carries no numbers"
    );
}

#[test]
fn every_section_kind_is_a_section() {
    let (pools, warnings) = parse_zpool_list(&read(
        &testdata().join("list-p-v-special-dedup-spares-derived.txt"),
    ))
    .unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(pools.len(), 1, "{pools:?}");
    let titles: Vec<String> = sections(&pools[0]).into_iter().map(|(t, _)| t).collect();
    assert_eq!(titles, ["", "dedup", "special", "logs", "cache", "spares"]);
    let spares = &sections(&pools[0])[5].1;
    assert_eq!(spares, &rows(&[("sde", 1)]));
}

#[test]
fn scripted_section_row_is_not_a_pool() {
    // `zpool list -H -v` prints section rows with print_line (space-separated dashes), not
    // tab-separated like the pool rows; written here in that layout.
    let input = "tank\tONLINE\t1000\t400\t600\t3%\t40%\t1.00x\n\
                 logs  -  -  -  -  -  -  -\n";
    let (pools, warnings) = parse_zpool_list(input).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(pools.len(), 1, "{pools:?}");
    assert_eq!(pools[0].name, "tank");
    assert_eq!(pools[0].vdevs.len(), 1);
    assert_eq!(
        (pools[0].vdevs[0].name.as_str(), pools[0].vdevs[0].depth),
        ("logs", 0)
    );
    // A pool row keeps its health even when every number is unknown (a FAULTED pool).
    let (pools, _) = parse_zpool_list("zion\tFAULTED\t-\t-\t-\t-\t-\t-\n").unwrap();
    assert_eq!(pools[0].name, "zion");
    // A section row with no pool before it starts nothing.
    assert!(parse_zpool_list("cache  -  -  -  -  -  -  -\n").is_err());
}

#[test]
fn two_errors_lines_keep_the_count() {
    let (status, warnings) = parse_status(&read(
        &testdata().join("status-two-errors-lines-permission-denied-14-data-errors.txt"),
    ))
    .unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    let pool = &status.pools[0];
    let errors = pool.errors.as_ref().unwrap();
    assert_eq!(errors.data_errors, Some(14), "{errors:?}");
    assert!(
        errors.files.is_empty(),
        "not file names: {:?}",
        errors.files
    );
    assert!(!errors.no_known_errors);
    let verdict = verdict(pool, &ZfsThresholds::default(), None);
    assert_eq!(verdict.status, VerdictStatus::Failing);
    let data_errors = verdict
        .reasons
        .iter()
        .find(|r| r.kind == ReasonKind::DataErrors)
        .unwrap();
    assert!(data_errors.message.contains("14"), "{data_errors:?}");
}

#[test]
fn files_only_from_a_permanent_errors_list() {
    let head = "  pool: tank\n state: ONLINE\nconfig:\n\n\tNAME        STATE     READ WRITE CKSUM\n\
                \ttank        ONLINE       0     0     0\n\t  sda       ONLINE       0     0     2\n\n";
    let errors_of = |tail: &str| {
        let (status, _) = parse_status(&format!("{head}{tail}")).unwrap();
        status.pools[0].errors.clone().unwrap()
    };
    let listed = errors_of(
        "errors: Permanent errors have been detected in the following files:\n\n\
         \x20       /tank/data/aaa\n        tank/vm-100-disk-0:<0x1>\n",
    );
    assert_eq!(listed.files, ["/tank/data/aaa", "tank/vm-100-disk-0:<0x1>"]);
    assert_eq!(listed.data_errors, None);
    // A list, then a count on a second `errors:` line: both kept, the count not a file.
    let both = errors_of(
        "errors: Permanent errors have been detected in the following files:\n\n\
         \x20       /tank/data/aaa\n\nerrors: 2 data errors, use '-v' for a list\n",
    );
    assert_eq!(both.files, ["/tank/data/aaa"]);
    assert_eq!(both.data_errors, Some(2));
    // One data error is "1 data errors" in OpenZFS; "1 data error" is read too.
    assert_eq!(
        errors_of("errors: 1 data error, use '-v' for a list\n").data_errors,
        Some(1)
    );
    let clean = errors_of("errors: No known data errors\n");
    assert!(clean.no_known_errors && clean.files.is_empty() && clean.data_errors.is_none());
}

#[test]
fn json_errlist_is_the_file_list_and_its_failure_is_not_a_file() {
    let (status, warnings) = parse_status_json(&read(
        &testdata().join("status-json-errlist-files-derived.json"),
    ))
    .unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    let errors = status.pools[0].errors.as_ref().unwrap();
    assert_eq!(
        errors.files,
        [
            "/tank/data/aaa",
            "tank/vm-100-disk-0:<0x1>",
            "<metadata>:<0x24>"
        ]
    );
    assert_eq!(errors.data_errors, Some(3));

    let (status, warnings) = parse_status_json(&read(
        &testdata().join("status-json-errlist-unavailable-derived.json"),
    ))
    .unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    let pool = &status.pools[0];
    let errors = pool.errors.as_ref().unwrap();
    assert!(
        errors.files.is_empty(),
        "not a file name: {:?}",
        errors.files
    );
    assert_eq!(errors.data_errors, Some(14));
    assert!(errors.text.contains("Permission denied"), "{errors:?}");
    assert_eq!(
        verdict(pool, &ZfsThresholds::default(), None).status,
        VerdictStatus::Failing
    );
}
