//! Issue 19 (performance): the dashboard's responses go gzip-compressed to browsers that accept
//! it, and compressing pages is safe from BREACH because the CSRF token they carry is masked
//! afresh in every response. Against a real controller over HTTP:
//! - the same session gets a different token string in each response (pages and the API), every
//!   one of them is accepted for a change, a tampered one is refused;
//! - a gzip response decodes to the same page as an uncompressed one (tokens aside), styles,
//!   scripts and JSON are compressed, PNG icons are not;
//! - the live channel's event stream is never compressed, even when gzip is accepted.

use std::io::Read;
use unity_tests::http::{HttpClient, HttpResponse};
use unity_tests::*;

const GZIP: &[(&str, &str)] = &[("Accept-Encoding", "gzip, deflate, br")];

/// The values of a page's hidden `csrf` fields.
fn csrf_fields(page: &str) -> Vec<String> {
    page.split("name=\"csrf\" value=\"")
        .skip(1)
        .filter_map(|rest| rest.split_once('"').map(|(value, _)| value.to_owned()))
        .collect()
}

fn gunzip(response: &HttpResponse) -> String {
    assert_eq!(response.header("content-encoding"), Some("gzip"));
    let mut out = String::new();
    flate2::read::GzDecoder::new(&response.body[..])
        .read_to_string(&mut out)
        .expect("the body is gzip");
    out
}

/// `page` with its CSRF field values blanked, to compare two responses.
fn without_tokens(page: &str) -> String {
    let mut out = page.to_owned();
    for token in csrf_fields(page) {
        out = out.replace(&token, "TOKEN");
    }
    out
}

/// Creates a group with `token` as the CSRF token: its status.
async fn change_with(client: &mut HttpClient, token: &str, name: &str) -> u16 {
    client.csrf = Some(token.to_owned());
    let body = serde_json::json!({ "name": name, "description": "" });
    client.post_json("/api/v1/groups", &body).await.status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_19_dashboard_compression_with_a_fresh_csrf_mask_per_response() {
    init_logging();
    let dir = tempfile::tempdir().unwrap();
    let controller = start_controller(controller_config(&dir.path().join("controller"))).await;
    let password = add_user(&controller, "ada", "admin").await;
    let mut client = logged_in_client(&controller, "ada", &password).await;
    let from_login = client.csrf.clone().expect("the login hands out a token");

    // Two responses, two token strings; each page's fields carry one.
    let first = client.get("/").await.text();
    let second = client.get("/").await.text();
    let (first_tokens, second_tokens) = (csrf_fields(&first), csrf_fields(&second));
    assert!(
        !first_tokens.is_empty(),
        "a CSRF field on the overview: {first}"
    );
    assert_ne!(
        first_tokens[0], second_tokens[0],
        "masked afresh per response"
    );
    let from_api = client.get("/api/v1/session").await.json()["csrf_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let tokens = [&from_login, &first_tokens[0], &second_tokens[0], &from_api];
    for (index, token) in tokens.iter().enumerate() {
        for other in &tokens[index + 1..] {
            assert_ne!(token, other);
        }
        assert_eq!(
            change_with(&mut client, token, &format!("group-{index}")).await,
            201,
            "token {index} ({token}) is accepted"
        );
    }
    // Tampered: one character changed, cut short, another session's.
    let token = &first_tokens[0];
    let middle = token.len() / 2;
    let flipped = if &token[middle..=middle] == "A" {
        "B"
    } else {
        "A"
    };
    let tampered = format!("{}{flipped}{}", &token[..middle], &token[middle + 1..]);
    assert_eq!(change_with(&mut client, &tampered, "tampered").await, 403);
    assert_eq!(
        change_with(&mut client, &token[..token.len() - 4], "short").await,
        403
    );
    let other = logged_in_client(&controller, "ada", &password).await;
    let foreign = other.csrf.clone().unwrap();
    assert_eq!(change_with(&mut client, &foreign, "foreign").await, 403);
    assert_eq!(change_with(&mut client, "", "empty").await, 403);

    // A compressed page decodes to the page; the token masks differ, nothing else.
    let plain = client.get("/").await;
    assert_eq!(
        plain.header("content-encoding"),
        None,
        "no gzip unless asked for"
    );
    let compressed = client.request("GET", "/", GZIP, None).await.unwrap();
    assert_eq!(compressed.status, 200);
    assert!(
        compressed
            .header("vary")
            .is_some_and(|vary| vary.to_ascii_lowercase().contains("accept-encoding")),
        "{:?}",
        compressed.headers
    );
    assert!(compressed.body.len() < plain.body.len());
    let decoded = gunzip(&compressed);
    assert_eq!(without_tokens(&decoded), without_tokens(&plain.text()));
    assert!(
        compressed.header("content-security-policy").is_some(),
        "headers kept"
    );
    for path in ["/assets/app.css", "/assets/overview.js"] {
        let response = client.request("GET", path, GZIP, None).await.unwrap();
        assert_eq!(response.status, 200, "{path}");
        assert!(!gunzip(&response).is_empty(), "{path}");
    }
    let json = client
        .request("GET", "/api/v1/groups", GZIP, None)
        .await
        .unwrap();
    let plain_json = client.get("/api/v1/groups").await;
    assert!(
        plain_json.body.len() > 256,
        "enough JSON to compress: {}",
        plain_json.text()
    );
    assert_eq!(gunzip(&json), plain_json.text());
    let icon = client
        .request("GET", "/assets/icon-192.png", GZIP, None)
        .await
        .unwrap();
    assert_eq!(icon.status, 200);
    assert_eq!(
        icon.header("content-encoding"),
        None,
        "PNG is compressed already"
    );

    // The event stream, asked for with gzip as browsers do, comes uncompressed (the client
    // refuses a compressed one) and opens with its retry line.
    let cookie: Vec<String> = client
        .cookies
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect();
    let mut stream =
        sse::EventStream::open(controller.api_addr, "/events/overview", &cookie.join("; "))
            .await
            .unwrap();
    let text = tokio::time::timeout(std::time::Duration::from_secs(5), stream.next_text())
        .await
        .expect("the stream's first event in time")
        .unwrap();
    assert!(text.contains("retry:"), "{text}");
    controller.shutdown().await.unwrap();
}
