//! Issue 21 through the real command line (`unity-controller user` and `group`, run as a
//! process): set up a group, a host group and a member while the daemon is stopped (straight
//! on the database), then label a host and delete the group while it runs (through the admin
//! socket), and check over HTTP that the member's rights follow.

use std::path::Path;
use std::time::Duration;
use unity_tests::*;

const BINARY: &str = env!("CARGO_BIN_EXE_unity-e2e-controller");

/// Runs `unity-controller --data-dir DATA_DIR ARGS...`; returns stdout, or panics with stderr.
pub(crate) fn cli(data_dir: &Path, args: &[&str]) -> String {
    #[allow(clippy::disallowed_methods)]
    let output = std::process::Command::new(BINARY)
        .args(["--config", "/dev/null", "--data-dir"])
        .arg(data_dir)
        .args(args)
        .env("UNITY_LOG", "warn")
        .output()
        .expect("the controller binary runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{args:?}: {}\n{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

fn agent_ids(response: &unity_tests::http::HttpResponse) -> Vec<String> {
    assert_eq!(response.status, 200, "{}", response.text());
    response
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|host| host["agent_id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_21_the_cli_manages_users_groups_and_host_groups() {
    init_logging();
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("controller");
    std::fs::create_dir_all(&data_dir).unwrap();
    let password_file = dir.path().join("password");
    std::fs::write(&password_file, "a long partner password\n").unwrap();

    // The daemon is stopped: the commands work on the database.
    cli(
        &data_dir,
        &[
            "group",
            "create",
            "family",
            "--description",
            "partner and kids",
        ],
    );
    cli(
        &data_dir,
        &["group", "set-hosts", "media", "--label", "role=media"],
    );
    cli(
        &data_dir,
        &[
            "group", "grant", "family", "--hosts", "media", "--right", "operate",
        ],
    );
    let password_path = password_file.to_str().unwrap();
    cli(
        &data_dir,
        &[
            "user",
            "add",
            "sam",
            "--groups",
            "family",
            "--password-file",
            password_path,
        ],
    );
    let groups: serde_json::Value =
        serde_json::from_str(&cli(&data_dir, &["group", "list", "--json"])).unwrap();
    let family = groups
        .as_array()
        .unwrap()
        .iter()
        .find(|group| group["name"] == "family")
        .unwrap_or_else(|| panic!("{groups}"));
    assert_eq!(family["members"], serde_json::json!(["sam"]), "{groups}");
    assert_eq!(
        family["rights"],
        serde_json::json!([["media", "operate"]]),
        "{groups}"
    );
    let users = cli(&data_dir, &["user", "list"]);
    assert!(users.contains("sam") && users.contains("member"), "{users}");

    // The daemon runs: the same commands go through its admin socket.
    let controller = start_controller(controller_config(&data_dir)).await;
    let (agent_id, agent) = enrolled_agent(
        &controller,
        &dir.path().join("a1"),
        Duration::from_millis(250),
    )
    .await;
    let mut sam = logged_in_client(&controller, "sam", "a long partner password").await;
    assert!(agent_ids(&sam.get("/api/v1/hosts").await).is_empty());
    let data = data_dir.clone();
    let agent_text = agent_id.to_string();
    tokio::task::spawn_blocking(move || cli(&data, &["group", "label", &agent_text, "role=media"]))
        .await
        .unwrap();
    assert_eq!(
        agent_ids(&sam.get("/api/v1/hosts").await),
        vec![agent_id.to_string()]
    );
    let collect = sam
        .post_json(
            &format!("/api/v1/hosts/{agent_id}/collect"),
            &serde_json::json!({}),
        )
        .await;
    assert_eq!(collect.status, 200, "{}", collect.text());
    let data = data_dir.clone();
    let host_groups = tokio::task::spawn_blocking(move || cli(&data, &["group", "host-groups"]))
        .await
        .unwrap();
    assert!(
        host_groups.contains("media") && host_groups.contains(agent_id.as_str()),
        "{host_groups}"
    );
    let data = data_dir.clone();
    tokio::task::spawn_blocking(move || cli(&data, &["group", "delete", "family"]))
        .await
        .unwrap();
    assert!(agent_ids(&sam.get("/api/v1/hosts").await).is_empty());

    agent.stop().await;
    controller.shutdown().await.unwrap();
}
