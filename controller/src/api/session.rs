//! Logging in and out over the API (`POST /api/v1/login`, `POST /api/v1/logout`) and who am
//! I (`GET /api/v1/session`), with the session cookie and its CSRF token. The login limit and
//! the cookies are `http::auth`'s, shared with the login form.

use crate::http::auth::{self, Caller, CSRF_HEADER};
use crate::http::client_addr::ClientAddr;
use crate::http::error::ApiError;
use crate::http::extract::ApiJson;
use crate::http::state::AppState;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
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
    pub role: &'static str,
    /// Send as `X-CSRF-Token` with every state-changing request made with the cookie.
    pub csrf_token: String,
}

/// `POST /api/v1/login`.
pub async fn login(
    State(state): State<AppState>,
    ConnectInfo(client): ConnectInfo<ClientAddr>,
    ApiJson(request): ApiJson<LoginRequest>,
) -> Result<Response, ApiError> {
    let user = request.username.clone();
    let session = auth::login_user(&state, client, request.username, request.password).await?;
    let body = SessionView {
        user,
        role: session.role.as_str(),
        csrf_token: session.csrf_token,
    };
    let cookie = auth::session_cookie(&state, &session.session_id);
    Ok(([(header::SET_COOKIE, cookie)], axum::Json(body)).into_response())
}

/// `POST /api/v1/logout`: needs the CSRF header like every other change.
pub async fn logout(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    caller.require_csrf(
        headers
            .get(CSRF_HEADER)
            .and_then(|value| value.to_str().ok()),
    )?;
    auth::logout_caller(&state, &caller).await?;
    let body = serde_json::json!({ "logged_out": true });
    Ok((
        [(header::SET_COOKIE, auth::clear_cookie(&state))],
        axum::Json(body),
    )
        .into_response())
}

/// `GET /api/v1/session`: who am I, and the CSRF token for changes.
pub async fn session(caller: Caller) -> axum::Json<SessionView> {
    axum::Json(SessionView {
        role: caller.role.as_str(),
        csrf_token: caller.csrf_token().to_owned(),
        user: caller.user,
    })
}
