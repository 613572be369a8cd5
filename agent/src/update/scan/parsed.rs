//! What both scanner parsers give (pure): the scanner's version and the `(id, severity)` pairs
//! it listed, or why its output is not a report.

use unity_shared::model::scan::Severity;

/// One scanner report, before deduplication ([`unity_shared::model::scan::ImageScan::from_findings`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    /// The scanner's own version, when the report says.
    pub version: Option<String>,
    pub findings: Vec<(String, Severity)>,
}

/// The output is not a report this version reads.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Not JSON, or not the expected shape.
    #[error("not a scanner report: {0}")]
    Json(String),
    /// JSON of another shape or version.
    #[error("{0}")]
    Schema(String),
}

impl ParseError {
    pub(super) fn from_json(error: serde_json::Error) -> ParseError {
        ParseError::Json(error.to_string())
    }
}
