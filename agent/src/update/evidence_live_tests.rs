//! Issue 17 §0 against a real dockerd (the update live tests' [`Lab`]): a candidate that fails
//! its health check leaves its last log lines and the engine's health output in the result; a
//! failed candidate image this agent pulled is removed after its retention (the clock driven
//! by the test), one the host had before is never recorded; excluded environment variables
//! never leave the host, and a restore still brings them back.

#![allow(clippy::indexing_slicing)]

use std::time::Duration;

use unity_shared::model::update::{
    HealthPolicy, OperationId, Outcome, Stage, UpdateRequest, EVIDENCE_LOG_BYTES,
};
use unity_testbed::engine::{ContainerEngine, EngineKind};
use unity_testbed::registry::{Auth, Registry};

use super::engine::Engine;
use super::live_tests::{blocking, Lab};
use super::{backup, executor, failed_images};

/// An image whose container writes to stdout and stderr, then fails its HEALTHCHECK with
/// output (markup included: the controller must escape it).
fn build_noisy(engine: &dyn ContainerEngine, tag: &str, marker: &str) {
    let dir = tempfile::tempdir().unwrap();
    let dockerfile = format!(
        "FROM localhost/busybox:latest\nENV FOO={marker}\n\
         HEALTHCHECK --interval=1s --timeout=2s --retries=1 CMD sh -c 'echo \"<b>probe {marker} says no</b>\"; exit 1'\n\
         CMD [\"sh\", \"-c\", \"i=0; while [ $i -lt 300 ]; do echo out-$i; i=$((i+1)); done; sleep 1; echo {marker}-to-stderr >&2; sleep 1; echo last-line; trap 'exit 0' TERM; sleep 600 & wait\"]\n"
    );
    std::fs::write(dir.path().join("Dockerfile"), dockerfile).unwrap();
    let context = dir.path().to_string_lossy().into_owned();
    let mut args = vec!["build", "-q", "-t", tag];
    if engine.kind() == EngineKind::Podman {
        args.extend(["--format", "docker"]);
    }
    args.push(&context);
    engine.cli(&args).unwrap();
}

fn request(id: &str, image: &str) -> UpdateRequest {
    UpdateRequest {
        id: OperationId(id.to_owned()),
        container: "web".to_owned(),
        image: image.to_owned(),
        auth: None,
        health: HealthPolicy {
            timeout_ms: 20_000,
            start_grace_ms: 4_000,
            stability_ms: 1_000,
            poll_interval_ms: 250,
            probe: None,
        },
        force: false,
        volume_archive_limit_bytes: None,
        vulnerability_gate: None,
    }
}

async fn failed_candidate_leaves_its_evidence(kind: EngineKind) {
    let lab = Lab::start(kind).await;
    blocking(|| build_noisy(&*lab.engine, "localhost/app:noisy", "noisy"));
    let old_id = lab.inspect("web").await.id;
    let result = executor::update(
        &lab.ctx(),
        &request("up-noisy", "localhost/app:noisy"),
        |_, _| {},
    )
    .await;
    assert_eq!(result.outcome, Outcome::RolledBack, "{result:#?}");
    assert_eq!(lab.inspect("web").await.id, old_id);
    let evidence = result.evidence.clone().expect("evidence kept");
    assert!(evidence.reason.contains("unhealthy"), "{evidence:#?}");
    // The newest lines of both streams, the oldest cut to the bound (the engine copies the
    // streams apart: a second between them keeps their order in the log).
    assert!(evidence.log_tail.contains("out-299\n"), "{evidence:#?}");
    assert!(
        evidence.log_tail.contains("noisy-to-stderr\n"),
        "{evidence:#?}"
    );
    assert!(evidence.log_tail.ends_with("last-line\n"), "{evidence:#?}");
    assert!(!evidence.log_tail.contains("out-0\n"), "{evidence:#?}");
    assert_eq!(evidence.log_tail.lines().count(), 200);
    assert!(evidence.log_tail.len() <= EVIDENCE_LOG_BYTES);
    assert!(evidence.capture_error.is_none(), "{evidence:#?}");
    let run = evidence.health_checks.last().expect("a health check run");
    assert_eq!(run.exit_code, 1, "{evidence:#?}");
    assert!(
        run.output.contains("<b>probe noisy says no</b>"),
        "{evidence:#?}"
    );
    assert!(!run.start.is_empty());
    // Said in the progress too, and the candidate container is gone.
    assert!(result
        .log
        .iter()
        .any(|line| line.stage == Stage::RollingBack
            && line.message.contains("logs and health output")));
    // Kept in the journal: a retry of the id answers with the same evidence.
    let again = executor::update(
        &lab.ctx(),
        &request("up-noisy", "localhost/app:noisy"),
        |_, _| {},
    )
    .await;
    assert_eq!(again.evidence, result.evidence);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_17_docker_failed_candidate_leaves_logs_and_health_output() {
    failed_candidate_leaves_its_evidence(EngineKind::Docker).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_17_podman_failed_candidate_leaves_logs_and_health_output() {
    failed_candidate_leaves_its_evidence(EngineKind::Podman).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_17_docker_failed_image_removed_after_retention_only_if_pulled_here() {
    let lab = Lab::start(EngineKind::Docker).await;
    let registry = blocking(|| Registry::start(Auth::Anonymous));
    let pushed = format!("{}/lab/app:noisy", registry.host());
    blocking(|| {
        let engine = &lab.engine;
        build_noisy(&**engine, "localhost/app:pushed", "pushed");
        engine
            .cli(&["tag", "localhost/app:pushed", &pushed])
            .unwrap();
        engine.cli(&["push", &pushed]).unwrap();
        engine
            .cli(&["rmi", &pushed, "localhost/app:pushed"])
            .unwrap();
    });
    let mut ctx = lab.ctx();
    ctx.failed_image_retention = Duration::from_secs(3600);
    let started = u64::try_from(crate::clock::now_ms()).unwrap();

    // Pulled by the agent, failed: recorded for removal after the retention.
    let result = executor::update(&ctx, &request("up-pulled", &pushed), |_, _| {}).await;
    assert_eq!(result.outcome, Outcome::RolledBack, "{result:#?}");
    let pulled_id = result.new_image_id.clone().unwrap();
    let recorded = failed_images::load(lab.data_dir()).unwrap();
    assert_eq!(recorded.len(), 1, "{recorded:?}");
    assert_eq!(recorded[0].image_id, pulled_id);
    assert!(recorded[0].remove_after_ms >= started + 3_600_000);

    // Built on the host before the update (the owner's): failed, but never recorded.
    let owned = executor::update(&ctx, &request("up-owned", "localhost/app:bad"), |_, _| {}).await;
    assert_eq!(owned.outcome, Outcome::RolledBack, "{owned:#?}");
    assert_eq!(failed_images::load(lab.data_dir()).unwrap().len(), 1);

    // Before the retention is over nothing goes; the record survives (a file: restarts too).
    let early = failed_images::prune(&lab.bollard, lab.data_dir(), started + 60_000)
        .await
        .unwrap();
    assert!(early.is_empty());
    assert!(lab
        .bollard
        .inspect_image(&pulled_id)
        .await
        .unwrap()
        .is_some());

    // After it: removed, and forgotten.
    let later = started + 2 * 3_600_000;
    let removed = failed_images::prune(&lab.bollard, lab.data_dir(), later)
        .await
        .unwrap();
    assert_eq!(removed, std::slice::from_ref(&pulled_id));
    assert!(lab
        .bollard
        .inspect_image(&pulled_id)
        .await
        .unwrap()
        .is_none());
    assert!(failed_images::load(lab.data_dir()).unwrap().is_empty());
    let owned_id = owned.new_image_id.unwrap();
    assert!(lab
        .bollard
        .inspect_image(&owned_id)
        .await
        .unwrap()
        .is_some());
    // web still runs its image.
    lab.assert_web_built_as("localhost/app:1", "old", "localhost/app:1")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_17_docker_excluded_env_never_reaches_the_controller_and_restore_keeps_it() {
    let lab = Lab::start(EngineKind::Docker).await;
    blocking(|| {
        let args = [
            "run",
            "-d",
            "--name",
            "vault",
            "-e",
            "DB_PASSWORD=hunter2",
            "-e",
            "GITHUB_TOKEN=ghp_secret",
            "-e",
            "TZ=UTC",
            "localhost/app:1",
        ];
        lab.engine.cli(&args).unwrap();
    });
    let ctx = lab.ctx();
    let taken = executor::backup(&ctx, &OperationId("bk-1".into()), "vault", |_, _| {}).await;
    assert_eq!(taken.outcome, Outcome::Succeeded, "{taken:#?}");
    let sent = taken.backup_taken.clone().unwrap();
    // What goes to the controller: no values, names listed.
    let wire = postcard::to_allocvec(&taken).unwrap();
    for secret in ["hunter2", "ghp_secret"] {
        assert!(!sent.inspect_json.contains(secret), "{}", sent.inspect_json);
        assert!(!wire.windows(secret.len()).any(|w| w == secret.as_bytes()));
    }
    assert!(sent.inspect_json.contains("TZ=UTC"));
    assert_eq!(sent.excluded_env, ["DB_PASSWORD", "GITHUB_TOKEN"]);
    // The agent's own backup keeps them.
    let local = backup::load(lab.data_dir(), "vault", taken.backup.as_deref().unwrap()).unwrap();
    assert!(local.inspect.to_string().contains("DB_PASSWORD=hunter2"));

    // The container loses its secret; the restore (from the agent's copy) brings it back.
    blocking(|| {
        lab.engine.cli(&["rm", "-f", "vault"]).unwrap();
        let args = [
            "run",
            "-d",
            "--name",
            "vault",
            "-e",
            "TZ=UTC",
            "localhost/app:1",
        ];
        lab.engine.cli(&args).unwrap();
    });
    let restored = executor::restore(
        &ctx,
        &OperationId("rs-1".into()),
        "vault",
        taken.backup.as_deref().unwrap(),
        HealthPolicy {
            timeout_ms: 20_000,
            start_grace_ms: 1_500,
            stability_ms: 1_000,
            poll_interval_ms: 250,
            probe: None,
        },
        |_, _| {},
    )
    .await;
    assert_eq!(restored.outcome, Outcome::Succeeded, "{restored:#?}");
    let env = lab.inspect("vault").await.config.unwrap().env.unwrap();
    assert!(env.contains(&"DB_PASSWORD=hunter2".to_owned()), "{env:?}");

    // A backup no longer on the host is refused with the reason.
    let gone = executor::restore(
        &ctx,
        &OperationId("rs-2".into()),
        "vault",
        "1.json",
        HealthPolicy::default(),
        |_, _| {},
    )
    .await;
    assert_eq!(gone.outcome, Outcome::Refused, "{gone:#?}");
    assert!(gone.message.contains("backup_env_exclude"), "{gone:#?}");
}
