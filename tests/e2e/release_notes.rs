//! Issue 17 §3 end to end with real parts on loopback: Debian's dockerd runs a container from
//! Debian's `docker-registry`, a real agent reports it, the controller finds the update, then
//! reads the release notes from a local server replaying GitHub's recorded release list and
//! asks a local chat-completions server for a summary; the API and the Updates page show the
//! notes, the machine-generated summary and the recommendation with its reasons, and so does
//! the command line (`unity-controller updates list|show`).

use serde_json::Value;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use unity_testbed::engine::{ContainerEngine, Dockerd};
use unity_testbed::registry::{Auth, ImageSpec, Registry};
use unity_tests::lab::container_agent;
use unity_tests::*;

const GITHUB: &str =
    include_str!("../../controller/src/updates/notes/testdata/github-releases.json");

/// One request's method and path, after reading it whole (headers and a `content-length` body).
async fn read_request(stream: &mut tokio::net::TcpStream) -> Option<(String, String)> {
    let mut data = Vec::new();
    let mut buffer = [0u8; 8192];
    loop {
        let n = stream.read(&mut buffer).await.ok()?;
        if n == 0 {
            return None;
        }
        data.extend_from_slice(&buffer[..n]);
        let text = String::from_utf8_lossy(&data).to_string();
        if let Some(end) = text.find("\r\n\r\n") {
            let head = &text[..end];
            let length = head
                .lines()
                .find_map(|line| {
                    line.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                })
                .unwrap_or(0);
            if data.len() >= end + 4 + length {
                let mut words = head.split_whitespace();
                return Some((words.next()?.to_owned(), words.next()?.to_owned()));
            }
        }
    }
}

/// A forge and a model on one loopback port: GitHub's release list of octocat/Hello-World,
/// and a chat completion with a canned summary.
async fn forge_and_model() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let Some((method, path)) = read_request(&mut stream).await else {
                    return;
                };
                let (status, body) = match (method.as_str(), path.as_str()) {
                    ("GET", "/repos/octocat/Hello-World/releases?per_page=100") => {
                        ("200 OK", GITHUB.to_owned())
                    }
                    ("POST", "/v1/chat/completions") => {
                        let content = r#"{"summary": "The old_option setting is deprecated; nothing else changes.", "breaking": []}"#;
                        let answer = serde_json::json!({
                            "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "test-model",
                            "choices": [{ "index": 0, "message": { "role": "assistant", "content": content }, "finish_reason": "stop" }]
                        });
                        ("200 OK", answer.to_string())
                    }
                    _ => ("404 Not Found", "{\"message\":\"Not Found\"}".to_owned()),
                };
                let response = format!(
                    "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
            });
        }
    });
    format!("http://{address}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_17_release_notes_summary_and_recommendation_through_api_and_page() {
    init_logging();
    let registry = Registry::start(Auth::Anonymous);
    let old = "2026-01-01T00:00:00Z";
    registry
        .push_image(
            "lab/app",
            "1.0.0",
            &ImageSpec::new("1.0.0", old).with_busybox(),
        )
        .await
        .unwrap();
    let docker = Dockerd::start();
    let image = format!("{}/lab/app:1.0.0", registry.host());
    docker.cli(&["pull", "-q", &image]).unwrap();
    docker
        .cli(&[
            "run",
            "-d",
            "--name",
            "web",
            "--label",
            "unity.update.changelog=https://github.com/octocat/Hello-World",
            &image,
            "sleep",
            "3600",
        ])
        .unwrap();
    // The newer release, built in the past (no settling time left).
    registry
        .push_image(
            "lab/app",
            "1.1.0",
            &ImageSpec::new("1.1.0", "2026-02-01T00:00:00Z").with_busybox(),
        )
        .await
        .unwrap();

    let base = forge_and_model().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = controller_config(&dir.path().join("controller"));
    config.updates.release_notes.github_api_url = base.clone();
    config.updates.summary.enabled = true;
    config.updates.summary.url = format!("{base}/v1/chat/completions");
    config.updates.summary.model = "test-model".into();
    let controller = start_controller(config).await;
    let (agent_id, _agent) =
        container_agent(&controller, &dir.path().join("agent"), docker.socket_path()).await;
    let password = add_user(&controller, "admin", "admin").await;
    let mut client = logged_in_client(&controller, "admin", &password).await;

    // Check until the agent's inventory is there and the update is found, then wait for the
    // notes, which are fetched after the check in their own task.
    let mut web = Value::Null;
    for _ in 0..60 {
        let summary = client
            .post_json("/api/v1/updates/check", &serde_json::json!({}))
            .await;
        assert_eq!(summary.status, 200, "{}", summary.text());
        tokio::time::sleep(Duration::from_millis(500)).await;
        let response = client.get("/api/v1/updates?status=all").await;
        assert_eq!(response.status, 200, "{}", response.text());
        let found = response
            .json()
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["container"] == "web")
            .cloned();
        if let Some(found) = found {
            let done = found["insight"]["release_notes"]["summary"].is_object();
            web = found;
            if done {
                break;
            }
        }
    }
    assert!(
        web["insight"]["release_notes"]["summary"].is_object(),
        "{web:#}"
    );
    assert_eq!(web["agent_id"], agent_id.as_str(), "{web:#}");
    assert_eq!(
        web["outcome"]["update"]["candidate_tag"], "1.1.0",
        "{web:#}"
    );
    let insight = &web["insight"];
    let notes = &insight["release_notes"];
    assert_eq!(notes["origin"]["provider"], "GitHub", "{web:#}");
    assert_eq!(
        notes["origin"]["found_by"], "label unity.update.changelog",
        "{web:#}"
    );
    let tags: Vec<&str> = notes["releases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["tag"].as_str().unwrap())
        .collect();
    assert_eq!(tags, ["v1.1.0"], "{web:#}");
    assert_eq!(notes["summary"]["model"], "test-model");
    assert_eq!(
        notes["summary"]["summary"],
        "The old_option setting is deprecated; nothing else changes."
    );
    assert!(notes["summary"]["prompt"]
        .as_str()
        .unwrap()
        .contains("update from 1.0.0 to 1.1.0"));
    assert_eq!(insight["recommendation"]["verdict"], "apply_now", "{web:#}");
    let reasons: Vec<&str> = insight["recommendation"]["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["text"].as_str().unwrap())
        .collect();
    assert!(
        reasons.contains(&"minor release: new features, compatible by semver"),
        "{reasons:#?}"
    );
    assert!(
        reasons.contains(&"release notes say \"deprecated\" (v1.1.0)"),
        "{reasons:#?}"
    );

    let page = client.get("/updates").await;
    assert_eq!(page.status, 200);
    let html = page.text();
    for wanted in [
        "Recommended: apply now",
        "Machine-generated summary",
        "The old_option setting is deprecated; nothing else changes.",
        "Description of the release",
        "href=\"https://github.com/octocat/Hello-World/releases/v1.1.0\"",
    ] {
        assert!(html.contains(wanted), "{wanted:?} not on the page");
    }

    // The same through the command line (the admin socket of the running controller).
    let data = dir.path().join("controller");
    let agent_text = agent_id.to_string();
    let (list, show) = tokio::task::spawn_blocking(move || {
        (
            crate::household_cli::cli(&data, &["updates", "list"]),
            crate::household_cli::cli(&data, &["updates", "show", &agent_text, "web"]),
        )
    })
    .await
    .unwrap();
    let row = list
        .lines()
        .find(|line| line.contains(" web "))
        .unwrap_or_else(|| panic!("no row for web:\n{list}"));
    for wanted in [agent_id.as_str(), "1.0.0 → 1.1.0 (minor)", "apply now"] {
        assert!(row.contains(wanted), "{wanted:?} not in {row:?}");
    }
    for wanted in [
        "advice       apply now",
        "  - release notes say \"deprecated\" (v1.1.0)",
        "release      v1.1.0",
        "summary      (machine-generated by test-model) The old_option setting is deprecated; nothing else changes.",
    ] {
        assert!(show.contains(wanted), "{wanted:?} not in:\n{show}");
    }
}
