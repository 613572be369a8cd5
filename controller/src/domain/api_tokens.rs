//! API tokens for scripts and Grafana: created for a user with a scope (`read`, `operate` or
//! `admin`: at most view, operate or the user's own rights), optionally limited to a host
//! group, and an optional expiry; shown once and stored as their hash; listed with their last
//! use; revoked by deleting them. A request with a token never gets more than its user may
//! do on the host concerned (`access::of_user`).

use super::access;
use super::audit::{self, AuditAction};
use super::error::DomainError;
use crate::clock::now_ms;
use crate::context::Context;
use crate::domain::actor::Actor;
use crate::storage::access::ALL_HOSTS;
use crate::storage::auth::{self as store_auth, ApiTokenRecord, TokenScope};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// A token as listed (never its secret).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ApiTokenView {
    pub token_id: String,
    pub owner: String,
    pub name: String,
    pub created_at_ms: i64,
    /// `read` or `admin` in JSON.
    #[serde(with = "scope_word")]
    pub scope: TokenScope,
    /// Unix milliseconds; `null`: never.
    pub expires_at_ms: Option<i64>,
    pub expired: bool,
    /// Unix milliseconds, to the minute; `null`: never used.
    pub last_used_ms: Option<i64>,
    /// Only the hosts of this host group; `null`: every host of its user.
    pub host_group: Option<String>,
}

/// A scope as its word in JSON (`read`, `admin`); the store keeps it by position.
mod scope_word {
    use crate::storage::auth::TokenScope;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(scope: &TokenScope, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(scope.as_str())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<TokenScope, D::Error> {
        let word = String::deserialize(deserializer)?;
        TokenScope::parse(&word)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown scope {word:?}")))
    }
}

/// A new API token: who it acts as, what it may do, for how long.
#[derive(Debug, Clone, Copy)]
pub struct NewApiToken<'a> {
    pub owner: &'a str,
    pub name: &'a str,
    pub scope: TokenScope,
    /// `None`: never expires.
    pub expires_in: Option<Duration>,
    /// Only the hosts of this host group; `None`: every host of its user.
    pub host_group: Option<&'a str>,
}

/// Unix milliseconds as RFC 3339 (UTC, seconds).
pub fn rfc3339(ms: i64) -> String {
    let time = std::time::UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64);
    humantime::format_rfc3339_seconds(time).to_string()
}

/// Parses a token scope: `read`, `operate` or `admin`.
pub fn parse_scope(text: &str) -> Result<TokenScope, DomainError> {
    TokenScope::parse(text).ok_or_else(|| {
        DomainError::Invalid(format!(
            "bad scope {text:?}: expected read, operate or admin"
        ))
    })
}

/// Parses an API token's lifetime: `never` (`None`), or 1 minute to 3650 days.
pub fn parse_lifetime(text: &str) -> Result<Option<Duration>, DomainError> {
    if text == "never" {
        return Ok(None);
    }
    let bad = || {
        DomainError::Invalid(format!(
            "bad token expiry {text:?}: expected never or a duration such as 30d or 1y, between 1m and 3650d"
        ))
    };
    let lifetime = humantime::parse_duration(text).map_err(|_| bad())?;
    if lifetime < Duration::from_secs(60) || lifetime > Duration::from_secs(3650 * 86400) {
        return Err(bad());
    }
    Ok(Some(lifetime))
}

/// Every API token, oldest first, as of `now_ms`. Note that this uses blocking I/O.
pub fn list(ctx: &Context, now_ms: i64) -> Result<Vec<ApiTokenView>, DomainError> {
    Ok(ctx
        .store
        .auth
        .api_tokens()?
        .into_iter()
        .map(|token| ApiTokenView {
            expired: token.is_expired(now_ms),
            scope: token.scope,
            token_id: token.token_id,
            owner: token.owner,
            name: token.name,
            created_at_ms: token.created_at_ms,
            expires_at_ms: token.expires_at_ms,
            last_used_ms: token.last_used_ms,
            host_group: token.host_group,
        })
        .collect())
}

/// The API tokens `user` may see: all for admins, their own for everyone else. Note that
/// this uses blocking I/O.
pub fn visible_to(
    ctx: &Context,
    user: &str,
    is_admin: bool,
) -> Result<Vec<ApiTokenView>, DomainError> {
    Ok(list(ctx, now_ms())?
        .into_iter()
        .filter(|token| is_admin || token.owner == user)
        .collect())
}

/// Creates an API token; returns the token (shown once) and its record. The scope may not
/// exceed the owner's role. Note that this uses blocking I/O.
pub fn create(
    ctx: &Context,
    actor: &Actor,
    new: &NewApiToken<'_>,
) -> Result<(String, ApiTokenRecord), DomainError> {
    let NewApiToken {
        owner,
        name,
        scope,
        expires_in,
        host_group,
    } = *new;
    let user = ctx
        .store
        .auth
        .user(owner)?
        .ok_or_else(|| DomainError::NotFound(format!("no user named {owner:?}")))?;
    if name.is_empty() || name.len() > 100 {
        return Err(DomainError::Invalid(
            "bad token name: 1 to 100 characters".into(),
        ));
    }
    let role = access::of_user(ctx, &user, None)?.role_word();
    if scope != TokenScope::Read && role == "viewer" {
        return Err(DomainError::Invalid(format!(
            "bad scope {:?}: {owner} is a {role}, and a token never has more rights than its user",
            scope.as_str(),
        )));
    }
    if let Some(group) = host_group {
        if group != ALL_HOSTS && ctx.store.access.host_group(group)?.is_none() {
            return Err(DomainError::NotFound(format!(
                "no host group named {group:?}"
            )));
        }
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
        host_group: host_group
            .filter(|group| *group != ALL_HOSTS)
            .map(str::to_owned),
    };
    ctx.store
        .auth
        .put_api_token(store_auth::secret_hash(&token), &record)?;
    let expires = record
        .expires_at_ms
        .map_or_else(|| "never".to_owned(), rfc3339);
    audit::record(
        ctx,
        actor,
        AuditAction::ApiTokenCreate,
        &format!(
            "{} ({name}) for {owner}, scope {}, hosts {}, expires {expires}",
            record.token_id,
            scope.as_str(),
            record.host_group.as_deref().unwrap_or(ALL_HOSTS)
        ),
    )?;
    ctx.store.flush()?;
    Ok((token, record))
}

/// Revokes (deletes) the token with public id `token_id`; requests with it fail from now on.
/// Note that this uses blocking I/O.
pub fn revoke(ctx: &Context, actor: &Actor, token_id: &str) -> Result<ApiTokenRecord, DomainError> {
    let record = ctx
        .store
        .auth
        .delete_api_token(token_id)?
        .ok_or_else(|| DomainError::NotFound(format!("no API token {token_id:?}")))?;
    audit::record(
        ctx,
        actor,
        AuditAction::ApiTokenRevoke,
        &format!("{token_id} ({}) of {}", record.name, record.owner),
    )?;
    ctx.store.flush()?;
    Ok(record)
}
