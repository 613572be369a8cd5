//! Issue 21 in headless Chromium: with `[auth] second_factor_for_admins`, an admin's first
//! login enrols an authenticator app from the QR code and shows the recovery codes once; the
//! admin then labels a host, makes a host group and a user group with a right on it and puts a
//! member in it, all through the Access page's forms; the member sees only that host and gets
//! a 404 for the other; the admin's next login asks for a code, refuses a wrong one and takes
//! the right one. Fails (does not skip) when Chromium is missing.

use std::time::Duration;
use unity_controller::domain::second_factor::code_at;
use unity_tests::webdriver::Browser;
use unity_tests::*;

const WAIT: Duration = Duration::from_secs(10);

fn now_s() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

async fn log_in(
    browser: &mut Browser,
    base: &str,
    user: &str,
    password: &str,
) -> anyhow::Result<()> {
    browser.goto(&format!("{base}/login")).await?;
    let username = browser.wait_for("#username", WAIT).await?;
    browser.type_into(&username, user).await?;
    let field = browser.find("#password").await?;
    browser.type_into(&field, password).await?;
    let login = browser.find("#login").await?;
    browser.click(&login).await
}

async fn log_out(browser: &mut Browser) -> anyhow::Result<()> {
    let logout = browser.find("#logout").await?;
    browser.click(&logout).await?;
    browser.wait_for("#username", WAIT).await.map(drop)
}

/// Runs `script` until it returns true.
async fn until(browser: &mut Browser, what: &str, script: &str) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if browser.execute(script).await.ok().and_then(|v| v.as_bool()) == Some(true) {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            anyhow::bail!("timed out waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Fills the form found by the script expression `scope` (a form, or a table row holding one)
/// with `fields` and submits it with its button, as a user would.
async fn submit(browser: &mut Browser, scope: &str, fields: &[(&str, &str)]) -> anyhow::Result<()> {
    let assignments: String = fields
        .iter()
        .map(|(name, value)| {
            format!(
                "scope.querySelector('[name={name}]').value = {};",
                serde_json::json!(value)
            )
        })
        .collect();
    let script = format!(
        "const scope = {scope}; if (!scope) return false; {assignments} \
         scope.querySelector('button[type=submit]').click(); return true;"
    );
    let done = browser.execute(&script).await?;
    anyhow::ensure!(done == serde_json::json!(true), "no form for {scope}");
    Ok(())
}

fn row(table: &str, text: &str) -> String {
    format!(
        "[...document.querySelectorAll('{table} tr')].find(r => r.textContent.includes({}))",
        serde_json::json!(text)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_21_browser_enrols_totp_sets_up_access_and_a_member_sees_only_their_host() {
    init_logging();
    let dir = tempfile::tempdir().unwrap();
    let mut config = controller_config(&dir.path().join("controller"));
    config.auth.second_factor_for_admins = true;
    let controller = start_controller(config).await;
    let interval = Duration::from_millis(250);
    let (media, media_agent) = enrolled_agent(&controller, &dir.path().join("a1"), interval).await;
    let (other, other_agent) = enrolled_agent(&controller, &dir.path().join("a2"), interval).await;
    let password = add_user(&controller, "ada", "admin").await;
    let sam_password = add_user(&controller, "sam", "viewer").await;
    let pending_secret = || {
        controller
            .context
            .store
            .auth
            .factors("ada")
            .unwrap()
            .totp_pending
            .unwrap()
    };
    let base = format!("http://{}", controller.api_addr);
    let mut browser = Browser::start()
        .await
        .expect("headless Chromium and chromedriver start");
    let outcome = async {
        // First login: the admin must enrol; the QR code and the key are shown.
        log_in(&mut browser, &base, "ada", &password).await?;
        browser.wait_for("svg#totp-qr rect", WAIT).await?;
        let key = browser.find("#totp-secret").await?;
        let key = browser.text(&key).await?;
        assert_eq!(key.len(), 32, "{key}");
        assert_eq!(browser.find("#logout").await.ok().map(drop), None, "no session yet");
        let code = browser.find("#code").await?;
        browser.type_into(&code, "000000").await?;
        let button = browser.find("#verify").await?;
        browser.click(&button).await?;
        let error = browser.wait_for("#second-factor-error", WAIT).await?;
        assert!(browser.text(&error).await?.contains("wrong code"));
        let code = browser.wait_for("#code", WAIT).await?;
        browser.type_into(&code, &code_at(&pending_secret(), now_s())).await?;
        let button = browser.find("#verify").await?;
        browser.click(&button).await?;
        let codes = browser.wait_for("#recovery-codes", WAIT).await?;
        let codes = browser.text(&codes).await?;
        assert_eq!(codes.lines().filter(|line| line.len() == 14).count(), 10, "{codes}");
        let button = browser.find("#continue").await?;
        browser.click(&button).await?;
        browser.wait_for("#hosts", WAIT).await?;

        // The Access page: label the media host, make the host group and the user group,
        // give the group operate on it, and put sam in it.
        browser.goto(&format!("{base}/settings/access")).await?;
        browser.wait_for("#host-labels", WAIT).await?;
        submit(&mut browser, &row("#host-labels", media.as_str()), &[("labels", "role=media")]).await?;
        browser.wait_for("#put-host-group", WAIT).await?;
        submit(&mut browser, "document.querySelector('#put-host-group')", &[("name", "media"), ("labels", "role=media")]).await?;
        until(&mut browser, "the media host group", &format!(
            "const r = {}; return !!r && r.textContent.includes({});",
            row("#host-groups", "role=media"),
            serde_json::json!(media.as_str())
        )).await?;
        submit(&mut browser, "document.querySelector('#create-group')", &[("name", "family")]).await?;
        until(&mut browser, "the family group", "return !!document.querySelector('td[data-group=family][data-host-group=media] form');").await?;
        submit(&mut browser, "document.querySelector('td[data-group=family][data-host-group=media] form')", &[("right", "operate")]).await?;
        until(&mut browser, "the right", "const s = document.querySelector('td[data-group=family][data-host-group=media] select'); return !!s && s.value === 'operate';").await?;
        submit(&mut browser, &row("#members", "sam"), &[("groups", "family")]).await?;
        until(&mut browser, "sam in family", &format!(
            "const r = {}; return !!r && r.querySelector('input[name=groups]').value === 'family';",
            row("#members", "sam")
        )).await?;
        log_out(&mut browser).await?;

        // The member sees only the media host.
        log_in(&mut browser, &base, "sam", &sam_password).await?;
        let hosts = browser.wait_for("#hosts", WAIT).await?;
        let hosts = browser.text(&hosts).await?;
        assert!(hosts.contains(media.as_str()), "{hosts}");
        assert!(!hosts.contains(other.as_str()), "{hosts}");
        browser.goto(&format!("{base}/hosts/{other}")).await?;
        let body = browser.execute("return document.body.textContent;").await?;
        assert!(body.as_str().unwrap_or_default().contains("no host"), "{body}");
        browser.goto(&format!("{base}/")).await?;
        browser.wait_for("#hosts", WAIT).await?;
        log_out(&mut browser).await?;

        // The admin's next login asks for a code (no QR now).
        log_in(&mut browser, &base, "ada", &password).await?;
        browser.wait_for("#code", WAIT).await?;
        assert!(browser.find("#totp-qr").await.is_err(), "no enrolment the second time");
        let secret = controller.context.store.auth.factors("ada").unwrap().totp.unwrap().secret;
        let code = browser.find("#code").await?;
        browser.type_into(&code, "111111").await?;
        let button = browser.find("#verify").await?;
        browser.click(&button).await?;
        browser.wait_for("#second-factor-error", WAIT).await?;
        let code = browser.find("#code").await?;
        browser.type_into(&code, &code_at(&secret, now_s() + 30)).await?;
        let button = browser.find("#verify").await?;
        browser.click(&button).await?;
        browser.wait_for("#hosts", WAIT).await?;
        browser.goto(&format!("{base}/settings/security")).await?;
        let state = browser.wait_for("#totp-state", WAIT).await?;
        let state = browser.text(&state).await?;
        assert!(state.contains("On.") && state.contains("10 recovery codes left"), "{state}");
        anyhow::Ok(())
    }
    .await;
    browser.finish(outcome, "dashboard-access").await;
    media_agent.stop().await;
    other_agent.stop().await;
    controller.shutdown().await.unwrap();
}
