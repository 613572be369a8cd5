//! The SSH CA over the REST API: any signed-in user reads its public key and known_hosts line;
//! a viewer of every host lists the hosts it configures and the user certificates it signed;
//! an administrator of every host signs and revokes user certificates and enables or disables
//! hosts (audited as the caller, as the CLI is as `cli`). Thin handlers over
//! [`crate::domain::ssh_ca`].

use crate::domain::ssh_ca::hosts::{self, EnableHost, SshHostView};
use crate::domain::ssh_ca::revocations::{self, IssuedView, RevokeOutcome, RevokeRequest};
use crate::domain::ssh_ca::{self, SignUserRequest, SignedUserCertificate, SshCaView};
use crate::http::auth::Caller;
use crate::http::error::ApiError;
use crate::http::extract::{blocking, ApiJson, ApiPath};
use crate::http::state::AppState;
use axum::extract::State;
use axum::Json;
use serde::Serialize;

/// `GET /api/v1/ssh/ca`: the public key, its fingerprint, the `@cert-authority` line.
pub async fn show(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<SshCaView>, ApiError> {
    blocking(&state.ctx, move |ctx| ssh_ca::show(ctx, &caller.actor()))
        .await
        .map(Json)
}

/// `POST /api/v1/ssh/sign`: the body names the public key, principals, an optional host and
/// TTL, and the person it is for (default: the caller); the answer carries the certificate.
pub async fn sign(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(mut request): ApiJson<SignUserRequest>,
) -> Result<Json<SignedUserCertificate>, ApiError> {
    if request.user.trim().is_empty() {
        request.user = caller.user.clone();
    }
    blocking(&state.ctx, move |ctx| {
        ssh_ca::sign_user(ctx, &caller.actor(), request)
    })
    .await
    .map(Json)
}

/// `GET /api/v1/ssh/ca/hosts`: every host the SSH CA configures, with where it stands.
pub async fn hosts(State(state): State<AppState>) -> Result<Json<Vec<SshHostView>>, ApiError> {
    blocking(&state.ctx, hosts::list).await.map(Json)
}

/// `POST /api/v1/ssh/ca/hosts`: enable the SSH CA for a host (configured now if connected);
/// the answer is the host's state, with the agent's error if configuring failed.
pub async fn enable_host(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<EnableHost>,
) -> Result<Json<SshHostView>, ApiError> {
    blocking(&state.ctx, move |ctx| {
        hosts::enable(ctx, &caller.actor(), request)
    })
    .await
    .map(Json)
}

/// What disabling did.
#[derive(Debug, Serialize)]
pub struct Disabled {
    pub message: String,
}

/// `DELETE /api/v1/ssh/ca/hosts/{agent_id}`: the agent removes Unity's drop-in and files.
pub async fn disable_host(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(agent_id): ApiPath<String>,
) -> Result<Json<Disabled>, ApiError> {
    blocking(&state.ctx, move |ctx| {
        hosts::disable(ctx, &caller.actor(), &agent_id)
    })
    .await
    .map(|message| Json(Disabled { message }))
}

/// `GET /api/v1/ssh/certificates`: every user certificate signed, newest first.
pub async fn certificates(
    State(state): State<AppState>,
) -> Result<Json<Vec<IssuedView>>, ApiError> {
    blocking(&state.ctx, revocations::list).await.map(Json)
}

/// `GET /api/v1/ssh/revocations`: the revoked user certificates, newest first.
pub async fn revocations(State(state): State<AppState>) -> Result<Json<Vec<IssuedView>>, ApiError> {
    blocking(&state.ctx, revocations::revoked).await.map(Json)
}

/// `POST /api/v1/ssh/revocations`: `{"serial": N}` or `{"public_key": "ssh-ed25519 AAAA…"}`;
/// the answer names the serials revoked and the hosts that refuse the key now or later.
pub async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<RevokeRequest>,
) -> Result<Json<RevokeOutcome>, ApiError> {
    blocking(&state.ctx, move |ctx| {
        revocations::revoke(ctx, &caller.actor(), request)
    })
    .await
    .map(Json)
}
