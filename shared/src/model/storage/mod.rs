//! Storage health model (SMART, ZFS, md RAID): what the agent's storage collectors report.
//!
//! These types travel to the controller over postcard (which encodes fields and variants by
//! position) and are printed as JSON by `unity-agent parse|collect --json` (where the field names
//! are the stable, documented names; see `docs/storage-model.md`). Therefore:
//! never reorder fields or variants, only append; no `untagged`, `flatten` or
//! `skip_serializing_if`; absent values are `Option::None` (JSON `null`).

pub mod mdraid;
pub mod smart;
pub mod stack;
pub mod zfs;

pub use mdraid::*;
pub use smart::*;
pub use zfs::*;

use serde::{Deserialize, Serialize};

/// How healthy a drive, pool or array is. Ordered: `Passed < Warning < Failing`.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "snake_case")]
pub enum VerdictStatus {
    /// Nothing found that needs attention.
    Passed,
    /// Something needs a look (a predictor of failure, cabling, wear, a degraded but working array).
    Warning,
    /// Data is at risk now: replace the drive, repair the pool or array.
    Failing,
}

/// What a [`Reason`] is about. Machine-readable; the message says it for people.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum ReasonKind {
    /// The drive's own overall self-assessment is FAILED (or SCSI health is not OK).
    SelfAssessmentFailed,
    /// An ATA attribute's normalized value is at or below its threshold now.
    AttributeFailingNow,
    /// An ATA attribute's normalized value was at or below its threshold in the past.
    AttributeFailedInPast,
    /// Reallocated sectors (ATA 5) or grown defects (SCSI).
    ReallocatedSectors,
    /// Sectors waiting to be reallocated (ATA 197).
    PendingSectors,
    /// Sectors the offline scan could not read (ATA 198).
    OfflineUncorrectable,
    /// Errors the drive could not correct (ATA 187, SCSI total uncorrected).
    ReportedUncorrectable,
    /// Commands that timed out (ATA 188).
    CommandTimeouts,
    /// Interface CRC errors (ATA 199): usually a cable or backplane, not the drive.
    CrcErrors,
    /// NVMe critical warning bits are set.
    NvmeCriticalWarning,
    /// NVMe available spare is below the drive's threshold.
    SpareBelowThreshold,
    /// The drive's rated endurance is used up (NVMe percentage used, SCSI endurance indicator).
    EnduranceUsed,
    /// NVMe media and data integrity errors.
    MediaErrors,
    /// The temperature is over the limit.
    Temperature,
    /// A self-test failed.
    SelfTestFailed,
    /// The drive's error log has entries.
    ErrorLogEntries,
    /// No health data could be read (open failed, standby, SMART unavailable, ...).
    NoHealthData,
    /// smartctl's exit status reports a finding not otherwise visible in the data.
    ExitStatus,
    /// A pool or array runs without full redundancy.
    Degraded,
    /// A pool, vdev or array is faulted, unavailable or inactive.
    Faulted,
    /// A member device is failed, removed, offline or unavailable.
    MemberFailed,
    /// A resilver, rebuild, recovery or reshape is running.
    Rebuilding,
    /// A check, scrub or resync is running (informational).
    Scrubbing,
    /// Read, write or checksum errors on a pool device.
    DeviceErrors,
    /// The pool reports data errors (permanent errors in files).
    DataErrors,
    /// The last scrub is older than the configured maximum age (or never ran).
    ScrubOverdue,
    /// A scrub found and repaired damage, or finished with errors.
    ScrubRepaired,
    /// Informational note that does not change the status.
    Note,
}

/// One finding behind a [`Verdict`].
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Reason {
    /// The status this finding alone would give.
    pub status: VerdictStatus,
    pub kind: ReasonKind,
    /// A full sentence for people, e.g. "Attribute 5 Reallocated_Sector_Ct raw value is 304.".
    pub message: String,
}

/// A health verdict with the findings that led to it. `status` is the worst `reasons[].status`,
/// or `passed` when there are no reasons.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Verdict {
    pub status: VerdictStatus,
    pub reasons: Vec<Reason>,
}

/// The verdict of one drive.
pub type DriveVerdict = Verdict;
/// The verdict of one ZFS pool.
pub type PoolVerdict = Verdict;
/// The verdict of one md array.
pub type ArrayVerdict = Verdict;

impl Verdict {
    /// A verdict from its findings: the status is the worst finding's status.
    pub fn from_reasons(reasons: Vec<Reason>) -> Verdict {
        let status = reasons
            .iter()
            .map(|reason| reason.status)
            .max()
            .unwrap_or(VerdictStatus::Passed);
        Verdict { status, reasons }
    }
}

impl Reason {
    pub fn new(status: VerdictStatus, kind: ReasonKind, message: impl Into<String>) -> Reason {
        Reason {
            status,
            kind,
            message: message.into(),
        }
    }
}

/// A line a parser skipped or only partly understood. Parsers return these next to a partial
/// result instead of failing.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct ParseWarning {
    /// 1-based line number in the input, when the warning is about one line.
    pub line_number: Option<u32>,
    /// The offending line (trimmed of its line ending), possibly empty.
    pub line: String,
    pub message: String,
}

/// How a collector run went as a whole (per-device problems are reported per device).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "snake_case")]
pub enum CollectorOutcome {
    /// The tool ran and its output was parsed (possibly with per-device errors).
    Ok,
    /// The tool is not installed (or the data source does not exist) on this host.
    NotInstalled { tool: String },
    /// The tool exists but the run failed as a whole (timeout, unparseable output, ...).
    Failed { message: String },
}

/// Why a parser produced nothing at all. Partial problems are [`ParseWarning`]s instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The input is empty or only whitespace.
    #[error("empty input: expected {expected}")]
    Empty { expected: &'static str },
    /// The input does not look like the expected tool output at all.
    #[error("not {expected} (first line: {first_line:?})")]
    Unrecognized {
        expected: &'static str,
        first_line: String,
    },
    /// The input is not valid JSON, or not a JSON object.
    #[error("invalid JSON: {message}")]
    Json { message: String },
}

impl ParseError {
    /// An [`ParseError::Unrecognized`] quoting the first non-blank line of `input` (shortened).
    pub fn unrecognized(expected: &'static str, input: &str) -> ParseError {
        let first_line = input
            .lines()
            .map(str::trim)
            .find(|line| !line.is_empty())
            .unwrap_or("")
            .chars()
            .take(120)
            .collect();
        ParseError::Unrecognized {
            expected,
            first_line,
        }
    }
}

impl ParseWarning {
    /// A warning about line `index` (0-based) of the input.
    pub fn at_line(index: usize, line: &str, message: impl Into<String>) -> ParseWarning {
        ParseWarning {
            line_number: u32::try_from(index.saturating_add(1)).ok(),
            line: line.trim_end_matches(['\r', '\n']).to_owned(),
            message: message.into(),
        }
    }

    /// A warning about the input as a whole, or about a JSON path given as `line`.
    pub fn general(line: impl Into<String>, message: impl Into<String>) -> ParseWarning {
        ParseWarning {
            line_number: None,
            line: line.into(),
            message: message.into(),
        }
    }
}
