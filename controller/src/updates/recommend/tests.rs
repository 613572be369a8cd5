//! Table tests of the recommendation rules: one line per case, the verdict and the reasons
//! that decided it.

use super::*;

const DAY: Duration = Duration::from_secs(86400);

fn base(kind: UpdateKind) -> Inputs {
    Inputs {
        kind,
        age: Some(10 * DAY),
        cve: None,
        fleet: FleetHistory::default(),
        notes: Some(Vec::new()),
        database_major: None,
    }
}

fn flag(word: &str, release: &str) -> NoteFlag {
    NoteFlag {
        word: word.into(),
        release: release.into(),
    }
}

fn cve(critical: (u32, u32), high: (u32, u32)) -> Option<CveDelta> {
    Some(CveDelta {
        current: SeverityCounts {
            critical: critical.0,
            high: high.0,
        },
        candidate: SeverityCounts {
            critical: critical.1,
            high: high.1,
        },
    })
}

/// The verdict for `inputs`, and the texts of the reasons with that verdict.
#[track_caller]
fn check(inputs: Inputs, verdict: Verdict, deciding: &[&str]) {
    let recommendation = recommend(&inputs, Thresholds::default());
    assert_eq!(recommendation.verdict, verdict, "{recommendation:#?}");
    let texts: Vec<&str> = recommendation
        .reasons
        .iter()
        .filter(|reason| reason.verdict == verdict)
        .map(|reason| reason.text.as_str())
        .collect();
    for wanted in deciding {
        assert!(
            texts.iter().any(|text| text.contains(wanted)),
            "{wanted:?} not among {texts:#?}"
        );
    }
}

#[test]
fn issue_17_recommendation_table() {
    use UpdateKind::*;
    use Verdict::*;
    let with = |kind, change: &dyn Fn(&mut Inputs)| {
        let mut inputs = base(kind);
        change(&mut inputs);
        inputs
    };
    // Semver jump.
    check(base(Patch), ApplyNow, &["patch release"]);
    check(base(Digest), ApplyNow, &["rebuilt image"]);
    check(base(Minor), ApplyNow, &["minor release"]);
    check(base(Major), Wait, &["major release"]);
    // Image age: minor and major settle 3 days, patch and digest half of it.
    check(with(Minor, &|i| i.age = Some(DAY)), Wait, &["24 h old"]);
    check(
        with(Patch, &|i| i.age = Some(2 * DAY)),
        ApplyNow,
        &["image is 2 days old"],
    );
    check(with(Patch, &|i| i.age = Some(DAY)), Wait, &["24 h old"]);
    check(with(Patch, &|i| i.age = None), Wait, &["age unknown"]);
    // CVE delta.
    check(
        with(Patch, &|i| i.cve = cve((0, 2), (1, 1))),
        Hold,
        &["adds 2 critical"],
    );
    check(
        with(Patch, &|i| i.cve = cve((1, 1), (0, 4))),
        Wait,
        &["adds 4 high"],
    );
    check(
        with(Patch, &|i| i.cve = cve((3, 0), (2, 2))),
        ApplyNow,
        &["fixes 3 critical and 0 high"],
    );
    check(
        with(Patch, &|i| i.cve = cve((1, 1), (5, 5))),
        ApplyNow,
        &["no new vulnerabilities"],
    );
    // A fix overrides the settling time (issue 17 §2: "update now, fixes 3 critical").
    let young_fix = |i: &mut Inputs| {
        i.age = Some(DAY / 4);
        i.cve = cve((3, 0), (0, 0));
    };
    check(
        with(Minor, &young_fix),
        ApplyNow,
        &["but it fixes vulnerabilities"],
    );
    check(
        with(Minor, &|i| {
            young_fix(i);
            i.age = None
        }),
        ApplyNow,
        &["age unknown, but"],
    );
    // ... but not a fix that adds another high.
    check(
        with(Minor, &|i| {
            i.age = Some(DAY);
            i.cve = cve((3, 0), (0, 1))
        }),
        Wait,
        &["adds 1 high", "24 h old"],
    );
    // Fleet history.
    check(
        with(Patch, &|i| i.fleet.candidate_failures = 2),
        Hold,
        &["exact image failed and was rolled back 2 time(s)"],
    );
    check(
        with(Patch, &|i| i.fleet.repository_rollbacks = 1),
        Wait,
        &["other versions of this image were rolled back 1 time(s)"],
    );
    // Release notes.
    check(
        with(Minor, &|i| {
            i.notes = Some(vec![flag("breaking", "v1.2.0"), flag("breaking", "v1.3.0")])
        }),
        Wait,
        &["\"breaking\" (v1.2.0, v1.3.0)"],
    );
    check(
        with(Minor, &|i| i.notes = Some(vec![flag("migration", "2.0")])),
        Wait,
        &["\"migration\" (2.0)"],
    );
    check(
        with(Minor, &|i| i.notes = Some(vec![flag("deprecated", "1.1")])),
        ApplyNow,
        &["\"deprecated\" (1.1)"],
    );
    check(
        with(Minor, &|i| i.notes = None),
        ApplyNow,
        &["no release notes found"],
    );
    // Database major-version guard.
    check(
        with(Major, &|i| {
            i.database_major = Some(DatabaseMajor {
                engine: "postgres".into(),
                from: "15".into(),
                to: "16".into(),
            })
        }),
        Hold,
        &["postgres changes major version 15 → 16"],
    );
}

#[test]
fn issue_17_every_input_gives_a_reason_strictest_first() {
    let mut inputs = base(UpdateKind::Major);
    inputs.fleet.candidate_failures = 1;
    inputs.notes = Some(vec![flag("deprecated", "v2")]);
    let recommendation = recommend(&inputs, Thresholds::default());
    let kinds: Vec<ReasonKind> = recommendation.reasons.iter().map(|r| r.kind).collect();
    for kind in [
        ReasonKind::SemverJump,
        ReasonKind::CveDelta,
        ReasonKind::ImageAge,
        ReasonKind::FleetRollbacks,
        ReasonKind::ReleaseNotes,
    ] {
        assert!(
            kinds.contains(&kind),
            "{kind:?} missing: {recommendation:#?}"
        );
    }
    let verdicts: Vec<Verdict> = recommendation.reasons.iter().map(|r| r.verdict).collect();
    let mut sorted = verdicts.clone();
    sorted.sort_by_key(|verdict| std::cmp::Reverse(*verdict));
    assert_eq!(verdicts, sorted);
    assert_eq!(recommendation.verdict, Verdict::Hold);
    // Deterministic: the same inputs give the same answer, reasons and all.
    assert_eq!(recommend(&inputs, Thresholds::default()), recommendation);
}
