//! Everything that can go wrong in a request, and the one place each becomes a response: a
//! status with a JSON body `{"error": ..., "status": ...}` (plus `Retry-After` and
//! `WWW-Authenticate` where they apply), or the redirect to the login form for pages. The
//! domain's errors map here once.
//!
//! Every error response also carries a [`ShownError`] in its extensions: what happened, in a
//! [`ErrorKind`] the dashboard's error-page layer (`web::error_page`) turns into an HTML page
//! for browsers, so no handler decides between JSON and HTML.

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
    /// Authenticated, but not allowed (role).
    #[error("{0}")]
    Forbidden(&'static str),
    /// A change made with a session cookie came without the session's CSRF token (a form
    /// opened before the session changed, or a forged request).
    #[error("missing or wrong CSRF token (send the X-CSRF-Token header from /api/v1/session)")]
    StaleForm,
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

/// What kind of failure an error response reports, for the words of its HTML page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    BadRequest,
    SignInNeeded,
    Forbidden,
    StaleForm,
    NotFound,
    Conflict,
    TooManyRequests,
    Unavailable,
    Internal,
}

/// The error an error response reports, kept in the response's extensions.
#[derive(Debug, Clone)]
pub struct ShownError {
    pub status: StatusCode,
    pub kind: ErrorKind,
    /// The error's message, as the JSON body has it.
    pub message: String,
}

impl ApiError {
    fn kind(&self) -> ErrorKind {
        match self {
            ApiError::BadRequest(_) | ApiError::Rejected { .. } | ApiError::MisdirectedHost(_) => {
                ErrorKind::BadRequest
            }
            ApiError::Unauthorized
            | ApiError::TokenExpired { .. }
            | ApiError::LoginFailed
            | ApiError::SecondFactorFailed
            | ApiError::LoginPage => ErrorKind::SignInNeeded,
            ApiError::Forbidden(_) | ApiError::Denied(_) => ErrorKind::Forbidden,
            ApiError::StaleForm => ErrorKind::StaleForm,
            ApiError::NotFound(_) => ErrorKind::NotFound,
            ApiError::Conflict(_) => ErrorKind::Conflict,
            ApiError::TooManyRequests { .. } => ErrorKind::TooManyRequests,
            ApiError::Unavailable(_) => ErrorKind::Unavailable,
            ApiError::Internal(_) => ErrorKind::Internal,
        }
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
            ApiError::Forbidden(_) | ApiError::Denied(_) | ApiError::StaleForm => {
                StatusCode::FORBIDDEN
            }
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
        let message = self.to_string();
        let body = serde_json::json!({ "error": message, "status": status.as_u16() });
        let mut response = (status, axum::Json(body)).into_response();
        response.extensions_mut().insert(ShownError {
            status,
            kind: self.kind(),
            message,
        });
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

    #[test]
    fn issue_19_error_responses_carry_what_they_report_for_the_error_pages() {
        let response = ApiError::Conflict("user ada exists".into()).into_response();
        let shown = response.extensions().get::<ShownError>().cloned();
        let shown = shown.unwrap_or_else(|| panic!("no ShownError"));
        assert_eq!(shown.status, StatusCode::CONFLICT);
        assert_eq!(shown.kind, ErrorKind::Conflict);
        assert_eq!(shown.message, "user ada exists");
        let stale = ApiError::StaleForm.into_response();
        assert_eq!(stale.status(), StatusCode::FORBIDDEN);
        assert_eq!(
            stale
                .extensions()
                .get::<ShownError>()
                .map(|shown| shown.kind),
            Some(ErrorKind::StaleForm)
        );
        let redirect = ApiError::LoginPage.into_response();
        assert!(redirect.extensions().get::<ShownError>().is_none());
    }
}
