//! The release-notes refresh end to end on an offline controller: containers with pending
//! updates, a local server replaying GitHub's recorded release list and its rate limit, a
//! local chat-completions server; then the notes, the summary and the recommendation as the
//! domain shows them.

use super::*;
use crate::config::Config;
use crate::storage::agents::AgentRecord;
use crate::storage::containers::{DetectedUpdate, UpdateCheckRecord, UpdateKind, UpdateMode};
use crate::storage::operations::{OperationKind, OperationRecord, OperationState};
use crate::updates::recommend::{ReasonKind, Verdict};
use axum::http::{StatusCode, Uri};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use unity_shared::model::container::{Container, RunState};
use unity_shared::model::update::{CommandResult, ContainerCommand, OperationId, Outcome};

const GITHUB: &str = include_str!("testdata/github-releases.json");

#[derive(Default)]
struct Counts {
    paths: Mutex<Vec<String>>,
    model: AtomicUsize,
}

async fn forge_and_model(counts: Arc<Counts>) -> String {
    let forge = counts.clone();
    let app = axum::Router::new()
        .route(
            "/v1/chat/completions",
            axum::routing::post(move || {
                let counts = counts.clone();
                async move {
                    counts.model.fetch_add(1, Ordering::SeqCst);
                    let content = r#"{"summary": "A database migration runs at start.", "breaking": []}"#;
                    let answer = serde_json::json!({
                        "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "m",
                        "choices": [{ "index": 0, "message": { "role": "assistant", "content": content }, "finish_reason": "stop" }]
                    });
                    answer.to_string()
                }
            }),
        )
        .fallback(move |uri: Uri| {
            let counts = forge.clone();
            async move {
                counts.paths.lock().unwrap().push(uri.path().to_owned());
                let mut headers = axum::http::HeaderMap::new();
                match uri.path() {
                    "/repos/octocat/Hello-World/releases" => (StatusCode::OK, headers, GITHUB.to_owned()),
                    "/api/v4/projects/limited%2Fprimary/releases" => {
                        // GitLab's rate limit: 429 with Retry-After and RateLimit-* headers.
                        headers.insert("retry-after", "3600".parse().unwrap());
                        headers.insert("ratelimit-remaining", "0".parse().unwrap());
                        (StatusCode::TOO_MANY_REQUESTS, headers, "Retry later".to_owned())
                    }
                    _ => (StatusCode::NOT_FOUND, headers, String::new()),
                }
            }
        });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{address}")
}

fn agent() -> AgentId {
    AgentId::new("nas-1").unwrap()
}

fn container(name: &str, image: &str, source: Option<&str>) -> Container {
    Container {
        id: format!("id-{name}"),
        name: name.into(),
        image: image.into(),
        image_id: "sha256:image".into(),
        repo_digests: Vec::new(),
        platform: None,
        image_created_ms: None,
        state: RunState::Running,
        health: None,
        exit_code: None,
        restart_policy: None,
        restart_count: 0,
        created_ms: None,
        started_ms: None,
        ports: Vec::new(),
        mounts: Vec::new(),
        networks: Vec::new(),
        labels: source
            .map(|url| vec![("org.opencontainers.image.source".to_owned(), url.to_owned())])
            .unwrap_or_default(),
        compose: None,
        usage: None,
        network_mode: None,
        oom_killed: false,
    }
}

fn pending(ctx: &Context, name: &str, image: &str, from: &str, to: &str) {
    ctx.store
        .containers
        .put_check(&UpdateCheckRecord {
            agent_id: agent(),
            container: name.into(),
            image: image.into(),
            checked_at_ms: 1,
            outcome: CheckOutcome::Update(DetectedUpdate {
                kind: UpdateKind::Minor,
                current_tag: Some(from.into()),
                current_digest: Some(format!("sha256:{name}-1")),
                candidate_tag: to.into(),
                candidate_digest: format!("sha256:{name}-2"),
                candidate_created_ms: Some(crate::clock::now_ms() - 10 * 86_400_000),
                first_seen_ms: 1,
                mode: UpdateMode::Notify,
                offered: true,
                held_back: None,
            }),
        })
        .unwrap();
}

/// An update of `digest` rolled back on another host.
fn rolled_back_elsewhere(ctx: &Context, digest: &str) {
    let id = "op-elsewhere";
    ctx.store
        .operations
        .put(&OperationRecord {
            id: id.into(),
            agent_id: AgentId::new("pi-2").unwrap(),
            container: "hello".into(),
            action: OperationKind::Update,
            command: ContainerCommand::Rollback {
                id: OperationId(id.into()),
                container: "hello".into(),
            },
            requested_by: "auto".into(),
            requested_at_ms: 1,
            expires_at_ms: 2,
            from_image: Some("ghcr.io/octocat/hello:1.0.0".into()),
            to_image: Some("ghcr.io/octocat/hello:1.2.0".into()),
            to_digest: Some(digest.into()),
            state: OperationState::Finished,
            started_at_ms: Some(1),
            finished_at_ms: Some(2),
            progress: Vec::new(),
            result: Some(CommandResult {
                id: OperationId(id.into()),
                container: "hello".into(),
                outcome: Outcome::RolledBack,
                message: "health check failed".into(),
                old_image_id: None,
                new_image_id: None,
                backup: None,
                log: Vec::new(),
                backup_taken: None,
                data_restored: None,
                evidence: None,
            }),
            error: None,
            attempts: 1,
        })
        .unwrap();
}

#[tokio::test]
async fn issue_17_refresh_stores_notes_summary_and_rate_limits_and_the_domain_recommends() {
    let counts = Arc::new(Counts::default());
    let base = forge_and_model(counts.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::with_data_dir(dir.path().into());
    config.updates.release_notes.github_api_url = base.clone();
    // The same server as a GitLab instance under another host name, limited on its own.
    let gitlab = base.replace("127.0.0.1", "localhost");
    config.updates.release_notes.gitlab_hosts = vec![fetch::host_of(&gitlab)];
    // Every refresh looks again: the second run shows what is and is not asked.
    config.updates.release_notes.cache_ttl = Duration::ZERO;
    config.updates.summary.enabled = true;
    config.updates.summary.url = format!("{base}/v1/chat/completions");
    let ctx = crate::service::offline_context(config).await.unwrap();
    ctx.store
        .agents
        .put_agent(&AgentRecord::enrolled_for_tests(agent(), "nas"))
        .unwrap();
    let inventory = ContainerInventory {
        containers: vec![
            container(
                "web",
                "ghcr.io/octocat/hello:1.0.0",
                Some("https://github.com/octocat/Hello-World"),
            ),
            container(
                "api",
                "ghcr.io/limited/primary:1.0.0",
                Some(&format!("{gitlab}/limited/primary")),
            ),
            container("local", "registry.home.arpa/app:1.0", None),
        ],
        ..ContainerInventory::default()
    };
    ctx.store
        .agents
        .put_latest(&agent(), StateKind::Containers, 1, &inventory)
        .unwrap();
    pending(&ctx, "web", "ghcr.io/octocat/hello:1.0.0", "1.0.0", "1.2.0");
    pending(
        &ctx,
        "api",
        "ghcr.io/limited/primary:1.0.0",
        "1.0.0",
        "1.1.0",
    );
    pending(&ctx, "local", "registry.home.arpa/app:1.0", "1.0", "1.1");

    assert_eq!(refresh(&ctx, None).await.unwrap(), 3);
    let notes = |name: &str| {
        ctx.store
            .release_notes
            .get(&agent(), name)
            .unwrap()
            .unwrap()
    };
    let web = notes("web");
    let tags: Vec<&str> = web.releases.iter().map(|r| r.tag.as_str()).collect();
    assert_eq!(tags, ["v1.2.0", "v1.1.0"]);
    let origin = web.origin.clone().unwrap();
    assert_eq!(
        (origin.provider.as_str(), origin.url.as_str()),
        ("GitHub", "https://github.com/octocat/Hello-World")
    );
    assert!(origin
        .found_by
        .contains("container's label org.opencontainers.image.source"));
    let summary = web.summary.clone().unwrap();
    assert_eq!(
        summary.summary.as_deref(),
        Some("A database migration runs at start.")
    );
    assert!(summary.prompt.contains("update from 1.0.0 to 1.2.0"));
    let api = notes("api");
    let error = api.error.unwrap();
    assert!(error.starts_with("rate limited by localhost:"), "{error}");
    assert!(api.summary.is_none(), "no notes, nothing to summarise");
    let host = fetch::host_of(&gitlab);
    assert!(
        ctx.store
            .release_notes
            .limited_until(&host)
            .unwrap()
            .unwrap()
            > crate::clock::now_ms()
    );
    assert!(notes("local")
        .error
        .unwrap()
        .contains("unity.update.changelog"));

    // Again (cache_ttl 0, so every list is fetched anew): the limited host is not asked until
    // its reset, and the summary of the same candidate is not asked again.
    assert_eq!(refresh(&ctx, None).await.unwrap(), 3);
    let paths = counts.paths.lock().unwrap().clone();
    assert_eq!(
        paths,
        [
            "/api/v4/projects/limited%2Fprimary/releases",
            "/repos/octocat/Hello-World/releases",
            "/repos/octocat/Hello-World/releases",
        ]
    );
    assert_eq!(counts.model.load(Ordering::SeqCst), 1);
    assert!(notes("api").error.unwrap().contains("not asked"));

    // The domain: the notes, the summary and the recommendation with its reasons.
    rolled_back_elsewhere(&ctx, "sha256:web-2");
    let checks =
        crate::domain::updates::checks(&ctx, crate::domain::updates::CheckFilter::All).unwrap();
    let web = checks
        .iter()
        .find(|check| check.record.container == "web")
        .unwrap();
    let insight = web.insight.as_ref().unwrap();
    assert_eq!(insight.recommendation.verdict, Verdict::Hold);
    let reasons: Vec<(ReasonKind, Verdict, &str)> = insight
        .recommendation
        .reasons
        .iter()
        .map(|reason| (reason.kind, reason.verdict, reason.text.as_str()))
        .collect();
    assert!(
        reasons.contains(&(
            ReasonKind::FleetRollbacks,
            Verdict::Hold,
            "this exact image failed and was rolled back 1 time(s) in the fleet"
        )),
        "{reasons:#?}"
    );
    assert!(
        reasons.contains(&(
            ReasonKind::ReleaseNotes,
            Verdict::Wait,
            "release notes say \"migration\" (v1.2.0)"
        )),
        "{reasons:#?}"
    );
    assert!(
        reasons.contains(&(
            ReasonKind::ReleaseNotes,
            Verdict::ApplyNow,
            "release notes say \"deprecated\" (v1.1.0)"
        )),
        "{reasons:#?}"
    );
    assert!(
        reasons.contains(&(
            ReasonKind::ImageAge,
            Verdict::ApplyNow,
            "image is 10 days old"
        )),
        "{reasons:#?}"
    );
    let json = serde_json::to_value(web).unwrap();
    assert_eq!(json["insight"]["recommendation"]["verdict"], "hold");
    assert_eq!(
        json["insight"]["release_notes"]["releases"][0]["tag"],
        "v1.2.0"
    );
    assert_eq!(
        json["insight"]["release_notes"]["summary"]["summary"],
        "A database migration runs at start."
    );
    let local = checks
        .iter()
        .find(|check| check.record.container == "local")
        .unwrap();
    assert_eq!(
        local.insight.as_ref().unwrap().recommendation.verdict,
        Verdict::ApplyNow
    );
}

#[test]
fn issue_17_summary_key_files_hold_the_key_or_an_env_line() {
    assert_eq!(key_from_file("sk-abc\n").as_deref(), Some("sk-abc"));
    assert_eq!(
        key_from_file("# key\nOPENAI_API_KEY=\"sk-abc\"\n").as_deref(),
        Some("sk-abc")
    );
    assert_eq!(key_from_file("\n\n"), None);
}

#[tokio::test]
async fn issue_17_candidate_config_labels_come_from_a_real_registry() {
    use unity_testbed::registry::{Auth, ImageSpec, Registry};
    let registry = Registry::start(Auth::Anonymous);
    let pushed = registry
        .push_image(
            "lab/notes",
            "1.1.0",
            &ImageSpec::new("candidate-marker", "2024-01-01T00:00:00Z"),
        )
        .await
        .unwrap();
    let client = crate::updates::live_tests::client_for(&registry, None);
    let job = Job {
        agent_id: agent(),
        container: "app".into(),
        image: format!("{}/lab/notes:1.0.0", registry.host()),
        labels: Vec::new(),
        platform: None,
        current_tag: Some("1.0.0".into()),
        candidate_tag: "1.1.0".into(),
        candidate_digest: pushed.digest.clone(),
        previous: None,
    };
    let labels = candidate_labels(&client, &job).await;
    assert_eq!(
        labels,
        [("org.unity.marker".to_owned(), "candidate-marker".to_owned())]
    );
    // A candidate the registry does not have: no labels, no error in the way.
    let missing = Job {
        candidate_digest: format!("sha256:{}", "0".repeat(64)),
        ..job
    };
    assert!(candidate_labels(&client, &missing).await.is_empty());
}
