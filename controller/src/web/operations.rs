//! Container operations in the dashboard: the buttons on a container (update now, rollback,
//! restart, backup), the page of one operation with its live progress (it reloads itself while
//! the operation runs; a failed candidate's evidence, `evidence.rs`), and the history table
//! used on the host and updates pages.

use super::badge::Tone;
use super::format::{ago, datetime, url_segment};
use super::layout::{self, Frame, Nav};
use super::{labels, PageCaller};
use crate::clock::now_ms;
use crate::domain::hosts::parse_agent_id;
use crate::domain::operations::{self, OperationRequest};
use crate::http::auth::Caller;
use crate::http::error::ApiError;
use crate::http::extract::{blocking, ApiForm, ApiPath};
use crate::http::state::AppState;
use crate::storage::operations::{OperationKind, OperationRecord, OperationState};
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{html, Markup};
use serde::Deserialize;
use unity_shared::model::update::{Outcome, Stage};
use unity_shared::proto::AgentId;

/// A small form button asking for operation `kind` on one container.
pub fn button(
    agent_id: &AgentId,
    container: &str,
    kind: OperationKind,
    label: &str,
    csrf: &str,
) -> Markup {
    let action = format!(
        "/hosts/{}/containers/{}/{}",
        url_segment(agent_id.as_str()),
        url_segment(container),
        kind.as_str()
    );
    html! {
        form method="post" action=(action) class="inline op" data-confirm=[confirmation(kind, agent_id, container)] {
            input type="hidden" name="csrf" value=(csrf);
            button type="submit" data-op=(kind.as_str()) { (label) }
        }
    }
}

/// The question asked before operation `kind` runs (`controls.js`); `None` for the ones that
/// change nothing running (a backup).
fn confirmation(kind: OperationKind, agent_id: &AgentId, container: &str) -> Option<String> {
    let question = match kind {
        OperationKind::Restart => "Restart the container",
        OperationKind::Rollback => "Roll back the container",
        OperationKind::Update => "Update the container",
        OperationKind::Restore => "Restore a backup over the container",
        OperationKind::Backup => return None,
    };
    Some(format!(
        "{question} {container} on {}? It is briefly unavailable.",
        agent_id.as_str()
    ))
}

/// A progress line's step for people: the last step of an operation that did not succeed
/// says how it ended ("Failed"), not "Done".
fn step_label(stage: Stage, outcome: Option<Outcome>) -> &'static str {
    match (stage, outcome) {
        (Stage::Done, Some(Outcome::Failed)) => "Failed",
        (Stage::Done, Some(Outcome::RolledBack)) => "Rolled back",
        (Stage::Done, Some(Outcome::Refused)) => "Refused",
        _ => labels::stage(stage),
    }
}

fn state_badge(record: &OperationRecord) -> Markup {
    let outcome = record.result.as_ref().map(|result| result.outcome);
    let tone = match (record.state, outcome) {
        (OperationState::Queued | OperationState::Running, _) => Tone::Warning,
        (OperationState::Finished, Some(Outcome::Succeeded)) => Tone::Ok,
        (OperationState::Finished, _) => Tone::Critical,
    };
    let text = labels::operation_state(record.state, outcome);
    html! { span.badge.(tone.class()) data-state=(text) { (text) } }
}

/// The last word on an operation: its result, its error, or its newest progress line.
fn summary(record: &OperationRecord) -> &str {
    match (&record.result, &record.error) {
        (Some(result), _) => &result.message,
        (None, Some(error)) => error,
        (None, None) => record
            .progress
            .last()
            .map_or("", |line| line.message.as_str()),
    }
}

/// The history table (pure).
pub fn history_table(records: &[OperationRecord], now: i64) -> Markup {
    html! {
        @if records.is_empty() {
            p.muted { "No container operations yet." }
        } @else {
            div.table { table #operations {
                thead { tr {
                    th { "When" } th { "Container" } th { "Action" } th { "Outcome" }
                    th { "From → to" } th { "By" } th { "Duration" }
                } }
                tbody {
                    @for record in records {
                        tr {
                            td { a href={ "/operations/" (url_segment(&record.id)) } { (ago(record.requested_at_ms, now)) } }
                            td { (record.container) }
                            td { (record.action) }
                            td { (state_badge(record)) div.sub { (summary(record)) } }
                            td {
                                (record.from_image.as_deref().unwrap_or("–"))
                                div.sub { "→ " (record.to_image.as_deref().unwrap_or("–")) }
                            }
                            td { (record.requested_by) }
                            td { (record.duration_ms().map_or_else(|| "–".to_owned(), |ms| format!("{:.1} s", ms as f64 / 1000.0))) }
                        }
                    }
                }
            } }
        }
    }
}

/// One operation with its progress log.
fn detail(record: &OperationRecord, now: i64) -> Markup {
    let lines = match &record.result {
        Some(result) if !result.log.is_empty() => &result.log,
        _ => &record.progress,
    };
    html! {
        h1 { (record.action) " " (record.container) " " (state_badge(record)) }
        p.sub {
            "on " a href={ "/hosts/" (url_segment(record.agent_id.as_str())) "#section-containers" } { (record.agent_id) }
            " · asked by " (record.requested_by) " " (ago(record.requested_at_ms, now))
            " · operation " (record.id)
        }
        @if let Some(image) = &record.to_image {
            p { "From " code { (record.from_image.as_deref().unwrap_or("?")) } " to " code { (image) } }
        }
        @if record.state == OperationState::Queued {
            p.muted { "Waiting for the agent; expires " (datetime(record.expires_at_ms)) "." }
        }
        ol.log #operation-log {
            @let outcome = record.result.as_ref().map(|result| result.outcome);
            @for line in lines { li { span.sub { (step_label(line.stage, outcome)) } " " (line.message) } }
        }
        p #operation-summary { (summary(record)) }
        @if let Some(evidence) = record.result.as_ref().and_then(|result| result.evidence.as_ref()) {
            (super::evidence::section(evidence))
        }
    }
}

/// The operation page (pure): reloads itself every 2 s until the operation finished.
pub fn render(record: &OperationRecord, caller: &Caller, now: i64) -> Markup {
    let mut frame = Frame::new("Operation", Nav::Updates);
    if record.state != OperationState::Finished {
        frame.reload_seconds = Some(2);
    }
    layout::page(frame, caller, detail(record, now))
}

/// `GET /operations/{id}`: a container operation, or an agent update (its own page).
pub async fn page(
    State(state): State<AppState>,
    caller: PageCaller,
    ApiPath(id): ApiPath<String>,
) -> Result<Markup, ApiError> {
    let found = blocking(
        &state.ctx,
        move |ctx| match crate::domain::agent_updates::find(ctx, &id)? {
            Some(update) => Ok(Err(update)),
            None => operations::get(ctx, &id).map(Ok),
        },
    )
    .await?;
    Ok(match found {
        Ok(record) => render(&record, &caller.0, now_ms()),
        Err(update) => super::agent_updates::render(&update, &caller.0, now_ms()),
    })
}

#[derive(Debug, Deserialize)]
pub struct OperationForm {
    #[serde(default)]
    pub force: Option<String>,
    /// Restores: the backup's file name (from the backups page).
    #[serde(default)]
    pub backup: Option<String>,
}

/// `POST /hosts/{agent_id}/containers/{name}/{verb}`: queues it and shows its page.
pub async fn submit_form(
    State(state): State<AppState>,
    caller: PageCaller,
    ApiPath((agent_id, container, verb)): ApiPath<(String, String, String)>,
    ApiForm(form): ApiForm<OperationForm>,
) -> Result<Response, ApiError> {
    let actor = caller.0.actor();
    let request = OperationRequest {
        force: form.force.is_some(),
        backup: form.backup,
        ..OperationRequest::default()
    };
    let record = blocking(&state.ctx, move |ctx| {
        let agent_id = parse_agent_id(&agent_id)?;
        let kind = operations::parse_kind(&verb)?;
        operations::submit(ctx, &actor, &agent_id, &container, kind, &request)
    })
    .await?;
    Ok(Redirect::to(&format!("/operations/{}", url_segment(&record.id))).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue_19_the_last_step_of_a_failed_operation_says_failed_not_done() {
        assert_eq!(step_label(Stage::Done, Some(Outcome::Failed)), "Failed");
        assert_eq!(
            step_label(Stage::Done, Some(Outcome::RolledBack)),
            "Rolled back"
        );
        assert_eq!(step_label(Stage::Done, Some(Outcome::Refused)), "Refused");
        assert_eq!(
            step_label(Stage::Done, Some(Outcome::Succeeded)),
            Stage::Done.label()
        );
        assert_eq!(
            step_label(Stage::Pulling, Some(Outcome::Failed)),
            Stage::Pulling.label()
        );
    }

    #[test]
    fn issue_19_destructive_container_buttons_ask_first_naming_the_container_and_host() {
        let agent_id = parse_agent_id("nas-1").unwrap();
        for (kind, question) in [
            (
                OperationKind::Restart,
                "Restart the container &lt;web&gt; on nas-1?",
            ),
            (
                OperationKind::Rollback,
                "Roll back the container &lt;web&gt; on nas-1?",
            ),
            (
                OperationKind::Update,
                "Update the container &lt;web&gt; on nas-1?",
            ),
        ] {
            let html = button(&agent_id, "<web>", kind, "Go", "token").into_string();
            assert!(html.contains(question), "{html}");
            assert!(html.contains("name=\"csrf\" value=\"token\""), "{html}");
        }
        let backup = button(&agent_id, "web", OperationKind::Backup, "Back up", "t").into_string();
        assert!(!backup.contains("data-confirm"), "{backup}");
    }
}
