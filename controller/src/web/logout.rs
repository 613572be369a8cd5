//! Logging out (`POST /logout`): ends the session and, for a user who signed in at the OpenID
//! Connect provider, goes on to its end-session endpoint when it has one (RP-initiated
//! logout).

use super::CsrfForm;
use crate::http::auth::{self, Caller};
use crate::http::error::ApiError;
use crate::http::extract::ApiForm;
use crate::http::state::AppState;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};

/// `POST /logout`: ends the session (and, for a user who signed in at the OpenID Connect
/// provider, sends the browser to its end-session endpoint when it has one).
pub async fn logout(
    State(state): State<AppState>,
    caller: Caller,
    ApiForm(_form): ApiForm<CsrfForm>,
) -> Result<Response, ApiError> {
    auth::logout_caller(&state, &caller).await?;
    let cookie = [(header::SET_COOKIE, auth::clear_cookie())];
    Ok(
        match super::oidc::after_logout(&state, &caller.user).await {
            // A page rather than a redirect: the form's redirect to another origin would break
            // the `form-action 'self'` policy.
            Some(provider_logout) => {
                (cookie, super::oidc::render_signed_out(&provider_logout)).into_response()
            }
            None => (cookie, Redirect::to("/login")).into_response(),
        },
    )
}
