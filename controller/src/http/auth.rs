//! Who is calling: session cookies (with a CSRF token for changes), bearer API tokens, the
//! login (password, then a second factor when one is owed) and logout.
//!
//! A session id is 32 random bytes, sent in an `HttpOnly; SameSite=Strict` cookie (plus
//! `Secure` over HTTPS) and stored as its SHA-256. A state-changing request authenticated by
//! cookie must carry the session's CSRF token (header `X-CSRF-Token`, or the `csrf` form field
//! for dashboard forms); bearer-token requests are exempt, as browsers never send them on their
//! own. `http::routes` checks both, and the caller's rights, before any handler runs.
//!
//! A login whose second factor is owed gets a pending-login cookie (`unity_pending`, five
//! minutes) instead of a session; the session (with new ids) opens only once the factor
//! passed. Logins and second factors are limited by [`super::login_limit`]: per (client
//! address, user name) with growing delays, and per client address across names.

use super::client_addr::ClientAddr;
use super::csrf;
use super::error::ApiError;
use super::extract::blocking;
use super::login_limit::Outcome;
use super::state::AppState;
use crate::domain::access::{Access, Right};
use crate::domain::actor::Actor;
use crate::domain::second_factor;
use crate::domain::sessions::{
    self, LoginOutcome, LoginPolicy, NewSession, PendingLogin, TokenLookup,
};
use crate::storage::auth::{self as store_auth, TokenScope};
use axum::http::{header, HeaderMap, HeaderValue};
use unity_shared::proto::AgentId;

pub use crate::storage::auth::constant_time_eq;

pub const SESSION_COOKIE: &str = "unity_session";
pub const PENDING_COOKIE: &str = "unity_pending";
pub const CSRF_HEADER: &str = "x-csrf-token";
pub const OIDC_STATE_COOKIE: &str = "unity_oidc";

/// How a caller authenticated.
#[derive(Debug, Clone)]
pub enum Credential {
    /// A session cookie: changes need this CSRF token.
    Session {
        session_hash: [u8; 32],
        /// The session's token: never sent as it is (see `http::csrf`).
        csrf_token: String,
        /// The token masked for this request's response ([`super::csrf::mask`]), what
        /// [`Caller::csrf_token`] hands to pages and the API.
        csrf_masked: String,
    },
    /// An `Authorization: Bearer` API token.
    Bearer { token_id: String, scope: TokenScope },
}

/// An authenticated caller with what they may do. Handlers get it from the request's
/// extensions, where the route guard put it (`http::routes`).
#[derive(Debug, Clone)]
pub struct Caller {
    pub user: String,
    /// The user's rights, capped by an API token's scope and host group.
    pub access: Access,
    pub credential: Credential,
    /// The host the request is about, if its route names one.
    pub host: Option<AgentId>,
    /// The right held on that host.
    pub host_right: Option<Right>,
}

impl Caller {
    /// Who acts, for the audit log and operations: the user for a session, the token (and
    /// its owner) for a bearer token.
    pub fn actor(&self) -> Actor {
        match &self.credential {
            Credential::Session { .. } => Actor::User(self.user.clone()),
            Credential::Bearer { token_id, .. } => Actor::Token {
                id: token_id.clone(),
                owner: self.user.clone(),
            },
        }
    }

    /// Administer on every host (the old admin role).
    pub fn is_admin(&self) -> bool {
        self.access.is_admin()
    }

    /// Whether the caller came with a session cookie (rather than a bearer token).
    pub fn is_session(&self) -> bool {
        matches!(self.credential, Credential::Session { .. })
    }

    /// For cookie sessions, `provided` must be the session's CSRF token (masked as pages and
    /// the API hand it out, or bare; `http::csrf`).
    pub fn require_csrf(&self, provided: Option<&str>) -> Result<(), ApiError> {
        match &self.credential {
            Credential::Bearer { .. } => Ok(()),
            Credential::Session { csrf_token, .. } => match provided {
                Some(provided) if csrf::matches(provided, csrf_token) => Ok(()),
                _ => Err(ApiError::StaleForm),
            },
        }
    }

    /// Changes to one's own sign-in (second factors) need the session itself, not a token.
    pub fn require_session(&self) -> Result<(), ApiError> {
        if self.is_session() {
            Ok(())
        } else {
            Err(ApiError::Forbidden(
                "this needs a signed-in session (log in), not an API token",
            ))
        }
    }

    /// The CSRF token to put in forms: the session's, masked afresh for this request so that
    /// no two responses carry the same bytes (BREACH; `http::csrf`). Empty for bearer callers.
    pub fn csrf_token(&self) -> &str {
        match &self.credential {
            Credential::Session { csrf_masked, .. } => csrf_masked,
            Credential::Bearer { .. } => "",
        }
    }
}

/// The value of the cookie `name` in a request's headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
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
                access: holder.access,
                credential: Credential::Bearer {
                    token_id: holder.token_id,
                    scope: holder.scope,
                },
                host: None,
                host_right: None,
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
        access: holder.access,
        credential: Credential::Session {
            session_hash,
            csrf_masked: csrf::mask(&holder.csrf_token),
            csrf_token: holder.csrf_token,
        },
        host: None,
        host_right: None,
    }))
}

/// What a password login came to.
pub enum Login {
    Session(NewSession),
    SecondFactor(PendingLogin),
}

/// The login policy the configuration sets.
pub fn login_policy(state: &AppState) -> LoginPolicy {
    let auth = &state.ctx.config.auth;
    LoginPolicy {
        password_users: auth
            .oidc
            .as_ref()
            .filter(|oidc| oidc.only)
            .map(|oidc| oidc.break_glass.clone()),
        second_factor_for_admins: auth.second_factor_for_admins,
    }
}

fn session_ttl_ms(state: &AppState) -> i64 {
    state.ctx.config.session_ttl.as_millis() as i64
}

/// Checks the password (limited per client address and user name) and opens a session, or a
/// pending login when a second factor is owed. Shared by the API and the login form.
pub async fn login_user(
    state: &AppState,
    client: ClientAddr,
    username: String,
    password: String,
) -> Result<Login, ApiError> {
    let attempt = state
        .limiter
        .begin(client.0.ip(), &username)
        .map_err(|wait| ApiError::TooManyRequests {
            retry_after_secs: wait.as_secs_f64().ceil().max(1.0) as u64,
        })?;
    let decoy = state.decoy_hash.clone();
    let ttl_ms = session_ttl_ms(state);
    let policy = login_policy(state);
    let name = username.clone();
    let result = blocking(&state.ctx, move |ctx| {
        sessions::login(ctx, &name, &password, &decoy, ttl_ms, &policy)
    })
    .await;
    match result {
        Ok(LoginOutcome::Session(session)) => {
            attempt.settle(Outcome::Success);
            Ok(Login::Session(session))
        }
        Ok(LoginOutcome::SecondFactor(pending)) => {
            // The password was right; the second factor is limited on its own.
            attempt.settle(Outcome::Success);
            Ok(Login::SecondFactor(pending))
        }
        Ok(LoginOutcome::Failed) => {
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

/// The pending login behind the request's pending-login cookie: its hash and user.
pub async fn pending_login(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<([u8; 32], crate::storage::auth::PendingLoginRecord)>, ApiError> {
    let Some(token) = cookie(headers, PENDING_COOKIE) else {
        return Ok(None);
    };
    let hash = store_auth::secret_hash(token);
    let record = blocking(&state.ctx, move |ctx| sessions::pending(ctx, hash)).await?;
    Ok(record.map(|record| (hash, record)))
}

/// The second step of a login: a TOTP or recovery code for the pending login in the cookie,
/// limited like passwords (per client address and user). Opens the session when it passes.
pub async fn second_factor(
    state: &AppState,
    client: ClientAddr,
    headers: &HeaderMap,
    code: String,
) -> Result<NewSession, ApiError> {
    let Some((hash, pending)) = pending_login(state, headers).await? else {
        return Err(ApiError::BadRequest(
            "no login is waiting for a second factor (or it expired); log in again".into(),
        ));
    };
    let limited_name = format!("second-factor:{}", pending.user);
    let attempt = state
        .limiter
        .begin(client.0.ip(), &limited_name)
        .map_err(|wait| ApiError::TooManyRequests {
            retry_after_secs: wait.as_secs_f64().ceil().max(1.0) as u64,
        })?;
    let ttl_ms = session_ttl_ms(state);
    let now_s = crate::clock::now_ms().max(0) as u64 / 1000;
    let result = blocking(&state.ctx, move |ctx| {
        second_factor::complete_login(ctx, hash, &code, now_s, ttl_ms)
    })
    .await;
    match result {
        Ok(Some(session)) => {
            attempt.settle(Outcome::Success);
            Ok(session)
        }
        Ok(None) => {
            attempt.settle(Outcome::Failure);
            tracing::warn!(client = %client.0.ip(), user = %pending.user, "Failed second factor.");
            Err(ApiError::SecondFactorFailed)
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

/// A cookie for this site. `Secure` is added to every cookie of an HTTPS request by
/// `http::headers::security_headers`, in one place.
fn set_cookie(name: &str, value: &str, max_age_s: u64) -> HeaderValue {
    let value = format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_s}");
    HeaderValue::try_from(value).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The `Set-Cookie` value that opens a session.
pub fn session_cookie(state: &AppState, session_id: &str) -> HeaderValue {
    set_cookie(
        SESSION_COOKIE,
        session_id,
        state.ctx.config.session_ttl.as_secs(),
    )
}

/// The `Set-Cookie` value that ends a session in the browser.
pub fn clear_cookie() -> HeaderValue {
    set_cookie(SESSION_COOKIE, "", 0)
}

/// The `Set-Cookie` value of a pending login.
pub fn pending_cookie(token: &str) -> HeaderValue {
    set_cookie(
        PENDING_COOKIE,
        token,
        (sessions::PENDING_TTL_MS / 1000) as u64,
    )
}

/// The `Set-Cookie` value that ties an OpenID Connect sign-in to this browser: its `state`,
/// for the callback only. `SameSite=Lax`, as the provider sends the browser back with a
/// cross-site navigation, on which `Strict` cookies are not sent.
pub fn oidc_state_cookie(value: &str, max_age_s: u64) -> HeaderValue {
    let value = format!(
        "{OIDC_STATE_COOKIE}={value}; Path=/login/oidc; HttpOnly; SameSite=Lax; Max-Age={max_age_s}"
    );
    HeaderValue::try_from(value).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The `Set-Cookie` value that forgets a pending login.
pub fn clear_pending_cookie() -> HeaderValue {
    set_cookie(PENDING_COOKIE, "", 0)
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
