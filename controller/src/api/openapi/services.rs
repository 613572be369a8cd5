//! OpenAPI operations for service checks (issue 18; docs/services.md).

use super::{object, op, Access, Operation};
use serde_json::Value;

pub(super) const OPERATIONS: &[Operation] = &[
    op(
        "get",
        "/api/v1/services",
        "Every service check with each visible agent's state, latency, reason and TLS days left, and uptime over 24h, 7d and 30d",
        Access::User,
        &[],
        None,
    ),
    op(
        "put",
        "/api/v1/services/{name}",
        "Define or replace a service check (the fields of [[services.check]]; not one of the configuration file's)",
        Access::Admin,
        &[],
        Some(check_body),
    ),
    op(
        "delete",
        "/api/v1/services/{name}",
        "Delete a stored service check and its results",
        Access::Admin,
        &[],
        None,
    ),
];

fn check_body() -> Value {
    object(&[
        ("name", "string", true),
        ("kind", "string", true),
        ("url", "string", false),
        ("expected_status", "string", false),
        ("keyword", "string", false),
        ("tls_verify", "boolean", false),
        ("tls_warning_days", "integer", false),
        ("host", "string", false),
        ("port", "integer", false),
        ("query", "string", false),
        ("expected_address", "string", false),
        ("interval", "string", false),
        ("timeout", "string", false),
        ("agents", "array", false),
        ("groups", "array", false),
    ])
}
