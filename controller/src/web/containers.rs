//! Host page panel for containers: each container with state and health, restarts, ports,
//! resource use and what the newest update check found, then the recent runtime events.
//! Pure: state in, markup out.

use super::badge::{badge, Tone};
use super::format::{ago, short_digest, url_segment};
use super::labels;
use super::operations::button;
use crate::health::container_status;
use crate::storage::containers::{CheckOutcome, UpdateCheckRecord, UpdateKind};
use crate::storage::operations::OperationKind;
use maud::{html, Markup};
use unity_shared::model::container::{Container, ContainerEvent, ContainerInventory, RunState};
use unity_shared::proto::AgentId;

/// Events listed under the table.
const EVENTS_SHOWN: usize = 20;

/// "running · healthy", "exited (137)".
fn state_text(container: &Container) -> String {
    let mut text = labels::run_state(container.state).to_owned();
    if let (RunState::Exited, Some(code)) = (container.state, container.exit_code) {
        text.push_str(&format!(" ({code})"));
    }
    if let Some(health) = container.health.and_then(labels::health_status) {
        text.push_str(" · ");
        text.push_str(health);
    }
    text
}

/// Published ports: `127.0.0.1:8080→80/tcp, …`.
fn ports(container: &Container) -> String {
    let published: Vec<String> = container
        .ports
        .iter()
        .filter_map(|port| {
            let host_port = port.host_port?;
            Some(format!(
                "{}:{}→{}/{}",
                port.host_ip.as_deref().unwrap_or(""),
                host_port,
                port.container_port,
                port.protocol
            ))
        })
        .collect();
    published.join(", ")
}

fn mebibytes(bytes: Option<u64>) -> String {
    bytes.map_or_else(
        || "–".to_owned(),
        |bytes| format!("{:.1} MiB", bytes as f64 / 1_048_576.0),
    )
}

/// What the newest update check says, for the table's last column.
pub fn update_cell(check: Option<&UpdateCheckRecord>) -> Markup {
    let Some(check) = check else {
        return html! { span.muted { "not checked yet" } };
    };
    match &check.outcome {
        CheckOutcome::UpToDate => html! { span.muted { "up to date" } },
        CheckOutcome::Update(update) => html! {
            span.badge.sev-warning.update { "update" } " "
            @if update.kind == UpdateKind::Digest {
                "new image for " (update.candidate_tag) " (" (short_digest(&update.candidate_digest)) ")"
            } @else {
                (update.current_tag.as_deref().unwrap_or("?")) " → " (update.candidate_tag) " (" (update.kind) ")"
            }
            div.sub { "policy " (update.mode) }
            @if let Some(reason) = &update.held_back { div.sub { "held back: " (reason) } }
        },
        CheckOutcome::Skipped { reason } => html! { span.muted { "not checked: " (reason) } },
        CheckOutcome::Error { message } => html! {
            (badge(Tone::Warning, "check failed")) " " (message)
        },
    }
}

/// Buttons for one container, for admins (`csrf` is their token).
fn actions(agent_id: &AgentId, container: &Container, update: bool, csrf: Option<&str>) -> Markup {
    let Some(csrf) = csrf else {
        return html! {};
    };
    let name = container.name.as_str();
    html! {
        @if update { (button(agent_id, name, OperationKind::Update, "Update now", csrf)) }
        (button(agent_id, name, OperationKind::Rollback, "Roll back", csrf))
        (button(agent_id, name, OperationKind::Restart, "Restart", csrf))
        (button(agent_id, name, OperationKind::Backup, "Back up", csrf))
        a.op href={ "/hosts/" (url_segment(agent_id.as_str())) "/containers/" (url_segment(name)) "/backups" } {
            "Backups…"
        }
    }
}

/// The containers table and the recent events; with `csrf` (admins), the operation buttons.
pub fn panel(
    agent_id: &AgentId,
    inventory: &ContainerInventory,
    checks: &[UpdateCheckRecord],
    events: &[ContainerEvent],
    csrf: Option<&str>,
    now_ms: i64,
) -> Markup {
    html! {
        @if let Some(engine) = &inventory.engine {
            p.sub { (labels::engine_kind(engine.kind)) " " (engine.version) " on " (engine.socket) }
        }
        @if let Some(error) = &inventory.error { p.error { (error) } }
        div.table { table #containers {
            thead { tr {
                th { "Name" } th { "Image" } th { "State" } th { "Restarts" } th { "Ports" }
                th { "CPU" } th { "Memory" } th { "Update" } th {}
            } }
            tbody {
                @for container in &inventory.containers {
                    @let usage = container.usage.as_ref();
                    @let check = checks.iter().find(|check| check.container == container.name);
                    @let has_update = check.is_some_and(|check| matches!(check.outcome, CheckOutcome::Update(_)));
                    tr data-container=(container.name) {
                        td {
                            a.container-link href={ "/hosts/" (url_segment(agent_id.as_str())) "/containers/" (url_segment(&container.name)) } { (container.name) }
                            @if let Some(compose) = &container.compose {
                                div.sub { "compose " (compose.project) " / " (compose.service) }
                            }
                        }
                        td { (container.image) div.sub { (short_digest(&container.image_id)) } }
                        td { (badge(Tone::of_verdict(container_status(container)), &state_text(container))) }
                        td { (container.restart_count) }
                        td { (ports(container)) }
                        td { (usage.and_then(|usage| usage.cpu_percent).map_or_else(|| "–".to_owned(), |cpu| format!("{cpu:.1}%"))) }
                        td { (mebibytes(usage.and_then(|usage| usage.memory_bytes))) }
                        td { (update_cell(check)) }
                        td.actions { (actions(agent_id, container, has_update, csrf)) }
                    }
                }
            }
        } }
        @if !events.is_empty() {
            h3 { "Recent events" }
            ul.events #container-events {
                @for event in events.iter().take(EVENTS_SHOWN) {
                    li {
                        (ago(event.at_ms, now_ms)) " · "
                        b { (event.name.as_deref().unwrap_or(&event.container_id)) } " "
                        (labels::container_event(&event.kind))
                    }
                }
            }
        }
    }
}
