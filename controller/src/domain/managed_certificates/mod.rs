//! Managed certificates (issue 15, user stories 2 and 4): the owner declares a certificate for
//! a host (names, key type, lifetime, files, reload, issuer); the controller has the agent make
//! the key and a CSR, signs it ([`issue::issue`]: the services CA, or ACME once configured),
//! has the agent install it, and renews it at two thirds of its lifetime ([`renewal`]).
//! Declaring, renewing, revoking and deleting are audited; views carry no key material (the
//! controller has none: keys stay on the hosts).
//!
//! issue.rs runs one issuance; renewal.rs is the loop; schedule.rs decides what is due (pure).

pub mod issue;
pub mod renewal;
pub mod schedule;

use super::audit::{self, AuditAction};
use super::error::DomainError;
use super::hosts::{parse_agent_id, require_known};
use crate::ca::services::{NameScope, RevokedSerial};
use crate::ca::services_slot::ServicesCaSlot;
use crate::clock::now_ms;
use crate::config::Config;
use crate::context::Context;
use crate::storage::managed_certificates::{
    IssuanceState, IssuerKind, ManagedCertificateRecord, RevokedSerialRecord,
};
use serde::{Deserialize, Serialize};
use std::net::IpAddr;
use std::time::{Duration, SystemTime};
use unity_shared::model::certificate::{CertificateFiles, CertificateName, KeyType};

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

/// Where the agent writes the files, as the owner declares them.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilesDeclaration {
    pub cert: Option<String>,
    pub chain: Option<String>,
    pub fullchain: Option<String>,
    pub key: Option<String>,
    pub combined: Option<String>,
    pub owner: Option<String>,
    pub group: Option<String>,
    /// Octal, e.g. "0640" (default "0600"): the mode of the key and combined files.
    pub key_mode: Option<String>,
}

/// A certificate as the owner declares it (API body, CLI flags).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Declaration {
    pub name: String,
    /// The agent id of the host that gets it.
    pub host: String,
    #[serde(default)]
    pub dns_names: Vec<String>,
    #[serde(default)]
    pub ip_addresses: Vec<String>,
    /// `ecdsa-p256` (default), `rsa-2048`, `rsa-3072` or `ed25519`.
    pub key_type: Option<String>,
    /// E.g. "90d" (default: `[certificates] default_lifetime`).
    pub lifetime: Option<String>,
    #[serde(default)]
    pub files: FilesDeclaration,
    /// argv, no shell, e.g. ["systemctl", "reload", "nginx"].
    pub reload: Option<Vec<String>>,
    /// `services-ca` (default) or `acme:<provider>`.
    pub issuer: Option<String>,
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

pub fn key_type_word(key_type: KeyType) -> &'static str {
    match key_type {
        KeyType::EcdsaP256 => "ecdsa-p256",
        KeyType::Rsa2048 => "rsa-2048",
        KeyType::Rsa3072 => "rsa-3072",
        KeyType::Ed25519 => "ed25519",
    }
}

fn parse_key_type(text: &str) -> Result<KeyType, DomainError> {
    [
        KeyType::EcdsaP256,
        KeyType::Rsa2048,
        KeyType::Rsa3072,
        KeyType::Ed25519,
    ]
    .into_iter()
    .find(|key_type| key_type_word(*key_type) == text.trim().to_ascii_lowercase())
    .ok_or_else(|| {
        DomainError::Invalid(format!(
            "unknown key type {text:?}: expected ecdsa-p256, rsa-2048, rsa-3072 or ed25519"
        ))
    })
}

fn issuer_word(issuer: &IssuerKind) -> String {
    match issuer {
        IssuerKind::ServicesCa => "services-ca".into(),
        IssuerKind::Acme { provider } => format!("acme:{provider}"),
    }
}

fn parse_issuer(text: &str) -> Result<IssuerKind, DomainError> {
    match text.trim() {
        "" | "services-ca" => Ok(IssuerKind::ServicesCa),
        other => match other.strip_prefix("acme:") {
            Some(provider) if !provider.is_empty() => Ok(IssuerKind::Acme {
                provider: provider.to_owned(),
            }),
            _ => Err(DomainError::Invalid(format!(
                "unknown issuer {other:?}: expected services-ca or acme:<provider>"
            ))),
        },
    }
}

pub fn parse_name(text: &str) -> Result<CertificateName, DomainError> {
    CertificateName::new(text).map_err(|error| DomainError::Invalid(error.to_string()))
}

fn dns_name(text: &str) -> Result<String, DomainError> {
    let name = text.trim().trim_end_matches('.').to_ascii_lowercase();
    let body = name.strip_prefix("*.").unwrap_or(&name);
    let valid = !body.is_empty()
        && name.len() <= 253
        && body.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        });
    if valid {
        Ok(name)
    } else {
        Err(DomainError::Invalid(format!("not a DNS name: {text:?}")))
    }
}

fn key_mode(text: Option<&str>) -> Result<u32, DomainError> {
    let Some(text) = text else { return Ok(0o600) };
    u32::from_str_radix(text.trim().trim_start_matches("0o"), 8)
        .ok()
        .filter(|mode| *mode <= 0o777 && *mode & 0o400 != 0)
        .ok_or_else(|| {
            DomainError::Invalid(format!(
                "key_mode {text:?}: expected an octal mode readable by the owner, e.g. 0640"
            ))
        })
}

fn absolute(path: &Option<String>) -> Result<(), DomainError> {
    match path {
        Some(path) if !path.starts_with('/') || path.split('/').any(|part| part == "..") => Err(
            DomainError::Invalid(format!("{path:?} must be an absolute path without '..'")),
        ),
        _ => Ok(()),
    }
}

fn files_of(declared: &FilesDeclaration) -> Result<CertificateFiles, DomainError> {
    for path in [
        &declared.cert,
        &declared.chain,
        &declared.fullchain,
        &declared.key,
        &declared.combined,
    ] {
        absolute(path)?;
    }
    if declared.key.is_none() && declared.combined.is_none() {
        return Err(DomainError::Invalid(
            "name a key file or a combined file: the key is made on the host and lives only there"
                .into(),
        ));
    }
    Ok(CertificateFiles {
        cert: declared.cert.clone(),
        chain: declared.chain.clone(),
        fullchain: declared.fullchain.clone(),
        key: declared.key.clone(),
        combined: declared.combined.clone(),
        owner: declared.owner.clone().filter(|owner| !owner.is_empty()),
        group: declared.group.clone().filter(|group| !group.is_empty()),
        key_mode: key_mode(declared.key_mode.as_deref())?,
    })
}

/// The record a declaration makes, checked. Note that this uses blocking I/O (the host).
fn record_of(
    ctx: &Context,
    actor: &str,
    declaration: Declaration,
) -> Result<ManagedCertificateRecord, DomainError> {
    let settings = &ctx.config.certificates;
    let name = parse_name(&declaration.name)?;
    let host = parse_agent_id(&declaration.host)?;
    require_known(ctx, &host)?;
    let issuer = parse_issuer(declaration.issuer.as_deref().unwrap_or(""))?;
    let mut dns_names = Vec::new();
    for text in &declaration.dns_names {
        let name = dns_name(text)?;
        if issuer == IssuerKind::ServicesCa && !ctx.services_ca.scope().permits_dns(&name) {
            return Err(DomainError::Invalid(format!(
                "{name} is outside the services CA's domains ([certificates] domains: {})",
                settings.domains.join(", ")
            )));
        }
        if !dns_names.contains(&name) {
            dns_names.push(name);
        }
    }
    let mut ip_addresses: Vec<IpAddr> = Vec::new();
    for text in &declaration.ip_addresses {
        let ip: IpAddr = text
            .trim()
            .parse()
            .map_err(|_| DomainError::Invalid(format!("not an IP address: {text:?}")))?;
        if issuer == IssuerKind::ServicesCa && !ctx.services_ca.scope().permits_ip(ip) {
            return Err(DomainError::Invalid(format!(
                "{ip} is outside the services CA's IP ranges ([certificates] ip_ranges)"
            )));
        }
        if !ip_addresses.contains(&ip) {
            ip_addresses.push(ip);
        }
    }
    if dns_names.is_empty() && ip_addresses.is_empty() {
        return Err(DomainError::Invalid(
            "a certificate needs at least one DNS name or IP address".into(),
        ));
    }
    let lifetime = match declaration.lifetime.as_deref() {
        None | Some("") => settings.default_lifetime,
        Some(text) => humantime::parse_duration(text)
            .map_err(|error| DomainError::Invalid(format!("lifetime {text:?}: {error}")))?,
    };
    if lifetime < settings.min_lifetime || lifetime > settings.max_lifetime {
        return Err(DomainError::Invalid(format!(
            "lifetime {} is outside {} to {} ([certificates] min_lifetime, max_lifetime)",
            humantime::format_duration(lifetime),
            humantime::format_duration(settings.min_lifetime),
            humantime::format_duration(settings.max_lifetime)
        )));
    }
    let reload = match declaration.reload {
        Some(argv) if argv.is_empty() => None,
        Some(argv) if argv[0].trim().is_empty() => {
            return Err(DomainError::Invalid(
                "the reload command's program is empty".into(),
            ))
        }
        other => other,
    };
    Ok(ManagedCertificateRecord {
        name,
        host,
        dns_names,
        ip_addresses,
        key_type: match declaration.key_type.as_deref() {
            None | Some("") => KeyType::EcdsaP256,
            Some(text) => parse_key_type(text)?,
        },
        lifetime_secs: lifetime.as_secs(),
        files: files_of(&declaration.files)?,
        reload,
        issuer,
        declared_by: actor.to_owned(),
        declared_at_ms: now_ms(),
        state: IssuanceState::default(),
    })
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
    actor: &str,
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

/// Revokes a certificate: never renewed again, its serial in the services CA's CRL. The
/// files stay on the host until the owner removes them. Note that this uses blocking I/O.
pub fn revoke(
    ctx: &Context,
    actor: &str,
    name: &str,
) -> Result<ManagedCertificateView, DomainError> {
    let name = parse_name(name)?;
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
pub fn delete(ctx: &Context, actor: &str, name: &str) -> Result<(), DomainError> {
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
