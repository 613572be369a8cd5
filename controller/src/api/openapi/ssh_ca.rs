//! OpenAPI operations for the SSH certificate authority.

use super::{object, op, Access, Operation};
use serde_json::{json, Value};

pub(super) const OPERATIONS: &[Operation] = &[
    op(
        "get",
        "/api/v1/ssh/ca",
        "The SSH CA's public key, fingerprint and `@cert-authority` known_hosts line (made on first use when [ssh_ca] enabled)",
        Access::User,
        &[],
        None,
    ),
    op(
        "post",
        "/api/v1/ssh/sign",
        "Sign an OpenSSH user certificate for a public key: principals, optional host (principals become NAME@HOST, valid there only) and TTL (at most [ssh_ca] max_user_ttl); audited",
        Access::Admin,
        &[],
        Some(sign_body),
    ),
];

fn sign_body() -> Value {
    let mut schema = object(&[
        ("public_key", "string", true),
        ("user", "string", false),
        ("principals", "array", true),
        ("host", "string", false),
        ("ttl", "string", false),
    ]);
    schema["properties"]["principals"]["items"] = json!({ "type": "string" });
    schema
}
