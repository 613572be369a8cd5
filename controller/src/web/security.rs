//! The sign-in page of one's own account (`/settings/security`): TOTP enrolment with a QR
//! code (inline SVG), confirming it (recovery codes shown once), turning it off, and new
//! recovery codes; the user's passkeys, listed with a delete button each, and the form that
//! adds one (through `assets/passkeys.js`, handled in `passkeys.rs`). Needs a dashboard
//! session; every change is audited by the domain.

use super::format;
use super::layout::{self, Frame, Nav};
use super::{qr, CsrfForm, PageCaller};
use crate::clock::now_ms;
use crate::domain::actor::Actor;
use crate::domain::second_factor::passkeys::{PasskeyView, MAX_NAME_CHARS};
use crate::domain::second_factor::{self, TotpEnrolment};
use crate::http::auth::Caller;
use crate::http::error::ApiError;
use crate::http::extract::{blocking, ApiForm};
use crate::http::state::AppState;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{html, Markup};
use serde::Deserialize;

/// What the page shows.
#[derive(Debug, Clone, Default)]
pub struct SecurityView {
    pub totp_enabled: bool,
    pub n_recovery_codes: usize,
    /// Enrolment under way: the QR code and the secret.
    pub enrolment: Option<TotpEnrolment>,
    /// Recovery codes just made, shown once.
    pub new_codes: Vec<String>,
    pub message: Option<String>,
    /// A change that worked.
    pub notice: Option<String>,
    pub passkeys: Vec<PasskeyView>,
}

/// The page (pure).
pub fn render(view: &SecurityView, caller: &Caller) -> Markup {
    let csrf = caller.csrf_token();
    let content = html! {
        h1 { "Sign-in" }
        @if let Some(message) = &view.message { p.error #security-error { (message) } }
        @if let Some(notice) = &view.notice { p.notice #security-notice { (notice) } }
        @if !view.new_codes.is_empty() {
            section.card.notice #recovery-codes {
                p { "Recovery codes, shown once. Each works once in place of a code; keep them somewhere safe." }
                ul { @for code in &view.new_codes { li { code { (code) } } } }
            }
        }
        h2 { "Authenticator app (TOTP)" }
        @if let Some(enrolment) = &view.enrolment {
            p { "Scan this with your authenticator app, then enter the code it shows." }
            (qr::render(&enrolment.uri))
            p.sub { "Or type the key: " code #totp-secret { (enrolment.secret) } }
            form method="post" action="/settings/security/totp/confirm" class="card inline" id="confirm-totp" {
                input type="hidden" name="csrf" value=(csrf);
                label { "Code " input name="code" autocomplete="one-time-code" required; }
                button type="submit" { "Turn on" }
            }
        } @else if view.totp_enabled {
            p #totp-state { "On. " (view.n_recovery_codes) " recovery codes left." }
            form method="post" action="/settings/security/recovery-codes" class="inline" {
                input type="hidden" name="csrf" value=(csrf);
                button type="submit" { "New recovery codes" }
            }
            form method="post" action="/settings/security/totp/disable" class="inline" data-confirm="Turn off the authenticator app as your second factor?" {
                input type="hidden" name="csrf" value=(csrf);
                button type="submit" class="danger" { "Turn off" }
            }
        } @else {
            p #totp-state { "Off." }
            form method="post" action="/settings/security/totp" class="inline" id="start-totp" {
                input type="hidden" name="csrf" value=(csrf);
                button type="submit" { "Set up an authenticator app" }
            }
        }
        (render_passkeys(view, csrf))
    };
    layout::page(Frame::new("Sign-in", Nav::Security), caller, content)
}

/// The passkeys section (pure): the list with delete buttons and the form that adds one.
fn render_passkeys(view: &SecurityView, csrf: &str) -> Markup {
    let now = now_ms();
    html! {
        h2 { "Passkeys" }
        p { "A passkey (a security key, or the one your device keeps) works in place of a code at login." }
        @if view.passkeys.is_empty() {
            p #passkeys-state { "None." }
        } @else {
            table #passkeys {
                thead { tr { th { "Name" } th { "Added" } th { "Last used" } th {} } }
                tbody {
                    @for passkey in &view.passkeys {
                        tr.passkey {
                            td.passkey-name { (passkey.name) }
                            td { (format::datetime(passkey.created_at_ms)) }
                            td { (passkey.last_used_ms.map_or_else(|| "never".to_owned(), |at| format::ago(at, now))) }
                            td {
                                form method="post" action={ "/settings/security/passkeys/" (passkey.id) "/delete" } class="inline" data-confirm={ "Delete the passkey " (passkey.name) "?" } {
                                    input type="hidden" name="csrf" value=(csrf);
                                    button type="submit" class="danger" { "Delete" }
                                }
                            }
                        }
                    }
                }
            }
        }
        p.error #passkey-error hidden {}
        form method="post" action="/settings/security/passkeys" class="card inline" id="add-passkey" {
            input type="hidden" name="csrf" value=(csrf);
            input type="hidden" name="client_data";
            input type="hidden" name="attestation_object";
            label { "Name " input name="name" id="passkey-name" maxlength=(MAX_NAME_CHARS) required placeholder="laptop"; }
            button type="submit" id="add-passkey-button" { "Add a passkey" }
        }
        script src="/assets/passkeys.js" {}
    }
}

/// The page for `caller` with what `shown` adds (the factors read from the store).
pub async fn render_for(
    state: &AppState,
    caller: &Caller,
    shown: SecurityView,
) -> Result<Markup, ApiError> {
    Ok(render(&view(state, caller, shown).await?, caller))
}

async fn view(
    state: &AppState,
    caller: &Caller,
    mut view: SecurityView,
) -> Result<SecurityView, ApiError> {
    let user = caller.user.clone();
    let factors = blocking(&state.ctx, move |ctx| {
        Ok::<_, ApiError>(ctx.store.auth.factors(&user)?)
    })
    .await?;
    view.totp_enabled = factors.totp.is_some();
    view.n_recovery_codes = factors.recovery_codes.len();
    view.passkeys = factors
        .passkeys
        .into_iter()
        .map(|passkey| PasskeyView {
            id: crate::domain::second_factor::webauthn::b64(&passkey.credential_id),
            name: passkey.name,
            created_at_ms: passkey.created_at_ms,
            last_used_ms: passkey.last_used_ms,
        })
        .collect();
    Ok(view)
}

/// `GET /settings/security`.
pub async fn page(State(state): State<AppState>, caller: PageCaller) -> Result<Markup, ApiError> {
    let shown = view(&state, &caller.0, SecurityView::default()).await?;
    Ok(render(&shown, &caller.0))
}

/// `POST /settings/security/totp`: a new secret with its QR code.
pub async fn start_totp(
    State(state): State<AppState>,
    caller: PageCaller,
    ApiForm(_form): ApiForm<CsrfForm>,
) -> Result<Markup, ApiError> {
    caller.0.require_session()?;
    let user = caller.0.user.clone();
    let enrolment = blocking(&state.ctx, move |ctx| second_factor::start_totp(ctx, &user)).await?;
    let shown = SecurityView {
        enrolment: Some(enrolment),
        ..SecurityView::default()
    };
    Ok(render(&view(&state, &caller.0, shown).await?, &caller.0))
}

#[derive(Debug, Deserialize)]
pub struct CodeForm {
    pub code: String,
}

/// `POST /settings/security/totp/confirm`.
pub async fn confirm_totp(
    State(state): State<AppState>,
    caller: PageCaller,
    ApiForm(form): ApiForm<CodeForm>,
) -> Result<Markup, ApiError> {
    caller.0.require_session()?;
    let user = caller.0.user.clone();
    let now_s = now_ms().max(0) as u64 / 1000;
    let result = blocking(&state.ctx, move |ctx| {
        second_factor::confirm_totp(ctx, &Actor::user(user.clone()), &user, &form.code, now_s)
    })
    .await;
    let shown = match result {
        Ok(new_codes) => SecurityView {
            new_codes,
            ..SecurityView::default()
        },
        Err(error) => SecurityView {
            message: Some(error.to_string()),
            ..SecurityView::default()
        },
    };
    Ok(render(&view(&state, &caller.0, shown).await?, &caller.0))
}

/// `POST /settings/security/totp/disable`.
pub async fn disable_totp(
    State(state): State<AppState>,
    caller: PageCaller,
    ApiForm(_form): ApiForm<CsrfForm>,
) -> Result<Response, ApiError> {
    caller.0.require_session()?;
    let user = caller.0.user.clone();
    blocking(&state.ctx, move |ctx| {
        second_factor::disable_totp(ctx, &Actor::user(user.clone()), &user)
    })
    .await?;
    Ok(Redirect::to("/settings/security").into_response())
}

/// `POST /settings/security/recovery-codes`.
pub async fn recovery_codes(
    State(state): State<AppState>,
    caller: PageCaller,
    ApiForm(_form): ApiForm<CsrfForm>,
) -> Result<Markup, ApiError> {
    caller.0.require_session()?;
    let user = caller.0.user.clone();
    let new_codes = blocking(&state.ctx, move |ctx| {
        second_factor::new_recovery_codes(ctx, &Actor::user(user.clone()), &user)
    })
    .await?;
    let shown = SecurityView {
        new_codes,
        ..SecurityView::default()
    };
    Ok(render(&view(&state, &caller.0, shown).await?, &caller.0))
}
