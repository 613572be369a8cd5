//! Issue 5: the dashboard in headless Chromium (Debian's `chromium` + `chromium-driver`)
//! against a controller with enrolled agents: log in, overview, host page with a chart drawn
//! from stored history, join token creation, an API token created with a scope and expiry and
//! revoked, logout. Saves a screenshot of the host page to
//! `target/test-output/`. Fails (does not skip) when Chromium is missing.

use std::time::Duration;
use unity_tests::webdriver::Browser;
use unity_tests::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_logs_in_sees_a_drawn_chart_creates_a_join_token_and_logs_out() {
    init_logging();
    let dir = tempfile::tempdir().unwrap();
    let controller = start_controller(controller_config(&dir.path().join("controller"))).await;
    let interval = Duration::from_millis(250);
    let (agent_id, agent) = enrolled_agent(&controller, &dir.path().join("a1"), interval).await;
    let (_second_id, second) = enrolled_agent(&controller, &dir.path().join("a2"), interval).await;
    let password = add_user(&controller, "ada", "admin").await;
    // Enough history for a line: a few reports of CPU usage.
    eventually("CPU history", Duration::from_secs(20), || async {
        let series = query(&controller, &agent_id, "cpu_usage_ratio").await;
        (series.iter().map(|s| s.points.len()).max().unwrap_or(0) >= 4).then_some(())
    })
    .await;

    let base = format!("http://{}", controller.api_addr);
    let mut browser = Browser::start()
        .await
        .expect("headless Chromium and chromedriver start");
    let outcome = async {
        browser.goto(&format!("{base}/")).await?;
        assert!(browser.current_url().await?.ends_with("/login"), "redirected to the login form");
        let username = browser.wait_for("#username", Duration::from_secs(10)).await?;
        browser.type_into(&username, "ada").await?;
        let password_field = browser.find("#password").await?;
        browser.type_into(&password_field, &password).await?;
        let login = browser.find("#login").await?;
        browser.click(&login).await?;

        // Overview: both hosts listed.
        let table = browser.wait_for("#hosts", Duration::from_secs(10)).await?;
        let text = browser.text(&table).await?;
        assert!(text.contains(agent_id.as_str()), "{text}");
        assert!(text.contains("online"), "{text}");
        // The open-alerts section renders (its content depends on this machine's disks).
        let alerts = browser.find("[data-section=alerts]").await?;
        let alerts_text = browser.text(&alerts).await?;
        assert!(alerts_text.contains("open"), "{alerts_text}");
        browser.find("#open-alerts").await?;

        // Host page: the CPU chart is drawn by uPlot with data points.
        browser.goto(&format!("{base}/hosts/{agent_id}?range=1h")).await?;
        browser
            .wait_for(".chart[data-metric=cpu_usage_ratio][data-state=drawn] canvas", Duration::from_secs(15))
            .await?;
        let n_points = browser
            .execute(
                "const plot = (window.unityCharts || []).find(p => p.unityMetric === 'cpu_usage_ratio');\
                 return plot ? plot.data[1].filter(v => v != null).length : -1;",
            )
            .await?;
        assert!(n_points.as_i64().unwrap_or(-1) >= 3, "CPU chart points: {n_points}");
        let n_canvases = browser.execute("return document.querySelectorAll('.chart canvas').length;").await?;
        assert!(n_canvases.as_i64().unwrap_or(0) >= 3, "charts drawn: {n_canvases}");
        // Sections the host does not report share one line, without a heading each.
        let not_reported = browser.find("#not-reported").await?;
        let not_reported = browser.text(&not_reported).await?;
        assert!(not_reported.starts_with("No disks, pools"), "{not_reported}");
        assert!(not_reported.ends_with("reported yet."), "{not_reported}");
        let headings = browser.execute("return !!document.getElementById('section-disks');").await?;
        assert_eq!(headings, false, "no heading for a section not reported");
        let screenshot = test_output_dir().join("dashboard-host.png");
        browser.screenshot(&screenshot).await?;
        eprintln!("screenshot: {}", screenshot.display());

        // Agents: create a join token and see the command to run.
        browser.goto(&format!("{base}/agents")).await?;
        let create = browser.wait_for("#create-token-button", Duration::from_secs(10)).await?;
        browser.click(&create).await?;
        let command = browser.wait_for("#join-command", Duration::from_secs(10)).await?;
        let command = browser.text(&command).await?;
        assert!(command.starts_with("unity-agent enroll --controller"), "{command}");
        assert!(command.contains("--ca-hash sha256:"), "{command}");

        // Settings: an admin-scoped API token that expires, shown once, listed, revoked.
        browser.goto(&format!("{base}/settings")).await?;
        browser.wait_for("#create-api-token", Duration::from_secs(10)).await?;
        let name = browser.find("#create-api-token input[name=name]").await?;
        browser.type_into(&name, "deploy").await?;
        browser
            .execute(
                "document.querySelector('#create-api-token select[name=scope]').value = 'admin';\
                 document.querySelector('#create-api-token select[name=expires]').value = '30d';\
                 return true;",
            )
            .await?;
        let create = browser.find("#create-api-token button[type=submit]").await?;
        browser.click(&create).await?;
        let secret = browser.wait_for("#new-api-token", Duration::from_secs(10)).await?;
        let secret = browser.text(&secret).await?;
        let notice = browser.find("#notice").await?;
        let notice = browser.text(&notice).await?;
        assert!(notice.contains("admin API token") && notice.contains("valid until"), "{notice}");
        let tokens = browser.find("table#api-tokens").await?;
        let tokens = browser.text(&tokens).await?;
        assert!(tokens.contains("deploy") && tokens.contains("admin"), "{tokens}");
        let mut api = unity_tests::http::HttpClient::new(controller.api_addr);
        api.bearer = Some(secret.trim().to_owned());
        assert_eq!(api.get("/api/v1/session").await.status, 200, "the new token works");
        let revoke = browser.find("table#api-tokens button.danger").await?;
        browser.click(&revoke).await?;
        // Issue 19: the revoke asks first, naming the token.
        let dialog = browser.wait_for("dialog#confirm-dialog[open]", Duration::from_secs(5)).await?;
        let question = browser.text(&dialog).await?;
        assert!(question.contains("Revoke the API token deploy?"), "{question}");
        let confirm = browser.find("#confirm-ok").await?;
        browser.click(&confirm).await?;
        browser.wait_for("#create-api-token", Duration::from_secs(10)).await?;
        assert_eq!(api.get("/api/v1/session").await.status, 401, "the revoked token is refused");

        // Log out: back to the login form, and the dashboard is closed again.
        let logout = browser.find("#logout").await?;
        browser.click(&logout).await?;
        browser.wait_for("#username", Duration::from_secs(10)).await?;
        browser.goto(&format!("{base}/agents")).await?;
        assert!(browser.current_url().await?.ends_with("/login"), "logged out");
        anyhow::Ok(())
    }
    .await;
    browser.finish(outcome, "dashboard").await;
    agent.stop().await;
    second.stop().await;
    controller.shutdown().await.unwrap();
}
