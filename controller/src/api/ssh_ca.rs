//! The SSH CA over the REST API: any signed-in user reads its public key and known_hosts line;
//! an administrator of every host signs user certificates (audited as the caller). Thin
//! handlers over [`crate::domain::ssh_ca`].

use crate::domain::ssh_ca::{self, SignUserRequest, SignedUserCertificate, SshCaView};
use crate::http::auth::Caller;
use crate::http::error::ApiError;
use crate::http::extract::{blocking, ApiJson};
use crate::http::state::AppState;
use axum::extract::State;
use axum::Json;

/// `GET /api/v1/ssh/ca`: the public key, its fingerprint, the `@cert-authority` line.
pub async fn show(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<SshCaView>, ApiError> {
    blocking(&state.ctx, move |ctx| ssh_ca::show(ctx, &caller.user))
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
        ssh_ca::sign_user(ctx, &caller.user, request)
    })
    .await
    .map(Json)
}
