//! Issue 21: ID tokens made and signed here (with a test-only RSA key) checked by [`verify`] on
//! a fixed clock: a good one, a tampered one, the wrong audience, issuer or nonce, expired
//! beyond and within the clock skew, issued in the future; and [`sign_in`] matching users by
//! issuer and subject, never by name, with groups mapped from the provider's.

use super::*;
use crate::config::Config;
use openidconnect::core::CoreRsaPrivateSigningKey;
use openidconnect::{
    Audience, EndUserUsername, IdTokenClaims, JsonWebKeyId, PrivateSigningKey, StandardClaims,
    SubjectIdentifier,
};
use std::collections::BTreeMap;
use std::str::FromStr;

const KEY: &str = include_str!("testdata/rsa-test-key.pem");
const NOW: i64 = 1_700_000_000;
const ISSUER: &str = "https://id.home.test/application/o/unity/";

fn config() -> OidcConfig {
    OidcConfig {
        issuer: ISSUER.into(),
        client_id: "unity".into(),
        client_secret: crate::config::secret::Secret("secret".into()),
        redirect_url: "https://unity.home.test/login/oidc/callback".into(),
        name: "Authentik".into(),
        scopes: vec!["openid".into()],
        groups: BTreeMap::from([
            ("family".to_owned(), "family".to_owned()),
            ("ghosts".to_owned(), "no-such-group".to_owned()),
        ]),
        default_groups: vec![],
        only: false,
        break_glass: vec![],
        clock_skew: Duration::from_secs(60),
    }
}

fn key() -> CoreRsaPrivateSigningKey {
    CoreRsaPrivateSigningKey::from_pem(KEY, Some(JsonWebKeyId::new("k1".into()))).unwrap()
}

fn keys() -> CoreJsonWebKeySet {
    CoreJsonWebKeySet::new(vec![key().as_verification_key()])
}

struct Claims {
    issuer: &'static str,
    audience: &'static str,
    subject: &'static str,
    issued: i64,
    expires: i64,
    nonce: &'static str,
}

const GOOD: Claims = Claims {
    issuer: ISSUER,
    audience: "unity",
    subject: "alice-sub",
    issued: NOW - 10,
    expires: NOW + 300,
    nonce: "n-1",
};

fn token(claims: &Claims) -> IdToken {
    let time = |s: i64| chrono::DateTime::from_timestamp(s, 0).unwrap();
    let claims = IdTokenClaims::new(
        IssuerUrl::new(claims.issuer.into()).unwrap(),
        vec![Audience::new(claims.audience.into())],
        time(claims.expires),
        time(claims.issued),
        StandardClaims::new(SubjectIdentifier::new(claims.subject.into()))
            .set_preferred_username(Some(EndUserUsername::new("alice".into()))),
        GroupsClaim {
            groups: vec!["family".into(), "ghosts".into(), "unmapped".into()],
        },
    )
    .set_nonce(Some(Nonce::new(claims.nonce.into())));
    IdToken::new(
        claims,
        &key(),
        CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
        None,
        None,
    )
    .unwrap()
}

#[track_caller]
fn check(token: &IdToken, now_s: i64, expect: Result<(), &str>) {
    let result = verify(&config(), keys(), token, &Nonce::new("n-1".into()), now_s);
    match (result, expect) {
        (Ok(identity), Ok(())) => {
            assert_eq!(identity.subject, "alice-sub");
            assert_eq!(identity.issuer, ISSUER);
            assert_eq!(identity.preferred_username.as_deref(), Some("alice"));
            assert_eq!(identity.groups, ["family", "ghosts", "unmapped"]);
        }
        (Err(error), Err(part)) => {
            let text = error.to_string();
            assert!(text.contains(part), "{text:?} should mention {part:?}");
        }
        (result, expect) => panic!("{result:?}, expected {expect:?}"),
    }
}

#[test]
fn issue_21_a_good_id_token_passes() {
    check(&token(&GOOD), NOW, Ok(()));
}

#[test]
fn issue_21_a_tampered_id_token_is_refused() {
    let good = serde_json::to_value(token(&GOOD)).unwrap();
    let other = serde_json::to_value(token(&Claims {
        subject: "mallory",
        ..GOOD
    }))
    .unwrap();
    let good: Vec<&str> = good.as_str().unwrap().split('.').collect();
    let other: Vec<&str> = other.as_str().unwrap().split('.').collect();
    // Mallory's claims under Alice's signature.
    let tampered = IdToken::from_str(&format!("{}.{}.{}", good[0], other[1], good[2])).unwrap();
    check(&tampered, NOW, Err("Signature verification failed"));
}

#[test]
fn issue_21_the_wrong_audience_issuer_or_nonce_is_refused() {
    check(
        &token(&Claims {
            audience: "grafana",
            ..GOOD
        }),
        NOW,
        Err("audience"),
    );
    check(
        &token(&Claims {
            issuer: "https://evil.test/",
            ..GOOD
        }),
        NOW,
        Err("issuer"),
    );
    check(
        &token(&Claims {
            nonce: "replayed",
            ..GOOD
        }),
        NOW,
        Err("nonce"),
    );
}

#[test]
fn issue_21_expiry_and_issue_time_allow_the_clock_skew_only() {
    let expired = token(&Claims {
        issued: NOW - 600,
        expires: NOW - 120,
        ..GOOD
    });
    check(&expired, NOW, Err("expired"));
    let just_expired = token(&Claims {
        issued: NOW - 600,
        expires: NOW - 30,
        ..GOOD
    });
    check(&just_expired, NOW, Ok(()));
    let future = token(&Claims {
        issued: NOW + 300,
        expires: NOW + 900,
        ..GOOD
    });
    check(&future, NOW, Err("future"));
    let slightly_ahead = token(&Claims {
        issued: NOW + 30,
        ..GOOD
    });
    check(&slightly_ahead, NOW, Ok(()));
}

fn identity(subject: &str, name: &str, groups: &[&str]) -> Identity {
    Identity {
        issuer: ISSUER.into(),
        subject: subject.into(),
        preferred_username: Some(name.into()),
        groups: groups.iter().map(|group| (*group).to_owned()).collect(),
    }
}

#[tokio::test]
async fn issue_21_users_are_matched_by_subject_never_by_name_and_groups_follow_the_provider() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = crate::service::offline_context(Config::with_data_dir(dir.path().into()))
        .await
        .unwrap();
    crate::domain::groups::create(
        &ctx,
        &crate::domain::actor::Actor::user("test"),
        "family",
        "",
    )
    .unwrap();
    // A local user named alice exists: the provider's alice is someone else.
    crate::domain::users::create(
        &ctx,
        &crate::domain::actor::Actor::user("test"),
        "alice",
        &["admins".to_owned()],
        "long password",
    )
    .unwrap();
    let first = sign_in(
        &ctx,
        &config(),
        &identity("sub-1", "alice", &["family", "ghosts"]),
        60_000,
    )
    .unwrap();
    assert_eq!(first.session.user, "alice-2");
    let user = ctx.store.auth.user("alice-2").unwrap().unwrap();
    assert_eq!(user.groups, ["family"], "unknown groups are left out");
    assert!(user.password_hash.is_empty());
    assert_eq!(user.oidc.unwrap().subject, "sub-1");
    // The same subject with another name is the same user; groups follow the provider.
    let again = sign_in(&ctx, &config(), &identity("sub-1", "renamed", &[]), 60_000).unwrap();
    assert_eq!(again.session.user, "alice-2");
    assert!(ctx
        .store
        .auth
        .user("alice-2")
        .unwrap()
        .unwrap()
        .groups
        .is_empty());
    // The local alice keeps her rights and her password.
    let local = ctx.store.auth.user("alice").unwrap().unwrap();
    assert_eq!(local.groups, ["admins"]);
    assert!(local.oidc.is_none());
    let actions: Vec<String> = crate::domain::audit::recent(&ctx, 20)
        .unwrap()
        .into_iter()
        .map(|entry| entry.action)
        .collect();
    assert!(
        actions.contains(&"user.oidc_create".to_owned()),
        "{actions:?}"
    );
    assert!(
        actions.contains(&"session.oidc_login".to_owned()),
        "{actions:?}"
    );
}
