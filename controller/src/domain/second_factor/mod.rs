//! Second factors: TOTP (RFC 6238: SHA-1, 6 digits, 30-second steps, one step of clock skew
//! either way) enrolled by confirming a first code, recovery codes (shown once, stored as
//! argon2 hashes, each used once), and passing the second step of a login with either. A TOTP
//! code is accepted once: the step it was made for must be newer than the last accepted one.
//! Every change and every attempt is audited. Passkeys (WebAuthn) are the other second
//! factor: `passkeys/` (adding, listing, deleting, logging in), checked by `webauthn/`.
//!
//! Functions take the time (`now_s`, Unix seconds) so tests run on a fixed clock.

use super::audit::{self, AuditAction};
use super::error::DomainError;
use super::sessions::{self, NewSession};
use crate::context::Context;
use crate::domain::actor::Actor;
use crate::storage::auth::{self as store_auth, TotpRecord};
use totp_rs::{Algorithm, Secret, TOTP};

/// Seconds per TOTP step.
pub const STEP_S: u64 = 30;
/// Recovery codes made at a time.
pub const N_RECOVERY_CODES: usize = 10;

/// What a user needs to add an authenticator app: the secret and the `otpauth://` URI its QR
/// code carries. Its `Debug` shows neither.
#[derive(Clone)]
pub struct TotpEnrolment {
    /// Base32, for typing in by hand.
    pub secret: String,
    pub uri: String,
}

impl std::fmt::Debug for TotpEnrolment {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("TotpEnrolment { <redacted> }")
    }
}

fn totp(secret: &[u8]) -> TOTP {
    TOTP::new_unchecked(Algorithm::SHA1, 6, 1, STEP_S, secret.to_vec())
}

/// The code for `secret` at `now_s` (for tests and the enrolment check).
pub fn code_at(secret: &[u8], now_s: u64) -> String {
    totp(secret).generate(now_s)
}

/// The step of `secret` that `code` was made for, within one step of `now_s`.
fn matching_step(secret: &[u8], code: &str, now_s: u64) -> Option<u64> {
    let code = code.trim().replace(' ', "");
    let now_step = now_s / STEP_S;
    let totp = totp(secret);
    [now_step.saturating_sub(1), now_step, now_step + 1]
        .into_iter()
        .find(|step| {
            let expected = totp.generate(step * STEP_S);
            crate::storage::auth::constant_time_eq(expected.as_bytes(), code.as_bytes())
        })
}

/// Starts (or restarts) TOTP enrolment for `user`: a new secret, kept aside until a code
/// made from it confirms it. Note that this uses blocking I/O.
pub fn start_totp(ctx: &Context, user: &str) -> Result<TotpEnrolment, DomainError> {
    let secret: Vec<u8> = rand::random::<[u8; 20]>().to_vec();
    ctx.store.auth.update_factors(user, |record| {
        record.totp_pending = Some(secret.clone());
        Some(())
    })?;
    let encoded = Secret::Raw(secret).to_encoded().to_string();
    let uri = format!(
        "otpauth://totp/Unity:{}?secret={encoded}&issuer=Unity&algorithm=SHA1&digits=6&period={STEP_S}",
        user.replace('@', "%40")
    );
    Ok(TotpEnrolment {
        secret: encoded,
        uri,
    })
}

/// New recovery codes: `xxxx-xxxx-xxxx` of lower-case base32 (60 bits each).
fn new_codes() -> Vec<String> {
    (0..N_RECOVERY_CODES)
        .map(|_| {
            let text = Secret::Raw(rand::random::<[u8; 8]>().to_vec())
                .to_encoded()
                .to_string()
                .to_ascii_lowercase();
            format!("{}-{}-{}", &text[0..4], &text[4..8], &text[8..12])
        })
        .collect()
}

fn hashes(codes: &[String]) -> Result<Vec<String>, DomainError> {
    codes
        .iter()
        .map(|code| {
            store_auth::hash_password(code)
                .map_err(|error| DomainError::Internal(error.to_string()))
        })
        .collect()
}

/// Confirms enrolment with a code from the new secret; on success TOTP is on and fresh
/// recovery codes are returned (shown once). Note that this uses blocking I/O.
pub fn confirm_totp(
    ctx: &Context,
    actor: &Actor,
    user: &str,
    code: &str,
    now_s: u64,
) -> Result<Vec<String>, DomainError> {
    let codes = new_codes();
    let hashed = hashes(&codes)?;
    let enabled_at_ms = (now_s * 1000) as i64;
    let confirmed = ctx.store.auth.update_factors(user, |record| {
        let secret = record.totp_pending.clone()?;
        let step = matching_step(&secret, code, now_s)?;
        record.totp = Some(TotpRecord {
            secret,
            enabled_at_ms,
            last_step: step,
        });
        record.totp_pending = None;
        record.recovery_codes = hashed.clone();
        Some(())
    })?;
    if confirmed.is_none() {
        return Err(DomainError::Invalid(
            "wrong code: enter the 6 digits your app shows for Unity now".into(),
        ));
    }
    audit::record(ctx, actor, AuditAction::TotpEnable, user)?;
    ctx.store.flush()?;
    Ok(codes)
}

/// Turns TOTP off for `user` (their recovery codes go too). Note that this uses blocking I/O.
pub fn disable_totp(ctx: &Context, actor: &Actor, user: &str) -> Result<(), DomainError> {
    ctx.store.auth.update_factors(user, |record| {
        record.totp = None;
        record.totp_pending = None;
        record.recovery_codes.clear();
        Some(())
    })?;
    audit::record(ctx, actor, AuditAction::TotpDisable, user)?;
    ctx.store.flush()?;
    Ok(())
}

/// Replaces `user`'s recovery codes; returns the new ones (shown once). Note that this uses
/// blocking I/O.
pub fn new_recovery_codes(
    ctx: &Context,
    actor: &Actor,
    user: &str,
) -> Result<Vec<String>, DomainError> {
    let codes = new_codes();
    let hashed = hashes(&codes)?;
    ctx.store.auth.update_factors(user, |record| {
        record.recovery_codes = hashed.clone();
        Some(())
    })?;
    audit::record(ctx, actor, AuditAction::RecoveryCodesCreate, user)?;
    ctx.store.flush()?;
    Ok(codes)
}

/// Checks a TOTP code (once per step) or a recovery code (used up) for `user`; `Some(method)`
/// when it passed. Note that this uses blocking I/O and, for recovery codes, argon2.
pub fn verify(
    ctx: &Context,
    user: &str,
    code: &str,
    now_s: u64,
) -> Result<Option<&'static str>, DomainError> {
    let totp_passed = ctx.store.auth.update_factors(user, |record| {
        let totp = record.totp.as_mut()?;
        let step = matching_step(&totp.secret, code, now_s)?;
        if step <= totp.last_step {
            return None;
        }
        totp.last_step = step;
        Some(())
    })?;
    if totp_passed.is_some() {
        return Ok(Some("totp"));
    }
    let code = code.trim().to_ascii_lowercase();
    if code.len() != 14 {
        return Ok(None);
    }
    let hashes = ctx.store.auth.factors(user)?.recovery_codes;
    let Some(matched) = hashes
        .into_iter()
        .find(|hash| store_auth::verify_password(&code, hash))
    else {
        return Ok(None);
    };
    let used = ctx.store.auth.update_factors(user, |record| {
        let before = record.recovery_codes.len();
        record.recovery_codes.retain(|hash| *hash != matched);
        (record.recovery_codes.len() < before).then_some(())
    })?;
    Ok(used.map(|()| "recovery code"))
}

/// The second step of a login: checks `code` for the pending login behind `pending_hash`
/// and, when it passes, ends the pending login and opens a session with new ids. Note that
/// this uses blocking I/O.
pub fn complete_login(
    ctx: &Context,
    pending_hash: [u8; 32],
    code: &str,
    now_s: u64,
    ttl_ms: i64,
) -> Result<Option<NewSession>, DomainError> {
    let Some(pending) = sessions::pending(ctx, pending_hash)? else {
        return Err(DomainError::Invalid(
            "this login has expired; log in again".into(),
        ));
    };
    let Some(method) = verify(ctx, &pending.user, code, now_s)? else {
        audit::record(
            ctx,
            &Actor::user(&pending.user),
            AuditAction::SecondFactorFailed,
            &pending.user,
        )?;
        return Ok(None);
    };
    pass(ctx, pending_hash, &pending.user, method, ttl_ms).map(Some)
}

/// Ends a pending login whose second factor passed (once) and opens its session. Note that
/// this uses blocking I/O.
pub fn pass(
    ctx: &Context,
    pending_hash: [u8; 32],
    user: &str,
    method: &str,
    ttl_ms: i64,
) -> Result<NewSession, DomainError> {
    if !ctx.store.auth.take_pending(pending_hash)? {
        return Err(DomainError::Invalid(
            "this login was already completed".into(),
        ));
    }
    audit::record(
        ctx,
        &Actor::user(user),
        AuditAction::SecondFactorPassed,
        &format!("{user} ({method})"),
    )?;
    let record = ctx
        .store
        .auth
        .user(user)?
        .ok_or_else(|| DomainError::NotFound(format!("no user named {user:?}")))?;
    sessions::open_session(ctx, &record, ttl_ms, AuditAction::SessionLogin)
}

pub mod passkeys;
pub mod webauthn;

#[cfg(test)]
mod tests;
