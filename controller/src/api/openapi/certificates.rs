//! OpenAPI operations for the fleet inventory of certificates, managed certificates and the
//! services CA.

use super::{object, op, Access, Operation};
use serde_json::{json, Value};

pub(super) const OPERATIONS: &[Operation] = &[
    op(
        "get",
        "/api/v1/certificates",
        "Every visible host's certificates (files and TLS ports), soonest expiry first, with days left, urgency, where found and problems",
        Access::User,
        &[("host", "Only this host's certificates (agent id)", false)],
        None,
    ),
    op(
        "get",
        "/api/v1/managed-certificates",
        "Managed certificates (services CA or ACME), soonest expiry first; no key material",
        Access::User,
        &[],
        None,
    ),
    op(
        "post",
        "/api/v1/managed-certificates",
        "Declare a managed certificate for a host (its key is made on the host)",
        Access::Admin,
        &[],
        Some(certificate_body),
    ),
    op(
        "get",
        "/api/v1/managed-certificates/{name}",
        "One managed certificate with its issuance state and last error",
        Access::User,
        &[],
        None,
    ),
    op(
        "delete",
        "/api/v1/managed-certificates/{name}",
        "Forget a managed certificate (the files stay on the host)",
        Access::Admin,
        &[],
        None,
    ),
    op(
        "post",
        "/api/v1/managed-certificates/{name}/renew",
        "Issue and install a new certificate now; answers with the outcome",
        Access::Admin,
        &[],
        None,
    ),
    op(
        "post",
        "/api/v1/managed-certificates/{name}/revoke",
        "Revoke: never renewed again, listed in the services CA's CRL",
        Access::Admin,
        &[],
        None,
    ),
    op(
        "get",
        "/api/v1/services-ca",
        "The services CA's root (PEM), fingerprint and name constraints",
        Access::User,
        &[],
        None,
    ),
    op(
        "get",
        "/api/v1/services-ca/root.pem",
        "Download the services CA's root certificate (PEM)",
        Access::User,
        &[],
        None,
    ),
    op(
        "get",
        "/api/v1/services-ca/root.der",
        "Download the services CA's root certificate (DER)",
        Access::User,
        &[],
        None,
    ),
    op(
        "get",
        "/api/v1/services-ca/crl",
        "The services CA's certificate revocation list (DER)",
        Access::Public,
        &[],
        None,
    ),
];

fn certificate_body() -> Value {
    let mut schema = object(&[
        ("name", "string", true),
        ("host", "string", true),
        ("dns_names", "array", false),
        ("ip_addresses", "array", false),
        ("key_type", "string", false),
        ("lifetime", "string", false),
        ("files", "object", true),
        ("reload", "array", false),
        ("issuer", "string", false),
    ]);
    for list in ["dns_names", "ip_addresses", "reload"] {
        schema["properties"][list]["items"] = json!({ "type": "string" });
    }
    schema["properties"]["key_type"]["enum"] =
        json!(["ecdsa-p256", "rsa-2048", "rsa-3072", "ed25519"]);
    schema["properties"]["files"] = object(&[
        ("cert", "string", false),
        ("chain", "string", false),
        ("fullchain", "string", false),
        ("key", "string", false),
        ("combined", "string", false),
        ("owner", "string", false),
        ("group", "string", false),
        ("key_mode", "string", false),
    ]);
    schema
}
