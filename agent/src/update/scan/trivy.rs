//! Trivy's JSON report (`trivy image --format json --scanners vuln`, SchemaVersion 2) to the
//! vulnerability ids and severities it lists (pure). A report with no `Results` (nothing to
//! scan) or results without `Vulnerabilities` (nothing found) is a clean scan; a document
//! without `SchemaVersion` is not a Trivy report and an error, so that stray JSON never passes
//! as "no vulnerabilities".

use serde::Deserialize;
use unity_shared::model::scan::Severity;

use super::parsed::{ParseError, Parsed};

#[derive(Deserialize)]
struct Report {
    #[serde(rename = "SchemaVersion")]
    schema_version: u32,
    #[serde(rename = "Trivy", default)]
    trivy: Option<Tool>,
    #[serde(rename = "Results", default)]
    results: Option<Vec<Target>>,
}

#[derive(Deserialize)]
struct Tool {
    #[serde(rename = "Version", default)]
    version: Option<String>,
}

#[derive(Deserialize)]
struct Target {
    #[serde(rename = "Vulnerabilities", default)]
    vulnerabilities: Option<Vec<Vulnerability>>,
}

#[derive(Deserialize)]
struct Vulnerability {
    #[serde(rename = "VulnerabilityID")]
    id: String,
    #[serde(rename = "Severity", default)]
    severity: Option<String>,
}

/// Parses one report.
pub fn parse(json: &[u8]) -> Result<Parsed, ParseError> {
    let report: Report = serde_json::from_slice(json).map_err(ParseError::from_json)?;
    if report.schema_version != 2 {
        return Err(ParseError::Schema(format!(
            "Trivy SchemaVersion {} (expected 2)",
            report.schema_version
        )));
    }
    let findings = report
        .results
        .unwrap_or_default()
        .into_iter()
        .flat_map(|target| target.vulnerabilities.unwrap_or_default())
        .map(|vulnerability| {
            let severity = Severity::parse(vulnerability.severity.as_deref().unwrap_or(""));
            (vulnerability.id, severity)
        })
        .collect();
    Ok(Parsed {
        version: report.trivy.and_then(|tool| tool.version),
        findings,
    })
}
