//! The Alerts page's forms and their POST handlers (issue 18 §2): acknowledge with a note and
//! un-acknowledge (operate on the alert's host), silences (operate on every host), the
//! operator's rules (administer; the config file's are shown read-only). Every form carries
//! the session's CSRF token, checked by the route guard; handlers call the domain and go
//! back to `/alerts`.

use super::format::{datetime, url_segment};
use super::PageCaller;
use crate::config::alert_rule::RawSeriesRule;
use crate::domain::alert_actions::{self, SilenceRequest, SilenceView};
use crate::domain::alert_rules::{self, RuleView};
use crate::domain::alerts::AlertView;
use crate::domain::hosts::parse_agent_id;
use crate::http::error::ApiError;
use crate::http::extract::{blocking, ApiForm, ApiPath};
use crate::http::state::AppState;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{html, Markup};
use serde::Deserialize;
use std::collections::BTreeMap;

const PAGE: &str = "/alerts";

/// The acknowledgement cell: who, when, the note; for operators the forms.
pub fn ack_cell(alert: &AlertView, csrf: Option<&str>) -> Markup {
    let ack_path = format!("/hosts/{}/alerts", url_segment(alert.agent_id.as_str()));
    html! {
        @if let Some(ack) = &alert.acknowledged {
            div.ack { (ack.by) ", " (datetime(ack.at_ms)) }
            @if !ack.note.is_empty() { div.sub.note { (ack.note) } }
        }
        @if let (Some(csrf), None) = (csrf, alert.resolved_at_ms) {
            @if alert.acknowledged.is_some() {
                form method="post" action={ (ack_path) "/unacknowledge" } class="inline" {
                    input type="hidden" name="csrf" value=(csrf);
                    input type="hidden" name="key" value=(alert.key);
                    button type="submit" { "Un-acknowledge" }
                }
            } @else {
                form method="post" action={ (ack_path) "/acknowledge" } class="inline" {
                    input type="hidden" name="csrf" value=(csrf);
                    input type="hidden" name="key" value=(alert.key);
                    input name="note" maxlength="1000" placeholder="note";
                    button type="submit" { "Acknowledge" }
                }
            }
        }
    }
}

/// The silences in force, with delete buttons and a form for operators of every host.
pub fn silences_section(silences: &[SilenceView], csrf: Option<&str>, now_ms: i64) -> Markup {
    html! {
        h2 #silences { "Silences" }
        @if silences.is_empty() {
            p.muted { "No silences in force." }
        } @else {
            div.table { table #silence-list {
                thead { tr { th { "Host" } th { "Key prefix" } th { "Label" } th { "Comment" } th { "By" } th { "Until" } th {} } }
                tbody { @for silence in silences {
                    tr data-id=(silence.id) data-source=(if silence.from_configuration { "configuration" } else { "stored" }) {
                        td { (silence.host.as_deref().unwrap_or("any")) }
                        td { (silence.key_prefix.as_deref().unwrap_or("any")) }
                        td { (silence.label.as_deref().unwrap_or("any")) }
                        td { (silence.comment) }
                        td { @if silence.from_configuration { "from configuration" } @else { (silence.created_by) } }
                        td { @if silence.expires_at_ms == i64::MAX { "while configured" } @else {
                             (datetime(silence.expires_at_ms))
                             div.sub { "in " (super::format::ago(now_ms, silence.expires_at_ms).trim_end_matches(" ago")) } } }
                        td { @if silence.from_configuration {
                            span.muted { "edit the config file" }
                        } @else if let Some(csrf) = csrf {
                            form method="post" action={ (PAGE) "/silences/" (silence.id) "/delete" } class="inline" data-confirm="Delete this silence? Its alerts notify again." {
                                input type="hidden" name="csrf" value=(csrf);
                                button type="submit" class="danger" { "Delete" }
                            }
                        } }
                    }
                } }
            } }
        }
        @if let Some(csrf) = csrf {
            form method="post" action={ (PAGE) "/silences" } class="card" id="add-silence" {
                input type="hidden" name="csrf" value=(csrf);
                label { "Host " input name="host" placeholder="agent id"; }
                label { "Key prefix " input name="key_prefix" placeholder="disk/"; }
                label { "Label " input name="label" placeholder="role=nas"; }
                label { "For " input name="duration" value="2h" required; }
                label { "Comment " input name="comment" maxlength="1000"; }
                button type="submit" { "Silence" }
            }
        }
    }
}

/// The operator's rules: the config file's read-only, the stored ones with delete buttons
/// and a form for admins.
pub fn rules_section(rules: &[RuleView], csrf: Option<&str>) -> Markup {
    html! {
        h2 #rules { "Rules" }
        @if rules.is_empty() {
            p.muted { "No rules of your own." }
        } @else {
            div.table { table #rule-list {
                thead { tr { th { "Name" } th { "When" } th { "For" } th { "Scope" } th { "Severity" } th { "Source" } th {} } }
                tbody { @for rule in rules {
                    tr data-name=(rule.name) {
                        td { (rule.name) }
                        td { code { (rule.metric) } " " (rule.threshold) " " (rule.value)
                             @for (name, value) in &rule.labels { div.sub { (name) "=" (value) } } }
                        td { @if rule.for_seconds > 0 { (rule.for_seconds) " s" } @else { "at once" } }
                        td { @if rule.groups.is_empty() && rule.hosts.is_empty() { "every host" }
                             @for group in &rule.groups { div { "group " (group) } }
                             @for host in &rule.hosts { div { "host " (host) } } }
                        td { (rule.severity.as_str()) }
                        td { @if rule.source == "config" { "config file (read-only)" } @else { (rule.updated_by) } }
                        td { @if let (Some(csrf), "stored") = (csrf, rule.source) {
                            form method="post" action={ (PAGE) "/rules/" (url_segment(&rule.name)) "/delete" } class="inline" data-confirm={ "Delete the alert rule " (rule.name) "?" } {
                                input type="hidden" name="csrf" value=(csrf);
                                button type="submit" class="danger" { "Delete" }
                            }
                        } }
                    }
                } }
            } }
        }
        @if let Some(csrf) = csrf {
            form method="post" action={ (PAGE) "/rules" } class="card" id="add-rule" {
                input type="hidden" name="csrf" value=(csrf);
                label { "Name " input name="name" required placeholder="nas_cpu"; }
                label { "Metric " input name="metric" required placeholder="cpu_usage_ratio"; }
                label { "Threshold " select name="threshold" {
                    option value="above" { "above" } option value="below" { "below" } option value="older_than" { "older than (seconds)" }
                } }
                label { "Value " input name="value" required placeholder="0.9"; }
                label { "For " input name="for" placeholder="10m"; }
                label { "Host groups " input name="groups" placeholder="nas, web"; }
                label { "Hosts " input name="hosts" placeholder="agent ids"; }
                label { "Severity " select name="severity" { option { "warning" } option { "critical" } } }
                button type="submit" { "Save rule" }
            }
        }
    }
}

fn back() -> Response {
    Redirect::to(PAGE).into_response()
}

#[derive(Debug, Deserialize)]
pub struct AckForm {
    pub key: String,
    #[serde(default)]
    pub note: String,
}

/// `POST /hosts/{agent_id}/alerts/acknowledge`.
pub async fn acknowledge(
    State(state): State<AppState>,
    caller: PageCaller,
    ApiPath(agent_id): ApiPath<String>,
    ApiForm(form): ApiForm<AckForm>,
) -> Result<Response, ApiError> {
    let agent_id = parse_agent_id(&agent_id)?;
    let actor = caller.0.actor();
    blocking(&state.ctx, move |ctx| {
        alert_actions::acknowledge(ctx, &actor, &agent_id, &form.key, &form.note)
    })
    .await?;
    Ok(back())
}

/// `POST /hosts/{agent_id}/alerts/unacknowledge`.
pub async fn unacknowledge(
    State(state): State<AppState>,
    caller: PageCaller,
    ApiPath(agent_id): ApiPath<String>,
    ApiForm(form): ApiForm<AckForm>,
) -> Result<Response, ApiError> {
    let agent_id = parse_agent_id(&agent_id)?;
    let actor = caller.0.actor();
    blocking(&state.ctx, move |ctx| {
        alert_actions::unacknowledge(ctx, &actor, &agent_id, &form.key)
    })
    .await?;
    Ok(back())
}

#[derive(Debug, Deserialize)]
pub struct SilenceForm {
    #[serde(default)]
    pub host: String,
    #[serde(default)]
    pub key_prefix: String,
    #[serde(default)]
    pub label: String,
    #[serde(default)]
    pub comment: String,
    pub duration: String,
}

/// `POST /alerts/silences`.
pub async fn silence(
    State(state): State<AppState>,
    caller: PageCaller,
    ApiForm(form): ApiForm<SilenceForm>,
) -> Result<Response, ApiError> {
    let actor = caller.0.actor();
    let request = SilenceRequest {
        host: Some(form.host),
        rule: None,
        key_prefix: Some(form.key_prefix),
        label: Some(form.label),
        comment: form.comment,
        duration: form.duration,
    };
    blocking(&state.ctx, move |ctx| {
        alert_actions::silence(ctx, &actor, &request)
    })
    .await?;
    Ok(back())
}

/// `POST /alerts/silences/{id}/delete`.
pub async fn unsilence(
    State(state): State<AppState>,
    caller: PageCaller,
    ApiPath(id): ApiPath<String>,
) -> Result<Response, ApiError> {
    let id = alert_actions::parse_silence_id(&id)?;
    let actor = caller.0.actor();
    blocking(&state.ctx, move |ctx| {
        alert_actions::unsilence(ctx, &actor, id)
    })
    .await?;
    Ok(back())
}

#[derive(Debug, Deserialize)]
pub struct RuleForm {
    pub name: String,
    pub metric: String,
    /// `above`, `below` or `older_than` (seconds).
    pub threshold: String,
    pub value: String,
    #[serde(default, rename = "for")]
    pub for_duration: String,
    #[serde(default)]
    pub groups: String,
    #[serde(default)]
    pub hosts: String,
    #[serde(default)]
    pub severity: String,
}

fn words(text: &str) -> Vec<String> {
    text.split([',', ' '])
        .filter(|word| !word.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The form as a domain request.
pub fn rule_request(form: RuleForm) -> Result<RawSeriesRule, ApiError> {
    let value: f64 = form.value.trim().parse().map_err(|_| {
        ApiError::BadRequest(format!("bad value \"{}\": expected a number", form.value))
    })?;
    let mut request = RawSeriesRule {
        name: form.name,
        metric: form.metric,
        labels: BTreeMap::new(),
        severity: Some(form.severity).filter(|word| !word.is_empty()),
        for_duration: Some(form.for_duration),
        groups: words(&form.groups),
        hosts: words(&form.hosts),
        ..RawSeriesRule::default()
    };
    match form.threshold.as_str() {
        "above" => request.above = Some(value),
        "below" => request.below = Some(value),
        "older_than" => request.older_than = Some(format!("{}s", value.max(0.0) as u64)),
        other => {
            return Err(ApiError::BadRequest(format!(
                "bad threshold \"{other}\": expected above, below or older_than"
            )))
        }
    }
    Ok(request)
}

/// `POST /alerts/rules`.
pub async fn put_rule(
    State(state): State<AppState>,
    caller: PageCaller,
    ApiForm(form): ApiForm<RuleForm>,
) -> Result<Response, ApiError> {
    let actor = caller.0.actor();
    let request = rule_request(form)?;
    blocking(&state.ctx, move |ctx| {
        alert_rules::put(ctx, &actor, &request)
    })
    .await?;
    Ok(back())
}

/// `POST /alerts/rules/{name}/delete`.
pub async fn delete_rule(
    State(state): State<AppState>,
    caller: PageCaller,
    ApiPath(name): ApiPath<String>,
) -> Result<Response, ApiError> {
    let actor = caller.0.actor();
    blocking(&state.ctx, move |ctx| {
        alert_rules::delete(ctx, &actor, &name)
    })
    .await?;
    Ok(back())
}
