//! The certificate expiry rule (pure). A certificate of a host's newest inventory that expires
//! within the largest of `[alerts] certificate_expiry_days` (21 by default) raises
//! `certificate/<agent>/<sha256>` as a warning; within the smallest (7), or expired, critical.
//! One alert per certificate and host, however many files and ports hold it (the details list
//! them). A renewed certificate has another SHA-256, so the old one's alert resolves when the
//! new inventory no longer holds it.

use super::Condition;
use crate::storage::alerts::Severity;
use std::collections::BTreeMap;
use unity_shared::model::certificate::{
    CertificateInventory, CertificateLocation, FoundCertificate,
};
use unity_shared::proto::AgentId;

const DAY_MS: i64 = 86_400_000;

/// The conditions of one host's inventory at `now_ms`.
pub fn conditions(
    agent: &AgentId,
    inventory: &CertificateInventory,
    now_ms: i64,
    thresholds_days: &[u32],
) -> Vec<Condition> {
    let Some(longest) = thresholds_days
        .iter()
        .max()
        .map(|days| i64::from(*days) * DAY_MS)
    else {
        return expired_only(agent, inventory, now_ms);
    };
    let shortest = thresholds_days
        .iter()
        .min()
        .map_or(longest, |days| i64::from(*days) * DAY_MS);
    let mut by_certificate: BTreeMap<&str, Vec<&FoundCertificate>> = BTreeMap::new();
    for certificate in &inventory.certificates {
        by_certificate
            .entry(certificate.sha256_hex.as_str())
            .or_default()
            .push(certificate);
    }
    let mut conditions = Vec::new();
    for (sha256, found) in by_certificate {
        let first = found[0];
        let left_ms = first.not_after_unix.saturating_mul(1000) - now_ms;
        if left_ms > longest {
            continue;
        }
        let severity = if left_ms <= shortest {
            Severity::Critical
        } else {
            Severity::Warning
        };
        conditions.push(condition(agent, sha256, &found, left_ms, severity));
    }
    conditions
}

fn expired_only(agent: &AgentId, inventory: &CertificateInventory, now_ms: i64) -> Vec<Condition> {
    conditions(agent, inventory, now_ms, &[0])
}

fn condition(
    agent: &AgentId,
    sha256: &str,
    found: &[&FoundCertificate],
    left_ms: i64,
    severity: Severity,
) -> Condition {
    let first = found[0];
    let name = first
        .names
        .first()
        .map_or_else(|| first.subject.clone(), ToString::to_string);
    let summary = if left_ms <= 0 {
        format!("Certificate {name} has expired")
    } else {
        let days = left_ms / DAY_MS;
        match days {
            0 => format!("Certificate {name} expires within a day"),
            1 => format!("Certificate {name} expires in 1 day"),
            days => format!("Certificate {name} expires in {days} days"),
        }
    };
    let mut details = vec![
        format!("Subject: {}", first.subject),
        format!("Issuer: {}", first.issuer),
        format!("Not after (Unix seconds): {}", first.not_after_unix),
    ];
    details.extend(found.iter().map(|certificate| match &certificate.location {
        CertificateLocation::File { path, .. } => format!("Found in {path}"),
        CertificateLocation::Port {
            address,
            port,
            process,
            ..
        } => format!(
            "Served on {address} port {port}{}",
            process
                .as_deref()
                .map(|process| format!(" by {process}"))
                .unwrap_or_default()
        ),
    }));
    Condition {
        key: format!("certificate/{agent}/{sha256}"),
        agent_id: agent.clone(),
        severity,
        summary,
        details,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use unity_shared::model::certificate::{FileFormat, PublicKeyKind, SubjectName};

    const NOW_MS: i64 = 1_800_000_000_000;

    fn certificate(sha: &str, days_left: i64, path: &str) -> FoundCertificate {
        FoundCertificate {
            location: CertificateLocation::File {
                path: path.into(),
                format: FileFormat::Pem,
            },
            position: 0,
            subject: "CN=nas.home.arpa".into(),
            names: vec![SubjectName::Dns("nas.home.arpa".into())],
            issuer: "CN=R11,O=Let's Encrypt".into(),
            serial_hex: "01".into(),
            not_before_unix: 0,
            not_after_unix: NOW_MS / 1000 + days_left * 86_400,
            key: PublicKeyKind::Ed25519,
            is_ca: false,
            sha256_hex: sha.into(),
            problems: vec![],
        }
    }

    fn run(certificates: Vec<FoundCertificate>, thresholds: &[u32]) -> Vec<Condition> {
        let inventory = CertificateInventory {
            certificates,
            ..CertificateInventory::default()
        };
        conditions(
            &AgentId::new("nas").unwrap(),
            &inventory,
            NOW_MS,
            thresholds,
        )
    }

    #[test]
    fn issue_15_expiry_opens_warning_then_critical_then_expired() {
        let found = run(
            vec![
                certificate("aa", 30, "/a"),
                certificate("bb", 20, "/b"),
                certificate("cc", 5, "/c"),
                certificate("dd", -1, "/d"),
            ],
            &[21, 7],
        );
        let keys: Vec<(&str, Severity, &str)> = found
            .iter()
            .map(|c| (c.key.as_str(), c.severity, c.summary.as_str()))
            .collect();
        assert_eq!(
            keys,
            vec![
                (
                    "certificate/nas/bb",
                    Severity::Warning,
                    "Certificate DNS:nas.home.arpa expires in 20 days"
                ),
                (
                    "certificate/nas/cc",
                    Severity::Critical,
                    "Certificate DNS:nas.home.arpa expires in 5 days"
                ),
                (
                    "certificate/nas/dd",
                    Severity::Critical,
                    "Certificate DNS:nas.home.arpa has expired"
                ),
            ]
        );
    }

    #[test]
    fn issue_15_one_alert_per_certificate_and_host() {
        let found = run(
            vec![
                certificate("aa", 3, "/etc/nginx/a.pem"),
                certificate("aa", 3, "/etc/ssl/a.pem"),
            ],
            &[21, 7],
        );
        assert_eq!(found.len(), 1);
        assert!(found[0]
            .details
            .iter()
            .any(|line| line == "Found in /etc/nginx/a.pem"));
        assert!(found[0]
            .details
            .iter()
            .any(|line| line == "Found in /etc/ssl/a.pem"));
    }

    #[test]
    fn issue_15_no_thresholds_still_alerts_on_expiry() {
        let found = run(
            vec![certificate("aa", 3, "/a"), certificate("bb", -2, "/b")],
            &[],
        );
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].key, "certificate/nas/bb");
        assert_eq!(found[0].severity, Severity::Critical);
    }
}
