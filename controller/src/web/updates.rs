//! The updates page: every container with an available update (current and candidate tag and
//! digest, the semver jump, image age, first seen, the policy mode and whether it is held back),
//! under each its recommendation with reasons, release notes and summary
//! ([`super::update_insight`]), the vulnerability gate and cooldown countdown of each
//! (`vulnerability_gate.rs`), the containers whose check failed with the reason, "check now"
//! and "update now" buttons
//! for admins, and the history of container operations.

use super::containers::update_cell;
use super::format::{ago, datetime, short_digest, url_segment};
use super::layout::{self, Frame, Nav};
use super::operations::{button, history_table};
use super::update_insight;
use super::{admin_csrf, vulnerability_gate, CsrfForm, PageCaller};
use crate::clock::now_ms;
use crate::domain::hosts::{self, Host};
use crate::domain::updates::CheckView;
use crate::domain::{operations, update_policies, updates};
use crate::http::auth::Caller;
use crate::http::error::ApiError;
use crate::http::extract::{blocking, ApiForm};
use crate::http::state::AppState;
use crate::storage::containers::{CheckOutcome, UpdateCheckRecord};
use crate::storage::operations::{OperationKind, OperationRecord};
use crate::updates::window::WindowPhase;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{html, Markup};
use std::collections::BTreeMap;
use unity_shared::proto::AgentId;

/// What the updates page shows.
#[derive(Debug, Clone)]
pub struct UpdatesView {
    /// The newest check of every container, as it stands now.
    pub records: Vec<CheckView>,
    pub hosts: Vec<Host>,
    pub operations: Vec<OperationRecord>,
    /// Per agent id: its maintenance window's state and when it next changes.
    pub windows: BTreeMap<AgentId, (WindowPhase, Option<String>)>,
}

fn host_name<'a>(hosts: &'a [Host], agent_id: &'a AgentId) -> &'a str {
    hosts
        .iter()
        .find(|host| host.agent_id == *agent_id)
        .map_or(agent_id.as_str(), |host| host.hostname.as_str())
}

fn window_cell(window: Option<&(WindowPhase, Option<String>)>) -> Markup {
    html! {
        @match window {
            None => "–",
            Some((phase, next)) => {
                span data-window=(phase.as_str()) { (phase.as_str()) }
                @if let Some(next) = next { div.sub { (next) } }
            }
        }
    }
}

/// "Update anyway": a manual update to a candidate that failed on this container (forced, so
/// the agent does not refuse it as previously failed).
fn force_button(agent_id: &AgentId, container: &str, csrf: &str) -> Markup {
    let action = format!(
        "/hosts/{}/containers/{}/update",
        url_segment(agent_id.as_str()),
        url_segment(container)
    );
    html! {
        form method="post" action=(action) class="inline op" {
            input type="hidden" name="csrf" value=(csrf);
            input type="hidden" name="force" value="1";
            button type="submit" data-op="update" data-force { "Update anyway" }
        }
    }
}

fn available(view: &UpdatesView, csrf: Option<&str>, now: i64) -> Markup {
    let updates: Vec<_> = view
        .records
        .iter()
        .filter_map(|check| match &check.record.outcome {
            CheckOutcome::Update(update) => Some((check, update)),
            _ => None,
        })
        .collect();
    html! {
        h2 { "Available" }
        @if updates.is_empty() {
            p.muted #no-updates { "Every checked container runs the newest image its policy allows." }
        } @else {
            div.table { table #updates {
                thead { tr {
                    th { "Host / container" } th { "Image" } th { "Current" } th { "Candidate" }
                    th { "Change" } th { "Image age" } th { "First seen" } th { "Vulnerabilities" } th { "Policy" } th { "Window" } th {}
                } }
                tbody {
                    @for (check, update) in updates {
                        @let record = &check.record;
                        tr data-container=(record.container) data-failed[check.failed.is_some()] {
                            td {
                                a href={ "/hosts/" (url_segment(record.agent_id.as_str())) "#section-containers" } {
                                    (host_name(&view.hosts, &record.agent_id))
                                }
                                " / " (record.container)
                            }
                            td { (record.image) }
                            td {
                                (update.current_tag.as_deref().unwrap_or("–")) " "
                                span.sub { (short_digest(update.current_digest.as_deref().unwrap_or(""))) }
                            }
                            td {
                                (update.candidate_tag) " " span.sub { (short_digest(&update.candidate_digest)) }
                                @if let Some(failed) = &check.failed {
                                    div.failed-mark {
                                        strong { "failed here" } " " (ago(failed.at_ms, now)) ": " (failed.reason)
                                    }
                                }
                            }
                            td { (update.kind) }
                            td { (update.candidate_created_ms.map_or_else(|| "–".to_owned(), |created| ago(created, now))) }
                            td { (datetime(update.first_seen_ms)) }
                            td.gate { (vulnerability_gate::cell(check)) }
                            td {
                                (update.mode)
                                @if let Some(reason) = &check.waiting {
                                    div.sub.waiting { "not applied now: " (reason) }
                                } @else if let Some(reason) = &update.held_back {
                                    " · held back: " (reason)
                                }
                            }
                            td { (window_cell(view.windows.get(&record.agent_id))) }
                            td {
                                @if let Some(csrf) = csrf {
                                    @if check.failed.is_some() {
                                        (force_button(&record.agent_id, &record.container, csrf))
                                    } @else {
                                        (button(&record.agent_id, &record.container, OperationKind::Update, "Update now", csrf))
                                    }
                                }
                            }
                        }
                        @if let Some(insight) = &check.insight { (update_insight::row(insight, 10, now)) }
                    }
                }
            } }
            (vulnerability_gate::hosts_without_scanner(&view.records, |check| host_name(&view.hosts, &check.record.agent_id)))
        }
    }
}

fn failed(view: &UpdatesView, now: i64) -> Markup {
    let failed: Vec<&UpdateCheckRecord> = view
        .records
        .iter()
        .map(|check| &check.record)
        .filter(|record| matches!(record.outcome, CheckOutcome::Error { .. }))
        .collect();
    html! {
        @if !failed.is_empty() {
            h2 { "Checks that failed" }
            div.table { table #update-errors {
                thead { tr { th { "Host / container" } th { "Image" } th { "Error" } th { "Checked" } } }
                tbody {
                    @for record in failed {
                        tr {
                            td { (host_name(&view.hosts, &record.agent_id)) " / " (record.container) }
                            td { (record.image) }
                            td { (update_cell(Some(record))) }
                            td { (ago(record.checked_at_ms, now)) }
                        }
                    }
                }
            } }
        }
    }
}

/// The updates page (pure); admins get the "check now" and "update now" buttons.
pub fn render(view: &UpdatesView, caller: &Caller, now: i64) -> Markup {
    let csrf = admin_csrf(caller);
    let content = html! {
        h1 { "Updates" }
        @if let Some(csrf) = csrf {
            form method="post" action="/updates/check" class="card inline" id="check-updates" {
                input type="hidden" name="csrf" value=(csrf);
                button type="submit" { "Check all containers now" }
            }
        }
        (available(view, csrf, now))
        (failed(view, now))
        h2 { "History" }
        (history_table(&view.operations, now))
        p.muted {
            (view.records.len()) " containers checked. Policies: " code { "unity.update.*" }
            " labels, per host and per container through the API; see docs/updates.md."
        }
    };
    layout::page(Frame::new("Updates", Nav::Updates), caller, content)
}

/// `GET /updates`.
pub async fn page(State(state): State<AppState>, caller: PageCaller) -> Result<Markup, ApiError> {
    let access = caller.0.access.clone();
    let view = blocking(&state.ctx, move |ctx| {
        let visible = crate::domain::access::visible(ctx, &access)?;
        let mut hosts = hosts::list(ctx)?;
        hosts.retain(|host| visible.sees(&host.agent_id));
        let now = jiff::Timestamp::now();
        let mut windows = BTreeMap::new();
        for host in &hosts {
            let state = update_policies::window_state(ctx, &host.agent_id, &host.hostname, now)?;
            windows.insert(host.agent_id.clone(), state);
        }
        let mut records = updates::checks(ctx, updates::CheckFilter::All)?;
        records.retain(|view| visible.sees(&view.record.agent_id));
        let mut operations = operations::recent(ctx, None, 50)?;
        operations.retain(|record| visible.sees(&record.agent_id));
        Ok::<_, ApiError>(UpdatesView {
            records,
            hosts,
            operations,
            windows,
        })
    })
    .await?;
    Ok(render(&view, &caller.0, now_ms()))
}

/// `POST /updates/check`: checks now, then shows the page.
pub async fn check_now(
    State(state): State<AppState>,
    caller: PageCaller,
    ApiForm(_form): ApiForm<CsrfForm>,
) -> Result<Response, ApiError> {
    updates::check_now(&state.ctx, &caller.0.actor()).await?;
    Ok(Redirect::to("/updates").into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::auth::Role;
    use crate::storage::containers::{DetectedUpdate, UpdateKind, UpdateMode};
    use crate::updates::offer::FailedMark;
    use crate::web::layout::tests::caller;

    fn view(failed: Option<FailedMark>, waiting: Option<&str>) -> UpdatesView {
        UpdatesView {
            records: vec![CheckView {
                record: UpdateCheckRecord {
                    agent_id: AgentId::new("nas-1").unwrap(),
                    container: "app".into(),
                    image: "registry.home.arpa/app:1.0".into(),
                    checked_at_ms: 0,
                    outcome: CheckOutcome::Update(DetectedUpdate {
                        kind: UpdateKind::Minor,
                        current_tag: Some("1.0".into()),
                        current_digest: Some("sha256:v1".into()),
                        candidate_tag: "1.1".into(),
                        candidate_digest: "sha256:v2".into(),
                        candidate_created_ms: None,
                        first_seen_ms: 0,
                        mode: UpdateMode::Auto,
                        offered: true,
                        held_back: None,
                    }),
                },
                failed,
                waiting: waiting.map(str::to_owned),
                insight: None,
                vulnerability_gate: None,
                cooldown: None,
            }],
            hosts: Vec::new(),
            operations: Vec::new(),
            windows: BTreeMap::new(),
        }
    }

    #[test]
    fn issue_17_a_failed_candidate_shows_its_mark_and_update_anyway() {
        let mark = FailedMark {
            at_ms: 0,
            reason: "health check <failed>".into(),
        };
        let waiting = "failed on this container: not applied automatically";
        let html = render(
            &view(Some(mark), Some(waiting)),
            &caller(Role::Admin),
            60_000,
        )
        .into_string();
        assert!(html.contains("data-failed"), "{html}");
        assert!(html.contains("failed here"), "{html}");
        assert!(html.contains("health check &lt;failed&gt;"), "{html}");
        assert!(
            html.contains("not applied now: failed on this container"),
            "{html}"
        );
        assert!(html.contains("name=\"force\""), "{html}");
        assert!(html.contains("Update anyway"), "{html}");
        assert!(!html.contains("Update now"), "{html}");
    }

    #[test]
    fn issue_17_why_a_rollout_stopped_is_on_the_page() {
        let reason = "canary failed on nas: rollout stopped";
        let html = render(&view(None, Some(reason)), &caller(Role::Admin), 0).into_string();
        assert!(html.contains(reason), "{html}");
        assert!(html.contains("Update now"), "{html}");
        assert!(!html.contains("data-failed"), "{html}");
        // Viewers see the reason but get no buttons.
        let html = render(&view(None, Some(reason)), &caller(Role::Viewer), 0).into_string();
        assert!(html.contains(reason), "{html}");
        assert!(!html.contains("Update now"), "{html}");
    }

    #[test]
    fn issue_17_the_gate_and_countdown_show_next_to_the_update() {
        use crate::updates::scan::{Countdown, GateVerdict, GateView};
        use unity_shared::model::scan::SeverityCounts;
        let mut shown = view(None, None);
        shown.records[0].vulnerability_gate = Some(GateView {
            scanner: "trivy",
            threshold: None,
            current: Some(SeverityCounts {
                critical: 3,
                ..SeverityCounts::default()
            }),
            candidate: Some(SeverityCounts::default()),
            delta: None,
            verdict: GateVerdict::Fixes,
            summary: "update now: 3 fewer critical; fixes 3 critical <b>".into(),
        });
        shown.records[0].cooldown = Some(Countdown {
            eligible_at_ms: 1,
            age_known: true,
            text: "eligible in 2h 13m".into(),
        });
        let html = render(&shown, &caller(Role::Admin), 0).into_string();
        assert!(
            html.contains("update now: 3 fewer critical; fixes 3 critical &lt;b&gt;"),
            "{html}"
        );
        assert!(
            html.contains("now: 3 critical, 0 high, 0 medium, 0 low"),
            "{html}"
        );
        assert!(html.contains("eligible in 2h 13m"), "{html}");
        assert!(!html.contains("no-scanner"), "{html}");

        shown.records[0].vulnerability_gate = Some(GateView {
            scanner: "not_installed",
            threshold: None,
            current: None,
            candidate: None,
            delta: None,
            verdict: GateVerdict::NoScanner,
            summary: "no vulnerability scanner on this host (install trivy or grype)".into(),
        });
        let html = render(&shown, &caller(Role::Admin), 0).into_string();
        assert!(html.contains("No vulnerability scanner on nas-1"), "{html}");
    }
}
