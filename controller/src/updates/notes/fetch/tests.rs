//! The release fetcher against a local HTTP server that replays the forges' recorded answers
//! (`../testdata/`), rate-limit refusals as GitHub and others send them, and huge notes.

use super::*;
use axum::http::{HeaderMap, StatusCode, Uri};
use std::sync::{Arc, Mutex};

const GITHUB: &str = include_str!("../testdata/github-releases.json");
const GITLAB: &str = include_str!("../testdata/gitlab-releases.json");
const GITEA: &str = include_str!("../testdata/gitea-releases.json");

/// What the server saw: path and query, and the auth headers.
type Seen = Arc<Mutex<Vec<(String, Option<String>)>>>;

async fn replay(seen: Seen, uri: Uri, headers: HeaderMap) -> (StatusCode, HeaderMap, String) {
    let auth = ["authorization", "private-token"]
        .iter()
        .find_map(|name| headers.get(*name))
        .map(|value| value.to_str().unwrap().to_owned());
    let path = uri.to_string();
    seen.lock().unwrap().push((path.clone(), auth));
    let mut out = HeaderMap::new();
    out.insert("content-type", "application/json".parse().unwrap());
    let (status, body) = match uri.path() {
        "/repos/octocat/Hello-World/releases" => (StatusCode::OK, GITHUB.to_owned()),
        "/api/v4/projects/root%2Fawesome-app/releases" => (StatusCode::OK, GITLAB.to_owned()),
        "/api/v1/repos/forgejo/forgejo/releases" => (StatusCode::OK, GITEA.to_owned()),
        "/repos/limited/primary/releases" => {
            // GitHub's primary rate limit, as documented: 403, remaining 0, reset in Unix seconds.
            out.insert("x-ratelimit-limit", "60".parse().unwrap());
            out.insert("x-ratelimit-remaining", "0".parse().unwrap());
            out.insert("x-ratelimit-used", "60".parse().unwrap());
            out.insert("x-ratelimit-reset", "4102444800".parse().unwrap()); // 2100-01-01
            let body = r#"{"message":"API rate limit exceeded for 127.0.0.1. (But here's the good news: Authenticated requests get a higher rate limit. Check out the documentation for more details.)","documentation_url":"https://docs.github.com/rest/overview/resources-in-the-rest-api#rate-limiting"}"#;
            (StatusCode::FORBIDDEN, body.to_owned())
        }
        "/repos/limited/secondary/releases" => {
            out.insert("retry-after", "120".parse().unwrap());
            (
                StatusCode::TOO_MANY_REQUESTS,
                r#"{"message":"You have exceeded a secondary rate limit."}"#.to_owned(),
            )
        }
        "/repos/private/repo/releases" => (
            StatusCode::FORBIDDEN,
            r#"{"message":"Resource not accessible"}"#.to_owned(),
        ),
        "/repos/huge/notes/releases" => {
            let body =
                "## Changes\n".to_owned() + &"- a line of notes <b>bold</b>\n".repeat(200_000);
            let release = serde_json::json!([{ "tag_name": "v2.0.0", "name": "v2.0.0", "body": body, "html_url": "https://github.com/huge/notes/releases/v2.0.0", "draft": false, "prerelease": false, "published_at": "2024-01-01T00:00:00Z" }]);
            (StatusCode::OK, release.to_string())
        }
        "/repos/garbage/json/releases" => (StatusCode::OK, "<html>not json</html>".to_owned()),
        _ => (
            StatusCode::NOT_FOUND,
            r#"{"message":"Not Found"}"#.to_owned(),
        ),
    };
    (status, out, body)
}

async fn server() -> (String, Seen) {
    let seen: Seen = Arc::default();
    let state = seen.clone();
    let app = axum::Router::new().fallback(move |uri, headers| replay(state.clone(), uri, headers));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{address}"), seen)
}

fn source(provider: Provider, api_base: String, project: &str) -> NotesSource {
    NotesSource {
        provider,
        api_base,
        project: project.into(),
        web_url: String::new(),
    }
}

fn client() -> reqwest::Client {
    http_client(Duration::from_secs(5)).unwrap()
}

#[tokio::test]
async fn issue_17_github_gitlab_gitea_release_lists_replayed() {
    let (base, seen) = server().await;
    let http = client();
    let github = releases_of(
        &http,
        &source(Provider::Github, base.clone(), "octocat/Hello-World"),
        Some("ghp_token"),
        16_384,
    )
    .await
    .unwrap();
    assert_eq!(github[0].tag, "v2.0.0");
    let gitlab = releases_of(
        &http,
        &source(
            Provider::Gitlab,
            format!("{base}/api/v4"),
            "root/awesome-app",
        ),
        Some("glpat"),
        16_384,
    )
    .await
    .unwrap();
    assert_eq!(gitlab[0].name.as_deref(), Some("Awesome app v0.2 beta"));
    let gitea = releases_of(
        &http,
        &source(Provider::Gitea, format!("{base}/api/v1"), "forgejo/forgejo"),
        Some("gt"),
        16_384,
    )
    .await
    .unwrap();
    assert_eq!(gitea.len(), 3);
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen,
        [
            (
                "/repos/octocat/Hello-World/releases?per_page=100".to_owned(),
                Some("Bearer ghp_token".to_owned())
            ),
            (
                "/api/v4/projects/root%2Fawesome-app/releases?per_page=100".to_owned(),
                Some("glpat".to_owned())
            ),
            (
                "/api/v1/repos/forgejo/forgejo/releases?limit=50".to_owned(),
                Some("token gt".to_owned())
            ),
        ]
    );
}

#[tokio::test]
async fn issue_17_rate_limits_403_and_429_say_until_when() {
    let (base, _) = server().await;
    let http = client();
    let before = SystemTime::now();
    let error = releases_of(
        &http,
        &source(Provider::Github, base.clone(), "limited/primary"),
        None,
        100,
    )
    .await
    .unwrap_err();
    let FetchError::RateLimited { until, .. } = &error else {
        panic!("{error:?}")
    };
    // The reset lies in 2100: bounded to six hours, so a bogus clock cannot silence a forge.
    let waited = until.duration_since(before).unwrap();
    assert!(
        waited <= MAX_BACKOFF + Duration::from_secs(5)
            && waited >= MAX_BACKOFF - Duration::from_secs(5),
        "{waited:?}"
    );
    assert!(
        error.to_string().starts_with("rate limited by 127.0.0.1:"),
        "{error}"
    );

    let error = releases_of(
        &http,
        &source(Provider::Github, base.clone(), "limited/secondary"),
        None,
        100,
    )
    .await
    .unwrap_err();
    let FetchError::RateLimited { until, .. } = &error else {
        panic!("{error:?}")
    };
    let waited = until.duration_since(before).unwrap().as_secs();
    assert!((119..=125).contains(&waited), "{waited}");

    // A 403 that is not a rate limit is just a refusal.
    let error = releases_of(
        &http,
        &source(Provider::Github, base.clone(), "private/repo"),
        None,
        100,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(error, FetchError::Status { status: 403, .. }),
        "{error:?}"
    );
    let error = releases_of(
        &http,
        &source(Provider::Github, base.clone(), "garbage/json"),
        None,
        100,
    )
    .await
    .unwrap_err();
    assert!(matches!(error, FetchError::Invalid { .. }), "{error:?}");
}

#[tokio::test]
async fn issue_17_huge_release_notes_are_cut() {
    let (base, _) = server().await;
    let releases = releases_of(
        &client(),
        &source(Provider::Github, base, "huge/notes"),
        None,
        16_384,
    )
    .await
    .unwrap();
    assert_eq!(releases.len(), 1);
    assert!(releases[0].body.len() <= 16_384);
    assert!(releases[0].truncated_from.unwrap() > 6_000_000);
}

#[test]
fn issue_17_retry_at_reads_each_forges_headers() {
    let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let headers = |pairs: &[(&'static str, &str)]| {
        let mut map = reqwest::header::HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, value.parse().unwrap());
        }
        map
    };
    let at = |seconds| Some(UNIX_EPOCH + Duration::from_secs(seconds));
    assert_eq!(retry_at(200, &headers(&[]), now), None);
    assert_eq!(retry_at(403, &headers(&[]), now), None);
    assert_eq!(
        retry_at(
            403,
            &headers(&[
                ("x-ratelimit-remaining", "0"),
                ("x-ratelimit-reset", "1700000100")
            ]),
            now
        ),
        at(1_700_000_100)
    );
    // GitLab: RateLimit-Reset.
    assert_eq!(
        retry_at(
            429,
            &headers(&[
                ("ratelimit-remaining", "0"),
                ("ratelimit-reset", "1700000200")
            ]),
            now
        ),
        at(1_700_000_200)
    );
    assert_eq!(
        retry_at(429, &headers(&[("retry-after", "30")]), now),
        at(1_700_000_030)
    );
    assert_eq!(
        retry_at(
            429,
            &headers(&[("retry-after", "Tue, 14 Nov 2023 22:14:20 GMT")]),
            now
        ),
        at(1_700_000_060)
    );
    assert_eq!(
        retry_at(429, &headers(&[]), now),
        Some(now + DEFAULT_BACKOFF)
    );
    // A reset in the past is now.
    assert_eq!(
        retry_at(
            403,
            &headers(&[("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", "5")]),
            now
        ),
        Some(now)
    );
}
