//! Issue 19: the host page of a 12-disk NAS in headless Chromium. A real agent runs against
//! fake `smartctl`, `zpool`, `zfs` and `mdadm` that replay recorded outputs (twelve different
//! SATA drives, one with 304 reallocated sectors; a degraded mirror scrubbed in 2024; an md
//! RAID5 recovering at 33440K/sec). The page must name metrics for people, open its charts on
//! the range that has the new host's data, draw y axes wide enough for their labels with
//! distinct (and, for counts, whole) ticks, colour severities (failing red, warning amber, ok
//! green), show the last scrub as a date, and stay short; raw series live on "All metrics".

use std::time::Duration;
use unity_tests::homelab::start_nas;
use unity_tests::webdriver::Browser;
use unity_tests::*;

/// Every chart on the page has drawn or said why not.
const CHARTS_SETTLED: &str = "const charts = [...document.querySelectorAll('.chart')];\
    return charts.length > 0 && charts.every(c => c.dataset.state);";

/// Per chart: metric, unit, the y axis' tick labels and splits, its width and the width its
/// widest label needs (measured with the axis' own font), and the legend's series labels.
const AXES: &str = "return (window.unityCharts || []).map(p => {\
      const axis = p.axes[1];\
      p.ctx.font = axis.font[0];\
      const widest = Math.max(0, ...(axis._values || []).map(v => p.ctx.measureText(String(v)).width / (window.devicePixelRatio || 1)));\
      return { metric: p.unityMetric, unit: p.unityUnit, values: axis._values || [], splits: axis._splits || [],\
        size: axis._size, needed: widest + axis.ticks.size + axis.gap,\
        legend: p.series.slice(1).map(s => s.label) };\
    });";

/// Every badge: its text and computed background colour.
const BADGES: &str = "return [...document.querySelectorAll('.badge')].map(b =>\
      [b.textContent.trim(), getComputedStyle(b).backgroundColor]);";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_19_nas_host_page_reads_for_people() {
    init_logging();
    let dir = tempfile::tempdir().unwrap();
    let controller = start_controller(controller_config(&dir.path().join("controller"))).await;
    let (agent_id, agent) = start_nas(&controller, dir.path()).await;
    let password = add_user(&controller, "ada", "admin").await;
    // A few points of every chart's history: twelve disks' temperatures, the md sync.
    eventually("twelve disks' history", Duration::from_secs(60), || async {
        let temperatures = query(&controller, &agent_id, "smart_temperature_celsius").await;
        let sync = query(&controller, &agent_id, "md_sync_speed_bytes_per_second").await;
        let enough = |series: &[unity_controller::admin::SeriesView]| {
            series.iter().map(|s| s.points.len()).min().unwrap_or(0) >= 3
        };
        (temperatures.len() >= 10 && enough(&temperatures) && enough(&sync)).then_some(())
    })
    .await;

    let base = format!("http://{}", controller.api_addr);
    let mut browser = Browser::start()
        .await
        .expect("headless Chromium and chromedriver start");
    let outcome = async {
        browser.goto(&format!("{base}/login")).await?;
        let username = browser.wait_for("#username", Duration::from_secs(10)).await?;
        browser.type_into(&username, "ada").await?;
        let password_field = browser.find("#password").await?;
        browser.type_into(&password_field, &password).await?;
        let login = browser.find("#login").await?;
        browser.click(&login).await?;
        browser.wait_for("#hosts", Duration::from_secs(10)).await?;

        // The "all metrics" page has the internal names (the list the host page must not show)
        // and typed values.
        browser.goto(&format!("{base}/hosts/{agent_id}/metrics")).await?;
        browser.wait_for("table#all-metrics", Duration::from_secs(10)).await?;
        let rows = browser
            .execute(
                "return [...document.querySelectorAll('#all-metrics tbody tr')].map(r =>\
                   [...r.cells].map(c => c.textContent.trim()));",
            )
            .await?;
        let rows: Vec<Vec<String>> = serde_json::from_value(rows)?;
        let value_of = |metric: &str| -> Vec<String> {
            rows.iter().filter(|row| row[1] == metric).map(|row| row[3].clone()).collect()
        };
        assert_eq!(value_of("md_sync_speed_bytes_per_second"), ["32.7 MiB/s"], "{rows:?}");
        let verdicts = value_of("md_array_verdict");
        assert!(
            !verdicts.is_empty()
                && verdicts.iter().all(|v| ["passed", "warning", "failing"].contains(&v.as_str())),
            "{verdicts:?}"
        );
        let scrubs = value_of("zfs_last_scrub_timestamp_seconds");
        assert!(
            !scrubs.is_empty() && scrubs.iter().all(|v| v.starts_with("2024-10-20 (") && v.ends_with(" days ago)")),
            "{scrubs:?}"
        );
        let internal: Vec<String> = rows.iter().map(|row| row[1].clone()).collect();
        assert!(internal.len() > 100, "a NAS reports many series: {}", internal.len());

        // The host page, opened without a range: the new host's data decides it.
        browser.goto(&format!("{base}/hosts/{agent_id}")).await?;
        browser.wait_for("#section-disks", Duration::from_secs(10)).await?;
        let active = browser.find("#ranges a.active").await?;
        assert_eq!(browser.text(&active).await?, "1h", "a minutes-old host opens on 1 h");
        let since = browser.find("#collecting-since").await?;
        let since = browser.text(&since).await?;
        assert!(since.starts_with("Collecting since "), "{since}");
        for _ in 0..60 {
            if browser.execute(CHARTS_SETTLED).await?.as_bool() == Some(true) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        assert_eq!(browser.execute(CHARTS_SETTLED).await?.as_bool(), Some(true), "charts settle");

        // No internal name in what people read.
        let text = browser.execute("return document.body.innerText;").await?;
        let text = text.as_str().unwrap_or_default().to_owned();
        for metric in &internal {
            assert!(!text.contains(metric.as_str()), "the host page shows {metric}");
        }
        for fragment in ["_bytes", "_ratio", "_seconds", "_celsius", "_total", "Latest values"] {
            assert!(!text.contains(fragment), "the host page shows {fragment}");
        }
        assert!(text.contains("Last scrub: 2024-10-20 ("), "the scrub's date:\n{text}");
        let scan_date = browser.find(".scan-date").await?;
        let scan_date = browser.text(&scan_date).await?;
        assert!(scan_date.starts_with("2024-10-20 (") && scan_date.ends_with(" days ago)"), "{scan_date}");
        assert!(text.contains("32.7 MiB/s"), "the md sync speed in MiB/s");

        // Axes wide enough for their labels, distinct ticks, whole ticks for counts; legends
        // short and distinct.
        let axes = browser.execute(AXES).await?;
        let axes = axes.as_array().cloned().unwrap_or_default();
        assert!(axes.len() >= 6, "charts drawn: {axes:?}");
        let metrics: Vec<&str> = axes.iter().filter_map(|a| a["metric"].as_str()).collect();
        for wanted in ["smart_temperature_celsius", "smart_attribute_raw", "md_sync_speed_bytes_per_second", "cpu_usage_ratio"] {
            assert!(metrics.contains(&wanted), "{wanted} drawn: {metrics:?}");
        }
        for axis in &axes {
            let needed = axis["needed"].as_f64().unwrap_or(f64::MAX);
            let size = axis["size"].as_f64().unwrap_or(0.0);
            assert!(needed <= size, "a clipped y axis: {axis}");
            let values: Vec<&str> = axis["values"].as_array().unwrap().iter().filter_map(|v| v.as_str()).collect();
            let distinct: std::collections::BTreeSet<&&str> = values.iter().collect();
            assert_eq!(distinct.len(), values.len(), "duplicate ticks: {axis}");
            if axis["unit"] == "count" {
                for split in axis["splits"].as_array().unwrap() {
                    let split = split.as_f64().unwrap_or(0.5);
                    assert_eq!(split.fract(), 0.0, "a fractional tick on a count: {axis}");
                }
                assert!(values.iter().all(|v| !v.contains('.')), "{axis}");
            }
            let legend: Vec<&str> = axis["legend"].as_array().unwrap().iter().filter_map(|v| v.as_str()).collect();
            let distinct: std::collections::BTreeSet<&&str> = legend.iter().collect();
            assert_eq!(distinct.len(), legend.len(), "legends share a name: {axis}");
            for label in &legend {
                assert!(label.len() <= 40, "a long legend: {label}");
            }
        }
        let temperatures = axes.iter().find(|a| a["metric"] == "smart_temperature_celsius").unwrap();
        let legend: Vec<&str> = temperatures["legend"].as_array().unwrap().iter().filter_map(|v| v.as_str()).collect();
        assert!(legend.contains(&"sda") && legend.contains(&"sdl"), "disks by device name: {legend:?}");

        // Severity colours: failing red, warning amber, passed/online green.
        let badges: Vec<(String, String)> = serde_json::from_value(browser.execute(BADGES).await?)?;
        let colour_of = |word: &str| -> Vec<&str> {
            badges.iter().filter(|(text, _)| text == word).map(|(_, colour)| colour.as_str()).collect()
        };
        let failing = colour_of("failing");
        assert!(!failing.is_empty(), "the failing disk has a badge: {badges:?}");
        assert!(failing.iter().all(|c| *c == "rgb(192, 57, 43)"), "failing is red: {failing:?}");
        assert!(colour_of("warning").iter().all(|c| *c == "rgb(224, 161, 0)"), "{badges:?}");
        let passed = colour_of("passed");
        assert!(!passed.is_empty() && passed.iter().all(|c| *c == "rgb(27, 122, 67)"), "{badges:?}");
        assert!(colour_of("online").iter().all(|c| *c == "rgb(27, 122, 67)"), "{badges:?}");

        // Twelve disks, a pool and an array fit in a page one scrolls, not a 12,768 px one.
        let height = browser.execute("return document.documentElement.scrollHeight;").await?;
        let height = height.as_i64().unwrap_or(i64::MAX);
        let sections = browser
            .execute("return [...document.querySelectorAll('h2')].map(h => h.textContent + ' @' + h.offsetTop);")
            .await?;
        assert!(height < 5000, "the host page is {height} px tall: {sections}");
        let screenshot = test_output_dir().join("dashboard-nas-host.png");
        browser.screenshot(&screenshot).await?;
        eprintln!("screenshot: {} ({height} px tall)", screenshot.display());

        // A wrong range is refused; a chosen one sticks.
        browser.goto(&format!("{base}/hosts/{agent_id}?range=7d")).await?;
        let active = browser.wait_for("#ranges a.active", Duration::from_secs(10)).await?;
        assert_eq!(browser.text(&active).await?, "7d");
        anyhow::Ok(())
    }
    .await;
    browser.finish(outcome, "dashboard-nas").await;
    agent.stop().await;
    controller.shutdown().await.unwrap();
}
