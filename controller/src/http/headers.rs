//! Response hardening and the `Host` check, around every request (pages, API, `/metrics`,
//! assets, errors).
//!
//! [`security_headers`] sets the Content-Security-Policy and friends, and, for a request that
//! reached the user over HTTPS (`http::scheme`: the server's own TLS, or a trusted proxy's
//! `X-Forwarded-Proto`), `Strict-Transport-Security` and `Secure` on every cookie. [`allowed_host`] refuses requests
//! whose `Host` is not in `allowed_hosts` (when that list is set) with 421: a page on another
//! site whose name was re-pointed at this controller (DNS rebinding) sends its own name, so it
//! cannot reach the API even on loopback.

use super::client_addr::ClientAddr;
use super::error::ApiError;
use super::scheme::{self, RequestScheme};
use super::state::AppState;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// The dashboard loads only its own scripts and styles, is never framed, posts forms only to
/// itself and has no `<base>`.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'";

/// One year; no `includeSubDomains`, as other services on a homelab domain may be plain HTTP.
pub const STRICT_TRANSPORT_SECURITY: &str = "max-age=31536000";

/// The scheme of `request`, from its TCP peer (this runs before `client_addr::resolve`).
fn scheme_of(state: &AppState, request: &Request) -> RequestScheme {
    let Some(ConnectInfo(ClientAddr(peer))) = request.extensions().get::<ConnectInfo<ClientAddr>>()
    else {
        return if state.speaks_tls {
            RequestScheme::Https
        } else {
            RequestScheme::Http
        };
    };
    let forwarded_proto = request
        .headers()
        .get_all("x-forwarded-proto")
        .iter()
        .filter_map(|value| value.to_str().ok());
    scheme::request_scheme(
        state.speaks_tls,
        peer.ip(),
        forwarded_proto,
        &state.ctx.config.trusted_proxies,
    )
}

/// Middleware: decides the request's scheme (recorded for handlers), then the hardening
/// headers on every response.
pub async fn security_headers(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let request_scheme = scheme_of(&state, &request);
    request.extensions_mut().insert(request_scheme);
    let mut response = next.run(request).await;
    let too_large = response.status() == StatusCode::PAYLOAD_TOO_LARGE;
    let headers = response.headers_mut();
    // The rest of a body too large was never read, so the connection cannot carry another
    // request: say so, or a client reuses it and its next request fails ("connection closed
    // before message completed").
    if too_large {
        headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if request_scheme.is_https() {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(STRICT_TRANSPORT_SECURITY),
        );
        let cookies: Vec<HeaderValue> = headers
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|cookie| {
                cookie
                    .to_str()
                    .ok()
                    .and_then(scheme::secure_cookie)
                    .and_then(|secure| HeaderValue::try_from(secure).ok())
                    .unwrap_or_else(|| cookie.clone())
            })
            .collect();
        headers.remove(header::SET_COOKIE);
        for cookie in cookies {
            headers.append(header::SET_COOKIE, cookie);
        }
    }
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// Middleware: with `allowed_hosts` set, only requests for one of those names pass.
pub async fn allowed_host(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let allowed = &state.ctx.config.allowed_hosts;
    if allowed.is_empty() {
        return next.run(request).await;
    }
    let authority = request
        .headers()
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .or_else(|| {
            request
                .uri()
                .authority()
                .map(|authority| authority.as_str())
        });
    let name = authority.and_then(crate::config::host_name);
    match name {
        Some(name) if allowed.contains(&name) => next.run(request).await,
        Some(name) => ApiError::MisdirectedHost(format!(
            "the host name {name:?} is not in this controller's allowed_hosts; use the address the dashboard is configured for"
        ))
        .into_response(),
        None => ApiError::MisdirectedHost(
            "the request names no host; allowed_hosts is set, so it needs a Host header".into(),
        )
        .into_response(),
    }
}
