//! Update detection against real registries: Debian's `docker-registry` on loopback,
//! anonymous, with Basic auth and with bearer tokens (`unity_testbed::registry`). Only the
//! `429`/`Retry-After`/`ratelimit-remaining` test uses a tiny in-process fake, because
//! docker-registry never sends those.

use super::credentials::{CredentialSource, Credentials};
use super::detect::{check, Outcome, SkipReason};
use super::policy::{Policy, PolicyLayer};
use super::registry::{ClientOptions, RegistryClient};
use crate::storage::containers::UpdateKind;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use unity_shared::model::container::{Container, Platform, RunState};
use unity_testbed::registry::{Auth, Format, ImageSpec, Registry};

pub(super) const OLD: &str = "2024-01-01T00:00:00Z";

fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now()).to_string()
}

pub(super) fn client_for(
    registry: &Registry,
    secret_override: Option<&str>,
) -> Arc<RegistryClient> {
    let mut credentials: HashMap<String, Credentials> = HashMap::new();
    if let Some((username, pass)) = registry.credentials() {
        let secret = secret_override.unwrap_or(&pass).to_string();
        credentials.insert(registry.host(), Credentials { username, secret });
    }
    let source: Arc<dyn CredentialSource> = Arc::new(credentials);
    Arc::new(RegistryClient::new(ClientOptions::default(), source).unwrap())
}

pub(super) fn container(
    image: &str,
    repo_digest: Option<String>,
    image_id: &str,
    arch: &str,
    labels: &[(&str, &str)],
) -> Container {
    Container {
        id: format!("id-{image}"),
        name: "app".into(),
        image: image.into(),
        image_id: image_id.into(),
        repo_digests: repo_digest.into_iter().collect(),
        platform: Some(Platform {
            os: "linux".into(),
            architecture: arch.into(),
            variant: None,
        }),
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
        labels: labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        compose: None,
        usage: None,
        network_mode: None,
        oom_killed: false,
    }
}

pub(super) fn policy(labels: &[(&str, &str)]) -> Policy {
    let pairs: Vec<(String, String)> = labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Policy::resolve(&[&PolicyLayer::from_labels(&pairs).unwrap()])
}

pub(super) async fn outcome(
    client: &RegistryClient,
    container: &Container,
    labels: &[(&str, &str)],
) -> Outcome {
    check(
        client,
        container,
        &policy(labels),
        SystemTime::now(),
        &Default::default(),
    )
    .await
}

#[track_caller]
fn expect_update(outcome: &Outcome, kind: UpdateKind, tag: &str) -> String {
    match outcome {
        Outcome::Update(candidate) => {
            assert_eq!(
                (candidate.kind, candidate.candidate_tag.as_str()),
                (kind, tag),
                "{outcome:?}"
            );
            candidate.candidate_digest.clone()
        }
        other => panic!("expected an update to {tag}, got {other:?}"),
    }
}

/// The scenario on one registry: every policy level, the rebuild, pinning, mode off,
/// include/exclude and cooldown.
async fn scenario(auth: Auth) {
    let registry = Registry::start(auth);
    let client = client_for(&registry, None);
    let v100 = registry
        .push_image("lab/app", "1.0.0", &ImageSpec::new("1.0.0", OLD))
        .await
        .unwrap();
    let image = format!("{}/lab/app:1.0.0", registry.host());
    let running = container(
        &image,
        Some(format!("{}/lab/app@{}", registry.host(), v100.digest)),
        &v100.config_digest,
        "amd64",
        &[],
    );
    assert_eq!(
        outcome(&client, &running, &[("unity.update.level", "major")]).await,
        Outcome::UpToDate
    );

    let push = |tag: &'static str, created: String, format| {
        let registry = &registry;
        async move {
            let spec = ImageSpec::new(&format!("{tag}-build"), &created).format(format);
            registry.push_image("lab/app", tag, &spec).await.unwrap()
        }
    };
    push("1.0.1", "2024-02-01T00:00:00Z".into(), Format::DockerV2).await;
    push("1.1.0", "2024-03-01T00:00:00Z".into(), Format::Oci).await;
    push("2.0.0", now_rfc3339(), Format::Oci).await;
    let rebuilt = push("1.0.0", now_rfc3339(), Format::Oci).await;

    // Cached: the tag list and the tag's digest are reused within the TTL.
    assert_eq!(
        outcome(&client, &running, &[("unity.update.level", "major")]).await,
        Outcome::UpToDate
    );
    client.clear_cache();

    let digest = expect_update(
        &outcome(&client, &running, &[("unity.update.level", "digest")]).await,
        UpdateKind::Digest,
        "1.0.0",
    );
    assert_eq!(digest, rebuilt.digest);
    let patch = UpdateKind::Patch;
    let minor = UpdateKind::Minor;
    let major = UpdateKind::Major;
    expect_update(
        &outcome(&client, &running, &[("unity.update.level", "patch")]).await,
        patch,
        "1.0.1",
    );
    expect_update(&outcome(&client, &running, &[]).await, minor, "1.1.0");
    let found = outcome(&client, &running, &[("unity.update.level", "major")]).await;
    expect_update(&found, major, "2.0.0");
    if let Outcome::Update(candidate) = &found {
        assert!(candidate.created.is_some_and(
            |c| SystemTime::now().duration_since(c).unwrap() < Duration::from_secs(600)
        ));
        assert_eq!(candidate.current_digest, v100.digest);
        assert_eq!(candidate.current_tag, "1.0.0");
    }
    let excluded = [
        ("unity.update.level", "major"),
        ("unity.update.exclude", "^2\\."),
    ];
    expect_update(&outcome(&client, &running, &excluded).await, minor, "1.1.0");
    let included = [
        ("unity.update.level", "major"),
        ("unity.update.include", "^1\\.0\\."),
    ];
    expect_update(&outcome(&client, &running, &included).await, patch, "1.0.1");
    // Cooldown: 2.0.0 and the rebuild are minutes old, so 1.1.0 (months old) is offered.
    let cooled = [
        ("unity.update.level", "major"),
        ("unity.update.cooldown", "1d"),
    ];
    expect_update(&outcome(&client, &running, &cooled).await, minor, "1.1.0");
    let cooled_digest = [
        ("unity.update.level", "digest"),
        ("unity.update.cooldown", "1d"),
    ];
    match outcome(&client, &running, &cooled_digest).await {
        Outcome::Waiting { candidate, until } => {
            assert_eq!(candidate.kind, UpdateKind::Digest);
            assert!(until > SystemTime::now() + Duration::from_secs(23 * 3600));
        }
        other => panic!("expected waiting, got {other:?}"),
    }
    assert_eq!(
        outcome(&client, &running, &[("unity.update.pin", "true")]).await,
        Outcome::Skipped(SkipReason::Pinned)
    );
    assert_eq!(
        outcome(&client, &running, &[("unity.update.mode", "off")]).await,
        Outcome::Skipped(SkipReason::ModeOff)
    );
    let local = container(&image, None, &v100.config_digest, "amd64", &[]);
    assert_eq!(
        outcome(&client, &local, &[]).await,
        Outcome::Skipped(SkipReason::NoRepoDigest)
    );
    let by_digest = container(&format!("{image}@{}", v100.digest), None, "", "amd64", &[]);
    assert_eq!(
        outcome(&client, &by_digest, &[]).await,
        Outcome::Skipped(SkipReason::ReferenceByDigest)
    );
    // Running the rebuilt 1.0.0 is up to date for the digest level.
    let current = container(
        &image,
        Some(format!("{}/lab/app@{}", registry.host(), rebuilt.digest)),
        &rebuilt.config_digest,
        "amd64",
        &[],
    );
    assert_eq!(
        outcome(&client, &current, &[("unity.update.level", "digest")]).await,
        Outcome::UpToDate
    );
}

mod errors;

#[tokio::test]
async fn anonymous_registry() {
    scenario(Auth::Anonymous).await;
}

#[tokio::test]
async fn basic_auth_registry() {
    scenario(Auth::Basic {
        user: "alice".into(),
        pass: "wonderland".into(),
    })
    .await;
}

#[tokio::test]
async fn bearer_token_registry() {
    let auth = Auth::Bearer {
        user: "bob".into(),
        pass: "builder".into(),
    };
    scenario(auth.clone()).await;
    // One token per (registry, scope), reused across checks.
    let registry = Registry::start(auth);
    let client = client_for(&registry, None);
    let pushed = registry
        .push_image("lab/tok", "1.0.0", &ImageSpec::new("t", OLD))
        .await
        .unwrap();
    let running = container(
        &format!("{}/lab/tok:1.0.0", registry.host()),
        Some(format!("{}/lab/tok@{}", registry.host(), pushed.digest)),
        &pushed.config_digest,
        "amd64",
        &[],
    );
    for _ in 0..3 {
        assert_eq!(
            outcome(&client, &running, &[("unity.update.level", "major")]).await,
            Outcome::UpToDate
        );
        client.clear_cache();
    }
    assert_eq!(registry.token_requests(), 1);
}

#[tokio::test]
async fn only_another_platform_changed() {
    let registry = Registry::start(Auth::Anonymous);
    let client = client_for(&registry, None);
    let amd64 = ImageSpec::new("amd64-1", OLD);
    let arm64 = ImageSpec::new("arm64-1", OLD).platform("arm64", Some("v8"));
    let first = registry
        .push_index("lab/multi", "1.0", &[amd64.clone(), arm64])
        .await
        .unwrap();
    let image = format!("{}/lab/multi:1.0", registry.host());
    let repo_digest = Some(format!("{}/lab/multi@{}", registry.host(), first.digest));
    let on_amd64 = container(
        &image,
        repo_digest.clone(),
        &first.manifests[0].config_digest,
        "amd64",
        &[],
    );
    let on_arm64 = container(
        &image,
        repo_digest,
        &first.manifests[1].config_digest,
        "aarch64",
        &[],
    );
    assert_eq!(outcome(&client, &on_amd64, &[]).await, Outcome::UpToDate);

    // Only the arm64 manifest changes: an update for arm64 hosts, not for amd64 ones.
    let arm64_rebuilt = ImageSpec::new("arm64-2", &now_rfc3339()).platform("arm64", Some("v8"));
    let second = registry
        .push_index("lab/multi", "1.0", &[amd64, arm64_rebuilt])
        .await
        .unwrap();
    assert_ne!(second.digest, first.digest);
    client.clear_cache();
    assert_eq!(
        outcome(&client, &on_amd64, &[("unity.update.level", "digest")]).await,
        Outcome::UpToDate
    );
    let found = outcome(&client, &on_arm64, &[("unity.update.level", "digest")]).await;
    expect_update(&found, UpdateKind::Digest, "1.0");
    if let Outcome::Update(candidate) = found {
        assert_eq!(
            candidate.platform_digest.as_deref(),
            Some(second.manifests[1].digest.as_str())
        );
    }

    // Now amd64 changes too.
    let amd64_rebuilt = ImageSpec::new("amd64-2", OLD);
    let arm64_again = ImageSpec::new("arm64-2", OLD).platform("arm64", Some("v8"));
    let third = registry
        .push_index("lab/multi", "1.0", &[amd64_rebuilt, arm64_again])
        .await
        .unwrap();
    client.clear_cache();
    let found = outcome(&client, &on_amd64, &[]).await;
    assert_eq!(
        expect_update(&found, UpdateKind::Digest, "1.0"),
        third.digest
    );
}

/// Podman's locally built images (`localhost/<name>`, with a repo digest there) are local,
/// not a registry to ask: skipped without a request.
#[tokio::test]
async fn podman_local_images_are_not_checked() {
    let source: Arc<dyn CredentialSource> = Arc::new(HashMap::<String, Credentials>::new());
    let client = RegistryClient::new(ClientOptions::default(), source).unwrap();
    let local = container(
        "localhost/web:latest",
        Some(
            "localhost/web@sha256:0000000000000000000000000000000000000000000000000000000000000000"
                .into(),
        ),
        "sha256:11",
        "amd64",
        &[],
    );
    assert_eq!(
        outcome(&client, &local, &[]).await,
        Outcome::Skipped(SkipReason::NoRepoDigest)
    );
}
