//! The overview page: counts per status, the health roll-up of the collector sections (disks,
//! pools, arrays, databases, containers) and the open alerts, then the fleet at a glance: one
//! card per host (`overview_card.rs`) with live figures, sparklines and badges, which the
//! live channel (`overview_live.rs`) keeps current and `overview.js` sorts, filters, groups
//! and searches in the browser. Without JavaScript the cards are all there, by name.

use super::badge::Tone;
use super::layout::{self, Frame, Nav};
use super::overview_card::{self, CardView};
use super::PageCaller;
use crate::clock::now_ms;
use crate::domain::alerts::{self, AlertView, Which};
use crate::domain::groups::HostGroupView;
use crate::domain::hosts::{self, Host, HostStatus};
use crate::health::HealthRollup;
use crate::http::auth::Caller;
use crate::http::error::ApiError;
use crate::http::extract::blocking;
use crate::http::state::AppState;
use crate::storage::access::ALL_HOSTS;
use crate::storage::alerts::Severity;
use axum::extract::State;
use maud::{html, Markup};
use std::collections::HashMap;
use unity_shared::proto::AgentId;

/// What the overview shows.
#[derive(Debug, Clone)]
pub struct OverviewView {
    pub hosts: Vec<Host>,
    pub open_alerts: Vec<AlertView>,
    /// One per host, in the order of `hosts`.
    pub cards: Vec<CardView>,
    /// The host groups a card can be grouped by (not the built-in `all`).
    pub groups: Vec<String>,
}

/// The cards of `hosts` (pure): each with its recent figures, its open alerts, its pending
/// updates and its host groups.
pub fn cards(
    hosts: &[Host],
    recent: Vec<crate::transport::live::Recent>,
    open_alerts: &[AlertView],
    updates_pending: &HashMap<AgentId, usize>,
    groups: &[HostGroupView],
) -> Vec<CardView> {
    hosts
        .iter()
        .zip(recent)
        .map(|(host, recent)| {
            let alerts = open_alerts
                .iter()
                .filter(|alert| alert.agent_id == host.agent_id);
            CardView {
                host: host.clone(),
                recent,
                open_alerts: alerts.clone().count(),
                critical_alerts: alerts
                    .filter(|alert| alert.severity == Severity::Critical)
                    .count(),
                updates_pending: updates_pending.get(&host.agent_id).copied().unwrap_or(0),
                groups: groups
                    .iter()
                    .filter(|group| {
                        group.name != ALL_HOSTS && group.members.contains(&host.agent_id)
                    })
                    .map(|group| group.name.clone())
                    .collect(),
            }
        })
        .collect()
}

/// The sort, filter, group and search controls; hidden until `overview.js` runs (fields
/// without a form: nothing is submitted).
fn controls(groups: &[String]) -> Markup {
    html! {
        div #overview-controls.controls hidden role="search" aria-label="Sort and filter hosts" {
            label { "Search " input #overview-search type="search" name="q" placeholder="host name" autocomplete="off"; }
            label { "Status "
                select #overview-status name="status" {
                    option value="" { "all" }
                    option value="problems" { "needs a look" }
                    option value="online" { "online" }
                    option value="stale" { "stale" }
                    option value="offline" { "offline" }
                    option value="revoked" { "revoked" }
                }
            }
            label { "Sort "
                select #overview-sort name="sort" {
                    option value="name" { "name" }
                    option value="status" { "status" }
                    option value="cpu" { "CPU" }
                    option value="memory" { "memory" }
                    option value="disk" { "disk" }
                }
            }
            label { "Group "
                select #overview-group name="group" {
                    option value="" { "none" }
                    option value="groups" { "by host group" }
                }
            }
            output #overview-shown aria-live="polite" {}
        }
        @if !groups.is_empty() {
            template #overview-group-names {
                @for group in groups { span { (group) } }
            }
        }
    }
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
            (controls(&view.groups))
            div #hosts.host-cards data-live="/events/overview" {
                @for card in &view.cards { (overview_card::card(card, now)) }
            }
            script src="/assets/overview.js" defer {}
        }
    };
    layout::page(Frame::new("Overview", Nav::Overview), caller, content)
}

/// `GET /`.
pub async fn page(State(state): State<AppState>, caller: PageCaller) -> Result<Markup, ApiError> {
    let access = caller.0.access.clone();
    let view = blocking(&state.ctx, move |ctx| {
        let visible = crate::domain::access::visible(ctx, &access)?;
        let mut open_alerts = alerts::list(ctx, Which::Open, None, 1)?;
        let mut hosts = hosts::list(ctx)?;
        hosts.retain(|host| visible.sees(&host.agent_id));
        open_alerts.retain(|alert| visible.sees(&alert.agent_id));
        let host_groups = crate::domain::groups::host_groups(ctx)?;
        let updates_pending = crate::domain::updates::pending_by_host(ctx)?;
        let recent = ctx
            .ingest
            .live
            .recent_of(hosts.iter().map(|host| host.agent_id.as_str()));
        let cards = cards(&hosts, recent, &open_alerts, &updates_pending, &host_groups);
        let groups = host_groups
            .into_iter()
            .filter(|group| {
                group.name != ALL_HOSTS && group.members.iter().any(|id| visible.sees(id))
            })
            .map(|group| group.name)
            .collect();
        Ok::<_, ApiError>(OverviewView {
            hosts,
            open_alerts,
            cards,
            groups,
        })
    })
    .await?;
    Ok(render(&view, &caller.0, now_ms()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::health::Counts;

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
            install: unity_shared::proto::InstallKind::Unknown,
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
