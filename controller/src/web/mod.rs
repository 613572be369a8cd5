//! The dashboard: server-rendered HTML pages (overview, host, agents, settings), the login
//! form, and the static assets (CSS, the chart script, uPlot) embedded in the binary.
//!
//! Pages are plain HTML that works without JavaScript except for the charts, which fetch
//! stored history from `/api/v1/hosts/{agent_id}/query` and draw it with uPlot. Every form
//! that changes something carries the session's CSRF token.

mod agents;
mod alerts;
mod containers;
mod host;
mod operations;
mod overview;
mod settings;
mod state;
mod updates;

use crate::api::auth::{self, Caller};
use crate::api::{ApiError, ApiForm, AppState, ClientAddr};
use crate::storage::auth::Role;
use axum::extract::{ConnectInfo, FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use std::fmt::Write as _;

/// Files served under `/assets/`: name, content type, bytes. Lookup is by exact name, so no
/// path (`..`, `%2e`, absolute) can reach anything else.
const ASSETS: &[(&str, &str, &[u8])] = &[
    (
        "app.css",
        "text/css; charset=utf-8",
        include_bytes!("assets/app.css"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_bytes!("assets/app.js"),
    ),
    (
        "vendor/uPlot.iife.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("assets/vendor/uPlot.iife.min.js"),
    ),
    (
        "vendor/uPlot.min.css",
        "text/css; charset=utf-8",
        include_bytes!("assets/vendor/uPlot.min.css"),
    ),
    (
        "vendor/LICENSE",
        "text/plain; charset=utf-8",
        include_bytes!("assets/vendor/LICENSE"),
    ),
];

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(overview::page))
        .route("/login", get(login_page).post(login_form))
        .route("/logout", post(logout_form))
        .route("/hosts/{agent_id}", get(host::page))
        .route("/agents", get(agents::page))
        .route(
            "/hosts/{agent_id}/containers/{name}/{verb}",
            post(operations::submit_form),
        )
        .route("/operations/{id}", get(operations::page))
        .route("/updates", get(updates::page))
        .route("/updates/check", post(updates::check_now))
        .route("/agents/tokens", post(agents::create_token))
        .route("/agents/{agent_id}/revoke", post(agents::revoke))
        .route("/settings", get(settings::page))
        .route("/settings/users", post(settings::create_user))
        .route("/settings/users/{name}/delete", post(settings::delete_user))
        .route("/settings/api-tokens", post(settings::create_api_token))
        .route("/assets/{*path}", get(asset))
}

async fn asset(Path(path): Path<String>) -> Response {
    match ASSETS.iter().find(|(name, _, _)| *name == path) {
        Some((_, content_type, bytes)) => (
            [
                (header::CONTENT_TYPE, *content_type),
                (header::CACHE_CONTROL, "public, max-age=3600"),
            ],
            *bytes,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no such asset").into_response(),
    }
}

/// A logged-in user on a page; without one the browser is sent to the login form.
pub struct PageCaller(pub Caller);

impl FromRequestParts<AppState> for PageCaller {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        match auth::authenticate(state, &parts.headers).await? {
            Some(caller) => Ok(PageCaller(caller)),
            None => Err(ApiError::LoginPage),
        }
    }
}

impl PageCaller {
    /// For forms: admin role and the form's CSRF token.
    pub fn require_change(&self, csrf: &str) -> Result<(), ApiError> {
        self.0.require_csrf(Some(csrf))?;
        self.0.require_admin()
    }

    pub fn is_admin(&self) -> bool {
        self.0.role == Role::Admin
    }
}

/// Escapes text for HTML content and attribute values.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Percent-encodes a path segment.
pub fn url_segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(byte as char);
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

/// "12 s ago", "3 h ago", "never".
pub fn ago(then_ms: i64, now_ms: i64) -> String {
    if then_ms <= 0 {
        return "never".into();
    }
    let seconds = (now_ms - then_ms).max(0) / 1000;
    match seconds {
        0..=119 => format!("{seconds} s ago"),
        120..=7199 => format!("{} min ago", seconds / 60),
        7200..=172_799 => format!("{} h ago", seconds / 3600),
        _ => format!("{} d ago", seconds / 86400),
    }
}

/// A UTC date and time for tables.
pub fn datetime(unix_ms: i64) -> String {
    if unix_ms <= 0 {
        return "never".into();
    }
    let time = std::time::UNIX_EPOCH + std::time::Duration::from_millis(unix_ms as u64);
    let text = humantime::format_rfc3339_seconds(time).to_string();
    text.replace('T', " ").replace('Z', " UTC")
}

/// Human units for a latest value, from the metric's suffix.
pub fn human_value(metric: &str, value: f64) -> String {
    if metric.ends_with("_bytes") || metric.ends_with("_bytes_total") {
        let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
        let mut scaled = value;
        let mut unit = 0;
        while scaled.abs() >= 1024.0 && unit + 1 < units.len() {
            scaled /= 1024.0;
            unit += 1;
        }
        format!("{scaled:.1} {}", units[unit])
    } else if metric.ends_with("_ratio") {
        format!("{:.1} %", value * 100.0)
    } else if metric.ends_with("_celsius") {
        format!("{value:.1} °C")
    } else if metric.ends_with("_seconds") {
        humantime::format_duration(std::time::Duration::from_secs(value.max(0.0) as u64))
            .to_string()
    } else if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{value:.0}")
    } else {
        format!("{value:.3}")
    }
}

/// A status badge.
pub fn badge(status: &str) -> String {
    format!("<span class=\"badge {0}\">{0}</span>", esc(status))
}

/// The page frame: head, navigation (with the logout form), content.
pub fn layout(title: &str, caller: &Caller, active: &str, body: &str) -> Html<String> {
    let nav_item = |href: &str, label: &str, key: &str| {
        let class = if key == active {
            " class=\"active\""
        } else {
            ""
        };
        format!("<a href=\"{href}\"{class}>{label}</a>")
    };
    Html(format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>{title} · Unity</title>\
<link rel=\"stylesheet\" href=\"/assets/vendor/uPlot.min.css\"><link rel=\"stylesheet\" href=\"/assets/app.css\">\
</head><body><header><nav><span class=\"brand\">Unity</span>{overview}{updates}{agents}{settings}</nav>\
<form method=\"post\" action=\"/logout\" class=\"logout\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
<span class=\"who\">{user} ({role})</span><button type=\"submit\" id=\"logout\">Log out</button></form></header>\
<main>{body}</main>\
<script src=\"/assets/vendor/uPlot.iife.min.js\"></script><script src=\"/assets/app.js\"></script></body></html>",
        title = esc(title),
        overview = nav_item("/", "Overview", "overview"),
        updates = nav_item("/updates", "Updates", "updates"),
        agents = nav_item("/agents", "Agents", "agents"),
        settings = nav_item("/settings", "Settings", "settings"),
        csrf = esc(caller.csrf_token()),
        user = esc(&caller.user),
        role = caller.role.as_str(),
    ))
}

fn login_html(message: Option<&str>) -> Html<String> {
    let message = message
        .map(|message| format!("<p class=\"error\" id=\"login-error\">{}</p>", esc(message)))
        .unwrap_or_default();
    Html(format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>Log in · Unity</title>\
<link rel=\"stylesheet\" href=\"/assets/app.css\"></head><body class=\"login\"><main>\
<h1>Unity</h1>{message}<form method=\"post\" action=\"/login\" class=\"card\">\
<label>User <input name=\"username\" id=\"username\" autocomplete=\"username\" required autofocus></label>\
<label>Password <input name=\"password\" id=\"password\" type=\"password\" autocomplete=\"current-password\" required></label>\
<button type=\"submit\" id=\"login\">Log in</button></form></main></body></html>"
    ))
}

async fn login_page() -> Html<String> {
    login_html(None)
}

#[derive(Debug, Deserialize)]
struct LoginForm {
    username: String,
    password: String,
}

async fn login_form(
    State(state): State<AppState>,
    ConnectInfo(client): ConnectInfo<ClientAddr>,
    ApiForm(form): ApiForm<LoginForm>,
) -> Response {
    match auth::login_user(&state, client, form.username, form.password).await {
        Ok(session) => (
            [(
                header::SET_COOKIE,
                auth::session_cookie(&state, &session.session_id),
            )],
            Redirect::to("/"),
        )
            .into_response(),
        Err(error @ (ApiError::LoginFailed | ApiError::TooManyRequests { .. })) => {
            let status = if matches!(error, ApiError::LoginFailed) {
                StatusCode::UNAUTHORIZED
            } else {
                StatusCode::TOO_MANY_REQUESTS
            };
            (status, login_html(Some(&error.to_string()))).into_response()
        }
        Err(error) => error.into_response(),
    }
}

#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    pub csrf: String,
}

async fn logout_form(
    State(state): State<AppState>,
    caller: PageCaller,
    ApiForm(form): ApiForm<CsrfForm>,
) -> Result<Response, ApiError> {
    caller.0.require_csrf(Some(&form.csrf))?;
    auth::logout_caller(&state, &caller.0).await?;
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
    fn escaping_and_formatting() {
        assert_eq!(
            esc("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        assert_eq!(url_segment("a b/../c"), "a%20b%2F..%2Fc");
        assert_eq!(ago(0, 5), "never");
        assert_eq!(ago(1000, 13_000), "12 s ago");
        assert_eq!(
            human_value("memory_used_bytes", 3.0 * 1024.0 * 1024.0),
            "3.0 MiB"
        );
        assert_eq!(human_value("cpu_usage_ratio", 0.25), "25.0 %");
        assert_eq!(datetime(1_000), "1970-01-01 00:00:01 UTC");
    }

    #[test]
    fn assets_are_found_by_exact_name_only() {
        assert!(ASSETS
            .iter()
            .any(|(name, _, bytes)| *name == "app.js" && !bytes.is_empty()));
        for hostile in [
            "../Cargo.toml",
            "vendor/../app.js",
            "/etc/passwd",
            "vendor",
            "",
        ] {
            assert!(
                !ASSETS.iter().any(|(name, _, _)| *name == hostile),
                "{hostile}"
            );
        }
    }
}
