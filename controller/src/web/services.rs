//! The Services page (`/services`, issue 18; docs/services.md): each service check with its
//! state from every agent that runs it (up or down with the reason, latency, TLS days left),
//! its uptime over 24 h, 7 d and 30 d, and where it is defined; administrators define checks
//! with the form (the same fields as `[[services.check]]`) and delete the stored ones. Escaped
//! by construction (maud).

use super::format::{ago, url_segment};
use super::layout::{self, Frame, Nav};
use super::{admin_csrf, CsrfForm, PageCaller};
use crate::config::service_checks::RawServiceCheck;
use crate::domain::services::{self, CheckView};
use crate::http::auth::Caller;
use crate::http::error::ApiError;
use crate::http::extract::{blocking, ApiForm, ApiPath};
use crate::http::state::AppState;
use crate::service_checks::Origin;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{html, Markup};
use serde::Deserialize;

const PAGE: &str = "/services";

/// `GET /services`.
pub async fn page(State(state): State<AppState>, caller: PageCaller) -> Result<Markup, ApiError> {
    let access = caller.0.access.clone();
    let now = crate::clock::now_ms();
    let checks = blocking(&state.ctx, move |ctx| {
        let visible = crate::domain::access::visible(ctx, &access)?;
        Ok::<_, ApiError>(services::list(ctx, &visible, now)?)
    })
    .await?;
    Ok(render(&checks, &caller.0, now))
}

fn percent(ratio: Option<f64>) -> String {
    ratio.map_or("-".into(), |ratio| format!("{:.2} %", ratio * 100.0))
}

/// The page (pure).
pub fn render(checks: &[CheckView], caller: &Caller, now_ms: i64) -> Markup {
    let csrf = caller.is_admin().then(|| caller.csrf_token());
    let content = html! {
        h1 { "Services" }
        p.muted { "Checks run by agents, so each sees what its host sees. Uptime counts every run of every agent." }
        @if checks.is_empty() {
            p.muted #no-services { "No service checks defined." }
        } @else {
            div.table { table #services {
                thead { tr {
                    th { "Check" } th { "State" } th { "Agents" }
                    th { "24 h" } th { "7 d" } th { "30 d" } th { "Defined" }
                } }
                tbody {
                    @for check in checks {
                        tr data-check=(check.name) {
                            td { strong { (check.name) } div.sub { (check.kind) " " code { (check.target) } } div.sub { "every " (check.interval_secs) " s" } }
                            td { span class={ "badge state-" (check.state()) } { (check.state()) } }
                            td {
                                @for agent in &check.agents {
                                    div.agent {
                                        (agent.hostname) ": "
                                        @match &agent.result {
                                            None => span.muted { "no result yet" },
                                            Some(result) => {
                                                @if result.up { "up" } @else { "down" }
                                                @if let Some(latency) = result.latency_ms { ", " (latency) " ms" }
                                                @if let Some(days) = result.tls_days_left { ", certificate " (format!("{days:.1}")) " days left" }
                                                @if let Some(reason) = &result.reason { div.sub { (reason) } }
                                                div.sub { (ago(result.checked_at_ms, now_ms)) }
                                            }
                                        }
                                    }
                                }
                            }
                            @for (_, ratio) in &check.uptime { td { (percent(*ratio)) } }
                            td {
                                @match &check.origin {
                                    Origin::File => "configuration file",
                                    Origin::Stored { updated_by, .. } => {
                                        "by " (updated_by)
                                        @if let Some(csrf) = admin_csrf(caller).and(csrf) {
                                            form method="post" action={ (PAGE) "/" (url_segment(&check.name)) "/delete" } class="inline" data-confirm={ "Delete the service check " (check.name) "?" } {
                                                input type="hidden" name="csrf" value=(csrf);
                                                button type="submit" class="danger" { "Delete" }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            } }
        }
        @if let Some(csrf) = csrf {
            h2 { "Define a check" }
            form method="post" action=(PAGE) #define-service {
                input type="hidden" name="csrf" value=(csrf);
                label { "Name " input name="name" required; }
                label { "Kind " select name="kind" { option { "http" } option { "tcp" } option { "icmp" } option { "dns" } } }
                label { "URL (http) " input name="url"; }
                label { "Expected status (http) " input name="expected_status" placeholder="200-399"; }
                label { "Keyword (http) " input name="keyword"; }
                label { "Host (tcp, icmp) " input name="host"; }
                label { "Port (tcp) " input name="port"; }
                label { "Name to resolve (dns) " input name="query"; }
                label { "Expected address (dns) " input name="expected_address"; }
                label { "Interval " input name="interval" placeholder="60s"; }
                label { "Timeout " input name="timeout" placeholder="10s"; }
                label { "Agents (ids, comma-separated) " input name="agents"; }
                label { "Host groups (comma-separated) " input name="groups"; }
                button type="submit" { "Save" }
            }
        }
    };
    layout::page(Frame::new("Services", Nav::Services), caller, content)
}

/// The define form: text fields, empty meaning unset (the route's guard checks its `csrf`).
#[derive(Debug, Deserialize)]
pub struct DefineForm {
    pub name: String,
    pub kind: String,
    #[serde(default)]
    pub url: String,
    #[serde(default)]
    pub expected_status: String,
    #[serde(default)]
    pub keyword: String,
    #[serde(default)]
    pub host: String,
    #[serde(default)]
    pub port: String,
    #[serde(default)]
    pub query: String,
    #[serde(default)]
    pub expected_address: String,
    #[serde(default)]
    pub interval: String,
    #[serde(default)]
    pub timeout: String,
    #[serde(default)]
    pub agents: String,
    #[serde(default)]
    pub groups: String,
}

fn set(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

fn list(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The form as a definition (pure); a port that is not a number is an error.
pub fn raw_of(form: DefineForm) -> Result<RawServiceCheck, String> {
    let port = match set(&form.port) {
        Some(port) => Some(
            port.parse::<u16>()
                .map_err(|_| format!("port \"{port}\" is not a port number"))?,
        ),
        None => None,
    };
    Ok(RawServiceCheck {
        name: form.name.trim().to_owned(),
        kind: form.kind,
        url: set(&form.url),
        expected_status: set(&form.expected_status),
        keyword: set(&form.keyword),
        host: set(&form.host),
        port,
        query: set(&form.query),
        expected_address: set(&form.expected_address),
        interval: set(&form.interval),
        timeout: set(&form.timeout),
        agents: list(&form.agents),
        groups: list(&form.groups),
        ..RawServiceCheck::default()
    })
}

/// `POST /services`: define (or replace) a check.
pub async fn define(
    State(state): State<AppState>,
    caller: PageCaller,
    ApiForm(form): ApiForm<DefineForm>,
) -> Result<Response, ApiError> {
    let raw = raw_of(form)
        .map_err(|message| ApiError::from(crate::domain::error::DomainError::Invalid(message)))?;
    let actor = caller.0.actor();
    blocking(&state.ctx, move |ctx| services::set(ctx, &actor, raw)).await?;
    services::assign_all(&state.ctx);
    Ok(Redirect::to(PAGE).into_response())
}

/// `POST /services/{name}/delete`.
pub async fn delete(
    State(state): State<AppState>,
    caller: PageCaller,
    ApiPath(name): ApiPath<String>,
    ApiForm(_form): ApiForm<CsrfForm>,
) -> Result<Response, ApiError> {
    let actor = caller.0.actor();
    blocking(&state.ctx, move |ctx| services::delete(ctx, &actor, &name)).await?;
    services::assign_all(&state.ctx);
    Ok(Redirect::to(PAGE).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::services::AgentView;
    use crate::storage::auth::Role;
    use crate::web::layout::tests::caller;
    use unity_shared::model::service::ServiceCheckResult;
    use unity_shared::proto::AgentId;

    fn check(reason: &str) -> CheckView {
        CheckView {
            name: "web".into(),
            kind: "http",
            target: "http://nas/<b>".into(),
            interval_secs: 30,
            timeout_ms: 2000,
            tls_warning_days: 14,
            groups: vec![],
            origin: Origin::Stored {
                updated_by: "user <i>ada</i>".into(),
                at_ms: 0,
            },
            raw: None,
            agents: vec![AgentView {
                agent_id: AgentId::new("nas-1").unwrap(),
                hostname: "nas<script>".into(),
                result: Some(ServiceCheckResult {
                    name: "web".into(),
                    checked_at_ms: 0,
                    up: false,
                    latency_ms: None,
                    reason: Some(reason.into()),
                    tls_days_left: Some(2.5),
                }),
            }],
            uptime: vec![("24h", Some(0.995)), ("7d", None), ("30d", Some(1.0))],
        }
    }

    #[test]
    fn issue_18_the_page_escapes_what_agents_and_people_wrote() {
        let page = render(
            &[check("<script>alert(1)</script>")],
            &caller(Role::Admin),
            1000,
        )
        .into_string();
        assert!(!page.contains("<script>alert(1)"), "{page}");
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(page.contains("nas&lt;script&gt;") && !page.contains("<i>ada</i>"));
        assert!(page.contains("99.50 %") && page.contains("100.00 %"));
        assert!(page.contains("state-down") && page.contains("2.5"));
        assert!(page.contains("id=\"define-service\"") && page.contains("/services/web/delete"));
        let viewer = render(&[check("x")], &caller(Role::Viewer), 1000).into_string();
        assert!(!viewer.contains("define-service") && !viewer.contains("/delete"));
    }

    #[test]
    fn issue_18_the_form_becomes_a_definition() {
        let form = |port: &str| DefineForm {
            name: " ssh ".into(),
            kind: "tcp".into(),
            url: String::new(),
            expected_status: String::new(),
            keyword: String::new(),
            host: "nas".into(),
            port: port.into(),
            query: String::new(),
            expected_address: String::new(),
            interval: "30s".into(),
            timeout: String::new(),
            agents: "nas-1, pi-2,".into(),
            groups: String::new(),
        };
        let raw = raw_of(form("22")).unwrap();
        assert_eq!(raw.name, "ssh");
        assert_eq!(raw.port, Some(22));
        assert_eq!(raw.agents, vec!["nas-1".to_owned(), "pi-2".to_owned()]);
        assert_eq!((raw.url, raw.timeout), (None, None));
        assert!(raw_of(form("ssh"))
            .unwrap_err()
            .contains("not a port number"));
    }
}
