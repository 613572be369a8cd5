//! Issue 19: the dashboard as a phone and a laptop see it, in headless Chromium against a
//! controller with two enrolled agents reporting this machine. Every main page at 390×844 has
//! no element sticking out of its box or the viewport and no duplicate element id; screenshots
//! of each page at 1366×900 and 390×844 go to `target/test-output/screenshots/` (printed).
//! Then the parts around the pages: the icon and manifest with their content types, friendly
//! HTML error pages (duplicate user, unknown host, stale form, unknown path) while the API
//! keeps JSON, and the confirmation dialog (cancel sends nothing, confirm deletes, CSRF intact).
//! Every page also runs axe-core (npm, installed into `tests/a11y/` by scripts/test) at
//! 1366×900: no serious or critical accessibility violation.

use std::time::Duration;
use unity_tests::http::HttpClient;
use unity_tests::page_checks::{
    axe_source, log_in, AXE_SCRIPT, DUPLICATE_IDS_SCRIPT, OVERFLOW_SCRIPT,
};
use unity_tests::webdriver::Browser;
use unity_tests::*;

/// A name for a page's screenshot file, stable across runs and distinct per page:
/// `/settings/access` → `settings-access`; a host's random id becomes `host`, so
/// `/hosts/{id}/containers/web/logs` → `host-containers-web-logs`; the query is left out.
fn file_name(path: &str) -> String {
    let path = path.split('?').next().unwrap_or_default();
    let mut segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    if segments.first() == Some(&"hosts") && segments.len() >= 2 {
        segments.splice(0..2, ["host"]);
    }
    let name: String = segments
        .join("-")
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    if name.is_empty() {
        "overview".to_owned()
    } else {
        name
    }
}

#[test]
fn screenshot_names_are_distinct_per_page() {
    assert_eq!(file_name("/"), "overview");
    assert_eq!(file_name("/settings/access"), "settings-access");
    assert_eq!(file_name("/hosts/a1b2?range=1h"), "host");
    assert_eq!(
        file_name("/hosts/a1b2/containers/web"),
        "host-containers-web"
    );
    assert_eq!(
        file_name("/hosts/a1b2/containers/web/logs"),
        "host-containers-web-logs"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_19_every_page_fits_a_phone_has_unique_ids_and_is_photographed() {
    init_logging();
    let dir = tempfile::tempdir().unwrap();
    let controller = start_controller(controller_config(&dir.path().join("controller"))).await;
    let interval = Duration::from_millis(250);
    let (agent_id, agent) = enrolled_agent(&controller, &dir.path().join("a1"), interval).await;
    let (_second_id, second) = enrolled_agent(&controller, &dir.path().join("a2"), interval).await;
    let password = add_user(&controller, "ada", "admin").await;
    add_user(
        &controller,
        "a-viewer-with-a-rather-long-name-for-a-phone",
        "viewer",
    )
    .await;
    eventually("CPU history", Duration::from_secs(20), || async {
        let series = query(&controller, &agent_id, "cpu_usage_ratio").await;
        (series.iter().map(|s| s.points.len()).max().unwrap_or(0) >= 4).then_some(())
    })
    .await;

    let base = format!("http://{}", controller.api_addr);
    let screenshots = test_output_dir().join("screenshots");
    std::fs::create_dir_all(&screenshots).unwrap();
    eprintln!("screenshots: {}", screenshots.display());
    let pages = [
        "/".to_owned(),
        format!("/hosts/{agent_id}?range=1h"),
        // Issue 19 §4: a container's page (this agent has no engine: its history only) and
        // its log page (the agent's answer: no engine).
        format!("/hosts/{agent_id}/containers/web"),
        format!("/hosts/{agent_id}/containers/web/logs"),
        "/alerts".to_owned(),
        "/services".to_owned(),
        "/updates".to_owned(),
        "/certificates".to_owned(),
        "/agents".to_owned(),
        "/agentless".to_owned(),
        "/certificates/managed".to_owned(),
        "/ssh/ca".to_owned(),
        "/ssh".to_owned(),
        "/secrets".to_owned(),
        "/settings".to_owned(),
        "/settings/access".to_owned(),
        "/settings/security".to_owned(),
        "/settings/notifications".to_owned(),
        "/no/such/page".to_owned(),
    ];
    let axe = axe_source();
    let mut browser = Browser::start()
        .await
        .expect("headless Chromium and chromedriver start");
    let outcome = async {
        log_in(&mut browser, &base, "ada", &password).await?;
        let mut problems = Vec::new();
        for (width, height, mobile) in [(1366, 900, false), (390, 844, true)] {
            browser.set_viewport(width, height, mobile).await?;
            for path in &pages {
                browser.goto(&format!("{base}{path}")).await?;
                browser.wait_for("main", Duration::from_secs(10)).await?;
                if path.starts_with("/hosts/") && !path.contains("/containers/") {
                    browser
                        .wait_for(".chart[data-state=drawn]", Duration::from_secs(15))
                        .await?;
                }
                let inner = browser.execute("return window.innerWidth;").await?;
                assert_eq!(inner.as_u64(), Some(u64::from(width)), "viewport of {path}");
                let shot = screenshots.join(format!("{}-{width}x{height}.png", file_name(path)));
                browser.screenshot(&shot).await?;
                let duplicates = browser.execute(DUPLICATE_IDS_SCRIPT).await?;
                if duplicates.as_array().is_some_and(|list| !list.is_empty()) {
                    problems.push(format!("{path} at {width}: duplicate ids {duplicates}"));
                }
                if width == 1366 {
                    browser.execute(&format!("{axe}\n;return true;")).await?;
                    let violations = browser.execute_async(AXE_SCRIPT).await?;
                    if violations.as_array().is_none_or(|list| !list.is_empty()) {
                        problems.push(format!("{path}: accessibility {violations:#}"));
                    }
                }
                if width == 390 {
                    let overflowing = browser.execute(OVERFLOW_SCRIPT).await?;
                    if overflowing.as_array().is_some_and(|list| !list.is_empty()) {
                        problems.push(format!("{path} at 390: {overflowing:#}"));
                    }
                    // Tables are cards: every cell says its column.
                    let unlabelled = browser
                        .execute(
                            "return document.querySelectorAll('table.cards').length === document.querySelectorAll('table:has(> thead)').length \
                             && [...document.querySelectorAll('table thead ~ tbody td')].every(td => td.hasAttribute('data-label'));",
                        )
                        .await?;
                    if unlabelled != serde_json::json!(true) {
                        problems.push(format!("{path}: a table is not shown as cards"));
                    }
                }
            }
        }
        assert!(problems.is_empty(), "{}", problems.join("\n"));
        // The check finds what it looks for: a box wider than the phone, and a duplicate id.
        browser
            .execute("const d = document.createElement('div'); d.id = 'logout'; d.style.width = '600px'; d.textContent = 'wide'; document.querySelector('main').append(d); return true;")
            .await?;
        let overflowing = browser.execute(OVERFLOW_SCRIPT).await?;
        assert!(overflowing.to_string().contains("past the viewport"), "{overflowing}");
        let duplicates = browser.execute(DUPLICATE_IDS_SCRIPT).await?;
        assert!(duplicates.to_string().contains("logout"), "{duplicates}");
        // The container state badges never wrap (the squashed badge on a phone).
        let badge = browser
            .execute("const b = document.querySelector('.badge'); return b ? getComputedStyle(b).whiteSpace : 'nowrap';")
            .await?;
        assert_eq!(badge, "nowrap");
        anyhow::Ok(())
    }
    .await;
    browser.finish(outcome, "phone").await;
    agent.stop().await;
    second.stop().await;
    controller.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_19_icons_error_pages_and_confirmation_dialogs_in_the_browser() {
    init_logging();
    let dir = tempfile::tempdir().unwrap();
    let controller = start_controller(controller_config(&dir.path().join("controller"))).await;
    let password = add_user(&controller, "ada", "admin").await;
    add_user(&controller, "bob", "viewer").await;
    let base = format!("http://{}", controller.api_addr);

    // Icon and manifest, embedded and served with their types, without a login.
    let mut anonymous = HttpClient::new(controller.api_addr);
    let manifest = anonymous.get("/manifest.webmanifest").await;
    assert_eq!(manifest.status, 200);
    assert_eq!(
        manifest.header("content-type"),
        Some("application/manifest+json")
    );
    assert_eq!(manifest.json()["display"], "standalone");
    let icon = anonymous.get("/assets/favicon.svg").await;
    assert_eq!(icon.status, 200);
    assert_eq!(icon.header("content-type"), Some("image/svg+xml"));
    assert!(icon.text().starts_with("<svg"), "{}", icon.text());
    // Unknown paths: a page for browsers, JSON for the API and for clients that want it.
    let html = [("Accept", "text/html,application/xhtml+xml,*/*;q=0.8")];
    let page = anonymous
        .request("GET", "/no/such/page", &html, None)
        .await
        .unwrap();
    assert_eq!(page.status, 404);
    assert!(
        page.header("content-type")
            .is_some_and(|t| t.starts_with("text/html")),
        "{:?}",
        page.headers
    );
    assert!(
        page.text().contains("<h1>Not found</h1>"),
        "{}",
        page.text()
    );
    let api = anonymous
        .request("GET", "/api/v1/no-such-thing", &html, None)
        .await
        .unwrap();
    assert_eq!(api.status, 404);
    assert_eq!(api.json()["status"], 404, "{}", api.text());
    let json = anonymous.get("/no/such/page").await;
    assert_eq!(json.status, 404);
    assert_eq!(json.json()["status"], 404, "{}", json.text());

    let mut browser = Browser::start()
        .await
        .expect("headless Chromium and chromedriver start");
    let outcome = async {
        log_in(&mut browser, &base, "ada", &password).await?;
        let icon_link = browser
            .execute("return document.querySelector('link[rel=icon]').href + ' ' + document.querySelector('link[rel=manifest]').href;")
            .await?;
        assert!(icon_link.as_str().is_some_and(|links| links.contains("/assets/favicon.svg") && links.contains("/manifest.webmanifest")), "{icon_link}");

        // A duplicate user: a page in the frame that says what happened, with a way back.
        browser.goto(&format!("{base}/settings")).await?;
        let name = browser.wait_for("#add-user input[name=name]", Duration::from_secs(10)).await?;
        browser.type_into(&name, "bob").await?;
        let add = browser.find("#add-user button[type=submit]").await?;
        browser.click(&add).await?;
        let error = browser.wait_for("#error-page[data-status='409']", Duration::from_secs(10)).await?;
        let text = browser.text(&error).await?;
        assert!(text.contains("That conflicts with what exists") && text.contains("bob"), "{text}");
        assert!(!text.contains("{\""), "no JSON: {text}");
        browser.find("#logout").await?;
        let back = browser.find("#error-back").await?;
        browser.click(&back).await?;
        browser.wait_for("#add-user", Duration::from_secs(10)).await?;

        // An unknown host and a bad range: pages, not JSON.
        browser.goto(&format!("{base}/hosts/no-such-host")).await?;
        let error = browser.wait_for("#error-page[data-status='404']", Duration::from_secs(10)).await?;
        let text = browser.text(&error).await?;
        assert!(text.contains("Not found"), "{text}");

        // A stale form (the CSRF token of an older session): "your form expired".
        browser.goto(&format!("{base}/settings")).await?;
        browser.wait_for("#add-user", Duration::from_secs(10)).await?;
        browser
            .execute("document.querySelectorAll('input[name=csrf]').forEach(input => input.value = 'stale'); return true;")
            .await?;
        let name = browser.find("#add-user input[name=name]").await?;
        browser.type_into(&name, "carol").await?;
        let add = browser.find("#add-user button[type=submit]").await?;
        browser.click(&add).await?;
        let error = browser.wait_for("#error-page[data-status='403']", Duration::from_secs(10)).await?;
        let text = browser.text(&error).await?;
        assert!(text.contains("Your form expired") && text.contains("Reload the page"), "{text}");
        assert!(!text.contains("X-CSRF-Token"), "{text}");

        // Delete bob: the dialog asks, naming bob; Cancel (by keyboard) sends nothing.
        browser.goto(&format!("{base}/settings")).await?;
        let delete = browser.wait_for("table#users button.danger", Duration::from_secs(10)).await?;
        browser.click(&delete).await?;
        let dialog = browser.wait_for("dialog#confirm-dialog[open]", Duration::from_secs(5)).await?;
        let question = browser.text(&dialog).await?;
        assert!(question.contains("Delete the user bob?"), "{question}");
        let focused = browser.execute("return document.activeElement.id;").await?;
        assert_eq!(focused, "confirm-ok", "the dialog takes the keyboard focus");
        browser
            .execute("document.getElementById('confirm-cancel').focus(); return true;")
            .await?;
        let cancel = browser.find("#confirm-cancel").await?;
        browser.click(&cancel).await?;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let open = browser.execute("return document.getElementById('confirm-dialog').open;").await?;
        assert_eq!(open, false, "the dialog closed");
        assert!(browser.current_url().await?.ends_with("/settings"), "still on the page");
        let users = browser.find("table#users").await?;
        assert!(browser.text(&users).await?.contains("bob"), "bob is still there");

        // Confirm: the form goes with its CSRF token and bob is gone.
        let delete = browser.find("table#users button.danger").await?;
        browser.click(&delete).await?;
        browser.wait_for("dialog#confirm-dialog[open]", Duration::from_secs(5)).await?;
        let confirm = browser.find("#confirm-ok").await?;
        browser.click(&confirm).await?;
        eventually("bob deleted", Duration::from_secs(10), || async {
            let users = browser_users(&controller).await;
            (!users.iter().any(|user| user == "bob")).then_some(())
        })
        .await;
        browser.wait_for("table#users", Duration::from_secs(10)).await?;
        assert!(browser.find("#error-page").await.is_err(), "no error page after the delete");
        anyhow::Ok(())
    }
    .await;
    browser.finish(outcome, "errors").await;
    controller.shutdown().await.unwrap();
}

/// The users the controller has.
async fn browser_users(controller: &unity_controller::service::RunningController) -> Vec<String> {
    let context = controller.context.clone();
    tokio::task::spawn_blocking(move || {
        unity_controller::domain::users::list(&context)
            .unwrap()
            .into_iter()
            .map(|user| user.name)
            .collect()
    })
    .await
    .unwrap()
}
