//! Data-safe updates of real databases (issue 17 §1): PostgreSQL, MariaDB and Redis containers
//! under a real dockerd, from the Debian-package image of `unity_testbed::databases` (no
//! registry: the "pull" of a local tag fails and the local image is used). Each update goes to
//! an image whose entrypoint migrates the data and then fails its health check; the rollback
//! must bring back the old container with the old data, read back through SQL / redis-cli.
//! Also: a dump that fails half-way and a full disk during the dump refuse the update and lose
//! nothing.

#![allow(clippy::indexing_slicing)]

use std::path::PathBuf;
use std::time::Duration;

use unity_shared::model::database_image::DatabaseKind;
use unity_shared::model::update::{
    CommandResult, DataSource, HealthPolicy, OperationId, Outcome, UpdateRequest,
};
use unity_testbed::databases::{self, DATABASES};
use unity_testbed::engine::{ContainerEngine, Dockerd};

use super::context::OperationContext;
use super::engine::Bollard;
use super::executor;
use super::journal::Journal;
use super::live_tests::blocking;
use crate::exec::{self, CommandSpec};

/// Waits for the new container's migration (`/tmp/ready`), then fails: unhealthy.
pub(super) const FAILING_HEALTH: &str = r#"HEALTHCHECK --interval=1s --timeout=90s --retries=1 CMD ["sh", "-c", "while [ ! -f /tmp/ready ]; do sleep 0.2; done; exit 1"]"#;

pub(super) struct DbLab {
    pub(super) engine: Dockerd,
    pub(super) bollard: Bollard,
    pub(super) data: tempfile::TempDir,
    pub(super) journal: Journal,
    kind: &'static str,
}

impl DbLab {
    /// A dockerd with `localhost/<kind>:1` and `localhost/<kind>:1-migrating` (`MIGRATE`), and
    /// the container `db` running the first with its data in the volume `dbdata` at
    /// `data_dir`, ready.
    pub(super) async fn start(
        kind: &'static str,
        data_dir: &str,
        migrate: &str,
        env: &[&str],
    ) -> DbLab {
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
            let volume = format!("dbdata:{data_dir}");
            let mut args = vec!["run", "-d", "--name", "db", "-v", &volume];
            for entry in env {
                args.extend(["-e", entry]);
            }
            let image = format!("localhost/{kind}:1");
            args.push(&image);
            engine.cli(&args).unwrap();
        });
        let connected =
            crate::collect::containers::connect(engine.socket_path(), Duration::from_secs(30))
                .await
                .unwrap();
        let data = tempfile::tempdir().unwrap();
        let journal = Journal::open(data.path()).unwrap();
        let lab = DbLab {
            engine,
            bollard: Bollard::new(connected),
            data,
            journal,
            kind,
        };
        lab.wait_ready().await;
        lab
    }

    pub(super) async fn wait_ready(&self) {
        for _ in 0..300 {
            let ready = blocking(|| self.engine.cli(&["exec", "db", "test", "-f", "/tmp/ready"]));
            if ready.is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let logs = blocking(|| self.engine.cli(&["logs", "db"]));
        panic!("db did not get ready: {logs:?}");
    }

    /// `docker exec db <args>`, stdout.
    fn exec(&self, args: &[&str]) -> String {
        let mut all = vec!["exec", "db"];
        all.extend(args);
        blocking(|| self.engine.cli(&all)).unwrap()
    }

    pub(super) fn sql(&self, statement: &str) -> String {
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

    fn backup_dir(&self) -> PathBuf {
        self.data.path().join("backups").join("db")
    }

    async fn update(&self, image: &str) -> CommandResult {
        self.update_archiving(image, None).await
    }

    async fn update_archiving(&self, image: &str, archive_limit: Option<u64>) -> CommandResult {
        let request = UpdateRequest {
            id: OperationId(format!("op-{}", image.replace([':', '/'], "-"))),
            container: "db".to_owned(),
            image: image.to_owned(),
            auth: None,
            health: HealthPolicy {
                timeout_ms: 150_000,
                start_grace_ms: 0,
                stability_ms: 2_000,
                poll_interval_ms: 500,
                probe: None,
            },
            force: false,
            volume_archive_limit_bytes: archive_limit,
            vulnerability_gate: None,
        };
        let ctx = OperationContext {
            stop_grace: Duration::from_secs(5),
            ..OperationContext::new(&self.bollard, &self.journal, self.data.path())
        };
        executor::update(&ctx, &request, |_, _| {}).await
    }

    /// The running `db` container's image reference.
    pub(super) fn image(&self) -> String {
        blocking(|| {
            self.engine
                .cli(&[
                    "inspect",
                    "-f",
                    "{{.Config.Image}} {{.State.Running}}",
                    "db",
                ])
                .unwrap()
        })
    }

    /// Updates to the migrating image and checks the rollback put the data back from the dump.
    async fn update_rolls_back_with_the_dump(
        &self,
        kind: DatabaseKind,
        data_dir: &str,
    ) -> CommandResult {
        let migrating = format!("localhost/{}:1-migrating", self.kind);
        let result = self.update(&migrating).await;
        assert_eq!(result.outcome, Outcome::RolledBack, "{result:#?}");
        assert_eq!(result.data_restored, Some(DataSource::Dump), "{result:#?}");
        assert!(
            result.message.contains("database dump"),
            "{}",
            result.message
        );
        let dump = result.backup_taken.as_ref().unwrap().dump.clone().unwrap();
        assert_eq!(dump.kind, kind);
        assert!(dump.size_bytes > 0);
        let on_disk = std::fs::metadata(self.backup_dir().join(&dump.file)).unwrap();
        assert_eq!(on_disk.len(), dump.size_bytes);
        assert_eq!(self.image(), format!("localhost/{}:1 true", self.kind));
        // The new version did touch the data: its mark is still in the volume.
        let mark = format!("{data_dir}/migrated-by-new-version");
        self.exec(&["test", "-f", &mark]);
        result
    }
}

pub(super) fn build(engine: &Dockerd, tag: &str, lines: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let dockerfile = format!("FROM {DATABASES}\n{}\n", lines.join("\n"));
    std::fs::write(dir.path().join("Dockerfile"), dockerfile).unwrap();
    let context = dir.path().to_string_lossy().into_owned();
    engine.cli(&["build", "-q", "-t", tag, &context]).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_17_postgres_rollback_brings_back_the_old_data_from_the_dump() {
    let data_dir = "/var/lib/postgresql/data";
    let migrate = "ALTER TABLE t ADD COLUMN migrated int; UPDATE t SET v = 'new', migrated = 1";
    let lab = DbLab::start("postgres", data_dir, migrate, &[]).await;
    lab.sql("CREATE TABLE t (v text); INSERT INTO t VALUES ('old')");
    let result = lab
        .update_rolls_back_with_the_dump(DatabaseKind::Postgres, data_dir)
        .await;
    let lines: Vec<&str> = result
        .log
        .iter()
        .map(|line| line.message.as_str())
        .collect();
    assert!(
        lines
            .iter()
            .any(|line| line.starts_with("psql read the dump back")),
        "{lines:#?}"
    );
    assert_eq!(lab.sql("SELECT v FROM t"), "old");
    let columns = "SELECT count(*) FROM information_schema.columns WHERE table_name = 't'";
    assert_eq!(lab.sql(columns), "1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_17_with_a_volume_archive_the_rollback_puts_the_data_directory_back() {
    let data_dir = "/var/lib/postgresql/data";
    let lab = DbLab::start("postgres", data_dir, "UPDATE t SET v = 'new'", &[]).await;
    lab.sql("CREATE TABLE t (v text); INSERT INTO t VALUES ('old'); CHECKPOINT");
    let result = lab
        .update_archiving("localhost/postgres:1-migrating", Some(256 << 20))
        .await;
    assert_eq!(result.outcome, Outcome::RolledBack, "{result:#?}");
    assert_eq!(result.data_restored, Some(DataSource::VolumeArchive));
    let backup = result.backup_taken.clone().unwrap();
    assert_eq!(backup.volume_archives.len(), 1, "{backup:?}");
    assert!(backup.dump.is_some(), "the dump is taken too");
    assert_eq!(lab.image(), "localhost/postgres:1 true");
    // The server recovers the copied directory as after a crash: ask until it answers.
    let mut answer = Err(anyhow::anyhow!("not asked"));
    for _ in 0..100 {
        answer = blocking(|| {
            let query = "SELECT v FROM t";
            let args = [
                "exec",
                "db",
                "psql",
                "-X",
                "-At",
                "-h",
                "/var/run/postgresql",
            ];
            let mut args = args.to_vec();
            args.extend(["-U", "postgres", "-d", "app", "-c", query]);
            lab.engine.cli(&args)
        });
        if answer.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert_eq!(answer.unwrap(), "old");
    // The directory itself came back: the new version's mark is gone.
    let mark = format!("{data_dir}/migrated-by-new-version");
    let listed = blocking(|| lab.engine.cli(&["exec", "db", "test", "-f", &mark]));
    assert!(listed.is_err(), "the mark stayed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_17_mariadb_rollback_brings_back_the_old_data_from_the_dump() {
    let data_dir = "/var/lib/mysql";
    let migrate = "ALTER TABLE t ADD COLUMN migrated INT; UPDATE t SET v = 'new', migrated = 1";
    let env = ["MARIADB_ROOT_PASSWORD=s3cret-root"];
    let lab = DbLab::start("mariadb", data_dir, migrate, &env).await;
    let sql = |statement: &str| {
        lab.exec(&[
            "env",
            "MYSQL_PWD=s3cret-root",
            "mariadb",
            "-uroot",
            "-N",
            "app",
            "-e",
            statement,
        ])
    };
    sql("CREATE TABLE t (v TEXT); INSERT INTO t VALUES ('old')");
    let result = lab
        .update_rolls_back_with_the_dump(DatabaseKind::Mariadb, data_dir)
        .await;
    assert_eq!(sql("SELECT v FROM t"), "old");
    let columns = "SELECT count(*) FROM information_schema.columns WHERE table_name = 't'";
    assert_eq!(sql(columns), "1");
    // The root password went to the exec's environment only: not into the log or the message.
    let said = format!("{:?} {}", result.log, result.message);
    assert!(!said.contains("s3cret-root"), "{said}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_17_redis_rollback_brings_back_the_old_rdb() {
    let lab = DbLab::start("redis", "/data", "SET k new", &[]).await;
    lab.exec(&["redis-cli", "SET", "k", "old"]);
    lab.update_rolls_back_with_the_dump(DatabaseKind::Redis, "/data")
        .await;
    assert_eq!(lab.exec(&["redis-cli", "GET", "k"]), "old");
}

/// Nothing of a refused update is left: the old container runs with its data, and the backup
/// directory holds no dump, no partial file and no backup.
fn assert_nothing_changed(lab: &DbLab, result: &CommandResult) {
    assert_eq!(result.outcome, Outcome::Refused, "{result:#?}");
    assert!(result.backup_taken.is_none());
    assert_eq!(lab.image(), "localhost/postgres:1 true");
    assert_eq!(lab.sql("SELECT count(*) FROM t WHERE v LIKE 'old%'"), "1");
    let left: Vec<String> = std::fs::read_dir(lab.backup_dir())
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|entry| entry.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    assert!(left.is_empty(), "{left:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_17_a_dump_that_fails_half_way_refuses_the_update() {
    let data_dir = "/var/lib/postgresql/data";
    let lab = DbLab::start("postgres", data_dir, "UPDATE t SET v = 'new'", &[]).await;
    lab.sql("CREATE TABLE t (v text); INSERT INTO t VALUES ('old')");
    lab.sql("CREATE DATABASE zz_locked");
    // pg_dumpall dumps the roles and the first databases, then cannot connect to the last.
    let hba = format!("{data_dir}/pg_hba.conf");
    lab.exec(&["sed", "-i", "1i local zz_locked all reject", &hba]);
    lab.sql("SELECT pg_reload_conf()");
    let result = lab.update("localhost/postgres:1-migrating").await;
    assert!(
        result
            .message
            .contains("postgres dump failed, so nothing was changed")
            && result.message.contains("pg_dumpall exited with 1"),
        "{}",
        result.message
    );
    assert_nothing_changed(&lab, &result);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_17_a_full_disk_during_the_dump_refuses_the_update() {
    let data_dir = "/var/lib/postgresql/data";
    let lab = DbLab::start("postgres", data_dir, "UPDATE t SET v = 'new'", &[]).await;
    lab.sql(
        "CREATE TABLE t (v text); INSERT INTO t VALUES ('old'); \
         INSERT INTO t SELECT md5(n::text) || repeat('x', 900) FROM generate_series(1, 2000) n",
    );
    let dir = lab.backup_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let target = dir.to_string_lossy().into_owned();
    let mount = CommandSpec::new(
        "mount",
        &["-t", "tmpfs", "-o", "size=256k", "tmpfs", &target],
    );
    let mounted = exec::run(&mount, Duration::from_secs(10)).await.unwrap();
    assert_eq!(mounted.exit_code, Some(0), "{mounted:?}");
    let result = lab.update("localhost/postgres:1-migrating").await;
    let left = std::fs::read_dir(&dir).unwrap().count();
    let unmount = CommandSpec::new("umount", &[&target]);
    let _ = exec::run(&unmount, Duration::from_secs(10)).await;
    assert!(
        result.message.contains("writing the dump") && result.message.contains("No space left"),
        "{}",
        result.message
    );
    assert_eq!(left, 0, "the partial dump stayed on the full disk");
    assert_nothing_changed(&lab, &result);
}
