//! One's own second factors over the API (with a dashboard session, never an API token):
//! start TOTP enrolment (the secret and its `otpauth://` URI), confirm it with a first code
//! (answered with recovery codes, shown once), turn it off, and replace the recovery codes.
//! Thin handlers over [`crate::domain::second_factor`].

use crate::clock::now_ms;
use crate::domain::second_factor;
use crate::http::auth::Caller;
use crate::http::error::ApiError;
use crate::http::extract::{blocking, ApiJson};
use crate::http::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize)]
pub struct TotpStart {
    /// Base32, for typing into an authenticator app.
    pub secret: String,
    /// `otpauth://totp/...`, what the QR code on the settings page carries.
    pub uri: String,
}

/// `POST /api/v1/account/totp`: a new secret, active once confirmed.
pub async fn start_totp(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<TotpStart>, ApiError> {
    caller.require_session()?;
    let enrolment = blocking(&state.ctx, move |ctx| {
        second_factor::start_totp(ctx, &caller.user)
    })
    .await?;
    Ok(Json(TotpStart {
        secret: enrolment.secret,
        uri: enrolment.uri,
    }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeBody {
    pub code: String,
}

#[derive(Debug, Serialize)]
pub struct RecoveryCodes {
    /// Each works once in place of a TOTP code; shown only now.
    pub recovery_codes: Vec<String>,
}

/// `POST /api/v1/account/totp/confirm`.
pub async fn confirm_totp(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<CodeBody>,
) -> Result<Json<RecoveryCodes>, ApiError> {
    caller.require_session()?;
    let now_s = now_ms().max(0) as u64 / 1000;
    blocking(&state.ctx, move |ctx| {
        second_factor::confirm_totp(ctx, &caller.actor(), &caller.user, &body.code, now_s)
    })
    .await
    .map(|recovery_codes| Json(RecoveryCodes { recovery_codes }))
}

/// `DELETE /api/v1/account/totp`.
pub async fn disable_totp(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<StatusCode, ApiError> {
    caller.require_session()?;
    blocking(&state.ctx, move |ctx| {
        second_factor::disable_totp(ctx, &caller.actor(), &caller.user)
    })
    .await
    .map(|()| StatusCode::NO_CONTENT)
}

/// `POST /api/v1/account/recovery-codes`: replaces them; the old ones stop working.
pub async fn recovery_codes(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<RecoveryCodes>, ApiError> {
    caller.require_session()?;
    blocking(&state.ctx, move |ctx| {
        second_factor::new_recovery_codes(ctx, &caller.actor(), &caller.user)
    })
    .await
    .map(|recovery_codes| Json(RecoveryCodes { recovery_codes }))
}
