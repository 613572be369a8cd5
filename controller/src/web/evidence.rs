//! What a failed candidate left behind, on its operation's page (pure): why the gate failed,
//! the probe's failure, the engine's health check runs and the container's last log lines.
//! All of it is the container's own output, hostile text: maud escapes it by construction and
//! the agent bounded it (`FailureEvidence`).

use maud::{html, Markup};
use unity_shared::model::update::FailureEvidence;

/// The evidence section.
pub fn section(evidence: &FailureEvidence) -> Markup {
    html! {
        section #failure-evidence {
            h2 { "What the failed container left" }
            p { "Health gate: " (evidence.reason) }
            @if let Some(probe) = &evidence.probe_failure {
                p { "Probe: " (probe) }
            }
            @if let Some(error) = &evidence.capture_error {
                p.muted { "The logs could not be read: " (error) }
            }
            @if !evidence.health_checks.is_empty() {
                h3 { "Health checks (the engine's)" }
                div.table { table #health-checks {
                    thead { tr { th { "Started" } th { "Ended" } th { "Exit code" } th { "Output" } } }
                    tbody {
                        @for run in &evidence.health_checks {
                            tr {
                                td { (run.start) } td { (run.end) } td { (run.exit_code) }
                                td { pre { (run.output) } }
                            }
                        }
                    }
                } }
            }
            h3 { "Last log lines" }
            @if evidence.log_truncated {
                p.sub { "Older lines were cut (the newest 200 lines, 64 KiB at most, are kept)." }
            }
            @if evidence.log_tail.is_empty() {
                p.muted { "The container wrote nothing." }
            } @else {
                pre #failure-log { (evidence.log_tail) }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use unity_shared::model::update::HealthCheckRun;

    #[test]
    fn issue_17_evidence_is_shown_escaped() {
        let evidence = FailureEvidence {
            reason: "reported unhealthy after the start grace period".into(),
            log_tail: "<script>alert(1)</script>\nfatal: \u{fffd}\n".into(),
            log_truncated: true,
            health_checks: vec![HealthCheckRun {
                start: "2026-12-07T09:00:00Z".into(),
                end: "2026-12-07T09:00:01Z".into(),
                exit_code: 1,
                output: "<img src=x onerror=alert(2)>".into(),
            }],
            probe_failure: Some("TCP 127.0.0.1:8080: refused".into()),
            capture_error: None,
        };
        let html = section(&evidence).into_string();
        assert!(
            !html.contains("<script>") && !html.contains("<img"),
            "{html}"
        );
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{html}"
        );
        assert!(
            html.contains("&lt;img src=x onerror=alert(2)&gt;"),
            "{html}"
        );
        assert!(html.contains("TCP 127.0.0.1:8080: refused"));
        assert!(html.contains("Older lines were cut"));
    }
}
