//! The login form (`GET /login`), logging in (`POST /login`: a session cookie, or the second-factor page when one is owed)
//! and logging out (`POST /logout`).

use super::CsrfForm;
use crate::http::auth::{self, Caller, Login};
use crate::http::client_addr::ClientAddr;
use crate::http::error::ApiError;
use crate::http::extract::ApiForm;
use crate::http::state::AppState;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{html, Markup, DOCTYPE};
use serde::Deserialize;

/// The frame of the login and second-factor pages (pure).
pub fn frame(title: &str, content: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Unity" }
                link rel="stylesheet" href="/assets/app.css";
            }
            body.login {
                main {
                    h1 { "Unity" }
                    (content)
                }
            }
        }
    }
}

/// The login page, with why the last attempt failed (pure).
pub fn render(message: Option<&str>) -> Markup {
    frame(
        "Log in",
        html! {
            @if let Some(message) = message {
                p.error #login-error { (message) }
            }
            form method="post" action="/login" class="card" {
                label { "User " input name="username" id="username" autocomplete="username" required autofocus; }
                label { "Password " input name="password" id="password" type="password" autocomplete="current-password" required; }
                button type="submit" id="login" { "Log in" }
            }
        },
    )
}

/// `GET /login`.
pub async fn page() -> Markup {
    render(None)
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    username: String,
    password: String,
}

/// `POST /login`.
pub async fn submit(
    State(state): State<AppState>,
    ConnectInfo(client): ConnectInfo<ClientAddr>,
    ApiForm(form): ApiForm<LoginForm>,
) -> Response {
    match auth::login_user(&state, client, form.username, form.password).await {
        Ok(Login::Session(session)) => (
            [(
                header::SET_COOKIE,
                auth::session_cookie(&state, &session.session_id),
            )],
            Redirect::to("/"),
        )
            .into_response(),
        Ok(Login::SecondFactor(pending)) => (
            [(
                header::SET_COOKIE,
                auth::pending_cookie(&state, &pending.token),
            )],
            Redirect::to("/login/second-factor"),
        )
            .into_response(),
        Err(error @ (ApiError::LoginFailed | ApiError::TooManyRequests { .. })) => {
            let status = if matches!(error, ApiError::LoginFailed) {
                StatusCode::UNAUTHORIZED
            } else {
                StatusCode::TOO_MANY_REQUESTS
            };
            (status, render(Some(&error.to_string()))).into_response()
        }
        Err(error) => error.into_response(),
    }
}

/// `POST /logout`: ends the session.
pub async fn logout(
    State(state): State<AppState>,
    caller: Caller,
    ApiForm(_form): ApiForm<CsrfForm>,
) -> Result<Response, ApiError> {
    auth::logout_caller(&state, &caller).await?;
    Ok((
        [(header::SET_COOKIE, auth::clear_cookie(&state))],
        Redirect::to("/login"),
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_and_an_escaped_message() {
        let html = render(Some("no <such> user")).into_string();
        assert!(
            html.contains("<p class=\"error\" id=\"login-error\">no &lt;such&gt; user</p>"),
            "{html}"
        );
        assert!(
            html.contains("<form method=\"post\" action=\"/login\" class=\"card\">"),
            "{html}"
        );
        assert!(html.contains("id=\"username\""), "{html}");
        assert!(!render(None).into_string().contains("login-error"));
    }
}
