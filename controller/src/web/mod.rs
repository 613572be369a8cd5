//! The dashboard: server-rendered HTML pages (overview, host, agents, settings), the login
//! form, and the static assets (CSS, the chart script, uPlot) embedded in the binary.
//!
//! Pages are plain HTML that works without JavaScript except for the charts, which fetch
//! stored history from `/api/v1/hosts/{agent_id}/query` and draw it with uPlot. Every form
//! that changes something carries the session's CSRF token.
//!
//! Every page is rendered by maud (`html!`), which escapes whatever it is given: no page is
//! built from strings. Each page is a thin axum handler that gathers what it shows and a pure
//! `render` function (no I/O), so tests render pages without a server. States and kinds are
//! shown in words from `labels.rs`, never by their `Debug` names.

mod agents;
mod alerts;
mod badge;
mod containers;
mod format;
mod host;
#[cfg(test)]
mod injection_tests;
mod labels;
mod layout;
mod login;
mod operations;
mod overview;
mod plugins;
mod settings;
mod state;
mod updates;

use crate::http::auth::{self, Caller};
use crate::http::error::ApiError;
use crate::http::state::AppState;
use crate::storage::auth::Role;
use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;

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
        .route("/login", get(login::page).post(login::submit))
        .route("/logout", post(login::logout))
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
        .route(
            "/settings/api-tokens/{token_id}/revoke",
            post(settings::revoke_api_token),
        )
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
}

/// The CSRF token for the forms that change something, for admins; `None` for viewers, who
/// get no such forms.
pub fn admin_csrf(caller: &Caller) -> Option<&str> {
    (caller.role == Role::Admin).then(|| caller.csrf_token())
}

#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    pub csrf: String,
}

#[cfg(test)]
mod tests {
    use super::*;

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

    /// Issue 13: pages come from maud templates only. Outside their tests, no module of the
    /// dashboard opts out of escaping, writes HTML in a string literal, answers with an HTML
    /// string, or shows a `Debug` name.
    #[test]
    fn no_page_is_built_from_strings() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/web");
        let mut n_files = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|ext| ext != "rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let code = text.split("mod tests {").next().unwrap_or_default();
            for needle in ["PreEscaped", ":?}", "\"<", "Html<"] {
                assert!(
                    !code.contains(needle),
                    "{}: `{needle}` outside the tests",
                    path.display()
                );
            }
            n_files += 1;
        }
        assert!(
            n_files >= 10,
            "{n_files} files checked in {}",
            dir.display()
        );
    }
}
