//! The open-alerts table shown on the overview (every host) and on a host's page.

use super::badge::{badge, Tone};
use super::format::{ago, url_segment};
use crate::domain::alerts::AlertView;
use crate::storage::alerts::Severity;
use maud::{html, Markup};

fn severity_badge(severity: Severity) -> Markup {
    let tone = match severity {
        Severity::Warning => Tone::Warning,
        Severity::Critical => Tone::Critical,
    };
    badge(tone, severity.as_str())
}

/// The alerts as a table (with a host column when `show_host`), or a line saying there are
/// none.
pub fn table(alerts: &[AlertView], now_ms: i64, show_host: bool) -> Markup {
    html! {
        @if alerts.is_empty() {
            p.muted #no-alerts { "No open alerts." }
        } @else {
            div.table { table #alerts {
                thead { tr {
                    th { "Severity" }
                    @if show_host { th { "Host" } }
                    th { "Alert" } th { "Since" }
                } }
                tbody {
                    @for alert in alerts {
                        tr.alert data-key=(alert.key) data-severity=(alert.severity.as_str()) {
                            td { (severity_badge(alert.severity)) }
                            @if show_host {
                                td { a.host-link href={ "/hosts/" (url_segment(alert.agent_id.as_str())) } { (alert.hostname) } }
                            }
                            td {
                                (alert.summary)
                                div.sub {
                                    @for (n, detail) in alert.details.iter().enumerate() {
                                        @if n > 0 { br; }
                                        (detail)
                                    }
                                }
                            }
                            td { (ago(alert.opened_at_ms, now_ms)) }
                        }
                    }
                }
            } }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_escaped_rows_with_host_links() {
        // An id no agent can have (ids are checked when made, not when decoded): escaped anyway.
        let odd_id: unity_shared::proto::AgentId = serde_json::from_str("\"nas 1\"").unwrap();
        let alert = AlertView {
            key: "pool/nas/<tank>".into(),
            agent_id: odd_id,
            hostname: "<b>nas</b>".into(),
            state: crate::domain::alerts::AlertState::Open,
            severity: Severity::Critical,
            summary: "tank: DEGRADED, 1 of 12 disks FAULTED".into(),
            details: vec!["a <script>".into()],
            opened_at_ms: 1000,
            last_seen_ms: 1000,
            resolved_at_ms: None,
            acknowledged: None,
            silenced_by: vec![],
            unknown_since_ms: None,
        };
        let html = table(&[alert], 61_000, true).into_string();
        assert!(html.contains("href=\"/hosts/nas%201\""), "{html}");
        assert!(html.contains("data-severity=\"critical\""), "{html}");
        assert!(
            html.contains("60 s ago") && !html.contains("<script>") && !html.contains("<b>nas")
        );
        assert!(table(&[], 0, true).into_string().contains("No open alerts"));
    }
}
