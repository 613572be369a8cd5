//! The open-alerts table shown on the overview (every host) and on a host's page.

use super::{ago, esc, url_segment};
use crate::api::alerts::AlertView;
use crate::storage::alerts::Severity;
use std::fmt::Write as _;

fn severity_badge(severity: Severity) -> &'static str {
    match severity {
        Severity::Warning => "<span class=\"badge stale\">warning</span>",
        Severity::Critical => "<span class=\"badge revoked\">critical</span>",
    }
}

/// The alerts as a table (with a host column when `show_host`), or a line saying there are
/// none.
pub fn table(alerts: &[AlertView], now_ms: i64, show_host: bool) -> String {
    if alerts.is_empty() {
        return "<p class=\"muted\" id=\"no-alerts\">No open alerts.</p>".to_owned();
    }
    let mut html = String::with_capacity(256 + alerts.len() * 300);
    html.push_str("<div class=\"table\"><table id=\"alerts\"><thead><tr><th>Severity</th>");
    if show_host {
        html.push_str("<th>Host</th>");
    }
    html.push_str("<th>Alert</th><th>Since</th></tr></thead><tbody>");
    for alert in alerts {
        let _ = write!(
            html,
            "<tr class=\"alert\" data-key=\"{}\" data-severity=\"{}\"><td>{}</td>",
            esc(&alert.key),
            alert.severity.as_str(),
            severity_badge(alert.severity),
        );
        if show_host {
            let _ = write!(
                html,
                "<td><a class=\"host-link\" href=\"/hosts/{}\">{}</a></td>",
                url_segment(&alert.agent_id),
                esc(&alert.hostname)
            );
        }
        let details: Vec<String> = alert.details.iter().map(|detail| esc(detail)).collect();
        let _ = write!(
            html,
            "<td>{}<div class=\"sub\">{}</div></td><td>{}</td></tr>",
            esc(&alert.summary),
            details.join("<br>"),
            ago(alert.opened_at_ms, now_ms),
        );
    }
    html.push_str("</tbody></table></div>");
    html
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_escaped_rows_with_host_links() {
        let alert = AlertView {
            key: "pool/nas/<tank>".into(),
            agent_id: "nas 1".into(),
            hostname: "<b>nas</b>".into(),
            state: "open",
            severity: Severity::Critical,
            summary: "tank: DEGRADED, 1 of 12 disks FAULTED".into(),
            details: vec!["a <script>".into()],
            opened_at_ms: 1000,
            last_seen_ms: 1000,
            resolved_at_ms: None,
        };
        let html = table(&[alert], 61_000, true);
        assert!(html.contains("href=\"/hosts/nas%201\""), "{html}");
        assert!(html.contains("data-severity=\"critical\""), "{html}");
        assert!(
            html.contains("60 s ago") && !html.contains("<script>") && !html.contains("<b>nas")
        );
        assert!(table(&[], 0, true).contains("No open alerts"));
    }
}
