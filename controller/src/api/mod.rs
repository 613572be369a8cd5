//! The HTTP side of the controller: the REST API (`/api/v1/...`, JSON), the dashboard pages
//! ([`crate::web`]) and `/metrics`, on `api_listen`, over HTTPS when configured.
//!
//! The API is split by intent: [`read`] (GET), [`write`](mod@write) (changes, admins only,
//! audited) and [`execute`] (commands sent to agents). [`auth`] holds sessions, CSRF, bearer
//! tokens; [`login_limit`] the login limit. Every error becomes a response in exactly one place:
//! [`ApiError`]'s `IntoResponse`.

pub mod alerts;
pub mod auth;
pub mod backups;
pub mod client_addr;
pub mod execute;
pub mod headers;
pub mod host_state;
pub mod login_limit;
pub mod metrics;
pub mod openapi;
pub mod operations;
pub mod read;
mod tls;
pub mod updates;
pub mod write;

pub use client_addr::ClientAddr;

use crate::context::Context;
use crate::domain::error::DomainError;
use anyhow::Context as _;
use axum::extract::rejection::{FormRejection, JsonRejection, PathRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, Request};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::Router;
use serde::de::DeserializeOwned;
use std::net::SocketAddr;
use std::sync::Arc;

/// Largest request body accepted (JSON and forms are small).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub ctx: Arc<Context>,
    pub limiter: Arc<login_limit::LoginLimiter>,
    /// Whether cookies get `Secure` and responses `Strict-Transport-Security` (the server
    /// speaks HTTPS).
    pub secure_cookies: bool,
    /// A valid argon2 hash checked against when the user does not exist, so a login for an
    /// unknown name takes as long as one with a wrong password.
    pub decoy_hash: Arc<String>,
}

/// Everything that can go wrong in a request, mapped to a status in [`IntoResponse`] below.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is malformed (bad parameter, bad range, bad value).
    #[error("{0}")]
    BadRequest(String),
    /// An extractor refused the request (bad JSON, unknown field, body too large, ...).
    #[error("{message}")]
    Rejected { status: StatusCode, message: String },
    /// No valid session cookie or bearer token.
    #[error("authentication required: log in or send `Authorization: Bearer <API token>`")]
    Unauthorized,
    /// The API token's expiry has passed.
    #[error("API token {token_id} expired at {expired_at}; create a new one")]
    TokenExpired {
        token_id: String,
        expired_at: String,
    },
    /// The user name or password is wrong.
    #[error("wrong user name or password")]
    LoginFailed,
    /// Authenticated, but not allowed (role, CSRF).
    #[error("{0}")]
    Forbidden(&'static str),
    /// The `Host` is not one of `allowed_hosts` (or missing while they are set).
    #[error("{0}")]
    MisdirectedHost(String),
    /// The thing named in the path does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The change conflicts with what exists (e.g. a user name taken).
    #[error("{0}")]
    Conflict(String),
    /// Too many failed logins; try again after this many seconds.
    #[error("too many failed logins; retry in {retry_after_secs} s")]
    TooManyRequests { retry_after_secs: u64 },
    /// The agent is not connected or did not answer.
    #[error("{0}")]
    Unavailable(String),
    /// A bug or a storage failure; details are logged, not sent.
    #[error("internal error")]
    Internal(String),
    /// A dashboard page needs a login: redirect to the login page.
    #[error("login required")]
    LoginPage,
}

impl From<DomainError> for ApiError {
    fn from(error: DomainError) -> Self {
        match error {
            DomainError::Invalid(message) => ApiError::BadRequest(message),
            DomainError::NotFound(message) => ApiError::NotFound(message),
            DomainError::Conflict(message) => ApiError::Conflict(message),
            DomainError::Unavailable(message) => ApiError::Unavailable(message),
            DomainError::Storage(error) => ApiError::Internal(error.to_string()),
            DomainError::Series(error) => ApiError::Internal(error.to_string()),
            DomainError::Internal(detail) => ApiError::Internal(detail),
        }
    }
}

impl From<crate::storage::StorageError> for ApiError {
    fn from(error: crate::storage::StorageError) -> Self {
        ApiError::Internal(error.to_string())
    }
}

impl From<crate::storage::series::SeriesError> for ApiError {
    fn from(error: crate::storage::series::SeriesError) -> Self {
        ApiError::Internal(error.to_string())
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(error: anyhow::Error) -> Self {
        ApiError::Internal(format!("{error:#}"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match &self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Rejected { status, .. } => *status,
            ApiError::Unauthorized | ApiError::TokenExpired { .. } | ApiError::LoginFailed => {
                StatusCode::UNAUTHORIZED
            }
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::MisdirectedHost(_) => StatusCode::MISDIRECTED_REQUEST,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(detail) => {
                tracing::error!(error = %detail, "Request failed.");
                StatusCode::INTERNAL_SERVER_ERROR
            }
            ApiError::LoginPage => {
                return (StatusCode::SEE_OTHER, [(header::LOCATION, "/login")]).into_response()
            }
        };
        let body = serde_json::json!({ "error": self.to_string(), "status": status.as_u16() });
        let mut response = (status, axum::Json(body)).into_response();
        if let ApiError::TooManyRequests { retry_after_secs } = self {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
        }
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

fn rejected(status: StatusCode, message: String) -> ApiError {
    ApiError::Rejected { status, message }
}

/// `axum::Json` whose rejections are [`ApiError`]s (clear JSON messages).
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;
    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            Err(error) => Err(json_rejection(error)),
        }
    }
}

fn json_rejection(error: JsonRejection) -> ApiError {
    let message = match &error {
        JsonRejection::MissingJsonContentType(_) => {
            "expected a JSON body with `Content-Type: application/json`".to_owned()
        }
        _ => format!("bad JSON body: {}", error.body_text()),
    };
    rejected(error.status(), message)
}

/// `axum::Form` whose rejections are [`ApiError`]s.
pub struct ApiForm<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiForm<T> {
    type Rejection = ApiError;
    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        axum::Form::<T>::from_request(request, state)
            .await
            .map(|axum::Form(value)| ApiForm(value))
            .map_err(|error: FormRejection| {
                rejected(error.status(), format!("bad form: {}", error.body_text()))
            })
    }
}

/// `axum::extract::Query` whose rejections are [`ApiError`]s.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;
    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(value)| ApiQuery(value))
            .map_err(|error: QueryRejection| {
                rejected(
                    StatusCode::BAD_REQUEST,
                    format!("bad query string: {}", error.body_text()),
                )
            })
    }
}

/// `axum::extract::Path` whose rejections are [`ApiError`]s.
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;
    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(value)| ApiPath(value))
            .map_err(|error: PathRejection| {
                rejected(error.status(), format!("bad path: {}", error.body_text()))
            })
    }
}

/// Runs blocking work (sled, argon2) off the async threads.
pub async fn blocking<T: Send + 'static, E: Into<ApiError> + Send + 'static>(
    ctx: &Arc<Context>,
    work: impl FnOnce(&Context) -> Result<T, E> + Send + 'static,
) -> Result<T, ApiError> {
    let ctx = ctx.clone();
    tokio::task::spawn_blocking(move || work(&ctx).map_err(Into::into))
        .await
        .map_err(|error| ApiError::Internal(format!("blocking task failed: {error}")))?
}

/// The whole HTTP surface.
pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/login", post(auth::login))
        .route("/logout", post(auth::logout))
        .route("/session", get(auth::session))
        .route("/openapi.json", get(openapi::document))
        .route("/alerts", get(alerts::alerts))
        .route("/hosts", get(read::hosts))
        .route("/hosts/{agent_id}", get(read::host))
        .route("/hosts/{agent_id}/series", get(read::series))
        .route("/hosts/{agent_id}/storage", get(host_state::storage))
        .route("/hosts/{agent_id}/databases", get(host_state::databases))
        .route("/hosts/{agent_id}/containers", get(host_state::containers))
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
        .merge(crate::web::router())
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            client_addr::resolve,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            headers::allowed_host,
        ))
        .layer(axum::middleware::map_response_with_state(
            state.clone(),
            headers::security_headers,
        ))
        .with_state(state)
}

/// Binds `api_listen` and serves the dashboard and API until the task is aborted. Returns the
/// bound address, whether it speaks HTTPS, and the task.
pub async fn serve(
    ctx: Arc<Context>,
) -> anyhow::Result<(SocketAddr, bool, tokio::task::JoinHandle<()>)> {
    let listen = ctx.config.api_listen;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding the dashboard and API to {listen}"))?;
    let local_addr = listener.local_addr()?;
    if metrics::open_beyond_loopback(&ctx.config) {
        tracing::warn!(
            api_listen = %listen,
            "/metrics is readable without a token by anyone who can reach api_listen; set metrics_token to require one."
        );
    }
    let acceptor = tls::acceptor(&ctx, local_addr).await?;
    let decoy_hash = tokio::task::spawn_blocking(|| {
        crate::storage::auth::hash_password(&crate::storage::auth::random_secret())
    })
    .await??;
    let state = AppState {
        ctx,
        limiter: Arc::new(login_limit::LoginLimiter::default()),
        secure_cookies: acceptor.is_some(),
        decoy_hash: Arc::new(decoy_hash),
    };
    let app = router(state);
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

#[cfg(test)]
mod tests;
