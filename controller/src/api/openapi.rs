//! The OpenAPI 3 document for `/api/v1` (and `/metrics`), written by hand from one table so
//! it stays next to the routes it describes. Served at `/api/v1/openapi.json`.

use crate::http::auth::Caller;
use axum::Json;
use serde_json::{json, Value};

/// Who may call an operation.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Access {
    /// No credentials (login).
    Public,
    /// Any user (session cookie or bearer token).
    User,
    /// Admins; cookie sessions also need `X-CSRF-Token`.
    Admin,
    /// `metrics_token`, when configured.
    Metrics,
}

struct Operation {
    method: &'static str,
    path: &'static str,
    summary: &'static str,
    access: Access,
    /// Query parameters: (name, description, required).
    query: &'static [(&'static str, &'static str, bool)],
    /// Request body schema, if any.
    body: Option<fn() -> Value>,
}

const OPERATIONS: &[Operation] = &[
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
        "/api/v1/alerts",
        "Alerts (open by default), most severe and newest first",
        Access::User,
        &[
            ("state", "open (default), resolved or all", false),
            ("host", "Only this host's alerts (agent id)", false),
            (
                "limit",
                "Resolved alerts at most, newest first (default 100, at most 1000)",
                false,
            ),
        ],
        None,
    ),
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
        "/api/v1/hosts",
        "Every host with status (online, stale, offline, revoked) and last seen",
        Access::User,
        &[],
        None,
    ),
    op(
        "get",
        "/api/v1/hosts/{agent_id}",
        "One host: status, latest values, collector sections",
        Access::User,
        &[],
        None,
    ),
    op(
        "get",
        "/api/v1/hosts/{agent_id}/storage",
        "The host's newest storage state: SMART disks with verdicts, ZFS pools, md arrays, stack",
        Access::User,
        &[],
        None,
    ),
    op(
        "get",
        "/api/v1/hosts/{agent_id}/databases",
        "The host's newest database instances with availability and health",
        Access::User,
        &[],
        None,
    ),
    op(
        "get",
        "/api/v1/hosts/{agent_id}/containers",
        "The host's containers, recent runtime events and update checks",
        Access::User,
        &[],
        None,
    ),
    op(
        "get",
        "/api/v1/hosts/{agent_id}/plugins",
        "The host's plugin sources (textfiles, exporters: series taken, dropped, errors) and local check results",
        Access::User,
        &[],
        None,
    ),
    op(
        "get",
        "/api/v1/hosts/{agent_id}/maintenance-windows",
        "The host's maintenance windows, the ones in effect (host, group or controller), open or closed and the next change",
        Access::User,
        &[],
        None,
    ),
    op(
        "put",
        "/api/v1/hosts/{agent_id}/maintenance-windows",
        "Set the host's maintenance windows, e.g. {\"windows\": [\"Sat 02:00-05:00 Europe/Berlin\"]}; empty: follow the group or controller",
        Access::Admin,
        &[],
        Some(windows_body),
    ),
    op(
        "get",
        "/api/v1/hosts/{agent_id}/update-policy",
        "The host's update-policy override (settings: mode, level, include, exclude, transform, cooldown, pin)",
        Access::User,
        &[],
        None,
    ),
    op(
        "put",
        "/api/v1/hosts/{agent_id}/update-policy",
        "Set the host's update-policy override; empty settings remove it",
        Access::Admin,
        &[],
        Some(policy_body),
    ),
    op(
        "get",
        "/api/v1/hosts/{agent_id}/containers/{name}/update-policy",
        "A container's explicit update-policy override (wins over labels and host)",
        Access::User,
        &[],
        None,
    ),
    op(
        "put",
        "/api/v1/hosts/{agent_id}/containers/{name}/update-policy",
        "Set a container's update-policy override; empty settings remove it",
        Access::Admin,
        &[],
        Some(policy_body),
    ),
    op(
        "post",
        "/api/v1/hosts/{agent_id}/containers/{name}/{verb}",
        "Queue a container operation; verb: update (default image: the detected candidate), rollback, restart, backup, restore. Runs when the agent is connected, until it expires (202)",
        Access::Admin,
        &[],
        Some(operation_body),
    ),
    op(
        "get",
        "/api/v1/hosts/{agent_id}/containers/{name}/backups",
        "The container's backups (full inspect, image), as reported with its operations, newest first",
        Access::User,
        &[],
        None,
    ),
    op(
        "get",
        "/api/v1/hosts/{agent_id}/containers/{name}/backups/diff",
        "Which fields differ between two backups",
        Access::User,
        &[
            ("from", "A backup's file name", true),
            ("to", "Another backup's file name", true),
        ],
        None,
    ),
    op(
        "get",
        "/api/v1/operations",
        "Container operations, newest first, with progress and results (the update history)",
        Access::User,
        &[
            ("agent_id", "Only this host's operations", false),
            ("limit", "At most this many (default 50, at most 1000)", false),
        ],
        None,
    ),
    op(
        "get",
        "/api/v1/operations/{id}",
        "One container operation with its live progress and result",
        Access::User,
        &[],
        None,
    ),
    op(
        "get",
        "/api/v1/updates",
        "The newest update check per container",
        Access::User,
        &[("status", "update (default), error or all", false)],
        None,
    ),
    op(
        "post",
        "/api/v1/updates/check",
        "Check every container for updates now and wait for the result",
        Access::Admin,
        &[],
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
    op(
        "get",
        "/api/v1/registries",
        "Registries with stored credentials (never the secret)",
        Access::Admin,
        &[],
        None,
    ),
    op(
        "put",
        "/api/v1/registries/{registry}",
        "Store a registry's credentials, encrypted",
        Access::Admin,
        &[],
        Some(registry_body),
    ),
    op(
        "delete",
        "/api/v1/registries/{registry}",
        "Forget a registry's credentials",
        Access::Admin,
        &[],
        None,
    ),
    op(
        "get",
        "/api/v1/hosts/{agent_id}/series",
        "The host's series (metric and labels)",
        Access::User,
        &[],
        None,
    ),
    op(
        "get",
        "/api/v1/hosts/{agent_id}/query",
        "Stored history of one metric",
        Access::User,
        &[
            ("metric", "Metric name, e.g. cpu_usage_ratio", true),
            (
                "range",
                "Duration back from now: 1h, 6h, 24h, 7d, 30d (1m to 400d; default 1h)",
                false,
            ),
            (
                "from",
                "Start, Unix milliseconds (with `to`, instead of `range`)",
                false,
            ),
            ("to", "End (exclusive), Unix milliseconds", false),
            (
                "labels",
                "Only series with these labels: name=value,name=value",
                false,
            ),
            (
                "max_points",
                "Downsample to at most this many points per series (1-10000, default 1000)",
                false,
            ),
        ],
        None,
    ),
    op(
        "post",
        "/api/v1/hosts/{agent_id}/revoke",
        "Revoke the agent's certificate and close its connection",
        Access::Admin,
        &[],
        None,
    ),
    op(
        "post",
        "/api/v1/hosts/{agent_id}/ping",
        "Ping the connected agent",
        Access::Admin,
        &[],
        None,
    ),
    op(
        "post",
        "/api/v1/hosts/{agent_id}/collect",
        "Ask the connected agent to collect now",
        Access::Admin,
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

const fn op(
    method: &'static str,
    path: &'static str,
    summary: &'static str,
    access: Access,
    query: &'static [(&'static str, &'static str, bool)],
    body: Option<fn() -> Value>,
) -> Operation {
    Operation {
        method,
        path,
        summary,
        access,
        query,
        body,
    }
}

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

fn policy_body() -> Value {
    let mut schema = object(&[("settings", "object", true)]);
    schema["properties"]["settings"]["additionalProperties"] = json!({ "type": "string" });
    schema
}

fn operation_body() -> Value {
    object(&[
        ("image", "string", false),
        ("force", "boolean", false),
        ("backup", "string", false),
        ("expires_in", "string", false),
    ])
}

fn windows_body() -> Value {
    let mut schema = object(&[("windows", "array", true)]);
    schema["properties"]["windows"]["items"] = json!({ "type": "string" });
    schema
}

fn registry_body() -> Value {
    object(&[
        ("username", "string", true),
        ("secret", "string", true),
        ("plain_http", "boolean", false),
    ])
}

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

fn object(fields: &[(&str, &str, bool)]) -> Value {
    let properties: serde_json::Map<String, Value> = fields
        .iter()
        .map(|(name, kind, _)| ((*name).to_owned(), json!({ "type": kind })))
        .collect();
    let required: Vec<&str> = fields
        .iter()
        .filter(|field| field.2)
        .map(|field| field.0)
        .collect();
    json!({ "type": "object", "additionalProperties": false, "properties": properties, "required": required })
}

fn operation(operation: &Operation) -> Value {
    let mut parameters: Vec<Value> = Vec::new();
    for segment in operation.path.split('/') {
        if let Some(name) = segment
            .strip_prefix('{')
            .and_then(|rest| rest.strip_suffix('}'))
        {
            parameters.push(json!({ "name": name, "in": "path", "required": true, "schema": { "type": "string" } }));
        }
    }
    for (name, description, required) in operation.query {
        parameters.push(json!({ "name": name, "in": "query", "required": required, "description": description, "schema": { "type": "string" } }));
    }
    let error = json!({ "$ref": "#/components/responses/Error" });
    let mut responses = json!({ "200": { "description": "Success (201 for creations, 204 for deletions)" }, "400": error, "404": error });
    let security = match operation.access {
        Access::Public => {
            responses["401"] = error.clone();
            responses["429"] = json!({ "description": "Too many failed logins; see Retry-After" });
            json!([])
        }
        Access::User => {
            responses["401"] = error.clone();
            json!([{ "session": [] }, { "bearer": [] }])
        }
        Access::Admin => {
            responses["401"] = error.clone();
            responses["403"] =
                json!({ "description": "Not an admin, or a cookie session without X-CSRF-Token" });
            json!([{ "session": [], "csrf": [] }, { "bearer": [] }])
        }
        Access::Metrics => {
            responses["401"] =
                json!({ "description": "metrics_token is configured and was not sent" });
            json!([{ "metricsToken": [] }])
        }
    };
    let mut value = json!({
        "summary": operation.summary,
        "parameters": parameters,
        "responses": responses,
        "security": security,
    });
    if let Some(body) = operation.body {
        value["requestBody"] =
            json!({ "required": true, "content": { "application/json": { "schema": body() } } });
    }
    value
}

/// The document.
pub fn spec() -> Value {
    let mut paths = serde_json::Map::new();
    for item in OPERATIONS {
        let entry = paths
            .entry(item.path.to_owned())
            .or_insert_with(|| json!({}));
        entry[item.method] = operation(item);
    }
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "Unity controller API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Hosts, history, agents, users and audit of a Unity homelab controller. Authenticate with the session cookie from POST /api/v1/login (send X-CSRF-Token on changes) or with Authorization: Bearer <API token> (its scope caps the user's role: a read token acts as a viewer; an expired token gets 401 saying so). Errors are JSON: {\"error\": message, \"status\": code}."
        },
        "paths": paths,
        "components": {
            "securitySchemes": {
                "session": { "type": "apiKey", "in": "cookie", "name": crate::http::auth::SESSION_COOKIE },
                "csrf": { "type": "apiKey", "in": "header", "name": "X-CSRF-Token" },
                "bearer": { "type": "http", "scheme": "bearer" },
                "metricsToken": { "type": "http", "scheme": "bearer" }
            },
            "responses": {
                "Error": {
                    "description": "An error with a message",
                    "content": { "application/json": { "schema": object(&[("error", "string", true), ("status", "integer", true)]) } }
                }
            }
        }
    })
}

/// `GET /api/v1/openapi.json`.
pub async fn document(_caller: Caller) -> Json<Value> {
    Json(spec())
}
