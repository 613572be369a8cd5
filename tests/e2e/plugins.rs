//! Issue 22, end to end: a real node_exporter (Debian's `prometheus-node-exporter`) on a
//! loopback port, scraped by the agent; its textfile directory shared with the agent (a backup
//! job's `.prom` file, read by both); a check script for each exit code, a hung one and one
//! that forks forever, run as `nobody`. Everything arrives at the controller and shows in the
//! query API, `/metrics`, the plugins API, the host page and the alerts (the checks' own and an
//! operator's `[[alerts.rule]]` over the textfile's series).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;
use unity_agent::collect::plugins::exporters;
use unity_controller::alerts::config::{SeriesRule, Threshold};
use unity_controller::storage::alerts::Severity;
use unity_tests::http::HttpClient;
use unity_tests::webdriver::Browser;
use unity_tests::*;

use crate::api::{controller_with_admin_config, METRICS_TOKEN};

pub(crate) const NODE_EXPORTER: &str = "/usr/bin/prometheus-node-exporter";

/// A child process killed (and reaped) when dropped.
pub(crate) struct Child(pub std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts node_exporter on `port` with `textfile_dir` as its textfile directory.
pub(crate) fn node_exporter(port: u16, textfile_dir: &Path) -> Child {
    assert!(
        Path::new(NODE_EXPORTER).exists(),
        "{NODE_EXPORTER} missing: apt-get install prometheus-node-exporter (scripts/test does)"
    );
    #[allow(clippy::disallowed_methods)]
    let child = std::process::Command::new(NODE_EXPORTER)
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg(format!(
            "--collector.textfile.directory={}",
            textfile_dir.display()
        ))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("node_exporter starts");
    Child(child)
}

/// A directory anyone may enter and read (checks run as `nobody`).
pub(crate) fn open_dir(path: &Path) -> PathBuf {
    std::fs::create_dir_all(path).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path.to_owned()
}

pub(crate) fn check_script(dir: &Path, name: &str, body: &str) {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Writes a textfile the way cron jobs should: a temporary name, then a rename.
pub(crate) fn write_textfile(dir: &Path, name: &str, text: &str) {
    let temporary = dir.join(format!("{name}.{}.tmp", std::process::id()));
    std::fs::write(&temporary, text).unwrap();
    std::fs::set_permissions(&temporary, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::rename(&temporary, dir.join(name)).unwrap();
}

/// Logs in with headless Chromium, opens the host page at its Plugins section and saves
/// `target/test-output/plugins-host.png`.
async fn plugins_in_a_browser(
    controller: &unity_controller::service::RunningController,
    agent_id: &unity_shared::proto::AgentId,
    password: &str,
) {
    let base = format!("http://{}", controller.api_addr);
    let mut browser = Browser::start()
        .await
        .expect("headless Chromium and chromedriver start");
    let outcome = async {
        browser.goto(&format!("{base}/login")).await?;
        let username = browser
            .wait_for("#username", Duration::from_secs(10))
            .await?;
        browser.type_into(&username, "ada").await?;
        let password_field = browser.find("#password").await?;
        browser.type_into(&password_field, password).await?;
        let login = browser.find("#login").await?;
        browser.click(&login).await?;
        browser.wait_for("#hosts", Duration::from_secs(10)).await?;
        browser.goto(&format!("{base}/hosts/{agent_id}")).await?;
        let checks = browser
            .wait_for("table#checks", Duration::from_secs(10))
            .await?;
        let text = browser.text(&checks).await?;
        assert!(text.contains("CRITICAL - md0 degraded"), "{text}");
        let sources = browser.find("table#plugin-sources").await?;
        let text = browser.text(&sources).await?;
        assert!(text.contains("exporter/node"), "{text}");
        browser
            .execute(
                "document.querySelector('details.plugin-series').open = true;\
                 document.getElementById('section-plugins').scrollIntoView();",
            )
            .await?;
        let screenshot = test_output_dir().join("plugins-host.png");
        browser.screenshot(&screenshot).await?;
        eprintln!("screenshot: {}", screenshot.display());
        anyhow::Ok(())
    }
    .await;
    browser.finish(outcome, "plugins").await;
}

/// Processes whose command line contains `marker` and that started over `age` ago.
fn processes_with(marker: &str, age: Duration) -> Vec<String> {
    let uptime: f64 = std::fs::read_to_string("/proc/uptime")
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    // Clock ticks per second: 100 on Linux (USER_HZ).
    let ticks_per_second = 100.0;
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // Field 22, counted after the parenthesised command name.
        let started_ticks: f64 = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(19))
            .and_then(|field| field.parse().ok())
            .unwrap_or(f64::MAX);
        let running_for = uptime - started_ticks / ticks_per_second;
        if cmdline.contains(marker) && running_for > age.as_secs_f64() {
            found.push(format!(
                "{}: {cmdline}",
                entry.file_name().to_string_lossy()
            ));
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_22_node_exporter_textfiles_and_checks_reach_every_face() {
    let dir = tempfile::tempdir().unwrap();
    open_dir(dir.path());
    let mut config = controller_config(&dir.path().join("controller"));
    config.alerts.interval = Duration::from_millis(300);
    config.alerts.resolve_after = Duration::from_secs(1);
    config.alerts.series_rules = vec![SeriesRule {
        name: "backup_stale".into(),
        metric: "backup_last_success_timestamp_seconds".into(),
        labels: vec![("source".into(), "textfile/backup.prom".into())],
        threshold: Threshold::OlderThan(Duration::from_secs(26 * 3600)),
        severity: Severity::Critical,
        summary: None,
        for_duration: Duration::ZERO,
        groups: vec![],
        hosts: vec![],
    }];
    let (controller, password) = controller_with_admin_config(config).await;

    // The textfile directory node_exporter and the agent share, with a backup job's file
    // (two days old: the rule must fire), an escaped label value, and a half-written file.
    let textfiles = open_dir(&dir.path().join("textfile"));
    let two_days_ago = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        - 2 * 86_400;
    write_textfile(
        &textfiles,
        "backup.prom",
        &format!(
            "# HELP backup_last_success_timestamp_seconds When the backup last succeeded.\n\
             # TYPE backup_last_success_timestamp_seconds gauge\n\
             backup_last_success_timestamp_seconds{{job=\"nightly\",path=\"C:\\\\backup \\\"main\\\"\"}} {two_days_ago}\n"
        ),
    );
    std::fs::write(textfiles.join("half.prom.tmp"), "half_written_total 1\n").unwrap();
    let port = free_port();
    let _node_exporter = node_exporter(port, &textfiles);

    // One check per exit code, a hung one and one that forks forever.
    let checks = open_dir(&dir.path().join("checks.d"));
    check_script(
        &checks,
        "disk_ok",
        "echo 'OK - 42% used'\necho 'disk_used_ratio{mount=\"/srv\"} 0.42'\nexit 0\n",
    );
    check_script(
        &checks,
        "queue_warn",
        "echo 'WARNING - 12 jobs queued'\nexit 1\n",
    );
    check_script(
        &checks,
        "raid_crit",
        "echo 'CRITICAL - md0 degraded'\nexit 2\n",
    );
    check_script(
        &checks,
        "ups_unknown",
        "echo 'UNKNOWN - no UPS answer'\nexit 3\n",
    );
    check_script(&checks, "hung", "echo 'starting'\nexec sleep 600\n");
    // Each fork is a subshell: a copy of the script, named by its path.
    check_script(
        &checks,
        "fork_forever",
        "while :; do { sleep 600; true; } & done\n",
    );
    let marker = checks.join("fork_forever").display().to_string();

    let agent_dir = dir.path().join("agent");
    let agent_id = enroll_agent(&controller, &agent_dir).await;
    let mut agent_config =
        unity_tests::agent_config(&agent_dir, controller.local_addr, Duration::from_secs(1));
    agent_config.plugins.enabled = true;
    agent_config.plugins.interval = Duration::from_millis(500);
    agent_config.plugins.textfile_dirs = vec![textfiles.clone()];
    agent_config.plugins.exporters = vec![exporters::configured(
        &format!("http://127.0.0.1:{port}/metrics"),
        Some("node"),
        None,
    )
    .unwrap()];
    agent_config.plugins.checks_dir = checks.clone();
    agent_config.plugins.checks_interval = Duration::from_secs(2);
    agent_config.plugins.checks_timeout = Duration::from_secs(1);
    agent_config.plugins.max_concurrent_checks = 6;
    assert_eq!(agent_config.plugins.check_user.as_deref(), Some("nobody"));
    let agent = unity_agent::runtime::start(agent_config)
        .await
        .expect("agent starts");
    let mut admin = logged_in_client(&controller, "ada", &password).await;

    // Query API: node_exporter's own series and the shared textfile, read by both.
    let query = |metric: &'static str| {
        let mut admin = admin.clone();
        let path = format!("/api/v1/hosts/{agent_id}/query?metric={metric}&range=1h");
        async move {
            let response = admin.get(&path).await;
            assert_eq!(response.status, 200, "{}", response.text());
            response.json()["series"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        }
    };
    let load = eventually(
        "node_load1 from node_exporter",
        Duration::from_secs(30),
        || async {
            let series = query("node_load1").await;
            (!series.is_empty()).then_some(series)
        },
    )
    .await;
    assert_eq!(load[0]["labels"]["source"], "exporter/node", "{load:?}");
    let backups = eventually_explained(
        "the backup textfile, read by the agent and by node_exporter",
        Duration::from_secs(30),
        || async {
            let series = query("backup_last_success_timestamp_seconds").await;
            let mut sources: Vec<String> = series
                .iter()
                .map(|s| s["labels"]["source"].as_str().unwrap_or("").to_owned())
                .collect();
            sources.sort();
            if sources == ["exporter/node", "textfile/backup.prom"] {
                Ok(series)
            } else {
                Err(format!("{sources:?}"))
            }
        },
    )
    .await;
    for series in &backups {
        assert_eq!(series["labels"]["path"], "C:\\backup \"main\"", "{series}");
        assert_eq!(series["labels"]["job"], "nightly");
        let value = series["points"][0][1].as_f64().unwrap();
        assert_eq!(value, two_days_ago as f64);
    }
    assert!(
        query("half_written_total").await.is_empty(),
        "*.tmp is never read"
    );
    let disk = eventually("a check's series", Duration::from_secs(30), || async {
        let series = query("disk_used_ratio").await;
        (!series.is_empty()).then_some(series)
    })
    .await;
    assert_eq!(disk[0]["labels"]["source"], "check/disk_ok", "{disk:?}");
    assert_eq!(disk[0]["labels"]["mount"], "/srv");

    // The plugins API: each check's status, the hung and forking ones killed at the timeout.
    let plugins = eventually_explained("six check results", Duration::from_secs(30), || {
        let mut admin = admin.clone();
        let path = format!("/api/v1/hosts/{agent_id}/plugins");
        async move {
            let json = admin.get(&path).await.json();
            let n = json["checks"]["state"].as_array().map_or(0, Vec::len);
            if n == 6 {
                Ok(json)
            } else {
                Err(format!("{n} checks: {json}"))
            }
        }
    })
    .await;
    let checks_json = plugins["checks"]["state"].as_array().unwrap();
    let status = |name: &str| {
        checks_json
            .iter()
            .find(|check| check["name"] == name)
            .unwrap_or_else(|| panic!("no check {name}: {checks_json:?}"))
            .clone()
    };
    assert_eq!(status("disk_ok")["status"], "ok");
    assert_eq!(status("disk_ok")["message"], "OK - 42% used");
    assert_eq!(status("queue_warn")["status"], "warning");
    assert_eq!(status("queue_warn")["exit_code"], 1);
    assert_eq!(status("raid_crit")["status"], "critical");
    assert_eq!(status("ups_unknown")["status"], "unknown");
    assert_eq!(status("ups_unknown")["exit_code"], 3);
    for name in ["hung", "fork_forever"] {
        let check = status(name);
        assert_eq!(check["status"], "unknown", "{check}");
        assert!(check["exit_code"].is_null(), "{check}");
        assert!(
            check["error"]
                .as_str()
                .unwrap_or("")
                .contains("process group was killed"),
            "{check}"
        );
        assert!(check["duration_ms"].as_u64().unwrap() < 5_000, "{check}");
    }
    // The forks die with their process group: none outlives the timeout (1 s) by much, though
    // the check starts again every 2 s.
    // First see that the marker finds it while it runs (so the next check can fail).
    let running = eventually("fork_forever running", Duration::from_secs(10), || async {
        let running = processes_with(&marker, Duration::ZERO);
        (running.len() > 1).then_some(running.len())
    })
    .await;
    eprintln!("fork_forever seen running with {running} copies of itself");
    let left = processes_with(&marker, Duration::from_secs(3));
    assert!(left.is_empty(), "forks left running: {left:?}");
    let sources = plugins["sources"]["state"].as_array().unwrap();
    let node = sources
        .iter()
        .find(|s| s["source"] == "exporter/node")
        .unwrap();
    assert!(node["failure"].is_null(), "{node}");
    assert!(node["n_series"].as_u64().unwrap() > 100, "{node}");

    // Alerts: each check that is not ok, and the operator's rule over the textfile's series.
    let open = eventually_explained("the plugin alerts", Duration::from_secs(30), || {
        let mut admin = admin.clone();
        async move {
            let alerts = admin.get("/api/v1/alerts").await.json();
            let keys: Vec<String> = alerts
                .as_array()
                .unwrap()
                .iter()
                .map(|alert| alert["key"].as_str().unwrap().to_owned())
                .collect();
            if keys.len() >= 6 {
                Ok(alerts)
            } else {
                Err(format!("{keys:?}"))
            }
        }
    })
    .await;
    let severity = |key: String| {
        open.as_array()
            .unwrap()
            .iter()
            .find(|alert| alert["key"] == key.as_str())
            .map(|alert| alert["severity"].as_str().unwrap().to_owned())
    };
    assert_eq!(
        severity(format!("check/{agent_id}/queue_warn")).as_deref(),
        Some("warning")
    );
    assert_eq!(
        severity(format!("check/{agent_id}/raid_crit")).as_deref(),
        Some("critical")
    );
    assert_eq!(
        severity(format!("check/{agent_id}/ups_unknown")).as_deref(),
        Some("warning")
    );
    assert_eq!(
        severity(format!("check/{agent_id}/hung")).as_deref(),
        Some("warning")
    );
    assert_eq!(
        severity(format!("check/{agent_id}/disk_ok")),
        None,
        "{open}"
    );
    let rule_key = format!(
        "rule/{agent_id}/backup_stale/job=nightly,path=C:\\backup \"main\",source=textfile/backup.prom"
    );
    assert_eq!(severity(rule_key).as_deref(), Some("critical"), "{open}");
    assert!(
        open.as_array()
            .unwrap()
            .iter()
            .all(|alert| !alert["key"].as_str().unwrap().contains("exporter/node")),
        "the rule names the textfile source only: {open}"
    );

    // /metrics federates plugin series under their own names, with their source.
    let mut scraper = HttpClient::new(controller.api_addr);
    scraper.bearer = Some(METRICS_TOKEN.into());
    let text = scraper.get("/metrics").await.text();
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_owned())))
        .expect("valid Prometheus text");
    let federated = scrape
        .samples
        .iter()
        .find(|s| s.metric == "node_load1")
        .expect("node_load1 in /metrics");
    assert_eq!(federated.labels.get("source"), Some("exporter/node"));
    assert_eq!(federated.labels.get("agent_id"), Some(agent_id.as_str()));
    assert!(scrape
        .samples
        .iter()
        .any(|s| s.metric == "backup_last_success_timestamp_seconds"
            && s.labels.get("source") == Some("textfile/backup.prom")));

    // The host page: check rows and the series grouped by source.
    let page = admin.get(&format!("/hosts/{agent_id}")).await;
    assert_eq!(page.status, 200);
    let html = page.text();
    for text in [
        "id=\"checks\"",
        "CRITICAL - md0 degraded",
        "WARNING - 12 jobs queued",
        "exporter/node",
        "textfile/backup.prom",
        "check/disk_ok",
        "node_load1",
    ] {
        assert!(html.contains(text), "host page lacks {text:?}");
    }

    // The same in a browser: the Plugins section renders, with a screenshot for people.
    plugins_in_a_browser(&controller, &agent_id, &password).await;

    // A check fixed: its alert resolves through the normal lifecycle.
    check_script(&checks, "raid_crit", "echo 'OK - md0 clean'\nexit 0\n");
    let resolved_key = format!("check/{agent_id}/raid_crit");
    eventually("raid_crit resolved", Duration::from_secs(30), || {
        let mut admin = admin.clone();
        let key = resolved_key.clone();
        async move {
            let alerts = admin.get("/api/v1/alerts?state=resolved").await.json();
            alerts
                .as_array()?
                .iter()
                .any(|alert| alert["key"] == key.as_str())
                .then_some(())
        }
    })
    .await;
    agent.stop().await;
    controller.shutdown().await.unwrap();
}

/// `unity-agent collect plugins`: one round as the daemon runs it, printed, with the worst
/// check's exit code.
#[test]
fn issue_22_collect_plugins_prints_one_round_with_the_worst_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    open_dir(dir.path());
    let textfiles = open_dir(&dir.path().join("textfile"));
    write_textfile(
        &textfiles,
        "backup.prom",
        "backup_ok{job=\"a \\\"b\\\"\"} 1\nnot a line\n",
    );
    let checks = open_dir(&dir.path().join("checks.d"));
    check_script(&checks, "fine", "echo 'OK - fine'\n");
    check_script(&checks, "broken", "echo 'CRITICAL - broken'\nexit 2\n");
    let config = dir.path().join("agent.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = \"{}\"\n[plugins]\ntextfile_dirs = [\"{}\"]\nchecks_dir = \"{}\"\n",
            dir.path().join("data").display(),
            textfiles.display(),
            checks.display()
        ),
    )
    .unwrap();
    let run = |args: &[&str]| {
        #[allow(clippy::disallowed_methods)]
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_unity-e2e-agent"))
            .arg("--config")
            .arg(&config)
            .args(args)
            .output()
            .unwrap();
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
        )
    };
    let (code, stdout) = run(&["collect", "plugins", "--json"]);
    assert_eq!(code, Some(2), "the worst check is critical: {stdout}");
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let statuses: Vec<(&str, &str)> = json["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["name"].as_str().unwrap(), c["status"].as_str().unwrap()))
        .collect();
    assert_eq!(statuses, [("broken", "critical"), ("fine", "ok")]);
    let source = &json["sources"][0];
    assert_eq!(source["source"], "textfile/backup.prom");
    assert_eq!(source["n_series"], 1);
    assert!(
        source["errors"][0]
            .as_str()
            .unwrap()
            .ends_with("backup.prom:2: invalid value \"a\""),
        "{source}"
    );
    let backup = json["series"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["metric"] == "backup_ok")
        .unwrap();
    assert_eq!(backup["labels"]["job"], "a \"b\"");
    assert_eq!(backup["labels"]["source"], "textfile/backup.prom");

    let (code, text) = run(&["collect", "plugins"]);
    assert_eq!(code, Some(2));
    assert!(text.contains("CRITICAL - broken"), "{text}");
    assert!(
        text.contains("backup_ok{job=\"a \\\"b\\\"\",source=\"textfile/backup.prom\"} 1"),
        "{text}"
    );
}
