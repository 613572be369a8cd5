//! Issue 18 §1, SMART trends end to end: the real agent runs a fake `smartctl` that replays a
//! real smartctl JSON output (`agent/src/collect/smart/testdata`), rewritten between replays
//! with a grown reallocated-sector count. The controller sets the drive's baseline on first
//! sight (no alert), raises `disk/<agent>/<wwn>/grown` when the counter grows, an admin accepts
//! the new values as the baseline through the API (CSRF-checked, audited), the alert resolves
//! and does not come back; a viewer may not accept.

use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;
use unity_tests::http::HttpClient;
use unity_tests::*;

const WWN: &str = "0x5000cca264eb01d7";

fn fixture() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../agent/src/collect/smart/testdata/scrutiny-sat-hdd-wd140edfz-7.0.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Writes the replayed output with `reallocated` as attribute 5's raw value (atomically: the
/// agent may be reading it).
fn write_replay(dir: &Path, reallocated: u64) {
    let mut json = fixture();
    for attribute in json["ata_smart_attributes"]["table"]
        .as_array_mut()
        .unwrap()
    {
        if attribute["id"] == 5 {
            attribute["raw"] =
                serde_json::json!({ "value": reallocated, "string": reallocated.to_string() });
        }
    }
    let partial = dir.join("sda.json.partial");
    std::fs::write(&partial, serde_json::to_vec(&json).unwrap()).unwrap();
    std::fs::rename(partial, dir.join("sda.json")).unwrap();
}

fn agent_config(
    dir: &Path,
    agent_dir: &Path,
    controller: std::net::SocketAddr,
) -> unity_agent::config::Config {
    let smartctl = dir.join("smartctl");
    std::fs::write(
        &smartctl,
        format!(
            r#"#!/bin/sh
case "$*" in
  *--version*) echo "smartctl 7.3 2022-02-28 r5338 [x86_64-linux-6.1.0] (local build)"; exit 0;;
  *--scan-open*) echo "/dev/sda -d sat # /dev/sda [SAT], ATA device"; exit 0;;
  *sda*) cat "{}"; exit 0;;
esac
exit 1
"#,
            dir.join("sda.json").display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&smartctl, std::fs::Permissions::from_mode(0o755)).unwrap();
    let text = format!(
        "data_dir = \"{}\"\n[storage]\ninterval = \"200ms\"\ntimeout = \"5s\"\nsmartctl = \"{}\"\nzpool = \"/nonexistent/zpool\"\nmdstat = \"/nonexistent/mdstat\"\n",
        agent_dir.display(),
        smartctl.display()
    );
    let raw: unity_agent::config::RawConfig = toml::from_str(&text).unwrap();
    let mut config = unity_agent::config::Config::from_raw(raw).unwrap();
    config.controller = Some(controller.to_string());
    config.interval = Duration::from_millis(300);
    config.heartbeat = Duration::from_millis(300);
    config
}

async fn json(client: &mut HttpClient, path: &str) -> Value {
    let response = client.get(path).await;
    assert_eq!(response.status, 200, "{path}: {}", response.text());
    response.json()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_18_a_grown_smart_counter_alerts_until_its_baseline_is_accepted() {
    init_logging();
    let dir = tempfile::tempdir().unwrap();
    let mut config = controller_config(&dir.path().join("controller"));
    config.alerts.interval = Duration::from_millis(200);
    config.alerts.resolve_after = Duration::from_secs(1);
    let controller = start_controller(config).await;
    let addr = controller.api_addr;
    let admin_password = add_user(&controller, "admin", "admin").await;
    let mut admin = logged_in_client(&controller, "admin", &admin_password).await;
    let viewer_password = add_user(&controller, "watcher", "viewer").await;
    let mut viewer = logged_in_client(&controller, "watcher", &viewer_password).await;

    write_replay(dir.path(), 0);
    let agent_dir = dir.path().join("agent");
    let agent_id = enroll_agent(&controller, &agent_dir).await;
    let agent =
        unity_agent::runtime::start(agent_config(dir.path(), &agent_dir, controller.local_addr))
            .await
            .unwrap();

    // First sight: the baseline is set automatically, by nobody.
    let baselines_path = format!("/api/v1/hosts/{agent_id}/disks/baselines");
    let first = eventually(
        "the drive's first baseline",
        Duration::from_secs(30),
        || {
            let mut client = unity_tests::lab::same_session(&admin, addr);
            let path = baselines_path.clone();
            async move {
                let view = client.get(&path).await.json();
                (!view[WWN].is_null()).then_some(view)
            }
        },
    )
    .await;
    assert_eq!(first[WWN]["counters"]["reallocated_sectors"], 0, "{first}");
    assert!(first[WWN]["accepted_by"].is_null(), "{first}");
    let key = format!("disk/{agent_id}/{WWN}/grown");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let open = json(&mut admin, "/api/v1/alerts?state=open").await;
    assert!(
        !open
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["key"] == key.as_str()),
        "{open:#}"
    );

    // The counter grows between replays: an alert.
    write_replay(dir.path(), 8);
    let alert = eventually("the grown-counter alert", Duration::from_secs(30), || {
        let mut client = unity_tests::lab::same_session(&admin, addr);
        let key = key.clone();
        async move {
            let open = client.get("/api/v1/alerts?state=open").await.json();
            open.as_array()?
                .iter()
                .find(|a| a["key"] == key.as_str())
                .cloned()
        }
    })
    .await;
    assert_eq!(alert["severity"], "critical");
    assert!(
        alert["summary"]
            .as_str()
            .unwrap()
            .contains("reallocated sectors: 0 → 8"),
        "{alert}"
    );

    // A viewer may not accept; an admin may, and the baseline moves to 8.
    let accept = format!("/api/v1/hosts/{agent_id}/disks/{WWN}/baseline");
    let refused = viewer.post_json(&accept, &serde_json::json!({})).await;
    assert_eq!(refused.status, 403, "{}", refused.text());
    let unknown = admin
        .post_json(
            &format!("/api/v1/hosts/{agent_id}/disks/no-such-drive/baseline"),
            &serde_json::json!({}),
        )
        .await;
    assert_eq!(unknown.status, 404, "{}", unknown.text());
    let accepted = admin.post_json(&accept, &serde_json::json!({})).await;
    assert_eq!(accepted.status, 200, "{}", accepted.text());
    let accepted = accepted.json();
    assert_eq!(accepted["counters"]["reallocated_sectors"], 8, "{accepted}");
    assert!(
        accepted["accepted_by"].as_str().unwrap().contains("admin"),
        "{accepted}"
    );

    // The alert resolves and stays away while the drive keeps reporting 8.
    eventually("the alert resolves", Duration::from_secs(30), || {
        let mut client = unity_tests::lab::same_session(&admin, addr);
        let key = key.clone();
        async move {
            let resolved = client.get("/api/v1/alerts?state=resolved").await.json();
            resolved
                .as_array()?
                .iter()
                .any(|a| a["key"] == key.as_str())
                .then_some(())
        }
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let open = json(&mut admin, "/api/v1/alerts?state=open").await;
    assert!(
        !open
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["key"] == key.as_str()),
        "no alert after the baseline was accepted: {open:#}"
    );
    // The host page offers the button to an admin, not to a viewer.
    let page = admin.get(&format!("/hosts/{agent_id}")).await.text();
    assert!(page.contains("Accept as new baseline"), "{page}");
    let page = viewer.get(&format!("/hosts/{agent_id}")).await.text();
    assert!(page.contains("SMART baselines") && !page.contains("Accept as new baseline"));
    agent.stop().await;
}
