//! Dashboard users: adding one (with a password checked for length, hashed with argon2, and
//! its groups), changing a user's groups or password, deleting one (never the last admin),
//! listing them, and the first admin made at first start.

use super::access;
use super::audit::{self, AuditAction};
use super::error::DomainError;
use crate::clock::now_ms;
use crate::context::Context;
use crate::domain::actor::Actor;
use crate::storage::access::{ADMINS, VIEWERS};
use crate::storage::auth::{self as store_auth, Role, UserRecord};
use rand::distributions::{Alphanumeric, DistString};
use serde::Serialize;

/// A user as listed (never the password hash).
#[derive(Debug, Clone, Serialize)]
pub struct UserView {
    pub name: String,
    /// `admin` (administer on all hosts), `viewer` (view on all hosts) or `member`.
    pub role: &'static str,
    pub groups: Vec<String>,
    /// Whether the user has a second factor (TOTP).
    pub second_factor: bool,
    pub created_at_ms: i64,
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

/// The groups a role stands for: `admin` -> `admins`, `viewer` -> `viewers`.
pub fn role_groups(role: Role) -> Vec<String> {
    vec![match role {
        Role::Admin => ADMINS.to_owned(),
        Role::Viewer => VIEWERS.to_owned(),
    }]
}

/// Checks a user or group name: 1 to 64 letters, digits, `_`, `-`, `.` or `@`.
pub fn check_name(what: &str, name: &str) -> Result<(), DomainError> {
    let valid = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '@'));
    if valid {
        Ok(())
    } else {
        Err(DomainError::Invalid(format!(
            "bad {what} name {name:?}: 1 to 64 letters, digits, '_', '-', '.' or '@'"
        )))
    }
}

fn check_password(password: &str) -> Result<(), DomainError> {
    if password.chars().count() < 8 || password.len() > 1024 {
        return Err(DomainError::Invalid(
            "bad password: 8 to 1024 characters".into(),
        ));
    }
    Ok(())
}

fn check_groups(ctx: &Context, groups: &[String]) -> Result<(), DomainError> {
    for group in groups {
        if ctx.store.access.group(group)?.is_none() {
            return Err(DomainError::NotFound(format!(
                "no user group named {group:?}"
            )));
        }
    }
    Ok(())
}

/// A user's view. Note that this uses blocking I/O.
pub fn view(ctx: &Context, user: UserRecord) -> Result<UserView, DomainError> {
    let access = access::of_user(ctx, &user, None)?;
    Ok(UserView {
        role: access.role_word(),
        second_factor: ctx.store.auth.factors(&user.name)?.any(),
        name: user.name,
        groups: user.groups,
        created_at_ms: user.created_at_ms,
    })
}

/// Every user, in the store's order. Note that this uses blocking I/O.
pub fn list(ctx: &Context) -> Result<Vec<UserView>, DomainError> {
    ctx.store
        .auth
        .users()?
        .into_iter()
        .map(|user| view(ctx, user))
        .collect()
}

/// Adds a user in `groups`. Note that hashing the password takes tens of milliseconds.
pub fn create(
    ctx: &Context,
    actor: &Actor,
    name: &str,
    groups: &[String],
    password: &str,
) -> Result<(), DomainError> {
    check_name("user", name)?;
    check_password(password)?;
    check_groups(ctx, groups)?;
    let record = UserRecord {
        name: name.to_owned(),
        legacy_role: Role::Viewer,
        password_hash: store_auth::hash_password(password)
            .map_err(|error| DomainError::Internal(error.to_string()))?,
        created_at_ms: now_ms(),
        groups: groups.to_vec(),
        oidc: None,
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
        &format!("{name} ({})", groups.join(", ")),
    )?;
    ctx.store.flush()?;
    Ok(())
}

/// Names of the users who administer every host.
fn admins(ctx: &Context) -> Result<Vec<String>, DomainError> {
    let mut names = Vec::new();
    for user in ctx.store.auth.users()? {
        if access::of_user(ctx, &user, None)?.is_admin() {
            names.push(user.name);
        }
    }
    Ok(names)
}

/// Refuses a change that leaves no user administering every host.
fn keep_an_admin(ctx: &Context, before: &[String]) -> Result<(), DomainError> {
    if !before.is_empty() && admins(ctx)?.is_empty() {
        return Err(DomainError::Conflict(
            "this would leave no user who administers every host".into(),
        ));
    }
    Ok(())
}

/// Whether `name` signs in at the OpenID Connect provider. Note that this uses blocking I/O.
pub fn is_oidc_user(ctx: &Context, name: &str) -> Result<bool, DomainError> {
    Ok(ctx
        .store
        .auth
        .user(name)?
        .is_some_and(|user| user.oidc.is_some()))
}

/// Replaces a user's groups; never leaves the controller without an admin. Note that this
/// uses blocking I/O.
pub fn set_groups(
    ctx: &Context,
    actor: &Actor,
    name: &str,
    groups: &[String],
) -> Result<(), DomainError> {
    check_groups(ctx, groups)?;
    let mut user = ctx
        .store
        .auth
        .user(name)?
        .ok_or_else(|| DomainError::NotFound(format!("no user named {name:?}")))?;
    let before = admins(ctx)?;
    let old_groups = std::mem::replace(&mut user.groups, groups.to_vec());
    ctx.store.auth.put_user(&user)?;
    if let Err(error) = keep_an_admin(ctx, &before) {
        user.groups = old_groups;
        ctx.store.auth.put_user(&user)?;
        return Err(error);
    }
    audit::record(
        ctx,
        actor,
        AuditAction::UserGroupsSet,
        &format!("{name}: {}", groups.join(", ")),
    )?;
    ctx.store.flush()?;
    Ok(())
}

/// Sets a user's password (the break-glass way back in). Note that hashing takes tens of
/// milliseconds.
pub fn set_password(
    ctx: &Context,
    actor: &Actor,
    name: &str,
    password: &str,
) -> Result<(), DomainError> {
    check_password(password)?;
    let mut user = ctx
        .store
        .auth
        .user(name)?
        .ok_or_else(|| DomainError::NotFound(format!("no user named {name:?}")))?;
    user.password_hash = store_auth::hash_password(password)
        .map_err(|error| DomainError::Internal(error.to_string()))?;
    ctx.store.auth.put_user(&user)?;
    audit::record(ctx, actor, AuditAction::UserPasswordSet, name)?;
    ctx.store.flush()?;
    Ok(())
}

/// Deletes a user with their sessions, API tokens and second factors; the last admin cannot
/// be deleted. Note that this uses blocking I/O.
pub fn delete(ctx: &Context, actor: &Actor, name: &str) -> Result<(), DomainError> {
    if ctx.store.auth.user(name)?.is_none() {
        return Err(DomainError::NotFound(format!("no user named {name:?}")));
    }
    let admins = admins(ctx)?;
    if admins.len() == 1 && admins[0] == name {
        return Err(DomainError::Conflict("cannot delete the last admin".into()));
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
    create(
        ctx,
        &Actor::Controller("first-start"),
        "admin",
        &role_groups(Role::Admin),
        &password,
    )?;
    Ok(Some(("admin".to_owned(), password)))
}
