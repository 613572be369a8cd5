//! Everything that can go wrong in a request, and the one place each becomes a response: a
//! status with a JSON body `{"error": ..., "status": ...}` (plus `Retry-After` and
//! `WWW-Authenticate` where they apply), or the redirect to the login form for pages. The
//! domain's errors map here once.

use crate::domain::error::DomainError;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

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
    /// The second factor's code is wrong or was used before.
    #[error("wrong or already used code")]
    SecondFactorFailed,
    /// Authenticated, but without the right this needs; the message says which.
    #[error("{0}")]
    Denied(String),
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
            DomainError::Forbidden(message) => ApiError::Denied(message),
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
            ApiError::Unauthorized
            | ApiError::TokenExpired { .. }
            | ApiError::LoginFailed
            | ApiError::SecondFactorFailed => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) | ApiError::Denied(_) => StatusCode::FORBIDDEN,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_map_to_statuses_with_json_messages() {
        let response = ApiError::TooManyRequests {
            retry_after_secs: 7,
        }
        .into_response();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()["retry-after"], "7");
        assert_eq!(
            ApiError::Unauthorized.into_response().status(),
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            ApiError::Forbidden("x").into_response().status(),
            StatusCode::FORBIDDEN
        );
        let redirect = ApiError::LoginPage.into_response();
        assert_eq!(redirect.status(), StatusCode::SEE_OTHER);
        assert_eq!(redirect.headers()["location"], "/login");
    }
}
