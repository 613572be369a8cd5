//! Updates of a compose service through the compose CLI, against a real dockerd and a loopback
//! registry started by `unity-testbed`. The project `lab` has one service, `web`, whose image
//! `<registry>/lab/app:1` is pushed again with other contents (same tag), and which gets
//! `FROM_ENV_FILE=kept` from an `env_file:` that a clone through the API would not know about.

#![allow(clippy::indexing_slicing)]

use std::path::{Path, PathBuf};
use std::time::Duration;
use unity_testbed::image::ImportBusybox as _;

use bollard::models::ContainerInspectResponse;
use unity_shared::model::update::{
    CommandResult, HealthPolicy, OperationId, Outcome, Stage, UpdateRequest,
};
use unity_testbed::engine::{require, ContainerEngine, Dockerd};
use unity_testbed::image::{build, ImageBuild};
use unity_testbed::registry::{Auth, Registry};

use super::compose::ComposeService;
use super::context::OperationContext;
use super::engine::{Bollard, Engine};
use super::executor;
use super::failed;
use super::journal::{Journal, Record, Step};
use super::recovery;
use crate::exec::{self, CommandSpec};

pub(super) fn blocking<T>(f: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(f)
}

pub(super) fn policy() -> HealthPolicy {
    HealthPolicy {
        timeout_ms: 20_000,
        start_grace_ms: 1_500,
        stability_ms: 1_000,
        poll_interval_ms: 250,
        probe: None,
    }
}

/// Builds `reference` (`VERSION=<version>`, healthy when `health_file` exists), pushes it and
/// returns its id.
pub(super) fn build_and_push(
    engine: &Dockerd,
    reference: &str,
    version: &str,
    health_file: &str,
) -> String {
    let spec = ImageBuild::new(reference)
        .env("VERSION", version)
        .healthcheck(&format!("test -f {health_file}"), "1s")
        .cmd(&[
            "sh",
            "-c",
            "trap 'exit 0' TERM; touch /tmp/ok; sleep 600 & wait",
        ]);
    let id = build(engine, &spec).unwrap();
    engine.cli(&["push", reference]).unwrap();
    id
}

pub(super) struct Lab {
    pub(super) engine: Dockerd,
    pub(super) registry: Registry,
    pub(super) bollard: Bollard,
    pub(super) data: tempfile::TempDir,
    pub(super) journal: Journal,
    pub(super) project: tempfile::TempDir,
    pub(super) file: PathBuf,
    pub(super) reference: String,
}

impl Lab {
    pub(super) async fn start() -> (Lab, String) {
        let docker_compose = require("docker-compose", "docker-compose").unwrap();
        let (engine, registry) = blocking(|| {
            let engine = Dockerd::start();
            engine.import_busybox().unwrap();
            (engine, Registry::start(Auth::Anonymous))
        });
        let reference = format!("{}/lab/app:1", registry.host());
        let old_id = blocking(|| build_and_push(&engine, &reference, "1", "/tmp/ok"));
        let project = tempfile::tempdir().unwrap();
        let file = project.path().join("docker-compose.yml");
        let yaml = format!(
            "version: \"3.8\"\nservices:\n  web:\n    image: {reference}\n    env_file: app.env\n    \
             restart: unless-stopped\n"
        );
        std::fs::write(&file, yaml).unwrap();
        std::fs::write(project.path().join("app.env"), "FROM_ENV_FILE=kept\n").unwrap();
        let file_arg = file.to_string_lossy().into_owned();
        let spec = CommandSpec::new(&docker_compose, &["-p", "lab", "-f", &file_arg, "up", "-d"])
            .env("DOCKER_HOST", &engine.docker_host())
            .current_dir(project.path());
        let output = exec::run(&spec, Duration::from_secs(120)).await.unwrap();
        assert_eq!(
            output.exit_code,
            Some(0),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let connected =
            crate::collect::containers::connect(engine.socket_path(), Duration::from_secs(30))
                .await
                .unwrap();
        let data = tempfile::tempdir().unwrap();
        let journal = Journal::open(data.path()).unwrap();
        let lab = Lab {
            engine,
            registry,
            bollard: Bollard::new(connected),
            data,
            journal,
            project,
            file,
            reference,
        };
        (lab, old_id)
    }

    /// The service's container name (compose v1 and v2 name it differently).
    pub(super) fn web(&self) -> String {
        let filter = "label=com.docker.compose.service=web";
        let names = self
            .engine
            .cli(&["ps", "-a", "--filter", filter, "--format", "{{.Names}}"])
            .unwrap();
        assert_eq!(names.lines().count(), 1, "{names}");
        names.trim().to_owned()
    }

    pub(super) async fn inspect(&self) -> ContainerInspectResponse {
        let name = blocking(|| self.web());
        self.bollard
            .inspect_container(&name)
            .await
            .unwrap()
            .unwrap()
    }

    /// The service runs `image_id`, with the env file's variable and the project's labels.
    pub(super) async fn assert_runs(&self, image_id: &str, version: &str) {
        let web = self.inspect().await;
        assert_eq!(web.image.as_deref(), Some(image_id));
        assert_eq!(web.state.as_ref().unwrap().running, Some(true));
        let config = web.config.unwrap();
        let env = config.env.unwrap();
        for wanted in [
            "FROM_ENV_FILE=kept".to_owned(),
            format!("VERSION={version}"),
        ] {
            assert!(env.contains(&wanted), "{wanted} not in {env:?}");
        }
        let labels = config.labels.unwrap();
        assert_eq!(labels["com.docker.compose.project"], "lab");
        assert_eq!(labels["com.docker.compose.service"], "web");
    }

    pub(super) async fn update(&self, id: &str, image: &str) -> CommandResult {
        let request = UpdateRequest {
            id: OperationId(id.to_owned()),
            container: blocking(|| self.web()),
            image: image.to_owned(),
            auth: None,
            health: policy(),
            force: false,
            volume_archive_limit_bytes: None,
            vulnerability_gate: None,
        };
        let ctx = OperationContext {
            stop_grace: Duration::from_secs(3),
            ..OperationContext::new(&self.bollard, &self.journal, self.data.path())
        };
        let mut stages = Vec::new();
        let result = executor::update(&ctx, &request, |stage, _| stages.push(stage)).await;
        assert_eq!(stages.last(), Some(&Stage::Done), "{result:#?}");
        result
    }

    /// Builds and pushes a new image under the same tag, then points the local tag back at
    /// `local_id` (as on a host that has not pulled yet); returns the new id.
    /// As [`Lab::update`], through the vulnerability gate with the scanners in `scan`.
    async fn update_gated(
        &self,
        id: &str,
        image: &str,
        gate: unity_shared::model::scan::VulnerabilityGate,
        scan: super::scan::ScanSettings,
    ) -> CommandResult {
        let request = UpdateRequest {
            id: OperationId(id.to_owned()),
            container: blocking(|| self.web()),
            image: image.to_owned(),
            auth: None,
            health: policy(),
            force: false,
            volume_archive_limit_bytes: None,
            vulnerability_gate: Some(gate),
        };
        let ctx = OperationContext {
            stop_grace: Duration::from_secs(3),
            scan,
            ..OperationContext::new(&self.bollard, &self.journal, self.data.path())
        };
        executor::update(&ctx, &request, |_, _| {}).await
    }

    fn push_same_tag(&self, version: &str, health_file: &str, local_id: &str) -> String {
        let id = build_and_push(&self.engine, &self.reference, version, health_file);
        self.engine
            .cli(&["tag", local_id, &self.reference])
            .unwrap();
        id
    }
}

fn said(result: &CommandResult, stage: Stage, part: &str) -> bool {
    result
        .log
        .iter()
        .any(|line| line.stage == stage && line.message.contains(part))
}

/// Issue "Containers II": a compose service is updated through compose, keeping its env file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_compose_service_updates_through_compose() {
    let (lab, id1) = Lab::start().await;
    lab.assert_runs(&id1, "1").await;

    let id2 = blocking(|| lab.push_same_tag("2", "/tmp/ok", &id1));
    let result = lab.update("compose-1", &lab.reference).await;
    assert_eq!(result.outcome, Outcome::Succeeded, "{result:#?}");
    assert!(
        said(&result, Stage::Pulling, "through docker-compose"),
        "{result:#?}"
    );
    assert!(said(
        &result,
        Stage::Stopping,
        "docker-compose up -d --no-deps web"
    ));
    assert!(result.backup.is_some(), "{result:#?}");
    lab.assert_runs(&id2, "2").await;

    // A same-tag image whose HEALTHCHECK fails: rolled back to the previous image.
    let id3 = blocking(|| lab.push_same_tag("3", "/tmp/never", &id2));
    let result = lab.update("compose-2", &lab.reference).await;
    assert_eq!(result.outcome, Outcome::RolledBack, "{result:#?}");
    assert!(said(&result, Stage::RollingBack, "through docker-compose"));
    lab.assert_runs(&id2, "2").await;
    let name = blocking(|| lab.web());
    assert!(failed::is_failed(lab.data.path(), &name, &id3).unwrap());
    let tagged = lab.bollard.inspect_image(&lab.reference).await.unwrap();
    assert_eq!(tagged.unwrap().id.as_deref(), Some(id2.as_str()));

    // A new tag needs the user's compose file changed: refused, naming the file and line.
    let new_tag = lab.reference.replace(":1", ":2");
    let result = lab.update("compose-3", &new_tag).await;
    assert_eq!(result.outcome, Outcome::Refused, "{result:#?}");
    let expected = format!(
        "is managed by docker-compose ({}): change its image to {new_tag} there (line 4: \
         `image: {}`)",
        lab.file.display(),
        lab.reference
    );
    assert!(result.message.contains(&expected), "{result:#?}");
    lab.assert_runs(&id2, "2").await;

    recovery_after_compose_up(&lab, &name, &id2, &id3).await;
}

/// An agent killed after `compose up` ran the bad image: recovery tags the old image back and
/// runs `up` again.
async fn recovery_after_compose_up(lab: &Lab, name: &str, old_id: &str, new_id: &str) {
    let service = ComposeService {
        project: "lab".to_owned(),
        service: "web".to_owned(),
        files: vec![lab.file.clone()],
        working_dir: Some(lab.project.path().to_path_buf()),
        image_ref: lab.reference.clone(),
        old_image_id: old_id.to_owned(),
        override_file: None,
        override_before: None,
    };
    blocking(|| lab.engine.cli(&["tag", new_id, &lab.reference]).unwrap());
    compose_up(lab, lab.project.path()).await;
    lab.assert_runs(new_id, "3").await;
    let mut record = Record::new(&OperationId("crash-compose".to_owned()), name);
    record.step = Step::NewStarted;
    record.compose = Some(service);
    lab.journal.save(&record).unwrap();
    let settings = super::data_rollback::Settings {
        data_dir: lab.data.path(),
        policy: super::data_restore::Policy::Auto,
        stop_grace: Duration::from_secs(3),
    };
    let results = recovery::recover(&lab.bollard, &lab.journal, &settings)
        .await
        .unwrap();
    assert_eq!(results.len(), 1, "{results:?}");
    assert_eq!(results[0].outcome, Outcome::RolledBack, "{results:?}");
    lab.assert_runs(old_id, "2").await;
}

async fn compose_up(lab: &Lab, dir: &Path) {
    let file = lab.file.to_string_lossy().into_owned();
    let spec = CommandSpec::new(
        "docker-compose",
        &["-p", "lab", "-f", &file, "up", "-d", "--no-deps", "web"],
    )
    .env("DOCKER_HOST", &lab.engine.docker_host())
    .current_dir(dir);
    let output = exec::run(&spec, Duration::from_secs(120)).await.unwrap();
    assert_eq!(
        output.exit_code,
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Issue 17: an update by digest runs the checked digest (not a later re-push of its tag) and
/// leaves the tag the compose file names on the image it named.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_17_compose_update_by_digest_keeps_the_files_tag() {
    let (lab, id1) = Lab::start().await;
    let newer = lab.reference.replace(":1", ":2");
    let (id2, digest) = blocking(|| {
        let id2 = build_and_push(&lab.engine, &newer, "2", "/tmp/ok");
        let format = "{{index .RepoDigests 0}}";
        let pushed = lab
            .engine
            .cli(&["image", "inspect", "--format", format, &newer]);
        // Re-pushed after the check with an image that fails its health check.
        build_and_push(&lab.engine, &newer, "3", "/tmp/never");
        lab.engine.cli(&["rmi", "-f", &id2]).unwrap();
        (id2, pushed.unwrap().split_once('@').unwrap().1.to_owned())
    });
    let (repository, _) = newer.rsplit_once(':').unwrap();
    let by_digest = format!("{repository}@{digest}");

    let result = lab.update("compose-digest-1", &by_digest).await;
    assert_eq!(result.outcome, Outcome::Succeeded, "{result:#?}");
    assert_eq!(result.new_image_id.as_deref(), Some(id2.as_str()));
    lab.assert_runs(&id2, "2").await;
    let config = lab.inspect().await.config.unwrap();
    assert_eq!(config.image.as_deref(), Some(by_digest.as_str()));
    let tagged = lab.bollard.inspect_image(&lab.reference).await.unwrap();
    assert_eq!(tagged.unwrap().id.as_deref(), Some(id1.as_str()));
    let owner_file = std::fs::read_to_string(&lab.file).unwrap();
    assert!(owner_file.contains(&format!("image: {}\n", lab.reference)));

    // The owner's own `up` runs what the file names, as it always did.
    compose_up(&lab, lab.project.path()).await;
    lab.assert_runs(&id1, "1").await;
}

/// Issue 17: the controller's request for a re-push of the file's own tag names the checked
/// digest under that tag; a later re-push is not installed, and the tag moves to what was
/// checked (what `compose pull` would have done at the check).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_17_compose_same_tag_update_installs_the_checked_digest() {
    let (lab, id1) = Lab::start().await;
    let link = lab
        .registry
        .dir()
        .join("data/docker/registry/v2/repositories/lab/app/_manifests/tags/1/current/link");
    let (id2, digest) = blocking(|| {
        let id2 = lab.push_same_tag("2", "/tmp/ok", &id1);
        let digest = std::fs::read_to_string(&link).unwrap().trim().to_owned();
        // Re-pushed after the check with an image that fails its health check.
        let id3 = lab.push_same_tag("3", "/tmp/never", &id1);
        lab.engine.cli(&["rmi", "-f", &id2, &id3]).unwrap();
        (id2, digest)
    });
    let checked = format!("{}@{digest}", lab.reference);
    let result = lab.update("compose-pinned-1", &checked).await;
    assert_eq!(result.outcome, Outcome::Succeeded, "{result:#?}");
    assert_eq!(result.new_image_id.as_deref(), Some(id2.as_str()));
    lab.assert_runs(&id2, "2").await;
    let tagged = lab.bollard.inspect_image(&lab.reference).await.unwrap();
    assert_eq!(tagged.unwrap().id.as_deref(), Some(id2.as_str()));
}

/// Issue 17 §2: a compose service's update is gated too: a candidate with more critical
/// vulnerabilities (a fake `trivy` replaying real reports) is refused before anything is
/// touched, and the file's tag still names the old image.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_17_compose_update_is_refused_by_the_vulnerability_gate() {
    use std::os::unix::fs::PermissionsExt as _;
    let (lab, id1) = Lab::start().await;
    let link = lab
        .registry
        .dir()
        .join("data/docker/registry/v2/repositories/lab/app/_manifests/tags/1/current/link");
    let digest = blocking(|| {
        lab.push_same_tag("2", "/tmp/ok", &id1);
        std::fs::read_to_string(&link).unwrap().trim().to_owned()
    });
    let checked = format!("{}@{digest}", lab.reference);
    let (repository, _) = lab.reference.rsplit_once(':').unwrap();
    let candidate_ref = format!("{repository}@{digest}");
    let scanners = tempfile::tempdir().unwrap();
    let dir = scanners.path();
    std::fs::write(
        dir.join("current.json"),
        include_str!("scan/testdata/trivy-image-ubuntu-18.04.json"),
    )
    .unwrap();
    std::fs::write(
        dir.join("candidate.json"),
        include_str!("scan/testdata/trivy-image-debian-buster.json"),
    )
    .unwrap();
    let script = format!(
        "#!/bin/sh\nfor last; do :; done\nif [ \"$last\" = '{candidate_ref}' ]; then cat '{0}/candidate.json'; else cat '{0}/current.json'; fi\n",
        dir.display()
    );
    std::fs::write(dir.join("trivy"), script).unwrap();
    std::fs::set_permissions(dir.join("trivy"), std::fs::Permissions::from_mode(0o755)).unwrap();
    let scan = super::scan::ScanSettings {
        search_path: Some(dir.as_os_str().to_owned()),
        ..super::scan::ScanSettings::defaults(dir)
    };
    let gate = unity_shared::model::scan::VulnerabilityGate {
        threshold: unity_shared::model::scan::GateThreshold::Critical,
        automatic: true,
    };
    let result = lab
        .update_gated("compose-gate-1", &checked, gate, scan)
        .await;
    assert_eq!(result.outcome, Outcome::Refused, "{result:#?}");
    assert_eq!(result.message, "vulnerability gate: 1 more critical");
    assert!(result.backup.is_none(), "{result:#?}");
    lab.assert_runs(&id1, "1").await;
    let tagged = lab.bollard.inspect_image(&lab.reference).await.unwrap();
    assert_eq!(tagged.unwrap().id.as_deref(), Some(id1.as_str()));
}

/// Issue 17: a service that runs from the agent's override (an update by digest without the
/// file's tag) is updated again by digest: the journal keeps the override's text before, the
/// override is rewritten with the new digest, and a failed second update's rollback returns
/// to the first's digest and override text; a healthy one runs from the rewritten override.
/// An image by tag is still refused with what the owner must do, and nothing changes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_17_a_service_running_from_the_override_is_updated_by_digest_again() {
    let (lab, _id1) = Lab::start().await;
    let newer = lab.reference.replace(":1", ":2");
    let (repository, _) = newer.rsplit_once(':').unwrap();
    let pushed_digest = |reference: &str| {
        let format = "{{index .RepoDigests 0}}";
        let pushed = lab
            .engine
            .cli(&["image", "inspect", "--format", format, reference])
            .unwrap();
        pushed.trim().split_once('@').unwrap().1.to_owned()
    };
    let (id2, digest2) = blocking(|| {
        let id2 = build_and_push(&lab.engine, &newer, "2", "/tmp/ok");
        (id2, pushed_digest(&newer))
    });
    let first = format!("{repository}@{digest2}");
    let result = lab.update("compose-override-1", &first).await;
    assert_eq!(result.outcome, Outcome::Succeeded, "{result:#?}");
    lab.assert_runs(&id2, "2").await;
    let file = super::pinned::override_path(lab.data.path(), "lab", "web");
    let first_text = std::fs::read_to_string(&file).unwrap();
    assert!(first_text.contains(&first), "{first_text}");

    // The second update's candidate fails its health check: back to the first's digest.
    let third = lab.reference.replace(":1", ":3");
    let digest3 = blocking(|| {
        build_and_push(&lab.engine, &third, "3", "/tmp/never");
        pushed_digest(&third)
    });
    let second = format!("{repository}@{digest3}");
    let result = lab.update("compose-override-2", &second).await;
    assert_eq!(result.outcome, Outcome::RolledBack, "{result:#?}");
    lab.assert_runs(&id2, "2").await;
    assert_eq!(
        lab.inspect().await.config.unwrap().image.as_deref(),
        Some(first.as_str())
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), first_text);
    let record = lab
        .journal
        .load(&OperationId("compose-override-2".to_owned()))
        .unwrap()
        .unwrap();
    let service = record.compose.unwrap();
    assert_eq!(service.override_file.as_ref(), Some(&file));
    assert_eq!(
        service.override_before.as_deref(),
        Some(first_text.as_str())
    );

    // A healthy third update runs from the rewritten override.
    let fourth = lab.reference.replace(":1", ":4");
    let (id4, digest4) = blocking(|| {
        let id4 = build_and_push(&lab.engine, &fourth, "4", "/tmp/ok");
        (id4, pushed_digest(&fourth))
    });
    let third_update = format!("{repository}@{digest4}");
    let result = lab.update("compose-override-3", &third_update).await;
    assert_eq!(result.outcome, Outcome::Succeeded, "{result:#?}");
    lab.assert_runs(&id4, "4").await;
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains(&third_update), "{text}");

    // A tag is not something Unity writes into the override: refused, with the steps.
    let result = lab.update("compose-override-4", &third).await;
    assert_eq!(result.outcome, Outcome::Refused, "{result:#?}");
    let message = &result.message;
    assert!(
        message.contains(&format!("from Unity's compose override {}", file.display())),
        "{message}"
    );
    assert!(
        message.contains(&format!("delete {}", file.display())),
        "{message}"
    );
    assert!(
        message.contains(&format!("-f {} up -d web`", lab.file.display())),
        "{message}"
    );
    lab.assert_runs(&id4, "4").await;
}
