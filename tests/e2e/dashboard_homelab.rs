//! Issue 19: the seeded homelab (`unity_tests::homelab`: a 12-disk ZFS NAS with one failing
//! disk, a Proxmox-like host with 30 containers, a Pi, a VPS, an offline host) in headless
//! Chromium at 1366×900 and 390×844: the overview, every host page and the NAS's disk, pool
//! and array pages. Each is photographed (`target/test-output/screenshots/homelab-*`), has no
//! element sticking out at 390 px, no duplicate id, no serious axe-core violation, and no
//! metric's internal name in its text; the failing disk is red; the navigation is one line at
//! 1366 px and folds into a menu on the phone that opens from the keyboard. The overview names
//! each host (not after this machine) and its operating system once, in whole degrees, and the
//! offline host without figures or one-point "dots"; unreported sections share one line; a
//! CPU steady at 75 % gets a 0–100 % axis (uPlot's auto-range once drew it to 150 %).

use std::time::Duration;
use unity_tests::homelab::{Homelab, FAILING_DEVICE};
use unity_tests::page_checks::{
    axe_source, log_in, AXE_SCRIPT, DUPLICATE_IDS_SCRIPT, OVERFLOW_SCRIPT,
};
use unity_tests::webdriver::Browser;
use unity_tests::*;

/// The overview's cards as the page shows them: host name, its `.sub` line (agent id and
/// operating system), the status text, the temperatures, the drawn sparklines, the empty ones.
const CARDS: &str = "return [...document.querySelectorAll('article.host-card')].map(c => [\
      c.querySelector('h3').textContent.trim(),\
      (c.querySelector('p.sub') || {}).textContent || '',\
      (c.querySelector('p.quiet') || {}).textContent || '',\
      [...c.querySelectorAll('.card-status span')].map(s => s.textContent).filter(t => t.includes('°C')),\
      c.querySelectorAll('svg.spark path').length,\
      c.querySelectorAll('svg.spark.spark-empty').length]);";

/// The header's height, and how far apart the middles of its links and buttons are (one row:
/// about zero).
const HEADER: &str = "const h = document.querySelector('header');\
    const middles = [...h.querySelectorAll('a, button, .brand, .who')].filter(e => e.getClientRects().length)\
      .map(e => e.getBoundingClientRect()).map(r => r.top + r.height / 2);\
    return [h.getBoundingClientRect().height, Math.max(...middles) - Math.min(...middles)];";

/// Parts of internal metric names no page but "all metrics" may show.
const INTERNAL: [&str; 9] = [
    "smart_", "zfs_", "md_sync", "md_array", "_bytes", "_total", "_ratio", "_seconds", "_celsius",
];

/// The NAS host page's links to its disk, pool and array pages: (text, href).
const STORAGE_LINKS: &str = "return [...document.querySelectorAll('#disks a, a[href*=\"/pools/\"], a[href*=\"/arrays/\"]')]\
    .map(a => [a.textContent.trim(), a.getAttribute('href')]);";

const BADGES: &str = "return [...document.querySelectorAll('.badge')].map(b =>\
      [b.textContent.trim(), getComputedStyle(b).backgroundColor]);";

/// One card as [`CARDS`] reads it.
#[derive(Debug)]
struct Card {
    name: String,
    sub: String,
    quiet: String,
    temperatures: Vec<String>,
    lines: u64,
    empty: u64,
}

/// The overview at 1366 px: hosts named as a homelab names them, operating systems named once,
/// whole-degree temperatures, the offline host without figures or dots, a one-line header.
async fn overview_reads_well(browser: &mut Browser, lab: &Homelab) -> anyhow::Result<()> {
    type Read = (String, String, String, Vec<String>, u64, u64);
    let read: Vec<Read> = serde_json::from_value(browser.execute(CARDS).await?)?;
    let cards: Vec<Card> = read
        .into_iter()
        .map(|(name, sub, quiet, temperatures, lines, empty)| Card {
            name,
            sub,
            quiet,
            temperatures,
            lines,
            empty,
        })
        .collect();
    let mut names: Vec<&str> = cards.iter().map(|card| card.name.as_str()).collect();
    names.sort();
    assert_eq!(
        names,
        ["nas", "old-laptop", "pi", "proxmox", "vps"],
        "{cards:#?}"
    );
    assert!(lab.nas.as_str().starts_with("nas-"), "{}", lab.nas);
    let card = |name: &str| cards.iter().find(|card| card.name == name).unwrap();
    for (name, os) in [
        ("nas", "Debian GNU/Linux 12 (bookworm)"),
        ("proxmox", "Proxmox VE 8.1.4"),
        ("pi", "Raspbian GNU/Linux 11 (bullseye)"),
        ("vps", "Ubuntu 22.04.3 LTS (Jammy Jellyfish)"),
        ("old-laptop", "Fedora Linux 39"),
    ] {
        assert!(
            card(name).sub.ends_with(&format!(" · {os}")),
            "{name}: {:?}",
            card(name).sub
        );
    }
    for card in cards.iter().filter(|card| card.name != "old-laptop") {
        assert_eq!(card.temperatures.len(), 1, "{card:?}");
        let degrees = card.temperatures[0].strip_suffix(" °C").unwrap_or_default();
        assert!(degrees.parse::<i64>().is_ok(), "whole degrees: {card:?}");
        assert!(card.lines >= 3 && card.empty == 0, "{card:?}");
        assert_eq!(card.quiet, "", "{card:?}");
    }
    let offline = card("old-laptop");
    assert_eq!(
        (offline.lines, offline.empty),
        (0, 4),
        "no dots: {offline:?}"
    );
    assert!(offline.quiet.starts_with("Offline since "), "{offline:?}");
    assert!(offline.temperatures.is_empty(), "{offline:?}");
    let header = browser.execute(HEADER).await?;
    let (height, spread) = (header[0].as_f64(), header[1].as_f64());
    assert!(
        height.is_some_and(|h| h <= 56.0) && spread.is_some_and(|s| s <= 4.0),
        "the header is one line at 1366 px (height, spread of its items): {header}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_19_the_homelab_reads_well_on_a_laptop_and_a_phone() {
    init_logging();
    let dir = tempfile::tempdir().unwrap();
    let mut config = controller_config(&dir.path().join("controller"));
    // Alerts evaluated often, so the pages show the failing disk's and the offline host's
    // alerts as a real controller would after its first minute.
    config.alerts.interval = Duration::from_millis(500);
    let controller = start_controller(config).await;
    let lab = Homelab::seed(&controller, dir.path()).await;
    let password = add_user(&controller, "ada", "admin").await;
    eventually("the homelab's history", Duration::from_secs(60), || async {
        let alerts = controller.context.store.alerts.open_alerts().unwrap();
        let failing_disk_alert = alerts.iter().any(|alert| alert.key.ends_with("/smart"));
        let temperatures = query(&controller, &lab.nas, "smart_temperature_celsius").await;
        let reallocated = query(&controller, &lab.nas, "smart_attribute_raw").await;
        let pve = query(&controller, &lab.proxmox, "cpu_usage_ratio").await;
        let enough = |series: &[unity_controller::admin::SeriesView]| {
            !series.is_empty() && series.iter().map(|s| s.points.len()).min().unwrap_or(0) >= 2
        };
        (temperatures.len() >= 10
            && enough(&temperatures)
            && enough(&reallocated)
            && enough(&pve)
            && failing_disk_alert)
            .then_some(())
    })
    .await;
    // Every seeded disk is under a third full: no fullness alert (a missing figure read as
    // zero once made every host "100% full").
    let full: Vec<String> = controller
        .context
        .store
        .alerts
        .open_alerts()
        .unwrap()
        .into_iter()
        .map(|alert| alert.key)
        .filter(|key| key.starts_with("filesystem/"))
        .collect();
    assert!(full.is_empty(), "{full:?}");

    let base = format!("http://{}", controller.api_addr);
    let screenshots = test_output_dir().join("screenshots");
    std::fs::create_dir_all(&screenshots).unwrap();
    eprintln!("screenshots: {}", screenshots.display());
    let axe = axe_source();
    let mut browser = Browser::start()
        .await
        .expect("headless Chromium and chromedriver start");
    let outcome = async {
        log_in(&mut browser, &base, "ada", &password).await?;
        browser.goto(&format!("{base}/hosts/{}", lab.nas)).await?;
        browser.wait_for("#disks", Duration::from_secs(10)).await?;
        let links: Vec<(String, String)> =
            serde_json::from_value(browser.execute(STORAGE_LINKS).await?)?;
        let href = |wanted: &dyn Fn(&(String, String)) -> bool| {
            links.iter().find(|link| wanted(link)).map(|(_, href)| href.clone())
        };
        let failing = href(&|(text, _)| text == FAILING_DEVICE).expect("the failing disk's link");
        let healthy = href(&|(text, _)| text == "/dev/sda").expect("a healthy disk's link");
        let pool = href(&|(_, href)| href.contains("/pools/")).expect("the pool's link");
        let array = href(&|(_, href)| href.contains("/arrays/")).expect("the array's link");
        let pages: Vec<(String, String)> = vec![
            ("overview".into(), "/".into()),
            ("nas".into(), format!("/hosts/{}", lab.nas)),
            ("pve".into(), format!("/hosts/{}", lab.proxmox)),
            ("pi".into(), format!("/hosts/{}", lab.pi)),
            ("vps".into(), format!("/hosts/{}", lab.vps)),
            ("offline".into(), format!("/hosts/{}", lab.offline)),
            ("disk-failing".into(), failing.clone()),
            ("disk-healthy".into(), healthy),
            ("pool".into(), pool),
            ("array".into(), array),
        ];
        let mut problems = Vec::new();
        for (width, height, mobile) in [(1366, 900, false), (390, 844, true)] {
            browser.set_viewport(width, height, mobile).await?;
            for (name, path) in &pages {
                browser.goto(&format!("{base}{path}")).await?;
                browser.wait_for("main h1", Duration::from_secs(10)).await?;
                let shot = screenshots.join(format!("homelab-{name}-{width}x{height}.png"));
                browser.screenshot(&shot).await?;
                let text = browser.execute("return document.querySelector('main').innerText;").await?;
                let text = text.as_str().unwrap_or_default().to_owned();
                for fragment in INTERNAL {
                    if text.contains(fragment) {
                        problems.push(format!("{name} shows the internal name part {fragment}"));
                    }
                }
                let duplicates = browser.execute(DUPLICATE_IDS_SCRIPT).await?;
                if duplicates.as_array().is_some_and(|list| !list.is_empty()) {
                    problems.push(format!("{name} at {width}: duplicate ids {duplicates}"));
                }
                if width == 1366 {
                    browser.execute(&format!("{axe}\n;return true;")).await?;
                    let violations = browser.execute_async(AXE_SCRIPT).await?;
                    if violations.as_array().is_none_or(|list| !list.is_empty()) {
                        problems.push(format!("{name}: accessibility {violations:#}"));
                    }
                } else {
                    let overflowing = browser.execute(OVERFLOW_SCRIPT).await?;
                    if overflowing.as_array().is_some_and(|list| !list.is_empty()) {
                        problems.push(format!("{name} at 390: {overflowing:#}"));
                    }
                }
            }
        }
        assert!(problems.is_empty(), "{}", problems.join("\n"));

        // The failing disk: red, its risk in words, attributes with trends, its stack.
        browser.set_viewport(1366, 900, false).await?;
        browser.goto(&format!("{base}{failing}")).await?;
        browser.wait_for("#risk", Duration::from_secs(10)).await?;
        let badges: Vec<(String, String)> = serde_json::from_value(browser.execute(BADGES).await?)?;
        let failing_badges: Vec<&str> = badges.iter().filter(|(t, _)| t == "failing").map(|(_, c)| c.as_str()).collect();
        assert!(!failing_badges.is_empty(), "{badges:?}");
        assert!(failing_badges.iter().all(|c| *c == "rgb(192, 57, 43)"), "failing is red: {badges:?}");
        let text = browser.execute("return document.querySelector('main').innerText;").await?;
        let text = text.as_str().unwrap_or_default();
        for wanted in ["Risk", "Reallocated sectors", "304", "Self-test log", "Temperature", "In the storage stack"] {
            assert!(text.contains(wanted), "{wanted} on the failing disk's page:\n{text}");
        }
        let lines = browser.execute("return document.querySelectorAll('#smart-attributes svg.spark path').length;").await?;
        assert!(lines.as_u64().unwrap_or(0) >= 3, "attribute trends drawn: {lines}");

        // The overview names the offline host as offline, in red.
        browser.goto(&format!("{base}/")).await?;
        browser.wait_for("main h1", Duration::from_secs(10)).await?;
        let badges: Vec<(String, String)> = serde_json::from_value(browser.execute(BADGES).await?)?;
        assert!(
            badges.iter().any(|(t, c)| t == "offline" && c == "rgb(192, 57, 43)"),
            "{badges:?}"
        );
        overview_reads_well(&mut browser, &lab).await?;

        // Sections a host does not report share one line (a container host, a Pi).
        for (host, line) in [
            (&lab.proxmox, "No disks, pools, arrays, databases or plugins reported yet."),
            (&lab.pi, "No disks, pools, arrays, databases, containers or plugins reported yet."),
        ] {
            browser.goto(&format!("{base}/hosts/{host}")).await?;
            let shown = browser.wait_for("#not-reported", Duration::from_secs(10)).await?;
            assert_eq!(browser.text(&shown).await?, line);
            let headings = browser
                .execute("return [...document.querySelectorAll('main h2')].map(h => h.id);")
                .await?;
            assert!(
                headings.as_array().is_some_and(|ids| !ids.iter().any(|id| id == "section-disks")),
                "{host}: {headings}"
            );
        }

        // A CPU steady at 75 %: its axis is 0 to 100 %, not uPlot's padded 0 to 150 %.
        browser.goto(&format!("{base}/hosts/{}?range=1h", lab.vps)).await?;
        browser
            .wait_for(".chart[data-metric=cpu_usage_ratio][data-state=drawn] canvas", Duration::from_secs(15))
            .await?;
        let axis = browser
            .execute("const p = window.unityCharts.find(p => p.unityMetric === 'cpu_usage_ratio');\
                      return [p.scales.y.min, p.scales.y.max, p.axes[1]._values.slice(-1)[0], \
                              Math.max(...p.data[1].filter(v => v != null))];")
            .await?;
        assert_eq!(axis, serde_json::json!([0, 1, "100 %", 0.75]), "the CPU axis");
        browser.execute("document.getElementById('section-history').scrollIntoView(); return true;").await?;
        browser.screenshot(&screenshots.join("homelab-vps-charts-1366x900.png")).await?;

        // The phone's menu: folded, opened from the keyboard, links reachable.
        browser.set_viewport(390, 844, true).await?;
        browser.goto(&format!("{base}/")).await?;
        browser.wait_for("#menu", Duration::from_secs(10)).await?;
        let folded = browser.execute("return [document.getElementById('menu').open, getComputedStyle(document.querySelector('#menu > summary')).display];").await?;
        assert_eq!(folded, serde_json::json!([false, "inline-block"]), "folded on a phone");
        let opened = browser
            .execute("const s = document.querySelector('#menu > summary'); s.focus(); s.click(); \
                      const a = document.querySelector('#menu a[href=\"/alerts\"]'); \
                      return [document.activeElement === s, document.getElementById('menu').open, a.getBoundingClientRect().width > 0];")
            .await?;
        assert_eq!(opened, serde_json::json!([true, true, true]), "the menu opens");
        browser.set_viewport(1366, 900, false).await?;
        browser.goto(&format!("{base}/")).await?;
        browser.wait_for("#menu", Duration::from_secs(10)).await?;
        let laptop = browser.execute("return [document.getElementById('menu').open, getComputedStyle(document.querySelector('#menu > summary')).display];").await?;
        assert_eq!(laptop, serde_json::json!([true, "none"]), "open on a laptop, no button");
        anyhow::Ok(())
    }
    .await;
    browser.finish(outcome, "homelab").await;
    lab.stop().await;
    controller.shutdown().await.unwrap();
}
