//! Issue 17 §1 end to end: a PostgreSQL service run by the real `docker-compose` on a real
//! dockerd (the Debian-package image of `unity_testbed::databases`), updated through the
//! controller's API to an image whose entrypoint migrates the data and then fails its health
//! check. The agent, its own process, is SIGKILLed once the new version runs; the new version
//! migrates the data meanwhile. Restarted, the agent's recovery reads the journal (the backup
//! with its dump, the new version started), puts the old image back through compose with the
//! data from the dump, and the controller's operation ends `rolled_back` with
//! `data_restored: dump`; the old rows are read back through SQL.

use std::time::Duration;
use unity_testbed::databases::{self, DATABASES};
use unity_testbed::engine::{require, ContainerEngine, Dockerd};
use unity_tests::lab::{containers_of, controller_config_with_updates, same_session};
use unity_tests::*;

use super::restart::agent_process;
use super::{operation_finished, INVENTORY};

/// Waits for the new container's migration (`/tmp/ready`), then fails: unhealthy.
const FAILING_HEALTH: &str = r#"HEALTHCHECK --interval=1s --timeout=90s --retries=1 CMD ["sh", "-c", "while [ ! -f /tmp/ready ]; do sleep 0.2; done; exit 1"]"#;
const MIGRATE: &str = "ALTER TABLE t ADD COLUMN migrated int; UPDATE t SET v = 'new', migrated = 1";

/// `docker build` of `FROM <the databases image>` plus `lines`, tagged `tag`.
fn build(docker: &Dockerd, tag: &str, lines: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let dockerfile = format!("FROM {DATABASES}\n{}\n", lines.join("\n"));
    std::fs::write(dir.path().join("Dockerfile"), dockerfile).unwrap();
    let context = dir.path().to_string_lossy().into_owned();
    docker.cli(&["build", "-q", "-t", tag, &context]).unwrap();
}

/// The compose service's container name (`lab_db_1` with compose v1).
fn db_name(docker: &Dockerd) -> String {
    let filter = "label=com.docker.compose.service=db";
    let names = docker
        .cli(&["ps", "-a", "--filter", filter, "--format", "{{.Names}}"])
        .unwrap();
    assert_eq!(names.lines().count(), 1, "{names}");
    names.trim().to_owned()
}

/// One statement through `psql` inside the service's container (None while it cannot run).
fn sql(docker: &Dockerd, statement: &str) -> Option<String> {
    let name = db_name(docker);
    let psql = [
        "exec",
        name.as_str(),
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
    ];
    docker.cli(&psql).ok()
}

/// Waits until the service's server answers `statement` with `expected`.
async fn sql_says(docker: &Dockerd, statement: &str, expected: &str, what: &str) {
    eventually(what, Duration::from_secs(90), || {
        let said = sql(docker, statement);
        async move { (said.as_deref() == Some(expected)).then_some(()) }
    })
    .await;
}

/// The service's image id and whether it runs.
fn runs(docker: &Dockerd) -> String {
    let name = db_name(docker);
    let format = "{{.Image}} {{.State.Running}}";
    docker.cli(&["inspect", "-f", format, &name]).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_17_compose_postgres_killed_mid_update_comes_back_with_its_old_data() {
    init_logging();
    let docker_compose = require("docker-compose", "docker-compose").unwrap();
    let docker = Dockerd::start();
    databases::import(&docker).unwrap();
    let cmd = r#"CMD ["/usr/local/bin/unity-db", "postgres"]"#;
    build(&docker, "localhost/postgres:1", &[cmd]);
    let migrating = format!("ENV MIGRATE={}", serde_json::Value::from(MIGRATE));
    build(
        &docker,
        "localhost/postgres:1-migrating",
        &[&migrating, FAILING_HEALTH, cmd],
    );
    let image_id = |reference: &str| {
        docker
            .cli(&["image", "inspect", "-f", "{{.Id}}", reference])
            .unwrap()
    };
    let old_id = image_id("localhost/postgres:1");
    let new_id = image_id("localhost/postgres:1-migrating");

    let project = tempfile::tempdir().unwrap();
    let file = project.path().join("docker-compose.yml");
    std::fs::write(
        &file,
        "version: \"3.8\"\nservices:\n  db:\n    image: localhost/postgres:1\n    volumes:\n      \
         - dbdata:/var/lib/postgresql/data\nvolumes:\n  dbdata: {}\n",
    )
    .unwrap();
    #[allow(clippy::disallowed_methods)]
    let up = std::process::Command::new(&docker_compose)
        .args(["-p", "lab", "-f"])
        .arg(&file)
        .args(["up", "-d"])
        .env("DOCKER_HOST", docker.docker_host())
        .current_dir(project.path())
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(
        up.status.success(),
        "{}",
        String::from_utf8_lossy(&up.stderr)
    );
    sql_says(&docker, "SELECT 1", "1", "the old server answers").await;
    sql(
        &docker,
        "CREATE TABLE t (v text); INSERT INTO t VALUES ('old')",
    )
    .unwrap();
    let db = db_name(&docker);
    // A re-push of the tag the compose file names, pulled: now the migrating image.
    docker
        .cli(&[
            "tag",
            "localhost/postgres:1-migrating",
            "localhost/postgres:1",
        ])
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let controller = start_controller(controller_config_with_updates(
        &dir.path().join("controller"),
        "health_timeout = \"150s\"",
    ))
    .await;
    let addr = controller.api_addr;
    let agent_dir = dir.path().join("agent");
    let agent = enroll_agent(&controller, &agent_dir).await.to_string();
    let config = dir.path().join("agent.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = \"{}\"\ncontroller = \"{}\"\ninterval = \"30s\"\n\n[storage]\nenabled = false\n\n\
[databases]\nenabled = false\n\n[containers]\nsocket = \"{}\"\ninterval = \"2s\"\ndata_restore = \"auto\"\n",
            agent_dir.display(),
            controller.local_addr,
            docker.socket_path().display()
        ),
    )
    .unwrap();
    let mut process = agent_process(&config);
    let password = add_user(&controller, "admin", "admin").await;
    let client = logged_in_client(&controller, "admin", &password).await;
    unity_tests::lab::wait_for_containers(
        &client,
        addr,
        &agent,
        "the inventory names the compose service",
        INVENTORY,
        |view| containers_of(view).iter().any(|c| c["name"] == db.as_str()),
    )
    .await;
    let response = same_session(&client, addr)
        .post_json(
            &format!("/api/v1/hosts/{agent}/containers/{db}/update"),
            &serde_json::json!({ "image": "localhost/postgres:1" }),
        )
        .await;
    assert_eq!(response.status, 202, "{}", response.text());
    let id = response.json()["id"].as_str().unwrap().to_owned();
    eventually("the new version runs", Duration::from_secs(120), || {
        let mut client = same_session(&client, addr);
        let id = id.clone();
        async move {
            let record = client.get(&format!("/api/v1/operations/{id}")).await.json();
            record["progress"]
                .as_array()?
                .iter()
                .any(|line| line["stage"] == "health_checking")
                .then_some(())
        }
    })
    .await;
    process.kill();
    // Killed mid-update: the new version migrates the data meanwhile.
    sql_says(
        &docker,
        "SELECT v FROM t",
        "new",
        "the new version migrates",
    )
    .await;
    assert_eq!(runs(&docker), format!("{new_id} true"));

    let mut process = agent_process(&config);
    let finished = operation_finished(
        &client,
        addr,
        &id,
        "the recovered operation ends",
        Duration::from_secs(120),
    )
    .await;
    let result = &finished["result"];
    assert_eq!(result["outcome"], "rolled_back", "{finished:#}");
    assert_eq!(result["data_restored"], "dump", "{finished:#}");
    let message = result["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("the old image runs again through compose")
            && message.contains("with the data put back from the database dump"),
        "{finished:#}"
    );
    assert!(finished["attempts"].as_u64().unwrap() >= 2, "{finished:#}");
    assert_eq!(runs(&docker), format!("{old_id} true"));
    assert_eq!(db_name(&docker), db, "compose recreated it under its name");
    assert_eq!(sql(&docker, "SELECT v FROM t").as_deref(), Some("old"));
    let columns = "SELECT count(*) FROM information_schema.columns WHERE table_name = 't'";
    assert_eq!(
        sql(&docker, columns).as_deref(),
        Some("1"),
        "the old schema"
    );
    // The compose file's tag names the old image again.
    assert_eq!(image_id("localhost/postgres:1"), old_id);
    process.kill();
}
