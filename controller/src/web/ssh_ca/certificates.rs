//! The user certificates part of the SSH CA page (`/ssh/ca`): every certificate signed
//! (serial, person, principals, validity, key fingerprint, revoked) with a Revoke button for
//! admins on those still valid, and its POST handler (CSRF checked by the route guard; audited
//! as the caller by the domain).

use super::{outcome_page, PAGE};
use crate::domain::ssh_ca::revocations::{self, IssuedView, RevokeRequest};
use crate::http::error::ApiError;
use crate::http::extract::{blocking, ApiForm, ApiPath};
use crate::http::state::AppState;
use crate::web::format::datetime;
use crate::web::{CsrfForm, PageCaller};
use axum::extract::State;
use maud::{html, Markup};

/// The issued certificates table; with `csrf` (admins) a Revoke button on each valid one.
pub fn certificates_table(certificates: &[IssuedView], csrf: Option<&str>) -> Markup {
    html! {
        h2 { "User certificates" }
        @if certificates.is_empty() {
            p.muted { "None signed yet." }
        } @else {
            p.muted { "Revoking refuses the certificate's key on every host that trusts the user CA (its other certificates too) until they expire." }
            div.table { table #ssh-ca-certificates {
                thead { tr {
                    th { "Serial" } th { "For" } th { "Principals" } th { "Signed" }
                    th { "Valid until" } th { "Key" } th { "State" }
                    @if csrf.is_some() { th {} }
                } }
                tbody { @for certificate in certificates { tr {
                    td { (certificate.serial) }
                    td { (certificate.for_user) " (by " (certificate.signed_by) ")" }
                    td { (certificate.principals.join(", ")) }
                    td { (datetime(certificate.signed_at_ms)) }
                    td { (datetime(certificate.valid_before as i64 * 1000)) }
                    td { code { (certificate.key_fingerprint) } }
                    td {
                        @match (&certificate.revoked_by, certificate.revoked_at_ms) {
                            (Some(by), Some(at)) => span.critical { "revoked " (datetime(at)) " by " (by) },
                            _ if certificate.expired => "expired",
                            _ => "valid",
                        }
                    }
                    @if let Some(csrf) = csrf { td {
                        @if certificate.revoked_at_ms.is_none() && !certificate.expired {
                            form method="post" action={ (PAGE) "/certificates/" (certificate.serial) "/revoke" } data-confirm={ "Revoke the SSH certificate " (certificate.serial) "?" } {
                                input type="hidden" name="csrf" value=(csrf);
                                button type="submit" { "Revoke" }
                            }
                        }
                    } }
                } } }
            } }
        }
    }
}

/// `POST /ssh/ca/certificates/{serial}/revoke`: the page again, saying what was revoked and
/// where it is refused.
pub async fn revoke(
    State(state): State<AppState>,
    caller: PageCaller,
    ApiPath(serial): ApiPath<u64>,
    ApiForm(_form): ApiForm<CsrfForm>,
) -> Result<Markup, ApiError> {
    let actor = caller.0.actor();
    let request = RevokeRequest {
        serial: Some(serial),
        public_key: None,
    };
    let outcome = blocking(&state.ctx, move |ctx| {
        Ok::<_, ApiError>(match revocations::revoke(ctx, &actor, request) {
            Ok(done) => {
                let serials: Vec<String> = done.revoked.iter().map(u64::to_string).collect();
                let mut text = format!("Revoked serial(s) {}.", serials.join(", "));
                if !done.delivered.is_empty() {
                    text.push_str(&format!(" Refused now on {}.", done.delivered.join(", ")));
                }
                if !done.pending.is_empty() {
                    text.push_str(&format!(" Pending: {}.", done.pending.join("; ")));
                }
                Ok(text)
            }
            Err(error) => Err(error.to_string()),
        })
    })
    .await?;
    outcome_page(&state, &caller, outcome).await
}
