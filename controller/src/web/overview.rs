//! The overview page: every host with its status and last-seen time, counts per status, and
//! the health roll-up of the collector sections (disks, pools, arrays, databases, containers)
//! and the open alerts.

use super::badge::{self, Tone};
use super::format::{ago, url_segment};
use super::layout::{self, Frame, Nav};
use super::PageCaller;
use crate::clock::now_ms;
use crate::domain::alerts::{self, AlertView, Which};
use crate::domain::hosts::{self, Host, HostStatus};
use crate::health::HealthRollup;
use crate::http::auth::Caller;
use crate::http::error::ApiError;
use crate::http::extract::blocking;
use crate::http::state::AppState;
use crate::storage::alerts::Severity;
use axum::extract::State;
use maud::{html, Markup};

/// What the overview shows.
#[derive(Debug, Clone)]
pub struct OverviewView {
    pub hosts: Vec<Host>,
    pub open_alerts: Vec<AlertView>,
}

/// The fleet's health: every host's sections, except revoked hosts' (they are gone from the
/// fleet; their last report is history).
fn fleet_health(hosts: &[Host]) -> HealthRollup {
    let mut rollup = HealthRollup::default();
    for host in hosts
        .iter()
        .filter(|host| host.status != HostStatus::Revoked)
    {
        rollup.merge(&host.health);
    }
    rollup
}

fn health(view: &OverviewView) -> Markup {
    let rollup = fleet_health(&view.hosts);
    let n_critical = view
        .open_alerts
        .iter()
        .filter(|alert| alert.severity == Severity::Critical)
        .count();
    let alerts_tone = match (n_critical, view.open_alerts.len()) {
        (0, 0) => Tone::Ok,
        (0, _) => Tone::Warning,
        _ => Tone::Critical,
    };
    html! {
        section.health {
            @for (name, counts) in rollup.sections() {
                @if !counts.reported {
                    div.stat.muted data-section=(name) { b { (name) } " not reported yet" }
                } @else {
                    @let tone = if counts.failing > 0 {
                        Tone::Critical
                    } else if counts.warning > 0 {
                        Tone::Warning
                    } else {
                        Tone::Ok
                    };
                    div.stat.(tone.class()) data-section=(name) {
                        b { (name) } " " (counts.ok) " ok · " (counts.warning) " warning · " (counts.failing) " failing"
                    }
                }
            }
            div.stat.(alerts_tone.class()) data-section="alerts" {
                b { "alerts" } " " (view.open_alerts.len()) " open · " (n_critical) " critical"
            }
        }
    }
}

/// The overview page (pure).
pub fn render(view: &OverviewView, caller: &Caller, now: i64) -> Markup {
    let count = |status: HostStatus| {
        view.hosts
            .iter()
            .filter(|host| host.status == status)
            .count()
    };
    let content = html! {
        h1 { "Overview" }
        section.summary {
            div.stat { b { (view.hosts.len()) } " hosts" }
            div.stat.(Tone::of_host_status(HostStatus::Online).class()) { b { (count(HostStatus::Online)) } " online" }
            div.stat.(Tone::of_host_status(HostStatus::Stale).class()) { b { (count(HostStatus::Stale)) } " stale" }
            div.stat.(Tone::of_host_status(HostStatus::Offline).class()) { b { (count(HostStatus::Offline)) } " offline" }
            div.stat.(Tone::of_host_status(HostStatus::Revoked).class()) { b { (count(HostStatus::Revoked)) } " revoked" }
        }
        h2 { "Health" }
        (health(view))
        h2 #open-alerts { "Open alerts" }
        (super::alerts::table(&view.open_alerts, now, true))
        h2 { "Hosts" }
        @if view.hosts.is_empty() {
            p.muted { "No hosts yet. Enroll one from " a href="/agents" { "Agents" } "." }
        } @else {
            div.table { table #hosts {
                thead { tr {
                    th { "Host" } th { "Status" } th { "Last seen" } th.wide { "OS" } th.wide { "Agent" }
                } }
                tbody {
                    @for host in &view.hosts {
                        tr {
                            td {
                                a.host-link href={ "/hosts/" (url_segment(host.agent_id.as_str())) } { (host.hostname) }
                                div.sub { (host.agent_id) }
                            }
                            td { (badge::host_status(host.status)) }
                            td { (ago(host.last_seen_ms, now)) }
                            td.wide { (host.os) }
                            td.wide {
                                @if let Some(mark) = &host.agentless {
                                    a.badge.muted href="/agentless" { "agentless via " (mark.proxy.as_str()) }
                                } @else {
                                    (host.agent_version)
                                }
                            }
                        }
                    }
                }
            } }
        }
    };
    layout::page(Frame::new("Overview", Nav::Overview), caller, content)
}

/// `GET /`.
pub async fn page(State(state): State<AppState>, caller: PageCaller) -> Result<Markup, ApiError> {
    let access = caller.0.access.clone();
    let view = blocking(&state.ctx, move |ctx| {
        let visible = crate::domain::access::visible(ctx, &access)?;
        let mut view = OverviewView {
            open_alerts: alerts::list(ctx, Which::Open, None, 1)?,
            hosts: hosts::list(ctx)?,
        };
        view.hosts.retain(|host| visible.sees(&host.agent_id));
        view.open_alerts
            .retain(|alert| visible.sees(&alert.agent_id));
        Ok::<_, ApiError>(view)
    })
    .await?;
    Ok(render(&view, &caller.0, now_ms()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::health::Counts;
    use unity_shared::proto::AgentId;

    fn host(name: &str, status: HostStatus, n_failing_disks: u32) -> Host {
        let health = HealthRollup {
            disks: Counts {
                reported: true,
                ok: 2,
                warning: 0,
                failing: n_failing_disks,
            },
            ..HealthRollup::default()
        };
        Host {
            agent_id: AgentId::new(name).unwrap(),
            hostname: name.to_owned(),
            status,
            last_seen_ms: 0,
            agent_version: String::new(),
            os: String::new(),
            certificate_not_after: 0,
            dropped_reports: 0,
            health,
            agentless: None,
        }
    }

    #[test]
    fn issue_19_the_health_roll_up_leaves_out_revoked_hosts_disks() {
        let hosts = [
            host("nas-1", HostStatus::Online, 0),
            host("pi-1", HostStatus::Offline, 0),
            host("old-nas", HostStatus::Revoked, 3),
        ];
        let rollup = fleet_health(&hosts);
        assert_eq!(rollup.disks.ok, 4, "online and offline hosts count");
        assert_eq!(
            rollup.disks.failing, 0,
            "the revoked host's failing disks do not"
        );
        let only_revoked = fleet_health(&hosts[2..]);
        assert!(!only_revoked.disks.reported, "{only_revoked:?}");
    }
}
