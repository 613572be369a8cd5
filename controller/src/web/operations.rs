//! Container operations in the dashboard: the buttons on a container (update now, rollback,
//! restart, backup), the page of one operation with its live progress (it reloads itself while
//! the operation runs), and the history table used on the host and updates pages.

use super::{ago, datetime, esc, layout, url_segment, PageCaller};
use crate::api::operations::{submit, OperationBody};
use crate::api::{blocking, ApiError, ApiForm, ApiPath, AppState};
use crate::service::now_ms;
use crate::storage::operations::{OperationRecord, OperationState};
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use std::fmt::Write as _;
use unity_shared::model::update::Outcome;

/// A small form button posting `verb` for one container.
pub fn button(agent_id: &str, container: &str, verb: &str, label: &str, csrf: &str) -> String {
    format!(
        "<form method=\"post\" action=\"/hosts/{}/containers/{}/{verb}\" class=\"inline op\">\
<input type=\"hidden\" name=\"csrf\" value=\"{}\"><button type=\"submit\" data-op=\"{verb}\">{label}</button></form>",
        url_segment(agent_id),
        url_segment(container),
        esc(csrf),
    )
}

fn state_badge(record: &OperationRecord) -> String {
    let (class, text) = match (record.state, record.result.as_ref().map(|r| r.outcome)) {
        (OperationState::Queued, _) => ("stale", "queued"),
        (OperationState::Running, _) => ("stale", "running"),
        (OperationState::Finished, Some(Outcome::Succeeded)) => ("online", "succeeded"),
        (OperationState::Finished, Some(Outcome::RolledBack)) => ("offline", "rolled back"),
        (OperationState::Finished, Some(Outcome::Refused)) => ("offline", "refused"),
        (OperationState::Finished, Some(Outcome::Failed)) => ("offline", "failed"),
        (OperationState::Finished, None) => ("offline", "not run"),
    };
    format!("<span class=\"badge {class}\" data-state=\"{text}\">{text}</span>")
}

fn summary(record: &OperationRecord) -> String {
    match (&record.result, &record.error) {
        (Some(result), _) => result.message.clone(),
        (None, Some(error)) => error.clone(),
        (None, None) => record
            .progress
            .last()
            .map(|line| line.message.clone())
            .unwrap_or_default(),
    }
}

/// The history table (pure).
pub fn history_table(records: &[OperationRecord], now: i64) -> String {
    if records.is_empty() {
        return "<p class=\"muted\">No container operations yet.</p>".to_owned();
    }
    let mut html = String::from(
        "<div class=\"table\"><table id=\"operations\"><thead><tr><th>When</th><th>Container</th><th>Action</th>\
<th>Outcome</th><th>From → to</th><th>By</th><th>Duration</th></tr></thead><tbody>",
    );
    for record in records {
        let duration = record.duration_ms().map_or_else(
            || "–".to_owned(),
            |ms| format!("{:.1} s", ms as f64 / 1000.0),
        );
        let _ = write!(
            html,
            "<tr><td><a href=\"/operations/{}\">{}</a></td><td>{}</td><td>{}</td><td>{}<div class=\"sub\">{}</div></td>\
<td>{}<div class=\"sub\">→ {}</div></td><td>{}</td><td>{duration}</td></tr>",
            url_segment(&record.id),
            ago(record.requested_at_ms, now),
            esc(&record.container),
            esc(&record.action),
            state_badge(record),
            esc(&summary(record)),
            esc(record.from_image.as_deref().unwrap_or("–")),
            esc(record.to_image.as_deref().unwrap_or("–")),
            esc(&record.requested_by),
        );
    }
    html.push_str("</tbody></table></div>");
    html
}

/// One operation with its progress log (pure).
pub fn detail(record: &OperationRecord, now: i64) -> String {
    let mut html = String::new();
    let _ = write!(
        html,
        "<h1>{} {} {}</h1><p class=\"sub\">on <a href=\"/hosts/{}#section-containers\">{}</a> · asked by {} {} · operation {}</p>",
        esc(&record.action),
        esc(&record.container),
        state_badge(record),
        url_segment(&record.agent_id),
        esc(&record.agent_id),
        esc(&record.requested_by),
        ago(record.requested_at_ms, now),
        esc(&record.id),
    );
    if let Some(image) = &record.to_image {
        let _ = write!(
            html,
            "<p>From <code>{}</code> to <code>{}</code></p>",
            esc(record.from_image.as_deref().unwrap_or("?")),
            esc(image)
        );
    }
    if record.state == OperationState::Queued {
        let _ = write!(
            html,
            "<p class=\"muted\">Waiting for the agent; expires {}.</p>",
            datetime(record.expires_at_ms)
        );
    }
    let lines = match &record.result {
        Some(result) if !result.log.is_empty() => &result.log,
        _ => &record.progress,
    };
    html.push_str("<ol class=\"log\" id=\"operation-log\">");
    for line in lines {
        let _ = write!(
            html,
            "<li><span class=\"sub\">{:?}</span> {}</li>",
            line.stage,
            esc(&line.message)
        );
    }
    html.push_str("</ol>");
    let _ = write!(
        html,
        "<p id=\"operation-summary\">{}</p>",
        esc(&summary(record))
    );
    html
}

/// `GET /operations/{id}`: reloads itself every 2 s until the operation finished.
pub async fn page(
    State(state): State<AppState>,
    caller: PageCaller,
    ApiPath(id): ApiPath<String>,
) -> Result<Response, ApiError> {
    let record = blocking(&state.ctx, move |ctx| {
        ctx.store
            .operations
            .get(&id)?
            .ok_or_else(|| ApiError::NotFound(format!("no operation {id}")))
    })
    .await?;
    let mut body = detail(&record, now_ms());
    if record.state != OperationState::Finished {
        body.insert_str(0, "<meta http-equiv=\"refresh\" content=\"2\">");
    }
    Ok(layout("Operation", &caller.0, "updates", &body).into_response())
}

#[derive(Debug, Deserialize)]
pub struct OperationForm {
    pub csrf: String,
    #[serde(default)]
    pub force: Option<String>,
}

/// `POST /hosts/{agent_id}/containers/{name}/{verb}`: queues it and shows its page.
pub async fn submit_form(
    State(state): State<AppState>,
    caller: PageCaller,
    ApiPath((agent_id, container, verb)): ApiPath<(String, String, String)>,
    ApiForm(form): ApiForm<OperationForm>,
) -> Result<Response, ApiError> {
    caller.require_change(&form.csrf)?;
    let actor = caller.0.user.clone();
    let body = OperationBody {
        force: form.force.is_some(),
        ..OperationBody::default()
    };
    let record = blocking(&state.ctx, move |ctx| {
        submit(ctx, &actor, &agent_id, &container, &verb, &body)
    })
    .await?;
    Ok(Redirect::to(&format!("/operations/{}", url_segment(&record.id))).into_response())
}
