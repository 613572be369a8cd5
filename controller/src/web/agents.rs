//! The agents page: enrolled agents with certificate expiry, version and install kind, update
//! and revoke buttons, and join-token creation that shows the command to run on the new host.

use super::badge;
use super::format::{datetime, url_segment};
use super::layout::{self, Frame, Nav};
use super::{admin_csrf, CsrfForm, PageCaller};
use crate::domain::access::Right;
use crate::domain::agents;
use crate::domain::hosts::{self, parse_agent_id, Host, HostStatus};
use crate::domain::tokens::{self, JoinToken, JoinTokenSummary};
use crate::http::auth::Caller;
use crate::http::error::ApiError;
use crate::http::extract::{blocking, ApiForm, ApiPath};
use crate::http::state::AppState;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{html, Markup};
use serde::Deserialize;
use unity_shared::proto::{AgentId, InstallKind};

const TTLS: &[&str] = &["15m", "1h", "24h", "7d"];

/// What the agents page shows.
#[derive(Debug, Clone)]
pub struct AgentsView {
    pub hosts: Vec<Host>,
    /// The hosts the caller may revoke.
    pub administered: Vec<AgentId>,
    pub tokens: Vec<JoinTokenSummary>,
    /// A token just created: its join command is shown once.
    pub new_token: Option<JoinToken>,
}

async fn view(
    state: &AppState,
    caller: &Caller,
    new_token: Option<JoinToken>,
) -> Result<AgentsView, ApiError> {
    let access = caller.access.clone();
    blocking(&state.ctx, move |ctx| {
        let visible = crate::domain::access::visible(ctx, &access)?;
        let mut hosts = hosts::list(ctx)?;
        hosts.retain(|host| visible.sees(&host.agent_id));
        let administered = hosts
            .iter()
            .filter(|host| visible.can(&host.agent_id, Right::Administer))
            .map(|host| host.agent_id.clone())
            .collect();
        Ok::<_, ApiError>(AgentsView {
            hosts,
            administered,
            tokens: if access.on_all_hosts().is_some() {
                tokens::newest_first(ctx)?
            } else {
                Vec::new()
            },
            new_token,
        })
    })
    .await
}

fn enrolled(hosts: &[Host], administered: &[AgentId], csrf: &str) -> Markup {
    html! {
        h2 { "Enrolled" }
        @if hosts.is_empty() {
            p.muted { "No agents enrolled yet." }
        } @else {
            div.table { table #agents {
                thead { tr { th { "Host" } th { "Status" } th.wide { "Version" } th { "Certificate until" } th {} } }
                tbody {
                    @for host in hosts {
                        tr {
                            td {
                                a href={ "/hosts/" (url_segment(host.agent_id.as_str())) } { (host.hostname) }
                                div.sub { (host.agent_id) }
                            }
                            td { (badge::host_status(host.status)) }
                            td.wide {
                                (host.agent_version)
                                @if host.install != InstallKind::Unknown {
                                    div.sub { "installed as " (host.install.as_str()) }
                                }
                            }
                            td { (datetime(host.certificate_not_after * 1000)) }
                            td {
                                @if administered.contains(&host.agent_id) && host.status != HostStatus::Revoked {
                                    @if host.agentless.is_none() {
                                        (super::agent_updates::button(&host.agent_id, &host.hostname, &host.agent_version, csrf))
                                    }
                                    form method="post" action={ "/agents/" (url_segment(host.agent_id.as_str())) "/revoke" } class="revoke" data-confirm={ "Revoke agent " (host.agent_id.as_str()) "? It can no longer report or take commands; bringing it back needs a new enrollment." } {
                                        input type="hidden" name="csrf" value=(csrf);
                                        button type="submit" class="danger" { "Revoke" }
                                    }
                                }
                            }
                        }
                    }
                }
            } }
        }
    }
}

/// The agents page (pure).
pub fn render(view: &AgentsView, caller: &Caller) -> Markup {
    let csrf = admin_csrf(caller);
    let content = html! {
        h1 { "Agents" }
        p.sub { a href="/agents/rollout" #update-agents { "Update agents" } " — roll a version out to every host, canary first." }
        @if let Some(token) = &view.new_token {
            section.card.notice {
                h2 { "Join token " (token.token_id) }
                p { "Single use, valid until " (datetime(token.expires_at * 1000)) ". Run this on the new host as root:" }
                pre #join-command { (token.join_command) }
            }
        }
        @if let Some(csrf) = csrf {
            form method="post" action="/agents/tokens" class="card inline" id="create-token" {
                input type="hidden" name="csrf" value=(csrf);
                label {
                    "Valid for "
                    select name="ttl" {
                        @for ttl in TTLS { option selected[*ttl == "1h"] { (ttl) } }
                    }
                }
                button type="submit" id="create-token-button" { "Create join token" }
            }
        }
        (enrolled(&view.hosts, &view.administered, caller.csrf_token()))
        h2 { "Join tokens" }
        @if view.tokens.is_empty() {
            p.muted { "None yet." }
        } @else {
            div.table { table #tokens {
                thead { tr { th { "Token" } th { "Created" } th { "Expires" } th { "Used by" } } }
                tbody {
                    @for token in &view.tokens {
                        tr {
                            td { (token.token_id) }
                            td { (datetime(token.created_at * 1000)) }
                            td { (datetime(token.expires_at * 1000)) }
                            td { (token.used_by.as_ref().map_or("-", |agent_id| agent_id.as_str())) }
                        }
                    }
                }
            } }
        }
    };
    layout::page(Frame::new("Agents", Nav::Agents), caller, content)
}

/// `GET /agents`.
pub async fn page(State(state): State<AppState>, caller: PageCaller) -> Result<Markup, ApiError> {
    Ok(render(&view(&state, &caller.0, None).await?, &caller.0))
}

#[derive(Debug, Deserialize)]
pub struct TokenForm {
    pub ttl: String,
}

/// `POST /agents/tokens`: creates a token and shows its join command once.
pub async fn create_token(
    State(state): State<AppState>,
    caller: PageCaller,
    ApiForm(form): ApiForm<TokenForm>,
) -> Result<Markup, ApiError> {
    let ttl = tokens::parse_ttl(&form.ttl)?;
    let actor = caller.0.actor();
    let token = blocking(&state.ctx, move |ctx| tokens::create(ctx, &actor, ttl)).await?;
    Ok(render(
        &view(&state, &caller.0, Some(token)).await?,
        &caller.0,
    ))
}

/// `POST /agents/{agent_id}/revoke`.
pub async fn revoke(
    State(state): State<AppState>,
    caller: PageCaller,
    ApiPath(agent_id): ApiPath<String>,
    ApiForm(_form): ApiForm<CsrfForm>,
) -> Result<Response, ApiError> {
    let actor = caller.0.actor();
    blocking(&state.ctx, move |ctx| {
        let agent_id = parse_agent_id(&agent_id)?;
        agents::revoke_audited(ctx, &actor, &agent_id)
    })
    .await?;
    Ok(Redirect::to("/agents").into_response())
}
