//! TOTP on a fixed clock: RFC 6238's test vector, enrolment confirmed by a code, each code
//! accepted once (and older steps never), one step of skew either way; recovery codes hashed
//! and used once; a pending login completed once with a new session.

use super::*;
use crate::config::Config;
use crate::domain::sessions::{self, LoginOutcome, LoginPolicy};
use crate::storage::auth::hash_password;

/// RFC 6238, appendix B: the SHA-1 secret and the code at T = 59 s (8 digits: 94287082).
#[test]
fn issue_21_rfc_6238_test_vector() {
    let secret = b"12345678901234567890";
    assert_eq!(code_at(secret, 59), "287082");
    assert_eq!(code_at(secret, 1_111_111_109), "081804");
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

fn secret_of(ctx: &Context) -> Vec<u8> {
    ctx.store.auth.factors("ada").unwrap().totp.unwrap().secret
}

const NOW: u64 = 1_700_000_000;

#[tokio::test]
async fn issue_21_totp_enrols_and_each_code_works_once() {
    let (_dir, ctx) = context().await;
    start_totp(&ctx, "ada").unwrap();
    let pending = ctx.store.auth.factors("ada").unwrap().totp_pending.unwrap();
    assert!(confirm_totp(
        &ctx,
        &crate::domain::actor::Actor::user("ada"),
        "ada",
        "000000",
        NOW
    )
    .is_err());
    let codes = confirm_totp(
        &ctx,
        &crate::domain::actor::Actor::user("ada"),
        "ada",
        &code_at(&pending, NOW),
        NOW,
    )
    .unwrap();
    assert_eq!(codes.len(), N_RECOVERY_CODES);
    let secret = secret_of(&ctx);
    assert_eq!(secret, pending);
    // The enrolment code's step is used: the same code again is refused.
    assert_eq!(
        verify(&ctx, "ada", &code_at(&secret, NOW), NOW).unwrap(),
        None
    );
    // The next step's code works once, also with a step of skew.
    let next = NOW + STEP_S;
    assert_eq!(
        verify(&ctx, "ada", &code_at(&secret, next), next + STEP_S).unwrap(),
        Some("totp")
    );
    assert_eq!(
        verify(&ctx, "ada", &code_at(&secret, next), next + STEP_S).unwrap(),
        None
    );
    // Two steps old: too old.
    let later = NOW + 10 * STEP_S;
    assert_eq!(
        verify(&ctx, "ada", &code_at(&secret, later - 2 * STEP_S), later).unwrap(),
        None
    );
    assert_eq!(
        verify(&ctx, "ada", &code_at(&secret, later), later).unwrap(),
        Some("totp")
    );
    // A recovery code works once, in any case, and is stored only hashed.
    let stored = ctx.store.auth.factors("ada").unwrap().recovery_codes;
    assert!(stored.iter().all(|hash| hash.starts_with("$argon2id$")));
    assert!(!stored.contains(&codes[0]));
    assert_eq!(
        verify(&ctx, "ada", &codes[0].to_uppercase(), later).unwrap(),
        Some("recovery code")
    );
    assert_eq!(verify(&ctx, "ada", &codes[0], later).unwrap(), None);
    assert_eq!(
        ctx.store.auth.factors("ada").unwrap().recovery_codes.len(),
        N_RECOVERY_CODES - 1
    );
}

#[tokio::test]
async fn issue_21_a_login_with_totp_waits_for_the_code_and_completes_once() {
    let (_dir, ctx) = context().await;
    start_totp(&ctx, "ada").unwrap();
    let pending = ctx.store.auth.factors("ada").unwrap().totp_pending.unwrap();
    confirm_totp(
        &ctx,
        &crate::domain::actor::Actor::user("ada"),
        "ada",
        &code_at(&pending, NOW),
        NOW,
    )
    .unwrap();
    let decoy = hash_password("decoy").unwrap();
    let policy = LoginPolicy {
        password_users: None,
        second_factor_for_admins: false,
    };
    let outcome = sessions::login(&ctx, "ada", "correct horse", &decoy, 60_000, &policy).unwrap();
    let LoginOutcome::SecondFactor(login) = outcome else {
        panic!("a second factor is owed")
    };
    let hash = crate::storage::auth::secret_hash(&login.token);
    let now = (crate::clock::now_ms() / 1000) as u64;
    let secret = secret_of(&ctx);
    assert!(complete_login(&ctx, hash, "abcdef", now, 60_000)
        .unwrap()
        .is_none());
    let session = complete_login(&ctx, hash, &code_at(&secret, now + STEP_S), now, 60_000)
        .unwrap()
        .expect("the right code opens a session");
    assert_ne!(
        session.session_id, login.token,
        "a new id, not the pending one"
    );
    let again = complete_login(&ctx, hash, &code_at(&secret, now), now, 60_000);
    assert!(again.is_err(), "the pending login is used up");
    let actions: Vec<String> = crate::domain::audit::recent(&ctx, 10)
        .unwrap()
        .into_iter()
        .map(|entry| entry.action)
        .collect();
    assert!(
        actions.contains(&"session.second_factor".to_owned()),
        "{actions:?}"
    );
    assert!(actions.contains(&"totp.enable".to_owned()), "{actions:?}");
}

#[tokio::test]
async fn issue_21_admins_must_enrol_when_required() {
    let (_dir, ctx) = context().await;
    let decoy = hash_password("decoy").unwrap();
    let required = LoginPolicy {
        password_users: None,
        second_factor_for_admins: true,
    };
    let outcome = sessions::login(&ctx, "ada", "correct horse", &decoy, 60_000, &required).unwrap();
    assert!(matches!(outcome, LoginOutcome::SecondFactor(login) if login.must_enrol));
    let not_required = LoginPolicy {
        password_users: None,
        second_factor_for_admins: false,
    };
    let outcome =
        sessions::login(&ctx, "ada", "correct horse", &decoy, 60_000, &not_required).unwrap();
    assert!(matches!(outcome, LoginOutcome::Session(_)));
}

#[tokio::test]
async fn issue_21_oidc_only_keeps_passwords_for_break_glass_users() {
    let (_dir, ctx) = context().await;
    let decoy = hash_password("decoy").unwrap();
    let oidc_only = LoginPolicy {
        password_users: Some(vec!["admin".into()]),
        second_factor_for_admins: false,
    };
    let outcome =
        sessions::login(&ctx, "ada", "correct horse", &decoy, 60_000, &oidc_only).unwrap();
    assert!(
        matches!(outcome, LoginOutcome::Failed),
        "ada is not a break-glass user"
    );
    let break_glass = LoginPolicy {
        password_users: Some(vec!["ada".into()]),
        second_factor_for_admins: false,
    };
    let outcome =
        sessions::login(&ctx, "ada", "correct horse", &decoy, 60_000, &break_glass).unwrap();
    assert!(matches!(outcome, LoginOutcome::Session(_)));
}
