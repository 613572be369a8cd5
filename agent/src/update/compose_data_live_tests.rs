//! Data-safe rollback of compose services (issue 17 §1) and of an update the agent was killed
//! in (issue 17 §1, recovery): real PostgreSQL and Redis containers from the Debian-package
//! image of `unity_testbed::databases` under a real dockerd, run by the real `docker-compose`.
//! No registry: the new version is the same tag pointed at an image whose entrypoint migrates
//! the data and then fails its health check (what a re-push of the tag looks like to the
//! host), so the compose path's "pull" fails and the local image is used.

#![allow(clippy::indexing_slicing)]

use std::time::Duration;

use unity_shared::model::update::{
    CommandResult, DataSource, HealthPolicy, OperationId, Outcome, Stage, UpdateRequest,
};
use unity_testbed::databases;
use unity_testbed::engine::{require, ContainerEngine, Dockerd};

use super::context::OperationContext;
use super::data_restore::Policy;
use super::dump_live_tests::{build, DbLab, FAILING_HEALTH};
use super::engine::Bollard;
use super::executor;
use super::journal::{Journal, Step};
use super::live_tests::blocking;
use super::{data_rollback, recovery};
use crate::exec::{self, CommandSpec};

fn health() -> HealthPolicy {
    HealthPolicy {
        timeout_ms: 150_000,
        start_grace_ms: 0,
        stability_ms: 2_000,
        poll_interval_ms: 500,
        probe: None,
    }
}

/// A dockerd with `localhost/<kind>:1` (running as compose service `db` of project `lab`,
/// its data in the named volume `dbdata`) and `localhost/<kind>:1-migrating`.
struct ComposeDb {
    engine: Dockerd,
    bollard: Bollard,
    data: tempfile::TempDir,
    journal: Journal,
    _project: tempfile::TempDir,
    kind: &'static str,
}

impl ComposeDb {
    async fn start(kind: &'static str, data_dir: &str, migrate: &str, labels: &[&str]) -> Self {
        let docker_compose = require("docker-compose", "docker-compose").unwrap();
        let engine = blocking(Dockerd::start);
        blocking(|| {
            databases::import(&engine).unwrap();
            let cmd = format!(r#"CMD ["/usr/local/bin/unity-db", "{kind}"]"#);
            build(&engine, &format!("localhost/{kind}:1"), &[&cmd]);
            let migrating = format!("ENV MIGRATE={}", serde_json::Value::from(migrate));
            build(
                &engine,
                &format!("localhost/{kind}:1-migrating"),
                &[&migrating, FAILING_HEALTH, &cmd],
            );
        });
        let project = tempfile::tempdir().unwrap();
        let file = project.path().join("docker-compose.yml");
        let mut yaml = format!(
            "version: \"3.8\"\nservices:\n  db:\n    image: localhost/{kind}:1\n    volumes:\n      \
             - dbdata:{data_dir}\n"
        );
        if !labels.is_empty() {
            yaml.push_str("    labels:\n");
            for label in labels {
                yaml.push_str(&format!("      - \"{label}\"\n"));
            }
        }
        yaml.push_str("volumes:\n  dbdata: {}\n");
        std::fs::write(&file, yaml).unwrap();
        let file_arg = file.to_string_lossy().into_owned();
        let spec = CommandSpec::new(&docker_compose, &["-p", "lab", "-f", &file_arg, "up", "-d"])
            .env("DOCKER_HOST", &engine.docker_host())
            .current_dir(project.path());
        let output = exec::run(&spec, Duration::from_secs(120)).await.unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.exit_code, Some(0), "{stderr}");
        let connected =
            crate::collect::containers::connect(engine.socket_path(), Duration::from_secs(30))
                .await
                .unwrap();
        let data = tempfile::tempdir().unwrap();
        let journal = Journal::open(data.path()).unwrap();
        let lab = ComposeDb {
            engine,
            bollard: Bollard::new(connected),
            data,
            journal,
            _project: project,
            kind,
        };
        lab.wait_ready().await;
        lab
    }

    /// The service's container name.
    fn db(&self) -> String {
        let filter = "label=com.docker.compose.service=db";
        let names = blocking(|| {
            self.engine
                .cli(&["ps", "-a", "--filter", filter, "--format", "{{.Names}}"])
                .unwrap()
        });
        assert_eq!(names.lines().count(), 1, "{names}");
        names.trim().to_owned()
    }

    async fn wait_ready(&self) {
        let name = self.db();
        for _ in 0..300 {
            let ready = blocking(|| {
                self.engine
                    .cli(&["exec", &name, "test", "-f", "/tmp/ready"])
            });
            if ready.is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        panic!("{name} did not get ready");
    }

    fn exec(&self, args: &[&str]) -> String {
        let name = self.db();
        let mut all = vec!["exec", name.as_str()];
        all.extend(args);
        blocking(|| self.engine.cli(&all)).unwrap()
    }

    fn sql(&self, statement: &str) -> String {
        self.exec(&[
            "psql",
            "-X",
            "-At",
            "-h",
            "/var/run/postgresql",
            "-U",
            "postgres",
            "-d",
            "app",
            "-c",
            statement,
        ])
    }

    /// The tag the compose file names now means the migrating image (a re-push, pulled).
    fn repush_migrating(&self) {
        let (from, to) = (
            format!("localhost/{}:1-migrating", self.kind),
            format!("localhost/{}:1", self.kind),
        );
        blocking(|| self.engine.cli(&["tag", &from, &to]).unwrap());
    }

    fn context(&self, policy: Policy) -> OperationContext<'_, Bollard> {
        OperationContext {
            stop_grace: Duration::from_secs(5),
            data_restore: policy,
            ..OperationContext::new(&self.bollard, &self.journal, self.data.path())
        }
    }

    async fn update(&self, id: &str, policy: Policy, archive: Option<u64>) -> CommandResult {
        let request = UpdateRequest {
            id: OperationId(id.to_owned()),
            container: self.db(),
            image: format!("localhost/{}:1", self.kind),
            auth: None,
            health: health(),
            force: false,
            volume_archive_limit_bytes: archive,
            vulnerability_gate: None,
        };
        executor::update(&self.context(policy), &request, |_, _| {}).await
    }

    /// The running service's image id and whether it runs.
    fn runs(&self) -> String {
        let name = self.db();
        blocking(|| {
            self.engine
                .cli(&["inspect", "-f", "{{.Image}} {{.State.Running}}", &name])
                .unwrap()
        })
    }

    fn image_id(&self, reference: &str) -> String {
        blocking(|| {
            self.engine
                .cli(&["image", "inspect", "-f", "{{.Id}}", reference])
                .unwrap()
        })
    }

    fn said(result: &CommandResult, part: &str) -> bool {
        result.log.iter().any(|line| line.message.contains(part))
    }
}

/// Issue 17 §1: a failed compose update of PostgreSQL rolls back through docker-compose with
/// the data put back from the dump (the old server reads `old`, with the old schema); then a
/// manual rollback of the compose service puts the data of its backup back too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_17_compose_postgres_rollback_brings_back_the_old_data() {
    let data_dir = "/var/lib/postgresql/data";
    let migrate = "ALTER TABLE t ADD COLUMN migrated int; UPDATE t SET v = 'new', migrated = 1";
    let lab = ComposeDb::start("postgres", data_dir, migrate, &[]).await;
    lab.sql("CREATE TABLE t (v text); INSERT INTO t VALUES ('old')");
    let old_id = lab.image_id("localhost/postgres:1");
    lab.repush_migrating();

    let result = lab.update("compose-db-1", Policy::Auto, None).await;
    assert_eq!(result.outcome, Outcome::RolledBack, "{result:#?}");
    assert_eq!(result.data_restored, Some(DataSource::Dump), "{result:#?}");
    assert!(
        result
            .message
            .contains("with the data put back from the database dump"),
        "{}",
        result.message
    );
    assert!(
        ComposeDb::said(&result, "through docker-compose"),
        "{result:#?}"
    );
    assert!(
        ComposeDb::said(&result, "psql read the dump back"),
        "{result:#?}"
    );
    assert_eq!(lab.runs(), format!("{old_id} true"));
    assert_eq!(lab.sql("SELECT v FROM t"), "old");
    let columns = "SELECT count(*) FROM information_schema.columns WHERE table_name = 't'";
    assert_eq!(lab.sql(columns), "1");
    // The new version did run on this data: its mark is in the volume.
    lab.exec(&["test", "-f", &format!("{data_dir}/migrated-by-new-version")]);
    // The compose file's tag names the old image again.
    assert_eq!(lab.image_id("localhost/postgres:1"), old_id);

    // A manual rollback of the compose service restores its newest backup, data included.
    lab.sql("INSERT INTO t VALUES ('written after the backup')");
    let ctx = lab.context(Policy::Auto);
    let id = OperationId("compose-db-manual".to_owned());
    let manual = executor::rollback(&ctx, &id, &lab.db(), |_, _| {}).await;
    assert_eq!(manual.outcome, Outcome::Succeeded, "{manual:#?}");
    assert_eq!(manual.data_restored, Some(DataSource::Dump), "{manual:#?}");
    assert_eq!(lab.sql("SELECT string_agg(v, ',') FROM t"), "old");
}

/// Issue 17 §1: a compose Redis service labelled `unity.update.data_restore=volume` on an
/// agent set to `dump` gets its volume archive back (the label wins), read back through
/// redis-cli.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_17_compose_redis_rollback_follows_the_containers_data_restore_label() {
    let label = "unity.update.data_restore=volume";
    let lab = ComposeDb::start("redis", "/data", "SET k new", &[label]).await;
    lab.exec(&["redis-cli", "SET", "k", "old"]);
    lab.exec(&["redis-cli", "SAVE"]);
    let old_id = lab.image_id("localhost/redis:1");
    lab.repush_migrating();

    let result = lab
        .update("compose-redis-1", Policy::Dump, Some(64 << 20))
        .await;
    assert_eq!(result.outcome, Outcome::RolledBack, "{result:#?}");
    assert_eq!(result.data_restored, Some(DataSource::VolumeArchive));
    let backup = result.backup_taken.clone().unwrap();
    assert_eq!(backup.volume_archives.len(), 1, "{backup:?}");
    assert!(backup.dump.is_some(), "the dump is taken too");
    assert_eq!(lab.runs(), format!("{old_id} true"));
    assert_eq!(lab.exec(&["redis-cli", "GET", "k"]), "old");
    // The archive replaced the directory: the new version's mark is gone.
    let name = lab.db();
    let mark = blocking(|| {
        lab.engine
            .cli(&["exec", &name, "test", "-f", "/data/migrated-by-new-version"])
    });
    assert!(mark.is_err(), "the new version's mark stayed");
}

/// Issue 17 §1: a bad `unity.update.data_restore` label refuses the update before anything
/// changes, naming the label and the words it takes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_17_a_bad_data_restore_label_refuses_the_update() {
    let label = "unity.update.data_restore=sometimes";
    let lab = ComposeDb::start("redis", "/data", "SET k new", &[label]).await;
    let old_id = lab.image_id("localhost/redis:1");
    lab.repush_migrating();
    let result = lab.update("compose-redis-bad", Policy::Auto, None).await;
    assert_eq!(result.outcome, Outcome::Refused, "{result:#?}");
    assert!(
        result.message.contains(
            "label unity.update.data_restore: unknown data restore policy \"sometimes\" \
             (expected auto, volume, dump or off)"
        ),
        "{}",
        result.message
    );
    assert!(result.backup_taken.is_none());
    assert_eq!(lab.runs(), format!("{old_id} true"));
}

/// Issue 17 §1: the agent is killed (its update dropped mid-flight) right after the compose
/// service's new version started; at the next start the recovery reads the journal (the
/// backup taken, the new version started), rolls back through compose and puts the data back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_17_recovery_after_a_crash_puts_the_data_back() {
    let data_dir = "/var/lib/postgresql/data";
    let lab = ComposeDb::start("postgres", data_dir, "UPDATE t SET v = 'new'", &[]).await;
    lab.sql("CREATE TABLE t (v text); INSERT INTO t VALUES ('old')");
    let old_id = lab.image_id("localhost/postgres:1");
    let new_id = lab.image_id("localhost/postgres:1-migrating");
    lab.repush_migrating();

    let request = UpdateRequest {
        id: OperationId("compose-crash".to_owned()),
        container: lab.db(),
        image: "localhost/postgres:1".to_owned(),
        auth: None,
        health: health(),
        force: false,
        volume_archive_limit_bytes: None,
        vulnerability_gate: None,
    };
    crash_after_the_new_version_started(&lab.context(Policy::Auto), &request).await;
    // Killed: the update's future is gone. The new version migrates the data meanwhile.
    lab.wait_ready().await;
    assert_eq!(lab.runs(), format!("{new_id} true"));
    assert_eq!(lab.sql("SELECT v FROM t"), "new");

    // The agent starts again: a new journal handle, as after a restart.
    let journal = Journal::open(lab.data.path()).unwrap();
    let unfinished = journal.unfinished().unwrap();
    assert_eq!(unfinished.len(), 1, "{unfinished:?}");
    assert_eq!(unfinished[0].step, Step::NewStarted);
    assert!(unfinished[0].new_ran);
    assert!(unfinished[0].backup.is_some());
    let settings = data_rollback::Settings {
        data_dir: lab.data.path(),
        policy: Policy::Auto,
        stop_grace: Duration::from_secs(5),
    };
    let results = recovery::recover(&lab.bollard, &journal, &settings)
        .await
        .unwrap();
    assert_eq!(results.len(), 1, "{results:?}");
    assert_eq!(results[0].outcome, Outcome::RolledBack, "{results:?}");
    assert_eq!(results[0].data_restored, Some(DataSource::Dump));
    assert!(
        results[0]
            .message
            .contains("with the data put back from the database dump"),
        "{}",
        results[0].message
    );
    assert_eq!(lab.runs(), format!("{old_id} true"));
    assert_eq!(lab.sql("SELECT v FROM t"), "old");
    assert!(recovery::recover(&lab.bollard, &journal, &settings)
        .await
        .unwrap()
        .is_empty());
}

/// Runs `request` and drops it (the agent killed) at the step after the new version started:
/// when the health gate begins.
async fn crash_after_the_new_version_started(
    ctx: &OperationContext<'_, Bollard>,
    request: &UpdateRequest,
) {
    let (started_tx, started_rx) = tokio::sync::oneshot::channel::<()>();
    let mut started_tx = Some(started_tx);
    let update = executor::update(ctx, request, |stage, _| {
        if stage == Stage::HealthChecking {
            if let Some(tx) = started_tx.take() {
                let _ = tx.send(());
            }
        }
    });
    tokio::select! {
        result = update => panic!("the update ended before the crash: {result:#?}"),
        _ = started_rx => {}
    }
}

/// Issue 17 §1: the same crash on the engine API path (a container outside compose, swapped
/// through the API): the recovery puts the parked old container back and its data with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_17_recovery_after_a_crash_mid_swap_puts_the_data_back() {
    let data_dir = "/var/lib/postgresql/data";
    let lab = DbLab::start("postgres", data_dir, "UPDATE t SET v = 'new'", &[]).await;
    lab.sql("CREATE TABLE t (v text); INSERT INTO t VALUES ('old')");
    let request = UpdateRequest {
        id: OperationId("swap-crash".to_owned()),
        container: "db".to_owned(),
        image: "localhost/postgres:1-migrating".to_owned(),
        auth: None,
        health: health(),
        force: false,
        volume_archive_limit_bytes: None,
        vulnerability_gate: None,
    };
    let ctx = OperationContext {
        stop_grace: Duration::from_secs(5),
        ..OperationContext::new(&lab.bollard, &lab.journal, lab.data.path())
    };
    crash_after_the_new_version_started(&ctx, &request).await;
    lab.wait_ready().await;
    assert_eq!(lab.image(), "localhost/postgres:1-migrating true");
    assert_eq!(lab.sql("SELECT v FROM t"), "new");

    let journal = Journal::open(lab.data.path()).unwrap();
    let settings = data_rollback::Settings {
        data_dir: lab.data.path(),
        policy: Policy::Auto,
        stop_grace: Duration::from_secs(5),
    };
    let results = recovery::recover(&lab.bollard, &journal, &settings)
        .await
        .unwrap();
    assert_eq!(results.len(), 1, "{results:?}");
    assert_eq!(results[0].outcome, Outcome::RolledBack, "{results:?}");
    assert_eq!(results[0].data_restored, Some(DataSource::Dump));
    assert_eq!(lab.image(), "localhost/postgres:1 true");
    assert_eq!(lab.sql("SELECT v FROM t"), "old");
}
