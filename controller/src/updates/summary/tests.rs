//! The summary against local servers that speak the chat-completions shape: one with a canned
//! answer (checking what it was sent), one that never answers, one that answers garbage, one
//! whose model answers prose instead of the JSON asked for.

use super::*;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// OpenAI's documented chat-completion object, with our canned content.
fn completion(content: &str) -> String {
    serde_json::json!({
        "id": "chatcmpl-123",
        "object": "chat.completion",
        "created": 1677652288,
        "model": "gpt-4o-mini",
        "system_fingerprint": "fp_44709d6fcb",
        "choices": [{
            "index": 0,
            "message": { "role": "assistant", "content": content },
            "logprobs": null,
            "finish_reason": "stop"
        }],
        "usage": { "prompt_tokens": 9, "completion_tokens": 12, "total_tokens": 21 }
    })
    .to_string()
}

type Seen = Arc<Mutex<Vec<(Option<String>, serde_json::Value)>>>;

async fn server(seen: Seen) -> String {
    let canned = "```json\n{\"summary\": \"The --listen flag is gone; use listen in the file.\", \"breaking\": [\"--listen removed\"]}\n```";
    let app = axum::Router::new()
        .route(
            "/good/v1/chat/completions",
            post(move |headers: HeaderMap, body: String| {
                let seen = seen.clone();
                async move {
                    let auth = headers
                        .get("authorization")
                        .map(|v| v.to_str().unwrap().to_owned());
                    seen.lock()
                        .unwrap()
                        .push((auth, serde_json::from_str(&body).unwrap()));
                    (StatusCode::OK, completion(canned))
                }
            }),
        )
        .route(
            "/hung/v1/chat/completions",
            post(|| async {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                String::new()
            }),
        )
        .route(
            "/garbage/v1/chat/completions",
            post(|| async { "{\"choices\": [{\"mess" }),
        )
        .route(
            "/prose/v1/chat/completions",
            post(|| async { completion("Sure! This release has some changes, {mostly good}.") }),
        )
        .route(
            "/refusing/v1/chat/completions",
            post(|| async { (StatusCode::UNAUTHORIZED, "{}") }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{address}")
}

fn settings(url: String) -> SummarySettings {
    SummarySettings {
        enabled: true,
        url,
        model: "llama3.1".into(),
        timeout: Duration::from_millis(700),
        ..SummarySettings::default()
    }
}

fn releases() -> Vec<Release> {
    vec![Release {
        tag: "v2.0.0".into(),
        name: Some("Two".into()),
        body: "## Breaking changes\n- The `--listen` flag is removed.".into(),
        url: None,
        published_at: None,
        truncated_from: None,
        prerelease: false,
    }]
}

#[tokio::test]
async fn issue_17_summary_from_a_canned_answer_keeps_prompt_and_answer() {
    let seen: Seen = Arc::default();
    let base = server(seen.clone()).await;
    let http = crate::updates::notes::fetch::http_client(Duration::from_secs(5)).unwrap();
    let user = prompt("ghcr.io/o/app", "1.0.0", "2.0.0", &releases(), 12_000);
    let record = summarise(
        &http,
        &settings(format!("{base}/good/v1/chat/completions")),
        Some("sk-secret"),
        user,
        7,
    )
    .await;
    assert_eq!(record.error, None, "{record:?}");
    assert_eq!(
        record.summary.as_deref(),
        Some("The --listen flag is gone; use listen in the file.")
    );
    assert_eq!(record.breaking, ["--listen removed"]);
    assert!(
        record.prompt.contains("## v2.0.0 (Two)") && record.prompt.contains("--listen"),
        "{}",
        record.prompt
    );
    assert!(record.answer.as_deref().unwrap().starts_with("```json"));
    assert!(
        !format!("{record:?}").contains("sk-secret"),
        "the key is not kept"
    );
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].0.as_deref(), Some("Bearer sk-secret"));
    assert_eq!(seen[0].1["model"], "llama3.1");
    assert_eq!(seen[0].1["messages"][0]["role"], "system");
    assert!(seen[0].1["messages"][1]["content"]
        .as_str()
        .unwrap()
        .contains("update from 1.0.0 to 2.0.0"));
}

#[tokio::test]
async fn issue_17_summary_hung_garbage_prose_and_refusal_are_recorded_errors() {
    let base = server(Arc::default()).await;
    let http = crate::updates::notes::fetch::http_client(Duration::from_secs(5)).unwrap();
    let ask = |path: &str| {
        let (http, settings) = (
            http.clone(),
            settings(format!("{base}/{path}/v1/chat/completions")),
        );
        async move { summarise(&http, &settings, None, "notes".into(), 0).await }
    };
    let started = std::time::Instant::now();
    let hung = ask("hung").await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "the timeout is tight"
    );
    assert!(
        hung.error.as_deref().unwrap().contains("no answer"),
        "{hung:?}"
    );
    assert_eq!((hung.summary, hung.answer), (None, None));

    let garbage = ask("garbage").await;
    assert!(
        garbage
            .error
            .as_deref()
            .unwrap()
            .starts_with("not a chat-completions answer"),
        "{garbage:?}"
    );

    let prose = ask("prose").await;
    assert!(
        prose
            .error
            .as_deref()
            .unwrap()
            .contains("not the JSON asked for"),
        "{prose:?}"
    );
    assert_eq!(
        prose.answer.as_deref(),
        Some("Sure! This release has some changes, {mostly good}.")
    );
    assert_eq!(prose.summary, None);

    let refused = ask("refusing").await;
    assert_eq!(refused.error.as_deref(), Some("the endpoint answered 401"));

    let nobody = summarise(
        &http,
        &settings("http://127.0.0.1:9/v1/chat/completions".into()),
        None,
        "x".into(),
        0,
    )
    .await;
    assert!(
        nobody.error.as_deref().unwrap().starts_with("no answer"),
        "{nobody:?}"
    );
}

#[test]
fn issue_17_the_prompt_is_bounded_and_answers_parse() {
    let mut huge = releases();
    huge[0].body = "x".repeat(100_000);
    let text = prompt("app", "1", "2", &huge, 2_000);
    assert!(
        text.len() < 2_100 && text.ends_with("[notes cut here]\n"),
        "{}",
        text.len()
    );
    assert_eq!(
        parse_answer("{\"summary\": \"ok\"}").unwrap(),
        ("ok".to_owned(), Vec::<String>::new())
    );
    assert!(parse_answer("no json").is_err());
    assert!(parse_answer("{\"summary\": \"\"}").is_err());
    assert!(parse_answer("{\"text\": \"wrong key\"}").is_err());
}
