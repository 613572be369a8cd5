//! The overview page: every host with its status and last-seen time, counts per status, and
//! the health roll-up of the collector sections (disks, pools, arrays, databases, containers)
//! and the open alerts.

use super::{ago, badge, esc, layout, url_segment, PageCaller};
use crate::admin;
use crate::api::alerts::Which;
use crate::api::{blocking, ApiError, AppState};
use crate::health::HealthRollup;
use crate::service::now_ms;
use crate::storage::alerts::Severity;
use axum::extract::State;
use axum::response::Html;
use std::fmt::Write as _;

/// `GET /`.
pub async fn page(
    State(state): State<AppState>,
    caller: PageCaller,
) -> Result<Html<String>, ApiError> {
    let (hosts, open_alerts) = blocking(&state.ctx, |ctx| {
        let alerts = crate::api::alerts::list(ctx, Which::Open, None, 1)?;
        Ok((admin::hosts(ctx)?, alerts))
    })
    .await?;
    let mut health = HealthRollup::default();
    for host in &hosts {
        health.merge(&host.health);
    }
    let now = now_ms();
    let count = |status: &str| hosts.iter().filter(|host| host.status == status).count();
    let mut body = String::with_capacity(4096 + hosts.len() * 400);
    let _ = write!(
        body,
        "<h1>Overview</h1><section class=\"summary\">\
<div class=\"stat\"><b>{}</b> hosts</div><div class=\"stat online\"><b>{}</b> online</div>\
<div class=\"stat stale\"><b>{}</b> stale</div><div class=\"stat offline\"><b>{}</b> offline</div>\
<div class=\"stat revoked\"><b>{}</b> revoked</div></section>",
        hosts.len(),
        count("online"),
        count("stale"),
        count("offline"),
        count("revoked"),
    );
    body.push_str("<h2>Health</h2><section class=\"health\">");
    for (name, counts) in health.sections() {
        if !counts.reported {
            let _ = write!(
                body,
                "<div class=\"stat muted\" data-section=\"{name}\"><b>{name}</b> not reported yet</div>"
            );
            continue;
        }
        let class = if counts.failing > 0 {
            "offline"
        } else if counts.warning > 0 {
            "stale"
        } else {
            "online"
        };
        let _ = write!(
            body,
            "<div class=\"stat {class}\" data-section=\"{name}\"><b>{name}</b> {} ok · {} warning · {} failing</div>",
            counts.ok, counts.warning, counts.failing
        );
    }
    let n_critical = open_alerts
        .iter()
        .filter(|alert| alert.severity == Severity::Critical)
        .count();
    let class = match (n_critical, open_alerts.len()) {
        (0, 0) => "online",
        (0, _) => "stale",
        _ => "offline",
    };
    let _ = write!(
        body,
        "<div class=\"stat {class}\" data-section=\"alerts\"><b>alerts</b> {} open · {n_critical} critical</div></section>",
        open_alerts.len()
    );
    body.push_str("<h2 id=\"open-alerts\">Open alerts</h2>");
    body.push_str(&super::alerts::table(&open_alerts, now, true));
    body.push_str("<h2>Hosts</h2>");
    if hosts.is_empty() {
        body.push_str(
            "<p class=\"muted\">No hosts yet. Enroll one from <a href=\"/agents\">Agents</a>.</p>",
        );
    } else {
        body.push_str(
            "<div class=\"table\"><table id=\"hosts\"><thead><tr><th>Host</th><th>Status</th><th>Last seen</th>\
<th class=\"wide\">OS</th><th class=\"wide\">Agent</th></tr></thead><tbody>",
        );
        for host in &hosts {
            let _ = write!(
                body,
                "<tr><td><a class=\"host-link\" href=\"/hosts/{}\">{}</a><div class=\"sub\">{}</div></td><td>{}</td><td>{}</td>\
<td class=\"wide\">{}</td><td class=\"wide\">{}</td></tr>",
                url_segment(&host.agent_id),
                esc(&host.hostname),
                esc(&host.agent_id),
                badge(&host.status),
                ago(host.last_seen_ms, now),
                esc(&host.os),
                esc(&host.agent_version),
            );
        }
        body.push_str("</tbody></table></div>");
    }
    Ok(layout("Overview", &caller.0, "overview", &body))
}
