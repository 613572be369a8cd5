//! One container's page (issue 19 §4), `/hosts/{agent_id}/containers/{name}`: its state and
//! health with their history (the engine's events), resource charts (the host page's chart
//! machinery over the container's series), ports, mounts, networks, labels, what the newest
//! update check found, its operations, its backups, and for administrators the way to its log
//! (read through the agent on demand, [`super::container_logs`]). Pure `render`; the handler
//! reads [`container_detail::detail`].

use super::badge::{badge, Tone};
use super::format::{ago, datetime, short_digest, url_segment};
use super::labels;
use super::layout::{self, Frame, Nav};
use super::metric_names::unit_of;
use super::operations::button;
use super::{admin_csrf, PageCaller};
use crate::clock::now_ms;
use crate::domain::container_detail::{self, ContainerDetail};
use crate::domain::hosts::parse_agent_id;
use crate::health::container_status;
use crate::http::auth::Caller;
use crate::http::error::ApiError;
use crate::http::extract::{blocking, ApiPath};
use crate::http::state::AppState;
use crate::storage::containers::CheckOutcome;
use crate::storage::operations::OperationKind;
use axum::extract::State;
use maud::{html, Markup};
use unity_shared::model::container::{Container, ContainerEventKind};

/// The charts: title, metric. Each is drawn for `container=<name>` over the last day.
const CHARTS: &[(&str, &str)] = &[
    ("CPU", "container_cpu_percent"),
    ("Memory", "container_memory_bytes"),
    ("Running", "container_running"),
    ("Healthy", "container_healthy"),
    ("Restarts", "container_restart_count"),
];

/// The page's address.
pub fn href(agent_id: &str, container: &str) -> String {
    format!(
        "/hosts/{}/containers/{}",
        url_segment(agent_id),
        url_segment(container)
    )
}

/// "running · healthy", "exited (137)".
fn state_text(container: &Container) -> String {
    let mut text = labels::run_state(container.state).to_owned();
    if let Some(code) = container.exit_code {
        text.push_str(&format!(" ({code})"));
    }
    if let Some(health) = container.health.and_then(labels::health_status) {
        text.push_str(" · ");
        text.push_str(health);
    }
    text
}

/// The tone of an event in the history: deaths, OOM and unhealthy red, stops amber.
fn event_tone(kind: &ContainerEventKind) -> Tone {
    use unity_shared::model::container::HealthStatus;
    match kind {
        ContainerEventKind::Oom
        | ContainerEventKind::Kill
        | ContainerEventKind::HealthStatus {
            status: Some(HealthStatus::Unhealthy),
        } => Tone::Critical,
        ContainerEventKind::Die { exit_code } if *exit_code != Some(0) => Tone::Critical,
        ContainerEventKind::Die { .. } | ContainerEventKind::Stop | ContainerEventKind::Pause => {
            Tone::Warning
        }
        ContainerEventKind::Start
        | ContainerEventKind::Restart
        | ContainerEventKind::Unpause
        | ContainerEventKind::HealthStatus {
            status: Some(HealthStatus::Healthy),
        } => Tone::Ok,
        _ => Tone::Unknown,
    }
}

fn summary(view: &ContainerDetail, container: &Container, now: i64) -> Markup {
    let usage = container.usage.as_ref();
    html! {
        dl.facts #container-facts {
            dt { "State" } dd { (badge(Tone::of_verdict(container_status(container)), &state_text(container))) }
            dt { "Image" } dd { (container.image) div.sub { (short_digest(&container.image_id)) } }
            @if let Some(platform) = &container.platform { dt { "Platform" } dd { (platform.to_string()) } }
            @if let Some(compose) = &container.compose {
                dt { "Compose" } dd { (compose.project) " / " (compose.service) }
            }
            dt { "Started" } dd { (container.started_ms.map_or_else(|| "–".to_owned(), |at| ago(at, now))) }
            dt { "Restarts" } dd { (container.restart_count) " (policy " (container.restart_policy.as_deref().unwrap_or("no")) ")" }
            @if container.oom_killed { dt { "Last run" } dd { (badge(Tone::Critical, "ended by the OOM killer")) } }
            dt { "CPU" } dd { (usage.and_then(|u| u.cpu_percent).map_or_else(|| "–".to_owned(), |cpu| format!("{cpu:.1}%"))) }
            dt { "Memory" } dd {
                (usage.and_then(|u| u.memory_bytes).map_or_else(|| "–".to_owned(), |b| super::metric_names::bytes(b as f64)))
                @if let Some(limit) = usage.and_then(|u| u.memory_limit_bytes) { " of " (super::metric_names::bytes(limit as f64)) }
            }
            dt { "Update" } dd { (super::containers::update_cell(view.update_check.as_ref())) }
            @if let Some(at) = view.collected_at_ms { dt { "Reported" } dd { (ago(at, now)) } }
        }
    }
}

fn ports_and_mounts(container: &Container) -> Markup {
    html! {
        h2 #section-ports { "Ports" }
        @if container.ports.is_empty() { p.muted { "No ports." } } @else {
            div.table { table #ports {
                thead { tr { th { "Container" } th { "Host" } } }
                tbody { @for port in &container.ports { tr {
                    td { (port.container_port) "/" (port.protocol) }
                    td { @match port.host_port {
                        Some(host_port) => { (port.host_ip.as_deref().unwrap_or("")) ":" (host_port) },
                        None => span.muted { "not published" },
                    } }
                } } }
            } }
        }
        h2 #section-mounts { "Mounts" }
        @if container.mounts.is_empty() { p.muted { "No mounts." } } @else {
            div.table { table #mounts {
                thead { tr { th { "Kind" } th { "Source" } th { "Destination" } th { "Mode" } } }
                tbody { @for mount in &container.mounts { tr {
                    td { (mount.kind) } td.wrap { (mount.source) } td.wrap { (mount.destination) }
                    td { (if mount.read_only { "read-only" } else { "read-write" }) }
                } } }
            } }
        }
        @if !container.networks.is_empty() {
            h2 #section-networks { "Networks" }
            div.table { table #networks {
                thead { tr { th { "Network" } th { "Address" } th { "Aliases" } } }
                tbody { @for network in &container.networks { tr {
                    td { (network.name) } td { (network.ip_address.as_deref().unwrap_or("–")) }
                    td.wrap { (network.aliases.join(", ")) }
                } } }
            } }
        }
        h2 #section-labels { "Labels" }
        @if container.labels.is_empty() { p.muted { "No labels." } } @else {
            details #labels {
                summary { (container.labels.len()) " label(s)" }
                div.table { table {
                    thead { tr { th { "Label" } th { "Value" } } }
                    tbody { @for (key, value) in &container.labels { tr { td.wrap { (key) } td.wrap { (value) } } } }
                } }
            }
        }
    }
}

fn charts(view: &ContainerDetail) -> Markup {
    let selector = format!("container={}", view.name);
    html! {
        h2 #section-history { "History" }
        section.charts {
            @for (title, metric) in CHARTS {
                figure.chart-card {
                    figcaption { (title) }
                    div.chart data-agent=(view.agent_id) data-title=(title) data-metric=(metric)
                        data-labels=(selector) data-range="24h"
                        data-unit=(unit_of(metric).chart_unit(false)) data-rate="" {}
                }
            }
        }
    }
}

fn events(view: &ContainerDetail, now: i64) -> Markup {
    html! {
        h2 #section-events { "State and health history" }
        @if view.events.is_empty() {
            p.muted { "No events stored for this container." }
        } @else {
            ul.events #container-events {
                @for event in &view.events {
                    li {
                        (badge(event_tone(&event.kind), &labels::container_event(&event.kind)))
                        " " (ago(event.at_ms, now)) span.sub { " · " (datetime(event.at_ms)) }
                    }
                }
            }
        }
    }
}

fn actions(view: &ContainerDetail, container: &Container, caller: &Caller) -> Markup {
    let agent_id = &view.agent_id;
    let has_update = view
        .update_check
        .as_ref()
        .is_some_and(|check| matches!(check.outcome, CheckOutcome::Update(_)));
    html! {
        @if let Some(csrf) = admin_csrf(caller) {
            div.actions #container-actions {
                @if has_update { (button(agent_id, &container.name, OperationKind::Update, "Update now", csrf)) }
                (button(agent_id, &container.name, OperationKind::Rollback, "Roll back", csrf))
                (button(agent_id, &container.name, OperationKind::Restart, "Restart", csrf))
                (button(agent_id, &container.name, OperationKind::Backup, "Back up", csrf))
            }
        }
    }
}

/// Whether the caller administers this host (the right the log's routes need).
fn administers(caller: &Caller) -> bool {
    caller.is_admin()
        || caller
            .host_right
            .is_some_and(|right| right >= crate::domain::access::Right::Administer)
}

fn logs_section(view: &ContainerDetail, caller: &Caller) -> Markup {
    let action = format!("{}/logs", href(view.agent_id.as_str(), &view.name));
    html! {
        h2 #section-logs { "Logs" }
        @if !administers(caller) {
            p.muted { "Administrators can read this container's log here." }
        } @else if !view.connected {
            p.muted #logs-offline { "The host is offline: the log is read from its agent while it is connected." }
        } @else {
            form method="get" action=(action) id="logs-form" class="inline" {
                label { "Last " input type="number" name="lines" min="1" max="1000" value="200" aria-label="Lines"; " lines" }
                " " button type="submit" { "Show logs" }
            }
            p.sub { "Read from the agent when you ask, never stored by the controller." }
        }
    }
}

/// The page (pure).
pub fn render(view: &ContainerDetail, caller: &Caller, now: i64) -> Markup {
    let host_href = format!("/hosts/{}", url_segment(view.agent_id.as_str()));
    let backups_href = format!("{}/backups", href(view.agent_id.as_str(), &view.name));
    let content = html! {
        h1 { (view.name) }
        p.sub {
            "on " a href=(host_href) #host-link { (view.agent_id) }
            @if let Some(engine) = &view.engine { " · " (labels::engine_kind(engine.kind)) " " (engine.version) }
        }
        @match &view.container {
            Some(container) => {
                (summary(view, container, now))
                (actions(view, container, caller))
            }
            None => p.note #container-gone { "The host's newest inventory has no container of this name; what is stored about it follows." },
        }
        (events(view, now))
        (charts(view))
        @if let Some(container) = &view.container { (ports_and_mounts(container)) }
        h2 #section-operations { "Updates and operations" }
        (super::operations::history_table(&view.operations, now))
        h2 #section-backups { "Backups" }
        p #backups-summary {
            @match view.newest_backup_ms {
                Some(at) => { (view.n_backups) " backup(s), the newest " (ago(at, now)) ". " }
                None => { "The controller has no backup of this container yet. " }
            }
            a href=(backups_href) { "Backups…" }
        }
        (logs_section(view, caller))
    };
    layout::page(Frame::new(&view.name, Nav::Overview), caller, content)
}

/// `GET /hosts/{agent_id}/containers/{name}`.
pub async fn page(
    State(state): State<AppState>,
    caller: PageCaller,
    ApiPath((agent_id, name)): ApiPath<(String, String)>,
) -> Result<Markup, ApiError> {
    let view = blocking(&state.ctx, move |ctx| {
        let agent_id = parse_agent_id(&agent_id)?;
        Ok::<_, ApiError>(container_detail::detail(ctx, &agent_id, &name)?)
    })
    .await?;
    Ok(render(&view, &caller.0, now_ms()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::auth::Role;
    use crate::web::layout::tests::caller;
    use unity_shared::model::container::{ContainerEvent, HealthStatus, PortMapping, RunState};
    use unity_shared::proto::AgentId;

    fn container() -> Container {
        let text = include_str!(
            "../../../agent/src/collect/containers/testdata/docker-20.10/web.expect.json"
        );
        let mut container: Container = serde_json::from_str(text).unwrap();
        container.state = RunState::Running;
        container.health = Some(HealthStatus::Unhealthy);
        container.ports = vec![PortMapping {
            container_port: 80,
            protocol: "tcp".into(),
            host_ip: Some("0.0.0.0".into()),
            host_port: Some(8080),
        }];
        container
    }

    fn view(connected: bool) -> ContainerDetail {
        let container = container();
        ContainerDetail {
            agent_id: AgentId::new("nas-1").unwrap(),
            name: container.name.clone(),
            events: vec![ContainerEvent {
                at_ms: 1_000,
                container_id: container.id.clone(),
                name: Some(container.name.clone()),
                kind: ContainerEventKind::HealthStatus {
                    status: Some(HealthStatus::Unhealthy),
                },
            }],
            container: Some(container),
            collected_at_ms: Some(2_000),
            engine: None,
            update_check: None,
            operations: Vec::new(),
            n_backups: 0,
            newest_backup_ms: None,
            connected,
        }
    }

    #[test]
    fn issue_19_the_container_page_shows_state_history_charts_ports_mounts_and_labels() {
        let view = view(true);
        let html = render(&view, &caller(Role::Admin), 10_000).into_string();
        let name = &view.name;
        assert!(html.contains("running · unhealthy"), "{html}");
        assert!(html.contains("sev-critical"), "{html}");
        assert!(html.contains("became unhealthy"), "{html}");
        assert!(html.contains("0.0.0.0:8080"), "{html}");
        assert!(html.contains("id=\"mounts\""), "{html}");
        assert!(html.contains("com.docker.compose.project"), "{html}");
        for metric in [
            "container_cpu_percent",
            "container_memory_bytes",
            "container_healthy",
        ] {
            assert!(
                html.contains(&format!("data-metric=\"{metric}\"")),
                "{html}"
            );
        }
        assert!(
            html.contains(&format!("data-labels=\"container={name}\"")),
            "{html}"
        );
        assert!(
            html.contains(&format!("action=\"/hosts/nas-1/containers/{name}/logs\"")),
            "{html}"
        );
        assert!(
            html.contains("data-confirm=\"Restart the container"),
            "{html}"
        );
        assert!(
            !html.contains("container_cpu_percent</"),
            "no internal names as text: {html}"
        );
    }

    #[test]
    fn issue_19_logs_are_offered_to_administrators_of_connected_hosts_only() {
        let viewer = render(&view(true), &caller(Role::Viewer), 0).into_string();
        assert!(!viewer.contains("id=\"logs-form\""), "{viewer}");
        assert!(!viewer.contains("data-confirm"), "{viewer}");
        let offline = render(&view(false), &caller(Role::Admin), 0).into_string();
        assert!(!offline.contains("id=\"logs-form\""), "{offline}");
        assert!(offline.contains("The host is offline"), "{offline}");
    }

    #[test]
    fn a_container_gone_from_the_inventory_still_shows_its_history() {
        let mut view = view(true);
        view.container = None;
        let html = render(&view, &caller(Role::Admin), 0).into_string();
        assert!(html.contains("id=\"container-gone\""), "{html}");
        assert!(html.contains("became unhealthy"), "{html}");
    }
}
