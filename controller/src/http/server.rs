//! The HTTP server on `api_listen`: binds, sets up TLS when configured, wraps the routes the
//! faces give it (the REST API's and the pages') in the shared middleware (body limit, client
//! address, allowed hosts, security headers, gzip) and serves until aborted. It knows no
//! route.

use super::client_addr::{self, ClientAddr};
use super::extract::MAX_BODY_BYTES;
use super::login_limit::LoginLimiter;
use super::state::AppState;
use super::{headers, tls};
use crate::context::Context;
use anyhow::Context as _;
use axum::extract::DefaultBodyLimit;
use axum::Router;
use std::net::SocketAddr;
use std::sync::Arc;

/// `routes` with the shared middleware and `state`.
pub fn app(routes: Router<AppState>, state: AppState) -> Router {
    routes
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            client_addr::resolve,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            headers::allowed_host,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            headers::security_headers,
        ))
        // The route guards (`http::routes`) find the state here.
        .layer(axum::Extension(state.clone()))
        // Outermost: compresses the response as the other layers left it.
        .layer(super::compression::layer())
        .with_state(state)
}

/// Binds `api_listen` and serves `routes` until the task is aborted. Returns the bound
/// address, whether it speaks HTTPS, and the task.
pub async fn serve(
    ctx: Arc<Context>,
    routes: Router<AppState>,
) -> anyhow::Result<(SocketAddr, bool, tokio::task::JoinHandle<()>)> {
    let listen = ctx.config.api_listen;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding the dashboard and API to {listen}"))?;
    let local_addr = listener.local_addr()?;
    let acceptor = tls::acceptor(&ctx, local_addr).await?;
    let decoy_hash = tokio::task::spawn_blocking(|| {
        crate::storage::auth::hash_password(&crate::storage::auth::random_secret())
    })
    .await??;
    let state = AppState {
        ctx,
        limiter: Arc::new(LoginLimiter::default()),
        speaks_tls: acceptor.is_some(),
        decoy_hash: Arc::new(decoy_hash),
    };
    let app = app(routes, state);
    let https = acceptor.is_some();
    let task = match acceptor {
        None => tokio::spawn(async move {
            let service = app.into_make_service_with_connect_info::<ClientAddr>();
            if let Err(error) = axum::serve(listener, service).await {
                tracing::error!(%error, "The dashboard server stopped.");
            }
        }),
        Some(acceptor) => tokio::spawn(async move {
            let listener = tls::TlsListener::new(listener, acceptor);
            let service = app.into_make_service_with_connect_info::<ClientAddr>();
            if let Err(error) = axum::serve(listener, service).await {
                tracing::error!(%error, "The dashboard server stopped.");
            }
        }),
    };
    Ok((local_addr, https, task))
}

/// The dashboard's URL as a person on this machine would type it.
pub fn dashboard_url(addr: SocketAddr, https: bool) -> String {
    let scheme = if https { "https" } else { "http" };
    if addr.ip().is_unspecified() {
        format!("{scheme}://{}:{}/", crate::config::hostname(), addr.port())
    } else {
        format!("{scheme}://{addr}/")
    }
}
