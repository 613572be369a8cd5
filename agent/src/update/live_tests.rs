//! The executor against real engines started per test through `unity-testbed` (dockerd and
//! `podman system service`), with images built locally from busybox (no registry: the "pull" of
//! a local tag fails and the local image is used, as documented).
//!
//! The container `web` runs `localhost/app:1` (`ENV FOO=old`, a HEALTHCHECK) on two user
//! networks with aliases, with a bind mount, a named volume, a published port and `BAR=x`.

#![allow(clippy::indexing_slicing)]

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;
use unity_testbed::image::ImportBusybox as _;

use bollard::models::{ContainerInspectResponse, RestartPolicy, RestartPolicyNameEnum};
use unity_shared::model::update::{
    CommandResult, HealthPolicy, OperationId, Outcome, RegistryAuth, Stage, UpdateRequest,
};
use unity_testbed::engine::{ContainerEngine, Dockerd, EngineKind, Podman};
use unity_testbed::registry::{Auth, Registry};

use super::context::OperationContext;
use super::engine::{Bollard, Engine};
use super::executor;
use super::journal::{Journal, Record, Step};
use super::recovery;
use super::{backup, failed, plan};

/// Runs blocking testbed calls without starving the runtime.
pub(super) fn blocking<T>(f: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(f)
}

fn build(engine: &dyn ContainerEngine, tag: &str, env_foo: &str, health_file: &str) {
    let dir = tempfile::tempdir().unwrap();
    let dockerfile = format!(
        "FROM localhost/busybox:latest\nENV FOO={env_foo} PATH=/{env_foo}/bin:/bin\nLABEL version={tag:?}\n\
         HEALTHCHECK --interval=1s --timeout=2s --retries=1 CMD test -f {health_file}\n\
         CMD [\"sh\", \"-c\", \"trap 'exit 0' TERM; touch /tmp/ok; sleep 600 & wait\"]\n"
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

/// An engine with the images, networks, volume and the running `web`.
pub(super) struct Lab {
    /// Dropping it stops the engine.
    pub(super) engine: Box<dyn ContainerEngine>,
    pub(super) bollard: Bollard,
    data: tempfile::TempDir,
    journal: Journal,
    bind: PathBuf,
    port: u16,
}

impl Lab {
    pub(super) async fn start(kind: EngineKind) -> Lab {
        let engine: Box<dyn ContainerEngine> = blocking(|| match kind {
            EngineKind::Docker => Box::new(Dockerd::start()) as Box<dyn ContainerEngine>,
            EngineKind::Podman => Box::new(Podman::start()),
        });
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let bind = engine.dir().join("bind");
        std::fs::create_dir_all(&bind).unwrap();
        blocking(|| {
            engine.import_busybox().unwrap();
            build(&*engine, "localhost/app:1", "old", "/tmp/ok");
            build(&*engine, "localhost/app:2", "new", "/tmp/ok");
            build(&*engine, "localhost/app:bad", "new", "/tmp/never");
            engine.create_network("front").unwrap();
            engine.create_network("back").unwrap();
            engine.cli(&["volume", "create", "data"]).unwrap();
            let publish = format!("127.0.0.1:{port}:8080");
            let volume = format!("{}:/bind:ro", bind.display());
            let args = [
                "create",
                "--name",
                "web",
                "--network",
                "front",
                "--network-alias",
                "web-front",
                "-e",
                "BAR=x",
                "-p",
                &publish,
                "-v",
                &volume,
                "-v",
                "data:/data",
                "--restart",
                "unless-stopped",
                "localhost/app:1",
            ];
            engine.cli(&args).unwrap();
            engine
                .cli(&["network", "connect", "--alias", "api", "back", "web"])
                .unwrap();
            engine.cli(&["start", "web"]).unwrap();
        });
        let connected =
            crate::collect::containers::connect(engine.socket_path(), Duration::from_secs(30))
                .await
                .unwrap();
        let data = tempfile::tempdir().unwrap();
        let journal = Journal::open(data.path()).unwrap();
        Lab {
            engine,
            bollard: Bollard::new(connected),
            data,
            journal,
            bind,
            port,
        }
    }

    /// The agent's data directory of this lab.
    pub(super) fn data_dir(&self) -> &std::path::Path {
        self.data.path()
    }

    pub(super) fn ctx(&self) -> OperationContext<'_, Bollard> {
        OperationContext {
            stop_grace: Duration::from_secs(3),
            ..OperationContext::new(&self.bollard, &self.journal, self.data.path())
        }
    }

    pub(super) async fn inspect(&self, name: &str) -> ContainerInspectResponse {
        self.bollard
            .inspect_container(name)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{name} is missing"))
    }

    pub(super) async fn update(&self, id: &str, image: &str) -> CommandResult {
        self.update_with(id, image, None).await
    }

    async fn update_with(
        &self,
        id: &str,
        image: &str,
        auth: Option<RegistryAuth>,
    ) -> CommandResult {
        let request = UpdateRequest {
            id: OperationId(id.to_owned()),
            container: "web".to_owned(),
            image: image.to_owned(),
            auth,
            health: policy(),
            force: false,
            volume_archive_limit_bytes: Some(10 << 20),
            vulnerability_gate: None,
        };
        let mut stages = Vec::new();
        let result = executor::update(&self.ctx(), &request, |stage, _| stages.push(stage)).await;
        assert_eq!(stages.last(), Some(&Stage::Done), "{result:#?}");
        result
    }

    /// Updates `web` to `image` through the vulnerability gate, with the scanners in `scan`
    /// (issue 17 §2).
    pub(super) async fn update_gated(
        &self,
        id: &str,
        image: &str,
        gate: unity_shared::model::scan::VulnerabilityGate,
        scan: super::scan::ScanSettings,
    ) -> CommandResult {
        let request = UpdateRequest {
            id: OperationId(id.to_owned()),
            container: "web".to_owned(),
            image: image.to_owned(),
            auth: None,
            health: policy(),
            force: false,
            volume_archive_limit_bytes: None,
            vulnerability_gate: Some(gate),
        };
        let ctx = OperationContext { scan, ..self.ctx() };
        executor::update(&ctx, &request, |_, _| {}).await
    }

    /// `web` runs `image` with the lab's configuration (networks, aliases, mounts, port, env).
    async fn assert_web(&self, image: &str, foo: &str) {
        self.assert_web_built_as(image, foo, image).await;
    }

    /// As [`Lab::assert_web`], for an image pushed under another name than it was built as.
    pub(super) async fn assert_web_built_as(&self, image: &str, foo: &str, built_as: &str) {
        let web = self.inspect("web").await;
        let config = web.config.clone().unwrap();
        assert_eq!(config.image.as_deref(), Some(image));
        assert_eq!(
            web.state.as_ref().unwrap().running,
            Some(true),
            "{:?}",
            web.state
        );
        let env = config.env.unwrap();
        for wanted in [
            format!("FOO={foo}"),
            "BAR=x".to_owned(),
            format!("PATH=/{foo}/bin:/bin"),
        ] {
            assert!(env.contains(&wanted), "{wanted} not in {env:?}");
        }
        assert_eq!(
            env.iter().filter(|entry| entry.starts_with("FOO=")).count(),
            1,
            "{env:?}"
        );
        let version = config.labels.unwrap_or_default().get("version").cloned();
        assert_eq!(version.as_deref(), Some(built_as));
        let host = web.host_config.clone().unwrap();
        let restart = host.restart_policy.clone().and_then(|policy| policy.name);
        assert_eq!(restart, Some(RestartPolicyNameEnum::UNLESS_STOPPED));
        let binds = host.binds.unwrap_or_default().join(" ");
        assert!(
            binds.contains(&format!("{}:/bind:ro", self.bind.display())),
            "{binds}"
        );
        assert!(binds.contains("data:/data"), "{binds}");
        let ports = host.port_bindings.unwrap();
        let binding = &ports["8080/tcp"].as_ref().unwrap()[0];
        assert_eq!(binding.host_port, Some(self.port.to_string()));
        let networks: HashMap<_, _> = web.network_settings.unwrap().networks.unwrap();
        let aliases = |name: &str| networks[name].aliases.clone().unwrap_or_default();
        assert!(
            aliases("front").contains(&"web-front".to_owned()),
            "{networks:?}"
        );
        assert!(aliases("back").contains(&"api".to_owned()), "{networks:?}");
    }
}

fn policy() -> HealthPolicy {
    HealthPolicy {
        timeout_ms: 20_000,
        start_grace_ms: 1_500,
        stability_ms: 1_000,
        poll_interval_ms: 250,
        probe: None,
    }
}

async fn healthy_update_then_manual_rollback(kind: EngineKind) {
    let lab = Lab::start(kind).await;
    let old_id = lab.inspect("web").await.id;
    blocking(|| {
        lab.engine
            .cli(&["exec", "web", "sh", "-c", "echo kept > /data/marker"])
            .unwrap()
    });
    let result = lab.update("up-1", "localhost/app:2").await;
    assert_eq!(result.outcome, Outcome::Succeeded, "{result:#?}");
    // The volume was archived with the backup.
    let saved = backup::newest(lab.data.path(), "web").unwrap().unwrap();
    let archive = lab
        .data
        .path()
        .join("backups/web")
        .join(format!("{}-data.tar.gz", saved.taken_at_ms));
    assert_eq!(
        saved.volume_archives,
        [format!("{}-data.tar.gz", saved.taken_at_ms)]
    );
    let spec = crate::exec::CommandSpec::new("tar", &["-tzf", &archive.to_string_lossy()]);
    let listing = crate::exec::run(&spec, Duration::from_secs(30))
        .await
        .unwrap()
        .stdout_lossy();
    assert!(listing.lines().any(|line| line == "./marker"), "{listing}");
    // The stale `FOO=old` and `PATH` of the old image did not leak; `BAR=x` was kept.
    lab.assert_web("localhost/app:2", "new").await;
    assert_ne!(lab.inspect("web").await.id, old_id);
    assert!(lab
        .bollard
        .inspect_container("web-unity-old-up-1")
        .await
        .unwrap()
        .is_none());
    assert_eq!(backup::list(lab.data.path(), "web").unwrap().len(), 1);

    // A retry of the same id answers from the journal without running again.
    let again = lab.update("up-1", "localhost/app:2").await;
    assert_eq!(again, result);

    let mut stages = Vec::new();
    let ctx = lab.ctx();
    let id = OperationId("rb-1".to_owned());
    let rolled = executor::rollback(&ctx, &id, "web", |stage, _| stages.push(stage)).await;
    assert_eq!(rolled.outcome, Outcome::Succeeded, "{rolled:#?}");
    lab.assert_web("localhost/app:1", "old").await;
}

async fn failing_healthcheck_rolls_back(kind: EngineKind) {
    let lab = Lab::start(kind).await;
    let old_id = lab.inspect("web").await.id;
    let result = lab.update("up-bad", "localhost/app:bad").await;
    assert_eq!(result.outcome, Outcome::RolledBack, "{result:#?}");
    assert!(
        result
            .log
            .iter()
            .any(|line| line.stage == Stage::RollingBack),
        "{result:#?}"
    );
    assert_eq!(lab.inspect("web").await.id, old_id);
    lab.assert_web("localhost/app:1", "old").await;
    let bad_id = result.new_image_id.clone().unwrap();
    assert!(failed::is_failed(lab.data.path(), "web", &bad_id).unwrap());
    // Not retried automatically.
    let retry = lab.update("up-bad-2", "localhost/app:bad").await;
    assert_eq!(retry.outcome, Outcome::Refused, "{retry:#?}");
    assert_eq!(lab.inspect("web").await.id, old_id);
}

/// Drives an update by hand to `step` (as the executor would have got there), then recovers.
async fn crash_at(lab: &Lab, step: Step, n: usize) {
    let id = OperationId(format!("crash-{n}"));
    let old = lab.inspect("web").await;
    let old_image = lab
        .bollard
        .inspect_image("localhost/app:1")
        .await
        .unwrap()
        .unwrap();
    let new_image = lab
        .bollard
        .inspect_image("localhost/app:2")
        .await
        .unwrap()
        .unwrap();
    let plan = plan::plan(&old, &old_image, &new_image, "localhost/app:2").unwrap();
    let mut record = Record::new(&id, "web");
    record.old_id = old.id.clone();
    record.old_was_running = true;
    record.old_restart_policy = old
        .host_config
        .as_ref()
        .and_then(|host| host.restart_policy.clone());
    record.step = step;
    lab.journal.save(&record).unwrap();
    let engine = &lab.bollard;
    if step >= Step::OldRenamed {
        engine.rename("web", &record.parked_name).await.unwrap();
        engine
            .stop(&record.parked_name, Duration::from_secs(1))
            .await
            .unwrap();
        let parked = RestartPolicy {
            name: Some(RestartPolicyNameEnum::NO),
            maximum_retry_count: None,
        };
        engine
            .set_restart_policy(&record.parked_name, parked)
            .await
            .unwrap();
    }
    if step >= Step::NewCreated {
        engine.create("web", plan.create).await.unwrap();
        for (network, settings) in plan.connect {
            engine
                .connect_network(&network, "web", settings)
                .await
                .unwrap();
        }
    }
    if step >= Step::NewStarted {
        engine.start("web").await.unwrap();
    }
    if step >= Step::OldRemoved && step != Step::RollingBack {
        engine.remove(&record.parked_name).await.unwrap();
    }
    let settings = super::data_rollback::Settings {
        data_dir: lab.data.path(),
        policy: super::data_restore::Policy::Auto,
        stop_grace: Duration::from_secs(1),
    };
    let results = recovery::recover(engine, &lab.journal, &settings)
        .await
        .unwrap();
    assert_eq!(results.len(), 1, "{step:?}: {results:?}");
    let validated = matches!(step, Step::Validated | Step::OldRemoved);
    let (image, foo) = if validated {
        ("localhost/app:2", "new")
    } else {
        ("localhost/app:1", "old")
    };
    lab.assert_web(image, foo).await;
    assert!(
        engine
            .inspect_container(&record.parked_name)
            .await
            .unwrap()
            .is_none(),
        "{step:?}"
    );
    assert!(recovery::recover(engine, &lab.journal, &settings)
        .await
        .unwrap()
        .is_empty());
    if validated {
        // Back to the old version for the next round, through a restore of this backup.
        let saved = backup::BackupFile {
            container: "web".to_owned(),
            taken_at_ms: n as u64,
            image_ref: "localhost/app:1".to_owned(),
            image_id: old_image.id.clone().unwrap(),
            inspect: serde_json::to_value(&old).unwrap(),
            volume_archives: Vec::new(),
            dump: None,
            rdb_target: None,
        };
        backup::save(lab.data.path(), &saved).unwrap();
        let restore_id = OperationId(format!("restore-{n}"));
        let restored = executor::restore(
            &lab.ctx(),
            &restore_id,
            "web",
            &saved.file_name(),
            policy(),
            |_, _| {},
        )
        .await;
        assert_eq!(restored.outcome, Outcome::Succeeded, "{restored:#?}");
        lab.assert_web("localhost/app:1", "old").await;
    }
}

async fn recovery_at_every_step(kind: EngineKind) {
    let lab = Lab::start(kind).await;
    let steps = [
        Step::Planned,
        Step::Pulled,
        Step::BackedUp,
        Step::OldRenamed,
        Step::NewCreated,
        Step::NewStarted,
        Step::RollingBack,
        Step::Validated,
        Step::OldRemoved,
    ];
    for (n, step) in steps.into_iter().enumerate() {
        crash_at(&lab, step, n).await;
    }
}

/// A real pull from a registry with Basic auth, with credentials for that pull only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_pull_with_one_time_credentials() {
    let lab = Lab::start(EngineKind::Docker).await;
    let registry = blocking(|| {
        Registry::start(Auth::Basic {
            user: "lab".to_owned(),
            pass: "secret".to_owned(),
        })
    });
    let image = format!("{}/lab/app:2", registry.host());
    blocking(|| {
        let engine = &lab.engine;
        engine
            .cli(&["login", "-u", "lab", "-p", "secret", &registry.host()])
            .unwrap();
        engine.cli(&["tag", "localhost/app:2", &image]).unwrap();
        engine.cli(&["push", &image]).unwrap();
        engine.cli(&["logout", &registry.host()]).unwrap();
        engine.cli(&["rmi", &image]).unwrap();
    });
    let auth = |password: &str| RegistryAuth {
        username: "lab".to_owned(),
        password: password.to_owned(),
        server: registry.host(),
    };
    let refused = lab.update_with("pull-1", &image, Some(auth("wrong"))).await;
    assert_eq!(refused.outcome, Outcome::Refused, "{refused:#?}");
    assert!(refused.message.contains("pull failed"), "{refused:#?}");
    lab.assert_web("localhost/app:1", "old").await;

    let result = lab
        .update_with("pull-2", &image, Some(auth("secret")))
        .await;
    assert_eq!(result.outcome, Outcome::Succeeded, "{result:#?}");
    assert!(
        !result
            .log
            .iter()
            .any(|line| line.message.contains("pull failed")),
        "{result:#?}"
    );
    lab.assert_web_built_as(&image, "new", "localhost/app:2")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_healthy_update_then_manual_rollback() {
    healthy_update_then_manual_rollback(EngineKind::Docker).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn podman_healthy_update_then_manual_rollback() {
    healthy_update_then_manual_rollback(EngineKind::Podman).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_failing_healthcheck_rolls_back() {
    failing_healthcheck_rolls_back(EngineKind::Docker).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn podman_failing_healthcheck_rolls_back() {
    failing_healthcheck_rolls_back(EngineKind::Podman).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_recovery_at_every_journal_step() {
    recovery_at_every_step(EngineKind::Docker).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn podman_recovery_at_every_journal_step() {
    recovery_at_every_step(EngineKind::Podman).await;
}
