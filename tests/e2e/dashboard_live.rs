//! Issue 19: the overview as the fleet at a glance, live, in headless Chromium against a real
//! controller with two enrolled agents reporting this machine. A card per host shows CPU,
//! memory, disk and network with sparklines; a report arriving replaces the host's live part
//! within 2 s (the DOM polled against a deadline); severity classes have their colours (a
//! stopped agent's card turns red); search, status filter and sort work and the choice
//! survives a reload; at 390 px nothing sticks out; axe finds nothing serious. The page also
//! works without the script (every card, no controls) and the live channel needs a login.

use std::time::{Duration, Instant};
use unity_tests::http::HttpClient;
use unity_tests::page_checks::{axe_source, log_in, AXE_SCRIPT, OVERFLOW_SCRIPT};
use unity_tests::webdriver::Browser;
use unity_tests::*;

/// Polls `script` (returning true when done) until `deadline` from now; the time it took.
async fn until(browser: &mut Browser, what: &str, script: &str, deadline: Duration) -> Duration {
    let started = Instant::now();
    loop {
        let done = browser.execute(script).await.unwrap();
        if done == serde_json::json!(true) {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < deadline,
            "{what}: not within {deadline:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_19_the_overview_is_live_sortable_searchable_and_fits_a_phone() {
    init_logging();
    let dir = tempfile::tempdir().unwrap();
    let controller = start_controller(controller_config(&dir.path().join("controller"))).await;
    let interval = Duration::from_millis(500);
    let (first_id, first) = enrolled_agent(&controller, &dir.path().join("a1"), interval).await;
    let (second_id, second) = enrolled_agent(&controller, &dir.path().join("a2"), interval).await;
    let password = add_user(&controller, "ada", "admin").await;
    eventually("CPU reported", Duration::from_secs(20), || async {
        let series = query(&controller, &first_id, "cpu_usage_ratio").await;
        (series.iter().map(|s| s.points.len()).max().unwrap_or(0) >= 3).then_some(())
    })
    .await;

    // Without a login the live channel is refused; without the script the cards are there.
    let mut anonymous = HttpClient::new(controller.api_addr);
    let refused = anonymous.get("/events/overview").await;
    assert!(
        matches!(refused.status, 401 | 303)
            && refused.header("content-type") != Some("text/event-stream"),
        "{} {}",
        refused.status,
        refused.text()
    );
    let mut client = logged_in_client(&controller, "ada", &password).await;
    let page = client.get("/").await.text();
    for agent_id in [&first_id, &second_id] {
        assert!(
            page.contains(&format!("data-agent=\"{agent_id}\"")),
            "{agent_id}'s card"
        );
    }
    assert!(
        page.contains("id=\"overview-controls\" hidden"),
        "controls wait for the script"
    );

    let base = format!("http://{}", controller.api_addr);
    let axe = axe_source();
    let mut browser = Browser::start()
        .await
        .expect("headless Chromium and chromedriver start");
    let first_live = format!(".live[data-agent='{first_id}']");
    let outcome = async {
        log_in(&mut browser, &base, "ada", &password).await?;
        browser.set_viewport(1366, 900, false).await?;
        browser.goto(&format!("{base}/")).await?;
        browser.wait_for("#hosts[data-live-state=open]", Duration::from_secs(10)).await?;
        let shown = browser.find("#overview-shown").await?;
        assert_eq!(browser.text(&shown).await?, "Showing 2 of 2 hosts");

        // A report arrives: the host's live part is replaced within 2 s of the next report
        // (reports come every 500 ms), with its figures.
        for round in 0..3 {
            browser
                .execute(&format!("document.querySelector(\"{first_live}\").dataset.probe = 'old'; return true;"))
                .await?;
            let took = until(
                &mut browser,
                "the card updated",
                &format!("const l = document.querySelector(\"{first_live}\"); return !!l && l.dataset.probe === undefined;"),
                Duration::from_secs(2) + interval,
            )
            .await;
            eprintln!("round {round}: card replaced after {took:?}");
        }
        let cpu = browser
            .execute(&format!("return document.querySelector(\"{first_live} [data-figure=CPU] .value\").textContent;"))
            .await?;
        assert!(cpu.as_str().is_some_and(|text| text.ends_with(" %")), "CPU figure {cpu}");
        let sparklines = browser
            .execute(&format!("return document.querySelectorAll(\"{first_live} svg.spark path\").length;"))
            .await?;
        assert!(sparklines.as_u64().is_some_and(|n| n >= 3), "sparklines drawn: {sparklines}");

        // Severity colours: online green; a stopped agent's card turns red without a reload.
        let colour = |selector: &str| {
            format!("const b = document.querySelector(\"{selector}\"); return b ? getComputedStyle(b).backgroundColor : null;")
        };
        let online = browser.execute(&colour(&format!("{first_live} .badge.sev-ok"))).await?;
        assert_eq!(online, "rgb(27, 122, 67)", "online is green");
        anyhow::Ok(())
    }
    .await;
    let (mut browser, ()) = browser.finish_on_error(outcome, "live").await;
    second.stop().await;
    // The agent's connection closing makes it offline.
    eventually(
        "the second host offline",
        Duration::from_secs(15),
        || async {
            let context = controller.context.clone();
            let hosts = tokio::task::spawn_blocking(move || {
                unity_controller::domain::hosts::list(&context)
            })
            .await
            .unwrap()
            .unwrap();
            hosts
                .iter()
                .any(|host| host.agent_id == second_id && host.status.as_str() == "offline")
                .then_some(())
        },
    )
    .await;
    let second_live = format!(".live[data-agent='{second_id}']");
    let outcome = async {
        browser.goto(&format!("{base}/")).await?;
        browser.wait_for("#hosts[data-live-state=open]", Duration::from_secs(10)).await?;
        let offline = browser
            .execute(&format!("const b = document.querySelector(\"{second_live} .badge.sev-critical\"); return b ? [b.textContent, getComputedStyle(b).backgroundColor] : null;"))
            .await?;
        assert_eq!(offline, serde_json::json!(["offline", "rgb(192, 57, 43)"]), "offline is red");

        // Filter by status, search, sort; the choice survives a reload.
        browser
            .execute("const s = document.getElementById('overview-status'); s.value = 'offline'; s.dispatchEvent(new Event('input', { bubbles: true })); return true;")
            .await?;
        let visible = browser.execute("return [...document.querySelectorAll('#hosts .live')].map(l => l.dataset.agent);").await?;
        assert_eq!(visible, serde_json::json!([second_id.to_string()]), "only the offline host");
        browser
            .execute("const s = document.getElementById('overview-status'); s.value = ''; s.dispatchEvent(new Event('input', { bubbles: true })); return true;")
            .await?;
        let search = browser.find("#overview-search").await?;
        browser.type_into(&search, first_id.as_str()).await?;
        let visible = browser.execute("return [...document.querySelectorAll('#hosts .live')].map(l => l.dataset.agent);").await?;
        assert_eq!(visible, serde_json::json!([first_id.to_string()]), "search by agent id");
        browser
            .execute("const q = document.getElementById('overview-search'); q.value = ''; q.dispatchEvent(new Event('input', { bubbles: true })); const s = document.getElementById('overview-sort'); s.value = 'status'; s.dispatchEvent(new Event('input', { bubbles: true })); return true;")
            .await?;
        let order = browser.execute("return [...document.querySelectorAll('#hosts .live')].map(l => l.dataset.status);").await?;
        assert_eq!(order, serde_json::json!(["offline", "online"]), "needs a look first");
        browser.goto(&format!("{base}/")).await?;
        browser.wait_for("#overview-controls:not([hidden])", Duration::from_secs(10)).await?;
        let kept = browser.execute("return document.getElementById('overview-sort').value;").await?;
        assert_eq!(kept, "status", "the sort is remembered");

        browser.execute(&format!("{axe}\n;return true;")).await?;
        let violations = browser.execute_async(AXE_SCRIPT).await?;
        assert_eq!(violations, serde_json::json!([]), "axe: {violations:#}");

        browser.set_viewport(390, 844, true).await?;
        browser.goto(&format!("{base}/")).await?;
        browser.wait_for("#hosts[data-live-state=open]", Duration::from_secs(10)).await?;
        browser.screenshot(&test_output_dir().join("screenshots/overview-live-390x844.png")).await?;
        let overflowing = browser.execute(OVERFLOW_SCRIPT).await?;
        assert_eq!(overflowing, serde_json::json!([]), "at 390 px: {overflowing:#}");
        anyhow::Ok(())
    }
    .await;
    browser.finish(outcome, "live").await;
    first.stop().await;
    controller.shutdown().await.unwrap();
}
