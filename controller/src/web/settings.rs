//! The settings page: users with their role, groups and second factor (admins add and delete
//! users) and API tokens (shown once when created); links to the access page (groups, host
//! groups, labels, rights) and to one's own sign-in settings.

use super::badge::{badge, Tone};
use super::format::{datetime, url_segment};
use super::layout::{self, Frame, Nav};
use super::{admin_csrf, CsrfForm, PageCaller};
use crate::domain::api_tokens::{self, ApiTokenView, NewApiToken};
use crate::domain::users::{self, UserView};
use crate::http::auth::Caller;
use crate::http::error::ApiError;
use crate::http::extract::{blocking, ApiForm, ApiPath};
use crate::http::state::AppState;
use crate::storage::auth::{Role, TokenScope};
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{html, Markup};
use serde::Deserialize;

/// What a change just did, shown once at the top.
#[derive(Debug, Clone)]
pub enum Notice {
    /// A user was added (with the role's group); `password` when it was generated.
    UserAdded {
        name: String,
        role: Role,
        password: Option<String>,
    },
    /// An API token was created (its only showing), with its scope and expiry.
    ApiToken {
        token: String,
        scope: TokenScope,
        expires_at_ms: Option<i64>,
    },
}

/// What the settings page shows.
#[derive(Debug)]
pub struct SettingsView {
    pub users: Vec<UserView>,
    pub tokens: Vec<ApiTokenView>,
    pub notice: Option<Notice>,
}

async fn view(
    state: &AppState,
    caller: &PageCaller,
    notice: Option<Notice>,
) -> Result<SettingsView, ApiError> {
    let caller = caller.0.clone();
    blocking(&state.ctx, move |ctx| {
        Ok::<_, ApiError>(SettingsView {
            users: users::list(ctx)?,
            tokens: api_tokens::visible_to(ctx, &caller.user, caller.is_admin())?,
            notice,
        })
    })
    .await
}

fn notice(notice: &Notice) -> Markup {
    html! {
        section.card.notice #notice {
            @match notice {
                Notice::UserAdded { name, role, password: Some(password) } => {
                    "Added " (name) " (" (role.as_str()) "). Password, shown once: "
                    code #new-password { (password) }
                }
                Notice::UserAdded { name, role, password: None } => {
                    "Added " (name) " (" (role.as_str()) ")."
                }
                Notice::ApiToken { token, scope, expires_at_ms } => {
                    "New " (scope.as_str()) " API token, "
                    @match expires_at_ms {
                        Some(at) => { "valid until " (datetime(*at)) }
                        None => { "never expires" }
                    }
                    ", shown once: " code #new-api-token { (token) }
                }
            }
        }
    }
}

/// The settings page (pure).
pub fn render(view: &SettingsView, caller: &Caller) -> Markup {
    let csrf = admin_csrf(caller);
    let content = html! {
        h1 { "Settings" }
        p { a href="/settings/access" { "Access: groups, host groups, labels and rights" } " · " a href="/settings/security" { "Your sign-in and second factor" } " · " a href="/settings/notifications" { "Notifications: alert receivers, send test" } }
        @if let Some(shown) = &view.notice { (notice(shown)) }
        h2 { "Users" }
        div.table { table #users {
            thead { tr { th { "User" } th { "Role" } th { "Groups" } th { "Second factor" } th { "Created" } th {} } }
            tbody {
                @for user in &view.users {
                    tr {
                        td { (user.name) }
                        td { (user.role) }
                        td { (user.groups.join(", ")) }
                        td { (if user.second_factor { "yes" } else { "no" }) }
                        td { (datetime(user.created_at_ms)) }
                        td {
                            @if let (Some(csrf), false) = (csrf, user.name == caller.user) {
                                form method="post" action={ "/settings/users/" (url_segment(&user.name)) "/delete" } data-confirm={ "Delete the user " (user.name) "? They are signed out and cannot log in again." } {
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
            form method="post" action="/settings/users" class="card" id="add-user" {
                h3 { "Add a user" }
                input type="hidden" name="csrf" value=(csrf);
                label { "Name " input name="name" required; }
                label { "Role " select name="role" { option { "viewer" } option { "admin" } } }
                label { "Password " input name="password" type="password" placeholder="empty: generate one"; }
                button type="submit" { "Add user" }
            }
        }
        h2 { "API tokens" }
        p.sub { "Send as " code { "Authorization: Bearer <token>" } "." }
        @if !view.tokens.is_empty() {
            div.table { table #api-tokens {
                thead { tr {
                    th { "Id" } th { "Name" } th { "User" } th { "Scope" } th { "Created" }
                    th { "Expires" } th { "Last used" } th {}
                } }
                tbody {
                    @for token in &view.tokens {
                        tr class=[token.expired.then_some("expired")] {
                            td { (token.token_id) }
                            td { (token.name) }
                            td { (token.owner) }
                            td { (token.scope.as_str()) }
                            td { (datetime(token.created_at_ms)) }
                            td {
                                @match (token.expires_at_ms, token.expired) {
                                    (Some(at), true) => { (badge(Tone::Critical, "expired")) " " (datetime(at)) }
                                    (Some(at), false) => { (datetime(at)) }
                                    (None, _) => { "never" }
                                }
                            }
                            td { (token.last_used_ms.map_or_else(|| "never".to_owned(), datetime)) }
                            td {
                                @if let Some(csrf) = csrf {
                                    form method="post" action={ "/settings/api-tokens/" (url_segment(&token.token_id)) "/revoke" } data-confirm={ "Revoke the API token " (token.name) "? Scripts using it stop working." } {
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
        @if let Some(csrf) = csrf {
            form method="post" action="/settings/api-tokens" class="card inline" id="create-api-token" {
                input type="hidden" name="csrf" value=(csrf);
                label { "Name " input name="name" required placeholder="grafana"; }
                label { "Scope " select name="scope" {
                    option value="read" selected { "read (view)" }
                    option value="operate" { "operate" }
                    option value="admin" { "admin (all of your rights)" }
                } }
                label { "Expires " select name="expires" {
                    option value="never" selected { "never" }
                    option value="30d" { "in 30 days" }
                    option value="90d" { "in 90 days" }
                    option value="365d" { "in a year" }
                } }
                button type="submit" { "Create API token" }
            }
        }
    };
    layout::page(Frame::new("Settings", Nav::Settings), caller, content)
}

/// `GET /settings`.
pub async fn page(State(state): State<AppState>, caller: PageCaller) -> Result<Markup, ApiError> {
    Ok(render(&view(&state, &caller, None).await?, &caller.0))
}

#[derive(Debug, Deserialize)]
pub struct UserForm {
    pub name: String,
    pub role: String,
    pub password: String,
}

/// `POST /settings/users`.
pub async fn create_user(
    State(state): State<AppState>,
    caller: PageCaller,
    ApiForm(form): ApiForm<UserForm>,
) -> Result<Markup, ApiError> {
    let role = users::parse_role(&form.role)?;
    let generated = form.password.is_empty().then(users::random_password);
    let password = generated.clone().unwrap_or(form.password);
    let (actor, name) = (caller.0.actor(), form.name.clone());
    blocking(&state.ctx, move |ctx| {
        users::create(ctx, &actor, &name, &users::role_groups(role), &password)
    })
    .await?;
    let notice = Notice::UserAdded {
        name: form.name,
        role,
        password: generated,
    };
    Ok(render(
        &view(&state, &caller, Some(notice)).await?,
        &caller.0,
    ))
}

/// `POST /settings/users/{name}/delete`.
pub async fn delete_user(
    State(state): State<AppState>,
    caller: PageCaller,
    ApiPath(name): ApiPath<String>,
    ApiForm(_form): ApiForm<CsrfForm>,
) -> Result<Response, ApiError> {
    let actor = caller.0.actor();
    blocking(&state.ctx, move |ctx| users::delete(ctx, &actor, &name)).await?;
    Ok(Redirect::to("/settings").into_response())
}

#[derive(Debug, Deserialize)]
pub struct ApiTokenForm {
    pub name: String,
    /// `read` (the default) or `admin`.
    #[serde(default)]
    pub scope: Option<String>,
    /// `never` (the default) or a duration such as `30d`.
    #[serde(default)]
    pub expires: Option<String>,
}

/// `POST /settings/api-tokens`: creates a token for the caller and shows it once.
pub async fn create_api_token(
    State(state): State<AppState>,
    caller: PageCaller,
    ApiForm(form): ApiForm<ApiTokenForm>,
) -> Result<Markup, ApiError> {
    let scope = api_tokens::parse_scope(form.scope.as_deref().unwrap_or("read"))?;
    let expires_in = api_tokens::parse_lifetime(form.expires.as_deref().unwrap_or("never"))?;
    let actor = caller.0.actor();
    let (token, record) = blocking(&state.ctx, move |ctx| {
        let new = NewApiToken {
            owner: actor.user_name(),
            name: &form.name,
            scope,
            expires_in,
            host_group: None,
        };
        api_tokens::create(ctx, &actor, &new)
    })
    .await?;
    let notice = Notice::ApiToken {
        token,
        scope: record.scope,
        expires_at_ms: record.expires_at_ms,
    };
    Ok(render(
        &view(&state, &caller, Some(notice)).await?,
        &caller.0,
    ))
}

/// `POST /settings/api-tokens/{token_id}/revoke`.
pub async fn revoke_api_token(
    State(state): State<AppState>,
    caller: PageCaller,
    ApiPath(token_id): ApiPath<String>,
    ApiForm(_form): ApiForm<CsrfForm>,
) -> Result<Response, ApiError> {
    let actor = caller.0.actor();
    blocking(&state.ctx, move |ctx| {
        api_tokens::revoke(ctx, &actor, &token_id)
    })
    .await?;
    Ok(Redirect::to("/settings").into_response())
}
