//! One issuance of a managed certificate: the agent makes a key and answers with a CSR, the
//! issuer signs it (only the CSR's public key is used; the names come from the declaration),
//! the agent installs the result and reloads; the outcome is recorded and audited. Failures
//! set a growing retry wait (`schedule::retry_delay`).

use super::{lifetime, record, schedule, view, ManagedCertificateView};
use crate::ca::services::ServiceProfile;
use crate::clock::now_ms;
use crate::context::Context;
use crate::domain::actor::Actor;
use crate::domain::audit::{self, AuditAction};
use crate::domain::error::DomainError;
use crate::storage::managed_certificates::{IssuedRecord, IssuerKind, ManagedCertificateRecord};
use crate::transport::hub::CommandError;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use unity_shared::model::certificate::{
    CertificateInstalled, CertificateName, InstallCertificate, PrepareCertificate,
};
use unity_shared::proto::CommandResponse;

/// Making a key (RSA 3072 takes a while on a small host) and answering with a CSR.
const PREPARE_TIMEOUT: Duration = Duration::from_secs(120);
/// Writing the files and reloading (the agent bounds the reload itself).
const INSTALL_TIMEOUT: Duration = Duration::from_secs(180);
/// The actor the renewal loop records.
pub const RENEWAL_ACTOR: Actor = Actor::Controller("renewal");

async fn blocking<T: Send + 'static>(
    ctx: &Arc<Context>,
    work: impl FnOnce(&Context) -> Result<T, DomainError> + Send + 'static,
) -> Result<T, DomainError> {
    let ctx = ctx.clone();
    tokio::task::spawn_blocking(move || work(&ctx))
        .await
        .map_err(|error| DomainError::Internal(format!("blocking task failed: {error}")))?
}

fn agent_error(step: &str, error: CommandError) -> DomainError {
    match error {
        CommandError::Refused(CommandResponse::Failed { message }) => {
            DomainError::Unavailable(format!("{step}: the agent said: {message}"))
        }
        other => DomainError::Unavailable(format!("{step}: {other}")),
    }
}

/// Signs `csr_der` for `declared` and returns the chain (PEM: leaf, then intermediates). The
/// one place issuers are chosen: the services CA, or an ACME CA (the order is finalised with
/// this CSR; see `acme_issuer.rs`).
pub async fn issue(
    ctx: &Arc<Context>,
    declared: &ManagedCertificateRecord,
    csr_der: &[u8],
) -> Result<String, DomainError> {
    match &declared.issuer {
        IssuerKind::ServicesCa => {
            let declared = declared.clone();
            let csr_der = csr_der.to_vec();
            blocking(ctx, move |ctx| {
                let ca = ctx.services_ca.get().map_err(DomainError::internal)?;
                let profile = ServiceProfile {
                    dns_names: &declared.dns_names,
                    ip_addresses: &declared.ip_addresses,
                    key_type: declared.key_type,
                    lifetime: lifetime(&declared),
                };
                ca.sign_service(&csr_der, &profile, SystemTime::now())
                    .map(|issued| issued.chain_pem)
                    .map_err(|error| DomainError::Invalid(format!("signing: {error}")))
            })
            .await
        }
        IssuerKind::Acme { provider } => {
            super::acme_issuer::issue(ctx, declared, provider, csr_der).await
        }
    }
}

/// Prepare, sign, install; the agent's answer and the chain installed.
async fn attempt(
    ctx: &Arc<Context>,
    declared: &ManagedCertificateRecord,
) -> Result<(CertificateInstalled, String), DomainError> {
    let csr = ctx
        .hub
        .request(
            &declared.host,
            PrepareCertificate {
                certificate: declared.name.clone(),
                key_type: declared.key_type,
                dns_names: declared.dns_names.clone(),
                ip_addresses: declared.ip_addresses.clone(),
            },
            PREPARE_TIMEOUT,
        )
        .await
        .map_err(|error| agent_error("preparing the key", error))?;
    let chain_pem = issue(ctx, declared, &csr.csr_der).await?;
    let installed = ctx
        .hub
        .request(
            &declared.host,
            InstallCertificate {
                certificate: declared.name.clone(),
                chain_pem: chain_pem.clone(),
                files: declared.files.clone(),
                reload: declared.reload.clone(),
            },
            INSTALL_TIMEOUT,
        )
        .await
        .map_err(|error| agent_error("installing", error))?;
    Ok((installed, chain_pem))
}

/// Issues (or renews) `name` now on behalf of `actor`, records the outcome and audits it.
pub async fn issue_now(
    ctx: &Arc<Context>,
    actor: &Actor,
    name: &CertificateName,
) -> Result<ManagedCertificateView, DomainError> {
    let lookup = name.clone();
    let declared = blocking(ctx, move |ctx| record(ctx, &lookup)).await?;
    if declared.state.revoked_at_ms.is_some() {
        return Err(DomainError::Conflict(format!(
            "certificate {name} is revoked; declare a new one"
        )));
    }
    let Some(_in_flight) = ctx.services_ca.begin(name.as_str()) else {
        return Err(DomainError::Conflict(format!(
            "certificate {name} is being issued right now"
        )));
    };
    let started = now_ms();
    let outcome = attempt(ctx, &declared).await;
    let settings = ctx.config.certificates.clone();
    let (name, actor) = (name.clone(), actor.to_owned());
    blocking(ctx, move |ctx| {
        let store = &ctx.store.managed_certificates;
        let (updated, action, target) = match &outcome {
            Ok((installed, chain_pem)) => {
                let updated = store.update(&name, |record| {
                    let state = &mut record.state;
                    state.issued = Some(IssuedRecord {
                        serial_hex: installed.serial_hex.clone(),
                        not_after_unix: installed.not_after_unix,
                        issued_at_ms: started,
                        reloaded: installed.reloaded,
                        chain_pem: chain_pem.clone(),
                    });
                    state.last_attempt_ms = Some(started);
                    state.renew_requested = false;
                    state.last_error = None;
                    state.failures = 0;
                    state.retry_at_ms = None;
                })?;
                let target = format!("{name} serial {}", installed.serial_hex);
                (updated, AuditAction::ManagedCertificateIssue, target)
            }
            Err(error) => {
                let message = error.to_string();
                let failed_at = now_ms();
                let updated = store.update(&name, |record| {
                    let state = &mut record.state;
                    state.last_attempt_ms = Some(started);
                    state.renew_requested = false;
                    state.last_error = Some(message.clone());
                    state.last_error_at_ms = Some(failed_at);
                    state.failures = state.failures.saturating_add(1);
                    let wait = schedule::retry_delay(
                        state.failures,
                        settings.retry_min,
                        settings.retry_max,
                    );
                    state.retry_at_ms = Some(failed_at + wait.as_millis() as i64);
                })?;
                let target = format!("{name}: {message}");
                (updated, AuditAction::ManagedCertificateIssueFailed, target)
            }
        };
        audit::record(ctx, &actor, action, &target)?;
        let Some(updated) = updated else {
            return Err(DomainError::NotFound(format!(
                "certificate {name} was deleted while it was being issued"
            )));
        };
        match outcome {
            Ok(_) => Ok(view(ctx, &updated)),
            Err(error) => Err(error),
        }
    })
    .await
}

/// "Renew now" from a face: audited as asked for, then issued at once (a retry wait is
/// ignored).
pub async fn renew_now(
    ctx: &Arc<Context>,
    actor: &Actor,
    name: &str,
) -> Result<ManagedCertificateView, DomainError> {
    let name = super::parse_name(name)?;
    let (target, who) = (name.to_string(), actor.to_owned());
    blocking(ctx, move |ctx| {
        audit::record(ctx, &who, AuditAction::ManagedCertificateRenew, &target)
    })
    .await?;
    issue_now(ctx, actor, &name).await
}

/// "Renew now" where the caller cannot wait on the agent itself (the admin socket): marks the
/// certificate for the renewal loop, wakes it, and waits (up to `wait`) for the attempt while
/// the host is connected. Returns the view and whether the attempt happened. Note that this
/// uses blocking I/O.
pub fn request_renewal(
    ctx: &Context,
    actor: &Actor,
    name: &str,
    wait: Duration,
) -> Result<(ManagedCertificateView, bool), DomainError> {
    let name = super::parse_name(name)?;
    let before = record(ctx, &name)?;
    if before.state.revoked_at_ms.is_some() {
        return Err(DomainError::Conflict(format!(
            "certificate {name} is revoked; declare a new one"
        )));
    }
    ctx.store
        .managed_certificates
        .update(&name, |record| record.state.renew_requested = true)?;
    audit::record(
        ctx,
        actor,
        AuditAction::ManagedCertificateRenew,
        name.as_str(),
    )?;
    ctx.services_ca.wake.notify_one();
    let deadline = std::time::Instant::now() + wait;
    while ctx.hub.is_connected(&before.host) && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
        let now = record(ctx, &name)?;
        if !now.state.renew_requested {
            return Ok((view(ctx, &now), true));
        }
    }
    Ok((view(ctx, &record(ctx, &name)?), false))
}
