//! Join tokens: single-use secrets with an expiry that let a new host enroll, stored only as
//! their hash, and the join command that carries one with the CA's pin.

use super::audit::{self, AuditAction};
use super::error::DomainError;
use crate::clock::now_ms;
use crate::context::Context;
use crate::domain::actor::Actor;
use crate::storage::agents::{token_hash, TokenRecord};
use serde::{Deserialize, Serialize};
use std::time::Duration;
use unity_shared::proto::AgentId;

/// A token just created: the secret is shown this once, with the command that uses it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JoinToken {
    pub token: String,
    pub token_id: String,
    pub expires_at: i64,
    pub join_command: String,
}

/// A stored token, without its secret.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JoinTokenSummary {
    pub token_id: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
    pub used_by: Option<AgentId>,
}

/// Parses a join token lifetime: 1 minute to 30 days.
pub fn parse_ttl(text: &str) -> Result<Duration, DomainError> {
    let ttl = humantime::parse_duration(text).map_err(|_| {
        DomainError::Invalid(format!(
            "bad ttl {text:?}: expected a duration such as 30m, 1h or 2d"
        ))
    })?;
    if ttl < Duration::from_secs(60) || ttl > Duration::from_secs(30 * 86400) {
        return Err(DomainError::Invalid(format!(
            "bad ttl {text:?}: must be between 1m and 30d"
        )));
    }
    Ok(ttl)
}

/// Creates a join token valid for `ttl`, without an audit entry (the operator's CLI). Note
/// that this uses blocking I/O.
pub fn issue(ctx: &Context, ttl: Duration) -> Result<JoinToken, DomainError> {
    let token_id = hex::encode(rand::random::<[u8; 4]>());
    let secret = hex::encode(rand::random::<[u8; 12]>());
    let token = format!("{token_id}.{secret}");
    let now = now_ms() / 1000;
    let expires_at = now + ttl.as_secs() as i64;
    let record = TokenRecord {
        token_id: token_id.clone(),
        created_at: now,
        expires_at,
        used_at: None,
        used_by: None,
    };
    ctx.store.agents.put_token(token_hash(&token), &record)?;
    ctx.store.flush()?;
    let join_command = format!(
        "unity-agent enroll --controller {} --token {} --ca-hash {}",
        ctx.config.advertise,
        token,
        ctx.ca.ca_hash()
    );
    Ok(JoinToken {
        token,
        token_id,
        expires_at,
        join_command,
    })
}

/// Creates a join token valid for `ttl` on behalf of `actor`, audited. Note that this uses
/// blocking I/O.
pub fn create(ctx: &Context, actor: &Actor, ttl: Duration) -> Result<JoinToken, DomainError> {
    let token = issue(ctx, ttl)?;
    audit::record(ctx, actor, AuditAction::JoinTokenCreate, &token.token_id)?;
    Ok(token)
}

/// Every join token in the store's order (never their secrets). Note that this uses blocking
/// I/O.
pub fn list(ctx: &Context) -> Result<Vec<JoinTokenSummary>, DomainError> {
    Ok(ctx
        .store
        .agents
        .tokens()?
        .into_iter()
        .map(|token| JoinTokenSummary {
            token_id: token.token_id,
            created_at: token.created_at,
            expires_at: token.expires_at,
            used_at: token.used_at,
            used_by: token.used_by,
        })
        .collect())
}

/// Every join token, newest first. Note that this uses blocking I/O.
pub fn newest_first(ctx: &Context) -> Result<Vec<JoinTokenSummary>, DomainError> {
    let mut tokens = list(ctx)?;
    tokens.sort_by_key(|token| std::cmp::Reverse(token.created_at));
    Ok(tokens)
}
