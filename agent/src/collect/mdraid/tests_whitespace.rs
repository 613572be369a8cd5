//! Whitespace must never change what the md RAID parsers read: re-indented, tab-separated,
//! trailing-space and CRLF variants of every fixture give the same arrays and never a better
//! verdict. Also: an array whose member counts cannot be read is not called healthy.
//!
//! Regression for the review finding "mdstat status line recognised only when indented": an
//! unindented `N blocks … [4/3] [UUU_]` line left the counts empty and the degraded raid5
//! read as passed.

#![allow(clippy::indexing_slicing)]

use proptest::prelude::*;
use unity_shared::model::storage::{MdArray, MdDetail, MdLevel, VerdictStatus};

use super::tests::{fixtures, name, read, testdata};
use super::{array_verdict, detail_verdict, parse_detail, parse_mdstat};

/// How one line is rewritten. `None` keeps that part as it was.
#[derive(Debug, Clone)]
struct LineEdit {
    /// The new leading whitespace (also for lines that had none).
    indent: Option<&'static str>,
    /// The new whitespace between words (every run of it on the line).
    gap: Option<&'static str>,
    /// Whitespace appended at the end of the line.
    trailing: &'static str,
    /// End the line with `\r\n` instead of `\n`.
    crlf: bool,
}

fn line_edit() -> impl Strategy<Value = LineEdit> {
    let indent = prop_oneof![
        Just(None),
        Just(Some("")),
        Just(Some(" ")),
        Just(Some("\t")),
        Just(Some("      ")),
        Just(Some(" \t  ")),
    ];
    let gap = prop_oneof![
        Just(None),
        Just(Some(" ")),
        Just(Some("  ")),
        Just(Some("\t")),
        Just(Some(" \t ")),
    ];
    let trailing = prop_oneof![Just(""), Just(" "), Just("\t"), Just("   ")];
    (indent, gap, trailing, any::<bool>()).prop_map(|(indent, gap, trailing, crlf)| LineEdit {
        indent,
        gap,
        trailing,
        crlf,
    })
}

/// Applies `edits` to the lines of `input`, cycling through them when there are more lines.
fn reshape(input: &str, edits: &[LineEdit]) -> String {
    let mut out = String::new();
    let lines: Vec<&str> = input.split('\n').collect();
    for (n, raw) in lines.iter().enumerate() {
        let line = raw.trim_end_matches('\r');
        let edit = &edits[n % edits.len()];
        let original_indent = &line[..line.len() - line.trim_start().len()];
        let body = line.trim();
        if !body.is_empty() {
            out.push_str(edit.indent.unwrap_or(original_indent));
            match edit.gap {
                None => out.push_str(body),
                Some(gap) => out.push_str(&body.split_whitespace().collect::<Vec<_>>().join(gap)),
            }
        }
        out.push_str(edit.trailing);
        if n + 1 < lines.len() {
            out.push_str(if edit.crlf { "\r\n" } else { "\n" });
        }
    }
    out
}

/// Array names with their verdict status.
fn mdstat_statuses(input: &str) -> Option<Vec<(String, VerdictStatus)>> {
    let (mdstat, _) = parse_mdstat(input).ok()?;
    Some(
        mdstat
            .arrays
            .iter()
            .map(|array| (array.name.clone(), array_verdict(array, None).status))
            .collect(),
    )
}

/// `reshaped` (`file` rewritten as `what` says) reads the same arrays as `file` and no verdict
/// is better.
#[track_caller]
fn assert_not_better(file: &str, what: &str, reshaped: &str) {
    let label = format!("{file} ({what})");
    let original = read(&testdata().join(file));
    if file.starts_with("proc-mdstat-") {
        let before = mdstat_statuses(&original).unwrap();
        let after = mdstat_statuses(reshaped)
            .unwrap_or_else(|| panic!("{label}: the rewritten input no longer parses"));
        let names = |statuses: &[(String, VerdictStatus)]| {
            statuses.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>()
        };
        assert_eq!(
            names(&after),
            names(&before),
            "{label}: arrays lost or gained"
        );
        for ((array, was), (_, now)) in before.iter().zip(&after) {
            assert!(now >= was, "{label}: {array} went from {was:?} to {now:?}");
        }
        // Whitespace carries no meaning in mdstat: the model must not change at all.
        let (model_before, _) = parse_mdstat(&original).unwrap();
        let (model_after, _) = parse_mdstat(reshaped).unwrap();
        assert_eq!(model_after, model_before, "{label}");
    } else {
        let (before, _) = parse_detail(&original).unwrap();
        let (after, _) = parse_detail(reshaped)
            .unwrap_or_else(|e| panic!("{label}: the rewritten input no longer parses: {e}"));
        let was = detail_verdict(&before).status;
        let now = detail_verdict(&after).status;
        assert!(now >= was, "{label}: went from {was:?} to {now:?}");
        let counts = |d: &MdDetail| {
            (
                d.raid_level.clone(),
                d.raid_devices,
                d.active_devices,
                d.working_devices,
                d.failed_devices,
                d.state_flags.clone(),
                d.devices.len(),
            )
        };
        assert_eq!(counts(&after), counts(&before), "{label}");
    }
}

/// The deterministic worst cases, one at a time, so a failure names the transformation.
#[test]
fn fixtures_unindented_tabbed_and_crlf_read_the_same() {
    let transformations: [(&str, LineEdit); 4] = [
        (
            "every line unindented",
            LineEdit {
                indent: Some(""),
                gap: None,
                trailing: "",
                crlf: false,
            },
        ),
        (
            "every line indented with a tab",
            LineEdit {
                indent: Some("\t"),
                gap: None,
                trailing: "",
                crlf: false,
            },
        ),
        (
            "tabs between words and trailing spaces",
            LineEdit {
                indent: None,
                gap: Some("\t"),
                trailing: "  ",
                crlf: false,
            },
        ),
        (
            "CRLF line endings",
            LineEdit {
                indent: None,
                gap: None,
                trailing: "",
                crlf: true,
            },
        ),
    ];
    for path in fixtures() {
        let file = name(&path);
        let input = read(&path);
        for (what, edit) in &transformations {
            assert_not_better(&file, what, &reshape(&input, std::slice::from_ref(edit)));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Arbitrary re-indentation, gaps, trailing whitespace and CRLF, line by line, on every
    /// fixture: never a better verdict, never a lost array.
    #[test]
    fn reshaped_fixtures_never_read_better(
        edits in proptest::collection::vec(line_edit(), 1..40)
    ) {
        for path in fixtures() {
            let file = name(&path);
            assert_not_better(&file, "reshaped", &reshape(&read(&path), &edits));
        }
    }
}

fn array(level: Option<MdLevel>) -> MdArray {
    MdArray {
        name: "md9".to_owned(),
        active: true,
        read_only: None,
        level,
        members: Vec::new(),
        blocks: Some(1024),
        superblock: Some("1.2".to_owned()),
        chunk_kib: None,
        layout: None,
        raid_disks: None,
        working_disks: None,
        member_status: None,
        sync: None,
        bitmap: None,
        is_container: false,
    }
}

#[test]
fn unknown_member_counts_are_not_passed() {
    use VerdictStatus::*;
    for level in [
        MdLevel::Raid1,
        MdLevel::Raid4,
        MdLevel::Raid5,
        MdLevel::Raid6,
        MdLevel::Raid10,
        MdLevel::Multipath,
    ] {
        let verdict = array_verdict(&array(Some(level.clone())), None);
        assert!(verdict.status >= Warning, "{level:?}: {verdict:?}");
    }
    // Without redundancy there is nothing to be degraded: no counts are printed for raid0.
    for level in [MdLevel::Raid0, MdLevel::Linear] {
        assert_eq!(array_verdict(&array(Some(level)), None).status, Passed);
    }
    // The `[UU_]` map alone still tells a degraded array.
    let mut only_map = array(Some(MdLevel::Raid5));
    only_map.member_status = Some("[UU_]".to_owned());
    assert_eq!(array_verdict(&only_map, None).status, Failing);
    // mdadm's counts make an mdstat entry without them known again.
    let detail = MdDetail {
        raid_level: Some(MdLevel::Raid1),
        raid_devices: Some(2),
        active_devices: Some(2),
        ..MdDetail::default()
    };
    assert_eq!(
        array_verdict(&array(Some(MdLevel::Raid1)), Some(&detail)).status,
        Passed
    );
}

#[test]
fn mdadm_detail_without_counts_is_not_passed() {
    let detail = MdDetail {
        device: Some("/dev/md9".to_owned()),
        raid_level: Some(MdLevel::Raid1),
        state: Some("clean".to_owned()),
        state_flags: vec!["clean".to_owned()],
        ..MdDetail::default()
    };
    assert_eq!(detail_verdict(&detail).status, VerdictStatus::Warning);
    let degraded = MdDetail {
        state: Some("clean, degraded".to_owned()),
        state_flags: vec!["clean".to_owned(), "degraded".to_owned()],
        ..detail
    };
    assert!(detail_verdict(&degraded).status >= VerdictStatus::Warning);
}

#[test]
fn unindented_degraded_raid5_is_failing() {
    for file in [
        "proc-mdstat-raid5-degraded-3of4-5space-indent.txt",
        "proc-mdstat-raid5-degraded-unindented-derived.txt",
    ] {
        let (mdstat, warnings) = parse_mdstat(&read(&testdata().join(file))).unwrap();
        assert!(warnings.is_empty(), "{file}: {warnings:?}");
        let md0 = &mdstat.arrays[0];
        assert_eq!(
            (md0.raid_disks, md0.working_disks),
            (Some(4), Some(3)),
            "{file}"
        );
        assert_eq!(md0.member_status.as_deref(), Some("[UUU_]"), "{file}");
        assert_eq!(
            array_verdict(md0, None).status,
            VerdictStatus::Failing,
            "{file}"
        );
    }
}
