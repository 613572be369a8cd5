//! Passkeys (WebAuthn credentials) as a second factor: adding one from the Security page
//! (named, several per user), listing and deleting them, and passing a login's second step
//! with one. Challenges are random (32 bytes), expire after [`CHALLENGE_TTL_MS`], are taken
//! once, and are bound to the session (adding) or the pending login (signing in) they were
//! issued to; the checks themselves are in [`super::webauthn`].
//!
//! Stored in the user's [`FactorsRecord`](crate::storage::auth::FactorsRecord): a passkey's
//! `static_state` is its uncompressed P-256 public key (65 bytes) followed by the RP ID (host
//! name) it was added at, which is the only one it is accepted for, its `dynamic_state` its
//! signature counter (4 bytes, big-endian). Functions take the time so tests run on a fixed
//! clock; every change and every attempt is audited.

use super::webauthn::{self, Assertion, RelyingParty};
use super::{pass, DomainError};
use crate::context::Context;
use crate::domain::actor::Actor;
use crate::domain::audit::{self, AuditAction};
use crate::domain::sessions::{self, NewSession};
use crate::storage::auth::{ChallengePurpose, PasskeyRecord, WebauthnChallengeRecord};
use serde::Serialize;

/// How long a challenge may be answered.
pub const CHALLENGE_TTL_MS: i64 = 5 * 60 * 1000;
/// The longest passkey name, in characters.
pub const MAX_NAME_CHARS: usize = 64;
/// Passkeys one user may have.
pub const MAX_PASSKEYS: usize = 20;

/// What `navigator.credentials.create` needs (binary values in base64url).
#[derive(Debug, Clone, Serialize)]
pub struct CreationOptions {
    pub challenge: String,
    pub rp_id: String,
    pub user_id: String,
    pub user_name: String,
    /// The user's passkeys, so an authenticator is not registered twice.
    pub exclude: Vec<String>,
    pub timeout_ms: i64,
}

/// What `navigator.credentials.get` needs (binary values in base64url).
#[derive(Debug, Clone, Serialize)]
pub struct RequestOptions {
    pub challenge: String,
    pub rp_id: String,
    pub allow: Vec<String>,
    pub timeout_ms: i64,
}

/// A passkey as the Security page lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyView {
    /// The credential id, base64url (names it in the delete form).
    pub id: String,
    pub name: String,
    pub created_at_ms: i64,
    pub last_used_ms: Option<i64>,
}

fn issue(
    ctx: &Context,
    user: &str,
    purpose: ChallengePurpose,
    bound_to: [u8; 32],
    now_ms: i64,
) -> Result<Vec<u8>, DomainError> {
    let challenge = rand::random::<[u8; 32]>().to_vec();
    let record = WebauthnChallengeRecord {
        user: user.to_owned(),
        purpose,
        bound_to,
        created_at_ms: now_ms,
        expires_at_ms: now_ms + CHALLENGE_TTL_MS,
    };
    ctx.store.auth.put_webauthn_challenge(&challenge, &record)?;
    Ok(challenge)
}

/// Takes the challenge the client data answers, if it was issued to `user` for `purpose`
/// bound to `bound_to` and has not expired. Taken even when it does not fit: used once.
fn take(
    ctx: &Context,
    client_data_json: &[u8],
    user: Option<&str>,
    purpose: ChallengePurpose,
    bound_to: [u8; 32],
    now_ms: i64,
) -> Result<Result<(Vec<u8>, String), webauthn::WebauthnError>, DomainError> {
    #[derive(serde::Deserialize)]
    struct Challenge {
        challenge: String,
    }
    let Ok(Challenge { challenge }) = serde_json::from_slice(client_data_json) else {
        return Ok(Err(webauthn::WebauthnError::Malformed(
            "client data is not the expected JSON".into(),
        )));
    };
    let Ok(challenge) = webauthn::unb64(&challenge) else {
        return Ok(Err(webauthn::WebauthnError::WrongChallenge));
    };
    let fits = |record: &WebauthnChallengeRecord| {
        record.purpose == purpose
            && record.bound_to == bound_to
            && user.is_none_or(|user| record.user == user)
    };
    Ok(
        match ctx.store.auth.take_webauthn_challenge(&challenge, now_ms)? {
            Some(record) if fits(&record) => Ok((challenge, record.user)),
            _ => Err(webauthn::WebauthnError::WrongChallenge),
        },
    )
}

/// Starts adding a passkey for `user` in the session `session_hash`. Note that this uses
/// blocking I/O.
pub fn start_registration(
    ctx: &Context,
    user: &str,
    session_hash: [u8; 32],
    rp: &RelyingParty,
    now_ms: i64,
) -> Result<CreationOptions, DomainError> {
    let handle = rand::random::<[u8; 16]>().to_vec();
    ctx.store.auth.update_factors(user, |record| {
        record.webauthn_user.is_empty().then(|| {
            record.webauthn_user = handle.clone();
        })
    })?;
    let factors = ctx.store.auth.factors(user)?;
    let challenge = issue(ctx, user, ChallengePurpose::Register, session_hash, now_ms)?;
    Ok(CreationOptions {
        challenge: webauthn::b64(&challenge),
        rp_id: rp.id.clone(),
        user_id: webauthn::b64(&factors.webauthn_user),
        user_name: user.to_owned(),
        exclude: factors
            .passkeys
            .iter()
            .map(|passkey| webauthn::b64(&passkey.credential_id))
            .collect(),
        timeout_ms: CHALLENGE_TTL_MS,
    })
}

/// A name for a passkey: trimmed, 1 to [`MAX_NAME_CHARS`] characters, no control characters.
pub fn check_name(name: &str) -> Result<String, DomainError> {
    let name = name.trim();
    if name.is_empty()
        || name.chars().count() > MAX_NAME_CHARS
        || name.chars().any(char::is_control)
    {
        return Err(DomainError::Invalid(format!(
            "a passkey name has 1 to {MAX_NAME_CHARS} characters and no control characters"
        )));
    }
    Ok(name.to_owned())
}

/// Finishes adding a passkey named `name` from the browser's answer. Note that this uses
/// blocking I/O.
#[allow(clippy::too_many_arguments)]
pub fn finish_registration(
    ctx: &Context,
    user: &str,
    session_hash: [u8; 32],
    rp: &RelyingParty,
    name: &str,
    client_data_json: &[u8],
    attestation_object: &[u8],
    now_ms: i64,
) -> Result<(), DomainError> {
    let name = check_name(name)?;
    let invalid = |error: webauthn::WebauthnError| DomainError::Invalid(error.to_string());
    let taken = take(
        ctx,
        client_data_json,
        Some(user),
        ChallengePurpose::Register,
        session_hash,
        now_ms,
    )?;
    let (challenge, _) = taken.map_err(invalid)?;
    let credential =
        webauthn::verify_registration(rp, &challenge, client_data_json, attestation_object)
            .map_err(invalid)?;
    let added = ctx.store.auth.update_factors(user, |record| {
        if record.passkeys.len() >= MAX_PASSKEYS
            || record
                .passkeys
                .iter()
                .any(|passkey| passkey.credential_id == credential.id)
        {
            return None;
        }
        record.passkeys.push(PasskeyRecord {
            credential_id: credential.id.clone(),
            name: name.clone(),
            static_state: [credential.public_key.as_slice(), rp.id.as_bytes()].concat(),
            dynamic_state: credential.sign_count.to_be_bytes().to_vec(),
            created_at_ms: now_ms,
            last_used_ms: None,
        });
        Some(())
    })?;
    if added.is_none() {
        return Err(DomainError::Conflict(format!(
            "this passkey is already registered, or you have {MAX_PASSKEYS} already"
        )));
    }
    audit::record(
        ctx,
        &Actor::user(user),
        AuditAction::PasskeyAdd,
        &format!("{user}: {name}"),
    )?;
    ctx.store.flush()?;
    Ok(())
}

/// `user`'s passkeys. Note that this uses blocking I/O.
pub fn list(ctx: &Context, user: &str) -> Result<Vec<PasskeyView>, DomainError> {
    Ok(ctx
        .store
        .auth
        .factors(user)?
        .passkeys
        .into_iter()
        .map(|passkey| PasskeyView {
            id: webauthn::b64(&passkey.credential_id),
            name: passkey.name,
            created_at_ms: passkey.created_at_ms,
            last_used_ms: passkey.last_used_ms,
        })
        .collect())
}

/// Deletes `user`'s passkey whose id is `id` (base64url). Note that this uses blocking I/O.
pub fn delete(ctx: &Context, actor: &Actor, user: &str, id: &str) -> Result<(), DomainError> {
    let id = webauthn::unb64(id).map_err(|error| DomainError::Invalid(error.to_string()))?;
    let removed = ctx.store.auth.update_factors(user, |record| {
        let index = record
            .passkeys
            .iter()
            .position(|passkey| passkey.credential_id == id)?;
        Some(record.passkeys.remove(index).name)
    })?;
    let Some(name) = removed else {
        return Err(DomainError::NotFound("no such passkey".into()));
    };
    audit::record(
        ctx,
        actor,
        AuditAction::PasskeyDelete,
        &format!("{user}: {name}"),
    )?;
    ctx.store.flush()?;
    Ok(())
}

/// Removes all of `user`'s passkeys (the operator's reset for a lost device); audited when
/// there were any. Note that this uses blocking I/O.
pub fn delete_all(ctx: &Context, actor: &Actor, user: &str) -> Result<(), DomainError> {
    let removed = ctx.store.auth.update_factors(user, |record| {
        (!record.passkeys.is_empty()).then(|| std::mem::take(&mut record.passkeys).len())
    })?;
    if let Some(n_removed) = removed {
        let target = format!("{user}: all {n_removed}");
        audit::record(ctx, actor, AuditAction::PasskeyDelete, &target)?;
        ctx.store.flush()?;
    }
    Ok(())
}

/// Starts the passkey step of the pending login `pending_hash`. Note that this uses blocking
/// I/O.
pub fn start_login(
    ctx: &Context,
    pending_hash: [u8; 32],
    rp: &RelyingParty,
    now_ms: i64,
) -> Result<RequestOptions, DomainError> {
    let Some(pending) = sessions::pending(ctx, pending_hash)? else {
        return Err(DomainError::Invalid(
            "this login has expired; log in again".into(),
        ));
    };
    let allow: Vec<String> = ctx
        .store
        .auth
        .factors(&pending.user)?
        .passkeys
        .iter()
        .map(|passkey| webauthn::b64(&passkey.credential_id))
        .collect();
    if allow.is_empty() {
        return Err(DomainError::Invalid("this account has no passkey".into()));
    }
    let challenge = issue(
        ctx,
        &pending.user,
        ChallengePurpose::Login,
        pending_hash,
        now_ms,
    )?;
    Ok(RequestOptions {
        challenge: webauthn::b64(&challenge),
        rp_id: rp.id.clone(),
        allow,
        timeout_ms: CHALLENGE_TTL_MS,
    })
}

/// A passkey's public key and the RP ID it was added at.
fn split_static(state: &[u8]) -> (&[u8], &[u8]) {
    state.split_at(state.len().min(65))
}

fn counter(state: &[u8]) -> u32 {
    <[u8; 4]>::try_from(state).map_or(0, u32::from_be_bytes)
}

/// Checks an assertion made with the credential `credential_id` for the pending login
/// `pending_hash`; on success ends the pending login and opens a session (`Ok(Err(why))`:
/// refused, audited). Note that this uses blocking I/O.
pub fn complete_login(
    ctx: &Context,
    pending_hash: [u8; 32],
    rp: &RelyingParty,
    credential_id: &[u8],
    assertion: &Assertion<'_>,
    now_ms: i64,
    ttl_ms: i64,
) -> Result<Result<NewSession, webauthn::WebauthnError>, DomainError> {
    let Some(pending) = sessions::pending(ctx, pending_hash)? else {
        return Err(DomainError::Invalid(
            "this login has expired; log in again".into(),
        ));
    };
    let user = pending.user;
    let checked = take(
        ctx,
        assertion.client_data_json,
        Some(&user),
        ChallengePurpose::Login,
        pending_hash,
        now_ms,
    )?
    .and_then(|(challenge, _)| {
        let factors = ctx
            .store
            .auth
            .factors(&user)
            .map_err(|error| webauthn::WebauthnError::Malformed(format!("store: {error}")))?;
        let passkey = factors
            .passkeys
            .iter()
            .find(|passkey| passkey.credential_id == credential_id)
            .ok_or_else(|| webauthn::WebauthnError::Malformed("unknown passkey".into()))?;
        let (public_key, rp_id) = split_static(&passkey.static_state);
        if rp_id != rp.id.as_bytes() {
            return Err(webauthn::WebauthnError::WrongRpId);
        }
        let stored = counter(&passkey.dynamic_state);
        webauthn::verify_assertion(rp, &challenge, assertion, public_key, stored)
    });
    let count = match checked {
        Ok(count) => count,
        Err(why) => {
            audit::record(
                ctx,
                &Actor::user(&user),
                AuditAction::SecondFactorFailed,
                &user,
            )?;
            return Ok(Err(why));
        }
    };
    // The counter moves forward atomically: a clone racing with the same count loses.
    let moved = ctx.store.auth.update_factors(&user, |record| {
        let passkey = record
            .passkeys
            .iter_mut()
            .find(|passkey| passkey.credential_id == credential_id)?;
        let stored = counter(&passkey.dynamic_state);
        if (count != 0 || stored != 0) && count <= stored {
            return None;
        }
        passkey.dynamic_state = count.to_be_bytes().to_vec();
        passkey.last_used_ms = Some(now_ms);
        Some(stored)
    })?;
    if moved.is_none() {
        audit::record(
            ctx,
            &Actor::user(&user),
            AuditAction::SecondFactorFailed,
            &user,
        )?;
        return Ok(Err(webauthn::WebauthnError::Counter {
            stored: count,
            got: count,
        }));
    }
    pass(ctx, pending_hash, &user, "passkey", ttl_ms).map(Ok)
}

#[cfg(test)]
mod tests;
