//! What the owner declares for a managed certificate (API body, CLI flags, dashboard form),
//! and its checks: a known host, names inside the services CA's domains (for an ACME issuer: a
//! configured provider, DNS names only, wildcards only through DNS-01), a key or combined
//! file, absolute paths, a sane key mode and lifetime. Nothing is stored unless all pass.

use super::super::error::DomainError;
use super::super::hosts::{parse_agent_id, require_known};
use crate::clock::now_ms;
use crate::context::Context;
use crate::domain::actor::Actor;
use crate::storage::managed_certificates::{IssuanceState, IssuerKind, ManagedCertificateRecord};
use serde::{Deserialize, Serialize};
use std::net::IpAddr;
use unity_shared::model::certificate::{CertificateFiles, CertificateName, KeyType};

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

pub(super) fn issuer_word(issuer: &IssuerKind) -> String {
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
pub(super) fn record_of(
    ctx: &Context,
    actor: &Actor,
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
    if let IssuerKind::Acme { provider } = &issuer {
        super::acme_issuer::check_declaration(ctx, provider, &dns_names, &ip_addresses)?;
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
        declared_by: actor.to_string(),
        declared_at_ms: now_ms(),
        state: IssuanceState::default(),
    })
}
