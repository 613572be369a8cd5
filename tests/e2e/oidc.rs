//! Issue 21: sign-in with a real OpenID Connect provider on loopback (npm `oidc-provider`,
//! see `tests/src/oidc.rs`), driven by a scripted client: a good login creates the user by
//! `sub` with the provider's `family` group mapped to Unity's; a replayed callback and one
//! finished in another browser are refused; a wrong password at the provider comes back as a
//! refusal; a user whose groups map to nothing signs in without rights; logging out goes on
//! to the provider's end-session endpoint; in OIDC-only mode only break-glass users may use a
//! password; an unreachable provider is said on the login page; ID tokens that come from the
//! live provider tampered with, issued to another client or expired are refused. Issuer,
//! nonce and the clock-skew edges are also checked in `controller/src/domain/oidc/tests.rs`
//! with tokens signed there.

use std::net::SocketAddr;
use unity_controller::config::auth::{AuthConfig, RawAuth};
use unity_controller::service::RunningController;
use unity_tests::http::HttpClient;
use unity_tests::oidc::{through_provider, OidcProvider, CLIENT_ID, CLIENT_SECRET};
use unity_tests::*;

pub struct Household {
    pub controller: RunningController,
    pub provider: OidcProvider,
    pub admin_password: String,
    _dir: tempfile::TempDir,
}

/// A controller signing in at a fresh provider (OIDC-only, `ada` is break-glass), with the
/// user group `family` viewing every host, the local admin `ada` and the local viewer `sam`.
pub async fn household() -> Household {
    let dir = tempfile::tempdir().unwrap();
    let api_port = free_port();
    let base = format!("http://127.0.0.1:{api_port}");
    let provider = OidcProvider::start(
        &format!("{base}/login/oidc/callback"),
        &format!("{base}/login"),
    )
    .await;
    let mut config = controller_config(&dir.path().join("controller"));
    config.api_listen = SocketAddr::from(([127, 0, 0, 1], api_port));
    let raw: RawAuth = toml::from_str(&format!(
        r#"[oidc]
issuer = "{issuer}"
client_id = "{CLIENT_ID}"
client_secret = "{CLIENT_SECRET}"
redirect_url = "{base}/login/oidc/callback"
name = "Home ID"
groups = {{ family = "family" }}
only = true
break_glass = ["ada"]
"#,
        issuer = provider.issuer()
    ))
    .unwrap();
    config.auth = AuthConfig::from_raw(raw).unwrap();
    let controller = start_controller(config).await;
    let admin_password = add_user(&controller, "ada", "admin").await;
    add_user(&controller, "sam", "viewer").await;
    let context = controller.context.clone();
    tokio::task::spawn_blocking(move || {
        use unity_controller::domain::{access::Right, groups};
        groups::create(
            &context,
            &unity_controller::domain::actor::Actor::Cli,
            "family",
            "",
        )
        .unwrap();
        groups::set_right(
            &context,
            &unity_controller::domain::actor::Actor::Cli,
            "family",
            "all",
            Some(Right::View),
        )
        .unwrap();
    })
    .await
    .unwrap();
    Household {
        controller,
        provider,
        admin_password,
        _dir: dir,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_21_oidc_sign_in_with_a_real_provider() {
    init_logging();
    let home = household().await;
    let api = home.controller.api_addr;
    let provider_addr = home.provider.addr;

    // A good login: alice is made a user by her subject, in the mapped group.
    let mut unity = HttpClient::new(api);
    let mut at_provider = home.provider.client();
    let callback = through_provider(
        &mut unity,
        &mut at_provider,
        provider_addr,
        "alice",
        "alicepw",
    )
    .await;
    assert!(callback.starts_with("/login/oidc/callback?"), "{callback}");
    let state_cookie = unity
        .cookies
        .get("unity_oidc")
        .cloned()
        .expect("the state cookie");
    let signed_in = unity.get(&callback).await;
    assert_eq!(signed_in.status, 200, "{}", signed_in.text());
    assert!(signed_in.text().contains("Signed in"));
    let session = unity.get("/api/v1/session").await;
    assert_eq!(session.status, 200, "{}", session.text());
    assert_eq!(session.json()["user"], "alice");
    assert_eq!(session.json()["role"], "viewer");
    let user = home
        .controller
        .context
        .store
        .auth
        .user("alice")
        .unwrap()
        .unwrap();
    assert_eq!(user.groups, ["family"]);
    let link = user.oidc.unwrap();
    assert_eq!(
        (link.issuer, link.subject),
        (home.provider.issuer(), "alice".to_owned())
    );
    assert!(user.password_hash.is_empty());

    // The same callback again, even with the state cookie put back: refused.
    let mut replay = HttpClient::new(api);
    replay.cookies.insert("unity_oidc".into(), state_cookie);
    let replayed = replay.get(&callback).await;
    assert_eq!(replayed.status, 403, "{}", replayed.text());
    assert!(
        replayed.text().contains("unknown, used or expired"),
        "{}",
        replayed.text()
    );
    assert_eq!(replay.get("/api/v1/session").await.status, 401);

    // A callback finished in another browser (no state cookie): refused, and the login it
    // belonged to cannot be finished later either.
    let mut victim = HttpClient::new(api);
    let mut victim_at_provider = home.provider.client();
    let callback = through_provider(
        &mut victim,
        &mut victim_at_provider,
        provider_addr,
        "alice",
        "alicepw",
    )
    .await;
    let mut attacker = HttpClient::new(api);
    let stolen = attacker.get(&callback).await;
    assert_eq!(stolen.status, 403, "{}", stolen.text());
    assert!(
        stolen.text().contains("not started in this browser"),
        "{}",
        stolen.text()
    );
    assert_eq!(attacker.get("/api/v1/session").await.status, 401);

    // A wrong password at the provider comes back as a refusal.
    let mut wrong = HttpClient::new(api);
    let mut wrong_at_provider = home.provider.client();
    let callback = through_provider(
        &mut wrong,
        &mut wrong_at_provider,
        provider_addr,
        "alice",
        "nope",
    )
    .await;
    assert!(callback.contains("error=access_denied"), "{callback}");
    let refused = wrong.get(&callback).await;
    assert_eq!(refused.status, 401, "{}", refused.text());
    assert!(
        refused
            .text()
            .contains("Home ID refused the sign-in: invalid credentials"),
        "{}",
        refused.text()
    );
    assert_eq!(wrong.get("/api/v1/session").await.status, 401);

    // bob's provider group maps to nothing: signed in, but no rights.
    let mut bob = HttpClient::new(api);
    let mut bob_at_provider = home.provider.client();
    let callback = through_provider(
        &mut bob,
        &mut bob_at_provider,
        provider_addr,
        "bob",
        "bobpw",
    )
    .await;
    assert_eq!(bob.get(&callback).await.status, 200);
    let session = bob.get("/api/v1/session").await.json();
    assert_eq!(
        (session["user"].as_str(), session["role"].as_str()),
        (Some("bob"), Some("member"))
    );
    assert_eq!(bob.get("/api/v1/users").await.status, 403);

    // OIDC-only: the password form is for break-glass users only.
    let login_page = HttpClient::new(api).get("/login").await.text();
    assert!(
        login_page.contains("Sign in with Home ID") && !login_page.contains("id=\"password\""),
        "{login_page}"
    );
    assert!(HttpClient::new(api)
        .get("/login?local")
        .await
        .text()
        .contains("id=\"password\""));
    let sam = add_user(&home.controller, "sam2", "viewer").await;
    assert_eq!(HttpClient::new(api).login("sam2", &sam).await.status, 401);
    assert_eq!(
        HttpClient::new(api)
            .login("ada", &home.admin_password)
            .await
            .status,
        200
    );

    // Logging out ends the session and goes on to the provider's end-session endpoint.
    let session = unity.get("/api/v1/session").await.json();
    let csrf = session["csrf_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let logout = unity.post_form("/logout", &[("csrf", &csrf)]).await;
    assert_eq!(logout.status, 200, "{}", logout.text());
    let page = logout.text();
    let end_session = format!("{}/session/end?", home.provider.issuer());
    assert!(
        page.contains(&format!("href=\"{end_session}"))
            && page.contains("client_id=unity")
            && page.contains("post_logout_redirect_uri="),
        "{page}"
    );
    assert_eq!(unity.get("/api/v1/session").await.status, 401);

    let actions: Vec<(String, String)> =
        unity_controller::domain::audit::recent(&home.controller.context, 50)
            .unwrap()
            .into_iter()
            .map(|entry| (entry.actor, entry.action))
            .collect();
    assert!(
        actions.contains(&("alice".into(), "user.oidc_create".into())),
        "{actions:?}"
    );
    assert!(
        actions.contains(&("alice".into(), "session.oidc_login".into())),
        "{actions:?}"
    );
    home.controller.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_21_oidc_sign_in_in_chromium() {
    use std::time::Duration;
    use unity_tests::webdriver::Browser;
    const WAIT: Duration = Duration::from_secs(15);
    init_logging();
    let home = household().await;
    let base = format!("http://{}", home.controller.api_addr);
    let mut browser = Browser::start()
        .await
        .expect("headless Chromium and chromedriver start");
    let outcome = async {
        browser.goto(&format!("{base}/")).await?;
        let button = browser.wait_for("#oidc-login", WAIT).await?;
        assert!(
            browser.find("#password").await.is_err(),
            "OIDC-only: no password form"
        );
        browser.click(&button).await?;
        let user = browser.wait_for("#provider-user", WAIT).await?;
        browser.type_into(&user, "alice").await?;
        let password = browser.find("#provider-password").await?;
        browser.type_into(&password, "alicepw").await?;
        let login = browser.find("#provider-login").await?;
        browser.click(&login).await?;
        // Back at Unity, signed in: the overview, with alice in the header.
        browser.wait_for("#logout", WAIT).await?;
        let who = browser.find(".who").await?;
        let who = browser.text(&who).await?;
        assert!(who.contains("alice"), "{who}");
        let logout = browser.find("#logout").await?;
        browser.click(&logout).await?;
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let url = browser.current_url().await?;
            if url.starts_with(&format!("{}/session/end", home.provider.issuer())) {
                break;
            }
            anyhow::ensure!(
                tokio::time::Instant::now() < deadline,
                "not at the provider's logout: {url}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        browser.goto(&format!("{base}/")).await?;
        browser.wait_for("#oidc-login", WAIT).await?;
        anyhow::Ok(())
    }
    .await;
    browser.finish(outcome, "oidc").await;
    home.controller.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_21_an_unreachable_provider_is_said_on_the_login_page() {
    init_logging();
    let dir = tempfile::tempdir().unwrap();
    let mut config = controller_config(&dir.path().join("controller"));
    let raw: RawAuth = toml::from_str(&format!(
        "[oidc]\nissuer = \"http://127.0.0.1:{}\"\nclient_id = \"unity\"\nclient_secret = \"s\"\nredirect_url = \"http://127.0.0.1:1/login/oidc/callback\"\nname = \"Home ID\"",
        free_port()
    ))
    .unwrap();
    config.auth = AuthConfig::from_raw(raw).unwrap();
    let controller = start_controller(config).await;
    let mut browser_like = HttpClient::new(controller.api_addr);
    let answer = browser_like.get("/login/oidc").await;
    assert_eq!(answer.status, 503, "{}", answer.text());
    let page = answer.text();
    assert!(
        page.contains("id=\"login-error\"") && page.contains("OpenID Connect discovery"),
        "{page}"
    );
    assert!(page.contains("Sign in with Home ID"), "{page}");
    controller.shutdown().await.unwrap();
}

/// The provider's token endpoint hands Unity a bad ID token (tests/oidc/server.mjs signs the
/// audience and expiry cases with the provider's own key, so only the claims are wrong): each
/// is refused at the callback with the reason, and nobody is signed in. Set back to good
/// tokens, the same login succeeds, so it was the token that was refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_21_bad_id_tokens_from_a_live_provider_are_refused() {
    init_logging();
    let home = household().await;
    let api = home.controller.api_addr;
    for (mode, reason) in [
        ("tampered", "Signature verification failed"),
        ("audience", "Invalid audiences: must contain `unity`"),
        ("expired", "ID token expired at"),
        ("good", ""),
    ] {
        home.provider.id_tokens(mode).await;
        let mut unity = HttpClient::new(api);
        let mut at_provider = home.provider.client();
        let callback = through_provider(
            &mut unity,
            &mut at_provider,
            home.provider.addr,
            "alice",
            "alicepw",
        )
        .await;
        let answer = unity.get(&callback).await;
        let session = unity.get("/api/v1/session").await;
        if mode == "good" {
            assert_eq!(answer.status, 200, "{}", answer.text());
            assert_eq!(session.json()["user"], "alice");
            continue;
        }
        assert_eq!(answer.status, 403, "{mode}: {}", answer.text());
        assert!(
            answer.text().contains("ID token was refused") && answer.text().contains(reason),
            "{mode}: the page should say {reason:?}: {}",
            answer.text()
        );
        assert_eq!(session.status, 401, "{mode}: {}", session.text());
    }
    assert!(
        home.controller
            .context
            .store
            .auth
            .user("mallory")
            .unwrap()
            .is_none(),
        "no user was made from the tampered token"
    );
}
