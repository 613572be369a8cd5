//! Issue 18 through the real command line (`unity-controller alerts ...`, run as a process):
//! with the daemon stopped a silence is made on the database; with it running, a rule of the
//! config file raises an alert on a real agent's series that reaches a webhook (a real HTTP
//! peer on loopback), `alerts list` shows it, `alerts ack` acknowledges it with a note the API
//! then shows (by `cli`, audited), `alerts silence --host` mutes the host so a new alert there
//! (a rule made through the API afterwards) is recorded as silenced but never sent, and the
//! config file's `[[alerts.silence]]` is listed as from configuration and cannot be removed.

use crate::alerts::{hook_events, webhook_receiver};
use crate::household_cli::cli;
use serde_json::Value;
use std::path::Path;
use std::time::Duration;
use unity_tests::*;

const BINARY: &str = env!("CARGO_BIN_EXE_unity-e2e-controller");

/// Runs `unity-controller --data-dir DATA_DIR ARGS...` expecting a failure; returns stderr.
fn cli_fails(data_dir: &Path, args: &[&str]) -> String {
    #[allow(clippy::disallowed_methods)]
    let output = std::process::Command::new(BINARY)
        .args(["--config", "/dev/null", "--data-dir"])
        .arg(data_dir)
        .args(args)
        .env("UNITY_LOG", "warn")
        .output()
        .expect("the controller binary runs");
    assert!(
        !output.status.success(),
        "{args:?} succeeded: {}",
        String::from_utf8_lossy(&output.stdout)
    );
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// [`cli`] off the async runtime (the daemon answers on it).
async fn run(data_dir: &Path, args: &[&str]) -> String {
    let data_dir = data_dir.to_owned();
    let args: Vec<String> = args.iter().map(|arg| (*arg).to_owned()).collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        cli(&data_dir, &args)
    })
    .await
    .unwrap()
}

async fn run_fails(data_dir: &Path, args: &[&str]) -> String {
    let data_dir = data_dir.to_owned();
    let args: Vec<String> = args.iter().map(|arg| (*arg).to_owned()).collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        cli_fails(&data_dir, &args)
    })
    .await
    .unwrap()
}

async fn api_alert(client: &mut http::HttpClient, key_prefix: &str) -> Option<Value> {
    let response = client.get("/api/v1/alerts?state=open").await;
    assert_eq!(response.status, 200, "{}", response.text());
    response
        .json()
        .as_array()
        .unwrap()
        .iter()
        .find(|alert| alert["key"].as_str().unwrap_or("").starts_with(key_prefix))
        .cloned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_18_cli_lists_acks_and_silences_alerts_through_the_daemon() {
    init_logging();
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("controller");
    std::fs::create_dir_all(&data_dir).unwrap();
    let (hook_addr, received) = webhook_receiver().await;

    // The [alerts] section as an operator writes it: a rule that always holds on a live
    // host, a silence kept in the file, the webhook.
    let text = format!(
        "[alerts]\ninterval = \"200ms\"\n\
         [[alerts.rule]]\nname = \"memory_in_use\"\nmetric = \"memory_used_bytes\"\nabove = 0\n\
         [[alerts.silence]]\nrule = \"certificate\"\nreason = \"no public certificates in this lab\"\n\
         [[alerts.webhook]]\nurl = \"http://{hook_addr}/hook?token=t\"\n"
    );
    let raw: unity_controller::config::RawConfig = toml::from_str(&text).unwrap();
    let parsed = unity_controller::config::Config::from_raw(raw).unwrap();
    let mut config = controller_config(&data_dir);
    config.alerts = parsed.alerts;

    // The daemon is stopped: the CLI works on the database.
    let offline = cli(
        &data_dir,
        &[
            "alerts",
            "silence",
            "--label",
            "role=attic",
            "--for",
            "1h",
            "--reason",
            "made offline",
        ],
    );
    assert!(offline.starts_with("Silence "), "{offline}");
    let error = cli_fails(
        &data_dir,
        &[
            "alerts", "silence", "--host", "nas01", "--for", "soon", "--reason", "r",
        ],
    );
    assert!(error.contains("bad duration \"soon\""), "{error}");

    let controller = start_controller(config).await;
    let password = add_user(&controller, "boss", "admin").await;
    let mut client = logged_in_client(&controller, "boss", &password).await;
    let (agent_id, agent) = enrolled_agent(
        &controller,
        &dir.path().join("agent"),
        Duration::from_millis(250),
    )
    .await;

    // The rule's alert opens and is sent.
    let prefix = format!("rule/{agent_id}/memory_in_use/");
    let alert = eventually("the rule's alert", Duration::from_secs(30), || {
        let mut client = client.clone();
        let prefix = prefix.clone();
        async move { api_alert(&mut client, &prefix).await }
    })
    .await;
    let key = alert["key"].as_str().unwrap().to_owned();
    eventually("the alert at the webhook", Duration::from_secs(10), || {
        let found = hook_events(&received).contains(&("opened".into(), key.clone()));
        async move { found.then_some(()) }
    })
    .await;

    // Listed by the CLI, with a filter by rule and by host, and as JSON.
    let listed = run(&data_dir, &["alerts", "list"]).await;
    assert!(
        listed.contains(&key) && listed.contains("warning") && listed.contains("open"),
        "{listed}"
    );
    let by_rule: Value = serde_json::from_str(
        &run(
            &data_dir,
            &[
                "alerts",
                "list",
                "--rule",
                "memory_in_use",
                "--host",
                agent_id.as_str(),
                "--json",
            ],
        )
        .await,
    )
    .unwrap();
    assert_eq!(by_rule.as_array().map(Vec::len), Some(1), "{by_rule}");
    assert_eq!(by_rule[0]["key"], key.as_str());
    let none = run(&data_dir, &["alerts", "list", "--rule", "disk"]).await;
    assert!(none.contains("No alerts."), "{none}");

    // Acknowledged from the CLI: the API shows the note, by cli; the audit log has it.
    let note = "known: the lab's memory is always in use";
    let acked = run(&data_dir, &["alerts", "ack", &key, "--note", note]).await;
    assert!(
        acked.contains("Acknowledged") && acked.contains(note),
        "{acked}"
    );
    let shown = api_alert(&mut client, &prefix).await.unwrap();
    assert_eq!(shown["state"], "acknowledged", "{shown}");
    assert_eq!(shown["acknowledged"]["note"], note, "{shown}");
    assert_eq!(shown["acknowledged"]["by"], "cli", "{shown}");
    let audit = client.get("/api/v1/audit").await.json();
    assert!(
        audit
            .as_array()
            .unwrap()
            .iter()
            .any(|entry| entry["actor"] == "cli"
                && entry["action"] == "alert.acknowledge"
                && entry["target"] == key.as_str()),
        "{audit}"
    );
    let error = run_fails(
        &data_dir,
        &["alerts", "ack", "disk/nope/sda/smart", "--note", "x"],
    )
    .await;
    assert!(
        error.contains("no open alert \"disk/nope/sda/smart\""),
        "{error}"
    );

    // Silence the host from the CLI; a new alert there is recorded as silenced, never sent.
    let silenced = run(
        &data_dir,
        &[
            "alerts",
            "silence",
            "--host",
            agent_id.as_str(),
            "--for",
            "2h",
            "--reason",
            "maintenance",
        ],
    )
    .await;
    let silence_id: u64 = silenced
        .strip_prefix("Silence ")
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("{silenced}"));
    let body = serde_json::json!({"metric": "memory_used_bytes", "above": 0});
    let put = client
        .request(
            "PUT",
            "/api/v1/alerts/rules/memory_again",
            &[],
            Some(("application/json", serde_json::to_vec(&body).unwrap())),
        )
        .await
        .unwrap();
    assert_eq!(put.status, 200, "{}", put.text());
    let second_prefix = format!("rule/{agent_id}/memory_again/");
    let second = eventually("the new alert", Duration::from_secs(30), || {
        let mut client = client.clone();
        let prefix = second_prefix.clone();
        async move { api_alert(&mut client, &prefix).await }
    })
    .await;
    assert_eq!(second["state"], "silenced", "{second}");
    assert_eq!(
        second["silenced_by"],
        serde_json::json!([silence_id]),
        "{second}"
    );
    let second_key = second["key"].as_str().unwrap().to_owned();
    // Several evaluations later, still nothing about it at the webhook.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let events = hook_events(&received);
    assert!(
        !events.iter().any(|(_, key)| key == &second_key),
        "a silenced alert was sent: {events:?}"
    );
    assert!(
        events.contains(&("opened".into(), key.clone())),
        "{events:?}"
    );

    // The silences: the config file's first, from configuration, not removable.
    let silences = run(&data_dir, &["alerts", "silences"]).await;
    assert!(
        silences.contains("from configuration")
            && silences.contains("no public certificates in this lab")
            && silences.contains("while configured")
            && silences.contains("maintenance")
            && silences.contains("made offline"),
        "{silences}"
    );
    let as_json: Value =
        serde_json::from_str(&run(&data_dir, &["alerts", "silences", "--json"]).await).unwrap();
    let from_file = &as_json[0];
    assert_eq!(from_file["from_configuration"], true, "{as_json}");
    assert_eq!(from_file["key_prefix"], "certificate/", "{as_json}");
    let error = run_fails(&data_dir, &["alerts", "unsilence", "0"]).await;
    assert!(error.contains("removed by editing it"), "{error}");
    let error = run_fails(&data_dir, &["alerts", "unsilence", "999999"]).await;
    assert!(error.contains("no silence 999999"), "{error}");
    let removed = run(&data_dir, &["alerts", "unsilence", &silence_id.to_string()]).await;
    assert!(
        removed.contains(&format!("Removed silence {silence_id}.")),
        "{removed}"
    );
    let api_silences = client.get("/api/v1/alerts/silences").await.json();
    assert!(
        !api_silences
            .as_array()
            .unwrap()
            .iter()
            .any(|silence| silence["id"] == silence_id),
        "{api_silences}"
    );

    // The rules: the config file's and the one made through the API.
    let rules = run(&data_dir, &["alerts", "rules"]).await;
    assert!(
        rules.contains("memory_in_use")
            && rules.contains("memory_again")
            && rules.contains("config"),
        "{rules}"
    );

    agent.stop().await;
    controller.shutdown().await.unwrap();
}
