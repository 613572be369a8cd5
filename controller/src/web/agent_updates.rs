//! Agent updates in the dashboard (docs/agent-updates.md): the "Update agent" button on the
//! host and agents pages (asks first, `controls.js`), the form that queues the update, and the
//! operation page of one agent update (it reloads itself until the update has ended).

use super::badge::Tone;
use super::format::{ago, datetime, url_segment};
use super::layout::{self, Frame, Nav};
use super::PageCaller;
use crate::domain::access::Right;
use crate::domain::agent_updates::{self, AgentUpdateRequest};
use crate::domain::hosts::parse_agent_id;
use crate::http::auth::Caller;
use crate::http::error::ApiError;
use crate::http::extract::{blocking, ApiForm, ApiPath};
use crate::http::state::AppState;
use crate::storage::agent_updates::{AgentUpdateRecord, AgentUpdateResult, AgentUpdateState};
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{html, Markup};
use serde::Deserialize;
use unity_shared::proto::AgentId;

/// The CSRF token for the update button on a host's page: admins, and those who administer
/// the host.
pub fn host_csrf(caller: &Caller) -> Option<&str> {
    let administers = caller
        .host_right
        .is_some_and(|right| right >= Right::Administer);
    (caller.is_admin() || administers).then(|| caller.csrf_token())
}

/// The "Update agent" button: queues the newest build for the host after a confirmation.
pub fn button(agent_id: &AgentId, hostname: &str, version: &str, csrf: &str) -> Markup {
    let question = format!(
        "Update the agent on {hostname} ({}) from {version} to the newest build? It restarts; \
         if the new agent does not come back in time, it rolls back by itself.",
        agent_id.as_str()
    );
    html! {
        form method="post" action={ "/agents/" (url_segment(agent_id.as_str())) "/update" } class="inline agent-update" data-confirm=(question) {
            input type="hidden" name="csrf" value=(csrf);
            button type="submit" data-op="agent-update" { "Update agent" }
        }
    }
}

/// The state of an update for people.
pub fn state_label(state: AgentUpdateState, result: Option<AgentUpdateResult>) -> &'static str {
    match (state, result) {
        (AgentUpdateState::Queued, _) => "Queued",
        (AgentUpdateState::Sending, _) => "Sending the build",
        (AgentUpdateState::AwaitingConfirmation, _) => "Awaiting confirmation",
        (AgentUpdateState::Finished, Some(AgentUpdateResult::Succeeded)) => "Succeeded",
        (AgentUpdateState::Finished, Some(AgentUpdateResult::Refused)) => "Refused",
        (AgentUpdateState::Finished, Some(AgentUpdateResult::RolledBack)) => "Rolled back",
        (AgentUpdateState::Finished, Some(AgentUpdateResult::Failed) | None) => "Failed",
    }
}

fn state_badge(record: &AgentUpdateRecord) -> Markup {
    let tone = match (record.state, record.result) {
        (AgentUpdateState::Finished, Some(AgentUpdateResult::Succeeded)) => Tone::Ok,
        (AgentUpdateState::Finished, _) => Tone::Critical,
        _ => Tone::Warning,
    };
    let text = state_label(record.state, record.result);
    html! { span.badge.(tone.class()) data-state=(text) { (text) } }
}

fn detail(record: &AgentUpdateRecord, now: i64) -> Markup {
    html! {
        h1 { "Agent update " (state_badge(record)) }
        p.sub {
            "on " a href={ "/hosts/" (url_segment(record.agent_id.as_str())) } { (record.agent_id) }
            " · asked by " (record.requested_by) " " (ago(record.requested_at_ms, now))
            " · operation " (record.id)
        }
        p #agent-update-versions {
            "From " code { (record.from_version) } " to " code { (record.to_version) }
            " (" (record.build) @if record.rollback { ", a rollback" } ")"
        }
        @match record.state {
            AgentUpdateState::Queued => p.muted { "Waiting for the agent; expires " (datetime(record.expires_at_ms)) "." },
            AgentUpdateState::AwaitingConfirmation => p.muted {
                "The agent restarts into the new build and must come back"
                @if let Some(by) = record.confirm_by_ms { " by " (datetime(by)) }
                "; otherwise it puts the previous binary back by itself."
            },
            _ => {},
        }
        ol.log #operation-log {
            @for event in &record.events { li { span.sub { (datetime(event.at_ms)) } " " (event.message) } }
        }
        @if let Some(message) = &record.message {
            p #operation-summary { (message) }
        }
    }
}

/// The page of one agent update (pure): reloads itself every 2 s until it has ended.
pub fn render(record: &AgentUpdateRecord, caller: &Caller, now: i64) -> Markup {
    let mut frame = Frame::new("Agent update", Nav::Agents);
    if record.state != AgentUpdateState::Finished {
        frame.reload_seconds = Some(2);
    }
    layout::page(frame, caller, detail(record, now))
}

#[derive(Debug, Deserialize)]
pub struct UpdateForm {
    /// Exactly this version; empty or absent: the newest build.
    #[serde(default)]
    pub version: Option<String>,
}

/// `POST /agents/{agent_id}/update`: queues the update and shows its page.
pub async fn submit(
    State(state): State<AppState>,
    caller: PageCaller,
    ApiPath(agent_id): ApiPath<String>,
    ApiForm(form): ApiForm<UpdateForm>,
) -> Result<Response, ApiError> {
    let actor = caller.0.actor();
    let request = AgentUpdateRequest {
        version: form.version.filter(|version| !version.trim().is_empty()),
        ..AgentUpdateRequest::default()
    };
    let record = blocking(&state.ctx, move |ctx| {
        let agent_id = parse_agent_id(&agent_id)?;
        agent_updates::submit(ctx, &actor, &agent_id, &request)
    })
    .await?;
    Ok(Redirect::to(&format!("/operations/{}", url_segment(&record.id))).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_update_button_asks_first_naming_host_and_version() {
        let agent_id = parse_agent_id("nas-1").unwrap();
        let html = button(&agent_id, "<nas>", "0.1.0", "token").into_string();
        assert!(
            html.contains("Update the agent on &lt;nas&gt; (nas-1) from 0.1.0"),
            "{html}"
        );
        assert!(html.contains("action=\"/agents/nas-1/update\""), "{html}");
        assert!(html.contains("name=\"csrf\" value=\"token\""), "{html}");
    }

    #[test]
    fn every_state_has_words() {
        assert_eq!(
            state_label(AgentUpdateState::AwaitingConfirmation, None),
            "Awaiting confirmation"
        );
        assert_eq!(
            state_label(
                AgentUpdateState::Finished,
                Some(AgentUpdateResult::RolledBack)
            ),
            "Rolled back"
        );
        assert_eq!(state_label(AgentUpdateState::Finished, None), "Failed");
    }
}
