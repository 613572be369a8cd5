//! The agentless hosts page (`/agentless`, issue 16): hosts that run no agent, collected over
//! SSH by a proxy agent, with the proxy's newest word, the public key to authorize and the
//! host key to confirm by its SHA256 fingerprint; for admins a form to add one (the
//! controller generates its login key), confirm and remove buttons (CSRF checked by the route
//! guard). Container updates do not exist on agentless hosts, and the page says so.

use super::format::url_segment;
use super::layout::{self, Frame, Nav};
use super::{admin_csrf, CsrfForm, PageCaller};
use crate::domain::agentless::{self, AgentlessView, NewAgentless};
use crate::domain::error::DomainError;
use crate::domain::hosts::{self, parse_agent_id};
use crate::http::auth::Caller;
use crate::http::error::ApiError;
use crate::http::extract::{blocking, ApiForm, ApiPath};
use crate::http::state::AppState;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{html, Markup};
use serde::Deserialize;

const PAGE: &str = "/agentless";

/// The note every agentless view carries.
pub const NO_CONTAINER_UPDATES: &str =
    "No container updates on agentless hosts: nothing runs there but the commands the proxy sends over SSH.";

/// What the page shows.
#[derive(Debug, Clone)]
pub struct AgentlessPage {
    pub hosts: Vec<AgentlessView>,
    /// Agents that can be a proxy.
    pub proxies: Vec<String>,
}

fn state_class(state: Option<&str>) -> &'static str {
    match state {
        Some("collected") => "ok",
        Some("command_failed" | "host_key_to_confirm") => "warning",
        Some(_) => "critical",
        None => "muted",
    }
}

fn table(view: &AgentlessPage, csrf: Option<&str>) -> Markup {
    html! {
        @if view.hosts.is_empty() {
            p.muted { "No agentless hosts yet." }
        } @else {
            div.table { table #agentless-hosts {
                thead { tr {
                    th { "Host" } th { "Address" } th { "Proxy" } th { "State" } th { "Host key" }
                    th.wide { "Public key (authorized_keys)" } th {}
                } }
                tbody {
                    @for host in &view.hosts {
                        @let path = format!("{PAGE}/{}", url_segment(host.host.as_str()));
                        tr {
                            td { a href={ "/hosts/" (url_segment(host.host.as_str())) } { (host.host.as_str()) }
                                 div.sub { (host.collectors.join(", ")) } }
                            td { (host.user) "@" (host.address) ":" (host.port) }
                            td { "agentless via " (host.proxy.as_str()) }
                            td { span class={ "badge " (state_class(host.state.as_deref())) } { (host.state.as_deref().unwrap_or("not collected yet")) }
                                 @if let Some(message) = &host.message { div.sub { (message) } } }
                            td {
                                @if let Some(print) = &host.host_key_fingerprint { div { "pinned " code { (print) } } }
                                @if let Some(print) = &host.presented_fingerprint { div { "presented " code { (print) } } }
                            }
                            td.wide {
                                @match (&host.public_key, &host.key_secret) {
                                    (Some(public), _) => code { (public) },
                                    (None, Some(secret)) => { "secret " code { (secret) } },
                                    (None, None) => {},
                                }
                            }
                            td {
                                @if let Some(csrf) = csrf {
                                    @if let Some(print) = &host.presented_fingerprint {
                                        form method="post" action={ (path) "/confirm" } class="inline" {
                                            input type="hidden" name="csrf" value=(csrf);
                                            input type="hidden" name="fingerprint" value=(print);
                                            button type="submit" { "Confirm " (print) }
                                        }
                                    }
                                    form method="post" action={ (path) "/delete" } class="inline" data-confirm={ "Remove the agentless host " (host.host.as_str()) "? Its checks stop." } {
                                        input type="hidden" name="csrf" value=(csrf);
                                        button type="submit" class="danger" { "Remove" }
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

fn add_form(proxies: &[String], csrf: &str) -> Markup {
    html! {
        h2 { "Add an agentless host" }
        form method="post" action=(PAGE) class="card" id="add-agentless" {
            input type="hidden" name="csrf" value=(csrf);
            label { "Name " input name="name" required pattern="[a-z0-9-]{1,64}" placeholder="nas"; }
            label { "Address " input name="address" required placeholder="192.168.1.20"; }
            label { "Port " input name="port" value="22"; }
            label { "User " input name="user" required placeholder="monitor"; }
            label { "Proxy agent " select name="proxy" { @for proxy in proxies { option { (proxy) } } } }
            label { "Collect " input name="collect" value="system,smart,zfs,raid"; }
            label { "Interval " input name="interval" value="1m"; }
            button type="submit" { "Add and generate its key" }
        }
    }
}

/// The page (pure).
pub fn render(view: &AgentlessPage, caller: &Caller) -> Markup {
    let csrf = admin_csrf(caller).filter(|_| caller.is_admin());
    let content = html! {
        h1 { "Agentless hosts" }
        p.muted { "Hosts that run no agent (a NAS appliance, a router, a hypervisor), collected over SSH by a proxy agent. Put the public key in the host's authorized_keys, then confirm the host key the proxy saw by its fingerprint (check it on the host with ssh-keygen -lf)." }
        p.note { (NO_CONTAINER_UPDATES) }
        (table(view, csrf))
        @if let Some(csrf) = csrf { (add_form(&view.proxies, csrf)) }
    };
    layout::page(
        Frame::new("Agentless hosts", Nav::Agentless),
        caller,
        content,
    )
}

/// `GET /agentless`.
pub async fn page(State(state): State<AppState>, caller: PageCaller) -> Result<Markup, ApiError> {
    let view = blocking(&state.ctx, |ctx| {
        let hosts = agentless::list(ctx)?;
        let proxies = hosts::list(ctx)?
            .into_iter()
            .filter(|host| host.agentless.is_none())
            .map(|host| host.agent_id.to_string())
            .collect();
        Ok::<_, DomainError>(AgentlessPage { hosts, proxies })
    })
    .await?;
    Ok(render(&view, &caller.0))
}

/// The add form's fields.
#[derive(Debug, Deserialize)]
pub struct AddForm {
    pub name: String,
    pub address: String,
    pub port: String,
    pub user: String,
    pub proxy: String,
    pub collect: String,
    pub interval: String,
    /// Empty: Unity generates a key.
    #[serde(default)]
    pub key_secret: String,
}

/// `POST /agentless`.
pub async fn add(
    State(state): State<AppState>,
    caller: PageCaller,
    ApiForm(form): ApiForm<AddForm>,
) -> Result<Response, ApiError> {
    let actor = caller.0.actor();
    blocking(&state.ctx, move |ctx| {
        let invalid = |what: &str| DomainError::Invalid(what.to_owned());
        let port = form.port.trim().parse().map_err(|_| invalid("bad port"))?;
        let interval_secs = agentless::parse_interval(&form.interval)?;
        agentless::add(
            ctx,
            &actor,
            NewAgentless {
                name: form.name.trim().to_owned(),
                address: form.address,
                port,
                user: form.user.trim().to_owned(),
                proxy: form.proxy,
                collectors: agentless::parse_collectors(&form.collect)?,
                interval_secs,
                key_secret: Some(form.key_secret.trim().to_owned()).filter(|name| !name.is_empty()),
            },
        )
    })
    .await?;
    Ok(Redirect::to(PAGE).into_response())
}

/// The confirm button's fields.
#[derive(Debug, Deserialize)]
pub struct ConfirmForm {
    pub fingerprint: String,
}

/// `POST /agentless/{name}/confirm`.
pub async fn confirm(
    State(state): State<AppState>,
    caller: PageCaller,
    ApiPath(name): ApiPath<String>,
    ApiForm(form): ApiForm<ConfirmForm>,
) -> Result<Response, ApiError> {
    let actor = caller.0.actor();
    blocking(&state.ctx, move |ctx| {
        let host = parse_agent_id(&name)?;
        agentless::confirm(ctx, &actor, &host, Some(&form.fingerprint))
    })
    .await?;
    Ok(Redirect::to(PAGE).into_response())
}

/// `POST /agentless/{name}/delete`.
pub async fn delete(
    State(state): State<AppState>,
    caller: PageCaller,
    ApiPath(name): ApiPath<String>,
    ApiForm(_form): ApiForm<CsrfForm>,
) -> Result<Response, ApiError> {
    let actor = caller.0.actor();
    blocking(&state.ctx, move |ctx| {
        agentless::remove(ctx, &actor, &parse_agent_id(&name)?)
    })
    .await?;
    Ok(Redirect::to(PAGE).into_response())
}
