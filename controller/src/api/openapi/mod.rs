//! The OpenAPI 3 document for `/api/v1` (and `/metrics`), written by hand from one table per
//! area (accounts, hosts, updates, certificates, the SSH CA, agentless hosts, secrets) so it
//! stays next to the routes it describes.
//! Served at `/api/v1/openapi.json`.

use crate::http::auth::Caller;
use axum::Json;
use serde_json::{json, Value};

mod accounts;
mod agentless;
mod alerts;
mod certificates;
mod hosts;
mod secrets;
mod services;
mod ssh;
mod ssh_ca;
mod updates;

/// Every operation, area by area.
const AREAS: &[&[Operation]] = &[
    accounts::OPERATIONS,
    hosts::OPERATIONS,
    updates::OPERATIONS,
    certificates::OPERATIONS,
    ssh_ca::OPERATIONS,
    agentless::OPERATIONS,
    secrets::OPERATIONS,
    ssh::OPERATIONS,
    services::OPERATIONS,
    alerts::OPERATIONS,
];

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
    for item in AREAS.iter().flat_map(|area| area.iter()) {
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
