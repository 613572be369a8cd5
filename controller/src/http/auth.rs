//! Who is calling: session cookies (with a CSRF token for changes), bearer API tokens, the
//! login and logout endpoints.
//!
//! A session id is 32 random bytes, sent in an `HttpOnly; SameSite=Strict` cookie (plus
//! `Secure` over HTTPS) and stored as its SHA-256. A state-changing request authenticated by
//! cookie must carry the session's CSRF token (header `X-CSRF-Token`, or the `csrf` form field
//! for dashboard forms); bearer-token requests are exempt, as browsers never send them on their
//! own.
//!
//! A bearer request acts with the lesser of the token's scope and its user's current role; an
//! expired token is refused (401) with a message that says so.
//!
//! Logins are limited by [`super::login_limit`]: per (client address, user name) with growing
//! delays, and per client address across names.

use super::client_addr::ClientAddr;
use super::error::ApiError;
use super::extract::blocking;
use super::login_limit::Outcome;
use super::state::AppState;
use crate::domain::sessions::{self, NewSession, TokenLookup};
use crate::storage::auth::{self as store_auth, Role, TokenScope};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue};

pub const SESSION_COOKIE: &str = "unity_session";
pub const CSRF_HEADER: &str = "x-csrf-token";

/// How a caller authenticated.
#[derive(Debug, Clone)]
pub enum Credential {
    /// A session cookie: changes need this CSRF token.
    Session {
        session_hash: [u8; 32],
        csrf_token: String,
    },
    /// An `Authorization: Bearer` API token.
    Bearer { token_id: String, scope: TokenScope },
}

/// An authenticated caller (any role). As an extractor it answers 401 when there is none.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user: String,
    /// What the caller may do: the user's role, capped by an API token's scope.
    pub role: Role,
    pub credential: Credential,
}

impl Caller {
    /// Viewers cannot change anything.
    pub fn require_admin(&self) -> Result<(), ApiError> {
        match (self.role, &self.credential) {
            (Role::Admin, _) => Ok(()),
            (
                Role::Viewer,
                Credential::Bearer {
                    scope: TokenScope::Read,
                    ..
                },
            ) => Err(ApiError::Forbidden(
                "this API token has the read scope and cannot change anything; changes need a token with the admin scope",
            )),
            (Role::Viewer, _) => Err(ApiError::Forbidden(
                "viewers cannot change anything; ask an admin",
            )),
        }
    }

    /// For cookie sessions, `provided` must be the session's CSRF token.
    pub fn require_csrf(&self, provided: Option<&str>) -> Result<(), ApiError> {
        match &self.credential {
            Credential::Bearer { .. } => Ok(()),
            Credential::Session { csrf_token, .. } => match provided {
                Some(provided) if constant_time_eq(provided.as_bytes(), csrf_token.as_bytes()) => Ok(()),
                _ => Err(ApiError::Forbidden(
                    "missing or wrong CSRF token (send the X-CSRF-Token header from /api/v1/session)",
                )),
            },
        }
    }

    /// The CSRF token to put in forms (empty for bearer callers).
    pub fn csrf_token(&self) -> &str {
        match &self.credential {
            Credential::Session { csrf_token, .. } => csrf_token,
            Credential::Bearer { .. } => "",
        }
    }
}

/// Compares without an early exit, so timing does not leak how much of a secret matched.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Finds the caller from a bearer token or a session cookie; `None` if neither is valid.
pub async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<Caller>, ApiError> {
    if let Some(token) = bearer(headers) {
        let token_hash = store_auth::secret_hash(token);
        let lookup = blocking(&state.ctx, move |ctx| {
            sessions::token_holder(ctx, token_hash)
        })
        .await?;
        return match lookup {
            TokenLookup::Unknown => Ok(None),
            TokenLookup::Expired {
                token_id,
                expired_at,
            } => Err(ApiError::TokenExpired {
                token_id,
                expired_at,
            }),
            TokenLookup::Valid(holder) => Ok(Some(Caller {
                user: holder.user,
                role: holder.role,
                credential: Credential::Bearer {
                    token_id: holder.token_id,
                    scope: holder.scope,
                },
            })),
        };
    }
    let Some(session_id) = cookie(headers, SESSION_COOKIE) else {
        return Ok(None);
    };
    let session_hash = store_auth::secret_hash(session_id);
    let holder = blocking(&state.ctx, move |ctx| {
        sessions::session_holder(ctx, session_hash)
    })
    .await?;
    Ok(holder.map(|holder| Caller {
        user: holder.user,
        role: holder.role,
        credential: Credential::Session {
            session_hash,
            csrf_token: holder.csrf_token,
        },
    }))
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        authenticate(state, &parts.headers)
            .await?
            .ok_or(ApiError::Unauthorized)
    }
}

/// An admin allowed to change things: role checked, and the CSRF header for cookie sessions.
#[derive(Debug, Clone)]
pub struct Admin(pub Caller);

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let caller = Caller::from_request_parts(parts, state).await?;
        let header = parts
            .headers
            .get(CSRF_HEADER)
            .and_then(|value| value.to_str().ok());
        caller.require_csrf(header)?;
        caller.require_admin()?;
        Ok(Admin(caller))
    }
}

/// Checks the password (limited per client address and user name) and opens a
/// session. Shared by the API and the login form.
pub async fn login_user(
    state: &AppState,
    client: ClientAddr,
    username: String,
    password: String,
) -> Result<NewSession, ApiError> {
    let attempt = state
        .limiter
        .begin(client.0.ip(), &username)
        .map_err(|wait| ApiError::TooManyRequests {
            retry_after_secs: wait.as_secs_f64().ceil().max(1.0) as u64,
        })?;
    let decoy = state.decoy_hash.clone();
    let ttl_ms = state.ctx.config.session_ttl.as_millis() as i64;
    let name = username.clone();
    let result = blocking(&state.ctx, move |ctx| {
        sessions::login(ctx, &name, &password, &decoy, ttl_ms)
    })
    .await;
    match result {
        Ok(Some(session)) => {
            attempt.settle(Outcome::Success);
            Ok(session)
        }
        Ok(None) => {
            attempt.settle(Outcome::Failure);
            tracing::warn!(client = %client.0.ip(), user = %username, "Failed login.");
            Err(ApiError::LoginFailed)
        }
        Err(error) => {
            attempt.settle(Outcome::Released);
            Err(error)
        }
    }
}

/// Deletes the caller's session (bearer callers have none).
pub async fn logout_caller(state: &AppState, caller: &Caller) -> Result<(), ApiError> {
    let Credential::Session { session_hash, .. } = caller.credential else {
        return Ok(());
    };
    let user = caller.user.clone();
    blocking(&state.ctx, move |ctx| {
        sessions::logout(ctx, session_hash, &user)
    })
    .await
}

/// The `Set-Cookie` value that opens a session.
pub fn session_cookie(state: &AppState, session_id: &str) -> HeaderValue {
    let secure = if state.secure_cookies { "; Secure" } else { "" };
    let max_age = state.ctx.config.session_ttl.as_secs();
    let value = format!("{SESSION_COOKIE}={session_id}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}");
    HeaderValue::try_from(value).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The `Set-Cookie` value that ends a session in the browser.
pub fn clear_cookie(state: &AppState) -> HeaderValue {
    if state.secure_cookies {
        HeaderValue::from_static(
            "unity_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0; Secure",
        )
    } else {
        HeaderValue::from_static("unity_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_and_bearer_tokens_are_parsed() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; unity_session=abc; b=2"),
        );
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("bearer  xyz"),
        );
        assert_eq!(cookie(&headers, SESSION_COOKIE), Some("abc"));
        assert_eq!(cookie(&headers, "c"), None);
        assert_eq!(bearer(&headers), Some("xyz"));
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
