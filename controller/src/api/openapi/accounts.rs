//! OpenAPI operations for sign-in, the session, join tokens, users, API tokens, the audit log
//! and `/metrics`.

use super::{object, op, Access, Operation};
use serde_json::{json, Value};

pub(super) const OPERATIONS: &[Operation] = &[
    op(
        "post",
        "/api/v1/login",
        "Log in; sets the session cookie and returns the CSRF token",
        Access::Public,
        &[],
        Some(login_body),
    ),
    op(
        "post",
        "/api/v1/logout",
        "End the session (needs X-CSRF-Token)",
        Access::User,
        &[],
        None,
    ),
    op(
        "get",
        "/api/v1/session",
        "The caller and the session's CSRF token",
        Access::User,
        &[],
        None,
    ),
    op(
        "get",
        "/api/v1/openapi.json",
        "This document",
        Access::User,
        &[],
        None,
    ),
    op(
        "get",
        "/api/v1/join-tokens",
        "Join tokens (never their secrets)",
        Access::User,
        &[],
        None,
    ),
    op(
        "post",
        "/api/v1/join-tokens",
        "Create a single-use join token; returns the join command",
        Access::Admin,
        &[],
        Some(join_token_body),
    ),
    op(
        "get",
        "/api/v1/users",
        "Users and roles",
        Access::User,
        &[],
        None,
    ),
    op(
        "post",
        "/api/v1/users",
        "Add a user",
        Access::Admin,
        &[],
        Some(user_body),
    ),
    op(
        "delete",
        "/api/v1/users/{name}",
        "Delete a user with their sessions and API tokens",
        Access::Admin,
        &[],
        None,
    ),
    op(
        "get",
        "/api/v1/api-tokens",
        "API tokens with scope, expiry (expired: true once past) and last use (all for admins, own for viewers)",
        Access::User,
        &[],
        None,
    ),
    op(
        "post",
        "/api/v1/api-tokens",
        "Create an API token (shown once): scope read (default, viewer rights) or admin (never more than the user's role); expires_in such as 30d, or never (default)",
        Access::Admin,
        &[],
        Some(api_token_body),
    ),
    op(
        "delete",
        "/api/v1/api-tokens/{token_id}",
        "Revoke an API token: requests with it are refused from then on",
        Access::Admin,
        &[],
        None,
    ),
    op(
        "get",
        "/api/v1/audit",
        "Audit log, newest first (admins)",
        Access::Admin,
        &[(
            "limit",
            "At most this many records (1-1000, default 200)",
            false,
        )],
        None,
    ),
    op(
        "get",
        "/metrics",
        "Latest values in the Prometheus text format",
        Access::Metrics,
        &[],
        None,
    ),
];

fn login_body() -> Value {
    object(&[("username", "string", true), ("password", "string", true)])
}

fn join_token_body() -> Value {
    object(&[("ttl", "string", false)])
}

fn user_body() -> Value {
    let mut schema = object(&[
        ("name", "string", true),
        ("role", "string", true),
        ("password", "string", false),
    ]);
    schema["properties"]["role"]["enum"] = json!(["admin", "viewer"]);
    schema
}

fn api_token_body() -> Value {
    let mut schema = object(&[
        ("name", "string", true),
        ("user", "string", false),
        ("scope", "string", false),
        ("expires_in", "string", false),
    ]);
    schema["properties"]["scope"]["enum"] = json!(["read", "admin"]);
    schema["properties"]["scope"]["default"] = json!("read");
    schema["properties"]["expires_in"]["default"] = json!("never");
    schema
}
