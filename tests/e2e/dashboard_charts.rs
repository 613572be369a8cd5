//! Issue 19 §2, the host page's charts in headless Chromium against a controller with two
//! reporting agents: the charts share one cursor (hovering one moves the others'), a drag on
//! one zooms every chart of the page to that span and a double-click goes back, and the range
//! chosen in the selector survives a reload and the way to another host until "auto" forgets
//! it. Every assertion reads the uPlot instances (`window.unityCharts`) through executed JS.

use serde_json::Value;
use std::time::Duration;
use unity_tests::page_checks::log_in;
use unity_tests::webdriver::{mouse_down, mouse_up, Browser};
use unity_tests::*;

const HOUR: f64 = 3600.0;

/// Waits until every chart of the page has been drawn (or said it has no data) and at least
/// `n_drawn` are uPlot instances; returns the ranges (seconds) of their x scales.
async fn charts_ready(browser: &mut Browser, n_drawn: usize) -> anyhow::Result<Vec<f64>> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let spans = browser
            .execute(
                "const all = document.querySelectorAll('.chart');\
                 const settled = document.querySelectorAll('.chart[data-state]');\
                 if (all.length === 0 || settled.length < all.length) return null;\
                 return (window.unityCharts || []).map(p => p.scales.x.max - p.scales.x.min);",
            )
            .await?;
        if let Some(spans) = spans.as_array().filter(|s| s.len() >= n_drawn) {
            return Ok(spans.iter().filter_map(Value::as_f64).collect());
        }
        if tokio::time::Instant::now() > deadline {
            anyhow::bail!("fewer than {n_drawn} charts drawn: {spans}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Marks the page, so that [`new_page`] can tell when the browser has left it.
async fn mark_page(browser: &mut Browser) -> anyhow::Result<()> {
    browser
        .execute("window.unityTestOldPage = true; return true;")
        .await
        .map(drop)
}

/// Waits until the marked page has been replaced by a new one.
async fn new_page(browser: &mut Browser) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let old = browser
            .execute("return window.unityTestOldPage === true;")
            .await;
        if matches!(old, Ok(Value::Bool(false))) {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            anyhow::bail!("the page did not change");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Every chart's x span is `seconds` long (within a few seconds of the page's load).
fn all_span(spans: &[f64], seconds: f64) -> bool {
    !spans.is_empty() && spans.iter().all(|span| (span - seconds).abs() < 60.0)
}

/// The range each chart element asks for, and the selector's active link.
async fn range_state(browser: &mut Browser) -> anyhow::Result<Value> {
    browser
        .execute(
            "return { ranges: [...new Set([...document.querySelectorAll('.chart')].map(e => e.dataset.range))],\
                      active: [...document.querySelectorAll('#ranges a.active')].map(a => a.textContent),\
                      stored: localStorage.getItem('unity.chartRange') };",
        )
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_19_host_charts_share_cursor_and_zoom_and_remember_the_range() {
    init_logging();
    let dir = tempfile::tempdir().unwrap();
    let controller = start_controller(controller_config(&dir.path().join("controller"))).await;
    let interval = Duration::from_millis(250);
    let (first_id, first) = enrolled_agent(&controller, &dir.path().join("a1"), interval).await;
    let (second_id, second) = enrolled_agent(&controller, &dir.path().join("a2"), interval).await;
    let password = add_user(&controller, "ada", "admin").await;
    for agent_id in [&first_id, &second_id] {
        eventually("CPU history", Duration::from_secs(30), || async {
            let series = query(&controller, agent_id, "cpu_usage_ratio").await;
            (series.iter().map(|s| s.points.len()).max().unwrap_or(0) >= 6).then_some(())
        })
        .await;
    }

    let base = format!("http://{}", controller.api_addr);
    let mut browser = Browser::start()
        .await
        .expect("headless Chromium and chromedriver start");
    let outcome = async {
        log_in(&mut browser, &base, "ada", &password).await?;

        // A new host opens on the range that holds its data: one hour.
        browser.goto(&format!("{base}/hosts/{first_id}")).await?;
        let spans = charts_ready(&mut browser, 3).await?;
        assert!(all_span(&spans, HOUR), "default range: {spans:?}");
        let state = range_state(&mut browser).await?;
        assert_eq!(state["ranges"], serde_json::json!(["1h"]), "{state}");
        assert_eq!(state["stored"], Value::Null, "{state}");

        // Synced cursor: hovering the CPU chart puts the others' cursors on the same time.
        let hidden = browser
            .execute("return unityCharts.map(p => p.cursor.left);")
            .await?;
        assert!(
            hidden.as_array().is_some_and(|l| l.iter().all(|v| v.as_f64().is_some_and(|v| v < 0.0))),
            "no cursor before hovering: {hidden}"
        );
        let cpu = browser
            .find(".chart[data-metric=cpu_usage_ratio] .u-over")
            .await?;
        browser
            .mouse(vec![Browser::mouse_to(&cpu, 60, 0, 0), Browser::mouse_to(&cpu, 80, 0, 100)])
            .await?;
        let cursors = browser
            .execute(
                "const source = unityCharts.find(p => p.unityMetric === 'cpu_usage_ratio');\
                 const at = source.posToVal(source.cursor.left, 'x');\
                 return { at, left: source.cursor.left, others: unityCharts.filter(p => p !== source)\
                   .map(p => ({ left: p.cursor.left, at: p.posToVal(p.cursor.left, 'x') })) };",
            )
            .await?;
        let at = cursors["at"].as_f64().unwrap_or(0.0);
        assert!(cursors["left"].as_f64().unwrap_or(-1.0) > 0.0, "{cursors}");
        let others = cursors["others"].as_array().cloned().unwrap_or_default();
        assert!(!others.is_empty(), "{cursors}");
        for other in &others {
            assert!(other["left"].as_f64().unwrap_or(-1.0) > 0.0, "a cursor did not follow: {cursors}");
            let other_at = other["at"].as_f64().unwrap_or(0.0);
            assert!((other_at - at).abs() < HOUR / 100.0, "cursors at different times: {cursors}");
        }

        // Zoom by drag: a selection across the CPU chart zooms every chart to it.
        browser
            .mouse(vec![
                Browser::mouse_to(&cpu, -120, 0, 0),
                mouse_down(),
                Browser::mouse_to(&cpu, -40, 0, 150),
                Browser::mouse_to(&cpu, 20, 0, 150),
                mouse_up(),
            ])
            .await?;
        let zoom = browser
            .execute("return unityCharts.map(p => [p.scales.x.min, p.scales.x.max]);")
            .await?;
        let zoom: Vec<(f64, f64)> = zoom
            .as_array()
            .map(|all| {
                all.iter()
                    .map(|pair| (pair[0].as_f64().unwrap_or(0.0), pair[1].as_f64().unwrap_or(0.0)))
                    .collect()
            })
            .unwrap_or_default();
        assert!(zoom.len() >= 3, "{zoom:?}");
        let (min, max) = zoom[0];
        assert!(max - min > 60.0 && max - min < HOUR * 0.6, "the drag zoomed: {zoom:?}");
        for (other_min, other_max) in &zoom {
            assert!(
                (other_min - min).abs() < 1.0 && (other_max - max).abs() < 1.0,
                "every chart shows the dragged span: {zoom:?}"
            );
        }
        let screenshot = test_output_dir().join("dashboard-host-zoomed.png");
        browser.screenshot(&screenshot).await?;

        // A double-click goes back to the page's range, on every chart.
        browser
            .mouse(vec![
                Browser::mouse_to(&cpu, 0, 0, 0),
                mouse_down(),
                mouse_up(),
                mouse_down(),
                mouse_up(),
            ])
            .await?;
        let spans = charts_ready(&mut browser, 3).await?;
        assert!(all_span(&spans, HOUR), "after the double-click: {spans:?}");

        // The range picker: choosing 6 h is remembered across a reload and on another host.
        let six = browser.find("#ranges a[data-range='6h']").await?;
        mark_page(&mut browser).await?;
        browser.click(&six).await?;
        new_page(&mut browser).await?;
        let spans = charts_ready(&mut browser, 3).await?;
        assert!(all_span(&spans, 6.0 * HOUR), "after choosing 6h: {spans:?}");
        for page in [
            format!("{base}/hosts/{first_id}"),
            format!("{base}/hosts/{second_id}"),
        ] {
            browser.goto(&page).await?;
            let spans = charts_ready(&mut browser, 3).await?;
            assert!(all_span(&spans, 6.0 * HOUR), "{page} keeps 6h: {spans:?}");
            let state = range_state(&mut browser).await?;
            assert_eq!(state["ranges"], serde_json::json!(["6h"]), "{page}: {state}");
            assert_eq!(state["active"], serde_json::json!(["6h"]), "{page}: {state}");
        }
        mark_page(&mut browser).await?;
        browser.execute("setTimeout(() => location.reload(), 0); return true;").await?;
        new_page(&mut browser).await?;
        let spans = charts_ready(&mut browser, 3).await?;
        assert!(all_span(&spans, 6.0 * HOUR), "a reload keeps 6h: {spans:?}");

        // "auto" forgets the choice: back to the range that holds the data.
        let auto = browser.find("#ranges a[data-range='']").await?;
        mark_page(&mut browser).await?;
        browser.click(&auto).await?;
        new_page(&mut browser).await?;
        let spans = charts_ready(&mut browser, 3).await?;
        assert!(all_span(&spans, HOUR), "auto: {spans:?}");
        let state = range_state(&mut browser).await?;
        assert_eq!(state["stored"], Value::Null, "{state}");
        anyhow::Ok(())
    }
    .await;
    browser.finish(outcome, "dashboard-charts").await;
    first.stop().await;
    second.stop().await;
    controller.shutdown().await.unwrap();
}
