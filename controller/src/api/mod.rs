//! The REST API (`/api/v1/...`, JSON) and `/metrics`: a face over [`crate::domain`], served
//! with the dashboard pages by [`crate::http::server`] on `api_listen`.
//!
//! The API is split by intent: [`read`] (GET), [`write`](mod@write) (changes, admins only,
//! audited) and [`execute`] (commands sent to agents); [`session`] logs in and out. Each
//! handler parses its request, calls the domain off the async threads and answers JSON; every
//! error becomes a response in one place, `http::error::ApiError`'s `IntoResponse`.

pub mod alerts;
pub mod backups;
pub mod execute;
pub mod host_state;
pub mod metrics;
pub mod openapi;
pub mod operations;
pub mod read;
pub mod session;
pub mod updates;
pub mod write;

use crate::config::Config;
use crate::http::error::ApiError;
use crate::http::state::AppState;
use axum::routing::{delete, get, post, put};
use axum::Router;

/// The REST API's routes (`/api/v1/...` and `/metrics`). Warns when `/metrics` is readable
/// without a token beyond this machine.
pub fn router(config: &Config) -> Router<AppState> {
    if metrics::open_beyond_loopback(config) {
        tracing::warn!(
            api_listen = %config.api_listen,
            "/metrics is readable without a token by anyone who can reach api_listen; set metrics_token to require one."
        );
    }
    let api = Router::new()
        .route("/login", post(session::login))
        .route("/logout", post(session::logout))
        .route("/session", get(session::session))
        .route("/openapi.json", get(openapi::document))
        .route("/alerts", get(alerts::alerts))
        .route("/hosts", get(read::hosts))
        .route("/hosts/{agent_id}", get(read::host))
        .route("/hosts/{agent_id}/series", get(read::series))
        .route("/hosts/{agent_id}/storage", get(host_state::storage))
        .route("/hosts/{agent_id}/databases", get(host_state::databases))
        .route("/hosts/{agent_id}/containers", get(host_state::containers))
        .route("/hosts/{agent_id}/plugins", get(host_state::plugins))
        .route(
            "/hosts/{agent_id}/maintenance-windows",
            get(updates::host_windows).put(updates::set_host_windows),
        )
        .route(
            "/hosts/{agent_id}/update-policy",
            get(updates::host_policy).put(updates::set_host_policy),
        )
        .route(
            "/hosts/{agent_id}/containers/{name}/update-policy",
            get(updates::container_policy).put(updates::set_container_policy),
        )
        .route(
            "/hosts/{agent_id}/containers/{name}/{verb}",
            post(operations::operate),
        )
        .route(
            "/hosts/{agent_id}/containers/{name}/backups",
            get(backups::list),
        )
        .route(
            "/hosts/{agent_id}/containers/{name}/backups/diff",
            get(backups::diff_handler),
        )
        .route("/operations", get(operations::list))
        .route("/operations/{id}", get(operations::get))
        .route("/updates", get(updates::list))
        .route("/updates/check", post(updates::check_now))
        .route("/registries", get(updates::registries))
        .route(
            "/registries/{registry}",
            put(updates::set_registry).delete(updates::delete_registry),
        )
        .route("/hosts/{agent_id}/query", get(read::query))
        .route(
            "/hosts/{agent_id}/revoke",
            post(write::revoke_agent_handler),
        )
        .route("/hosts/{agent_id}/ping", post(execute::ping))
        .route("/hosts/{agent_id}/collect", post(execute::collect_now))
        .route(
            "/join-tokens",
            get(read::join_tokens).post(write::create_join_token_handler),
        )
        .route("/users", get(read::users).post(write::create_user_handler))
        .route("/users/{name}", delete(write::delete_user_handler))
        .route(
            "/api-tokens",
            get(read::api_tokens).post(write::create_api_token_handler),
        )
        .route(
            "/api-tokens/{token_id}",
            delete(write::delete_api_token_handler),
        )
        .route("/audit", get(read::audit))
        .fallback(|| async {
            ApiError::NotFound("no such API endpoint; see /api/v1/openapi.json".into())
        });
    Router::new()
        .nest("/api/v1", api)
        .route("/metrics", get(metrics::metrics))
}

#[cfg(test)]
mod tests;
