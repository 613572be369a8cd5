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
    op(
        "get",
        "/api/v1/ssh/ca/hosts",
        "The hosts the SSH CA configures: pieces, users, when last configured, host certificate expiry, last error",
        Access::User,
        &[],
        None,
    ),
    op(
        "post",
        "/api/v1/ssh/ca/hosts",
        "Enable the SSH CA for a host (host certificates and/or the trusted user CA, extra names, login users with principals files); configured now when connected; audited",
        Access::Admin,
        &[],
        Some(enable_body),
    ),
    op(
        "delete",
        "/api/v1/ssh/ca/hosts/{agent_id}",
        "Disable the SSH CA for a host: its agent removes Unity's sshd drop-in and files; audited",
        Access::Admin,
        &[],
        None,
    ),
    op(
        "get",
        "/api/v1/ssh/certificates",
        "Every user certificate the SSH CA signed, newest first: serial, key id, person, principals, validity, key fingerprint, revoked",
        Access::User,
        &[],
        None,
    ),
    op(
        "get",
        "/api/v1/ssh/revocations",
        "The revoked user certificates, newest first",
        Access::User,
        &[],
        None,
    ),
    op(
        "post",
        "/api/v1/ssh/revocations",
        "Revoke a user certificate by serial, or every certificate of a public key: hosts trusting the user CA refuse the key (RevokedKeys) until its certificates expire; audited",
        Access::Admin,
        &[],
        Some(revoke_body),
    ),
];

fn enable_body() -> Value {
    let mut schema = object(&[
        ("host", "string", true),
        ("host_certificates", "boolean", false),
        ("trust_user_ca", "boolean", false),
        ("extra_names", "array", false),
        ("users", "array", false),
    ]);
    schema["properties"]["extra_names"]["items"] = json!({ "type": "string" });
    schema["properties"]["users"]["items"] = json!({ "type": "string" });
    schema
}

fn revoke_body() -> Value {
    object(&[
        ("serial", "integer", false),
        ("public_key", "string", false),
    ])
}

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
