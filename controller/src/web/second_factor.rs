//! The second step of a login (`/login/second-factor`): a TOTP or recovery code for the
//! pending login in the `unity_pending` cookie. A user who must enrol first (admins, when
//! `[auth] second_factor_for_admins` is set, without a factor yet) enrols TOTP here with the
//! QR code, and the confirming code passes the login and shows the recovery codes once. A
//! user with a passkey may use it instead (`passkeys.rs`, through `assets/passkeys.js`).

use super::login::frame;
use super::qr;
use crate::clock::now_ms;
use crate::domain::actor::Actor;
use crate::domain::second_factor::{self, TotpEnrolment};
use crate::http::auth;
use crate::http::client_addr::ClientAddr;
use crate::http::error::ApiError;
use crate::http::extract::{blocking, ApiForm};
use crate::http::state::AppState;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{AppendHeaders, IntoResponse, Redirect, Response};
use maud::{html, Markup};
use serde::Deserialize;

/// The page (pure): a code field, or for a user who must enrol, the QR code first; the
/// passkey button when the user has one.
pub fn render(message: Option<&str>, enrolment: Option<&TotpEnrolment>, passkeys: bool) -> Markup {
    frame(
        "Second factor",
        html! {
            @if let Some(message) = message {
                p.error #second-factor-error { (message) }
            }
            @if let Some(enrolment) = enrolment {
                p { "A second factor is required for your account. Scan this with an authenticator app, then enter the code it shows." }
                (qr::render(&enrolment.uri))
                p.sub { "Or type the key: " code #totp-secret { (enrolment.secret) } }
            } @else {
                p { "Enter the code from your authenticator app, or a recovery code." }
            }
            form method="post" action="/login/second-factor" class="card" {
                label { "Code " input name="code" id="code" autocomplete="one-time-code" required autofocus; }
                button type="submit" id="verify" { "Continue" }
            }
            @if passkeys {
                p.error #passkey-error hidden {}
                form method="post" action="/login/second-factor/passkey" class="card" id="passkey-login" {
                    input type="hidden" name="credential_id";
                    input type="hidden" name="client_data";
                    input type="hidden" name="authenticator_data";
                    input type="hidden" name="signature";
                    button type="submit" id="use-passkey" { "Use a passkey" }
                }
                script src="/assets/passkeys.js" {}
            }
        },
    )
}

/// Starts enrolment for a pending login that must enrol (once per page view).
async fn enrolment(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<TotpEnrolment>, ApiError> {
    let Some((_, pending)) = auth::pending_login(state, headers).await? else {
        return Err(ApiError::LoginPage);
    };
    if !pending.must_enrol {
        return Ok(None);
    }
    let user = pending.user;
    blocking(&state.ctx, move |ctx| second_factor::start_totp(ctx, &user))
        .await
        .map(Some)
}

/// Whether the pending login's user has a passkey.
async fn has_passkeys(state: &AppState, headers: &HeaderMap) -> Result<bool, ApiError> {
    let Some((_, pending)) = auth::pending_login(state, headers).await? else {
        return Ok(false);
    };
    blocking(&state.ctx, move |ctx| {
        Ok::<_, ApiError>(!ctx.store.auth.factors(&pending.user)?.passkeys.is_empty())
    })
    .await
}

/// `GET /login/second-factor`.
pub async fn page(State(state): State<AppState>, headers: HeaderMap) -> Result<Markup, ApiError> {
    let enrolment = enrolment(&state, &headers).await?;
    let passkeys = has_passkeys(&state, &headers).await?;
    Ok(render(None, enrolment.as_ref(), passkeys))
}

#[derive(Debug, Deserialize)]
pub struct CodeForm {
    code: String,
}

/// `POST /login/second-factor`.
pub async fn submit(
    State(state): State<AppState>,
    ConnectInfo(client): ConnectInfo<ClientAddr>,
    headers: HeaderMap,
    ApiForm(form): ApiForm<CodeForm>,
) -> Result<Response, ApiError> {
    let Some((hash, pending)) = auth::pending_login(&state, &headers).await? else {
        return Err(ApiError::LoginPage);
    };
    if pending.must_enrol {
        let user = pending.user.clone();
        let now_s = now_ms().max(0) as u64 / 1000;
        let ttl_ms = state.ctx.config.session_ttl.as_millis() as i64;
        let code = form.code.clone();
        let confirmed = blocking(&state.ctx, move |ctx| {
            let codes =
                second_factor::confirm_totp(ctx, &Actor::user(user.clone()), &user, &code, now_s)?;
            let session = second_factor::pass(ctx, hash, &user, "totp enrolment", ttl_ms)?;
            Ok::<_, ApiError>((session, codes))
        })
        .await;
        return match confirmed {
            Ok((session, codes)) => Ok(opened_with_codes(&state, &session.session_id, &codes)),
            Err(error) => {
                let enrolment = enrolment(&state, &headers).await?;
                Ok((
                    StatusCode::UNAUTHORIZED,
                    render(Some(&error.to_string()), enrolment.as_ref(), false),
                )
                    .into_response())
            }
        };
    }
    match auth::second_factor(&state, client, &headers, form.code).await {
        Ok(session) => Ok(opened(&state, &session.session_id)),
        Err(error @ (ApiError::SecondFactorFailed | ApiError::TooManyRequests { .. })) => {
            let passkeys = has_passkeys(&state, &headers).await?;
            Ok((
                StatusCode::UNAUTHORIZED,
                render(Some(&error.to_string()), None, passkeys),
            )
                .into_response())
        }
        Err(error) => Err(error),
    }
}

/// The page after enrolling at login: the recovery codes, shown once, and the way on (pure).
pub fn render_codes(codes: &[String]) -> Markup {
    frame(
        "Recovery codes",
        html! {
            section.card.notice #recovery-codes {
                p { "Your authenticator app is set up. These recovery codes are shown once; each works once in place of a code. Keep them somewhere safe." }
                ul { @for code in codes { li { code { (code) } } } }
            }
            p { a.button #continue href="/" { "Continue" } }
        },
    )
}

fn opened_with_codes(state: &AppState, session_id: &str, codes: &[String]) -> Response {
    (
        AppendHeaders([
            (header::SET_COOKIE, auth::session_cookie(state, session_id)),
            (header::SET_COOKIE, auth::clear_pending_cookie()),
        ]),
        render_codes(codes),
    )
        .into_response()
}

/// The response that opens a session after the second step: cookies, then the overview.
pub fn opened(state: &AppState, session_id: &str) -> Response {
    // `AppendHeaders`: an array of headers would keep only the last `Set-Cookie`.
    (
        AppendHeaders([
            (header::SET_COOKIE, auth::session_cookie(state, session_id)),
            (header::SET_COOKIE, auth::clear_pending_cookie()),
        ]),
        Redirect::to("/"),
    )
        .into_response()
}
