//! A host's "All metrics" page (`/hosts/{agent_id}/metrics`): every series' newest value with
//! its human name, its internal name and labels, and the value in its unit. The one dashboard
//! page that shows internal metric names; the host page links here instead of carrying the
//! raw tables itself.

use super::format::{ago, human_value, url_segment};
use super::layout::{self, Frame, Nav};
use super::metric_names::human_name;
use super::PageCaller;
use crate::clock::now_ms;
use crate::domain::hosts::{self, parse_agent_id, HostDetail, LatestValue};
use crate::http::auth::Caller;
use crate::http::error::ApiError;
use crate::http::extract::{blocking, ApiPath};
use crate::http::state::AppState;
use axum::extract::State;
use maud::{html, Markup};

fn labels_text(value: &LatestValue) -> String {
    let parts: Vec<String> = value
        .labels
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect();
    parts.join(", ")
}

/// The page (pure).
pub fn render(detail: &HostDetail, caller: &Caller, now: i64) -> Markup {
    let host = &detail.host;
    let title = format!("{}: all metrics", host.hostname);
    let content = html! {
        h1 { (host.hostname) ": all metrics" }
        p.sub {
            a #back-to-host href={ "/hosts/" (url_segment(host.agent_id.as_str())) } { "Back to the host" }
            " · " (detail.latest.len()) " series, newest value of each. History: "
            code { "GET /api/v1/hosts/" (host.agent_id) "/query?metric=NAME" }
        }
        @if detail.latest.is_empty() {
            p.muted { "Nothing reported yet." }
        } @else {
            div.table { table #all-metrics {
                thead { tr { th { "Name" } th { "Metric" } th { "Labels" } th { "Value" } th { "At" } } }
                tbody {
                    @for value in &detail.latest {
                        tr {
                            td { (human_name(&value.metric)) }
                            td { code { (value.metric) } }
                            td.sub { (labels_text(value)) }
                            td { (human_value(&value.metric, value.value, now)) }
                            td.sub { (ago(value.timestamp_ms, now)) }
                        }
                    }
                }
            } }
        }
    };
    layout::page(Frame::new(&title, Nav::Overview), caller, content)
}

/// `GET /hosts/{agent_id}/metrics`.
pub async fn page(
    State(state): State<AppState>,
    caller: PageCaller,
    ApiPath(agent_id): ApiPath<String>,
) -> Result<Markup, ApiError> {
    let agent_id = parse_agent_id(&agent_id)?;
    let detail = blocking(&state.ctx, move |ctx| hosts::detail(ctx, &agent_id)).await?;
    Ok(render(&detail, &caller.0, now_ms()))
}
