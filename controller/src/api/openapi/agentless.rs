//! OpenAPI operations for agentless hosts (issue 16): hosts collected over SSH by a proxy
//! agent.

use super::{object, op, Access, Operation};
use serde_json::Value;

pub(super) const OPERATIONS: &[Operation] = &[
    op(
        "get",
        "/api/v1/agentless",
        "Agentless hosts with their proxy, public key, host key (SHA256 fingerprint) and the proxy's newest word",
        Access::User,
        &[],
        None,
    ),
    op(
        "post",
        "/api/v1/agentless",
        "Add an agentless host: the controller generates an ed25519 login key and answers with its public half (put it in the host's authorized_keys)",
        Access::Admin,
        &[],
        Some(add_body),
    ),
    op(
        "get",
        "/api/v1/agentless/{name}",
        "One agentless host, with the host key it presented for confirmation",
        Access::User,
        &[],
        None,
    ),
    op(
        "post",
        "/api/v1/agentless/{name}/confirm",
        "Pin the host key the host presented (only if it has the given SHA256 fingerprint)",
        Access::Admin,
        &[],
        Some(confirm_body),
    ),
    op(
        "delete",
        "/api/v1/agentless/{name}",
        "Remove an agentless host (its history stays until retention)",
        Access::Admin,
        &[],
        None,
    ),
];

fn add_body() -> Value {
    object(&[
        ("name", "string", true),
        ("address", "string", true),
        ("port", "integer", false),
        ("user", "string", true),
        ("proxy", "string", true),
        ("collect", "string", false),
        ("interval", "string", false),
    ])
}

fn confirm_body() -> Value {
    object(&[("fingerprint", "string", false)])
}
