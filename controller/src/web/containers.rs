//! Host page panel for containers: each container with state and health, restarts, ports,
//! resource use and what the newest update check found, then the recent runtime events.
//! Pure: state in, HTML out.

use super::operations::button;
use super::{ago, esc};
use crate::health::container_status;
use crate::storage::containers::{CheckOutcome, UpdateCheckRecord};
use std::fmt::Write as _;
use unity_shared::model::container::{
    Container, ContainerEvent, ContainerEventKind, ContainerInventory, HealthStatus, RunState,
};
use unity_shared::model::storage::VerdictStatus;

/// Events listed under the table.
const EVENTS_SHOWN: usize = 20;

fn state_badge(container: &Container) -> String {
    let class = match container_status(container) {
        VerdictStatus::Passed => "online",
        VerdictStatus::Warning => "stale",
        VerdictStatus::Failing => "offline",
    };
    let state = match container.state {
        RunState::Created => "created",
        RunState::Running => "running",
        RunState::Paused => "paused",
        RunState::Restarting => "restarting",
        RunState::Removing => "removing",
        RunState::Exited => "exited",
        RunState::Dead => "dead",
        RunState::Unknown => "unknown",
    };
    let health = match container.health {
        Some(HealthStatus::Healthy) => " · healthy",
        Some(HealthStatus::Unhealthy) => " · unhealthy",
        Some(HealthStatus::Starting) => " · starting",
        Some(HealthStatus::Unknown) | None => "",
    };
    let exit = match (container.state, container.exit_code) {
        (RunState::Exited, Some(code)) => format!(" ({code})"),
        _ => String::new(),
    };
    format!("<span class=\"badge {class}\">{state}{exit}{health}</span>")
}

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
    esc(&published.join(", "))
}

fn mebibytes(bytes: Option<u64>) -> String {
    bytes.map_or_else(
        || "–".to_owned(),
        |bytes| format!("{:.1} MiB", bytes as f64 / 1_048_576.0),
    )
}

fn short_digest(digest: &str) -> &str {
    let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
    hex.get(..12).unwrap_or(hex)
}

/// What the newest update check says, for the table's last column.
pub fn update_cell(check: Option<&UpdateCheckRecord>) -> String {
    let Some(check) = check else {
        return "<span class=\"muted\">not checked yet</span>".to_owned();
    };
    match &check.outcome {
        CheckOutcome::UpToDate => "<span class=\"muted\">up to date</span>".to_owned(),
        CheckOutcome::Update(update) => {
            let what = if update.kind == "digest" {
                format!(
                    "new image for {} ({})",
                    esc(&update.candidate_tag),
                    esc(short_digest(&update.candidate_digest))
                )
            } else {
                format!(
                    "{} → {} ({})",
                    esc(update.current_tag.as_deref().unwrap_or("?")),
                    esc(&update.candidate_tag),
                    esc(&update.kind)
                )
            };
            let held = update
                .held_back
                .as_deref()
                .map(|reason| format!("<div class=\"sub\">held back: {}</div>", esc(reason)))
                .unwrap_or_default();
            format!(
                "<span class=\"badge stale update\">update</span> {what}<div class=\"sub\">policy {}</div>{held}",
                esc(&update.mode)
            )
        }
        CheckOutcome::Skipped { reason } => {
            format!("<span class=\"muted\">not checked: {}</span>", esc(reason))
        }
        CheckOutcome::Error { message } => {
            format!(
                "<span class=\"badge offline\">check failed</span> {}",
                esc(message)
            )
        }
    }
}

fn event_text(kind: &ContainerEventKind) -> String {
    match kind {
        ContainerEventKind::Start => "started".into(),
        ContainerEventKind::Die { exit_code } => match exit_code {
            Some(code) => format!("exited with code {code}"),
            None => "exited".into(),
        },
        ContainerEventKind::HealthStatus { status } => match status {
            Some(HealthStatus::Healthy) => "became healthy".into(),
            Some(HealthStatus::Unhealthy) => "became unhealthy".into(),
            Some(HealthStatus::Starting) => "health check starting".into(),
            Some(HealthStatus::Unknown) | None => "health check ran".into(),
        },
        ContainerEventKind::Oom => "ran out of memory (OOM)".into(),
        ContainerEventKind::Stop => "stopped".into(),
        ContainerEventKind::Restart => "restarted".into(),
        ContainerEventKind::Create => "created".into(),
        ContainerEventKind::Destroy => "removed".into(),
        ContainerEventKind::Pause => "paused".into(),
        ContainerEventKind::Unpause => "unpaused".into(),
        ContainerEventKind::Kill => "killed".into(),
        ContainerEventKind::Other { action } => action.clone(),
    }
}

/// Buttons for one container, for admins (`csrf` is their token).
fn actions(agent_id: &str, container: &Container, update: bool, csrf: Option<&str>) -> String {
    let Some(csrf) = csrf else {
        return String::new();
    };
    let mut html = String::new();
    if update {
        html.push_str(&button(
            agent_id,
            &container.name,
            "update",
            "Update now",
            csrf,
        ));
    }
    html.push_str(&button(
        agent_id,
        &container.name,
        "rollback",
        "Roll back",
        csrf,
    ));
    html.push_str(&button(
        agent_id,
        &container.name,
        "restart",
        "Restart",
        csrf,
    ));
    html.push_str(&button(
        agent_id,
        &container.name,
        "backup",
        "Back up",
        csrf,
    ));
    html
}

/// The containers table and the recent events; with `csrf` (admins), the operation buttons.
pub fn panel(
    agent_id: &str,
    inventory: &ContainerInventory,
    checks: &[UpdateCheckRecord],
    events: &[ContainerEvent],
    csrf: Option<&str>,
    now_ms: i64,
) -> String {
    let mut html = String::new();
    if let Some(engine) = &inventory.engine {
        let _ = write!(
            html,
            "<p class=\"sub\">{:?} {} on {}</p>",
            engine.kind,
            esc(&engine.version),
            esc(&engine.socket)
        );
    }
    if let Some(error) = &inventory.error {
        let _ = write!(html, "<p class=\"error\">{}</p>", esc(error));
    }
    html.push_str(
        "<div class=\"table\"><table id=\"containers\"><thead><tr><th>Name</th><th>Image</th>\
<th>State</th><th>Restarts</th><th>Ports</th><th>CPU</th><th>Memory</th><th>Update</th><th></th></tr></thead><tbody>",
    );
    for container in &inventory.containers {
        let compose = container
            .compose
            .as_ref()
            .map(|compose| {
                format!(
                    "<div class=\"sub\">compose {} / {}</div>",
                    esc(&compose.project),
                    esc(&compose.service)
                )
            })
            .unwrap_or_default();
        let usage = container.usage.as_ref();
        let check = checks
            .iter()
            .find(|check| check.container == container.name);
        let _ = write!(
            html,
            "<tr data-container=\"{}\"><td>{}{compose}</td><td>{}<div class=\"sub\">{}</div></td><td>{}</td>\
<td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"actions\">{}</td></tr>",
            esc(&container.name),
            esc(&container.name),
            esc(&container.image),
            esc(short_digest(&container.image_id)),
            state_badge(container),
            container.restart_count,
            ports(container),
            usage
                .and_then(|usage| usage.cpu_percent)
                .map_or_else(|| "–".to_owned(), |cpu| format!("{cpu:.1}%")),
            mebibytes(usage.and_then(|usage| usage.memory_bytes)),
            update_cell(check),
            actions(
                agent_id,
                container,
                check.is_some_and(|check| matches!(check.outcome, CheckOutcome::Update(_))),
                csrf,
            ),
        );
    }
    html.push_str("</tbody></table></div>");
    if !events.is_empty() {
        html.push_str("<h3>Recent events</h3><ul class=\"events\" id=\"container-events\">");
        for event in events.iter().take(EVENTS_SHOWN) {
            let _ = write!(
                html,
                "<li>{} · <b>{}</b> {}</li>",
                ago(event.at_ms, now_ms),
                esc(event.name.as_deref().unwrap_or(&event.container_id)),
                esc(&event_text(&event.kind))
            );
        }
        html.push_str("</ul>");
    }
    html
}
