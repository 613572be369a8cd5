//! User certificates the SSH CA signed, and revoking them (docs/ssh-ca.md): every signature is
//! recorded (serial, key id, principals, validity, the certified public key); revoking a
//! certificate (by serial, or every certificate of a public key) marks it and every other
//! unexpired certificate of the same key, and the hosts that trust the user CA get the key in
//! their `RevokedKeys` file at once (connected hosts) or when they are back (the others are
//! marked due); which keys are listed is revoked_keys.rs. Audited as the caller.

use super::hosts;
use crate::clock::now_ms;
use crate::context::Context;
use crate::domain::actor::Actor;
use crate::domain::audit::{self, AuditAction};
use crate::domain::error::DomainError;
use crate::storage::ssh_ca::{IssuedUserCertificate, SshRevocation};
use serde::{Deserialize, Serialize};

/// What to revoke: one certificate, or every certificate of a public key.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RevokeRequest {
    #[serde(default)]
    pub serial: Option<u64>,
    /// An OpenSSH public key line (`ssh-ed25519 AAAA…`).
    #[serde(default)]
    pub public_key: Option<String>,
}

/// A signed user certificate as the faces list it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedView {
    pub serial: u64,
    pub key_id: String,
    pub for_user: String,
    pub signed_by: String,
    pub signed_at_ms: i64,
    pub principals: Vec<String>,
    pub valid_after: u64,
    pub valid_before: u64,
    pub key_fingerprint: String,
    pub expired: bool,
    pub revoked_at_ms: Option<i64>,
    pub revoked_by: Option<String>,
}

/// What a revocation did.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RevokeOutcome {
    /// Serials newly revoked.
    pub revoked: Vec<u64>,
    /// Hosts whose sshd now refuses the key.
    pub delivered: Vec<String>,
    /// Hosts that get it when they are back (or after a failure's wait), with why.
    pub pending: Vec<String>,
}

fn view(record: &IssuedUserCertificate, now_secs: u64) -> IssuedView {
    IssuedView {
        serial: record.serial,
        key_id: record.key_id.clone(),
        for_user: record.for_user.clone(),
        signed_by: record.signed_by.clone(),
        signed_at_ms: record.signed_at_ms,
        principals: record.principals.clone(),
        valid_after: record.valid_after,
        valid_before: record.valid_before,
        key_fingerprint: record.key_fingerprint.clone(),
        expired: record.valid_before <= now_secs,
        revoked_at_ms: record.revoked.as_ref().map(|r| r.revoked_at_ms),
        revoked_by: record.revoked.as_ref().map(|r| r.revoked_by.clone()),
    }
}

fn now_secs() -> u64 {
    (now_ms() / 1000).max(0) as u64
}

/// Every recorded user certificate, newest first. Note that this uses blocking I/O.
pub fn list(ctx: &Context) -> Result<Vec<IssuedView>, DomainError> {
    let now = now_secs();
    Ok(ctx
        .store
        .ssh_ca
        .all_issued()?
        .iter()
        .map(|record| view(record, now))
        .collect())
}

/// The revoked certificates, newest first. Note that this uses blocking I/O.
pub fn revoked(ctx: &Context) -> Result<Vec<IssuedView>, DomainError> {
    Ok(list(ctx)?
        .into_iter()
        .filter(|view| view.revoked_at_ms.is_some())
        .collect())
}

/// Records a signed user certificate. Note that this uses blocking I/O.
pub fn record_issued(ctx: &Context, record: &IssuedUserCertificate) -> Result<(), DomainError> {
    ctx.store.ssh_ca.put_issued(record)?;
    Ok(())
}

fn fingerprint_of(public_key: &str) -> Result<String, DomainError> {
    let key = ssh_key::PublicKey::from_openssh(public_key.trim())
        .map_err(|error| DomainError::Invalid(format!("not an OpenSSH public key: {error}")))?;
    Ok(key.fingerprint(ssh_key::HashAlg::Sha256).to_string())
}

/// Revokes what `request` names on behalf of `actor`, audits it and delivers the keys to the
/// hosts. Note that this blocks (hub requests; see hosts.rs).
pub fn revoke(
    ctx: &Context,
    actor: &Actor,
    request: RevokeRequest,
) -> Result<RevokeOutcome, DomainError> {
    super::require_enabled(ctx)?;
    let records = ctx.store.ssh_ca.all_issued()?;
    let fingerprint = match (request.serial, request.public_key.as_deref()) {
        (Some(serial), None) => records
            .iter()
            .find(|record| record.serial == serial)
            .map(|record| record.key_fingerprint.clone())
            .ok_or_else(|| {
                DomainError::NotFound(format!("no user certificate with serial {serial}"))
            })?,
        (None, Some(public_key)) => {
            let fingerprint = fingerprint_of(public_key)?;
            if !records.iter().any(|r| r.key_fingerprint == fingerprint) {
                return Err(DomainError::NotFound(format!(
                    "no user certificate was signed for {fingerprint}"
                )));
            }
            fingerprint
        }
        _ => {
            return Err(DomainError::Invalid(
                "name a serial or a public key (one of them)".into(),
            ))
        }
    };
    let now = now_ms();
    let mut revoked = Vec::new();
    for mut record in records {
        let same_key = record.key_fingerprint == fingerprint;
        let named = request.serial.is_none_or(|serial| serial == record.serial);
        let unexpired = record.valid_before > (now / 1000).max(0) as u64;
        if same_key && record.revoked.is_none() && (named || unexpired) {
            record.revoked = Some(SshRevocation {
                revoked_at_ms: now,
                revoked_by: actor.to_string(),
            });
            ctx.store.ssh_ca.put_issued(&record)?;
            revoked.push(record.serial);
        }
    }
    revoked.sort_unstable();
    if revoked.is_empty() {
        return Err(DomainError::Conflict(format!(
            "every certificate of {fingerprint} is revoked already"
        )));
    }
    let serials: Vec<String> = revoked.iter().map(u64::to_string).collect();
    audit::record(
        ctx,
        actor,
        AuditAction::SshUserCertificateRevoke,
        &format!("serials {} key {fingerprint}", serials.join(",")),
    )?;
    tracing::info!(%actor, serials = %serials.join(","), %fingerprint, "SSH user certificates revoked.");
    let (delivered, pending) = deliver(ctx, actor)?;
    Ok(RevokeOutcome {
        revoked,
        delivered,
        pending,
    })
}

/// Configures every host that trusts the user CA now (connected) or marks it due. Note that
/// this blocks.
fn deliver(ctx: &Context, actor: &Actor) -> Result<(Vec<String>, Vec<String>), DomainError> {
    let (mut delivered, mut pending) = (Vec::new(), Vec::new());
    for mut record in ctx.store.ssh_ca.hosts()? {
        if !record.trust_user_ca {
            continue;
        }
        let host = record.agent_id.to_string();
        if ctx.hub.is_connected(&record.agent_id) {
            match hosts::configure(ctx, actor, &record.agent_id) {
                Ok(_) => delivered.push(host),
                Err(error) => pending.push(format!("{host}: {error}")),
            }
        } else {
            let why = "offline: the revoked keys are sent when it is back";
            record.state.last_error = Some(format!("revocations not delivered yet ({why})"));
            record.state.last_error_at_ms = Some(now_ms());
            record.state.retry_at_ms = None;
            ctx.store.ssh_ca.put_host(&record)?;
            pending.push(format!("{host}: {why}"));
        }
    }
    Ok((delivered, pending))
}
