//! The vulnerability and maturity gate as the controller sees it (issue 17 §2; pure): the
//! scans hosts reported ([`Fleet`], per image digest), what the gate says about one pending
//! update ([`view`]: counts, [`CveDelta`], verdict, a sentence), whether a candidate that fixes
//! vulnerabilities may go inside its cooldown ([`fixes_inside_cooldown`]), and the cooldown's
//! countdown ([`countdown`]: "eligible in 2h 13m"). [`stored`] reads the hosts' scans.
//!
//! The CVE delta for other consumers (the recommendation, issue 17 §3) is [`CveDelta`]
//! (`CveDelta::between(current, candidate)`), re-exported from the shared model, and
//! [`delta_of`] for two digests.

pub mod stored;

#[cfg(test)]
mod store_tests;
#[cfg(test)]
mod tests;

use serde::Serialize;
use std::time::Duration;
use unity_shared::model::scan::{
    describe, judge, GateThreshold, ImageScan, ImageScans, ScannerState, SeverityCounts, Verdict,
};
use unity_shared::proto::AgentId;

pub use unity_shared::model::scan::CveDelta;

/// The scans every host reported (its newest [`ImageScans`]).
#[derive(Debug, Clone, Default)]
pub struct Fleet {
    pub hosts: Vec<(AgentId, ImageScans)>,
}

impl Fleet {
    /// What `agent_id` reported, if anything.
    pub fn host(&self, agent_id: &AgentId) -> Option<&ImageScans> {
        self.hosts
            .iter()
            .find(|(id, _)| id == agent_id)
            .map(|(_, scans)| scans)
    }

    /// The newest scan of the image with this id or manifest digest, from any host (`prefer`
    /// first: its own scan of an image it runs).
    pub fn find(&self, prefer: &AgentId, digest: &str) -> Option<&ImageScan> {
        self.host(prefer)
            .and_then(|scans| newest_of(scans, digest))
            .or_else(|| {
                self.hosts
                    .iter()
                    .filter_map(|(_, scans)| newest_of(scans, digest))
                    .max_by_key(|scan| scan.scanned_at_ms)
            })
    }

    /// Whether the host's newest failure is a scan of this image (and no scan is newer).
    fn failed(&self, agent_id: &AgentId, digest: &str) -> Option<&str> {
        let scans = self.host(agent_id)?;
        scans
            .failures
            .iter()
            .find(|failure| failure.image_id == digest)
            .map(|failure| failure.message.as_str())
    }
}

/// A host's newest scan of the image with this id or manifest digest.
fn newest_of<'a>(scans: &'a ImageScans, digest: &str) -> Option<&'a ImageScan> {
    scans
        .scans
        .iter()
        .filter(|scan| scan.is_of(digest))
        .max_by_key(|scan| scan.scanned_at_ms)
}

/// The CVE delta between two images known by digest (image id or manifest digest), from the
/// scans `agent_id` (else any host) reported; `None` while either is not scanned.
pub fn delta_of(
    fleet: &Fleet,
    agent_id: &AgentId,
    current_digest: &str,
    candidate_digest: &str,
) -> Option<CveDelta> {
    let current = fleet.find(agent_id, current_digest)?;
    let candidate = fleet.find(agent_id, candidate_digest)?;
    Some(CveDelta::between(current, candidate))
}

/// What the gate found, in a word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GateVerdict {
    /// Not worse at the threshold.
    Pass,
    /// Not worse, and fixes critical or high vulnerabilities.
    Fixes,
    /// Worse: an automatic update is not applied.
    Worse,
    /// Not (yet) scanned; the agent scans the candidate before it applies it.
    NotScanned,
    /// The host has no scanner (or never said): nothing is judged.
    NoScanner,
    /// The gate is off for this container, or scanning is off on the host.
    Off,
}

/// The gate's view of one pending update, for the Updates page and the API.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GateView {
    /// `trivy`, `grype`, `not_installed`, `off` (on the agent), or `not_reported` (an agent
    /// that has not said: older, or not yet).
    pub scanner: &'static str,
    /// The policy's threshold; `None`: the gate is off for this container.
    pub threshold: Option<GateThreshold>,
    pub current: Option<SeverityCounts>,
    pub candidate: Option<SeverityCounts>,
    pub delta: Option<CveDelta>,
    pub verdict: GateVerdict,
    /// One sentence: "fixes 3 critical", "1 more critical: not applied automatically", …
    pub summary: String,
}

/// The gate's view of updating `agent_id`'s image `current_digest` to `candidate_digest`.
pub fn view(
    fleet: &Fleet,
    agent_id: &AgentId,
    current_digest: Option<&str>,
    candidate_digest: &str,
    threshold: Option<GateThreshold>,
) -> GateView {
    let state = fleet.host(agent_id).map(|scans| &scans.scanner);
    let scanner = match state {
        None => "not_reported",
        Some(ScannerState::Off) => "off",
        Some(ScannerState::NotInstalled) => "not_installed",
        Some(ScannerState::Available(scanner)) => scanner.program(),
    };
    let current = current_digest.and_then(|digest| fleet.find(agent_id, digest));
    let candidate = fleet.find(agent_id, candidate_digest);
    let mut view = GateView {
        scanner,
        threshold,
        current: current.map(|scan| scan.counts),
        candidate: candidate.map(|scan| scan.counts),
        delta: None,
        verdict: GateVerdict::NotScanned,
        summary: String::new(),
    };
    match state {
        None => {
            view.verdict = GateVerdict::NoScanner;
            view.summary = "the host has not reported a vulnerability scanner".into();
            return view;
        }
        Some(ScannerState::NotInstalled) => {
            view.verdict = GateVerdict::NoScanner;
            view.summary = "no vulnerability scanner on this host (install trivy or grype)".into();
            return view;
        }
        Some(ScannerState::Off) => {
            view.verdict = GateVerdict::Off;
            view.summary = "vulnerability scanning is off on this host".into();
            return view;
        }
        Some(ScannerState::Available(_)) => {}
    }
    let Some(threshold) = threshold else {
        view.verdict = GateVerdict::Off;
        view.summary = "the vulnerability gate is off for this container".into();
        if let (Some(current), Some(candidate)) = (current, candidate) {
            view.delta = Some(CveDelta::between(current, candidate));
        }
        return view;
    };
    match judge(current, candidate, threshold) {
        Verdict::Pass(delta) => {
            view.verdict = GateVerdict::Pass;
            view.summary = describe(&delta);
            view.delta = Some(delta);
        }
        Verdict::Fixes(delta) => {
            view.verdict = GateVerdict::Fixes;
            view.summary = format!("update now: {}", describe(&delta));
            view.delta = Some(delta);
        }
        Verdict::Worse(delta) => {
            view.verdict = GateVerdict::Worse;
            view.summary = format!("{}: not applied automatically", describe(&delta));
            view.delta = Some(delta);
        }
        Verdict::Unknown => {
            let failure = current_digest
                .and_then(|digest| fleet.failed(agent_id, digest))
                .or_else(|| fleet.failed(agent_id, candidate_digest));
            view.summary = match (failure, candidate) {
                (Some(message), _) => format!("scan failed: {message}"),
                (None, None) => "the candidate is scanned before it is applied".into(),
                (None, Some(_)) => "the current image is not scanned yet".into(),
            };
        }
    }
    view
}

/// A candidate inside its cooldown may be applied automatically anyway when it fixes
/// critical or high vulnerabilities and adds none at the gate's threshold.
pub fn fixes_inside_cooldown(view: &GateView) -> bool {
    view.verdict == GateVerdict::Fixes
}

/// When a candidate in its cooldown becomes eligible.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Countdown {
    /// Unix milliseconds.
    pub eligible_at_ms: i64,
    /// The image's build time is known; otherwise the cooldown counts from when the
    /// controller first saw the candidate (an image of unknown age is deferred).
    pub age_known: bool,
    /// "eligible in 2h 13m", or with "image age unknown" first.
    pub text: String,
}

/// The cooldown countdown of a candidate built at `created_ms` (unknown: first seen at
/// `first_seen_ms`) under `cooldown`, at `now_ms`; `None` once it is eligible.
pub fn countdown(
    created_ms: Option<i64>,
    first_seen_ms: i64,
    cooldown: Duration,
    now_ms: i64,
) -> Option<Countdown> {
    let cooldown_ms = i64::try_from(cooldown.as_millis()).unwrap_or(i64::MAX);
    let eligible_at_ms = created_ms
        .unwrap_or(first_seen_ms)
        .saturating_add(cooldown_ms);
    if eligible_at_ms <= now_ms {
        return None;
    }
    let left = u64::try_from(eligible_at_ms - now_ms).unwrap_or(0);
    let remaining = crate::updates::waiting::countdown(Duration::from_millis(left));
    let text = match created_ms {
        Some(_) => format!("eligible in {remaining}"),
        None => format!(
            "image age unknown: deferred, counted from when it was first seen; eligible in {remaining}"
        ),
    };
    Some(Countdown {
        eligible_at_ms,
        age_known: created_ms.is_some(),
        text,
    })
}
