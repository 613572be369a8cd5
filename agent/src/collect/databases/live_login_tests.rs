//! Logging in with configured credentials to real servers started by these tests: MariaDB
//! (`mysql_native_password`, a user created by the test) and PostgreSQL initialized with
//! `scram-sha-256`. Health with the right password, a clear error with a wrong one, and the
//! password nowhere in `Debug`, JSON, the table or errors.

#![allow(clippy::indexing_slicing)]

use std::path::PathBuf;
use std::time::Duration;

use unity_shared::model::database::{
    DatabaseEndpoint, DatabaseEngine, DatabaseInstance, ReplicationRole,
};

use super::credentials::DatabaseCredentials;
use super::run::{collect, DatabaseTarget, DatabasesConfig};
use super::servers::{loopback, mariadb_sql, start_mariadb, start_postgres_scram};

const TIMEOUT: Duration = Duration::from_secs(5);
const PASSWORD: &str = "C0rrect-Horse,Battery=Staple";

/// Probes only `targets` (no discovery), each within the timeout.
async fn probe_targets(targets: Vec<DatabaseTarget>) -> Vec<DatabaseInstance> {
    let config = DatabasesConfig {
        timeout: TIMEOUT,
        discover: false,
        targets,
        ..DatabasesConfig::default()
    };
    collect(&config, &[], &[]).await.unwrap()
}

fn target(engine: DatabaseEngine, port: u16, credentials: DatabaseCredentials) -> DatabaseTarget {
    DatabaseTarget {
        engine,
        endpoint: loopback(port),
        credentials: Some(credentials),
    }
}

fn password_file(dir: &tempfile::TempDir, name: &str, password: &str) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, format!("{password}\n")).unwrap();
    path
}

#[track_caller]
fn only(instances: &[DatabaseInstance]) -> &DatabaseInstance {
    assert_eq!(instances.len(), 1, "{instances:#?}");
    &instances[0]
}

#[track_caller]
fn assert_no_leak(instances: &[DatabaseInstance], extra: &str) {
    for text in [
        format!("{instances:?} {extra}"),
        serde_json::to_string(instances).unwrap(),
        crate::diag::databases::render_table(instances),
    ] {
        assert!(!text.contains("Horse"), "password leaked: {text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_health_with_a_password_and_a_clear_error_without() {
    let server = start_mariadb().await;
    mariadb_sql(
        &server,
        &format!(
            "CREATE USER 'unity_agent'@'%' IDENTIFIED BY '{PASSWORD}'; \
             GRANT PROCESS, SLAVE MONITOR ON *.* TO 'unity_agent'@'%'; \
             CREATE DATABASE homelab; CREATE TABLE homelab.t (id INT PRIMARY KEY); \
             GRANT SELECT ON homelab.* TO 'unity_agent'@'%';"
        ),
    );
    let secrets = tempfile::tempdir().unwrap();
    let credentials = DatabaseCredentials {
        user: Some("unity_agent".to_owned()),
        database: None,
        password_file: Some(password_file(&secrets, "right", PASSWORD)),
        password_secret: None,
    };
    let loaded = credentials.load().await.unwrap();
    let debug = format!("{credentials:?} {loaded:?}");

    let instances = probe_targets(vec![target(
        DatabaseEngine::Mariadb,
        server.port,
        credentials.clone(),
    )])
    .await;
    let instance = only(&instances);
    assert_eq!(instance.engine, DatabaseEngine::Mariadb);
    assert!(instance.reachable);
    assert_eq!(instance.error, None, "{instance:#?}");
    assert_eq!(instance.auth_required, Some(true));
    let health = instance.health.as_ref().expect("health");
    assert!(health.connections.is_some_and(|n| n >= 1), "{health:#?}");
    assert_eq!(health.max_connections, Some(151), "MariaDB's default");
    assert!(health.uptime_seconds.is_some());
    assert_eq!(health.slow_queries, Some(0));
    let homelab = health
        .databases
        .iter()
        .find(|database| database.name == "homelab")
        .unwrap_or_else(|| panic!("{health:#?}"));
    assert!(
        homelab.size_bytes.is_some_and(|size| size > 0),
        "{health:#?}"
    );
    let replication = health.replication.as_ref().expect("SHOW SLAVE STATUS");
    assert_eq!(replication.role, ReplicationRole::Primary);
    assert_eq!(replication.n_replicas, Some(0));

    // A wrong password: reachable, auth required, the server's refusal, no health.
    let wrong = probe_targets(vec![target(
        DatabaseEngine::Mariadb,
        server.port,
        DatabaseCredentials {
            password_file: Some(password_file(&secrets, "wrong", "Horse-is-wrong")),
            password_secret: None,
            ..credentials.clone()
        },
    )])
    .await;
    let wrong_instance = only(&wrong);
    assert!(wrong_instance.reachable);
    assert_eq!(wrong_instance.auth_required, Some(true));
    assert_eq!(wrong_instance.health, None);
    let error = wrong_instance.error.as_deref().unwrap_or("");
    assert!(
        error.starts_with("authentication failed for `unity_agent`: Access denied")
            && error.contains("(1045)"),
        "{error}"
    );

    // root without a password (`--auth-root-authentication-method=normal`).
    let root = probe_targets(vec![target(
        DatabaseEngine::Mariadb,
        server.port,
        DatabaseCredentials {
            user: Some("root".to_owned()),
            database: Some("mysql".to_owned()),
            password_file: None,
            password_secret: None,
        },
    )])
    .await;
    let root_instance = only(&root);
    assert_eq!(root_instance.error, None, "{root_instance:#?}");
    assert_eq!(root_instance.auth_required, Some(false));
    assert!(root_instance
        .health
        .as_ref()
        .is_some_and(|health| health.databases.iter().any(|d| d.name == "mysql")));

    // Without credentials nothing changes: greeting only.
    let anonymous = probe_targets(vec![DatabaseTarget {
        engine: DatabaseEngine::Mariadb,
        endpoint: loopback(server.port),
        credentials: None,
    }])
    .await;
    assert_eq!(only(&anonymous).auth_required, None);
    assert_eq!(only(&anonymous).health, None);

    assert_no_leak(&instances, &debug);
    assert_no_leak(&wrong, "");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_scram_health_with_a_password_and_a_clear_error_without() {
    let secrets = tempfile::tempdir().unwrap();
    let credentials = DatabaseCredentials {
        user: Some("postgres".to_owned()),
        database: None,
        password_file: Some(password_file(&secrets, "right", PASSWORD)),
        password_secret: None,
    };
    let loaded = credentials.load().await.unwrap();
    let debug = format!("{credentials:?} {loaded:?}");
    let server = start_postgres_scram(PASSWORD, &loaded).await;

    // Without credentials: reachable, auth required, no version.
    let anonymous = probe_targets(vec![DatabaseTarget {
        engine: DatabaseEngine::Postgres,
        endpoint: loopback(server.port),
        credentials: None,
    }])
    .await;
    let anonymous = only(&anonymous);
    assert!(anonymous.reachable);
    assert_eq!(anonymous.auth_required, Some(true));
    assert_eq!(anonymous.version, None);
    assert_eq!(anonymous.health, None);

    let instances = probe_targets(vec![target(
        DatabaseEngine::Postgres,
        server.port,
        credentials.clone(),
    )])
    .await;
    let instance = only(&instances);
    assert_eq!(instance.error, None, "{instance:#?}");
    assert_eq!(instance.auth_required, Some(true));
    assert!(instance
        .version
        .as_deref()
        .is_some_and(|v| v.starts_with("15.")));
    let health = instance.health.as_ref().expect("health");
    assert!(health.connections.is_some_and(|n| n >= 1), "{health:#?}");
    assert_eq!(health.max_connections, Some(100));
    assert_eq!(
        health.replication.as_ref().map(|r| r.role),
        Some(ReplicationRole::Primary)
    );
    assert!(health.databases.iter().any(|d| d.name == "postgres"));

    // Over the Unix socket too.
    let socket = DatabaseTarget {
        engine: DatabaseEngine::Postgres,
        endpoint: DatabaseEndpoint::Unix {
            path: server
                .dir
                .path()
                .join(format!(".s.PGSQL.{}", server.port))
                .display()
                .to_string(),
        },
        credentials: Some(credentials.clone()),
    };
    let over_socket = probe_targets(vec![socket]).await;
    assert_eq!(only(&over_socket).error, None, "{over_socket:#?}");
    assert!(only(&over_socket).health.is_some());

    let wrong = probe_targets(vec![target(
        DatabaseEngine::Postgres,
        server.port,
        DatabaseCredentials {
            password_file: Some(password_file(&secrets, "wrong", "Horse-is-wrong")),
            password_secret: None,
            ..credentials
        },
    )])
    .await;
    let wrong_instance = only(&wrong);
    assert!(wrong_instance.reachable);
    assert_eq!(wrong_instance.auth_required, Some(true));
    assert_eq!(wrong_instance.health, None);
    let error = wrong_instance.error.as_deref().unwrap_or("");
    assert!(
        error.contains("password authentication failed for user \"postgres\"")
            && error.contains("28P01"),
        "{error}"
    );

    assert_no_leak(&instances, &debug);
    assert_no_leak(&wrong, "");
}
