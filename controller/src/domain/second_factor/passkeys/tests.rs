//! Passkeys end to end in the domain, with the software authenticator of the WebAuthn tests:
//! added in a session, listed, used for a login's second step once, refused for another
//! pending login, a replayed challenge, an unknown credential and a counter gone backwards;
//! deleted. An old second-factor record without passkeys still decodes.

use super::*;
use crate::config::Config;
use crate::domain::actor::Actor;
use crate::domain::second_factor::webauthn::tests::SoftAuthenticator;
use crate::domain::second_factor::webauthn::WebauthnError;
use crate::domain::sessions::{LoginOutcome, LoginPolicy};
use crate::storage::auth::{hash_password, secret_hash};

fn rp() -> RelyingParty {
    RelyingParty {
        id: "localhost".into(),
        origin: "http://localhost:8080".into(),
    }
}

async fn context() -> (tempfile::TempDir, std::sync::Arc<Context>) {
    let dir = tempfile::tempdir().unwrap();
    let ctx = crate::service::offline_context(Config::with_data_dir(dir.path().into()))
        .await
        .unwrap();
    crate::domain::users::create(
        &ctx,
        &crate::domain::actor::Actor::user("test"),
        "ada",
        &["admins".to_owned()],
        "correct horse",
    )
    .unwrap();
    (dir, ctx)
}

fn pending_login(ctx: &Context) -> [u8; 32] {
    let decoy = hash_password("decoy").unwrap();
    let policy = LoginPolicy {
        password_users: None,
        second_factor_for_admins: true,
    };
    let outcome = sessions::login(ctx, "ada", "correct horse", &decoy, 60_000, &policy).unwrap();
    let LoginOutcome::SecondFactor(login) = outcome else {
        panic!("a second factor is owed")
    };
    assert!(
        !login.must_enrol,
        "a passkey satisfies second_factor_for_admins"
    );
    secret_hash(&login.token)
}

fn add(ctx: &Context, authenticator: &SoftAuthenticator, name: &str) {
    let now = crate::clock::now_ms();
    let options = start_registration(ctx, "ada", [1; 32], &rp(), now).unwrap();
    let challenge = webauthn::unb64(&options.challenge).unwrap();
    let (client, object) = authenticator.register(&rp(), &challenge, "none");
    finish_registration(ctx, "ada", [1; 32], &rp(), name, &client, &object, now).unwrap();
}

fn login_with(
    ctx: &Context,
    authenticator: &mut SoftAuthenticator,
    pending: [u8; 32],
) -> Result<NewSession, WebauthnError> {
    let now = crate::clock::now_ms();
    let options = start_login(ctx, pending, &rp(), now).unwrap();
    let challenge = webauthn::unb64(&options.challenge).unwrap();
    let signed = authenticator.sign(&rp().id, &rp().origin, &challenge);
    let assertion = Assertion {
        client_data_json: &signed.0,
        authenticator_data: &signed.1,
        signature: &signed.2,
    };
    let id = authenticator.id.clone();
    complete_login(ctx, pending, &rp(), &id, &assertion, now, 60_000).unwrap()
}

#[tokio::test]
async fn issue_21_a_passkey_is_added_and_passes_a_login_once() {
    let (_dir, ctx) = context().await;
    let mut authenticator = SoftAuthenticator::new();
    add(&ctx, &authenticator, "laptop");
    let listed = list(&ctx, "ada").unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].name, "laptop");
    let pending = pending_login(&ctx);
    let session = login_with(&ctx, &mut authenticator, pending).unwrap();
    assert_eq!(session.user, "ada");
    let stored = ctx.store.auth.factors("ada").unwrap().passkeys;
    assert_eq!(stored[0].dynamic_state, 1u32.to_be_bytes().to_vec());
    assert!(stored[0].last_used_ms.is_some());
    // The pending login is used up.
    assert!(start_login(&ctx, pending, &rp(), crate::clock::now_ms()).is_err());
    delete(
        &ctx,
        &crate::domain::actor::Actor::user("ada"),
        "ada",
        &listed[0].id,
    )
    .unwrap();
    assert!(list(&ctx, "ada").unwrap().is_empty());
    assert!(delete(
        &ctx,
        &crate::domain::actor::Actor::user("ada"),
        "ada",
        &listed[0].id
    )
    .is_err());
    add(&ctx, &SoftAuthenticator::new(), "one");
    add(&ctx, &SoftAuthenticator::new(), "two");
    delete_all(&ctx, &Actor::Cli, "ada").unwrap();
    assert!(list(&ctx, "ada").unwrap().is_empty());
    assert!(!ctx.store.auth.factors("ada").unwrap().any());
}

#[tokio::test]
async fn issue_21_replayed_foreign_and_cloned_passkey_answers_fail() {
    let (_dir, ctx) = context().await;
    let mut authenticator = SoftAuthenticator::new();
    add(&ctx, &authenticator, "phone");
    let now = crate::clock::now_ms();
    // A challenge issued to one pending login does not serve another.
    let first = pending_login(&ctx);
    let second = pending_login(&ctx);
    let options = start_login(&ctx, first, &rp(), now).unwrap();
    let challenge = webauthn::unb64(&options.challenge).unwrap();
    let signed = authenticator.sign(&rp().id, &rp().origin, &challenge);
    let assertion = Assertion {
        client_data_json: &signed.0,
        authenticator_data: &signed.1,
        signature: &signed.2,
    };
    let id = authenticator.id.clone();
    let refused = complete_login(&ctx, second, &rp(), &id, &assertion, now, 60_000).unwrap();
    assert_eq!(refused.err(), Some(WebauthnError::WrongChallenge));
    // That took the challenge: replaying it for its own login fails too.
    let replayed = complete_login(&ctx, first, &rp(), &id, &assertion, now, 60_000).unwrap();
    assert_eq!(replayed.err(), Some(WebauthnError::WrongChallenge));
    // An expired challenge.
    let options = start_login(&ctx, first, &rp(), now).unwrap();
    let challenge = webauthn::unb64(&options.challenge).unwrap();
    let signed = authenticator.sign(&rp().id, &rp().origin, &challenge);
    let late = Assertion {
        client_data_json: &signed.0,
        authenticator_data: &signed.1,
        signature: &signed.2,
    };
    let expired = complete_login(
        &ctx,
        first,
        &rp(),
        &id,
        &late,
        now + CHALLENGE_TTL_MS,
        60_000,
    )
    .unwrap();
    assert_eq!(expired.err(), Some(WebauthnError::WrongChallenge));
    // The passkey at another host name of the same controller (both sides signing for it).
    let other = RelyingParty {
        id: "unity.lan".into(),
        origin: "https://unity.lan".into(),
    };
    let options = start_login(&ctx, first, &other, now).unwrap();
    let challenge = webauthn::unb64(&options.challenge).unwrap();
    let signed = authenticator.sign(&other.id, &other.origin, &challenge);
    let elsewhere = Assertion {
        client_data_json: &signed.0,
        authenticator_data: &signed.1,
        signature: &signed.2,
    };
    let refused = complete_login(&ctx, first, &other, &id, &elsewhere, now, 60_000).unwrap();
    assert_eq!(refused.err(), Some(WebauthnError::WrongRpId));
    // A credential the user does not have.
    let mut stranger = SoftAuthenticator::new();
    assert!(login_with(&ctx, &mut stranger, first).is_err());
    // A clone whose counter is behind the stored one.
    assert!(login_with(&ctx, &mut authenticator, first).is_ok());
    authenticator.count = 0;
    let third = pending_login(&ctx);
    assert!(matches!(
        login_with(&ctx, &mut authenticator, third),
        Err(WebauthnError::Counter { .. })
    ));
}

#[tokio::test]
async fn issue_21_registration_needs_its_own_session_challenge_and_a_good_name() {
    let (_dir, ctx) = context().await;
    let authenticator = SoftAuthenticator::new();
    let now = crate::clock::now_ms();
    let options = start_registration(&ctx, "ada", [1; 32], &rp(), now).unwrap();
    let challenge = webauthn::unb64(&options.challenge).unwrap();
    let (client, object) = authenticator.register(&rp(), &challenge, "none");
    for bad in ["", "   ", "a\u{7}b", &"x".repeat(MAX_NAME_CHARS + 1)] {
        assert!(
            finish_registration(&ctx, "ada", [1; 32], &rp(), bad, &client, &object, now).is_err()
        );
    }
    // Another session's answer.
    assert!(finish_registration(&ctx, "ada", [2; 32], &rp(), "k", &client, &object, now).is_err());
    // ... which took the challenge.
    assert!(finish_registration(&ctx, "ada", [1; 32], &rp(), "k", &client, &object, now).is_err());
    assert!(list(&ctx, "ada").unwrap().is_empty());
    add(&ctx, &authenticator, "key");
    let options = start_registration(&ctx, "ada", [1; 32], &rp(), now).unwrap();
    assert_eq!(options.exclude, vec![webauthn::b64(&authenticator.id)]);
    let challenge = webauthn::unb64(&options.challenge).unwrap();
    let (client, object) = authenticator.register(&rp(), &challenge, "none");
    assert!(matches!(
        finish_registration(&ctx, "ada", [1; 32], &rp(), "again", &client, &object, now),
        Err(DomainError::Conflict(_))
    ));
}

/// A second-factor record written before passkeys were used (TOTP only, empty passkey
/// fields) decodes, and one with a passkey round-trips.
#[test]
fn issue_21_old_factor_records_still_decode() {
    use crate::storage::auth::{FactorsRecord, TotpRecord};
    let old = FactorsRecord {
        totp: Some(TotpRecord {
            secret: vec![3; 20],
            enabled_at_ms: 1,
            last_step: 2,
        }),
        totp_pending: None,
        recovery_codes: vec!["hash".into()],
        passkeys: vec![],
        webauthn_user: vec![],
    };
    let bytes = postcard::to_allocvec(&old).unwrap();
    // The bytes as TOTP-only versions wrote them (postcard): Some, the secret, enabled_at_ms
    // (zigzag: 1 -> 2), last_step, no pending secret, one hash, two empty passkey vectors.
    let mut expected = vec![1, 20];
    expected.extend_from_slice(&[3; 20]);
    expected.extend_from_slice(&[2, 2, 0, 1, 4]);
    expected.extend_from_slice(b"hash");
    expected.extend_from_slice(&[0, 0]);
    assert_eq!(bytes, expected);
    let decoded: FactorsRecord = postcard::from_bytes(&expected).unwrap();
    assert_eq!(decoded, old);
    let mut with_passkey = old.clone();
    // (A passkey's static state: its public key, then the host name it was added at.)
    with_passkey.passkeys.push(PasskeyRecord {
        credential_id: vec![1, 2],
        name: "key".into(),
        static_state: vec![4; 65],
        dynamic_state: 7u32.to_be_bytes().to_vec(),
        created_at_ms: 5,
        last_used_ms: None,
    });
    let bytes = postcard::to_allocvec(&with_passkey).unwrap();
    assert_eq!(
        postcard::from_bytes::<FactorsRecord>(&bytes).unwrap(),
        with_passkey
    );
}
