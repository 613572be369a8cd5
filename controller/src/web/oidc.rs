//! Sign-in with the OpenID Connect provider (`[auth.oidc]`): `GET /login/oidc` sends the
//! browser to the provider with a fresh `state` (also put in a cookie of this browser), and
//! `GET /login/oidc/callback` finishes the login when the provider sends it back (or shows
//! the login page with why it failed). The domain does the checks (`domain::oidc`).

use super::login::{self, frame, LoginOptions};
use crate::domain::oidc;
use crate::http::auth;
use crate::http::client_addr::ClientAddr;
use crate::http::error::ApiError;
use crate::http::state::AppState;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{AppendHeaders, IntoResponse, Redirect, Response};
use maud::{html, Markup};
use serde::Deserialize;

fn not_set_up() -> ApiError {
    ApiError::NotFound("sign-in with OpenID Connect is not set up ([auth.oidc])".into())
}

/// `GET /login/oidc` (when the provider cannot be reached: the login page saying so).
pub async fn start(State(state): State<AppState>) -> Result<Response, ApiError> {
    let config = state.ctx.config.auth.oidc.clone().ok_or_else(not_set_up)?;
    let start = match oidc::start(&state.ctx, &config).await {
        Ok(start) => start,
        Err(error) => {
            let error = ApiError::from(error);
            let message = error.to_string();
            tracing::warn!(error = %message, "Starting an OpenID Connect sign-in failed.");
            let status = error.into_response().status();
            return Ok(refused_page(&state, status, &message));
        }
    };
    let max_age_s = (oidc::PENDING_TTL_MS / 1000) as u64;
    Ok((
        [(
            header::SET_COOKIE,
            auth::oidc_state_cookie(&start.state, max_age_s),
        )],
        Redirect::to(&start.url),
    )
        .into_response())
}

/// What the provider sends back: a code and the state, or an error.
#[derive(Debug, Deserialize)]
pub struct Callback {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// The page after a good sign-in (pure): the session cookie was set in a response to the
/// provider's cross-site redirect, on which the browser would not send it back, so the next
/// step to the dashboard is a same-site one from here.
pub fn render_signed_in() -> Markup {
    frame(
        "Signed in",
        html! {
            meta http-equiv="refresh" content="0; url=/";
            p { "Signed in. " a #continue href="/" { "Continue to the dashboard" } }
        },
    )
}

fn refused_page(state: &AppState, status: StatusCode, message: &str) -> Response {
    let options = LoginOptions::of(state, false);
    (
        status,
        [(header::SET_COOKIE, auth::oidc_state_cookie("", 0))],
        login::render(Some(message), &options),
    )
        .into_response()
}

/// `GET /login/oidc/callback`.
pub async fn callback(
    State(state): State<AppState>,
    ConnectInfo(client): ConnectInfo<ClientAddr>,
    headers: HeaderMap,
    Query(answer): Query<Callback>,
) -> Result<Response, ApiError> {
    let config = state.ctx.config.auth.oidc.clone().ok_or_else(not_set_up)?;
    if let Some(error) = answer.error {
        let why = answer.error_description.unwrap_or(error);
        tracing::warn!(client = %client.0.ip(), %why, "The OpenID Connect provider refused a sign-in.");
        let message = format!("{} refused the sign-in: {why}", config.name);
        return Ok(refused_page(&state, StatusCode::UNAUTHORIZED, &message));
    }
    let (Some(code), Some(provider_state)) = (answer.code, answer.state) else {
        return Err(ApiError::BadRequest(
            "the provider's answer has no code or no state".into(),
        ));
    };
    let cookie_state = auth::cookie(&headers, auth::OIDC_STATE_COOKIE).map(str::to_owned);
    let ttl_ms = state.ctx.config.session_ttl.as_millis() as i64;
    let finished = oidc::finish(
        &state.ctx,
        &config,
        &provider_state,
        cookie_state.as_deref(),
        &code,
        ttl_ms,
    )
    .await;
    match finished {
        Ok(finished) => Ok((
            AppendHeaders([
                (
                    header::SET_COOKIE,
                    auth::session_cookie(&state, &finished.session.session_id),
                ),
                (header::SET_COOKIE, auth::oidc_state_cookie("", 0)),
            ]),
            render_signed_in(),
        )
            .into_response()),
        Err(error) => {
            let error = ApiError::from(error);
            let message = error.to_string();
            tracing::warn!(client = %client.0.ip(), error = %message, "OpenID Connect sign-in failed.");
            let status = error.into_response().status();
            Ok(refused_page(&state, status, &message))
        }
    }
}

/// The page after logging out of Unity that goes on to log out at the provider (pure).
pub fn render_signed_out(provider_logout: &str) -> Markup {
    frame(
        "Signed out",
        html! {
            meta http-equiv="refresh" content={ "0; url=" (provider_logout) };
            p { "Signed out of Unity. " a #continue href=(provider_logout) { "Sign out at the provider too" } }
        },
    )
}

/// Where logging out sends the browser beyond Unity: the provider's end-session endpoint for
/// a user who signed in there, when it has one.
pub async fn after_logout(state: &AppState, user: &str) -> Option<String> {
    let config = state.ctx.config.auth.oidc.clone()?;
    let name = user.to_owned();
    let linked = crate::http::extract::blocking(&state.ctx, move |ctx| {
        crate::domain::users::is_oidc_user(ctx, &name)
    })
    .await
    .unwrap_or(false);
    if !linked {
        return None;
    }
    let login_page = config
        .redirect_url
        .trim_end_matches("/oidc/callback")
        .to_owned();
    match oidc::logout_url(&config, &login_page).await {
        Ok(url) => url,
        Err(error) => {
            tracing::warn!(%error, "No RP-initiated logout: the provider could not be reached.");
            None
        }
    }
}
