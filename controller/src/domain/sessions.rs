//! Who is acting: logging in (a password checked against its argon2 hash, a session opened),
//! logging out, and finding the user behind a session id or an API token. Login attempts and
//! sessions are audited. The HTTP faces turn these into cookies and extractors (`http::auth`).

use super::api_tokens::rfc3339;
use super::audit::{self, AuditAction};
use super::error::DomainError;
use crate::clock::now_ms;
use crate::context::Context;
use crate::storage::auth::{
    self as store_auth, Role, SessionRecord, TokenScope, LAST_USED_RESOLUTION_MS,
};

/// A user found behind an API token.
#[derive(Debug, Clone)]
pub struct TokenHolder {
    pub user: String,
    /// The lesser of the token's scope and the user's current role.
    pub role: Role,
    pub token_id: String,
    pub scope: TokenScope,
}

/// What an API token turned out to be.
#[derive(Debug, Clone)]
pub enum TokenLookup {
    /// No such token, or its user is gone.
    Unknown,
    /// The token's expiry has passed.
    Expired {
        token_id: String,
        expired_at: String,
    },
    /// A valid token.
    Valid(TokenHolder),
}

/// A user found behind a session cookie.
#[derive(Debug, Clone)]
pub struct SessionHolder {
    pub user: String,
    pub role: Role,
    pub csrf_token: String,
}

/// A successful login: the cookie value and the session's CSRF token.
pub struct NewSession {
    pub session_id: String,
    pub csrf_token: String,
    pub role: Role,
}

/// A session event, with the user as its target too.
fn audit(ctx: &Context, at_ms: i64, actor: &str, action: AuditAction) -> Result<(), DomainError> {
    audit::record_at(ctx, at_ms, actor, action, actor)
}

/// The user behind an API token (hashed), recording its use to the minute. Note that this
/// uses blocking I/O.
pub fn token_holder(ctx: &Context, token_hash: [u8; 32]) -> Result<TokenLookup, DomainError> {
    let Some(record) = ctx.store.auth.api_token(token_hash)? else {
        return Ok(TokenLookup::Unknown);
    };
    let now = now_ms();
    if let Some(expires_at_ms) = record.expires_at_ms.filter(|_| record.is_expired(now)) {
        return Ok(TokenLookup::Expired {
            token_id: record.token_id,
            expired_at: rfc3339(expires_at_ms),
        });
    }
    let Some(user) = ctx.store.auth.user(&record.owner)? else {
        return Ok(TokenLookup::Unknown);
    };
    let stale = record
        .last_used_ms
        .is_none_or(|at_ms| now - at_ms >= LAST_USED_RESOLUTION_MS);
    if stale {
        if let Err(error) = ctx.store.auth.touch_api_token(token_hash, now) {
            tracing::warn!(token_id = %record.token_id, %error, "Recording an API token's use failed.");
        }
    }
    Ok(TokenLookup::Valid(TokenHolder {
        user: user.name,
        role: record.scope.cap(user.role),
        token_id: record.token_id,
        scope: record.scope,
    }))
}

/// The user behind a session (hashed id), if it has not expired. Note that this uses blocking
/// I/O.
pub fn session_holder(
    ctx: &Context,
    session_hash: [u8; 32],
) -> Result<Option<SessionHolder>, DomainError> {
    let Some(session) = ctx.store.auth.session(session_hash, now_ms())? else {
        return Ok(None);
    };
    Ok(ctx
        .store
        .auth
        .user(&session.user)?
        .map(|user| SessionHolder {
            user: user.name,
            role: user.role,
            csrf_token: session.csrf_token,
        }))
}

/// Checks the password and opens a session of `ttl_ms`; `None` for a wrong name or password.
/// An unknown name is checked against `decoy_hash`, so it takes as long as a wrong password.
/// Note that this uses blocking I/O and takes tens of milliseconds.
pub fn login(
    ctx: &Context,
    name: &str,
    password: &str,
    decoy_hash: &str,
    ttl_ms: i64,
) -> Result<Option<NewSession>, DomainError> {
    let user = ctx.store.auth.user(name)?;
    let hash = user
        .as_ref()
        .map_or(decoy_hash, |user| user.password_hash.as_str());
    let valid = store_auth::verify_password(password, hash);
    let now = now_ms();
    let Some(user) = user.filter(|_| valid) else {
        audit(ctx, now, name, AuditAction::SessionLoginFailed)?;
        return Ok(None);
    };
    let session_id = store_auth::random_secret();
    let csrf_token = store_auth::random_secret();
    let record = SessionRecord {
        user: user.name.clone(),
        csrf_token: csrf_token.clone(),
        created_at_ms: now,
        expires_at_ms: now + ttl_ms,
    };
    ctx.store
        .auth
        .put_session(store_auth::secret_hash(&session_id), &record)?;
    audit(ctx, now, &user.name, AuditAction::SessionLogin)?;
    Ok(Some(NewSession {
        session_id,
        csrf_token,
        role: user.role,
    }))
}

/// Ends `user`'s session (hashed id). Note that this uses blocking I/O.
pub fn logout(ctx: &Context, session_hash: [u8; 32], user: &str) -> Result<(), DomainError> {
    ctx.store.auth.delete_session(session_hash)?;
    audit(ctx, now_ms(), user, AuditAction::SessionLogout)
}
