//! Friendly error pages for browsers (issue 19): the one layer that turns any error response
//! of a page (a [`ShownError`] in its extensions, put there by `ApiError`'s one
//! `IntoResponse`) into an HTML page inside the normal frame, saying what happened, what to
//! do and where to go back. The REST API (`/api/…`) and clients that do not ask for HTML keep
//! the JSON body. Also the fallback for paths no route has, a 404 that goes the same way.
//!
//! [`render`] and [`wants_html`] are pure; [`layer`] is the thin shell around them.

use super::layout::{self, Frame, Nav};
use crate::http::auth::{self, Caller};
use crate::http::error::{ApiError, ErrorKind, ShownError};
use crate::http::state::AppState;
use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue, Method, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use maud::{html, Markup};

/// Whether the answer to a request to `path` should be a page: a browser asked for HTML
/// (navigations and form posts send `Accept: text/html`) or posted a form, and the path is
/// not the REST API's.
pub fn wants_html(method: &Method, path: &str, headers: &HeaderMap) -> bool {
    if path == "/api" || path.starts_with("/api/") {
        return false;
    }
    let header_has = |name: header::HeaderName, needle: &str| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| value.contains(needle))
    };
    header_has(header::ACCEPT, "text/html")
        || (*method == Method::POST
            && header_has(header::CONTENT_TYPE, "application/x-www-form-urlencoded"))
}

/// The local path of the page the browser came from, when it came from this site.
pub fn came_from(headers: &HeaderMap) -> Option<String> {
    let referer = headers.get(header::REFERER)?.to_str().ok()?;
    let host = headers.get(header::HOST)?.to_str().ok()?;
    let rest = referer
        .strip_prefix("https://")
        .or_else(|| referer.strip_prefix("http://"))?;
    let path = rest.strip_prefix(host)?;
    (path.starts_with('/') && !path.starts_with("//")).then(|| path.to_owned())
}

/// The words of one kind of error page: title, what happened (when the error's own message
/// is not meant for people), what to do.
fn words(kind: ErrorKind) -> (&'static str, Option<&'static str>, &'static str) {
    match kind {
        ErrorKind::BadRequest => (
            "That request was not valid",
            None,
            "Check what you entered or the address, and try again.",
        ),
        ErrorKind::SignInNeeded => (
            "Sign-in needed",
            Some("This page needs you to be signed in."),
            "Log in, then open the page again.",
        ),
        ErrorKind::Forbidden => (
            "Not allowed",
            None,
            "Ask an administrator for the right if you need it.",
        ),
        ErrorKind::StaleForm => (
            "Your form expired",
            Some("The form was opened before your session changed (you logged in again, or it was open too long), so it was not sent and nothing changed."),
            "Reload the page and try again.",
        ),
        ErrorKind::NotFound => (
            "Not found",
            None,
            "Check the address, or start again from the overview.",
        ),
        ErrorKind::Conflict => (
            "That conflicts with what exists",
            None,
            "Choose another name, or change the existing one instead.",
        ),
        ErrorKind::TooManyRequests => (
            "Too many attempts",
            None,
            "Wait a moment, then try again.",
        ),
        ErrorKind::Unavailable => (
            "Not reachable right now",
            None,
            "Try again when the host is online; its page shows when it last reported.",
        ),
        ErrorKind::Internal => (
            "Something went wrong",
            Some("The controller could not complete this; the details are in its log."),
            "Try again; if it keeps failing, look at the controller's log.",
        ),
    }
}

/// The error page (pure): inside the normal frame, with links back.
pub fn render(shown: &ShownError, caller: Option<&Caller>, back: Option<&str>) -> Markup {
    let (title, explanation, advice) = words(shown.kind);
    let content = html! {
        section.error-page #error-page data-status=(shown.status.as_u16()) {
            h1 { (title) }
            p.what { (explanation.unwrap_or(&shown.message)) }
            p.advice { (advice) }
            p.links {
                @match (shown.kind, back) {
                    (ErrorKind::SignInNeeded, _) => { a.button href="/login" { "Log in" } }
                    (ErrorKind::StaleForm, Some(back)) => { a.button href=(back) #error-back { "Reload the form" } }
                    (_, Some(back)) => { a.button href=(back) #error-back { "Back" } }
                    (_, None) => {}
                }
                " "
                a href="/" { "Overview" }
            }
            p.sub { "Error " (shown.status.as_u16()) }
        }
    };
    layout::page_for(Frame::new(title, Nav::Nothing), caller, content)
}

/// The middleware around every route: error responses to browsers become [`render`]'s page
/// with the same status (and `Retry-After`).
pub async fn layer(request: Request, next: Next) -> Response {
    if !wants_html(request.method(), request.uri().path(), request.headers()) {
        return next.run(request).await;
    }
    let headers = request.headers().clone();
    let state = request.extensions().get::<AppState>().cloned();
    let response = next.run(request).await;
    let Some(shown) = response.extensions().get::<ShownError>().cloned() else {
        return response;
    };
    let caller = match &state {
        Some(state) => auth::authenticate(state, &headers).await.ok().flatten(),
        None => None,
    };
    let back = came_from(&headers);
    let mut page = (
        shown.status,
        render(&shown, caller.as_ref(), back.as_deref()),
    )
        .into_response();
    if let Some(retry_after) = response.headers().get(header::RETRY_AFTER) {
        page.headers_mut()
            .insert(header::RETRY_AFTER, retry_after.clone());
    }
    page.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    page
}

/// The fallback for paths no route has.
pub async fn not_found(uri: Uri) -> ApiError {
    ApiError::NotFound(format!("there is no page at {}", uri.path()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::auth::Role;
    use axum::http::StatusCode;

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(name.clone(), HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn issue_19_browsers_get_pages_and_the_api_and_scripts_get_json() {
        let browser = headers(&[(header::ACCEPT, "text/html,application/xhtml+xml,*/*;q=0.8")]);
        assert!(wants_html(&Method::GET, "/hosts/nas", &browser));
        assert!(wants_html(&Method::GET, "/no/such/page", &browser));
        assert!(!wants_html(&Method::GET, "/api/v1/hosts/nas", &browser));
        assert!(!wants_html(&Method::GET, "/api", &browser));
        let form = headers(&[(header::CONTENT_TYPE, "application/x-www-form-urlencoded")]);
        assert!(wants_html(&Method::POST, "/settings/users", &form));
        assert!(!wants_html(&Method::POST, "/api/v1/users", &form));
        let script = headers(&[(header::ACCEPT, "application/json")]);
        assert!(!wants_html(&Method::GET, "/hosts/nas", &script));
        assert!(!wants_html(&Method::GET, "/", &HeaderMap::new()));
    }

    #[test]
    fn issue_19_the_back_link_only_points_into_this_site() {
        let from = |referer: &str| {
            came_from(&headers(&[
                (header::HOST, "nas.lan:8443"),
                (header::REFERER, referer),
            ]))
        };
        assert_eq!(
            from("https://nas.lan:8443/settings?x=1").as_deref(),
            Some("/settings?x=1")
        );
        assert_eq!(from("http://nas.lan:8443/").as_deref(), Some("/"));
        assert_eq!(from("https://evil.example/settings"), None);
        assert_eq!(from("https://nas.lan:8443.evil.example/settings"), None);
        assert_eq!(from("https://nas.lan:8443//evil.example/"), None);
        assert_eq!(from("javascript:alert(1)"), None);
    }

    #[test]
    fn issue_19_a_duplicate_user_is_a_page_saying_what_happened_and_what_to_do() {
        let shown = ShownError {
            status: StatusCode::CONFLICT,
            kind: ErrorKind::Conflict,
            message: "user <ada> exists".into(),
        };
        let caller = layout::tests::caller(Role::Admin);
        let html = render(&shown, Some(&caller), Some("/settings")).into_string();
        assert!(html.starts_with("<!DOCTYPE html>"), "{html}");
        assert!(
            html.contains("<h1>That conflicts with what exists</h1>"),
            "{html}"
        );
        assert!(html.contains("user &lt;ada&gt; exists"), "escaped: {html}");
        assert!(html.contains("Choose another name"), "{html}");
        assert!(
            html.contains("id=\"error-back\" href=\"/settings\""),
            "{html}"
        );
        assert!(
            html.contains("action=\"/logout\""),
            "inside the frame: {html}"
        );
        assert!(!html.contains("\"error\":"), "no JSON: {html}");
    }

    #[test]
    fn issue_19_a_stale_form_says_reload_without_advice_for_api_clients() {
        let shown = ShownError {
            status: StatusCode::FORBIDDEN,
            kind: ErrorKind::StaleForm,
            message: ApiError::StaleForm.to_string(),
        };
        let html = render(&shown, None, Some("/agents")).into_string();
        assert!(html.contains("<h1>Your form expired</h1>"), "{html}");
        assert!(html.contains("Reload the page and try again."), "{html}");
        assert!(html.contains("Reload the form"), "{html}");
        assert!(!html.contains("X-CSRF-Token"), "{html}");
        let not_signed_in = ShownError {
            status: StatusCode::UNAUTHORIZED,
            kind: ErrorKind::SignInNeeded,
            message: ApiError::Unauthorized.to_string(),
        };
        let html = render(&not_signed_in, None, None).into_string();
        assert!(!html.contains("Bearer"), "{html}");
        assert!(html.contains("href=\"/login\""), "{html}");
    }
}
