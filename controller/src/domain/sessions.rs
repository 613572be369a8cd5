//! Who is acting: logging in (a password checked against its argon2 hash, then a second
//! factor when the user has one or must enrol one, then a session), logging out, and finding
//! the user and their [`Access`] behind a session id or an API token. Login attempts and
//! sessions are audited. The HTTP faces turn these into cookies and extractors (`http::auth`).

use super::access::{self, Access};
use super::api_tokens::rfc3339;
use super::audit::{self, AuditAction};
use super::error::DomainError;
use crate::clock::now_ms;
use crate::context::Context;
use crate::domain::actor::Actor;
use crate::storage::auth::{
    self as store_auth, PendingLoginRecord, SessionRecord, TokenScope, UserRecord,
    LAST_USED_RESOLUTION_MS,
};

/// How long a login may wait for its second factor.
pub const PENDING_TTL_MS: i64 = 5 * 60_000;

/// A user found behind an API token.
#[derive(Debug, Clone)]
pub struct TokenHolder {
    pub user: String,
    /// The user's rights capped by the token's scope and host group.
    pub access: Access,
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
    pub access: Access,
    pub csrf_token: String,
}

/// A new session: the cookie value and the session's CSRF token.
pub struct NewSession {
    pub user: String,
    pub session_id: String,
    pub csrf_token: String,
    pub access: Access,
}

/// The first step of a login passed; the second factor is owed.
pub struct PendingLogin {
    pub user: String,
    /// The value of the pending-login cookie (stored hashed).
    pub token: String,
    /// The user has no second factor but must enrol one (admins, when required).
    pub must_enrol: bool,
}

/// What a password login came to.
pub enum LoginOutcome {
    /// No second factor owed: a session.
    Session(NewSession),
    /// A second factor is owed.
    SecondFactor(PendingLogin),
    /// Wrong name or password, or passwords are off for this user (OIDC-only mode).
    Failed,
}

/// What password logins are allowed and what they owe.
#[derive(Debug, Clone)]
pub struct LoginPolicy {
    /// When set, only these users may log in with a password (OIDC-only mode's break-glass
    /// accounts); `None`: everyone.
    pub password_users: Option<Vec<String>>,
    /// Users who administer every host must pass a second factor (and enrol one first).
    pub second_factor_for_admins: bool,
}

/// A session event, with the user as its target too.
fn audit(ctx: &Context, at_ms: i64, user: &str, action: AuditAction) -> Result<(), DomainError> {
    audit::record_at(ctx, at_ms, &Actor::user(user), action, user)
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
    let access = access::of_user(
        ctx,
        &user,
        Some((record.scope, record.host_group.as_deref())),
    )?;
    Ok(TokenLookup::Valid(TokenHolder {
        user: user.name,
        access,
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
    let Some(user) = ctx.store.auth.user(&session.user)? else {
        return Ok(None);
    };
    Ok(Some(SessionHolder {
        access: access::of_user(ctx, &user, None)?,
        user: user.name,
        csrf_token: session.csrf_token,
    }))
}

/// Opens a session of `ttl_ms` for `user` with fresh random ids (a login never reuses an id
/// the browser held before) and audits `action`. Note that this uses blocking I/O.
pub fn open_session(
    ctx: &Context,
    user: &UserRecord,
    ttl_ms: i64,
    action: AuditAction,
) -> Result<NewSession, DomainError> {
    let now = now_ms();
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
    audit(ctx, now, &user.name, action)?;
    Ok(NewSession {
        user: user.name.clone(),
        session_id,
        csrf_token,
        access: access::of_user(ctx, user, None)?,
    })
}

/// Checks the password; then opens a session, or a pending login when a second factor is
/// owed. An unknown name is checked against `decoy_hash`, so it takes as long as a wrong
/// password. Note that this uses blocking I/O and takes tens of milliseconds.
pub fn login(
    ctx: &Context,
    name: &str,
    password: &str,
    decoy_hash: &str,
    ttl_ms: i64,
    policy: &LoginPolicy,
) -> Result<LoginOutcome, DomainError> {
    let user = ctx.store.auth.user(name)?;
    let hash = user
        .as_ref()
        .map_or(decoy_hash, |user| user.password_hash.as_str());
    let valid = store_auth::verify_password(password, hash);
    let allowed = policy
        .password_users
        .as_ref()
        .is_none_or(|users| users.iter().any(|allowed| allowed == name));
    let now = now_ms();
    let Some(user) = user.filter(|_| valid && allowed) else {
        audit(ctx, now, name, AuditAction::SessionLoginFailed)?;
        return Ok(LoginOutcome::Failed);
    };
    let has_factor = ctx.store.auth.factors(&user.name)?.any();
    let must_enrol = !has_factor
        && policy.second_factor_for_admins
        && access::of_user(ctx, &user, None)?.is_admin();
    if !has_factor && !must_enrol {
        return open_session(ctx, &user, ttl_ms, AuditAction::SessionLogin)
            .map(LoginOutcome::Session);
    }
    let token = store_auth::random_secret();
    ctx.store.auth.put_pending(
        store_auth::secret_hash(&token),
        &PendingLoginRecord {
            user: user.name.clone(),
            created_at_ms: now,
            expires_at_ms: now + PENDING_TTL_MS,
            must_enrol,
        },
    )?;
    Ok(LoginOutcome::SecondFactor(PendingLogin {
        user: user.name,
        token,
        must_enrol,
    }))
}

/// The pending login behind a pending-login token (hashed), if it has not expired. Note that
/// this uses blocking I/O.
pub fn pending(
    ctx: &Context,
    token_hash: [u8; 32],
) -> Result<Option<PendingLoginRecord>, DomainError> {
    Ok(ctx.store.auth.pending(token_hash, now_ms())?)
}

/// Ends `user`'s session (hashed id). Note that this uses blocking I/O.
pub fn logout(ctx: &Context, session_hash: [u8; 32], user: &str) -> Result<(), DomainError> {
    ctx.store.auth.delete_session(session_hash)?;
    audit(ctx, now_ms(), user, AuditAction::SessionLogout)
}
