//! "Update agents" in the dashboard (docs/agent-updates.md): `/agents/rollout` shows the newest
//! fleet rollout host by host (it reloads itself while the rollout is active) and, to those who
//! administer every host, the form that starts one and the halt, resume and cancel buttons
//! (each asks first, `controls.js`). Thin over [`crate::domain::agent_rollouts`].

use super::badge::Tone;
use super::format::{datetime, url_segment};
use super::layout::{self, Frame, Nav};
use super::{CsrfForm, PageCaller};
use crate::domain::agent_builds;
use crate::domain::agent_rollouts::{self, RolloutRequest, RolloutView};
use crate::domain::agent_updates::DEFAULT_CONFIRM_WITHIN;
use crate::http::auth::Caller;
use crate::http::error::ApiError;
use crate::http::extract::{blocking, ApiForm};
use crate::http::state::AppState;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{html, Markup};
use serde::Deserialize;

/// What the page shows.
#[derive(Debug, Clone)]
pub struct RolloutPage {
    pub rollout: Option<RolloutView>,
    /// The versions in the build store, newest first.
    pub versions: Vec<String>,
    /// Host groups, for the stages.
    pub groups: Vec<String>,
}

fn state_tone(state: &str) -> Tone {
    match state {
        "finished" => Tone::Ok,
        "halted" => Tone::Critical,
        "rolling" => Tone::Warning,
        _ => Tone::Unknown,
    }
}

fn step_tone(step: &str) -> Tone {
    match step {
        "done" => Tone::Ok,
        "send" => Tone::Warning,
        "skipped" => Tone::Unknown,
        _ => Tone::Unknown,
    }
}

fn step_words(step: &str) -> &'static str {
    match step {
        "done" => "Done",
        "send" => "Sending now",
        "skipped" => "Skipped",
        _ => "Waiting",
    }
}

fn state_words(state: &str) -> &'static str {
    match state {
        "rolling" => "Rolling out",
        "halted" => "Halted",
        "finished" => "Finished",
        _ => "Cancelled",
    }
}

fn control(action: &str, label: &str, question: &str, csrf: &str, danger: bool) -> Markup {
    html! {
        form method="post" action={ "/agents/rollout/" (action) } class="inline" data-confirm=(question) {
            input type="hidden" name="csrf" value=(csrf);
            button type="submit" class=[danger.then_some("danger")] { (label) }
        }
    }
}

fn rollout_card(view: &RolloutView, csrf: Option<&str>) -> Markup {
    html! {
        section.card #rollout {
            h2 {
                "Rollout of " code { (view.version) } " "
                span.badge.(state_tone(&view.state).class()) data-state=(view.state) { (state_words(&view.state)) }
            }
            p.sub {
                "started " (datetime(view.started_at_ms)) " by " (view.started_by)
                " · canary " (view.canary.as_deref().unwrap_or("none"))
                " · stages: "
                @if view.stages.is_empty() { "all hosts" } @else { (view.stages.join(", ")) ", then the rest" }
                " · " (view.max_parallel) " at once"
            }
            @if let Some(message) = &view.message { p #rollout-message { (message) } }
            @if let Some(csrf) = csrf {
                @match view.state.as_str() {
                    "rolling" => (control("halt", "Halt", "Halt the rollout? Running updates finish; no new host is updated until you resume.", csrf, false)),
                    "halted" => (control("resume", "Resume", "Resume the rollout? Hosts whose update failed are tried again.", csrf, false)),
                    _ => {},
                }
                @if view.state == "rolling" || view.state == "halted" {
                    (control("cancel", "Cancel rollout", "Cancel the rollout for good? Running updates finish.", csrf, true))
                }
            }
            @if !view.hosts.is_empty() {
                div.table { table #rollout-hosts {
                    thead { tr { th { "Host" } th { "Version" } th { "Step" } th.wide { "Why" } } }
                    tbody {
                        @for host in &view.hosts {
                            tr {
                                td { a href={ "/hosts/" (url_segment(&host.agent_id)) } { (host.host) } }
                                td { (host.version) }
                                td {
                                    span.badge.(step_tone(&host.step).class()) { (step_words(&host.step)) }
                                    @if let Some(id) = &host.update_id {
                                        div.sub { a href={ "/operations/" (url_segment(id)) } { "update" } }
                                    }
                                }
                                td.wide { (host.reason.as_deref().unwrap_or("")) }
                            }
                        }
                    }
                } }
            }
            details {
                summary { "History" }
                ol.log { @for event in &view.events { li { span.sub { (datetime(event.at_ms)) } " " (event.message) } } }
            }
        }
    }
}

fn start_form(page: &RolloutPage, csrf: &str) -> Markup {
    html! {
        section.card #start-rollout {
            h2 { "Update agents" }
            @if page.versions.is_empty() {
                p.muted { "No agent builds yet: add one with " code { "unity-controller agent-builds add" } "." }
            } @else {
                p.sub {
                    "One host first (the canary), alone; when its new agent is back, the host groups in order, then every other host, each in its maintenance window. The first failure halts the rollout."
                }
                form method="post" action="/agents/rollout" data-confirm="Start rolling this agent version out to every host?" {
                    input type="hidden" name="csrf" value=(csrf);
                    label { "Version " select name="version" { @for version in &page.versions { option { (version) } } } }
                    label { "Canary (host, optional) " input type="text" name="canary" autocomplete="off"; }
                    label {
                        "Stages (host groups in order, comma-separated) "
                        input type="text" name="stages" list="host-groups" autocomplete="off";
                        datalist #host-groups { @for group in &page.groups { option value=(group) {} } }
                    }
                    label { "At once " input type="number" name="parallel" min="1" max="50" value="1"; }
                    button type="submit" { "Start rollout" }
                }
            }
        }
    }
}

/// The page (pure).
pub fn render(page: &RolloutPage, caller: &Caller) -> Markup {
    let csrf = caller.is_admin().then(|| caller.csrf_token());
    let active = page
        .rollout
        .as_ref()
        .is_some_and(|view| view.state == "rolling" || view.state == "halted");
    let content = html! {
        h1 { "Update agents" }
        p.sub { a href="/agents" { "Agents" } " · versions, install kinds and one host's update are on the agents page." }
        @if let Some(view) = &page.rollout { (rollout_card(view, csrf)) }
        @if let (Some(csrf), false) = (csrf, active) { (start_form(page, csrf)) }
        @if page.rollout.is_none() && csrf.is_none() { p.muted { "No agent rollout yet." } }
    };
    let mut frame = Frame::new("Update agents", Nav::Agents);
    if active {
        frame.reload_seconds = Some(5);
    }
    layout::page(frame, caller, content)
}

/// `GET /agents/rollout`.
pub async fn page(State(state): State<AppState>, caller: PageCaller) -> Result<Markup, ApiError> {
    let page = blocking(&state.ctx, |ctx| {
        let mut versions: Vec<semver::Version> = agent_builds::list(ctx)?
            .into_iter()
            .filter_map(|build| semver::Version::parse(&build.version).ok())
            .collect();
        versions.sort_unstable_by(|a, b| b.cmp(a));
        versions.dedup();
        let groups = crate::domain::groups::host_groups(ctx)?
            .into_iter()
            .map(|group| group.name)
            .collect();
        Ok::<_, ApiError>(RolloutPage {
            rollout: agent_rollouts::current(ctx)?,
            versions: versions.iter().map(ToString::to_string).collect(),
            groups,
        })
    })
    .await?;
    Ok(render(&page, &caller.0))
}

#[derive(Debug, Deserialize)]
pub struct StartForm {
    pub version: String,
    #[serde(default)]
    pub canary: String,
    #[serde(default)]
    pub stages: String,
    #[serde(default)]
    pub parallel: Option<u32>,
}

/// `POST /agents/rollout`.
pub async fn start(
    State(state): State<AppState>,
    caller: PageCaller,
    ApiForm(form): ApiForm<StartForm>,
) -> Result<Response, ApiError> {
    let actor = caller.0.actor();
    let request = RolloutRequest {
        version: form.version,
        canary: Some(form.canary.trim().to_owned()).filter(|canary| !canary.is_empty()),
        stages: form
            .stages
            .split(',')
            .map(str::trim)
            .filter(|stage| !stage.is_empty())
            .map(str::to_owned)
            .collect(),
        max_parallel: form.parallel.unwrap_or(1),
        confirm_within_secs: DEFAULT_CONFIRM_WITHIN.as_secs(),
    };
    blocking(&state.ctx, move |ctx| {
        agent_rollouts::start(ctx, &actor, &request)
    })
    .await?;
    Ok(Redirect::to("/agents/rollout").into_response())
}

/// `POST /agents/rollout/halt`.
pub async fn halt(
    State(state): State<AppState>,
    caller: PageCaller,
    ApiForm(_form): ApiForm<CsrfForm>,
) -> Result<Response, ApiError> {
    let actor = caller.0.actor();
    blocking(&state.ctx, move |ctx| agent_rollouts::halt(ctx, &actor)).await?;
    Ok(Redirect::to("/agents/rollout").into_response())
}

/// `POST /agents/rollout/resume`.
pub async fn resume(
    State(state): State<AppState>,
    caller: PageCaller,
    ApiForm(_form): ApiForm<CsrfForm>,
) -> Result<Response, ApiError> {
    let actor = caller.0.actor();
    blocking(&state.ctx, move |ctx| agent_rollouts::resume(ctx, &actor)).await?;
    Ok(Redirect::to("/agents/rollout").into_response())
}

/// `POST /agents/rollout/cancel`.
pub async fn cancel(
    State(state): State<AppState>,
    caller: PageCaller,
    ApiForm(_form): ApiForm<CsrfForm>,
) -> Result<Response, ApiError> {
    let actor = caller.0.actor();
    blocking(&state.ctx, move |ctx| agent_rollouts::cancel(ctx, &actor)).await?;
    Ok(Redirect::to("/agents/rollout").into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::agent_rollouts::RolloutHostView;

    fn view(state: &str) -> RolloutView {
        RolloutView {
            id: "0001-rollout".into(),
            version: "0.2.0".into(),
            state: state.into(),
            canary: Some("agent-pi".into()),
            stages: vec!["<pis>".into()],
            max_parallel: 2,
            started_by: "admin".into(),
            started_at_ms: 0,
            finished_at_ms: None,
            message: Some("halted: the update of <nas> failed".into()),
            hosts: vec![RolloutHostView {
                agent_id: "agent-nas".into(),
                host: "<script>nas".into(),
                version: "0.1.0<b>".into(),
                step: "waiting".into(),
                reason: Some("the rollout stopped".into()),
                update_id: Some("01&2".into()),
            }],
            events: vec![],
        }
    }

    #[test]
    fn a_halted_rollout_offers_resume_and_cancel_and_escapes_what_agents_report() {
        let html = rollout_card(&view("halted"), Some("token")).into_string();
        assert!(html.contains("action=\"/agents/rollout/resume\""), "{html}");
        assert!(html.contains("action=\"/agents/rollout/cancel\""), "{html}");
        assert!(!html.contains("/agents/rollout/halt"), "{html}");
        assert!(
            html.contains("&lt;script&gt;nas") && !html.contains("<script>"),
            "{html}"
        );
        assert!(html.contains("0.1.0&lt;b&gt;"), "{html}");
        assert!(html.contains("&lt;pis&gt;"), "{html}");
        assert!(
            html.contains("data-confirm"),
            "every control asks first: {html}"
        );
        // Without the right, no buttons.
        let html = rollout_card(&view("rolling"), None).into_string();
        assert!(!html.contains("<form"), "{html}");
    }

    #[test]
    fn the_words_for_states_and_steps() {
        assert_eq!(state_words("rolling"), "Rolling out");
        assert_eq!(state_words("finished"), "Finished");
        assert_eq!(step_words("send"), "Sending now");
        assert_eq!(step_words("waiting"), "Waiting");
        assert!(matches!(state_tone("halted"), Tone::Critical));
    }
}
