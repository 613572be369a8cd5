//! Passkeys in the dashboard. On the Security page: options for `navigator.credentials.create`
//! (`POST /settings/security/passkeys/options`), adding the passkey the browser made
//! (`POST /settings/security/passkeys`) and deleting one. At login: options for
//! `navigator.credentials.get` for the pending login in the cookie
//! (`POST /login/second-factor/passkey/options`) and passing the second step with the
//! browser's answer (`POST /login/second-factor/passkey`, limited like codes). The browser
//! side is `assets/passkeys.js`; the relying party is the host the dashboard was reached at.

use super::second_factor::{self as second_factor_page};
use super::security::{self, SecurityView};
use super::{CsrfForm, PageCaller};
use crate::clock::now_ms;
use crate::config::host_name;
use crate::domain::actor::Actor;
use crate::domain::second_factor::passkeys::{self, CreationOptions, RequestOptions};
use crate::domain::second_factor::webauthn::{self, Assertion, RelyingParty};
use crate::http::auth::{self, Credential};
use crate::http::client_addr::ClientAddr;
use crate::http::error::ApiError;
use crate::http::extract::{blocking, ApiForm};
use crate::http::login_limit::Outcome;
use crate::http::scheme::RequestScheme;
use crate::http::state::AppState;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Json;
use maud::Markup;
use serde::Deserialize;

/// The relying party for a request: the host name it was sent to (RP ID) and the origin the
/// browser is at (the request's scheme, `http::scheme`: HTTPS directly or through a trusted
/// proxy; default port left out).
pub fn relying_party(
    headers: &HeaderMap,
    request_scheme: RequestScheme,
) -> Result<RelyingParty, ApiError> {
    let host = headers
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .map(|value| value.trim().to_ascii_lowercase())
        .ok_or_else(|| ApiError::BadRequest("passkeys need a Host header".into()))?;
    let id =
        host_name(&host).ok_or_else(|| ApiError::BadRequest("passkeys need a host name".into()))?;
    let (scheme, default_port) = if request_scheme.is_https() {
        ("https", ":443")
    } else {
        ("http", ":80")
    };
    let authority = host.strip_suffix(default_port).unwrap_or(&host);
    Ok(RelyingParty {
        id: id.trim_end_matches('.').to_owned(),
        origin: format!("{scheme}://{authority}"),
    })
}

fn session_hash(caller: &PageCaller) -> Result<[u8; 32], ApiError> {
    caller.0.require_session()?;
    match &caller.0.credential {
        Credential::Session { session_hash, .. } => Ok(*session_hash),
        Credential::Bearer { .. } => Err(ApiError::Forbidden("passkeys are added in a session")),
    }
}

fn bytes(field: &str, text: &str) -> Result<Vec<u8>, ApiError> {
    webauthn::unb64(text).map_err(|_| {
        ApiError::BadRequest(format!(
            "{field} is missing or not base64url: this needs JavaScript and a browser with passkeys"
        ))
    })
}

/// `POST /settings/security/passkeys/options`.
pub async fn creation_options(
    State(state): State<AppState>,
    caller: PageCaller,
    headers: HeaderMap,
    request_scheme: RequestScheme,
    ApiForm(_form): ApiForm<CsrfForm>,
) -> Result<Json<CreationOptions>, ApiError> {
    let hash = session_hash(&caller)?;
    let rp = relying_party(&headers, request_scheme)?;
    let user = caller.0.user.clone();
    let options = blocking(&state.ctx, move |ctx| {
        passkeys::start_registration(ctx, &user, hash, &rp, now_ms())
    })
    .await?;
    Ok(Json(options))
}

#[derive(Debug, Deserialize)]
pub struct AddForm {
    name: String,
    #[serde(default)]
    client_data: String,
    #[serde(default)]
    attestation_object: String,
}

/// `POST /settings/security/passkeys`: the page again, with the new passkey or why not.
pub async fn add(
    State(state): State<AppState>,
    caller: PageCaller,
    headers: HeaderMap,
    request_scheme: RequestScheme,
    ApiForm(form): ApiForm<AddForm>,
) -> Result<Markup, ApiError> {
    let hash = session_hash(&caller)?;
    let rp = relying_party(&headers, request_scheme)?;
    let user = caller.0.user.clone();
    let result = async {
        let client_data = bytes("client_data", &form.client_data)?;
        let attestation = bytes("attestation_object", &form.attestation_object)?;
        blocking(&state.ctx, move |ctx| {
            passkeys::finish_registration(
                ctx,
                &user,
                hash,
                &rp,
                &form.name,
                &client_data,
                &attestation,
                now_ms(),
            )
        })
        .await
    }
    .await;
    let shown = match result {
        Ok(()) => SecurityView {
            notice: Some("Passkey added.".into()),
            ..SecurityView::default()
        },
        Err(error) => SecurityView {
            message: Some(error.to_string()),
            ..SecurityView::default()
        },
    };
    security::render_for(&state, &caller.0, shown).await
}

/// `POST /settings/security/passkeys/{id}/delete`.
pub async fn delete(
    State(state): State<AppState>,
    caller: PageCaller,
    Path(id): Path<String>,
    ApiForm(_form): ApiForm<CsrfForm>,
) -> Result<Response, ApiError> {
    caller.0.require_session()?;
    let user = caller.0.user.clone();
    blocking(&state.ctx, move |ctx| {
        passkeys::delete(ctx, &Actor::user(user.clone()), &user, &id)
    })
    .await?;
    Ok(Redirect::to("/settings/security").into_response())
}

/// `POST /login/second-factor/passkey/options`.
pub async fn request_options(
    State(state): State<AppState>,
    headers: HeaderMap,
    request_scheme: RequestScheme,
) -> Result<Json<RequestOptions>, ApiError> {
    let Some((hash, _)) = auth::pending_login(&state, &headers).await? else {
        return Err(ApiError::BadRequest(
            "no login is waiting for a second factor (or it expired); log in again".into(),
        ));
    };
    let rp = relying_party(&headers, request_scheme)?;
    let options = blocking(&state.ctx, move |ctx| {
        passkeys::start_login(ctx, hash, &rp, now_ms())
    })
    .await?;
    Ok(Json(options))
}

#[derive(Debug, Deserialize)]
pub struct AssertionForm {
    #[serde(default)]
    credential_id: String,
    #[serde(default)]
    client_data: String,
    #[serde(default)]
    authenticator_data: String,
    #[serde(default)]
    signature: String,
}

/// `POST /login/second-factor/passkey`: opens the session, or the second-factor page again.
pub async fn login(
    State(state): State<AppState>,
    ConnectInfo(client): ConnectInfo<ClientAddr>,
    headers: HeaderMap,
    request_scheme: RequestScheme,
    ApiForm(form): ApiForm<AssertionForm>,
) -> Result<Response, ApiError> {
    let Some((hash, pending)) = auth::pending_login(&state, &headers).await? else {
        return Err(ApiError::LoginPage);
    };
    let rp = relying_party(&headers, request_scheme)?;
    let credential_id = bytes("credential_id", &form.credential_id)?;
    let client_data = bytes("client_data", &form.client_data)?;
    let authenticator_data = bytes("authenticator_data", &form.authenticator_data)?;
    let signature = bytes("signature", &form.signature)?;
    let attempt = state
        .limiter
        .begin(client.0.ip(), &format!("second-factor:{}", pending.user))
        .map_err(|wait| ApiError::TooManyRequests {
            retry_after_secs: wait.as_secs_f64().ceil().max(1.0) as u64,
        })?;
    let ttl_ms = state.ctx.config.session_ttl.as_millis() as i64;
    let result = blocking(&state.ctx, move |ctx| {
        let assertion = Assertion {
            client_data_json: &client_data,
            authenticator_data: &authenticator_data,
            signature: &signature,
        };
        passkeys::complete_login(ctx, hash, &rp, &credential_id, &assertion, now_ms(), ttl_ms)
    })
    .await;
    match result {
        Ok(Ok(session)) => {
            attempt.settle(Outcome::Success);
            Ok(second_factor_page::opened(&state, &session.session_id))
        }
        Ok(Err(why)) => {
            attempt.settle(Outcome::Failure);
            tracing::warn!(client = %client.0.ip(), user = %pending.user, reason = %why, "Failed passkey.");
            let message = ApiError::SecondFactorFailed.to_string();
            Ok((
                StatusCode::UNAUTHORIZED,
                second_factor_page::render(Some(&message), None, true),
            )
                .into_response())
        }
        Err(error) => {
            attempt.settle(Outcome::Released);
            Err(error)
        }
    }
}
