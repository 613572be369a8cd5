//! The vulnerability gate an update passes before it applies a candidate: scan the current and
//! the candidate image (cached per image id), compare them with
//! [`unity_shared::model::scan::judge`] and act with [`unity_shared::model::scan::decide`]:
//! an automatic update is refused when the candidate is worse or a scan failed, a manual one
//! goes on with a warning. Without a scanner (or with scanning off) the gate says so and lets
//! the update go: there is nothing to judge by.

use unity_shared::model::scan::{
    decide, describe, judge, GateAction, ImageScan, ScannerState, Verdict, VulnerabilityGate,
};

use super::{scan, scanner_state, ScanSettings};

/// An image as the gate scans it.
#[derive(Debug, Clone, Copy)]
pub struct Image<'a> {
    /// The engine's image id (`sha256:…`), the cache key.
    pub id: &'a str,
    pub repo_digests: &'a [String],
    /// What the scanner is given: a `repo@sha256:…` present locally, else the id.
    pub reference: &'a str,
}

/// What the gate did: the action and a line for the operation's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    pub action: GateAction,
    pub line: String,
}

/// Runs the gate for one update.
pub async fn check(
    settings: &ScanSettings,
    gate: &VulnerabilityGate,
    current: Image<'_>,
    candidate: Image<'_>,
) -> Checked {
    match scanner_state(settings) {
        ScannerState::Off => {
            return Checked {
                action: GateAction::Apply,
                line: "vulnerability gate: scanning is off on this host".to_owned(),
            }
        }
        ScannerState::NotInstalled => {
            return Checked {
                action: GateAction::Apply,
                line: "vulnerability gate: neither trivy nor grype is installed on this host"
                    .to_owned(),
            }
        }
        ScannerState::Available(_) => {}
    }
    let mut errors = Vec::new();
    let mut scanned = |result: Result<ImageScan, super::ScanError>, which: &str| match result {
        Ok(found) => Some(found),
        Err(error) => {
            errors.push(format!("{which} image: {error}"));
            None
        }
    };
    let current_scan = scanned(
        scan(
            settings,
            current.id,
            current.repo_digests,
            current.reference,
        )
        .await,
        "current",
    );
    let candidate_scan = scanned(
        scan(
            settings,
            candidate.id,
            candidate.repo_digests,
            candidate.reference,
        )
        .await,
        "candidate",
    );
    let verdict = judge(
        current_scan.as_ref(),
        candidate_scan.as_ref(),
        gate.threshold,
    );
    let error = (!errors.is_empty()).then(|| errors.join("; "));
    let action = decide(&verdict, gate, error.as_deref());
    let line = match (&verdict, &action) {
        (Verdict::Pass(delta) | Verdict::Fixes(delta), _) => {
            format!("vulnerability gate passed: {}", describe(delta))
        }
        (_, GateAction::Warn(reason)) => format!("{reason} (a manual update: applied anyway)"),
        (_, GateAction::Block(reason)) => reason.clone(),
        (_, GateAction::Apply) => "vulnerability gate passed".to_owned(),
    };
    Checked { action, line }
}
