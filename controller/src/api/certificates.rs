//! `GET /api/v1/certificates` (any signed-in user, for the hosts they may view): the fleet's
//! certificates sorted by expiry, from [`crate::domain::certificates`]. The JSON is designed
//! here, field by field (`"location": {"kind": "file", "path": ...}`), not derived from the wire
//! enums, so the wire may grow without changing the API. No key material exists on the wire,
//! so none can appear here.

use crate::domain::certificates::{self, CertificateRow, FleetCertificates, HostProblem};
use crate::http::auth::Caller;
use crate::http::error::ApiError;
use crate::http::extract::{blocking, ApiQuery};
use crate::http::state::AppState;
use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use unity_shared::model::certificate::{
    CertificateLocation, ChainProblem, PublicKeyKind, SubjectName,
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertificateParams {
    /// Only this host's certificates (agent id).
    pub host: Option<String>,
}

/// `GET /api/v1/certificates?host=<agent_id>`.
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(params): ApiQuery<CertificateParams>,
) -> Result<Json<Value>, ApiError> {
    blocking(&state.ctx, move |ctx| {
        let visible = crate::domain::access::visible(ctx, &caller.access)?;
        let now_unix = crate::clock::now_ms() / 1000;
        let fleet = certificates::list(ctx, &visible, params.host.as_deref(), now_unix)?;
        Ok::<_, ApiError>(fleet_json(&fleet))
    })
    .await
    .map(Json)
}

/// The whole answer.
pub fn fleet_json(fleet: &FleetCertificates) -> Value {
    json!({
        "certificates": fleet.certificates.iter().map(row_json).collect::<Vec<_>>(),
        "problems": fleet.problems.iter().map(problem_json).collect::<Vec<_>>(),
        "hosts_reporting": fleet.hosts_reporting,
        "truncated": fleet.truncated,
    })
}

fn row_json(row: &CertificateRow) -> Value {
    let certificate = &row.certificate;
    json!({
        "host": {"agent_id": row.agent_id.as_str(), "hostname": row.hostname},
        "collected_at_ms": row.collected_at_ms,
        "subject": certificate.subject,
        "issuer": certificate.issuer,
        "names": certificate.names.iter().map(name_json).collect::<Vec<_>>(),
        "serial": certificate.serial_hex,
        "not_before_unix": certificate.not_before_unix,
        "not_after_unix": certificate.not_after_unix,
        "days_left": row.days_left,
        "urgency": row.urgency.as_str(),
        "key": key_json(&certificate.key),
        "is_ca": certificate.is_ca,
        "sha256": certificate.sha256_hex,
        "location": location_json(&certificate.location),
        "position": certificate.position,
        "problems": certificate.problems.iter().map(chain_problem_json).collect::<Vec<_>>(),
    })
}

fn name_json(name: &SubjectName) -> Value {
    match name {
        SubjectName::Dns(value) => json!({"type": "dns", "value": value}),
        SubjectName::Ip(value) => json!({"type": "ip", "value": value.to_string()}),
        SubjectName::Email(value) => json!({"type": "email", "value": value}),
        SubjectName::Uri(value) => json!({"type": "uri", "value": value}),
    }
}

fn key_json(key: &PublicKeyKind) -> Value {
    match key {
        PublicKeyKind::Rsa { bits } => json!({"type": "rsa", "bits": bits}),
        PublicKeyKind::Ecdsa { curve } => json!({"type": "ecdsa", "curve": curve}),
        PublicKeyKind::Ed25519 => json!({"type": "ed25519"}),
        PublicKeyKind::Ed448 => json!({"type": "ed448"}),
        PublicKeyKind::Other { oid } => json!({"type": "other", "oid": oid}),
    }
}

/// `{"kind": "file", "path", "format"}` or `{"kind": "port", "address", "port", "process",
/// "server_name"}`.
pub fn location_json(location: &CertificateLocation) -> Value {
    match location {
        CertificateLocation::File { path, format } => json!({
            "kind": "file",
            "path": path,
            "format": format.as_str(),
        }),
        CertificateLocation::Port {
            address,
            port,
            process,
            server_name,
        } => json!({
            "kind": "port",
            "address": address,
            "port": port,
            "process": process,
            "server_name": server_name,
        }),
    }
}

fn chain_problem_json(problem: &ChainProblem) -> Value {
    let message = certificates::problem_text(problem);
    match problem {
        ChainProblem::Expired => json!({"kind": "expired", "message": message}),
        ChainProblem::NotYetValid => json!({"kind": "not_yet_valid", "message": message}),
        ChainProblem::SelfSigned => json!({"kind": "self_signed", "message": message}),
        ChainProblem::MissingIntermediate { issuer } => {
            json!({"kind": "missing_intermediate", "issuer": issuer, "message": message})
        }
        ChainProblem::NameMismatch { name } => {
            json!({"kind": "name_mismatch", "name": name, "message": message})
        }
        ChainProblem::WrongOrder => json!({"kind": "wrong_order", "message": message}),
    }
}

fn problem_json(problem: &HostProblem) -> Value {
    json!({
        "host": {"agent_id": problem.agent_id.as_str(), "hostname": problem.hostname},
        "location": problem.problem.location,
        "message": problem.problem.message,
    })
}
