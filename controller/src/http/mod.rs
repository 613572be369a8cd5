//! HTTP plumbing shared by the two HTTP faces, the REST API (`crate::api`) and the dashboard
//! pages (`crate::web`), which call the domain as siblings and never each other:
//!
//! - [`state`]: what every handler shares ([`state::AppState`]).
//! - [`error`]: [`error::ApiError`] and its one `IntoResponse`, the domain's errors mapped once.
//! - [`extract`]: extractors with clear rejections, and [`extract::blocking`].
//! - [`auth`]: who is calling (session cookie with CSRF, or bearer API token), logging in and
//!   out with the [`login_limit`]; the extractors both faces use. [`csrf`]: the token masked
//!   afresh for every response, and unmasked to check it.
//! - [`compression`]: gzip for pages, styles, scripts and JSON (not event streams).
//! - [`routes`]: the route table both faces build from, each route with its
//!   [`Need`](crate::domain::access::Need), and the one guard that authorizes every request
//!   (caller, CSRF, host, [`check`](crate::domain::access::check)).
//! - [`client_addr`], [`headers`], [`tls`]: middleware (`X-Forwarded-For` from trusted
//!   proxies, allowed hosts, security headers) and HTTPS.
//! - [`server`]: binds `api_listen` and serves the routes the faces give it.
//!
//! It lives apart from both faces so the pages need nothing of the REST API: the session and
//! CSRF extractors, the login limit and the error mapping are the same for both.

pub mod auth;
pub mod client_addr;
pub mod compression;
pub mod csrf;
pub mod error;
pub mod extract;
pub mod headers;
pub mod login_limit;
pub mod routes;
pub mod scheme;
pub mod server;
pub mod state;
pub mod tls;
