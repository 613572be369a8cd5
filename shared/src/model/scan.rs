//! Vulnerability scans of container images (issue 17 §2): what the agent reports after running
//! Trivy or Grype on an image ([`ImageScan`], per image id, with the host's [`ScannerState`] in
//! [`ImageScans`]), what an update asks the agent to gate on ([`VulnerabilityGate`]), and the
//! pure comparison both sides make of two scans ([`CveDelta`], [`judge`]).
//!
//! These types travel over postcard (fields and variants by position). Therefore: never reorder
//! fields or variants, only append; absent values are `Option::None`. See `docs/updates.md`,
//! "Vulnerability gate".

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// At most this many vulnerability ids are kept per scan, most severe first; the counts are
/// always complete.
pub const MAX_FINDINGS: usize = 200;

/// The scanner that produced a scan.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Scanner {
    Trivy,
    Grype,
}

impl Scanner {
    /// The program's name, as on `PATH`.
    pub fn program(self) -> &'static str {
        match self {
            Scanner::Trivy => "trivy",
            Scanner::Grype => "grype",
        }
    }
}

/// A vulnerability's severity, most severe first (so sorting puts critical first).
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Critical,
    High,
    Medium,
    Low,
    /// Not rated, or a word this version does not know.
    Unknown,
}

impl Severity {
    /// Trivy's `CRITICAL`… and Grype's `Critical`…; Grype's `Negligible` is low.
    pub fn parse(word: &str) -> Severity {
        match word.trim().to_ascii_lowercase().as_str() {
            "critical" => Severity::Critical,
            "high" => Severity::High,
            "medium" | "moderate" => Severity::Medium,
            "low" | "negligible" => Severity::Low,
            _ => Severity::Unknown,
        }
    }
}

/// How many distinct vulnerabilities (by id) an image has at each severity. An id found in
/// several packages counts once, at its highest severity.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SeverityCounts {
    pub critical: u32,
    pub high: u32,
    pub medium: u32,
    pub low: u32,
    pub unknown: u32,
}

impl SeverityCounts {
    pub fn get(&self, severity: Severity) -> u32 {
        match severity {
            Severity::Critical => self.critical,
            Severity::High => self.high,
            Severity::Medium => self.medium,
            Severity::Low => self.low,
            Severity::Unknown => self.unknown,
        }
    }

    fn bump(&mut self, severity: Severity) {
        let count = match severity {
            Severity::Critical => &mut self.critical,
            Severity::High => &mut self.high,
            Severity::Medium => &mut self.medium,
            Severity::Low => &mut self.low,
            Severity::Unknown => &mut self.unknown,
        };
        *count = count.saturating_add(1);
    }

    pub fn total(&self) -> u32 {
        self.critical
            .saturating_add(self.high)
            .saturating_add(self.medium)
            .saturating_add(self.low)
            .saturating_add(self.unknown)
    }
}

/// One vulnerability id (`CVE-2021-22945`, `GHSA-…`) and its severity.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Finding {
    pub severity: Severity,
    pub id: String,
}

/// The summary of one scan of one image.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct ImageScan {
    /// The engine's image id (`sha256:` + config digest): what the cache is keyed by.
    pub image_id: String,
    /// The image's repo digests (`repo@sha256:…`), so the controller finds the scan of a
    /// candidate by the manifest digest it checked.
    pub repo_digests: Vec<String>,
    pub scanner: Scanner,
    /// The scanner's version, when it said.
    pub scanner_version: Option<String>,
    /// Unix milliseconds.
    pub scanned_at_ms: i64,
    pub counts: SeverityCounts,
    /// Distinct ids, most severe first then by id, at most [`MAX_FINDINGS`].
    pub findings: Vec<Finding>,
    /// More ids were found than kept.
    pub findings_truncated: bool,
}

impl ImageScan {
    /// A scan from the `(id, severity)` pairs a parser found: deduplicated by id (the highest
    /// severity wins), counted, sorted and cut at [`MAX_FINDINGS`].
    pub fn from_findings(
        scanner: Scanner,
        image_id: String,
        scanned_at_ms: i64,
        found: impl IntoIterator<Item = (String, Severity)>,
    ) -> ImageScan {
        let mut by_id: BTreeMap<String, Severity> = BTreeMap::new();
        for (id, severity) in found {
            let entry = by_id.entry(id).or_insert(severity);
            *entry = (*entry).min(severity);
        }
        let mut counts = SeverityCounts::default();
        let mut findings: Vec<Finding> = by_id
            .into_iter()
            .map(|(id, severity)| {
                counts.bump(severity);
                Finding { severity, id }
            })
            .collect();
        findings.sort();
        let findings_truncated = findings.len() > MAX_FINDINGS;
        findings.truncate(MAX_FINDINGS);
        ImageScan {
            image_id,
            repo_digests: Vec::new(),
            scanner,
            scanner_version: None,
            scanned_at_ms,
            counts,
            findings,
            findings_truncated,
        }
    }

    /// Whether this scan is of the image with this id or manifest digest (`sha256:…`).
    pub fn is_of(&self, digest: &str) -> bool {
        self.image_id == digest
            || self
                .repo_digests
                .iter()
                .any(|repo_digest| repo_digest.rsplit_once('@').map(|(_, d)| d) == Some(digest))
    }
}

/// Whether this host can scan images.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ScannerState {
    /// `[updates] vulnerability_scan = "off"` in the agent's configuration.
    Off,
    /// Neither `trivy` nor `grype` is on the agent's `PATH`.
    NotInstalled,
    /// This scanner is used (Trivy when both are installed).
    Available(Scanner),
}

/// A scan that failed, and why (the scanner exited non-zero, hung, or wrote no JSON).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct ScanFailure {
    pub image_id: String,
    pub at_ms: i64,
    pub message: String,
}

/// What a host reports about its image scans: the scanner it has and its cached scans of the
/// images its containers run (and of candidates it scanned before an update).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct ImageScans {
    pub scanner: ScannerState,
    pub scans: Vec<ImageScan>,
    pub failures: Vec<ScanFailure>,
}

/// Which severities the gate counts.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum GateThreshold {
    /// Block when the candidate has more critical vulnerabilities than the current image.
    Critical,
    /// Block when it has more critical or more high ones.
    High,
}

/// What an update asks the agent to check before it applies a candidate: scan the current and
/// the candidate image and refuse when the candidate is worse at `threshold`.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct VulnerabilityGate {
    pub threshold: GateThreshold,
    /// An automatic update: a worse candidate or a failed scan refuses it. A manual one is
    /// applied and the result says what the gate found.
    pub automatic: bool,
}

/// How a candidate compares with the current image. Signed fields are candidate minus current
/// (negative: fewer); `fixed_*` are ids the current image has and the candidate does not,
/// `new_*` the other way round (from the kept ids; never less than the count difference).
/// The recommendation (issue 17 §3) takes this as its "CVE delta" input.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CveDelta {
    pub critical: i64,
    pub high: i64,
    pub medium: i64,
    pub low: i64,
    pub fixed_critical: u32,
    pub fixed_high: u32,
    pub fixed_total: u32,
    pub new_critical: u32,
    pub new_high: u32,
    pub new_total: u32,
}

impl CveDelta {
    /// Compares two scans (pure).
    pub fn between(current: &ImageScan, candidate: &ImageScan) -> CveDelta {
        let diff = |severity: Severity| {
            i64::from(candidate.counts.get(severity)) - i64::from(current.counts.get(severity))
        };
        let ids = |scan: &ImageScan| -> BTreeMap<String, Severity> {
            scan.findings
                .iter()
                .map(|finding| (finding.id.clone(), finding.severity))
                .collect()
        };
        let (before, after) = (ids(current), ids(candidate));
        let gone = |severity: Option<Severity>| -> u32 {
            count_u32(before.iter().filter(|(id, s)| {
                !after.contains_key(*id) && severity.is_none_or(|wanted| **s == wanted)
            }))
        };
        let came = |severity: Option<Severity>| -> u32 {
            count_u32(after.iter().filter(|(id, s)| {
                !before.contains_key(*id) && severity.is_none_or(|wanted| **s == wanted)
            }))
        };
        let at_least = |count: u32, difference: i64| -> u32 {
            count.max(u32::try_from(difference.max(0)).unwrap_or(u32::MAX))
        };
        let total = i64::from(candidate.counts.total()) - i64::from(current.counts.total());
        CveDelta {
            critical: diff(Severity::Critical),
            high: diff(Severity::High),
            medium: diff(Severity::Medium),
            low: diff(Severity::Low),
            fixed_critical: at_least(gone(Some(Severity::Critical)), -diff(Severity::Critical)),
            fixed_high: at_least(gone(Some(Severity::High)), -diff(Severity::High)),
            fixed_total: at_least(gone(None), -total),
            new_critical: at_least(came(Some(Severity::Critical)), diff(Severity::Critical)),
            new_high: at_least(came(Some(Severity::High)), diff(Severity::High)),
            new_total: at_least(came(None), total),
        }
    }

    /// More vulnerabilities at the gate's threshold.
    pub fn worse_at(&self, threshold: GateThreshold) -> bool {
        match threshold {
            GateThreshold::Critical => self.critical > 0,
            GateThreshold::High => self.critical > 0 || self.high > 0,
        }
    }

    /// The candidate fixes critical or high vulnerabilities and is not worse at `threshold`.
    pub fn fixes(&self, threshold: GateThreshold) -> bool {
        !self.worse_at(threshold) && (self.fixed_critical > 0 || self.fixed_high > 0)
    }
}

fn count_u32<I: Iterator>(items: I) -> u32 {
    u32::try_from(items.count()).unwrap_or(u32::MAX)
}

/// What the gate found for one candidate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Not worse at the threshold.
    Pass(CveDelta),
    /// Not worse, and fixes critical or high vulnerabilities: may go even inside a cooldown.
    Fixes(CveDelta),
    /// Worse at the threshold.
    Worse(CveDelta),
    /// One of the two images could not be scanned (or no scan is known).
    Unknown,
}

/// Compares the current and candidate scans at `threshold` (pure).
pub fn judge(
    current: Option<&ImageScan>,
    candidate: Option<&ImageScan>,
    threshold: GateThreshold,
) -> Verdict {
    let (Some(current), Some(candidate)) = (current, candidate) else {
        return Verdict::Unknown;
    };
    let delta = CveDelta::between(current, candidate);
    if delta.worse_at(threshold) {
        Verdict::Worse(delta)
    } else if delta.fixes(threshold) {
        Verdict::Fixes(delta)
    } else {
        Verdict::Pass(delta)
    }
}

/// What to do with an update after the gate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GateAction {
    Apply,
    /// Apply, and say this (a manual update the gate would have blocked).
    Warn(String),
    /// Do not apply (an automatic update), for this reason.
    Block(String),
}

/// The gate's decision (pure): an automatic update is blocked when the candidate is worse or a
/// scan failed ("scan failed"), a manual one is applied with a warning.
pub fn decide(verdict: &Verdict, gate: &VulnerabilityGate, scan_error: Option<&str>) -> GateAction {
    let reason = match verdict {
        Verdict::Pass(_) | Verdict::Fixes(_) => return GateAction::Apply,
        Verdict::Worse(delta) => format!("vulnerability gate: {}", describe(delta)),
        Verdict::Unknown => format!(
            "scan failed: {}",
            scan_error.unwrap_or("no scan of the current or the candidate image")
        ),
    };
    if gate.automatic {
        GateAction::Block(reason)
    } else {
        GateAction::Warn(reason)
    }
}

/// One line for people: "2 more critical, 1 more high; fixes 3 critical".
pub fn describe(delta: &CveDelta) -> String {
    let mut parts = Vec::new();
    let change = |count: i64, word: &str| match count {
        0 => None,
        more if more > 0 => Some(format!("{more} more {word}")),
        fewer => Some(format!("{} fewer {word}", -fewer)),
    };
    parts.extend(change(delta.critical, "critical"));
    parts.extend(change(delta.high, "high"));
    if delta.fixed_critical > 0 || delta.fixed_high > 0 {
        let mut fixes = Vec::new();
        if delta.fixed_critical > 0 {
            fixes.push(format!("{} critical", delta.fixed_critical));
        }
        if delta.fixed_high > 0 {
            fixes.push(format!("{} high", delta.fixed_high));
        }
        parts.push(format!("fixes {}", fixes.join(" and ")));
    }
    if parts.is_empty() {
        "no change in critical or high vulnerabilities".to_owned()
    } else {
        parts.join("; ")
    }
}
