//! `unity-agent collect certificates [--json]`: take the certificate inventory once, as the
//! daemon does (same paths, extra paths and caps), and print it sorted by expiry: a table, or
//! JSON in the shape the controller's API uses (docs/certificates/inventory.md). The exit code
//! is 1 when a certificate has expired, else 0.

use crate::collect::certificates::{self, CertificatesConfig};
use serde_json::{json, Value};
use std::fmt::Write as _;
use unity_shared::model::certificate::{
    CertificateInventory, CertificateLocation, ChainProblem, FoundCertificate, PublicKeyKind,
};

/// One round of the inventory.
pub async fn collect(config: &CertificatesConfig) -> anyhow::Result<CertificateInventory> {
    certificates::collect(config).await
}

/// 1 when a certificate has expired.
pub fn exit_code(inventory: &CertificateInventory) -> u8 {
    u8::from(
        inventory
            .certificates
            .iter()
            .any(|certificate| certificate.problems.contains(&ChainProblem::Expired)),
    )
}

fn sorted(inventory: &CertificateInventory) -> Vec<&FoundCertificate> {
    let mut certificates: Vec<&FoundCertificate> = inventory.certificates.iter().collect();
    certificates.sort_by(|a, b| {
        a.not_after_unix
            .cmp(&b.not_after_unix)
            .then_with(|| a.subject.cmp(&b.subject))
    });
    certificates
}

/// Where, in words: a path, or `address:port (process)`.
pub fn location_text(location: &CertificateLocation) -> String {
    match location {
        CertificateLocation::File { path, .. } => path.clone(),
        CertificateLocation::Port {
            address,
            port,
            process,
            ..
        } => {
            let address = if address.contains(':') {
                format!("[{address}]:{port}")
            } else {
                format!("{address}:{port}")
            };
            match process {
                Some(process) => format!("{address} ({process})"),
                None => address,
            }
        }
    }
}

/// The key in words: `RSA 2048`, `ECDSA P-256`, `Ed25519`.
pub fn key_text(key: &PublicKeyKind) -> String {
    match key {
        PublicKeyKind::Rsa { bits } => format!("RSA {bits}"),
        PublicKeyKind::Ecdsa { curve } => format!("ECDSA {curve}"),
        PublicKeyKind::Ed25519 => "Ed25519".into(),
        PublicKeyKind::Ed448 => "Ed448".into(),
        PublicKeyKind::Other { oid } => format!("other ({oid})"),
    }
}

/// A chain problem in words.
pub fn problem_text(problem: &ChainProblem) -> String {
    match problem {
        ChainProblem::Expired => "expired".into(),
        ChainProblem::NotYetValid => "not yet valid".into(),
        ChainProblem::SelfSigned => "self-signed".into(),
        ChainProblem::MissingIntermediate { issuer } => {
            format!("missing intermediate (issuer {issuer} not sent)")
        }
        ChainProblem::NameMismatch { name } => format!("not valid for {name}"),
        ChainProblem::WrongOrder => "chain in the wrong order".into(),
    }
}

fn format_date(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .map(|at| {
            format!(
                "{:04}-{:02}-{:02}",
                at.year(),
                u8::from(at.month()),
                at.day()
            )
        })
        .unwrap_or_else(|_| unix.to_string())
}

/// The table, soonest expiry first, then the problems.
pub fn render_text(inventory: &CertificateInventory, now_unix: i64) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} certificates ({} files read, {} ports tried{})",
        inventory.certificates.len(),
        inventory.files_scanned,
        inventory.ports_probed,
        if inventory.truncated {
            ", stopped at a cap"
        } else {
            ""
        }
    );
    let _ = writeln!(
        out,
        "{:<10} {:>6}  {:<40} {:<12} WHERE / PROBLEMS",
        "EXPIRES", "DAYS", "SUBJECT", "KEY"
    );
    for certificate in sorted(inventory) {
        let days = (certificate.not_after_unix - now_unix).div_euclid(86_400);
        let problems: Vec<String> = certificate.problems.iter().map(problem_text).collect();
        let _ = writeln!(
            out,
            "{:<10} {:>6}  {:<40} {:<12} {}#{}{}",
            format_date(certificate.not_after_unix),
            days,
            certificate.subject,
            key_text(&certificate.key),
            location_text(&certificate.location),
            certificate.position,
            if problems.is_empty() {
                String::new()
            } else {
                format!("  [{}]", problems.join("; "))
            }
        );
    }
    for problem in &inventory.problems {
        let _ = writeln!(out, "problem: {}: {}", problem.location, problem.message);
    }
    out
}

fn location_json(location: &CertificateLocation) -> Value {
    match location {
        CertificateLocation::File { path, format } => json!({
            "kind": "file",
            "path": path,
            "format": format.as_str(),
        }),
        CertificateLocation::Port {
            address,
            port,
            process,
            server_name,
        } => json!({
            "kind": "port",
            "address": address,
            "port": port,
            "process": process,
            "server_name": server_name,
        }),
    }
}

/// The inventory as JSON, soonest expiry first.
pub fn render_json(inventory: &CertificateInventory, now_unix: i64) -> anyhow::Result<String> {
    let certificates: Vec<Value> = sorted(inventory)
        .into_iter()
        .map(|certificate| {
            json!({
                "subject": certificate.subject,
                "issuer": certificate.issuer,
                "names": certificate.names.iter().map(ToString::to_string).collect::<Vec<_>>(),
                "serial": certificate.serial_hex,
                "not_before_unix": certificate.not_before_unix,
                "not_after_unix": certificate.not_after_unix,
                "days_left": (certificate.not_after_unix - now_unix).div_euclid(86_400),
                "key": key_text(&certificate.key),
                "is_ca": certificate.is_ca,
                "sha256": certificate.sha256_hex,
                "location": location_json(&certificate.location),
                "position": certificate.position,
                "problems": certificate.problems.iter().map(problem_text).collect::<Vec<_>>(),
            })
        })
        .collect();
    let problems: Vec<Value> = inventory
        .problems
        .iter()
        .map(|problem| json!({"location": problem.location, "message": problem.message}))
        .collect();
    Ok(serde_json::to_string_pretty(&json!({
        "certificates": certificates,
        "problems": problems,
        "files_scanned": inventory.files_scanned,
        "ports_probed": inventory.ports_probed,
        "truncated": inventory.truncated,
    }))?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::certificates::{files, Caps, Found};
    use std::collections::HashSet;
    use std::path::Path;

    fn inventory() -> CertificateInventory {
        let testdata =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("src/collect/certificates/testdata");
        let mut found = Found::default();
        files::scan(
            &[testdata],
            &Caps::default(),
            1_811_808_000,
            &HashSet::new(),
            &mut found,
        );
        found.inventory
    }

    #[test]
    fn issue_15_collect_certificates_prints_soonest_expiry_first() {
        let inventory = inventory();
        let text = render_text(&inventory, 1_811_808_000);
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[0].starts_with("6 certificates (14 files read, 0 ports tried"),
            "{text}"
        );
        assert!(
            lines[2].contains("CN=old.home.arpa") && lines[2].contains("[expired]"),
            "{text}"
        );
        assert!(text.contains("ECDSA P-384"), "{text}");
        assert!(text.contains("problem: ") && text.contains("PKCS#12 is not supported"));
        let json: serde_json::Value =
            serde_json::from_str(&render_json(&inventory, 1_811_808_000).unwrap()).unwrap();
        assert_eq!(json["certificates"][0]["subject"], "CN=old.home.arpa");
        assert_eq!(json["certificates"][0]["location"]["kind"], "file");
        assert_eq!(json["certificates"][0]["problems"][0], "expired");
        assert_eq!(json["files_scanned"], 14);
        assert_eq!(exit_code(&inventory), 1);
    }
}
