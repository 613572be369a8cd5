//! Who may do what, in the dashboard (`/settings/access`): the rights matrix (user groups ×
//! host groups, each cell a right), user groups with their members, host groups with their
//! selectors and current hosts, each host's labels, and forms to change them (administer on
//! every host; a host's labels: administer on that host).

use super::layout::{self, Frame, Nav};
use super::{CsrfForm, PageCaller};
use crate::domain::access::Right;
use crate::domain::groups::{self, GroupView, HostGroupView};
use crate::domain::hosts::{self, parse_agent_id, Host};
use crate::domain::users::{self, UserView};
use crate::http::auth::Caller;
use crate::http::error::ApiError;
use crate::http::extract::{blocking, ApiForm, ApiPath};
use crate::http::state::AppState;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{html, Markup};
use serde::Deserialize;
use unity_shared::proto::AgentId;

/// What the page shows.
#[derive(Debug, Clone)]
pub struct AccessView {
    pub groups: Vec<GroupView>,
    pub host_groups: Vec<HostGroupView>,
    pub users: Vec<UserView>,
    pub hosts: Vec<(Host, Vec<(String, String)>)>,
}

fn right_of(group: &GroupView, host_group: &str) -> Option<Right> {
    group
        .rights
        .iter()
        .find(|(name, _)| name == host_group)
        .map(|(_, right)| *right)
}

fn matrix(view: &AccessView, csrf: Option<&str>) -> Markup {
    html! {
        h2 { "Rights" }
        p.sub { "What each user group may do on each host group: view, operate (restart, update, collect now), administer (revoke, policies, labels)." }
        div.table { table #rights {
            thead { tr {
                th { "User group" }
                @for host_group in &view.host_groups { th { (host_group.name) } }
            } }
            tbody {
                @for group in &view.groups {
                    tr {
                        td { (group.name) div.sub { (group.members.join(", ")) } }
                        @for host_group in &view.host_groups {
                            @let held = right_of(group, &host_group.name);
                            td data-group=(group.name) data-host-group=(host_group.name) {
                                @if let Some(csrf) = csrf {
                                    form method="post" action={ "/settings/groups/" (super::format::url_segment(&group.name)) "/rights" } class="inline" {
                                        input type="hidden" name="csrf" value=(csrf);
                                        input type="hidden" name="host_group" value=(host_group.name);
                                        select name="right" aria-label={ "Right of " (group.name) " on " (host_group.name) } {
                                            option value="none" selected[held.is_none()] { "–" }
                                            @for right in Right::ALL {
                                                option value=(right.as_str()) selected[held == Some(*right)] { (right.as_str()) }
                                            }
                                        }
                                        button type="submit" { "Set" }
                                    }
                                } @else {
                                    (held.map_or("–", Right::as_str))
                                }
                            }
                        }
                    }
                }
            }
        } }
    }
}

/// The page (pure).
pub fn render(view: &AccessView, caller: &Caller) -> Markup {
    let csrf = caller.is_admin().then(|| caller.csrf_token());
    let content = html! {
        h1 { "Access" }
        (matrix(view, csrf))
        @if let Some(csrf) = csrf {
            form method="post" action="/settings/groups" class="card inline" id="create-group" {
                input type="hidden" name="csrf" value=(csrf);
                label { "New user group " input name="name" required; }
                label { "Description " input name="description"; }
                button type="submit" { "Add group" }
            }
        }
        h2 { "Members" }
        div.table { table #members {
            thead { tr { th { "User" } th { "Groups" } } }
            tbody {
                @for user in &view.users {
                    tr {
                        td { (user.name) }
                        td {
                            @if let Some(csrf) = csrf {
                                form method="post" action={ "/settings/users/" (super::format::url_segment(&user.name)) "/groups" } class="inline" {
                                    input type="hidden" name="csrf" value=(csrf);
                                    input name="groups" value=(user.groups.join(", ")) aria-label={ "Groups of " (user.name) };
                                    button type="submit" { "Set" }
                                }
                            } @else {
                                (user.groups.join(", "))
                            }
                        }
                    }
                }
            }
        } }
        h2 { "Host groups" }
        div.table { table #host-groups {
            thead { tr { th { "Host group" } th { "Labels" } th { "Listed hosts" } th { "Hosts now" } th {} } }
            tbody {
                @for group in &view.host_groups {
                    tr {
                        td { (group.name) }
                        td { (group.labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(", ")) }
                        td { (group.hosts.iter().map(AgentId::as_str).collect::<Vec<_>>().join(", ")) }
                        td { (group.members.iter().map(AgentId::as_str).collect::<Vec<_>>().join(", ")) }
                        td {
                            @if let (Some(csrf), false) = (csrf, group.name == "all") {
                                form method="post" action={ "/settings/host-groups/" (super::format::url_segment(&group.name)) "/delete" } data-confirm={ "Delete the host group " (group.name) "? Rights given through it end." } {
                                    input type="hidden" name="csrf" value=(csrf);
                                    button type="submit" class="danger" { "Delete" }
                                }
                            }
                        }
                    }
                }
            }
        } }
        @if let Some(csrf) = csrf {
            form method="post" action="/settings/host-groups" class="card inline" id="put-host-group" {
                input type="hidden" name="csrf" value=(csrf);
                label { "Host group " input name="name" required; }
                label { "Labels " input name="labels" placeholder="role=media, site=home"; }
                label { "Hosts " input name="hosts" placeholder="agent ids"; }
                button type="submit" { "Save host group" }
            }
        }
        h2 { "Host labels" }
        div.table { table #host-labels {
            thead { tr { th { "Host" } th { "Labels" } } }
            tbody {
                @for (host, labels) in &view.hosts {
                    tr {
                        td { (host.hostname) div.sub { (host.agent_id) } }
                        td {
                            @let text = labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(", ");
                            @if let Some(csrf) = csrf {
                                form method="post" action={ "/hosts/" (super::format::url_segment(host.agent_id.as_str())) "/labels" } class="inline" {
                                    input type="hidden" name="csrf" value=(csrf);
                                    input name="labels" value=(text) aria-label={ "Labels of " (host.hostname) };
                                    button type="submit" { "Set" }
                                }
                            } @else {
                                (text)
                            }
                        }
                    }
                }
            }
        } }
    };
    layout::page(Frame::new("Access", Nav::Settings), caller, content)
}

/// `GET /settings/access`.
pub async fn page(State(state): State<AppState>, caller: PageCaller) -> Result<Markup, ApiError> {
    let view = blocking(&state.ctx, |ctx| {
        let hosts = hosts::list(ctx)?
            .into_iter()
            .map(|host| {
                let labels = ctx.store.access.labels(&host.agent_id)?;
                Ok::<_, ApiError>((host, labels))
            })
            .collect::<Result<_, _>>()?;
        Ok::<_, ApiError>(AccessView {
            groups: groups::list(ctx)?,
            host_groups: groups::host_groups(ctx)?,
            users: users::list(ctx)?,
            hosts,
        })
    })
    .await?;
    Ok(render(&view, &caller.0))
}

/// A comma-separated form field as its items.
fn items(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(str::to_owned)
        .collect()
}

#[derive(Debug, Deserialize)]
pub struct GroupForm {
    pub name: String,
    #[serde(default)]
    pub description: String,
}

/// `POST /settings/groups`.
pub async fn create_group(
    State(state): State<AppState>,
    caller: PageCaller,
    ApiForm(form): ApiForm<GroupForm>,
) -> Result<Response, ApiError> {
    let actor = caller.0.actor();
    blocking(&state.ctx, move |ctx| {
        groups::create(ctx, &actor, &form.name, &form.description)
    })
    .await?;
    Ok(Redirect::to("/settings/access").into_response())
}

/// `POST /settings/groups/{name}/delete`.
pub async fn delete_group(
    State(state): State<AppState>,
    caller: PageCaller,
    ApiPath(name): ApiPath<String>,
    ApiForm(_form): ApiForm<CsrfForm>,
) -> Result<Response, ApiError> {
    let actor = caller.0.actor();
    blocking(&state.ctx, move |ctx| groups::delete(ctx, &actor, &name)).await?;
    Ok(Redirect::to("/settings/access").into_response())
}

#[derive(Debug, Deserialize)]
pub struct RightForm {
    pub host_group: String,
    pub right: String,
}

/// `POST /settings/groups/{name}/rights`.
pub async fn set_right(
    State(state): State<AppState>,
    caller: PageCaller,
    ApiPath(name): ApiPath<String>,
    ApiForm(form): ApiForm<RightForm>,
) -> Result<Response, ApiError> {
    let right = groups::parse_right(&form.right)?;
    let actor = caller.0.actor();
    blocking(&state.ctx, move |ctx| {
        groups::set_right(ctx, &actor, &name, &form.host_group, right)
    })
    .await?;
    Ok(Redirect::to("/settings/access").into_response())
}

#[derive(Debug, Deserialize)]
pub struct HostGroupForm {
    pub name: String,
    #[serde(default)]
    pub labels: String,
    #[serde(default)]
    pub hosts: String,
}

/// `POST /settings/host-groups`: adds or replaces one.
pub async fn put_host_group(
    State(state): State<AppState>,
    caller: PageCaller,
    ApiForm(form): ApiForm<HostGroupForm>,
) -> Result<Response, ApiError> {
    let labels = groups::parse_labels(&items(&form.labels))?;
    let hosts = items(&form.hosts)
        .iter()
        .map(|host| parse_agent_id(host))
        .collect::<Result<Vec<_>, _>>()?;
    let actor = caller.0.actor();
    blocking(&state.ctx, move |ctx| {
        groups::put_host_group(ctx, &actor, &form.name, labels, hosts)
    })
    .await?;
    Ok(Redirect::to("/settings/access").into_response())
}

/// `POST /settings/host-groups/{name}/delete`.
pub async fn delete_host_group(
    State(state): State<AppState>,
    caller: PageCaller,
    ApiPath(name): ApiPath<String>,
    ApiForm(_form): ApiForm<CsrfForm>,
) -> Result<Response, ApiError> {
    let actor = caller.0.actor();
    blocking(&state.ctx, move |ctx| {
        groups::delete_host_group(ctx, &actor, &name)
    })
    .await?;
    Ok(Redirect::to("/settings/access").into_response())
}

#[derive(Debug, Deserialize)]
pub struct ItemsForm {
    #[serde(default)]
    pub labels: String,
    #[serde(default)]
    pub groups: String,
}

/// `POST /hosts/{agent_id}/labels`.
pub async fn set_labels(
    State(state): State<AppState>,
    caller: PageCaller,
    ApiPath(agent_id): ApiPath<String>,
    ApiForm(form): ApiForm<ItemsForm>,
) -> Result<Response, ApiError> {
    let agent_id = parse_agent_id(&agent_id)?;
    let labels = groups::parse_labels(&items(&form.labels))?;
    let actor = caller.0.actor();
    blocking(&state.ctx, move |ctx| {
        groups::set_labels(ctx, &actor, &agent_id, &labels)
    })
    .await?;
    Ok(Redirect::to("/settings/access").into_response())
}

/// `POST /settings/users/{name}/groups`.
pub async fn set_user_groups(
    State(state): State<AppState>,
    caller: PageCaller,
    ApiPath(name): ApiPath<String>,
    ApiForm(form): ApiForm<ItemsForm>,
) -> Result<Response, ApiError> {
    let actor = caller.0.actor();
    blocking(&state.ctx, move |ctx| {
        users::set_groups(ctx, &actor, &name, &items(&form.groups))
    })
    .await?;
    Ok(Redirect::to("/settings/access").into_response())
}
