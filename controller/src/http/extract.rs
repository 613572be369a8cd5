//! Extractors whose rejections are [`ApiError`]s with clear messages (JSON bodies, forms,
//! query strings, path segments), and [`blocking`]: a handler's store work run off the async
//! threads.

use super::error::ApiError;
use crate::context::Context;
use axum::extract::rejection::{FormRejection, JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;
use std::sync::Arc;

/// Largest request body accepted (JSON and forms are small).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

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
