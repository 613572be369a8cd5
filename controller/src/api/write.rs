//! Changes (admins only, CSRF-checked for cookie sessions, every one audited): join tokens,
//! agent revocation, users and API tokens. The operations are plain functions so the dashboard
//! forms and the CLI (through [`crate::admin`]) share them.

use super::auth::Admin;
use super::{blocking, ApiError, ApiJson, ApiPath, AppState};
use crate::admin::{self, TokenView};
use crate::clock::now_ms;
use crate::context::Context;
use crate::storage::auth::{
    self as store_auth, ApiTokenRecord, AuditRecord, Role, TokenScope, UserRecord,
};
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use rand::distributions::{Alphanumeric, DistString};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Records a change in the audit log.
pub fn audit(ctx: &Context, actor: &str, action: &str, target: &str) -> Result<(), ApiError> {
    ctx.store.auth.audit(&AuditRecord {
        at_ms: now_ms(),
        actor: actor.to_owned(),
        action: action.to_owned(),
        target: target.to_owned(),
    })?;
    Ok(())
}

/// A random password people can type: 20 letters and digits (about 119 bits).
pub fn random_password() -> String {
    Alphanumeric.sample_string(&mut rand::thread_rng(), 20)
}

fn check_user_name(name: &str) -> Result<(), ApiError> {
    let valid = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '@'));
    if valid {
        Ok(())
    } else {
        Err(ApiError::BadRequest(format!(
            "bad user name {name:?}: 1 to 64 letters, digits, '_', '-', '.' or '@'"
        )))
    }
}

/// Creates a join token valid for `ttl`.
pub fn create_join_token(ctx: &Context, actor: &str, ttl: Duration) -> Result<TokenView, ApiError> {
    let token = admin::create_token(ctx, ttl)?;
    audit(ctx, actor, "join_token.create", &token.token_id)?;
    Ok(token)
}

/// Revokes an agent; returns whether it was connected.
pub fn revoke_agent(ctx: &Context, actor: &str, agent_id: &str) -> Result<bool, ApiError> {
    let agent_id = super::read::parse_agent_id(agent_id)?;
    if ctx.store.registry.agent(&agent_id)?.is_none() {
        return Err(ApiError::NotFound(format!(
            "no host with agent id {agent_id}"
        )));
    }
    let was_connected = admin::revoke(ctx, &agent_id)?;
    audit(ctx, actor, "agent.revoke", agent_id.as_str())?;
    Ok(was_connected)
}

/// Adds a user. Note that hashing the password takes tens of milliseconds.
pub fn create_user(
    ctx: &Context,
    actor: &str,
    name: &str,
    role: Role,
    password: &str,
) -> Result<(), ApiError> {
    check_user_name(name)?;
    if password.chars().count() < 8 || password.len() > 1024 {
        return Err(ApiError::BadRequest(
            "bad password: 8 to 1024 characters".into(),
        ));
    }
    let record = UserRecord {
        name: name.to_owned(),
        role,
        password_hash: store_auth::hash_password(password)
            .map_err(|error| ApiError::Internal(error.to_string()))?,
        created_at_ms: now_ms(),
    };
    if !ctx.store.auth.create_user(&record)? {
        return Err(ApiError::Conflict(format!("a user named {name:?} exists")));
    }
    audit(
        ctx,
        actor,
        "user.create",
        &format!("{name} ({})", role.as_str()),
    )?;
    ctx.store.flush()?;
    Ok(())
}

/// Deletes a user with their sessions and API tokens; the last admin cannot be deleted.
pub fn delete_user(ctx: &Context, actor: &str, name: &str) -> Result<(), ApiError> {
    let user = ctx
        .store
        .auth
        .user(name)?
        .ok_or_else(|| ApiError::NotFound(format!("no user named {name:?}")))?;
    if user.role == Role::Admin {
        let n_admins = ctx
            .store
            .auth
            .users()?
            .iter()
            .filter(|u| u.role == Role::Admin)
            .count();
        if n_admins <= 1 {
            return Err(ApiError::Conflict("cannot delete the last admin".into()));
        }
    }
    ctx.store.auth.delete_user(name)?;
    audit(ctx, actor, "user.delete", name)?;
    ctx.store.flush()?;
    Ok(())
}

/// A new API token: who it acts as, what it may do, for how long.
#[derive(Debug, Clone, Copy)]
pub struct NewApiToken<'a> {
    pub owner: &'a str,
    pub name: &'a str,
    pub scope: TokenScope,
    /// `None`: never expires.
    pub expires_in: Option<Duration>,
}

/// Creates an API token; returns the token (shown once) and its record. The scope may not
/// exceed the owner's role.
pub fn create_scoped_api_token(
    ctx: &Context,
    actor: &str,
    new: &NewApiToken<'_>,
) -> Result<(String, ApiTokenRecord), ApiError> {
    let NewApiToken {
        owner,
        name,
        scope,
        expires_in,
    } = *new;
    let user = ctx
        .store
        .auth
        .user(owner)?
        .ok_or_else(|| ApiError::NotFound(format!("no user named {owner:?}")))?;
    if name.is_empty() || name.len() > 100 {
        return Err(ApiError::BadRequest(
            "bad token name: 1 to 100 characters".into(),
        ));
    }
    if scope == TokenScope::Admin && user.role != Role::Admin {
        return Err(ApiError::BadRequest(format!(
            "bad scope {:?}: {owner} is a {}, and a token never has more rights than its user",
            scope.as_str(),
            user.role.as_str()
        )));
    }
    let token = format!("unity_{}", store_auth::random_secret());
    let now = now_ms();
    let record = ApiTokenRecord {
        token_id: hex::encode(rand::random::<[u8; 6]>()),
        owner: owner.to_owned(),
        name: name.to_owned(),
        created_at_ms: now,
        scope,
        expires_at_ms: expires_in.map(|lifetime| now.saturating_add(lifetime.as_millis() as i64)),
        last_used_ms: None,
    };
    ctx.store
        .auth
        .put_api_token(store_auth::secret_hash(&token), &record)?;
    let expires = record
        .expires_at_ms
        .map_or_else(|| "never".to_owned(), super::auth::rfc3339);
    audit(
        ctx,
        actor,
        "api_token.create",
        &format!(
            "{} ({name}) for {owner}, scope {}, expires {expires}",
            record.token_id,
            scope.as_str()
        ),
    )?;
    ctx.store.flush()?;
    Ok((token, record))
}

/// Creates a token with the least privilege (read scope, no expiry). The dashboard's form uses
/// it until it offers a scope and an expiry.
pub fn create_api_token(
    ctx: &Context,
    actor: &str,
    owner: &str,
    name: &str,
) -> Result<(String, ApiTokenRecord), ApiError> {
    let new = NewApiToken {
        owner,
        name,
        scope: TokenScope::Read,
        expires_in: None,
    };
    create_scoped_api_token(ctx, actor, &new)
}

/// Revokes (deletes) the token with public id `token_id`; requests with it fail from now on.
pub fn revoke_api_token(
    ctx: &Context,
    actor: &str,
    token_id: &str,
) -> Result<ApiTokenRecord, ApiError> {
    let record = ctx
        .store
        .auth
        .delete_api_token(token_id)?
        .ok_or_else(|| ApiError::NotFound(format!("no API token {token_id:?}")))?;
    audit(
        ctx,
        actor,
        "api_token.revoke",
        &format!("{token_id} ({}) of {}", record.name, record.owner),
    )?;
    ctx.store.flush()?;
    Ok(record)
}

/// Parses a token scope: `read` or `admin`.
pub fn parse_scope(text: &str) -> Result<TokenScope, ApiError> {
    TokenScope::parse(text)
        .ok_or_else(|| ApiError::BadRequest(format!("bad scope {text:?}: expected read or admin")))
}

/// Parses an API token's lifetime: `never` (`None`), or 1 minute to 3650 days.
pub fn parse_token_lifetime(text: &str) -> Result<Option<Duration>, ApiError> {
    if text == "never" {
        return Ok(None);
    }
    let bad = || {
        ApiError::BadRequest(format!(
            "bad token expiry {text:?}: expected never or a duration such as 30d or 1y, between 1m and 3650d"
        ))
    };
    let lifetime = humantime::parse_duration(text).map_err(|_| bad())?;
    if lifetime < Duration::from_secs(60) || lifetime > Duration::from_secs(3650 * 86400) {
        return Err(bad());
    }
    Ok(Some(lifetime))
}

/// On first start (no users yet) creates `admin` with a random password and returns it, to be
/// shown once. Note that this uses blocking I/O.
pub fn ensure_first_admin(ctx: &Context) -> Result<Option<(String, String)>, ApiError> {
    if ctx.store.auth.n_users() > 0 {
        return Ok(None);
    }
    let password = random_password();
    create_user(ctx, "controller", "admin", Role::Admin, &password)?;
    Ok(Some(("admin".to_owned(), password)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateJoinToken {
    /// Lifetime such as `30m` or `2d`; default `token_ttl` from the configuration.
    pub ttl: Option<String>,
}

/// `POST /api/v1/join-tokens`.
pub async fn create_join_token_handler(
    State(state): State<AppState>,
    Admin(caller): Admin,
    ApiJson(request): ApiJson<CreateJoinToken>,
) -> Result<(StatusCode, Json<TokenView>), ApiError> {
    let ttl = match request.ttl.as_deref() {
        Some(text) => parse_ttl(text)?,
        None => state.ctx.config.token_ttl,
    };
    blocking(&state.ctx, move |ctx| {
        create_join_token(ctx, &caller.user, ttl)
    })
    .await
    .map(|token| (StatusCode::CREATED, Json(token)))
}

/// Parses a join token lifetime: 1 minute to 30 days.
pub fn parse_ttl(text: &str) -> Result<Duration, ApiError> {
    let ttl = humantime::parse_duration(text).map_err(|_| {
        ApiError::BadRequest(format!(
            "bad ttl {text:?}: expected a duration such as 30m, 1h or 2d"
        ))
    })?;
    if ttl < Duration::from_secs(60) || ttl > Duration::from_secs(30 * 86400) {
        return Err(ApiError::BadRequest(format!(
            "bad ttl {text:?}: must be between 1m and 30d"
        )));
    }
    Ok(ttl)
}

#[derive(Debug, Serialize)]
pub struct Revoked {
    pub agent_id: String,
    pub was_connected: bool,
}

/// `POST /api/v1/hosts/{agent_id}/revoke`.
pub async fn revoke_agent_handler(
    State(state): State<AppState>,
    Admin(caller): Admin,
    ApiPath(agent_id): ApiPath<String>,
) -> Result<Json<Revoked>, ApiError> {
    blocking(&state.ctx, move |ctx| {
        let was_connected = revoke_agent(ctx, &caller.user, &agent_id)?;
        Ok(Revoked {
            agent_id,
            was_connected,
        })
    })
    .await
    .map(Json)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    pub name: String,
    /// `admin` or `viewer`.
    pub role: String,
    /// At least 8 characters; omit to have one generated and returned once.
    pub password: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct CreatedUser {
    pub name: String,
    pub role: &'static str,
    /// Only when it was generated.
    pub password: Option<String>,
}

pub fn parse_role(text: &str) -> Result<Role, ApiError> {
    Role::parse(text)
        .ok_or_else(|| ApiError::BadRequest(format!("bad role {text:?}: expected admin or viewer")))
}

/// `POST /api/v1/users`.
pub async fn create_user_handler(
    State(state): State<AppState>,
    Admin(caller): Admin,
    ApiJson(request): ApiJson<CreateUser>,
) -> Result<(StatusCode, Json<CreatedUser>), ApiError> {
    let role = parse_role(&request.role)?;
    let generated = request.password.is_none().then(random_password);
    let password = request
        .password
        .or_else(|| generated.clone())
        .unwrap_or_default();
    blocking(&state.ctx, move |ctx| {
        create_user(ctx, &caller.user, &request.name, role, &password)?;
        Ok(CreatedUser {
            name: request.name,
            role: role.as_str(),
            password: generated,
        })
    })
    .await
    .map(|user| (StatusCode::CREATED, Json(user)))
}

/// `DELETE /api/v1/users/{name}`.
pub async fn delete_user_handler(
    State(state): State<AppState>,
    Admin(caller): Admin,
    ApiPath(name): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    blocking(&state.ctx, move |ctx| delete_user(ctx, &caller.user, &name)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateApiToken {
    pub name: String,
    /// The user the token acts as; default the caller.
    pub user: Option<String>,
    /// `read` (default: viewer rights) or `admin` (the user's rights; admins only).
    pub scope: Option<String>,
    /// Lifetime such as `30d` or `1y`, or `never` (default).
    pub expires_in: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct CreatedApiToken {
    /// Send as `Authorization: Bearer <token>`. Shown once; only its hash is stored.
    pub token: String,
    pub token_id: String,
    pub owner: String,
    pub name: String,
    pub scope: &'static str,
    /// Unix milliseconds; `null`: never.
    pub expires_at_ms: Option<i64>,
}

/// `POST /api/v1/api-tokens`.
pub async fn create_api_token_handler(
    State(state): State<AppState>,
    Admin(caller): Admin,
    ApiJson(request): ApiJson<CreateApiToken>,
) -> Result<(StatusCode, Json<CreatedApiToken>), ApiError> {
    let scope = parse_scope(request.scope.as_deref().unwrap_or("read"))?;
    let expires_in = parse_token_lifetime(request.expires_in.as_deref().unwrap_or("never"))?;
    blocking(&state.ctx, move |ctx| {
        let owner = request.user.unwrap_or_else(|| caller.user.clone());
        let new = NewApiToken {
            owner: &owner,
            name: &request.name,
            scope,
            expires_in,
        };
        let (token, record) = create_scoped_api_token(ctx, &caller.user, &new)?;
        Ok(CreatedApiToken {
            token,
            token_id: record.token_id,
            owner: record.owner,
            name: record.name,
            scope: record.scope.as_str(),
            expires_at_ms: record.expires_at_ms,
        })
    })
    .await
    .map(|token| (StatusCode::CREATED, Json(token)))
}

/// `DELETE /api/v1/api-tokens/{token_id}`: revokes the token.
pub async fn delete_api_token_handler(
    State(state): State<AppState>,
    Admin(caller): Admin,
    ApiPath(token_id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    blocking(&state.ctx, move |ctx| {
        revoke_api_token(ctx, &caller.user, &token_id)
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
