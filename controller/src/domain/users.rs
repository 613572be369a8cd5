//! Dashboard users: adding one (with a password checked for length, hashed with argon2),
//! deleting one (never the last admin), listing them, and the first admin made at first start.

use super::audit::{self, AuditAction};
use super::error::DomainError;
use crate::clock::now_ms;
use crate::context::Context;
use crate::storage::auth::{self as store_auth, Role, UserRecord};
use rand::distributions::{Alphanumeric, DistString};
use serde::Serialize;

/// A user as listed (never the password hash).
#[derive(Debug, Serialize)]
pub struct UserView {
    pub name: String,
    /// `admin` or `viewer` in JSON.
    #[serde(serialize_with = "role_word")]
    pub role: Role,
    pub created_at_ms: i64,
}

/// A role as its word in JSON (`admin`, `viewer`); the store keeps it by position.
fn role_word<S: serde::Serializer>(role: &Role, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(role.as_str())
}

/// A random password people can type: 20 letters and digits (about 119 bits).
pub fn random_password() -> String {
    Alphanumeric.sample_string(&mut rand::thread_rng(), 20)
}

/// Parses a role: `admin` or `viewer`.
pub fn parse_role(text: &str) -> Result<Role, DomainError> {
    Role::parse(text)
        .ok_or_else(|| DomainError::Invalid(format!("bad role {text:?}: expected admin or viewer")))
}

fn check_user_name(name: &str) -> Result<(), DomainError> {
    let valid = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '@'));
    if valid {
        Ok(())
    } else {
        Err(DomainError::Invalid(format!(
            "bad user name {name:?}: 1 to 64 letters, digits, '_', '-', '.' or '@'"
        )))
    }
}

/// Every user, in the store's order. Note that this uses blocking I/O.
pub fn list(ctx: &Context) -> Result<Vec<UserView>, DomainError> {
    Ok(ctx
        .store
        .auth
        .users()?
        .into_iter()
        .map(|user| UserView {
            name: user.name,
            role: user.role,
            created_at_ms: user.created_at_ms,
        })
        .collect())
}

/// Adds a user. Note that hashing the password takes tens of milliseconds.
pub fn create(
    ctx: &Context,
    actor: &str,
    name: &str,
    role: Role,
    password: &str,
) -> Result<(), DomainError> {
    check_user_name(name)?;
    if password.chars().count() < 8 || password.len() > 1024 {
        return Err(DomainError::Invalid(
            "bad password: 8 to 1024 characters".into(),
        ));
    }
    let record = UserRecord {
        name: name.to_owned(),
        role,
        password_hash: store_auth::hash_password(password)
            .map_err(|error| DomainError::Internal(error.to_string()))?,
        created_at_ms: now_ms(),
    };
    if !ctx.store.auth.create_user(&record)? {
        return Err(DomainError::Conflict(format!(
            "a user named {name:?} exists"
        )));
    }
    audit::record(
        ctx,
        actor,
        AuditAction::UserCreate,
        &format!("{name} ({})", role.as_str()),
    )?;
    ctx.store.flush()?;
    Ok(())
}

/// Deletes a user with their sessions and API tokens; the last admin cannot be deleted. Note
/// that this uses blocking I/O.
pub fn delete(ctx: &Context, actor: &str, name: &str) -> Result<(), DomainError> {
    let user = ctx
        .store
        .auth
        .user(name)?
        .ok_or_else(|| DomainError::NotFound(format!("no user named {name:?}")))?;
    if user.role == Role::Admin {
        let n_admins = ctx
            .store
            .auth
            .users()?
            .iter()
            .filter(|u| u.role == Role::Admin)
            .count();
        if n_admins <= 1 {
            return Err(DomainError::Conflict("cannot delete the last admin".into()));
        }
    }
    ctx.store.auth.delete_user(name)?;
    audit::record(ctx, actor, AuditAction::UserDelete, name)?;
    ctx.store.flush()?;
    Ok(())
}

/// On first start (no users yet) creates `admin` with a random password and returns it, to be
/// shown once. Note that this uses blocking I/O.
pub fn ensure_first_admin(ctx: &Context) -> Result<Option<(String, String)>, DomainError> {
    if ctx.store.auth.n_users() > 0 {
        return Ok(None);
    }
    let password = random_password();
    create(ctx, "controller", "admin", Role::Admin, &password)?;
    Ok(Some(("admin".to_owned(), password)))
}
