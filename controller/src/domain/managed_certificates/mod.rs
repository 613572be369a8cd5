//! Managed certificates (issue 15, user stories 2, 3 and 4): the owner declares a certificate for
//! a host (names, key type, lifetime, files, reload, issuer); the controller has the agent make
//! the key and a CSR, has it signed ([`issue::issue`]: the services CA, or an ACME CA through
//! an `[acme]` provider, the order finalised with the host's CSR), has the agent install it,
//! and renews it at two thirds of its lifetime ([`renewal`]).
//! Declaring, renewing, revoking and deleting are audited; views carry no key material (the
//! controller has none: keys stay on the hosts).
//!
//! declaration.rs checks what the owner declares; issue.rs runs one issuance; acme_issuer.rs
//! is the ACME side (checks, order, revocation); renewal.rs is the loop; schedule.rs decides
//! what is due (pure).

mod acme_issuer;
mod declaration;
pub mod issue;
pub mod renewal;
pub mod schedule;

use super::audit::{self, AuditAction};
use super::error::DomainError;
use crate::ca::services::{NameScope, RevokedSerial};
use crate::ca::services_slot::ServicesCaSlot;
use crate::clock::now_ms;
use crate::config::Config;
use crate::context::Context;
use crate::domain::actor::Actor;
use crate::storage::managed_certificates::{
    IssuerKind, ManagedCertificateRecord, RevokedSerialRecord,
};
use serde::{Deserialize, Serialize};
use std::time::{Duration, SystemTime};
use unity_shared::model::certificate::CertificateName;

use declaration::{issuer_word, record_of};
pub use declaration::{key_type_word, parse_name, Declaration, FilesDeclaration};
pub use issue::{issue_now, renew_now, request_renewal};

/// The services CA's slot for the context, with the configured name constraints.
pub fn services_ca_slot(config: &Config) -> ServicesCaSlot {
    ServicesCaSlot::new(
        config.services_ca_dir(),
        NameScope {
            dns: config.certificates.domains.clone(),
            ip_ranges: config.certificates.ip_ranges.clone(),
        },
    )
}

/// A managed certificate as every face shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ManagedCertificateView {
    pub name: String,
    pub host: String,
    pub dns_names: Vec<String>,
    pub ip_addresses: Vec<String>,
    pub key_type: String,
    pub lifetime_secs: u64,
    pub files: FilesDeclaration,
    pub reload: Option<Vec<String>>,
    pub issuer: String,
    /// `pending`, `issued`, `failing` or `revoked`.
    pub status: String,
    pub serial_hex: Option<String>,
    pub not_after_unix: Option<i64>,
    pub issued_at_ms: Option<i64>,
    pub reloaded: Option<bool>,
    pub renew_at_ms: Option<i64>,
    pub last_attempt_ms: Option<i64>,
    pub last_error: Option<String>,
    pub last_error_at_ms: Option<i64>,
    pub failures: u32,
    pub retry_at_ms: Option<i64>,
    pub revoked_at_ms: Option<i64>,
    pub declared_by: String,
    pub declared_at_ms: i64,
}

/// The services CA's root for download.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RootView {
    pub pem: String,
    pub sha256: String,
    pub domains: Vec<String>,
    pub ip_ranges: Vec<String>,
}

/// How a record is shown.
pub fn view(ctx: &Context, record: &ManagedCertificateRecord) -> ManagedCertificateView {
    let state = &record.state;
    let status = if state.revoked_at_ms.is_some() {
        "revoked"
    } else if state.last_error.is_some() {
        "failing"
    } else if state.issued.is_some() {
        "issued"
    } else {
        "pending"
    };
    let issued = state.issued.as_ref();
    let files = &record.files;
    ManagedCertificateView {
        name: record.name.to_string(),
        host: record.host.to_string(),
        dns_names: record.dns_names.clone(),
        ip_addresses: record
            .ip_addresses
            .iter()
            .map(ToString::to_string)
            .collect(),
        key_type: key_type_word(record.key_type).into(),
        lifetime_secs: record.lifetime_secs,
        files: FilesDeclaration {
            cert: files.cert.clone(),
            chain: files.chain.clone(),
            fullchain: files.fullchain.clone(),
            key: files.key.clone(),
            combined: files.combined.clone(),
            owner: files.owner.clone(),
            group: files.group.clone(),
            key_mode: Some(format!("{:04o}", files.key_mode)),
        },
        reload: record.reload.clone(),
        issuer: issuer_word(&record.issuer),
        status: status.into(),
        serial_hex: issued.map(|issued| issued.serial_hex.clone()),
        not_after_unix: issued.map(|issued| issued.not_after_unix),
        issued_at_ms: issued.map(|issued| issued.issued_at_ms),
        reloaded: issued.map(|issued| issued.reloaded),
        renew_at_ms: issued
            .filter(|_| state.revoked_at_ms.is_none())
            .map(|issued| schedule::renew_at_ms(issued, ctx.config.certificates.renew_fraction)),
        last_attempt_ms: state.last_attempt_ms,
        last_error: state.last_error.clone(),
        last_error_at_ms: state.last_error_at_ms,
        failures: state.failures,
        retry_at_ms: state.retry_at_ms,
        revoked_at_ms: state.revoked_at_ms,
        declared_by: record.declared_by.clone(),
        declared_at_ms: record.declared_at_ms,
    }
}

/// Declares a certificate; the renewal loop issues it as soon as its host is connected.
/// Note that this uses blocking I/O.
pub fn declare(
    ctx: &Context,
    actor: &Actor,
    declaration: Declaration,
) -> Result<ManagedCertificateView, DomainError> {
    let record = record_of(ctx, actor, declaration)?;
    if !ctx.store.managed_certificates.insert_new(&record)? {
        return Err(DomainError::Conflict(format!(
            "a certificate named {} exists already (delete it first)",
            record.name
        )));
    }
    audit::record(
        ctx,
        actor,
        AuditAction::ManagedCertificateDeclare,
        &format!("{} on {}", record.name, record.host),
    )?;
    ctx.services_ca.wake.notify_one();
    Ok(view(ctx, &record))
}

/// The record named `name`. Note that this uses blocking I/O.
pub fn record(
    ctx: &Context,
    name: &CertificateName,
) -> Result<ManagedCertificateRecord, DomainError> {
    ctx.store
        .managed_certificates
        .get(name)?
        .ok_or_else(|| DomainError::NotFound(format!("no managed certificate named {name}")))
}

/// Every managed certificate, soonest expiry first. Note that this uses blocking I/O.
pub fn list(ctx: &Context) -> Result<Vec<ManagedCertificateView>, DomainError> {
    let mut views: Vec<ManagedCertificateView> = ctx
        .store
        .managed_certificates
        .list()?
        .iter()
        .map(|record| view(ctx, record))
        .collect();
    views.sort_by_key(|view| (view.not_after_unix.unwrap_or(i64::MAX), view.name.clone()));
    Ok(views)
}

/// One managed certificate. Note that this uses blocking I/O.
pub fn show(ctx: &Context, name: &str) -> Result<ManagedCertificateView, DomainError> {
    Ok(view(ctx, &record(ctx, &parse_name(name)?)?))
}

/// Revokes a certificate: never renewed again; a services-CA serial goes into the CRL, an
/// ACME certificate is revoked at its ACME server first (if that fails, nothing changes and
/// the error says why). The files stay on the host until the owner removes them. Note that
/// this uses blocking I/O.
pub fn revoke(
    ctx: &Context,
    actor: &Actor,
    name: &str,
) -> Result<ManagedCertificateView, DomainError> {
    let name = parse_name(name)?;
    // Not while it is being issued: the new certificate would escape the ACME revocation.
    let Some(_in_flight) = ctx.services_ca.begin(name.as_str()) else {
        return Err(DomainError::Conflict(format!(
            "certificate {name} is being issued right now; revoke it once that is done"
        )));
    };
    let current = record(ctx, &name)?;
    if let (IssuerKind::Acme { provider }, Some(issued), None) = (
        &current.issuer,
        &current.state.issued,
        current.state.revoked_at_ms,
    ) {
        if issued.chain_pem.is_empty() {
            return Err(DomainError::Conflict(format!(
                "certificate {name} was issued before its chain was kept; renew it, then revoke"
            )));
        }
        acme_issuer::revoke(ctx, provider, &issued.chain_pem)?;
    }
    let now = now_ms();
    let updated = ctx
        .store
        .managed_certificates
        .update(&name, |record| {
            record.state.revoked_at_ms.get_or_insert(now);
        })?
        .ok_or_else(|| DomainError::NotFound(format!("no managed certificate named {name}")))?;
    if let (Some(issued), IssuerKind::ServicesCa) = (&updated.state.issued, &updated.issuer) {
        ctx.store
            .managed_certificates
            .add_revoked(&RevokedSerialRecord {
                serial_hex: issued.serial_hex.clone(),
                revoked_at_ms: updated.state.revoked_at_ms.unwrap_or(now),
                certificate: name.clone(),
            })?;
    }
    audit::record(
        ctx,
        actor,
        AuditAction::ManagedCertificateRevoke,
        name.as_str(),
    )?;
    Ok(view(ctx, &updated))
}

/// Forgets a declared certificate (not revoking it). Note that this uses blocking I/O.
pub fn delete(ctx: &Context, actor: &Actor, name: &str) -> Result<(), DomainError> {
    let name = parse_name(name)?;
    if !ctx.store.managed_certificates.remove(&name)? {
        return Err(DomainError::NotFound(format!(
            "no managed certificate named {name}"
        )));
    }
    audit::record(
        ctx,
        actor,
        AuditAction::ManagedCertificateDelete,
        name.as_str(),
    )?;
    Ok(())
}

/// The services CA's root (created on first use). Note that this uses blocking I/O.
pub fn root(ctx: &Context) -> Result<(RootView, Vec<u8>), DomainError> {
    let ca = ctx.services_ca.get().map_err(DomainError::internal)?;
    Ok((
        RootView {
            pem: ca.root_pem().to_owned(),
            sha256: ca.root_sha256(),
            domains: ca.scope().dns.clone(),
            ip_ranges: ca.scope().ip_ranges.clone(),
        },
        ca.root_der().to_vec(),
    ))
}

/// The services CA's certificate revocation list, DER. Note that this uses blocking I/O.
pub fn crl(ctx: &Context) -> Result<Vec<u8>, DomainError> {
    let ca = ctx.services_ca.get().map_err(DomainError::internal)?;
    let revoked: Vec<RevokedSerial> = ctx
        .store
        .managed_certificates
        .revoked()?
        .into_iter()
        .map(|record| RevokedSerial {
            serial_hex: record.serial_hex,
            revoked_at_unix: record.revoked_at_ms / 1000,
        })
        .collect();
    ca.crl_der(&revoked, SystemTime::now())
        .map_err(DomainError::internal)
}

/// The lifetime of a record.
fn lifetime(record: &ManagedCertificateRecord) -> Duration {
    Duration::from_secs(record.lifetime_secs)
}

#[cfg(test)]
mod tests;
