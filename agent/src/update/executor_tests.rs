//! The executor's refusals, without an engine: a fake one that knows some containers and
//! images, cannot pull, and fails every change (so a test that reaches a change fails loudly).

use std::collections::HashMap;
use std::time::Duration;

use bollard::models::{
    ContainerConfig, ContainerCreateBody, ContainerInspectResponse, EndpointSettings, HostConfig,
    ImageInspect, MountPoint, RestartPolicy,
};
use unity_shared::model::container::EngineKind;
use unity_shared::model::update::{
    CommandResult, HealthPolicy, OperationId, Outcome, RegistryAuth, UpdateRequest,
};

use super::context::OperationContext;
use super::engine::{Engine, EngineError};
use super::executor;
use super::journal::{Journal, Record};

#[derive(Default)]
pub(super) struct Fake {
    /// How many containers were inspected (what a recovery does first and last).
    pub(super) inspections: std::sync::atomic::AtomicUsize,
    containers: HashMap<String, ContainerInspectResponse>,
    images: HashMap<String, ImageInspect>,
    volumes: HashMap<String, std::path::PathBuf>,
}

fn refused(operation: &str) -> Result<(), EngineError> {
    Err(EngineError::Socket {
        operation: operation.to_owned(),
        message: "the fake engine changes nothing".to_owned(),
    })
}

impl Engine for Fake {
    fn kind(&self) -> EngineKind {
        EngineKind::Docker
    }
    async fn inspect_container(
        &self,
        name: &str,
    ) -> Result<Option<ContainerInspectResponse>, EngineError> {
        self.inspections
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(self.containers.get(name).cloned())
    }
    async fn inspect_image(&self, reference: &str) -> Result<Option<ImageInspect>, EngineError> {
        Ok(self.images.get(reference).cloned())
    }
    async fn pull(&self, reference: &str, _: Option<&RegistryAuth>) -> Result<(), EngineError> {
        refused(&format!("pull {reference}"))
    }
    async fn create(&self, name: &str, _: ContainerCreateBody) -> Result<String, EngineError> {
        refused(&format!("create {name}")).map(|()| String::new())
    }
    async fn rename(&self, from: &str, _: &str) -> Result<(), EngineError> {
        refused(&format!("rename {from}"))
    }
    async fn start(&self, name: &str) -> Result<(), EngineError> {
        refused(&format!("start {name}"))
    }
    async fn stop(&self, name: &str, _: Duration) -> Result<(), EngineError> {
        refused(&format!("stop {name}"))
    }
    async fn restart(&self, name: &str, _: Duration) -> Result<(), EngineError> {
        refused(&format!("restart {name}"))
    }
    async fn remove(&self, name: &str) -> Result<(), EngineError> {
        refused(&format!("remove {name}"))
    }
    async fn connect_network(
        &self,
        network: &str,
        _: &str,
        _: EndpointSettings,
    ) -> Result<(), EngineError> {
        refused(&format!("connect {network}"))
    }
    async fn run_healthcheck(&self, _: &str) -> Result<(), EngineError> {
        Ok(())
    }
    async fn set_restart_policy(&self, name: &str, _: RestartPolicy) -> Result<(), EngineError> {
        refused(&format!("update {name}"))
    }
    async fn volume_mountpoint(
        &self,
        name: &str,
    ) -> Result<Option<std::path::PathBuf>, EngineError> {
        Ok(self.volumes.get(name).cloned())
    }
    async fn remove_image(&self, id: &str) -> Result<(), EngineError> {
        refused(&format!("remove image {id}"))
    }
    async fn tag_image(&self, id: &str, _: &str) -> Result<(), EngineError> {
        refused(&format!("tag image {id}"))
    }
    async fn container_logs(&self, name: &str, _: usize, _: usize) -> Result<Vec<u8>, EngineError> {
        refused(&format!("logs of {name}")).map(|()| Vec::new())
    }
}

/// `web` runs image `sha256:1`, with these labels.
pub(super) fn fake(labels: &[(&str, &str)]) -> Fake {
    let labels = labels
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let web = ContainerInspectResponse {
        id: Some("c1".to_owned()),
        image: Some("sha256:1".to_owned()),
        host_config: Some(HostConfig::default()),
        config: Some(ContainerConfig {
            labels: Some(labels),
            ..ContainerConfig::default()
        }),
        ..ContainerInspectResponse::default()
    };
    let image = ImageInspect {
        id: Some("sha256:1".to_owned()),
        ..ImageInspect::default()
    };
    Fake {
        inspections: Default::default(),
        containers: HashMap::from([("web".to_owned(), web)]),
        images: HashMap::from([("sha256:1".to_owned(), image)]),
        volumes: HashMap::new(),
    }
}

fn request(id: &str, image: &str) -> UpdateRequest {
    UpdateRequest {
        id: OperationId(id.to_owned()),
        container: "web".to_owned(),
        image: image.to_owned(),
        auth: None,
        health: HealthPolicy::default(),
        force: false,
        volume_archive_limit_bytes: None,
        vulnerability_gate: None,
    }
}

async fn update(
    engine: &Fake,
    journal: &Journal,
    dir: &std::path::Path,
    request: &UpdateRequest,
) -> CommandResult {
    let ctx = OperationContext::new(engine, journal, dir);
    executor::update(&ctx, request, |_, _| {}).await
}

#[track_caller]
fn check(result: &CommandResult, outcome: Outcome, message_part: &str) {
    assert_eq!(result.outcome, outcome, "{result:#?}");
    assert!(result.message.contains(message_part), "{result:#?}");
}

#[tokio::test]
async fn refusals_change_nothing_and_are_stored_by_id() {
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::open(dir.path()).unwrap();
    let engine = fake(&[]);
    let result = update(&engine, &journal, dir.path(), &request("a", "app:2")).await;
    check(&result, Outcome::Refused, "pull failed");
    // The retry answers from the journal, even though the image would be there now.
    let mut engine = engine;
    engine
        .images
        .insert("app:2".to_owned(), ImageInspect::default());
    assert_eq!(
        update(&engine, &journal, dir.path(), &request("a", "app:2")).await,
        result
    );

    let mut missing = request("b", "app:2");
    missing.container = "db".to_owned();
    check(
        &update(&engine, &journal, dir.path(), &missing).await,
        Outcome::Refused,
        "no container named db",
    );
}

#[tokio::test]
async fn a_repeat_of_a_running_operation_waits_for_its_result() {
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::open(dir.path()).unwrap();
    let engine = fake(&[]);
    let id = OperationId("a".to_owned());
    // The first run holds the id (its stream went away with the connection); the controller
    // sends the same operation again.
    assert!(journal.claim(&id));
    let finish_first_run = async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let mut record = Record::new(&id, "web");
        let mut first = super::context::result(&id, "web");
        first.outcome = Outcome::RolledBack;
        first.message = "health check failed; rolled back".to_owned();
        record.result = Some(first);
        journal.save(&record).unwrap();
        journal.release(&id);
    };
    let repeat_request = request("a", "app:2");
    let (repeat, ()) = tokio::join!(
        update(&engine, &journal, dir.path(), &repeat_request),
        finish_first_run
    );
    // The repeat answers with the first run's result: not "refused", and not a second run.
    check(
        &repeat,
        Outcome::RolledBack,
        "health check failed; rolled back",
    );
    assert!(!journal.is_running(&id));
}

#[tokio::test]
async fn busy_containers_are_refused_without_storing() {
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::open(dir.path()).unwrap();
    let engine = fake(&[]);
    let id = OperationId("a".to_owned());

    // Another operation on `web` that is unfinished (running elsewhere in this process).
    journal.save(&Record::new(&id, "web")).unwrap();
    check(
        &update(&engine, &journal, dir.path(), &request("b", "app:2")).await,
        Outcome::Refused,
        "operation a on web is not finished",
    );
    assert_eq!(journal.load(&OperationId("b".to_owned())).unwrap(), None);
}

#[tokio::test]
async fn failed_candidates_and_the_same_image_are_not_applied() {
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::open(dir.path()).unwrap();
    let mut engine = fake(&[]);
    let digest = "app@sha256:2";
    engine.images.insert(
        digest.to_owned(),
        ImageInspect {
            id: Some("sha256:2".to_owned()),
            ..ImageInspect::default()
        },
    );
    engine.images.insert(
        "app@sha256:1".to_owned(),
        ImageInspect {
            id: Some("sha256:1".to_owned()),
            ..ImageInspect::default()
        },
    );
    check(
        &update(
            &engine,
            &journal,
            dir.path(),
            &request("same", "app@sha256:1"),
        )
        .await,
        Outcome::Succeeded,
        "already runs",
    );
    super::failed::mark(dir.path(), "web", "sha256:2").unwrap();
    check(
        &update(&engine, &journal, dir.path(), &request("a", digest)).await,
        Outcome::Refused,
        "failed before",
    );
    // With force it goes on, to the first change (which the fake refuses).
    let mut forced = request("b", digest);
    forced.force = true;
    check(
        &update(&engine, &journal, dir.path(), &forced).await,
        Outcome::Refused,
        "cannot rename web",
    );
}

#[tokio::test]
async fn compose_services_refuse_a_new_tag_naming_the_line_to_change() {
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::open(dir.path()).unwrap();
    let file = dir.path().join("compose.yaml");
    std::fs::write(&file, "services:\n  web:\n    image: \"app:1\"\n").unwrap();
    let file = file.to_string_lossy().into_owned();
    let labels = [
        ("com.docker.compose.project", "lab"),
        ("com.docker.compose.service", "web"),
        ("com.docker.compose.project.config_files", file.as_str()),
    ];
    let mut engine = fake(&labels);
    let web = engine.containers.get_mut("web").unwrap();
    web.config.as_mut().unwrap().image = Some("app:1".to_owned());
    let result = update(&engine, &journal, dir.path(), &request("a", "app:2")).await;
    let expected = format!(
        "web is managed by docker-compose ({file}): change its image to app:2 there \
         (line 3: `image: app:1`), or update by digest"
    );
    check(&result, Outcome::Refused, &expected);
    // Another repository by digest is a new image too.
    let result = update(
        &engine,
        &journal,
        dir.path(),
        &request("b", "other@sha256:2"),
    )
    .await;
    check(
        &result,
        Outcome::Refused,
        "change its image to other@sha256:2",
    );
}

#[tokio::test]
async fn volume_archives_respect_the_size_limit() {
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::open(dir.path()).unwrap();
    let volume = dir.path().join("volume");
    std::fs::create_dir_all(volume.join("sub")).unwrap();
    std::fs::write(volume.join("sub/file"), [7u8; 100]).unwrap();
    let mut engine = fake(&[]);
    engine.volumes.insert("data".to_owned(), volume);
    let web = engine.containers.get_mut("web").unwrap();
    web.mounts = Some(vec![MountPoint {
        typ: Some("volume".to_owned()),
        name: Some("data".to_owned()),
        destination: Some("/data".to_owned()),
        ..MountPoint::default()
    }]);
    engine.images.insert(
        "app@sha256:2".to_owned(),
        ImageInspect {
            id: Some("sha256:2".to_owned()),
            ..ImageInspect::default()
        },
    );
    let mut small = request("a", "app@sha256:2");
    small.volume_archive_limit_bytes = Some(99);
    check(
        &update(&engine, &journal, dir.path(), &small).await,
        Outcome::Refused,
        "more than 99 bytes",
    );
    let mut fits = request("b", "app@sha256:2");
    fits.volume_archive_limit_bytes = Some(100);
    let result = update(&engine, &journal, dir.path(), &fits).await;
    // Archived, then the fake refuses the first change.
    check(&result, Outcome::Refused, "cannot rename web");
    let saved = super::backup::newest(dir.path(), "web").unwrap().unwrap();
    let [archive] = saved.volume_archives.as_slice() else {
        panic!("{saved:?}")
    };
    let path = dir.path().join("backups/web").join(archive);
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(path).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);
}
