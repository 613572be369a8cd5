//! Managed certificates and the services CA over the REST API: viewers list and read (no key
//! material exists on the controller), admins declare, renew, revoke and delete (audited);
//! any signed-in user downloads the public root (PEM or DER); the CRL is public, as CRLs are.
//! Thin handlers over [`crate::domain::managed_certificates`].

use crate::domain::managed_certificates::{
    self as certificates, Declaration, ManagedCertificateView, RootView,
};
use crate::http::auth::Caller;
use crate::http::error::ApiError;
use crate::http::extract::{blocking, ApiJson, ApiPath};
use crate::http::state::AppState;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

/// `GET /api/v1/managed-certificates`.
pub async fn list(
    State(state): State<AppState>,
    _caller: Caller,
) -> Result<Json<Vec<ManagedCertificateView>>, ApiError> {
    blocking(&state.ctx, certificates::list).await.map(Json)
}

/// `POST /api/v1/managed-certificates`.
pub async fn declare(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(declaration): ApiJson<Declaration>,
) -> Result<(StatusCode, Json<ManagedCertificateView>), ApiError> {
    blocking(&state.ctx, move |ctx| {
        certificates::declare(ctx, &caller.actor(), declaration)
    })
    .await
    .map(|view| (StatusCode::CREATED, Json(view)))
}

/// `GET /api/v1/managed-certificates/{name}`.
pub async fn show(
    State(state): State<AppState>,
    _caller: Caller,
    ApiPath(name): ApiPath<String>,
) -> Result<Json<ManagedCertificateView>, ApiError> {
    blocking(&state.ctx, move |ctx| certificates::show(ctx, &name))
        .await
        .map(Json)
}

/// `POST /api/v1/managed-certificates/{name}/renew`: issues now and answers with the outcome
/// (an error says why it failed; the certificate's state shows it too).
pub async fn renew(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(name): ApiPath<String>,
) -> Result<Json<ManagedCertificateView>, ApiError> {
    Ok(Json(
        certificates::renew_now(&state.ctx, &caller.actor(), &name).await?,
    ))
}

/// `POST /api/v1/managed-certificates/{name}/revoke`.
pub async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(name): ApiPath<String>,
) -> Result<Json<ManagedCertificateView>, ApiError> {
    blocking(&state.ctx, move |ctx| {
        certificates::revoke(ctx, &caller.actor(), &name)
    })
    .await
    .map(Json)
}

/// `DELETE /api/v1/managed-certificates/{name}`.
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(name): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    blocking(&state.ctx, move |ctx| {
        certificates::delete(ctx, &caller.actor(), &name)
    })
    .await
    .map(|()| StatusCode::NO_CONTENT)
}

/// `GET /api/v1/services-ca`: the root as PEM with its fingerprint and name constraints.
pub async fn root(
    State(state): State<AppState>,
    _caller: Caller,
) -> Result<Json<RootView>, ApiError> {
    blocking(&state.ctx, |ctx| {
        certificates::root(ctx).map(|(root, _)| root)
    })
    .await
    .map(Json)
}

fn download(content_type: &'static str, disposition: &'static str, body: Vec<u8>) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        body,
    )
        .into_response()
}

/// `GET /api/v1/services-ca/root.pem`.
pub async fn root_pem(
    State(state): State<AppState>,
    _caller: Caller,
) -> Result<Response, ApiError> {
    let (root, _) = blocking(&state.ctx, certificates::root).await?;
    Ok(download(
        "application/x-pem-file",
        "attachment; filename=\"unity-services-ca.crt\"",
        root.pem.into_bytes(),
    ))
}

/// `GET /api/v1/services-ca/root.der`.
pub async fn root_der(
    State(state): State<AppState>,
    _caller: Caller,
) -> Result<Response, ApiError> {
    let (_, der) = blocking(&state.ctx, certificates::root).await?;
    Ok(download(
        "application/x-x509-ca-cert",
        "attachment; filename=\"unity-services-ca.der\"",
        der,
    ))
}

/// `GET /api/v1/services-ca/crl` (public: TLS clients fetch CRLs without credentials).
pub async fn crl(State(state): State<AppState>) -> Result<Response, ApiError> {
    let der = blocking(&state.ctx, certificates::crl).await?;
    Ok(download(
        "application/pkix-crl",
        "attachment; filename=\"unity-services-ca.crl\"",
        der,
    ))
}
