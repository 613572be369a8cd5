//! The Cloudflare solver against a local HTTP server replaying answers recorded from
//! Cloudflare's API documentation (`controller/testdata/cloudflare/`, see its SOURCES.md):
//! Cloudflare itself cannot be reached from the test machines. The server checks what the
//! solver sends; the answers are Cloudflare's documented ones, unchanged.

use super::*;
use crate::config::secret::Secret;
use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use std::sync::{Arc, Mutex};

const TOKEN: &str = "test-token-abc";
const ZONE_ID: &str = "023e105f4ecef8ad9ca31a8372d0c353";

fn recorded(name: &str) -> String {
    std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("testdata/cloudflare")
            .join(name),
    )
    .unwrap()
}

/// What the replay server saw: `METHOD path?query` and the create's body.
type Seen = Arc<Mutex<Vec<String>>>;

async fn replay(
    seen: Seen,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, String) {
    let line = format!("{method} {uri}");
    seen.lock().unwrap().push(line.clone());
    let bearer = headers
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    if bearer != format!("Bearer {TOKEN}") {
        return (StatusCode::FORBIDDEN, recorded("error-authentication.json"));
    }
    let path = uri.path();
    let query = uri.query().unwrap_or_default();
    match (method.as_str(), path) {
        ("GET", "/client/v4/zones") if query == "name=example.com" => {
            (StatusCode::OK, recorded("zones-list.json"))
        }
        ("GET", "/client/v4/zones") => (StatusCode::OK, recorded("zones-list-empty.json")),
        ("POST", p) if p == format!("/client/v4/zones/{ZONE_ID}/dns_records") => {
            let sent: serde_json::Value = serde_json::from_slice(&body).unwrap();
            seen.lock().unwrap().push(format!(
                "{} {} {}",
                sent["type"].as_str().unwrap(),
                sent["name"].as_str().unwrap(),
                sent["content"].as_str().unwrap()
            ));
            (StatusCode::OK, recorded("dns-record-create.json"))
        }
        ("DELETE", p) if p == format!("/client/v4/zones/{ZONE_ID}/dns_records/{ZONE_ID}") => {
            (StatusCode::OK, recorded("dns-record-delete.json"))
        }
        _ => (StatusCode::NOT_FOUND, String::new()),
    }
}

async fn replay_server() -> (String, Seen) {
    let seen: Seen = Arc::default();
    let state = seen.clone();
    let app = axum::Router::new().fallback(move |method, uri, headers, body| {
        replay(state.clone(), method, uri, headers, body)
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{address}/client/v4"), seen)
}

fn solver(api_base: &str, token: &str) -> CloudflareSolver {
    let http = crate::acme::http::client(None, std::time::Duration::from_secs(5)).unwrap();
    CloudflareSolver::new(
        http,
        CloudflareSettings {
            api_token: Secret(token.into()),
            api_base: api_base.into(),
        },
    )
}

#[test]
fn zone_candidates_longest_first() {
    assert_eq!(
        zone_candidates("_acme-challenge.a.b.example.com"),
        ["a.b.example.com", "b.example.com", "example.com"]
    );
    assert!(zone_candidates("example.com").is_empty());
}

#[tokio::test]
async fn issue_15_cloudflare_replayed_create_and_delete() {
    let (api_base, seen) = replay_server().await;
    let solver = solver(&api_base, TOKEN);
    let record = solver
        .present("_acme-challenge.www.example.com", "dns-value_1")
        .await
        .unwrap();
    assert_eq!(record.id.as_deref(), Some(&*format!("{ZONE_ID}/{ZONE_ID}")));
    solver.cleanup(&record).await.unwrap();
    assert_eq!(
        *seen.lock().unwrap(),
        [
            "GET /client/v4/zones?name=www.example.com".to_owned(),
            "GET /client/v4/zones?name=example.com".to_owned(),
            format!("POST /client/v4/zones/{ZONE_ID}/dns_records"),
            "TXT _acme-challenge.www.example.com dns-value_1".to_owned(),
            format!("DELETE /client/v4/zones/{ZONE_ID}/dns_records/{ZONE_ID}"),
        ]
    );
}

#[tokio::test]
async fn issue_15_cloudflare_errors_as_cloudflare_said_them() {
    let (api_base, _) = replay_server().await;
    let error = solver(&api_base, "wrong-token")
        .present("_acme-challenge.www.example.com", "v")
        .await
        .unwrap_err();
    let shown = error.to_string();
    assert!(
        shown.contains("Authentication error (code 10000)"),
        "{shown}"
    );
    assert!(shown.contains("403"), "{shown}");
    assert!(!shown.contains("wrong-token"), "{shown}");
    // A name in no zone the token sees.
    let error = solver(&api_base, TOKEN)
        .present("_acme-challenge.www.example.org", "v")
        .await
        .unwrap_err();
    assert!(error.to_string().contains("no zone"), "{error}");
}
