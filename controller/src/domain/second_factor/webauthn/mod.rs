//! WebAuthn (Level 2) checks for a relying party, without a TLS library: registration with
//! attestation `none` and authentication assertions, ES256 (ECDSA P-256 with SHA-256, COSE
//! algorithm -7) only, the signature verified with `ring`. Pure: the caller keeps the
//! challenges (random, single-use, expiring) and the stored credentials.
//!
//! What is checked, for both ceremonies: the client data's `type`, its `challenge` (the one
//! the caller issued), its `origin` (the dashboard's), that it was not made cross-origin; the
//! authenticator data's RP ID hash (SHA-256 of the dashboard's host name) and its
//! user-present and user-verified flags. Registration also reads the new credential's id and
//! COSE public key; authentication verifies the signature over the authenticator data and the
//! client data's hash, and refuses a signature counter that did not move forward (unless the
//! authenticator keeps none: both zero).

pub mod cbor;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ring::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_ASN1};
use sha2::{Digest, Sha256};

/// Authenticator data flag: the user was present.
const FLAG_UP: u8 = 0x01;
/// Authenticator data flag: the user was verified (PIN, biometrics).
const FLAG_UV: u8 = 0x04;
/// Authenticator data flag: attested credential data follows.
const FLAG_AT: u8 = 0x40;
/// COSE algorithm ES256.
pub const ES256: i128 = -7;

/// Why a WebAuthn response was refused. The messages name what failed, never key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebauthnError {
    #[error("malformed WebAuthn response: {0}")]
    Malformed(String),
    #[error("wrong ceremony type {0:?}")]
    WrongType(String),
    #[error("the response is not for the challenge this server issued")]
    WrongChallenge,
    #[error("the response comes from origin {0:?}, not this dashboard")]
    WrongOrigin(String),
    #[error("the authenticator signed for another relying party")]
    WrongRpId,
    #[error("the authenticator did not report the user present and verified")]
    NotVerified,
    #[error("unsupported attestation format {0:?} (only \"none\")")]
    Attestation(String),
    #[error("unsupported public key (only ES256 on P-256)")]
    UnsupportedKey,
    #[error("the signature does not verify")]
    BadSignature,
    #[error("the signature counter went backwards ({stored} stored, {got} received): the passkey may be cloned")]
    Counter { stored: u32, got: u32 },
}

/// The relying party: the dashboard's host name (RP ID) and origin (`https://unity.lan:8443`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelyingParty {
    pub id: String,
    pub origin: String,
}

/// A credential made by a registration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCredential {
    pub id: Vec<u8>,
    /// The P-256 public key, uncompressed (`04 || x || y`, 65 bytes).
    pub public_key: Vec<u8>,
    pub sign_count: u32,
}

/// Base64url without padding, as WebAuthn's JSON uses.
pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes base64url (padding tolerated).
pub fn unb64(text: &str) -> Result<Vec<u8>, WebauthnError> {
    URL_SAFE_NO_PAD
        .decode(text.trim().trim_end_matches('='))
        .map_err(|_| WebauthnError::Malformed("bad base64url".into()))
}

#[derive(serde::Deserialize)]
struct ClientData {
    #[serde(rename = "type")]
    kind: String,
    challenge: String,
    origin: String,
    #[serde(rename = "crossOrigin", default)]
    cross_origin: bool,
}

/// Checks the client data JSON; returns its SHA-256.
fn check_client_data(
    rp: &RelyingParty,
    kind: &str,
    challenge: &[u8],
    json: &[u8],
) -> Result<[u8; 32], WebauthnError> {
    let data: ClientData = serde_json::from_slice(json)
        .map_err(|_| WebauthnError::Malformed("client data is not the expected JSON".into()))?;
    if data.kind != kind {
        return Err(WebauthnError::WrongType(data.kind));
    }
    let sent = unb64(&data.challenge).map_err(|_| WebauthnError::WrongChallenge)?;
    if !crate::storage::auth::constant_time_eq(&sent, challenge) {
        return Err(WebauthnError::WrongChallenge);
    }
    if data.origin != rp.origin || data.cross_origin {
        return Err(WebauthnError::WrongOrigin(data.origin));
    }
    Ok(Sha256::digest(json).into())
}

/// The fixed head of authenticator data: RP ID hash, flags, counter; and the rest.
fn check_authenticator_data<'a>(
    rp: &RelyingParty,
    data: &'a [u8],
) -> Result<(u8, u32, &'a [u8]), WebauthnError> {
    if data.len() < 37 {
        return Err(WebauthnError::Malformed(
            "authenticator data too short".into(),
        ));
    }
    let rp_id_hash: [u8; 32] = Sha256::digest(rp.id.as_bytes()).into();
    if data[..32] != rp_id_hash {
        return Err(WebauthnError::WrongRpId);
    }
    let flags = data[32];
    if flags & FLAG_UP == 0 || flags & FLAG_UV == 0 {
        return Err(WebauthnError::NotVerified);
    }
    let count = u32::from_be_bytes([data[33], data[34], data[35], data[36]]);
    Ok((flags, count, &data[37..]))
}

/// The uncompressed P-256 point of a COSE_Key, if it is an ES256 EC2 key.
fn es256_point(key: &cbor::Value) -> Result<Vec<u8>, WebauthnError> {
    use cbor::Value;
    let is = |label: i128, want: i128| key.get_int(label) == Some(&Value::Int(want));
    // kty 2 (EC2), alg -7 (ES256), crv 1 (P-256).
    if !(is(1, 2) && is(3, ES256) && is(-1, 1)) {
        return Err(WebauthnError::UnsupportedKey);
    }
    let coordinate = |label| match key.get_int(label) {
        Some(Value::Bytes(bytes)) if bytes.len() == 32 => Ok(bytes.as_slice()),
        _ => Err(WebauthnError::UnsupportedKey),
    };
    let mut point = vec![0x04];
    point.extend_from_slice(coordinate(-2)?);
    point.extend_from_slice(coordinate(-3)?);
    Ok(point)
}

/// Checks a registration (`navigator.credentials.create`) answering `challenge`; returns the
/// new credential.
pub fn verify_registration(
    rp: &RelyingParty,
    challenge: &[u8],
    client_data_json: &[u8],
    attestation_object: &[u8],
) -> Result<NewCredential, WebauthnError> {
    check_client_data(rp, "webauthn.create", challenge, client_data_json)?;
    let object = cbor::decode(attestation_object)?;
    match object.get_text("fmt") {
        Some(cbor::Value::Text(format)) if format == "none" => {}
        Some(cbor::Value::Text(format)) => return Err(WebauthnError::Attestation(format.clone())),
        _ => return Err(WebauthnError::Malformed("no attestation format".into())),
    }
    let Some(cbor::Value::Bytes(auth_data)) = object.get_text("authData") else {
        return Err(WebauthnError::Malformed("no authenticator data".into()));
    };
    let (flags, sign_count, rest) = check_authenticator_data(rp, auth_data)?;
    if flags & FLAG_AT == 0 || rest.len() < 18 {
        return Err(WebauthnError::Malformed("no attested credential".into()));
    }
    let id_length = usize::from(u16::from_be_bytes([rest[16], rest[17]]));
    let id = rest
        .get(18..18 + id_length)
        .filter(|id| !id.is_empty())
        .ok_or_else(|| WebauthnError::Malformed("credential id cut short".into()))?;
    let (key, _extensions) = cbor::decode_prefix(&rest[18 + id_length..])?;
    Ok(NewCredential {
        id: id.to_vec(),
        public_key: es256_point(&key)?,
        sign_count,
    })
}

/// An assertion (`navigator.credentials.get`) as the browser sends it.
#[derive(Debug, Clone)]
pub struct Assertion<'a> {
    pub client_data_json: &'a [u8],
    pub authenticator_data: &'a [u8],
    pub signature: &'a [u8],
}

/// Checks an assertion answering `challenge` made with the credential whose public key is
/// `public_key` and whose counter was `stored_count`; returns the new counter.
pub fn verify_assertion(
    rp: &RelyingParty,
    challenge: &[u8],
    assertion: &Assertion<'_>,
    public_key: &[u8],
    stored_count: u32,
) -> Result<u32, WebauthnError> {
    let client_hash = check_client_data(rp, "webauthn.get", challenge, assertion.client_data_json)?;
    let (_, count, _) = check_authenticator_data(rp, assertion.authenticator_data)?;
    let mut signed = assertion.authenticator_data.to_vec();
    signed.extend_from_slice(&client_hash);
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, public_key)
        .verify(&signed, assertion.signature)
        .map_err(|_| WebauthnError::BadSignature)?;
    if (count != 0 || stored_count != 0) && count <= stored_count {
        return Err(WebauthnError::Counter {
            stored: stored_count,
            got: count,
        });
    }
    Ok(count)
}

/// The software authenticator the tests use (also by the passkey tests).
#[cfg(test)]
pub mod tests;
