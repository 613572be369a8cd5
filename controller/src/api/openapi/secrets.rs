//! OpenAPI operations for the secrets store: values go in, metadata and fingerprints come
//! out, never a value.

use super::{object, op, Access, Operation};
use serde_json::{json, Value};

pub(super) const OPERATIONS: &[Operation] = &[
    op(
        "get",
        "/api/v1/secrets",
        "Secrets: kind, version, fingerprint, scope and last delivery (never a value)",
        Access::Admin,
        &[],
        None,
    ),
    op(
        "get",
        "/api/v1/secrets/{name}",
        "One secret's metadata and fingerprint (never the value)",
        Access::Admin,
        &[],
        None,
    ),
    op(
        "put",
        "/api/v1/secrets/{name}",
        "Create a secret or replace its value (sealed; write-only); hosts holding the old value are told to forget it",
        Access::Admin,
        &[],
        Some(secret_body),
    ),
    op(
        "put",
        "/api/v1/secrets/{name}/scope",
        "Which hosts may receive the secret: agent ids and host groups (both empty: no host)",
        Access::Admin,
        &[],
        Some(scope_body),
    ),
    op(
        "delete",
        "/api/v1/secrets/{name}",
        "Remove a secret; hosts holding it are told to forget it",
        Access::Admin,
        &[],
        None,
    ),
    op(
        "post",
        "/api/v1/secrets/rotate-key",
        "Make a new sealing key and re-seal every sealed record (secrets, registry credentials, ACME accounts)",
        Access::Admin,
        &[],
        None,
    ),
];

fn secret_body() -> Value {
    object(&[("value", "string", true), ("kind", "string", false)])
}

fn scope_body() -> Value {
    let mut schema = object(&[("hosts", "array", false), ("groups", "array", false)]);
    schema["properties"]["hosts"]["items"] = json!({ "type": "string" });
    schema["properties"]["groups"]["items"] = json!({ "type": "string" });
    schema
}
