//! The recommendation for one pending update (pure): *apply now*, *wait* or *hold*, with every
//! reason a person can check. Each rule gives one [`Reason`] with the verdict it leans to; the
//! recommendation is the strictest of them (hold over wait over apply now), so the verdict
//! never depends on the order of the inputs. Rule-based and deterministic: no clock (the image
//! age is an input), no I/O. See `docs/updates.md`, "Recommendations".

use crate::storage::containers::UpdateKind;
use serde::Serialize;
use std::time::Duration;

/// What to do with a pending update.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Nothing found against it.
    ApplyNow,
    /// Look first, or give it time: young image, major jump, notes that warn.
    Wait,
    /// Do not apply without a decision: it failed elsewhere, it adds critical
    /// vulnerabilities, it changes a database's major version.
    Hold,
}

impl Verdict {
    /// The words the page, the API and the docs use.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::ApplyNow => "apply now",
            Verdict::Wait => "wait",
            Verdict::Hold => "hold",
        }
    }
}

/// Which input a reason comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReasonKind {
    SemverJump,
    CveDelta,
    ImageAge,
    FleetRollbacks,
    ReleaseNotes,
    DatabaseMajor,
}

/// One checkable reason and the verdict it leans to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reason {
    pub kind: ReasonKind,
    pub verdict: Verdict,
    pub text: String,
}

/// The verdict and all its reasons, strictest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Recommendation {
    pub verdict: Verdict,
    pub reasons: Vec<Reason>,
}

/// Vulnerabilities of one image by severity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SeverityCounts {
    pub critical: u32,
    pub high: u32,
}

/// The vulnerability scan of the running image and of the candidate (issue 17 §2 fills it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CveDelta {
    pub current: SeverityCounts,
    pub candidate: SeverityCounts,
}

/// This image's past updates in the whole fleet.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FleetHistory {
    /// Updates to exactly this candidate (digest) that were rolled back or failed, any host.
    pub candidate_failures: u32,
    /// Updates of this repository (other versions) rolled back or failed, and manual
    /// rollbacks of it, any host.
    pub repository_rollbacks: u32,
}

/// A warning word found in the release notes, and the release it is in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NoteFlag {
    /// `breaking`, `migration` or `deprecated`.
    pub word: String,
    pub release: String,
}

/// A database's major version changes (issue 17 §1's guard fills it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseMajor {
    /// `postgres`, `mariadb`, …
    pub engine: String,
    pub from: String,
    pub to: String,
}

/// Everything the rules look at.
#[derive(Debug, Clone, PartialEq)]
pub struct Inputs {
    pub kind: UpdateKind,
    /// From the candidate's `created` time or, without one, since first seen.
    pub age: Option<Duration>,
    /// `None`: not scanned (no scanner, or not yet).
    pub cve: Option<CveDelta>,
    pub fleet: FleetHistory,
    /// `None`: no release notes were found.
    pub notes: Option<Vec<NoteFlag>>,
    /// `None`: not a database, or the same major version.
    pub database_major: Option<DatabaseMajor>,
}

/// The rules' thresholds (`[updates.release_notes]` `settle_age`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Thresholds {
    /// A minor or major release younger than this waits (others settle faster: half).
    pub settle_age: Duration,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            settle_age: Duration::from_secs(3 * 86400),
        }
    }
}

fn days(age: Duration) -> String {
    let hours = age.as_secs() / 3600;
    if hours < 48 {
        format!("{hours} h")
    } else {
        format!("{} days", hours / 24)
    }
}

fn reason(kind: ReasonKind, verdict: Verdict, text: String) -> Reason {
    Reason {
        kind,
        verdict,
        text,
    }
}

/// The recommendation for `inputs` under `thresholds`.
pub fn recommend(inputs: &Inputs, thresholds: Thresholds) -> Recommendation {
    let mut reasons = Vec::new();
    reasons.push(semver(inputs.kind));
    let fixes = inputs.cve.as_ref().is_some_and(fixes_without_adding);
    reasons.push(cve(inputs.cve.as_ref()));
    reasons.push(age(inputs.kind, inputs.age, thresholds, fixes));
    reasons.extend(fleet(inputs.fleet));
    reasons.extend(notes(inputs.notes.as_deref()));
    if let Some(database) = &inputs.database_major {
        reasons.push(reason(
            ReasonKind::DatabaseMajor,
            Verdict::Hold,
            format!(
                "{} changes major version {} → {}: its data files need an upgrade (dump and \
                 restore, or the engine's upgrade tool); never applied automatically",
                database.engine, database.from, database.to
            ),
        ));
    }
    // Strictest first; the rules' order among equals.
    reasons.sort_by_key(|reason| std::cmp::Reverse(reason.verdict));
    let verdict = reasons
        .iter()
        .map(|reason| reason.verdict)
        .max()
        .unwrap_or(Verdict::ApplyNow);
    Recommendation { verdict, reasons }
}

fn semver(kind: UpdateKind) -> Reason {
    let (verdict, text) = match kind {
        UpdateKind::Digest => (Verdict::ApplyNow, "same tag, rebuilt image (digest update)"),
        UpdateKind::Patch => (Verdict::ApplyNow, "patch release: fixes only, by semver"),
        UpdateKind::Minor => (
            Verdict::ApplyNow,
            "minor release: new features, compatible by semver",
        ),
        UpdateKind::Major => (
            Verdict::Wait,
            "major release: may break compatibility, read the release notes first",
        ),
    };
    reason(ReasonKind::SemverJump, verdict, text.to_owned())
}

/// The candidate removes critical or high vulnerabilities and adds none of either.
fn fixes_without_adding(delta: &CveDelta) -> bool {
    let (now, next) = (delta.current, delta.candidate);
    next.critical <= now.critical
        && next.high <= now.high
        && (next.critical < now.critical || next.high < now.high)
}

fn cve(delta: Option<&CveDelta>) -> Reason {
    let Some(delta) = delta else {
        return reason(
            ReasonKind::CveDelta,
            Verdict::ApplyNow,
            "no vulnerability scan of the two images".into(),
        );
    };
    let (now, next) = (delta.current, delta.candidate);
    let counts = format!(
        "critical {} → {}, high {} → {}",
        now.critical, next.critical, now.high, next.high
    );
    let (verdict, text) = if next.critical > now.critical {
        (
            Verdict::Hold,
            format!(
                "adds {} critical vulnerabilities ({counts})",
                next.critical - now.critical
            ),
        )
    } else if next.high > now.high {
        (
            Verdict::Wait,
            format!(
                "adds {} high vulnerabilities ({counts})",
                next.high - now.high
            ),
        )
    } else if fixes_without_adding(delta) {
        let fixed_critical = now.critical - next.critical;
        let fixed_high = now.high - next.high;
        (
            Verdict::ApplyNow,
            format!(
                "fixes {fixed_critical} critical and {fixed_high} high vulnerabilities ({counts})"
            ),
        )
    } else {
        (
            Verdict::ApplyNow,
            format!("no new vulnerabilities ({counts})"),
        )
    };
    reason(ReasonKind::CveDelta, verdict, text)
}

fn age(kind: UpdateKind, age: Option<Duration>, thresholds: Thresholds, fixes: bool) -> Reason {
    let settle = match kind {
        UpdateKind::Minor | UpdateKind::Major => thresholds.settle_age,
        UpdateKind::Digest | UpdateKind::Patch => thresholds.settle_age / 2,
    };
    let (verdict, text) = match age {
        None if fixes => (
            Verdict::ApplyNow,
            "image age unknown, but it fixes vulnerabilities".to_owned(),
        ),
        None => (
            Verdict::Wait,
            "image age unknown: give it time to show problems".to_owned(),
        ),
        Some(age) if age < settle && fixes => (
            Verdict::ApplyNow,
            format!(
                "image is {} old (younger than {}), but it fixes vulnerabilities",
                days(age),
                days(settle)
            ),
        ),
        Some(age) if age < settle => (
            Verdict::Wait,
            format!(
                "image is {} old: wait until it is {} old, so regressions surface first",
                days(age),
                days(settle)
            ),
        ),
        Some(age) => (Verdict::ApplyNow, format!("image is {} old", days(age))),
    };
    reason(ReasonKind::ImageAge, verdict, text)
}

fn fleet(history: FleetHistory) -> Vec<Reason> {
    let mut reasons = Vec::new();
    if history.candidate_failures > 0 {
        reasons.push(reason(
            ReasonKind::FleetRollbacks,
            Verdict::Hold,
            format!(
                "this exact image failed and was rolled back {} time(s) in the fleet",
                history.candidate_failures
            ),
        ));
    }
    if history.repository_rollbacks > 0 {
        reasons.push(reason(
            ReasonKind::FleetRollbacks,
            Verdict::Wait,
            format!(
                "other versions of this image were rolled back {} time(s) in the fleet",
                history.repository_rollbacks
            ),
        ));
    }
    if reasons.is_empty() {
        reasons.push(reason(
            ReasonKind::FleetRollbacks,
            Verdict::ApplyNow,
            "never rolled back in the fleet".into(),
        ));
    }
    reasons
}

fn notes(flags: Option<&[NoteFlag]>) -> Vec<Reason> {
    let Some(flags) = flags else {
        return vec![reason(
            ReasonKind::ReleaseNotes,
            Verdict::ApplyNow,
            "no release notes found to check".into(),
        )];
    };
    let mut reasons = Vec::new();
    for word in ["breaking", "migration", "deprecated"] {
        let releases: Vec<&str> = flags
            .iter()
            .filter(|flag| flag.word == word)
            .map(|flag| flag.release.as_str())
            .collect();
        if releases.is_empty() {
            continue;
        }
        // A deprecation is a warning for later; breaking changes and migrations are for now.
        let verdict = match word {
            "deprecated" => Verdict::ApplyNow,
            _ => Verdict::Wait,
        };
        reasons.push(reason(
            ReasonKind::ReleaseNotes,
            verdict,
            format!("release notes say \"{word}\" ({})", releases.join(", ")),
        ));
    }
    if reasons.is_empty() {
        reasons.push(reason(
            ReasonKind::ReleaseNotes,
            Verdict::ApplyNow,
            "release notes mention no breaking change, migration or deprecation".into(),
        ));
    }
    reasons
}

#[cfg(test)]
mod tests;
