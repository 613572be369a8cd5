//! Grype's JSON document (`grype -o json`) to the vulnerability ids and severities of its
//! matches (pure). `matches` must be there (an empty list is a clean scan); anything else is
//! not a Grype document and an error.

use serde::Deserialize;
use unity_shared::model::scan::Severity;

use super::parsed::{ParseError, Parsed};

#[derive(Deserialize)]
struct Document {
    matches: Option<Vec<Match>>,
    #[serde(default)]
    descriptor: Option<Descriptor>,
}

#[derive(Deserialize)]
struct Descriptor {
    #[serde(default)]
    version: Option<String>,
}

#[derive(Deserialize)]
struct Match {
    vulnerability: Vulnerability,
}

#[derive(Deserialize)]
struct Vulnerability {
    id: String,
    #[serde(default)]
    severity: Option<String>,
}

/// Parses one document.
pub fn parse(json: &[u8]) -> Result<Parsed, ParseError> {
    let document: Document = serde_json::from_slice(json).map_err(ParseError::from_json)?;
    let Some(matches) = document.matches else {
        return Err(ParseError::Schema(
            "no \"matches\" in Grype's output".to_owned(),
        ));
    };
    let findings = matches
        .into_iter()
        .map(|found| {
            let vulnerability = found.vulnerability;
            let severity = Severity::parse(vulnerability.severity.as_deref().unwrap_or(""));
            (vulnerability.id, severity)
        })
        .collect();
    Ok(Parsed {
        version: document
            .descriptor
            .and_then(|descriptor| descriptor.version),
        findings,
    })
}
