//! Manual rollback and restore of a compose service that Unity's override pins, against a
//! real dockerd, a loopback registry and docker-compose (the `Lab` of `compose_live_tests.rs`):
//! after the restore, the owner's own `docker-compose up -d` must keep the restored version,
//! so the override is rewritten for it (its digest, or no image for the version from before
//! any override), and a crash after the swap is settled from the journal.

#![allow(clippy::indexing_slicing)]

use std::path::Path;
use std::time::Duration;

use unity_shared::model::update::{CommandResult, OperationId, Outcome};
use unity_testbed::engine::ContainerEngine as _;

use super::compose::OverrideChange;
use super::compose_live_tests::{blocking, build_and_push, policy, Lab};
use super::context::OperationContext;
use super::journal::{Record, Step};
use super::{backup, executor, pinned, recovery};
use crate::exec::{self, CommandSpec};

/// `docker-compose -p lab -f <files…> up -d`, as the owner runs it.
async fn owner_up(lab: &Lab, files: &[&Path]) {
    let mut args: Vec<String> = vec!["-p".into(), "lab".into()];
    for file in files {
        args.push("-f".into());
        args.push(file.to_string_lossy().into_owned());
    }
    args.extend(["up".into(), "-d".into()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let spec = CommandSpec::new("docker-compose", &args)
        .env("DOCKER_HOST", &lab.engine.docker_host())
        .current_dir(lab.project.path());
    let output = exec::run(&spec, Duration::from_secs(120)).await.unwrap();
    assert_eq!(
        output.exit_code,
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn ctx(lab: &Lab) -> OperationContext<'_, super::engine::Bollard> {
    OperationContext {
        stop_grace: Duration::from_secs(3),
        ..OperationContext::new(&lab.bollard, &lab.journal, lab.data.path())
    }
}

async fn rollback(lab: &Lab, id: &str) -> CommandResult {
    let name = blocking(|| lab.web());
    executor::rollback(&ctx(lab), &OperationId(id.to_owned()), &name, |_, _| {}).await
}

async fn restore(lab: &Lab, id: &str, backup_name: &str) -> CommandResult {
    let name = blocking(|| lab.web());
    let id = OperationId(id.to_owned());
    executor::restore(&ctx(lab), &id, &name, backup_name, policy(), |_, _| {}).await
}

/// Issue 17 §0: two updates by digest, then a manual rollback to the first: Unity's override
/// names the first digest again, so the owner's `docker-compose up -d` (with or without the
/// override) keeps it; a restore of the version from before any override empties the
/// override's services, so compose runs the owner's tag (which still names that version).
/// A crash after a validated restore writes the restored text from the journal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_17_manual_rollback_of_a_compose_service_survives_compose_up() {
    let (lab, id1) = Lab::start().await;
    let (repository, _) = lab.reference.rsplit_once(':').unwrap();
    let repository = repository.to_owned();
    let push = |tag: &str, version: &str| {
        let reference = lab.reference.replace(":1", tag);
        let id = build_and_push(&lab.engine, &reference, version, "/tmp/ok");
        let format = "{{index .RepoDigests 0}}";
        let pushed = lab
            .engine
            .cli(&["image", "inspect", "--format", format, &reference])
            .unwrap();
        let digest = pushed.trim().split_once('@').unwrap().1.to_owned();
        (id, format!("{repository}@{digest}"))
    };
    let (id2, first) = blocking(|| push(":2", "2"));
    let (id3, second) = blocking(|| push(":3", "3"));
    let file = pinned::override_path(lab.data.path(), "lab", "web");

    let result = lab.update("restore-update-1", &first).await;
    assert_eq!(result.outcome, Outcome::Succeeded, "{result:#?}");
    let first_text = std::fs::read_to_string(&file).unwrap();
    let result = lab.update("restore-update-2", &second).await;
    assert_eq!(result.outcome, Outcome::Succeeded, "{result:#?}");
    lab.assert_runs(&id3, "3").await;
    let second_text = std::fs::read_to_string(&file).unwrap();
    assert!(second_text.contains(&second), "{second_text}");

    // The manual rollback (to the backup taken before the second update).
    let result = rollback(&lab, "restore-rollback").await;
    assert_eq!(result.outcome, Outcome::Succeeded, "{result:#?}");
    lab.assert_runs(&id2, "2").await;
    assert_eq!(std::fs::read_to_string(&file).unwrap(), first_text);
    let record = lab
        .journal
        .load(&OperationId("restore-rollback".to_owned()))
        .unwrap()
        .unwrap();
    let change = record.override_change.unwrap();
    assert_eq!(
        (change.file.as_path(), change.before.as_str()),
        (file.as_path(), second_text.as_str())
    );
    assert_eq!(change.after, first_text);
    // The owner's files are untouched; their next `up` with Unity's override keeps the first.
    let owner_text = std::fs::read_to_string(&lab.file).unwrap();
    assert!(owner_text.contains(&format!("image: {}\n", lab.reference)));
    owner_up(&lab, &[&lab.file, &file]).await;
    lab.assert_runs(&id2, "2").await;
    let image = lab.inspect().await.config.unwrap().image;
    assert_eq!(image.as_deref(), Some(first.as_str()));

    // The version from before any override: compose runs the owner's tag again.
    let oldest = backup::list(lab.data.path(), &blocking(|| lab.web()))
        .unwrap()
        .pop()
        .unwrap();
    let result = restore(&lab, "restore-oldest", &oldest).await;
    assert_eq!(result.outcome, Outcome::Succeeded, "{result:#?}");
    lab.assert_runs(&id1, "1").await;
    let emptied = std::fs::read_to_string(&file).unwrap();
    assert_eq!(emptied, "version: \"3.8\"\nservices: {}\n");
    owner_up(&lab, &[&lab.file, &file]).await;
    lab.assert_runs(&id1, "1").await;
    owner_up(&lab, &[&lab.file]).await;
    lab.assert_runs(&id1, "1").await;
    let image = lab.inspect().await.config.unwrap().image;
    assert_eq!(image.as_deref(), Some(lab.reference.as_str()));

    // A crash after a validated restore, before the override was written: recovery writes it.
    let mut record = Record::new(
        &OperationId("restore-crashed".to_owned()),
        &blocking(|| lab.web()),
    );
    record.step = Step::Validated;
    record.override_change = Some(OverrideChange {
        file: file.clone(),
        before: emptied.clone(),
        after: first_text.clone(),
    });
    lab.journal.save(&record).unwrap();
    let settings = super::data_rollback::Settings {
        data_dir: lab.data.path(),
        policy: super::data_restore::Policy::Auto,
        stop_grace: Duration::from_secs(3),
    };
    let result = recovery::recover_one(&lab.bollard, &lab.journal, record, &settings)
        .await
        .unwrap();
    assert_eq!(result.outcome, Outcome::Succeeded, "{result:#?}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), first_text);
    assert!(!crate::fsutil::temporary_path(&file).exists());
}
