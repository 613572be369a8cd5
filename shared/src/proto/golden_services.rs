//! Golden values of the service-check messages (issue 18 §1), chained into `golden_tests.rs`'s
//! golden file.

use super::*;
use crate::model::service::{ServiceCheck, ServiceCheckKind, ServiceCheckResult};

/// One result of each shape: up with TLS days, down with a reason.
pub(super) fn results() -> Vec<ServiceCheckResult> {
    vec![
        ServiceCheckResult {
            name: "web".into(),
            checked_at_ms: 1_700_000_000_000,
            up: true,
            latency_ms: Some(12),
            reason: None,
            tls_days_left: Some(2.5),
        },
        ServiceCheckResult {
            name: "nas-ssh".into(),
            checked_at_ms: 1_700_000_000_500,
            up: false,
            latency_ms: None,
            reason: Some("connection refused".into()),
            tls_days_left: None,
        },
    ]
}

/// The assignment with one check of every kind.
pub(super) fn commands() -> Vec<Command> {
    let check = |name: &str, kind| ServiceCheck {
        name: name.into(),
        kind,
        interval_secs: 60,
        timeout_ms: 5_000,
    };
    vec![Command::from(AssignServiceChecks {
        checks: vec![
            check(
                "web",
                ServiceCheckKind::Http {
                    url: "https://nas.home.arpa/".into(),
                    status_min: 200,
                    status_max: 399,
                    keyword: Some("Welcome".into()),
                    tls_verify: true,
                },
            ),
            check(
                "nas-ssh",
                ServiceCheckKind::Tcp {
                    host: "nas.home.arpa".into(),
                    port: 22,
                },
            ),
            check(
                "router",
                ServiceCheckKind::Icmp {
                    host: "192.168.1.1".into(),
                },
            ),
            check(
                "dns",
                ServiceCheckKind::Dns {
                    name: "nas.home.arpa".into(),
                    expected_address: Some("192.168.1.10".into()),
                    server: Some("192.168.1.1:53".into()),
                },
            ),
        ],
    })]
}

pub(super) fn responses() -> Vec<CommandResponse> {
    vec![CommandResponse::ServiceChecksAssigned(
        ServiceChecksAssigned { checks: 4 },
    )]
}
