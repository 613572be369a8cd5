//! WebAuthn checks on responses made here by a software authenticator (a P-256 key from
//! `ring`, CBOR written by hand): a good registration and login pass; a tampered signature,
//! another challenge, another origin or RP ID, missing flags, a backwards counter and foreign
//! attestation formats fail.

use super::*;
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};

fn rp() -> RelyingParty {
    RelyingParty {
        id: "unity.lan".into(),
        origin: "https://unity.lan:8443".into(),
    }
}

/// A CBOR head: major type and argument.
fn head(major: u8, n: usize) -> Vec<u8> {
    match n {
        0..=23 => vec![(major << 5) | n as u8],
        24..=255 => vec![(major << 5) | 24, n as u8],
        _ => vec![(major << 5) | 25, (n >> 8) as u8, n as u8],
    }
}

fn int(value: i64) -> Vec<u8> {
    if value >= 0 {
        head(0, value as usize)
    } else {
        head(1, (-1 - value) as usize)
    }
}

fn bytes(value: &[u8]) -> Vec<u8> {
    [head(2, value.len()), value.to_vec()].concat()
}

fn text(value: &str) -> Vec<u8> {
    [head(3, value.len()), value.as_bytes().to_vec()].concat()
}

/// A software authenticator: one ES256 credential and its counter.
pub struct SoftAuthenticator {
    key: EcdsaKeyPair,
    pub id: Vec<u8>,
    pub count: u32,
}

impl Default for SoftAuthenticator {
    fn default() -> SoftAuthenticator {
        SoftAuthenticator::new()
    }
}

impl SoftAuthenticator {
    pub fn new() -> SoftAuthenticator {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng)
            .unwrap();
        SoftAuthenticator {
            key,
            id: rand::random::<[u8; 16]>().to_vec(),
            count: 0,
        }
    }

    pub fn public_key(&self) -> Vec<u8> {
        self.key.public_key().as_ref().to_vec()
    }

    fn cose_key(&self) -> Vec<u8> {
        let point = self.public_key();
        [
            head(5, 5),
            int(1),
            int(2),
            int(3),
            int(-7),
            int(-1),
            int(1),
            int(-2),
            bytes(&point[1..33]),
            int(-3),
            bytes(&point[33..65]),
        ]
        .concat()
    }

    fn auth_data(&self, rp_id: &str, flags: u8, attested: bool) -> Vec<u8> {
        let mut data = Sha256::digest(rp_id.as_bytes()).to_vec();
        data.push(flags | if attested { FLAG_AT } else { 0 });
        data.extend_from_slice(&self.count.to_be_bytes());
        if attested {
            data.extend_from_slice(&[0; 16]);
            data.extend_from_slice(&(self.id.len() as u16).to_be_bytes());
            data.extend_from_slice(&self.id);
            data.extend_from_slice(&self.cose_key());
        }
        data
    }

    /// Client data JSON and attestation object for `navigator.credentials.create`.
    pub fn register(
        &self,
        rp: &RelyingParty,
        challenge: &[u8],
        format: &str,
    ) -> (Vec<u8>, Vec<u8>) {
        let client = client_data("webauthn.create", challenge, &rp.origin);
        let object = [
            head(5, 3),
            text("fmt"),
            text(format),
            text("attStmt"),
            head(5, 0),
            text("authData"),
            bytes(&self.auth_data(&rp.id, FLAG_UP | FLAG_UV, true)),
        ]
        .concat();
        (client, object)
    }

    /// Client data JSON, authenticator data and signature for `navigator.credentials.get`.
    pub fn sign(
        &mut self,
        rp_id: &str,
        origin: &str,
        challenge: &[u8],
    ) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
        self.count = self.count.wrapping_add(1);
        let client = client_data("webauthn.get", challenge, origin);
        let data = self.auth_data(rp_id, FLAG_UP | FLAG_UV, false);
        let mut signed = data.clone();
        signed.extend_from_slice(&Sha256::digest(&client));
        let signature = self
            .key
            .sign(&SystemRandom::new(), &signed)
            .unwrap()
            .as_ref()
            .to_vec();
        (client, data, signature)
    }
}

pub fn client_data(kind: &str, challenge: &[u8], origin: &str) -> Vec<u8> {
    serde_json::json!({"type": kind, "challenge": b64(challenge), "origin": origin, "crossOrigin": false})
        .to_string()
        .into_bytes()
}

fn assertion<'a>(parts: &'a (Vec<u8>, Vec<u8>, Vec<u8>)) -> Assertion<'a> {
    Assertion {
        client_data_json: &parts.0,
        authenticator_data: &parts.1,
        signature: &parts.2,
    }
}

#[test]
fn a_registration_and_a_login_pass() {
    let mut authenticator = SoftAuthenticator::new();
    let (client, object) = authenticator.register(&rp(), b"challenge-1", "none");
    let credential = verify_registration(&rp(), b"challenge-1", &client, &object).unwrap();
    assert_eq!(credential.id, authenticator.id);
    assert_eq!(credential.public_key, authenticator.public_key());
    let signed = authenticator.sign("unity.lan", "https://unity.lan:8443", b"challenge-2");
    let count = verify_assertion(
        &rp(),
        b"challenge-2",
        &assertion(&signed),
        &credential.public_key,
        0,
    )
    .unwrap();
    assert_eq!(count, 1);
}

#[test]
fn registrations_for_another_challenge_origin_or_format_fail() {
    let authenticator = SoftAuthenticator::new();
    let (client, object) = authenticator.register(&rp(), b"challenge-1", "none");
    assert_eq!(
        verify_registration(&rp(), b"challenge-X", &client, &object),
        Err(WebauthnError::WrongChallenge)
    );
    let other = RelyingParty {
        id: "unity.lan".into(),
        origin: "https://evil.lan".into(),
    };
    let (client, object) = authenticator.register(&other, b"c", "none");
    assert!(matches!(
        verify_registration(&rp(), b"c", &client, &object),
        Err(WebauthnError::WrongOrigin(_))
    ));
    let (client, object) = authenticator.register(&rp(), b"c", "packed");
    assert!(matches!(
        verify_registration(&rp(), b"c", &client, &object),
        Err(WebauthnError::Attestation(_))
    ));
    let (_, object) = authenticator.register(&rp(), b"c", "none");
    let wrong_type = client_data("webauthn.get", b"c", &rp().origin);
    assert!(matches!(
        verify_registration(&rp(), b"c", &wrong_type, &object),
        Err(WebauthnError::WrongType(_))
    ));
}

#[test]
fn tampered_replayed_or_foreign_assertions_fail() {
    let mut authenticator = SoftAuthenticator::new();
    let key = authenticator.public_key();
    let origin = "https://unity.lan:8443";
    let mut signed = authenticator.sign("unity.lan", origin, b"c1");
    assert_eq!(
        verify_assertion(&rp(), b"c2", &assertion(&signed), &key, 0),
        Err(WebauthnError::WrongChallenge)
    );
    // A flipped bit in the signature, then in the signed authenticator data.
    let last = signed.2.len() - 1;
    signed.2[last] ^= 1;
    assert_eq!(
        verify_assertion(&rp(), b"c1", &assertion(&signed), &key, 0),
        Err(WebauthnError::BadSignature)
    );
    signed.2[last] ^= 1;
    signed.1[36] ^= 0x10;
    assert_eq!(
        verify_assertion(&rp(), b"c1", &assertion(&signed), &key, 0),
        Err(WebauthnError::BadSignature)
    );
    signed.1[36] ^= 0x10;
    assert_eq!(
        verify_assertion(&rp(), b"c1", &assertion(&signed), &key, 0),
        Ok(1)
    );
    // Another key does not verify it.
    let stranger = SoftAuthenticator::new().public_key();
    assert_eq!(
        verify_assertion(&rp(), b"c1", &assertion(&signed), &stranger, 0),
        Err(WebauthnError::BadSignature)
    );
    let signed = authenticator.sign("unity.lan", "https://evil.lan", b"c1");
    assert!(matches!(
        verify_assertion(&rp(), b"c1", &assertion(&signed), &key, 0),
        Err(WebauthnError::WrongOrigin(_))
    ));
    let signed = authenticator.sign("evil.lan", origin, b"c1");
    assert_eq!(
        verify_assertion(&rp(), b"c1", &assertion(&signed), &key, 0),
        Err(WebauthnError::WrongRpId)
    );
}

#[test]
fn a_counter_must_move_forward_unless_the_authenticator_keeps_none() {
    let mut authenticator = SoftAuthenticator::new();
    let key = authenticator.public_key();
    authenticator.count = 4;
    let signed = authenticator.sign("unity.lan", "https://unity.lan:8443", b"c");
    assert_eq!(
        verify_assertion(&rp(), b"c", &assertion(&signed), &key, 4),
        Ok(5)
    );
    assert_eq!(
        verify_assertion(&rp(), b"c", &assertion(&signed), &key, 5),
        Err(WebauthnError::Counter { stored: 5, got: 5 })
    );
    assert_eq!(
        verify_assertion(&rp(), b"c", &assertion(&signed), &key, 9),
        Err(WebauthnError::Counter { stored: 9, got: 5 })
    );
    let mut zero = SoftAuthenticator::new();
    zero.count = u32::MAX;
    let zero_key = zero.public_key();
    let signed = zero.sign("unity.lan", "https://unity.lan:8443", b"c");
    assert_eq!(
        verify_assertion(&rp(), b"c", &assertion(&signed), &zero_key, 0),
        Ok(0),
        "an authenticator without a counter sends 0 every time"
    );
}

#[test]
fn missing_flags_and_garbage_are_refused_without_panics() {
    let authenticator = SoftAuthenticator::new();
    let mut data = authenticator.auth_data("unity.lan", FLAG_UP, false);
    let client = client_data("webauthn.get", b"c", "https://unity.lan:8443");
    let parts = (client, data.clone(), vec![0x30]);
    assert_eq!(
        verify_assertion(
            &rp(),
            b"c",
            &assertion(&parts),
            &authenticator.public_key(),
            0
        ),
        Err(WebauthnError::NotVerified)
    );
    data.truncate(10);
    for garbage in [
        vec![],
        vec![0xff],
        vec![0xa1, 0x61],
        vec![0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
        vec![0x81; 64],
    ] {
        assert!(cbor::decode(&garbage).is_err(), "{garbage:?}");
        assert!(verify_registration(&rp(), b"c", &parts.0, &garbage).is_err());
    }
}
