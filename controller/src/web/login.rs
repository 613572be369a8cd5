//! The login form (`GET /login`: a password form, and "Sign in with" the provider when OpenID
//! Connect is set up; in OIDC-only mode the password form shows only at `/login?local`),
//! and logging in (`POST /login`: a session cookie, or the second-factor page when one is
//! owed). Logging out is `logout.rs`.

use crate::http::auth::{self, Login};
use crate::http::client_addr::ClientAddr;
use crate::http::error::ApiError;
use crate::http::extract::ApiForm;
use crate::http::state::AppState;
use axum::extract::{ConnectInfo, RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{html, Markup, DOCTYPE};
use serde::Deserialize;

/// What the login page offers.
#[derive(Debug, Clone, Default)]
pub struct LoginOptions {
    /// "Sign in with NAME", when OpenID Connect is set up.
    pub oidc_name: Option<String>,
    /// Whether the password form shows.
    pub password: bool,
}

impl LoginOptions {
    /// From the configuration; `local` is `/login?local` (the break-glass form).
    pub fn of(state: &AppState, local: bool) -> LoginOptions {
        let oidc = state.ctx.config.auth.oidc.as_ref();
        LoginOptions {
            oidc_name: oidc.map(|oidc| oidc.name.clone()),
            password: local || !oidc.is_some_and(|oidc| oidc.only),
        }
    }
}

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
pub fn render(message: Option<&str>, options: &LoginOptions) -> Markup {
    frame(
        "Log in",
        html! {
            @if let Some(message) = message {
                p.error #login-error { (message) }
            }
            @if let Some(name) = &options.oidc_name {
                p { a.button #oidc-login href="/login/oidc" { "Sign in with " (name) } }
            }
            @if options.password {
                form method="post" action="/login" class="card" {
                    label { "User " input name="username" id="username" autocomplete="username" required autofocus; }
                    label { "Password " input name="password" id="password" type="password" autocomplete="current-password" required; }
                    button type="submit" id="login" { "Log in" }
                }
            }
        },
    )
}

/// `GET /login` (`?local`: the password form in OIDC-only mode).
pub async fn page(State(state): State<AppState>, RawQuery(query): RawQuery) -> Markup {
    let local = query.is_some_and(|query| query.split('&').any(|pair| pair == "local"));
    render(None, &LoginOptions::of(&state, local))
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
            [(header::SET_COOKIE, auth::pending_cookie(&pending.token))],
            Redirect::to("/login/second-factor"),
        )
            .into_response(),
        Err(error @ (ApiError::LoginFailed | ApiError::TooManyRequests { .. })) => {
            let status = if matches!(error, ApiError::LoginFailed) {
                StatusCode::UNAUTHORIZED
            } else {
                StatusCode::TOO_MANY_REQUESTS
            };
            let options = LoginOptions::of(&state, true);
            (status, render(Some(&error.to_string()), &options)).into_response()
        }
        Err(error) => error.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_and_an_escaped_message() {
        let options = LoginOptions {
            oidc_name: None,
            password: true,
        };
        let html = render(Some("no <such> user"), &options).into_string();
        assert!(
            html.contains("<p class=\"error\" id=\"login-error\">no &lt;such&gt; user</p>"),
            "{html}"
        );
        assert!(
            html.contains("<form method=\"post\" action=\"/login\" class=\"card\">"),
            "{html}"
        );
        assert!(html.contains("id=\"username\""), "{html}");
        assert!(!render(None, &options).into_string().contains("login-error"));
        assert!(!html.contains("oidc-login"));
    }

    #[test]
    fn issue_21_oidc_button_and_oidc_only() {
        let options = LoginOptions {
            oidc_name: Some("<Pocket ID>".into()),
            password: false,
        };
        let html = render(None, &options).into_string();
        assert!(html.contains("Sign in with &lt;Pocket ID&gt;"), "{html}");
        assert!(!html.contains("id=\"username\""), "{html}");
    }
}
