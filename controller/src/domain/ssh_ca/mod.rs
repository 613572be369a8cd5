//! The SSH certificate authority as operators use it (docs/ssh-ca.md): made on `init` or first
//! use when `[ssh_ca] enabled`, its public key and `@cert-authority` known_hosts line, user
//! certificates signed for a person with chosen principals and TTL (host-scoped with a host),
//! and per-host configuration (hosts.rs) renewed by a loop (renewal.rs); every user
//! certificate is recorded and can be revoked (revocations.rs). Every signature and change is
//! audited.

pub mod hosts;
pub mod principals;
pub mod renewal;
pub mod revocations;
pub mod revoked_keys;

use crate::ca::ssh::{self, SshCa, SshCertKind, SshCertRequest};
use crate::clock::now_ms;
use crate::context::Context;
use crate::domain::actor::Actor;
use crate::domain::audit::{self, AuditAction};
use crate::domain::error::DomainError;
use crate::storage::ssh_ca::IssuedUserCertificate;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Duration;

/// The SSH CA's directory under the data directory.
pub fn ca_dir(ctx: &Context) -> PathBuf {
    ctx.config.data_dir.join("ssh-ca")
}

fn require_enabled(ctx: &Context) -> Result<(), DomainError> {
    if ctx.config.ssh_ca.enabled {
        Ok(())
    } else {
        Err(DomainError::Conflict(
            "the SSH CA is disabled; set [ssh_ca] enabled = true in the controller's configuration"
                .into(),
        ))
    }
}

/// The CA, made (and audited as made by `actor`) when there is none yet. Note that this uses
/// blocking I/O.
pub fn ca(ctx: &Context, actor: &Actor) -> Result<SshCa, DomainError> {
    require_enabled(ctx)?;
    let (ca, created) = SshCa::load_or_create(&ca_dir(ctx)).map_err(DomainError::internal)?;
    if created {
        audit::record(ctx, actor, AuditAction::SshCaCreate, &ca.fingerprint())?;
        tracing::info!(fingerprint = %ca.fingerprint(), "SSH CA created.");
    }
    Ok(ca)
}

/// The SSH CA as every face shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SshCaView {
    /// `ssh-ed25519 AAAA… unity-ssh-ca`.
    pub public_key: String,
    pub fingerprint: String,
    /// The line for `known_hosts`: `@cert-authority <patterns> <public key>`.
    pub known_hosts_line: String,
    pub host_certificate_days: u64,
    pub max_user_ttl_secs: u64,
    pub default_user_ttl_secs: u64,
}

/// `@cert-authority <patterns> <public key>`: `*` or the configured domains.
pub fn known_hosts_line(domains: &[String], public_key: &str) -> String {
    let patterns = if domains.is_empty() {
        "*".to_owned()
    } else {
        domains.join(",")
    };
    format!("@cert-authority {patterns} {public_key}")
}

/// Makes the CA if needed and shows it. Note that this uses blocking I/O.
pub fn show(ctx: &Context, actor: &Actor) -> Result<SshCaView, DomainError> {
    let ca = ca(ctx, actor)?;
    let public_key = ca.public_line();
    let settings = &ctx.config.ssh_ca;
    Ok(SshCaView {
        known_hosts_line: known_hosts_line(&settings.known_hosts_domains, &public_key),
        fingerprint: ca.fingerprint(),
        public_key,
        host_certificate_days: settings.host_certificate_days,
        max_user_ttl_secs: settings.max_user_ttl.as_secs(),
        default_user_ttl_secs: settings.default_user_ttl.as_secs(),
    })
}

/// A request for a user certificate, as a face parsed it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SignUserRequest {
    /// The OpenSSH public key line to sign.
    pub public_key: String,
    /// The person (Unity account) it is signed for; recorded in the key id and the audit (the
    /// API defaults it to the caller).
    #[serde(default)]
    pub user: String,
    /// Login names (principals); repeatable.
    pub principals: Vec<String>,
    /// Limit the certificate to this host (agent id): its principals become `name@host`,
    /// which only that host's principals files list.
    #[serde(default)]
    pub host: Option<String>,
    /// Validity, e.g. "8h" (default `[ssh_ca] default_user_ttl`).
    #[serde(default)]
    pub ttl: Option<String>,
}

/// A signed user certificate.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SignedUserCertificate {
    /// The certificate line, for `KEY-cert.pub`.
    pub certificate: String,
    pub serial: u64,
    pub key_id: String,
    pub principals: Vec<String>,
    pub valid_after: u64,
    pub valid_before: u64,
    pub key_fingerprint: String,
}

fn rfc3339(unix_ms: i64) -> String {
    let at = std::time::UNIX_EPOCH + Duration::from_millis(unix_ms.max(0) as u64);
    humantime::format_rfc3339_seconds(at).to_string()
}

/// The key as hosts' `RevokedKeys` lists it: algorithm and base64, no comment.
fn public_key_line(text: &str) -> Result<String, DomainError> {
    let mut key = ssh_key::PublicKey::from_openssh(text.trim())
        .map_err(|error| DomainError::Invalid(format!("not an OpenSSH public key: {error}")))?;
    key.set_comment("");
    key.to_openssh()
        .map(|line| line.trim().to_owned())
        .map_err(|error| DomainError::Internal(error.to_string()))
}

/// Signs a user certificate on behalf of `actor` and audits it. Note that this uses blocking
/// I/O.
pub fn sign_user(
    ctx: &Context,
    actor: &Actor,
    request: SignUserRequest,
) -> Result<SignedUserCertificate, DomainError> {
    let for_user = request.user.trim();
    if for_user.is_empty() || for_user.len() > 64 || for_user.chars().any(char::is_control) {
        return Err(DomainError::Invalid(
            "name the person it is for (--user), 1 to 64 characters".into(),
        ));
    }
    let host = match request.host.as_deref() {
        Some(host) => {
            let agent_id = crate::domain::hosts::parse_agent_id(host)?;
            crate::domain::hosts::require_known(ctx, &agent_id)?;
            Some(agent_id.to_string())
        }
        None => None,
    };
    let principals = principals::user_principals(&request.principals, host.as_deref())
        .map_err(DomainError::Invalid)?;
    let asked = match request.ttl.as_deref() {
        Some(text) => Some(
            humantime::parse_duration(text)
                .map_err(|error| DomainError::Invalid(format!("TTL {text:?}: {error}")))?,
        ),
        None => None,
    };
    let settings = &ctx.config.ssh_ca;
    let ttl = principals::user_ttl(asked, settings.default_user_ttl, settings.max_user_ttl)
        .map_err(DomainError::Invalid)?;
    let ca = ca(ctx, actor)?;
    let now = now_ms();
    let serial = ctx.store.ssh_ca.next_serial()?;
    let key_id = principals::user_key_id(for_user, actor, &rfc3339(now), serial);
    let (valid_after, valid_before) = ssh::validity((now / 1000) as u64, ttl.as_secs());
    let signed = ca
        .sign(
            &request.public_key,
            &SshCertRequest {
                kind: SshCertKind::User,
                key_id: key_id.clone(),
                serial,
                principals: principals.clone(),
                valid_after,
                valid_before,
            },
        )
        .map_err(|error| DomainError::Invalid(error.to_string()))?;
    revoked_keys::require_not_revoked(ctx, &signed.key_fingerprint)?;
    revocations::record_issued(
        ctx,
        &IssuedUserCertificate {
            serial,
            key_id: key_id.clone(),
            for_user: for_user.to_owned(),
            signed_by: actor.to_string(),
            signed_at_ms: now,
            principals: principals.clone(),
            valid_after,
            valid_before,
            public_key: public_key_line(&request.public_key)?,
            key_fingerprint: signed.key_fingerprint.clone(),
            revoked: None,
        },
    )?;
    audit::record(
        ctx,
        actor,
        AuditAction::SshUserCertificateSign,
        &format!(
            "for {for_user} principals {} serial {serial} valid {} to {} key {}",
            principals.join(","),
            rfc3339(valid_after as i64 * 1000),
            rfc3339(valid_before as i64 * 1000),
            signed.key_fingerprint
        ),
    )?;
    tracing::info!(for_user, %actor, serial, principals = %principals.join(","), "SSH user certificate signed.");
    Ok(SignedUserCertificate {
        certificate: signed.line,
        serial,
        key_id,
        principals,
        valid_after,
        valid_before,
        key_fingerprint: signed.key_fingerprint,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_hosts_line_patterns() {
        assert_eq!(
            known_hosts_line(&[], "ssh-ed25519 AAAA unity-ssh-ca"),
            "@cert-authority * ssh-ed25519 AAAA unity-ssh-ca"
        );
        assert_eq!(
            known_hosts_line(&["*.home.arpa".into(), "*.lan".into()], "k"),
            "@cert-authority *.home.arpa,*.lan k"
        );
    }
}
