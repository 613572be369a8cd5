//! OpenAPI operations for the alert lifecycle (issue 18): acknowledgements, silences and the
//! operator's rules. Listing alerts is in `hosts.rs`.

use super::{object, op, Access, Operation};
use serde_json::Value;

pub(super) const OPERATIONS: &[Operation] = &[
    op(
        "post",
        "/api/v1/hosts/{agent_id}/alerts/acknowledge",
        "Acknowledge an open alert with a note (operate on the host): no reminders or escalations until it resolves",
        Access::User,
        &[],
        Some(ack_body),
    ),
    op(
        "post",
        "/api/v1/hosts/{agent_id}/alerts/unacknowledge",
        "Take an acknowledgement back (operate on the host)",
        Access::User,
        &[],
        Some(unack_body),
    ),
    op(
        "get",
        "/api/v1/alerts/silences",
        "Silences in force (view on every host)",
        Access::User,
        &[],
        None,
    ),
    op(
        "post",
        "/api/v1/alerts/silences",
        "Silence alerts by host, key prefix and/or host label for a duration (operate on every host)",
        Access::User,
        &[],
        Some(silence_body),
    ),
    op(
        "delete",
        "/api/v1/alerts/silences/{id}",
        "Delete a silence (operate on every host)",
        Access::User,
        &[],
        None,
    ),
    op(
        "get",
        "/api/v1/alerts/rules",
        "The operator's alert rules: the config file's (read-only) and the stored ones",
        Access::User,
        &[],
        None,
    ),
    op(
        "put",
        "/api/v1/alerts/rules/{name}",
        "Make or replace a stored rule: a threshold on a series with for and scope",
        Access::Admin,
        &[],
        Some(rule_body),
    ),
    op(
        "delete",
        "/api/v1/alerts/rules/{name}",
        "Delete a stored rule",
        Access::Admin,
        &[],
        None,
    ),
];

fn ack_body() -> Value {
    object(&[("key", "string", true), ("note", "string", false)])
}

fn unack_body() -> Value {
    object(&[("key", "string", true)])
}

fn silence_body() -> Value {
    object(&[
        ("host", "string", false),
        ("key_prefix", "string", false),
        ("label", "string", false),
        ("comment", "string", false),
        ("duration", "string", true),
    ])
}

fn rule_body() -> Value {
    object(&[
        ("metric", "string", true),
        ("labels", "object", false),
        ("above", "number", false),
        ("below", "number", false),
        ("older_than", "string", false),
        ("severity", "string", false),
        ("summary", "string", false),
        ("for", "string", false),
        ("groups", "array", false),
        ("hosts", "array", false),
    ])
}
