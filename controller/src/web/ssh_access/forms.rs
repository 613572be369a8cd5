//! The SSH access page's forms: add a person, a key, a grant; remove a grant; restore or adopt
//! a hand edit, clear adopted lines, remove a person or a key (each of those needs its ticked
//! confirmation). Each calls the domain as the signed-in user (audited there) and goes back to
//! the page.

use super::super::{CsrfForm, PageCaller};
use super::PAGE;
use crate::domain::error::DomainError;
use crate::domain::hosts::parse_agent_id;
use crate::domain::ssh_access::{self as ssh, drift, NewGrant};
use crate::http::error::ApiError;
use crate::http::extract::{blocking, ApiForm, ApiPath};
use crate::http::state::AppState;
use crate::storage::ssh_access::GrantOptions;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use unity_shared::model::ssh::UnixUser;

fn back() -> Response {
    Redirect::to(PAGE).into_response()
}

fn list(text: &str) -> Vec<String> {
    text.split([',', ' ', '\n'])
        .filter(|word| !word.is_empty())
        .map(str::to_owned)
        .collect()
}

fn optional(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

#[derive(Debug, Deserialize)]
pub struct PersonForm {
    pub name: String,
}

/// `POST /ssh/people`.
pub async fn add_person(
    State(state): State<AppState>,
    caller: PageCaller,
    ApiForm(form): ApiForm<PersonForm>,
) -> Result<Response, ApiError> {
    let actor = caller.0.actor();
    blocking(&state.ctx, move |ctx| {
        ssh::add_person(ctx, &actor, form.name.trim())
    })
    .await?;
    Ok(back())
}

#[derive(Debug, Deserialize)]
pub struct KeyForm {
    pub person: String,
    pub public_key: String,
}

/// `POST /ssh/keys`.
pub async fn add_key(
    State(state): State<AppState>,
    caller: PageCaller,
    ApiForm(form): ApiForm<KeyForm>,
) -> Result<Response, ApiError> {
    let actor = caller.0.actor();
    blocking(&state.ctx, move |ctx| {
        ssh::add_key(ctx, &actor, &form.person, &form.public_key)
    })
    .await?;
    Ok(back())
}

#[derive(Debug, Deserialize)]
pub struct GrantForm {
    pub person: String,
    pub users: String,
    #[serde(default)]
    pub host: String,
    #[serde(default)]
    pub group: String,
    #[serde(default)]
    pub expires_in: String,
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub command: String,
    pub no_port_forwarding: Option<String>,
    pub no_agent_forwarding: Option<String>,
    pub no_pty: Option<String>,
}

/// `POST /ssh/grants`.
pub async fn add_grant(
    State(state): State<AppState>,
    caller: PageCaller,
    ApiForm(form): ApiForm<GrantForm>,
) -> Result<Response, ApiError> {
    let actor = caller.0.actor();
    let new = NewGrant {
        person: form.person,
        key: None,
        users: list(&form.users),
        host: optional(&form.host),
        group: optional(&form.group),
        expires_in: optional(&form.expires_in),
        options: GrantOptions {
            from: list(&form.from),
            command: optional(&form.command),
            no_port_forwarding: form.no_port_forwarding.is_some(),
            no_agent_forwarding: form.no_agent_forwarding.is_some(),
            no_pty: form.no_pty.is_some(),
        },
    };
    blocking(&state.ctx, move |ctx| ssh::add_grant(ctx, &actor, new)).await?;
    Ok(back())
}

/// `POST /ssh/grants/{id}/delete`.
pub async fn remove_grant(
    State(state): State<AppState>,
    caller: PageCaller,
    ApiPath(id): ApiPath<u64>,
    ApiForm(_form): ApiForm<CsrfForm>,
) -> Result<Response, ApiError> {
    let actor = caller.0.actor();
    blocking(&state.ctx, move |ctx| ssh::remove_grant(ctx, &actor, id)).await?;
    Ok(back())
}

#[derive(Debug, Deserialize)]
pub struct ConfirmForm {
    pub csrf: String,
    /// The ticked confirmation; the button does nothing without it.
    pub confirm: Option<String>,
}

fn confirmed(form: &ConfirmForm) -> Result<(), ApiError> {
    let _ = &form.csrf;
    match form.confirm {
        Some(_) => Ok(()),
        None => Err(DomainError::Invalid("tick the confirmation first".into()).into()),
    }
}

/// `POST /ssh/hosts/{agent_id}/restore`.
pub async fn restore(
    State(state): State<AppState>,
    caller: PageCaller,
    ApiPath(agent_id): ApiPath<String>,
    ApiForm(form): ApiForm<ConfirmForm>,
) -> Result<Response, ApiError> {
    confirmed(&form)?;
    let agent_id = parse_agent_id(&agent_id)?;
    drift::restore(&state.ctx, &caller.0.actor(), &agent_id).await?;
    Ok(back())
}

/// `POST /ssh/hosts/{agent_id}/adopt/{user}`.
pub async fn adopt(
    State(state): State<AppState>,
    caller: PageCaller,
    ApiPath((agent_id, user)): ApiPath<(String, String)>,
    ApiForm(form): ApiForm<ConfirmForm>,
) -> Result<Response, ApiError> {
    confirmed(&form)?;
    let agent_id = parse_agent_id(&agent_id)?;
    let user = UnixUser::new(user).map_err(|error| DomainError::Invalid(error.to_string()))?;
    drift::adopt(&state.ctx, &caller.0.actor(), &agent_id, &user).await?;
    Ok(back())
}

/// `POST /ssh/hosts/{agent_id}/clear-adopted/{user}`.
pub async fn clear_adopted(
    State(state): State<AppState>,
    caller: PageCaller,
    ApiPath((agent_id, user)): ApiPath<(String, String)>,
    ApiForm(form): ApiForm<ConfirmForm>,
) -> Result<Response, ApiError> {
    confirmed(&form)?;
    let agent_id = parse_agent_id(&agent_id)?;
    let user = UnixUser::new(user).map_err(|error| DomainError::Invalid(error.to_string()))?;
    drift::clear(&state.ctx, &caller.0.actor(), &agent_id, &user).await?;
    Ok(back())
}

/// `POST /ssh/people/{name}/delete`: the person, their keys and every grant of theirs.
pub async fn remove_person(
    State(state): State<AppState>,
    caller: PageCaller,
    ApiPath(name): ApiPath<String>,
    ApiForm(form): ApiForm<ConfirmForm>,
) -> Result<Response, ApiError> {
    confirmed(&form)?;
    let actor = caller.0.actor();
    blocking(&state.ctx, move |ctx| {
        ssh::remove_person(ctx, &actor, &name)
    })
    .await?;
    Ok(back())
}

#[derive(Debug, Deserialize)]
pub struct KeyDeleteForm {
    pub csrf: String,
    pub confirm: Option<String>,
    /// `SHA256:…` (it holds `/` and `+`, so it is a field, not a path).
    pub fingerprint: String,
}

/// `POST /ssh/keys/delete`.
pub async fn remove_key(
    State(state): State<AppState>,
    caller: PageCaller,
    ApiForm(form): ApiForm<KeyDeleteForm>,
) -> Result<Response, ApiError> {
    confirmed(&ConfirmForm {
        csrf: form.csrf,
        confirm: form.confirm,
    })?;
    let actor = caller.0.actor();
    blocking(&state.ctx, move |ctx| {
        ssh::remove_key(ctx, &actor, &form.fingerprint)
    })
    .await?;
    Ok(back())
}
