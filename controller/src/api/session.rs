//! Logging in and out over the API (`POST /api/v1/login`, then `POST
//! /api/v1/login/second-factor` when a second factor is owed; `POST /api/v1/logout`) and who
//! am I (`GET /api/v1/session`), with the session cookie and its CSRF token. The login limit
//! and the cookies are `http::auth`'s, shared with the login form.

use crate::domain::access::Right;
use crate::http::auth::{self, Caller, Login};
use crate::http::client_addr::ClientAddr;
use crate::http::error::ApiError;
use crate::http::extract::ApiJson;
use crate::http::state::AppState;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap};
use axum::response::{AppendHeaders, IntoResponse, Response};
use serde::{Deserialize, Serialize};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

#[derive(Debug, Serialize)]
pub struct SessionView {
    pub user: String,
    /// `admin` (administer on all hosts), `viewer` (view on all hosts) or `member`.
    pub role: &'static str,
    /// The right held on every host, if any.
    pub all_hosts: Option<Right>,
    /// Send as `X-CSRF-Token` with every state-changing request made with the cookie.
    pub csrf_token: String,
}

#[derive(Debug, Serialize)]
pub struct SecondFactorNeeded {
    pub user: String,
    /// Always true here: send a TOTP or recovery code to `/api/v1/login/second-factor`.
    pub second_factor_required: bool,
    /// The user has no second factor yet and must enrol one in the dashboard.
    pub must_enrol: bool,
}

fn session_response(state: &AppState, session: crate::domain::sessions::NewSession) -> Response {
    let body = SessionView {
        role: session.access.role_word(),
        all_hosts: session.access.on_all_hosts(),
        user: session.user,
        // Masked like every token a response carries (`http::csrf`).
        csrf_token: crate::http::csrf::mask(&session.csrf_token),
    };
    let cookie = auth::session_cookie(state, &session.session_id);
    // `AppendHeaders`: an array of headers would keep only the last `Set-Cookie`.
    (
        AppendHeaders([
            (header::SET_COOKIE, cookie),
            (header::SET_COOKIE, auth::clear_pending_cookie()),
        ]),
        axum::Json(body),
    )
        .into_response()
}

/// `POST /api/v1/login`: a session, or (status 202) a second factor owed.
pub async fn login(
    State(state): State<AppState>,
    ConnectInfo(client): ConnectInfo<ClientAddr>,
    ApiJson(request): ApiJson<LoginRequest>,
) -> Result<Response, ApiError> {
    match auth::login_user(&state, client, request.username, request.password).await? {
        Login::Session(session) => Ok(session_response(&state, session)),
        Login::SecondFactor(pending) => {
            let body = SecondFactorNeeded {
                user: pending.user,
                second_factor_required: true,
                must_enrol: pending.must_enrol,
            };
            let cookie = auth::pending_cookie(&pending.token);
            Ok((
                axum::http::StatusCode::ACCEPTED,
                [(header::SET_COOKIE, cookie)],
                axum::Json(body),
            )
                .into_response())
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeRequest {
    /// A TOTP code or a recovery code.
    pub code: String,
}

/// `POST /api/v1/login/second-factor`: the code for the pending login in the cookie.
pub async fn second_factor(
    State(state): State<AppState>,
    ConnectInfo(client): ConnectInfo<ClientAddr>,
    headers: HeaderMap,
    ApiJson(request): ApiJson<CodeRequest>,
) -> Result<Response, ApiError> {
    let session = auth::second_factor(&state, client, &headers, request.code).await?;
    Ok(session_response(&state, session))
}

/// `POST /api/v1/logout`.
pub async fn logout(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    auth::logout_caller(&state, &caller).await?;
    let body = serde_json::json!({ "logged_out": true });
    Ok((
        [(header::SET_COOKIE, auth::clear_cookie())],
        axum::Json(body),
    )
        .into_response())
}

/// `GET /api/v1/session`: who am I, and the CSRF token for changes.
pub async fn session(caller: Caller) -> axum::Json<SessionView> {
    axum::Json(SessionView {
        role: caller.access.role_word(),
        all_hosts: caller.access.on_all_hosts(),
        csrf_token: caller.csrf_token().to_owned(),
        user: caller.user,
    })
}
